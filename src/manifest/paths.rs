//! The files a manifest names, checked against each other and against what is on disk before
//! anything is written: a generated certificate's `pfx` or `cer` must not be a manifest, the
//! sandbox state, another certificate's `pfx`/`cer`/`file`, or any existing file that is not a
//! PFX or certificate (entraform replaces only what it wrote). Paths are compared as the files
//! they are (absolute, `..` removed, existing folders and links resolved), not as written.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use super::diagnostic::{Diagnostic, Location, SourceText};
use super::validate::clean_join;
use super::yaml::Span;

/// What a manifest does with a path it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRole {
    /// `generate.pfx`: written.
    Pfx,
    /// `generate.cer`: written.
    Cer,
    /// `file`: read.
    CertificateFile,
}

impl PathRole {
    fn is_written(self) -> bool {
        matches!(self, PathRole::Pfx | PathRole::Cer)
    }
}

/// A path as a manifest names it: `field` is where (`spec.certificates[0].generate.pfx`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPath {
    pub role: PathRole,
    /// Resolved against the manifest's folder.
    pub path: PathBuf,
    pub field: String,
    pub span: Span,
}

/// The sandbox's state file when nothing else is said; never a certificate's home.
const DEFAULT_SANDBOX_STATE: &str = ".entraform/sandbox.json";

/// Checks every manifest's paths in load order (the second of two colliding paths is the one
/// reported, with a note naming the first).
pub struct PathChecker {
    manifests: HashMap<PathBuf, PathBuf>,
    first: HashMap<PathBuf, (PathRole, String, PathBuf, Location)>,
    /// Whether to look at the files that exist (off when only bytes are validated).
    disk: bool,
}

impl PathChecker {
    /// `manifests` are every file being loaded.
    pub fn new(manifests: &[PathBuf], disk: bool) -> Self {
        Self {
            manifests: manifests.iter().map(|m| (identity(m), m.clone())).collect(),
            first: HashMap::new(),
            disk,
        }
    }

    pub fn check(&mut self, source: &SourceText, paths: &[NamedPath], out: &mut Vec<Diagnostic>) {
        for named in paths {
            let id = identity(&named.path);
            let here = source.location(named.span);
            let problem = self
                .collision(named, &id)
                .or_else(|| self.refusal(named, &id, &source.path));
            if let Some((message, hint, note)) = problem {
                out.push(
                    source
                        .diagnostic(named.span, message)
                        .with_hint(Some(hint))
                        .with_note(note),
                );
                continue;
            }
            self.first.entry(id).or_insert_with(|| {
                (
                    named.role,
                    named.field.clone(),
                    source.path.clone(),
                    here.clone(),
                )
            });
        }
    }

    /// Two fields naming one file where at least one of them writes it.
    fn collision(&self, named: &NamedPath, id: &Path) -> Option<(String, String, Option<String>)> {
        let (role, field, file, location) = self.first.get(id)?;
        if !named.role.is_written() && !role.is_written() {
            return None;
        }
        let shown = named.path.display();
        let message = if named.role.is_written() && role.is_written() {
            format!("`{}` `{shown}` is also written by `{field}`", named.field)
        } else if named.role.is_written() {
            format!(
                "`{}` `{shown}` is the certificate `{field}` reads; writing it would replace that certificate",
                named.field
            )
        } else {
            format!("`{}` `{shown}` is the file `{field}` writes", named.field)
        };
        Some((
            message,
            "give each generated certificate its own `pfx` and `cer` files, apart from every `file:` certificate".to_owned(),
            Some(format!("first used at {}", location.display(file))),
        ))
    }

    /// An output path that points at something entraform must never replace.
    fn refusal(
        &self,
        named: &NamedPath,
        id: &Path,
        this_manifest: &Path,
    ) -> Option<(String, String, Option<String>)> {
        if !named.role.is_written() {
            return None;
        }
        let field = &named.field;
        let shown = named.path.display();
        let own_file = "name a file of its own for it, e.g. `secrets/<app>.pfx`".to_owned();
        if let Some(manifest) = self.manifests.get(id) {
            let which = if identity(this_manifest) == *id {
                "this manifest itself".to_owned()
            } else {
                format!("the manifest `{}`", manifest.display())
            };
            return Some((
                format!(
                    "`{field}` `{shown}` is {which}; writing a certificate there would replace it"
                ),
                own_file,
                None,
            ));
        }
        if *id == identity(Path::new(DEFAULT_SANDBOX_STATE)) {
            return Some((
                format!("`{field}` `{shown}` is where the sandbox keeps its tenant"),
                own_file,
                None,
            ));
        }
        if !self.disk {
            return None;
        }
        let meta = std::fs::metadata(&named.path).ok()?;
        if let Some(kind) = crate::local_file::kind_of(&meta.file_type()) {
            return Some((
                format!(
                    "`{field}` `{shown}` is {kind}; entraform writes certificates only to regular files"
                ),
                own_file,
                None,
            ));
        }
        let ours = match named.role {
            PathRole::Pfx => crate::cert::is_pfx_file(&named.path),
            _ => crate::cert::is_certificate_file(&named.path),
        };
        if ours {
            return None;
        }
        if crate::sandbox::is_state_file(&named.path) {
            return Some((
                format!(
                    "`{field}` `{shown}` is a sandbox state file; writing a certificate there would replace the tenant"
                ),
                own_file,
                None,
            ));
        }
        let what = if named.role == PathRole::Pfx {
            "a PFX file"
        } else {
            "a certificate"
        };
        Some((
            format!(
                "`{field}` `{shown}` exists and is not {what}; entraform replaces only the certificate files it writes"
            ),
            "move the existing file away, or name another path".to_owned(),
            None,
        ))
    }
}

/// The file a path names, as comparable as it can be made: absolute, `.` and `..` removed, and
/// the longest existing part resolved (links and all), so `a/../x.pfx`, `./x.pfx`, an absolute
/// spelling and a link to the file all compare equal.
fn identity(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        clean_join(Path::new("/"), path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_default();
        clean_join(&cwd, path)
    };
    let mut existing = absolute.as_path();
    let mut rest: Vec<Component<'_>> = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        let (Some(parent), Some(last)) = (existing.parent(), existing.components().next_back())
        else {
            return absolute;
        };
        rest.push(last);
        existing = parent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_file_have_one_identity() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("m")).unwrap();
        std::fs::write(d.join("m/app.yaml"), "x").unwrap();
        assert_eq!(
            identity(&d.join("m/../m/./app.yaml")),
            identity(&d.join("m/app.yaml"))
        );
        assert_eq!(
            identity(&d.join("m/new/x.pfx")),
            identity(&d.join("m/new/../new/x.pfx"))
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.join("m/app.yaml"), d.join("link.pfx")).unwrap();
            assert_eq!(
                identity(&d.join("link.pfx")),
                identity(&d.join("m/app.yaml"))
            );
        }
    }
}
