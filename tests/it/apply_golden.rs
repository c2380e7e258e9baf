//! Golden text of apply's renderers from fixed inputs (the saved plans under
//! `tests/plan/cases/` and made-up executor reports; no sandbox, no clock): the progress line
//! of every kind of operation as it starts, ends, fails or is refused consent; the report of a
//! run that stopped early; the outputs as text and JSON.
//! `ENTRAFORM_BLESS=1 cargo test --test it apply_golden` rewrites `tests/apply/golden/renderers/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use entraform::apply::{
    self, ActionOutcome, ActionRecord, AttachedCertificate, ConsentRequired, Event, EventKind,
    Outputs, OutputsInput, Report, WrittenFiles,
};
use entraform::model::{AppId, KeyId, ObjectId, Thumbprint};
use entraform::plan::{self, CertificateSource, ExistingApp, Plan};
use time::macros::datetime;
use uuid::Uuid;

use crate::common::{golden_mismatch, repo_root};

fn case(name: &str) -> Plan {
    let path = repo_root().join(format!("tests/plan/cases/{name}/planfile.json"));
    entraform::ops::plan_file::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn golden(name: &str) -> PathBuf {
    repo_root().join("tests/apply/golden/renderers").join(name)
}

fn check(files: &[(&str, String)]) {
    let mismatches: Vec<String> = files
        .iter()
        .filter_map(|(name, text)| golden_mismatch(&golden(name), Some(text)))
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0xd000_0000_0000_4000_8000_0000_0000_0000 | n)
}

#[test]
fn every_kind_of_operation_has_its_progress_lines() {
    let mut out = String::new();
    for name in [
        "fresh-tenant",
        "adopt-by-app-id",
        "drift-application-fields",
        "owners-change",
        "removed-role-assignment",
        "federated-credential-change",
        "certificate-rotation",
        "certificate-rotation-without-overlap",
        "certificate-set-changes",
        "prune",
    ] {
        out.push_str(&format!("# {name}\n"));
        let plan = case(name);
        for (index, (address, op)) in plan.operations().enumerate() {
            let event = |kind| Event {
                index,
                address: address.clone(),
                verb: apply::verb(op),
                kind,
            };
            out.push_str(&apply::progress_line(&event(EventKind::Started {
                detail: apply::start_detail(address, op),
            })));
            out.push('\n');
            let detail = matches!(apply::verb(op), apply::Verb::Create)
                .then(|| format!("id={}", id(index as u128)));
            out.push_str(&apply::progress_line(&event(EventKind::Done {
                elapsed: Duration::from_millis(1_700 * index as u64),
                detail,
            })));
            out.push('\n');
        }
        out.push('\n');
    }
    let plan = case("fresh-tenant");
    let (address, op) = plan.operations().nth(2).unwrap();
    out.push_str("# refused and failed\n");
    for kind in [
        EventKind::ConsentRequired {
            elapsed: Duration::from_secs(1),
        },
        EventKind::Failed {
            elapsed: Duration::from_secs(65),
        },
    ] {
        out.push_str(&apply::progress_line(&Event {
            index: 2,
            address: address.clone(),
            verb: apply::verb(op),
            kind,
        }));
        out.push('\n');
    }
    check(&[("progress.txt", out)]);
}

fn record(plan: &Plan, outcomes: &[ActionOutcome]) -> Vec<ActionRecord> {
    plan.operations()
        .zip(outcomes.iter())
        .map(|((address, _), outcome)| ActionRecord {
            address: address.clone(),
            outcome: match outcome {
                ActionOutcome::Done { elapsed, detail } => ActionOutcome::Done {
                    elapsed: *elapsed,
                    detail: detail.clone(),
                },
                ActionOutcome::Failed { elapsed } => ActionOutcome::Failed { elapsed: *elapsed },
                ActionOutcome::ConsentRequired { elapsed } => {
                    ActionOutcome::ConsentRequired { elapsed: *elapsed }
                }
                ActionOutcome::NotStarted => ActionOutcome::NotStarted,
            },
        })
        .collect()
}

fn done() -> ActionOutcome {
    ActionOutcome::Done {
        elapsed: Duration::from_secs(1),
        detail: None,
    }
}

/// The fresh-tenant plan's app as this made-up run created it.
fn created_app() -> ExistingApp {
    ExistingApp {
        object_id: ObjectId(id(101)),
        app_id: AppId(id(102)),
    }
}

#[test]
fn a_run_that_stopped_early_says_what_was_done_and_what_was_not() {
    let plan = case("fresh-tenant");
    // application, service principal, app role (refused consent), delegated grant (refused),
    // directory role (failed), owner (done), certificate and federated credential (not started).
    let report = Report {
        records: record(
            &plan,
            &[
                done(),
                done(),
                ActionOutcome::ConsentRequired {
                    elapsed: Duration::ZERO,
                },
                ActionOutcome::ConsentRequired {
                    elapsed: Duration::ZERO,
                },
                ActionOutcome::Failed {
                    elapsed: Duration::from_secs(3),
                },
                done(),
                ActionOutcome::NotStarted,
                ActionOutcome::NotStarted,
            ],
        ),
        apps: [("exo-v2-app".to_owned(), created_app())].into(),
        consent: plan
            .operations()
            .skip(2)
            .take(2)
            .map(|(address, _)| ConsentRequired {
                app: "exo-v2-app".into(),
                app_id: Some(created_app().app_id),
                address: address.clone(),
            })
            .collect(),
        ..Report::default()
    };
    let mut failed = apply::failure_report(&plan, &report);
    failed.push_str(&apply::consent_report(
        &report,
        &plan.tenant_id.to_string(),
        "https://login.microsoftonline.com",
    ));

    // A rotation interrupted between attaching the new key and removing the old.
    let rotation = case("certificate-rotation-without-overlap");
    let interrupted = Report {
        records: record(&rotation, &[done(), ActionOutcome::NotStarted]),
        stopped_by_user: true,
        ..Report::default()
    };
    let complete = Report {
        records: record(&rotation, &[done(), done()]),
        ..Report::default()
    };
    let text = format!(
        "{failed}\n{}\n{}\n",
        apply::failure_report(&rotation, &interrupted),
        apply::applied_summary(&rotation, &complete)
    );
    check(&[("stopped-early.txt", text)]);
}

#[test]
fn the_outputs_name_ids_certificates_and_how_to_connect() {
    let plan = case("fresh-tenant");
    let outputs = outputs_after(
        &plan,
        WrittenFiles {
            pfx: Some(Path::new("certs/exo-v2-app.pfx").to_owned()),
            cer: Some(Path::new("certs/exo-v2-app.cer").to_owned()),
            kept: vec![Path::new("certs/exo-v2-app.20250531T235500Z.pfx").to_owned()],
        },
    );
    check(&[
        ("outputs.txt", apply::outputs_text(&outputs)),
        ("outputs.json", apply::outputs_json(&outputs)),
    ]);
}

/// The outputs of `plan` applied in full, its certificate attached with `files` written.
fn outputs_after(plan: &Plan, files: WrittenFiles) -> Outputs {
    let outcomes: Vec<ActionOutcome> = plan.operations().map(|_| done()).collect();
    let key_id = plan
        .operations()
        .find_map(|(_, op)| match op {
            plan::Operation::AddCertificate { key, .. } => Some(key.key_id),
            _ => None,
        })
        .unwrap_or(KeyId(id(7)));
    let report = Report {
        records: record(plan, &outcomes),
        apps: [("exo-v2-app".to_owned(), created_app())].into(),
        service_principals: [("exo-v2-app".to_owned(), ObjectId(id(103)))].into(),
        certificates: vec![AttachedCertificate {
            app: "exo-v2-app".into(),
            name: "automation".into(),
            key_id,
            thumbprint: "0C6C640C68C82F9CEF0DECDD06B9927B42D70E62"
                .parse::<Thumbprint>()
                .unwrap(),
            not_before: datetime!(2025-05-31 23:55 UTC),
            not_after: datetime!(2026-06-01 00:00 UTC),
            source: CertificateSource::Generate,
            files: Some(files),
        }],
        ..Report::default()
    };
    Outputs::build(&OutputsInput {
        plan,
        report: &report,
        tenant_domain: "contoso.onmicrosoft.com",
        login_host: "https://login.microsoftonline.com",
        live: None,
        desired: None,
    })
}

/// A generated certificate kept in Key Vault: the outputs also show the script host's lines
/// that fetch it from the vault and connect with no file and no password.
#[test]
fn the_outputs_show_how_to_connect_with_a_certificate_from_key_vault() {
    let mut plan = case("fresh-tenant");
    for change in &mut plan.changes {
        for op in &mut change.operations {
            if let plan::Operation::AddCertificate { key, .. } = op
                && let plan::CertificateMaterial::Generate(g) = &mut key.certificate
            {
                g.pfx = None;
                g.pfx_password_env = None;
                g.cer = None;
                g.key_vault = Some(entraform::model::KeyVaultCertificate {
                    vault: "kv-ops".into(),
                    certificate: "exo-automation".into(),
                });
            }
        }
    }
    let outputs = outputs_after(&plan, WrittenFiles::default());
    check(&[
        ("outputs-key-vault.txt", apply::outputs_text(&outputs)),
        ("outputs-key-vault.json", apply::outputs_json(&outputs)),
    ]);
}

/// docs/key-vault.md shows exactly the lines apply prints.
#[test]
fn the_key_vault_docs_show_the_lines_apply_prints() {
    let docs = std::fs::read_to_string(repo_root().join("docs/key-vault.md")).unwrap();
    let app_id: entraform::model::AppId = "3f76be04-5cf0-47f1-9df6-d05981a450fc".parse().unwrap();
    for line in apply::key_vault_connect_lines(
        "kv-ops",
        "exo-automation",
        &app_id,
        "contoso.onmicrosoft.com",
    ) {
        assert!(docs.contains(&line), "docs/key-vault.md lacks `{line}`");
    }
}
