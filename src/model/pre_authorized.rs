//! `api.preAuthorizedApplications`: client apps that may use some of this app's scopes without
//! asking users to consent (Graph's preAuthorizedApplication resource:
//! `{appId, delegatedPermissionIds}`).
//!
//! A manifest names the client by appId or by the `metadata.name` of another app of the run,
//! and the scopes by `value` (`[{app, scopes: [access_as_user]}]`); the planner turns that into
//! Graph's shape with the ids it decides ([`crate::planner`]). So a value has two canonical
//! forms: [`normalize_manifest`] for what a manifest says, [`normalize`] for Graph's shape,
//! which is what observe, compare and writes hold.

use serde_json::{Map, Value, json};

/// Graph's property path on the application (also the manifest key under `spec`).
pub const PATH: &str = "api.preAuthorizedApplications";

/// One manifest entry, as the planner resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// An appId (GUID) or the `metadata.name` of another app of the run.
    pub app: String,
    /// Scope values of this app.
    pub scopes: Vec<String>,
}

/// The entries of a manifest's list ([`normalize_manifest`]'s form).
pub fn entries(manifest: &Value) -> Vec<Entry> {
    manifest
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| Entry {
            app: e["app"].as_str().unwrap_or_default().to_owned(),
            scopes: strings(&e["scopes"]),
        })
        .collect()
}

/// What is wrong with a manifest's list, each problem with where it is below the list.
pub fn check(value: &Value) -> Vec<(String, String)> {
    let Some(items) = value.as_array() else {
        return vec![(String::new(), "must be a list".to_owned())];
    };
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(m) = item.as_object() else {
            out.push((format!("[{i}]"), "must be a mapping".to_owned()));
            continue;
        };
        if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "app" | "scopes")) {
            let hint = match k.as_str() {
                "appId" => "; name the client with `app` (its appId or metadata.name)",
                "delegatedPermissionIds" => "; list scope values under `scopes`",
                _ => "",
            };
            out.push((format!("[{i}].{k}"), format!("unknown key `{k}`{hint}")));
        }
        match m.get("app").and_then(Value::as_str) {
            Some(app) if !app.trim().is_empty() => {
                let key = app.to_lowercase();
                if seen.contains(&key) {
                    out.push((format!("[{i}].app"), format!("`{app}` is listed twice")));
                }
                seen.push(key);
            }
            _ => out.push((
                format!("[{i}]"),
                "every entry needs an `app`: the client's appId, or the metadata.name of another app of the run".to_owned(),
            )),
        }
        let scopes = m.get("scopes").and_then(Value::as_array);
        let ok = scopes.is_some_and(|s| {
            !s.is_empty() && s.iter().all(|v| v.as_str().is_some_and(|v| !v.is_empty()))
        });
        if !ok {
            out.push((
                format!("[{i}].scopes"),
                "must list at least one scope value of this app (`api.oauth2PermissionScopes`)"
                    .to_owned(),
            ));
        }
    }
    out
}

/// A manifest's list, canonical: entries by `app` (a GUID in lower case), scopes sorted.
pub fn normalize_manifest(value: &Value) -> Value {
    let mut entries: Vec<Value> = value
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let app = e["app"].as_str().unwrap_or_default();
            let app = if uuid::Uuid::parse_str(app).is_ok() {
                app.to_lowercase()
            } else {
                app.to_owned()
            };
            json!({"app": app, "scopes": sorted(strings(&e["scopes"]))})
        })
        .collect();
    entries.sort_by(|a, b| a["app"].as_str().cmp(&b["app"].as_str()));
    Value::Array(entries)
}

/// Graph's list, canonical: entries by `appId`, ids in lower case and sorted, each once.
pub fn normalize(value: &Value) -> Value {
    let mut entries: Vec<Value> = value
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let app_id = e["appId"].as_str().unwrap_or_default().to_lowercase();
            let ids = strings(&e["delegatedPermissionIds"])
                .into_iter()
                .map(|s| s.to_lowercase())
                .collect();
            json!({"appId": app_id, "delegatedPermissionIds": sorted(ids)})
        })
        .collect();
    entries.sort_by(|a, b| a["appId"].as_str().cmp(&b["appId"].as_str()));
    Value::Array(entries)
}

/// How `export` writes Graph's list: each client by `name_of(appId)` (a managed app's
/// `metadata.name`) or its appId, each id by the value of the scope in `scopes` (the app's own,
/// normalised) that has it, else the id as it is.
pub fn export(
    value: &Value,
    scopes: Option<&Value>,
    name_of: impl Fn(&str) -> Option<String>,
) -> Value {
    let value_of = |id: &str| {
        scopes
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|s| s["id"].as_str() == Some(id))
            .and_then(|s| s["value"].as_str())
            .unwrap_or(id)
            .to_owned()
    };
    let entries = value
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let app_id = e["appId"].as_str().unwrap_or_default();
            let scopes: Vec<String> = strings(&e["delegatedPermissionIds"])
                .iter()
                .map(|id| value_of(id))
                .collect();
            let mut m = Map::new();
            m.insert(
                "app".into(),
                Value::String(name_of(app_id).unwrap_or_else(|| app_id.to_owned())),
            );
            m.insert("scopes".into(), json!(sorted(scopes)));
            Value::Object(m)
        })
        .collect();
    Value::Array(entries)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items.dedup();
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_problem_points_below_the_list() {
        let list = json!([
            {"app": "web", "scopes": ["access_as_user"]},
            {"app": "WEB", "scopes": []},
            {"appId": "x", "scopes": ["s"]},
        ]);
        let found: Vec<String> = check(&list).into_iter().map(|(at, _)| at).collect();
        assert_eq!(found, ["[1].app", "[1].scopes", "[2].appId", "[2]"]);
        assert!(check(&json!([{"app": "web", "scopes": ["a"]}])).is_empty());
    }

    #[test]
    fn graph_and_manifest_forms_are_canonical() {
        let graph = json!([
            {"appId": "B0000000-0000-0000-0000-000000000000", "delegatedPermissionIds": ["2", "1", "1"]},
            {"appId": "a0000000-0000-0000-0000-000000000000"},
        ]);
        assert_eq!(
            normalize(&graph),
            json!([
                {"appId": "a0000000-0000-0000-0000-000000000000", "delegatedPermissionIds": []},
                {"appId": "b0000000-0000-0000-0000-000000000000", "delegatedPermissionIds": ["1", "2"]},
            ])
        );
        assert_eq!(
            normalize_manifest(&json!([{"app": "web", "scopes": ["b", "a"]}])),
            json!([{"app": "web", "scopes": ["a", "b"]}])
        );
    }

    #[test]
    fn export_names_scopes_by_value_and_managed_clients_by_name() {
        let scopes =
            json!([{"value": "access_as_user", "id": "11111111-1111-1111-1111-111111111111"}]);
        let graph = json!([
            {"appId": "a0000000-0000-0000-0000-000000000000", "delegatedPermissionIds": ["11111111-1111-1111-1111-111111111111"]},
            {"appId": "b0000000-0000-0000-0000-000000000000", "delegatedPermissionIds": ["22222222-2222-2222-2222-222222222222"]},
        ]);
        let name_of = |app_id: &str| (app_id.starts_with('a')).then(|| "client".to_owned());
        assert_eq!(
            export(&graph, Some(&scopes), name_of),
            json!([
                {"app": "client", "scopes": ["access_as_user"]},
                {"app": "b0000000-0000-0000-0000-000000000000", "scopes": ["22222222-2222-2222-2222-222222222222"]},
            ])
        );
    }
}
