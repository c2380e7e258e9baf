//! Operations: what apply executes, fully decided while planning (Oxide's Reconfigurator: the
//! executor makes no choices). New key ids, the keys to keep, request contents and the order
//! are all here; a reference to an object this plan creates goes by the app's name and apply
//! resolves it from its own earlier results.
//!
//! These are not Graph wire shapes: apply translates each into its request.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::model::{
    AppId, FederatedCredentialId, FieldValues, KeyId, KeyType, ObjectId, Period, PermissionId,
    PfxEncryption, RequiredResourceAccess, RoleDefinitionId, Thumbprint,
};

/// An application that exists now, by both of its ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExistingApp {
    pub object_id: ObjectId,
    pub app_id: AppId,
}

/// The application an operation acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppRef {
    /// Created earlier in the same plan by the `upsert_application` of this app name (its
    /// `metadata.name`); apply uses the object id and appId that upsert returned.
    Planned(String),
    Existing(ExistingApp),
}

/// The service principal an operation acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpRef {
    /// Created earlier in the same plan by the `create_service_principal` of this app name.
    Planned(String),
    Existing(ObjectId),
}

/// The id of an API's application or service principal that an operation names: one that
/// exists (written as the id itself), or that of an app this plan creates or gives a service
/// principal, by its `metadata.name`. Apply resolves it once that app's own operations are done
/// ([`crate::apply::schedule`] runs them first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResourceRef<T> {
    Existing(T),
    Planned { planned: String },
}

impl<T> ResourceRef<T> {
    /// The `metadata.name` of the app of this plan it waits for.
    pub fn planned(&self) -> Option<&str> {
        match self {
            ResourceRef::Existing(_) => None,
            ResourceRef::Planned { planned } => Some(planned),
        }
    }
}

impl<T> From<T> for ResourceRef<T> {
    fn from(id: T) -> Self {
        ResourceRef::Existing(id)
    }
}

/// `requiredResourceAccess` as a plan writes it: the API may be one the plan creates.
pub type PlannedResourceAccess = RequiredResourceAccess<ResourceRef<AppId>>;

/// Everything a new application is created with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationBody {
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub sign_in_audience: String,
    /// `web.redirectUris`; `None`: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// The full list, entraform's own tags included.
    pub tags: Vec<String>,
    /// `None`: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_resource_access: Option<Vec<PlannedResourceAccess>>,
    /// The plain fields the manifest sets ([`crate::model::fields`]), by Graph path.
    #[serde(default, skip_serializing_if = "FieldValues::is_empty")]
    pub fields: FieldValues,
}

/// The fields of an application to change; absent fields are not sent. Collections are whole
/// replacements, as Graph's PATCH treats them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `Some(None)` clears the description (sent as `null`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_or_null"
    )]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_resource_access: Option<Vec<PlannedResourceAccess>>,
    /// The plain fields that change ([`crate::model::fields`]), by Graph path.
    #[serde(default, skip_serializing_if = "FieldValues::is_empty")]
    pub fields: FieldValues,
}

impl ApplicationPatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A key credential to attach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKeyCredential {
    /// Chosen at plan time so the plan, apply's output and the tenant agree on it.
    pub key_id: KeyId,
    /// `entraform:<certificate name>`.
    pub display_name: String,
    pub certificate: CertificateMaterial,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateMaterial {
    /// Apply generates the key pair and self-signed certificate, writes the PFX (and CER), then
    /// attaches the public certificate.
    Generate(GenerateCertificate),
    /// A public certificate the user brought, as read at plan time.
    File(FileCertificate),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateCertificate {
    pub subject: String,
    pub key_type: KeyType,
    /// Counted from the moment apply generates the certificate.
    pub validity: Period,
    /// `None`: the certificate goes to Key Vault only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pfx: Option<PathBuf>,
    /// The name of the environment variable holding the PFX password; never the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pfx_password_env: Option<String>,
    pub pfx_encryption: PfxEncryption,
    /// The Key Vault certificate the new key pair is imported into, as a new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault: Option<crate::model::KeyVaultCertificate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cer: Option<PathBuf>,
    /// On rotation: where apply moves the current PFX (and CER) before writing the new ones,
    /// so the old certificate stays usable until its key is removed. `None`: apply must not
    /// overwrite an existing file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_previous: Option<PreviousFiles>,
}

/// The files a rotation archived for a key (`<stem>.<thumbprint>.<ext>`), deleted by the apply
/// that removes the key, each only if it still holds the certificate with `thumbprint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedFiles {
    pub thumbprint: Thumbprint,
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousFiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pfx: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cer: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCertificate {
    /// Where it was read from, for messages.
    pub path: PathBuf,
    /// DER, base64 in the plan file.
    #[serde(with = "crate::model::local::der_base64")]
    pub der: Vec<u8>,
    pub thumbprint: Thumbprint,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

/// How a key credential is attached or removed. Only `PATCH keyCredentials` today; Graph's
/// `addKey`/`removeKey` (which need a proof signed by a valid key) can be added as variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum KeyCredentialMethod {
    /// `PATCH /applications/{id}` with `keyCredentials` = the keys in `keep` (apply reads their
    /// bytes back from the tenant) plus the new key, if any. `keep` is exactly the app's key set
    /// at that step; apply refuses if the tenant's set differs.
    PatchKeyCredentials { keep: Vec<KeyId> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredentialBody {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredentialPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_or_null"
    )]
    pub description: Option<Option<String>>,
}

/// A managed client secret to add: its display name (`entraform:<name>`), how long it is
/// valid from apply, and the Key Vault secret its value goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewClientSecret {
    pub display_name: String,
    pub validity: crate::model::Period,
    pub key_vault: crate::model::KeyVaultSecret,
}

/// One step of apply. Steps run in plan order: changes in order, a change's operations in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// `PATCH /applications(uniqueName='…')` with `Prefer: create-if-missing`: creates the app,
    /// or finds the one a lost response already created.
    UpsertApplication {
        unique_name: String,
        application: ApplicationBody,
    },
    /// `PATCH /applications/{id}` setting `uniqueName` (allowed once, while it is null) together
    /// with `patch` (the tags with entraform's managed tag added, and any other drift).
    AdoptApplication {
        app: ExistingApp,
        unique_name: String,
        patch: ApplicationPatch,
    },
    /// `PATCH /applications/{id}` with only the changed fields.
    UpdateApplication {
        app: ExistingApp,
        patch: ApplicationPatch,
    },
    /// `POST /directory/deletedItems/{id}/restore`: the application comes back with its object
    /// id, appId, keys and federated credentials.
    RestoreApplication { app: ExistingApp },
    /// `POST /directory/deletedItems/{id}/restore` of the app's service principal (restoring an
    /// application does not restore it).
    RestoreServicePrincipal { object_id: ObjectId },
    /// `DELETE /servicePrincipals/{id}`, before the app itself on prune.
    DeleteServicePrincipal { object_id: ObjectId },
    /// `DELETE /applications/{id}` (soft delete: restorable for 30 days).
    DeleteApplication { app: ExistingApp },
    /// `PATCH /servicePrincipals(appId='…')` with `Prefer: create-if-missing`, with the plain
    /// fields the manifest sets.
    CreateServicePrincipal {
        app: AppRef,
        #[serde(default, skip_serializing_if = "FieldValues::is_empty")]
        fields: FieldValues,
    },
    /// `PATCH /servicePrincipals/{id}` with the plain fields that change.
    UpdateServicePrincipal {
        object_id: ObjectId,
        fields: FieldValues,
    },
    /// `POST /servicePrincipals/{resource_id}/appRoleAssignedTo`.
    GrantAppRole {
        principal: SpRef,
        resource_id: ResourceRef<ObjectId>,
        app_role_id: PermissionId,
    },
    /// `DELETE /servicePrincipals/{resource_id}/appRoleAssignedTo/{assignment_id}`.
    RevokeAppRole {
        principal: ObjectId,
        resource_id: ObjectId,
        assignment_id: String,
    },
    /// `POST /servicePrincipals/{resource}/appRoleAssignedTo`: a user or group assigned to a
    /// role of the app's own service principal (`assignments`).
    AssignPrincipal {
        resource: SpRef,
        principal_id: ObjectId,
        /// The all-zero id is the default access role.
        app_role_id: PermissionId,
    },
    /// `DELETE /servicePrincipals/{resource_id}/appRoleAssignedTo/{assignment_id}`.
    UnassignPrincipal {
        resource_id: ObjectId,
        assignment_id: String,
    },
    /// `POST /oauth2PermissionGrants` with `consentType: AllPrincipals`.
    CreateDelegatedGrant {
        client: SpRef,
        resource_id: ResourceRef<ObjectId>,
        /// Space-separated, sorted.
        scope: String,
    },
    /// `PATCH /oauth2PermissionGrants/{grant_id} {scope}`.
    UpdateDelegatedGrant { grant_id: String, scope: String },
    /// `DELETE /oauth2PermissionGrants/{grant_id}`.
    DeleteDelegatedGrant { grant_id: String },
    /// `POST /roleManagement/directory/roleAssignments`.
    AssignDirectoryRole {
        principal: SpRef,
        role_definition_id: RoleDefinitionId,
        directory_scope_id: String,
    },
    /// `DELETE /roleManagement/directory/roleAssignments/{assignment_id}`.
    RemoveDirectoryRole { assignment_id: String },
    /// `POST /applications/{id}/owners/$ref`.
    AddOwner { app: AppRef, owner_id: ObjectId },
    /// `DELETE /applications/{id}/owners/{owner_id}/$ref`.
    RemoveOwner {
        app: ExistingApp,
        owner_id: ObjectId,
    },
    /// Generate or take the certificate, write its files, attach it by `method`.
    AddCertificate {
        app: AppRef,
        key: NewKeyCredential,
        method: KeyCredentialMethod,
    },
    /// Detach one key credential by `method`; then delete the files a rotation archived for it.
    RemoveKeyCredential {
        app: ExistingApp,
        key_id: KeyId,
        method: KeyCredentialMethod,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        archived: Option<ArchivedFiles>,
    },
    /// `POST /applications/{id}/removePassword {keyId}`: removes one client secret.
    RemovePasswordCredential { app: ExistingApp, key_id: KeyId },
    /// `POST /applications/{id}/addPassword`, then the value Graph shows this once set as a
    /// new version of the Key Vault secret; when that fails, `removePassword` takes it back.
    AddClientSecret {
        app: AppRef,
        secret: NewClientSecret,
    },
    /// `POST /applications/{id}/federatedIdentityCredentials`.
    CreateFederatedCredential {
        app: AppRef,
        credential: FederatedCredentialBody,
    },
    /// `PATCH /applications/{id}/federatedIdentityCredentials/{id}` (the name is immutable).
    UpdateFederatedCredential {
        app: ExistingApp,
        id: FederatedCredentialId,
        patch: FederatedCredentialPatch,
    },
    /// `DELETE /applications/{id}/federatedIdentityCredentials/{id}`.
    DeleteFederatedCredential {
        app: ExistingApp,
        id: FederatedCredentialId,
    },
}

impl Operation {
    /// The apps of this plan whose appId or service principal the operation names as an API
    /// ([`ResourceRef::Planned`]): their own operations go first.
    pub fn planned_apis(&self) -> Vec<&str> {
        fn rra(rra: Option<&Vec<PlannedResourceAccess>>) -> Vec<&str> {
            rra.into_iter()
                .flatten()
                .filter_map(|r| r.resource_app_id.planned())
                .collect()
        }
        match self {
            Operation::UpsertApplication { application, .. } => {
                rra(application.required_resource_access.as_ref())
            }
            Operation::UpdateApplication { patch, .. }
            | Operation::AdoptApplication { patch, .. } => {
                rra(patch.required_resource_access.as_ref())
            }
            Operation::GrantAppRole { resource_id, .. }
            | Operation::CreateDelegatedGrant { resource_id, .. } => {
                resource_id.planned().into_iter().collect()
            }
            _ => Vec::new(),
        }
    }
}

/// A field that may be present with `null`: absent stays `None` (via `default`), `null`
/// becomes `Some(None)`.
fn present_or_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cleared_description_survives_a_round_trip_as_null() {
        let patch = ApplicationPatch {
            description: Some(None),
            ..Default::default()
        };
        let json = serde_json::to_value(&patch).unwrap();
        assert_eq!(json, serde_json::json!({"description": null}));
        let back: ApplicationPatch = serde_json::from_value(json).unwrap();
        assert_eq!(back, patch);

        let op = Operation::UpdateApplication {
            app: ExistingApp {
                object_id: ObjectId(uuid::Uuid::nil()),
                app_id: AppId(uuid::Uuid::nil()),
            },
            patch: ApplicationPatch::default(),
        };
        let json = serde_json::to_value(&op).unwrap();
        assert_eq!(json["op"], "update_application");
        assert_eq!(json["patch"], serde_json::json!({}));
        assert_eq!(serde_json::from_value::<Operation>(json).unwrap(), op);
    }
}
