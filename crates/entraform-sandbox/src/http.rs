//! The server: its own accept loop on hyper (so a fault can drop a connection mid-request, and
//! `--tls` can wrap it), request ids, the fault pipeline, bearer-token checks, `$batch`, request
//! statistics and the background saver.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::errors::{GraphError, TokenError};
use super::faults::{self, Charge, Failure, FaultState, Faults};
use super::graph::{self, Call, Caller, Headers, Reply};
use super::jwt::Signer;
use super::odata::Params;
use super::replica::{Replica, View};
use super::state::{self, Document, Store};
use super::{
    RunningSandbox, SandboxConfig, SandboxError, Secret, Stats, error_date, lock, new_guid, now_ms,
    seed, tls, token,
};

const GRAPH_CONTENT_TYPE: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
const MAX_BATCH: usize = 20;

pub(crate) struct Server {
    pub base_url: String,
    pub store: Store,
    pub signer: Signer,
    pub faults: Faults,
    pub(crate) fault_state: FaultState,
    pub(crate) replica: Replica,
    stats: Mutex<Stats>,
    pub jti_seen: Mutex<HashMap<String, i64>>,
    pub trusted_issuers: Vec<String>,
    jwks_cache: tokio::sync::Mutex<HashMap<String, Vec<Value>>>,
    http: reqwest::Client,
    pub ca_path: Option<PathBuf>,
}

/// The background tasks of a running server.
pub(crate) struct Handle {
    stop: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
    saver: tokio::task::JoinHandle<()>,
}

impl Handle {
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.accept.await;
        let _ = self.saver.await;
    }
}

/// The connection is closed without a response (an injected fault).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

fn resolve_listen(config: &SandboxConfig) -> Result<SocketAddr, SandboxError> {
    let bad = || SandboxError::BadListen {
        addr: config.listen.clone(),
    };
    let addr: SocketAddr = match config.listen.parse() {
        Ok(a) => a,
        Err(_) => {
            let (host, port) = config.listen.rsplit_once(':').ok_or_else(bad)?;
            let port: u16 = port.parse().map_err(|_| bad())?;
            if host.eq_ignore_ascii_case("localhost") {
                SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port)
            } else {
                return Err(bad());
            }
        }
    };
    // Anyone who reaches the server can sign in as the tenant's admin (the bootstrap secret is
    // in every `serve` output): another machine only over HTTPS, and only when asked for.
    if !(addr.ip().is_loopback() || (config.allow_non_loopback && config.tls)) {
        return Err(SandboxError::NonLoopback {
            addr: config.listen.clone(),
        });
    }
    Ok(addr)
}

pub(crate) async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
    let addr = resolve_listen(&config)?;
    // Locked before loading, released after the last save: no other process's writes between.
    let mut lock = match &config.state_path {
        Some(p) => {
            let (path, role, wait) = (p.clone(), config.role, config.lock_wait);
            Some(
                tokio::task::spawn_blocking(move || lock::acquire(&path, role, wait))
                    .await
                    .map_err(|_| SandboxError::ServerGone)??,
            )
        }
        None => None,
    };
    let loaded = match &config.state_path {
        Some(p) => {
            state::remove_stale_temps(p);
            state::load(p)?
        }
        None => None,
    };
    let doc = match loaded {
        Some(mut doc) => {
            seed::top_up_bootstrap(&mut doc);
            doc
        }
        None => tokio::task::spawn_blocking(seed::new_tenant)
            .await
            .map_err(|_| SandboxError::ServerGone)??,
    };
    let signer = Signer::from_stored(&doc.signing_key)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: config.listen.clone(),
        source,
    })?;
    // On every interface the URL names this machine, so it works from elsewhere as well.
    let host = match local.ip() {
        ip if ip.is_unspecified() => machine_name().unwrap_or_else(|| ip.to_string()),
        IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let tls = if config.tls {
        Some(tls::generate(host.trim_matches(|c| c == '[' || c == ']'))?)
    } else {
        None
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://{host}:{}", local.port());
    let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
    let ca_path = match (&tls, &config.state_path) {
        (Some(t), Some(state)) => {
            let path = tls::ca_path_for(state);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                entraform_local_file::create_private_dirs(dir).map_err(|source| {
                    SandboxError::WriteCa {
                        path: path.clone(),
                        source,
                    }
                })?;
            }
            std::fs::write(&path, &t.ca_pem).map_err(|source| SandboxError::WriteCa {
                path: path.clone(),
                source,
            })?;
            Some(path)
        }
        _ => None,
    };
    let secret = Secret::new(doc.bootstrap.client_secret.clone());
    let replica = Replica::new(config.faults.replication_delay_ms, &doc);
    let server = Arc::new(Server {
        base_url,
        store: Store::new(doc, config.state_path.clone()),
        signer,
        faults: config.faults.clone(),
        fault_state: FaultState::new(config.seed),
        replica,
        stats: Mutex::new(Stats::default()),
        jti_seen: Mutex::new(HashMap::new()),
        trusted_issuers: config.trusted_issuers.clone(),
        jwks_cache: tokio::sync::Mutex::new(HashMap::new()),
        http: reqwest::Client::new(),
        ca_path,
    });
    // The state file exists as soon as the server does.
    {
        let s = server.clone();
        tokio::task::spawn_blocking(move || s.store.save_if_changed())
            .await
            .map_err(|_| SandboxError::ServerGone)??;
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let saver = tokio::spawn(saver(server.clone(), stop_rx.clone()));
    let acceptor = tls.map(|t| t.acceptor);
    let accept = tokio::spawn(accept_loop(server.clone(), listener, acceptor, stop_rx));
    if let Some(lock) = &mut lock {
        let tenant_id = server.store.lock().tenant.id.clone();
        lock.announce(&server.base_url, &tenant_id);
    }
    Ok(RunningSandbox {
        _lock: lock,
        server,
        handle: Handle {
            stop: stop_tx,
            accept,
            saver,
        },
        local_addr: local,
        secret,
        ca_pem,
    })
}

/// This machine's host name, for a server listening on every interface.
#[cfg(unix)]
fn machine_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end]).ok()?.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    valid.then(|| name.to_ascii_lowercase())
}

#[cfg(not(unix))]
fn machine_name() -> Option<String> {
    std::env::var("COMPUTERNAME")
        .ok()
        .map(|n| n.to_ascii_lowercase())
}

async fn saver(server: Arc<Server>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = server.store.dirty.notified() => {}
            _ = stop.changed() => return,
        }
        // Coalesce a burst of writes into one save.
        tokio::time::sleep(Duration::from_millis(25)).await;
        let s = server.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.store.save_if_changed()).await {
            tracing::warn!(error = %e, "cannot save the sandbox state");
        }
    }
}

async fn accept_loop(
    server: Arc<Server>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            res = listener.accept() => match res {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let server = server.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { server.handle(req).await }
            });
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn).await;
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn).await;
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(3), graceful.shutdown()).await;
}

/// What the server answers to one HTTP request.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
}

enum Outcome {
    Answer(Answer),
    Drop,
}

fn json_answer(
    status: u16,
    content_type: &str,
    body: &Value,
    extra: Vec<(String, String)>,
) -> Answer {
    let mut headers = vec![("Content-Type".to_string(), content_type.to_string())];
    headers.extend(extra);
    Answer {
        status,
        headers,
        body: Bytes::from(serde_json::to_vec(body).expect("JSON serialises")),
    }
}

/// A Key Vault answer: JSON as Key Vault sends it, with its own request id header.
fn keyvault_answer(reply: super::keyvault::Reply) -> Answer {
    let mut headers = reply.headers;
    headers.push(("x-ms-request-id".into(), new_guid()));
    match reply.body {
        Some(body) => json_answer(
            reply.status,
            "application/json; charset=utf-8",
            &body,
            headers,
        ),
        None => Answer {
            status: reply.status,
            headers,
            body: Bytes::new(),
        },
    }
}

/// A rendered Graph response (top-level or a batch part).
struct Part {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    text: Option<String>,
}

impl Server {
    /// The tenant as a read at `now` sees it (see [`super::replica`]).
    pub(crate) fn read_view(&self, now: i64) -> View<'_> {
        match self.replica.snapshot(now) {
            Some(doc) => View::Replica(doc),
            None => View::Primary(self.store.lock()),
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn count(&self, route: &str, status: &str) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        s.total += 1;
        *s.routes
            .entry(route.to_string())
            .or_default()
            .entry(status.to_string())
            .or_default() += 1;
        *s.statuses.entry(status.to_string()).or_default() += 1;
    }

    async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Dropped> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let method = parts.method.as_str().to_ascii_uppercase();
        let path = parts.uri.path().to_string();
        let query = parts.uri.query().unwrap_or_default().to_string();
        let headers = Headers(
            parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        v.to_str().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        );
        let request_id = new_guid();
        let client_request_id = headers
            .get("client-request-id")
            .map(str::to_string)
            .unwrap_or_else(|| request_id.clone());
        if self.faults.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.faults.latency_ms)).await;
        }
        let ids = Ids {
            request: request_id,
            client: client_request_id,
        };
        let outcome = self
            .route(&method, &path, &query, &headers, &body, &ids)
            .await;
        let Outcome::Answer(answer) = outcome else {
            return Err(Dropped);
        };
        let mut resp = Response::builder().status(answer.status);
        for (k, v) in &answer.headers {
            resp = resp.header(k.as_str(), v.as_str());
        }
        resp = resp
            .header("request-id", ids.request.as_str())
            .header("client-request-id", ids.client.as_str())
            .header("Cache-Control", "no-cache");
        Ok(resp
            .body(Full::new(answer.body))
            .expect("valid response parts"))
    }

    async fn route(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &Headers,
        body: &Bytes,
        ids: &Ids,
    ) -> Outcome {
        if let Some((route, reply)) =
            super::keyvault::handle(self, method, path, query, headers, body)
        {
            self.count(&route, &reply.status.to_string());
            return Outcome::Answer(keyvault_answer(reply));
        }
        if path == "/v1.0" || path.starts_with("/v1.0/") {
            return self
                .graph_top(method, &path[5..], query, headers, body, ids)
                .await;
        }
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (route, answer) = match (method, segs.as_slice()) {
            ("GET", ["_sandbox", "stats"]) => (
                "GET /_sandbox/stats".to_string(),
                json_answer(
                    200,
                    "application/json",
                    &serde_json::to_value(self.stats()).expect("stats serialise"),
                    vec![],
                ),
            ),
            ("POST", [tenant, "oauth2", "v2.0", "token"]) => (
                "POST /{tenant}/oauth2/v2.0/token".to_string(),
                self.token_answer(tenant, body, headers, ids).await,
            ),
            ("GET", [tenant, "v2.0", ".well-known", "openid-configuration"]) => (
                "GET /{tenant}/v2.0/.well-known/openid-configuration".to_string(),
                self.discovery(tenant, ids, token::openid_configuration),
            ),
            ("GET", [tenant, "discovery", "v2.0", "keys"]) => (
                "GET /{tenant}/discovery/v2.0/keys".to_string(),
                self.discovery(tenant, ids, token::jwks),
            ),
            ("GET", [_, "discovery", "instance"]) => {
                let tenant = self.store.lock().tenant.id.clone();
                (
                    "GET /{tenant}/discovery/instance".to_string(),
                    json_answer(
                        200,
                        "application/json; charset=utf-8",
                        &token::instance_discovery(self, &tenant),
                        vec![],
                    ),
                )
            }
            _ => {
                let e = GraphError::new(404, "NotFound", format!("No route for {method} {path}."));
                (
                    format!("{method} (unknown)"),
                    json_answer(
                        404,
                        "application/json",
                        &e.body(&ids.request, &ids.client, &error_date(now_ms())),
                        vec![],
                    ),
                )
            }
        };
        self.count(&route, &answer.status.to_string());
        Outcome::Answer(answer)
    }

    fn discovery(&self, tenant: &str, ids: &Ids, body: impl Fn(&Server, &str) -> Value) -> Answer {
        let tenant_id = {
            let doc = self.store.lock();
            token::tenant_matches(&doc, tenant).then(|| doc.tenant.id.clone())
        };
        match tenant_id {
            Some(t) => json_answer(
                200,
                "application/json; charset=utf-8",
                &body(self, &t),
                vec![],
            ),
            None => self.token_error(&TokenError::unknown_tenant(tenant), ids),
        }
    }

    fn token_error(&self, e: &TokenError, ids: &Ids) -> Answer {
        let ts = super::iso(now_ms()).replace('T', " ");
        json_answer(
            e.status,
            "application/json; charset=utf-8",
            &e.body(&ids.request, &ids.client, &ts),
            vec![],
        )
    }

    async fn token_answer(
        &self,
        tenant: &str,
        body: &Bytes,
        headers: &Headers,
        ids: &Ids,
    ) -> Answer {
        match token::token(self, tenant, body, headers.get("Authorization")).await {
            Ok(v) => json_answer(200, "application/json; charset=utf-8", &v, vec![]),
            Err(e) => self.token_error(&e, ids),
        }
    }

    /// JWKS of a trusted external issuer, by OIDC discovery (cached).
    pub(crate) async fn issuer_keys(&self, issuer: &str) -> Result<Vec<Value>, String> {
        let mut cache = self.jwks_cache.lock().await;
        if let Some(k) = cache.get(issuer) {
            return Ok(k.clone());
        }
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let config: Value = self
            .http
            .get(&discovery)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let jwks_uri = config["jwks_uri"]
            .as_str()
            .ok_or("no jwks_uri in the issuer's discovery document")?;
        let jwks: Value = self
            .http
            .get(jwks_uri)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
        cache.insert(issuer.to_string(), keys.clone());
        Ok(keys)
    }

    /// Authenticates a Graph request from its bearer token.
    fn authenticate(&self, headers: &Headers) -> Result<Caller, GraphError> {
        let Some(auth) = headers.get("Authorization") else {
            return Err(GraphError::unauthenticated("Access token is empty."));
        };
        let Some(token) = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
        else {
            return Err(GraphError::unauthenticated("Access token is empty."));
        };
        let Some(claims) = self.signer.verify_own(token.trim()) else {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. Invalid audience or signature.",
            ));
        };
        let aud = claims["aud"].as_str().unwrap_or_default();
        if aud != "https://graph.microsoft.com" && aud != seed::GRAPH_APP_ID {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. Invalid audience.",
            ));
        }
        let now = now_ms() / 1000;
        if claims["exp"].as_i64().is_none_or(|exp| exp < now) {
            return Err(GraphError::unauthenticated(
                "Lifetime validation failed, the token is expired.",
            ));
        }
        if claims["nbf"].as_i64().is_some_and(|nbf| nbf > now + 300) {
            return Err(GraphError::unauthenticated(
                "Lifetime validation failed, the token is not yet valid.",
            ));
        }
        if claims["tid"].as_str() != Some(self.store.lock().tenant.id.as_str()) {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. Invalid tenant.",
            ));
        }
        Ok(Caller {
            app_id: claims["appid"].as_str().unwrap_or_default().to_string(),
            sp_id: claims["oid"].as_str().unwrap_or_default().to_string(),
            roles: claims["roles"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    fn graph_answer(part: Part, extra_ct: bool) -> Answer {
        let mut headers = part.headers;
        let body = if let Some(text) = part.text {
            headers.push(("Content-Type".into(), "text/plain".into()));
            Bytes::from(text)
        } else if let Some(b) = part.body {
            headers.push(("Content-Type".into(), GRAPH_CONTENT_TYPE.into()));
            Bytes::from(serde_json::to_vec(&b).expect("JSON serialises"))
        } else {
            Bytes::new()
        };
        if extra_ct {
            headers.push(("OData-Version".into(), "4.0".into()));
        }
        // Every Graph response says what it cost, even one refused before any work.
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-ms-resource-unit"))
        {
            headers.push(("x-ms-resource-unit".into(), "1".into()));
        }
        Answer {
            status: part.status,
            headers,
            body,
        }
    }

    async fn graph_top(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &Headers,
        body: &Bytes,
        ids: &Ids,
    ) -> Outcome {
        let route = format!("{method} /v1.0{}", route_template(path));
        let write = method != "GET";
        let failure = self.fault_state.failure(self.faults.fail_rate, write);
        if failure == Some(Failure::DropBefore) {
            self.count(&route, "dropped");
            return Outcome::Drop;
        }
        if let Some(Failure::Status(code)) = failure {
            let part = self.render_error(&service_error(code), ids);
            self.count(&route, &code.to_string());
            return Outcome::Answer(Self::graph_answer(part, true));
        }
        let caller = match self.authenticate(headers) {
            Ok(c) => c,
            Err(e) => {
                let part = self.render_error(&e, ids);
                self.count(&route, &part.status.to_string());
                return Outcome::Answer(Self::graph_answer(part, true));
            }
        };
        let params = Params::parse(query);
        let part = if method == "POST" && path.trim_end_matches('/') == "/$batch" {
            self.batch(&caller, headers, body, ids)
        } else {
            self.graph_one(method, path, &params, headers, body, &caller, ids)
        };
        if failure == Some(Failure::DropAfter) {
            // Applied, but the client never hears of it.
            self.count(&route, "dropped");
            return Outcome::Drop;
        }
        self.count(&route, &part.status.to_string());
        Outcome::Answer(Self::graph_answer(part, true))
    }

    fn render_error(&self, e: &GraphError, ids: &Ids) -> Part {
        Part {
            status: e.status,
            headers: e.headers.clone(),
            body: Some(e.body(&ids.request, &ids.client, &error_date(now_ms()))),
            text: None,
        }
    }

    /// One Graph operation: throttling, then the resource handler under the state lock.
    #[allow(clippy::too_many_arguments)]
    fn graph_one(
        &self,
        method: &str,
        path: &str,
        params: &Params,
        headers: &Headers,
        body: &[u8],
        caller: &Caller,
        ids: &Ids,
    ) -> Part {
        let now = now_ms();
        let select = params.get("$select");
        let cost = faults::cost(
            method,
            path,
            select.is_some(),
            params.get("$expand").is_some(),
            params.get("$top").and_then(|t| t.parse().ok()),
        );
        let mut extra = vec![("x-ms-resource-unit".to_string(), cost.to_string())];
        if let Some(limit) = self.faults.throttle {
            let tenant = self.store.lock().tenant.id.clone();
            let kind = if method == "GET" { "Read" } else { "Write" };
            let throttled = |retry: u64, info: &str| {
                let mut e = GraphError::new(429, "TooManyRequests", "Please retry again later.");
                e.headers = vec![
                    ("Retry-After".into(), retry.to_string()),
                    (
                        "x-ms-throttle-scope".into(),
                        format!("Tenant_Application/{kind}/{}/{tenant}", caller.app_id),
                    ),
                    ("x-ms-throttle-information".into(), info.to_string()),
                    ("x-ms-resource-unit".into(), cost.to_string()),
                ];
                e
            };
            let key_select = method == "GET"
                && select.is_some_and(|s| {
                    s.split(',')
                        .any(|p| p.trim().eq_ignore_ascii_case("keyCredentials"))
                });
            if key_select && let Err(retry) = self.fault_state.charge_key_select(now) {
                return self.render_error(&throttled(retry, "ResourceUnitLimitExceeded"), ids);
            }
            match self.fault_state.charge(&caller.app_id, cost, limit, now) {
                Charge::Throttled { retry_after_s } => {
                    return self
                        .render_error(&throttled(retry_after_s, "ResourceUnitLimitExceeded"), ids);
                }
                Charge::Ok { percent_used } if percent_used >= 80 => {
                    extra.push((
                        "x-ms-throttle-limit-percentage".into(),
                        format!("{:.1}", f64::from(percent_used) / 100.0),
                    ));
                }
                Charge::Ok { .. } => {}
            }
        }
        let call = Call {
            method,
            path,
            params,
            headers,
            body,
            caller,
            now,
            base: &self.base_url,
            replication_delay_ms: self.replica.delay_ms(),
        };
        // Reads are served by the replica (the tenant as it was one replication delay ago);
        // writes by the primary, recorded for the replica.
        let snapshot = (method == "GET")
            .then(|| self.replica.snapshot(now))
            .flatten();
        let result = match snapshot {
            Some(snapshot) => graph::dispatch(&mut Document::clone(&snapshot), &call),
            None => {
                let mut doc = self.store.lock();
                let result = graph::dispatch(&mut doc, &call);
                if method != "GET" && result.is_ok() {
                    self.replica.record(&doc, now);
                }
                result
            }
        };
        match result {
            Ok(Reply {
                status,
                mut headers,
                body,
                text,
            }) => {
                if method != "GET" {
                    self.store.mark_dirty();
                }
                headers.extend(extra);
                Part {
                    status,
                    headers,
                    body,
                    text,
                }
            }
            Err(e) => {
                let mut part = self.render_error(&e, ids);
                part.headers.extend(extra);
                part
            }
        }
    }

    /// `POST /v1.0/$batch`: up to 20 parts, `dependsOn`, 424 for failed dependencies, each part
    /// throttled and counted on its own.
    fn batch(&self, caller: &Caller, headers: &Headers, body: &[u8], ids: &Ids) -> Part {
        let bad = |msg: &str| self.render_error(&GraphError::new(400, "BadRequest", msg), ids);
        if !headers
            .get("Content-Type")
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"))
        {
            return bad("Write request id : Content-Type must be application/json.");
        }
        let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(body) else {
            return bad("Invalid batch payload format.");
        };
        let Some(Value::Array(requests)) = root.get("requests") else {
            return bad("Invalid batch payload format.");
        };
        if requests.is_empty() {
            return bad("Invalid batch payload format.");
        }
        if requests.len() > MAX_BATCH {
            return bad(&format!(
                "The number of requests in a batch cannot exceed {MAX_BATCH}."
            ));
        }
        let mut parsed = Vec::new();
        for r in requests {
            let id = r["id"]
                .as_str()
                .map(str::to_string)
                .or_else(|| r["id"].as_i64().map(|n| n.to_string()));
            let (Some(id), Some(method), Some(url)) = (id, r["method"].as_str(), r["url"].as_str())
            else {
                return bad("Invalid batch payload format.");
            };
            if parsed.iter().any(|p: &BatchPart| p.id == id) {
                return bad("Batch request ids must be unique.");
            }
            let deps: Vec<String> = r["dependsOn"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|d| d.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            for d in &deps {
                if !requests
                    .iter()
                    .any(|x| x["id"].as_str() == Some(d.as_str()))
                {
                    return bad(&format!(
                        "Request id '{d}' in dependsOn does not exist in the batch."
                    ));
                }
            }
            let part_headers = Headers(
                r["headers"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                            .collect()
                    })
                    .unwrap_or_default(),
            );
            let part_body = r.get("body").filter(|b| !b.is_null()).cloned();
            if part_body.is_some() && part_headers.get("Content-Type").is_none() {
                return bad(&format!(
                    "Write request id : {id}, Content-Type header must be specified for a request with a body."
                ));
            }
            parsed.push(BatchPart {
                id,
                method: method.to_ascii_uppercase(),
                url: url.to_string(),
                deps,
                headers: part_headers,
                body: part_body,
            });
        }
        let mut statuses: BTreeMap<String, u16> = BTreeMap::new();
        let mut responses: Vec<(usize, Value)> = Vec::new();
        let mut done = vec![false; parsed.len()];
        // Run parts whose dependencies have finished, in request order, until none remain.
        while done.iter().any(|d| !d) {
            let mut progressed = false;
            for (i, p) in parsed.iter().enumerate() {
                let BatchPart {
                    id,
                    method,
                    url,
                    deps,
                    headers: part_headers,
                    body: part_body,
                } = p;
                if done[i] || !deps.iter().all(|d| statuses.contains_key(d)) {
                    continue;
                }
                progressed = true;
                done[i] = true;
                let (path, query) = match url.split_once('?') {
                    Some((p, q)) => (p, q),
                    None => (url.as_str(), ""),
                };
                let path = format!("/{}", path.trim_start_matches('/'));
                let route = format!("{method} /v1.0{}", route_template(&path));
                let part = if deps
                    .iter()
                    .any(|d| statuses.get(d).is_some_and(|s| *s >= 400))
                {
                    self.render_error(
                        &GraphError::new(424, "FailedDependency", "The request could not be processed because a request it depends on failed."),
                        ids,
                    )
                } else if path.starts_with("/v1.0/")
                    || path.starts_with("/beta/")
                    || url.starts_with("http")
                {
                    self.render_error(&GraphError::bad_request("Batch request URLs must be relative to the version root, e.g. '/applications'."), ids)
                } else if path == "/$batch" {
                    self.render_error(
                        &GraphError::bad_request("Nested batch requests are not supported."),
                        ids,
                    )
                } else {
                    let bytes = part_body
                        .as_ref()
                        .map(|b| serde_json::to_vec(b).expect("JSON serialises"))
                        .unwrap_or_default();
                    self.graph_one(
                        method,
                        &path,
                        &Params::parse(query),
                        part_headers,
                        &bytes,
                        caller,
                        ids,
                    )
                };
                self.count(&route, &part.status.to_string());
                statuses.insert(id.clone(), part.status);
                let mut h = Map::new();
                h.insert("Cache-Control".into(), json!("no-cache"));
                for (k, v) in &part.headers {
                    h.insert(k.clone(), json!(v));
                }
                let mut entry = Map::new();
                entry.insert("id".into(), json!(id));
                entry.insert("status".into(), json!(part.status));
                if part.body.is_some() {
                    h.insert("Content-Type".into(), json!(GRAPH_CONTENT_TYPE));
                    h.insert("OData-Version".into(), json!("4.0"));
                }
                entry.insert("headers".into(), Value::Object(h));
                if let Some(b) = part.body {
                    entry.insert("body".into(), b);
                } else if let Some(t) = part.text {
                    entry.insert("body".into(), json!(t));
                }
                responses.push((i, Value::Object(entry)));
            }
            if !progressed {
                return bad("The dependsOn graph of the batch has a cycle.");
            }
        }
        responses.sort_by_key(|(i, _)| *i);
        Part {
            status: 200,
            headers: Vec::new(),
            body: Some(
                json!({ "responses": responses.into_iter().map(|(_, v)| v).collect::<Vec<_>>() }),
            ),
            text: None,
        }
    }
}

struct Ids {
    request: String,
    client: String,
}

/// One request of a `$batch`, validated.
struct BatchPart {
    id: String,
    method: String,
    url: String,
    deps: Vec<String>,
    headers: Headers,
    body: Option<Value>,
}

/// A 5xx the way Graph (and Microsoft's own fault injectors) send it.
fn service_error(code: u16) -> GraphError {
    let (c, m) = match code {
        502 => (
            "BadGateway",
            "The server, while acting as a gateway or proxy, received an invalid response from the upstream server it accessed in attempting to fulfill the request.",
        ),
        503 => (
            "serviceNotAvailable",
            "The service is temporarily unavailable for maintenance or is overloaded. You may repeat the request after a delay, which may be specified in a Retry-After header.",
        ),
        504 => (
            "GatewayTimeout",
            "The server, while acting as a proxy, did not receive a timely response from the upstream server it accessed in attempting to complete the request.",
        ),
        507 => (
            "quotaLimitReached",
            "The user has reached their quota limit.",
        ),
        _ => ("generalException", "An unspecified error has occurred."),
    };
    let mut e = GraphError::new(code, c, m);
    if code == 503 {
        e.headers.push(("Retry-After".into(), "2".into()));
    }
    e
}

const STATIC_SEGMENTS: &[&str] = &[
    "applications",
    "servicePrincipals",
    "addKey",
    "removeKey",
    "addPassword",
    "removePassword",
    "federatedIdentityCredentials",
    "owners",
    "ownedObjects",
    "$ref",
    "appRoleAssignedTo",
    "appRoleAssignments",
    "oauth2PermissionGrants",
    "roleManagement",
    "directory",
    "roleDefinitions",
    "roleAssignments",
    "users",
    "$count",
    "$batch",
    "organization",
    "directoryObjects",
    "deletedItems",
    "microsoft.graph.application",
    "microsoft.graph.servicePrincipal",
    "restore",
];

/// `/applications/3f…/owners` → `/applications/{id}/owners`; keys keep their name.
pub(crate) fn route_template(path: &str) -> String {
    let mut out = String::new();
    for seg in path.trim_matches('/').split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        let seg = super::odata::decode_component(seg, false);
        if let Some(open) = seg.find('(') {
            let name = &seg[..open];
            let key = seg[open + 1..]
                .split('=')
                .next()
                .unwrap_or("key")
                .trim_end_matches(')');
            if STATIC_SEGMENTS.contains(&name) {
                out.push_str(&format!("{name}({key}={{{key}}})"));
            } else {
                out.push_str(&format!("({key}={{{key}}})"));
            }
        } else if STATIC_SEGMENTS.contains(&seg.as_str()) {
            out.push_str(&seg);
        } else {
            out.push_str("{id}");
        }
    }
    if out.is_empty() { "/".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::route_template;

    #[test]
    fn routes_are_counted_by_template() {
        assert_eq!(route_template("/applications"), "/applications");
        assert_eq!(
            route_template("/applications/0b8f2a4e-1111-2222-3333-444455556666/owners/$ref"),
            "/applications/{id}/owners/$ref"
        );
        assert_eq!(
            route_template("/applications(uniqueName='x')"),
            "/applications(uniqueName={uniqueName})"
        );
        assert_eq!(
            route_template("/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')"),
            "/servicePrincipals(appId={appId})"
        );
    }
}
