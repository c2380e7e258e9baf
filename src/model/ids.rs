//! Identifier newtypes. Graph GUIDs compare case-insensitively, so every id is parsed into a
//! `Uuid` once, at the edge, and printed in Graph's canonical lower-case hyphenated form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! guid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = InvalidGuid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_guid(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    };
}

guid_id!(
    /// An application's client id (`appId`): the same in every tenant the app is used in.
    AppId
);
guid_id!(
    /// A directory object's `id`: differs per tenant, even for the same app.
    ObjectId
);
guid_id!(
    /// A key credential's `keyId`.
    KeyId
);
guid_id!(
    /// A tenant (directory) id.
    TenantId
);
guid_id!(
    /// The `id` of an app role or an OAuth2 permission scope on a resource service principal.
    PermissionId
);
guid_id!(
    /// A directory role definition id; for built-in roles it equals the role's template id.
    RoleDefinitionId
);
guid_id!(
    /// The `id` of a federated identity credential.
    FederatedCredentialId
);

/// A string that is not a GUID in the `8-4-4-4-12` form Graph uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a GUID (expected the form 00000000-0000-0000-0000-000000000000)")]
pub struct InvalidGuid(pub String);

/// Parses the hyphenated form only (any case): Graph never emits braces or the 32-digit form,
/// and accepting them would let two spellings of one id slip past duplicate checks.
pub fn parse_guid(s: &str) -> Result<Uuid, InvalidGuid> {
    let hyphens_ok = s.len() == 36
        && s.char_indices()
            .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'));
    if !hyphens_ok {
        return Err(InvalidGuid(s.to_owned()));
    }
    Uuid::parse_str(s).map_err(|_| InvalidGuid(s.to_owned()))
}

/// The SHA-1 hash of a certificate's DER encoding: what Windows, Exchange Online PowerShell
/// (`-CertificateThumbPrint`) and the Entra portal call its thumbprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Thumbprint(pub [u8; 20]);

impl Thumbprint {
    /// The thumbprint of a certificate's DER encoding.
    pub fn of_der(der: &[u8]) -> Self {
        use sha1::Digest as _;
        Self(sha1::Sha1::digest(der).into())
    }

    /// Upper-case hex without separators, as Windows, the Entra portal and
    /// `Connect-ExchangeOnline -CertificateThumbprint` spell it.
    pub fn to_hex(&self) -> String {
        hex::encode_upper(self.0)
    }

    /// The value entraform writes to a key credential's `customKeyIdentifier`: that property is
    /// Edm.Binary, so it carries the 20 hash bytes as base64 (what Graph itself stores when the
    /// property is left out). Hex text sent there is decoded as base64 into 30 unrelated bytes.
    pub fn to_custom_key_identifier(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Reads a key credential's `customKeyIdentifier` as Graph returns it (base64). Two forms are
    /// thumbprints: the 20 hash bytes (Graph's default, the portal, entraform), and the legacy
    /// 40 hex digits sent as text (older entraform, Graph's how-to, some PowerShell), which
    /// Graph stored as 30 bytes and returns as the same text. Anything else is not one.
    pub fn from_custom_key_identifier(value: &str) -> Option<Self> {
        use base64::Engine as _;
        if value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut out = [0u8; 20];
            hex::decode_to_slice(value, &mut out).ok()?;
            return Some(Self(out));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()?;
        <[u8; 20]>::try_from(bytes.as_slice()).ok().map(Self)
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Thumbprint({})", self.to_hex())
    }
}

impl FromStr for Thumbprint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let cleaned: String = s.chars().filter(|c| *c != ':').collect();
        let mut out = [0u8; 20];
        hex::decode_to_slice(&cleaned, &mut out)
            .map_err(|_| format!("`{s}` is not a SHA-1 thumbprint (40 hex digits)"))?;
        Ok(Self(out))
    }
}

impl Serialize for Thumbprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Thumbprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_parse_in_any_case_and_print_lower_case() {
        let id: AppId = "3F76BE04-5CF0-47F1-9DF6-D05981A450FC".parse().unwrap();
        assert_eq!(id.to_string(), "3f76be04-5cf0-47f1-9df6-d05981a450fc");
    }

    #[test]
    fn only_the_hyphenated_guid_form_is_accepted() {
        for bad in [
            "3f76be045cf047f19df6d05981a450fc",
            "{3f76be04-5cf0-47f1-9df6-d05981a450fc}",
            "3f76be04-5cf0-47f1-9df6-d05981a450f",
            "3f76be04-5cf0-47f1-9df6-d05981a450fg",
            "3f76be0-45cf0-47f1-9df6-d05981a450fc",
        ] {
            assert!(parse_guid(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn custom_key_identifier_is_read_in_both_conventions() {
        let hex_form = "BB5D1064437D8720A5C53078185E6A361A78B10A";
        let from_hex = Thumbprint::from_custom_key_identifier(hex_form).unwrap();
        assert_eq!(from_hex.to_hex(), hex_form);

        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.encode(from_hex.0);
        assert_eq!(Thumbprint::from_custom_key_identifier(&raw), Some(from_hex));
        assert_eq!(
            Thumbprint::from_custom_key_identifier("bm90IGEgdGh1bWI="),
            None
        );
    }

    #[test]
    fn the_thumbprint_written_to_graph_is_base64_of_its_twenty_bytes() {
        let t = Thumbprint::of_der(b"not really a certificate");
        let written = t.to_custom_key_identifier();
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&written)
            .unwrap();
        assert_eq!(bytes, t.0);
        assert_eq!(Thumbprint::from_custom_key_identifier(&written), Some(t));
    }

    #[test]
    fn thumbprints_parse_with_or_without_colons() {
        let a: Thumbprint = "BB:5D:10:64:43:7D:87:20:A5:C5:30:78:18:5E:6A:36:1A:78:B1:0A"
            .parse()
            .unwrap();
        assert_eq!(a.to_string(), "BB5D1064437D8720A5C53078185E6A361A78B10A");
    }
}
