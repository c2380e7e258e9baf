//! App role assignments (application permissions, i.e. admin consent), from both sides:
//! `/servicePrincipals/{resource}/appRoleAssignedTo` and
//! `/servicePrincipals/{principal}/appRoleAssignments`.

use serde_json::{Value, json};

use super::{Call, Reply, entity, page, perm, sps};
use super::{filter_project, only_properties};
use crate::errors::GraphError;
use crate::odata::APP_ROLE_ASSIGNMENTS;
use crate::state::{Document, Entry, Object};
use crate::{iso_ticks, random_b64url};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// `appRoleAssignedTo`: assignments *to* this resource.
    Resource,
    /// `appRoleAssignments`: assignments *of* this principal.
    Principal,
}

/// The visible assignments whose `prop` (`principalId` or `resourceId`) is `id`.
fn select<'a>(
    doc: &'a Document,
    now: i64,
    prop: &'a str,
    id: &'a str,
) -> impl Iterator<Item = &'a Object> {
    doc.app_role_assignments
        .find_by(prop, id)
        .filter(move |a| a.visible(now) && a.str(prop) == id)
        .map(|a| &a.object)
}

pub(crate) fn of_principal(doc: &Document, principal: &str, now: i64) -> Vec<Object> {
    select(doc, now, "principalId", principal)
        .cloned()
        .collect()
}

pub(crate) fn of_resource(doc: &Document, resource: &str, now: i64) -> Vec<Object> {
    select(doc, now, "resourceId", resource).cloned().collect()
}

/// The display name and type of a principal that can hold an app role.
fn principal(doc: &Document, id: &str, now: i64) -> Option<(String, &'static str)> {
    if let Some(sp) = doc.service_principals.get(id).filter(|e| e.visible(now)) {
        return Some((sp.str("displayName").to_string(), "ServicePrincipal"));
    }
    if let Some(u) = doc.users.get(id).filter(|e| e.visible(now)) {
        return Some((u.str("displayName").to_string(), "User"));
    }
    doc.groups
        .get(id)
        .filter(|e| e.visible(now))
        .map(|g| (g.str("displayName").to_string(), "Group"))
}

/// Creates an assignment after Graph's checks; shared by both sides and by seeding.
pub(crate) fn assign(
    doc: &mut Document,
    principal_id: &str,
    resource_id: &str,
    app_role_id: &str,
    now: i64,
    visible_at: i64,
) -> Result<Object, GraphError> {
    let (principal_name, principal_type) =
        principal(doc, principal_id, now).ok_or_else(|| GraphError::not_found(principal_id))?;
    let resource = doc
        .service_principals
        .get(resource_id)
        .filter(|e| e.visible(now))
        .ok_or_else(|| GraphError::not_found(resource_id))?;
    let rendered = sps::render(doc, resource);
    // Users and groups hold roles whose allowedMemberTypes has `User` (appRole resource:
    // "User" = users and groups), service principals those with `Application`.
    let member_type = if principal_type == "ServicePrincipal" {
        "Application"
    } else {
        "User"
    };
    let default_role = app_role_id == "00000000-0000-0000-0000-000000000000";
    let role_ok = default_role
        || rendered["appRoles"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| {
                r["id"]
                    .as_str()
                    .is_some_and(|i| i.eq_ignore_ascii_case(app_role_id))
                    && r["isEnabled"] == json!(true)
                    && r["allowedMemberTypes"]
                        .as_array()
                        .is_some_and(|t| t.iter().any(|x| x == member_type))
            });
    if !role_ok {
        return Err(GraphError::bad_request(format!(
            "Permission being assigned was not found on application '{}'.",
            resource.str("appId")
        )));
    }
    let exists = doc.app_role_assignments.values().any(|a| {
        a.str("principalId") == principal_id
            && a.str("resourceId") == resource_id
            && a.str("appRoleId").eq_ignore_ascii_case(app_role_id)
    });
    if exists {
        return Err(GraphError::bad_request(
            "Permission being assigned already exists on the object.",
        ));
    }
    let id = random_b64url(32);
    let obj = json!({
        "id": id,
        "deletedDateTime": null,
        "appRoleId": app_role_id.to_lowercase(),
        "createdDateTime": iso_ticks(now),
        "principalDisplayName": principal_name,
        "principalId": principal_id,
        "principalType": principal_type,
        "resourceDisplayName": resource.str("displayName"),
        "resourceId": resource_id,
    });
    let obj = obj.as_object().cloned().expect("object literal");
    doc.app_role_assignments
        .insert(id, Entry::new(obj.clone(), visible_at));
    Ok(obj)
}

pub(crate) fn route(
    doc: &mut Document,
    call: &Call,
    sp_id: &str,
    side: Side,
    rest: &[&str],
) -> Result<Reply, GraphError> {
    let rel = match side {
        Side::Resource => "appRoleAssignedTo",
        Side::Principal => "appRoleAssignments",
    };
    let belongs = |a: &Entry| match side {
        Side::Resource => a.str("resourceId") == sp_id,
        Side::Principal => a.str("principalId") == sp_id,
    };
    match (call.method, rest) {
        ("GET", []) => {
            call.caller.require(&[
                perm::APP_READ,
                perm::APP_RW,
                perm::APP_OWNED,
                perm::DIR_READ,
                perm::DIR_RW,
                perm::ASSIGN_RW,
            ])?;
            let q = call.query(&APP_ROLE_ASSIGNMENTS)?;
            let prop = match side {
                Side::Resource => "resourceId",
                Side::Principal => "principalId",
            };
            let items = filter_project(select(doc, call.now, prop, sp_id), &q);
            let context = call.metadata(&format!(
                "servicePrincipals('{sp_id}')/{rel}{}",
                q.context_suffix()
            ));
            Ok(Reply::json(200, page(call, context, items, &q)?))
        }
        ("POST", []) => {
            call.caller.require(&[perm::ASSIGN_RW])?;
            let body = call.json_body()?;
            only_properties(&body, &["principalId", "resourceId", "appRoleId"])?;
            let field = |name: &str| -> Result<String, GraphError> {
                body.get(name)
                    .and_then(Value::as_str)
                    .filter(|s| crate::is_guid(s))
                    .map(str::to_lowercase)
                    .ok_or_else(|| GraphError::invalid_value(name))
            };
            let (principal_id, resource_id, role) = (
                field("principalId")?,
                field("resourceId")?,
                field("appRoleId")?,
            );
            let consistent = match side {
                Side::Resource => resource_id == sp_id,
                Side::Principal => principal_id == sp_id,
            };
            if !consistent {
                return Err(GraphError::bad_request(format!(
                    "The {} in the request body does not match the service principal in the URL.",
                    if side == Side::Resource {
                        "resourceId"
                    } else {
                        "principalId"
                    }
                )));
            }
            let obj = assign(
                doc,
                &principal_id,
                &resource_id,
                &role,
                call.now,
                call.visible_at(),
            )?;
            let context = match side {
                Side::Resource => call.metadata(&format!(
                    "servicePrincipals('{sp_id}')/appRoleAssignedTo/$entity"
                )),
                Side::Principal => call.metadata("appRoleAssignments/$entity"),
            };
            let id = obj["id"].as_str().unwrap_or_default().to_string();
            Ok(Reply::created(
                entity(context, obj),
                format!("{}/v1.0/servicePrincipals/{sp_id}/{rel}/{id}", call.base),
            ))
        }
        ("GET", [id]) => {
            call.caller.require(&[
                perm::APP_READ,
                perm::APP_RW,
                perm::DIR_READ,
                perm::ASSIGN_RW,
            ])?;
            let a = doc
                .app_role_assignments
                .get(id)
                .filter(|a| a.visible(call.now) && belongs(a))
                .ok_or_else(|| GraphError::not_found(id))?;
            let context = call.metadata(&format!("servicePrincipals('{sp_id}')/{rel}/$entity"));
            Ok(Reply::json(200, entity(context, a.object.clone())))
        }
        ("DELETE", [id]) => {
            call.caller.require(&[perm::ASSIGN_RW])?;
            match doc.app_role_assignments.get(id) {
                Some(a) if a.visible(call.now) && belongs(a) => {
                    doc.app_role_assignments.remove(id);
                    Ok(Reply::no_content())
                }
                _ => Err(GraphError::not_found(id)),
            }
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}
