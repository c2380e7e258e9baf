//! `/users` (enough to resolve owners and principals by id or UPN), `/organization` and
//! `/directoryObjects/{id}`.

use serde_json::{Value, json};

use super::{Call, Key, Reply, count_reply, entity, page, perm, visible};
use crate::errors::GraphError;
use crate::odata::{self, USERS};
use crate::state::{Document, Object};

pub(crate) const USER_PROPERTIES: &[&str] = &[
    "id",
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "accountEnabled",
    "userType",
];

/// The properties Graph returns for a user without `$select`.
const DEFAULT_SET: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

fn can_read(call: &Call) -> Result<(), GraphError> {
    call.caller
        .require(&[perm::USER_READ, perm::USER_RW, perm::DIR_READ, perm::DIR_RW])
}

fn shown(o: &Object, select: Option<&[String]>) -> Object {
    match select {
        Some(sel) => odata::project(o, Some(sel)),
        None => DEFAULT_SET
            .iter()
            .map(|k| (k.to_string(), o.get(*k).cloned().unwrap_or(Value::Null)))
            .collect(),
    }
}

pub(crate) fn new_user(id: &str, upn: &str, display: &str, given: &str, surname: &str) -> Object {
    json!({
        "id": id,
        "businessPhones": [],
        "displayName": display,
        "givenName": given,
        "jobTitle": null,
        "mail": upn,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": "en-US",
        "surname": surname,
        "userPrincipalName": upn,
        "accountEnabled": true,
        "userType": "Member",
    })
    .as_object()
    .cloned()
    .expect("object literal")
}

pub(crate) fn list(doc: &mut Document, call: &Call) -> Result<Reply, GraphError> {
    can_read(call)?;
    let q = call.query(&USERS)?;
    let items: Vec<Object> = visible(&doc.users, call.now)
        .map(|e| e.object.clone())
        .filter(|o| {
            q.filter
                .as_ref()
                .is_none_or(|f| odata::eval(f, o, &|_, _| 0))
        })
        .filter(|o| {
            q.search
                .as_ref()
                .is_none_or(|t| odata::search_matches(o, t))
        })
        .map(|o| shown(&o, q.select.as_deref()))
        .collect();
    let context = call.metadata(&format!("users{}", q.context_suffix()));
    Ok(Reply::json(200, page(call, context, items, &q)?))
}

pub(crate) fn count(doc: &mut Document, call: &Call) -> Result<Reply, GraphError> {
    can_read(call)?;
    count_reply(call, || visible(&doc.users, call.now).count())
}

pub(crate) fn get(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    can_read(call)?;
    let q = call.entity_query(&USERS)?;
    let Key::Id(id) = key else {
        return Err(GraphError::bad_request(format!(
            "'{}' is not a key of user; use the id or userPrincipalName.",
            key.describe()
        )));
    };
    let e = visible(&doc.users, call.now)
        .find(|e| e.str("id") == id || e.str("userPrincipalName").eq_ignore_ascii_case(id))
        .ok_or_else(|| GraphError::not_found(id))?;
    let context = call.metadata(&format!("users{}/$entity", q.context_suffix()));
    Ok(Reply::json(
        200,
        entity(context, shown(&e.object, q.select.as_deref())),
    ))
}

/// `GET /organization`. Application permissions: `Organization.Read.All` (least), or
/// `Directory.Read.All`, `Organization.ReadWrite.All`, `Directory.ReadWrite.All`, and no other
/// (microsoft-graph-docs-contrib api-reference/v1.0/includes/permissions/
/// organization-get-permissions.md).
pub(crate) fn organization(doc: &mut Document, call: &Call) -> Result<Reply, GraphError> {
    call.caller
        .require(&[perm::ORG_READ, perm::DIR_READ, perm::ORG_RW, perm::DIR_RW])?;
    let t = &doc.tenant;
    Ok(Reply::json(
        200,
        json!({
            "@odata.context": call.metadata("organization"),
            "value": [{
                "id": t.id,
                "displayName": t.display_name,
                "tenantType": "AAD",
                "verifiedDomains": [{
                    "capabilities": "Email, OfficeCommunicationsOnline",
                    "isDefault": true,
                    "isInitial": true,
                    "name": t.domain,
                    "type": "Managed"
                }]
            }]
        }),
    ))
}

pub(crate) fn directory_object(
    doc: &mut Document,
    call: &Call,
    id: &str,
) -> Result<Reply, GraphError> {
    call.caller.can_read_apps()?;
    let o = super::directory_object(doc, id, call.now).ok_or_else(|| GraphError::not_found(id))?;
    Ok(Reply::json(
        200,
        entity(call.metadata("directoryObjects/$entity"), o),
    ))
}
