//! Plan at scale against a sandbox with 20 ms of latency per request: HTTP requests, Graph
//! operations and wall time for 1, 100 and 1,000 managed apps, next to a per-resource baseline
//! (one GET per object, 10 apps in parallel) doing the same reads.
//!
//! Run: `cargo bench --bench plan_scale` (or `-- 1 100` for other sizes).

#[path = "../tests/support/scale.rs"]
mod scale;

use std::time::Instant;

use entraform::graph::ClientConfig;
use entraform::sandbox::{self, Faults, SandboxConfig};

const LATENCY_MS: u64 = 20;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1, 100, 1000]
    } else {
        sizes
    };
    println!(
        "{:>6} | {:>13} {:>10} {:>9} | {:>13} {:>9} | {:>13} {:>10}",
        "apps",
        "entraform req",
        "graph ops",
        "wall",
        "baseline req",
        "wall",
        "request ratio",
        "time ratio"
    );
    for apps in sizes {
        let sandbox = sandbox::start(SandboxConfig::new().faults(Faults {
            latency_ms: LATENCY_MS,
            ..Faults::default()
        }))
        .await
        .expect("sandbox");
        let dir = tempfile::tempdir().expect("temp dir");
        let seeder = scale::admin_client(&sandbox, ClientConfig::default());
        let manifest = scale::seed(&seeder, dir.path(), apps).await;

        let client = scale::admin_client(&sandbox, ClientConfig::default());
        client.sign_in().await.expect("sign-in");
        let start = Instant::now();
        let planned = scale::plan(&client, &manifest).await;
        let wall = start.elapsed();
        assert!(
            !planned.plan.has_changes(),
            "the seeded tenant should match"
        );
        let stats = client.stats();

        let baseline_client = scale::admin_client(
            &sandbox,
            ClientConfig {
                max_concurrency: 10,
                ..ClientConfig::default()
            },
        );
        baseline_client.sign_in().await.expect("sign-in");
        let names: Vec<String> = (0..apps).map(scale::app_name).collect();
        let (baseline_requests, baseline_wall) =
            scale::per_object_reads(&baseline_client, &names).await;

        println!(
            "{:>6} | {:>13} {:>10} {:>8.2}s | {:>13} {:>8.2}s | {:>12.1}x {:>9.1}x",
            apps,
            stats.http_requests,
            stats.operations,
            wall.as_secs_f64(),
            baseline_requests,
            baseline_wall.as_secs_f64(),
            baseline_requests as f64 / stats.http_requests as f64,
            baseline_wall.as_secs_f64() / wall.as_secs_f64(),
        );
        sandbox.shutdown().await.expect("shutdown");
    }
}
