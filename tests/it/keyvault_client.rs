//! entraform's Key Vault client against the sandbox's Key Vault: it follows the 401 challenge,
//! imports and reads certificates, retries 429, and turns 403 and 409 into errors that say
//! which role is missing or how to recover or purge.

use entraform::graph::{Cloud, Credential, Secret};
use entraform::hint::Hint;
use entraform::keyvault::{KeyVaultClient, KeyVaultError, VaultEndpoints};
use entraform::model::KeyVaultCertificate;
use entraform::sandbox::{Faults, SandboxConfig};

use crate::graph_support::{self, add_secret, certificate, client_as, new_app};

fn target(vault: &str, name: &str) -> KeyVaultCertificate {
    KeyVaultCertificate {
        vault: vault.into(),
        certificate: name.into(),
    }
}

fn vaults(sb: &entraform::sandbox::RunningSandbox) -> VaultEndpoints {
    VaultEndpoints::new(Cloud::Public, Some(&sb.key_vault_url_template())).unwrap()
}

/// A PFX (base64) of a new certificate and its one-time password.
fn pfx(cn: &str) -> (Secret, Secret, entraform::cert::GeneratedCertificate) {
    use base64::Engine as _;
    let cert = certificate(cn);
    let bytes = entraform::cert::write_pfx(
        &cert,
        &entraform::cert::PfxPassword::new("one-time-pw").unwrap(),
        entraform::model::PfxEncryption::Aes256,
        cn,
    )
    .unwrap();
    (
        Secret::new(base64::engine::general_purpose::STANDARD.encode(bytes)),
        Secret::new("one-time-pw"),
        cert,
    )
}

#[tokio::test]
async fn the_client_follows_the_challenge_then_imports_and_reads_back() {
    let t = graph_support::start().await;
    let kv = KeyVaultClient::new(&t.admin, vaults(&t.sb)).unwrap();
    let exo = target("kv-ops", "exo-automation");
    assert_eq!(kv.get_certificate(&exo).await.unwrap(), None);
    let (value, password, cert) = pfx("exo");
    let imported = kv
        .import_certificate(&exo, &value, &password)
        .await
        .unwrap();
    assert_eq!(imported.thumbprint, cert.certificate().thumbprint());
    assert_eq!(imported.version.len(), 32);
    let latest = kv.get_certificate(&exo).await.unwrap().unwrap();
    assert_eq!(latest, imported);
    let secret = kv.get_secret(&exo).await.unwrap();
    assert_eq!(secret.content_type.as_deref(), Some("application/x-pkcs12"));

    // One challenge for the vault host: its first request went without a token (401), and
    // the import's empty first attempt was never needed again.
    let stats = t.sb.stats();
    let get = &stats.routes["GET /_keyvault/{vault}/certificates/{name}"];
    assert_eq!(get.get("401"), Some(&1), "{stats:?}");
    assert_eq!(stats.with_status("401"), 1, "{stats:?}");
    assert_eq!(
        stats.count("POST /_keyvault/{vault}/certificates/{name}/import"),
        1
    );
}

#[tokio::test]
async fn a_403_names_the_role_the_identity_lacks() {
    let t = graph_support::start().await;
    let (app, _) = new_app(&t.admin, "no-roles").await;
    let secret = add_secret(&t.admin, &app).await;
    let client = client_as(
        &t.sb,
        Credential::client_secret(app.app_id.to_string(), secret),
    );
    let kv = KeyVaultClient::new(&client, vaults(&t.sb)).unwrap();
    let (value, password, _) = pfx("c1");
    let err = kv
        .import_certificate(&target("kv-ops", "c1"), &value, &password)
        .await
        .unwrap_err();
    let service = err.service().expect("a service error");
    assert_eq!(service.status, 403);
    assert_eq!(service.inner_code.as_deref(), Some("ForbiddenByRbac"));
    assert_eq!(
        service.action(),
        Some("Microsoft.KeyVault/vaults/certificates/import/action")
    );
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("`Key Vault Certificates Officer` on `kv-ops`"),
        "{hint}"
    );
    let text = err.to_string();
    assert!(text.contains("x-ms-request-id"), "{text}");
    assert!(!text.contains(value.expose()) && !text.contains("one-time-pw"));
    // Granted, it imports; the secret needs another role.
    t.sb.grant_key_vault_role(
        Some("kv-ops"),
        "Key Vault Certificates Officer",
        &app.app_id.to_string(),
    )
    .unwrap();
    kv.import_certificate(&target("kv-ops", "c1"), &value, &password)
        .await
        .unwrap();
    let err = kv.get_secret(&target("kv-ops", "c1")).await.unwrap_err();
    assert!(err.hint().unwrap().contains("`Key Vault Secrets User`"));
}

#[tokio::test]
async fn a_soft_deleted_name_says_how_to_recover_or_purge() {
    let t = graph_support::start().await;
    let kv = KeyVaultClient::new(&t.admin, vaults(&t.sb)).unwrap();
    let (value, password, _) = pfx("c1");
    let c1 = target("kv1", "c1");
    kv.import_certificate(&c1, &value, &password).await.unwrap();
    // Deleted behind entraform's back, with plain REST.
    let token = t
        .admin
        .token_for("https://vault.azure.net/.default")
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .delete(format!(
            "{}/certificates/c1?api-version=7.6",
            t.sb.key_vault_url("kv1")
        ))
        .bearer_auth(token.token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(kv.get_certificate(&c1).await.unwrap(), None);
    let err = kv
        .import_certificate(&c1, &value, &password)
        .await
        .unwrap_err();
    assert_eq!(err.service().unwrap().status, 409);
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("az keyvault certificate recover --vault-name kv1 --name c1"),
        "{hint}"
    );
    assert!(
        hint.contains("az keyvault certificate purge --vault-name kv1 --name c1"),
        "{hint}"
    );
}

#[tokio::test]
async fn throttled_requests_are_retried() {
    let t = graph_support::start_with(SandboxConfig::new().faults(Faults {
        throttle: Some(40),
        ..Faults::default()
    }))
    .await;
    let kv = KeyVaultClient::new(&t.admin, vaults(&t.sb)).unwrap();
    for _ in 0..45 {
        assert_eq!(
            kv.get_certificate(&target("kv1", "none")).await.unwrap(),
            None
        );
    }
    let stats = t.sb.stats();
    assert!(stats.with_status("429") > 0, "{stats:?}");
}

#[tokio::test]
async fn a_challenge_for_another_resource_is_refused() {
    // An override is trusted for its host, but the challenge must still ask for Key Vault:
    // a server that asks for a Graph token gets none.
    use axum::{Router, http::StatusCode, response::IntoResponse, routing::any};
    let app = Router::new().fallback(any(|| async {
        (
            StatusCode::UNAUTHORIZED,
            [(
                "WWW-Authenticate",
                r#"Bearer authorization="https://login.microsoftonline.com/t", resource="https://graph.microsoft.com""#,
            )],
            "{}",
        )
            .into_response()
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let t = graph_support::start().await;
    let endpoints =
        VaultEndpoints::new(Cloud::Public, Some(&format!("http://{addr}/{{vault}}"))).unwrap();
    let kv = KeyVaultClient::new(&t.admin, endpoints).unwrap();
    let err = kv.get_certificate(&target("kv1", "c1")).await.unwrap_err();
    assert!(matches!(err, KeyVaultError::Challenge { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("https://graph.microsoft.com/.default"),
        "{err}"
    );
}

/// `PUT /secrets/{name}` needs `secrets/setSecret/action` (Key Vault Secrets Officer): refused
/// with the role named, then a new version per set; a soft-deleted name is a 409 that says how
/// to recover or purge it. The value is in no error.
#[tokio::test]
async fn setting_a_secret_needs_the_secrets_officer_and_makes_a_version_each_time() {
    use entraform::model::KeyVaultSecret;
    let t = graph_support::start().await;
    let (app, _) = new_app(&t.admin, "secret-setter").await;
    let secret = add_secret(&t.admin, &app).await;
    let client = client_as(
        &t.sb,
        Credential::client_secret(app.app_id.to_string(), secret),
    );
    let kv = KeyVaultClient::new(&client, vaults(&t.sb)).unwrap();
    let target = KeyVaultSecret {
        vault: "kv-ops".into(),
        secret: "exo-secret".into(),
    };
    let value = Secret::new("s3cr3t~value-never-shown");
    let tags = [("entraform-app", "exo".to_owned())];
    let err = kv
        .set_secret(&target, &value, "text/plain", (1, 2), &tags)
        .await
        .unwrap_err();
    let service = err.service().expect("a service error");
    assert_eq!(service.status, 403);
    assert_eq!(
        service.action(),
        Some("Microsoft.KeyVault/vaults/secrets/setSecret/action")
    );
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("`Key Vault Secrets Officer` on `kv-ops`"),
        "{hint}"
    );
    assert!(!err.to_string().contains(value.expose()));

    t.sb.grant_key_vault_role(
        Some("kv-ops"),
        "Key Vault Secrets Officer",
        &app.app_id.to_string(),
    )
    .unwrap();
    let first = kv
        .set_secret(&target, &value, "text/plain", (1, 2), &tags)
        .await
        .unwrap();
    let second = kv
        .set_secret(&target, &value, "text/plain", (1, 2), &tags)
        .await
        .unwrap();
    assert_ne!(first, second, "each set is a new version");
    assert!(first.contains("/secrets/exo-secret/"), "{first}");

    // Deleted (soft), the name is taken until recovered or purged.
    let token = client
        .token_for("https://vault.azure.net/.default")
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .delete(format!(
            "{}/secrets/exo-secret?api-version=7.6",
            t.sb.key_vault_url("kv-ops")
        ))
        .bearer_auth(token.token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let err = kv
        .set_secret(&target, &value, "text/plain", (1, 2), &tags)
        .await
        .unwrap_err();
    assert_eq!(err.service().unwrap().status, 409);
    assert!(
        err.hint()
            .unwrap()
            .contains("az keyvault secret purge --vault-name kv-ops --name exo-secret")
    );
}
