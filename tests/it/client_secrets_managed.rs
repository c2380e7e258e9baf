//! Issue 16: managed client secrets, end to end in the sandbox. apply adds the secret to the app
//! and sets its value (which Graph shows once) as a Key Vault secret; a script host with Key
//! Vault Secrets User reads it with plain REST and signs in with it; `plan --detailed-exitcode`
//! is 0 after; the value appears in no output, log or saved plan. When the vault refuses the
//! value, the secret is taken off the app again and apply says why.

use std::path::{Path, PathBuf};

use entraform::sandbox::{self, SandboxConfig};
use serde_json::Value;

use crate::common::sandboxed;
use crate::common::{stderr, stdout};
use crate::keyvault_e2e::{admin_token, run, script_host, vault_secret};
use crate::sandbox_util::token_by_secret;

fn write_manifest(dir: &Path, secrets: &[(&str, &str)], validity: &str, renew: &str) -> PathBuf {
    let mut text = "apiVersion: entraform/v1
kind: Application
metadata:
  name: secret-kv
spec:
  displayName: Secret_KV_App
  clientSecrets:
"
    .to_owned();
    if secrets.is_empty() {
        text = text.replace("clientSecrets:\n", "clientSecrets: []\n");
    }
    for (name, secret) in secrets {
        text.push_str(&format!(
            "    - name: {name}
      validity: {validity}
      renewBefore: {renew}
      overlap: 0d
      keyVault:
        vault: kv-ops
        secret: {secret}
"
        ));
    }
    let path = dir.join("secret-kv.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Everything a run printed.
fn printed(out: &std::process::Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

/// What the script host does: a token for the vault as its own identity, `GET
/// /secrets/{name}` (the value and its tags), then the client credentials grant with the app's
/// appId and that value. Returns the value and the app's password credentials.
async fn script_host_signs_in(
    state: &Path,
    host: &(String, String),
    name: &str,
) -> (String, Value) {
    let sb = sandbox::start(SandboxConfig::new().state_path(state))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let secret = vault_secret(&http, &sb, (&host.0, &host.1), name).await;
    assert_eq!(secret["contentType"], "text/plain", "{secret}");
    assert!(secret["attributes"]["exp"].is_i64(), "{secret}");
    let value = secret["value"].as_str().unwrap().to_owned();
    // The tags say which app the secret signs in as.
    let app_id = secret["tags"]["entraform-app-id"].as_str().unwrap();
    let token = token_by_secret(
        &http,
        &sb.token_url(),
        app_id,
        &value,
        "https://graph.microsoft.com/.default",
    )
    .await;
    assert_eq!(
        token.status, 200,
        "the secret from Key Vault signs in: {}",
        token.text
    );

    let passwords = password_credentials(&sb, &http).await;
    sb.shutdown().await.unwrap();
    (value, passwords)
}

/// The app's `passwordCredentials`, read by the sandbox's admin.
async fn password_credentials(sb: &sandbox::RunningSandbox, http: &reqwest::Client) -> Value {
    let admin = admin_token(sb, http, "https://graph.microsoft.com/.default").await;
    let app: Value = http
        .get(format!(
            "{}/v1.0/applications(uniqueName='secret-kv')?$select=passwordCredentials",
            sb.graph_url()
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app["passwordCredentials"].clone()
}

/// Soft-deletes a Key Vault secret named `name`, set first, as an administrator would.
async fn soft_deleted_secret(state: &Path, name: &str) {
    let sb = sandbox::start(SandboxConfig::new().state_path(state))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let token = admin_token(&sb, &http, "https://vault.azure.net/.default").await;
    let url = format!(
        "{}/secrets/{name}?api-version=7.6",
        sb.key_vault_url("kv-ops")
    );
    let set = http
        .put(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({"value": "old"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let deleted = http.delete(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_client_secret_lands_in_key_vault_signs_in_and_is_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("sandbox.json");
    let manifest = write_manifest(dir, &[("automation", "exo-secret")], "2d", "1d");

    let saved = run(sandboxed(dir)
        .args(["plan", "--out", "tfplan.json"])
        .arg(&manifest));
    assert_eq!(saved.status.code(), Some(0), "{}", printed(&saved));
    let plan = stdout(&saved);
    assert!(
        plan.contains("client_secret.secret-kv[\"automation\"]"),
        "{plan}"
    );
    assert!(plan.contains("kv-ops/exo-secret"), "{plan}");
    let applied = run(sandboxed(dir).args(["-vvv", "apply", "tfplan.json"]));
    assert_eq!(applied.status.code(), Some(0), "{}", printed(&applied));
    let after = run(sandboxed(dir)
        .args(["plan", "--detailed-exitcode"])
        .arg(&manifest));
    assert_eq!(after.status.code(), Some(0), "{}", printed(&after));

    let host = script_host(dir).await;
    let (value, passwords) = script_host_signs_in(&state, &host, "exo-secret").await;
    assert_eq!(passwords.as_array().unwrap().len(), 1, "{passwords}");
    assert_eq!(passwords[0]["displayName"], "entraform:automation");

    let certs = run(sandboxed(dir)
        .args(["certs", "--format", "json"])
        .arg(&manifest));
    assert_eq!(certs.status.code(), Some(0), "{}", printed(&certs));
    let report: Value = serde_json::from_str(&stdout(&certs)).unwrap();
    let row = &report["certificates"][0];
    assert_eq!(row["kind"], "client_secret", "{report}");
    assert_eq!(row["certificate"], "automation", "{report}");
    assert_eq!(row["source"], "generate", "{report}");
    assert_eq!(row["status"], "ok", "{report}");

    // The value is nowhere but in the vault: not in any output (at -vvv), not in the plan file.
    let plan_file = std::fs::read_to_string(dir.join("tfplan.json")).unwrap();
    for (what, text) in [
        ("plan", printed(&saved)),
        ("apply -vvv", printed(&applied)),
        ("plan after", printed(&after)),
        ("certs", printed(&certs)),
        ("the saved plan", plan_file),
    ] {
        assert!(!text.contains(&value), "the secret's value is in {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_the_vault_refuses_is_taken_off_the_app_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("sandbox.json");
    // The app first, so the vault's refusal is the only failure.
    let manifest = write_manifest(dir, &[], "2d", "1d");
    let first = run(sandboxed(dir)
        .args(["apply", "--auto-approve"])
        .arg(&manifest));
    assert_eq!(first.status.code(), Some(0), "{}", printed(&first));
    soft_deleted_secret(&state, "gone-secret").await;

    let manifest = write_manifest(dir, &[("automation", "gone-secret")], "2d", "1d");
    let refused = run(sandboxed(dir)
        .args(["apply", "--auto-approve"])
        .arg(&manifest));
    assert_eq!(refused.status.code(), Some(1), "{}", printed(&refused));
    let text = stderr(&refused);
    assert!(
        text.contains("cannot set Key Vault secret kv-ops/gone-secret"),
        "{text}"
    );
    assert!(text.contains("was removed again"), "{text}");
    assert!(
        text.contains("az keyvault secret recover --vault-name kv-ops --name gone-secret"),
        "{text}"
    );

    // Nothing dangling: the app has no password, and the plan still wants to add it.
    let sb = sandbox::start(SandboxConfig::new().state_path(&state))
        .await
        .unwrap();
    let passwords = password_credentials(&sb, &reqwest::Client::new()).await;
    sb.shutdown().await.unwrap();
    assert_eq!(passwords, serde_json::json!([]), "{passwords}");
    let plan = run(sandboxed(dir)
        .args(["plan", "--detailed-exitcode"])
        .arg(&manifest));
    assert_eq!(plan.status.code(), Some(2), "{}", printed(&plan));
}
