//! The types of a plan and their codecs: typed actions and changes, the executable operations
//! behind them, rendering (text, markdown, JSON) and the saved plan file's encoding. Pure.
//!
//! [`crate::planner`] makes a [`Plan`]; `apply` runs one.

pub mod action;
pub mod address;
pub mod change;
pub mod file;
pub mod fingerprint;
pub mod operation;
pub mod render;

use std::collections::BTreeMap;

use time::OffsetDateTime;

pub use action::Action;
pub use address::{Address, ResourceKind};
pub use change::{CertificateSource, CertificateStatus, Change, Note, NoteKind, Summary};
pub use file::ManifestHashes;
pub use operation::*;

use crate::model::{Fingerprint, KeyId, TenantId};

/// The plan format this build writes and reads. Only ever extended; a breaking change gets a
/// new number and readers refuse numbers they do not know.
pub const FORMAT_VERSION: &str = "1";

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
    /// The seed the planner derived new key ids from
    /// ([`crate::planner::KeyIdSource::Seeded`]), so apply can plan again and get the same ids.
    /// `None` in a plan file written before plans recorded it: its ids are in its operations.
    pub key_id_seed: Option<u64>,
    /// The certificates the plan rotates on request (`--replace`), sorted: apply plans a saved
    /// plan again with them.
    pub replace: Vec<Address>,
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
