//! Version strings for `--version`: the crate version and the git commit it was built from.

pub const SHORT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("ENTRAFORM_GIT_COMMIT"),
    ")"
);

pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("ENTRAFORM_GIT_COMMIT"),
    "\ntarget: ",
    env!("ENTRAFORM_TARGET")
);

// Compiled into build.rs; here only for its tests.
#[cfg(test)]
mod git;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::SystemTime;

    use super::git::{self, GitDirs};

    fn run_git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(["-c", "commit.gpgsign=false", "-c", "core.fsmonitor=false"])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn repo_with_a_commit() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        run_git(dir.path(), &["init", "-q", "-b", "main"]);
        std::fs::write(dir.path().join("a.txt"), "one\n").unwrap();
        run_git(dir.path(), &["add", "a.txt"]);
        run_git(dir.path(), &["commit", "-q", "-m", "one"]);
        dir
    }

    /// What cargo compares for each watched path: the modification times of the file, or of
    /// every file under the folder.
    fn stamps(paths: &[PathBuf]) -> Vec<(PathBuf, SystemTime)> {
        fn walk(path: &Path, out: &mut Vec<(PathBuf, SystemTime)>) {
            let meta = std::fs::metadata(path).unwrap();
            out.push((path.to_owned(), meta.modified().unwrap()));
            if meta.is_dir() {
                for entry in std::fs::read_dir(path).unwrap() {
                    walk(&entry.unwrap().path(), out);
                }
            }
        }
        let mut out = Vec::new();
        for path in paths {
            walk(path, &mut out);
        }
        out.sort();
        out
    }

    fn wait_for_the_clock() {
        // File times have a granularity; make any rewrite visible.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }

    #[test]
    fn the_build_watches_head_and_its_branch_never_the_index() {
        let repo = repo_with_a_commit();
        let dirs = git::dirs(repo.path()).unwrap();
        let git_dir = repo.path().join(".git");
        assert_eq!(
            dirs,
            GitDirs {
                git_dir: git_dir.clone(),
                common_dir: git_dir.clone(),
            }
        );
        assert_eq!(
            git::watched(&dirs),
            [git_dir.join("HEAD"), git_dir.join("refs/heads/main")]
        );

        // `git status` after an edit may rewrite the index (that rebuilt the crate), and
        // leaves every watched file as it was.
        let watched = git::watched(&dirs);
        let before = stamps(&watched);
        wait_for_the_clock();
        std::fs::write(repo.path().join("a.txt"), "two\n").unwrap();
        run_git(repo.path(), &["status", "--porcelain"]);
        assert_eq!(
            stamps(&watched),
            before,
            "git status changed a watched file"
        );

        // A commit moves the branch: the build sees it.
        run_git(repo.path(), &["commit", "-q", "-am", "two"]);
        assert_ne!(stamps(&watched), before, "a commit went unseen");
    }

    #[test]
    fn a_packed_branch_is_watched_through_packed_refs_and_its_folder() {
        let repo = repo_with_a_commit();
        run_git(repo.path(), &["pack-refs", "--all"]);
        let dirs = git::dirs(repo.path()).unwrap();
        let git_dir = repo.path().join(".git");
        assert!(!git_dir.join("refs/heads/main").exists());
        assert_eq!(
            git::watched(&dirs),
            [
                git_dir.join("HEAD"),
                git_dir.join("refs/heads"),
                git_dir.join("packed-refs")
            ]
        );
    }

    #[test]
    fn a_linked_worktree_watches_its_own_head_and_the_shared_branch() {
        let repo = repo_with_a_commit();
        let linked = repo.path().join("linked");
        run_git(
            repo.path(),
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "side",
                linked.to_str().unwrap(),
            ],
        );
        let dirs = git::dirs(&linked).unwrap();
        let common = repo.path().join(".git");
        assert_eq!(
            std::fs::canonicalize(&dirs.common_dir).unwrap(),
            std::fs::canonicalize(&common).unwrap()
        );
        let watched: Vec<PathBuf> = git::watched(&dirs)
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap())
            .collect();
        let common = std::fs::canonicalize(&common).unwrap();
        assert_eq!(
            watched,
            [
                common.join("worktrees/linked/HEAD"),
                common.join("refs/heads/side")
            ]
        );
        assert_eq!(
            git::commit(&linked).map(|c| c.len()),
            Some(12),
            "the commit is found from a linked worktree"
        );
    }
}
