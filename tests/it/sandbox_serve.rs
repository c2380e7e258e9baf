//! Running the sandbox: `sandbox serve` output and signals, `sandbox reset`, HTTPS with the
//! generated CA, loopback-only listening, and state that survives a restart.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use entraform::sandbox::{self, SandboxConfig, SandboxError};
use serde_json::{Value, json};

use crate::common::{entraform, stderr};
use crate::sandbox_util::*;

#[test]
fn serve_prints_one_json_line_and_saves_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let mut child = entraform()
        .args(["sandbox", "serve", "--json", "--tls", "--state"])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    for key in [
        "graph_url",
        "authority_url",
        "tenant_id",
        "tenant_domain",
        "client_id",
        "client_secret",
        "state",
        "ca_certificate",
    ] {
        assert!(info[key].is_string(), "{key} missing in {line}");
    }
    assert!(
        info["graph_url"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    assert!(
        info["tenant_domain"]
            .as_str()
            .unwrap()
            .ends_with(".onmicrosoft.com")
    );
    assert!(std::path::Path::new(info["ca_certificate"].as_str().unwrap()).exists());
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(doc["tenant"]["id"], info["tenant_id"]);
    assert!(
        !err.contains(info["client_secret"].as_str().unwrap()),
        "the secret stays off stderr"
    );
}

#[tokio::test]
async fn reset_deletes_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let sb = sandbox::start(SandboxConfig::new().state_path(&state))
        .await
        .unwrap();
    sb.shutdown().await.unwrap();
    let out = entraform()
        .args(["sandbox", "reset", "--sandbox-state"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!state.exists());
    assert!(
        !dir.path().join("s.journal").exists(),
        "its journal goes too"
    );
}

/// The journal beside the state is ours only when it reads as one: a file of the user's there
/// is neither replaced by a start nor deleted by a reset.
#[tokio::test]
async fn a_file_where_the_journal_goes_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let journal = dir.path().join("s.journal");
    std::fs::write(&journal, "my notes\n").unwrap();
    let err = sandbox::start(SandboxConfig::new().state_path(&state))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("s.journal"), "{err}");
    assert!(!state.exists());

    std::fs::remove_file(&journal).unwrap();
    let sb = sandbox::start(SandboxConfig::new().state_path(&state))
        .await
        .unwrap();
    sb.shutdown().await.unwrap();
    std::fs::write(&journal, "my notes\n").unwrap();
    let out = entraform()
        .args(["sandbox", "reset", "--sandbox-state"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!state.exists());
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), "my notes\n");
}

#[tokio::test]
async fn https_works_with_the_generated_ca() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox::start(
        SandboxConfig::new()
            .state_path(dir.path().join("s.json"))
            .tls(true),
    )
    .await
    .unwrap();
    let ca = reqwest::Certificate::from_pem(sb.ca_certificate_pem().unwrap().as_bytes()).unwrap();
    assert_eq!(
        std::fs::read_to_string(sb.ca_certificate_path().unwrap()).unwrap(),
        sb.ca_certificate_pem().unwrap()
    );
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let tok = token_by_secret(
        &http,
        &sb.token_url(),
        &sb.bootstrap_client_id(),
        sb.bootstrap_client_secret().expose(),
        GRAPH,
    )
    .await;
    assert_eq!(tok.status, 200, "{}", tok.text);
    let r = http
        .get(format!(
            "{}/v1.0/servicePrincipals(appId='{EXCHANGE_APP_ID}')",
            sb.graph_url()
        ))
        .bearer_auth(tok.body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Without the CA, a standard client refuses the server.
    assert!(
        reqwest::Client::new()
            .get(sb.graph_url())
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn only_loopback_unless_allowed_and_over_https() {
    let err = sandbox::start(SandboxConfig::new().listen("0.0.0.0:0"))
        .await
        .unwrap_err();
    assert!(matches!(err, SandboxError::NonLoopback { .. }), "{err}");
    // Allowed, but plain HTTP: still refused.
    let mut plain = SandboxConfig::new().listen("0.0.0.0:0");
    plain.allow_non_loopback = true;
    let err = sandbox::start(plain).await.unwrap_err();
    assert!(matches!(err, SandboxError::NonLoopback { .. }), "{err}");
    let mut explicit = SandboxConfig::new().listen("0.0.0.0:0").tls(true);
    explicit.allow_non_loopback = true;
    let sb = sandbox::start(explicit).await.unwrap();
    // The URL names this machine and the port it listens on, not 127.0.0.1 or port 0.
    let url = sb.graph_url();
    assert!(!url.contains("127.0.0.1") && !url.ends_with(":0"), "{url}");
    assert!(
        url.ends_with(&format!(":{}", sb.local_addr().port())),
        "{url}"
    );
    sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_tenant_and_its_objects_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let t = start_with(SandboxConfig::new().state_path(&state)).await;
    let app = t
        .post("/applications", json!({"displayName": "persisted"}))
        .await
        .body;
    let (tenant, client) = (t.sb.tenant_id(), t.sb.bootstrap_client_id());
    t.sb.shutdown().await.unwrap();
    let again = start_with(SandboxConfig::new().state_path(&state)).await;
    assert_eq!(
        (again.sb.tenant_id(), again.sb.bootstrap_client_id()),
        (tenant, client)
    );
    let got = again
        .get(&format!("/applications/{}", app["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        format!("{:?}", again.sb.bootstrap_client_secret()),
        "<redacted>"
    );
}

#[tokio::test]
async fn an_unknown_state_version_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    std::fs::write(&state, r#"{"format_version": 99}"#).unwrap();
    let err = sandbox::start(SandboxConfig::new().state_path(&state))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("format version 99"), "{err}");
    assert!(
        entraform::hint::Hint::hint(&err)
            .unwrap()
            .contains("sandbox reset")
    );
}

// --- one process per state file (13.2) --------------------------------------------------------

/// Two `--sandbox apply` runs on one state file, from two folders, started together: both
/// apps exist afterwards (before the lock, the later save dropped the other run's app while
/// both said "Apply complete!").
#[cfg(unix)]
#[test]
fn two_sandbox_runs_on_one_state_take_turns_and_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("shared.json");
    let folders: Vec<std::path::PathBuf> = ["one", "two"]
        .iter()
        .map(|name| {
            let dir = tmp.path().join(name);
            std::fs::create_dir_all(dir.join("manifests")).unwrap();
            std::fs::write(
                dir.join("manifests/app.yaml"),
                format!(
                    "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: turn-{name}\nspec:\n  displayName: turn {name}\n  tags: [a, b]\n"
                ),
            )
            .unwrap();
            dir
        })
        .collect();
    let run = |dir: &std::path::Path, args: &[&str]| {
        let mut cmd = entraform();
        cmd.current_dir(dir)
            .args(["--sandbox", "--sandbox-state"])
            .arg(&state)
            .args(args);
        crate::hostile::run_limited(&format!("{args:?} in {}", dir.display()), &mut cmd)
    };
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let handles: Vec<_> = folders
            .iter()
            .map(|dir| s.spawn(|| run(dir, &["apply", "--auto-approve", "manifests"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        assert!(out.status.success(), "{}", stderr(out));
    }
    for dir in &folders {
        let plan = run(dir, &["plan", "--detailed-exitcode", "manifests"]);
        assert_eq!(
            plan.status.code(),
            Some(0),
            "the other run's app is gone:\n{}",
            String::from_utf8_lossy(&plan.stdout)
        );
    }
}

#[cfg(unix)]
#[test]
fn a_served_state_is_used_over_http_not_opened_a_second_time() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("served.json");
    let served = crate::apply_support::Served::start(&state, &[]);
    let url = served.field("graph_url").to_owned();
    // Something to plan, so the run gets as far as opening the sandbox.
    std::fs::create_dir(tmp.path().join("manifests")).unwrap();
    std::fs::write(
        tmp.path().join("manifests/exo.yaml"),
        crate::apply_support::exchange_manifest("locked-exo", "LOCKED_PFX_PASSWORD"),
    )
    .unwrap();

    let out = entraform()
        .current_dir(tmp.path())
        .args(["--sandbox", "--sandbox-state"])
        .arg(&state)
        .args(["plan", "manifests"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("a sandbox server is running on this state")
            && err.contains(&format!("use --graph-url {url}")),
        "{err}"
    );
    assert!(err.contains("pid "), "who holds it: {err}");

    // Neither a second server nor a reset touches it while it runs.
    for args in [
        &["sandbox", "serve", "--state"][..],
        &["sandbox", "reset", "--state"][..],
    ] {
        let out = crate::hostile::run_limited(
            &format!("{args:?} while served"),
            entraform().args(args).arg(&state),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("sandbox"), "{err}");
    }
    assert!(state.exists());
    drop(served);
}

// --- `serve` and `reset` flags (13.13) ----------------------------------------------------------

#[cfg(unix)]
#[test]
fn nonsense_fault_values_are_refused_by_the_command_line() {
    for (flag, value, expected) in [
        ("--throttle", "0", "0 is not in 1.."),
        ("--fail-rate", "1.5", "`1.5` is not between 0 and 1"),
        ("--fail-rate", "NaN", "`NaN` is not between 0 and 1"),
        ("--fail-rate", "-0.1", "is not between 0 and 1"),
        ("--latency-ms", "86400000", "is not in 0..=60000"),
        ("--replication-delay-ms", "99999999", "is not in 0..=600000"),
    ] {
        // Accepted, the server would serve until stopped: a time limit turns that into a failure.
        let out = crate::hostile::run_limited(
            &format!("serve {flag}={value}"),
            entraform().args(["sandbox", "serve", &format!("{flag}={value}")]),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{flag} {value}: {err}");
        assert!(err.contains(expected), "{flag} {value}: {err}");
    }
}

#[cfg(unix)]
#[test]
fn listening_beyond_loopback_needs_tls_and_allow_remote_and_prints_the_real_url() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("s.json");
    for extra in [&[][..], &["--tls"][..], &["--allow-remote"][..]] {
        let out = crate::hostile::run_limited(
            &format!("serve --listen 0.0.0.0:0 {extra:?}"),
            entraform()
                .args(["sandbox", "serve", "--listen", "0.0.0.0:0", "--state"])
                .arg(&state)
                .args(extra),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains("--tls --allow-remote"), "{err}");
    }
    let (mut child, info) = crate::common::spawn_served_sandbox(
        &state,
        &["--listen", "0.0.0.0:0", "--tls", "--allow-remote"],
    );
    let _ = child.kill();
    let _ = child.wait();
    let url = info["graph_url"].as_str().unwrap();
    let listen = info["listen"].as_str().unwrap();
    let port = listen.rsplit_once(':').unwrap().1;
    assert!(listen.starts_with("0.0.0.0:") && port != "0", "{listen}");
    assert!(
        url.starts_with("https://") && url.ends_with(&format!(":{port}")),
        "{url}"
    );
    assert!(!url.contains("127.0.0.1"), "{url}");
}

#[cfg(unix)]
#[test]
fn the_sandbox_folder_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("manifests")).unwrap();
    std::fs::write(
        tmp.path().join("manifests/app.yaml"),
        "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: private\nspec:\n  displayName: private\n",
    )
    .unwrap();
    let out = std::process::Command::new("sh")
        .current_dir(tmp.path())
        .args(["-c", "umask 000 && exec \"$0\" --sandbox plan manifests"])
        .arg(env!("CARGO_BIN_EXE_entraform"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = std::fs::metadata(tmp.path().join(".entraform"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
}

// --- `sandbox reset` and the files the old tenant's keys live in (18.6) ------------------------

fn applied_exchange_workspace() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    std::fs::write(
        dir.join("manifests/exo.yaml"),
        crate::apply_support::exchange_manifest("reset-exo", "RESET_PFX_PASSWORD"),
    )
    .unwrap();
    // Beside them, files entraform did not write, one of them with a name like its own.
    std::fs::create_dir_all(dir.join("manifests/secrets")).unwrap();
    std::fs::write(dir.join("manifests/secrets/notes.txt"), "mine").unwrap();
    std::fs::write(
        dir.join("manifests/secrets/reset-exo.20250101T000000Z.pfx"),
        "not a pfx",
    )
    .unwrap();
    apply_in(dir);
    tmp
}

/// `--sandbox apply --auto-approve manifests` in `dir`, which must succeed.
fn apply_in(dir: &std::path::Path) {
    let out = entraform()
        .current_dir(dir)
        .env("RESET_PFX_PASSWORD", "pw-reset")
        .args(["--sandbox", "apply", "--auto-approve", "manifests"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn reset_lists_the_old_tenants_certificate_files_and_without_a_terminal_keeps_them() {
    let tmp = applied_exchange_workspace();
    let dir = tmp.path();
    let out = entraform()
        .current_dir(dir)
        .args(["sandbox", "reset"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("hold keys of the deleted tenant"), "{err}");
    let listed: Vec<&str> = err.lines().filter_map(|l| l.strip_prefix("  ")).collect();
    assert_eq!(
        listed,
        [
            "manifests/secrets/reset-exo.cer",
            "manifests/secrets/reset-exo.pfx"
        ],
        "{err}"
    );
    assert!(err.contains("nothing was removed"), "{err}");
    for file in [
        "reset-exo.pfx",
        "reset-exo.cer",
        "notes.txt",
        "reset-exo.20250101T000000Z.pfx",
    ] {
        assert!(dir.join("manifests/secrets").join(file).exists(), "{file}");
    }
}

#[cfg(unix)]
#[test]
fn reset_at_a_terminal_removes_the_listed_files_only_when_told_yes() {
    let tmp = applied_exchange_workspace();
    let dir = tmp.path();
    let bin = env!("CARGO_BIN_EXE_entraform");
    // `script` gives the command a terminal; the answer is typed into it.
    let reset = |answer: &str| {
        let mut child = std::process::Command::new("script")
            .current_dir(dir)
            .args(["-qec", &format!("{bin} sandbox reset"), "/dev/null"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = reset("n\n");
    assert!(shown.contains("Remove these 2 files? [y/N]"), "{shown}");
    assert!(dir.join("manifests/secrets/reset-exo.pfx").exists());

    // The tenant is gone now; a new one gets the keys again, then `yes` removes them.
    apply_in(dir);
    let shown = reset("y\n");
    assert!(shown.contains("Removed 2 files."), "{shown}");
    let secrets = dir.join("manifests/secrets");
    assert!(!secrets.join("reset-exo.pfx").exists(), "{shown}");
    assert!(!secrets.join("reset-exo.cer").exists(), "{shown}");
    // Not written by entraform, or not a key of the deleted tenant: left alone.
    assert!(secrets.join("notes.txt").exists());
    assert!(secrets.join("reset-exo.20250101T000000Z.pfx").exists());
}
