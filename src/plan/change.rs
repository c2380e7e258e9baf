//! A change to one addressed object, and the plan-wide facts shown beside changes: the
//! summary, every certificate's days left, notes.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::action::Action;
use super::address::{Address, ResourceKind};
use super::operation::Operation;
use crate::model::{Period, Thumbprint};

/// One object's change (Terraform's `ResourceInstanceChange`). `reason`, `before` and `after`
/// are for people and are never read by apply; `operations` is all apply reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    pub reason: Option<String>,
    /// The object as it is (absent for a create), only the fields the plan compares.
    pub before: Option<Value>,
    /// The object as it will be (absent for a delete). Secrets never appear here.
    pub after: Option<Value>,
    /// Top-level fields of `after` that are only known once apply has run (a new appId, a
    /// generated certificate's thumbprint).
    pub after_unknown: Vec<String>,
    pub operations: Vec<Operation>,
}

impl Change {
    /// The order apply runs changes in: by app, then kind group (application, service principal,
    /// permissions, roles, owners, certificates, federated credentials), then phase, then
    /// address. Within a group additions come before removals, so a new key or role is in place
    /// before an old one goes; federated credentials are the exception: removals go first,
    /// because an issuer+subject pair (and a name) must be free before it is reused.
    pub fn apply_order(&self, other: &Self) -> Ordering {
        self.address
            .app
            .cmp(&other.address.app)
            .then(self.address.kind.group().cmp(&other.address.kind.group()))
            .then(self.phase().cmp(&other.phase()))
            .then_with(|| self.address.to_string().cmp(&other.address.to_string()))
    }

    fn phase(&self) -> u8 {
        let removal = self.action == Action::Delete;
        let removals_first = self.address.kind == ResourceKind::FederatedCredential;
        u8::from(removal != removals_first)
    }
}

/// `Plan: N to add, N to change, N to destroy.` (`N to restore, ` first when there are any, as
/// Terraform puts `N to import`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restore: usize,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    pub fn of(changes: &[Change]) -> Self {
        changes.iter().fold(Summary::default(), |mut s, c| {
            let (add, change, destroy) = c.action.counts();
            s.restore += usize::from(c.action == Action::Restore);
            s.add += add;
            s.change += change;
            s.destroy += destroy;
            s
        })
    }

    pub fn is_empty(&self) -> bool {
        self.restore + self.add + self.change + self.destroy == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateSource {
    Generate,
    File,
}

/// A managed certificate's state, shown in every plan whether or not it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateStatus {
    pub address: Address,
    pub source: CertificateSource,
    /// The certificate in the tenant now (for a `file:` certificate not yet attached: the file's).
    /// Absent for a certificate that apply will generate.
    pub thumbprint: Option<Thumbprint>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub not_after: Option<OffsetDateTime>,
    /// Calendar days from the plan's day to `not_after`'s date (UTC): 0 on the last day,
    /// negative once that date has passed.
    pub days_left: Option<i64>,
    /// Generated certificates only.
    pub renew_before: Option<Period>,
    /// The validity a generated certificate will get.
    pub validity: Option<Period>,
    /// What this plan does to it (`no-op` when nothing).
    pub action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoteKind {
    /// `adminConsent: false`: permissions are declared but not granted.
    AdminConsent,
    /// Managed applications no manifest mentions, without `--prune`.
    Unmentioned,
    /// A `file:` certificate that has expired or is close to it.
    CertificateExpiry,
    /// An owner the manifest leaves out but the plan keeps: entraform's own service principal,
    /// without which `Application.ReadWrite.OwnedBy` could no longer change the app.
    KeptOwner,
    /// A client secret or certificate on a managed app that the manifest does not manage
    /// (`clientSecrets` or `certificates` absent): someone added it outside entraform.
    UnmanagedCredential,
    /// A generated certificate's previous key, kept after a rotation for its `overlap`.
    RotationOverlap,
}

/// Something worth telling the user that is not a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub kind: NoteKind,
    /// The app's `metadata.name`, when the note is about one app.
    pub app: Option<String>,
    pub message: String,
    /// A link to act on (the admin consent URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}
