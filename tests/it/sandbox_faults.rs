//! Injected faults, each shown with the real error body: replication delay (404s and
//! NoBackingApplicationObject), throttling (429 with Retry-After and the throttle headers, batch
//! parts one by one), random 5xx and dropped connections (including a write that is applied but
//! whose response is lost), latency; and the request statistics.

use std::time::Duration;

use tokio::time::Instant;

use entraform::sandbox::{Faults, SandboxConfig};
use serde_json::{Value, json};

use crate::sandbox_util::*;

fn faults(f: Faults) -> SandboxConfig {
    SandboxConfig::new().faults(f)
}

/// Retries a read until it answers `want` (the sandbox's delay is the fault under test).
async fn eventually(t: &Tenant, path: &str, want: u16) -> Resp {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = t.get(path).await;
        if r.status == want || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_object_is_invisible_until_it_replicates() {
    let t = start_with(faults(Faults {
        replication_delay_ms: 1500,
        ..Faults::default()
    }))
    .await;
    let created = t
        .post(
            "/applications",
            json!({"displayName": "fresh", "uniqueName": "fresh-1"}),
        )
        .await;
    assert_eq!(
        created.status, 201,
        "the write's own response reflects the write"
    );
    let id = created.body["id"].as_str().unwrap().to_string();
    let app_id = created.body["appId"].as_str().unwrap().to_string();

    let get = t.get(&format!("/applications/{id}")).await;
    assert_eq!(get.status, 404);
    assert_eq!(get.body["error"]["code"], "Request_ResourceNotFound");
    let list = t.get("/applications?$filter=uniqueName eq 'fresh-1'").await;
    assert_eq!(list.body["value"], json!([]));
    assert_eq!(
        t.patch(&format!("/applications/{id}"), json!({"notes": "x"}))
            .await
            .status,
        404
    );

    let sp = t.post("/servicePrincipals", json!({"appId": app_id})).await;
    assert_eq!(sp.status, 400);
    assert_eq!(sp.body["error"]["code"], "Request_BadRequest");
    assert_eq!(
        sp.body["error"]["message"],
        format!(
            "The appId '{app_id}' of the service principal does not reference a valid application object."
        )
    );
    assert_eq!(
        sp.body["error"]["details"][0]["code"],
        "NoBackingApplicationObject"
    );

    // Creating it again by its alternate key collides, as right after a real create.
    let upsert = t
        .send(
            "PATCH",
            "/applications(uniqueName='fresh-1')",
            Some(json!({"displayName": "fresh"})),
            &[("Prefer", "create-if-missing")],
        )
        .await;
    assert_eq!(upsert.status, 400, "{}", upsert.text);
    assert_eq!(upsert.body["error"]["code"], "Request_BadRequest");
    assert_eq!(upsert.body["error"]["details"][0]["code"], "ObjectConflict");

    assert_eq!(
        eventually(&t, &format!("/applications/{id}"), 200)
            .await
            .status,
        200
    );
    assert_eq!(
        t.post("/servicePrincipals", json!({"appId": app_id}))
            .await
            .status,
        201
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_answers_429_with_retry_after_and_throttle_headers() {
    let t = start_with(faults(Faults {
        throttle: Some(10),
        ..Faults::default()
    }))
    .await;
    // GET /applications costs 2 units: five fit in a budget of 10.
    for _ in 0..5 {
        let r = t.get("/applications").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("x-ms-resource-unit"), Some("2"));
    }
    let r = t.get("/applications").await;
    assert_eq!(r.status, 429, "{}", r.text);
    let retry: u64 = r
        .header("Retry-After")
        .unwrap()
        .parse()
        .expect("whole seconds");
    assert!(retry >= 1);
    assert!(
        r.header("x-ms-throttle-scope")
            .unwrap()
            .starts_with("Tenant_Application/Read/")
    );
    assert_eq!(
        r.header("x-ms-throttle-information"),
        Some("ResourceUnitLimitExceeded")
    );
    assert_shape(&example("error-throttled-429.response.json"), &r.body, &[]);
    assert_eq!(r.body["error"]["code"], "TooManyRequests");
    assert_eq!(t.sb.stats().with_status("429"), 1);
}

#[tokio::test(start_paused = true)]
async fn batch_parts_are_throttled_one_by_one() {
    let t = start_with(faults(Faults {
        throttle: Some(5),
        ..Faults::default()
    }))
    .await;
    let parts: Vec<Value> = (0..8)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users?$select=id"}))
        .collect();
    let r = t.post("/$batch", json!({"requests": parts})).await;
    assert_eq!(r.status, 200, "the outer batch succeeds: {}", r.text);
    let statuses: Vec<u64> = r.body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_u64().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
    let throttled = r.body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["status"] == 429)
        .unwrap();
    assert!(
        throttled["headers"]["Retry-After"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert_shape(
        &example("error-throttled-429.response.json"),
        &throttled["body"],
        &[],
    );
    assert_eq!(t.sb.stats().count("GET /v1.0/users"), 8);
}

#[tokio::test(start_paused = true)]
async fn failures_have_graphs_bodies_and_a_lost_write_response_hides_a_real_write() {
    let t = start_with(
        faults(Faults {
            fail_rate: 0.5,
            ..Faults::default()
        })
        .seed(42),
    )
    .await;
    let mut statuses = Vec::new();
    let mut lost_but_applied = 0;
    let mut lost_and_not_applied = 0;
    for i in 0..60 {
        let unique = format!("attempt-{i}");
        let sent = t
            .http
            .post(t.url("/applications"))
            .bearer_auth(&t.token)
            .json(&json!({"displayName": unique, "uniqueName": unique}))
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                if status >= 500 {
                    assert!([500, 502, 503, 504, 507].contains(&status), "{status}");
                    assert!(
                        body["error"]["code"].is_string()
                            && body["error"]["innerError"]["request-id"].is_string(),
                        "{body}"
                    );
                }
                statuses.push(status);
            }
            Err(_) => {
                // The connection dropped: was the write applied? Ask until an answer arrives.
                let mut answer = None;
                for _ in 0..50 {
                    let r = t
                        .http
                        .get(t.url(&format!("/applications?$filter=uniqueName eq '{unique}'")))
                        .bearer_auth(&t.token)
                        .send()
                        .await;
                    if let Ok(r) = r
                        && r.status() == 200
                    {
                        answer = Some(r.json::<Value>().await.unwrap());
                        break;
                    }
                }
                let found = answer.expect("a read eventually succeeds")["value"]
                    .as_array()
                    .unwrap()
                    .len();
                if found == 1 {
                    lost_but_applied += 1;
                } else {
                    lost_and_not_applied += 1;
                }
            }
        }
    }
    assert!(statuses.contains(&201), "{statuses:?}");
    assert!(statuses.iter().any(|s| *s >= 500), "{statuses:?}");
    assert!(
        lost_but_applied > 0,
        "a write that is applied but whose response is lost"
    );
    assert!(
        lost_and_not_applied > 0,
        "a connection dropped before the write"
    );
    assert!(t.sb.stats().with_status("dropped") > 0);
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_injects_the_same_faults() {
    let run = |seed| async move {
        let t = start_with(
            faults(Faults {
                fail_rate: 0.3,
                ..Faults::default()
            })
            .seed(seed),
        )
        .await;
        let mut out = Vec::new();
        for _ in 0..30 {
            let r = t
                .http
                .get(t.url("/users"))
                .bearer_auth(&t.token)
                .send()
                .await;
            out.push(r.map(|r| r.status().as_u16()).unwrap_or(0));
        }
        out
    };
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    assert!(a.iter().any(|s| *s != 200) && a.contains(&200), "{a:?}");
}

#[tokio::test(start_paused = true)]
async fn latency_delays_every_request() {
    let t = start_with(faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    }))
    .await;
    let started = Instant::now();
    assert_eq!(t.get("/users").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test(start_paused = true)]
async fn stats_count_every_request_by_route_and_status() {
    let t = start().await;
    let app = t
        .post("/applications", json!({"displayName": "counted"}))
        .await
        .body;
    t.get(&format!("/applications/{}", app["id"].as_str().unwrap()))
        .await;
    t.get(&format!("/applications/{}", uuid::Uuid::new_v4()))
        .await;
    let over_http: Value = t
        .http
        .get(format!("{}/_sandbox/stats", t.sb.graph_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        over_http["routes"]["GET /v1.0/applications/{id}"],
        json!({"200": 1, "404": 1})
    );
    assert_eq!(
        over_http["routes"]["POST /v1.0/applications"],
        json!({"201": 1})
    );
    assert_eq!(
        over_http["routes"]["POST /{tenant}/oauth2/v2.0/token"],
        json!({"200": 1})
    );
    let stats = t.sb.stats();
    assert_eq!(stats.count("GET /v1.0/applications/{id}"), 2);
    assert_eq!(stats.with_status("404"), 1);
}

#[tokio::test]
async fn stats_time_every_request_and_every_batch_part() {
    let t = start().await;
    t.get("/applications").await;
    let batch = t
        .post(
            "/$batch",
            json!({"requests": [
                {"id": "1", "method": "GET", "url": "/applications?$top=1"},
                {"id": "2", "method": "GET", "url": "/servicePrincipals?$top=1"},
            ]}),
        )
        .await;
    assert_eq!(batch.status, 200);
    let over_http: Value = t
        .http
        .get(format!("{}/_sandbox/stats", t.sb.graph_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let time = &over_http["server_time"];
    // The token request, the list and the batch; the stats request itself is timed after.
    assert_eq!(time["total"]["count"], 3, "{time}");
    assert_eq!(time["routes"]["POST /v1.0/$batch"]["count"], 1);
    assert_eq!(time["routes"]["GET /v1.0/applications"]["count"], 2);
    assert_eq!(time["routes"]["GET /v1.0/servicePrincipals"]["count"], 1);
    for (route, timing) in time["routes"].as_object().unwrap() {
        let (total, max) = (&timing["total_us"], &timing["max_us"]);
        assert!(
            total.as_u64().unwrap() >= max.as_u64().unwrap(),
            "{route}: {timing}"
        );
    }
    let batch_us = time["routes"]["POST /v1.0/$batch"]["total_us"]
        .as_u64()
        .unwrap();
    let parts_us = time["routes"]["GET /v1.0/servicePrincipals"]["total_us"]
        .as_u64()
        .unwrap();
    assert!(
        batch_us >= parts_us,
        "a batch takes at least as long as a part"
    );
    let stats = t.sb.stats();
    assert_eq!(stats.server_time.total.count, 4, "and the stats request");
}
