//! Signing in against the sandbox with every credential type, and each sign-in failure with
//! the AADSTS code and hint the user sees.

use std::time::Duration;

use entraform::cert::AssertionAlg;
use entraform::graph::types::Application;
use entraform::graph::{
    AuthOptions, ClientConfig, Credential, CredentialSource, EnvSnapshot, GraphClient, GraphError,
    RetrySafety, resolve_credential,
};
use entraform::hint::Hint;
use entraform::sandbox::SandboxConfig;

use crate::graph_support::*;

fn sign_in_error(err: &GraphError) -> &entraform::graph::SignInError {
    match err {
        GraphError::SignIn(e) => e,
        other => panic!("expected a sign-in error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_sandbox_admin_signs_in_with_its_client_secret_and_reads_applications() {
    let t = start().await;
    let (app, _) = new_app(&t.admin, "secret-reader").await;
    let apps: Vec<Application> = t.admin.list_all("/applications").await.unwrap();
    assert!(apps.iter().any(|a| a.id == app.id));
}

#[tokio::test]
async fn a_client_secret_from_the_environment_signs_in_and_a_wrong_one_gets_7000215() {
    let t = start().await;
    let (app, sp) = new_app(&t.admin, "secret-app").await;
    grant_graph_role(&t.admin, &sp, "Application.Read.All").await;
    let secret = add_secret(&t.admin, &app).await;
    let env = |secret: &str| {
        EnvSnapshot::from_pairs([
            ("AZURE_CLIENT_ID", app.app_id.to_string()),
            ("AZURE_TENANT_ID", t.sb.tenant_id()),
            ("AZURE_CLIENT_SECRET", secret.to_owned()),
        ])
    };
    let credential = resolve_credential(&AuthOptions::default(), &env(&secret))
        .await
        .unwrap();
    assert_eq!(credential.source(), CredentialSource::ClientSecret);
    let client = client_as(&t.sb, credential);
    let me: Application = client
        .get(&format!("/applications/{}", app.id))
        .await
        .unwrap();
    assert_eq!(me.app_id, app.app_id);

    let wrong = resolve_credential(&AuthOptions::default(), &env("not-the-secret"))
        .await
        .unwrap();
    let err = client_as(&t.sb, wrong).sign_in().await.unwrap_err();
    let e = sign_in_error(&err);
    assert_eq!(e.codes, vec![7000215]);
    assert_eq!(e.credential, CredentialSource::ClientSecret);
    assert!(e.trace_id.is_some() && e.correlation_id.is_some(), "{e:?}");
    let text = err.to_string();
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(text.contains(&app.app_id.to_string()), "{text}");
    assert!(
        err.hint()
            .unwrap()
            .contains("the client secret is wrong or expired"),
        "{:?}",
        err.hint()
    );
}

#[tokio::test]
async fn an_unknown_client_a_missing_tenant_and_a_bad_scope_each_get_their_code_and_hint() {
    let t = start().await;
    let unknown_client = client_as(
        &t.sb,
        Credential::client_secret("3f76be04-5cf0-47f1-9df6-d05981a450fc", "x"),
    );
    let err = unknown_client.sign_in().await.unwrap_err();
    assert_eq!(sign_in_error(&err).codes, vec![700016]);
    assert!(err.hint().unwrap().contains("not found in this tenant"));

    let mut elsewhere = endpoints(&t.sb);
    elsewhere.tenant = Some("no-such-tenant.onmicrosoft.com".into());
    let client = entraform::graph::GraphClient::new(
        elsewhere,
        Credential::client_secret(
            t.sb.bootstrap_client_id(),
            t.sb.bootstrap_client_secret().expose(),
        ),
        quick(),
    )
    .unwrap();
    let err = client.sign_in().await.unwrap_err();
    assert_eq!(sign_in_error(&err).codes, vec![90002]);
    assert!(err.hint().unwrap().contains("tenant was not found"));

    let err = t
        .admin
        .token_for("https://nothing.example.com/.default")
        .await
        .unwrap_err();
    assert_eq!(sign_in_error(&err).codes, vec![70011]);
    assert!(err.hint().unwrap().contains("/.default"));
}

#[tokio::test]
async fn a_pem_certificate_signs_in_with_rs256_and_with_ps256() {
    let t = start().await;
    let (app, sp) = new_app(&t.admin, "pem-app").await;
    grant_graph_role(&t.admin, &sp, "Application.Read.All").await;
    let cert = certificate("pem-app");
    register_certificate(&t.admin, &app, &cert).await;
    let dir = tempfile::tempdir().unwrap();
    let pem = write_pem(dir.path(), &cert);
    for alg in [AssertionAlg::Rs256, AssertionAlg::Ps256] {
        let opts = AuthOptions {
            certificate_alg: alg,
            ..AuthOptions::default()
        };
        let env = EnvSnapshot::from_pairs([
            ("AZURE_CLIENT_ID", app.app_id.to_string()),
            ("AZURE_TENANT_ID", t.sb.tenant_id()),
            ("AZURE_CLIENT_CERTIFICATE_PATH", pem.display().to_string()),
        ]);
        let credential = resolve_credential(&opts, &env).await.unwrap();
        assert_eq!(credential.source(), CredentialSource::Certificate);
        let me: Application = client_as(&t.sb, credential)
            .get(&format!("/applications/{}", app.id))
            .await
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(me.id, app.id);
    }
}

#[tokio::test]
async fn a_password_protected_pfx_signs_in_and_a_wrong_password_fails_before_any_request() {
    let t = start().await;
    let (app, sp) = new_app(&t.admin, "pfx-app").await;
    grant_graph_role(&t.admin, &sp, "Application.Read.All").await;
    let cert = certificate("pfx-app");
    register_certificate(&t.admin, &app, &cert).await;
    let dir = tempfile::tempdir().unwrap();
    let pfx = write_pfx(dir.path(), &cert, "correct horse");
    let env = |password: &str| {
        EnvSnapshot::from_pairs([
            ("AZURE_CLIENT_ID", app.app_id.to_string()),
            ("AZURE_TENANT_ID", t.sb.tenant_id()),
            ("AZURE_CLIENT_CERTIFICATE_PATH", pfx.display().to_string()),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", password.to_owned()),
        ])
    };
    let credential = resolve_credential(&AuthOptions::default(), &env("correct horse"))
        .await
        .unwrap();
    let client = client_as(&t.sb, credential);
    client.sign_in().await.unwrap();
    let me: Application = client
        .get(&format!("/applications/{}", app.id))
        .await
        .unwrap();
    assert_eq!(me.id, app.id);

    let before = t.sb.stats().total;
    let err = resolve_credential(&AuthOptions::default(), &env("battery staple"))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Certificate { .. }), "{err:?}");
    assert!(!format!("{err:?}{err}").contains("battery staple"));
    // The wrong password is named by where it came from.
    let chain = std::error::Error::source(&err).map(|s| s.to_string());
    assert!(
        chain
            .as_deref()
            .is_some_and(|s| s.contains("the password in `AZURE_CLIENT_CERTIFICATE_PASSWORD`")),
        "{chain:?}"
    );
    assert_eq!(t.sb.stats().total, before);
}

#[tokio::test]
async fn a_certificate_the_app_does_not_know_gets_700027() {
    let t = start().await;
    let (app, _) = new_app(&t.admin, "stranger").await;
    register_certificate(&t.admin, &app, &certificate("registered")).await;
    let dir = tempfile::tempdir().unwrap();
    let other = write_pem(dir.path(), &certificate("not-registered"));
    let env = EnvSnapshot::from_pairs([
        ("AZURE_CLIENT_ID", app.app_id.to_string()),
        ("AZURE_TENANT_ID", t.sb.tenant_id()),
        ("AZURE_CLIENT_CERTIFICATE_PATH", other.display().to_string()),
    ]);
    let credential = resolve_credential(&AuthOptions::default(), &env)
        .await
        .unwrap();
    let err = client_as(&t.sb, credential).sign_in().await.unwrap_err();
    let e = sign_in_error(&err);
    assert_eq!(e.codes, vec![700027], "{err}");
    assert_eq!(e.credential, CredentialSource::Certificate);
    assert!(err.hint().unwrap().contains("not registered on the app"));
}

#[tokio::test]
async fn a_federated_token_file_signs_in_and_is_read_again_at_each_refresh() {
    let issuer = Issuer::start().await;
    let t = start_with(SandboxConfig::new().trust_issuer(issuer.url.clone())).await;
    let (app, sp) = new_app(&t.admin, "federated-app").await;
    grant_graph_role(&t.admin, &sp, "Application.Read.All").await;
    let subject = "repo:org/repo:environment:prod";
    t.admin
        .post(
            &format!("/applications/{}/federatedIdentityCredentials", app.id),
            &serde_json::json!({"name": "prod", "issuer": issuer.url, "subject": subject,
                                "audiences": ["api://AzureADTokenExchange"]}),
            RetrySafety::NotIdempotent,
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("oidc-token");
    std::fs::write(&token_file, issuer.token(subject)).unwrap();
    let env = EnvSnapshot::from_pairs([
        ("AZURE_CLIENT_ID", app.app_id.to_string()),
        ("AZURE_TENANT_ID", t.sb.tenant_id()),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        // A secret is configured too: federation comes first.
        ("AZURE_CLIENT_SECRET", "unused".to_owned()),
    ]);
    let credential = resolve_credential(&AuthOptions::default(), &env)
        .await
        .unwrap();
    assert_eq!(credential.source(), CredentialSource::WorkloadIdentity);
    // A margin longer than a token's life: every request signs in again.
    let config = ClientConfig {
        token_refresh_margin: Duration::from_secs(24 * 3600),
        ..quick()
    };
    let client = GraphClient::new(endpoints(&t.sb), credential, config).unwrap();
    let path = format!("/applications/{}", app.id);
    let read = || client.get::<Application>(&path);
    assert_eq!(read().await.unwrap().id, app.id);

    // The platform rotates the file; a token for another subject matches no credential.
    std::fs::write(
        &token_file,
        issuer.token("repo:org/repo:ref:refs/heads/feature"),
    )
    .unwrap();
    let err = read().await.unwrap_err();
    let e = sign_in_error(&err);
    assert_eq!(e.codes, vec![70021], "{err}");
    assert_eq!(e.credential, CredentialSource::WorkloadIdentity);
    assert!(err.hint().unwrap().contains("no federated credential"));

    std::fs::write(&token_file, issuer.token(subject)).unwrap();
    assert_eq!(read().await.unwrap().id, app.id);
}

#[cfg(unix)]
fn fake_az(dir: &std::path::Path, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let az = dir.join("az");
    std::fs::write(&az, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn the_azure_cli_credential_asks_az_for_a_graph_token_in_the_tenant() {
    let t = start().await;
    let token = t
        .admin
        .token_for("https://graph.microsoft.com/.default")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let expires_on = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let args_file = dir.path().join("args");
    fake_az(
        dir.path(),
        &format!(
            "echo \"$@\" > '{}'\necho '{{\"accessToken\": \"{}\", \"expires_on\": {expires_on}, \"tokenType\": \"Bearer\"}}'",
            args_file.display(),
            token.token.expose()
        ),
    );
    let env = EnvSnapshot::from_pairs([("PATH", dir.path().display().to_string())]);
    let credential = resolve_credential(&AuthOptions::default(), &env)
        .await
        .unwrap();
    assert_eq!(credential.source(), CredentialSource::AzureCli);
    let client = client_as(&t.sb, credential);
    client
        .list_all::<Application>("/applications")
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&args_file).unwrap().trim(),
        format!(
            "account get-access-token --output json --resource https://graph.microsoft.com --tenant {}",
            t.sb.tenant_id()
        )
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_signed_out_azure_cli_says_what_az_said_and_suggests_az_login() {
    let t = start().await;
    let dir = tempfile::tempdir().unwrap();
    fake_az(
        dir.path(),
        "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1",
    );
    let env = EnvSnapshot::from_pairs([("PATH", dir.path().display().to_string())]);
    let opts = AuthOptions {
        forced: Some(CredentialSource::AzureCli),
        ..AuthOptions::default()
    };
    let credential = resolve_credential(&opts, &env).await.unwrap();
    let err = client_as(&t.sb, credential).sign_in().await.unwrap_err();
    assert_eq!(
        sign_in_error(&err).description.as_deref(),
        Some("Please run 'az login' to setup account.")
    );
    assert!(err.hint().unwrap().contains("az login"));
}

#[tokio::test]
async fn a_403_names_the_graph_permission_the_operation_needs() {
    let t = start().await;
    let (app, _) = new_app(&t.admin, "no-permissions").await;
    let secret = add_secret(&t.admin, &app).await;
    let client = client_as(
        &t.sb,
        Credential::client_secret(app.app_id.to_string(), secret),
    );
    let read = client
        .list_all::<Application>("/applications")
        .await
        .unwrap_err();
    assert_eq!(read.code(), Some("Authorization_RequestDenied"), "{read}");
    assert!(
        read.hint().unwrap().contains("`Application.Read.All`"),
        "{:?}",
        read.hint()
    );
    let text = read.to_string();
    assert!(
        text.contains("request-id: ") && text.contains("client-request-id: "),
        "{text}"
    );

    let write = client
        .post(
            "/applications",
            &serde_json::json!({"displayName": "x"}),
            RetrySafety::NotIdempotent,
        )
        .await
        .unwrap_err();
    assert_eq!(write.status(), Some(403), "{write}");
    assert!(
        write
            .hint()
            .unwrap()
            .contains("`Application.ReadWrite.OwnedBy` or `Application.ReadWrite.All`"),
        "{:?}",
        write.hint()
    );
}

#[tokio::test]
async fn an_expired_client_secret_gets_7000222() {
    let t = start().await;
    let (app, _) = new_app(&t.admin, "expired-secret").await;
    let yesterday = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let created: entraform::graph::types::PasswordCredential = t
        .admin
        .post(
            &format!("/applications/{}/addPassword", app.id),
            &serde_json::json!({"passwordCredential": {
                "displayName": "old",
                "startDateTime": (yesterday - time::Duration::days(30))
                    .format(&time::format_description::well_known::Rfc3339).unwrap(),
                "endDateTime": yesterday
                    .format(&time::format_description::well_known::Rfc3339).unwrap(),
            }}),
            RetrySafety::NotIdempotent,
        )
        .await
        .unwrap()
        .json()
        .unwrap();
    let secret = created.secret_text.unwrap().expose().to_owned();
    let err = client_as(
        &t.sb,
        Credential::client_secret(app.app_id.to_string(), secret),
    )
    .sign_in()
    .await
    .unwrap_err();
    assert_eq!(sign_in_error(&err).codes, vec![7000222], "{err}");
    assert!(err.hint().unwrap().contains("has expired"));
}

#[tokio::test]
async fn a_stale_federated_token_gets_700024_and_a_file_without_a_jwt_gets_50027() {
    let issuer = Issuer::start().await;
    let t = start_with(SandboxConfig::new().trust_issuer(issuer.url.clone())).await;
    let (app, _) = new_app(&t.admin, "stale-federated").await;
    let subject = "system:serviceaccount:ops:entraform";
    t.admin
        .post(
            &format!("/applications/{}/federatedIdentityCredentials", app.id),
            &serde_json::json!({"name": "k8s", "issuer": issuer.url, "subject": subject,
                                "audiences": ["api://AzureADTokenExchange"]}),
            RetrySafety::NotIdempotent,
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let client = client_as(
        &t.sb,
        Credential::WorkloadIdentity {
            client_id: app.app_id.to_string(),
            token_file: token_file.clone(),
        },
    );

    // Issued an hour ago, expired 55 minutes ago: the file was not refreshed.
    std::fs::write(&token_file, issuer.token_issued(subject, -3600)).unwrap();
    let err = client.sign_in().await.unwrap_err();
    assert_eq!(sign_in_error(&err).codes, vec![700024], "{err}");
    assert!(err.hint().unwrap().contains("validity window"));

    std::fs::write(&token_file, "not a token\n").unwrap();
    let err = client.sign_in().await.unwrap_err();
    assert_eq!(sign_in_error(&err).codes, vec![50027], "{err}");
    assert!(
        err.hint()
            .unwrap()
            .contains("client assertion was rejected")
    );

    std::fs::write(&token_file, "").unwrap();
    let err = client.sign_in().await.unwrap_err();
    assert!(err.to_string().contains("is empty"), "{err}");
}
