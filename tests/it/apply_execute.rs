//! The executor against the in-process sandbox: dependency order, waiting out replication,
//! confirming objects that already exist, stopping after a failure or a stop request, consent
//! refusals, certificate files and rotation.

use entraform::apply::{self, ActionOutcome, Outputs, OutputsInput, StopSignal};
use entraform::cert;
use entraform::graph::Credential;
use entraform::model::ObjectId;
use entraform::observe::{self, ObserveRequest};
use entraform::plan::{self, Change, Operation, ResourceKind, SpRef, Summary};
use entraform::planner::{self, KeyIdSource, PlanInput, PlanOptions};
use entraform::sandbox::{Faults, SandboxConfig};
use time::OffsetDateTime;

use crate::apply_support::*;

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn a_fresh_tenant_gets_everything_in_dependency_order_and_the_next_plan_is_empty() {
    let t = start().await;
    let manifest = write(
        t.dir.path(),
        "exo.yaml",
        &exchange_manifest("exo-a", PFX_ENV),
    );
    let (planned, report, lines) =
        plan_and_execute(&t.client, std::slice::from_ref(&manifest), &quick_execute()).await;
    assert!(report.complete(), "{:#?}", outcome_names(&report));
    assert_eq!(planned.plan.summary.add, 8);

    // One line as each action starts and one as it ends; the application is complete before
    // the service principal starts, which is complete before anything that hangs off it.
    assert_eq!(lines.len(), 2 * report.records.len(), "{lines:#?}");
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in {lines:#?}"))
    };
    assert!(
        pos("application.exo-a: Creation complete") < pos("service_principal.exo-a: Creating...")
    );
    for other in [
        "app_role_assignment",
        "delegated_grant",
        "directory_role_assignment",
        "owner",
        "certificate",
        "federated_credential",
    ] {
        assert!(
            pos("service_principal.exo-a: Creation complete") < pos(&format!("{other}.exo-a[")),
            "{other}: {lines:#?}"
        );
    }
    assert_eq!(
        apply::applied_summary(&planned.plan, &report),
        "Apply complete! Resources: 8 added, 0 changed, 0 destroyed."
    );

    // The PFX holds the key of the certificate now attached, owner-only.
    let attached = &report.certificates[0];
    let pfx = t.dir.path().join("secrets/exo-a.pfx");
    assert_eq!(attached.files.as_ref().unwrap().pfx, Some(pfx.clone()));
    let password = cert::pfx_password_from_env(PFX_ENV).unwrap();
    let loaded = cert::load_client_certificate(&pfx, Some(&password)).unwrap();
    assert_eq!(loaded.certificate().thumbprint(), attached.thumbprint);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for f in ["secrets/exo-a.pfx", "secrets/exo-a.cer"] {
            let mode = std::fs::metadata(t.dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }

    let raw = Raw::of(&t.sb).await;
    let census = raw.census(&names(&["exo-a"])).await;
    assert_exactly_one_of_everything(&census, &names(&["exo-a"]));
    assert_eq!(
        census.thumbprints["exo-a"],
        vec![attached.thumbprint.to_hex()]
    );

    let again = plan(&t.client, &[manifest]).await;
    assert!(
        !again.plan.has_changes(),
        "{}",
        plan::render::text(&again.plan, false)
    );

    // The outputs name what was made, with both ways to connect to Exchange Online.
    let outputs = Outputs::build(&OutputsInput {
        plan: &planned.plan,
        report: &report,
        tenant_domain: entraform::sandbox::SANDBOX_DOMAIN,
        login_host: "https://login.microsoftonline.com",
        live: Some(&planned.live),
        desired: Some(&planned.manifests.apps),
    });
    let app = &outputs.apps[0];
    assert_eq!(app.app_id, Some(report.apps["exo-a"].app_id));
    assert_eq!(
        app.service_principal_object_id,
        Some(report.service_principals["exo-a"])
    );
    assert_eq!(app.exchange_online.len(), 2, "{app:#?}");
    assert!(app.exchange_online[0].contains("-CertificateFilePath"));
    assert!(
        app.exchange_online[1].contains(&format!("-CertificateThumbPrint {}", attached.thumbprint))
    );
    assert!(app.exchange_online[1].ends_with("-Organization contoso.onmicrosoft.com"));
    t.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn dependent_writes_wait_out_replication_and_trust_write_responses() {
    let t = start_with(SandboxConfig::new().faults(Faults {
        replication_delay_ms: 1500,
        ..Faults::default()
    }))
    .await;
    let manifest = write(
        t.dir.path(),
        "exo.yaml",
        &exchange_manifest("exo-r", PFX_ENV),
    );
    let (_, report, _) =
        plan_and_execute(&t.client, std::slice::from_ref(&manifest), &quick_execute()).await;
    assert!(report.complete(), "{:#?}", outcome_names(&report));

    let stats = t.sb.stats();
    // The service principal met its not-yet-replicated application at least once, and the
    // delegated grant its not-yet-replicated service principal (400, not 404)...
    assert!(
        stats.routes["PATCH /v1.0/servicePrincipals(appId={appId})"].contains_key("400"),
        "{stats:#?}"
    );
    assert!(
        stats.routes["POST /v1.0/oauth2PermissionGrants"].contains_key("400"),
        "{stats:#?}"
    );
    // ...its id came from the create's answer and its (empty) key set was known without a
    // read; the only reads of it are the key set's confirmation after the certificate was
    // written (five in a row showing it, as the Terraform provider waits).
    let confirmations = stats.routes["GET /v1.0/applications/{id}"].clone();
    assert!(
        confirmations.get("200").copied().unwrap_or(0) >= 5,
        "{confirmations:?}"
    );
    assert_eq!(
        stats.count("GET /v1.0/applications(uniqueName={uniqueName})"),
        0,
        "{stats:#?}"
    );

    let clean = plan_until_clean(&t.client, &[manifest], 10).await;
    assert!(
        !clean.plan.has_changes(),
        "{}",
        plan::render::text(&clean.plan, false)
    );
    let census = Raw::of(&t.sb).await.census(&names(&["exo-r"])).await;
    assert_exactly_one_of_everything(&census, &names(&["exo-r"]));
    t.sb.shutdown().await.unwrap();
}

/// Keeps only the changes `keep` accepts, with the summary to match.
fn only(mut p: plan::Plan, keep: impl Fn(&Change) -> bool) -> plan::Plan {
    p.changes.retain(|c| keep(c));
    p.summary = Summary::of(&p.changes);
    p
}

#[tokio::test]
async fn creates_that_find_their_object_already_there_succeed_once_it_is_confirmed() {
    let t = start().await;
    let manifest = write(
        t.dir.path(),
        "exo.yaml",
        &exchange_manifest("exo-c", PFX_ENV),
    );
    let (first, report, _) =
        plan_and_execute(&t.client, std::slice::from_ref(&manifest), &quick_execute()).await;
    assert!(report.complete(), "{:#?}", outcome_names(&report));

    // The same plan again, as after a lost answer: every create meets its object.
    let replay = only(first.plan.clone(), |c| {
        c.address.kind != ResourceKind::Certificate
    });
    let stop = StopSignal::new();
    let again = apply::execute(&t.client, &replay, &quick_execute(), &|_| {}, &stop).await;
    assert!(again.complete(), "{:#?}", outcome_names(&again));
    let stats = t.sb.stats();
    for route in [
        "POST /v1.0/servicePrincipals/{id}/appRoleAssignedTo",
        "POST /v1.0/oauth2PermissionGrants",
        "POST /v1.0/roleManagement/directory/roleAssignments",
        "POST /v1.0/applications/{id}/owners/$ref",
        "POST /v1.0/applications/{id}/federatedIdentityCredentials",
    ] {
        let by_status = &stats.routes[route];
        assert!(
            by_status.contains_key("400") || by_status.contains_key("409"),
            "{route} never answered \"already exists\": {by_status:?}"
        );
    }
    let census = Raw::of(&t.sb).await.census(&names(&["exo-c"])).await;
    assert_exactly_one_of_everything(&census, &names(&["exo-c"]));

    // A certificate is not a create Graph keeps unique: the plan's key set no longer matches
    // the tenant's, so it is refused rather than attached twice.
    let cert_only = only(first.plan.clone(), |c| {
        c.address.kind == ResourceKind::Certificate
    });
    let mut cert_only = cert_only;
    if let Operation::AddCertificate { app, .. } = &mut cert_only.changes[0].operations[0] {
        *app = plan::AppRef::Existing(report.apps["exo-c"].clone());
    }
    let refused = apply::execute(&t.client, &cert_only, &quick_execute(), &|_| {}, &stop).await;
    assert!(matches!(
        refused.records[0].outcome,
        ActionOutcome::Failed { .. }
    ));
    let message = refused.errors[0].to_string() + &format!("{:?}", refused.errors[0]);
    assert!(message.contains("KeysChanged"), "{message}");
    assert_eq!(
        Raw::of(&t.sb).await.census(&names(&["exo-c"])).await.keys["exo-c"],
        1
    );

    // "Already exists" with something else than the plan wants is an error, not a success.
    let graph_sp: serde_json::Value = t
        .client
        .get("/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=id")
        .await
        .unwrap();
    let graph_sp: ObjectId = graph_sp["id"].as_str().unwrap().parse().unwrap();
    let mut conflicting = only(first.plan.clone(), |c| {
        c.address.kind == ResourceKind::DelegatedGrant
    });
    conflicting.changes[0].operations = vec![Operation::CreateDelegatedGrant {
        client: SpRef::Existing(report.service_principals["exo-c"]),
        resource_id: graph_sp.into(),
        scope: "User.Read openid".into(),
    }];
    let conflict = apply::execute(&t.client, &conflicting, &quick_execute(), &|_| {}, &stop).await;
    assert!(matches!(
        conflict.records[0].outcome,
        ActionOutcome::Failed { .. }
    ));
    let text = format!(
        "{}",
        std::error::Error::source(&conflict.errors[0]).unwrap()
    );
    assert!(
        text.contains("`User.Read`, not `User.Read openid`"),
        "{text}"
    );
    t.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failure_starts_nothing_new_reports_what_was_not_done_and_a_rerun_converges() {
    let t = start().await;
    let manifest = write(
        t.dir.path(),
        "exo.yaml",
        &exchange_manifest("exo-f", PFX_ENV),
    );
    let planned = plan(&t.client, std::slice::from_ref(&manifest)).await;
    // Graph refuses the application (a sign-in audience it does not know): nothing that
    // depends on it may start.
    let mut broken = planned.plan.clone();
    if let Operation::UpsertApplication { application, .. } = &mut broken.changes[0].operations[0] {
        application.sign_in_audience = "NoSuchAudience".into();
    }
    let report = apply::execute(
        &t.client,
        &broken,
        &quick_execute(),
        &|_| {},
        &StopSignal::new(),
    )
    .await;
    let outcomes = outcome_names(&report);
    assert_eq!(outcomes[0], "application.exo-f: failed");
    assert!(
        outcomes[1..].iter().all(|o| o.ends_with(": not started")),
        "{outcomes:#?}"
    );
    assert_eq!(report.errors.len(), 1);
    let error = report.errors[0].to_string();
    assert_eq!(error, "application.exo-f: could not create the application");
    let cause = std::error::Error::source(&report.errors[0])
        .unwrap()
        .to_string();
    assert!(
        cause.contains("PATCH /applications(uniqueName='exo-f'): 400"),
        "{cause}"
    );
    let text = apply::failure_report(&broken, &report);
    assert!(
        text.starts_with("Apply stopped after an error: 0 of 8 changes done.\nFailed:\n  application.exo-f\nNot started:\n  service_principal.exo-f\n"),
        "{text}"
    );
    assert!(
        text.ends_with("Resources: 0 added, 0 changed, 0 destroyed.\n"),
        "{text}"
    );
    assert!(
        writes(&t.sb.stats().routes)
            .keys()
            .all(|r| r.starts_with("PATCH /v1.0/applications("))
    );

    // Running apply again plans from the tenant as it is and does everything.
    let (_, rerun, _) =
        plan_and_execute(&t.client, std::slice::from_ref(&manifest), &quick_execute()).await;
    assert!(rerun.complete(), "{:#?}", outcome_names(&rerun));
    assert!(!plan(&t.client, &[manifest]).await.plan.has_changes());
    let census = Raw::of(&t.sb).await.census(&names(&["exo-f"])).await;
    assert_exactly_one_of_everything(&census, &names(&["exo-f"]));
    t.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stop_request_starts_nothing_new() {
    let t = start().await;
    let manifest = write(
        t.dir.path(),
        "exo.yaml",
        &exchange_manifest("exo-s", PFX_ENV),
    );
    let planned = plan(&t.client, std::slice::from_ref(&manifest)).await;
    let stop = StopSignal::new();
    // The first Ctrl-C arrives while the application is being created.
    let progress = |e: &apply::Event| {
        if matches!(e.kind, apply::EventKind::Started { .. }) {
            stop.stop();
        }
    };
    let report = apply::execute(&t.client, &planned.plan, &quick_execute(), &progress, &stop).await;
    assert!(report.stopped_by_user);
    let outcomes = outcome_names(&report);
    assert_eq!(
        outcomes[0], "application.exo-s: done",
        "the action in flight finishes"
    );
    assert!(
        outcomes[1..].iter().all(|o| o.ends_with(": not started")),
        "{outcomes:#?}"
    );
    let text = apply::failure_report(&planned.plan, &report);
    assert!(
        text.starts_with("Apply interrupted: 1 of 8 changes done."),
        "{text}"
    );
    assert!(
        text.contains("Resources: 1 added, 0 changed, 0 destroyed."),
        "{text}"
    );
    t.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_the_right_to_consent_everything_else_is_applied_and_the_consent_url_given() {
    use crate::graph_support::{add_secret, client_as, grant_graph_role, new_app};
    let t = start().await;
    // A deployer that may manage applications and directory roles but not grant consent.
    let (deployer, deployer_sp) = new_app(&t.client, "deployer").await;
    for role in [
        "Application.ReadWrite.All",
        "RoleManagement.ReadWrite.Directory",
        "User.Read.All",
    ] {
        grant_graph_role(&t.client, &deployer_sp, role).await;
    }
    let secret = add_secret(&t.client, &deployer).await;
    let client = client_as(
        &t.sb,
        Credential::client_secret(deployer.app_id.to_string(), secret),
    );
    let manifest = write(
        t.dir.path(),
        "exo.yaml",
        &exchange_manifest("exo-p", PFX_ENV),
    );
    let (planned, report, lines) =
        plan_and_execute(&client, std::slice::from_ref(&manifest), &quick_execute()).await;

    assert!(
        report.only_consent_missing(),
        "{:#?}",
        outcome_names(&report)
    );
    assert!(report.errors.is_empty());
    let consent: Vec<String> = report
        .consent
        .iter()
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(
        consent,
        [
            r#"app_role_assignment.exo-p["Office 365 Exchange Online/Exchange.ManageAsApp"]"#,
            r#"delegated_grant.exo-p["Microsoft Graph"]"#,
        ]
    );
    assert!(
        lines.iter().any(|l| l.contains("Not granted after")),
        "{lines:#?}"
    );
    let app_id = report.apps["exo-p"].app_id;
    let tenant = planned.plan.tenant_id.to_string();
    let text = apply::consent_report(&report, &tenant, "https://login.microsoftonline.com");
    assert!(
        text.contains(&format!(
            "https://login.microsoftonline.com/{tenant}/adminconsent?client_id={app_id}"
        )),
        "{text}"
    );
    let outputs = Outputs::build(&OutputsInput {
        plan: &planned.plan,
        report: &report,
        tenant_domain: entraform::sandbox::SANDBOX_DOMAIN,
        login_host: "https://login.microsoftonline.com",
        live: Some(&planned.live),
        desired: Some(&planned.manifests.apps),
    });
    assert!(outputs.apps[0].admin_consent_url.is_some());
    t.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_interrupted_rotation_keeps_both_keys_and_the_next_apply_removes_the_old_one() {
    let t = start().await;
    // A first certificate valid for 60 days; its successor gets a year, so the two never end
    // in the same second (which would leave "the newest" to a tie-break).
    // `overlap: 0d`: the rotation removes the old key in the same apply (the interruption
    // falls between the two).
    let text = exchange_manifest("exo-k", PFX_ENV)
        .replace("renewBefore: 30d", "renewBefore: 30d\n        overlap: 0d");
    let short = text.replace("validity: 365d", "validity: 60d");
    let manifest = write(t.dir.path(), "exo.yaml", &short);
    let (_, first, _) =
        plan_and_execute(&t.client, std::slice::from_ref(&manifest), &quick_execute()).await;
    assert!(first.complete(), "{:#?}", outcome_names(&first));
    let old = first.certificates[0].clone();
    write(t.dir.path(), "exo.yaml", &text);

    // 31 days on, the certificate has 29 days left and renewBefore is 30d: rotate.
    let manifests = entraform::manifest::load(std::slice::from_ref(&manifest), false).unwrap();
    let live = observe::observe(
        &t.client,
        &ObserveRequest::for_manifests(&manifests.apps, false),
    )
    .await
    .unwrap();
    let hashes = plan::ManifestHashes::default();
    let rotation = planner::plan(&PlanInput {
        desired: &manifests.apps,
        live: &live,
        local_certificates: &Default::default(),
        local_pfx: &Default::default(),
        key_vault: &Default::default(),
        now: OffsetDateTime::now_utc() + time::Duration::days(31),
        options: PlanOptions::default(),
        key_ids: KeyIdSource::Seeded(1),
        entraform_version: "test",
        manifests: &hashes,
    })
    .unwrap();
    let ops: Vec<&str> = rotation
        .operations()
        .map(|(_, op)| match op {
            Operation::AddCertificate { .. } => "add",
            Operation::RemoveKeyCredential { .. } => "remove",
            _ => "other",
        })
        .collect();
    assert_eq!(ops, ["add", "remove"]);

    // Ctrl-C once the new key is attached: the old one stays until the next apply.
    let stop = StopSignal::new();
    let progress = |e: &apply::Event| {
        if e.index == 0 && matches!(e.kind, apply::EventKind::Done { .. }) {
            stop.stop();
        }
    };
    let report = apply::execute(&t.client, &rotation, &quick_execute(), &progress, &stop).await;
    let new = report.certificates[0].clone();
    let raw = Raw::of(&t.sb).await;
    let census = raw.census(&names(&["exo-k"])).await;
    let mut thumbs = census.thumbprints["exo-k"].clone();
    thumbs.sort();
    let mut expected = vec![old.thumbprint.to_hex(), new.thumbprint.to_hex()];
    expected.sort();
    assert_eq!(
        thumbs, expected,
        "both keys are attached between the two steps"
    );

    // The old PFX was moved to the name the plan chose; the new one is in its place.
    let files = new.files.as_ref().unwrap();
    let kept = t
        .dir
        .path()
        .join(format!("secrets/exo-k.{}.pfx", old.thumbprint));
    assert!(files.kept.contains(&kept), "{files:?}");
    let password = cert::pfx_password_from_env(PFX_ENV).unwrap();
    let at_path =
        cert::load_client_certificate(files.pfx.as_deref().unwrap(), Some(&password)).unwrap();
    assert_eq!(at_path.certificate().thumbprint(), new.thumbprint);
    let kept_cert = cert::load_client_certificate(&kept, Some(&password)).unwrap();
    assert_eq!(kept_cert.certificate().thumbprint(), old.thumbprint);

    // Today's plan sees the new key current and the old one superseded: it removes it.
    let (_, finish, _) =
        plan_and_execute(&t.client, std::slice::from_ref(&manifest), &quick_execute()).await;
    assert!(finish.complete(), "{:#?}", outcome_names(&finish));
    let census = raw.census(&names(&["exo-k"])).await;
    assert_eq!(census.thumbprints["exo-k"], vec![new.thumbprint.to_hex()]);
    assert!(!plan(&t.client, &[manifest]).await.plan.has_changes());
    t.sb.shutdown().await.unwrap();
}

/// A PFX at the path whose certificate is no key of the app (its apply was killed before the
/// key reached the tenant) is drift: replaced, and kept under its own thumbprint.
#[tokio::test]
async fn an_earlier_pfx_at_the_path_is_kept_under_its_thumbprint() {
    let t = start().await;
    let manifest = write(
        t.dir.path(),
        "exo.yaml",
        &exchange_manifest("exo-t", PFX_ENV),
    );
    // Left by an apply that was killed before its key reached the tenant.
    let earlier = entraform::cert::write_pfx(
        &crate::cert::shared().0,
        &crate::cert::password(),
        entraform::model::PfxEncryption::Aes256,
        "earlier",
    )
    .unwrap();
    std::fs::create_dir_all(t.dir.path().join("secrets")).unwrap();
    std::fs::write(t.dir.path().join("secrets/exo-t.pfx"), &earlier).unwrap();
    let (_, report, _) =
        plan_and_execute(&t.client, std::slice::from_ref(&manifest), &quick_execute()).await;
    assert!(report.complete(), "{:#?}", outcome_names(&report));
    let files = report.certificates[0].files.clone().unwrap();
    assert_eq!(files.kept.len(), 1, "{files:?}");
    let kept = &files.kept[0];
    let name = kept.file_name().unwrap().to_string_lossy().into_owned();
    let thumbprint = entraform::cert::pfx_thumbprint(&earlier).unwrap();
    assert_eq!(name, format!("exo-t.{thumbprint}.pfx"));
    assert_eq!(std::fs::read(kept).unwrap(), earlier);
    assert_ne!(
        std::fs::read(files.pfx.as_deref().unwrap()).unwrap(),
        earlier
    );
    t.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_missing_pfx_password_is_named_before_anything_is_written() {
    let t = start().await;
    let manifest = write(
        t.dir.path(),
        "exo.yaml",
        &exchange_manifest("exo-w", "ENTRAFORM_TEST_NEVER_SET_PFX_PASSWORD"),
    );
    let planned = plan(&t.client, &[manifest]).await;
    let err = apply::check_pfx_passwords(&planned.plan).unwrap_err();
    assert!(
        err.to_string()
            .contains("`ENTRAFORM_TEST_NEVER_SET_PFX_PASSWORD`"),
        "{err}"
    );
    use entraform::hint::Hint as _;
    assert!(
        err.hint()
            .unwrap()
            .contains("ENTRAFORM_TEST_NEVER_SET_PFX_PASSWORD")
    );
    // Nothing was written: only reads reached the tenant.
    assert!(writes(&t.sb.stats().routes).is_empty());
    assert!(!t.dir.path().join("secrets").exists());
    t.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn prune_deletes_the_service_principal_then_the_application_and_a_repeat_finds_them_gone() {
    let t = start().await;
    let keep = write(
        t.dir.path(),
        "keep.yaml",
        &exchange_manifest("exo-keep", PFX_ENV),
    );
    let old = write(
        t.dir.path(),
        "old.yaml",
        &exchange_manifest("exo-old", PFX_ENV),
    );
    let (_, first, _) =
        plan_and_execute(&t.client, &[keep.clone(), old.clone()], &quick_execute()).await;
    assert!(first.complete(), "{:#?}", outcome_names(&first));
    std::fs::remove_file(&old).unwrap();

    let pruning = entraform::ops::plan::make_plan(
        &t.client,
        &entraform::ops::plan::PlanRequest {
            paths: vec![keep.clone()],
            recursive: false,
            prune: true,
        },
    )
    .await
    .unwrap();
    let ops: Vec<&str> = pruning
        .plan
        .operations()
        .map(|(_, op)| match op {
            Operation::DeleteServicePrincipal { .. } => "delete service principal",
            Operation::DeleteApplication { .. } => "delete application",
            _ => "other",
        })
        .collect();
    assert_eq!(ops, ["delete service principal", "delete application"]);
    let stop = StopSignal::new();
    let report = apply::execute(&t.client, &pruning.plan, &quick_execute(), &|_| {}, &stop).await;
    assert!(report.complete(), "{:#?}", outcome_names(&report));
    assert_eq!(
        apply::applied_summary(&pruning.plan, &report),
        "Apply complete! Resources: 0 added, 0 changed, 1 destroyed."
    );
    let raw = Raw::of(&t.sb).await;
    let census = raw.census(&names(&["exo-old"])).await;
    assert_eq!(census.by_unique_name["exo-old"], 0);

    // The same deletes again (a lost answer, a second run): already gone is done.
    let again = apply::execute(&t.client, &pruning.plan, &quick_execute(), &|_| {}, &stop).await;
    assert!(again.complete(), "{:#?}", outcome_names(&again));

    let outputs = Outputs::build(&OutputsInput {
        plan: &pruning.plan,
        report: &report,
        tenant_domain: entraform::sandbox::SANDBOX_DOMAIN,
        login_host: "https://login.microsoftonline.com",
        live: Some(&pruning.live),
        desired: Some(&pruning.manifests.apps),
    });
    let listed: Vec<&str> = outputs.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(listed, ["exo-keep"], "a deleted app has no outputs");
    t.sb.shutdown().await.unwrap();
}
