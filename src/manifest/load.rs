//! Finding manifest files and turning their bytes into desired apps: limits first (size,
//! UTF-8), then the span tree, the schema checks, serde_yaml, semantic validation, and the
//! checks across everything loaded. Only [`discover`] and [`load`] touch the disk (reads go
//! through [`crate::local_file`]).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use sha2::Digest as _;

use super::check::{Checker, Problem};
use super::diagnostic::{Diagnostic, Location, MAX_SHOWN_PER_FILE, SourceText};
use super::paths::{NamedPath, PathChecker};
use super::raw::RawManifest;
use super::validate::{Claim, Validated, validate};
use super::yaml::{self, Pos, Span};
use super::{LoadedFile, ManifestError, Manifests};
use crate::local_file::{self, Refusal};
use crate::model::DesiredApp;

/// Manifests are a few KiB; anything near this is not a manifest.
pub const MAX_FILE_BYTES: u64 = local_file::MANIFEST.bytes;

/// Everything one file yielded.
pub struct FileResult {
    pub apps: Vec<Validated>,
    /// The files named by documents that had other problems: still checked, so every problem
    /// is reported at once.
    pub other_paths: Vec<NamedPath>,
    /// Sorted by position; at most [`MAX_SHOWN_PER_FILE`].
    pub diagnostics: Vec<Diagnostic>,
    /// Problems found beyond those kept.
    pub omitted: usize,
    pub source: Option<SourceText>,
}

/// Parses and validates one file's bytes. `display` is the path shown in messages; paths in
/// the manifest resolve against its folder.
pub fn parse_file(display: &Path, bytes: &[u8], checker: &Checker) -> FileResult {
    let mut result = FileResult {
        apps: Vec::new(),
        other_paths: Vec::new(),
        diagnostics: Vec::new(),
        omitted: 0,
        source: None,
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        result
            .diagnostics
            .push(too_large(display, bytes.len() as u64));
        return result;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            result
                .diagnostics
                .push(not_utf8(display, bytes, e.valid_up_to()));
            return result;
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source = SourceText::new(display, text);
    let problems = collect_problems(
        &source,
        text,
        checker,
        &mut result.apps,
        &mut result.other_paths,
    );

    // Rendering a problem costs the length of its line; keep only what will be shown.
    let mut problems = problems;
    problems.sort_by_key(|p| p.span.start);
    result.omitted = problems.len().saturating_sub(MAX_SHOWN_PER_FILE);
    problems.truncate(MAX_SHOWN_PER_FILE);
    result.diagnostics = problems
        .into_iter()
        .map(|p| source.diagnostic(p.span, p.message).with_hint(p.hint))
        .collect();
    result.source = Some(source);
    result
}

/// Every problem in the text, in no particular order; valid documents go to `apps`.
fn collect_problems(
    source: &SourceText,
    text: &str,
    checker: &Checker,
    apps: &mut Vec<Validated>,
    other_paths: &mut Vec<NamedPath>,
) -> Vec<Problem> {
    let parsed = yaml::parse(text);
    let clean_parse = parsed.problems.is_empty();
    let mut all: Vec<Problem> = parsed
        .problems
        .into_iter()
        .map(|p| Problem {
            span: p.span,
            message: p.message,
            hint: p.hint,
        })
        .collect();
    if parsed.fatal {
        return all;
    }
    if parsed.documents.iter().all(|d| d.root.is_none()) {
        all.push(Problem {
            span: Span::point(Pos { line: 1, col: 0 }),
            message: "the file holds no manifest".to_owned(),
            hint: Some(
                "start it with `apiVersion: entraform/v1` and `kind: Application`, or remove it"
                    .to_owned(),
            ),
        });
        return all;
    }

    let dir = source.path.parent().unwrap_or(Path::new(""));
    let mut serde_docs = serde_yaml::Deserializer::from_str(text);
    for document in &parsed.documents {
        // serde_yaml sees the same documents in the same order; keep the two in step.
        let de = serde_docs.next();
        let Some(root) = &document.root else {
            continue;
        };
        let mut problems = Vec::new();
        checker.check_document(root, &mut problems);
        if !problems.is_empty() || !clean_parse {
            all.extend(problems);
            continue;
        }
        let Some(de) = de else {
            all.push(Problem {
                span: Span::point(document.start),
                message: "the YAML reader lost track of this document".to_owned(),
                hint: None,
            });
            continue;
        };
        let raw = match RawManifest::deserialize(de) {
            Ok(raw) => raw,
            Err(e) => {
                // The schema checks should have caught this; report serde_yaml's view as is.
                let pos = e.location().map_or(document.start, |l| Pos {
                    line: l.line(),
                    col: l.column().saturating_sub(1),
                });
                all.push(Problem {
                    span: Span::point(pos),
                    message: e.to_string(),
                    hint: None,
                });
                continue;
            }
        };
        let validated = validate(raw, root, source, dir, &mut problems);
        if problems.is_empty() {
            apps.push(validated);
        } else {
            other_paths.extend(validated.paths);
            all.extend(problems);
        }
    }
    all
}

fn too_large(display: &Path, len: u64) -> Diagnostic {
    #[allow(clippy::cast_precision_loss)]
    let mib = len as f64 / (1024.0 * 1024.0);
    Diagnostic::file(
        display,
        format!(
            "`{}` is {mib:.1} MiB; manifests are limited to {} MiB",
            display.display(),
            MAX_FILE_BYTES / (1024 * 1024)
        ),
    )
    .with_hint(Some(
        "a manifest describes one or a few apps in a few KiB; is this the right file?".to_owned(),
    ))
}

/// Names the line and column of the first byte that is not UTF-8.
fn not_utf8(display: &Path, bytes: &[u8], valid_up_to: usize) -> Diagnostic {
    let prefix = std::str::from_utf8(&bytes[..valid_up_to]).unwrap_or_default();
    let line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
    let line = prefix.matches('\n').count() + 1;
    let column = prefix[line_start..].chars().count() + 1;
    let line_end = bytes[line_start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| line_start + i);
    Diagnostic {
        file: display.to_owned(),
        location: Some(Location::new(
            line,
            column,
            1,
            &String::from_utf8_lossy(&bytes[line_start..line_end]),
        )),
        message: format!(
            "the file is not valid UTF-8 (byte 0x{:02X} at offset {valid_up_to})",
            bytes[valid_up_to]
        ),
        hint: Some("save the manifest as UTF-8".to_owned()),
        note: None,
    }
}

/// Checks what must be unique across everything loaded, in load order: the second claimant
/// is the one reported, with a note naming the first.
#[derive(Default)]
pub struct Claims {
    first: HashMap<Claim, (PathBuf, Location)>,
}

impl Claims {
    pub fn check(
        &mut self,
        source: &SourceText,
        claims: &[(Claim, Span)],
        out: &mut Vec<Diagnostic>,
    ) {
        for (claim, span) in claims {
            let here = source.location(*span);
            match self.first.get(claim) {
                None => {
                    self.first
                        .insert(claim.clone(), (source.path.clone(), here));
                }
                Some((file, first)) => {
                    let (message, hint) = match claim {
                        Claim::Name(name) => (
                            format!("duplicate `metadata.name` `{name}`"),
                            "the name is the app's identity in the tenant; give each manifest its own",
                        ),
                        Claim::AppId(id) => (
                            format!("app `{id}` is adopted by two manifests (`metadata.appId`)"),
                            "one app registration can be managed by one manifest only",
                        ),
                    };
                    out.push(
                        source
                            .diagnostic(*span, message)
                            .with_hint(Some(hint.to_owned()))
                            .with_note(Some(format!("first used at {}", first.display(file)))),
                    );
                }
            }
        }
    }
}

/// Loads every manifest under `paths`.
pub fn load(paths: &[PathBuf], recursive: bool) -> Result<Manifests, ManifestError> {
    let files = discover(paths, recursive)?;
    let schema = super::json_schema();
    let checker = Checker::new(&schema);
    let mut claims = Claims::default();
    let mut paths = PathChecker::new(&files, true);
    let mut diagnostics = Vec::new();
    let mut omitted = 0;
    let mut manifests = Manifests {
        apps: Vec::new(),
        files: Vec::new(),
    };
    for path in files {
        let bytes = match local_file::read(&path, local_file::MANIFEST) {
            Ok(bytes) => bytes,
            Err(e) if matches!(Refusal::of(&e), Some(Refusal::TooLarge { .. })) => {
                let len = fs::metadata(&path).map_or(MAX_FILE_BYTES + 1, |m| m.len());
                diagnostics.push(too_large(&path, len));
                continue;
            }
            Err(source) => return Err(ManifestError::Read { path, source }),
        };
        let mut result = parse_file(&path, &bytes, &checker);
        if let Some(source) = &result.source {
            for app in &result.apps {
                claims.check(source, &app.claims, &mut result.diagnostics);
                paths.check(source, &app.paths, &mut result.diagnostics);
            }
            paths.check(source, &result.other_paths, &mut result.diagnostics);
        }
        sort(&mut result.diagnostics);
        diagnostics.extend(result.diagnostics);
        omitted += result.omitted;
        manifests.files.push(LoadedFile {
            sha256: hex::encode(sha2::Sha256::digest(&bytes)),
            path,
        });
        manifests
            .apps
            .extend(result.apps.into_iter().map(|v| v.app));
    }
    if diagnostics.is_empty() {
        Ok(manifests)
    } else {
        Err(ManifestError::Invalid(super::Report {
            diagnostics,
            omitted,
        }))
    }
}

/// One file's bytes, without touching the disk: for tests, fuzzing and callers that already
/// hold the text.
pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Vec<DesiredApp>, ManifestError> {
    let schema = super::json_schema();
    let checker = Checker::new(&schema);
    let mut result = parse_file(path, bytes, &checker);
    if let Some(source) = &result.source {
        let mut claims = Claims::default();
        let mut paths = PathChecker::new(&[path.to_owned()], false);
        for app in &result.apps {
            claims.check(source, &app.claims, &mut result.diagnostics);
            paths.check(source, &app.paths, &mut result.diagnostics);
        }
        paths.check(source, &result.other_paths, &mut result.diagnostics);
    }
    sort(&mut result.diagnostics);
    if result.diagnostics.is_empty() {
        Ok(result.apps.into_iter().map(|v| v.app).collect())
    } else {
        Err(ManifestError::Invalid(super::Report {
            diagnostics: result.diagnostics,
            omitted: result.omitted,
        }))
    }
}

fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| d.location.as_ref().map(|l| (l.line, l.column)));
}

/// The files to load, in order: each argument as given; a folder's `*.yaml`/`*.yml` files
/// sorted by name (sub-folders too, depth-first, with `recursive`). Hidden files and folders
/// are skipped, symlinked folders are not followed (no cycles), and a file named twice is
/// loaded once. A `*.yaml`/`*.yml` entry that is not a readable file (a dangling or looping
/// link, a FIFO, a device) is an error, never skipped.
pub fn discover(paths: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>, ManifestError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ManifestError::NotFound { path: path.clone() }
            } else {
                ManifestError::Read {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        if meta.is_file() {
            files.push(path.clone());
            continue;
        }
        if !meta.is_dir() {
            return Err(ManifestError::NotAFile { path: path.clone() });
        }
        let before = files.len();
        let mut has_subfolders = false;
        let mut stack = vec![path.clone()];
        while let Some(dir) = stack.pop() {
            let read = |source| ManifestError::Read {
                path: dir.clone(),
                source,
            };
            let mut entries: Vec<(PathBuf, fs::FileType)> = Vec::new();
            for entry in fs::read_dir(&dir).map_err(read)? {
                let entry = entry.map_err(read)?;
                let name = entry.file_name();
                if name.to_string_lossy().starts_with('.') {
                    continue;
                }
                entries.push((entry.path(), entry.file_type().map_err(read)?));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut subdirs = Vec::new();
            for (entry, kind) in entries {
                if kind.is_dir() {
                    has_subfolders = true;
                    if recursive {
                        subdirs.push(entry);
                    }
                } else if is_manifest_name(&entry) {
                    // Never skipped: a manifest left out looks like a deleted app to `--prune`.
                    if let Some(reason) = unreadable(&entry) {
                        return Err(ManifestError::Unreadable {
                            path: entry,
                            reason,
                        });
                    }
                    files.push(entry);
                }
            }
            // Depth-first in name order: push in reverse so the first folder pops first.
            stack.extend(subdirs.into_iter().rev());
        }
        if files.len() == before {
            return Err(ManifestError::NoManifests {
                dir: path.clone(),
                has_subfolders: has_subfolders && !recursive,
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    Ok(files)
}

/// Why a `*.yaml` entry of a folder cannot be loaded as a manifest (a dangling or looping
/// link, a FIFO, a device, a link to a folder); `None` for a regular file.
fn unreadable(entry: &Path) -> Option<String> {
    match fs::metadata(entry) {
        Ok(meta) => local_file::kind_of(&meta.file_type()).map(|kind| {
            if fs::symlink_metadata(entry).is_ok_and(|m| m.file_type().is_symlink()) {
                format!("it is a symbolic link to {kind}")
            } else {
                format!("it is {kind}, not a regular file")
            }
        }),
        Err(e) => Some(match fs::read_link(entry) {
            Ok(target) if e.kind() == std::io::ErrorKind::NotFound => format!(
                "it is a symbolic link to `{}`, which does not exist",
                target.display()
            ),
            Ok(_) if is_link_loop(&e) => {
                "it is a symbolic link that loops back on itself".to_owned()
            }
            _ => e.to_string(),
        }),
    }
}

#[cfg(unix)]
fn is_link_loop(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_link_loop(_: &std::io::Error) -> bool {
    false
}

fn is_manifest_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}
