//! `/oauth2PermissionGrants`: delegated permissions (create, list with `$filter`, get, update
//! of `scope`, delete).

use serde_json::{Value, json};

use super::{Call, Key, Reply, entity, page, perm};
use super::{filter_project, only_properties};
use crate::errors::GraphError;
use crate::odata::{self, PERMISSION_GRANTS};
use crate::state::{Document, Entry};
use crate::{is_guid, random_b64url};

fn can_read(call: &Call) -> Result<(), GraphError> {
    call.caller
        .require(&[perm::GRANT_RW, perm::DIR_READ, perm::DIR_RW])
}

fn check_scope(v: Option<&Value>) -> Result<String, GraphError> {
    match v {
        Some(Value::String(s)) if s.len() <= 3850 => Ok(s.clone()),
        _ => Err(GraphError::invalid_value("scope")),
    }
}

/// `GET /oauth2PermissionGrants`.
pub(crate) fn list(doc: &Document, call: &Call) -> Result<Reply, GraphError> {
    can_read(call)?;
    let q = call.query(&PERMISSION_GRANTS)?;
    let items = filter_project(
        doc.oauth2_permission_grants
            .candidates(q.filter.as_ref(), &crate::collection::no_extra)
            .filter(|e| e.visible(call.now))
            .map(|e| &e.object),
        &q,
    );
    let context = call.metadata(&format!("oauth2PermissionGrants{}", q.context_suffix()));
    Ok(Reply::json(200, page(call, context, items, &q)?))
}

pub(crate) fn route(
    doc: &mut Document,
    call: &Call,
    key: Option<Key>,
    rest: &[&str],
) -> Result<Reply, GraphError> {
    let key = match key {
        None => None,
        Some(Key::Id(id)) => Some(id),
        Some(k) => {
            return Err(GraphError::bad_request(format!(
                "'{}' is not a key of oAuth2PermissionGrant.",
                k.describe()
            )));
        }
    };
    if !rest.is_empty() {
        return Err(GraphError::no_route(call.path));
    }
    match (call.method, key) {
        ("GET", None) => list(doc, call),
        ("POST", None) => {
            call.caller.require(&[perm::GRANT_RW])?;
            let body = call.json_body()?;
            only_properties(
                &body,
                &[
                    "clientId",
                    "consentType",
                    "principalId",
                    "resourceId",
                    "scope",
                ],
            )?;
            let guid = |k: &str| -> Result<String, GraphError> {
                body.get(k)
                    .and_then(Value::as_str)
                    .filter(|s| is_guid(s))
                    .map(str::to_lowercase)
                    .ok_or_else(|| GraphError::invalid_value(k))
            };
            let client = guid("clientId")?;
            let resource = guid("resourceId")?;
            let consent = body
                .get("consentType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let principal = match consent {
                "AllPrincipals" => {
                    if !matches!(body.get("principalId"), None | Some(Value::Null)) {
                        return Err(GraphError::bad_request(
                            "principalId must be null when consentType is AllPrincipals.",
                        ));
                    }
                    Value::Null
                }
                "Principal" => {
                    let p = guid("principalId")?;
                    if !doc.users.get(&p).is_some_and(|u| u.visible(call.now)) {
                        return Err(GraphError::not_found(&p));
                    }
                    json!(p)
                }
                _ => return Err(GraphError::invalid_value("consentType")),
            };
            let scope = check_scope(body.get("scope"))?;
            for sp in [&client, &resource] {
                if !doc
                    .service_principals
                    .get(sp)
                    .is_some_and(|e| e.visible(call.now))
                {
                    // A 400, not a 404, with the not-found text (terraform-provider-azuread
                    // retries it for a fresh service principal: internal/services/
                    // serviceprincipals/service_principal_delegated_permission_grant_resource.go).
                    let mut e = GraphError::not_found(sp);
                    e.status = 400;
                    e.code = "Request_BadRequest".into();
                    return Err(e);
                }
            }
            let duplicate = doc.oauth2_permission_grants.values().any(|g| {
                g.str("clientId") == client
                    && g.str("resourceId") == resource
                    && g.str("consentType") == consent
                    && g.object.get("principalId") == Some(&principal)
            });
            if duplicate {
                return Err(GraphError::new(
                    409,
                    "Request_MultipleObjectsWithSameKeyValue",
                    "Permission entry already exists.",
                ));
            }
            let id = random_b64url(48);
            let obj = json!({
                "clientId": client,
                "consentType": consent,
                "id": id,
                "principalId": principal,
                "resourceId": resource,
                "scope": scope,
            })
            .as_object()
            .cloned()
            .expect("object literal");
            doc.oauth2_permission_grants
                .insert(id.clone(), Entry::new(obj.clone(), call.visible_at()));
            Ok(Reply::created(
                entity(call.metadata("oauth2PermissionGrants/$entity"), obj),
                format!("{}/v1.0/oauth2PermissionGrants/{id}", call.base),
            ))
        }
        ("GET", Some(id)) => {
            can_read(call)?;
            let q = call.entity_query(&PERMISSION_GRANTS)?;
            let e = doc
                .oauth2_permission_grants
                .get(&id)
                .filter(|e| e.visible(call.now))
                .ok_or_else(|| GraphError::not_found(&id))?;
            Ok(Reply::json(
                200,
                entity(
                    call.metadata(&format!(
                        "oauth2PermissionGrants{}/$entity",
                        q.context_suffix()
                    )),
                    odata::project(&e.object, q.select.as_deref()),
                ),
            ))
        }
        ("PATCH", Some(id)) => {
            call.caller.require(&[perm::GRANT_RW])?;
            let body = call.json_body()?;
            for k in body.keys() {
                if k != "scope" {
                    return Err(GraphError::read_only(k));
                }
            }
            let scope = check_scope(body.get("scope"))?;
            match doc.oauth2_permission_grants.get_mut(&id) {
                Some(mut e) if e.visible(call.now) => {
                    e.object.insert("scope".into(), json!(scope));
                    Ok(Reply::no_content())
                }
                _ => Err(GraphError::not_found(&id)),
            }
        }
        ("DELETE", Some(id)) => {
            call.caller.require(&[perm::GRANT_RW])?;
            match doc.oauth2_permission_grants.get(&id) {
                Some(e) if e.visible(call.now) => {
                    doc.oauth2_permission_grants.remove(&id);
                    Ok(Reply::no_content())
                }
                _ => Err(GraphError::not_found(&id)),
            }
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}
