//! `kill -9` of entraform at twenty-odd different moments of an apply, against a sandbox served
//! by its own process (so the tenant outlives every kill), then apply to the end: the tenant
//! converges, and nothing is duplicated or orphaned. Every PFX on disk at a manifest's path
//! holds the key the tenant has; earlier, never-attached PFX files are kept aside, not lost.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use entraform::cert::{self, PfxPassword};

use crate::apply_support::*;

const KILLS: usize = 20;
const PASSWORD_ENV: &str = "KILL_TEST_PFX_PASSWORD";
const PASSWORD: &str = "kill-test-password";

/// Runs `apply --auto-approve` on the folder and kills it with SIGKILL once it has printed
/// `after_lines` progress lines (a line as each action starts and ends), then waits `delay`. Returns
/// whether the kill landed on a running process.
fn apply_and_kill(served: &Served, dir: &Path, after_lines: usize, delay: Duration) -> bool {
    let mut child = served
        .entraform()
        .current_dir(dir)
        .env(PASSWORD_ENV, PASSWORD)
        .args(["apply", "--auto-approve", "manifests"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for _line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < after_lines {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(()) => seen += 1,
            Err(_) => break,
        }
    }
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    eprintln!("kill after {seen} lines + {delay:?}: running={running}");
    // `Child::kill` is SIGKILL on Unix: no handler runs, nothing is flushed or cleaned up.
    let _ = child.kill();
    let _ = child.wait();
    drop(rx);
    let _ = reader.join();
    running
}

#[test]
fn killed_at_twenty_moments_apply_still_converges_without_duplicates_or_orphans() {
    let tmp = tempfile::tempdir().unwrap();
    // A little latency per request, so kills land between a request and its answer too.
    let served = Served::start(&tmp.path().join("tenant.json"), &["--latency-ms", "10"]);
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("manifests")).unwrap();

    let mut names = Vec::new();
    let mut kills = 0;
    let mut attempt = 0;
    // Each round adds an app, so every run has fresh work besides what the last kill left.
    while kills < KILLS {
        assert!(
            attempt < 3 * KILLS,
            "only {kills} kills landed in {attempt} runs"
        );
        let name = format!("kill-{attempt:02}");
        write(
            &work,
            &format!("manifests/{name}.yaml"),
            &exchange_manifest(&name, PASSWORD_ENV),
        );
        names.push(name);
        // Moments: before any progress (sign-in, reading the tenant), and after 1, 2, ... lines,
        // each with a different small delay.
        let after_lines = attempt % 12;
        let delay = Duration::from_millis(((attempt * 37) % 60) as u64);
        if apply_and_kill(&served, &work, after_lines, delay) {
            kills += 1;
        }
        attempt += 1;
    }

    // Apply to the end, as a user would after the crashes.
    let mut finished = false;
    for _ in 0..3 {
        let out = served
            .entraform()
            .current_dir(&work)
            .env(PASSWORD_ENV, PASSWORD)
            .args(["apply", "--auto-approve", "manifests"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        if out.status.success() {
            finished = true;
            break;
        }
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(finished, "apply did not finish after the kills");
    let plan = served
        .entraform()
        .current_dir(&work)
        .args(["plan", "--detailed-exitcode", "manifests"])
        .output()
        .unwrap();
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let census = runtime.block_on(async { served.raw().await.census(&names).await });
    assert_exactly_one_of_everything(&census, &names);
    // No application without its uniqueName (an orphan of an interrupted create) either.
    let all = runtime.block_on(async {
        served
            .raw()
            .await
            .list("/applications?$select=displayName,uniqueName&$top=999")
            .await
    });
    let ours = all
        .iter()
        .filter(|a| {
            a["displayName"]
                .as_str()
                .is_some_and(|d| d.starts_with("kill-"))
        })
        .count();
    assert_eq!(ours, names.len(), "{all:#?}");

    // The PFX at each manifest's path holds the certificate the tenant has.
    let password = PfxPassword::new(PASSWORD).unwrap();
    for name in &names {
        let pfx = work.join(format!("manifests/secrets/{name}.pfx"));
        let loaded = cert::load_client_certificate(&pfx, Some(&password))
            .unwrap_or_else(|e| panic!("{}: {e}", pfx.display()));
        assert_eq!(
            census.thumbprints[name],
            vec![loaded.certificate().thumbprint().to_hex()],
            "{name}"
        );
    }
    eprintln!("{kills} kills in {attempt} runs");
}
