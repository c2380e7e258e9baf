//! Federated identity credentials under `/applications/{key}/federatedIdentityCredentials`.

use serde_json::{Map, Value, json};

use super::find;
use crate::errors::GraphError;
use crate::graph::{Call, Key, Reply, entity, page};
use crate::graph::{filter_project, only_properties};
use crate::new_guid;
use crate::odata::{self, FEDERATED_CREDENTIALS};
use crate::state::{Document, Entry, Object};

const FIC_MAX: usize = 20;

fn fic_check(body: &Object, existing: Option<&Object>) -> Result<Object, GraphError> {
    only_properties(
        body,
        &[
            "id",
            "name",
            "issuer",
            "subject",
            "audiences",
            "description",
        ],
    )?;
    let mut out = existing.cloned().unwrap_or_default();
    let text = |name: &str, max: usize, required: bool| -> Result<Option<String>, GraphError> {
        match body.get(name) {
            None if required && existing.is_none() => Err(GraphError::bad_request(format!(
                "Property '{name}' is required."
            ))),
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max => {
                Ok(Some(s.clone()))
            }
            _ => Err(GraphError::invalid_value(name)),
        }
    };
    if let Some(name) = text("name", 120, true)? {
        if let Some(old) = existing
            && old["name"] != json!(name)
        {
            return Err(GraphError::bad_request(
                "Property 'name' is immutable once set and cannot be updated.",
            ));
        }
        // "3-120 characters and must be URL friendly. Alphanumeric, dash, or underscore
        // characters are supported, the first character must be alphanumeric only."
        // (MicrosoftDocs/azure-docs, federated-credential-configuration-considerations.md)
        let url_friendly = name.chars().count() >= 3
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !url_friendly {
            return Err(GraphError::invalid_value("name"));
        }
        out.insert("name".into(), json!(name));
    }
    if let Some(issuer) = text("issuer", 600, true)? {
        out.insert("issuer".into(), json!(issuer));
    }
    if let Some(subject) = text("subject", 600, true)? {
        out.insert("subject".into(), json!(subject));
    }
    match body.get("description") {
        None => {
            out.entry("description").or_insert(Value::Null);
        }
        Some(Value::Null) => {
            out.insert("description".into(), Value::Null);
        }
        Some(Value::String(s)) if s.chars().count() <= 600 => {
            out.insert("description".into(), json!(s));
        }
        _ => return Err(GraphError::invalid_value("description")),
    }
    match body.get("audiences") {
        None if existing.is_none() => {
            return Err(GraphError::bad_request("Property 'audiences' is required."));
        }
        None => {}
        Some(Value::Array(a))
            if a.len() == 1
                && a[0]
                    .as_str()
                    .is_some_and(|s| !s.is_empty() && s.len() <= 600) =>
        {
            out.insert("audiences".into(), Value::Array(a.clone()));
        }
        Some(Value::Array(_)) => {
            return Err(GraphError::bad_request(
                "Federated identity credential 'audiences' must contain exactly one value.",
            ));
        }
        _ => return Err(GraphError::invalid_value("audiences")),
    }
    Ok(out)
}

fn fic_render(id: &str, o: &Object) -> Object {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    for k in ["name", "issuer", "subject", "description", "audiences"] {
        m.insert(k.into(), o.get(k).cloned().unwrap_or(Value::Null));
    }
    m
}

pub(super) fn fic_route(
    doc: &mut Document,
    call: &Call,
    key: &Key,
    rest: &[&str],
) -> Result<Reply, GraphError> {
    let app = find(doc, key, call.now)?;
    let app_id = app.str("id").to_string();
    let ctx = format!("applications('{app_id}')/federatedIdentityCredentials");
    let (fic_key, tail): (Option<Key>, &[&str]) = match rest {
        [] => (None, &[]),
        [seg, tail @ ..] => {
            let k = if let Some(name) = seg
                .strip_prefix("(name='")
                .or_else(|| seg.strip_prefix("federatedIdentityCredentials(name='"))
            {
                Key::Alt(
                    "name".into(),
                    name.trim_end_matches("')").replace("''", "'"),
                )
            } else {
                Key::Id(seg.to_string())
            };
            (Some(k), tail)
        }
    };
    if !tail.is_empty() {
        return Err(GraphError::no_route(call.path));
    }
    let pos = |doc: &Document, k: &Key| -> Option<usize> {
        doc.applications[&app_id]
            .federated
            .iter()
            .position(|f| match k {
                Key::Id(id) => f.object["id"].as_str() == Some(id.as_str()),
                Key::Alt(_, n) => f.object["name"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(n)),
            })
    };
    match (call.method, fic_key) {
        ("GET", None) => {
            call.caller.can_read_apps()?;
            let q = call.query(&FEDERATED_CREDENTIALS)?;
            let items = filter_project(
                doc.applications[&app_id]
                    .federated
                    .iter()
                    .filter(|f| f.visible(call.now))
                    .map(|f| &f.object),
                &q,
            );
            let context = call.metadata(&format!("{ctx}{}", q.context_suffix()));
            Ok(Reply::json(200, page(call, context, items, &q)?))
        }
        ("POST", None) => {
            call.caller.can_write(&doc.applications[&app_id].owners)?;
            let body = call.json_body()?;
            let obj = fic_check(&body, None)?;
            fic_insert(doc, call, &app_id, obj, &ctx)
        }
        ("GET", Some(k)) => {
            call.caller.can_read_apps()?;
            let q = call.entity_query(&FEDERATED_CREDENTIALS)?;
            let i = pos(doc, &k)
                .filter(|i| doc.applications[&app_id].federated[*i].visible(call.now))
                .ok_or_else(|| GraphError::not_found(&k.describe()))?;
            let o = odata::project(
                &doc.applications[&app_id].federated[i].object,
                q.select.as_deref(),
            );
            Ok(Reply::json(
                200,
                entity(
                    call.metadata(&format!("{ctx}{}/$entity", q.context_suffix())),
                    o,
                ),
            ))
        }
        ("PATCH", Some(k)) => {
            call.caller.can_write(&doc.applications[&app_id].owners)?;
            let body = call.json_body()?;
            match pos(doc, &k) {
                Some(i) => {
                    let current = doc.applications[&app_id].federated[i].object.clone();
                    let updated = fic_check(&body, Some(&current))?;
                    fic_unique(doc, &app_id, &updated, Some(i))?;
                    let id = current["id"].as_str().unwrap_or_default().to_string();
                    doc.applications.get_mut(&app_id).expect("found").federated[i].object =
                        fic_render(&id, &updated);
                    Ok(Reply::no_content())
                }
                None => {
                    // Upsert by name.
                    let Key::Alt(_, name) = k else {
                        return Err(GraphError::not_found(&k.describe()));
                    };
                    let mut with_name = body.clone();
                    with_name.insert("name".into(), json!(name));
                    let obj = fic_check(&with_name, None)?;
                    fic_insert(doc, call, &app_id, obj, &ctx)
                }
            }
        }
        ("DELETE", Some(k)) => {
            call.caller.can_write(&doc.applications[&app_id].owners)?;
            let i = pos(doc, &k).ok_or_else(|| GraphError::not_found(&k.describe()))?;
            doc.applications
                .get_mut(&app_id)
                .expect("found")
                .federated
                .remove(i);
            Ok(Reply::no_content())
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}

fn fic_unique(
    doc: &Document,
    app_id: &str,
    obj: &Object,
    skip: Option<usize>,
) -> Result<(), GraphError> {
    for (i, f) in doc.applications[app_id].federated.iter().enumerate() {
        if Some(i) == skip {
            continue;
        }
        if f.object["name"].as_str().map(str::to_lowercase)
            == obj["name"].as_str().map(str::to_lowercase)
        {
            return Err(GraphError::same_key(409, "name"));
        }
        if f.object["issuer"] == obj["issuer"] && f.object["subject"] == obj["subject"] {
            return Err(GraphError::bad_request(
                "FederatedIdentityCredential with the same issuer and subject already exists on this application.",
            ));
        }
    }
    Ok(())
}

fn fic_insert(
    doc: &mut Document,
    call: &Call,
    app_id: &str,
    obj: Object,
    ctx: &str,
) -> Result<Reply, GraphError> {
    if doc.applications[app_id].federated.len() >= FIC_MAX {
        return Err(GraphError::bad_request(format!(
            "The application already has the maximum of {FIC_MAX} federated identity credentials."
        )));
    }
    fic_unique(doc, app_id, &obj, None)?;
    let id = new_guid();
    let rendered = fic_render(&id, &obj);
    let tenant = doc.tenant.id.clone();
    doc.applications
        .get_mut(app_id)
        .expect("found")
        .federated
        .push(Entry::new(rendered.clone(), call.visible_at()));
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(call.metadata(&format!("{ctx}/$entity"))),
    );
    body.insert(
        "@odata.id".into(),
        json!(format!("https://graph.microsoft.com/v2/{tenant}/directoryObjects/$/Microsoft.DirectoryServices.Application('{app_id}')/federatedIdentityCredentials/{id}")),
    );
    body.extend(rendered);
    Ok(Reply::created(
        Value::Object(body),
        format!(
            "{}/v1.0/applications/{app_id}/federatedIdentityCredentials/{id}",
            call.base
        ),
    ))
}
