//! Golden exports: each folder under `tests/export/cases/` holds one application as entraform
//! reads it (`input.yaml`: the live model, the raw Graph JSON, certificate files by key id;
//! `tests/export/catalog.yaml` is the catalog), and the expected `manifest.yaml`,
//! `unmanaged.txt` (what the manifest cannot express), `files.txt` (certificates written next to
//! it) and `plan.txt`: the plan of the exported manifest against the same tenant, which must be
//! empty, or for an adopted app exactly the adoption (plus creating a missing service principal).
//!
//! `ENTRAFORM_BLESS=1 cargo test --test it export::` rewrites the expected files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use entraform::export::{self, AppExport};
use entraform::manifest;
use entraform::model::{Catalog, CertificateSource, KeyId, LiveApp, LiveTenant, LocalCertificate};
use entraform::model::{FieldValues, On};
use entraform::plan::{Action, ManifestHashes, ResourceKind, render};
use entraform::planner::{self, KeyIdSource, PlanInput, PlanOptions};
use serde::Deserialize;
use time::macros::datetime;

fn export_dir() -> PathBuf {
    crate::common::repo_root().join("tests/export")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    name: String,
    #[serde(default)]
    shared_api_names: BTreeSet<String>,
    /// Key id → a certificate file under `tests/export/certs/`.
    #[serde(default)]
    keys: BTreeMap<KeyId, String>,
    live: LiveApp,
    application: serde_json::Value,
    #[serde(default)]
    service_principal: Option<serde_json::Value>,
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every output of one case, keyed by the expected file's name.
fn outputs(case: &str) -> BTreeMap<&'static str, String> {
    let dir = export_dir().join("cases").join(case);
    let mut input: Input = read_yaml(&dir.join("input.yaml"));
    // The plain fields, as observe reads them from the same JSON.
    input.live.fields = FieldValues::read(On::Application, &input.application);
    if let (Some(sp), Some(json)) = (&mut input.live.service_principal, &input.service_principal) {
        sp.fields = FieldValues::read_service_principal(json, &input.live.tags);
    }
    let catalog: Catalog = read_yaml(&export_dir().join("catalog.yaml"));
    let keys: BTreeMap<KeyId, Vec<u8>> = input
        .keys
        .iter()
        .map(|(id, file)| {
            (
                *id,
                std::fs::read(export_dir().join("certs").join(file)).unwrap(),
            )
        })
        .collect();
    let app = AppExport {
        name: &input.name,
        live: &input.live,
        application: &input.application,
        service_principal: input.service_principal.as_ref(),
        keys: &keys,
        catalog: &catalog,
        shared_api_names: &input.shared_api_names,
        exported_names: &BTreeMap::new(),
    };
    let mut out = BTreeMap::new();
    let exported = match export::export_app(&app) {
        Ok(e) => e,
        Err(reason) => {
            out.insert("error.txt", format!("{reason}\n"));
            return out;
        }
    };
    // Writing is deterministic: the same input gives the same text.
    assert_eq!(
        export::export_app(&app).unwrap().manifest,
        exported.manifest,
        "{case}: export is deterministic"
    );
    out.insert("manifest.yaml", exported.manifest.clone());
    out.insert(
        "unmanaged.txt",
        exported
            .unmanaged
            .iter()
            .map(|u| format!("{u}\n"))
            .collect(),
    );
    out.insert(
        "files.txt",
        exported
            .certificates
            .iter()
            .map(|c| format!("{}\n", c.path.display()))
            .collect(),
    );

    // The manifest validates, and names what the tenant has.
    let manifest_path = dir.join("out").join(&exported.file_name);
    let desired = manifest::parse(&manifest_path, exported.manifest.as_bytes())
        .unwrap_or_else(|e| panic!("{case}: the exported manifest does not validate:\n{e}"));
    assert_eq!(desired.len(), 1);
    assert_eq!(desired[0].name, input.name);
    let mut local = BTreeMap::new();
    for spec in desired[0].certificates.iter().flatten() {
        let CertificateSource::File { path } = &spec.source else {
            panic!("{case}: an exported certificate is not a `file:` certificate");
        };
        let file = exported
            .certificates
            .iter()
            .find(|c| manifest_path.parent().unwrap().join(&c.path) == *path)
            .unwrap_or_else(|| {
                panic!(
                    "{case}: `{}` is not among the files written",
                    path.display()
                )
            });
        let c = &file.certificate;
        local.insert(
            (desired[0].name.clone(), spec.name.clone()),
            LocalCertificate {
                der: c.der().into(),
                thumbprint: c.thumbprint(),
                subject: c.subject().to_owned(),
                not_before: c.not_before(),
                not_after: c.not_after(),
                key_bits: c.key_bits(),
            },
        );
    }
    let live = LiveTenant {
        tenant_id: "c0ffee00-0000-4000-8000-000000000001".parse().unwrap(),
        signed_in: None,
        apps: vec![input.live.clone()],
        catalog,
        deleted_apps: Vec::new(),
        managed: Vec::new(),
    };
    let hashes =
        ManifestHashes::from_contents([(Path::new("manifest.yaml"), exported.manifest.as_bytes())]);
    let plan = planner::plan(&PlanInput {
        desired: &desired,
        live: &live,
        local_certificates: &local,
        local_pfx: &Default::default(),
        key_vault: &Default::default(),
        now: datetime!(2025-06-01 00:00 UTC),
        options: PlanOptions::default(),
        key_ids: KeyIdSource::Seeded(0),
        entraform_version: "0.0.0-test",
        manifests: &hashes,
    })
    .unwrap_or_else(|e| panic!("{case}: the exported manifest does not plan:\n{e}"));
    for change in &plan.changes {
        let adoption = exported.adopts
            && change.address.kind == ResourceKind::Application
            && change.action == Action::Update;
        let missing_sp = input.live.service_principal.is_none()
            && change.address.kind == ResourceKind::ServicePrincipal
            && change.action == Action::Create;
        assert!(
            adoption || missing_sp,
            "{case}: the exported manifest plans a change besides adoption: {}",
            change.address
        );
    }
    assert_eq!(
        plan.changes
            .iter()
            .any(|c| c.address.kind == ResourceKind::Application),
        exported.adopts,
        "{case}: an adopted app plans exactly its adoption"
    );
    out.insert("plan.txt", render::text(&plan, false));
    out
}

fn check(case: &str) {
    let dir = export_dir().join("cases").join(case);
    let actual = outputs(case);
    crate::common::assert_goldens(
        case,
        &dir,
        &[
            "manifest.yaml",
            "unmanaged.txt",
            "files.txt",
            "plan.txt",
            "error.txt",
        ],
        |name| actual.get(name).cloned(),
    );
}

crate::common::golden_cases! {
    dir: export_dir().join("cases");
    a_hand_made_exchange_app_exports_to_one_adoption_change => "hand-made-exchange-app",
    a_managed_app_exports_to_no_changes => "managed-app",
    what_a_manifest_cannot_express_is_listed_and_left_alone => "unexpressible",
    lists_that_cannot_hold_everything_are_left_unmanaged => "unmanaged-lists",
    names_that_would_find_something_else_are_written_by_id => "ambiguous-names",
    a_missing_service_principal_is_the_one_extra_change => "no-service-principal",
}
