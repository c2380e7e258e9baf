//! `/oauth2PermissionGrants`: delegated permissions consented for a client on an API.

use serde::Serialize;

use super::{Query, Request, body};
use crate::graph::RetrySafety;
use crate::model::ObjectId;

/// One grant.
pub fn get(id: &str) -> Request {
    Request::get(object(id))
}

/// The grants whose client is the service principal `client`.
pub fn of_client(client: ObjectId) -> Request {
    Request::get("/oauth2PermissionGrants")
        .with_query(Query::default().filter(&super::filter::client_id_is(&client.to_string())))
}

/// [`of_client`] with only the properties a plan reads: `$select` makes each read cost one
/// resource unit instead of two ("Identity and access service limits", Microsoft Graph
/// throttling limits), and a plan of 10,000 apps reads 10,000 of them.
pub fn of_client_compared(client: ObjectId) -> Request {
    Request::get("/oauth2PermissionGrants").with_query(
        Query::default()
            .filter(&super::filter::client_id_is(&client.to_string()))
            .select("id,clientId,consentType,principalId,resourceId,scope"),
    )
}

/// `POST /oauth2PermissionGrants` with `consentType: AllPrincipals`: admin consent, for
/// everyone in the tenant, to `scope` (space-separated) of the API `resource`.
pub fn grant_for_all_principals(client: ObjectId, resource: ObjectId, scope: &str) -> Request {
    Request::post(
        "/oauth2PermissionGrants",
        body(&GrantWrite {
            client_id: client,
            consent_type: "AllPrincipals",
            resource_id: resource,
            scope,
        }),
        RetrySafety::NotIdempotent,
    )
}

/// `PATCH /oauth2PermissionGrants/{id}`: the grant's whole scope becomes `scope`.
pub fn set_scope(id: &str, scope: &str) -> Request {
    #[derive(Serialize)]
    struct Scope<'a> {
        scope: &'a str,
    }
    Request::patch(object(id), body(&Scope { scope }), RetrySafety::Idempotent)
}

/// `DELETE /oauth2PermissionGrants/{id}`.
pub fn delete(id: &str) -> Request {
    Request::delete(object(id), RetrySafety::Idempotent)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GrantWrite<'a> {
    client_id: ObjectId,
    consent_type: &'static str,
    resource_id: ObjectId,
    scope: &'a str,
}

fn object(id: &str) -> String {
    format!("/oauth2PermissionGrants/{id}")
}
