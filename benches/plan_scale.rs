//! Plan at scale against a sandbox with 20 ms of latency per request, for 1, 100, 1,000 and
//! 10,000 managed apps: the release `entraform plan` (a child process, so its peak memory is its
//! own) next to a per-resource baseline (one GET per object, 10 apps in parallel) doing the same
//! reads, in one run. Columns: HTTP requests, Graph operations (`$batch` parts one by one),
//! resource units (what Graph's `x-ms-resource-unit` says each request cost), wall time, and the
//! plan's peak memory (max RSS).
//!
//! Run: `cargo bench --bench plan_scale` writes the table into `docs/performance.md` between its
//! markers; `-- 1 100` runs other sizes and only prints; `-- --write-docs 1 100` writes them.
//! `-- --apply 1000` times `apply` of that many new apps at 20 ms latency and 2 s replication
//! delay. `PLAN_SCALE_LATENCY_MS=0` takes the latency away, to time the sandbox alone.

#[path = "../tests/support/scale.rs"]
mod scale;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use entraform::graph::ClientConfig;
use entraform::read_progress::thousands;
use entraform::sandbox::{self, Faults, RunningSandbox, SandboxConfig};

/// Injected latency per request; `PLAN_SCALE_LATENCY_MS=0` measures the sandbox alone.
fn latency_ms() -> u64 {
    std::env::var("PLAN_SCALE_LATENCY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(20)
}
const REPLICATION_DELAY_MS: u64 = 2000;
const SIZES: [usize; 4] = [1, 100, 1000, 10_000];
const DOCS: &str = "docs/performance.md";
const BEGIN: &str = "<!-- plan_scale:begin -->";
const END: &str = "<!-- plan_scale:end -->";

/// One client's reading of the tenant.
struct Measured {
    http_requests: u64,
    operations: u64,
    resource_units: u64,
    wall: Duration,
    /// Max RSS in KiB, of a process of its own.
    peak_kib: Option<u64>,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(PEAK_OF) {
        std::process::exit(peak_of(&args[1..]));
    }
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if args.iter().any(|a| a == "--apply") {
        for apps in if sizes.is_empty() { vec![1000] } else { sizes } {
            apply_new(apps).await;
        }
        return;
    }
    let write_docs = sizes.is_empty() || args.iter().any(|a| a == "--write-docs");
    let sizes = if sizes.is_empty() {
        SIZES.to_vec()
    } else {
        sizes
    };

    let mut table = String::from(
        "| apps | client | HTTP requests | Graph operations | resource units | wall time | peak memory |\n|---:|---|---:|---:|---:|---:|---:|\n",
    );
    // `PLAN_SCALE_THROTTLE=3500`: the sandbox holds each app to that many resource units per
    // 10 s (seeded without it), to see the client keep to Graph's budget.
    let throttle: Option<u32> = std::env::var("PLAN_SCALE_THROTTLE")
        .ok()
        .and_then(|t| t.parse().ok());
    for apps in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("sandbox.json");
        // A state file only to restart throttled: the sandbox writes it on every change.
        let config = |units: Option<u32>| {
            let config = SandboxConfig::new().faults(Faults {
                latency_ms: latency_ms(),
                throttle: units,
                ..Faults::default()
            });
            if throttle.is_some() {
                config.state_path(&state)
            } else {
                config
            }
        };
        let sandbox = sandbox::start(config(None)).await.expect("sandbox");
        let seeder = scale::admin_client(&sandbox, ClientConfig::default());
        let seeding = Instant::now();
        let manifest = scale::seed(&seeder, dir.path(), apps).await;
        eprintln!(
            "seeded {apps} apps in {:.1}s",
            seeding.elapsed().as_secs_f64()
        );
        let sandbox = match throttle {
            Some(units) => {
                sandbox.shutdown().await.expect("shutdown");
                sandbox::start(config(Some(units))).await.expect("sandbox")
            }
            None => sandbox,
        };

        let ours = plan_in_child(&sandbox, &manifest).await;

        let baseline_client = scale::admin_client(
            &sandbox,
            ClientConfig {
                max_concurrency: 10,
                ..ClientConfig::default()
            },
        );
        baseline_client.sign_in().await.expect("sign-in");
        let names: Vec<String> = (0..apps).map(scale::app_name).collect();
        let (_, wall) = scale::per_object_reads(&baseline_client, &names).await;
        let stats = baseline_client.stats();
        let baseline = Measured {
            http_requests: stats.http_requests,
            operations: stats.operations,
            resource_units: stats.resource_units,
            wall,
            peak_kib: None,
        };
        for (client, m) in [("entraform", &ours), ("per-resource", &baseline)] {
            let row = row(apps, client, m);
            print!("{row}");
            table.push_str(&row);
        }
        sandbox.shutdown().await.expect("shutdown");
    }
    if write_docs {
        write_table(Path::new(DOCS), &table);
        eprintln!("wrote the table into {DOCS}");
    }
}

fn row(apps: usize, client: &str, m: &Measured) -> String {
    format!(
        "| {} | {client} | {} | {} | {} | {:.2} s | {} |\n",
        thousands(apps),
        thousands(m.http_requests as usize),
        thousands(m.operations as usize),
        thousands(m.resource_units as usize),
        m.wall.as_secs_f64(),
        m.peak_kib
            .map_or("–".to_owned(), |k| format!("{:.0} MB", k as f64 / 1024.0)),
    )
}

/// `entraform plan` of `manifest`, the release binary in a process of its own, signed in as the
/// sandbox's admin. Its counts come from its own `read the tenant` log event.
async fn plan_in_child(sandbox: &RunningSandbox, manifest: &Path) -> Measured {
    let mut cmd = entraform(sandbox);
    cmd.args(["-v", "--log-format", "json", "plan"])
        .arg(manifest);
    let run = run_child(cmd).await;
    assert!(
        run.stdout.contains("No changes."),
        "the seeded tenant should match its manifests (exit status {}):\n{}\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    let event = run
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "read the tenant")
        .unwrap_or_else(|| panic!("no `read the tenant` event:\n{}", run.stderr));
    let field = |name: &str| event["fields"][name].as_u64().unwrap_or_default();
    Measured {
        http_requests: field("http_requests"),
        operations: field("graph_operations"),
        resource_units: field("resource_units"),
        wall: run.wall,
        peak_kib: Some(run.peak_kib),
    }
}

/// `entraform` pointed at `sandbox` as its bootstrap admin (a client secret), as CI runs it.
fn entraform(sandbox: &RunningSandbox) -> Command {
    // `ENTRAFORM_BIN` names another build of the binary (a release one, when the bench itself
    // is built in another profile).
    let bin =
        std::env::var_os("ENTRAFORM_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_entraform").into());
    let mut cmd = Command::new(bin);
    cmd.env("NO_COLOR", "1").env_remove("RUST_LOG");
    scale::signed_in_to(&mut cmd, sandbox);
    cmd
}

struct ChildRun {
    stdout: String,
    stderr: String,
    wall: Duration,
    peak_kib: u64,
    status: i32,
}

/// The first argument that makes this binary run the rest as a command and write that
/// command's peak memory (KiB) into the file `PLAN_SCALE_PEAK_FILE` names.
const PEAK_OF: &str = "--peak-memory-of";

/// Runs `command` (program, then arguments) to its end and writes its peak memory; returns its
/// exit code. Linux folds the memory of the process that execs into the `ru_maxrss` of what it
/// runs, so a child spawned by the bench (which holds the whole sandbox tenant) would report
/// the bench's size: this small process in between spawns the measured one itself.
fn peak_of(command: &[String]) -> i32 {
    let (program, args) = command.split_first().expect("a command");
    let child = Command::new(program).args(args).spawn().expect("command");
    let (status, peak_kib) = wait_for(child);
    let file = std::env::var_os("PLAN_SCALE_PEAK_FILE").expect("PLAN_SCALE_PEAK_FILE");
    std::fs::write(file, peak_kib.to_string()).expect("peak file");
    libc::WEXITSTATUS(status)
}

/// Waits for `child`: its wait status and peak memory in KiB, from `wait4`.
fn wait_for(child: std::process::Child) -> (i32, u64) {
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, by its pid, with valid pointers.
    let waited = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert!(waited > 0, "wait4: {}", std::io::Error::last_os_error());
    // Linux reports ru_maxrss in KiB.
    (status, usage.ru_maxrss as u64)
}

/// Runs `cmd` to its end off the runtime (the sandbox keeps serving), its output in files (no
/// pipe to drain), through [`peak_of`] for its own peak memory.
async fn run_child(cmd: Command) -> ChildRun {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, err, peak) = (
        dir.path().join("stdout"),
        dir.path().join("stderr"),
        dir.path().join("peak"),
    );
    let mut outer = Command::new(std::env::current_exe().expect("this bench"));
    outer
        .arg(PEAK_OF)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env("PLAN_SCALE_PEAK_FILE", &peak);
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => outer.env(key, value),
            None => outer.env_remove(key),
        };
    }
    outer
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"));
    let (wall, status) = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        // Reaped by wait4 in `wait_for`.
        #[allow(clippy::zombie_processes)]
        let child = outer.spawn().expect("entraform");
        let (status, _) = wait_for(child);
        (start.elapsed(), status)
    })
    .await
    .expect("child");
    ChildRun {
        stdout: std::fs::read_to_string(out).unwrap_or_default(),
        stderr: std::fs::read_to_string(err).unwrap_or_default(),
        wall,
        peak_kib: std::fs::read_to_string(peak)
            .ok()
            .and_then(|k| k.trim().parse().ok())
            .unwrap_or_default(),
        status,
    }
}

/// Replaces what lies between the markers in `path` with `table`.
fn write_table(path: &Path, table: &str) {
    let text = std::fs::read_to_string(path).expect("docs page");
    let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        panic!("{} has no {BEGIN} … {END} markers", path.display());
    };
    let note = format!(
        "\n<!-- written by `cargo bench --bench plan_scale`; {} ms latency per request -->\n\n",
        latency_ms()
    );
    let updated = format!(
        "{}{note}{table}\n{}",
        &text[..begin + BEGIN.len()],
        &text[end..]
    );
    std::fs::write(path, updated).expect("write docs page");
}

/// `entraform apply --auto-approve` of `apps` new apps (each: the application, its service
/// principal, an application permission, a directory role and a certificate) against a sandbox
/// with 20 ms latency and a 2 s replication delay.
async fn apply_new(apps: usize) {
    let sandbox = sandbox::start(SandboxConfig::new().faults(Faults {
        latency_ms: latency_ms(),
        replication_delay_ms: REPLICATION_DELAY_MS,
        ..Faults::default()
    }))
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    scale::write_certificate(dir.path());
    let manifest = scale::write_manifests(dir.path(), apps);
    let before = sandbox.stats().total;
    let mut cmd = entraform(&sandbox);
    cmd.args(["apply", "--auto-approve"]).arg(&manifest);
    let run = run_child(cmd).await;
    assert_eq!(run.status, 0, "apply failed:\n{}", run.stderr);
    println!(
        "apply of {} new apps ({} ms latency, {} s replication delay): {:.1} s, {} Graph operations, peak memory {:.0} MB",
        thousands(apps),
        latency_ms(),
        REPLICATION_DELAY_MS / 1000,
        run.wall.as_secs_f64(),
        thousands((sandbox.stats().total - before) as usize),
        run.peak_kib as f64 / 1024.0
    );
    sandbox.shutdown().await.expect("shutdown");
}
