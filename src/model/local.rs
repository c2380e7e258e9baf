//! Local state the planner needs besides manifests and the tenant: `file:` certificates as the
//! caller read them from disk. Kept out of the desired model because reading files is IO.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ids::Thumbprint;

/// A public certificate named by a manifest's `file:` source, already read and parsed by the
/// caller (the `cert` module), so the planner can stay pure.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalCertificate {
    /// The certificate's DER encoding: what `keyCredentials[].key` carries (base64 in JSON/YAML).
    /// Shared: 10,000 apps may name the same `cer:` file.
    #[serde(with = "der_base64")]
    pub der: Arc<[u8]>,
    pub thumbprint: Thumbprint,
    /// The subject distinguished name, e.g. `CN=Exo_V2_App`.
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The RSA modulus size from the SubjectPublicKeyInfo (0 when unknown).
    #[serde(default)]
    pub key_bits: u32,
}

impl fmt::Debug for LocalCertificate {
    // The DER bytes are long and say nothing a thumbprint does not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCertificate")
            .field("der", &format_args!("<{} bytes>", self.der.len()))
            .field("thumbprint", &self.thumbprint)
            .field("subject", &self.subject)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("key_bits", &self.key_bits)
            .finish()
    }
}

/// The PFX a manifest's generated certificate names, as found on disk: whatever uses it signs
/// in with this certificate, so it must be one of the app's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalPfx {
    pub path: std::path::PathBuf,
    pub thumbprint: Thumbprint,
}

/// Bytes as standard base64 text, the way Graph carries certificate keys.
pub mod der_base64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &impl AsRef<[u8]>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes.as_ref()))
    }

    pub fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: From<Vec<u8>>,
    {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map(T::from)
            .map_err(serde::de::Error::custom)
    }
}
