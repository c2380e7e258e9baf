//! The pure core stays pure: the layers that decide (model, planner, plan, export, report)
//! import no IO, no clock and no randomness, and the plan's types do not call the planner.
//! A source check, so a stray `tokio::` or `now_utc()` fails here instead of in review.

use std::path::{Path, PathBuf};

const PURE_LAYERS: &[&str] = &["model", "planner", "plan", "export", "report"];

/// What a pure layer must not name, and why.
const FORBIDDEN: &[(&str, &str)] = &[
    ("tokio", "async runtime"),
    ("reqwest", "HTTP"),
    ("std::fs", "file system"),
    ("fs::", "file system"),
    ("std::env", "environment"),
    ("std::net", "network"),
    ("std::process", "processes"),
    ("now_utc", "wall clock"),
    ("SystemTime", "wall clock"),
    ("Instant::now", "monotonic clock"),
    ("new_v4", "randomness"),
    ("rand::", "randomness"),
    ("getrandom", "randomness"),
    ("crate::ops", "the command layer"),
    ("crate::apply", "the apply engine"),
    ("crate::graph", "the Graph client"),
    ("crate::observe", "reading the tenant"),
    ("crate::output", "the IO printer"),
    ("crate::sandbox", "the sandbox"),
    ("crate::cli", "the command line"),
];

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// Lines of code with comments dropped: doc links such as [`crate::ops::plan_file`] are fine.
fn code_lines(source: &str) -> impl Iterator<Item = (usize, &str)> {
    source.lines().enumerate().filter_map(|(i, line)| {
        let code = line.split("//").next().unwrap_or("");
        (!code.trim().is_empty()).then_some((i + 1, code))
    })
}

fn violations(layer: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(layer);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "no sources under {}", root.display());
    let mut found = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for (line, code) in code_lines(&source) {
            for (needle, what) in FORBIDDEN.iter().chain(extra) {
                if code.contains(needle) {
                    found.push(format!(
                        "{}:{line}: `{needle}` ({what}) in pure layer `{layer}`",
                        file.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                            .unwrap()
                            .display()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn pure_layers_import_no_io_clock_or_randomness() {
    let found: Vec<String> = PURE_LAYERS
        .iter()
        .flat_map(|layer| violations(layer, &[]))
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_plan_types_do_not_call_the_planner() {
    let found = violations(
        "plan",
        &[("crate::planner", "the planner makes plans, not the reverse")],
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_check_sees_a_forbidden_name() {
    let source = "use std::fs;\n// tokio in a comment is fine\nlet t = OffsetDateTime::now_utc();";
    let hits: Vec<usize> = code_lines(source)
        .filter(|(_, code)| FORBIDDEN.iter().any(|(n, _)| code.contains(n)))
        .map(|(line, _)| line)
        .collect();
    assert_eq!(hits, vec![1, 3]);
}
