//! [`KeyVaultClient`]: Key Vault requests with the Graph client's credential, challenge-first
//! sign-in per vault host, a token cache per scope, and the Graph client's retry policy
//! ([`crate::graph::retry`]): 429 and 5xx are retried within the same time bound.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::challenge::Challenge;
use super::endpoints::VaultEndpoints;
use super::error::{KeyVaultError, ServiceError};
use crate::graph::retry::{self, Attempt, RetrySafety, Step, Unauthorized};
use crate::graph::{AccessToken, GraphClient, Secret};
use crate::model::{KeyVaultCertificate, KeyVaultSecret, Thumbprint};

/// Key Vault answers are small: a certificate bundle or a PFX secret is a few KiB.
const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;
/// A cached token is renewed when less than this is left of it.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

/// A Key Vault client. Cheap to clone.
#[derive(Clone)]
pub struct KeyVaultClient {
    inner: Arc<Inner>,
}

struct Inner {
    graph: GraphClient,
    endpoints: VaultEndpoints,
    http: reqwest::Client,
    /// The scope each vault host's challenge named.
    scopes: Mutex<HashMap<String, String>>,
    tokens: Mutex<HashMap<String, AccessToken>>,
}

impl std::fmt::Debug for KeyVaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVaultClient")
            .field("endpoints", &self.inner.endpoints)
            .finish_non_exhaustive()
    }
}

/// `CertificateBundle`, the parts entraform reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateBundle {
    /// `https://{vault}/certificates/{name}/{version}`.
    pub id: String,
    pub version: String,
    /// DER of the certificate (`cer`).
    pub der: Vec<u8>,
    pub thumbprint: Thumbprint,
}

/// A secret's value (the PFX of a certificate, base64) and content type.
pub struct SecretBundle {
    pub value: Secret,
    pub content_type: Option<String>,
    pub id: String,
}

impl std::fmt::Debug for SecretBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBundle")
            .field("id", &self.id)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct WireCertificate {
    id: String,
    cer: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSecret {
    id: String,
    value: Option<String>,
    content_type: Option<String>,
}

/// An answer: status and body.
struct Answer {
    body: Vec<u8>,
}

impl KeyVaultClient {
    /// A client signing in with `graph`'s credential (its tenant, authority and HTTP settings).
    pub fn new(graph: &GraphClient, endpoints: VaultEndpoints) -> Result<Self, KeyVaultError> {
        let http = crate::graph::http_client(graph.config())
            .map_err(|e| KeyVaultError::config(e.to_string(), None))?;
        Ok(KeyVaultClient {
            inner: Arc::new(Inner {
                graph: graph.clone(),
                endpoints,
                http,
                scopes: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn endpoints(&self) -> &VaultEndpoints {
        &self.inner.endpoints
    }

    /// The latest version of a certificate; `None` when the vault has no certificate by that
    /// name (a 404).
    pub async fn get_certificate(
        &self,
        target: &KeyVaultCertificate,
    ) -> Result<Option<CertificateBundle>, KeyVaultError> {
        let path = format!("/certificates/{}/", target.certificate);
        match self
            .send(Method::GET, target, &path, None, RetrySafety::Idempotent)
            .await
        {
            Ok(answer) => decode_certificate(target, &path, &answer.body).map(Some),
            Err(KeyVaultError::Service(e)) if e.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Imports a PFX (base64) as a new version of the certificate: exportable, so the script
    /// host can read the key back as the certificate's secret.
    pub async fn import_certificate(
        &self,
        target: &KeyVaultCertificate,
        pfx_base64: &Secret,
        password: &Secret,
    ) -> Result<CertificateBundle, KeyVaultError> {
        let path = format!("/certificates/{}/import", target.certificate);
        let body = json!({
            "value": pfx_base64.expose(),
            "pwd": password.expose(),
            "policy": {
                "key_props": { "exportable": true, "kty": "RSA", "reuse_key": false },
                "secret_props": { "contentType": "application/x-pkcs12" },
            },
        });
        // A repeat would add a second version: sent again only when the first surely did
        // nothing (429, no connection).
        let answer = self
            .send(
                Method::POST,
                target,
                &path,
                Some(body),
                RetrySafety::NotIdempotent,
            )
            .await?;
        decode_certificate(target, &path, &answer.body)
    }

    /// A secret's current value (for a certificate: its PFX, base64, without a password).
    pub async fn get_secret(
        &self,
        target: &KeyVaultCertificate,
    ) -> Result<SecretBundle, KeyVaultError> {
        let path = format!("/secrets/{}/", target.certificate);
        let answer = self
            .send(Method::GET, target, &path, None, RetrySafety::Idempotent)
            .await?;
        let wire: WireSecret = serde_json::from_slice(&answer.body)
            .map_err(|e| malformed(target, &path, e.to_string()))?;
        Ok(SecretBundle {
            value: Secret::new(wire.value.unwrap_or_default()),
            content_type: wire.content_type,
            id: wire.id,
        })
    }

    /// Sets a secret (`PUT /secrets/{name}`: a new version each time) and returns the new
    /// version's id. `content_type`, the validity (`nbf`/`exp`, Unix seconds) and `tags` are
    /// metadata the script host can read without the value.
    pub async fn set_secret(
        &self,
        target: &KeyVaultSecret,
        value: &Secret,
        content_type: &str,
        validity: (i64, i64),
        tags: &[(&str, String)],
    ) -> Result<String, KeyVaultError> {
        let vault = target.in_vault();
        let path = format!("/secrets/{}", target.secret);
        let tags: serde_json::Map<String, Value> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
            .collect();
        let body = json!({
            "value": value.expose(),
            "contentType": content_type,
            "attributes": { "enabled": true, "nbf": validity.0, "exp": validity.1 },
            "tags": tags,
        });
        // A repeat would add a second version: sent again only when the first surely did
        // nothing (429, no connection).
        let answer = self
            .send(
                Method::PUT,
                &vault,
                &path,
                Some(body),
                RetrySafety::NotIdempotent,
            )
            .await?;
        #[derive(Deserialize)]
        struct Set {
            id: String,
        }
        let set: Set = serde_json::from_slice(&answer.body)
            .map_err(|e| malformed(&vault, &path, e.to_string()))?;
        Ok(set.id)
    }

    /// The one send path: challenge, token, retries.
    async fn send(
        &self,
        method: Method,
        target: &KeyVaultCertificate,
        path: &str,
        body: Option<Value>,
        safety: RetrySafety,
    ) -> Result<Answer, KeyVaultError> {
        let base = self.inner.endpoints.vault_url(target)?;
        let url = Url::parse(&format!(
            "{}{path}?api-version={}",
            base.as_str().trim_end_matches('/'),
            super::API_VERSION
        ))
        .map_err(|e| KeyVaultError::config(format!("cannot make a Key Vault URL: {e}"), None))?;
        let vault = target.vault_name().to_owned();
        let host = authority(&url);
        let policy = self.inner.graph.config().retry;
        let started = Instant::now();
        // The Graph client's table and time bound; a 401 here is final (challenges are
        // handled before this is asked).
        let next_step = |attempt, attempt_no| {
            retry::next_step(
                &policy,
                safety,
                attempt,
                attempt_no,
                started.elapsed(),
                Unauthorized::Final,
                rand::random::<f64>(),
            )
        };
        let mut attempt_no = 0u32;
        let mut challenged = false;
        loop {
            attempt_no += 1;
            let scope = self.inner.scopes.lock().await.get(&host).cloned();
            let token = match &scope {
                Some(scope) => Some(self.token(scope).await?),
                None => None,
            };
            let mut req = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .header("x-ms-client-request-id", uuid::Uuid::new_v4().to_string())
                .header(reqwest::header::ACCEPT, "application/json");
            // Without a token the request goes empty, only to learn the challenge (as the SDKs
            // send it): a body is never sent where no token may follow.
            if let Some(token) = &token {
                req = req.bearer_auth(token.token.expose());
                if let Some(body) = &body {
                    req = req.json(body);
                }
            } else if body.is_some() {
                req = req.header(reqwest::header::CONTENT_LENGTH, "0");
            }
            tracing::debug!(method = %method, vault, path, attempt = attempt_no, "key vault");
            let sent = req.send().await;
            let attempt = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let header = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let bytes = match crate::graph::read_body(resp, MAX_RESPONSE_BYTES).await {
                        Ok(bytes) => bytes,
                        Err(crate::graph::BodyError::Transport(e)) => {
                            return Err(KeyVaultError::Transport {
                                method: method.to_string(),
                                url: strip_query(&url),
                                attempts: attempt_no,
                                source: e.without_url(),
                            });
                        }
                        Err(crate::graph::BodyError::TooLarge) => {
                            return Err(KeyVaultError::config(
                                format!(
                                    "Key Vault's answer to {method} {path} is larger than {MAX_RESPONSE_BYTES} bytes"
                                ),
                                None,
                            ));
                        }
                    };
                    tracing::debug!(
                        status,
                        vault,
                        path,
                        request_id = header("x-ms-request-id").as_deref().unwrap_or("-"),
                        "key vault answer"
                    );
                    if (200..300).contains(&status) {
                        return Ok(Answer { body: bytes });
                    }
                    if status == 401
                        && let Some(challenge) = header("www-authenticate")
                            .as_deref()
                            .and_then(Challenge::parse)
                        && (!challenged || token.is_none())
                    {
                        self.accept_challenge(&base, &host, &challenge, scope.as_deref())
                            .await?;
                        challenged = token.is_some();
                        attempt_no -= 1;
                        continue;
                    }
                    let retry_after = header("retry-after")
                        .and_then(|v| retry::parse_retry_after(&v, SystemTime::now()));
                    let attempt = Attempt::Status {
                        status,
                        retry_after,
                    };
                    let step = next_step(attempt, attempt_no);
                    if step == Step::Finish {
                        let sent = body.as_ref().map(sent_strings).unwrap_or_default();
                        return Err(service_error(
                            &method,
                            &vault,
                            path,
                            status,
                            &bytes,
                            header("x-ms-request-id"),
                            attempt_no,
                            &sent,
                        ));
                    }
                    (attempt, step)
                }
                Err(e) => {
                    let attempt = if e.is_connect() {
                        Attempt::NotSent
                    } else {
                        Attempt::NoAnswer
                    };
                    let step = next_step(attempt, attempt_no);
                    if step == Step::Finish {
                        return Err(KeyVaultError::Transport {
                            method: method.to_string(),
                            url: strip_query(&url),
                            attempts: attempt_no,
                            source: e.without_url(),
                        });
                    }
                    (attempt, step)
                }
            };
            if let Step::RetryAfter(wait) = attempt.1 {
                tracing::debug!(attempt = ?attempt.0, wait_ms = wait.as_millis() as u64, vault, path, "retrying key vault");
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// Believes a challenge (when it may be believed for this vault) and remembers its scope;
    /// a token already held for the old scope is dropped.
    async fn accept_challenge(
        &self,
        base: &Url,
        host: &str,
        challenge: &Challenge,
        old: Option<&str>,
    ) -> Result<(), KeyVaultError> {
        let expected = self
            .inner
            .endpoints
            .overridden()
            .then(|| self.inner.endpoints.resource());
        if !challenge.allowed_for(base, expected.as_deref()) {
            return Err(KeyVaultError::Challenge {
                vault: base.to_string(),
                reason: format!(
                    "it asks for a token for `{}`, which is not this vault's domain",
                    challenge.scope
                ),
            });
        }
        if let Some(old) = old {
            self.inner.tokens.lock().await.remove(old);
        }
        self.inner
            .scopes
            .lock()
            .await
            .insert(host.to_owned(), challenge.scope.clone());
        Ok(())
    }

    async fn token(&self, scope: &str) -> Result<AccessToken, KeyVaultError> {
        let mut tokens = self.inner.tokens.lock().await;
        if let Some(t) = tokens.get(scope)
            && t.expires_at > SystemTime::now() + TOKEN_MARGIN
        {
            return Ok(t.clone());
        }
        let token =
            self.inner
                .graph
                .token_for(scope)
                .await
                .map_err(|source| KeyVaultError::SignIn {
                    scope: scope.to_owned(),
                    source: Box::new(source),
                })?;
        tokens.insert(scope.to_owned(), token.clone());
        Ok(token)
    }
}

/// `host:port` of a URL: challenges are remembered per authority, as the SDKs cache them.
fn authority(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

fn strip_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

fn malformed(target: &KeyVaultCertificate, path: &str, why: String) -> KeyVaultError {
    KeyVaultError::config(
        format!(
            "Key Vault `{}` answered {path} with a body entraform cannot read: {why}",
            target.vault_name()
        ),
        None,
    )
}

fn decode_certificate(
    target: &KeyVaultCertificate,
    path: &str,
    body: &[u8],
) -> Result<CertificateBundle, KeyVaultError> {
    use base64::Engine as _;
    use sha1::Digest as _;
    let wire: WireCertificate =
        serde_json::from_slice(body).map_err(|e| malformed(target, path, e.to_string()))?;
    let der = wire
        .cer
        .as_deref()
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .ok_or_else(|| malformed(target, path, "no `cer`".into()))?;
    let version = wire
        .id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok(CertificateBundle {
        id: wire.id,
        version,
        thumbprint: Thumbprint(sha1::Sha1::digest(&der).into()),
        der,
    })
}

/// Every string a request body carried (the PFX and its password among them), for redacting an
/// error message that echoes the request.
fn sent_strings(body: &Value) -> Vec<String> {
    match body {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(sent_strings).collect(),
        Value::Object(o) => o.values().flat_map(sent_strings).collect(),
        _ => Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn service_error(
    method: &Method,
    vault: &str,
    path: &str,
    status: u16,
    body: &[u8],
    request_id: Option<String>,
    attempts: u32,
    sent: &[String],
) -> KeyVaultError {
    let sent: Vec<&str> = sent.iter().map(String::as_str).collect();
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().map(|v| &v["error"]);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    KeyVaultError::Service(Box::new(ServiceError {
        method: method.to_string(),
        vault: vault.to_owned(),
        path: path.to_owned(),
        status,
        code: text(error.map(|e| &e["code"])),
        inner_code: text(error.map(|e| &e["innererror"]["code"])),
        message: text(error.map(|e| &e["message"]))
            .map(|m| crate::graph::redact::server_message(&m, &sent)),
        request_id,
        attempts,
    }))
}
