//! The hostile-input corpus: what a pull request, a shared runner or a compromised tenant can
//! put in front of entraform. Devices, FIFOs, links that dangle or loop, huge files, terminal
//! escapes in tenant values, edited plan files, answers larger than any Graph response.
//!
//! Every case runs the real binary under a time limit: a case that hangs (a FIFO opened for
//! reading waits forever for a writer) is killed and fails, it never holds up CI.

#![cfg(unix)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{entraform, sandboxed, stderr, stdout};

/// Generous for a loaded two-core machine; a hang is forever, so any bound catches it.
const LIMIT: Duration = Duration::from_secs(90);

/// Runs `cmd` to the end, or kills it at [`LIMIT`] and fails the case.
pub fn run_limited(case: &str, cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("case `{case}` was still running after {LIMIT:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

fn symlink(target: impl AsRef<Path>, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// Things that are not regular files, made inside `dir` so that a regression can only ever
/// replace or delete these, never a device of the machine: a FIFO, a link to `/dev/null`, and
/// (where the tests may create device nodes, as root) a character device like `/dev/null`.
fn not_regular_files(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut out = vec![
        (dir.join("a-fifo"), "it is a FIFO (named pipe)"),
        (dir.join("null-link"), "it is a symbolic link"),
    ];
    mkfifo(&out[0].0);
    symlink("/dev/null", &out[1].0);
    let device = dir.join("a-device");
    let made = Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        out.push((device, "it is a character device"));
    }
    out
}

/// A manifest for an app with nothing but a name, and whatever `extra` adds under `spec`.
fn manifest(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  displayName: {name}\n{extra}"
    )
}

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// `entraform --sandbox --sandbox-state <dir>/sandbox.json` in `dir`.
/// A command must fail (exit 1), quickly, with every `expected` text in its stderr.
fn refused(case: &str, cmd: &mut Command, expected: &[&str]) -> Output {
    let out = run_limited(case, cmd);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "case `{case}`:\n{err}");
    for text in expected {
        assert!(err.contains(text), "case `{case}`: no `{text}` in:\n{err}");
    }
    out
}

// --- files that are not what they claim to be (13.6) -------------------------------------------

/// `certificates[].file` naming something that is not a certificate file: a device that never
/// ends, a FIFO that never opens, a sparse 3 GiB file, a link to a device.
#[test]
fn certificate_files_that_are_devices_fifos_or_huge_are_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    mkfifo(&dir.join("fifo.cer"));
    let huge = std::fs::File::create(dir.join("huge.cer")).unwrap();
    huge.set_len(3 << 30).unwrap();
    symlink("/dev/zero", &dir.join("zero.cer"));
    // Paths in a manifest are relative to its folder, `manifests/`.
    let cases = [
        ("/dev/zero", "a character device, not a regular file"),
        ("../fifo.cer", "a FIFO (named pipe), not a regular file"),
        ("../huge.cer", "a certificate file is limited to 1 MiB"),
        ("../zero.cer", "a character device, not a regular file"),
    ];
    for (file, expected) in cases {
        let extra = format!("  certificates:\n    - name: brought\n      file: {file}\n");
        write(dir, "manifests/app.yaml", &manifest("hostile-file", &extra));
        refused(
            &format!("file: {file}"),
            sandboxed(dir).args(["plan", "manifests"]),
            &[expected],
        );
    }
}

#[test]
fn a_sandbox_state_that_is_a_fifo_or_a_device_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "manifests/app.yaml", &manifest("hostile-state", ""));
    mkfifo(&dir.join("state.fifo"));
    symlink("/dev/zero", &dir.join("state.zero"));
    for (state, expected) in [
        ("state.fifo", "a FIFO (named pipe), not a regular file"),
        ("state.zero", "a character device, not a regular file"),
    ] {
        refused(
            &format!("--sandbox-state {state}"),
            entraform()
                .current_dir(dir)
                .args(["--sandbox", "--sandbox-state", state, "plan"]),
            &[expected],
        );
    }
}

#[test]
fn sign_in_files_that_are_fifos_are_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    mkfifo(&dir.join("cert.fifo"));
    mkfifo(&dir.join("token.fifo"));
    write(dir, "manifests/app.yaml", &manifest("hostile-login", ""));
    refused(
        "test-login --pfx <fifo>",
        sandboxed(dir).args(["test-login", "--app", "hostile-login", "--pfx", "cert.fifo"]),
        &["FIFO"],
    );
    // Nothing listens on port 9: the file must be refused before any request.
    let client = |cmd: &mut Command| {
        cmd.current_dir(dir)
            .args(["--graph-url", "http://127.0.0.1:9", "--login-url"])
            .arg("http://127.0.0.1:9")
            .args(["--tenant", "00000000-0000-0000-0000-000000000001"])
            .env("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000002")
            .args(["plan", "manifests"]);
    };
    let mut cmd = entraform();
    client(&mut cmd);
    refused(
        "AZURE_CLIENT_CERTIFICATE_PATH=<fifo>",
        cmd.env("AZURE_CLIENT_CERTIFICATE_PATH", dir.join("cert.fifo")),
        &["FIFO"],
    );
    let mut cmd = entraform();
    client(&mut cmd);
    refused(
        "AZURE_FEDERATED_TOKEN_FILE=<fifo>",
        cmd.env("AZURE_FEDERATED_TOKEN_FILE", dir.join("token.fifo")),
        &["FIFO"],
    );
}

// --- manifest folders (13.5) -------------------------------------------------------------------

#[test]
fn manifest_entries_that_cannot_be_read_are_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    type Make = fn(&Path);
    let cases: [(&str, Make, &str); 5] = [
        (
            "dangling.yaml",
            |p| symlink("gone.yaml", p),
            "is a symbolic link to `gone.yaml`, which does not exist",
        ),
        (
            "loop.yaml",
            |p| symlink(p.file_name().unwrap(), p),
            "loops back on itself",
        ),
        (
            "device.yml",
            |p| symlink("/dev/zero", p),
            "is a symbolic link to a character device",
        ),
        ("pipe.yaml", |p| mkfifo(p), "is a FIFO (named pipe)"),
        (
            "folder-link.yaml",
            |p| symlink("/tmp", p),
            "is a symbolic link to a folder",
        ),
    ];
    for (name, make, expected) in cases {
        let folder = dir.join(name.replace('.', "-"));
        write(&folder, "good.yaml", &manifest("good-app", ""));
        make(&folder.join(name));
        refused(
            name,
            entraform().current_dir(dir).arg("validate").arg(&folder),
            &[
                &format!("cannot load the manifest `{}`", folder.join(name).display()),
                expected,
            ],
        );
    }
}

/// The case that deleted three apps: a manifest replaced by a dangling link must stop
/// `apply --prune`, not make its app look unwanted.
#[test]
fn prune_never_runs_when_a_manifest_could_not_be_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "manifests/keep.yaml", &manifest("hostile-keep", ""));
    write(dir, "manifests/other.yaml", &manifest("hostile-other", ""));
    let out = run_limited(
        "first apply",
        sandboxed(dir).args(["apply", "--auto-approve", "manifests"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));

    std::fs::remove_file(dir.join("manifests/other.yaml")).unwrap();
    symlink("/nonexistent/other.yaml", &dir.join("manifests/other.yaml"));
    refused(
        "apply --prune with a dangling manifest",
        sandboxed(dir).args(["apply", "--prune", "--auto-approve", "manifests"]),
        &["manifests/other.yaml", "does not exist"],
    );
    // Both apps are still there: with the manifest back, nothing is to be done.
    std::fs::remove_file(dir.join("manifests/other.yaml")).unwrap();
    write(dir, "manifests/other.yaml", &manifest("hostile-other", ""));
    let out = run_limited(
        "plan after",
        sandboxed(dir).args(["plan", "--prune", "--detailed-exitcode", "manifests"]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

// --- what entraform writes or deletes (13.4) ---------------------------------------------------

#[test]
fn plan_out_replaces_only_a_plan_file_and_dash_is_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let app = write(dir, "manifests/app.yaml", &manifest("hostile-out", ""));
    let original = std::fs::read(&app).unwrap();
    let mut targets = not_regular_files(dir);
    targets.push((app.clone(), "it is not an entraform plan file"));
    targets.push((dir.join("manifests"), "it is a folder"));
    for (target, expected) in &targets {
        let shown = target.display().to_string();
        refused(
            &format!("plan --out {shown}"),
            sandboxed(dir).args(["plan", "manifests", "--out", &shown]),
            &[
                &format!("refusing to write the plan to `{shown}`"),
                expected,
            ],
        );
        let kind = std::fs::symlink_metadata(target).unwrap().file_type();
        assert!(!kind.is_file() || *target == app, "{shown} was replaced");
    }
    assert_eq!(
        std::fs::read(&app).unwrap(),
        original,
        "the manifest is untouched"
    );

    // A previous plan file is replaced; `-` writes the plan file to stdout.
    for _ in 0..2 {
        let out = run_limited(
            "plan --out tfplan.json",
            sandboxed(dir).args(["plan", "manifests", "--out", "tfplan.json"]),
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = run_limited(
        "plan --out -",
        sandboxed(dir).args(["plan", "manifests", "--out", "-"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["operations"].is_array() && doc["manifests"].is_object());
    assert!(stderr(&out).contains("# application.hostile-out will be created"));
    assert!(!dir.join("-").exists());
}

#[test]
fn sandbox_reset_deletes_only_a_sandbox_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let app = write(dir, "manifests/app.yaml", &manifest("hostile-reset", ""));
    refused(
        "reset --sandbox-state <manifest>",
        entraform().current_dir(dir).args([
            "sandbox",
            "reset",
            "--sandbox-state",
            "manifests/app.yaml",
        ]),
        &["refusing to delete `manifests/app.yaml`: it is not a sandbox state file"],
    );
    assert!(app.exists());
    for (target, expected) in not_regular_files(dir) {
        let shown = target.display().to_string();
        refused(
            &format!("reset --state {shown}"),
            entraform()
                .current_dir(dir)
                .args(["sandbox", "reset", "--state", &shown]),
            &[&format!("refusing to delete `{shown}`: {expected}")],
        );
        assert!(
            std::fs::symlink_metadata(&target).is_ok(),
            "{shown} was deleted"
        );
    }
    // A real one, named with `--state` like `serve` takes it.
    let out = run_limited("plan", sandboxed(dir).args(["plan", "manifests"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_limited(
        "reset --state",
        entraform()
            .current_dir(dir)
            .args(["sandbox", "reset", "--state", "sandbox.json"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.join("sandbox.json").exists());
}

// --- the tenant's own values (13.9) ------------------------------------------------------------

/// An app renamed in the tenant to a value that would erase lines of the plan under review.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_escapes_from_the_tenant_never_reach_the_terminal_raw() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let state = dir.join("sandbox.json");
    write(
        &dir,
        "manifests/app.yaml",
        &manifest("hostile-esc", "  description: plain\n"),
    );
    let out = run_limited(
        "apply",
        sandboxed(&dir).args(["apply", "--auto-approve", "manifests"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let evil = "Renamed\n\u{1b}[1A\u{1b}[2K\u{9b}2J\r# nothing to see\u{202e}";
    let sb = entraform::sandbox::start(entraform::sandbox::SandboxConfig::new().state_path(&state))
        .await
        .unwrap();
    let raw = crate::apply_support::Raw::of(&sb).await;
    let (status, app) = raw.get("/applications(uniqueName='hostile-esc')").await;
    assert_eq!(status, 200, "{app}");
    let id = app["id"].as_str().unwrap().to_owned();
    let status = raw
        .patch(
            &format!("/applications/{id}"),
            &serde_json::json!({"displayName": evil, "description": evil}),
        )
        .await;
    assert_eq!(status, 204);
    sb.shutdown().await.unwrap();

    let dir2 = dir.clone();
    let outputs = tokio::task::spawn_blocking(move || {
        ["text", "markdown", "json"].map(|format| {
            run_limited(
                &format!("plan --format {format}"),
                sandboxed(&dir2).args(["plan", "--format", format, "manifests"]),
            )
        })
    })
    .await
    .unwrap();
    for out in &outputs {
        assert!(out.status.success(), "{}", stderr(out));
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains(['\u{1b}', '\u{9b}', '\r', '\u{202e}']),
                "a raw control character on {stream}:\n{text:?}"
            );
        }
    }
    let text = stdout(&outputs[0]);
    assert!(text.contains(r"\u001b[1A\u001b[2K"), "{text}");
    // JSON stays JSON, with the value exactly as the tenant holds it.
    let doc: Value = serde_json::from_slice(&outputs[2].stdout).unwrap();
    let change = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "application.hostile-esc")
        .unwrap();
    assert_eq!(change["before"]["display_name"], evil);
}

// --- saved plans that were edited (13.11) ------------------------------------------------------

#[test]
fn an_edited_plan_file_is_refused_before_any_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "manifests/app.yaml", &manifest("hostile-plan", ""));
    let out = run_limited(
        "plan --out",
        sandboxed(dir).args(["plan", "manifests", "--out", "tfplan.json"]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let saved: Value =
        serde_json::from_slice(&std::fs::read(dir.join("tfplan.json")).unwrap()).unwrap();

    type Edit = fn(&mut Value);
    let edits: [(&str, Edit, &str); 4] = [
        (
            "only the operations",
            |doc| {
                doc["operations"][0]["operation"]["application"]["display_name"] =
                    "Not what was reviewed".into()
            },
            "the operations of `application.hostile-plan` are not the ones its change calls for",
        ),
        (
            "only the reviewed change",
            |doc| doc["changes"][0]["after"]["display_name"] = "Looks harmless".into(),
            "the change `application.hostile-plan` does not show what its operations do",
        ),
        (
            "the manifest hashes emptied",
            |doc| doc["manifests"] = serde_json::json!({"files": {}, "combined": ""}),
            "it records no manifest hashes",
        ),
        (
            "the manifest hashes removed",
            |doc| {
                doc.as_object_mut().unwrap().remove("manifests");
            },
            "it has no `operations`, `fingerprints` or `manifests`",
        ),
    ];
    for (case, edit, expected) in edits {
        let mut doc = saved.clone();
        edit(&mut doc);
        std::fs::write(dir.join("edited.json"), doc.to_string()).unwrap();
        refused(
            case,
            sandboxed(dir).args(["apply", "edited.json"]),
            &[expected],
        );
    }
    // Nothing was created by any of them: the saved plan still applies as made.
    let out = run_limited("apply", sandboxed(dir).args(["apply", "tfplan.json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Apply complete!"), "{}", stderr(&out));
}

// --- answers larger than any Graph response (13.6) ---------------------------------------------

/// A server that answers every Graph request with an endless body (or with a `Content-Length`
/// of 3 GiB), and its token endpoint with a 2 MiB one when asked to. The one place a fake
/// server stands in for the sandbox: the sandbox never sends such an answer.
async fn endless_server(huge_token: bool) -> String {
    use axum::body::Body;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{any, post};

    let token = move || async move {
        if huge_token {
            let padding = "x".repeat(2 << 20);
            axum::Json(
                serde_json::json!({"access_token": "t", "expires_in": 3600, "padding": padding}),
            )
            .into_response()
        } else {
            axum::Json(serde_json::json!({"token_type": "Bearer", "access_token": "t", "expires_in": 3600}))
                .into_response()
        }
    };
    let endless = || async {
        let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
        let stream =
            futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        Response::builder()
            .header("content-type", "application/json")
            .body(Body::from_stream(stream))
            .unwrap()
    };
    let declared = || async {
        use futures_util::StreamExt as _;
        // Declares 3 GiB, sends two bytes and then nothing: only the header can be judged.
        let stream = futures_util::stream::once(async {
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{}"))
        })
        .chain(futures_util::stream::pending());
        Response::builder()
            .header("content-type", "application/json")
            .header("content-length", (3u64 << 30).to_string())
            .body(Body::from_stream(stream))
            .unwrap()
    };
    let app = axum::Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1.0/endless", any(endless))
        .route("/v1.0/declared", any(declared));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn client_for(base: &str, max_response_bytes: u64) -> entraform::graph::GraphClient {
    let endpoints = entraform::graph::GraphEndpoints::new(
        entraform::graph::Cloud::Public,
        Some(base),
        Some(base),
        Some("contoso.onmicrosoft.com"),
    )
    .unwrap();
    let credential = entraform::graph::Credential::client_secret("client", "secret");
    let config = entraform::graph::ClientConfig {
        max_response_bytes,
        ..crate::graph_support::quick()
    };
    entraform::graph::GraphClient::new(endpoints, credential, config).unwrap()
}

#[tokio::test]
async fn a_response_larger_than_any_graph_response_is_refused_not_buffered() {
    let base = endless_server(false).await;
    let client = client_for(&base, 1 << 20);
    for path in ["/endless", "/declared"] {
        let started = Instant::now();
        let err = tokio::time::timeout(LIMIT, client.get::<Value>(path))
            .await
            .unwrap_or_else(|_| panic!("GET {path} hangs"))
            .unwrap_err();
        assert!(
            matches!(err, entraform::graph::GraphError::ResponseTooLarge { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
        eprintln!("GET {path}: refused after {:?}", started.elapsed());
    }
    // The default limit is generous for Graph and still bounded.
    assert_eq!(
        entraform::graph::ClientConfig::default().max_response_bytes,
        64 << 20
    );

    let base = endless_server(true).await;
    let err = tokio::time::timeout(LIMIT, client_for(&base, 1 << 20).get::<Value>("/declared"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("oauth2/v2.0/token"), "{err}");
    assert!(
        matches!(err, entraform::graph::GraphError::ResponseTooLarge { .. }),
        "{err:?}"
    );
}
