//! What a plan is made from: the desired apps, the live tenant, the local files they name, the
//! time, and where new key ids come from.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::model::{DesiredApp, KeyId, LiveTenant, LocalCertificate, LocalPfx};
use crate::plan::{Address, ManifestHashes};

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
    /// [`crate::plan::Plan::new_key_ids`]); planning again from the same inputs gives the same plan.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ResourceKind;

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
}
