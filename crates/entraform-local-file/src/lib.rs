//! Local files named by the user. Reading one (a manifest, a certificate, a PFX, the sandbox
//! state, a federated token, a saved plan) goes through [`read`]: only a regular file, never
//! blocking on the open (a FIFO would wait forever for a writer), and never more bytes than a
//! limit suited to what the file holds (`/dev/zero` named as a certificate must not fill the
//! runner's memory). Refusals are `std::io::Error`s carrying a [`Refusal`], so each caller keeps
//! its own "cannot read `path`" error and the cause explains.
//!
//! Folders for what holds keys or secrets are made by [`create_private_dirs`].

use std::fmt;
use std::fs;
use std::io::{self, Read as _};
use std::path::Path;

/// How much a kind of file may hold, and what to call it in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub bytes: u64,
    /// `a manifest`, `a certificate`: what the file should be.
    pub what: &'static str,
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Manifests are a few KiB.
pub const MANIFEST: Limit = Limit {
    bytes: MIB,
    what: "a manifest",
};
/// A certificate (PEM or DER), possibly with its chain.
pub const CERTIFICATE: Limit = Limit {
    bytes: MIB,
    what: "a certificate file",
};
/// A PFX holds a key and a short chain: a few KiB.
pub const PFX: Limit = Limit {
    bytes: MIB,
    what: "a PFX file",
};
/// A JWT from the pipeline's identity provider: about a KiB.
pub const FEDERATED_TOKEN: Limit = Limit {
    bytes: 64 * KIB,
    what: "a federated token file",
};
/// The sandbox tenant: about 5 KiB per application, so tens of thousands fit.
pub const SANDBOX_STATE: Limit = Limit {
    bytes: 256 * MIB,
    what: "a sandbox state file",
};
/// A saved plan: a few KiB per change.
pub const PLAN_FILE: Limit = Limit {
    bytes: 64 * MIB,
    what: "a plan file",
};

/// Why a file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A FIFO, device, socket or folder: reading it could block forever or never end.
    NotRegular { kind: &'static str },
    /// Larger than the limit (`size` when the file said so up front).
    TooLarge { size: Option<u64>, limit: Limit },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotRegular { kind } => write!(f, "it is {kind}, not a regular file"),
            Refusal::TooLarge { size, limit } => {
                match size {
                    Some(size) => write!(f, "it is {}", human(*size))?,
                    None => f.write_str("it is too large")?,
                }
                write!(f, "; {} is limited to {}", limit.what, human(limit.bytes))
            }
        }
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    /// The refusal inside an error from [`read`], if that is why it failed.
    pub fn of(err: &io::Error) -> Option<&Refusal> {
        err.get_ref()?.downcast_ref::<Refusal>()
    }

    fn into_io(self) -> io::Error {
        let kind = match self {
            Refusal::NotRegular { .. } => io::ErrorKind::InvalidInput,
            Refusal::TooLarge { .. } => io::ErrorKind::FileTooLarge,
        };
        io::Error::new(kind, self)
    }
}

/// The whole of a regular file at `path` (symlinks followed), at most `limit.bytes` long.
pub fn read(path: &Path, limit: Limit) -> io::Result<Vec<u8>> {
    // Look before opening: opening a device can have effects of its own (a tape rewinds).
    check_regular(&fs::metadata(path)?)?;
    let file = open_nonblocking(path)?;
    // Check what was opened, not what was looked at: the path may have changed in between.
    let meta = file.metadata()?;
    check_regular(&meta)?;
    let too_large = |size| {
        Refusal::TooLarge {
            size: Some(size),
            limit,
        }
        .into_io()
    };
    if meta.len() > limit.bytes {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow while it is read; never take more than the limit and one byte.
    (&file).take(limit.bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit.bytes {
        return Err(Refusal::TooLarge { size: None, limit }.into_io());
    }
    Ok(bytes)
}

/// `read`, as UTF-8 text.
pub fn read_to_string(path: &Path, limit: Limit) -> io::Result<String> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// Whether `path` is a regular file (symlinks followed); `false` when it cannot be looked at.
pub fn is_regular(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.file_type().is_file())
}

fn check_regular(meta: &fs::Metadata) -> io::Result<()> {
    match kind_of(&meta.file_type()) {
        None => Ok(()),
        Some(kind) => Err(Refusal::NotRegular { kind }.into_io()),
    }
}

/// What a file that is not regular is, for messages; `None` for a regular file.
pub fn kind_of(file_type: &fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        return None;
    }
    if file_type.is_dir() {
        return Some("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if file_type.is_char_device() {
            return Some("a character device");
        }
        if file_type.is_block_device() {
            return Some("a block device");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
    }
    if file_type.is_symlink() {
        return Some("a symbolic link");
    }
    Some("not a regular file")
}

/// Creates `dir` and any missing parents, each folder created here with mode 0700 whatever
/// the umask (they hold keys, secrets or a tenant); folders that exist are left as they are.
pub fn create_private_dirs(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_private_dirs(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        // Another process made it meanwhile: it is not ours to change.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Deletes the regular file at `path` only if `ours` says its contents are what we wrote (e.g.
/// a PFX holding the certificate we archived): `Ok(true)` when deleted, `Ok(false)` when the
/// contents are not ours (the file is left). The path itself must be a regular file: a
/// symbolic link (which may point anywhere), a folder, FIFO or device is refused, and so is a
/// file replaced between the check and the removal.
pub fn remove_if(path: &Path, limit: Limit, ours: impl FnOnce(&[u8]) -> bool) -> io::Result<bool> {
    let looked = fs::symlink_metadata(path)?;
    check_regular(&looked)?;
    let bytes = read(path, limit)?;
    if !ours(&bytes) {
        return Ok(false);
    }
    // The file read must still be the one at the path.
    let now = fs::symlink_metadata(path)?;
    check_regular(&now)?;
    if !same_file(&looked, &now) {
        return Err(io::Error::other("it changed while it was checked"));
    }
    fs::remove_file(path)?;
    Ok(true)
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    a.dev() == b.dev() && a.ino() == b.ino() && a.len() == b.len()
}

#[cfg(not(unix))]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// Opens for reading without waiting: a FIFO with no writer opens at once (and is then
/// refused), and a terminal never becomes our controlling terminal.
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<fs::File> {
    fs::File::open(path)
}

/// `1.5 MiB`, `64 KiB`, `12 bytes`.
fn human(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = bytes as f64;
    if bytes >= MIB {
        let mib = f / MIB as f64;
        if bytes.is_multiple_of(MIB) {
            format!("{mib:.0} MiB")
        } else {
            format!("{mib:.1} MiB")
        }
    } else if bytes >= KIB {
        format!("{} KiB", bytes.div_ceil(KIB))
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: Limit = Limit {
        bytes: 4,
        what: "a test file",
    };

    #[test]
    fn remove_if_deletes_only_a_regular_file_whose_contents_are_ours() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours");
        let theirs = dir.path().join("theirs");
        fs::write(&ours, b"ours").unwrap();
        fs::write(&theirs, b"else").unwrap();
        assert!(remove_if(&ours, TINY, |b| b == b"ours").unwrap());
        assert!(!ours.exists());
        assert!(!remove_if(&theirs, TINY, |b| b == b"ours").unwrap());
        assert_eq!(
            fs::read(&theirs).unwrap(),
            b"else",
            "a file not ours is left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn remove_if_refuses_a_symlink_even_to_a_file_that_is_ours() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let link = dir.path().join("link");
        fs::write(&target, b"ours").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = remove_if(&link, TINY, |_| true).unwrap_err();
        assert_eq!(
            Refusal::of(&err),
            Some(&Refusal::NotRegular {
                kind: "a symbolic link"
            })
        );
        assert!(link.exists() && target.exists(), "neither is touched");
    }

    #[cfg(unix)]
    #[test]
    fn remove_if_refuses_a_fifo_and_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(remove_if(&fifo, TINY, |_| true).is_err());
        assert!(fifo.exists());
        assert!(remove_if(dir.path(), TINY, |_| true).is_err());
    }

    #[test]
    fn a_regular_file_within_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"abcd").unwrap();
        assert_eq!(read(&path, TINY).unwrap(), b"abcd");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"abcde").unwrap();
        let err = read(&path, TINY).unwrap_err();
        assert_eq!(
            Refusal::of(&err),
            Some(&Refusal::TooLarge {
                size: Some(5),
                limit: TINY
            })
        );
        assert_eq!(
            err.to_string(),
            "it is 5 bytes; a test file is limited to 4 bytes"
        );
    }

    #[test]
    fn a_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path(), TINY).unwrap_err();
        assert_eq!(err.to_string(), "it is a folder, not a regular file");
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_without_reading_them() {
        let err = read(Path::new("/dev/zero"), MANIFEST).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it is a character device, not a regular file"
        );
    }

    #[test]
    fn sizes_read_like_a_person_writes_them() {
        assert_eq!(human(12), "12 bytes");
        assert_eq!(human(64 * KIB), "64 KiB");
        assert_eq!(human(MIB), "1 MiB");
        assert_eq!(human(MIB + MIB / 2), "1.5 MiB");
    }
}
