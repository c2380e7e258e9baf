//! The command-line contract: names, help, version, completions, exit codes.

use crate::common::{entraform, stderr, stdout};

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

#[test]
fn every_command_has_an_example_in_its_help() {
    for cmd in [
        "validate",
        "schema",
        "plan",
        "apply",
        "export",
        "certs",
        "test-login",
        "completions",
        "man",
    ] {
        let out = entraform().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{cmd}: {}", stderr(&out));
        let help = stdout(&out);
        assert!(
            help.contains("Example"),
            "`{cmd} --help` shows no example:\n{help}"
        );
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
