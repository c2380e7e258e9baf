//! The example pipelines in `examples/` run against a served sandbox, so they cannot rot.
//!
//! **Which lines.** An *entraform command line* is a line of a `*.yml`, `*.yaml` or `*.sh` file
//! under `examples/` whose first word is `entraform`, after the indentation and, in YAML, an
//! optional key that holds a command (`run:`, `script:`, `bash:`, `inlineScript:`, with or
//! without a list dash). A line ending in `\` continues on the next. The lines are read from the
//! files as they are; none is copied into this test. `examples/README.md` states the same rule.
//!
//! **How they run.** Each line runs on its own with `bash -e -o pipefail -c` (GitHub's default
//! shell), in a workspace holding a copy of `manifests/`, with `entraform` on `PATH` (a wrapper
//! around the built binary that records every exit code) and only the environment a pipeline
//! gives it: the tenant, the sandbox's URLs (`ENTRAFORM_GRAPH_URL`, `AZURE_AUTHORITY_HOST`), the
//! identity and its credential, and for apply the PFX passwords. A line may name only those
//! variables (and `$?`), so it cannot lean on a shell variable that an untested line sets. Every
//! line must leave bash with status 0, as a pipeline step needs, must start `entraform` exactly
//! once, and that invocation must exit with the code its phase expects.
//!
//! **Which identity.** The sandbox trusts a local OIDC issuer standing in for GitHub's: the
//! workspace's copy of `manifests/github-oidc-deployer.yaml` names it as its federated
//! credentials' issuer, subjects unchanged. The bootstrap admin applies that file first, as the
//! READMEs' setup does; then the pull-request lines run as `github-reader` with a
//! `…:pull_request` token, the merge lines as `github-deployer` with an
//! `…:environment:production` token, the drift lines as `github-reader` with a
//! `…:ref:refs/heads/main` token, each through `AZURE_FEDERATED_TOKEN_FILE`. The Azure DevOps
//! pipelines get the same identities: a service connection's token differs only in issuer and
//! subject, which the pipelines never see. The cron script signs in as `github-reader` with a
//! certificate uploaded by hand, as its README says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::apply_support::{Raw, Served};
use crate::common::{repo_root, stderr, stdout};
use crate::graph_support::Issuer;

const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
const REPO_SUBJECT: &str = "repo:contoso/platform";

/// Where a file's lines run, and so which identity and exit codes they get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Installing entraform: no tenant at all.
    Setup,
    /// A pull request against a tenant that has only the pipeline identities.
    PullRequest,
    /// The merge to main.
    Merge,
    /// The scheduled check after the merge: nothing to do.
    Drift,
    /// The scheduled check after someone changed an app by hand.
    DriftAfterHandEdit,
}

/// Every example file with entraform lines, with the phase its lines run in. A new file with
/// entraform lines must be added here (a test says so).
const RUNNABLE: &[(&str, Phase)] = &[
    ("github-actions/entraform-plan.yml", Phase::PullRequest),
    ("github-actions/entraform-apply.yml", Phase::Merge),
    ("github-actions/entraform-drift.yml", Phase::Drift),
    ("azure-devops/templates/install-entraform.yml", Phase::Setup),
    ("azure-devops/entraform-plan.yml", Phase::PullRequest),
    ("azure-devops/entraform-apply.yml", Phase::Merge),
    ("azure-devops/entraform-drift.yml", Phase::Drift),
    ("cron/entraform-drift.sh", Phase::Drift),
];

/// The exit code an entraform subcommand must give in a phase; `None`: not expected there.
fn expected_exit(phase: Phase, subcommand: &str) -> Option<i32> {
    use Phase::*;
    match (phase, subcommand) {
        (_, "--version" | "validate") => Some(0),
        (PullRequest, "plan") => Some(2), // the tenant lacks every app: changes present
        (Merge, "apply") => Some(0),
        (Drift, "plan" | "certs") => Some(0),
        (DriftAfterHandEdit, "plan") => Some(2),
        (DriftAfterHandEdit, "certs") => Some(0),
        _ => None,
    }
}

fn examples_dir() -> PathBuf {
    repo_root().join("examples")
}

/// The entraform command lines of one file, in order, continuation lines joined.
fn entraform_lines(text: &str) -> Vec<String> {
    const KEYS: [&str; 4] = ["run:", "script:", "bash:", "inlineScript:"];
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let mut rest = line.trim_start();
        rest = rest.strip_prefix("- ").map_or(rest, str::trim_start);
        for key in KEYS {
            if let Some(after) = rest.strip_prefix(key) {
                rest = after.trim_start();
            }
        }
        if !(rest == "entraform" || rest.starts_with("entraform ")) {
            continue;
        }
        let mut command = rest.trim_end().to_owned();
        while command.ends_with('\\') {
            command.pop();
            match lines.next() {
                Some(next) => command.push_str(next.trim()),
                None => break,
            }
        }
        out.push(command);
    }
    out
}

/// `$NAME`, `${NAME}` and `$?` in a line; `Err` for pipeline macros (`${{ }}`, `$( )`).
fn variables(line: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let rest = &line[i + 1..];
        if rest.starts_with("{{") || rest.starts_with('(') {
            return Err(format!(
                "`{line}` uses a pipeline expression or a command substitution; \
                 an entraform line may use only environment variables"
            ));
        }
        let (name, used) = if let Some(inner) = rest.strip_prefix('{') {
            let end = inner
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in `{line}`"))?;
            (inner[..end].to_owned(), end + 2)
        } else if rest.starts_with('?') {
            ("?".to_owned(), 1)
        } else {
            let n = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (rest[..n].to_owned(), n)
        };
        if !name.is_empty() {
            names.push(name);
        }
        i += 1 + used.max(1);
    }
    Ok(names)
}

fn read_example(relative: &str) -> String {
    std::fs::read_to_string(examples_dir().join(relative))
        .unwrap_or_else(|e| panic!("examples/{relative}: {e}"))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_example_with_entraform_lines_is_run_here_and_every_workflow_is_valid_yaml() {
    let mut files = Vec::new();
    files_under(&examples_dir(), &mut files);
    files.sort();
    let mut problems = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(examples_dir())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "md" {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let lines = entraform_lines(&text);
        let known = RUNNABLE.iter().any(|(f, _)| *f == relative);
        if !lines.is_empty() && !known {
            problems.push(format!(
                "examples/{relative} has entraform lines but tests/it/examples.rs does not run it"
            ));
        }
        if known && lines.is_empty() {
            problems.push(format!("examples/{relative} has no entraform line"));
        }
        for line in &lines {
            if let Err(e) = variables(line) {
                problems.push(format!("examples/{relative}: {e}"));
            }
        }
        if matches!(ext, "yml" | "yaml")
            && let Err(e) = serde_yaml::from_str::<serde_yaml::Value>(&text)
        {
            problems.push(format!("examples/{relative} is not valid YAML: {e}"));
        }
        if relative.starts_with("github-actions/") {
            for (n, line) in text.lines().enumerate() {
                let Some(uses) = line
                    .trim_start()
                    .trim_start_matches("- ")
                    .strip_prefix("uses: ")
                else {
                    continue;
                };
                let pinned = uses.split_once('@').is_some_and(|(_, rev)| {
                    let sha = rev.split_whitespace().next().unwrap_or("");
                    sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit())
                });
                if !pinned {
                    problems.push(format!(
                        "examples/{relative}:{}: `{uses}` is not pinned to a commit",
                        n + 1
                    ));
                }
            }
        }
        if ext == "sh" {
            let check = Command::new("bash").arg("-n").arg(path).output().unwrap();
            if !check.status.success() {
                problems.push(format!("examples/{relative}: {}", stderr(&check)));
            }
        }
    }
    for (file, _) in RUNNABLE {
        if !examples_dir().join(file).exists() {
            problems.push(format!("examples/{file} is missing"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn lines_are_found_after_yaml_keys_and_joined_across_backslashes() {
    let text = "steps:\n  - run: entraform validate manifests/\n  - script: |\n      entraform plan \\\n        --detailed-exitcode manifests/\n      echo \"entraform is not first here\"\n      # entraform in a comment\n  - bash: entraform --version\nentraform-drift.sh is not a command\n";
    assert_eq!(
        entraform_lines(text),
        [
            "entraform validate manifests/",
            "entraform plan --detailed-exitcode manifests/",
            "entraform --version",
        ]
    );
    assert_eq!(
        variables("entraform certs \"$ENTRAFORM_MANIFESTS\" > c.txt && x=0 || x=$? ${HOME}")
            .unwrap(),
        ["ENTRAFORM_MANIFESTS", "?", "HOME"]
    );
    assert!(variables("entraform plan ${{ vars.X }}").is_err());
    assert!(variables("entraform plan $(Build.SourcesDirectory)").is_err());
}

// --- running them ------------------------------------------------------------------------------

/// A workspace like a pipeline's checkout: `manifests/` (issuer pointed at the local one), and
/// `bin/entraform`, which runs the built binary and appends `<code> <args>` to `calls.log`.
struct Workspace {
    dir: tempfile::TempDir,
    issuer: Issuer,
    served: Served,
    /// `metadata.name` → appId, from the bootstrap apply's outputs.
    app_ids: BTreeMap<String, String>,
    tokens: std::cell::Cell<usize>,
}

impl Workspace {
    async fn start() -> Workspace {
        let issuer = Issuer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let manifests = root.join("manifests");
        std::fs::create_dir(&manifests).unwrap();
        for entry in std::fs::read_dir(repo_root().join("manifests")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(manifests.join(path.file_name().unwrap()), text).unwrap();
            }
        }
        let deployer = manifests.join("github-oidc-deployer.yaml");
        let text = std::fs::read_to_string(&deployer).unwrap();
        assert!(text.contains(GITHUB_ISSUER), "{text}");
        std::fs::write(&deployer, text.replace(GITHUB_ISSUER, &issuer.url)).unwrap();

        let bin = root.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let wrapper = bin.join("entraform");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\n'{}' \"$@\"\ncode=$?\nprintf '%s %s\\n' \"$code\" \"$*\" >> '{}'\nexit $code\n",
                env!("CARGO_BIN_EXE_entraform"),
                root.join("calls.log").display()
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        }

        let served = Served::start(&root.join("tenant.json"), &["--trust-issuer", &issuer.url]);
        // The READMEs' one-time setup: an administrator applies the pipeline identities.
        let out = served
            .entraform()
            .current_dir(root)
            .args(["apply", "--auto-approve", "--format", "json"])
            .arg("manifests/github-oidc-deployer.yaml")
            .output()
            .unwrap();
        assert!(out.status.success(), "bootstrap: {}", stderr(&out));
        let outputs: Value = serde_json::from_slice(&out.stdout).unwrap();
        let app_ids = outputs["apps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_owned(),
                    a["app_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        Workspace {
            dir,
            issuer,
            served,
            app_ids,
            tokens: std::cell::Cell::new(0),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// What every pipeline has: the tenant and where its endpoints are.
    fn base_env(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "AZURE_TENANT_ID".into(),
                self.served.field("tenant_id").into(),
            ),
            (
                "ENTRAFORM_GRAPH_URL".into(),
                self.served.field("graph_url").into(),
            ),
            (
                "AZURE_AUTHORITY_HOST".into(),
                self.served.field("authority_url").into(),
            ),
            ("NO_COLOR".into(), "1".into()),
        ])
    }

    /// Signed in as `app` through a federated token for `subject`, as the platform would.
    fn federated_env(&self, app: &str, subject: &str) -> BTreeMap<String, String> {
        let n = self.tokens.get() + 1;
        self.tokens.set(n);
        let file = self.root().join(format!("federated-token-{n}"));
        std::fs::write(
            &file,
            self.issuer.token(&format!("{REPO_SUBJECT}:{subject}")),
        )
        .unwrap();
        let mut env = self.base_env();
        env.insert("AZURE_CLIENT_ID".into(), self.app_ids[app].clone());
        env.insert(
            "AZURE_FEDERATED_TOKEN_FILE".into(),
            file.display().to_string(),
        );
        env
    }

    /// The deployer's environment: its token and one password per `pfxPasswordEnv`.
    fn merge_env(&self) -> BTreeMap<String, String> {
        let mut env = self.federated_env("github-deployer", "environment:production");
        for entry in std::fs::read_dir(self.root().join("manifests")).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in text.lines() {
                if let Some(name) = line.trim().strip_prefix("pfxPasswordEnv:") {
                    env.insert(
                        name.trim().to_owned(),
                        format!("{}-test-password", name.trim()),
                    );
                }
            }
        }
        env
    }

    fn calls(&self) -> Vec<(i32, String)> {
        std::fs::read_to_string(self.root().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let (code, args) = l.split_once(' ').unwrap_or((l, ""));
                (code.parse().unwrap(), args.to_owned())
            })
            .collect()
    }

    /// Runs every entraform line of `file` in `phase` with `env`; returns how many ran.
    fn run(&self, file: &str, phase: Phase, env: &BTreeMap<String, String>) -> usize {
        let lines = entraform_lines(&read_example(file));
        assert!(!lines.is_empty(), "examples/{file} has no entraform line");
        let path = format!(
            "{}:{}",
            self.root().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        for line in &lines {
            for name in variables(line).unwrap() {
                assert!(
                    name == "?" || env.contains_key(&name),
                    "examples/{file}: `{line}` uses ${name}, which the pipeline does not provide \
                     (it has {:?})",
                    env.keys().collect::<Vec<_>>()
                );
            }
            let before = self.calls().len();
            let out = Command::new("bash")
                .args(["-e", "-o", "pipefail", "-c", line])
                .current_dir(self.root())
                .env_clear()
                .env("PATH", &path)
                .env("HOME", self.root())
                .envs(env)
                .output()
                .unwrap();
            let calls = self.calls();
            assert_eq!(
                calls.len(),
                before + 1,
                "examples/{file}: `{line}` should run entraform exactly once\n{}",
                stderr(&out)
            );
            let (code, args) = &calls[before];
            let subcommand = args
                .split_whitespace()
                .find(|a| !a.starts_with('-') || *a == "--version")
                .unwrap_or("");
            let expected = expected_exit(phase, subcommand).unwrap_or_else(|| {
                panic!("examples/{file}: `entraform {subcommand}` has no expected exit code in {phase:?}")
            });
            assert_eq!(
                *code,
                expected,
                "examples/{file} ({phase:?}): `{line}` exited {code}\nstdout:\n{}\nstderr:\n{}",
                stdout(&out),
                stderr(&out)
            );
            assert!(
                out.status.success(),
                "examples/{file} ({phase:?}): `{line}` fails the step (bash exited {:?})\n{}",
                out.status.code(),
                stderr(&out)
            );
        }
        lines.len()
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.root().join(file))
            .unwrap_or_else(|e| panic!("{file} was not written: {e}"))
    }

    async fn raw(&self) -> Raw {
        self.served.raw().await
    }

    /// Someone changes an app in the portal: the next plan must see drift.
    async fn edit_by_hand(&self) {
        let raw = self.raw().await;
        let apps = raw
            .list("/applications?$filter=uniqueName eq 'exo-v2-app'&$select=id")
            .await;
        let id = apps[0]["id"].as_str().unwrap();
        let status = raw
            .patch(
                &format!("/applications/{id}"),
                &json!({"description": "changed in the portal"}),
            )
            .await;
        assert_eq!(status, 204);
    }
}

/// Installing, the pull request, the merge and the daily check of one CI system, in order.
async fn run_ci_examples(folder: &str, setup: Option<&str>) {
    let ws = Workspace::start().await;
    let file = |name: &str| format!("{folder}/{name}");
    if let Some(setup) = setup {
        ws.run(&file(setup), Phase::Setup, &ws.base_env());
    }

    ws.run(
        &file("entraform-plan.yml"),
        Phase::PullRequest,
        &ws.federated_env("github-reader", "pull_request"),
    );
    let plan = ws.read("plan.md");
    assert!(plan.starts_with("### entraform plan: "), "{plan}");
    assert!(plan.contains("`application.exo-v2-app`"), "{plan}");

    ws.run(&file("entraform-apply.yml"), Phase::Merge, &ws.merge_env());
    let outputs: Value = serde_json::from_str(&ws.read("outputs.json")).unwrap();
    assert_eq!(outputs["format_version"], "1");
    let applied: Vec<&str> = outputs["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(applied.contains(&"exo-v2-app"), "{applied:?}");
    assert!(
        ws.root().join("manifests/secrets/Exo_V2_App.pfx").exists(),
        "apply wrote the PFX the artifact step keeps"
    );

    let drift = || ws.federated_env("github-reader", "ref:refs/heads/main");
    ws.run(&file("entraform-drift.yml"), Phase::Drift, &drift());
    assert!(
        ws.read("plan.txt").contains("No changes."),
        "{}",
        ws.read("plan.txt")
    );

    ws.edit_by_hand().await;
    ws.run(
        &file("entraform-drift.yml"),
        Phase::DriftAfterHandEdit,
        &drift(),
    );
    let plan = ws.read("plan.txt");
    assert!(plan.contains("changed in the portal"), "{plan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_github_actions_workflows_run_against_the_sandbox() {
    run_ci_examples("github-actions", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_devops_pipelines_run_against_the_sandbox() {
    run_ci_examples("azure-devops", Some("templates/install-entraform.yml")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cron_script_runs_against_the_sandbox_with_a_certificate() {
    let ws = Workspace::start().await;
    // The merge already happened: the tenant has every app.
    ws.run(
        "github-actions/entraform-apply.yml",
        Phase::Merge,
        &ws.merge_env(),
    );

    // The host's own key pair; its certificate uploaded to the reader by hand.
    let cert = entraform::cert::generate(&entraform::cert::GenerateRequest {
        subject: "CN=entraform drift check".into(),
        key_type: entraform::model::KeyType::Rsa2048,
        validity: entraform::model::Period::from_days(365),
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
    let raw = ws.raw().await;
    let reader = raw
        .list("/applications?$filter=uniqueName eq 'github-reader'&$select=id")
        .await;
    let status = raw
        .patch(
            &format!("/applications/{}", reader[0]["id"].as_str().unwrap()),
            &json!({"keyCredentials": [{
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
                "key": cert.certificate().key_base64(),
                "displayName": "CN=entraform drift check",
            }]}),
        )
        .await;
    assert_eq!(status, 204);
    let pem_path = ws.root().join("github-reader.pem");
    std::fs::write(
        &pem_path,
        pem::encode_many(&[
            pem::Pem::new("CERTIFICATE", cert.certificate().der().to_vec()),
            pem::Pem::new(
                "PRIVATE KEY",
                cert.private_key().expose_pkcs8_der().to_vec(),
            ),
        ]),
    )
    .unwrap();

    let mut env = ws.base_env();
    env.insert(
        "AZURE_CLIENT_ID".into(),
        ws.app_ids["github-reader"].clone(),
    );
    env.insert(
        "AZURE_CLIENT_CERTIFICATE_PATH".into(),
        pem_path.display().to_string(),
    );
    env.insert(
        "ENTRAFORM_MANIFESTS".into(),
        ws.root().join("manifests").display().to_string(),
    );
    ws.run("cron/entraform-drift.sh", Phase::Drift, &env);
    assert!(
        ws.read("plan.txt").contains("No changes."),
        "{}",
        ws.read("plan.txt")
    );
    // The host's own certificate is reported, a month's warning before it expires.
    let certs = ws.read("certs.txt");
    assert!(
        certs
            .lines()
            .any(|l| l.starts_with("github-reader") && l.ends_with("ok")),
        "{certs}"
    );

    ws.edit_by_hand().await;
    ws.run("cron/entraform-drift.sh", Phase::DriftAfterHandEdit, &env);
    assert!(ws.read("plan.txt").contains("changed in the portal"));
}
