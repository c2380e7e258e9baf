//! `/roleManagement/directory`: built-in role definitions (id == templateId) and role
//! assignments (create, list with `$filter` on principalId / roleDefinitionId, get, delete).

use serde_json::{Value, json};

use super::{Call, Reply, entity, page, perm};
use super::{filter_project, only_properties};
use crate::errors::GraphError;
use crate::odata::{self, ROLE_ASSIGNMENTS, ROLE_DEFINITIONS};
use crate::random_b64url;
use crate::state::{Document, Entry, Object};

fn can_read(call: &Call) -> Result<(), GraphError> {
    call.caller
        .require(&[perm::ROLE_READ, perm::ROLE_RW, perm::DIR_READ, perm::DIR_RW])
}

pub(crate) fn definitions(doc: &Document, call: &Call, rest: &[&str]) -> Result<Reply, GraphError> {
    can_read(call)?;
    if call.method != "GET" {
        return Err(GraphError::method_not_allowed());
    }
    match rest {
        [] => {
            let q = call.query(&ROLE_DEFINITIONS)?;
            let items = filter_project(doc.role_definitions.values().map(|e| &e.object), &q);
            let context = call.metadata(&format!(
                "roleManagement/directory/roleDefinitions{}",
                q.context_suffix()
            ));
            Ok(Reply::json(200, page(call, context, items, &q)?))
        }
        [id] => {
            let q = call.entity_query(&ROLE_DEFINITIONS)?;
            let e = doc
                .role_definitions
                .get(&id.to_lowercase())
                .ok_or_else(|| GraphError::not_found(id))?;
            let context = call.metadata(&format!(
                "roleManagement/directory/roleDefinitions{}/$entity",
                q.context_suffix()
            ));
            Ok(Reply::json(
                200,
                entity(context, odata::project(&e.object, q.select.as_deref())),
            ))
        }
        _ => Err(GraphError::no_route(call.path)),
    }
}

/// A stored assignment as lists show it (`resourceScope` included).
fn listed(o: &Object) -> Object {
    let mut out = serde_json::Map::new();
    for k in [
        "id",
        "principalId",
        "resourceScope",
        "directoryScopeId",
        "roleDefinitionId",
    ] {
        match k {
            "resourceScope" => {
                out.insert(
                    k.into(),
                    o.get("directoryScopeId").cloned().unwrap_or(json!("/")),
                );
            }
            _ => {
                out.insert(k.into(), o.get(k).cloned().unwrap_or(Value::Null));
            }
        }
    }
    out
}

/// Creates a role assignment after Graph's checks; shared with seeding.
pub(crate) fn assign(
    doc: &mut Document,
    role_definition_id: &str,
    principal_id: &str,
    scope: &str,
    now: i64,
    visible_at: i64,
) -> Result<Object, GraphError> {
    let role = role_definition_id.to_lowercase();
    if !doc.role_definitions.contains_key(&role) {
        return Err(GraphError::not_found(role_definition_id));
    }
    let principal_ok = doc
        .service_principals
        .get(principal_id)
        .is_some_and(|e| e.visible(now))
        || doc.users.get(principal_id).is_some_and(|e| e.visible(now));
    if !principal_ok {
        return Err(GraphError::not_found(principal_id));
    }
    let duplicate = doc.role_assignments.values().any(|a| {
        a.str("principalId") == principal_id
            && a.str("roleDefinitionId") == role
            && a.str("directoryScopeId") == scope
    });
    if duplicate {
        return Err(GraphError::bad_request(
            "A conflicting object with one or more of the specified property values is present in the directory.",
        ));
    }
    let id = format!("{}-1", random_b64url(32));
    let obj = json!({
        "id": id,
        "roleDefinitionId": role,
        "principalId": principal_id,
        "directoryScopeId": scope,
    })
    .as_object()
    .cloned()
    .expect("object literal");
    doc.role_assignments
        .insert(id, Entry::new(obj.clone(), visible_at));
    Ok(obj)
}

/// `GET /roleManagement/directory/roleAssignments`.
pub(crate) fn list_assignments(doc: &Document, call: &Call) -> Result<Reply, GraphError> {
    can_read(call)?;
    let q = call.query(&ROLE_ASSIGNMENTS)?;
    let items = filter_project(
        doc.role_assignments
            .candidates(q.filter.as_ref(), &crate::collection::no_extra)
            .filter(|e| e.visible(call.now))
            .map(|e| listed(&e.object)),
        &q,
    );
    let context = call.metadata(&format!(
        "roleManagement/directory/roleAssignments{}",
        q.context_suffix()
    ));
    Ok(Reply::json(200, page(call, context, items, &q)?))
}

pub(crate) fn assignments(
    doc: &mut Document,
    call: &Call,
    rest: &[&str],
) -> Result<Reply, GraphError> {
    match (call.method, rest) {
        ("GET", []) => list_assignments(doc, call),
        ("POST", []) => {
            call.caller.require(&[perm::ROLE_RW])?;
            let body = call.json_body()?;
            only_properties(
                &body,
                &[
                    "roleDefinitionId",
                    "principalId",
                    "directoryScopeId",
                    "appScopeId",
                ],
            )?;
            let get = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
            let role = get("roleDefinitionId")
                .filter(|s| crate::is_guid(s))
                .ok_or_else(|| GraphError::invalid_value("roleDefinitionId"))?;
            let principal = get("principalId")
                .filter(|s| crate::is_guid(s))
                .ok_or_else(|| GraphError::invalid_value("principalId"))?
                .to_lowercase();
            let scope = match (get("directoryScopeId"), get("appScopeId")) {
                (Some(s), None) => s,
                _ => {
                    return Err(GraphError::bad_request(
                        "Exactly one of directoryScopeId and appScopeId must be provided.",
                    ));
                }
            };
            if !scope.starts_with('/') {
                return Err(GraphError::invalid_value("directoryScopeId"));
            }
            let obj = assign(doc, &role, &principal, &scope, call.now, call.visible_at())?;
            let id = obj["id"].as_str().unwrap_or_default().to_string();
            let context = call.metadata("roleManagement/directory/roleAssignments/$entity");
            Ok(Reply::created(
                entity(context, obj),
                format!(
                    "{}/v1.0/roleManagement/directory/roleAssignments/{id}",
                    call.base
                ),
            ))
        }
        ("GET", [id]) => {
            can_read(call)?;
            let q = call.entity_query(&ROLE_ASSIGNMENTS)?;
            let e = doc
                .role_assignments
                .get(id)
                .filter(|e| e.visible(call.now))
                .ok_or_else(|| GraphError::not_found(id))?;
            let context = call.metadata(&format!(
                "roleManagement/directory/roleAssignments{}/$entity",
                q.context_suffix()
            ));
            Ok(Reply::json(
                200,
                entity(
                    context,
                    odata::project(&listed(&e.object), q.select.as_deref()),
                ),
            ))
        }
        ("DELETE", [id]) => {
            call.caller.require(&[perm::ROLE_RW])?;
            match doc.role_assignments.get(id) {
                Some(e) if e.visible(call.now) => {
                    doc.role_assignments.remove(id);
                    Ok(Reply::no_content())
                }
                _ => Err(GraphError::not_found(id)),
            }
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}
