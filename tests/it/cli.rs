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
