//! The sandbox answers as Graph and the identity platform document, on the points where entraform
//! and the sandbox once agreed with each other and not with Entra ID (issue 12). Each test
//! replays the documented request and checks status, error code and message; the source is
//! named beside each.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha1::Digest;

use crate::sandbox_util::*;

/// An application and the path of its federated identity credentials.
async fn app(t: &Tenant, name: &str) -> (String, Value) {
    let app = t
        .post(
            "/applications",
            json!({"displayName": name, "signInAudience": "AzureADMyOrg"}),
        )
        .await;
    assert_eq!(app.status, 201, "{}", app.text);
    (app.body["id"].as_str().unwrap().to_owned(), app.body)
}

/// Graph's error answer, as documented: status, code and message.
fn assert_graph_error(r: &Resp, status: u16, code: &str, message: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error"]["code"], code, "{}", r.text);
    assert_eq!(r.body["error"]["message"], message, "{}", r.text);
}

// keyCredential resource: "displayName: The friendly name for the key, with a maximum length of
// 90 characters. Longer values are accepted but shortened."
#[tokio::test]
async fn a_key_display_name_longer_than_90_characters_is_accepted_and_cut_to_90() {
    let t = start().await;
    let (id, _) = app(&t, "long-key-name").await;
    let (der, _) = rsa_certificate("long");
    let mut key = key_credential(&der);
    key["displayName"] = json!(format!("entraform:{}", "n".repeat(110)));
    let r = t
        .patch(
            &format!("/applications/{id}"),
            json!({"keyCredentials": [key]}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let shown =
        t.get(&format!("/applications/{id}")).await.body["keyCredentials"][0]["displayName"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(shown, format!("entraform:{}", "n".repeat(80)));
}

// keyCredential resource: "customKeyIdentifier (Binary): ... When not provided in the payload,
// defaults to the thumbprint of the certificate." Edm.Binary travels as base64.
#[tokio::test]
async fn custom_key_identifier_is_binary_and_defaults_to_the_thumbprint() {
    let t = start().await;
    let (id, _) = app(&t, "binary-identifier").await;
    let (a, _) = rsa_certificate("a");
    let (b, _) = rsa_certificate("b");
    let (c, _) = rsa_certificate("c");
    let thumb = |der: &[u8]| sha1::Sha1::digest(der).to_vec();
    let hex_text = hex::encode_upper(thumb(&c));

    let mut absent = key_credential(&a);
    absent
        .as_object_mut()
        .unwrap()
        .remove("customKeyIdentifier");
    let bytes = key_credential(&b);
    let mut legacy = key_credential(&c);
    legacy["customKeyIdentifier"] = json!(hex_text);
    let r = t
        .patch(
            &format!("/applications/{id}"),
            json!({"keyCredentials": [absent, bytes, legacy]}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let keys = t.get(&format!("/applications/{id}")).await.body["keyCredentials"].clone();
    let decoded = |i: usize| {
        STANDARD
            .decode(keys[i]["customKeyIdentifier"].as_str().unwrap())
            .unwrap()
    };
    // Left out: the certificate's thumbprint, as 20 bytes.
    assert_eq!(decoded(0), thumb(&a));
    // Sent as base64 of the 20 bytes: kept.
    assert_eq!(decoded(1), thumb(&b));
    // Sent as 40 hex digits: read as base64, 30 bytes that are not the thumbprint; the text
    // comes back the same.
    assert_eq!(decoded(2).len(), 30);
    assert_eq!(keys[2]["customKeyIdentifier"], json!(hex_text));

    // Not base64 at all.
    let mut bad = key_credential(&a);
    bad["customKeyIdentifier"] = json!("not base64!");
    let r = t
        .patch(
            &format!("/applications/{id}"),
            json!({"keyCredentials": [bad]}),
        )
        .await;
    assert_graph_error(
        &r,
        400,
        "Request_BadRequest",
        "Invalid value specified for property 'customKeyIdentifier' of resource.",
    );
}

// keyCredential resource: "key: ... Requires $select to retrieve; only available for single
// object requests (GET /applications/{applicationId}?$select=keyCredentials ...); otherwise,
// it's always null."
#[tokio::test]
async fn only_a_single_object_read_with_select_returns_the_certificate_bytes() {
    let t = start().await;
    let (id, _) = app(&t, "key-bytes").await;
    let (der, _) = rsa_certificate("bytes");
    let r = t
        .patch(
            &format!("/applications/{id}"),
            json!({"keyCredentials": [key_credential(&der)]}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let listed = t
        .get(&format!(
            "/applications?$filter=id eq '{id}'&$select=id,keyCredentials"
        ))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        listed.body["value"][0]["keyCredentials"][0]["key"],
        Value::Null
    );
    let one = t
        .get(&format!("/applications/{id}?$select=id,keyCredentials"))
        .await;
    assert_eq!(
        one.body["keyCredentials"][0]["key"],
        json!(STANDARD.encode(&der))
    );
}

// Federated credential name: "3-120 characters and must be URL friendly. Alphanumeric, dash, or
// underscore characters are supported, the first character must be alphanumeric only."
// (MicrosoftDocs/azure-docs articles/active-directory/workload-identities/includes/
// federated-credential-configuration-considerations.md); names are an alternate key compared
// without case.
#[tokio::test]
async fn federated_credential_names_follow_entras_rule_and_ignore_case() {
    let t = start().await;
    let (id, _) = app(&t, "fic-names").await;
    let path = format!("/applications/{id}/federatedIdentityCredentials");
    let body = |name: &str, n: usize| {
        json!({"name": name, "issuer": "https://token.actions.githubusercontent.com",
               "subject": format!("repo:contoso/app:ref:refs/heads/b{n}"),
               "audiences": ["api://AzureADTokenExchange"]})
    };
    for (n, bad) in ["gh", "_leading", "-leading", "with.dot", "with space"]
        .iter()
        .enumerate()
    {
        assert_graph_error(
            &t.post(&path, body(bad, n)).await,
            400,
            "Request_BadRequest",
            "Invalid value specified for property 'name' of resource.",
        );
    }
    let ok = t.post(&path, body("gh1", 10)).await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    let again = t.post(&path, body("GH1", 11)).await;
    assert!(matches!(again.status, 400 | 409), "{}", again.text);
}

// apiApplication resource: requestedAccessTokenVersion "If signInAudience is
// AzureADandPersonalMicrosoftAccount or PersonalMicrosoftAccount, the value must be 2"
// (microsoft-graph-docs-contrib api-reference/v1.0/resources/apiapplication.md; issue #1122 there
// for PersonalMicrosoftAccount). Graph's answer, as quoted in azure-ad-b2c/Scripts issue #2:
// 400 {"code": "InvalidAccessTokenVersion", "message": "One or more properties contains invalid
// values."}.
#[tokio::test]
async fn converged_audiences_need_v2_access_tokens_in_the_same_write() {
    let t = start().await;
    // Graph's default application: the converged audience with v2 tokens, as in its example.
    let created = t
        .post("/applications", example("applications-create.request.json"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        created.body["signInAudience"],
        example("applications-create.response.json")["signInAudience"]
    );
    assert_eq!(created.body["api"]["requestedAccessTokenVersion"], 2);

    let refused = |r: &Resp| {
        assert_graph_error(
            r,
            400,
            "InvalidAccessTokenVersion",
            "One or more properties contains invalid values.",
        )
    };
    let (id, single) = app(&t, "single-tenant").await;
    assert_eq!(single["api"]["requestedAccessTokenVersion"], Value::Null);
    for audience in [
        "AzureADandPersonalMicrosoftAccount",
        "PersonalMicrosoftAccount",
    ] {
        refused(
            &t.patch(
                &format!("/applications/{id}"),
                json!({"signInAudience": audience}),
            )
            .await,
        );
        refused(
            &t.post(
                "/applications",
                json!({"displayName": "converged", "signInAudience": audience}),
            )
            .await,
        );
    }
    let both = t
        .patch(
            &format!("/applications/{id}"),
            json!({"signInAudience": "PersonalMicrosoftAccount",
                   "api": {"requestedAccessTokenVersion": 2}}),
        )
        .await;
    assert_eq!(both.status, 204, "{}", both.text);
    // Going back to v1 tokens while converged is refused too.
    refused(
        &t.patch(
            &format!("/applications/{id}"),
            json!({"api": {"requestedAccessTokenVersion": 1}}),
        )
        .await,
    );
}

/// A token for a new application holding exactly `roles` of Microsoft Graph.
async fn token_with(t: &Tenant, name: &str, roles: &[&str]) -> String {
    let (app, sp) = t.app_with_sp(name).await;
    for role in roles {
        t.grant_graph_role(&sp, role).await;
    }
    t.token_for(&app).await
}

// Get organization, application permissions: least privileged Organization.Read.All; higher
// Directory.Read.All, Organization.ReadWrite.All, Directory.ReadWrite.All
// (microsoft-graph-docs-contrib api-reference/v1.0/includes/permissions/
// organization-get-permissions.md). No Application.* or User.* permission reads it.
#[tokio::test]
async fn the_organization_is_read_only_with_the_four_documented_permissions() {
    let t = start().await;
    for (i, role) in [
        "Organization.Read.All",
        "Directory.Read.All",
        "Organization.ReadWrite.All",
        "Directory.ReadWrite.All",
    ]
    .iter()
    .enumerate()
    {
        let token = token_with(&t, &format!("org-reader-{i}"), &[role]).await;
        let r = t.send_as(&token, "GET", "/organization", None, &[]).await;
        assert_eq!(r.status, 200, "{role}: {}", r.text);
        assert_eq!(r.body["value"][0]["id"], json!(t.sb.tenant_id()));
    }
    let token = token_with(
        &t,
        "not-an-org-reader",
        &[
            "Application.Read.All",
            "Application.ReadWrite.All",
            "User.Read.All",
            "RoleManagement.Read.Directory",
        ],
    )
    .await;
    assert_graph_error(
        &t.send_as(&token, "GET", "/organization", None, &[]).await,
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    );
}

// servicePrincipals: List ownedObjects — "Retrieve a list of objects owned by the
// servicePrincipal. This could include applications or groups." (microsoft-graph-docs-contrib
// api-reference/v1.0/api/serviceprincipal-list-ownedobjects.md): a directoryObject collection;
// an OData cast segment narrows it to one type.
#[tokio::test]
async fn a_service_principal_lists_the_objects_it_owns() {
    let t = start().await;
    let (owner_app, owner_sp) = t.app_with_sp("owner").await;
    t.grant_graph_role(&owner_sp, "Application.ReadWrite.OwnedBy")
        .await;
    let token = t.token_for(&owner_app).await;
    // What it creates with OwnedBy, it owns.
    let mine = t
        .send_as(
            &token,
            "POST",
            "/applications",
            Some(json!({"displayName": "mine", "signInAudience": "AzureADMyOrg"})),
            &[],
        )
        .await;
    assert_eq!(mine.status, 201, "{}", mine.text);
    let mine_sp = t
        .send_as(
            &token,
            "POST",
            "/servicePrincipals",
            Some(json!({"appId": mine.body["appId"]})),
            &[],
        )
        .await;
    assert_eq!(mine_sp.status, 201, "{}", mine_sp.text);
    app(&t, "not-mine").await;

    let all = t
        .get(&format!("/servicePrincipals/{owner_sp}/ownedObjects"))
        .await;
    assert_eq!(all.status, 200, "{}", all.text);
    let mut kinds: Vec<&str> = all.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["@odata.type"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "#microsoft.graph.application",
            "#microsoft.graph.servicePrincipal"
        ]
    );
    let apps = t
        .get(&format!(
            "/servicePrincipals/{owner_sp}/ownedObjects/microsoft.graph.application?$select=id"
        ))
        .await;
    assert_eq!(apps.status, 200, "{}", apps.text);
    assert_eq!(apps.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(apps.body["value"][0]["id"], mine.body["id"]);
}

/// An app with a certificate and a client secret: (client id, secret, DER, key PEM).
async fn app_with_secret_and_certificate(
    t: &Tenant,
    name: &str,
) -> (String, String, Vec<u8>, String) {
    let (app, _, der, key) = t.app_with_certificate(name).await;
    let pw = t
        .post(
            &format!("/applications/{}/addPassword", app["id"].as_str().unwrap()),
            json!({"passwordCredential": {"displayName": "s"}}),
        )
        .await;
    let secret = pw.body["secretText"].as_str().unwrap().to_owned();
    (app["appId"].as_str().unwrap().to_owned(), secret, der, key)
}

fn aadsts(r: &Resp) -> (u16, String, u64) {
    (
        r.status,
        r.body["error"].as_str().unwrap_or_default().to_owned(),
        r.body["error_codes"][0].as_u64().unwrap_or_default(),
    )
}

// A valid secret does not excuse a garbage assertion sent beside it: the assertion is checked
// as any other and refused the way Entra refuses a malformed one, "AADSTS50027: JWT token is
// invalid or malformed." (invalid_client; quoted in panva/openid-client issue #348; code in
// MicrosoftDocs/entra-docs docs/identity-platform/reference-error-codes.md, InvalidJwtToken).
#[tokio::test]
async fn a_valid_secret_with_a_garbage_assertion_is_refused() {
    let t = start().await;
    let (client_id, secret, _, _) = app_with_secret_and_certificate(&t, "both-sent").await;
    let r = t
        .http
        .post(t.sb.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", "garbage"),
            ("scope", GRAPH),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    let resp = Resp {
        status,
        headers: Default::default(),
        text: body.to_string(),
        body,
    };
    assert_eq!(
        aadsts(&resp),
        (401, "invalid_client".into(), 50027),
        "{}",
        resp.text
    );
    assert!(
        resp.body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS50027: JWT token is invalid or malformed.")
    );
    // The secret alone still works.
    let ok = token_by_secret(&t.http, &t.sb.token_url(), &client_id, &secret, GRAPH).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

// "exp ... keep it short - 5-10 minutes after nbf at most" (MicrosoftDocs/entra-docs
// docs/identity-platform/certificate-credentials.md). The page adds that Entra does not enforce
// it today; the sandbox holds certificate assertions to it, with Entra's time-range code.
#[tokio::test]
async fn a_certificate_assertion_living_longer_than_ten_minutes_is_refused() {
    let t = start().await;
    let (client_id, _, der, key) = app_with_secret_and_certificate(&t, "long-lived").await;
    let url = t.sb.token_url();
    let mut claims = assertion_claims(&client_id, &url);
    let now = now_s();
    claims["exp"] = json!(now + 3600);
    let long = sign(&der, &key, jsonwebtoken::Algorithm::RS256, &claims);
    let r = token_by_assertion(&t.http, &url, &client_id, &long, GRAPH).await;
    assert_eq!(
        aadsts(&r),
        (401, "invalid_client".into(), 700024),
        "{}",
        r.text
    );
    // Ten minutes exactly, as MSAL and entraform sign them, is accepted.
    claims["exp"] = json!(now + 600);
    claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
    let ten = sign(&der, &key, jsonwebtoken::Algorithm::RS256, &claims);
    let r = token_by_assertion(&t.http, &url, &client_id, &ten, GRAPH).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

// An RS256 assertion names its key by `x5t` (SHA-1); `x5t#S256` goes with PS256
// (certificate-credentials.md: `alg` PS256 with `x5t#S256`). An RS256 assertion carrying only
// `x5t#S256` names no key: AADSTS700027, as for a key the app does not have.
#[tokio::test]
async fn an_rs256_assertion_with_only_a_sha256_thumbprint_is_refused() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let t = start().await;
    let (client_id, _, der, key) = app_with_secret_and_certificate(&t, "rs256-s256").await;
    let url = t.sb.token_url();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der)));
    let assertion = jsonwebtoken::encode(
        &header,
        &assertion_claims(&client_id, &url),
        &jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes()).unwrap(),
    )
    .unwrap();
    let r = token_by_assertion(&t.http, &url, &client_id, &assertion, GRAPH).await;
    assert_eq!(
        aadsts(&r),
        (401, "invalid_client".into(), 700027),
        "{}",
        r.text
    );
    // The same with PS256 is how the SHA-256 thumbprint is meant to be used.
    let ps = sign(
        &der,
        &key,
        jsonwebtoken::Algorithm::PS256,
        &assertion_claims(&client_id, &url),
    );
    let r = token_by_assertion(&t.http, &url, &client_id, &ps, GRAPH).await;
    assert_eq!(r.status, 200, "{}", r.text);
}
