//! Helpers for the sandbox tests: they speak raw HTTP + JSON like any Graph client would
//! (reqwest + serde_json::Value), never `entraform::graph`.

#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use entraform::sandbox::{self, Clock, RunningSandbox, SandboxConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha1::Digest;

pub const GRAPH: &str = "https://graph.microsoft.com/.default";
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
pub const MANAGE_AS_APP: &str = "dc50a0fb-09a3-484d-be87-e023b12c6440";

pub struct Tenant {
    pub sb: RunningSandbox,
    pub http: reqwest::Client,
    /// The bootstrap admin's Graph token.
    pub token: String,
}

pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn start() -> Tenant {
    start_with(SandboxConfig::new()).await
}

pub async fn start_with(config: SandboxConfig) -> Tenant {
    // On tokio's clock: virtual time in a paused runtime (`start_paused`), else the wall's pace.
    let sb = sandbox::start(config.clock(Clock::Runtime))
        .await
        .expect("sandbox starts");
    let http = reqwest::Client::new();
    let token = token_by_secret(
        &http,
        &sb.token_url(),
        &sb.bootstrap_client_id(),
        sb.bootstrap_client_secret().expose(),
        GRAPH,
    )
    .await;
    assert_eq!(token.status, 200, "{}", token.text);
    let token = token.body["access_token"].as_str().unwrap().to_string();
    Tenant { sb, http, token }
}

async fn read(resp: reqwest::Response) -> Resp {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        text,
    }
}

pub async fn token_by_secret(
    http: &reqwest::Client,
    url: &str,
    client_id: &str,
    secret: &str,
    scope: &str,
) -> Resp {
    let resp = http
        .post(url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    read(resp).await
}

pub async fn token_by_assertion(
    http: &reqwest::Client,
    url: &str,
    client_id: &str,
    assertion: &str,
    scope: &str,
) -> Resp {
    let resp = http
        .post(url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    read(resp).await
}

impl Tenant {
    pub fn url(&self, path: &str) -> String {
        format!("{}/v1.0{path}", self.sb.graph_url())
    }

    pub async fn send_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(m, self.url(path)).bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.send_as(&self.token, method, path, body, headers).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send("GET", path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send("POST", path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send("PATCH", path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, None, &[]).await
    }

    /// The object id of a service principal by appId.
    pub async fn sp_id(&self, app_id: &str) -> String {
        let r = self
            .get(&format!("/servicePrincipals(appId='{app_id}')?$select=id"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Creates an application and its service principal; returns (app object, sp id).
    pub async fn app_with_sp(&self, name: &str) -> (Value, String) {
        let app = self
            .post(
                "/applications",
                json!({"displayName": name, "signInAudience": "AzureADMyOrg"}),
            )
            .await;
        assert_eq!(app.status, 201, "{}", app.text);
        let sp = self
            .post("/servicePrincipals", json!({"appId": app.body["appId"]}))
            .await;
        assert_eq!(sp.status, 201, "{}", sp.text);
        (app.body, sp.body["id"].as_str().unwrap().to_string())
    }

    /// An application and its service principal with a certificate registered by PATCH;
    /// returns (app object, sp id, certificate DER, private key PEM).
    pub async fn app_with_certificate(&self, name: &str) -> (Value, String, Vec<u8>, String) {
        let (app, sp) = self.app_with_sp(name).await;
        let (der, key) = rsa_certificate(name);
        let id = app["id"].as_str().unwrap();
        let r = self
            .patch(
                &format!("/applications/{id}"),
                json!({"keyCredentials": [key_credential(&der)]}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        (app, sp, der, key)
    }

    /// Grants a Graph app role (by value) to a service principal.
    pub async fn grant_graph_role(&self, sp_id: &str, role: &str) {
        let graph = self
            .get(&format!(
                "/servicePrincipals(appId='{GRAPH_APP_ID}')?$select=id,appRoles"
            ))
            .await;
        let role_id = graph.body["appRoles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == role)
            .unwrap_or_else(|| panic!("Graph has no app role {role}"))["id"]
            .clone();
        let graph_id = graph.body["id"].as_str().unwrap().to_string();
        let r = self
            .post(
                &format!("/servicePrincipals/{graph_id}/appRoleAssignedTo"),
                json!({"principalId": sp_id, "resourceId": graph_id, "appRoleId": role_id}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    /// A token for an app, by a secret created with addPassword.
    pub async fn token_for(&self, app: &Value) -> String {
        let id = app["id"].as_str().unwrap();
        let pw = self
            .post(
                &format!("/applications/{id}/addPassword"),
                json!({"passwordCredential": {"displayName": "test"}}),
            )
            .await;
        assert_eq!(pw.status, 200, "{}", pw.text);
        let t = token_by_secret(
            &self.http,
            &self.sb.token_url(),
            app["appId"].as_str().unwrap(),
            pw.body["secretText"].as_str().unwrap(),
            GRAPH,
        )
        .await;
        assert_eq!(t.status, 200, "{}", t.text);
        t.body["access_token"].as_str().unwrap().to_string()
    }
}

/// A self-signed RSA certificate: (DER, PKCS#8 PEM private key).
pub fn rsa_certificate(cn: &str) -> (Vec<u8>, String) {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365);
    let cert = params.self_signed(&kp).unwrap();
    (cert.der().to_vec(), kp.serialize_pem())
}

pub fn key_credential(der: &[u8]) -> Value {
    json!({
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "key": STANDARD.encode(der),
        "customKeyIdentifier": STANDARD.encode(sha1::Sha1::digest(der)),
        "displayName": "CN=test",
    })
}

pub fn now_s() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Signs claims as a client assertion: RS256 with `x5t`, or PS256 with `x5t#S256`.
pub fn sign(der: &[u8], key_pem: &str, alg: Algorithm, claims: &Value) -> String {
    let mut header = Header::new(alg);
    match alg {
        Algorithm::PS256 => {
            header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der)))
        }
        _ => header.x5t = Some(URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(der))),
    }
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

pub fn assertion_claims(client_id: &str, aud: &str) -> Value {
    let now = now_s();
    json!({
        "aud": aud,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    })
}

/// A proof for addKey/removeKey signed by one of the app's certificates.
pub fn proof(der: &[u8], key_pem: &str, app_object_id: &str) -> String {
    let now = now_s();
    sign(
        der,
        key_pem,
        Algorithm::RS256,
        &json!({"aud": "00000002-0000-0000-c000-000000000000", "iss": app_object_id, "nbf": now, "exp": now + 600}),
    )
}

/// Decodes a JWT's claims without verifying (tests inspect the sandbox's tokens).
pub fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Microsoft's example body with this file name, from the copy kept in the repository
/// (`tests/fixtures/graph-examples/`, sources in its README).
pub fn example(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/graph-examples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field the example shows is in `actual` with the same JSON type (null on either side
/// is accepted: values may differ), recursively into objects and first array elements.
/// `omitted` names fields the sandbox intentionally does not emulate.
pub fn assert_shape(example: &Value, actual: &Value, omitted: &[&str]) {
    shape(example, actual, "$", omitted);
}

fn shape(ex: &Value, act: &Value, path: &str, omitted: &[&str]) {
    match (ex, act) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                if omitted.contains(&k.as_str()) {
                    continue;
                }
                let Some(av) = a.get(k) else {
                    panic!(
                        "{path}.{k} is in the example but not in the sandbox's answer: {}",
                        Value::Object(a.clone())
                    );
                };
                shape(v, av, &format!("{path}.{k}"), omitted);
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(e0), Some(a0)) = (e.first(), a.first()) {
                shape(e0, a0, &format!("{path}[0]"), omitted);
            }
        }
        (e, a) => assert_eq!(kind(e), kind(a), "{path}: example {e}, sandbox {a}"),
    }
}

/// `…$metadata#servicePrincipals('…')/appRoleAssignedTo` with ids blanked.
pub fn context_fragment(v: &Value) -> String {
    let s = v["@odata.context"].as_str().unwrap_or_default();
    let frag = s.split_once("$metadata#").map(|x| x.1).unwrap_or_default();
    let re_guid = |s: &str| {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("('") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after.find("')").unwrap_or(after.len());
            out.push_str("('{id}')");
            rest = &after[(end + 2).min(after.len())..];
        }
        out.push_str(rest);
        out
    };
    re_guid(frag)
}
