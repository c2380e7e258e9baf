//! No secret reaches the logs at any verbosity: a full flow runs with every tracing event at
//! `trace` captured (the client's, the sandbox's, the HTTP stack's), then the capture is
//! searched for each secret the flow handled.

use std::io::Write;
use std::sync::{Arc, Mutex};

use entraform::graph::types::Application;
use entraform::graph::{
    AuthOptions, BatchRequest, Credential, EnvSnapshot, RetrySafety, resolve_credential,
};
use entraform::sandbox::SandboxConfig;
use serde_json::json;

use crate::graph_support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A JWT anywhere in `text`: `eyJ…` base64url, a dot, `eyJ…` again.
fn find_jwt(text: &str) -> Option<&str> {
    text.match_indices("eyJ").find_map(|(i, _)| {
        let rest = &text[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(rest.len());
        let candidate = &rest[..end];
        let mut parts = candidate.split('.');
        let (header, claims) = (parts.next()?, parts.next()?);
        (header.len() > 10 && claims.starts_with("eyJ")).then_some(candidate)
    })
}

// Current-thread runtime: the sandbox, the client and the capture share this thread, so the
// thread-local subscriber sees every event of the flow.
#[tokio::test(flavor = "current_thread")]
async fn a_full_flow_at_trace_level_logs_no_secret() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // With a single scoped dispatcher, tracing-core computes a callsite's interest from the
    // default of whichever thread hits it first, so a callsite first reached by a parallel
    // test's thread (no subscriber) would stay disabled here. A second live dispatcher makes
    // it consult every registered dispatcher instead.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());

    let issuer = Issuer::start().await;
    let t = start_with(SandboxConfig::new().trust_issuer(issuer.url.clone())).await;
    let admin_secret = t.sb.bootstrap_client_secret().expose().to_owned();

    // Admin (client secret): writes, a secret created by addPassword, a batch, an upsert.
    let (app, sp) = new_app(&t.admin, "redaction").await;
    grant_graph_role(&t.admin, &sp, "Application.ReadWrite.All").await;
    let app_secret = add_secret(&t.admin, &app).await;
    let cert = certificate("redaction");
    register_certificate(&t.admin, &app, &cert).await;
    t.admin
        .upsert(
            "/applications(uniqueName='redaction-upsert')",
            &json!({"displayName": "upserted"}),
        )
        .await
        .unwrap();
    t.admin
        .batch(vec![
            BatchRequest::get(format!("/applications/{}", app.id)),
            BatchRequest::patch(
                format!("/applications/{}", app.id),
                json!({"description": "batched"}),
                RetrySafety::Idempotent,
            ),
        ])
        .await
        .unwrap();
    let subject = "repo:org/repo:environment:prod";
    t.admin
        .post(
            &format!("/applications/{}/federatedIdentityCredentials", app.id),
            &json!({"name": "prod", "issuer": issuer.url, "subject": subject,
                    "audiences": ["api://AzureADTokenExchange"]}),
            RetrySafety::NotIdempotent,
        )
        .await
        .unwrap();
    let minted = t
        .admin
        .token_for("https://graph.microsoft.com/.default")
        .await
        .unwrap();
    tracing::debug!(?minted, "a token, as Debug");

    // The app by its new secret, by its certificate (PFX with a password), by federation.
    let dir = tempfile::tempdir().unwrap();
    let pfx_password = "pfx-pass-9f8e7d";
    let pfx = write_pfx(dir.path(), &cert, pfx_password);
    let federated_token = issuer.token(subject);
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &federated_token).unwrap();
    let base = [
        ("AZURE_CLIENT_ID", app.app_id.to_string()),
        ("AZURE_TENANT_ID", t.sb.tenant_id()),
    ];
    let envs = [
        ("AZURE_CLIENT_SECRET", app_secret.clone()),
        ("AZURE_CLIENT_CERTIFICATE_PATH", pfx.display().to_string()),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        ),
    ];
    for (name, value) in &envs {
        let mut pairs = base.to_vec();
        pairs.push((name, value.clone()));
        if *name == "AZURE_CLIENT_CERTIFICATE_PATH" {
            pairs.push(("AZURE_CLIENT_CERTIFICATE_PASSWORD", pfx_password.to_owned()));
        }
        let env = EnvSnapshot::from_pairs(pairs);
        tracing::debug!(?env, "environment");
        let credential = resolve_credential(&AuthOptions::default(), &env)
            .await
            .unwrap();
        tracing::debug!(?credential, "credential");
        let client = client_as(&t.sb, credential);
        tracing::debug!(?client, "client");
        let me: Application = client
            .get(&format!("/applications/{}", app.id))
            .await
            .unwrap();
        client
            .patch(
                &format!("/applications/{}", me.id),
                &json!({"description": format!("signed in with {name}")}),
                RetrySafety::Idempotent,
            )
            .await
            .unwrap();
    }

    // A refused sign-in: the error body is traced and the error displayed.
    let refused = client_as(
        &t.sb,
        Credential::client_secret(app.app_id.to_string(), "wrong-secret-1a2b3c"),
    )
    .sign_in()
    .await
    .unwrap_err();
    tracing::error!("{refused} / {refused:?}");

    let log = capture.text();
    // The capture really holds the traffic: requests, bodies and redacted fields.
    for expected in [
        "client_secret=<redacted>",
        "client_assertion=<redacted>",
        "\"secretText\":\"<redacted>\"",
        "\"access_token\":\"<redacted>\"",
        "client-request-id",
        "request_id",
    ] {
        assert!(log.contains(expected), "the capture lacks `{expected}`");
    }
    let key_base64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(cert.private_key().expose_pkcs8_der())
    };
    for (what, secret) in [
        ("the admin's client secret", admin_secret.as_str()),
        ("the app's client secret", app_secret.as_str()),
        ("a wrong client secret", "wrong-secret-1a2b3c"),
        ("the PFX password", pfx_password),
        ("the federated token", federated_token.as_str()),
        ("a minted access token", minted.token.expose()),
        ("the private key", &key_base64[..64]),
        ("a PEM private key", "PRIVATE KEY-----"),
    ] {
        assert!(!log.contains(secret), "{what} is in the trace log");
    }
    assert_eq!(find_jwt(&log), None, "a JWT is in the trace log");
    assert!(
        !log.contains("Bearer ey"),
        "a bearer token is in the trace log"
    );
}
