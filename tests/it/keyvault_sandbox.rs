//! The sandbox's Key Vault, spoken to in raw HTTP + JSON as Key Vault's REST reference shows it:
//! import, get, versions, the backing secret, soft delete, recover, purge, the 401 challenge,
//! `api-version`, RBAC per principal, throttling and persistence.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use entraform::sandbox::{self, Faults, SandboxConfig};
use serde_json::{Value, json};

use crate::graph_support::certificate;
use crate::sandbox_util::{self, Resp, Tenant, token_by_secret};

const VAULT_SCOPE: &str = "https://vault.azure.net/.default";
const API: &str = "api-version=2025-07-01";

/// A token for Key Vault for the bootstrap admin (Key Vault Administrator on every vault).
async fn admin_vault_token(t: &Tenant) -> String {
    let r = token_by_secret(
        &t.http,
        &t.sb.token_url(),
        &t.sb.bootstrap_client_id(),
        t.sb.bootstrap_client_secret().expose(),
        VAULT_SCOPE,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        sandbox_util::claims(&token)["aud"],
        "https://vault.azure.net"
    );
    token
}

async fn kv(
    t: &Tenant,
    token: Option<&str>,
    method: &str,
    vault: &str,
    path_and_query: &str,
    body: Option<Value>,
) -> Resp {
    let url = format!("{}{path_and_query}", t.sb.key_vault_url(vault));
    let mut req = t
        .http
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// `GET {vault}{path}?api-version=…` with `token`.
async fn get(t: &Tenant, token: &str, vault: &str, path: &str) -> Resp {
    kv(t, Some(token), "GET", vault, &format!("{path}?{API}"), None).await
}

/// Imports a new certificate `name` (a PFX protected by `pw`) into `vault`.
async fn import_new(
    t: &Tenant,
    token: &str,
    vault: &str,
    name: &str,
) -> (Resp, entraform::cert::GeneratedCertificate) {
    let (value, cert) = pfx_b64(name, "pw");
    let body = json!({"value": value, "pwd": "pw"});
    let path = format!("/certificates/{name}/import?{API}");
    (
        kv(t, Some(token), "POST", vault, &path, Some(body)).await,
        cert,
    )
}

/// A PFX of a fresh certificate, base64, protected by `password`.
fn pfx_b64(cn: &str, password: &str) -> (String, entraform::cert::GeneratedCertificate) {
    let cert = certificate(cn);
    let bytes = entraform::cert::write_pfx(
        &cert,
        &entraform::cert::PfxPassword::new(password).unwrap(),
        entraform::model::PfxEncryption::Aes256,
        cn,
    )
    .unwrap();
    (STANDARD.encode(bytes), cert)
}

fn x5t(cert: &entraform::cert::GeneratedCertificate) -> String {
    cert.certificate().x5t()
}

/// A new application with a client secret and no roles anywhere: (appId, secret).
async fn new_principal(t: &Tenant, name: &str) -> (String, String) {
    let app = t
        .send_as(
            &t.token,
            "POST",
            "/applications",
            Some(json!({"displayName": name})),
            &[],
        )
        .await;
    assert_eq!(app.status, 201, "{}", app.text);
    let app_id = app.body["appId"].as_str().unwrap().to_owned();
    let sp = t
        .send_as(
            &t.token,
            "POST",
            "/servicePrincipals",
            Some(json!({"appId": app_id})),
            &[],
        )
        .await;
    assert_eq!(sp.status, 201, "{}", sp.text);
    let pw = t
        .send_as(
            &t.token,
            "POST",
            &format!(
                "/applications/{}/addPassword",
                app.body["id"].as_str().unwrap()
            ),
            Some(json!({"passwordCredential": {"displayName": "kv"}})),
            &[],
        )
        .await;
    assert_eq!(pw.status, 200, "{}", pw.text);
    (app_id, pw.body["secretText"].as_str().unwrap().to_owned())
}

async fn vault_token_for(t: &Tenant, app_id: &str, secret: &str) -> String {
    let r = token_by_secret(&t.http, &t.sb.token_url(), app_id, secret, VAULT_SCOPE).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_imported_pfx_is_served_as_certificate_versions_and_a_passwordless_secret() {
    let t = sandbox_util::start().await;
    let token = admin_vault_token(&t).await;
    // Ids name the vault's own host however it was addressed.
    let base = format!("http://kv-ops.vault.localhost:{}", t.sb.local_addr().port());
    let (value, cert) = pfx_b64("exo-automation", "import-pw");
    let imported = kv(
        &t,
        Some(&token),
        "POST",
        "kv-ops",
        &format!("/certificates/exo-automation/import?{API}"),
        Some(json!({"value": value, "pwd": "import-pw",
            "policy": {"key_props": {"exportable": true, "kty": "RSA", "key_size": 2048, "reuse_key": false},
                       "secret_props": {"contentType": "application/x-pkcs12"}}})),
    )
    .await;
    assert_eq!(imported.status, 200, "{}", imported.text);
    let b = &imported.body;
    let id = b["id"].as_str().unwrap();
    let version = id.rsplit('/').next().unwrap();
    assert_eq!(version.len(), 32);
    assert!(
        version
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(id, format!("{base}/certificates/exo-automation/{version}"));
    assert_eq!(b["kid"], format!("{base}/keys/exo-automation/{version}"));
    assert_eq!(b["sid"], format!("{base}/secrets/exo-automation/{version}"));
    assert_eq!(b["x5t"], x5t(&cert));
    assert_eq!(b["cer"], STANDARD.encode(cert.certificate().der()));
    assert_eq!(
        b["attributes"]["exp"],
        cert.certificate().not_after().unix_timestamp()
    );
    assert_eq!(b["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    assert_eq!(b["policy"]["issuer"]["name"], "Unknown");
    assert_eq!(b["policy"]["key_props"]["key_size"], 2048);
    assert_eq!(b["policy"]["x509_props"]["subject"], "CN=exo-automation");

    // Latest with the SDKs' trailing slash, and by version.
    let latest = get(&t, &token, "kv-ops", "/certificates/exo-automation/").await;
    assert_eq!(latest.status, 200, "{}", latest.text);
    assert_eq!(latest.body["id"], b["id"]);
    let by_version = get(
        &t,
        &token,
        "kv-ops",
        &format!("/certificates/EXO-automation/{version}"),
    )
    .await;
    assert_eq!(by_version.body["x5t"], b["x5t"]);

    // A second import is a second version.
    let (value2, cert2) = pfx_b64("exo-automation", "second");
    let second = kv(
        &t,
        Some(&token),
        "POST",
        "kv-ops",
        &format!("/certificates/exo-automation/import?{API}"),
        Some(json!({"value": value2, "pwd": "second"})),
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.text);
    let versions = get(
        &t,
        &token,
        "kv-ops",
        "/certificates/exo-automation/versions",
    )
    .await;
    assert_eq!(
        versions.body["value"].as_array().unwrap().len(),
        2,
        "{}",
        versions.text
    );
    assert_eq!(versions.body["nextLink"], Value::Null);
    let latest = get(&t, &token, "kv-ops", "/certificates/exo-automation").await;
    assert_eq!(latest.body["x5t"], x5t(&cert2));

    // The backing secret: the PFX with a blank password, the key included (exportable).
    let secret = get(&t, &token, "kv-ops", "/secrets/exo-automation/").await;
    assert_eq!(secret.status, 200, "{}", secret.text);
    assert_eq!(secret.body["contentType"], "application/x-pkcs12");
    assert_eq!(secret.body["managed"], true);
    assert_eq!(secret.body["kid"], latest.body["kid"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("from-vault.pfx");
    std::fs::write(
        &path,
        STANDARD
            .decode(secret.body["value"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let loaded = entraform::cert::load_client_certificate(&path, None).unwrap();
    assert_eq!(
        loaded.certificate().thumbprint(),
        cert2.certificate().thumbprint()
    );
    // The older version's secret is still there by version.
    let old = get(
        &t,
        &token,
        "kv-ops",
        &format!("/secrets/exo-automation/{version}"),
    )
    .await;
    assert_eq!(old.status, 200);
    assert_ne!(old.body["value"], secret.body["value"]);
}

#[tokio::test]
async fn a_non_exportable_certificates_secret_has_no_private_key() {
    let t = sandbox_util::start().await;
    let token = admin_vault_token(&t).await;
    let (value, _) = pfx_b64("locked", "pw");
    let r = kv(
        &t,
        Some(&token),
        "POST",
        "kv1",
        &format!("/certificates/locked/import?{API}"),
        Some(json!({"value": value, "pwd": "pw", "policy": {"key_props": {"exportable": false}}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let secret = get(&t, &token, "kv1", "/secrets/locked").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.pfx");
    std::fs::write(
        &path,
        STANDARD
            .decode(secret.body["value"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(entraform::cert::load_client_certificate(&path, None).is_err());
}

#[tokio::test]
async fn api_version_is_required_and_checked() {
    let t = sandbox_util::start().await;
    let token = admin_vault_token(&t).await;
    let none = kv(&t, Some(&token), "GET", "kv1", "/certificates/x", None).await;
    assert_eq!(none.status, 400);
    assert_eq!(none.body["error"]["code"], "BadParameter");
    let odd = kv(
        &t,
        Some(&token),
        "GET",
        "kv1",
        "/certificates/x?api-version=1999-01-01",
        None,
    )
    .await;
    assert_eq!(odd.status, 400);
    assert_eq!(
        odd.body["error"]["message"],
        "The specified version (1999-01-01) is not recognized. Consider using the latest supported version (2026-04-01)."
    );
    for v in ["7.5", "7.6", "2025-07-01", "2026-04-01"] {
        let ok = kv(
            &t,
            Some(&token),
            "GET",
            "kv1",
            &format!("/certificates/x?api-version={v}"),
            None,
        )
        .await;
        assert_eq!(ok.status, 404, "{v}: {}", ok.text);
        assert_eq!(ok.body["error"]["code"], "CertificateNotFound");
        assert_eq!(ok.body["error"]["message"], "Certificate not found: x");
    }
}

#[tokio::test]
async fn no_token_gets_the_challenge_and_a_graph_token_is_refused() {
    let t = sandbox_util::start().await;
    // The SDKs' first request: no token, an empty body, before any body validation.
    let r = kv(
        &t,
        None,
        "POST",
        "kv1",
        &format!("/certificates/c1/import?{API}"),
        None,
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "Unauthorized");
    assert_eq!(
        r.body["error"]["message"],
        "AKV10000: Request is missing a Bearer or PoP token."
    );
    let challenge = r.header("www-authenticate").unwrap();
    assert_eq!(
        challenge,
        format!(
            "Bearer authorization=\"{}/{}\", resource=\"https://vault.azure.net\"",
            t.sb.authority_url(),
            t.sb.tenant_id()
        )
    );
    let graph = kv(
        &t,
        Some(&t.token),
        "GET",
        "kv1",
        &format!("/certificates/c1?{API}"),
        None,
    )
    .await;
    assert_eq!(graph.status, 401, "{}", graph.text);
    assert!(graph.header("www-authenticate").is_some());
}

#[tokio::test]
async fn data_plane_roles_are_checked_per_principal_and_vault() {
    let t = sandbox_util::start().await;
    let (app_id, secret) = new_principal(&t, "importer").await;
    let token = vault_token_for(&t, &app_id, &secret).await;
    let (value, _) = pfx_b64("c1", "pw");
    let import = |token: String, vault: &'static str| {
        let body = json!({"value": value.clone(), "pwd": "pw"});
        let t = &t;
        async move {
            kv(
                t,
                Some(&token),
                "POST",
                vault,
                &format!("/certificates/c1/import?{API}"),
                Some(body),
            )
            .await
        }
    };
    let denied = import(token.clone(), "kv-ops").await;
    assert_eq!(denied.status, 403, "{}", denied.text);
    assert_eq!(denied.body["error"]["code"], "Forbidden");
    assert_eq!(
        denied.body["error"]["innererror"]["code"],
        "ForbiddenByRbac"
    );
    let message = denied.body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Caller is not authorized to perform action on resource.\r\n"),
        "{message}"
    );
    assert!(message.contains(&format!("appid={app_id};")), "{message}");
    assert!(
        message.contains("Action: 'Microsoft.KeyVault/vaults/certificates/import/action'"),
        "{message}"
    );
    assert!(
        message.contains("/vaults/kv-ops/certificates/c1'"),
        "{message}"
    );

    let grant =
        t.sb.grant_key_vault_role(Some("kv-ops"), "Key Vault Certificates Officer", &app_id)
            .unwrap();
    assert!(grant.created);
    assert_eq!(
        grant.role_definition_id,
        "a4417e6f-fecd-4de8-b567-7b0420556985"
    );
    assert_eq!(import(token.clone(), "kv-ops").await.status, 200);
    // Only on that vault.
    assert_eq!(import(token.clone(), "kv-other").await.status, 403);
    // Certificates Officer cannot read the PFX back.
    let secret_get = get(&t, &token, "kv-ops", "/secrets/c1").await;
    assert_eq!(secret_get.status, 403);
    assert!(
        secret_get.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'")
    );
    t.sb.grant_key_vault_role(Some("kv-ops"), "Key Vault Secrets User", &app_id)
        .unwrap();
    let secret_get = get(&t, &token, "kv-ops", "/secrets/c1").await;
    assert_eq!(secret_get.status, 200, "{}", secret_get.text);
    assert!(
        t.sb.grant_key_vault_role(None, "Key Vault Wizard", &app_id)
            .is_err()
    );
}

#[tokio::test]
async fn a_deleted_certificate_is_recoverable_its_name_is_taken_until_purged() {
    let t = sandbox_util::start().await;
    let token = admin_vault_token(&t).await;
    let (value, _) = pfx_b64("c1", "pw");
    let body = json!({"value": value, "pwd": "pw"});
    let path = format!("/certificates/c1/import?{API}");
    assert_eq!(
        kv(&t, Some(&token), "POST", "kv1", &path, Some(body.clone()))
            .await
            .status,
        200
    );
    let deleted = kv(
        &t,
        Some(&token),
        "DELETE",
        "kv1",
        &format!("/certificates/c1?{API}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let base = format!("http://kv1.vault.localhost:{}", t.sb.local_addr().port());
    assert_eq!(
        deleted.body["recoveryId"],
        format!("{base}/deletedcertificates/c1")
    );
    let (d, p) = (
        deleted.body["deletedDate"].as_i64().unwrap(),
        deleted.body["scheduledPurgeDate"].as_i64().unwrap(),
    );
    assert_eq!(p - d, 90 * 86_400);
    assert_eq!(get(&t, &token, "kv1", "/certificates/c1").await.status, 404);
    assert_eq!(
        get(&t, &token, "kv1", "/deletedcertificates/c1")
            .await
            .status,
        200
    );

    let reuse = kv(&t, Some(&token), "POST", "kv1", &path, Some(body.clone())).await;
    assert_eq!(reuse.status, 409, "{}", reuse.text);
    assert_eq!(reuse.body["error"]["code"], "Conflict");
    assert_eq!(
        reuse.body["error"]["innererror"]["code"],
        "ObjectIsDeletedButRecoverable"
    );
    assert_eq!(
        reuse.body["error"]["message"],
        "Certificate c1 is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the certificate can only be recovered or purged."
    );

    let recovered = kv(
        &t,
        Some(&token),
        "POST",
        "kv1",
        &format!("/deletedcertificates/c1/recover?{API}"),
        None,
    )
    .await;
    assert_eq!(recovered.status, 200, "{}", recovered.text);
    assert_eq!(get(&t, &token, "kv1", "/certificates/c1").await.status, 200);

    assert_eq!(
        kv(
            &t,
            Some(&token),
            "DELETE",
            "kv1",
            &format!("/certificates/c1?{API}"),
            None
        )
        .await
        .status,
        200
    );
    let purged = kv(
        &t,
        Some(&token),
        "DELETE",
        "kv1",
        &format!("/deletedcertificates/c1?{API}"),
        None,
    )
    .await;
    assert_eq!(purged.status, 204);
    assert!(purged.text.is_empty());
    let gone = get(&t, &token, "kv1", "/deletedcertificates/c1").await;
    assert_eq!(
        gone.body["error"]["message"],
        "Deleted Certificate not found: c1"
    );
    assert_eq!(
        kv(&t, Some(&token), "POST", "kv1", &path, Some(body))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn throttling_answers_429_throttled() {
    let t = sandbox_util::start_with(SandboxConfig::new().faults(Faults {
        throttle: Some(3),
        ..Faults::default()
    }))
    .await;
    let token = admin_vault_token(&t).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = get(&t, &token, "kv1", "/certificates/x").await;
        if r.status == 429 {
            assert_eq!(r.body["error"]["code"], "Throttled");
            assert!(r.header("retry-after").is_none());
        }
        statuses.push(r.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses[0], 404);
}

#[tokio::test]
async fn a_vault_is_also_addressed_by_host_name() {
    let t = sandbox_util::start().await;
    let token = admin_vault_token(&t).await;
    let (r, cert) = import_new(&t, &token, "kv-host", "c1").await;
    assert_eq!(r.status, 200);
    let http = reqwest::Client::builder()
        .resolve("kv-host.vault.localhost", t.sb.local_addr())
        .build()
        .unwrap();
    let port = t.sb.local_addr().port();
    let resp = http
        .get(format!(
            "http://kv-host.vault.localhost:{port}/certificates/c1/?{API}"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["x5t"], x5t(&cert));
    assert!(body["id"].as_str().unwrap().starts_with(&format!(
        "http://kv-host.vault.localhost:{port}/certificates/c1/"
    )));
}

#[tokio::test]
async fn vaults_and_grants_survive_a_restart_and_a_version_1_state_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let t = sandbox_util::start_with(SandboxConfig::new().state_path(&state)).await;
    let token = admin_vault_token(&t).await;
    let (r, cert) = import_new(&t, &token, "kv1", "c1").await;
    assert_eq!(r.status, 200);
    t.sb.shutdown().await.unwrap();
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 3);
    assert!(!saved.to_string().contains("\"pw\""));

    let t = sandbox_util::start_with(SandboxConfig::new().state_path(&state)).await;
    let token = admin_vault_token(&t).await;
    let r = get(&t, &token, "kv1", "/certificates/c1").await;
    assert_eq!(r.body["x5t"], x5t(&cert));
    t.sb.shutdown().await.unwrap();

    // A version 1 state (before Key Vault): its admin gets Key Vault Administrator.
    let mut v1 = saved.clone();
    v1["format_version"] = json!(1);
    v1.as_object_mut().unwrap().remove("key_vaults");
    v1.as_object_mut().unwrap().remove("key_vault_roles");
    std::fs::write(&state, serde_json::to_vec(&v1).unwrap()).unwrap();
    let t = sandbox_util::start_with(SandboxConfig::new().state_path(&state)).await;
    let token = admin_vault_token(&t).await;
    let r = get(&t, &token, "kv1", "/certificates/c1").await;
    assert_eq!(r.status, 404, "{}", r.text);
    t.sb.shutdown().await.unwrap();

    // `grant` on a state no server holds.
    let app_id = saved["bootstrap"]["client_id"].as_str().unwrap();
    let g = sandbox::grant_key_vault_role(&state, Some("kv9"), "Key Vault Reader", app_id).unwrap();
    assert!(g.created);
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["key_vault_roles"].as_array().unwrap().len(), 2);
}
