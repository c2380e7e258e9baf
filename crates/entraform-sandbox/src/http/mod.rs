//! The server: routing a request to the token endpoint or Graph, request ids, the fault
//! pipeline, and Graph's response headers. By concern: [`serve`] (binding, TLS, the accept loop
//! on hyper so a fault can drop a connection mid-request, the background saver), [`auth`]
//! (bearer tokens, trusted issuers), [`throttle`], [`batch`] (`$batch`), [`stats`].

mod auth;
mod batch;
mod serve;
mod stats;
mod throttle;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::Value;
use tokio::sync::watch;

use super::clock::Time;
use super::errors::{GraphError, TokenError};
use super::faults::{Failure, FaultState, Faults, service_error};
use super::graph::{self, Call, Caller, Headers, Reply};
use super::jwt::Signer;
use super::odata::Params;
use super::replica::{Replica, View};
use super::state::{Document, Store};
use super::{Stats, error_date, new_guid, token};
use stats::route_template;

pub(crate) use serve::start;

const GRAPH_CONTENT_TYPE: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

pub(crate) struct Server {
    pub base_url: String,
    pub(crate) time: Time,
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
            None => View::Primary(self.store.read()),
        }
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
        let started = std::time::Instant::now();
        let (route, outcome) = self
            .route(&method, &path, &query, &headers, &body, &ids)
            .await;
        self.time(&route, started.elapsed(), true);
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
    ) -> (String, Outcome) {
        if let Some((route, reply)) =
            super::keyvault::handle(self, method, path, query, headers, body)
        {
            self.count(&route, &reply.status.to_string());
            return (route, Outcome::Answer(keyvault_answer(reply)));
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
                let tenant = self.store.read().tenant.id.clone();
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
                        &e.body(&ids.request, &ids.client, &error_date(self.time.now_ms())),
                        vec![],
                    ),
                )
            }
        };
        self.count(&route, &answer.status.to_string());
        (route, Outcome::Answer(answer))
    }

    fn discovery(&self, tenant: &str, ids: &Ids, body: impl Fn(&Server, &str) -> Value) -> Answer {
        let tenant_id = {
            let doc = self.store.read();
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
        let ts = super::iso(self.time.now_ms()).replace('T', " ");
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
    ) -> (String, Outcome) {
        let route = format!("{method} /v1.0{}", route_template(path));
        let outcome = self
            .graph_outcome(&route, method, path, query, headers, body, ids)
            .await;
        (route, outcome)
    }

    #[allow(clippy::too_many_arguments)]
    async fn graph_outcome(
        &self,
        route: &str,
        method: &str,
        path: &str,
        query: &str,
        headers: &Headers,
        body: &Bytes,
        ids: &Ids,
    ) -> Outcome {
        let write = method != "GET";
        let failure = self.fault_state.failure(self.faults.fail_rate, write);
        if failure == Some(Failure::DropBefore) {
            self.count(route, "dropped");
            return Outcome::Drop;
        }
        if let Some(Failure::Status(code)) = failure {
            let part = self.render_error(&service_error(code), ids);
            self.count(route, &code.to_string());
            return Outcome::Answer(Self::graph_answer(part, true));
        }
        let caller = match self.authenticate(headers) {
            Ok(c) => c,
            Err(e) => {
                let part = self.render_error(&e, ids);
                self.count(route, &part.status.to_string());
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
            self.count(route, "dropped");
            return Outcome::Drop;
        }
        self.count(route, &part.status.to_string());
        Outcome::Answer(Self::graph_answer(part, true))
    }

    fn render_error(&self, e: &GraphError, ids: &Ids) -> Part {
        Part {
            status: e.status,
            headers: e.headers.clone(),
            body: Some(e.body(&ids.request, &ids.client, &error_date(self.time.now_ms()))),
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
        let now = self.time.now_ms();
        match self.throttle(method, path, params, caller, now) {
            Ok(extra) => {
                self.graph_admitted(method, path, params, headers, body, caller, ids, now, extra)
            }
            Err(throttled) => self.render_error(&throttled, ids),
        }
    }

    /// [`Server::graph_one`] past throttling: the resource handler under the state's lock.
    #[allow(clippy::too_many_arguments)]
    fn graph_admitted(
        &self,
        method: &str,
        path: &str,
        params: &Params,
        headers: &Headers,
        body: &[u8],
        caller: &Caller,
        ids: &Ids,
        now: i64,
        extra: Vec<(String, String)>,
    ) -> Part {
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
        // writes by the primary, recorded for the replica. Most reads share the document with
        // other readers; the rest, and writes, take it alone.
        let snapshot = (method == "GET")
            .then(|| self.replica.snapshot(now))
            .flatten();
        let result = match snapshot {
            Some(snapshot) => graph::dispatch_read(&snapshot, &call)
                .unwrap_or_else(|| graph::dispatch(&mut Document::clone(&snapshot), &call)),
            None => {
                let shared = graph::dispatch_read(&self.store.read(), &call);
                match shared {
                    Some(result) => result,
                    None => {
                        let mut doc = self.store.lock();
                        let result = graph::dispatch(&mut doc, &call);
                        if method != "GET" && result.is_ok() {
                            self.replica.record(&doc, now);
                        }
                        result
                    }
                }
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
}

struct Ids {
    request: String,
    client: String,
}
