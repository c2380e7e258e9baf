//! Writing the PFX and CER files: owner-only permissions, atomic replacement, and never losing
//! an existing file (it is kept under a timestamped name, since it may hold the only copy of a
//! key still in use).

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::macros::format_description;

use super::{CertError, PublicCertificate};

/// A file entraform wrote, and where the file it replaced was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: PathBuf,
    /// The previous file's new name (`app.20250131T095500Z.pfx`), if one was there.
    pub kept_previous: Option<PathBuf>,
}

/// Writes `bytes` to `path` with mode 0600: missing parent folders are created with mode 0700;
/// the bytes go to a temporary file in the same folder which is synced and renamed over `path`,
/// so readers see the old file or the new one, never a partial one. An existing file at `path`
/// is first linked to `<stem>.<UTC timestamp>.<ext>` and reported in [`WrittenFile`].
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<WrittenFile, CertError> {
    write_file_at(path, bytes, None, OffsetDateTime::now_utc())
}

/// Like [`write_secret_file`], but an existing file at `path` is kept as `keep_as` (e.g. a
/// rotation's `app.<old thumbprint>.pfx`) when that name is free, else under the timestamped
/// name. The old file stays at `path` until the new one replaces it in one rename, so a script
/// reading `path` always finds a whole PFX.
pub fn write_secret_file_keeping(
    path: &Path,
    bytes: &[u8],
    keep_as: &Path,
) -> Result<WrittenFile, CertError> {
    write_file_at(path, bytes, Some(keep_as), OffsetDateTime::now_utc())
}

/// Writes the certificate's DER (a `.cer` as Windows reads it) the same way as the PFX.
pub fn write_cer_file(path: &Path, cert: &PublicCertificate) -> Result<WrittenFile, CertError> {
    write_secret_file(path, cert.der())
}

fn write_file_at(
    path: &Path,
    bytes: &[u8],
    keep_as: Option<&Path>,
    now: OffsetDateTime,
) -> Result<WrittenFile, CertError> {
    let fail = |operation: &'static str, at: &Path| {
        let at = at.to_owned();
        move |source: io::Error| CertError::Write {
            path: at,
            operation,
            source,
        }
    };
    let file_name = path.file_name().ok_or_else(|| {
        fail("write", path)(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path does not name a file",
        ))
    })?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    crate::local_file::create_private_dirs(folder).map_err(fail("create the folder", folder))?;

    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(file_name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // Set at creation, so the file is never readable by others, not even empty.
        builder.permissions(fs::Permissions::from_mode(0o600));
    }
    let mut temp = builder
        .tempfile_in(folder)
        .map_err(fail("create a temporary file in", folder))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(fail("write a temporary file in", folder))?;

    let kept_previous = match fs::symlink_metadata(path) {
        Ok(_) => Some(keep_previous(path, keep_as, now)?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(fail("inspect", path)(e)),
    };
    temp.persist(path)
        .map_err(|e| fail("move the new file into place at", path)(e.error))?;
    sync_folder(folder).map_err(fail("sync the folder", folder))?;
    Ok(WrittenFile {
        path: path.to_owned(),
        kept_previous,
    })
}

/// Links the existing file to `preferred` when that name is free, else to a free timestamped
/// name. A hard link keeps `path` in place until the new file replaces it; where links are
/// unsupported, a rename does the job.
fn keep_previous(
    path: &Path,
    preferred: Option<&Path>,
    now: OffsetDateTime,
) -> Result<PathBuf, CertError> {
    if let Some(preferred) = preferred
        && fs::hard_link(path, preferred).is_ok()
    {
        return Ok(preferred.to_owned());
    }
    let stamp = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| now.unix_timestamp().to_string());
    for attempt in 1..1000 {
        let candidate = kept_name(path, &stamp, attempt);
        let result = match fs::hard_link(path, &candidate) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                if candidate.exists() {
                    continue;
                }
                fs::rename(path, &candidate)
            }
            other => other,
        };
        match result {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => {
                return Err(CertError::Write {
                    path: candidate,
                    operation: "keep the previous file as",
                    source,
                });
            }
        }
    }
    Err(CertError::Write {
        path: path.to_owned(),
        operation: "find a free name to keep the previous file of",
        source: io::Error::from(io::ErrorKind::AlreadyExists),
    })
}

/// `app.pfx` → `app.20250131T095500Z.pfx`; the second keep within a second gets `-2`.
fn kept_name(path: &Path, stamp: &str, attempt: u32) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = if attempt == 1 {
        String::new()
    } else {
        format!("-{attempt}")
    };
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{stamp}{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{stamp}{suffix}"),
    };
    path.with_file_name(name)
}

/// Files entraform kept beside `path` when it replaced it: `app.<thumbprint or key id>.pfx`
/// (a rotation) and `app.<UTC timestamp>[-n].pfx` (any other replacement). Only names of that
/// shape, and only regular files, are returned.
pub fn kept_previous_files(path: &Path) -> Vec<PathBuf> {
    let (Some(stem), ext) = (
        path.file_stem().map(|s| s.to_string_lossy().into_owned()),
        path.extension().map(|e| e.to_string_lossy().into_owned()),
    ) else {
        return Vec::new();
    };
    siblings(path, |name| {
        let Some(middle) = name.strip_prefix(&stem).and_then(|r| r.strip_prefix('.')) else {
            return false;
        };
        let middle = match &ext {
            Some(ext) => match middle
                .strip_suffix(ext.as_str())
                .and_then(|m| m.strip_suffix('.'))
            {
                Some(m) => m,
                None => return false,
            },
            None => middle,
        };
        is_thumbprint(middle) || uuid::Uuid::parse_str(middle).is_ok() || is_stamp(middle)
    })
}

/// Temporary files an interrupted write of `path` left behind: `.<name>.<6 characters>.tmp`,
/// the names [`write_secret_file`] gives them. A `kill -9` between writing one and renaming it
/// can leave a whole private key there.
pub fn leftover_temp_files(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let prefix = format!(".{name}.");
    siblings(path, |file| {
        file.strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".tmp"))
            .is_some_and(|random| {
                random.len() == TEMP_RANDOM_LEN && random.chars().all(|c| c.is_ascii_alphanumeric())
            })
    })
}

/// Removes what [`leftover_temp_files`] finds for `path` (only files this user owns) and returns
/// what was removed.
pub fn remove_leftover_temp_files(path: &Path) -> Vec<PathBuf> {
    leftover_temp_files(path)
        .into_iter()
        .filter(|p| owned_by_us(p) && fs::remove_file(p).is_ok())
        .collect()
}

#[cfg(unix)]
fn owned_by_us(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    fs::symlink_metadata(path).is_ok_and(|m| m.uid() == me)
}

#[cfg(not(unix))]
fn owned_by_us(_path: &Path) -> bool {
    true
}

/// tempfile's default number of random characters in a name.
const TEMP_RANDOM_LEN: usize = 6;

/// Regular files (not links) in `path`'s folder, other than `path`, whose names match.
fn siblings(path: &Path, matches: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| matches(&e.file_name().to_string_lossy()))
        .map(|e| path.with_file_name(e.file_name()))
        .filter(|p| p != path)
        .collect();
    found.sort();
    found
}

fn is_thumbprint(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// `20250131T095500Z`, optionally `-2` and up.
fn is_stamp(s: &str) -> bool {
    let (stamp, n) = s.split_once('-').unwrap_or((s, "2"));
    let b = stamp.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
        && !n.is_empty()
        && n.chars().all(|c| c.is_ascii_digit())
}

/// Makes the rename itself durable, not only the file's contents.
#[cfg(unix)]
fn sync_folder(folder: &Path) -> io::Result<()> {
    fs::File::open(folder)?.sync_all()
}

#[cfg(not(unix))]
fn sync_folder(_folder: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_names_carry_the_utc_timestamp_before_the_extension() {
        let p = Path::new("/x/app.pfx");
        assert_eq!(
            kept_name(p, "20250131T095500Z", 1),
            Path::new("/x/app.20250131T095500Z.pfx")
        );
        assert_eq!(
            kept_name(p, "20250131T095500Z", 2),
            Path::new("/x/app.20250131T095500Z-2.pfx")
        );
        assert_eq!(
            kept_name(Path::new("cert"), "20250131T095500Z", 1),
            Path::new("cert.20250131T095500Z")
        );
    }

    #[test]
    fn two_replacements_in_one_second_keep_both_previous_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pfx");
        let now = time::macros::datetime!(2025-01-31 10:55:00 +01:00);
        write_file_at(&path, b"one", None, now).unwrap();
        let second = write_file_at(&path, b"two", None, now).unwrap();
        let third = write_file_at(&path, b"three", None, now).unwrap();
        assert_eq!(
            second.kept_previous.as_deref(),
            Some(dir.path().join("app.20250131T095500Z.pfx").as_path())
        );
        assert_eq!(
            third.kept_previous.as_deref(),
            Some(dir.path().join("app.20250131T095500Z-2.pfx").as_path())
        );
        assert_eq!(fs::read(second.kept_previous.unwrap()).unwrap(), b"one");
        assert_eq!(fs::read(third.kept_previous.unwrap()).unwrap(), b"two");
        assert_eq!(fs::read(&path).unwrap(), b"three");
    }

    #[test]
    fn kept_and_temporary_files_are_found_by_their_names_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pfx");
        for name in [
            "app.pfx",
            "app.20250131T095500Z.pfx",
            "app.20250131T095500Z-2.pfx",
            "app.0123456789ABCDEF0123456789ABCDEF01234567.pfx",
            "app.backup.pfx",
            "app.20250131.pfx",
            ".app.pfx.Ab12Cd.tmp",
            ".app.pfx.toolong1.tmp",
            ".other.pfx.Ab12Cd.tmp",
            "notes.txt",
        ] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        let names = |paths: Vec<PathBuf>| -> Vec<String> {
            paths
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(kept_previous_files(&path)),
            [
                "app.0123456789ABCDEF0123456789ABCDEF01234567.pfx",
                "app.20250131T095500Z-2.pfx",
                "app.20250131T095500Z.pfx",
            ]
        );
        assert_eq!(names(leftover_temp_files(&path)), [".app.pfx.Ab12Cd.tmp"]);
    }

    #[test]
    fn the_previous_file_is_kept_under_the_chosen_name_when_it_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pfx");
        let chosen = dir.path().join("app.OLDTHUMB.pfx");
        std::fs::write(&path, b"old").unwrap();
        let written = write_secret_file_keeping(&path, b"new", &chosen).unwrap();
        assert_eq!(written.kept_previous.as_deref(), Some(chosen.as_path()));
        assert_eq!(std::fs::read(&chosen).unwrap(), b"old");
        assert_eq!(std::fs::read(&path).unwrap(), b"new");

        // Taken: the timestamped name instead, and nothing is replaced.
        let again = write_secret_file_keeping(&path, b"newer", &chosen).unwrap();
        let kept = again.kept_previous.unwrap();
        assert_ne!(kept, chosen);
        assert_eq!(std::fs::read(&kept).unwrap(), b"new");
        assert_eq!(std::fs::read(&chosen).unwrap(), b"old");
    }
}
