//! Graph v1.0 wire shapes for the objects entraform touches, written from Microsoft's reference
//! (never shared with the sandbox). Unknown fields are ignored on read; fields a `$select` may
//! leave out are `Option` or default to empty. Dates are RFC 3339 (`…Z`).
//!
//! `Serialize` skips absent fields, so a DTO can be sent back as a body without writing nulls
//! over properties it does not carry.

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::model::{AppId, FederatedCredentialId, KeyId, ObjectId, PermissionId, RoleDefinitionId};

use super::redact::Secret;

/// One page of a collection.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
    /// Present on the first page when `$count=true` was asked (with `ConsistencyLevel`).
    #[serde(rename = "@odata.count", default)]
    pub count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: ObjectId,
    pub app_id: AppId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_audience: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub identifier_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebApplication>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub required_resource_access: Vec<RequiredResourceAccess>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub key_credentials: Vec<KeyCredential>,
    #[serde(default, deserialize_with = "null_as_empty", skip_serializing)]
    pub password_credentials: Vec<PasswordCredential>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub app_roles: Vec<AppRole>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_date_time: Option<OffsetDateTime>,
    /// Set on an application read from deleted items.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deleted_date_time: Option<OffsetDateTime>,
    /// Present only with `$expand=federatedIdentityCredentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_identity_credentials: Option<Vec<FederatedIdentityCredential>>,
    /// Present only with `$expand=owners`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owners: Option<Vec<DirectoryObject>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebApplication {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_page_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logout_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequiredResourceAccess {
    pub resource_app_id: AppId,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub resource_access: Vec<ResourceAccess>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ResourceAccess {
    pub id: PermissionId,
    /// `Role` (application permission) or `Scope` (delegated).
    #[serde(rename = "type")]
    pub kind: String,
}

/// A certificate on an application or service principal. `key` is the base64 DER of the
/// certificate (public), returned only when `$select` names `keyCredentials`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredential {
    pub key_id: KeyId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_key_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_date_time: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_date_time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `AsymmetricX509Cert`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `Verify` (or `Sign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
}

/// A client secret's metadata. `secretText` comes back only from `addPassword` and is kept in
/// a [`Secret`]; the type is never serialised.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredential {
    pub key_id: KeyId,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub hint: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub start_date_time: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub end_date_time: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "secret_opt")]
    pub secret_text: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    pub id: PermissionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `Application`, `User` or both.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub allowed_member_types: Vec<String>,
    #[serde(default = "yes")]
    pub is_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionScope {
    pub id: PermissionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `Admin` or `User`: who may consent.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_consent_display_name: Option<String>,
    #[serde(default = "yes")]
    pub is_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    pub id: ObjectId,
    pub app_id: AppId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_owner_organization_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub app_roles: Vec<AppRole>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub oauth2_permission_scopes: Vec<PermissionScope>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub key_credentials: Vec<KeyCredential>,
    /// Present only with `$expand=appRoleAssignments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_role_assignments: Option<Vec<AppRoleAssignment>>,
}

/// An application permission granted (admin consent) or an app role given to a principal.
/// Its `id` is an opaque string, not a GUID.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    pub id: String,
    pub app_role_id: PermissionId,
    pub principal_id: ObjectId,
    pub resource_id: ObjectId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_display_name: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_date_time: Option<OffsetDateTime>,
}

/// Delegated permissions consented for a client on a resource (`scope` is space-separated).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2PermissionGrant {
    pub id: String,
    pub client_id: ObjectId,
    /// `AllPrincipals` (admin consent for everyone) or `Principal`.
    pub consent_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<ObjectId>,
    pub resource_id: ObjectId,
    #[serde(default)]
    pub scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnifiedRoleDefinition {
    pub id: RoleDefinitionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_built_in: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnifiedRoleAssignment {
    pub id: String,
    pub principal_id: ObjectId,
    pub role_definition_id: RoleDefinitionId,
    /// `/` for the whole tenant.
    #[serde(default = "tenant_scope")]
    pub directory_scope_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: ObjectId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
}

/// A group, as far as `assignments` name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: ObjectId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// A member of a polymorphic collection (`owners`): its `@odata.type` says what it is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryObject {
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub odata_type: Option<String>,
    pub id: ObjectId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<AppId>,
}

impl DirectoryObject {
    pub fn is_user(&self) -> bool {
        self.odata_type.as_deref() == Some("#microsoft.graph.user")
    }

    pub fn is_service_principal(&self) -> bool {
        self.odata_type.as_deref() == Some("#microsoft.graph.servicePrincipal")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedIdentityCredential {
    pub id: FederatedCredentialId,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub audiences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The tenant itself (`GET /organization`), for its id and domains.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub verified_domains: Vec<VerifiedDomain>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedDomain {
    pub name: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub is_initial: bool,
}

fn yes() -> bool {
    true
}

fn tenant_scope() -> String {
    "/".into()
}

/// Graph sends `null` for some empty collections; treat it as empty.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

fn secret_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(Secret::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode<T: serde::de::DeserializeOwned>(json: &str) -> T {
        let mut de = serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(&mut de).unwrap_or_else(|e| panic!("{}: {e}", e.path()))
    }

    #[test]
    fn microsofts_application_example_decodes_and_ignores_unknown_fields() {
        let app: Application = decode(include_str!(
            "../../tests/fixtures/graph-examples/applications-get.response.json"
        ));
        assert_eq!(
            app.app_id.to_string(),
            "631a96bc-a705-4eda-9f99-fdaf9f54f6a2"
        );
        assert_eq!(
            app.sign_in_audience.as_deref(),
            Some("AzureADandPersonalMicrosoftAccount")
        );
        assert_eq!(app.web.unwrap().redirect_uris, Vec::<String>::new());
        assert_eq!(app.created_date_time.unwrap().unix_timestamp(), 1568747435);
    }

    #[test]
    fn key_credentials_decode_with_dates_and_key() {
        let json = r#"{"customKeyIdentifier":"QkI1RDEwNjQ0MzdEODcyMEE1QzUzMDc4MTg1RTZBMzYxQTc4QjEwQQ==",
            "displayName":"CN=exo","endDateTime":"2026-01-01T00:00:00Z","key":"MIIC",
            "keyId":"f0b0b335-1d71-4883-8f98-567911bfdca6","startDateTime":"2025-01-01T00:00:00Z",
            "type":"AsymmetricX509Cert","usage":"Verify"}"#;
        let key: KeyCredential = decode(json);
        assert_eq!(key.kind.as_deref(), Some("AsymmetricX509Cert"));
        let out = serde_json::to_value(&key).unwrap();
        assert_eq!(out["endDateTime"], "2026-01-01T00:00:00Z");
    }

    #[test]
    fn a_secret_text_never_shows_in_debug_output() {
        let json = r#"{"keyId":"f0b0b335-1d71-4883-8f98-567911bfdca6","secretText":"abc~very-secret","hint":"abc"}"#;
        let p: PasswordCredential = decode(json);
        assert_eq!(p.secret_text.as_ref().unwrap().expose(), "abc~very-secret");
        assert!(!format!("{p:?}").contains("very-secret"));
    }

    #[test]
    fn role_assignments_and_grants_decode_from_microsofts_examples() {
        let page: Page<UnifiedRoleAssignment> = decode(include_str!(
            "../../tests/fixtures/graph-examples/roleassignments-list-filter-principalid.response.json"
        ));
        assert_eq!(page.value.len(), 2);
        assert_eq!(page.value[0].directory_scope_id, "/");
        let page: Page<AppRoleAssignment> = decode(include_str!(
            "../../tests/fixtures/graph-examples/approleassignedto-list.response.json"
        ));
        assert_eq!(
            page.value[0].id,
            "41W1zT6z1U-kJxf62svfp1HFE8pMZhxDun-ThPczmJE"
        );
        let page: Page<OAuth2PermissionGrant> = decode(include_str!(
            "../../tests/fixtures/graph-examples/oauth2permissiongrants-list-filter.response.json"
        ));
        assert_eq!(page.value[0].scope, "User.Read.All Group.Read.All");
        let sp: ServicePrincipal = decode(include_str!(
            "../../tests/fixtures/graph-examples/serviceprincipals-get-select-approles.response.json"
        ));
        assert_eq!(sp.app_roles[0].allowed_member_types, vec!["Application"]);
        assert_eq!(
            sp.oauth2_permission_scopes[0].value.as_deref(),
            Some("profile")
        );
        let fic: FederatedIdentityCredential = decode(include_str!(
            "../../tests/fixtures/graph-examples/federatedidentitycredentials-create.response.json"
        ));
        assert_eq!(fic.audiences, vec!["api://AzureADTokenExchange"]);
    }

    #[test]
    fn owners_say_what_kind_of_object_they_are() {
        let json = r##"{"value":[{"@odata.type":"#microsoft.graph.user","id":"cdb555e3-b33e-4fd5-a427-17fadacbdfa7","userPrincipalName":"a@contoso.com"},
            {"@odata.type":"#microsoft.graph.servicePrincipal","id":"8e881353-1735-45af-af21-ee1344582a4d","appId":"00000003-0000-0000-c000-000000000000"}],
            "@odata.nextLink":"https://graph.microsoft.com/v1.0/x?$skiptoken=1"}"##;
        let page: Page<DirectoryObject> = decode(json);
        assert!(page.value[0].is_user() && page.value[1].is_service_principal());
        assert!(page.next_link.is_some());
    }

    #[test]
    fn a_decode_error_names_the_json_path() {
        let json =
            r#"{"value":[{"id":"03ef14b0-ca33-4840-8f4f-d6e91916010e","appId":"not-a-guid"}]}"#;
        let mut de = serde_json::Deserializer::from_str(json);
        let err = serde_path_to_error::deserialize::<_, Page<Application>>(&mut de).unwrap_err();
        assert_eq!(err.path().to_string(), "value[0].appId");
    }
}
