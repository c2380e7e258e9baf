//! The manifest language: YAML files of `apiVersion: entraform/v1`, `kind: Application`
//! documents, loaded with a line and column for every node and validated into
//! [`crate::model::DesiredApp`].
//!
//! The pipeline for each file: size and UTF-8 limits → a span-aware YAML tree ([`yaml`]:
//! duplicate keys, aliases, nesting) → structural checks against the generated JSON Schema
//! ([`check`]: unknown fields, types, required fields) → serde_yaml into the raw types ([`raw`])
//! → semantic validation ([`validate`]: formats, defaults, Graph's limits) → checks across
//! every file loaded (unique names, adopted app ids) → the files the manifests name ([`paths`]:
//! a certificate never written over a manifest, the sandbox state, another certificate or a
//! file entraform did not write). Every problem in a file is
//! reported, each with `file:line:column`, the offending line and a hint where one fits.
//!
//! Semantics later stages rely on: an absent field is not managed; a present list is
//! authoritative and compared as a set (`[]` means none); paths (`pfx`, `cer`, `file`) are
//! resolved against the manifest's folder.

mod check;
mod diagnostic;
mod load;
mod paths;
mod raw;
mod validate;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Location, MAX_SHOWN_PER_FILE, render};
pub use load::MAX_FILE_BYTES;
pub use raw::json_schema;
pub use yaml::MAX_DEPTH;

use crate::hint::Hint;
use crate::model::DesiredApp;

/// Everything loaded from the manifest paths.
#[derive(Debug, Clone)]
pub struct Manifests {
    /// In load order: files in argument order, folders sorted by name, documents in file order.
    pub apps: Vec<DesiredApp>,
    pub files: Vec<LoadedFile>,
}

/// A file that was read, and the SHA-256 of its bytes (a saved plan records them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedFile {
    pub path: PathBuf,
    /// Lower-case hex.
    pub sha256: String,
}

/// Loads and validates every manifest under `paths`: files as given, folders' `*.yaml` and
/// `*.yml` files (sorted; sub-folders too with `recursive`).
pub fn load(paths: &[PathBuf], recursive: bool) -> Result<Manifests, ManifestError> {
    load::load(paths, recursive)
}

/// Validates one file's bytes without reading the disk; `path` is used for messages and to
/// resolve the paths inside the manifest.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<DesiredApp>, ManifestError> {
    load::parse_bytes(path, bytes)
}

/// Every diagnostic found while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// In file order, then by position; at most [`MAX_SHOWN_PER_FILE`] per file are kept.
    pub diagnostics: Vec<Diagnostic>,
    /// How many more were found and dropped (a mangled file can yield thousands).
    pub omitted: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("`{}` does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("`{}` is neither a file nor a folder", path.display())]
    NotAFile { path: PathBuf },
    #[error("no manifests (`*.yaml` or `*.yml` files) in `{}`", dir.display())]
    NoManifests {
        dir: PathBuf,
        /// The folder has sub-folders that `--recursive` would search.
        has_subfolders: bool,
    },
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot load the manifest `{}`: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// Rendered in full: every diagnostic, then a count. The printer adds the first `error: `.
    #[error("{0}")]
    Invalid(Report),
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        diagnostic::render_into(&mut out, &self.diagnostics, self.omitted, false);
        f.write_str(&out)
    }
}

impl Hint for ManifestError {
    fn hint(&self) -> Option<String> {
        match self {
            ManifestError::NotFound { .. } | ManifestError::NotAFile { .. } => Some(
                "name manifest files (`*.yaml`, `*.yml`) or folders of them that exist".to_owned(),
            ),
            ManifestError::NoManifests {
                has_subfolders: true,
                ..
            } => Some("add `--recursive` to load sub-folders too".to_owned()),
            ManifestError::NoManifests { .. } => {
                Some("write one as described in docs/manifest.md".to_owned())
            }
            ManifestError::Unreadable { .. } => Some(
                "fix it or move it out of the folder; entraform never skips a manifest it cannot read, since a skipped manifest would look like a deleted app to `--prune`"
                    .to_owned(),
            ),
            ManifestError::Read { .. } | ManifestError::Invalid(_) => None,
        }
    }
}
