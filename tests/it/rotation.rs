//! End to end in the sandbox: the Exchange Online example applied and signed in to with the PFX
//! apply wrote; and a certificate rotated by one apply, signing in with both PFX files between
//! the new key's attachment and the old key's removal (the executor's progress callback runs
//! between the two operations), with `certs` exiting 2 before and 0 after.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use entraform::apply::{self, EventKind, ExecuteOptions, StopSignal};
use entraform::cert::{self, PfxPassword};
use entraform::graph::{Cloud, GraphClient, GraphEndpoints};
use entraform::hint::Hint as _;
use entraform::model::Thumbprint;
use entraform::ops::plan::{PlanRequest, make_plan};
use entraform::ops::test_login::{TestLoginRequest, test_login};
use entraform::plan::{Action, CertificateMaterial, Operation, ResourceKind};
use entraform::sandbox::{self, RunningSandbox, SandboxConfig};

use crate::common::{entraform, repo_root, stderr, stdout};

const EXCHANGE_SCOPE: &str = "https://outlook.office365.com/.default";
const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";

/// `entraform --sandbox --sandbox-state <dir>/sandbox.json <args>` in `dir`, with `env` set.
fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = entraform();
    cmd.arg("--sandbox")
        .arg("--sandbox-state")
        .arg(dir.join("sandbox.json"))
        .args(args)
        .current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    eprintln!(
        "$ entraform {}\n{}{}",
        args.join(" "),
        stdout(&out),
        stderr(&out)
    );
    out
}

#[test]
fn the_exchange_example_applied_signs_in_with_manage_as_app_and_the_exchange_role() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo_root().join("manifests/exchange-online-app.yaml"),
        dir.path().join("exchange-online-app.yaml"),
    )
    .unwrap();
    let env = [("EXO_PFX_PASSWORD", "Exchange-pfx-password-1")];

    let applied = run(
        dir.path(),
        &env,
        &["apply", "--auto-approve", "exchange-online-app.yaml"],
    );
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert!(dir.path().join("secrets/Exo_V2_App.pfx").is_file());

    let login = run(
        dir.path(),
        &env,
        &[
            "test-login",
            "--app",
            "exo-v2-app",
            "--scope",
            EXCHANGE_SCOPE,
            "exchange-online-app.yaml",
        ],
    );
    assert_eq!(login.status.code(), Some(0), "{}", stderr(&login));
    let text = stdout(&login);
    assert!(
        text.contains("certificate  secrets/Exo_V2_App.pfx (certificate `automation`"),
        "{text}"
    );
    assert!(
        text.contains("audience     https://outlook.office365.com\n"),
        "{text}"
    );
    assert!(
        text.contains("roles        Exchange.ManageAsApp\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{EXCHANGE_ADMINISTRATOR}  Exchange Administrator")),
        "{text}"
    );

    // Freshly applied: a year left, nothing due.
    let certs = run(dir.path(), &env, &["certs", "exchange-online-app.yaml"]);
    assert_eq!(certs.status.code(), Some(0), "{}", stderr(&certs));
}

/// The executor reads the PFX password from this process's environment, which a test must
/// not change while other threads read it: like the apply tests, name a variable cargo sets.
const ROTATION_ENV: &str = crate::apply_support::PFX_ENV;

fn rotation_password() -> String {
    std::env::var(ROTATION_ENV).expect("cargo sets CARGO_MANIFEST_DIR for test processes")
}

fn rotation_manifest(validity: &str, renew_before: &str) -> String {
    rotation_manifest_with(validity, renew_before, "0d")
}

fn rotation_manifest_with(validity: &str, renew_before: &str, overlap: &str) -> String {
    format!(
        "apiVersion: entraform/v1
kind: Application
metadata:
  name: rotation-app
spec:
  displayName: Rotation App
  certificates:
    - name: automation
      generate:
        validity: {validity}
        renewBefore: {renew_before}
        overlap: {overlap}
        pfx: secrets/rotation.pfx
        pfxPasswordEnv: {ROTATION_ENV}
"
    )
}

fn thumbprint_of(pfx: &Path) -> Thumbprint {
    let password = PfxPassword::new(rotation_password()).unwrap();
    cert::load_client_certificate(pfx, Some(&password))
        .unwrap_or_else(|e| panic!("{}: {e}", pfx.display()))
        .certificate()
        .thumbprint()
}

fn admin(sb: &RunningSandbox) -> GraphClient {
    GraphClient::with_client_secret(
        GraphEndpoints::new(
            Cloud::Public,
            Some(&sb.graph_url()),
            Some(&sb.authority_url()),
            Some(&sb.tenant_id()),
        )
        .unwrap(),
        sb.bootstrap_client_id(),
        sb.bootstrap_client_secret().expose(),
    )
    .unwrap()
}

/// Signs in as the app with `pfx`, the way `test-login --pfx` does: the thumbprint the token
/// was obtained with, or the error.
async fn sign_in(client: &GraphClient, manifest: &Path, pfx: &Path) -> Result<Thumbprint, String> {
    test_login(
        client,
        &TestLoginRequest {
            app: "rotation-app".into(),
            pfx: Some(pfx.to_owned()),
            key_vault: false,
            scope: Some("https://graph.microsoft.com/.default".into()),
            paths: vec![manifest.to_owned()],
            recursive: false,
        },
        &|_| {},
    )
    .await
    .map(|done| done.report.certificate.thumbprint)
    .map_err(|e| format!("{e} / {}", e.hint().unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_certificate_is_rotated_by_one_apply_without_a_moment_without_a_working_key() {
    let password = rotation_password();
    let env = [(ROTATION_ENV, password.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("rotation.yaml");
    let current_pfx = dir.path().join("secrets/rotation.pfx");

    // Day 0: a 30-day certificate, renewed 7 days before it ends.
    std::fs::write(&manifest, rotation_manifest("30d", "7d")).unwrap();
    let first = run(
        dir.path(),
        &env,
        &["apply", "--auto-approve", "rotation.yaml"],
    );
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let old = thumbprint_of(&current_pfx);
    let outside = run(dir.path(), &env, &["certs", "rotation.yaml"]);
    assert_eq!(outside.status.code(), Some(0), "{}", stderr(&outside));

    // Without a fake clock: a longer renewBefore makes the live 30-day certificate due now.
    std::fs::write(&manifest, rotation_manifest("90d", "60d")).unwrap();
    let inside = run(dir.path(), &env, &["certs", "rotation.yaml"]);
    assert_eq!(inside.status.code(), Some(2), "{}", stderr(&inside));

    let sb = sandbox::start(SandboxConfig::new().state_path(dir.path().join("sandbox.json")))
        .await
        .unwrap();
    let client = admin(&sb);
    let plan = make_plan(
        &client,
        &PlanRequest {
            paths: vec![manifest.clone()],
            recursive: false,
            prune: false,
        },
    )
    .await
    .unwrap()
    .plan;
    let rotation = plan
        .changes
        .iter()
        .find(|c| c.address.kind == ResourceKind::Certificate)
        .expect("the plan rotates the certificate");
    assert_eq!(rotation.action, Action::CreateThenDelete, "{rotation:?}");
    assert_eq!(plan.changes.len(), 1, "{:?}", plan.changes);
    let ops: Vec<&Operation> = plan.operations().map(|(_, op)| op).collect();
    let kept_pfx: PathBuf = match ops.as_slice() {
        [
            Operation::AddCertificate { key, .. },
            Operation::RemoveKeyCredential { .. },
        ] => match &key.certificate {
            CertificateMaterial::Generate(g) => g
                .keep_previous
                .as_ref()
                .expect("a rotation keeps the old files")
                .pfx
                .clone()
                .expect("a PFX to keep"),
            CertificateMaterial::File(_) => panic!("a generated certificate"),
        },
        other => panic!("expected add then remove, got {other:?}"),
    };
    const ADD: usize = 0;

    // Between the two operations the executor calls back; sign in there with both files.
    let handle = tokio::runtime::Handle::current();
    // What a script host copied while both keys were attached.
    let script_host = dir.path().join("script-host.pfx");
    let between: Mutex<Vec<(String, Result<Thumbprint, String>)>> = Mutex::new(Vec::new());
    let progress = |event: &apply::Event| {
        if event.index == ADD && matches!(event.kind, EventKind::Done { .. }) {
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let new = sign_in(&client, &manifest, &current_pfx).await;
                    let old = sign_in(&client, &manifest, &kept_pfx).await;
                    std::fs::copy(&kept_pfx, &script_host).unwrap();
                    let mut seen = between.lock().unwrap();
                    seen.push(("new PFX".into(), new));
                    seen.push(("old PFX".into(), old));
                })
            });
        }
    };
    let report = apply::execute(
        &client,
        &plan,
        &ExecuteOptions::default(),
        &progress,
        &StopSignal::new(),
    )
    .await;
    assert!(report.complete(), "{:?}", report.records);

    let new = thumbprint_of(&current_pfx);
    assert_ne!(
        new, old,
        "apply wrote a new certificate at the manifest's path"
    );
    assert_eq!(thumbprint_of(&script_host), old);
    assert!(
        !kept_pfx.exists(),
        "overlap 0d: the archived PFX went with its key, in the same apply"
    );
    let between = between.into_inner().unwrap();
    assert_eq!(
        between,
        [
            ("new PFX".to_owned(), Ok(new)),
            ("old PFX".to_owned(), Ok(old))
        ],
        "while both keys were attached, both files signed in"
    );

    // Afterwards only the new key is on the app, and only the new file signs in.
    assert_eq!(
        sign_in(&client, &manifest, &current_pfx).await,
        Ok(new),
        "the new PFX signs in"
    );
    let refused = sign_in(&client, &manifest, &script_host).await.unwrap_err();
    assert!(refused.contains("AADSTS700027"), "{refused}");
    let after = make_plan(
        &client,
        &PlanRequest {
            paths: vec![manifest.clone()],
            recursive: false,
            prune: false,
        },
    )
    .await
    .unwrap();
    assert!(!after.plan.has_changes(), "{:?}", after.plan.changes);
    let keys: Vec<Option<Thumbprint>> = after.live.apps[0]
        .key_credentials
        .iter()
        .map(|k| k.thumbprint)
        .collect();
    assert_eq!(keys, [Some(new)], "the old key is gone from the tenant");
    sb.shutdown().await.unwrap();

    // The new certificate is valid for 90 days, outside the 60-day window.
    let done = run(dir.path(), &env, &["certs", "rotation.yaml"]);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert!(stdout(&done).contains(&new.to_hex()), "{}", stdout(&done));
}

/// Issue 16: with an overlap the rotation leaves the old key registered, so a script elsewhere
/// still holding the old PFX keeps signing in; the kept key is not drift (`plan
/// --detailed-exitcode` 0, `certs` 0). Once the overlap has passed (here: shortened to `0d`,
/// there being no clock to move) the next plan removes it, and the old PFX stops signing in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_key_keeps_signing_in_during_the_overlap_and_stops_after_the_later_apply() {
    let password = rotation_password();
    let env = [(ROTATION_ENV, password.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("rotation.yaml");
    let current_pfx = dir.path().join("secrets/rotation.pfx");
    let apply = |overlap: &str, renew: (&str, &str)| {
        std::fs::write(&manifest, rotation_manifest_with(renew.0, renew.1, overlap)).unwrap();
        let out = run(
            dir.path(),
            &env,
            &["apply", "--auto-approve", "rotation.yaml"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        out
    };
    let clean = || {
        let plan = run(
            dir.path(),
            &env,
            &["plan", "--detailed-exitcode", "rotation.yaml"],
        );
        assert_eq!(plan.status.code(), Some(0), "{}", stdout(&plan));
        plan
    };

    apply("7d", ("30d", "7d"));
    let old = thumbprint_of(&current_pfx);
    // A longer renewBefore makes the 30-day certificate due now: rotate, keeping the old key.
    let rotated = apply("7d", ("90d", "60d"));
    let said = format!("{}{}", stdout(&rotated), stderr(&rotated));
    assert!(
        said.contains("Resources: 0 added, 1 changed, 0 destroyed."),
        "{said}"
    );
    let new = thumbprint_of(&current_pfx);
    assert_ne!(new, old);
    let old_pfx = dir.path().join(format!("secrets/rotation.{old}.pfx"));
    assert_eq!(
        thumbprint_of(&old_pfx),
        old,
        "the old PFX is kept beside the new one"
    );

    let plan = clean();
    assert!(
        stdout(&plan).contains(&format!("the previous key {old} is kept until")),
        "{}",
        stdout(&plan)
    );
    let certs = run(dir.path(), &env, &["certs", "rotation.yaml"]);
    assert_eq!(
        certs.status.code(),
        Some(0),
        "a kept key needs nothing: {}",
        stdout(&certs)
    );

    let sb = sandbox::start(SandboxConfig::new().state_path(dir.path().join("sandbox.json")))
        .await
        .unwrap();
    let client = admin(&sb);
    assert_eq!(sign_in(&client, &manifest, &current_pfx).await, Ok(new));
    assert_eq!(
        sign_in(&client, &manifest, &old_pfx).await,
        Ok(old),
        "inside the overlap the old PFX still signs in"
    );
    sb.shutdown().await.unwrap();

    // The overlap over: the plan removes the old key, and after that apply only the new PFX works
    // (a script host's copy of the old one: apply deletes the archived file with the key).
    let script_host_copy = dir.path().join("script-host.pfx");
    std::fs::copy(&old_pfx, &script_host_copy).unwrap();
    std::fs::write(&manifest, rotation_manifest_with("90d", "60d", "0d")).unwrap();
    let due = run(
        dir.path(),
        &env,
        &["plan", "--detailed-exitcode", "rotation.yaml"],
    );
    assert_eq!(due.status.code(), Some(2), "{}", stdout(&due));
    assert!(
        stdout(&due).contains(&format!("superseded by {new}")),
        "{}",
        stdout(&due)
    );
    apply("0d", ("90d", "60d"));
    clean();
    let sb = sandbox::start(SandboxConfig::new().state_path(dir.path().join("sandbox.json")))
        .await
        .unwrap();
    let client = admin(&sb);
    assert_eq!(sign_in(&client, &manifest, &current_pfx).await, Ok(new));
    assert!(!old_pfx.exists(), "the archived PFX went with its key");
    let refused = sign_in(&client, &manifest, &script_host_copy)
        .await
        .unwrap_err();
    assert!(refused.contains("AADSTS700027"), "{refused}");
    sb.shutdown().await.unwrap();
}

/// Rotates with overlap 1d (the old PFX archived as `rotation.<old>.pfx`), then ends the overlap
/// (shortened to `0d`: the CLI plans on the wall clock, there is none to move) and returns the
/// folder, the old thumbprint and the output of the plan and the apply that remove the old key.
/// `tamper` puts another certificate's PFX at the archived path first.
fn rotate_and_end_the_overlap(
    keep_archived: bool,
    tamper: bool,
) -> (tempfile::TempDir, Thumbprint, String, String) {
    let password = rotation_password();
    let env = [(ROTATION_ENV, password.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("rotation.yaml");
    let current_pfx = dir.path().join("secrets/rotation.pfx");
    let write = |validity: &str, renew_before: &str, overlap: &str| {
        let text = rotation_manifest_with(validity, renew_before, overlap).replace(
            &format!("        overlap: {overlap}\n"),
            &format!("        overlap: {overlap}\n        keepArchived: {keep_archived}\n"),
        );
        std::fs::write(&manifest, text).unwrap();
    };
    write("30d", "7d", "1d");
    let first = apply_rotation_yaml(dir.path(), &env);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let old = thumbprint_of(&current_pfx);
    write("90d", "60d", "1d");
    let rotated = apply_rotation_yaml(dir.path(), &env);
    assert_eq!(rotated.status.code(), Some(0), "{}", stderr(&rotated));
    let archived = dir.path().join(format!("secrets/rotation.{old}.pfx"));
    assert_eq!(
        thumbprint_of(&archived),
        old,
        "the rotation archived the old PFX"
    );
    if tamper {
        std::fs::copy(&current_pfx, &archived).unwrap();
    }

    write("90d", "60d", "0d");
    let planned = plan_rotation_yaml(dir.path(), &env);
    assert_eq!(planned.status.code(), Some(2), "{}", stderr(&planned));
    let applied = apply_rotation_yaml(dir.path(), &env);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    let after = plan_rotation_yaml(dir.path(), &env);
    assert_eq!(after.status.code(), Some(0), "{}", stdout(&after));
    let applied = format!("{}{}", stdout(&applied), stderr(&applied));
    (dir, old, stdout(&planned), applied)
}

/// Issue 16: once the old key is removed, its archived PFX signs in nowhere: the plan lists it,
/// and the apply that removes the key deletes it.
#[test]
fn the_apply_that_removes_the_old_key_deletes_its_archived_pfx() {
    let (dir, old, planned, applied) = rotate_and_end_the_overlap(false, false);
    let archived = dir.path().join(format!("secrets/rotation.{old}.pfx"));
    assert!(
        planned.contains("deletes its archived files where present:")
            && planned.contains(&format!("rotation.{old}.pfx`")),
        "{planned}"
    );
    assert!(!archived.exists(), "{applied}");
    assert!(applied.contains("deleted archived"), "{applied}");
    assert!(dir.path().join("secrets/rotation.pfx").exists());
}

/// `generate.keepArchived: true` keeps the archived PFX after its key is removed.
#[test]
fn keep_archived_keeps_the_archived_pfx() {
    let (dir, old, planned, _) = rotate_and_end_the_overlap(true, false);
    assert!(!planned.contains("archived files"), "{planned}");
    let archived = dir.path().join(format!("secrets/rotation.{old}.pfx"));
    assert_eq!(thumbprint_of(&archived), old);
}

/// A file at the archived path that does not hold the removed key's certificate is not
/// entraform's archive: it is left, and the apply says so.
#[test]
fn an_archived_path_holding_another_certificate_is_left_and_reported() {
    let (dir, old, _, applied) = rotate_and_end_the_overlap(false, true);
    let archived = dir.path().join(format!("secrets/rotation.{old}.pfx"));
    assert!(archived.exists(), "{applied}");
    assert_ne!(thumbprint_of(&archived), old);
    assert!(
        applied.contains(&format!("does not hold certificate {old}")),
        "{applied}"
    );
}

/// `apply --auto-approve rotation.yaml` in `dir`.
fn apply_rotation_yaml(dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    run(dir, env, &["apply", "--auto-approve", "rotation.yaml"])
}

/// `plan --detailed-exitcode rotation.yaml` in `dir`.
fn plan_rotation_yaml(dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    run(dir, env, &["plan", "--detailed-exitcode", "rotation.yaml"])
}

/// Issue 16: `-replace=ADDRESS` (Terraform's spelling) rotates a certificate that is far from
/// due, with the reason shown; the saved plan records it, so `apply PLANFILE` rotates too, and
/// the plan after it is clean (the replacement is not asked for again). An address that names
/// no generated certificate is refused before any tenant is contacted, with the valid ones.
#[test]
fn replace_rotates_a_certificate_now_and_a_saved_plan_remembers_it() {
    let password = rotation_password();
    let env = [(ROTATION_ENV, password.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("rotation.yaml");
    let current_pfx = dir.path().join("secrets/rotation.pfx");
    std::fs::write(&manifest, rotation_manifest_with("90d", "7d", "7d")).unwrap();
    let first = apply_rotation_yaml(dir.path(), &env);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let old = thumbprint_of(&current_pfx);

    let address = r#"certificate.rotation-app["automation"]"#;
    let planned = run(
        dir.path(),
        &env,
        &[
            "plan",
            &format!("-replace={address}"),
            "--out",
            "replace.plan",
            "--detailed-exitcode",
            "rotation.yaml",
        ],
    );
    assert_eq!(planned.status.code(), Some(2), "{}", stderr(&planned));
    assert!(
        stdout(&planned).contains(&format!(
            "# {address} will be updated in place\n  # (replaced on request; the old key is kept until"
        )),
        "{}",
        stdout(&planned)
    );

    let applied = run(dir.path(), &env, &["apply", "replace.plan"]);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    let new = thumbprint_of(&current_pfx);
    assert_ne!(new, old, "the saved plan replaced the certificate");
    let kept = dir.path().join(format!("secrets/rotation.{old}.pfx"));
    assert_eq!(thumbprint_of(&kept), old, "the old PFX is kept beside it");

    let after = plan_rotation_yaml(dir.path(), &env);
    assert_eq!(after.status.code(), Some(0), "{}", stdout(&after));
    assert!(
        stdout(&after).contains(&format!("the previous key {old} is kept until")),
        "{}",
        stdout(&after)
    );

    // Two dashes, as clap spells it, with a typo: refused with the address meant.
    let typo = run(
        dir.path(),
        &env,
        &[
            "plan",
            "--replace",
            r#"certificate.rotation-app["automaton"]"#,
            "rotation.yaml",
        ],
    );
    assert_eq!(typo.status.code(), Some(1), "{}", stderr(&typo));
    assert!(
        stderr(&typo).contains(&format!("hint: did you mean `{address}`?")),
        "{}",
        stderr(&typo)
    );
    let saved = run(
        dir.path(),
        &env,
        &["apply", "--replace", address, "replace.plan"],
    );
    assert_eq!(saved.status.code(), Some(1), "{}", stderr(&saved));
    assert!(
        stderr(&saved).contains("cannot be used with a saved plan"),
        "{}",
        stderr(&saved)
    );
}

/// Issue 16: editing a generated certificate's `subject` is a planned rotation with the reason,
/// found through the PFX the last apply wrote (opened with the password from `pfxPasswordEnv`),
/// not through Graph; after the apply the new key carries the new subject and the plan is clean.
#[test]
fn an_edited_subject_is_a_rotation_with_the_reason_and_the_new_key_carries_it() {
    let password = rotation_password();
    let env = [(ROTATION_ENV, password.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("rotation.yaml");
    let pfx = dir.path().join("secrets/rotation.pfx");
    let with_subject = |subject: &str| {
        rotation_manifest_with("90d", "7d", "0d").replace(
            "        validity:",
            &format!("        subject: {subject}\n        validity:"),
        )
    };
    std::fs::write(&manifest, with_subject("CN=Rotation_A")).unwrap();
    let first = apply_rotation_yaml(dir.path(), &env);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let unchanged = plan_rotation_yaml(dir.path(), &env);
    assert_eq!(unchanged.status.code(), Some(0), "{}", stdout(&unchanged));

    std::fs::write(&manifest, with_subject("CN=Rotation_B")).unwrap();
    let planned = plan_rotation_yaml(dir.path(), &env);
    assert_eq!(planned.status.code(), Some(2), "{}", stderr(&planned));
    assert!(
        stdout(&planned).contains("(subject changed: CN=Rotation_A → CN=Rotation_B; "),
        "{}",
        stdout(&planned)
    );

    let applied = apply_rotation_yaml(dir.path(), &env);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    let key = PfxPassword::new(password.clone()).unwrap();
    let now = cert::load_client_certificate(&pfx, Some(&key)).unwrap();
    assert_eq!(now.certificate().subject(), "CN=Rotation_B");
    let after = plan_rotation_yaml(dir.path(), &env);
    assert_eq!(after.status.code(), Some(0), "{}", stdout(&after));
}
