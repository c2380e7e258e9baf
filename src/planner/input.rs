//! What a plan is made from: the desired apps, the live tenant, the local files they name, the
//! time, and where new key ids come from.

use std::collections::{BTreeMap, BTreeSet};

use sha2::Digest as _;
use time::OffsetDateTime;

use crate::model::{DesiredApp, KeyId, LiveTenant, LocalCertificate, LocalPfx};
use crate::plan::{Address, ManifestHashes};

/// Everything a plan is made from. The planner does no IO: the caller observes the tenant,
/// loads manifests and reads `file:` certificates first.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub desired: &'a [DesiredApp],
    pub live: &'a LiveTenant,
    /// `file:` certificates as read from disk, by (app `metadata.name`, certificate name); for a
    /// generated certificate, the one its `cer:` (or PFX, with the password) holds, if read.
    pub local_certificates: &'a BTreeMap<(String, String), LocalCertificate>,
    /// The PFX files of generated certificates that exist and show their thumbprint, by (app
    /// `metadata.name`, certificate name): one that matches no key of the app is drift.
    pub local_pfx: &'a BTreeMap<(String, String), LocalPfx>,
    /// Key Vault certificates the manifests name, as read (latest version), by (app
    /// `metadata.name`, certificate name); `None`: the vault has no such certificate. A
    /// certificate not in the map was not read (and is not compared).
    pub key_vault: &'a BTreeMap<(String, String), Option<LocalCertificate>>,
    pub now: OffsetDateTime,
    pub options: PlanOptions,
    /// Where new key ids come from.
    pub key_ids: KeyIdSource<'a>,
    /// Recorded in the plan (`entraform_version`); the CLI passes `CARGO_PKG_VERSION`.
    pub entraform_version: &'a str,
    pub manifests: &'a ManifestHashes,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Delete managed applications (tagged [`crate::model::MANAGED_BY_TAG`]) that no manifest
    /// mentions.
    pub prune: bool,
    /// Generated certificates to rotate now whatever their expiry (`--replace ADDRESS`, after a
    /// leaked PFX): each must be a certificate address of a manifest's generated certificate.
    pub replace: BTreeSet<Address>,
}

/// How the planner picks the `keyId` of a key credential it will attach. The planner draws
/// nothing at random: the caller brings the randomness as a seed, and the plan records it, so
/// the same inputs always give the same plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyIdSource<'a> {
    /// Derived from the seed and the change's address. The CLI draws a random seed for every
    /// plan; apply plans a saved plan again with the seed it records.
    Seeded(u64),
    /// The ids a saved plan chose, by the address of the change attaching each (see
    /// [`crate::plan::Plan::new_key_ids`]): how apply plans again a plan file written before
    /// plans recorded their seed. An address it has no id for gets the id seed 0 gives; the
    /// plan then differs from the saved one anyway.
    Recorded(&'a BTreeMap<Address, KeyId>),
}

impl KeyIdSource<'_> {
    /// The seed the plan records ([`crate::plan::Plan::key_id_seed`]).
    pub fn seed(&self) -> Option<u64> {
        match self {
            KeyIdSource::Seeded(seed) => Some(*seed),
            KeyIdSource::Recorded(_) => None,
        }
    }

    /// A key id for the key attached by the change at `address`, never one of `taken` (a
    /// recorded id is returned as recorded).
    pub fn key_id_for(&self, address: &Address, taken: &dyn Fn(KeyId) -> bool) -> KeyId {
        let seed = match self {
            KeyIdSource::Seeded(seed) => *seed,
            KeyIdSource::Recorded(ids) => match ids.get(address) {
                Some(id) => return *id,
                None => 0,
            },
        };
        (0u64..)
            .map(|attempt| derived_key_id(seed, attempt, address))
            .find(|id| !taken(*id))
            .expect("an endless run of attempts finds an id that is not taken")
    }
}

/// A version 4 UUID whose random bits are SHA-256 of the seed, the attempt and the address.
fn derived_key_id(seed: u64, attempt: u64, address: &Address) -> KeyId {
    let mut h = sha2::Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(attempt.to_le_bytes());
    h.update(address.to_string().as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    KeyId(uuid::Builder::from_random_bytes(bytes).into_uuid())
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

    #[test]
    fn recorded_ids_are_kept_and_an_unrecorded_address_gets_seed_0s_id() {
        let addr = Address::keyed(ResourceKind::Certificate, "app", "automation");
        let other = Address::keyed(ResourceKind::Certificate, "app", "other");
        let id = KeyId(uuid::Uuid::from_u128(7));
        let recorded = BTreeMap::from([(addr.clone(), id)]);
        let src = KeyIdSource::Recorded(&recorded);
        assert_eq!(src.key_id_for(&addr, &|_| false), id);
        assert_eq!(
            src.key_id_for(&other, &|_| false),
            KeyIdSource::Seeded(0).key_id_for(&other, &|_| false)
        );
        assert_eq!(src.seed(), None);
        assert_eq!(KeyIdSource::Seeded(9).seed(), Some(9));
    }
}
