//! The desired state: what validated manifests ask for. Built by `manifest`, read by `diff`.
//!
//! `Option` means "absent in the manifest, so not managed"; a present collection is
//! authoritative and compared as a set. Names that only the live tenant can resolve (API display
//! names, permission values, role names, owner UPNs) stay as written here and are resolved at
//! plan time.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ids::{AppId, ObjectId, RoleDefinitionId};
use super::period::Period;

/// Where a document came from, for messages and plan addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub file: PathBuf,
    /// 1-based line of the document's `metadata.name`.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredApp {
    /// `metadata.name`: entraform's stable identity for the app, stored as Graph's `uniqueName`.
    pub name: String,
    /// `metadata.appId`: adopt an existing app by its client id instead of creating one.
    pub adopt_app_id: Option<AppId>,
    /// `metadata.protect`: never delete or replace this app.
    pub protect: bool,
    pub display_name: String,
    pub description: Option<String>,
    /// Absent: `AzureADMyOrg` when the app is created, unmanaged afterwards.
    pub sign_in_audience: Option<SignInAudience>,
    /// `web.redirectUris`.
    pub redirect_uris: Option<BTreeSet<String>>,
    /// The user's tags; entraform's own managed-by tag is added on top and never shown here.
    pub tags: Option<BTreeSet<String>>,
    pub owners: Option<Vec<OwnerRef>>,
    pub api_permissions: Option<Vec<ApiPermission>>,
    /// `false`: declare permissions in `requiredResourceAccess` only and print the consent URL.
    pub admin_consent: bool,
    pub directory_roles: Option<Vec<DirectoryRoleSpec>>,
    pub certificates: Option<Vec<CertificateSpec>>,
    pub federated_credentials: Option<Vec<FederatedCredentialSpec>>,
    pub source: Source,
}

#[cfg(test)]
impl DesiredApp {
    /// A manifest that names an app and manages nothing else, for tests to build on.
    pub(crate) fn unmanaged(name: &str, display_name: &str) -> Self {
        DesiredApp {
            name: name.into(),
            adopt_app_id: None,
            protect: false,
            display_name: display_name.into(),
            description: None,
            sign_in_audience: None,
            redirect_uris: None,
            tags: None,
            owners: None,
            api_permissions: None,
            admin_consent: true,
            directory_roles: None,
            certificates: None,
            federated_credentials: None,
            source: Source {
                file: format!("manifests/{name}.yaml").into(),
                line: 2,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignInAudience {
    AzureADMyOrg,
    AzureADMultipleOrgs,
    AzureADandPersonalMicrosoftAccount,
    PersonalMicrosoftAccount,
}

impl SignInAudience {
    pub const ALL: [SignInAudience; 4] = [
        Self::AzureADMyOrg,
        Self::AzureADMultipleOrgs,
        Self::AzureADandPersonalMicrosoftAccount,
        Self::PersonalMicrosoftAccount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AzureADMyOrg => "AzureADMyOrg",
            Self::AzureADMultipleOrgs => "AzureADMultipleOrgs",
            Self::AzureADandPersonalMicrosoftAccount => "AzureADandPersonalMicrosoftAccount",
            Self::PersonalMicrosoftAccount => "PersonalMicrosoftAccount",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for SignInAudience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An owner as written: a user principal name or a directory object id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OwnerRef {
    Upn(String),
    ObjectId(ObjectId),
}

impl fmt::Display for OwnerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Upn(upn) => f.write_str(upn),
            Self::ObjectId(id) => fmt::Display::fmt(id, f),
        }
    }
}

/// The API a permission is on: a resource service principal's display name or its appId.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ApiRef {
    DisplayName(String),
    AppId(AppId),
}

impl fmt::Display for ApiRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DisplayName(name) => f.write_str(name),
            Self::AppId(id) => fmt::Display::fmt(id, f),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiPermission {
    pub api: ApiRef,
    /// App role values (application permissions), e.g. `Exchange.ManageAsApp`.
    pub application: BTreeSet<String>,
    /// OAuth2 scope values (delegated permissions), e.g. `User.Read`.
    pub delegated: BTreeSet<String>,
}

/// A directory role as written: display name, legacy name, or template id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RoleRef {
    Name(String),
    TemplateId(RoleDefinitionId),
}

impl fmt::Display for RoleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::TemplateId(id) => fmt::Display::fmt(id, f),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryRoleSpec {
    pub role: RoleRef,
    /// `directoryScopeId`; `/` is the whole tenant.
    pub scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateSpec {
    /// Unique within the app; stored in the key credential's `displayName`.
    pub name: String,
    pub source: CertificateSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateSource {
    Generate(GenerateSpec),
    /// A public certificate (PEM or DER) the user brings; path resolved against the manifest's
    /// folder.
    File {
        path: PathBuf,
    },
    /// The public part of a certificate kept in Azure Key Vault (its latest version).
    KeyVault(KeyVaultCertificate),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateSpec {
    /// Distinguished name, e.g. `CN=Exo_V2_App`; defaults to `CN=<displayName>`.
    pub subject: String,
    pub key_type: KeyType,
    pub validity: Period,
    pub renew_before: Period,
    /// Where the PFX (with the private key) is written; resolved against the manifest's folder.
    /// `None` when the certificate goes to Key Vault only.
    pub pfx: Option<PathBuf>,
    /// The environment variable holding the PFX password (set exactly when `pfx` is). The
    /// password itself never enters the model, the plan or a log.
    pub pfx_password_env: Option<String>,
    pub pfx_encryption: PfxEncryption,
    /// Optional DER copy of the public certificate.
    pub cer: Option<PathBuf>,
    /// The Key Vault certificate each new key pair is imported into (as a new version).
    pub key_vault: Option<KeyVaultCertificate>,
}

/// A certificate in Azure Key Vault: `vault` as the manifest names it (a vault name, or its
/// `https://` URL) and the certificate's name in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeyVaultCertificate {
    pub vault: String,
    pub certificate: String,
}

impl KeyVaultCertificate {
    /// The vault's name: the `vault` given, or the first label of its URL's host.
    pub fn vault_name(&self) -> &str {
        let v = self.vault.trim();
        match v.strip_prefix("https://") {
            Some(rest) => rest.split(['.', '/', ':']).next().unwrap_or(rest),
            None => v,
        }
    }
}

impl std::fmt::Display for KeyVaultCertificate {
    /// `kv-ops/exo-automation`, as plans show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.vault_name(), self.certificate)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyType {
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyType {
    pub fn bits(self) -> u32 {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa2048",
            Self::Rsa3072 => "rsa3072",
            Self::Rsa4096 => "rsa4096",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PfxEncryption {
    /// PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), HMAC-SHA256 MAC: Windows 10 1709+ / Server 2019+.
    Aes256,
    /// pbeWithSHAAnd3-KeyTripleDES-CBC for both bags, HMAC-SHA1 MAC: Windows Server 2016 and older.
    Legacy3Des,
}

impl PfxEncryption {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aes256 => "aes256",
            Self::Legacy3Des => "legacy-3des",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredentialSpec {
    /// Unique within the app and immutable in Graph (a rename is a replace).
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: BTreeSet<String>,
    pub description: Option<String>,
}

/// The audience Entra ID expects on a federated token, and the manifest default.
pub const DEFAULT_FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";
