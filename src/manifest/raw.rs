//! The manifest as written: serde types that mirror the YAML one to one, and the JSON Schema
//! generated from them. Doc comments here become the descriptions editors show, so they speak to
//! the person writing a manifest. Everything optional is `Option`: absent means "not managed".

use schemars::JsonSchema;
use serde::Deserialize;

/// An entraform manifest: one Microsoft Entra ID application registration, with its service
/// principal, permissions, directory roles and credentials.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "entraform manifest")]
pub struct RawManifest {
    /// The manifest format version.
    pub api_version: ApiVersion,
    /// What this manifest describes.
    pub kind: Kind,
    /// Identity of the manifest.
    pub metadata: RawMetadata,
    /// The application as it should be.
    pub spec: RawSpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum ApiVersion {
    #[serde(rename = "entraform/v1")]
    V1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Kind {
    Application,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Metadata")]
pub struct RawMetadata {
    /// Stable identity of the app: becomes its Graph `uniqueName` and cannot change afterwards.
    /// Lower-case letters, digits and hyphens, at most 64 characters; unique across all
    /// manifests.
    #[schemars(pattern(r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$"))]
    pub name: String,
    /// Adopt an existing app registration by its application (client) id instead of creating one.
    #[schemars(extend("format" = "uuid"))]
    pub app_id: Option<String>,
    /// Never delete or replace this app. Default `false`.
    #[schemars(extend("default" = false))]
    pub protect: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Spec")]
pub struct RawSpec {
    /// The app's display name in the Entra portal.
    pub display_name: String,
    /// Free text shown to users and admins; at most 1024 characters. Absent: not managed.
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// Who may sign in. `AzureADMyOrg` when the app is created; absent afterwards: not managed.
    pub sign_in_audience: Option<RawSignInAudience>,
    /// Web platform settings.
    pub web: Option<RawWeb>,
    /// Tags on the application. Absent: not managed; `[]`: none.
    pub tags: Option<Vec<String>>,
    /// Owners: user principal names or directory object ids. Absent: not managed; `[]`: none.
    pub owners: Option<Vec<String>>,
    /// API permissions, declared in `requiredResourceAccess` and (with `adminConsent`) granted.
    /// Absent: not managed; `[]`: none. At most 50 APIs and 400 permissions.
    pub api_permissions: Option<Vec<RawApiPermission>>,
    /// Grant the permissions tenant-wide (admin consent). `false` declares them only and prints
    /// the consent URL for an admin to open. Default `true`.
    #[schemars(extend("default" = true))]
    pub admin_consent: Option<bool>,
    /// Directory roles assigned to the app's service principal: a role name (display name,
    /// legacy name or template id), or `{role, scope}`. Absent: not managed; `[]`: none.
    pub directory_roles: Option<Vec<RawDirectoryRole>>,
    /// Certificates (key credentials) on the app. Absent: not managed; `[]`: none.
    pub certificates: Option<Vec<RawCertificate>>,
    /// Client secrets (password credentials) on the app. Absent: not managed, but `plan` and
    /// `certs` report the secrets the app has; `[]`: none, and `plan` removes any it finds.
    pub client_secrets: Option<Vec<RawClientSecret>>,
    /// Federated identity credentials (workload identity federation, e.g. GitHub Actions OIDC).
    /// Absent: not managed; `[]`: none. At most 20.
    pub federated_credentials: Option<Vec<RawFederatedCredential>>,
    /// Users and groups assigned to the app's roles (on its service principal, as the Entra
    /// portal's "Users and groups" shows them). Absent: not managed; `[]`: none, and `plan`
    /// removes every user and group assigned.
    pub assignments: Option<Vec<RawAssignment>>,
    /// Notes for whoever manages the app, at most 1024 characters. Absent: not managed.
    #[schemars(length(max = 1024))]
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub notes: Option<String>,
    /// The app's entry in a service or asset management database (e.g. a ServiceNow CI).
    /// Absent: not managed.
    #[schemars(length(max = 1024))]
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub service_management_reference: Option<String>,
    /// Which groups the `groups` claim lists: `None`, `SecurityGroup`, `All`,
    /// `ApplicationGroup` or `DirectoryRole`; several joined by commas. Absent: not managed.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub group_membership_claims: Option<String>,
    /// Treat the app as a public client when Entra cannot tell (e.g. ROPC without a redirect
    /// URI). Absent: not managed.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub is_fallback_public_client: Option<bool>,
    /// App ID URIs: `api://…`, or `https://…` on one of the tenant's verified domains; unique
    /// across the tenant. Absent: not managed; `[]`: none.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub identifier_uris: Option<Vec<String>>,
    /// Links shown on the consent prompt and in My Apps.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub info: Option<RawInfo>,
    /// Single-page app platform settings.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub spa: Option<RawRedirects>,
    /// Mobile and desktop (public client) platform settings.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub public_client: Option<RawRedirects>,
    /// The API the app exposes.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub api: Option<RawApi>,
    /// Roles the app defines, for users, groups and apps to be assigned (they reach tokens as
    /// the `roles` claim), declared by `value`; entraform picks each role's id and keeps it.
    /// A removed role is disabled in one write and removed in a second, as Entra ID requires.
    /// Absent: not managed; `[]`: none.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub app_roles: Option<Vec<RawAppRole>>,
    /// Optional claims per token type. Absent: not managed.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub optional_claims: Option<RawOptionalClaims>,
    /// Settings of the app's service principal (its enterprise app).
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub service_principal: Option<RawServicePrincipal>,
}

// Plain fields (`crate::model::fields`) are read from the document by path, where each
// value's position is known; these fields give them their schema.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Info")]
pub struct RawInfo {
    /// `https://` URL of the app's marketing page. Absent: not managed.
    pub marketing_url: Option<String>,
    /// `https://` URL of the privacy statement. Absent: not managed.
    pub privacy_statement_url: Option<String>,
    /// `https://` URL of the support page. Absent: not managed.
    pub support_url: Option<String>,
    /// `https://` URL of the terms of service. Absent: not managed.
    pub terms_of_service_url: Option<String>,
}

// Plain fields (`crate::model::fields`) are read from the document by path, where each
// value's position is known; these fields give them their schema.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ImplicitGrantSettings")]
pub struct RawImplicitGrantSettings {
    /// Issue ID tokens by the implicit flow. Default `false`.
    pub enable_id_token_issuance: Option<bool>,
    /// Issue access tokens by the implicit flow. Default `false`.
    pub enable_access_token_issuance: Option<bool>,
}

// Plain fields (`crate::model::fields`) are read from the document by path, where each
// value's position is known; these fields give them their schema.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Redirects")]
pub struct RawRedirects {
    /// Redirect URIs. Absent: not managed; `[]`: none.
    pub redirect_uris: Option<Vec<String>>,
}

// Plain fields (`crate::model::fields`) are read from the document by path, where each
// value's position is known; these fields give them their schema.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Api")]
pub struct RawApi {
    /// The access token version the API accepts: `1` or `2` (`2` is required with personal
    /// accounts). Absent: not managed.
    #[schemars(range(min = 1, max = 2))]
    pub requested_access_token_version: Option<u8>,
    /// Delegated permissions the API exposes (they reach tokens as the `scp` claim), declared
    /// by `value`; entraform picks each scope's id and keeps it. A removed scope is disabled in
    /// one write and removed in a second, as Entra ID requires. Absent: not managed; `[]`: none.
    pub oauth2_permission_scopes: Option<Vec<RawPermissionScope>>,
    /// Client apps that may use some of these scopes without asking users to consent. Absent:
    /// not managed; `[]`: none.
    pub pre_authorized_applications: Option<Vec<RawPreAuthorizedApplication>>,
}

/// A client app pre-authorized for scopes of this app.
// Read from the document by path, like the plain fields below.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PreAuthorizedApplication")]
pub struct RawPreAuthorizedApplication {
    /// The client: its appId, or the `metadata.name` of another app of the run (which must
    /// exist before this plan).
    pub app: String,
    /// Values of this app's scopes (`api.oauth2PermissionScopes`), e.g. `access_as_user`.
    #[schemars(length(min = 1))]
    pub scopes: Vec<String>,
}

/// The `value` rule of Graph's appRole and permissionScope references: at most 120 of these
/// characters, no spaces, not starting with `.`.
const ENTITLEMENT_VALUE: &str = r"^[A-Za-z0-9:!#$%&'()*+,\-/;<=>?@\[\]^_`{|}~][A-Za-z0-9:!#$%&'()*+,\-./;<=>?@\[\]^_`{|}~]{0,119}$";

// Plain fields (`crate::model::fields`) are read from the document by path, where each
// value's position is known; these fields give them their schema.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "AppRole")]
pub struct RawAppRole {
    /// What tokens carry in the `roles` claim, e.g. `Reports.Read`; unique among the app's
    /// roles and scopes.
    #[schemars(pattern(ENTITLEMENT_VALUE))]
    pub value: String,
    /// The name shown when the role is assigned.
    #[schemars(length(max = 1024))]
    pub display_name: Option<String>,
    /// Shown when the role is assigned or consented to.
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// Who can hold the role: `User` (users and groups), `Application` (apps), or both.
    #[schemars(length(min = 1))]
    pub allowed_member_types: Vec<RawMemberType>,
    /// `false` keeps the role defined but unusable. Default `true`.
    #[schemars(extend("default" = true))]
    pub is_enabled: Option<bool>,
}

#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum RawMemberType {
    User,
    Application,
}

// Plain fields (`crate::model::fields`) are read from the document by path, where each
// value's position is known; these fields give them their schema.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "PermissionScope")]
pub struct RawPermissionScope {
    /// What tokens carry in the `scp` claim, e.g. `access_as_user`; unique among the app's
    /// roles and scopes.
    #[schemars(pattern(ENTITLEMENT_VALUE))]
    pub value: String,
    /// The permission's name on the admin consent prompt.
    #[schemars(length(max = 1024))]
    pub admin_consent_display_name: Option<String>,
    /// What the permission allows, on the admin consent prompt.
    #[schemars(length(max = 1024))]
    pub admin_consent_description: Option<String>,
    /// The permission's name on the user consent prompt.
    #[schemars(length(max = 1024))]
    pub user_consent_display_name: Option<String>,
    /// What the permission allows, on the user consent prompt.
    #[schemars(length(max = 1024))]
    pub user_consent_description: Option<String>,
    /// `User`: users may consent for themselves; `Admin`: only an admin may. Default `User`.
    #[schemars(extend("default" = "User"))]
    pub r#type: Option<RawScopeType>,
    /// `false` keeps the scope defined but unusable. Default `true`.
    #[schemars(extend("default" = true))]
    pub is_enabled: Option<bool>,
}

#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum RawScopeType {
    User,
    Admin,
}

// Plain fields (`crate::model::fields`) are read from the document by path, where each
// value's position is known; these fields give them their schema.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "OptionalClaims")]
pub struct RawOptionalClaims {
    /// Claims added to ID tokens. Default `[]`.
    pub id_token: Option<Vec<RawOptionalClaim>>,
    /// Claims added to access tokens. Default `[]`.
    pub access_token: Option<Vec<RawOptionalClaim>>,
    /// Claims added to SAML tokens. Default `[]`.
    pub saml2_token: Option<Vec<RawOptionalClaim>>,
}

// Plain fields (`crate::model::fields`) are read from the document by path, where each
// value's position is known; these fields give them their schema.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "OptionalClaim")]
pub struct RawOptionalClaim {
    /// The claim, e.g. `upn`, `groups`, `email`, or an extension attribute's name.
    pub name: String,
    /// `user` for a directory extension of the user; absent for a predefined claim.
    pub source: Option<String>,
    /// Whether the claim is required for a smooth sign-in. Default `false`.
    pub essential: Option<bool>,
    /// e.g. `include_externally_authenticated_upn`, `sam_account_name`, `emit_as_roles`.
    /// Default `[]`.
    pub additional_properties: Option<Vec<String>>,
}

// Plain fields (`crate::model::fields`) are read from the document by path, where each
// value's position is known; these fields give them their schema.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ServicePrincipal")]
pub struct RawServicePrincipal {
    /// Users and apps need an app role assignment before they can sign in or get tokens.
    /// Absent: not managed.
    pub app_role_assignment_required: Option<bool>,
    /// `false`: nobody can sign in to the app. Absent: not managed.
    pub account_enabled: Option<bool>,
    /// Tags of the service principal, e.g. `HideApp` (hidden from My Apps). The application's
    /// tags show on it too and are not listed here. Absent: not managed; `[]`: none.
    pub tags: Option<Vec<String>>,
    /// Who is mailed about expiring SAML signing certificates. Absent: not managed; `[]`: none.
    pub notification_email_addresses: Option<Vec<String>>,
    /// The enterprise app's description, at most 1024 characters. Absent: not managed.
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// Notes for whoever manages the enterprise app, at most 1024 characters. Absent: not
    /// managed.
    #[schemars(length(max = 1024))]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(rename = "SignInAudience")]
pub enum RawSignInAudience {
    /// Accounts in this organisation only.
    AzureADMyOrg,
    /// Accounts in any organisation.
    AzureADMultipleOrgs,
    /// Accounts in any organisation and personal Microsoft accounts.
    AzureADandPersonalMicrosoftAccount,
    /// Personal Microsoft accounts only.
    PersonalMicrosoftAccount,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Web")]
pub struct RawWeb {
    /// Redirect URIs: absolute `https://` URLs, or `http://localhost` / `http://127.0.0.1`.
    /// Absent: not managed; `[]`: none.
    pub redirect_uris: Option<Vec<String>>,
    /// `https://` URL of the app's home page. Absent: not managed.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub home_page_url: Option<String>,
    /// `https://` URL Entra calls to sign a user out (front-channel logout). Absent: not
    /// managed.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub logout_url: Option<String>,
    /// The implicit flow (ID and access tokens from the authorize endpoint). Absent: not
    /// managed.
    #[allow(dead_code)] // read by path: see `crate::model::fields`
    pub implicit_grant_settings: Option<RawImplicitGrantSettings>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ApiPermission")]
pub struct RawApiPermission {
    /// The API: its service principal's display name (e.g. `Microsoft Graph`) or its appId.
    pub api: String,
    /// Application permissions (app roles), e.g. `Exchange.ManageAsApp`. Default `[]`.
    pub application: Option<Vec<String>>,
    /// Delegated permissions (OAuth2 scopes), e.g. `User.Read`. Default `[]`.
    pub delegated: Option<Vec<String>>,
}

/// A directory role: its name, or a mapping with `role` and an optional `scope`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "DirectoryRole")]
pub enum RawDirectoryRole {
    /// Role display name (`Exchange Administrator`), legacy name, or template id.
    Name(String),
    Scoped(RawScopedRole),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ScopedRole")]
pub struct RawScopedRole {
    /// Role display name, legacy name, or template id.
    pub role: String,
    /// The directory scope (`directoryScopeId`), starting with `/`. Default `/`: the whole tenant.
    #[schemars(extend("default" = "/"))]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Certificate")]
pub struct RawCertificate {
    /// Unique within the app, at most 80 characters: stored as the key credential's display
    /// name `entraform:<name>`, which Graph cuts to 90 characters.
    #[schemars(length(max = 80))]
    pub name: String,
    /// Let entraform generate the certificate and rotate it before it expires. Exactly one of
    /// `generate`, `file` and `keyVault`.
    pub generate: Option<RawGenerate>,
    /// Bring your own public certificate (PEM or DER), relative to this manifest's folder.
    /// Exactly one of `generate`, `file` and `keyVault`.
    pub file: Option<String>,
    /// Register the public part of a certificate kept in Azure Key Vault (its latest
    /// version). Exactly one of `generate`, `file` and `keyVault`.
    pub key_vault: Option<RawKeyVault>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "KeyVaultCertificate")]
pub struct RawKeyVault {
    /// The vault: its name (3 to 24 letters, digits and hyphens) or its URL,
    /// `https://<name>.vault.azure.net`.
    pub vault: String,
    /// The certificate's name in the vault: 1 to 127 letters, digits and hyphens.
    #[schemars(length(min = 1, max = 127), regex(pattern = r"^[0-9a-zA-Z-]+$"))]
    pub certificate: String,
}

/// A client secret entraform manages: added to the app with `addPassword` and its value, which
/// Graph shows only once, set as a Key Vault secret. Rotated like a generated certificate.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ClientSecret")]
pub struct RawClientSecret {
    /// Unique within the app, at most 80 characters; stored as the secret's display name
    /// `entraform:<name>`.
    #[schemars(length(max = 80))]
    pub name: String,
    /// How long a new secret is valid (`h`, `d`, `w`, `y`). Default `180d`; Entra ID's own
    /// recommendation is less than 12 months.
    #[schemars(pattern(r"^[0-9]+[hdwy]$"), extend("default" = "180d"))]
    pub validity: Option<String>,
    /// Rotate when the live secret expires sooner than this; shorter than `validity`.
    /// Default `30d`.
    #[schemars(pattern(r"^[0-9]+[hdwy]$"), extend("default" = "30d"))]
    pub renew_before: Option<String>,
    /// After a rotation, keep the previous secret this long (from the new one's start) so
    /// scripts that read the vault before the rotation keep signing in; `0d`: remove it in the
    /// same apply. Default `7d`.
    #[schemars(pattern(r"^[0-9]+[hdwy]$"), extend("default" = "7d"))]
    pub overlap: Option<String>,
    /// The Key Vault secret that receives each new value (as a new version). Required: Graph
    /// shows a secret's value only when it is made.
    pub key_vault: RawKeyVaultSecret,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "KeyVaultSecret")]
pub struct RawKeyVaultSecret {
    /// The vault: its name (3 to 24 letters, digits and hyphens) or its URL,
    /// `https://<name>.vault.azure.net`.
    pub vault: String,
    /// The secret's name in the vault: 1 to 127 letters, digits and hyphens.
    #[schemars(length(min = 1, max = 127), regex(pattern = r"^[0-9a-zA-Z-]+$"))]
    pub secret: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Generate")]
pub struct RawGenerate {
    /// Distinguished name, e.g. `CN=Exo_V2_App, O=Contoso`. Default `CN=<displayName>`.
    pub subject: Option<String>,
    /// RSA key size. Default `rsa2048`.
    #[schemars(extend("default" = "rsa2048"))]
    pub key_type: Option<RawKeyType>,
    /// How long a new certificate is valid: a number and a unit (`h`, `d`, `w`, `y`; a year is
    /// 365 days). Default `1y`.
    #[schemars(pattern(r"^[0-9]+[hdwy]$"), extend("default" = "1y"))]
    pub validity: Option<String>,
    /// Rotate when the live certificate expires sooner than this; shorter than `validity`.
    /// Default `30d`.
    #[schemars(pattern(r"^[0-9]+[hdwy]$"), extend("default" = "30d"))]
    pub renew_before: Option<String>,
    /// After a rotation, keep the previous key registered this long (counted from the new
    /// key's start) so scripts elsewhere keep signing in until they get the new PFX; a later
    /// apply removes it. `0d`: remove it in the same apply. Default `7d`.
    #[schemars(pattern(r"^[0-9]+[hdwy]$"), extend("default" = "7d"))]
    pub overlap: Option<String>,
    /// Keep the files a rotation archives (`<name>.<old thumbprint>.pfx`, `.cer`) after the
    /// old key is removed. Default `false`: the apply that removes the key deletes them (they
    /// sign in nowhere).
    #[schemars(extend("default" = false))]
    pub keep_archived: Option<bool>,
    /// Where the PFX with the private key is written, relative to this manifest's folder.
    /// Keep it out of git. At least one of `pfx` and `keyVault`.
    pub pfx: Option<String>,
    /// The environment variable that holds the PFX password; required with `pfx`.
    #[schemars(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub pfx_password_env: Option<String>,
    /// Also (or instead of `pfx`) import each new key pair into this Azure Key Vault
    /// certificate, as a new version: no file and no password where the script runs.
    pub key_vault: Option<RawKeyVault>,
    /// PFX encryption: `aes256`, or `legacy-3des` for Windows Server 2016 and older. Default
    /// `aes256`.
    #[schemars(extend("default" = "aes256"))]
    pub pfx_encryption: Option<RawPfxEncryption>,
    /// Also write the public certificate (DER) here, relative to this manifest's folder.
    pub cer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "KeyType")]
pub enum RawKeyType {
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(rename = "PfxEncryption")]
pub enum RawPfxEncryption {
    /// PBES2 with AES-256: Windows 10 1709+ and Server 2019+, OpenSSL 3.
    #[serde(rename = "aes256")]
    Aes256,
    /// 3DES with SHA-1: Windows Server 2016 and older.
    #[serde(rename = "legacy-3des")]
    Legacy3Des,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Assignment")]
pub struct RawAssignment {
    /// A user principal name (`alex@contoso.com`), a group's display name, or a user's or
    /// group's object id.
    #[schemars(length(min = 1))]
    pub principal: String,
    /// The `value` of one of the app's roles (allowing `User` members), or `default` for
    /// access without a specific role. Default `default`.
    #[schemars(extend("default" = "default"))]
    pub role: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "FederatedCredential")]
pub struct RawFederatedCredential {
    /// 3 to 120 letters, digits, `-` and `_`, starting with a letter or digit; unique within
    /// the app ignoring case; cannot be renamed in place.
    #[schemars(
        length(min = 3, max = 120),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    )]
    pub name: String,
    /// The identity provider's issuer URL, e.g. `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// The external identity, e.g. `repo:contoso/app:ref:refs/heads/main`.
    pub subject: String,
    /// Exactly one audience. Default `[api://AzureADTokenExchange]`.
    #[schemars(extend("default" = ["api://AzureADTokenExchange"]))]
    pub audiences: Option<Vec<String>>,
    /// Free text, at most 600 characters.
    pub description: Option<String>,
}

/// The manifest JSON Schema, as editors read it through the `yaml-language-server` modeline.
///
/// Draft 7 because that is what YAML editors support most widely. Nulls are taken out: in a
/// manifest an absent field means "not managed", and an empty value would blur that.
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<RawManifest>();
    let mut value = schema.to_value();
    strip_null(&mut value);
    // Meta keywords first, so the file reads top-down.
    if let serde_json::Value::Object(map) = value {
        let mut ordered = serde_json::Map::new();
        for key in ["$schema", "title", "description"] {
            if let Some(v) = map.get(key) {
                ordered.insert(key.to_owned(), v.clone());
            }
        }
        for (k, v) in map {
            ordered.entry(k).or_insert(v);
        }
        value = serde_json::Value::Object(ordered);
    }
    value
}

/// Joins single line breaks into spaces; blank lines (paragraphs) stay.
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|para| {
            para.split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Removes `null` from `type` lists and `{"type": "null"}` from `anyOf`, everywhere, and
/// unwraps doc-comment line breaks in descriptions (editors re-flow text themselves).
fn strip_null(value: &mut serde_json::Value) {
    use serde_json::Value;
    // The schema is ours and shallow; an explicit stack keeps this simple and bounded anyway.
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if let Some(Value::Array(types)) = map.get_mut("type") {
                    types.retain(|t| t != "null");
                    if types.len() == 1 {
                        let only = types[0].clone();
                        map.insert("type".to_owned(), only);
                    }
                }
                if let Some(Value::Array(branches)) = map.get_mut("anyOf") {
                    branches.retain(|b| b.get("type").and_then(Value::as_str) != Some("null"));
                    if branches.len() == 1 {
                        let only = branches.remove(0);
                        map.remove("anyOf");
                        match only {
                            // Draft 7 ignores keywords beside `$ref`; keep the description
                            // visible by wrapping the reference.
                            Value::Object(inner) if inner.contains_key("$ref") => {
                                map.insert(
                                    "allOf".to_owned(),
                                    Value::Array(vec![Value::Object(inner)]),
                                );
                            }
                            Value::Object(inner) => {
                                for (k, v) in inner {
                                    map.entry(k).or_insert(v);
                                }
                            }
                            other => {
                                map.insert("allOf".to_owned(), Value::Array(vec![other]));
                            }
                        }
                    }
                }
                if let Some(Value::String(d)) = map.get_mut("description") {
                    *d = unwrap_lines(d);
                }
                stack.extend(map.values_mut());
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}
