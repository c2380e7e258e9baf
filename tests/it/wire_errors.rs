//! The client against servers the sandbox does not imitate, played by a small real HTTP server:
//! Graph's error envelope in each shape it is known to take keeps its code and message, a token
//! endpoint that echoes the request gets no secret printed, and lists are asked for in the page
//! sizes Graph documents.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use entraform::graph::{Cloud, Credential, GraphClient, GraphEndpoints};
use serde_json::{Value, json};

use crate::common::{entraform, stderr};
use crate::graph_support::quick;

const TENANT: &str = "11111111-2222-3333-4444-555555555555";

/// A server that signs anyone in and answers every Graph GET with `graph_error` (400); its token
/// endpoint, when `echo` is set, refuses with the request body quoted back.
async fn odd_server(graph_error: Value, echo: bool) -> (String, tokio::task::JoinHandle<()>) {
    #[derive(Clone)]
    struct Odd {
        graph_error: Arc<Value>,
        echo: bool,
    }
    async fn token(State(odd): State<Odd>, body: String) -> (StatusCode, axum::Json<Value>) {
        if odd.echo {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({
                    "error": "invalid_request",
                    "error_description": format!("AADSTS90023: The request was: {body}\r\nTrace ID: t"),
                    "error_codes": [90023],
                })),
            );
        }
        (
            StatusCode::OK,
            axum::Json(
                json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "opaque"}),
            ),
        )
    }
    async fn graph(State(odd): State<Odd>) -> (StatusCode, axum::Json<Value>) {
        (
            StatusCode::BAD_REQUEST,
            axum::Json((*odd.graph_error).clone()),
        )
    }
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1.0/{*rest}", get(graph))
        .with_state(Odd {
            graph_error: Arc::new(graph_error),
            echo,
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, server)
}

fn client(url: &str) -> GraphClient {
    let endpoints = GraphEndpoints::new(Cloud::Public, Some(url), Some(url), Some(TENANT)).unwrap();
    GraphClient::new(
        endpoints,
        Credential::client_secret("app", "s3cret-value"),
        quick(),
    )
    .unwrap()
}

#[tokio::test]
async fn each_shape_of_graphs_error_envelope_keeps_its_code_and_message() {
    let shapes = [
        // The documented shape.
        json!({"error": {"code": "Request_BadRequest", "message": "Plain message.",
               "innerError": {"request-id": "r-1"}}}),
        // `message` as an object.
        json!({"error": {"code": "Request_BadRequest",
               "message": {"lang": "en", "value": "Plain message."},
               "innerError": {"request-id": "r-1"}}}),
        // `details` as one object rather than a list.
        json!({"error": {"code": "Request_BadRequest", "message": "Plain message.",
               "details": {"code": "InvalidValue", "target": "displayName"},
               "innerError": {"request-id": "r-1"}}}),
        // The older `odata.error` envelope.
        json!({"odata.error": {"code": "Request_BadRequest",
               "message": {"lang": "en", "value": "Plain message."},
               "innererror": {"request-id": "r-1"}}}),
    ];
    for shape in shapes {
        let (url, server) = odd_server(shape.clone(), false).await;
        let err = client(&url)
            .get::<Value>("/applications/00000000-0000-0000-0000-000000000001")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.code(), Some("Request_BadRequest"), "{shape}");
        assert!(
            text.contains("400 Request_BadRequest: Plain message."),
            "{shape}: {text}"
        );
        // The response header wins; without one the body's request id is kept.
        assert!(text.contains("request-id: r-1"), "{shape}: {text}");
        if shape["error"]["details"].is_object() {
            assert!(text.contains("[InvalidValue displayName]"), "{text}");
        }
        server.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_that_echoes_the_request_gets_no_secret_printed() {
    let (url, server) = odd_server(json!({}), true).await;
    let secret = "Qq8~echoed+secret/value%1";
    let run = {
        let url = url.clone();
        let secret = secret.to_owned();
        tokio::task::spawn_blocking(move || {
            entraform()
                .args(["--graph-url", &url, "--login-url", &url, "--tenant", TENANT])
                .env("AZURE_CLIENT_ID", "22222222-2222-2222-2222-222222222222")
                .env("AZURE_CLIENT_SECRET", &secret)
                .args(["export", "--all", "--out"])
                .arg(std::env::temp_dir().join("entraform-echo-never-written"))
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    server.abort();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("AADSTS90023"), "{err}");
    assert!(
        err.contains("client_secret=<redacted>"),
        "the field is named, its value is not: {err}"
    );
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    for spelling in [secret, encoded.as_str(), "echoed"] {
        assert!(!err.contains(spelling), "`{spelling}` printed: {err}");
    }
}

#[tokio::test]
async fn lists_that_expand_leave_graph_at_its_page_of_100() {
    use std::sync::Mutex;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let app = Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(|| async {
                axum::Json(
                    json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "opaque"}),
                )
            }),
        )
        .route(
            "/v1.0/{*rest}",
            get(move |uri: axum::http::Uri| {
                let record = record.clone();
                async move {
                    record.lock().unwrap().push(uri.to_string());
                    axum::Json(json!({"value": []}))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = client(&url);
    client
        .list_all::<Value>("/applications?$filter=id in ('1')&$expand=owners")
        .await
        .unwrap();
    client.list_all::<Value>("/applications").await.unwrap();
    server.abort();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "/v1.0/applications?$filter=id%20in%20(%271%27)&$expand=owners",
            "/v1.0/applications?$top=999",
        ]
    );
}

#[test]
fn a_certificate_from_an_untrusted_ca_names_the_ca_and_how_to_trust_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut served, info) =
        crate::common::spawn_served_sandbox(&dir.path().join("tenant.json"), &["--tls"]);
    let field = |k: &str| info[k].as_str().unwrap().to_owned();
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: bare\nspec:\n  displayName: Bare\n",
    )
    .unwrap();
    let plan = |extra: &[&str]| {
        entraform()
            .current_dir(dir.path())
            .args([
                "--graph-url",
                &field("graph_url"),
                "--login-url",
                &field("authority_url"),
            ])
            .args(["--tenant", &field("tenant_id")])
            .args(extra)
            .env("AZURE_CLIENT_ID", field("client_id"))
            .env("AZURE_CLIENT_SECRET", field("client_secret"))
            .args(["plan", "app.yaml"])
            .output()
            .unwrap()
    };
    let refused = plan(&[]);
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "the server's TLS certificate is not trusted: it is issued by `CN=entraform sandbox CA`"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "hint: if you trust that CA, pass its certificate (PEM) with `--ca-cert <file>`"
        ),
        "{err}"
    );
    // Refused once, not retried as if the network had failed.
    assert!(!err.contains("attempt"), "{err}");
    let trusted = plan(&["--ca-cert", &field("ca_certificate")]);
    assert_eq!(trusted.status.code(), Some(0), "{}", stderr(&trusted));
    let _ = served.kill();
    let _ = served.wait();
}
