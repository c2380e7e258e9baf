//! Getting access tokens: the client credentials grant at `{authority}/{tenant}/oauth2/v2.0/token`
//! (secret, certificate assertion, or federated token), or the Azure CLI. Tokens live in memory
//! only and are renewed before they expire.

use std::process::Stdio;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::sync::Mutex;

use super::client::{BodyError, MAX_TOKEN_RESPONSE_BYTES, read_body};
use super::credential::{Credential, CredentialSource};
use super::endpoints::GraphEndpoints;
use super::error::{GraphError, SignInError, aadsts_in, decode_json};
use super::redact::{self, Secret};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An access token and when it stops working.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: Secret,
    pub expires_at: SystemTime,
}

/// Asks for a token for `scope` (`<resource>/.default`) with `credential`.
pub async fn acquire_token(
    http: &reqwest::Client,
    endpoints: &GraphEndpoints,
    credential: &Credential,
    scope: &str,
) -> Result<AccessToken, GraphError> {
    if let Credential::AzureCli { program } = credential {
        return azure_cli_token(program, scope, endpoints.tenant.as_deref()).await;
    }
    let token_url = endpoints.token_url()?;
    let client_id = credential.client_id().unwrap_or_default();
    let mut form: Vec<(&str, String)> = vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", client_id.to_owned()),
        ("scope", scope.to_owned()),
    ];
    match credential {
        Credential::ClientSecret { secret, .. } => {
            form.push(("client_secret", secret.expose().to_owned()));
        }
        Credential::Certificate {
            certificate,
            alg,
            path,
            ..
        } => {
            let app_id: crate::model::AppId = client_id.parse().map_err(|_| {
                GraphError::config(
                    format!("the client id `{client_id}` is not a GUID"),
                    Some("AZURE_CLIENT_ID is the application (client) id, a GUID".into()),
                )
            })?;
            // Fresh for every token: an assertion is valid for ten minutes only.
            let assertion = crate::cert::client_assertion(
                certificate,
                &app_id,
                &token_url,
                *alg,
                time::OffsetDateTime::now_utc(),
            )
            .map_err(|source| GraphError::Certificate {
                path: path.clone(),
                source,
            })?;
            form.push(("client_assertion_type", JWT_BEARER.into()));
            form.push(("client_assertion", assertion.expose_secret().to_owned()));
        }
        Credential::WorkloadIdentity { token_file, .. } => {
            // Re-read every time: the platform rotates the file (Kubernetes, GitHub Actions).
            let file = token_file.clone();
            let assertion = tokio::task::spawn_blocking(move || {
                crate::local_file::read_to_string(&file, crate::local_file::FEDERATED_TOKEN)
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
            .map_err(|source| GraphError::ReadFile {
                what: "the federated token file (AZURE_FEDERATED_TOKEN_FILE)",
                path: token_file.clone(),
                source,
            })?;
            let assertion = assertion.trim();
            if assertion.is_empty() {
                return Err(GraphError::config(
                    format!(
                        "the federated token file `{}` is empty",
                        token_file.display()
                    ),
                    Some(
                        "the pipeline must write its OIDC token there before entraform runs".into(),
                    ),
                ));
            }
            form.push(("client_assertion_type", JWT_BEARER.into()));
            form.push(("client_assertion", assertion.to_owned()));
        }
        Credential::AzureCli { .. } => {}
    }
    tracing::debug!(
        url = %token_url,
        client_id,
        credential = credential.source().describe(),
        "requesting a token"
    );
    tracing::trace!(form = %redact::form(&form), "token request");
    let sent = SystemTime::now();
    let answer = http
        .post(&token_url)
        .header("client-request-id", uuid::Uuid::new_v4().to_string())
        .form(&form)
        .send()
        .await;
    let response = match answer {
        Ok(r) => r,
        Err(source) if super::tls::is_untrusted_certificate(&source) => {
            let issuer = match reqwest::Url::parse(&token_url) {
                Ok(url) => super::tls::presented_issuer(&url).await,
                Err(_) => None,
            };
            return Err(GraphError::UntrustedCertificate {
                method: "POST".into(),
                path: token_url.clone(),
                issuer,
                source,
            });
        }
        Err(source) => {
            return Err(GraphError::Transport {
                method: "POST".into(),
                path: token_url.clone(),
                attempts: 1,
                source,
            });
        }
    };
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match read_body(response, MAX_TOKEN_RESPONSE_BYTES).await {
        Ok(body) => body,
        Err(BodyError::Transport(source)) => {
            return Err(GraphError::Transport {
                method: "POST".into(),
                path: token_url.clone(),
                attempts: 1,
                source,
            });
        }
        Err(BodyError::TooLarge) => {
            return Err(GraphError::ResponseTooLarge {
                method: "POST".into(),
                path: token_url.clone(),
                limit: MAX_TOKEN_RESPONSE_BYTES,
                request_id,
            });
        }
    };
    tracing::trace!(status, body = %redact::body(&body), "token endpoint answered");
    if !(200..300).contains(&status) {
        let sent_secrets: Vec<&str> = form
            .iter()
            .filter(|(k, _)| redact::is_secret_key(k))
            .map(|(_, v)| v.as_str())
            .collect();
        return Err(GraphError::SignIn(Box::new(
            SignInError::from_token_response(
                credential.source(),
                client_id,
                endpoints.tenant.as_deref(),
                status,
                &body,
                &sent_secrets,
            ),
        )));
    }
    #[derive(Deserialize)]
    struct TokenResponse {
        access_token: String,
        expires_in: Option<serde_json::Value>,
    }
    let parsed: TokenResponse = decode_json(&body, "POST", &token_url)?;
    // `expires_in` is a number, though some endpoints have sent it as a string.
    let lifetime = parsed.expires_in.as_ref().and_then(seconds).unwrap_or(3600);
    Ok(AccessToken {
        token: Secret::new(parsed.access_token),
        expires_at: sent + Duration::from_secs(lifetime),
    })
}

/// The claims of an access token, read without verifying it (the token is our own, just issued
/// to us; only its issuer can verify it). `None` when the token is not a JWT.
pub(crate) fn unverified_claims(token: &Secret) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let payload = token.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .filter(serde_json::Value::is_object)
}

/// Seconds as a JSON number or a numeric string (both are seen in the wild).
fn seconds(value: &serde_json::Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str()?.parse().ok())
}

/// `az account get-access-token --resource <resource> [--tenant <tenant>] --output json`.
async fn azure_cli_token(
    program: &std::path::Path,
    scope: &str,
    tenant: Option<&str>,
) -> Result<AccessToken, GraphError> {
    let resource = scope.trim_end_matches("/.default");
    let mut cmd = tokio::process::Command::new(program);
    cmd.args([
        "account",
        "get-access-token",
        "--output",
        "json",
        "--resource",
        resource,
    ]);
    if let Some(tenant) = tenant {
        cmd.args(["--tenant", tenant]);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    tracing::debug!(program = %program.display(), resource, tenant, "asking the Azure CLI for a token");
    let failed = |description: String| {
        let mut e = SignInError::new(CredentialSource::AzureCli);
        e.tenant = tenant.map(str::to_owned);
        e.codes.extend(aadsts_in(&description));
        e.description = Some(description);
        GraphError::SignIn(Box::new(e))
    };
    let output = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .map_err(|_| {
            failed("`az account get-access-token` did not finish within 60 seconds".into())
        })?
        .map_err(|e| failed(format!("cannot run `{}`: {e}", program.display())))?;
    if !output.status.success() {
        let stderr = redact::server_message(&String::from_utf8_lossy(&output.stderr), &[]);
        let line = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("`az account get-access-token` failed")
            .trim_start_matches("ERROR: ")
            .to_owned();
        return Err(failed(line));
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct CliToken {
        access_token: String,
        /// Seconds since the epoch (az 2.54 and later).
        #[serde(rename = "expires_on")]
        expires_on: Option<serde_json::Value>,
    }
    let parsed: CliToken = decode_json(&output.stdout, "az", "account get-access-token")?;
    let expires_at = parsed
        .expires_on
        .as_ref()
        .and_then(seconds)
        .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        // Older az prints only a local time without a zone; without a reliable expiry, ask
        // again in five minutes (az serves its own cache, so this is cheap).
        .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(300));
    Ok(AccessToken {
        token: Secret::new(parsed.access_token),
        expires_at,
    })
}

/// One cached token, renewed `margin` before it expires. Concurrent callers wait for a single
/// renewal instead of each signing in.
#[derive(Debug)]
pub struct TokenCache {
    current: Mutex<Option<AccessToken>>,
    margin: Duration,
}

impl TokenCache {
    pub fn new(margin: Duration) -> Self {
        TokenCache {
            current: Mutex::new(None),
            margin,
        }
    }

    /// The cached token when still fresh, else a new one from `fetch`.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<Secret, GraphError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<AccessToken, GraphError>>,
    {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref()
            && is_fresh(token, SystemTime::now(), self.margin)
        {
            return Ok(token.token.clone());
        }
        let token = fetch().await?;
        tracing::debug!(
            expires_in_s = token
                .expires_at
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .as_secs(),
            "got a new token"
        );
        let secret = token.token.clone();
        *current = Some(token);
        Ok(secret)
    }

    /// Drops the cached token if it is still `rejected`, so the next call signs in again
    /// (Graph said 401 for it). A token already replaced by another task is kept.
    pub async fn invalidate(&self, rejected: &Secret) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|t| &t.token == rejected) {
            *current = None;
        }
    }
}

/// Fresh means more than `margin` left before expiry.
pub fn is_fresh(token: &AccessToken, now: SystemTime, margin: Duration) -> bool {
    now.checked_add(margin)
        .is_some_and(|limit| limit < token.expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_renewed_once_within_the_margin_of_its_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let token = AccessToken {
            token: Secret::new("t"),
            expires_at: now + Duration::from_secs(3600),
        };
        let margin = Duration::from_secs(300);
        assert!(is_fresh(&token, now, margin));
        assert!(is_fresh(&token, now + Duration::from_secs(3299), margin));
        assert!(!is_fresh(&token, now + Duration::from_secs(3300), margin));
        assert!(!is_fresh(&token, now + Duration::from_secs(4000), margin));
    }

    #[tokio::test]
    async fn the_cache_signs_in_once_and_again_after_invalidation() {
        let cache = TokenCache::new(Duration::from_secs(300));
        let calls = std::sync::atomic::AtomicU32::new(0);
        let fetch = || async {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(AccessToken {
                token: Secret::new(format!("t{n}")),
                expires_at: SystemTime::now() + Duration::from_secs(3600),
            })
        };
        let first = cache.get(fetch).await.unwrap();
        let again = cache.get(fetch).await.unwrap();
        assert_eq!(first, again);
        // A stale rejection (of a token no longer cached) keeps the current one.
        cache.invalidate(&Secret::new("other")).await;
        assert_eq!(cache.get(fetch).await.unwrap(), first);
        cache.invalidate(&first).await;
        assert_eq!(cache.get(fetch).await.unwrap().expose(), "t1");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
