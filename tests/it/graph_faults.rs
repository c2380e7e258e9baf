//! The client under the sandbox's injected faults: throttling, random 5xx and dropped
//! connections, latency, replication delay. Reads always complete; writes are repeated only
//! when a repeat is harmless.

use std::collections::HashSet;
use std::time::Duration;

use entraform::graph::types::Application;
use entraform::graph::{BatchRequest, ClientConfig, GraphError, RetrySafety, in_filters, quote};
use entraform::sandbox::{Faults, SandboxConfig};
use serde_json::json;

use crate::graph_support::*;

/// A tenant with `count` applications named `{prefix}-N`, saved to a state file so a second
/// sandbox can serve it with faults switched on.
async fn saved_tenant_with_apps(
    dir: &std::path::Path,
    prefix: &str,
    count: usize,
) -> HashSet<String> {
    let t = start_with(SandboxConfig::new().state_path(dir.join("tenant.json"))).await;
    let creates = (0..count)
        .map(|i| {
            BatchRequest::post(
                "/applications",
                json!({"displayName": format!("{prefix}-{i:03}")}),
                RetrySafety::NotIdempotent,
            )
        })
        .collect();
    let ids = t
        .admin
        .batch(creates)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.unwrap().json::<Application>().unwrap().app_id.to_string())
        .collect();
    t.sb.shutdown().await.unwrap();
    ids
}

#[tokio::test(start_paused = true)]
async fn with_throttling_and_a_fifth_of_requests_failing_500_applications_are_read_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let app_ids = saved_tenant_with_apps(dir.path(), "fault", 500).await;
    let faults = Faults {
        throttle: Some(30),
        fail_rate: 0.2,
        ..Faults::default()
    };
    let t = start_with(
        SandboxConfig::new()
            .state_path(dir.path().join("tenant.json"))
            .faults(faults)
            .seed(7),
    )
    .await;

    // Paged: five pages of 100, each retried through 5xx, drops and 429s.
    let listed: Vec<Application> = t
        .admin
        .list_all(
            "/applications?$filter=startswith(displayName,'fault-')&$select=id,appId&$top=100",
        )
        .await
        .unwrap();
    let seen: Vec<String> = listed.iter().map(|a| a.app_id.to_string()).collect();
    assert_eq!(seen.len(), 500);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), app_ids);

    // By id: 34 in-filters in two $batch calls, throttled part by part.
    let ids: Vec<String> = app_ids.iter().cloned().collect();
    let paths: Vec<String> = in_filters("appId", &ids)
        .into_iter()
        .map(|f| format!("/applications?$filter={f}&$select=id,appId"))
        .collect();
    let found: Vec<String> = t
        .admin
        .batch_list_all::<Application>(&paths, &[])
        .await
        .unwrap()
        .into_iter()
        .flat_map(|l| l.unwrap())
        .map(|a| a.app_id.to_string())
        .collect();
    assert_eq!(found.len(), 500);
    assert_eq!(found.into_iter().collect::<HashSet<_>>(), app_ids);

    let client = t.admin.stats();
    let server = t.sb.stats();
    assert!(client.retries > 0, "{client}");
    assert!(
        client.throttled > 0 && server.with_status("429") > 0,
        "{client}"
    );
    assert_eq!(
        client.throttled,
        server.with_status("429"),
        "{client} {server:?}"
    );
    let failed = ["500", "502", "503", "504", "507"]
        .iter()
        .map(|s| server.with_status(s))
        .sum::<u64>();
    assert!(failed > 0, "{server:?}");
}

#[tokio::test(start_paused = true)]
async fn throttled_requests_wait_for_retry_after_and_are_counted() {
    let faults = Faults {
        throttle: Some(6),
        ..Faults::default()
    };
    let t = start_with(SandboxConfig::new().faults(faults)).await;
    // Each unfiltered list costs 2 units: the fourth request of the burst is over the budget.
    for _ in 0..5 {
        t.admin
            .list_all::<Application>("/applications")
            .await
            .unwrap();
    }
    let stats = t.admin.stats();
    assert!(stats.throttled > 0, "{stats}");
    assert_eq!(stats.throttled, t.sb.stats().with_status("429"));
    assert_eq!(stats.http_requests, 5 + stats.retries);
}

#[tokio::test(start_paused = true)]
async fn a_create_that_failed_in_flight_is_not_sent_again_but_an_upsert_is() {
    let faults = Faults {
        fail_rate: 0.3,
        ..Faults::default()
    };
    let t = start_with(SandboxConfig::new().faults(faults).seed(11)).await;
    // Plain creates: a 5xx or a dropped connection may hide a create that happened, so none
    // is repeated.
    let mut failed = 0;
    for i in 0..20 {
        let outcome = t
            .admin
            .post(
                "/applications",
                &json!({"displayName": format!("create-{i}")}),
                RetrySafety::NotIdempotent,
            )
            .await;
        if let Err(e) = outcome {
            assert!(
                matches!(e, GraphError::Http(_) | GraphError::Transport { .. }),
                "{e:?}"
            );
            failed += 1;
        }
    }
    assert!(failed > 0, "the seed should make some creates fail");
    let stats = t.admin.stats();
    assert_eq!((stats.http_requests, stats.retries), (20, 0), "{stats}");

    // Upserts by uniqueName: repeated until they succeed, and still one app per name.
    let before = t.admin.stats();
    for i in 0..20 {
        t.admin
            .upsert(
                &format!("/applications(uniqueName='upsert-{i}')"),
                &json!({"displayName": format!("upsert-{i}")}),
            )
            .await
            .unwrap();
    }
    assert!(t.admin.stats().retries > before.retries);
    let names: Vec<Application> = t
        .admin
        .list_all(&format!(
            "/applications?$filter=startswith(uniqueName,{})&$select=id,appId,uniqueName",
            quote("upsert-")
        ))
        .await
        .unwrap();
    let unique: HashSet<_> = names.iter().map(|a| a.unique_name.clone()).collect();
    assert_eq!((names.len(), unique.len()), (20, 20));
}

#[tokio::test(start_paused = true)]
async fn latency_beyond_the_request_timeout_is_a_transport_error_after_the_retries() {
    let faults = Faults {
        latency_ms: 300,
        ..Faults::default()
    };
    let t = start_with(SandboxConfig::new().faults(faults)).await;
    let patient = admin_client(&t.sb, quick());
    patient
        .list_all::<Application>("/applications")
        .await
        .unwrap();

    let hasty = admin_client(
        &t.sb,
        ClientConfig {
            request_timeout: Duration::from_millis(50),
            retry: entraform::graph::RetryPolicy {
                max_attempts: 3,
                ..quick().retry
            },
            ..quick()
        },
    );
    let err = hasty.sign_in().await.unwrap_err();
    assert!(
        matches!(err, GraphError::Transport { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_just_created_object_may_be_missing_from_reads_and_the_error_says_so() {
    let faults = Faults {
        replication_delay_ms: 60_000,
        ..Faults::default()
    };
    let t = start_with(SandboxConfig::new().faults(faults)).await;
    let created: Application = t
        .admin
        .post(
            "/applications",
            &json!({"displayName": "lagging"}),
            RetrySafety::NotIdempotent,
        )
        .await
        .unwrap()
        .json()
        .unwrap();
    let err = t
        .admin
        .get::<Application>(&format!("/applications/{}", created.id))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.code(), Some("Request_ResourceNotFound"));
}
