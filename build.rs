//! Records the git commit for `entraform --version`; "unknown" outside a git checkout
//! (e.g. `cargo install` from a source archive).

#[path = "src/version/git.rs"]
mod git;

use std::path::Path;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let commit = git::commit(repo).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=ENTRAFORM_GIT_COMMIT={commit}");
    println!(
        "cargo:rustc-env=ENTRAFORM_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    // Rerun when another commit is checked out, never on source edits or `git status`.
    for path in git::dirs(repo)
        .map(|d| git::watched(&d))
        .unwrap_or_default()
    {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/version/git.rs");
}
