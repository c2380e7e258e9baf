//! `/applications`: app registrations, their owners, key credentials and federated identity
//! credentials.

use serde::Serialize;

use super::super::paging::quote;
use super::super::types::{KeyCredential, RequiredResourceAccess};
use super::{Query, Request, body};
use crate::graph::RetrySafety;
use crate::model::{AppId, FederatedCredentialId, FieldValues, KeyId, ObjectId};

// --- reads ------------------------------------------------------------------------------------

/// Every application, default properties (`keyCredentials` without the key bytes).
pub fn list() -> Request {
    Request::get("/applications")
}

/// Applications matching `filter`, default properties.
pub fn list_where(filter: &str) -> Request {
    Request::get("/applications").with_query(Query::default().filter(filter))
}

/// Who the applications matching `filter` are, and nothing more: without `$expand`, a page holds
/// 999 of them.
pub fn names_where(filter: &str) -> Request {
    Request::get("/applications").with_query(
        Query::default()
            .filter(filter)
            .select("id,appId,uniqueName,displayName,tags"),
    )
}

/// Applications matching `filter` with their federated credentials: what a plan compares.
pub fn with_federated_credentials_where(filter: &str) -> Request {
    // No `$select`: naming `keyCredentials` there returns the key bytes and is throttled at
    // 150 requests a minute per tenant; the default properties carry everything else we need.
    Request::get("/applications").with_query(
        Query::default()
            .filter(filter)
            .expand("federatedIdentityCredentials"),
    )
}

/// The owners of the applications matching `filter` (Graph expands at most 20 per app).
pub fn owners_where(filter: &str) -> Request {
    Request::get("/applications").with_query(
        Query::default()
            .filter(filter)
            .select("id")
            .expand("owners"),
    )
}

/// The `uniqueName`s taken among those `filter` names.
pub fn unique_names_where(filter: &str) -> Request {
    Request::get("/applications")
        .with_query(Query::default().filter(filter).select("id,uniqueName"))
}

/// One application, default properties: its key set without the key bytes (whose reads Graph
/// limits to 150 a minute).
pub fn get(id: ObjectId) -> Request {
    Request::get(object(id))
}

/// One application's ids and display name.
pub fn identity(id: ObjectId) -> Request {
    Request::get(object(id)).with_query(identity_select())
}

/// [`identity`] by `uniqueName`.
pub fn identity_by_unique_name(unique_name: &str) -> Request {
    Request::get(by_unique_name(unique_name)).with_query(identity_select())
}

/// [`identity`] by `appId`.
pub fn identity_by_app_id(app_id: AppId) -> Request {
    Request::get(by_app_id(app_id)).with_query(identity_select())
}

/// One application's key credentials with each certificate's bytes (`key`): Graph returns
/// `key` only to a read of one object whose `$select` names `keyCredentials` ("otherwise, it's
/// always null", keyCredential reference), and throttles such reads at 150 a minute per tenant.
pub fn with_key_certificates(id: ObjectId) -> Request {
    Request::get(object(id)).with_query(key_select())
}

/// [`with_key_certificates`] by `appId`.
pub fn with_key_certificates_by_app_id(app_id: AppId) -> Request {
    Request::get(by_app_id(app_id)).with_query(key_select())
}

/// The application's owners (users and service principals).
pub fn owners(id: ObjectId) -> Request {
    Request::get(format!("{}/owners", object(id)))
        .with_query(Query::default().select("id,userPrincipalName"))
}

/// The application's federated identity credentials.
pub fn federated_credentials(id: ObjectId) -> Request {
    Request::get(federated(id))
}

// --- writes -----------------------------------------------------------------------------------

/// `PATCH /applications(uniqueName='…')` with `Prefer: create-if-missing`: creates the app (201
/// with the object), or updates the one that holds the name (204).
pub fn upsert(unique_name: &str, application: &ApplicationWrite) -> Request {
    Request::upsert(by_unique_name(unique_name), application.body())
}

/// `PATCH /applications/{id}` with the fields to change.
pub fn update(id: ObjectId, changes: &ApplicationWrite) -> Request {
    Request::patch(object(id), changes.body(), RetrySafety::Idempotent)
}

/// `PATCH /applications/{id}` of `keyCredentials`: the whole set is replaced by `keys`, and the
/// ones kept must carry their `key` bytes.
pub fn set_key_credentials(id: ObjectId, keys: &[KeyCredential]) -> Request {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Keys<'a> {
        key_credentials: &'a [KeyCredential],
    }
    Request::patch(
        object(id),
        body(&Keys {
            key_credentials: keys,
        }),
        RetrySafety::Idempotent,
    )
}

/// `POST /applications/{id}/addPassword` `{passwordCredential: {displayName, endDateTime}}`
/// (https://learn.microsoft.com/graph/api/application-addpassword): Graph makes the secret and
/// returns its `secretText` in this answer only. A repeat would add a second secret.
pub fn add_password(id: ObjectId, display_name: &str, end: time::OffsetDateTime) -> Request {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct AddPassword<'a> {
        password_credential: PasswordCredential<'a>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct PasswordCredential<'a> {
        display_name: &'a str,
        #[serde(with = "time::serde::rfc3339")]
        end_date_time: time::OffsetDateTime,
    }
    Request::post(
        format!("{}/addPassword", object(id)),
        body(&AddPassword {
            password_credential: PasswordCredential {
                display_name,
                end_date_time: end,
            },
        }),
        RetrySafety::NotIdempotent,
    )
}

/// `POST /applications/{id}/removePassword` with the secret's `keyId`
/// (https://learn.microsoft.com/graph/api/application-removepassword).
pub fn remove_password(id: ObjectId, key_id: KeyId) -> Request {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct RemovePassword {
        key_id: KeyId,
    }
    Request::post(
        format!("{}/removePassword", object(id)),
        body(&RemovePassword { key_id }),
        RetrySafety::Idempotent,
    )
}

/// `DELETE /applications/{id}`: a soft delete, restorable for 30 days.
pub fn delete(id: ObjectId) -> Request {
    Request::delete(object(id), RetrySafety::Idempotent)
}

/// `POST /applications/{id}/owners/$ref`. `graph_resource` is the cloud's Graph root
/// (`https://graph.microsoft.com`), which the reference names.
pub fn add_owner(id: ObjectId, owner: ObjectId, graph_resource: &str) -> Request {
    #[derive(Serialize)]
    struct Reference {
        #[serde(rename = "@odata.id")]
        odata_id: String,
    }
    Request::post(
        format!("{}/owners/$ref", object(id)),
        body(&Reference {
            odata_id: format!("{graph_resource}/v1.0/directoryObjects/{owner}"),
        }),
        RetrySafety::NotIdempotent,
    )
}

/// `DELETE /applications/{id}/owners/{owner}/$ref`.
pub fn remove_owner(id: ObjectId, owner: ObjectId) -> Request {
    Request::delete(
        format!("{}/owners/{owner}/$ref", object(id)),
        RetrySafety::Idempotent,
    )
}

/// `POST /applications/{id}/federatedIdentityCredentials`.
pub fn create_federated_credential(id: ObjectId, credential: &FederatedCredentialWrite) -> Request {
    Request::post(federated(id), body(credential), RetrySafety::NotIdempotent)
}

/// `PATCH /applications/{id}/federatedIdentityCredentials/{id}` (the name cannot change).
pub fn update_federated_credential(
    id: ObjectId,
    credential: FederatedCredentialId,
    changes: &FederatedCredentialWrite,
) -> Request {
    Request::patch(
        format!("{}/{credential}", federated(id)),
        body(changes),
        RetrySafety::Idempotent,
    )
}

/// `DELETE /applications/{id}/federatedIdentityCredentials/{id}`.
pub fn delete_federated_credential(id: ObjectId, credential: FederatedCredentialId) -> Request {
    Request::delete(
        format!("{}/{credential}", federated(id)),
        RetrySafety::Idempotent,
    )
}

// --- bodies -----------------------------------------------------------------------------------

/// The application properties entraform writes, for a create (upsert) or an update. Absent
/// fields are not sent; collections are whole replacements, as Graph's PATCH treats them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationWrite {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `Some(None)` clears it (sent as `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<String>>,
    /// Set with [`ApplicationWrite::set_sign_in_audience`], which keeps `api` in step.
    #[serde(skip_serializing_if = "Option::is_none")]
    sign_in_audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api: Option<ApiApplication>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web: Option<WebRedirects>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_resource_access: Option<Vec<RequiredResourceAccess>>,
    /// Settable once, while it is null (adopting an existing app).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_name: Option<String>,
    /// The plain fields ([`crate::model::fields`]), each written at its path: `web.logoutUrl`
    /// joins the `web` above, `api.requestedAccessTokenVersion` overrides the audience's.
    #[serde(skip)]
    pub fields: FieldValues,
}

impl ApplicationWrite {
    /// The JSON body: the typed properties, then the plain fields merged in.
    fn body(&self) -> serde_json::Value {
        let mut value = body(self);
        if let serde_json::Value::Object(map) = &mut value {
            self.fields.write_into(map);
        }
        value
    }

    /// The audience, with the v2 access tokens a converged audience requires in the same write
    /// (apiApplication reference; Graph refuses it alone with 400 `InvalidAccessTokenVersion`).
    pub fn set_sign_in_audience(&mut self, audience: &str) {
        self.sign_in_audience = Some(audience.to_owned());
        if matches!(
            audience,
            "AzureADandPersonalMicrosoftAccount" | "PersonalMicrosoftAccount"
        ) {
            self.api = Some(ApiApplication {
                requested_access_token_version: 2,
            });
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiApplication {
    requested_access_token_version: u8,
}

/// `web` with only its redirect URIs (a PATCH of `web` leaves its other properties alone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebRedirects {
    pub redirect_uris: Vec<String>,
}

/// A federated identity credential's properties: all but `description` for a create; the
/// changed ones for an update (`name` never changes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredentialWrite {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
    /// `Some(None)` clears it (sent as `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<String>>,
}

// --- paths ------------------------------------------------------------------------------------

fn object(id: ObjectId) -> String {
    format!("/applications/{id}")
}

fn by_unique_name(unique_name: &str) -> String {
    format!("/applications(uniqueName={})", quote(unique_name))
}

fn by_app_id(app_id: AppId) -> String {
    format!("/applications(appId={})", quote(&app_id.to_string()))
}

fn federated(id: ObjectId) -> String {
    format!("{}/federatedIdentityCredentials", object(id))
}

fn identity_select() -> Query {
    Query::default().select("id,appId,displayName")
}

fn key_select() -> Query {
    Query::default().select("id,appId,displayName,keyCredentials")
}
