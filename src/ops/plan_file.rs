//! Reading and writing saved plan files (`plan --out FILE`, `apply FILE`). The encoding is
//! [`crate::plan::file`]'s; this module owns the disk: a named file is read only when it is a
//! regular file of sane size, and writing is atomic and replaces nothing but a plan file, so an
//! interrupted `--out` never leaves half a plan behind and a mistyped `--out` never eats a
//! manifest.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::hint::Hint;
use crate::local_file;
use crate::plan::Plan;
use crate::plan::file::{self, DecodeError};

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read the plan file `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("refusing to write the plan to `{}`: {found}", path.display())]
    RefuseOverwrite { path: PathBuf, found: String },
    #[error("cannot write the plan file `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Hint for PlanFileError {
    fn hint(&self) -> Option<String> {
        match self {
            PlanFileError::Decode(e) => e.hint(),
            PlanFileError::RefuseOverwrite { .. } => Some(
                "`--out` replaces only a plan file it wrote before; name a new file, or `--out -` for stdout"
                    .to_owned(),
            ),
            PlanFileError::Read { .. } | PlanFileError::Write { .. } => None,
        }
    }
}

pub fn read(path: &Path) -> Result<Plan, PlanFileError> {
    let text = local_file::read_to_string(path, local_file::PLAN_FILE).map_err(|source| {
        PlanFileError::Read {
            path: path.to_owned(),
            source,
        }
    })?;
    Ok(file::from_plan_file(&text, path)?)
}

/// Writes the plan file atomically: a temporary file in the same folder, flushed to disk, then
/// renamed over `path`. Whatever is at `path` already must be a plan file (a previous
/// `plan --out`): a device, a link, a manifest or any other file is refused, never replaced.
pub fn write(path: &Path, plan: &Plan) -> Result<(), PlanFileError> {
    let err = |source| PlanFileError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(found) = not_a_plan_file(path) {
        return Err(PlanFileError::RefuseOverwrite {
            path: path.to_owned(),
            found,
        });
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(file::to_plan_file(plan).as_bytes())
        .map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// What is at `path` when it is something other than a plan file this or any entraform wrote;
/// `None` when nothing is there or it is a plan file.
fn not_a_plan_file(path: &Path) -> Option<String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(format!("it cannot be inspected ({e})")),
    };
    if let Some(kind) = local_file::kind_of(&meta.file_type()) {
        return Some(format!("it is {kind}"));
    }
    let recognised = local_file::read(path, local_file::PLAN_FILE)
        .is_ok_and(|bytes| file::looks_like_plan_file(&bytes));
    (!recognised).then(|| "it is not an entraform plan file".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Plan {
        let text = include_str!("../../tests/plan/cases/certificate-set-changes/planfile.json");
        file::from_plan_file(text, Path::new("planfile.json")).unwrap()
    }

    #[test]
    fn a_saved_plan_reads_back_identical_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tfplan.json");
        let plan = sample();
        write(&path, &plan).unwrap();
        assert_eq!(read(&path).unwrap(), plan);
        // Overwriting goes through a rename too; no temporary file is left behind.
        write(&path, &plan).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn plan_out_never_replaces_what_is_not_a_plan_file() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("app.yaml");
        std::fs::write(&manifest, "apiVersion: entraform/v1\n").unwrap();
        let err = write(&manifest, &sample()).unwrap_err();
        assert!(
            matches!(err, PlanFileError::RefuseOverwrite { .. }),
            "{err:?}"
        );
        assert!(err.hint().unwrap().contains("--out -"));
        assert_eq!(
            std::fs::read_to_string(&manifest).unwrap(),
            "apiVersion: entraform/v1\n"
        );
        let err = write(dir.path(), &sample()).unwrap_err();
        assert!(err.to_string().contains("a folder"), "{err}");
        // A link to a device is refused as a link: the device (of this machine!) is never
        // reached, even if this check regressed.
        #[cfg(unix)]
        {
            let link = dir.path().join("null");
            std::os::unix::fs::symlink("/dev/null", &link).unwrap();
            let err = write(&link, &sample()).unwrap_err();
            assert!(err.to_string().contains("a symbolic link"), "{err}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_plan_says_so_with_its_hint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tfplan.json");
        std::fs::write(&path, "not json").unwrap();
        let err = read(&path).unwrap_err();
        assert!(matches!(
            err,
            PlanFileError::Decode(DecodeError::Parse { .. })
        ));
        assert!(err.to_string().ends_with("is not an entraform plan file"));
        assert!(err.hint().unwrap().contains("entraform plan --out"));
    }
}
