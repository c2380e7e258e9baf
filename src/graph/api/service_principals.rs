//! `/servicePrincipals`: an application's presence in the tenant (enterprise app), the APIs
//! permissions name, and the app roles assigned to a principal.

use serde::Serialize;

use super::super::paging::quote;
use super::{Query, Request, body};
use crate::graph::RetrySafety;
use crate::model::fields::{self, On};
use crate::model::{AppId, FieldValues, ObjectId, PermissionId};

/// What export writes about a service principal besides what a plan compares.
const SETTINGS: &str = "id,appId,accountEnabled,appRoleAssignmentRequired,tags,notes,\
preferredSingleSignOnMode,loginUrl,logoutUrl,homepage,notificationEmailAddresses,passwordCredentials";

// --- reads ------------------------------------------------------------------------------------

/// APIs (resource service principals) matching `filter`, with the app roles and delegated
/// scopes permissions are resolved against.
pub fn resources_where(filter: &str) -> Request {
    Request::get("/servicePrincipals").with_query(
        Query::default()
            .filter(filter)
            .select("id,appId,displayName,appRoles,oauth2PermissionScopes"),
    )
}

/// Service principals matching `filter` with the app roles assigned to them (Graph expands at
/// most 20 per principal).
pub fn with_app_role_assignments_where(filter: &str) -> Request {
    let mut select = vec!["id", "appId"];
    for property in fields::top_level_properties(On::ServicePrincipal) {
        if !select.contains(&property) {
            select.push(property);
        }
    }
    Request::get("/servicePrincipals").with_query(
        Query::default()
            .filter(filter)
            .select(&select.join(","))
            .expand("appRoleAssignments"),
    )
}

/// Service principals matching `filter`, with the settings export writes.
pub fn settings_where(filter: &str) -> Request {
    Request::get("/servicePrincipals").with_query(Query::default().filter(filter).select(SETTINGS))
}

/// The ids of the service principals matching `filter`.
pub fn ids_where(filter: &str) -> Request {
    Request::get("/servicePrincipals")
        .with_query(Query::default().filter(filter).select("id,appId"))
}

/// Service principals with exactly this display name (an API named in a manifest; several
/// may share it).
pub fn named(display_name: &str) -> Request {
    Request::get("/servicePrincipals").with_query(
        Query::default()
            .filter(&super::filter::display_name_is(display_name))
            .select("id,appId,displayName"),
    )
}

/// One service principal's ids.
pub fn identity(id: ObjectId) -> Request {
    Request::get(object(id)).with_query(Query::default().select("id,appId"))
}

/// [`identity`] by the application's `appId`.
pub fn identity_by_app_id(app_id: AppId) -> Request {
    Request::get(by_app_id(app_id)).with_query(Query::default().select("id,appId"))
}

/// The app roles assigned to the service principal `id` (its application permissions).
pub fn app_role_assignments(id: ObjectId) -> Request {
    Request::get(format!("{}/appRoleAssignments", object(id)))
}

/// Who is assigned to the roles of the service principal `id` (users, groups, and service
/// principals holding its roles as application permissions).
pub fn app_roles_assigned_to(id: ObjectId) -> Request {
    Request::get(format!("{}/appRoleAssignedTo", object(id)))
}

/// The applications the service principal `id` owns.
pub fn owned_applications(id: ObjectId) -> Request {
    Request::get(format!(
        "{}/ownedObjects/microsoft.graph.application",
        object(id)
    ))
    .with_query(Query::default().select("id"))
}

// --- writes -----------------------------------------------------------------------------------

/// `PATCH /servicePrincipals(appId='…')` with `Prefer: create-if-missing`: creates the
/// application's service principal (201), or finds the one that exists (204).
pub fn upsert(app_id: AppId, service_principal: &ServicePrincipalWrite) -> Request {
    Request::upsert(by_app_id(app_id), body(service_principal))
}

/// `PATCH /servicePrincipals/{id}` with the fields to change.
pub fn update(id: ObjectId, changes: &ServicePrincipalWrite) -> Request {
    Request::patch(object(id), body(changes), RetrySafety::Idempotent)
}

/// `DELETE /servicePrincipals/{id}`.
pub fn delete(id: ObjectId) -> Request {
    Request::delete(object(id), RetrySafety::Idempotent)
}

/// `POST /servicePrincipals/{resource}/appRoleAssignedTo`: grants an app role of `resource`
/// (an application permission, admin consent) to a principal.
pub fn assign_app_role(resource: ObjectId, assignment: &AppRoleAssignmentWrite) -> Request {
    Request::post(
        format!("{}/appRoleAssignedTo", object(resource)),
        body(assignment),
        RetrySafety::NotIdempotent,
    )
}

/// `DELETE /servicePrincipals/{resource}/appRoleAssignedTo/{assignment}`.
pub fn remove_app_role_assignment(resource: ObjectId, assignment: &str) -> Request {
    Request::delete(
        format!("{}/appRoleAssignedTo/{assignment}", object(resource)),
        RetrySafety::Idempotent,
    )
}

// --- bodies -----------------------------------------------------------------------------------

/// The body of the service principal upsert (what Graph's serviceprincipal-upsert example
/// sends, the display name: the application's) or update, with the plain fields
/// ([`crate::model::fields`]) at their paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipalWrite {
    pub display_name: Option<String>,
    pub fields: FieldValues,
}

impl Serialize for ServicePrincipalWrite {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut body = serde_json::Map::new();
        if let Some(name) = &self.display_name {
            body.insert("displayName".into(), name.clone().into());
        }
        self.fields.write_into(&mut body);
        body.serialize(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignmentWrite {
    pub principal_id: ObjectId,
    pub resource_id: ObjectId,
    pub app_role_id: PermissionId,
}

// --- paths ------------------------------------------------------------------------------------

fn object(id: ObjectId) -> String {
    format!("/servicePrincipals/{id}")
}

fn by_app_id(app_id: AppId) -> String {
    format!("/servicePrincipals(appId={})", quote(&app_id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upsert_body_carries_what_graphs_example_sends() {
        let example: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/graph-examples/serviceprincipals-upsert-create.request.json"
        ))
        .unwrap();
        let ours = body(&ServicePrincipalWrite {
            display_name: Some("Exo_V2_App".into()),
            fields: FieldValues::default(),
        });
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&ours), keys(&example));
        assert_eq!(ours["displayName"], "Exo_V2_App");
    }
}
