//! `/groups` (enough to resolve the groups assigned to an app's roles, by display name or id).
//!
//! Shapes from Microsoft's group resource and its example of a security group
//! (learn.microsoft.com/graph/api/resources/groups-overview: `groupTypes: []`,
//! `mailEnabled: false`, `securityEnabled: true`); list permissions from group-list
//! (`GroupMember.Read.All`, `Group.Read.All`, `Directory.Read.All`, `Group.ReadWrite.All`,
//! `Directory.ReadWrite.All`).

use serde_json::{Value, json};

use super::{Call, Key, Reply, entity, page, perm, visible};
use crate::errors::GraphError;
use crate::odata::{self, GROUPS};
use crate::state::{Document, Object};

pub(crate) const GROUP_PROPERTIES: &[&str] = &[
    "id",
    "deletedDateTime",
    "classification",
    "createdDateTime",
    "description",
    "displayName",
    "groupTypes",
    "mail",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
    "visibility",
];

fn can_read(call: &Call) -> Result<(), GraphError> {
    call.caller.require(&[
        perm::GROUP_MEMBER_READ,
        perm::GROUP_READ,
        perm::GROUP_RW,
        perm::DIR_READ,
        perm::DIR_RW,
    ])
}

/// A security group as Graph shows one.
pub(crate) fn new_group(id: &str, display: &str, description: &str, created: &str) -> Object {
    let nickname: String = display
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    json!({
        "id": id,
        "deletedDateTime": null,
        "classification": null,
        "createdDateTime": created,
        "description": description,
        "displayName": display,
        "groupTypes": [],
        "mail": null,
        "mailEnabled": false,
        "mailNickname": nickname,
        "securityEnabled": true,
        "visibility": null,
    })
    .as_object()
    .cloned()
    .expect("object literal")
}

pub(crate) fn list(doc: &mut Document, call: &Call) -> Result<Reply, GraphError> {
    can_read(call)?;
    let q = call.query(&GROUPS)?;
    let items: Vec<Object> = visible(&doc.groups, call.now)
        .map(|e| e.object.clone())
        .filter(|o| {
            q.filter
                .as_ref()
                .is_none_or(|f| odata::eval(f, o, &|_, _| 0))
        })
        .map(|o| odata::project(&o, q.select.as_deref()))
        .collect();
    let context = call.metadata(&format!("groups{}", q.context_suffix()));
    Ok(Reply::json(200, page(call, context, items, &q)?))
}

pub(crate) fn get(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    can_read(call)?;
    let q = call.entity_query(&GROUPS)?;
    let Key::Id(id) = key else {
        return Err(GraphError::bad_request(format!(
            "'{}' is not a key of group; use the id.",
            key.describe()
        )));
    };
    let e = doc
        .groups
        .get(id.as_str())
        .filter(|e| e.visible(call.now))
        .ok_or_else(|| GraphError::not_found(id))?;
    let context = call.metadata(&format!("groups{}/$entity", q.context_suffix()));
    Ok(Reply::json(
        200,
        entity(context, odata::project(&e.object, q.select.as_deref())),
    ))
}

/// A group's summary for `directoryObjects/{id}`.
pub(crate) fn as_directory_object(o: &Object) -> Object {
    let mut o = o.clone();
    o.insert("@odata.type".into(), Value::from("#microsoft.graph.group"));
    o
}
