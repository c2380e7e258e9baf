//! The command-line contract: names, help, version, completions, exit codes.

use crate::common::{entraform, stderr, stdout};

// (The help test walks clap's own command tree: `entraform::cli::command()`.)

#[test]
fn version_names_the_crate_version_and_commit() {
    let out = entraform().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.starts_with(concat!("entraform ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("commit: "), "{text}");
}

/// Every command and sub-command clap knows, as the words that name it (`["sandbox", "serve"]`).
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut next = path.to_vec();
            next.push(sub.get_name().to_owned());
            out.push(next.clone());
            walk(sub, &next, out);
        }
    }
    let mut out = Vec::new();
    walk(&entraform::cli::command(), &[], &mut out);
    out
}

fn subcommand<'a>(mut cmd: &'a clap::Command, path: &[String]) -> &'a clap::Command {
    for name in path {
        cmd = cmd.find_subcommand(name).unwrap();
    }
    cmd
}

/// Which commands talk to a tenant and so show the tenant options. Every command clap knows must be
/// listed, so a new one is placed deliberately.
const TENANT_OPTIONS_SHOWN: &[(&str, bool)] = &[
    ("validate", false),
    ("schema", false),
    ("plan", true),
    ("apply", true),
    ("export", true),
    ("certs", true),
    ("test-login", true),
    ("sandbox", false),
    ("sandbox serve", false),
    ("sandbox reset", false),
    ("sandbox grant", false),
    ("completions", false),
    ("man", false),
];

const TENANT_FLAGS: [&str; 9] = [
    "--sandbox",
    "--sandbox-state",
    "--tenant",
    "--cloud",
    "--graph-url",
    "--key-vault-url",
    "--login-url",
    "--ca-cert",
    "--auth",
];

/// `flag` appears as a whole flag (`--sandbox`, not the start of `--sandbox-state`).
fn lists(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(at, _)| {
        help[at + flag.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c == '-' || c.is_ascii_alphanumeric()))
    })
}

#[test]
fn every_commands_help_shows_an_example_its_own_options_first_then_only_the_globals_that_apply() {
    let paths = command_paths();
    let mut names: Vec<String> = paths.iter().map(|p| p.join(" ")).collect();
    names.sort();
    let mut listed: Vec<String> = TENANT_OPTIONS_SHOWN
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    listed.sort();
    assert_eq!(names, listed, "commands clap knows vs. this test's table");

    let root = entraform::cli::command();
    for path in &paths {
        let name = path.join(" ");
        let out = entraform().args(path).arg("--help").output().unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let help = stdout(&out);
        assert!(
            help.contains("Example"),
            "`{name} --help` shows no example:\n{help}"
        );

        // Own options, then the global headings; nothing of the command's after them.
        let globals = help
            .find("\nTenant Options:\n")
            .or_else(|| help.find("\nGlobal Options:\n"))
            .unwrap_or_else(|| panic!("`{name} --help` has no global options heading:\n{help}"));
        let own: Vec<String> = subcommand(&root, path)
            .get_arguments()
            .filter(|a| !a.is_global_set() && !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        for flag in &own {
            let at = help
                .find(flag.as_str())
                .unwrap_or_else(|| panic!("`{name} --help` lacks {flag}"));
            assert!(
                at < globals,
                "`{name} --help`: {flag} is under the global options"
            );
        }
        for flag in ["--verbose", "--quiet", "--log-format", "--no-color"] {
            assert!(
                help.find(flag).is_some_and(|at| at > globals),
                "`{name} --help`: {flag} is not under Global Options:\n{help}"
            );
        }

        let shown = TENANT_OPTIONS_SHOWN
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1;
        assert_eq!(
            help.contains("\nTenant Options:\n"),
            shown,
            "{name}:\n{help}"
        );
        let options = &help[..help.find("\nExample").unwrap()];
        for flag in TENANT_FLAGS {
            assert_eq!(
                lists(options, flag),
                shown,
                "`{name} --help` and {flag}:\n{help}"
            );
        }
    }
}

#[test]
fn bash_completions_source_cleanly() {
    let out = entraform().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("entraform.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e; source {}; complete -p entraform",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash could not source the script: {}",
        stderr(&check)
    );
}

#[test]
fn usage_errors_exit_1() {
    let out = entraform().arg("no-such-command").output().unwrap();
    // clap exits 2 for usage errors by default; entraform keeps 2 for "changes present".
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// A command with nothing to do leaves nothing behind: no sandbox tenant is created in a folder
/// without manifests, and the error says which folder was looked for and how to name another.
#[test]
fn a_folder_without_manifests_gets_no_sandbox_and_a_hint_naming_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    for (command, extra) in [
        ("plan", &[][..]),
        ("apply", &["--auto-approve"][..]),
        ("certs", &[][..]),
        ("test-login", &["--app", "exo-v2-app"][..]),
        ("validate", &[][..]),
    ] {
        let out = entraform()
            .current_dir(dir.path())
            .arg("--sandbox")
            .arg(command)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        let here = dir.path().canonicalize().unwrap();
        assert!(
            err.contains(&format!(
                "error: no manifests to read: `manifests/`, the folder read when no path is given, does not exist in `{}`",
                here.display()
            )),
            "{command}: {err}"
        );
        assert!(
            err.contains(&format!(
                "hint: run `entraform {command}` where your `manifests/` folder is, or name the manifest files or folders: `entraform {command} path/to/manifests/`"
            )),
            "{command}: {err}"
        );
        assert!(
            !dir.path().join(".entraform").exists(),
            "`entraform --sandbox {command}` created a sandbox tenant"
        );
    }

    // A path that was given and is missing: named, and still no sandbox.
    let out = entraform()
        .current_dir(dir.path())
        .args(["--sandbox", "plan", "exo.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: `exo.yaml` does not exist\nhint: name manifest files"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join(".entraform").exists());
}

/// Everything test-login can check on disk (the app's name, its PFX and password) it checks
/// before it starts a sandbox.
#[test]
fn test_login_checks_the_manifest_and_the_pfx_before_starting_a_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("manifests")).unwrap();
    std::fs::copy(
        crate::common::repo_root().join("manifests/exchange-online-app.yaml"),
        dir.path().join("manifests/exo.yaml"),
    )
    .unwrap();
    for (args, expected) in [
        (
            &["--app", "exo-v2"][..],
            "error: no manifest names an app `exo-v2`",
        ),
        (
            &["--app", "exo-v2-app"][..],
            "`manifests/secrets/Exo_V2_App.pfx`",
        ),
    ] {
        let out = entraform()
            .current_dir(dir.path())
            .args(["--sandbox", "test-login"])
            .args(args)
            .env("EXO_PFX_PASSWORD", "irrelevant")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
        assert!(!dir.path().join(".entraform").exists(), "{args:?}");
    }
}
