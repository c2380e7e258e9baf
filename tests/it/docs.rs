//! The documentation keeps its promises: a newcomer following `docs/getting-started.md` on a
//! clean clone reaches a clean plan in the sandbox with the commands exactly as written, every
//! relative link in the docs leads somewhere, and the README keeps its quick start.
//!
//! getting-started marks each shell block the test runs with an HTML comment on the line
//! before it, `<!-- getting-started: sandbox -->`; those blocks run in document order as one
//! `bash -e` script.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{repo_root, stderr, stdout};

const MARKER: &str = "<!-- getting-started: sandbox -->";

/// The fenced blocks that follow `marker` lines, in order.
fn marked_blocks(markdown: &str, marker: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() != marker {
            continue;
        }
        let fence = lines.next().unwrap_or_default().trim();
        assert_eq!(
            fence, "```sh",
            "`{marker}` must come right before a ```sh block"
        );
        let mut block = String::new();
        for line in lines.by_ref() {
            if line.trim() == "```" {
                break;
            }
            block.push_str(line);
            block.push('\n');
        }
        blocks.push(block);
    }
    blocks
}

#[test]
fn getting_started_reaches_a_clean_plan_in_the_sandbox_with_its_commands_verbatim() {
    let doc = std::fs::read_to_string(repo_root().join("docs/getting-started.md")).unwrap();
    let blocks = marked_blocks(&doc, MARKER);
    assert!(blocks.len() >= 4, "{blocks:?}");
    let script = blocks.concat();
    for step in [
        "entraform --sandbox plan manifests/exchange-online-app.yaml",
        "entraform --sandbox apply --auto-approve manifests/exchange-online-app.yaml",
        "entraform --sandbox plan --detailed-exitcode manifests/exchange-online-app.yaml",
    ] {
        assert!(script.contains(step), "the walkthrough lost `{step}`");
    }

    // A clean clone: the repository's manifests, no sandbox state, entraform on PATH.
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    for entry in std::fs::read_dir(repo_root().join("manifests")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, manifests.join(path.file_name().unwrap())).unwrap();
    }
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_entraform"), bin.join("entraform")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(
        out.status.success(),
        "the walkthrough failed (exit {:?}):\n{script}\nstdout:\n{text}\nstderr:\n{err}",
        out.status.code()
    );
    assert!(err.contains("3 manifests valid (6 applications)"), "{err}");
    assert!(
        text.contains("Plan: 7 to add, 0 to change, 0 to destroy."),
        "{text}"
    );
    assert!(
        err.contains("Apply complete! Resources: 7 added, 0 changed, 0 destroyed."),
        "{err}"
    );
    assert!(
        text.contains("No changes. Your tenant matches the manifests."),
        "{text}"
    );
    assert!(text.contains("roles        Exchange.ManageAsApp"), "{text}");
    assert!(dir.path().join("manifests/secrets/Exo_V2_App.pfx").exists());
}

/// Markdown files a reader can reach: the README, docs/, examples/.
fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let root = repo_root();
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    walk(&root.join("docs"), &mut files);
    walk(&root.join("examples"), &mut files);
    files
}

/// `](target)` links that are not URLs or in-page anchors.
fn relative_links(markdown: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            let target = &after[..end];
            if !(target.contains("://") || target.starts_with("mailto:")) {
                links.push(target.to_owned());
            }
            rest = &after[end..];
        }
    }
    links
}

/// GitHub's anchor for a heading: lower-case, spaces to `-`, punctuation other than `-` and
/// `_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.push(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_leads_to_a_file_and_heading() {
    let mut broken = Vec::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for link in relative_links(&text) {
            let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let found = target.exists()
                && (fragment.is_empty()
                    || anchors(&std::fs::read_to_string(&target).unwrap_or_default())
                        .iter()
                        .any(|a| a == fragment));
            if !found {
                broken.push(format!(
                    "{}: {link}",
                    file.strip_prefix(repo_root()).unwrap().display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_install_pages_completions_and_man_page_generate_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = crate::common::entraform()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(
            script.contains("entraform") && script.contains("detailed-exitcode"),
            "{shell}: {script}"
        );
    }
    let man = crate::common::entraform().arg("man").output().unwrap();
    assert!(man.status.success());
    assert!(
        stdout(&man).contains(".TH entraform 1 "),
        "{}",
        stdout(&man)
    );
}

#[test]
fn the_readme_keeps_its_quick_start_and_exit_codes() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for line in [
        "cargo run -- --sandbox plan manifests/",
        "cargo test",
        "| 0 | success, nothing to change |",
        "| 1 | error (including command-line usage errors) |",
        "| 2 | success, and changes are present or something needs attention (`plan --detailed-exitcode`, `certs`) |",
    ] {
        assert!(readme.contains(line), "README.md lost `{line}`");
    }
    for doc in [
        "docs/getting-started.md",
        "docs/json-output.md",
        "docs/troubleshooting.md",
        "docs/drift-and-rotation.md",
        "docs/install.md",
        "examples/",
    ] {
        assert!(readme.contains(doc), "README.md does not link {doc}");
    }
}

#[test]
fn marked_blocks_are_found_in_order_and_unmarked_ones_are_not() {
    let md = format!(
        "intro\n```sh\nnot this\n```\n{MARKER}\n```sh\na\nb\n```\ntext\n{MARKER}\n```sh\nc\n```\n"
    );
    assert_eq!(marked_blocks(&md, MARKER), ["a\nb\n", "c\n"]);
    assert_eq!(
        relative_links("[a](docs/x.md#y) [b](https://e.com) [c](#z)\n```\n[d](no.md)\n```\n"),
        ["docs/x.md#y", "#z"]
    );
    assert_eq!(
        anchors(
            "# Top\n## The document (`--format json`)\n```\n# not a heading\n```\n### `changes[]`\n"
        ),
        ["top", "the-document---format-json", "changes"]
    );
}

/// `cargo install` ignores `Cargo.lock` unless told otherwise: it resolves newer dependencies
/// than the ones tested, and needs the network for them. Every install the docs show is locked.
#[test]
fn every_cargo_install_in_the_docs_is_locked() {
    let root = repo_root();
    let mut files = markdown_files();
    fn yaml(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                yaml(&path, out);
            } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                out.push(path);
            }
        }
    }
    yaml(&root.join("examples"), &mut files);
    let mut unlocked = Vec::new();
    let mut seen = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for (at, _) in line.match_indices("cargo install ") {
                seen += 1;
                if !line[at..].starts_with("cargo install --locked ") {
                    unlocked.push(format!(
                        "{}:{}: {}",
                        file.strip_prefix(&root).unwrap().display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        unlocked.is_empty(),
        "unlocked installs:\n{}",
        unlocked.join("\n")
    );
    for doc in ["README.md", "docs/getting-started.md", "docs/install.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        assert!(
            text.contains("cargo install --locked --path ."),
            "{doc} does not show `cargo install --locked --path .`"
        );
    }
    assert!(seen >= 8, "only {seen} installs found");
}
