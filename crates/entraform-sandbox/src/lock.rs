//! One process at a time on a state file. Each process keeps the whole tenant in memory and
//! saves it over the file, so two processes on one file would silently drop each other's
//! writes. A server (`sandbox serve`) and an in-process run (`--sandbox`) both hold an advisory
//! lock on `<state>.lock` (beside the state file; the state file itself is replaced by a rename
//! on every save, so it cannot carry the lock) from before loading the state until after the
//! last save. The lock file says who holds it, so the one that waits or gives up can say so.
//!
//! std's `File::try_lock` (`flock` on Unix, `LockFileEx` on Windows) is enough: the lock is
//! released when the process exits in any way, `kill -9` included, so there is no stale lock
//! to clean up.

use std::fs::{self, File};
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::SandboxError;

/// What kind of process holds a state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// `entraform sandbox serve`: other processes should talk to it over HTTP.
    Serve,
    /// `--sandbox` (or a library caller): the tenant lives as long as one command.
    InProcess,
}

/// Who holds the lock, as written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// The command line, shortened.
    pub command: String,
    /// RFC 3339, UTC.
    pub since: String,
    pub role: Role,
    /// Where a server answers (known once it listens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

impl Holder {
    fn this_process(role: Role) -> Self {
        Holder {
            pid: std::process::id(),
            command: command_line(),
            since: super::iso(super::wall_ms()),
            role,
            graph_url: None,
            tenant_id: None,
        }
    }

    /// `pid 4242 (`entraform --sandbox apply`) since 2025-06-01T10:00:00Z`.
    pub fn describe(&self) -> String {
        format!(
            "pid {} (`{}`) since {}",
            self.pid,
            // Read back from a file anyone could have written: control characters stay inert.
            self.command.escape_debug(),
            self.since
        )
    }
}

/// `sandbox.json` → `sandbox.lock` beside it.
pub(crate) fn lock_path_for(state: &Path) -> PathBuf {
    state.with_extension("lock")
}

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct StateLock {
    file: File,
    holder: Holder,
}

impl StateLock {
    /// Records where the server listens, for a process that finds the state taken.
    pub(crate) fn announce(&mut self, graph_url: &str, tenant_id: &str) {
        self.holder.graph_url = Some(graph_url.to_owned());
        self.holder.tenant_id = Some(tenant_id.to_owned());
        // Best effort: the lock itself is what protects the state.
        let _ = write_holder(&mut self.file, &self.holder);
    }
}

// Unlock explicitly rather than by closing: a child this process forks (tests and `apply` spawn
// processes) holds a copy of the descriptor until it execs, and a flock lives until the last
// copy closes, so a plain close can leave the state locked by this very process for a moment.
// LOCK_UN on any copy releases it at once (flock(2)).
impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Takes the lock of `state` for `role`. An in-process run waits up to `wait` for another
/// in-process run to finish; a running server is never waited for (`--sandbox` is told to talk
/// to it instead), and a server waits for no one.
pub(crate) fn acquire(state: &Path, role: Role, wait: Duration) -> Result<StateLock, SandboxError> {
    let path = lock_path_for(state);
    let io_err = |source| SandboxError::WriteState {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        entraform_local_file::create_private_dirs(dir).map_err(io_err)?;
    }
    let mut file = open_lock_file(&path).map_err(io_err)?;
    let started = Instant::now();
    let mut announced_wait = false;
    loop {
        match file.try_lock() {
            Ok(()) => {
                let holder = Holder::this_process(role);
                write_holder(&mut file, &holder).map_err(io_err)?;
                return Ok(StateLock { file, holder });
            }
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(source)) => return Err(io_err(source)),
        }
        let holder = read_holder(&path);
        let server = holder.as_ref().filter(|h| h.role == Role::Serve);
        if let (Some(server), Role::InProcess) = (server, role) {
            return Err(SandboxError::ServerRunning {
                state: state.to_owned(),
                holder: Box::new(server.clone()),
            });
        }
        if role == Role::Serve || server.is_some() || started.elapsed() >= wait {
            return Err(SandboxError::StateInUse {
                state: state.to_owned(),
                holder: holder.map(Box::new),
            });
        }
        if !announced_wait {
            announced_wait = true;
            tracing::warn!(
                "waiting for the sandbox state `{}`: in use by {}",
                state.display(),
                holder.map_or_else(|| "another entraform process".to_owned(), |h| h.describe())
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Who holds the lock of `state` right now, if anyone does (and said who).
pub(crate) fn holder_of(state: &Path) -> Option<Holder> {
    let path = lock_path_for(state);
    let file = fs::OpenOptions::new().read(true).open(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(_) => read_holder(&path),
    }
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

fn write_holder(file: &mut File, holder: &Holder) -> std::io::Result<()> {
    let text = serde_json::to_string(holder).expect("a holder serialises");
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

fn read_holder(path: &Path) -> Option<Holder> {
    // The holder writes its line right after locking; give it a moment if it is not there yet.
    for _ in 0..5 {
        let text = entraform_local_file::read(path, LOCK_FILE).ok()?;
        if let Ok(holder) = serde_json::from_slice(&text) {
            return Some(holder);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

const LOCK_FILE: entraform_local_file::Limit = entraform_local_file::Limit {
    bytes: 64 * 1024,
    what: "a sandbox lock file",
};

/// `entraform --sandbox apply manifests`, at most 120 characters.
fn command_line() -> String {
    let mut args = std::env::args();
    let program = args
        .next()
        .and_then(|p| {
            Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "entraform".to_owned());
    let mut line = std::iter::once(program)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ");
    if line.chars().count() > 120 {
        line = line.chars().take(119).collect::<String>() + "…";
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("sandbox.json");
        let mut first = acquire(&state, Role::Serve, Duration::ZERO).unwrap();
        first.announce("http://127.0.0.1:1", "tid");
        let err = acquire(&state, Role::InProcess, Duration::from_secs(30)).unwrap_err();
        match &err {
            SandboxError::ServerRunning { holder, .. } => {
                assert_eq!(holder.pid, std::process::id());
                assert_eq!(holder.graph_url.as_deref(), Some("http://127.0.0.1:1"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(holder_of(&state).unwrap().role, Role::Serve);
        drop(first);
        assert_eq!(holder_of(&state), None);
        acquire(&state, Role::InProcess, Duration::ZERO).unwrap();
    }

    #[test]
    fn an_in_process_run_waits_for_another_then_gives_up_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("sandbox.json");
        let _first = acquire(&state, Role::InProcess, Duration::ZERO).unwrap();
        let started = Instant::now();
        let err = acquire(&state, Role::InProcess, Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(300));
        let SandboxError::StateInUse {
            holder: Some(holder),
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(holder.pid, std::process::id());
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }

    #[test]
    fn releasing_the_lock_does_not_wait_for_a_forked_childs_copy_of_the_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("sandbox.json");
        let first = acquire(&state, Role::InProcess, Duration::ZERO).unwrap();
        // What a child forked at this moment holds until it execs: a copy of the descriptor.
        let childs_copy = first.file.try_clone().unwrap();
        drop(first);
        acquire(&state, Role::InProcess, Duration::ZERO).expect("released although a copy lives");
        drop(childs_copy);
    }
}
