//! Why a plan cannot be made: every problem between the manifests and the tenant, found
//! together and reported at once.

use std::fmt;

use serde::{Deserialize, Serialize};

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

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(src) = &self.source {
            write!(f, "{}:{}: ", src.file.display(), src.line)?;
        }
        write!(f, "{}: {}", self.app, self.message)?;
        for line in &self.help {
            write!(f, "\n    {line}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}", problems_message(.0))]
    Problems(Vec<Problem>),
}

fn problems_message(problems: &[Problem]) -> String {
    let mut out = match problems.len() {
        1 => "the manifests cannot be planned against this tenant:".to_owned(),
        n => format!("the manifests cannot be planned against this tenant ({n} problems):"),
    };
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string().replace('\n', "\n  "));
    }
    out
}

impl Hint for PlanError {
    fn hint(&self) -> Option<String> {
        match self {
            PlanError::Problems(problems) => {
                let first = problems.first()?;
                Some(
                    match first.kind {
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
                        ProblemKind::MissingLocalCertificate
                        | ProblemKind::OwnersNotRead
                        | ProblemKind::NameHeldByDeletedApp => {
                            return None;
                        }
                    }
                    .to_owned(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_print_one_per_line_with_their_manifest_location() {
        let err = PlanError::Problems(vec![
            Problem {
                kind: ProblemKind::UnknownRole,
                source: Some(Source {
                    file: "manifests/exo.yaml".into(),
                    line: 3,
                }),
                app: "exo".into(),
                message: "no directory role named `Exchange Admin`".into(),
                help: vec!["did you mean `Exchange Administrator`?".into()],
            },
            Problem {
                kind: ProblemKind::ProtectedApp,
                source: None,
                app: "old".into(),
                message: "is protected".into(),
                help: vec![],
            },
        ]);
        assert_eq!(
            err.to_string(),
            "the manifests cannot be planned against this tenant (2 problems):\n  \
             manifests/exo.yaml:3: exo: no directory role named `Exchange Admin`\n      \
             did you mean `Exchange Administrator`?\n  old: is protected"
        );
        assert!(err.hint().unwrap().contains("Exchange Administrator"));
    }
}
