//! The retry policy as a table: every status from 200 to 599 is answered once by a throwaway
//! server (1xx cannot be a final answer over HTTP; the pure table in `graph::retry` covers them),
//! and the statuses the client sent again are snapshotted per safety class.
//!
//! This is the one place a fake server stands in for the sandbox: the sandbox cannot be made
//! to answer an arbitrary status on demand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use entraform::graph::{
    ClientConfig, Cloud, Credential, GraphClient, GraphEndpoints, RetryPolicy, RetrySafety,
};

#[derive(Default)]
struct Hits {
    by_path: HashMap<String, u32>,
    tokens: u32,
}

type Shared = Arc<Mutex<Hits>>;

async fn token(State(hits): State<Shared>) -> Response {
    let n = {
        let mut h = hits.lock().unwrap();
        h.tokens += 1;
        h.tokens
    };
    axum::Json(serde_json::json!({
        "token_type": "Bearer", "expires_in": 3600, "access_token": format!("token-{n}")
    }))
    .into_response()
}

/// `/v1.0/{safety}/{status}`: the first request gets `status`, later ones 200; under
/// `/v1.0/always/…` every request gets `status`.
async fn status(
    State(hits): State<Shared>,
    Path((safety, code)): Path<(String, u16)>,
    _headers: HeaderMap,
) -> Response {
    let n = {
        let mut h = hits.lock().unwrap();
        let n = h.by_path.entry(format!("{safety}/{code}")).or_default();
        *n += 1;
        *n
    };
    if n == 1 || safety == "always" {
        let status = StatusCode::from_u16(code).unwrap();
        let mut response = status.into_response();
        if code == 429 || code == 503 {
            response
                .headers_mut()
                .insert("Retry-After", "0".parse().unwrap());
        }
        response
    } else {
        axum::Json(serde_json::json!({})).into_response()
    }
}

async fn serve() -> (String, Shared) {
    let hits: Shared = Arc::default();
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1.0/{safety}/{status}", any(status))
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}

fn client(base: &str) -> GraphClient {
    let endpoints = GraphEndpoints::new(Cloud::Public, Some(base), Some(base), Some("t")).unwrap();
    let config = ClientConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(10),
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        },
        ..ClientConfig::default()
    };
    GraphClient::new(endpoints, Credential::client_secret("c", "s"), config).unwrap()
}

#[tokio::test]
async fn each_status_is_retried_or_not_as_the_table_says() {
    let (base, hits) = serve().await;
    let client = client(&base);
    let mut table = String::new();
    for (name, safety) in [
        ("idempotent", RetrySafety::Idempotent),
        ("upsert", RetrySafety::Upsert),
        ("not-idempotent", RetrySafety::NotIdempotent),
    ] {
        for code in 200..=599u16 {
            let path = format!("/{name}/{code}");
            let _ = match safety {
                RetrySafety::Idempotent => client.get::<serde_json::Value>(&path).await.map(drop),
                _ => client
                    .patch(&path, &serde_json::json!({}), safety)
                    .await
                    .map(drop),
            };
        }
        let h = hits.lock().unwrap();
        let retried: Vec<String> = (200..=599u16)
            .filter(|code| {
                h.by_path
                    .get(&format!("{name}/{code}"))
                    .copied()
                    .unwrap_or(0)
                    > 1
            })
            .map(|c| c.to_string())
            .collect();
        table.push_str(&format!("{name}: {}\n", retried.join(",")));
    }
    insta::assert_snapshot!(table, @r"
    idempotent: 401,408,429,500,502,503,504,507
    upsert: 401,408,429,500,502,503,504,507
    not-idempotent: 401,408,429
    ");
    // Each 401 cost one new token; nothing else signed in again.
    assert_eq!(hits.lock().unwrap().tokens, 1 + 3);
}

#[tokio::test]
async fn a_transient_failure_costs_one_retry_and_is_counted() {
    let (base, hits) = serve().await;
    let client = client(&base);
    client
        .get::<serde_json::Value>("/idempotent/503")
        .await
        .unwrap();
    let stats = client.stats();
    assert_eq!((stats.http_requests, stats.retries), (2, 1));
    assert_eq!(hits.lock().unwrap().by_path["idempotent/503"], 2);
}

#[tokio::test]
async fn a_status_that_keeps_failing_is_given_up_after_the_attempt_bound() {
    let (base, hits) = serve().await;
    let client = client(&base);
    let err = client
        .get::<serde_json::Value>("/always/503")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.to_string().contains("(after 3 attempts)"), "{err}");
    assert_eq!(hits.lock().unwrap().by_path["always/503"], 3);
}

/// Graph's limits refill with time: a 429 is retried until the time budget runs out, however
/// many attempts that takes (issue 13: six attempts gave up after ~6 s under `--throttle 15`).
#[tokio::test]
async fn throttling_is_given_up_after_the_time_budget_not_an_attempt_count() {
    let (base, hits) = serve().await;
    let endpoints =
        GraphEndpoints::new(Cloud::Public, Some(&base), Some(&base), Some("t")).unwrap();
    let config = ClientConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            max_elapsed: Duration::from_millis(600),
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        },
        ..ClientConfig::default()
    };
    let client = GraphClient::new(endpoints, Credential::client_secret("c", "s"), config).unwrap();
    let err = client
        .get::<serde_json::Value>("/always/429")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    let sent = hits.lock().unwrap().by_path["always/429"];
    assert!(sent > 3, "only {sent} attempts");
    assert!(
        err.to_string()
            .contains(&format!("(after {sent} attempts)")),
        "{err}"
    );
    assert_eq!(client.stats().throttled, u64::from(sent));
}
