//! A golden plan per plain field (`model::fields::FIELDS`): the field changed from a live value
//! (its table `other`) to the declared one (its `example`), nothing else different. Generated
//! from the table, so a new field gets its own golden (`tests/plan/fields/`, insta snapshots:
//! `cargo insta review` accepts a new one).

use std::path::Path;

use entraform::model::fields::{FIELDS, Field, Kind, On};
use entraform::model::{DesiredApp, LiveTenant};
use entraform::plan::{ManifestHashes, render};
use entraform::planner::{self, KeyIdSource, PlanInput, PlanOptions};
use serde_json::{Value, json};
use time::macros::datetime;

fn value(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The id Graph gave the live app's roles and scopes (the n-th entry's).
fn entitlement_id(n: usize) -> String {
    format!("e0000000-0000-4000-8000-{n:012}")
}

/// The one scope a pre-authorized client is granted: both sides declare it, with the live id.
const SCOPES: &str = "api.oauth2PermissionScopes";

fn scopes_field() -> &'static Field {
    FIELDS.iter().find(|f| f.path == SCOPES).unwrap()
}

/// The declared values by path, as validation leaves them.
fn declared(f: &Field) -> Value {
    let mut values = json!({ f.path: f.normalize_manifest(&value(f.example)) });
    if matches!(f.kind, Kind::PreAuthorized) {
        values[SCOPES] = scopes_field().normalize(Some(&value(scopes_field().example)));
    }
    values
}

/// The live values by path, in Graph's shape as observe leaves them: roles and scopes carry the
/// ids Graph gave them, and a pre-authorized client names scopes by those ids.
fn observed(f: &Field) -> Value {
    let mut values = json!({});
    match f.kind {
        Kind::Entitlements(_) => values[f.path] = with_ids(f, f.other),
        Kind::PreAuthorized => {
            let scopes = with_ids(scopes_field(), scopes_field().example);
            let entries: Vec<Value> = value(f.other)
                .as_array()
                .unwrap()
                .iter()
                .map(|e| json!({"appId": e["app"], "delegatedPermissionIds": [scopes[0]["id"]]}))
                .collect();
            values[f.path] = f.normalize(Some(&Value::Array(entries)));
            values[SCOPES] = scopes;
        }
        _ => values[f.path] = f.normalize(Some(&value(f.other))),
    }
    values
}

fn with_ids(f: &Field, text: &str) -> Value {
    let mut entries = value(text);
    for (n, e) in entries.as_array_mut().unwrap().iter_mut().enumerate() {
        e["id"] = json!(entitlement_id(n));
    }
    f.normalize(Some(&entries))
}

fn desired(f: &Field) -> DesiredApp {
    let (app, sp) = match f.on {
        On::Application => (declared(f), json!({})),
        On::ServicePrincipal => (json!({}), declared(f)),
    };
    serde_json::from_value(json!({
        "name": "web",
        "adopt_app_id": null,
        "protect": false,
        "display_name": "Web",
        "description": null,
        "sign_in_audience": null,
        "redirect_uris": null,
        "tags": null,
        "owners": null,
        "api_permissions": null,
        "admin_consent": true,
        "directory_roles": null,
        "certificates": null,
        "federated_credentials": null,
        "fields": app,
        "service_principal_fields": sp,
        "source": {"file": "manifests/web.yaml", "line": 4},
    }))
    .unwrap()
}

fn live(f: &Field) -> LiveTenant {
    let (app, sp) = match f.on {
        On::Application => (observed(f), json!({})),
        On::ServicePrincipal => (json!({}), observed(f)),
    };
    serde_json::from_value(json!({
        "tenant_id": "c0ffee00-0000-4000-8000-000000000001",
        "apps": [{
            "object_id": "a0000000-0000-4000-8000-000000000001",
            "app_id": "b0000000-0000-4000-8000-000000000001",
            "unique_name": "web",
            "display_name": "Web",
            "description": null,
            "sign_in_audience": "AzureADMyOrg",
            "redirect_uris": [],
            "tags": ["entraform:managed"],
            "required_resource_access": [],
            "key_credentials": [],
            "federated_credentials": [],
            "owners": null,
            "service_principal": {
                "object_id": "50000000-0000-4000-8000-000000000001",
                "app_role_assignments": [],
                "delegated_grants": [],
                "directory_role_assignments": [],
                "fields": sp,
                "fingerprint": "sp-1",
            },
            "fields": app,
            "fingerprint": "app-1",
        }],
        "catalog": {"resources": [], "role_definitions": [], "users": []},
    }))
    .unwrap()
}

fn golden_name(f: &Field) -> String {
    let on = match f.on {
        On::Application => "application",
        On::ServicePrincipal => "service_principal",
    };
    format!("{on}.{}", f.path)
}

#[test]
fn each_field_has_a_golden_plan_of_its_change() {
    let (certificates, pfx, vaults) = Default::default();
    let manifests = ManifestHashes::from_contents([(Path::new("web.yaml"), b"".as_slice())]);
    for f in FIELDS {
        let desired = [desired(f)];
        let live = live(f);
        let plan = planner::plan(&PlanInput {
            desired: &desired,
            live: &live,
            local_certificates: &certificates,
            local_pfx: &pfx,
            key_vault: &vaults,
            now: datetime!(2025-06-01 00:00 UTC),
            options: PlanOptions::default(),
            key_ids: KeyIdSource::Seeded(0),
            entraform_version: "0.0.0-test",
            manifests: &manifests,
        })
        .unwrap_or_else(|e| panic!("{}: {e}", f.path));
        // One change, of this field only.
        assert_eq!(plan.changes.len(), 1, "{}", golden_name(f));
        let text = render::text(&plan, false);
        insta::with_settings!({
            snapshot_path => "../plan/fields",
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => format!("`{}` changed from {} to {}", f.path, f.other, f.example),
        }, {
            insta::assert_snapshot!(golden_name(f), text);
        });
    }
}
