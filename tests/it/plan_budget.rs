//! The request budget of a plan: reads are batched and filtered so that a no-change plan over
//! 1,000 managed apps stays within 150 HTTP requests and 1,500 Graph operations (batch parts
//! counted one by one), under Graph's real query limits (the sandbox enforces them).

use entraform::graph::ClientConfig;
use entraform::sandbox::{self, SandboxConfig};

use crate::scale;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_change_plan_over_1000_apps_stays_within_the_request_budget() {
    let sandbox = sandbox::start(SandboxConfig::new()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let seeder = scale::admin_client(&sandbox, ClientConfig::default());
    let manifest = scale::seed(&seeder, dir.path(), 1000).await;

    let client = scale::admin_client(&sandbox, ClientConfig::default());
    let planned = scale::plan(&client, &manifest).await;
    let stats = client.stats();

    assert!(
        !planned.plan.has_changes(),
        "the seeded tenant matches its manifests, yet the plan has changes:\n{}",
        entraform::plan::render::text(&planned.plan, false)
    );
    assert_eq!(planned.live.apps.len(), 1000);
    assert!(
        stats.http_requests <= 150,
        "{} HTTP requests for 1,000 apps (budget 150)",
        stats.http_requests
    );
    assert!(
        stats.operations <= 1500,
        "{} Graph operations for 1,000 apps (budget 1,500)",
        stats.operations
    );
    eprintln!(
        "plan over 1,000 apps: {} HTTP requests, {} Graph operations",
        stats.http_requests, stats.operations
    );
    sandbox.shutdown().await.unwrap();
}
