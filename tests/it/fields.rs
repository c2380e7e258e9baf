//! The plain fields of the application and its service principal (`model::fields`), end to
//! end against the sandbox, driven by the table itself: a field added to the table is tested
//! here without a line of test code.

use std::path::PathBuf;

use entraform::model::fields::{FIELDS, Field, Kind, On, fields_on, get_path, set_path};
use entraform::plan::Plan;
use serde_json::{Map, Value, json};

use crate::apply_support::{Raw, Tenant, apply_clean, plan, start, write};

fn example(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A manifest (JSON is YAML) setting every field to its table example.
fn manifest_with_every_field(name: &str) -> String {
    let mut spec = Map::new();
    spec.insert("displayName".into(), json!(format!("{name} app")));
    let mut sp = Map::new();
    for f in FIELDS {
        match f.on {
            On::Application => set_path(&mut spec, f.path, example(f.example)),
            On::ServicePrincipal => set_path(&mut sp, f.path, example(f.example)),
        }
    }
    spec.insert("servicePrincipal".into(), Value::Object(sp));
    serde_json::to_string_pretty(&json!({
        "apiVersion": "entraform/v1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

/// Graph bodies setting every field on `on` to its other value, as someone might by hand;
/// app roles and scopes keep the ids they have in `live`.
fn changed_by_hand(on: On, live: Option<&Value>) -> Value {
    let mut body = Map::new();
    for f in fields_on(on) {
        set_path(&mut body, f.path, graph_value(f, f.other, live));
    }
    Value::Object(body)
}

/// A table value as Graph takes it: app roles and scopes with the ids a manifest leaves to
/// the plan, those of `live` (by value) where it has them.
fn graph_value(f: &Field, text: &str, live: Option<&Value>) -> Value {
    let mut value = example(text);
    if f.kind == Kind::PreAuthorized {
        // Clients by appId, scopes by the ids `live` gives their values.
        let scopes = live
            .and_then(|l| get_path(l, "api.oauth2PermissionScopes"))
            .and_then(Value::as_array)
            .expect("the app's scopes");
        let id_of = |v: &Value| {
            scopes
                .iter()
                .find(|s| s["value"] == *v)
                .expect("a scope of the app")["id"]
                .clone()
        };
        let entries = value.as_array().unwrap().iter().map(|e| {
            let ids: Vec<Value> = e["scopes"].as_array().unwrap().iter().map(id_of).collect();
            json!({"appId": e["app"], "delegatedPermissionIds": ids})
        });
        return Value::Array(entries.collect());
    }
    if let Kind::Entitlements(_) = f.kind {
        let live = live
            .and_then(|l| get_path(l, f.path))
            .and_then(Value::as_array);
        for entry in value.as_array_mut().unwrap() {
            let id = live
                .and_then(|l| l.iter().find(|x| x["value"] == entry["value"]))
                .map_or_else(|| json!(uuid::Uuid::new_v4()), |x| x["id"].clone());
            entry["id"] = id;
        }
    }
    value
}

/// The plan names of the fields whose before and after differ, per address.
fn changed_attrs(plan: &Plan) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in &plan.changes {
        let (Some(before), Some(after)) = (&c.before, &c.after) else {
            continue;
        };
        for (k, v) in after.as_object().unwrap() {
            if before.get(k) != Some(v) {
                out.push((c.address.to_string(), k.clone()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_applies_plans_clean_and_is_repaired_after_a_change_by_hand() {
    let t = start().await;
    let path = write(t.dir.path(), "web.yaml", &manifest_with_every_field("web"));
    let paths = [path];
    let created = apply_clean(&t, &paths).await;

    // Graph holds each example as written.
    let raw = Raw::of(&t.sb).await;
    let app = raw.list("/applications?$filter=uniqueName eq 'web'").await;
    let app = &app[0];
    let app_id = app["appId"].as_str().unwrap();
    let sp = raw
        .list(&format!("/servicePrincipals?$filter=appId eq '{app_id}'"))
        .await;
    let sp = &sp[0];
    for f in FIELDS {
        let object = match f.on {
            On::Application => app,
            On::ServicePrincipal => sp,
        };
        let mut live = get_path(object, f.path).cloned();
        if let (On::ServicePrincipal, "tags", Some(Value::Array(tags))) = (f.on, f.path, &mut live)
        {
            // Graph shows the application's tags on its service principal too.
            tags.retain(|t| !app["tags"].as_array().unwrap().contains(t));
        }
        // With the ids the plan chose for app roles and scopes.
        assert_eq!(
            f.normalize(live.as_ref()),
            f.normalize(Some(&graph_value(f, f.example, Some(object)))),
            "{} after create",
            f.path
        );
    }
    let text = entraform::plan::render::text(&created, false);
    for f in FIELDS {
        assert!(
            text.contains(&f.attr()),
            "the create shows `{}`:\n{text}",
            f.attr()
        );
    }

    // Every field changed by hand is seen, and put back.
    let app_path = format!("/applications/{}", app["id"].as_str().unwrap());
    let sp_path = format!("/servicePrincipals/{}", sp["id"].as_str().unwrap());
    assert_eq!(
        raw.patch(&app_path, &changed_by_hand(On::Application, Some(app)))
            .await,
        204
    );
    assert_eq!(
        raw.patch(&sp_path, &changed_by_hand(On::ServicePrincipal, Some(sp)))
            .await,
        204
    );
    let drifted = plan_until_changed(&t, &paths).await;
    let changed = changed_attrs(&drifted);
    for f in FIELDS {
        let address = match f.on {
            On::Application => "application.web",
            On::ServicePrincipal => "service_principal.web",
        };
        assert!(
            changed.contains(&(address.to_owned(), f.attr())),
            "`{}` changed by hand is not in the plan: {changed:?}",
            f.attr()
        );
    }
    assert_eq!(drifted.changes.len(), 2, "one update of each object");
    apply_clean(&t, &paths).await;
}

/// Plans until the plan shows changes (a write by hand may take the sandbox's replication
/// delay to show).
async fn plan_until_changed(t: &Tenant, paths: &[PathBuf]) -> Plan {
    for _ in 0..20 {
        let planned = plan(&t.client, paths).await;
        if planned.plan.has_changes() {
            return planned.plan;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the change by hand never showed")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_made_by_hand_with_every_field_exports_adopts_in_one_change_then_is_clean() {
    use crate::export_sandbox::{RawGraph, cli, planned_changes, sandbox_in};
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox_in(dir.path()).await;
    let graph = RawGraph::sign_in(&sb).await;
    let mut body = json!({});
    for f in fields_on(On::Application) {
        // Pre-authorized clients name scopes set before them.
        let value = graph_value(f, f.example, Some(&body));
        set_path(body.as_object_mut().unwrap(), f.path, value);
    }
    body["displayName"] = json!("Web by hand");
    let app = graph.post("/applications", body).await;
    let sp = graph
        .post("/servicePrincipals", json!({"appId": app["appId"]}))
        .await;
    let mut sp_body = Map::new();
    for f in fields_on(On::ServicePrincipal) {
        set_path(&mut sp_body, f.path, graph_value(f, f.example, None));
    }
    graph
        .patch(
            &format!("/servicePrincipals/{}", sp["id"].as_str().unwrap()),
            Value::Object(sp_body),
        )
        .await;
    sb.shutdown().await.unwrap();

    let manifests = dir.path().join("manifests");
    let out = cli(
        dir.path(),
        &[
            "export",
            "--display-name",
            "Web by hand",
            "--out",
            manifests.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    let exported = std::fs::read_to_string(manifests.join("web-by-hand.yaml")).unwrap();
    assert!(
        !exported.contains("Not expressed"),
        "nothing is left unexpressed:\n{exported}"
    );

    let (code, changes, _) = planned_changes(dir.path(), &manifests);
    assert_eq!(code, Some(2));
    assert_eq!(
        changes,
        [("application.web-by-hand".to_owned(), "update".to_owned())],
        "only the adoption:\n{exported}"
    );
    let applied = cli(
        dir.path(),
        &["apply", "--auto-approve", manifests.to_str().unwrap()],
    );
    assert!(
        applied.status.success(),
        "{}",
        crate::common::stderr(&applied)
    );
    let (code, changes, _) = planned_changes(dir.path(), &manifests);
    assert_eq!((code, changes), (Some(0), Vec::new()), "{exported}");
}

/// Every field of the table has its manifest key in the schema (`manifest/raw.rs`) and a row in
/// docs/manifest.md: the other two places a new field is written.
#[test]
fn every_field_is_in_the_schema_and_the_docs() {
    let schema = entraform::manifest::json_schema();
    let docs =
        std::fs::read_to_string(crate::common::repo_root().join("docs/manifest.md")).unwrap();
    for f in FIELDS {
        let mut node = &schema["properties"]["spec"];
        let mut keys: Vec<&str> = f.path.split('.').collect();
        if f.on == On::ServicePrincipal {
            keys.insert(0, "servicePrincipal");
        }
        for key in keys {
            node = resolve(&schema, node);
            node = &node["properties"][key];
        }
        assert!(!node.is_null(), "`{}` is not in the schema", f.path);
        let last = f.path.rsplit('.').next().unwrap();
        assert!(
            docs.contains(&format!("`{last}`")) || docs.contains(&format!("`{}`", f.path)),
            "`{}` is not in docs/manifest.md",
            f.path
        );
    }
}

/// Follows `$ref` and a one-element `allOf` to the schema they name.
fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    loop {
        if let Some(r) = node["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap();
            node = &root["definitions"][name];
        } else if let Some([only]) = node["allOf"].as_array().map(Vec::as_slice) {
            node = only;
        } else {
            return node;
        }
    }
}

/// Graph's rules for App ID URIs, from Microsoft's reference: an added `https://` URI must be
/// on a verified domain (entra-docs reference-breaking-changes.md, October 2021), and a URI is
/// unique across the tenant (application.md: "must be globally unique").
#[tokio::test]
async fn the_sandbox_enforces_graphs_identifier_uri_rules() {
    let t = start().await;
    let raw = Raw::of(&t.sb).await;
    let create = |name: &str| json!({"displayName": name});
    let (status, a) = raw
        .write(
            reqwest::Method::POST,
            "/applications",
            Some(&create("a")),
            &[],
        )
        .await;
    assert_eq!(status, 201);
    let (_, b) = raw
        .write(
            reqwest::Method::POST,
            "/applications",
            Some(&create("b")),
            &[],
        )
        .await;
    let a_path = format!("/applications/{}", a["id"].as_str().unwrap());
    let b_path = format!("/applications/{}", b["id"].as_str().unwrap());
    let domain = raw.list("/organization").await[0]["verifiedDomains"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, error) = raw
        .write(
            reqwest::Method::PATCH,
            &a_path,
            Some(&json!({"identifierUris": ["https://not-ours.example/api"]})),
            &[],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "HostNameNotOnVerifiedDomain");

    for uri in [format!("https://{domain}/api"), "api://shared".to_owned()] {
        assert_eq!(
            raw.patch(&a_path, &json!({"identifierUris": [uri]})).await,
            204,
            "{uri}"
        );
    }
    let (status, error) = raw
        .write(
            reqwest::Method::PATCH,
            &b_path,
            Some(&json!({"identifierUris": ["api://shared"]})),
            &[],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["details"][0]["code"], "ObjectConflict",
        "{error}"
    );
}
