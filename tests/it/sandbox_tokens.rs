//! The sandbox's authority: tokens by secret, by a certificate assertion the test signs itself,
//! and by a federated assertion from a local OIDC issuer; and the AADSTS errors for each failure.

use entraform::sandbox::SandboxConfig;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::sandbox_util::*;

/// An app with a certificate and the Graph roles to read service principals; returns
/// (app, certificate DER, private key PEM).
async fn app_with_certificate(t: &Tenant, name: &str) -> (Value, Vec<u8>, String) {
    let (app, sp, der, key) = t.app_with_certificate(name).await;
    t.grant_graph_role(&sp, "Application.Read.All").await;
    (app, der, key)
}

#[tokio::test]
async fn a_certificate_assertion_token_reads_exchange_manage_as_app() {
    let t = start().await;
    // The bootstrap secret works (start() asserted it) and carries the admin's roles.
    let admin = claims(&t.token);
    assert!(
        admin["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("Application.ReadWrite.All"))
    );
    assert_eq!(admin["tid"], json!(t.sb.tenant_id()));

    let (app, der, key) = app_with_certificate(&t, "cert-reader").await;
    let client_id = app["appId"].as_str().unwrap();
    for alg in [Algorithm::RS256, Algorithm::PS256] {
        let assertion = sign(
            &der,
            &key,
            alg,
            &assertion_claims(client_id, &t.sb.token_url()),
        );
        let tok =
            token_by_assertion(&t.http, &t.sb.token_url(), client_id, &assertion, GRAPH).await;
        assert_eq!(tok.status, 200, "{alg:?}: {}", tok.text);
        let access = tok.body["access_token"].as_str().unwrap();
        assert_eq!(claims(access)["roles"], json!(["Application.Read.All"]));
        assert_eq!(claims(access)["appid"], json!(client_id));

        let exo = t
            .send_as(
                access,
                "GET",
                &format!("/servicePrincipals(appId='{EXCHANGE_APP_ID}')?$select=id,appId,displayName,appRoles"),
                None,
                &[],
            )
            .await;
        assert_eq!(exo.status, 200, "{}", exo.text);
        let role = exo.body["appRoles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["value"] == "Exchange.ManageAsApp"
                    && r["allowedMemberTypes"] == json!(["Application"])
            })
            .expect("Exchange.ManageAsApp is seeded");
        assert_eq!(role["id"], MANAGE_AS_APP);
        // Its look-alikes are there too, so callers must match the name exactly.
        for v in ["Exchange.ManageAsAppV2", "Exchange.AdminAPI.ManageAsApp"] {
            assert!(
                exo.body["appRoles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["value"] == v),
                "{v}"
            );
        }
    }
}

#[tokio::test]
async fn a_replayed_expired_or_foreign_assertion_is_refused_with_its_aadsts_code() {
    let t = start().await;
    let (app, der, key) = app_with_certificate(&t, "assertions").await;
    let client_id = app["appId"].as_str().unwrap();
    let url = t.sb.token_url();
    let code = |r: &Resp| r.body["error_codes"][0].as_u64().unwrap();

    let once = sign(
        &der,
        &key,
        Algorithm::RS256,
        &assertion_claims(client_id, &url),
    );
    assert_eq!(
        token_by_assertion(&t.http, &url, client_id, &once, GRAPH)
            .await
            .status,
        200
    );
    let replay = token_by_assertion(&t.http, &url, client_id, &once, GRAPH).await;
    assert_eq!(
        (replay.status, code(&replay)),
        (401, 50012),
        "{}",
        replay.text
    );

    let mut old = assertion_claims(client_id, &url);
    old["nbf"] = json!(now_s() - 3600);
    old["exp"] = json!(now_s() - 1800);
    let expired = token_by_assertion(
        &t.http,
        &url,
        client_id,
        &sign(&der, &key, Algorithm::RS256, &old),
        GRAPH,
    )
    .await;
    assert_eq!(code(&expired), 700024, "{}", expired.text);

    let (other_der, other_key) = rsa_certificate("not registered");
    let foreign = sign(
        &other_der,
        &other_key,
        Algorithm::RS256,
        &assertion_claims(client_id, &url),
    );
    let foreign = token_by_assertion(&t.http, &url, client_id, &foreign, GRAPH).await;
    assert_eq!(code(&foreign), 700027, "{}", foreign.text);

    // Right thumbprint, wrong key: the signature itself is checked.
    let mut forged = sign(
        &other_der,
        &other_key,
        Algorithm::RS256,
        &assertion_claims(client_id, &url),
    );
    let real_header = sign(
        &der,
        &key,
        Algorithm::RS256,
        &assertion_claims(client_id, &url),
    );
    let header = real_header.split('.').next().unwrap();
    let rest: Vec<&str> = forged.splitn(2, '.').collect();
    forged = format!("{header}.{}", rest[1]);
    let forged = token_by_assertion(&t.http, &url, client_id, &forged, GRAPH).await;
    assert_eq!(code(&forged), 700027, "{}", forged.text);

    let wrong_aud = sign(
        &der,
        &key,
        Algorithm::RS256,
        &assertion_claims(
            client_id,
            "https://login.microsoftonline.com/x/oauth2/v2.0/token",
        ),
    );
    let wrong_aud = token_by_assertion(&t.http, &url, client_id, &wrong_aud, GRAPH).await;
    assert_eq!(code(&wrong_aud), 50012, "{}", wrong_aud.text);
}

#[tokio::test]
async fn token_endpoint_failures_have_the_identity_platform_shape() {
    let t = start().await;
    let id = t.sb.bootstrap_client_id();
    let secret = t.sb.bootstrap_client_secret().expose().to_string();
    let url = t.sb.token_url();
    let cases = [
        (
            url.clone(),
            uuid::Uuid::new_v4().to_string(),
            secret.clone(),
            GRAPH.to_string(),
            700016,
        ),
        (
            url.clone(),
            id.clone(),
            "not-the-secret".to_string(),
            GRAPH.to_string(),
            7000215,
        ),
        (
            format!(
                "{}/fabrikam.onmicrosoft.com/oauth2/v2.0/token",
                t.sb.authority_url()
            ),
            id.clone(),
            secret.clone(),
            GRAPH.to_string(),
            90002,
        ),
        (
            url.clone(),
            id.clone(),
            secret.clone(),
            "https://foo.microsoft.com/.default".to_string(),
            70011,
        ),
    ];
    let shape = example("token-error-with-error-uri.response.json");
    for (url, client, secret, scope, expected) in cases {
        let r = token_by_secret(&t.http, &url, &client, &secret, &scope).await;
        assert!(r.status == 400 || r.status == 401, "{}", r.text);
        assert_eq!(r.body["error_codes"], json!([expected]), "{}", r.text);
        assert_shape(&shape, &r.body, &[]);
        let desc = r.body["error_description"].as_str().unwrap();
        assert!(desc.starts_with(&format!("AADSTS{expected}: ")), "{desc}");
        assert!(
            desc.contains("\r\nTrace ID: ") && desc.contains("\r\nCorrelation ID: "),
            "{desc}"
        );
    }
    // The tenant may be named by its domain.
    let by_domain = format!(
        "{}/{}/oauth2/v2.0/token",
        t.sb.authority_url(),
        t.sb.tenant_domain()
    );
    assert_eq!(
        token_by_secret(&t.http, &by_domain, &id, &secret, GRAPH)
            .await
            .status,
        200
    );
    // Success has the documented shape.
    let ok = token_by_secret(&t.http, &url, &id, &secret, GRAPH).await;
    assert_shape(
        &example("token-client-credentials.response.json"),
        &ok.body,
        &[],
    );
}

#[tokio::test]
async fn discovery_publishes_the_key_that_signs_access_tokens() {
    let t = start().await;
    let config: Value = t
        .http
        .get(format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            t.sb.authority_url(),
            t.sb.tenant_id()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["token_endpoint"], json!(t.sb.token_url()));
    let jwks: Value = t
        .http
        .get(config["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&["https://graph.microsoft.com"]);
    validation.set_issuer(&[config["issuer"].as_str().unwrap()]);
    let data = jsonwebtoken::decode::<Value>(&t.token, &key, &validation)
        .expect("the token verifies with the JWKS");
    assert_eq!(data.claims["tid"], json!(t.sb.tenant_id()));
}

/// A minimal OIDC issuer on loopback, like GitHub Actions' token service.
async fn local_issuer() -> (String, String, tokio::task::JoinHandle<()>) {
    let (der, key_pem) = rsa_certificate("issuer");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let info = x509_parser::parse_x509_certificate(&der).unwrap().1;
    let x509_parser::public_key::PublicKey::RSA(rsa) = info.public_key().parsed().unwrap() else {
        panic!("RSA")
    };
    use base64::Engine;
    let b64 = |b: &[u8]| {
        let i = b.iter().position(|x| *x != 0).unwrap_or(0);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&b[i..])
    };
    let jwks = json!({"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "n": b64(rsa.modulus), "e": b64(rsa.exponent)}]});
    let discovery = json!({"issuer": base, "jwks_uri": format!("{base}/keys")});
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/keys",
            axum::routing::get(move || async move { axum::Json(jwks) }),
        );
    let handle = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, key_pem, handle)
}

#[tokio::test]
async fn a_federated_assertion_from_a_trusted_issuer_gets_a_token_and_a_mismatch_gets_70021() {
    let (issuer, key_pem, server) = local_issuer().await;
    let t = start_with(SandboxConfig::new().trust_issuer(issuer.clone())).await;
    let (app, _) = t.app_with_sp("federated").await;
    let id = app["id"].as_str().unwrap();
    let fic = t
        .post(
            &format!("/applications/{id}/federatedIdentityCredentials"),
            json!({"name": "ci-main", "issuer": issuer, "subject": "repo:org/repo:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]}),
        )
        .await;
    assert_eq!(fic.status, 201, "{}", fic.text);
    let external = |sub: &str| {
        let now = now_s();
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(
            &header,
            &json!({"iss": issuer, "sub": sub, "aud": "api://AzureADTokenExchange", "nbf": now, "exp": now + 300}),
            &jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let client_id = app["appId"].as_str().unwrap();
    let ok = token_by_assertion(
        &t.http,
        &t.sb.token_url(),
        client_id,
        &external("repo:org/repo:ref:refs/heads/main"),
        GRAPH,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let bad = token_by_assertion(
        &t.http,
        &t.sb.token_url(),
        client_id,
        &external("repo:org/other:ref:refs/heads/main"),
        GRAPH,
    )
    .await;
    assert_eq!(bad.body["error_codes"], json!([70021]), "{}", bad.text);
    server.abort();
}

#[tokio::test]
async fn role_grants_take_effect_on_the_next_token() {
    let t = start().await;
    let (app, sp) = t.app_with_sp("late-grant").await;
    let before = t.token_for(&app).await;
    let denied = t.send_as(&before, "GET", "/applications", None, &[]).await;
    assert_eq!(denied.status, 403);
    assert_shape(
        &example("error-authorization-requestdenied.response.json"),
        &denied.body,
        &[],
    );
    assert_eq!(
        denied.body["error"]["message"],
        "Insufficient privileges to complete the operation."
    );
    t.grant_graph_role(&sp, "Application.Read.All").await;
    assert_eq!(
        t.send_as(&before, "GET", "/applications", None, &[])
            .await
            .status,
        403
    );
    let after = t.token_for(&app).await;
    assert_eq!(
        t.send_as(&after, "GET", "/applications", None, &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn graph_refuses_requests_without_a_valid_sandbox_token() {
    let t = start().await;
    let none = t.http.get(t.url("/applications")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let forged = t
        .send_as(
            "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
            "GET",
            "/applications",
            None,
            &[],
        )
        .await;
    assert_eq!(forged.status, 401);
    assert_eq!(forged.body["error"]["code"], "InvalidAuthenticationToken");
    // A token for Exchange is not a token for Graph.
    let exo = token_by_secret(
        &t.http,
        &t.sb.token_url(),
        &t.sb.bootstrap_client_id(),
        t.sb.bootstrap_client_secret().expose(),
        "https://outlook.office365.com/.default",
    )
    .await;
    let exo_token = exo.body["access_token"].as_str().unwrap();
    assert_eq!(claims(exo_token)["aud"], "https://outlook.office365.com");
    assert_eq!(
        t.send_as(exo_token, "GET", "/applications", None, &[])
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn a_padded_thumbprint_is_accepted_as_azure_identity_sends_it() {
    use base64::Engine;
    use sha1::Digest;
    let t = start().await;
    let (app, der, key) = app_with_certificate(&t, "padded").await;
    let client_id = app["appId"].as_str().unwrap();
    let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
    header.x5t = Some(base64::engine::general_purpose::URL_SAFE.encode(sha1::Sha1::digest(&der)));
    assert!(header.x5t.as_ref().unwrap().ends_with('='));
    let assertion = jsonwebtoken::encode(
        &header,
        &assertion_claims(client_id, &t.sb.token_url()),
        &jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes()).unwrap(),
    )
    .unwrap();
    let tok = token_by_assertion(&t.http, &t.sb.token_url(), client_id, &assertion, GRAPH).await;
    assert_eq!(tok.status, 200, "{}", tok.text);
}
