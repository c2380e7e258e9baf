//! Progress while reading the tenant, as a CI log shows it: stderr is not a terminal here, so
//! the line is written plainly (a start, one line every ten seconds, the end with totals), never
//! redrawn in place; nothing at all with `-q`. The sandbox adds latency so reading takes a
//! visible while; nothing here depends on how long it takes.

use std::process::Output;

use entraform::graph::ClientConfig;
use entraform::sandbox::{self, Faults, RunningSandbox, SandboxConfig};

use crate::common::{entraform, stderr, stdout};
use crate::scale;

const APPS: usize = 40;

async fn seeded() -> (RunningSandbox, tempfile::TempDir, std::path::PathBuf) {
    let sandbox = sandbox::start(SandboxConfig::new().faults(Faults {
        latency_ms: 20,
        ..Faults::default()
    }))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let seeder = scale::admin_client(&sandbox, ClientConfig::default());
    let manifest = scale::seed(&seeder, dir.path(), APPS).await;
    (sandbox, dir, manifest)
}

/// `entraform <args>` against the in-process sandbox, run off the runtime so it keeps serving.
async fn run(sandbox: &RunningSandbox, args: &[&str]) -> Output {
    let mut cmd = entraform();
    scale::signed_in_to(&mut cmd, sandbox).args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn assert_plain(err: &str) {
    assert!(
        !err.contains('\r') && !err.contains('\x1b'),
        "a log gets plain lines, not a line redrawn in place:\n{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_in_a_log_says_it_is_reading_and_what_it_read() {
    let (sandbox, _dir, manifest) = seeded().await;
    let manifest = manifest.to_str().unwrap();

    let out = run(&sandbox, &["plan", manifest]).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_plain(&err);
    let lines: Vec<&str> = err.lines().collect();
    let reading: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("Reading the tenant: "))
        .collect();
    // The first update is the start of the first stage; ten seconds pass between any others.
    assert_eq!(
        reading.first().copied(),
        Some(&"Reading the tenant: 0 of 40 apps (applications)"),
        "{err}"
    );
    let done = lines
        .iter()
        .find(|l| l.starts_with("Read the tenant: "))
        .unwrap_or_else(|| panic!("no closing line:\n{err}"));
    assert!(
        done.starts_with("Read the tenant: 40 apps in ") && done.contains(" HTTP requests, "),
        "{done}"
    );
    // Progress is status, never data: stdout is the plan alone.
    assert!(!stdout(&out).contains("Reading the tenant"));

    let quiet = run(&sandbox, &["-q", "plan", manifest]).await;
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert_eq!(stderr(&quiet), "", "-q prints no progress");
    assert_eq!(
        stdout(&quiet),
        stdout(&out),
        "the plan is the same either way"
    );
    sandbox.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_every_app_counts_them_against_the_tenant_total() {
    let (sandbox, _dir, _manifest) = seeded().await;
    let empty = tempfile::tempdir().unwrap();
    let empty = empty.path().to_str().unwrap();

    let out = run(&sandbox, &["certs", "--all", empty]).await;
    let err = stderr(&out);
    assert!(out.status.code().is_some_and(|c| c != 1), "{err}");
    assert_plain(&err);
    let first = err
        .lines()
        .find(|l| l.starts_with("Reading the tenant: "))
        .unwrap_or_else(|| panic!("no progress line:\n{err}"));
    // The total is `GET /applications/$count`'s, or the first page came back before it did.
    let total_known = first.contains(" of ");
    assert!(
        total_known || first.ends_with(" apps so far, total not known"),
        "{first}"
    );
    let done = err
        .lines()
        .find(|l| l.starts_with("Read the tenant: "))
        .unwrap_or_else(|| panic!("no closing line:\n{err}"));
    let read: usize = done["Read the tenant: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(read >= APPS, "{done}");
    if total_known {
        assert!(first.ends_with(&format!(" of {read} apps")), "{first}");
    }

    let quiet = run(&sandbox, &["-q", "certs", "--all", empty]).await;
    assert!(!stderr(&quiet).contains("Read"), "{}", stderr(&quiet));
    sandbox.shutdown().await.unwrap();
}
