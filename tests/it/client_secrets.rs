//! Issue 16: client secrets added behind entraform's back, end to end against a served
//! sandbox. Absent from the manifest they are a note in `plan` (never drift for
//! `--detailed-exitcode`) and a row in `certs` (exit 2 inside the window); with
//! `clientSecrets: []` apply removes them. A secret added after `plan --out` makes the plan
//! stale. The secret's value appears in no output.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::apply_support::{Raw, Served};
use crate::common::{stderr, stdout};

fn manifest(client_secrets: &str) -> String {
    format!(
        "apiVersion: entraform/v1
kind: Application
metadata:
  name: secret-app
spec:
  displayName: Secret App
{client_secrets}"
    )
}

fn run(served: &Served, dir: &Path, args: &[&str]) -> Output {
    let out = served
        .entraform()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    eprintln!(
        "$ entraform {}\n{}{}",
        args.join(" "),
        stdout(&out),
        stderr(&out)
    );
    out
}

/// `addPassword` as someone with the portal would: the secret's text.
async fn add_secret(raw: &Raw, name: &str, days: i64) -> String {
    let apps = raw
        .list("/applications?$filter=uniqueName eq 'secret-app'&$select=id")
        .await;
    let id = apps[0]["id"].as_str().unwrap();
    let end = time::OffsetDateTime::now_utc() + time::Duration::days(days);
    let end = end
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, body) = raw
        .write(
            reqwest::Method::POST,
            &format!("/applications/{id}/addPassword"),
            Some(&json!({"passwordCredential": {"displayName": name, "endDateTime": end}})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["secretText"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_secret_added_behind_entraforms_back_is_noted_listed_and_removed_when_declared() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let served = Served::start(&dir.join("tenant.json"), &[]);
    std::fs::write(dir.join("app.yaml"), manifest("")).unwrap();
    let applied = run(&served, dir, &["apply", "--auto-approve", "app.yaml"]);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));

    let raw = served.raw().await;
    let secret = add_secret(&raw, "backdoor", 5).await;
    // Graph returns `secretText` only from addPassword; a read shows `null`.
    let apps = raw
        .list("/applications?$filter=uniqueName eq 'secret-app'&$select=passwordCredentials")
        .await;
    assert_eq!(apps[0]["passwordCredentials"][0]["secretText"], Value::Null);

    let plan = run(&served, dir, &["plan", "--detailed-exitcode", "app.yaml"]);
    assert_eq!(plan.status.code(), Some(0), "a note is not drift");
    let text = stdout(&plan);
    assert!(text.contains("client secret `backdoor` (hint `"), "{text}");
    assert!(text.contains("`clientSecrets: []`"), "{text}");

    let certs = run(&served, dir, &["certs", "app.yaml"]);
    assert_eq!(
        certs.status.code(),
        Some(2),
        "5 days left is inside the window"
    );
    assert!(
        stdout(&certs).contains("backdoor (client secret)"),
        "{}",
        stdout(&certs)
    );
    let json = run(&served, dir, &["certs", "--format", "json", "app.yaml"]);
    let doc: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(doc["certificates"][0]["kind"], "client_secret", "{doc}");

    // Declared empty: the plan removes it; a second secret added after `plan --out` makes that
    // plan stale.
    std::fs::write(dir.join("app.yaml"), manifest("  clientSecrets: []\n")).unwrap();
    let saved = run(&served, dir, &["plan", "--out", "tfplan.json", "app.yaml"]);
    assert_eq!(saved.status.code(), Some(0), "{}", stderr(&saved));
    assert!(
        stdout(&saved).contains("client_secret.secret-app["),
        "{}",
        stdout(&saved)
    );
    let second = add_secret(&raw, "second", 300).await;
    let refused = run(&served, dir, &["apply", "tfplan.json"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).starts_with("error: the plan is stale: application.secret-app changed"),
        "{}",
        stderr(&refused)
    );

    let removed = run(&served, dir, &["apply", "--auto-approve", "app.yaml"]);
    assert_eq!(removed.status.code(), Some(0), "{}", stderr(&removed));
    let after = raw
        .list("/applications?$filter=uniqueName eq 'secret-app'&$select=passwordCredentials")
        .await;
    assert_eq!(
        after[0]["passwordCredentials"],
        json!([]),
        "both secrets are gone"
    );
    let clean = run(&served, dir, &["plan", "--detailed-exitcode", "app.yaml"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    let certs = run(&served, dir, &["certs", "app.yaml"]);
    assert_eq!(certs.status.code(), Some(0), "{}", stderr(&certs));

    for out in [&plan, &certs, &json, &saved, &refused, &removed, &clean] {
        for value in [&secret, &second] {
            assert!(!stdout(out).contains(value.as_str()) && !stderr(out).contains(value.as_str()));
        }
    }
}
