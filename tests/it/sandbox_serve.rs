//! Running the sandbox: `sandbox serve` output and signals, `sandbox reset`, HTTPS with the
//! generated CA, loopback-only listening, and state that survives a restart.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use entraform::sandbox::{self, SandboxConfig, SandboxError};
use serde_json::{Value, json};

use crate::common::{entraform, stderr};
use crate::sandbox_util::*;

#[test]
fn serve_prints_one_json_line_and_saves_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let mut child = entraform()
        .args(["sandbox", "serve", "--json", "--tls", "--state"])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    for key in [
        "graph_url",
        "authority_url",
        "tenant_id",
        "tenant_domain",
        "client_id",
        "client_secret",
        "state",
        "ca_certificate",
    ] {
        assert!(info[key].is_string(), "{key} missing in {line}");
    }
    assert!(
        info["graph_url"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    assert!(
        info["tenant_domain"]
            .as_str()
            .unwrap()
            .ends_with(".onmicrosoft.com")
    );
    assert!(std::path::Path::new(info["ca_certificate"].as_str().unwrap()).exists());
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(doc["tenant"]["id"], info["tenant_id"]);
    assert!(
        !err.contains(info["client_secret"].as_str().unwrap()),
        "the secret stays off stderr"
    );
}

#[test]
fn reset_deletes_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    std::fs::write(&state, "{}").unwrap();
    let out = entraform()
        .args(["sandbox", "reset", "--sandbox-state"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!state.exists());
}

#[tokio::test]
async fn https_works_with_the_generated_ca() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox::start(
        SandboxConfig::new()
            .state_path(dir.path().join("s.json"))
            .tls(true),
    )
    .await
    .unwrap();
    let ca = reqwest::Certificate::from_pem(sb.ca_certificate_pem().unwrap().as_bytes()).unwrap();
    assert_eq!(
        std::fs::read_to_string(sb.ca_certificate_path().unwrap()).unwrap(),
        sb.ca_certificate_pem().unwrap()
    );
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let tok = token_by_secret(
        &http,
        &sb.token_url(),
        &sb.bootstrap_client_id(),
        sb.bootstrap_client_secret().expose(),
        GRAPH,
    )
    .await;
    assert_eq!(tok.status, 200, "{}", tok.text);
    let r = http
        .get(format!(
            "{}/v1.0/servicePrincipals(appId='{EXCHANGE_APP_ID}')",
            sb.graph_url()
        ))
        .bearer_auth(tok.body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Without the CA, a standard client refuses the server.
    assert!(
        reqwest::Client::new()
            .get(sb.graph_url())
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn only_loopback_unless_named_explicitly() {
    let err = sandbox::start(SandboxConfig::new().listen("0.0.0.0:0"))
        .await
        .unwrap_err();
    assert!(matches!(err, SandboxError::NonLoopback { .. }), "{err}");
    let mut explicit = SandboxConfig::new().listen("0.0.0.0:0");
    explicit.allow_non_loopback = true;
    let sb = sandbox::start(explicit).await.unwrap();
    sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_tenant_and_its_objects_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let t = start_with(SandboxConfig::new().state_path(&state)).await;
    let app = t
        .post("/applications", json!({"displayName": "persisted"}))
        .await
        .body;
    let (tenant, client) = (t.sb.tenant_id(), t.sb.bootstrap_client_id());
    t.sb.shutdown().await.unwrap();
    let again = start_with(SandboxConfig::new().state_path(&state)).await;
    assert_eq!(
        (again.sb.tenant_id(), again.sb.bootstrap_client_id()),
        (tenant, client)
    );
    let got = again
        .get(&format!("/applications/{}", app["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        format!("{:?}", again.sb.bootstrap_client_secret()),
        "<redacted>"
    );
}

#[tokio::test]
async fn an_unknown_state_version_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    std::fs::write(&state, r#"{"format_version": 99}"#).unwrap();
    let err = sandbox::start(SandboxConfig::new().state_path(&state))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("format version 99"), "{err}");
    assert!(
        entraform::error::Hint::hint(&err)
            .unwrap()
            .contains("sandbox reset")
    );
}
