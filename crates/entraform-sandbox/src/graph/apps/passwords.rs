//! Client secrets: `addPassword` and `removePassword`.

use serde_json::{Map, Value, json};

use super::{find, key_id_of, remove_credential};
use crate::errors::GraphError;
use crate::graph::{Call, Key, Reply, entity};
use crate::state::{Document, StoredSecret};
use crate::{iso, new_guid, parse_iso};

pub(super) fn add_password(
    doc: &mut Document,
    call: &Call,
    key: &Key,
) -> Result<Reply, GraphError> {
    let e = find(doc, key, call.now)?;
    call.caller.can_write(&e.owners)?;
    let body = call.json_body()?;
    let pc = match body.get("passwordCredential") {
        Some(Value::Object(m)) => m.clone(),
        None | Some(Value::Null) => Map::new(),
        _ => return Err(GraphError::invalid_value("passwordCredential")),
    };
    let date = |name: &str, default: i64| match pc.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) => parse_iso(s).ok_or_else(|| GraphError::invalid_value(name)),
        _ => Err(GraphError::invalid_value(name)),
    };
    let start = date("startDateTime", call.now)?;
    let end = date("endDateTime", call.now + 2 * 365 * 24 * 3600 * 1000)?;
    let secret = new_secret_text();
    let key_id = new_guid();
    let stored = json!({
        "customKeyIdentifier": null,
        "displayName": pc.get("displayName").cloned().unwrap_or(Value::Null),
        "endDateTime": iso(end),
        "hint": &secret[..3],
        "keyId": key_id,
        "secretText": null,
        "startDateTime": iso(start),
    });
    let id = e.str("id").to_string();
    let mut entry = doc.applications.get_mut(&id).expect("found above");
    entry
        .object
        .entry("passwordCredentials")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .expect("passwordCredentials is an array")
        .push(stored.clone());
    entry.secrets.push(StoredSecret {
        key_id: key_id.clone(),
        text: secret.clone(),
    });
    let mut shown = stored.as_object().cloned().expect("object literal");
    shown.insert("secretText".into(), json!(secret));
    let context = call.metadata("microsoft.graph.passwordCredential");
    Ok(Reply::json(200, entity(context, shown)))
}

pub(super) fn remove_password(
    doc: &mut Document,
    call: &Call,
    key: &Key,
) -> Result<Reply, GraphError> {
    let e = find(doc, key, call.now)?;
    call.caller.can_write(&e.owners)?;
    let body = call.json_body()?;
    let key_id = key_id_of(&body)?;
    let id = e.str("id").to_string();
    remove_credential(doc, &id, "passwordCredentials", &key_id)?;
    let mut entry = doc.applications.get_mut(&id).expect("found above");
    entry.secrets.retain(|s| s.key_id != key_id);
    Ok(Reply::no_content())
}

/// A client secret in the shape Entra generates (40 characters, `~` in the fourth place).
pub(crate) fn new_secret_text() -> String {
    let raw = crate::random_b64url(30).replace(['-', '_'], "x");
    format!("{}{}Q~{}", &raw[..3], "8", &raw[3..37])
}
