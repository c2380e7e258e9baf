//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `entraform --sandbox` in `dir`, its sandbox state in `dir/sandbox.json`, stdin closed.
pub fn sandboxed(dir: &Path) -> Command {
    let mut cmd = entraform();
    cmd.current_dir(dir)
        .args(["--sandbox", "--sandbox-state"])
        .arg(dir.join("sandbox.json"))
        .stdin(Stdio::null());
    cmd
}

/// The built `entraform` binary, with a clean, colourless environment.
pub fn entraform() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_entraform"));
    cmd.env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("AZURE_CLIENT_SECRET")
        .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
        .env_remove("AZURE_CLIENT_CERTIFICATE_PASSWORD")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("ENTRAFORM_GRAPH_URL")
        .env_remove("ENTRAFORM_CA_CERT");
    cmd
}

/// The repository root, for paths like `manifests/`.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Compares `actual` with the golden file at `path`, or with `ENTRAFORM_BLESS=1` rewrites it
/// (and deletes it when `actual` is `None`). Returns a unified diff when they differ, so a test
/// can report every mismatched file at once.
pub fn golden_mismatch(path: &std::path::Path, actual: Option<&str>) -> Option<String> {
    let bless = std::env::var_os("ENTRAFORM_BLESS").is_some_and(|v| !v.is_empty());
    let label = path
        .strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string();
    match (actual, bless) {
        (Some(text), true) => {
            std::fs::write(path, text).unwrap();
            None
        }
        (None, true) => {
            let _ = std::fs::remove_file(path);
            None
        }
        (Some(text), false) => {
            let expected = std::fs::read_to_string(path).unwrap_or_default();
            (expected != text).then(|| {
                similar::TextDiff::from_lines(&expected, text)
                    .unified_diff()
                    .header(&format!("{label} (expected)"), "actual")
                    .to_string()
            })
        }
        (None, false) => path
            .exists()
            .then(|| format!("{label} is expected but was not produced\n")),
    }
}

/// Starts `entraform sandbox serve --json --state <state> <extra…>` in its own process and
/// returns it with the connection details it printed on its first line.
pub fn spawn_served_sandbox(
    state: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, serde_json::Value) {
    use std::io::BufRead as _;
    let mut child = entraform()
        .args(["sandbox", "serve", "--json", "--state"])
        .arg(state)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (child, info)
}

/// Checks the golden files `names` of `case` in `dir` against what the test produced
/// (`actual(name)`, `None` when that file must not exist), reporting every difference at once.
pub fn assert_goldens(
    case: &str,
    dir: &std::path::Path,
    names: &[&str],
    actual: impl Fn(&str) -> Option<String>,
) {
    let failures: Vec<String> = names
        .iter()
        .filter_map(|name| golden_mismatch(&dir.join(name), actual(name).as_deref()))
        .collect();
    assert!(
        failures.is_empty(),
        "golden case `{case}` differs (ENTRAFORM_BLESS=1 rewrites it):\n{}",
        failures.concat()
    );
}

/// One `#[test]` per golden case (`name => "folder"`, each calling `check("folder")`), plus a
/// test that every folder under `dir` has one, so a new case cannot go unrun.
macro_rules! golden_cases {
    (dir: $dir:expr; $($test:ident => $case:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check($case);
            }
        )*

        #[test]
        fn every_case_folder_has_a_test() {
            let listed = [$($case),*];
            let mut missing = Vec::new();
            for entry in std::fs::read_dir($dir).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                if !listed.contains(&name.as_str()) {
                    missing.push(name);
                }
            }
            assert!(missing.is_empty(), "case folders without a test: {missing:?}");
        }
    };
}
pub(crate) use golden_cases;
