//! Durability: 64 concurrent clients doing create/read/delete for 10 s leave a consistent state
//! file (every acknowledged create present exactly once unless deleted, no duplicates), and a
//! `kill -9` of `entraform sandbox serve` at any moment leaves a state file that loads.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use entraform::sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::sandbox_util::*;

const CLIENTS: usize = 64;
const RUN_FOR: Duration = Duration::from_secs(10);

/// Applications in a state file: object id → displayName.
fn apps_in(path: &std::path::Path) -> BTreeMap<String, String> {
    let doc: Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).expect("the state file is JSON");
    assert_eq!(doc["format_version"], 2);
    doc["applications"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, e)| {
            (
                id.clone(),
                e["object"]["displayName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_for_ten_seconds_leave_a_consistent_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let t = start_with(SandboxConfig::new().state_path(&state)).await;
    let before = apps_in(&state);
    let deadline = Instant::now() + RUN_FOR;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let http = reqwest::Client::new();
        let url = t.url("/applications");
        let token = t.token.clone();
        tasks.push(tokio::spawn(async move {
            let mut kept = Vec::new();
            let mut deleted = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let name = format!("c{client}-{n}");
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"displayName": name}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let id = r.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let got = http
                    .get(format!("{url}/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(got.status(), 200);
                if n % 2 == 0 {
                    let d = http
                        .delete(format!("{url}/{id}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(d.status(), 204);
                    deleted.push(id);
                } else {
                    kept.push((id, name));
                }
            }
            (kept, deleted)
        }));
    }
    let mut kept = BTreeMap::new();
    let mut deleted = BTreeSet::new();
    for task in tasks {
        let (k, d) = task.await.unwrap();
        kept.extend(k);
        deleted.extend(d);
    }
    let sb = t.sb;
    let requests = sb.stats().total;
    eprintln!(
        "{CLIENTS} clients, {RUN_FOR:?}: {requests} requests, {} objects kept, {} deleted",
        kept.len(),
        deleted.len()
    );
    sb.shutdown().await.unwrap();

    let after = apps_in(&state);
    let mut expected = before.clone();
    expected.extend(kept.clone());
    assert_eq!(
        after, expected,
        "exactly the acknowledged, undeleted creates"
    );
    assert!(deleted.iter().all(|id| !after.contains_key(id)));
    let names: BTreeSet<&String> = after.values().collect();
    assert_eq!(names.len(), after.len(), "no duplicated objects");
    assert!(
        kept.len() > CLIENTS,
        "the clients did work ({} kept, {requests} requests)",
        kept.len()
    );

    // The file loads into a new server, which serves the same set.
    let again = start_with(SandboxConfig::new().state_path(&state)).await;
    let mut url = again.url("/applications?$select=id&$top=999");
    let mut served = BTreeSet::new();
    loop {
        let page: Value = again
            .http
            .get(&url)
            .bearer_auth(&again.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        served.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(served, after.keys().cloned().collect());
}

fn serve(state: &std::path::Path, extra: &[&str]) -> (std::process::Child, Value) {
    crate::common::spawn_served_sandbox(state, extra)
}

async fn admin_token(http: &reqwest::Client, info: &Value) -> String {
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        info["authority_url"].as_str().unwrap(),
        info["tenant_id"].as_str().unwrap()
    );
    let r = token_by_secret(
        http,
        &url,
        info["client_id"].as_str().unwrap(),
        info["client_secret"].as_str().unwrap(),
        GRAPH,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_saving_never_corrupts_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let http = reqwest::Client::new();
    let mut tenant = None;
    let mut total_created = 0;
    // Kill at a different moment in each round: early, mid-burst, late.
    for round in 0..10u64 {
        let (mut child, info) = serve(&state, &[]);
        let tenant_id = info["tenant_id"].as_str().unwrap().to_string();
        // The same tenant survives every kill.
        assert_eq!(*tenant.get_or_insert_with(|| tenant_id.clone()), tenant_id);
        let token = admin_token(&http, &info).await;
        let graph = info["graph_url"].as_str().unwrap().to_string();
        let stop_at = Instant::now() + Duration::from_millis(40 + round * 45);
        let mut writers = Vec::new();
        for w in 0..4 {
            let (http, token, graph) = (http.clone(), token.clone(), graph.clone());
            writers.push(tokio::spawn(async move {
                let mut acked = 0;
                let mut n = 0;
                while Instant::now() < stop_at {
                    n += 1;
                    let r = http
                        .post(format!("{graph}/v1.0/applications"))
                        .bearer_auth(&token)
                        .json(&json!({"displayName": format!("r{round}-w{w}-{n}")}))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 201 => acked += 1,
                        _ => break,
                    }
                }
                acked
            }));
        }
        tokio::time::sleep(stop_at.saturating_duration_since(Instant::now())).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for w in writers {
            total_created += w.await.unwrap();
        }
        let apps = apps_in(&state);
        assert!(!apps.is_empty(), "round {round}: the state file loads");
    }
    assert!(total_created > 0);
    let leftovers = std::fs::read_dir(dir.path()).unwrap().filter(|e| {
        e.as_ref()
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")
    });
    assert!(
        leftovers.count() <= 1,
        "a start sweeps the temp files a killed saver left"
    );
    // A clean start on the survivor still works and serves.
    let (mut child, info) = serve(&state, &[]);
    let token = admin_token(&http, &info).await;
    let r = http
        .get(format!(
            "{}/v1.0/applications?$top=1",
            info["graph_url"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}
