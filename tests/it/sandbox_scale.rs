//! The sandbox at scale: what a no-change plan of many apps costs the server. Measurements
//! (run by hand, `#[ignore]`d: they report times, which a test must not assert).

use std::time::Instant;

use entraform::graph::ClientConfig;
use entraform::sandbox::{self, SandboxConfig, Stats};

use crate::scale;

/// Server time between two stats, by route: (requests, total ms, max ms).
fn server_time(before: &Stats, after: &Stats) -> Vec<(String, u64, f64, f64)> {
    after
        .server_time
        .routes
        .iter()
        .map(|(route, t)| {
            let b = before
                .server_time
                .routes
                .get(route)
                .copied()
                .unwrap_or_default();
            (
                route.clone(),
                t.count - b.count,
                (t.total_us - b.total_us) as f64 / 1000.0,
                t.max_us as f64 / 1000.0,
            )
        })
        .filter(|(_, n, _, _)| *n > 0)
        .collect()
}

/// `cargo test --release --test it measure_a_no_change_plan -- --ignored --nocapture`
/// (`ENTRAFORM_SCALE_APPS` sets the size, 1,000 by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand"]
async fn measure_a_no_change_plan_at_zero_latency() {
    let apps: usize = std::env::var("ENTRAFORM_SCALE_APPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let sandbox = sandbox::start(SandboxConfig::new()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let seeder = scale::admin_client(&sandbox, ClientConfig::default());
    let seeding = Instant::now();
    let manifest = scale::seed(&seeder, dir.path(), apps).await;
    eprintln!("seeded {apps} apps in {:.2?}", seeding.elapsed());
    for round in 1..=3 {
        let client = scale::admin_client(&sandbox, ClientConfig::default());
        client.sign_in().await.unwrap();
        let before = sandbox.stats();
        let started = Instant::now();
        let planned = scale::plan(&client, &manifest).await;
        let wall = started.elapsed();
        let after = sandbox.stats();
        assert!(!planned.plan.has_changes());
        let total = &after.server_time.total;
        let b = &before.server_time.total;
        eprintln!(
            "round {round}: {apps} apps, wall {:.3}s, {} HTTP requests, server time {:.3}s (max {:.1} ms)",
            wall.as_secs_f64(),
            total.count - b.count,
            (total.total_us - b.total_us) as f64 / 1e6,
            total.max_us as f64 / 1000.0,
        );
        if round == 3 {
            for (route, n, ms, max) in server_time(&before, &after) {
                eprintln!("  {route}: {n} ×, {ms:.1} ms, max {max:.1} ms");
            }
        }
    }
    sandbox.shutdown().await.unwrap();
}

/// Bytes written to the state's files by an apply that creates `ENTRAFORM_SCALE_APPS` apps
/// (1,000 and 10,000 for the issue), through `$batch` upserts as an apply sends them.
/// `cargo test --test it measure_bytes_written -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand"]
async fn measure_bytes_written_by_creating_apps() {
    let apps: usize = std::env::var("ENTRAFORM_SCALE_APPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let t = crate::sandbox_util::start_with(SandboxConfig::new().state_path(&state)).await;
    let before = t.sb.stats().state_bytes_written;
    let names: Vec<String> = (0..apps).map(|i| format!("bytes-{i:05}")).collect();
    let started = Instant::now();
    let graph = t.sb.graph_url();
    let halves: Vec<Vec<String>> = names
        .chunks(apps.div_ceil(2))
        .map(<[String]>::to_vec)
        .collect();
    let writers: Vec<_> = halves
        .into_iter()
        .map(|part| {
            let (http, graph, token) = (t.http.clone(), graph.clone(), t.token.clone());
            tokio::spawn(async move {
                crate::sandbox_durability::upsert_apps(&http, &graph, &token, &part).await
            })
        })
        .collect();
    let mut acked = 0;
    for w in writers {
        acked += w.await.unwrap().len();
    }
    let elapsed = started.elapsed();
    let written = t.sb.stats().state_bytes_written - before;
    t.sb.shutdown().await.unwrap();
    let snapshot = std::fs::metadata(&state).unwrap().len();
    eprintln!(
        "{acked} apps created in {elapsed:.1?}: {written} bytes written ({:.0} per app), final snapshot {snapshot} bytes",
        written as f64 / acked as f64
    );
    assert_eq!(acked, apps);
}
