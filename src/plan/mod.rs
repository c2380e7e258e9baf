//! Plans: typed actions and changes, the executable operations behind them, rendering (text,
//! markdown, JSON) and the saved plan file. Pure, apart from [`file`] reading and writing the
//! plan file itself.
//!
//! [`plan`] is the entry point: it runs [`crate::planner::diff`] over the desired apps and the live
//! tenant and wraps the result with what a saved plan needs (fingerprints, manifest hashes).

pub mod action;
pub mod address;
pub mod change;
pub mod file;
pub mod fingerprint;
pub mod operation;
pub mod render;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use action::Action;
pub use address::{Address, ResourceKind};
pub use change::{CertificateSource, CertificateStatus, Change, Note, NoteKind, Summary};
pub use file::ManifestHashes;
pub use operation::*;

use crate::error::Hint;
use crate::model::{
    DesiredApp, Fingerprint, KeyId, LiveTenant, LocalCertificate, LocalPfx, Source, TenantId,
};

/// The plan format this build writes and reads. Only ever extended; a breaking change gets a
/// new number and readers refuse numbers they do not know.
pub const FORMAT_VERSION: &str = "1";

/// Everything a plan is made from. The planner does no IO: the caller observes the tenant,
/// loads manifests and reads `file:` certificates first.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub desired: &'a [DesiredApp],
    pub live: &'a LiveTenant,
    /// `file:` certificates as read from disk, by (app `metadata.name`, certificate name).
    pub local_certificates: &'a BTreeMap<(String, String), LocalCertificate>,
    /// The PFX files of generated certificates that exist and show their thumbprint, by (app
    /// `metadata.name`, certificate name): one that matches no key of the app is drift.
    pub local_pfx: &'a BTreeMap<(String, String), LocalPfx>,
    pub now: OffsetDateTime,
    pub options: PlanOptions,
    /// Where new key ids come from; [`KeyIdSource::Seeded`] makes plans reproducible in tests.
    pub key_ids: KeyIdSource<'a>,
    /// Recorded in the plan (`entraform_version`); the CLI passes `CARGO_PKG_VERSION`.
    pub entraform_version: &'a str,
    pub manifests: &'a ManifestHashes,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Delete managed applications (tagged [`crate::model::MANAGED_BY_TAG`]) that no manifest
    /// mentions.
    pub prune: bool,
}

/// How the planner picks the `keyId` of a key credential it will attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyIdSource<'a> {
    /// A random v4 UUID per new key (what the CLI uses).
    Random,
    /// Derived from the seed and the change's address: the same inputs give the same ids.
    Seeded(u64),
    /// The ids a saved plan chose, by the address of the change attaching each (see
    /// [`Plan::new_key_ids`]); planning again from the same inputs gives the same plan.
    Recorded(&'a BTreeMap<Address, KeyId>),
}

impl KeyIdSource<'_> {
    /// A key id for the key attached by the change at `address`, never one of `taken` (a
    /// recorded id is returned as recorded).
    pub fn key_id_for(&self, address: &Address, taken: &dyn Fn(KeyId) -> bool) -> KeyId {
        if let KeyIdSource::Recorded(ids) = self
            && let Some(id) = ids.get(address)
        {
            return *id;
        }
        let mut attempt: u64 = 0;
        loop {
            let id = match self {
                KeyIdSource::Random | KeyIdSource::Recorded(_) => KeyId(Uuid::new_v4()),
                KeyIdSource::Seeded(seed) => {
                    use sha2::Digest as _;
                    let mut h = sha2::Sha256::new();
                    h.update(seed.to_le_bytes());
                    h.update(attempt.to_le_bytes());
                    h.update(address.to_string().as_bytes());
                    let digest = h.finalize();
                    let mut bytes = [0u8; 16];
                    bytes.copy_from_slice(&digest[..16]);
                    KeyId(uuid::Builder::from_random_bytes(bytes).into_uuid())
                }
            };
            if !taken(id) {
                return id;
            }
            attempt += 1;
        }
    }
}

/// A plan: the changes that make the tenant match the manifests, in the order apply runs them.
/// Immutable once made; apply executes [`Change::operations`] in order and makes no choices.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub format_version: String,
    pub entraform_version: String,
    pub tenant_id: TenantId,
    pub created_at: OffsetDateTime,
    /// No-op changes are left out.
    pub changes: Vec<Change>,
    pub summary: Summary,
    /// Every managed certificate with its days left, changed or not.
    pub certificates: Vec<CertificateStatus>,
    pub notes: Vec<Note>,
    /// Every live object the plan was made from (see [`fingerprint::fingerprints_of`]).
    pub fingerprints: BTreeMap<String, Fingerprint>,
    pub manifests: ManifestHashes,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The key ids this plan chose for the keys it attaches, by the address of their change.
    pub fn new_key_ids(&self) -> BTreeMap<Address, KeyId> {
        self.operations()
            .filter_map(|(address, op)| match op {
                Operation::AddCertificate { key, .. } => Some((address.clone(), key.key_id)),
                _ => None,
            })
            .collect()
    }

    /// The steps apply runs, in order, each with the address of the change it belongs to.
    pub fn operations(&self) -> impl Iterator<Item = (&Address, &Operation)> {
        self.changes
            .iter()
            .flat_map(|c| c.operations.iter().map(move |op| (&c.address, op)))
    }
}

/// Makes the plan. Every problem found (an unknown permission, role or owner, a protected app
/// under `--prune`, an adoption that cannot work...) is reported at once in
/// [`PlanError::Problems`].
pub fn plan(input: &PlanInput<'_>) -> Result<Plan, PlanError> {
    let diff = crate::planner::diff(input)?;
    let summary = Summary::of(&diff.changes);
    Ok(Plan {
        format_version: FORMAT_VERSION.to_owned(),
        entraform_version: input.entraform_version.to_owned(),
        tenant_id: input.live.tenant_id,
        // Whole seconds: the document is for people and diffs, not a clock.
        created_at: input.now.replace_nanosecond(0).unwrap_or(input.now),
        changes: diff.changes,
        summary,
        certificates: diff.certificates,
        notes: diff.notes,
        fingerprints: fingerprint::fingerprints_of(input.live),
        manifests: input.manifests.clone(),
    })
}

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
    #[error("cannot read the plan file `{path}`")]
    ReadPlanFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not an entraform plan file")]
    ParsePlanFile {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "`{path}` is a plan in format version {found}, but this entraform ({ours}) reads format version {expected}"
    )]
    UnsupportedFormatVersion {
        path: std::path::PathBuf,
        found: String,
        expected: &'static str,
        ours: &'static str,
    },
    #[error("the plan file `{path}` is inconsistent: {message}")]
    InvalidPlanFile {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("refusing to write the plan to `{}`: {found}", path.display())]
    RefuseOverwrite {
        path: std::path::PathBuf,
        found: String,
    },
    #[error("cannot write the plan file `{path}`")]
    WritePlanFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
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
            PlanError::UnsupportedFormatVersion { .. } => Some(
                "make a new plan with this entraform (`entraform plan --out FILE`), or apply the file with the version that made it"
                    .to_owned(),
            ),
            PlanError::ParsePlanFile { .. } | PlanError::InvalidPlanFile { .. } => {
                Some("make a new plan with `entraform plan --out FILE`".to_owned())
            }
            PlanError::RefuseOverwrite { .. } => Some(
                "`--out` replaces only a plan file it wrote before; name a new file, or `--out -` for stdout"
                    .to_owned(),
            ),
            PlanError::ReadPlanFile { .. } | PlanError::WritePlanFile { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_key_ids_are_reproducible_and_avoid_taken_ids() {
        let addr = Address::keyed(ResourceKind::Certificate, "app", "automation");
        let src = KeyIdSource::Seeded(7);
        let a = src.key_id_for(&addr, &|_| false);
        assert_eq!(a, src.key_id_for(&addr, &|_| false));
        assert_eq!(a.0.get_version_num(), 4);
        let other = Address::keyed(ResourceKind::Certificate, "app", "other");
        assert_ne!(a, src.key_id_for(&other, &|_| false));
        let b = src.key_id_for(&addr, &|id| id == a);
        assert_ne!(a, b);
    }

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
