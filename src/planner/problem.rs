//! Why a plan cannot be made: every problem between the manifests and the tenant, found
//! together and reported at once.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::diagnostic::{self, Location};
use crate::hint::Hint;
use crate::model::Source;

/// What kind of problem stopped the plan; tests and hints match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    UnknownApi,
    AmbiguousApi,
    UnknownPermission,
    UnknownRole,
    UnknownOwner,
    AdoptionConflict,
    AdoptedAppMissing,
    DuplicateApp,
    ProtectedApp,
    MissingLocalCertificate,
    OwnersNotRead,
    /// A deleted application entraform does not manage holds the `uniqueName`.
    NameHeldByDeletedApp,
    /// `--replace` names no generated certificate of the manifests.
    UnknownReplaceAddress,
    /// An `assignments` principal no user or group in the tenant answers to.
    UnknownPrincipal,
    /// An `assignments` group name several groups share.
    AmbiguousPrincipal,
    /// An `assignments` role the app does not have, or not for users and groups.
    UnknownAppRole,
    /// The manifest manages `assignments`, but the service principal's were not read.
    AssignmentsNotRead,
}

/// One thing wrong between the manifests and the tenant, with where the manifest says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The manifest of the app, when there is one (a pruned app has none).
    pub source: Option<Source>,
    pub app: String,
    pub message: String,
    /// Follow-up lines: did-you-mean suggestions, how to fix.
    pub help: Vec<String>,
}

impl Problem {
    /// The `hint:` it shows: its own (a did-you-mean, how to fix), else what fixes its kind.
    pub fn hint(&self) -> Option<String> {
        if self.help.is_empty() {
            self.kind.hint().map(str::to_owned)
        } else {
            Some(self.help.join("; "))
        }
    }

    /// Rendered like a manifest validation error: the message, `--> file:line:column`, the
    /// line with carets under the entry, then the hint. One the manifest cannot point at (an
    /// app only the tenant has) names the app instead.
    fn render(&self) -> String {
        let hint = self.hint();
        let Some(src) = &self.source else {
            let message = format!("`{}`: {}", self.app, self.message);
            return diagnostic::render_parts(&message, None, None, hint.as_deref(), None);
        };
        if src.text.is_empty() || src.column == 0 {
            let position = format!("{}:{}", src.file.display(), src.line);
            return diagnostic::render_parts(
                &self.message,
                Some(&position),
                None,
                hint.as_deref(),
                None,
            );
        }
        let location = Location::new(src.line, src.column, src.width, &src.text);
        let position = location.display(&src.file);
        diagnostic::render_parts(
            &self.message,
            Some(&position),
            Some(&location),
            hint.as_deref(),
            None,
        )
    }
}

impl ProblemKind {
    /// What fixes a problem of this kind, when it has no hint of its own.
    fn hint(self) -> Option<&'static str> {
        Some(match self {
            ProblemKind::UnknownPermission => {
                "permission values are case-sensitive and must match the API's own list exactly"
            }
            ProblemKind::UnknownApi | ProblemKind::AmbiguousApi => {
                "name an API by its service principal's display name or its appId; an API without a service principal in this tenant must be added first"
            }
            ProblemKind::UnknownRole => {
                "name a directory role by its display name (e.g. `Exchange Administrator`) or its template id"
            }
            ProblemKind::UnknownOwner => {
                "owners are user principal names of users in this tenant, or directory object ids"
            }
            ProblemKind::ProtectedApp => {
                "remove the `entraform:protected` tag from the application, or restore its manifest, before pruning it"
            }
            ProblemKind::AdoptionConflict | ProblemKind::AdoptedAppMissing => {
                "`metadata.appId` adopts an existing application that has no `uniqueName` yet"
            }
            ProblemKind::DuplicateApp => {
                "each `metadata.name` and `metadata.appId` may appear in one manifest only"
            }
            ProblemKind::UnknownReplaceAddress => {
                "`--replace` takes the address of a generated certificate, as plans show it: `certificate.APP[\"NAME\"]`"
            }
            ProblemKind::UnknownPrincipal | ProblemKind::AmbiguousPrincipal => {
                "a principal is a user principal name, a group's display name, or a user's or group's object id"
            }
            ProblemKind::UnknownAppRole => {
                "`role` is the `value` of one of the app's roles that allows `User` members, or `default`"
            }
            ProblemKind::MissingLocalCertificate
            | ProblemKind::AssignmentsNotRead
            | ProblemKind::OwnersNotRead
            | ProblemKind::NameHeldByDeletedApp => return None,
        })
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// Rendered in full, like [`crate::manifest::ManifestError::Invalid`]: every problem in manifest
/// order, each with its own hint, then a count. The printer adds the first `error: `.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}", problems_message(.0))]
    Problems(Vec<Problem>),
}

fn problems_message(problems: &[Problem]) -> String {
    let mut sorted: Vec<&Problem> = problems.iter().collect();
    // Manifest order; problems about apps no manifest names come last.
    sorted.sort_by_key(|p| {
        p.source
            .as_ref()
            .map_or((true, None), |s| (false, Some((&s.file, s.line, s.column))))
    });
    let mut out = String::new();
    for (i, p) in sorted.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\nerror: ");
        }
        out.push_str(&p.render());
    }
    let files: BTreeSet<&Path> = problems
        .iter()
        .filter_map(|p| p.source.as_ref().map(|s| s.file.as_path()))
        .collect();
    let count = match (problems.len(), files.len()) {
        (1, _) => "1 problem".to_owned(),
        (n, 0) => format!("{n} problems"),
        (n, 1) => format!("{n} problems in 1 file"),
        (n, f) => format!("{n} problems in {f} files"),
    };
    let _ = write!(
        out,
        "\n\nerror: the manifests cannot be planned against this tenant ({count})"
    );
    out
}

impl Hint for PlanError {
    // Each problem shows its own hint.
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown_role(line: usize, column: usize, text: &str) -> Problem {
        Problem {
            kind: ProblemKind::UnknownRole,
            source: Some(Source {
                file: "manifests/exo.yaml".into(),
                line,
                column,
                width: text.trim().len().saturating_sub(2),
                text: text.into(),
            }),
            app: "exo".into(),
            message: "no directory role named `Exchange Admin` in this tenant".into(),
            help: vec!["did you mean `Exchange Administrator`?".into()],
        }
    }

    #[test]
    fn each_problem_points_at_its_entry_with_its_own_hint_in_manifest_order() {
        let err = PlanError::Problems(vec![
            Problem {
                kind: ProblemKind::ProtectedApp,
                source: None,
                app: "old".into(),
                message: "is protected".into(),
                help: vec![],
            },
            Problem {
                kind: ProblemKind::UnknownOwner,
                help: vec![],
                message: "no user `bob@contoso.com` in this tenant".into(),
                ..unknown_role(12, 7, "    - bob@contoso.com")
            },
            unknown_role(9, 7, "    - Exchange Admin"),
        ]);
        assert_eq!(
            err.to_string(),
            "no directory role named `Exchange Admin` in this tenant\n \
             --> manifests/exo.yaml:9:7\n  \
             |\n\
             9 |     - Exchange Admin\n  \
             |       ^^^^^^^^^^^^^^\n  \
             = hint: did you mean `Exchange Administrator`?\n\n\
             error: no user `bob@contoso.com` in this tenant\n  \
             --> manifests/exo.yaml:12:7\n   \
             |\n\
             12 |     - bob@contoso.com\n   \
             |       ^^^^^^^^^^^^^^^\n   \
             = hint: owners are user principal names of users in this tenant, or directory object ids\n\n\
             error: `old`: is protected\n  \
             = hint: remove the `entraform:protected` tag from the application, or restore its manifest, before pruning it\n\n\
             error: the manifests cannot be planned against this tenant (3 problems in 1 file)"
        );
        assert_eq!(err.hint(), None);
    }

    #[test]
    fn a_problem_without_the_line_as_written_still_names_file_and_line() {
        let p = unknown_role(3, 0, "");
        assert_eq!(
            PlanError::Problems(vec![p]).to_string(),
            "no directory role named `Exchange Admin` in this tenant\n \
             --> manifests/exo.yaml:3\n  \
             = hint: did you mean `Exchange Administrator`?\n\n\
             error: the manifests cannot be planned against this tenant (1 problem)"
        );
    }
}
