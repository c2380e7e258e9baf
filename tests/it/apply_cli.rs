//! `entraform apply` as users run it: the real binary against a sandbox (in-process with
//! `--sandbox`, or served by its own process when a test must count the tenant's requests).
//!
//! The first run's stdout (plan and outputs) and its progress lines are golden files under
//! `tests/apply/golden/`, with ids, thumbprints, times and durations redacted and the progress
//! lines sorted (independent actions run concurrently, so their order varies).
//! `ENTRAFORM_BLESS=1 cargo test --test it apply_cli` rewrites them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::apply_support::*;
use crate::common::{golden_mismatch, repo_root, sandboxed, stderr, stdout};

const PASSWORD: &str = "correct horse battery staple";

/// A working folder with the Exchange Online example at `manifests/exchange-online-app.yaml`.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = PathBuf::from("manifests/exchange-online-app.yaml");
    let text = std::fs::read_to_string(repo_root().join(&manifest)).unwrap();
    write(tmp.path(), &manifest.display().to_string(), &text);
    (tmp, manifest)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn golden(name: &str) -> PathBuf {
    repo_root().join("tests/apply/golden").join(name)
}

/// Redacted, with numbered placeholders made plain so the lines can be sorted.
fn progress_lines(text: &str, dir: &Path) -> String {
    let mut lines: Vec<String> = redact(text, dir)
        .lines()
        .map(|l| {
            let mut out = String::new();
            let mut rest = l;
            while let Some(start) = rest.find("<guid-").or_else(|| rest.find("<thumbprint-")) {
                let end = start + rest[start..].find('>').unwrap();
                let kind = if rest[start..].starts_with("<guid") {
                    "<guid>"
                } else {
                    "<thumbprint>"
                };
                out.push_str(&rest[..start]);
                out.push_str(kind);
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            out
        })
        .collect();
    lines.sort();
    lines.join("\n") + "\n"
}

#[test]
fn a_fresh_sandbox_apply_creates_everything_and_the_next_plan_exits_0() {
    let (tmp, manifest) = workspace();
    let dir = tmp.path();
    let applied_on = time::OffsetDateTime::now_utc().date();
    let out = run(sandboxed(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "--auto-approve"])
        .arg(&manifest));
    assert!(out.status.success(), "{}", stderr(&out));
    let mismatches: Vec<String> = [
        golden_mismatch(
            &golden("fresh-apply.stdout.txt"),
            Some(&redact(&stdout(&out), dir)),
        ),
        golden_mismatch(
            &golden("fresh-apply.progress.txt"),
            Some(&progress_lines(&stderr(&out), dir)),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    let plan = run(sandboxed(dir)
        .args(["plan", "--detailed-exitcode"])
        .arg(&manifest));
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}{}",
        stdout(&plan),
        stderr(&plan)
    );
    // A 365-day certificate applied today ends 365 calendar days from today, as an admin counts.
    if time::OffsetDateTime::now_utc().date() == applied_on {
        assert!(
            stdout(&plan).contains("(365 days left; renewBefore 30d)"),
            "{}",
            stdout(&plan)
        );
    }

    // Nothing to do now, and the outputs as JSON.
    let again = run(sandboxed(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "--format", "json"])
        .arg(&manifest));
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("No changes. Your tenant matches the manifests."),
        "{}",
        stderr(&again)
    );
    let doc: Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["tenant_domain"], "contoso.onmicrosoft.com");
    let app = &doc["apps"][0];
    assert_eq!(app["name"], "exo-v2-app");
    let thumbprint = app["certificates"][0]["thumbprint"].as_str().unwrap();
    let app_id = app["app_id"].as_str().unwrap();
    assert_eq!(
        app["exchange_online"][1],
        json!(format!(
            "Connect-ExchangeOnline -CertificateThumbPrint {thumbprint} -AppID {app_id} -Organization contoso.onmicrosoft.com"
        ))
    );
    assert_eq!(
        app["certificates"][0]["pfx"],
        json!("manifests/secrets/Exo_V2_App.pfx")
    );
}

#[test]
fn without_a_terminal_apply_asks_for_auto_approve_and_changes_nothing() {
    let (tmp, manifest) = workspace();
    let dir = tmp.path();
    let out = run(sandboxed(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .arg("apply")
        .arg(&manifest));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: apply needs confirmation, but stdin is not a terminal"),
        "{err}"
    );
    assert!(err.contains("hint: pass `--auto-approve`"), "{err}");
    assert!(stdout(&out).contains("Plan: 7 to add, 0 to change, 0 to destroy."));
    let plan = run(sandboxed(dir)
        .args(["plan", "--detailed-exitcode"])
        .arg(&manifest));
    assert_eq!(plan.status.code(), Some(2), "nothing was applied");
    assert!(!dir.join("manifests/secrets").exists());
}

#[test]
fn a_saved_plan_is_applied_exactly_without_asking_and_known_once_applied() {
    let (tmp, manifest) = workspace();
    let dir = tmp.path();
    let saved = run(sandboxed(dir)
        .args(["plan", "--out", "tfplan.json"])
        .arg(&manifest));
    assert!(saved.status.success(), "{}", stderr(&saved));

    let applied = run(sandboxed(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "tfplan.json"]));
    assert!(applied.status.success(), "{}", stderr(&applied));
    assert!(
        stderr(&applied).contains("Apply complete! Resources: 7 added, 0 changed, 0 destroyed."),
        "{}",
        stderr(&applied)
    );

    // Applied once, every change in it is true: said so, and nothing is written.
    let again = run(sandboxed(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "tfplan.json"]));
    let err = stderr(&again);
    assert_eq!(again.status.code(), Some(0), "{err}");
    assert!(err.contains("This plan was already applied"), "{err}");
    assert!(!err.contains("stale"), "{err}");
    assert!(!err.contains("Apply complete!"), "{err}");
}

/// The planner draws nothing at random: `plan` draws one seed, derives every new key id from
/// it and records it, and apply plans again with it. A plan file from before the seed was
/// recorded still applies, with the key ids in its operations.
#[test]
fn a_saved_plan_records_the_seed_of_its_key_ids_and_older_files_still_apply() {
    let (tmp, manifest) = workspace();
    let dir = tmp.path();
    let saved = run(sandboxed(dir)
        .args(["plan", "--out", "tfplan.json"])
        .arg(&manifest));
    assert!(saved.status.success(), "{}", stderr(&saved));
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.join("tfplan.json")).unwrap()).unwrap();
    let seed = doc["key_id_seed"].as_str().unwrap();
    assert_eq!(seed.len(), 16, "{seed}");

    // Another seed derives other key ids than the operations hold: refused before any write.
    let mut other = doc.clone();
    other["key_id_seed"] = json!(format!(
        "{:016x}",
        u64::from_str_radix(seed, 16).unwrap() ^ 1
    ));
    std::fs::write(dir.join("other-seed.json"), other.to_string()).unwrap();
    let refused = run(sandboxed(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "other-seed.json"]));
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains("was changed after `plan --out` wrote it"),
        "{err}"
    );
    assert!(err.contains("certificate.exo-v2-app"), "{err}");

    // As an entraform from before the seed wrote it: applies, all of it (so the refusal above
    // wrote nothing), with the key ids its operations hold.
    let mut older = doc.clone();
    older.as_object_mut().unwrap().remove("key_id_seed");
    std::fs::write(dir.join("older.json"), older.to_string()).unwrap();
    let applied = run(sandboxed(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "older.json"]));
    let err = stderr(&applied);
    assert!(applied.status.success(), "{err}");
    assert!(
        err.contains("Apply complete! Resources: 7 added, 0 changed, 0 destroyed."),
        "{err}"
    );
    let again = run(sandboxed(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "tfplan.json"]));
    let err = stderr(&again);
    assert_eq!(again.status.code(), Some(0), "{err}");
    assert!(err.contains("This plan was already applied"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_saved_plan_is_refused_without_any_write() {
    let (tmp, manifest) = workspace();
    let dir = tmp.path();
    let served = Served::start(&dir.join("tenant.json"), &[]);
    let first = served
        .entraform()
        .current_dir(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "--auto-approve"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", stderr(&first));

    // A change to make (the description), saved as a plan...
    let path = dir.join(&manifest);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "Unattended Exchange Online automation",
            "Exchange automation",
        ),
    )
    .unwrap();
    let saved = served
        .entraform()
        .current_dir(dir)
        .args(["plan", "--out", "tfplan.json"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(saved.status.success(), "{}", stderr(&saved));

    // ...then someone renames the app in the portal.
    let raw = served.raw().await;
    let apps = raw
        .list("/applications?$filter=uniqueName eq 'exo-v2-app'&$select=id")
        .await;
    let id = apps[0]["id"].as_str().unwrap();
    assert_eq!(
        raw.patch(
            &format!("/applications/{id}"),
            &json!({"displayName": "Renamed"})
        )
        .await,
        204
    );

    let before = writes(&raw.stats().await.routes);
    let refused = served
        .entraform()
        .current_dir(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "tfplan.json"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        stderr(&refused).lines().next().unwrap(),
        "error: the plan is stale: application.exo-v2-app changed since it was made; run plan again"
    );
    assert_eq!(
        writes(&raw.stats().await.routes),
        before,
        "no write after the refusal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_refused_when_its_manifests_or_its_tenant_changed() {
    let (tmp, manifest) = workspace();
    let dir = tmp.path();
    let served = Served::start(&dir.join("tenant.json"), &[]);
    let saved = served
        .entraform()
        .current_dir(dir)
        .args(["plan", "--out", "tfplan.json"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(saved.status.success(), "{}", stderr(&saved));
    let apply = || {
        served
            .entraform()
            .current_dir(dir)
            .env("EXO_PFX_PASSWORD", PASSWORD)
            .args(["apply", "tfplan.json"])
            .output()
            .unwrap()
    };

    let path = dir.join(&manifest);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n# edited\n")).unwrap();
    let out = apply();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(
            "error: the plan is stale: the manifests changed since it was made (`manifests/exchange-online-app.yaml` was edited); run plan again"
        ),
        "{}",
        stderr(&out)
    );
    std::fs::write(&path, &text).unwrap();

    let plan_path = dir.join("tfplan.json");
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    let real = doc["tenant_id"].as_str().unwrap().to_owned();
    doc["tenant_id"] = json!("00000000-0000-4000-8000-000000000000");
    std::fs::write(&plan_path, serde_json::to_string(&doc).unwrap()).unwrap();
    let out = apply();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(&format!(
            "error: the plan was made for tenant 00000000-0000-4000-8000-000000000000, but entraform is signed in to tenant {real}"
        )),
        "{}",
        stderr(&out)
    );
    let raw = served.raw().await;
    assert!(writes(&raw.stats().await.routes).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_pfx_password_stops_apply_before_any_write() {
    let (tmp, manifest) = workspace();
    let dir = tmp.path();
    let served = Served::start(&dir.join("tenant.json"), &[]);
    let out = served
        .entraform()
        .current_dir(dir)
        .env_remove("EXO_PFX_PASSWORD")
        .args(["apply", "--auto-approve"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: cannot write the certificates' PFX files: the environment variable `EXO_PFX_PASSWORD` (the PFX password) is not set"),
        "{err}"
    );
    assert!(err.contains("hint: set EXO_PFX_PASSWORD"), "{err}");
    let raw = served.raw().await;
    assert!(writes(&raw.stats().await.routes).is_empty());
    assert!(!dir.join("manifests/secrets").exists());
}

/// Starts `apply --auto-approve` against `served`, waits for the line starting with `at`,
/// sends SIGINT `presses` times, and returns the run's exit code and stderr.
fn interrupt(
    served: &Served,
    dir: &Path,
    manifest: &Path,
    at: &str,
    presses: usize,
) -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = served
        .entraform()
        .current_dir(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "--auto-approve"])
        .arg(manifest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "no progress: {seen}"
        );
        seen.push_str(&line);
        if line.starts_with(at) {
            break;
        }
    }
    let pid = child.id().to_string();
    for _ in 0..presses {
        assert!(
            Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
        // The second press must come after the first was seen.
        if presses > 1 {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    seen.push_str(&rest);
    (child.wait().unwrap().code(), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_once_finishes_what_is_in_flight_and_twice_abandons_it() {
    let (tmp, manifest) = workspace();
    let dir = tmp.path();
    // Slow requests, so the application's create is still in flight when Ctrl-C comes.
    let served = Served::start(&dir.join("tenant.json"), &["--latency-ms", "250"]);

    let (code, err) = interrupt(
        &served,
        dir,
        &manifest,
        "application.exo-v2-app: Creating...",
        1,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("warning: interrupted: starting nothing new"),
        "{err}"
    );
    assert!(
        err.contains("application.exo-v2-app: Creation complete after"),
        "the create in flight finished: {err}"
    );
    assert!(
        !err.contains("service_principal.exo-v2-app: Creating..."),
        "{err}"
    );
    assert!(
        err.contains("error: Apply interrupted: 1 of 7 changes done.\nDone:\n  application.exo-v2-app\nNot started:\n  service_principal.exo-v2-app\n"),
        "{err}"
    );

    // The next run is interrupted twice while it creates the service principal: nothing waits
    // for that create to answer.
    let (code, err) = interrupt(
        &served,
        dir,
        &manifest,
        "service_principal.exo-v2-app: Creating...",
        2,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("error: apply aborted"), "{err}");

    // And apply converges afterwards.
    let out = served
        .entraform()
        .current_dir(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "--auto-approve"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let raw = served.raw().await;
    let census = raw.census(&["exo-v2-app".to_owned()]).await;
    assert_eq!(census.by_unique_name["exo-v2-app"], 1);
    assert_eq!(census.service_principals["exo-v2-app"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_right_to_consent_apply_finishes_the_rest_prints_the_consent_url_and_exits_1() {
    use crate::graph_support::{add_secret, grant_graph_role, new_app};
    let (tmp, manifest) = workspace();
    let dir = tmp.path();
    let served = Served::start(&dir.join("tenant.json"), &[]);
    let admin = served.admin_client();
    // A pipeline identity that manages applications and roles but may not consent.
    let (deployer, deployer_sp) = new_app(&admin, "deployer").await;
    for role in [
        "Application.ReadWrite.All",
        "RoleManagement.ReadWrite.Directory",
        "User.Read.All",
        "Organization.Read.All",
    ] {
        grant_graph_role(&admin, &deployer_sp, role).await;
    }
    let secret = add_secret(&admin, &deployer).await;

    let out = served
        .entraform()
        .current_dir(dir)
        .env("AZURE_CLIENT_ID", deployer.app_id.to_string())
        .env("AZURE_CLIENT_SECRET", secret)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "--auto-approve"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let tenant = served.field("tenant_id");
    let raw = served.raw().await;
    let apps = raw
        .list("/applications?$filter=uniqueName eq 'exo-v2-app'&$select=appId")
        .await;
    let app_id = apps[0]["appId"].as_str().unwrap();
    let url = format!("https://login.microsoftonline.com/{tenant}/adminconsent?client_id={app_id}");
    assert!(
        err.contains(&format!(
            "An administrator can grant them at:\n  exo-v2-app: {url}\n"
        )),
        "{err}"
    );
    assert!(
        err.contains("Not granted (needs admin consent):\n  app_role_assignment.exo-v2-app[\"Office 365 Exchange Online/Exchange.ManageAsApp\"]\n"),
        "{err}"
    );
    assert!(
        err.contains("hint: once an administrator has granted consent"),
        "{err}"
    );
    // Everything else was applied, and the outputs were printed.
    assert!(
        err.contains("Apply finished without admin consent: 6 of 7 changes done."),
        "{err}"
    );
    assert!(
        stdout(&out).contains(&format!("{:<27} = \"{url}\"", "admin_consent_url")),
        "{}",
        stdout(&out)
    );
}

/// Runs `apply` at a terminal (a pseudo-terminal from util-linux `script`), answering `answer`.
fn apply_at_a_terminal(dir: &Path, manifest: &Path, answer: &str) -> Output {
    let inner = format!(
        "'{}' --sandbox --sandbox-state '{}' apply '{}'",
        env!("CARGO_BIN_EXE_entraform"),
        dir.join("sandbox.json").display(),
        manifest.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("AZURE_CLIENT_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs");
    // The terminal keeps typed input until apply reads its answer.
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{answer}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn at_a_terminal_only_yes_applies() {
    let (tmp, manifest) = workspace();
    let dir = tmp.path();
    let no = apply_at_a_terminal(dir, &manifest, "y");
    let screen = stdout(&no);
    assert_eq!(no.status.code(), Some(1), "{screen}");
    // The terminal echoes the answer when it is typed, so only the prompt's text is checked.
    assert!(
        screen.contains("Only 'yes' will be accepted to approve.\r\n\r\n  Enter a value: "),
        "{screen}"
    );
    assert!(screen.contains("error: Apply cancelled."), "{screen}");
    assert!(!dir.join("manifests/secrets").exists());

    let yes = apply_at_a_terminal(dir, &manifest, "yes");
    let screen = stdout(&yes);
    assert_eq!(yes.status.code(), Some(0), "{screen}");
    assert!(
        screen.contains("Apply complete! Resources: 7 added, 0 changed, 0 destroyed."),
        "{screen}"
    );
}

/// `kill -9` between writing a PFX's temporary file and renaming it leaves a hidden file with a
/// whole private key. The next apply removes such leftovers of our own, and nothing else.
#[test]
fn apply_removes_temporary_files_an_interrupted_write_left_and_nothing_else() {
    let (tmp, manifest) = workspace();
    let dir = tmp.path();
    let secrets = dir.join("manifests/secrets");
    let leftovers = [".Exo_V2_App.pfx.Ab12Cd.tmp", ".Exo_V2_App.cer.x9Y8z7.tmp"];
    let others = [
        ".Exo_V2_App.pfx.notours.tmp",
        ".Other.pfx.Ab12Cd.tmp",
        "Exo_V2_App.pfx.Ab12Cd.tmp",
    ];
    for name in leftovers.iter().chain(&others) {
        write(
            dir,
            &format!("manifests/secrets/{name}"),
            "-----BEGIN PRIVATE KEY-----",
        );
    }
    let out = run(sandboxed(dir)
        .env("EXO_PFX_PASSWORD", PASSWORD)
        .args(["apply", "--auto-approve"])
        .arg(&manifest));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for name in leftovers {
        assert!(!secrets.join(name).exists(), "{name} is left");
        assert!(
            err.contains(&format!(
                "Removed `manifests/secrets/{name}`, left by an interrupted write"
            )),
            "{err}"
        );
    }
    for name in others {
        assert!(secrets.join(name).exists(), "{name} was removed");
    }
}
