//! What the build asks git: the commit checked out, and the files that change when it moves.
//! Shared by `build.rs` (through `#[path]`) and the unit tests, so the list cargo watches is
//! the list the tests pin. Only std: a build script has no dependencies.
//!
//! The index is never watched: `git status`, an editor's git integration or a prompt rewrite
//! it all the time, and every rewrite would rebuild the crate. For the same reason the version
//! carries no `-dirty` flag: it could only be recomputed by watching the index.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a checkout keeps what says which commit it is on. In a linked worktree (`git worktree
/// add`) `HEAD` lives in the worktree's own git folder and the branches in the shared one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitDirs {
    /// `git rev-parse --git-dir`: holds `HEAD`.
    pub git_dir: PathBuf,
    /// `git rev-parse --git-common-dir`: holds `refs/` and `packed-refs`.
    pub common_dir: PathBuf,
}

fn git(repo: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// The git folders of the checkout `repo` is in; `None` outside one (a source archive).
pub fn dirs(repo: &Path) -> Option<GitDirs> {
    let out = git(repo, &["rev-parse", "--git-dir", "--git-common-dir"])?;
    let mut lines = out.lines();
    // Relative answers are relative to `repo`.
    let git_dir = repo.join(lines.next()?);
    let common_dir = repo.join(lines.next()?);
    Some(GitDirs {
        git_dir,
        common_dir,
    })
}

/// The commit checked out, abbreviated to 12 hex digits.
pub fn commit(repo: &Path) -> Option<String> {
    git(repo, &["rev-parse", "--short=12", "HEAD"])
}

/// The files whose change means another commit is checked out: `HEAD`; the branch it names
/// (its loose ref, or the folder the ref would be created in while it is only packed) and
/// `packed-refs`. Only paths that exist: cargo reruns a build script on every build while a
/// watched path is missing.
pub fn watched(dirs: &GitDirs) -> Vec<PathBuf> {
    let head = dirs.git_dir.join("HEAD");
    let mut paths = vec![head.clone()];
    if let Ok(text) = std::fs::read_to_string(&head)
        && let Some(reference) = text.trim().strip_prefix("ref: ")
    {
        let loose = dirs.common_dir.join(reference);
        // While the branch is only packed, its first new commit creates the loose ref: watch
        // the nearest folder that exists to see it appear.
        let nearest = loose
            .ancestors()
            .take_while(|p| p.starts_with(&dirs.common_dir))
            .find(|p| p.exists());
        paths.extend(nearest.map(Path::to_path_buf));
        paths.push(dirs.common_dir.join("packed-refs"));
    }
    paths.retain(|p| p.exists());
    paths
}
