//! The Graph HTTP client: one send path with bearer tokens, `client-request-id`s, bounded
//! concurrency, retries (see [`super::retry`]), redacted traces and request counters.

use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::credential::Credential;
use super::endpoints::GraphEndpoints;
use super::error::{GraphError, HttpError, decode_json};
use super::paging::with_page_size;
use super::redact::{self, Secret};
use super::request::Request;
use super::retry::{self, Attempt, RetryPolicy, RetrySafety, Step, Unauthorized};
use super::token::{self, AccessToken, TokenCache};
use super::types::Page;

/// Tuning for a [`GraphClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// HTTP requests in flight at once. Graph's identity limits are per app per tenant
    /// (3,500 resource units per 10 s in a small tenant); 8 concurrent requests stay well under.
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    /// A cached token is renewed when less than this is left of its life.
    pub token_refresh_margin: Duration,
    /// One HTTP exchange, start to end of the body.
    pub request_timeout: Duration,
    /// CA certificates trusted besides the system's (`--ca-cert`).
    pub ca_certificates: Vec<reqwest::Certificate>,
    /// The largest response body accepted. A page of 999 applications is a few MiB; anything
    /// near this is not Graph, and is refused rather than held in memory.
    pub max_response_bytes: u64,
}

/// Token responses are a few KiB.
pub(crate) const MAX_TOKEN_RESPONSE_BYTES: u64 = 1024 * 1024;

/// Why a response body was not read.
pub(crate) enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

/// Reads a response body chunk by chunk, refusing it as soon as it passes `limit` bytes (a
/// `Content-Length` above the limit is refused before any of it is read).
pub(crate) async fn read_body(
    mut resp: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|len| len > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_concurrency: 8,
            retry: RetryPolicy::default(),
            token_refresh_margin: Duration::from_secs(300),
            request_timeout: Duration::from_secs(100),
            ca_certificates: Vec::new(),
            max_response_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Counters since the client was made: readable at any time, logged by callers at `-v`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// HTTP requests sent to Graph (token requests not included).
    pub http_requests: u64,
    /// Graph operations: a plain request is one, a `$batch` counts each part.
    pub operations: u64,
    /// Requests and batch parts sent again after a transient failure.
    pub retries: u64,
    /// 429 answers, whole requests and batch parts alike.
    pub throttled: u64,
    /// Resource units Graph says it charged (`x-ms-resource-unit` on each answer and each
    /// `$batch` part), against the identity service's budget per app and tenant.
    pub resource_units: u64,
}

impl std::fmt::Display for RequestStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} HTTP requests, {} Graph operations, {} resource units, {} retries, {} throttled",
            self.http_requests, self.operations, self.resource_units, self.retries, self.throttled
        )
    }
}

#[derive(Debug, Default)]
struct Counters {
    http_requests: AtomicU64,
    operations: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    resource_units: AtomicU64,
}

/// A successful answer.
#[derive(Clone)]
pub struct Response {
    pub status: u16,
    pub method: String,
    pub path: String,
    pub request_id: Option<String>,
    pub client_request_id: String,
    /// `Location`, set on some 201s.
    pub location: Option<String>,
    body: Vec<u8>,
}

/// Never the body: some answers carry a secret (`addPassword` returns `secretText`), and a
/// `{:?}` in a log line or an error must not print it.
impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("request_id", &self.request_id)
            .field("client_request_id", &self.client_request_id)
            .field("location", &self.location)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Response {
    /// 201 Created (an upsert that created), as opposed to 204 (it already existed).
    pub fn created(&self) -> bool {
        self.status == 201
    }

    pub fn has_body(&self) -> bool {
        !self.body.iter().all(u8::is_ascii_whitespace)
    }

    /// The body as `T`, with the JSON path of any mismatch.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        decode_json(&self.body, &self.method, &self.path)
    }
}

/// The Graph client. Cheap to clone; clones share the token, the concurrency bound and counters.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoints: GraphEndpoints,
    credential: Credential,
    tokens: TokenCache,
    config: ClientConfig,
    limiter: Semaphore,
    counters: Counters,
    /// Shared by every request in flight: Graph's limits are per app and tenant, so a 429 for
    /// one request is a 429 for all of them, and they back off together.
    throttle: StdMutex<Throttle>,
}

/// The client's throttling state.
#[derive(Debug, Default)]
struct Throttle {
    /// Nothing is sent before this instant.
    until: Option<Instant>,
    /// 429s since the last success; each one doubles the hold.
    streak: u32,
    /// Requests released when the hold ends spread over this much time, not one millisecond.
    spread: Duration,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("graph", &self.inner.endpoints.api_base())
            .field("credential", &self.inner.credential.source())
            .finish_non_exhaustive()
    }
}

/// The HTTP client entraform uses for Graph and the token endpoint: no redirects (a bearer
/// token must not follow one), a user agent, a timeout, and any extra trusted CA.
pub fn http_client(config: &ClientConfig) -> Result<reqwest::Client, GraphError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("entraform/", env!("CARGO_PKG_VERSION")))
        .timeout(config.request_timeout)
        .connect_timeout(Duration::from_secs(30))
        .tls_certs_merge(config.ca_certificates.iter().cloned())
        .build()
        .map_err(|e| GraphError::config(format!("cannot set up the HTTP client: {e}"), None))
}

impl GraphClient {
    pub fn new(
        endpoints: GraphEndpoints,
        credential: Credential,
        config: ClientConfig,
    ) -> Result<Self, GraphError> {
        let http = http_client(&config)?;
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                tokens: TokenCache::new(config.token_refresh_margin),
                limiter: Semaphore::new(config.max_concurrency.max(1)),
                endpoints,
                credential,
                config,
                counters: Counters::default(),
                throttle: StdMutex::new(Throttle::default()),
            }),
        })
    }

    /// A client signing in with a client secret: the sandbox's bootstrap admin, for one.
    pub fn with_client_secret(
        endpoints: GraphEndpoints,
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Result<Self, GraphError> {
        Self::new(
            endpoints,
            Credential::client_secret(client_id, secret),
            ClientConfig::default(),
        )
    }

    pub fn endpoints(&self) -> &GraphEndpoints {
        &self.inner.endpoints
    }

    pub fn credential(&self) -> &Credential {
        &self.inner.credential
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub fn stats(&self) -> RequestStats {
        let c = &self.inner.counters;
        RequestStats {
            http_requests: c.http_requests.load(Ordering::Relaxed),
            operations: c.operations.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            resource_units: c.resource_units.load(Ordering::Relaxed),
        }
    }

    /// A new token for another resource (`https://outlook.office365.com/.default`), not cached:
    /// `test-login` uses it to see what a sign-in yields.
    pub async fn token_for(&self, scope: &str) -> Result<AccessToken, GraphError> {
        self.acquire_with_retries(scope).await
    }

    /// Signs in now (or reuses the cached token), so a bad credential fails before any work.
    pub async fn sign_in(&self) -> Result<(), GraphError> {
        self.token().await.map(drop)
    }

    /// The tenant the signed-in identity belongs to: its access token's `tid` claim, so knowing
    /// it costs no Graph read and no permission (`GET /organization` needs
    /// `Organization.Read.All`).
    pub async fn tenant_id(&self) -> Result<crate::model::TenantId, GraphError> {
        let token = self.token().await?;
        token::unverified_claims(&token)
            .and_then(|claims| claims.get("tid")?.as_str()?.parse().ok())
            .ok_or_else(|| {
                GraphError::config(
                    "the access token names no tenant (`tid` claim)",
                    Some(
                        "entraform signs in to one tenant: pass --tenant (or AZURE_TENANT_ID)"
                            .into(),
                    ),
                )
            })
    }

    /// The application signed in, from its access token: its service principal (`oid`) and
    /// the application permissions granted to it (`roles`). `None` for a user's token (the
    /// Azure CLI) or one that does not say.
    pub async fn signed_in_app(&self) -> Result<Option<crate::model::SignedInApp>, GraphError> {
        let token = self.token().await?;
        let Some(claims) = token::unverified_claims(&token) else {
            return Ok(None);
        };
        // App-only tokens say `idtyp: app` (v2) or carry no `scp` and no user (v1).
        let app_only = claims.get("idtyp").and_then(|v| v.as_str()) == Some("app")
            || (claims.get("scp").is_none() && claims.get("upn").is_none());
        let sp = claims
            .get("oid")
            .and_then(|v| v.as_str())
            .and_then(|oid| oid.parse().ok());
        Ok(sp
            .filter(|_| app_only)
            .map(|service_principal_id| crate::model::SignedInApp {
                service_principal_id,
                roles: claims
                    .get("roles")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect(),
            }))
    }

    /// Sends `request` and decodes its answer as `T`, with the JSON path of any mismatch.
    pub async fn fetch<T: DeserializeOwned>(&self, request: &Request) -> Result<T, GraphError> {
        self.send(request).await?.json()
    }

    /// Every item of the collection `request` lists: follows `@odata.nextLink` to the end, asks
    /// for `$top=999` where the collection allows it. The request's headers go with every page:
    /// `ConsistencyLevel` is not carried by the next link, and a page without it would fail or
    /// ignore `$count`.
    pub async fn list<T: DeserializeOwned>(&self, request: &Request) -> Result<Vec<T>, GraphError> {
        self.list_reporting(request, &|_| {}).await
    }

    /// [`Self::list`], calling `read` with the number of items read so far after each page.
    pub async fn list_reporting<T: DeserializeOwned>(
        &self,
        request: &Request,
        read: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Vec<T>, GraphError> {
        let first = request.path_and_query();
        let mut items = Vec::new();
        let mut next = Some(with_page_size(&first));
        let mut seen = std::collections::HashSet::new();
        while let Some(link) = next {
            if !seen.insert(link.clone()) {
                return Err(GraphError::config(
                    format!("Graph returned the same next link twice while listing `{first}`"),
                    None,
                ));
            }
            let page: Page<T> = self.fetch(&request.page(link)).await?;
            items.extend(page.value);
            read(items.len());
            next = page.next_link;
        }
        Ok(items)
    }

    /// `GET` a path (`/applications/{id}?$select=…`): [`Self::fetch`] of [`Request::get`].
    pub async fn get<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, GraphError> {
        self.fetch(&Request::get(path_and_query)).await
    }

    /// `get` with extra headers, e.g. [`EVENTUAL_CONSISTENCY`](super::EVENTUAL_CONSISTENCY).
    pub async fn get_with<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Result<T, GraphError> {
        self.fetch(&with_headers(Request::get(path_and_query), headers))
            .await
    }

    /// [`Self::list`] of a path.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<Vec<T>, GraphError> {
        self.list(&Request::get(path_and_query)).await
    }

    /// [`Self::list`] of a path, with headers sent again with every page.
    pub async fn list_all_with<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<T>, GraphError> {
        self.list(&with_headers(Request::get(path_and_query), headers))
            .await
    }

    /// `POST` a JSON body. `safety` says whether a lost answer may be retried.
    pub async fn post<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        safety: RetrySafety,
    ) -> Result<Response, GraphError> {
        self.send(&Request::post(path, encode(path, body)?, safety))
            .await
    }

    /// `PATCH` a JSON body (204 on success, no body).
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        safety: RetrySafety,
    ) -> Result<Response, GraphError> {
        self.send(&Request::patch(path, encode(path, body)?, safety))
            .await
    }

    /// Upsert by alternate key: `PATCH {path}` with `Prefer: create-if-missing`.
    /// [`Response::created`] tells 201 (created, body is the object) from 204 (updated).
    pub async fn upsert<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Response, GraphError> {
        self.send(&Request::upsert(path, encode(path, body)?)).await
    }

    pub async fn delete(&self, path: &str, safety: RetrySafety) -> Result<Response, GraphError> {
        self.send(&Request::delete(path, safety)).await
    }

    /// Sends one request, retrying as its safety class allows. A non-2xx answer that is not
    /// retried becomes [`GraphError::Http`].
    pub async fn send(&self, request: &Request) -> Result<Response, GraphError> {
        let body = request
            .body
            .as_ref()
            .map(|b| serde_json::to_vec(b).unwrap_or_default());
        self.execute(
            request.method.clone(),
            &request.path_and_query(),
            &request.headers,
            body,
            request.safety,
            1,
        )
        .await
    }

    /// The one send path. `operations` is how many Graph operations the request carries (the
    /// number of parts for a `$batch`).
    pub(crate) async fn execute(
        &self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
        safety: RetrySafety,
        operations: u64,
    ) -> Result<Response, GraphError> {
        let inner = &self.inner;
        let url = inner.endpoints.resolve(path)?;
        let rel = inner.endpoints.relative(&url);
        let started = Instant::now();
        let mut attempt_no = 0u32;
        let mut on_401 = Unauthorized::RefreshToken;
        loop {
            attempt_no += 1;
            self.wait_while_throttled().await;
            let token = self.token().await?;
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let mut req = inner
                .http
                .request(method.clone(), url.clone())
                .header(reqwest::header::AUTHORIZATION, bearer(&token))
                .header("client-request-id", &client_request_id)
                .header(reqwest::header::ACCEPT, "application/json");
            for (k, v) in headers {
                req = req.header(k.as_str(), v.as_str());
            }
            if let Some(body) = &body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            tracing::trace!(
                method = %method,
                url = %url,
                client_request_id,
                attempt = attempt_no,
                body = %body.as_deref().map(redact::body).unwrap_or_default(),
                "sending"
            );
            let permit = inner.limiter.acquire().await;
            inner.counters.http_requests.fetch_add(1, Ordering::Relaxed);
            inner
                .counters
                .operations
                .fetch_add(operations, Ordering::Relaxed);
            let sent_at = Instant::now();
            let outcome = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let resp_headers = resp.headers().clone();
                    match read_body(resp, inner.config.max_response_bytes).await {
                        Ok(bytes) => Ok((status, resp_headers, bytes)),
                        Err(BodyError::Transport(e)) => Err(e),
                        Err(BodyError::TooLarge) => {
                            return Err(GraphError::ResponseTooLarge {
                                method: method.to_string(),
                                path: rel,
                                limit: inner.config.max_response_bytes,
                                request_id: header_str(&resp_headers, "request-id"),
                            });
                        }
                    }
                }
                Err(e) => Err(e),
            };
            drop(permit);
            let elapsed_ms = sent_at.elapsed().as_millis() as u64;
            let (attempt, step) = match outcome {
                Ok((status, resp_headers, bytes)) => {
                    let request_id = header_str(&resp_headers, "request-id");
                    tracing::debug!(
                        method = %method,
                        path = %rel,
                        status,
                        request_id = request_id.as_deref().unwrap_or("-"),
                        client_request_id,
                        elapsed_ms,
                        bytes = bytes.len(),
                        "graph"
                    );
                    tracing::trace!(
                        client_request_id,
                        body = %redact::body(&bytes),
                        "response body"
                    );
                    if status == 429 {
                        inner.counters.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    // A `$batch` is charged part by part; its parts say so themselves.
                    if path != "/$batch" {
                        self.count_resource_units(
                            header_str(&resp_headers, "x-ms-resource-unit").as_deref(),
                        );
                    }
                    if (200..300).contains(&status) {
                        // A `$batch` answers 200 with throttled parts inside; it judges them.
                        if path != "/$batch" {
                            self.not_throttled();
                        }
                        return Ok(Response {
                            status,
                            method: method.to_string(),
                            path: rel,
                            request_id,
                            client_request_id,
                            location: header_str(&resp_headers, "location"),
                            body: bytes,
                        });
                    }
                    let mut retry_after = header_str(&resp_headers, "retry-after")
                        .and_then(|v| retry::parse_retry_after(&v, SystemTime::now()));
                    if status == 429 {
                        retry_after = Some(self.throttled(retry_after));
                    }
                    let attempt = Attempt::Status {
                        status,
                        retry_after,
                    };
                    let step = self.next_step(safety, attempt, attempt_no, started, on_401);
                    if step == Step::Finish {
                        let body_json = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
                        let mut err = HttpError::from_body(
                            method.as_str(),
                            &rel,
                            status,
                            body_json.as_ref(),
                            request_id,
                            Some(client_request_id),
                        );
                        err.attempts = attempt_no;
                        return Err(GraphError::Http(Box::new(err)));
                    }
                    if step == Step::RefreshToken {
                        inner.tokens.invalidate(&token).await;
                        on_401 = Unauthorized::Final;
                    }
                    (attempt, step)
                }
                Err(e) if super::tls::is_untrusted_certificate(&e) => {
                    // Not a fault that passes: retrying cannot make the certificate trusted.
                    return Err(GraphError::UntrustedCertificate {
                        method: method.to_string(),
                        path: rel,
                        issuer: super::tls::presented_issuer(&url).await,
                        source: e.without_url(),
                    });
                }
                Err(e) => {
                    let attempt = if e.is_connect() {
                        Attempt::NotSent
                    } else {
                        Attempt::NoAnswer
                    };
                    tracing::debug!(
                        method = %method,
                        path = %rel,
                        client_request_id,
                        elapsed_ms,
                        error = %e,
                        "no answer"
                    );
                    let step = self.next_step(safety, attempt, attempt_no, started, on_401);
                    if step == Step::Finish {
                        return Err(GraphError::Transport {
                            method: method.to_string(),
                            path: rel,
                            attempts: attempt_no,
                            source: e.without_url(),
                        });
                    }
                    (attempt, step)
                }
            };
            self.before_retry(step, attempt, &method, &rel).await;
        }
    }

    fn next_step(
        &self,
        safety: RetrySafety,
        attempt: Attempt,
        attempt_no: u32,
        started: Instant,
        on_401: Unauthorized,
    ) -> Step {
        retry::next_step(
            &self.inner.config.retry,
            safety,
            attempt,
            attempt_no,
            started.elapsed(),
            on_401,
            rand::random::<f64>(),
        )
    }

    /// Counts the retry and sleeps (a 429's wait is the shared hold, see
    /// [`GraphClient::throttled`]; the next send waits for it).
    async fn before_retry(&self, step: Step, attempt: Attempt, method: &Method, path: &str) {
        self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
        let wait = match step {
            Step::RetryAfter(wait) => wait,
            _ => Duration::ZERO,
        };
        tracing::debug!(
            method = %method,
            path,
            ?attempt,
            wait_ms = wait.as_millis() as u64,
            "retrying"
        );
        if let Attempt::Status { status: 429, .. } = attempt {
            // The shared gate holds this request (and every other) back.
            return;
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn throttle_state(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.inner
            .throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Records a 429 (whole request or batch part): every request holds off for the returned
    /// time, longer for each 429 in a row, with jitter. A 429 that comes while a hold is already
    /// running (a request sent before it began) does not lengthen it again.
    pub(crate) fn throttled(&self, retry_after: Option<Duration>) -> Duration {
        let now = Instant::now();
        let mut t = self.throttle_state();
        if let Some(until) = t.until.filter(|u| *u > now) {
            return until - now;
        }
        t.streak = t.streak.saturating_add(1);
        let hold = retry::throttle_hold(
            &self.inner.config.retry,
            retry_after,
            t.streak,
            rand::random::<f64>(),
        );
        t.until = Some(now + hold);
        t.spread = (hold / 2).min(Duration::from_secs(5));
        tracing::debug!(
            hold_ms = hold.as_millis() as u64,
            streak = t.streak,
            "throttled: every request holds off"
        );
        hold
    }

    /// A request got through: the next 429 starts the doubling again.
    pub(crate) fn not_throttled(&self) {
        let mut t = self.throttle_state();
        if t.streak > 0 && t.until.is_none_or(|u| u <= Instant::now()) {
            t.streak = 0;
        }
    }

    /// Waits out the shared hold; requests released together spread over a random part of it.
    async fn wait_while_throttled(&self) {
        let (until, spread) = {
            let t = self.throttle_state();
            (t.until, t.spread)
        };
        if let Some(until) = until
            && until > Instant::now()
        {
            let jitter = spread.mul_f64(rand::random::<f64>());
            tokio::time::sleep_until(until + jitter).await;
        }
    }

    async fn token(&self) -> Result<Secret, GraphError> {
        let scope = self.inner.endpoints.graph_scope();
        self.inner
            .tokens
            .get(|| self.acquire_with_retries(&scope))
            .await
    }

    /// Signs in, retrying what is transient at the token endpoint (no answer, 429, 5xx); a
    /// refusal (400/401 with an AADSTS code) is final.
    async fn acquire_with_retries(&self, scope: &str) -> Result<AccessToken, GraphError> {
        let inner = &self.inner;
        let started = Instant::now();
        let mut attempt_no = 0;
        loop {
            attempt_no += 1;
            let result =
                token::acquire_token(&inner.http, &inner.endpoints, &inner.credential, scope).await;
            let attempt = match &result {
                Err(GraphError::Transport { source, .. }) if source.is_connect() => {
                    Attempt::NotSent
                }
                Err(GraphError::Transport { .. }) => Attempt::NoAnswer,
                Err(GraphError::SignIn(e)) => match e.status {
                    Some(status) if status != 401 => Attempt::Status {
                        status,
                        retry_after: None,
                    },
                    _ => return result,
                },
                _ => return result,
            };
            // A 401 from the token endpoint is a refusal, not a stale token.
            let on_401 = Unauthorized::Final;
            match self.next_step(
                RetrySafety::Idempotent,
                attempt,
                attempt_no,
                started,
                on_401,
            ) {
                Step::RetryAfter(wait) => {
                    tracing::debug!(
                        ?attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying sign-in"
                    );
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    return result.map_err(|e| match e {
                        GraphError::Transport {
                            method,
                            path,
                            source,
                            ..
                        } => GraphError::Transport {
                            method,
                            path,
                            attempts: attempt_no,
                            source,
                        },
                        other => other,
                    });
                }
            }
        }
    }

    pub(crate) fn count_retries(&self, n: u64) {
        self.inner.counters.retries.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds what an `x-ms-resource-unit` header says was charged (nothing when absent).
    pub(crate) fn count_resource_units(&self, header: Option<&str>) {
        if let Some(units) = header.and_then(|v| v.trim().parse::<u64>().ok()) {
            self.inner
                .counters
                .resource_units
                .fetch_add(units, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_throttled(&self, n: u64) {
        self.inner
            .counters
            .throttled
            .fetch_add(n, Ordering::Relaxed);
    }
}

fn bearer(token: &Secret) -> HeaderValue {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"));
    // Keeps the value out of reqwest/hyper's own Debug output.
    value.set_sensitive(true);
    value
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn with_headers(request: Request, headers: &[(&str, &str)]) -> Request {
    headers
        .iter()
        .fold(request, |r, (name, value)| r.with_header(name, value))
}

/// A body given to the path-based helpers, as JSON.
fn encode<B: Serialize + ?Sized>(path: &str, body: &B) -> Result<serde_json::Value, GraphError> {
    serde_json::to_value(body)
        .map_err(|e| GraphError::config(format!("cannot encode the body for {path}: {e}"), None))
}

#[cfg(test)]
mod tests {
    use super::Response;

    #[test]
    fn debug_shows_status_request_id_and_body_length_never_the_body() {
        let body = br#"{"keyId":"k","secretText":"Zx8Q~not-for-logs"}"#.to_vec();
        let response = Response {
            status: 200,
            method: "POST".into(),
            path: "/applications/a/addPassword".into(),
            request_id: Some("req-1".into()),
            client_request_id: "client-1".into(),
            location: None,
            body: body.clone(),
        };
        let shown = format!("{response:?} {response:#?}");
        assert!(!shown.contains("not-for-logs"), "{shown}");
        assert!(!shown.contains("secretText"), "{shown}");
        // A derived Debug prints the bytes as numbers: the secret all the same.
        assert!(
            !shown.contains(&format!("{:?}", &body[..8])[1..20]),
            "{shown}"
        );
        assert!(shown.contains("status: 200"), "{shown}");
        assert!(shown.contains("req-1"), "{shown}");
        assert!(
            shown.contains(&format!("body_len: {}", body.len())),
            "{shown}"
        );
    }
}
