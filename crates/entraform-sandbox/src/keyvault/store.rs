//! What the sandbox keeps of its Key Vaults in the state document: certificates (every version,
//! with the secret that backs it), secrets set on their own (every version), soft-deleted
//! certificates and secrets, and data-plane role assignments.
//!
//! There is no control plane (ARM) in the sandbox: every vault name exists, empty until a
//! certificate is imported into it. Role assignments are made with `entraform sandbox grant`
//! (or [`crate::RunningSandbox::grant_key_vault_role`]); a fresh tenant's bootstrap admin holds
//! Key Vault Administrator on every vault, the way a subscription-scope assignment would.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::rbac;
use crate::state::Document;

/// One vault's data plane.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Vault {
    /// By lower-case name: Key Vault names compare case-insensitively.
    #[serde(default)]
    pub certificates: BTreeMap<String, Certificate>,
    #[serde(default)]
    pub deleted_certificates: BTreeMap<String, DeletedCertificate>,
    /// Secrets set with `PUT /secrets/{name}` (a certificate's own secret lives with it).
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretObject>,
    #[serde(default)]
    pub deleted_secrets: BTreeMap<String, DeletedSecret>,
}

/// A secret object: its versions, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SecretObject {
    /// The name as first set.
    pub name: String,
    pub versions: Vec<SecretVersion>,
}

/// One version of a set secret (`SecretBundle`'s stored parts).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct SecretVersion {
    /// 32 lower-case hex digits.
    pub version: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub enabled: bool,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl fmt::Debug for SecretVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretVersion")
            .field("version", &self.version)
            .field("value", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A secret in the vault's deleted collection (soft delete).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeletedSecret {
    pub secret: SecretObject,
    /// Unix seconds.
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
}

/// A certificate object: its versions, oldest first, and the one policy they share.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Certificate {
    /// The name as first imported.
    pub name: String,
    pub policy: Policy,
    pub versions: Vec<CertificateVersion>,
}

impl Certificate {
    pub(crate) fn latest(&self) -> Option<&CertificateVersion> {
        self.versions.last()
    }

    pub(crate) fn version(&self, version: &str) -> Option<&CertificateVersion> {
        self.versions
            .iter()
            .find(|v| v.version.eq_ignore_ascii_case(version))
    }
}

/// The parts of the policy an imported certificate has (Key Vault reads the rest from the
/// X.509 certificate).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Policy {
    pub exportable: bool,
    pub reuse_key: bool,
    pub content_type: String,
    pub created: i64,
    pub updated: i64,
}

/// One version: the certificate, key and secret Key Vault keeps under the same version id.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct CertificateVersion {
    /// 32 lower-case hex digits.
    pub version: String,
    /// Unix seconds, as Key Vault's attributes carry them.
    pub created: i64,
    pub updated: i64,
    pub enabled: bool,
    pub nbf: i64,
    pub exp: i64,
    /// Base64 DER.
    pub cer: String,
    /// Base64url SHA-1 of the DER, unpadded.
    pub x5t: String,
    pub subject: String,
    pub key_size: u32,
    /// What `GET /secrets/{name}/{version}` returns: a base64 PFX without a password (with the
    /// private key only when the policy says exportable).
    pub secret_value: String,
}

impl fmt::Debug for CertificateVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateVersion")
            .field("version", &self.version)
            .field("x5t", &self.x5t)
            .field("secret_value", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A certificate in the vault's deleted collection (soft delete).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeletedCertificate {
    pub certificate: Certificate,
    /// Unix seconds.
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
}

/// A data-plane role held by a service principal, on one vault or on every vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RoleAssignment {
    /// The service principal's object id (`oid` in its tokens).
    pub principal_id: String,
    /// The built-in role definition's id (see [`rbac::ROLES`]).
    pub role_definition_id: String,
    /// `None`: every vault (as if assigned at the subscription).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<String>,
}

/// The bootstrap admin holds Key Vault Administrator on every vault, so the one-command demo
/// (`sandbox serve`, then apply a manifest with a Key Vault certificate) works.
pub(crate) fn grant_admin(doc: &mut Document) {
    let admin = RoleAssignment {
        principal_id: doc.bootstrap.service_principal_id.clone(),
        role_definition_id: rbac::ADMINISTRATOR.to_owned(),
        vault: None,
    };
    if !doc.key_vault_roles.contains(&admin) {
        doc.key_vault_roles.push(admin);
    }
}

/// Adds a role assignment (idempotent): `app_id`'s service principal gets `role` on `vault`
/// (`None`: every vault).
pub(crate) fn grant(
    doc: &mut Document,
    vault: Option<&str>,
    role: &str,
    app_id: &str,
) -> Result<crate::KeyVaultGrant, crate::GrantError> {
    let definition =
        rbac::role(role).ok_or_else(|| crate::GrantError::UnknownRole(role.to_owned()))?;
    if let Some(v) = vault
        && !super::valid_vault_name(v)
    {
        return Err(crate::GrantError::BadVault(v.to_owned()));
    }
    let sp = doc
        .service_principals
        .values()
        .find(|e| e.str("appId").eq_ignore_ascii_case(app_id))
        .ok_or_else(|| crate::GrantError::UnknownApp(app_id.to_owned()))?;
    let assignment = RoleAssignment {
        principal_id: sp.str("id").to_owned(),
        role_definition_id: definition.id.to_owned(),
        vault: vault.map(str::to_ascii_lowercase),
    };
    let created = !doc.key_vault_roles.contains(&assignment);
    if created {
        doc.key_vault_roles.push(assignment.clone());
    }
    Ok(crate::KeyVaultGrant {
        role: definition.name.to_owned(),
        role_definition_id: definition.id.to_owned(),
        principal_id: assignment.principal_id,
        app_id: sp.str("appId").to_owned(),
        vault: assignment.vault,
        created,
    })
}
