//! Helpers for the `graph_*` tests: a sandbox with an admin `GraphClient`, apps registered through
//! the client itself, and certificates made with `entraform::cert`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use entraform::cert::{GenerateRequest, GeneratedCertificate, PfxPassword};
use entraform::graph::types::{Application, PasswordCredential, ServicePrincipal};
use entraform::graph::{
    ClientConfig, Cloud, Credential, GraphClient, GraphEndpoints, RetryPolicy, RetrySafety,
};
use entraform::model::{KeyType, Period, PfxEncryption};
use entraform::sandbox::{self, Clock, RunningSandbox, SandboxConfig};
use serde_json::json;

pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

pub struct Tenant {
    pub sb: RunningSandbox,
    /// Signed in as the sandbox's bootstrap admin.
    pub admin: GraphClient,
}

/// Retries quick enough for tests; the sandbox's `Retry-After` (whole seconds) still rules 429s.
pub fn quick() -> ClientConfig {
    ClientConfig {
        retry: RetryPolicy {
            max_attempts: 8,
            max_elapsed: Duration::from_secs(60),
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(100),
        },
        ..ClientConfig::default()
    }
}

pub fn endpoints(sb: &RunningSandbox) -> GraphEndpoints {
    GraphEndpoints::new(
        Cloud::Public,
        Some(&sb.graph_url()),
        Some(&sb.authority_url()),
        Some(&sb.tenant_id()),
    )
    .unwrap()
}

pub use crate::scale::admin_client;

pub async fn start() -> Tenant {
    start_with(SandboxConfig::new()).await
}

pub async fn start_with(config: SandboxConfig) -> Tenant {
    // On tokio's clock: virtual time in a paused runtime (`start_paused`), else the wall's pace.
    let sb = sandbox::start(config.clock(Clock::Runtime))
        .await
        .expect("the sandbox starts");
    let admin = admin_client(&sb, quick());
    Tenant { sb, admin }
}

/// Creates an application (single-tenant) and its service principal.
pub async fn new_app(admin: &GraphClient, name: &str) -> (Application, ServicePrincipal) {
    let app: Application = admin
        .post(
            "/applications",
            &json!({"displayName": name, "signInAudience": "AzureADMyOrg"}),
            RetrySafety::NotIdempotent,
        )
        .await
        .unwrap()
        .json()
        .unwrap();
    let sp: ServicePrincipal = admin
        .post(
            "/servicePrincipals",
            &json!({"appId": app.app_id}),
            RetrySafety::NotIdempotent,
        )
        .await
        .unwrap()
        .json()
        .unwrap();
    (app, sp)
}

/// A new client secret on `app` (Graph's `addPassword`).
pub async fn add_secret(admin: &GraphClient, app: &Application) -> String {
    let created: PasswordCredential = admin
        .post(
            &format!("/applications/{}/addPassword", app.id),
            &json!({"passwordCredential": {"displayName": "test"}}),
            RetrySafety::NotIdempotent,
        )
        .await
        .unwrap()
        .json()
        .unwrap();
    created.secret_text.unwrap().expose().to_owned()
}

/// Grants `sp` the Microsoft Graph application permission `role` (admin consent).
pub async fn grant_graph_role(admin: &GraphClient, sp: &ServicePrincipal, role: &str) {
    let graph: ServicePrincipal = admin
        .get(&format!(
            "/servicePrincipals(appId='{GRAPH_APP_ID}')?$select=id,appId,appRoles"
        ))
        .await
        .unwrap();
    let role_id = graph
        .app_roles
        .iter()
        .find(|r| r.value.as_deref() == Some(role))
        .unwrap_or_else(|| panic!("Graph has no app role {role}"))
        .id;
    admin
        .post(
            &format!("/servicePrincipals/{}/appRoleAssignedTo", graph.id),
            &json!({"principalId": sp.id, "resourceId": graph.id, "appRoleId": role_id}),
            RetrySafety::NotIdempotent,
        )
        .await
        .unwrap();
}

/// A client for `app` signing in with `credential`.
pub fn client_as(sb: &RunningSandbox, credential: Credential) -> GraphClient {
    GraphClient::new(endpoints(sb), credential, quick()).unwrap()
}

pub fn certificate(name: &str) -> GeneratedCertificate {
    entraform::cert::generate(&GenerateRequest {
        subject: format!("CN={name}"),
        key_type: KeyType::Rsa2048,
        validity: Period::from_days(30),
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap()
}

/// Puts `cert` on `app` as its only key credential (the first certificate goes in by PATCH).
pub async fn register_certificate(
    admin: &GraphClient,
    app: &Application,
    cert: &GeneratedCertificate,
) {
    let public = cert.certificate();
    admin
        .patch(
            &format!("/applications/{}", app.id),
            &json!({"keyCredentials": [{
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
                "key": public.key_base64(),
                "displayName": public.subject(),
            }]}),
            RetrySafety::Idempotent,
        )
        .await
        .unwrap();
}

/// The certificate and its unencrypted PKCS#8 key in one PEM file.
pub fn write_pem(dir: &Path, cert: &GeneratedCertificate) -> PathBuf {
    let text = pem::encode_many(&[
        pem::Pem::new("CERTIFICATE", cert.certificate().der().to_vec()),
        pem::Pem::new(
            "PRIVATE KEY",
            cert.private_key().expose_pkcs8_der().to_vec(),
        ),
    ]);
    let path = dir.join("signin.pem");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn write_pfx(dir: &Path, cert: &GeneratedCertificate, password: &str) -> PathBuf {
    let bytes = entraform::cert::write_pfx(
        cert,
        &PfxPassword::new(password).unwrap(),
        PfxEncryption::Aes256,
        "signin",
    )
    .unwrap();
    let path = dir.join("signin.pfx");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A minimal OIDC issuer on loopback (like GitHub Actions' token service): discovery, its
/// signing key, and tokens it mints for a subject.
pub struct Issuer {
    pub url: String,
    key: jsonwebtoken::EncodingKey,
    server: tokio::task::JoinHandle<()>,
}

impl Issuer {
    pub async fn start() -> Issuer {
        let cert = certificate("issuer");
        let key_pem = pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            cert.private_key().expose_pkcs8_der().to_vec(),
        ));
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
        let mut jwk =
            jsonwebtoken::jwk::Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::RS256)
                .unwrap();
        jwk.common.key_id = Some("k1".into());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/keys")});
        let jwks = json!({ "keys": [jwk] });
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/keys",
                axum::routing::get(move || async move { axum::Json(jwks) }),
            );
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Issuer { url, key, server }
    }

    /// A token for `subject` with the audience federated credentials expect.
    pub fn token(&self, subject: &str) -> String {
        self.token_issued(subject, 0)
    }

    /// A five-minute token issued `offset_s` seconds from now (negative: in the past).
    pub fn token_issued(&self, subject: &str, offset_s: i64) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp() + offset_s;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(
            &header,
            &json!({"iss": self.url, "sub": subject, "aud": "api://AzureADTokenExchange",
                    "iat": now, "nbf": now, "exp": now + 300}),
            &self.key,
        )
        .unwrap()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}
