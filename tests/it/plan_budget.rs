//! The request budget of a plan: reads are batched and filtered so that a no-change plan over
//! 10,000 managed apps stays within 700 HTTP requests, under Graph's real query limits (the
//! sandbox enforces them). Seeding 10,000 apps takes minutes, so CI checks 1,000 against the
//! budget scaled down (70 requests); `cargo bench --bench plan_scale` measures 10,000.

use entraform::graph::ClientConfig;
use entraform::observe::{self, ObserveRequest};
use entraform::sandbox::{self, SandboxConfig};

use crate::scale;

/// HTTP requests per 1,000 apps: 700 at 10,000 (issue 17), the same share at any size.
const REQUESTS_PER_1000_APPS: u64 = 70;
/// Resource units per 1,000 apps, as Graph's `x-ms-resource-unit` answers count them: about
/// 1,340 (three per `uniqueName in (…)` list with `$expand`, one per service principal, role
/// assignment and `$select`ed grant list); the identity budget is 3,500 per 10 s in a small
/// tenant.
const RESOURCE_UNITS_PER_1000_APPS: u64 = 1400;

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
        stats.http_requests <= REQUESTS_PER_1000_APPS,
        "{} HTTP requests for 1,000 apps (budget {REQUESTS_PER_1000_APPS})",
        stats.http_requests
    );
    assert!(
        stats.operations <= 1300,
        "{} Graph operations for 1,000 apps (budget 1,300)",
        stats.operations
    );
    // Every operation costs at least one unit: a count below that is not counting.
    assert!(
        stats.resource_units >= stats.operations,
        "{stats}: fewer resource units than operations"
    );
    assert!(
        stats.resource_units <= RESOURCE_UNITS_PER_1000_APPS,
        "{} resource units for 1,000 apps (budget {RESOURCE_UNITS_PER_1000_APPS})",
        stats.resource_units
    );
    eprintln!("plan over 1,000 apps: {stats}");
    sandbox.shutdown().await.unwrap();
}

/// Without `--prune` a plan also names every managed app, for its note about those no manifest
/// mentions: one more list in the first round's `$batch`, so one more Graph operation (a page
/// holds 999 apps) and no more HTTP requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_every_managed_app_costs_one_graph_operation() {
    let sandbox = sandbox::start(SandboxConfig::new()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let seeder = scale::admin_client(&sandbox, ClientConfig::default());
    let manifest = scale::seed(&seeder, dir.path(), 3).await;
    let desired = entraform::manifest::load(&[manifest], false).unwrap().apps;

    let with_names = ObserveRequest::for_manifests(&desired, false);
    assert!(with_names.managed_names);
    let without = ObserveRequest {
        managed_names: false,
        ..with_names.clone()
    };
    let mut used = Vec::new();
    for request in [&without, &with_names] {
        let client = scale::admin_client(&sandbox, ClientConfig::default());
        let live = observe::observe(&client, request).await.unwrap();
        used.push((client.stats(), live.managed.len()));
    }
    let [(before, none), (after, named)] = used.try_into().unwrap();
    assert_eq!((none, named), (0, 3));
    assert_eq!(
        after.operations - before.operations,
        1,
        "{before:?} → {after:?}"
    );
    assert_eq!(
        after.http_requests, before.http_requests,
        "{before:?} → {after:?}"
    );
    sandbox.shutdown().await.unwrap();
}
