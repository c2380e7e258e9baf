//! The desired state: what validated manifests ask for. Built by `manifest`, read by `diff`.
//!
//! `Option` means "absent in the manifest, so not managed"; a present collection is
//! authoritative and compared as a set. Names that only the live tenant can resolve (API display
//! names, permission values, role names, owner UPNs) stay as written here and are resolved at
//! plan time.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::fields::FieldValues;
use super::ids::{AppId, ObjectId, RoleDefinitionId};
use super::live::PermissionKind;
use super::period::Period;

/// Where in a manifest something is written: a document's `metadata.name`, or one entry of a
/// list the tenant resolves. It carries the line as written, so a problem found at plan time
/// points at it with a caret the way a validation error does, without reading the file again
/// (the planner does no IO).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters; 0 when not known (a model built by hand).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub column: usize,
    /// How many characters the entry spans on its line.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub width: usize,
    /// The whole line as written.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Where the entries that only the tenant can resolve were written, so a name it does not know
/// is reported at its own line. Each list follows its field in [`DesiredApp`] index by index;
/// an entry without a position (a model built by hand) is reported at `metadata.name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Positions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_permissions: Vec<ApiPermissionPositions>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directory_roles: Vec<Source>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<Source>,
    /// `assignments[i].principal`, by index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignments: Vec<Source>,
    /// `assignments[i].role` (its `principal` when the role is left to the default), by index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignment_roles: Vec<Source>,
    /// `api.preAuthorizedApplications`, entry by entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_authorized: Vec<PreAuthorizedPositions>,
}

/// One `api.preAuthorizedApplications` entry: its `app`, and each scope by value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreAuthorizedPositions {
    /// The `app` as the normalised list holds it (a GUID in lower case).
    pub name: String,
    pub app: Source,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scopes: BTreeMap<String, Source>,
}

/// One `apiPermissions` entry: its `api`, and each permission value by value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiPermissionPositions {
    pub api: Source,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub application: BTreeMap<String, Source>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub delegated: BTreeMap<String, Source>,
}

impl Positions {
    pub fn is_empty(&self) -> bool {
        *self == Positions::default()
    }
}

impl DesiredApp {
    /// Where `apiPermissions[index].api` is written.
    pub fn api_source(&self, index: usize) -> &Source {
        self.positions
            .api_permissions
            .get(index)
            .map_or(&self.source, |p| &p.api)
    }

    /// Where the permission `value` of `apiPermissions[index]` is written (`application` or
    /// `delegated`).
    pub fn permission_source(&self, index: usize, kind: PermissionKind, value: &str) -> &Source {
        self.positions
            .api_permissions
            .get(index)
            .and_then(|p| match kind {
                PermissionKind::Role => p.application.get(value),
                PermissionKind::Scope => p.delegated.get(value),
            })
            .unwrap_or_else(|| self.api_source(index))
    }

    /// Where `directoryRoles[index]` is written.
    pub fn directory_role_source(&self, index: usize) -> &Source {
        self.positions
            .directory_roles
            .get(index)
            .unwrap_or(&self.source)
    }

    /// Where the `api.preAuthorizedApplications` entry of `app` names it.
    pub fn pre_authorized_source(&self, app: &str) -> &Source {
        self.positions
            .pre_authorized
            .iter()
            .find(|p| p.name == app)
            .map_or(&self.source, |p| &p.app)
    }

    /// Where the `api.preAuthorizedApplications` entry of `app` names the scope `value`.
    pub fn pre_authorized_scope_source(&self, app: &str, value: &str) -> &Source {
        self.positions
            .pre_authorized
            .iter()
            .find(|p| p.name == app)
            .and_then(|p| p.scopes.get(value))
            .unwrap_or_else(|| self.pre_authorized_source(app))
    }

    /// Where `owners[index]` is written.
    pub fn owner_source(&self, index: usize) -> &Source {
        self.positions.owners.get(index).unwrap_or(&self.source)
    }

    /// Where `assignments[index]` is written.
    pub fn assignment_source(&self, index: usize) -> &Source {
        self.positions
            .assignments
            .get(index)
            .unwrap_or(&self.source)
    }

    /// Where the role of `assignments[index]` is written.
    pub fn assignment_role_source(&self, index: usize) -> &Source {
        self.positions
            .assignment_roles
            .get(index)
            .unwrap_or_else(|| self.assignment_source(index))
    }
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
    /// `clientSecrets`. Absent: secrets are reported, not changed; present: authoritative, every
    /// secret it does not declare is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secrets: Option<Vec<ClientSecretSpec>>,
    pub federated_credentials: Option<Vec<FederatedCredentialSpec>>,
    /// Users and groups assigned to the app's roles (on its service principal). Absent: not
    /// managed; present: authoritative for users and groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignments: Option<Vec<AssignmentSpec>>,
    /// The application's plain fields the manifest manages ([`super::fields`]), by path.
    #[serde(default, skip_serializing_if = "FieldValues::is_empty")]
    pub fields: FieldValues,
    /// The service principal's plain fields the manifest manages (`spec.servicePrincipal`).
    #[serde(default, skip_serializing_if = "FieldValues::is_empty")]
    pub service_principal_fields: FieldValues,
    /// Where `metadata.name` is written.
    pub source: Source,
    #[serde(default, skip_serializing_if = "Positions::is_empty")]
    pub positions: Positions,
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
            client_secrets: None,
            federated_credentials: None,
            assignments: None,
            fields: FieldValues::default(),
            service_principal_fields: FieldValues::default(),
            source: Source {
                file: format!("manifests/{name}.yaml").into(),
                line: 2,
                column: 0,
                width: 0,
                text: String::new(),
            },
            positions: Positions::default(),
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

/// One entry of `assignments`: who, and which of the app's roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentSpec {
    pub principal: PrincipalRef,
    pub role: AssignedRole,
}

/// A principal as written: a user principal name (it has an `@`), an object id (a user's or a
/// group's), else a group's display name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PrincipalRef {
    Upn(String),
    ObjectId(ObjectId),
    GroupName(String),
}

impl fmt::Display for PrincipalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Upn(s) | Self::GroupName(s) => f.write_str(s),
            Self::ObjectId(id) => fmt::Display::fmt(id, f),
        }
    }
}

/// The role an assignment grants: one of the app's roles by `value`, or Graph's default access
/// (the all-zero role id, for an app that needs no specific role).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AssignedRole {
    Default,
    Value(String),
}

impl AssignedRole {
    pub const DEFAULT: &str = "default";

    pub fn parse(written: &str) -> Self {
        if written == Self::DEFAULT {
            Self::Default
        } else {
            Self::Value(written.to_owned())
        }
    }
}

impl fmt::Display for AssignedRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str(Self::DEFAULT),
            Self::Value(v) => f.write_str(v),
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

/// Graph's scope: what a token is asked for when the app declares no application permissions.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Microsoft's first-party APIs entraform knows without asking the tenant, by display name and
/// appId, with the `.default` scope a token for them is asked with (their application ID URI):
/// what `Connect-ExchangeOnline` and the Graph SDKs ask for. Any other API is asked for by appId
/// (`<appId>/.default`), which the identity platform accepts for every resource. Their names
/// are also what an API name that finds nothing is compared with for a did-you-mean.
pub const KNOWN_APIS: &[(&str, &str, &str)] = &[
    (
        "Microsoft Graph",
        "00000003-0000-0000-c000-000000000000",
        GRAPH_SCOPE,
    ),
    (
        "Office 365 Exchange Online",
        "00000002-0000-0ff1-ce00-000000000000",
        "https://outlook.office365.com/.default",
    ),
];

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
    /// After a rotation the previous key stays registered this long, counted from the new key's
    /// start, so scripts elsewhere keep signing in until they have the new PFX. `0d`: removed in
    /// the same apply.
    #[serde(default = "default_overlap", deserialize_with = "zero_or_period")]
    pub overlap: Period,
    /// Keep archived files after their key is removed (`generate.keepArchived`).
    #[serde(default)]
    pub keep_archived: bool,
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

/// A client secret entraform manages, recognised by its `displayName` `entraform:<name>` (as
/// generated certificates are). Graph shows a new secret's value once, so it always goes to a
/// Key Vault secret; rotation follows the certificates' `renewBefore` and `overlap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSecretSpec {
    pub name: String,
    pub validity: Period,
    pub renew_before: Period,
    #[serde(default = "default_overlap", deserialize_with = "zero_or_period")]
    pub overlap: Period,
    pub key_vault: KeyVaultSecret,
}

/// A secret in Azure Key Vault: `vault` as the manifest names it and the secret's name in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeyVaultSecret {
    pub vault: String,
    pub secret: String,
}

impl KeyVaultSecret {
    /// The vault addressed the way the Key Vault client addresses any object in it.
    pub fn in_vault(&self) -> KeyVaultCertificate {
        KeyVaultCertificate {
            vault: self.vault.clone(),
            certificate: self.secret.clone(),
        }
    }
}

impl std::fmt::Display for KeyVaultSecret {
    /// `kv-ops/exo-secret`, as plans show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.in_vault().vault_name(), self.secret)
    }
}

/// `overlap` when a manifest leaves it out.
pub const DEFAULT_OVERLAP: Period = Period::from_days(7);

fn default_overlap() -> Period {
    DEFAULT_OVERLAP
}

/// A period where `0d` is allowed (an overlap of none).
fn zero_or_period<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
    let text = String::deserialize(d)?;
    match text.parse::<Period>() {
        Err(super::period::PeriodError::Zero(_)) => Ok(Period::from_days(0)),
        other => other.map_err(serde::de::Error::custom),
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
