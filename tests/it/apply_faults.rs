//! Apply under the sandbox's injected faults, the numbers: a 3-second replication
//! delay, 200 resource units per 10 seconds, one request in ten failing (5xx, or a connection
//! dropped before or after the write was applied). It converges with no duplicate, and every
//! request apply sent is in the sandbox's counts.

use std::collections::BTreeMap;

use entraform::sandbox::{Faults, SandboxConfig, Stats};

use crate::apply_support::*;

/// Graph requests (`/v1.0`) by status, over every route.
fn graph_requests(stats: &Stats) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (route, by_status) in &stats.routes {
        if route.contains(" /v1.0") {
            for (status, n) in by_status {
                *out.entry(status.clone()).or_default() += n;
            }
        }
    }
    out
}

fn total(by_status: &BTreeMap<String, u64>) -> u64 {
    by_status.values().sum()
}

#[tokio::test(start_paused = true)]
async fn with_replication_delay_throttling_and_failures_apply_converges_without_duplicates() {
    let t = start_with(
        SandboxConfig::new()
            .faults(Faults {
                replication_delay_ms: 3000,
                throttle: Some(200),
                fail_rate: 0.1,
                ..Faults::default()
            })
            .seed(11),
    )
    .await;
    let apps = ["exo-x".to_owned(), "exo-y".to_owned()];
    let manifests: Vec<_> = apps
        .iter()
        .map(|a| {
            write(
                t.dir.path(),
                &format!("{a}.yaml"),
                &exchange_manifest(a, PFX_ENV),
            )
        })
        .collect();

    let mut sent_by_apply = 0;
    let mut seen_by_sandbox = 0;
    let mut complete = false;
    // A run that a fault stops is finished by the next one, as a user would run apply again.
    for _ in 0..4 {
        let planned = plan(&t.client, &manifests).await;
        if !planned.plan.has_changes() {
            complete = true;
            break;
        }
        let (client_before, sandbox_before) = (t.client.stats(), graph_requests(&t.sb.stats()));
        let lines = std::sync::Mutex::new(Vec::new());
        let progress = |e: &entraform::apply::Event| {
            lines
                .lock()
                .unwrap()
                .push(entraform::apply::progress_line(e))
        };
        let report = entraform::apply::execute(
            &t.client,
            &planned.plan,
            &quick_execute(),
            &progress,
            &entraform::apply::StopSignal::new(),
        )
        .await;
        // The executor sends plain requests only (no $batch): each one, retries and dropped
        // connections included, is one count in the sandbox's stats.
        sent_by_apply += t.client.stats().http_requests - client_before.http_requests;
        seen_by_sandbox += total(&graph_requests(&t.sb.stats())) - total(&sandbox_before);
        if report.complete() {
            complete = true;
            break;
        }
        for e in &report.errors {
            eprintln!(
                "run stopped: {e}: {}",
                std::error::Error::source(e)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            );
        }
    }
    assert!(complete, "apply did not converge in four runs");
    assert_eq!(sent_by_apply, seen_by_sandbox);

    let clean = plan_until_clean(&t.client, &manifests, 20).await;
    assert!(
        !clean.plan.has_changes(),
        "{}",
        entraform::plan::render::text(&clean.plan, false)
    );

    // The faults really happened, and the client saw the same throttling the sandbox did.
    let stats = t.sb.stats();
    let by_status = graph_requests(&stats);
    let failed: u64 = ["500", "502", "503", "504", "507", "dropped"]
        .iter()
        .map(|s| by_status.get(*s).copied().unwrap_or(0))
        .sum();
    assert!(failed > 0, "{by_status:?}");
    assert_eq!(
        t.client.stats().throttled,
        stats.with_status("429"),
        "{by_status:?}"
    );
    assert!(
        by_status.get("404").copied().unwrap_or(0) + by_status.get("400").copied().unwrap_or(0) > 0,
        "replication was waited out: {by_status:?}"
    );

    let census = Raw::of(&t.sb).await.census(&apps).await;
    assert_exactly_one_of_everything(&census, &apps);
    t.sb.shutdown().await.unwrap();
}

/// The issue's own words: `apply --auto-approve manifests/exchange-online-app.yaml` against
/// `entraform sandbox serve --replication-delay-ms 3000 --throttle 200 --fail-rate 0.1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_against_a_faulty_served_sandbox_converges() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let manifest = "manifests/exchange-online-app.yaml";
    let text = std::fs::read_to_string(crate::common::repo_root().join(manifest)).unwrap();
    write(dir, manifest, &text);
    let served = Served::start(
        &dir.join("tenant.json"),
        &[
            "--replication-delay-ms",
            "3000",
            "--throttle",
            "200",
            "--fail-rate",
            "0.1",
            "--seed",
            "5",
        ],
    );
    let apply = || {
        served
            .entraform()
            .current_dir(dir)
            .env("EXO_PFX_PASSWORD", "pfx-password")
            .args(["apply", "--auto-approve", manifest])
            .output()
            .unwrap()
    };
    // A run a fault stops is finished by the next one.
    let finished = (0..3).any(|_| apply().status.success());
    assert!(finished, "apply did not finish in three runs");
    let mut code = None;
    for _ in 0..20 {
        let plan = served
            .entraform()
            .current_dir(dir)
            .args(["plan", "--detailed-exitcode", manifest])
            .output()
            .unwrap();
        code = plan.status.code();
        if code != Some(2) {
            break;
        }
        // Replication: the newest objects may not show for up to the sandbox's delay.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(code, Some(0));

    let raw = served.raw().await;
    let stats = raw.stats().await;
    let failed: u64 = ["500", "502", "503", "504", "507", "dropped"]
        .iter()
        .map(|s| stats.statuses.get(*s).copied().unwrap_or(0))
        .sum();
    assert!(failed > 0, "{:?}", stats.statuses);
    let apps = raw
        .list("/applications?$filter=uniqueName eq 'exo-v2-app'&$select=id,appId,keyCredentials")
        .await;
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["keyCredentials"].as_array().unwrap().len(), 1);
    let app_id = apps[0]["appId"].as_str().unwrap();
    let sps = raw
        .list(&format!(
            "/servicePrincipals?$filter=appId eq '{app_id}'&$select=id"
        ))
        .await;
    assert_eq!(sps.len(), 1);
    let sp = sps[0]["id"].as_str().unwrap();
    assert_eq!(
        raw.list(&format!("/servicePrincipals/{sp}/appRoleAssignments"))
            .await
            .len(),
        1
    );
    assert_eq!(
        raw.list(&format!(
            "/roleManagement/directory/roleAssignments?$filter=principalId eq '{sp}'"
        ))
        .await
        .len(),
        2
    );
}
