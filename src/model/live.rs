//! The live state: what `observe` read from the tenant, already translated out of Graph's wire
//! shapes. Read by `diff`; never written back as-is.
//!
//! Every object carries the fingerprint of the Graph JSON it was built from, so a saved plan can
//! tell whether anything moved between plan and apply.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::fields::FieldValues;
use super::ids::{
    AppId, FederatedCredentialId, KeyId, ObjectId, PermissionId, RoleDefinitionId, TenantId,
    Thumbprint,
};

/// The tag entraform puts on every application it manages; `--prune` only ever considers
/// applications that carry it.
pub const MANAGED_BY_TAG: &str = "entraform:managed";

/// The tag entraform puts on applications whose manifest says `protect: true`. It lives in the
/// tenant, not only in the manifest, so `--prune` still refuses to delete a protected app after
/// its manifest is gone.
pub const PROTECTED_TAG: &str = "entraform:protected";

/// Prefix of the `displayName` entraform gives the key credentials it attaches for a manifest's
/// certificate: `entraform:<certificate name>`. Generated certificates are recognised by it.
pub const CERTIFICATE_DISPLAY_NAME_PREFIX: &str = "entraform:";

/// Graph keeps at most 90 characters of a key credential's `displayName` ("longer values are
/// accepted but shortened", keyCredential reference).
pub const MAX_KEY_DISPLAY_NAME: usize = 90;

/// The longest manifest certificate name: its display name `entraform:<name>` must survive
/// Graph's cut whole, or the certificate would not be recognised and be generated again on
/// every plan.
pub const MAX_CERTIFICATE_NAME: usize =
    MAX_KEY_DISPLAY_NAME - CERTIFICATE_DISPLAY_NAME_PREFIX.len();

/// The key credential `displayName` for the manifest certificate `name`.
pub fn certificate_display_name(name: &str) -> String {
    format!("{CERTIFICATE_DISPLAY_NAME_PREFIX}{name}")
}

/// A hash of the JSON Graph returned for an object, with volatile fields excluded. Equal
/// fingerprints mean nothing entraform reads has changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveTenant {
    /// From the access token (`tid`): reading `/organization` would need its own permission.
    pub tenant_id: TenantId,
    /// The application entraform signed in as, from its access token; `None` for a user
    /// (Azure CLI) or a token that does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in: Option<SignedInApp>,
    /// Apps found for the manifests (by `uniqueName` or adopted `appId`), plus, with `--prune`,
    /// every app carrying [`MANAGED_BY_TAG`].
    pub apps: Vec<LiveApp>,
    pub catalog: Catalog,
    /// Applications in deleted items whose `uniqueName` a manifest names but no live app holds:
    /// restorable for 30 days, and holding the name until then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_apps: Vec<DeletedApp>,
    /// Every application carrying [`MANAGED_BY_TAG`], named only (read without `--prune`, so a
    /// plan can note the ones no manifest mentions; with `--prune` they are in `apps` in full).
    /// Not fingerprinted: a note is not a change, so it cannot make a saved plan stale.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed: Vec<ManagedApp>,
}

/// An application entraform manages, as much as names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedApp {
    pub object_id: ObjectId,
    pub app_id: AppId,
    pub unique_name: Option<String>,
    pub display_name: String,
    pub tags: Vec<String>,
}

/// An application in Entra ID's deleted items (`/directory/deletedItems`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletedApp {
    /// As it was when deleted; restoring brings back exactly this (its service principal
    /// stays in deleted items until restored on its own, and its `service_principal` is `None`).
    pub app: LiveApp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    /// Its service principal, when that is in deleted items too.
    pub service_principal: Option<ObjectId>,
}

/// The signed-in application: its service principal (`oid`) and the Graph application
/// permissions its token carries (`roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInApp {
    pub service_principal_id: ObjectId,
    pub roles: std::collections::BTreeSet<String>,
}

impl SignedInApp {
    /// It may change only the applications it owns (`Application.ReadWrite.OwnedBy` without
    /// `Application.ReadWrite.All`), so it must stay an owner of every app it manages.
    pub fn writes_only_what_it_owns(&self) -> bool {
        self.roles.contains("Application.ReadWrite.OwnedBy")
            && !self.roles.contains("Application.ReadWrite.All")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveApp {
    pub object_id: ObjectId,
    pub app_id: AppId,
    pub unique_name: Option<String>,
    pub display_name: String,
    pub description: Option<String>,
    /// As Graph returns it; unknown future values are kept verbatim.
    pub sign_in_audience: String,
    pub redirect_uris: Vec<String>,
    pub tags: Vec<String>,
    pub required_resource_access: Vec<RequiredResourceAccess>,
    pub key_credentials: Vec<LiveKeyCredential>,
    /// Client secrets' metadata (Graph never returns their values after `addPassword`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub password_credentials: Vec<LivePasswordCredential>,
    pub federated_credentials: Vec<LiveFederatedCredential>,
    /// `None` when owners were not read (no manifest manages them).
    pub owners: Option<Vec<LiveOwner>>,
    pub service_principal: Option<LiveServicePrincipal>,
    /// The roles the application defines (`appRoles`): what `assignments` name by value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app_roles: Vec<AppRole>,
    /// Every plain field of the application ([`super::fields`]), normalised.
    #[serde(default)]
    pub fields: FieldValues,
    pub fingerprint: Fingerprint,
}

/// The permissions asked of one API. A plan names the API by a
/// [`crate::plan::ResourceRef`], since it may be an app the plan creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredResourceAccess<A = AppId> {
    pub resource_app_id: A,
    pub resource_access: Vec<ResourceAccess>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceAccess {
    pub id: PermissionId,
    pub kind: PermissionKind,
}

/// Graph's `type` on `resourceAccess`: `Role` (application) or `Scope` (delegated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PermissionKind {
    Role,
    Scope,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveKeyCredential {
    pub key_id: KeyId,
    pub display_name: Option<String>,
    /// The certificate's SHA-1 thumbprint: computed from `key` when the read carried the
    /// certificate, else `customKeyIdentifier` read as a thumbprint, when it is one.
    pub thumbprint: Option<Thumbprint>,
    /// `AsymmetricX509Cert`, `X509CertAndPassword`, ...
    pub key_type: String,
    /// `Verify` or `Sign`.
    pub usage: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub start: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub end: Option<OffsetDateTime>,
}

/// A client secret as Graph lists it: metadata only. Its value (`secretText`) is returned once,
/// by `addPassword`, and never read here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivePasswordCredential {
    pub key_id: KeyId,
    pub display_name: Option<String>,
    /// The secret's first three characters, as Graph shows them to tell secrets apart.
    pub hint: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub start: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub end: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveFederatedCredential {
    pub id: FederatedCredentialId,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    pub description: Option<String>,
    pub fingerprint: Fingerprint,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveOwner {
    pub id: ObjectId,
    /// Present for users; service principals can own apps too.
    pub user_principal_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveServicePrincipal {
    pub object_id: ObjectId,
    pub app_role_assignments: Vec<LiveAppRoleAssignment>,
    pub delegated_grants: Vec<LiveDelegatedGrant>,
    pub directory_role_assignments: Vec<LiveDirectoryRoleAssignment>,
    /// Who is assigned to the app's roles (`appRoleAssignedTo`); `None` when not read (no
    /// manifest manages `assignments`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<Vec<LiveAssignment>>,
    /// Every plain field of the service principal ([`super::fields`]), normalised; its `tags`
    /// without those it shows from its application.
    #[serde(default)]
    pub fields: FieldValues,
    pub fingerprint: Fingerprint,
}

/// An application permission granted to the app's service principal (admin consent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAppRoleAssignment {
    /// The assignment's own id, needed to delete it.
    pub id: String,
    pub resource_id: ObjectId,
    pub app_role_id: PermissionId,
    pub fingerprint: Fingerprint,
}

/// A user, group or service principal assigned to one of the app's own roles: an app role
/// assignment whose resource is the app's service principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAssignment {
    /// The assignment's own id, needed to delete it.
    pub id: String,
    pub principal_id: ObjectId,
    /// `User`, `Group` or `ServicePrincipal`, as Graph says.
    pub principal_type: String,
    pub principal_display_name: Option<String>,
    /// The all-zero id is the default access role.
    pub app_role_id: PermissionId,
    pub fingerprint: Fingerprint,
}

impl LiveAssignment {
    /// Users and groups are what `assignments` manage; a service principal holding one of the
    /// app's roles holds an application permission, which its own manifest's `apiPermissions`
    /// manage.
    pub fn is_user_or_group(&self) -> bool {
        self.principal_type.eq_ignore_ascii_case("User")
            || self.principal_type.eq_ignore_ascii_case("Group")
    }
}

/// A tenant-wide (`AllPrincipals`) delegated permission grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveDelegatedGrant {
    pub id: String,
    pub resource_id: ObjectId,
    pub consent_type: String,
    /// Space-separated scope values, as Graph stores them.
    pub scope: String,
    pub fingerprint: Fingerprint,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveDirectoryRoleAssignment {
    pub id: String,
    pub role_definition_id: RoleDefinitionId,
    pub directory_scope_id: String,
    pub fingerprint: Fingerprint,
}

/// What names in manifests resolve against: read from the tenant, only as much as the
/// manifests mention.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub resources: Vec<ResourceServicePrincipal>,
    /// Apps of this run that another manifest may name as an API before the plan gives them a
    /// service principal (the planner's, never read from the tenant).
    #[serde(default, skip)]
    pub planned_apis: Vec<PlannedApi>,
    /// Every app of this run by `metadata.name`, with its appId when it exists before the plan
    /// (the planner's, never read from the tenant): a pre-authorized client may be named so.
    #[serde(default, skip)]
    pub run_apps: Vec<(String, Option<AppId>)>,
    pub role_definitions: Vec<RoleDefinition>,
    pub users: Vec<LiveUser>,
    /// Groups `assignments` name (by display name or id) or live assignments hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<LiveGroup>,
}

/// An app of this run whose service principal the plan creates (with the application, or for
/// an application that exists): the app roles and scopes the plan gives it, ids included. Its
/// appId, when the application exists, is known; its service principal's id is known at apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedApi {
    /// Its `metadata.name`.
    pub name: String,
    pub display_name: String,
    pub app_id: Option<AppId>,
    pub app_roles: Vec<AppRole>,
    pub oauth2_permission_scopes: Vec<PermissionScope>,
}

/// A service principal that exposes permissions (Microsoft Graph, Office 365 Exchange Online...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceServicePrincipal {
    pub object_id: ObjectId,
    pub app_id: AppId,
    pub display_name: String,
    pub app_roles: Vec<AppRole>,
    pub oauth2_permission_scopes: Vec<PermissionScope>,
    /// The `metadata.name` of the app in this run that defines this API, when it is one of
    /// ours: another manifest's `apiPermissions` may name it so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRole {
    pub id: PermissionId,
    pub value: Option<String>,
    pub display_name: Option<String>,
    /// `Application`, `User`; only roles allowing `Application` can be granted to an app.
    pub allowed_member_types: Vec<String>,
    pub is_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionScope {
    pub id: PermissionId,
    pub value: Option<String>,
    pub is_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleDefinition {
    pub id: RoleDefinitionId,
    pub template_id: Option<RoleDefinitionId>,
    pub display_name: String,
    pub is_built_in: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveUser {
    pub id: ObjectId,
    pub user_principal_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveGroup {
    pub id: ObjectId,
    pub display_name: String,
}
