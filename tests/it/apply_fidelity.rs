//! Apply against a sandbox that answers as Entra ID does (issues 12 and 13): replication of
//! creates, updates and keys, throttling, conflicts. Each test shows the client coping.

use std::time::Instant;

use entraform::apply::ExecuteOptions;
use entraform::graph::ClientConfig;
use entraform::sandbox::{Faults, SandboxConfig};

use crate::apply_support::*;

/// Issue 13: under `--throttle 15` the client gave up after ~6 s (six attempts, all requests
/// back in the same millisecond). With a time budget, jitter and a shared hold, apply converges
/// on its first run with the default retry policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_converges_under_heavy_throttling() {
    let sb = entraform::sandbox::start(SandboxConfig::new().faults(Faults {
        throttle: Some(15),
        ..Faults::default()
    }))
    .await
    .unwrap();
    let client = admin_client(&sb, ClientConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let manifests: Vec<_> = (1..=3)
        .map(|i| {
            let name = format!("throttled-{i}");
            write(
                dir.path(),
                &format!("{name}.yaml"),
                &exchange_manifest(&name, PFX_ENV),
            )
        })
        .collect();
    let started = Instant::now();
    let (planned, report, _) =
        plan_and_execute(&client, &manifests, &ExecuteOptions::default()).await;
    assert!(planned.plan.has_changes());
    for e in &report.errors {
        eprintln!(
            "{e}: {:?}",
            std::error::Error::source(e).map(ToString::to_string)
        );
    }
    assert!(report.complete(), "{:?}", outcome_names(&report));
    let stats = sb.stats();
    assert!(stats.with_status("429") > 0, "{stats:?}");
    eprintln!(
        "converged in {:?} with {} requests, {} throttled",
        started.elapsed(),
        client.stats().http_requests,
        stats.with_status("429")
    );
}
