//! The issue's must-show, end to end in the sandbox: apply a manifest whose certificate goes
//! to Key Vault only (no file, no password); the script host fetches the PFX with plain REST
//! (a token for the vault, `GET /secrets/{name}`) and signs in with it for Exchange; a
//! rotation imports a new version; a vault whose latest version is not a key of the app is
//! drift; `plan --detailed-exitcode` is 0 after each apply.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use entraform::sandbox::{self, SandboxConfig};
use serde_json::{Value, json};

use crate::common::{entraform, sandboxed, stderr, stdout};
use crate::sandbox_util::{token_by_assertion, token_by_secret};

const MANIFEST: &str = r#"apiVersion: entraform/v1
kind: Application
metadata:
  name: exo-kv
spec:
  displayName: Exo_KV_App
  apiPermissions:
    - api: Office 365 Exchange Online
      application: [Exchange.ManageAsApp]
  adminConsent: true
  certificates:
    - name: automation
      generate:
        validity: VALIDITY
        renewBefore: RENEW
        keyVault:
          vault: kv-ops
          certificate: exo-automation
"#;

fn write_manifest(dir: &Path, validity: &str, renew: &str) -> PathBuf {
    let path = dir.join("exo-kv.yaml");
    let text = MANIFEST
        .replace("VALIDITY", validity)
        .replace("RENEW", renew);
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn apply(dir: &Path, manifest: &Path) -> Output {
    let out = run(sandboxed(dir)
        .args(["apply", "--auto-approve"])
        .arg(manifest));
    assert!(
        out.status.success(),
        "apply failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn plan_exit(dir: &Path, manifest: &Path) -> (i32, String) {
    let out = run(sandboxed(dir)
        .args(["plan", "--detailed-exitcode"])
        .arg(manifest));
    (
        out.status.code().unwrap(),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

/// A token of the sandbox's bootstrap admin for `scope`.
pub(crate) async fn admin_token(
    sb: &sandbox::RunningSandbox,
    http: &reqwest::Client,
    scope: &str,
) -> String {
    let r = token_by_secret(
        http,
        &sb.token_url(),
        &sb.bootstrap_client_id(),
        sb.bootstrap_client_secret().expose(),
        scope,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["access_token"].as_str().unwrap().to_owned()
}

/// The script host's plain-REST read of a vault secret in `kv-ops`: a token for the vault as its
/// own identity, then `GET /secrets/{name}`.
pub(crate) async fn vault_secret(
    http: &reqwest::Client,
    sb: &sandbox::RunningSandbox,
    (host_app, host_secret): (&str, &str),
    name: &str,
) -> Value {
    let vault_token = token_by_secret(
        http,
        &sb.token_url(),
        host_app,
        host_secret,
        "https://vault.azure.net/.default",
    )
    .await;
    assert_eq!(vault_token.status, 200, "{}", vault_token.text);
    http.get(format!(
        "{}/secrets/{name}?api-version=7.6",
        sb.key_vault_url("kv-ops")
    ))
    .bearer_auth(vault_token.body["access_token"].as_str().unwrap())
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

/// What the script host does, with plain REST: a token for the vault (as the script host's
/// own identity), `GET /secrets/exo-automation`, the base64 PFX with no password, a client
/// assertion signed with it, a token for Exchange. Returns the PFX's thumbprint.
async fn script_host_signs_in(state: &Path, host_app: &str, host_secret: &str) -> String {
    let sb = sandbox::start(SandboxConfig::new().state_path(state))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let secret = vault_secret(&http, &sb, (host_app, host_secret), "exo-automation").await;
    assert_eq!(secret["contentType"], "application/x-pkcs12", "{secret}");
    let pfx = base64::engine::general_purpose::STANDARD
        .decode(secret["value"].as_str().unwrap())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in-memory-on-the-host.pfx");
    std::fs::write(&path, pfx).unwrap();
    // No password: Key Vault hands the PFX out with a blank one.
    let cert = entraform::cert::load_client_certificate(&path, None).unwrap();

    // The app's appId, from Graph.
    let admin = admin_token(&sb, &http, "https://graph.microsoft.com/.default").await;
    let apps: Value = http
        .get(format!(
            "{}/v1.0/applications(uniqueName='exo-kv')?$select=appId",
            sb.graph_url()
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app_id: entraform::model::AppId = apps["appId"].as_str().unwrap().parse().unwrap();
    let assertion = entraform::cert::client_assertion(
        &cert,
        &app_id,
        &sb.token_url(),
        entraform::cert::AssertionAlg::Rs256,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let exo = token_by_assertion(
        &http,
        &sb.token_url(),
        &app_id.to_string(),
        assertion.expose_secret(),
        "https://outlook.office365.com/.default",
    )
    .await;
    assert_eq!(
        exo.status, 200,
        "the PFX from Key Vault signs in: {}",
        exo.text
    );
    let roles =
        crate::sandbox_util::claims(exo.body["access_token"].as_str().unwrap())["roles"].clone();
    assert_eq!(roles, json!(["Exchange.ManageAsApp"]));
    let thumbprint = cert.certificate().thumbprint().to_string();
    sb.shutdown().await.unwrap();
    thumbprint
}

/// An identity for the script host with `Key Vault Secrets User` on the vault, granted with
/// `entraform sandbox grant`.
pub(crate) async fn script_host(dir: &Path) -> (String, String) {
    let state = dir.join("sandbox.json");
    let sb = sandbox::start(SandboxConfig::new().state_path(&state))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let token = admin_token(&sb, &http, "https://graph.microsoft.com/.default").await;
    let post = |path: String, body: Value| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            http.post(path)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let g = sb.graph_url();
    let app = post(
        format!("{g}/v1.0/applications"),
        json!({"displayName": "script-host"}),
    )
    .await;
    let app_id = app["appId"].as_str().unwrap().to_owned();
    post(
        format!("{g}/v1.0/servicePrincipals"),
        json!({"appId": app_id}),
    )
    .await;
    let secret = post(
        format!(
            "{g}/v1.0/applications/{}/addPassword",
            app["id"].as_str().unwrap()
        ),
        json!({"passwordCredential": {"displayName": "host"}}),
    )
    .await["secretText"]
        .as_str()
        .unwrap()
        .to_owned();
    sb.shutdown().await.unwrap();
    let out = run(entraform()
        .args([
            "sandbox",
            "grant",
            "--vault",
            "kv-ops",
            "--role",
            "Key Vault Secrets User",
            "--app",
            &app_id,
            "--state",
        ])
        .arg(&state));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Granted Key Vault Secrets User on vault `kv-ops`"),
        "{}",
        stderr(&out)
    );
    (app_id, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_vault_certificate_is_applied_fetched_signed_in_with_and_rotated() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let manifest = write_manifest(dir, "2d", "1d");

    // The plan shows where the certificate goes; no password variable is needed.
    let (code, plan) = plan_exit(dir, &manifest);
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.contains("key_vault") && plan.contains("kv-ops/exo-automation"),
        "{plan}"
    );
    assert!(!plan.contains("pfx_password_env"), "{plan}");
    apply(dir, &manifest);
    let (code, plan) = plan_exit(dir, &manifest);
    assert_eq!(code, 0, "after the first apply:\n{plan}");
    assert!(!dir.join("secrets").exists(), "no file was written");

    let (host_app, host_secret) = script_host(dir).await;
    let state = dir.join("sandbox.json");
    let first = script_host_signs_in(&state, &host_app, &host_secret).await;

    // `test-login --key-vault` signs in with the vault's current version.
    let out = run(sandboxed(dir)
        .args(["test-login", "--app", "exo-kv", "--key-vault"])
        .arg(&manifest));
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains(&first), "{}", stdout(&out));

    // Rotate: the live certificate (2 days left) is now inside renewBefore.
    let manifest = write_manifest(dir, "3d", "2d");
    let (code, plan) = plan_exit(dir, &manifest);
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("expires in"), "{plan}");
    apply(dir, &manifest);
    let (code, plan) = plan_exit(dir, &manifest);
    assert_eq!(code, 0, "after the rotation:\n{plan}");
    let second = script_host_signs_in(&state, &host_app, &host_secret).await;
    assert_ne!(
        first, second,
        "the vault's current version is the new certificate"
    );

    // Drift: a certificate imported into the vault behind entraform's back is not a key of
    // the app, so whatever reads the vault cannot sign in; the plan rotates.
    {
        let sb = sandbox::start(SandboxConfig::new().state_path(&state))
            .await
            .unwrap();
        let http = reqwest::Client::new();
        let token = admin_token(&sb, &http, "https://vault.azure.net/.default").await;
        let foreign = crate::graph_support::certificate("foreign");
        let bytes = entraform::cert::write_pfx(
            &foreign,
            &entraform::cert::PfxPassword::new("pw").unwrap(),
            entraform::model::PfxEncryption::Aes256,
            "x",
        )
        .unwrap();
        let r = http
            .post(format!("{}/certificates/exo-automation/import?api-version=7.6", sb.key_vault_url("kv-ops")))
            .bearer_auth(&token)
            .json(&json!({"value": base64::engine::general_purpose::STANDARD.encode(bytes), "pwd": "pw"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        sb.shutdown().await.unwrap();
    }
    let (code, plan) = plan_exit(dir, &manifest);
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.contains("which is not one of the app's keys"),
        "{plan}"
    );
    apply(dir, &manifest);
    let (code, plan) = plan_exit(dir, &manifest);
    assert_eq!(code, 0, "after repairing the drift:\n{plan}");
    script_host_signs_in(&state, &host_app, &host_secret).await;
}
