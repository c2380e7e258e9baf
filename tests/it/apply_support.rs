//! Helpers for the `apply_*` tests: a sandbox with an admin client, manifests written into a
//! temporary folder, plans made and executed in-process, a served sandbox for the binary, and a
//! raw-HTTP census of the tenant to find duplicates and orphans.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use entraform::apply::{self, Backoff, ExecuteOptions, Report, StopSignal};
use entraform::graph::{ClientConfig, GraphClient, RetryPolicy};
use entraform::ops::plan::{PlanRequest, PlannedRun, make_plan};
use entraform::sandbox::{self, Clock, RunningSandbox, SandboxConfig};
use serde_json::Value;

use crate::common::entraform;

/// The PFX password variable in-process tests name: cargo sets it for every test process, so
/// no test has to change the environment of a process whose other threads read it.
pub const PFX_ENV: &str = "CARGO_MANIFEST_DIR";

pub struct Tenant {
    pub sb: RunningSandbox,
    pub client: GraphClient,
    pub dir: tempfile::TempDir,
}

/// Retries quick enough for tests; the sandbox's `Retry-After` still rules 429s.
pub fn quick_client() -> ClientConfig {
    ClientConfig {
        retry: RetryPolicy {
            max_attempts: 8,
            max_elapsed: Duration::from_secs(60),
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(200),
        },
        ..ClientConfig::default()
    }
}

/// Waits for replication in small steps, within the default minute.
pub fn quick_execute() -> ExecuteOptions {
    ExecuteOptions {
        consistency: Backoff {
            first: Duration::from_millis(50),
            max_delay: Duration::from_millis(500),
            max_elapsed: Duration::from_secs(60),
        },
        settle: apply::Settle {
            interval: Duration::from_millis(20),
            max_interval: Duration::from_millis(300),
            ..apply::Settle::default()
        },
        ..ExecuteOptions::default()
    }
}

pub use crate::scale::admin_client;

pub async fn start() -> Tenant {
    start_with(SandboxConfig::new()).await
}

pub async fn start_with(config: SandboxConfig) -> Tenant {
    // On tokio's clock: virtual time in a paused runtime (`start_paused`), else the wall's pace.
    let sb = sandbox::start(config.clock(Clock::Runtime))
        .await
        .expect("the sandbox starts");
    let client = admin_client(&sb, quick_client());
    Tenant {
        sb,
        client,
        dir: tempfile::tempdir().unwrap(),
    }
}

/// The Exchange Online example with every kind of object apply creates: application, service
/// principal, an application permission and a delegated grant, a directory role, an owner, a
/// generated certificate (PFX and CER under `<dir>/secrets/`), a federated credential.
pub fn exchange_manifest(name: &str, pfx_env: &str) -> String {
    format!(
        r#"apiVersion: entraform/v1
kind: Application
metadata:
  name: {name}
spec:
  displayName: {name} automation
  description: Unattended Exchange Online automation
  signInAudience: AzureADMyOrg
  tags: [team-messaging]
  owners: [admin@contoso.onmicrosoft.com]
  apiPermissions:
    - api: Office 365 Exchange Online
      application: [Exchange.ManageAsApp]
    - api: Microsoft Graph
      delegated: [User.Read]
  adminConsent: true
  directoryRoles:
    - Exchange Administrator
  certificates:
    - name: automation
      generate:
        subject: CN={name}
        validity: 365d
        renewBefore: 30d
        pfx: secrets/{name}.pfx
        pfxPasswordEnv: {pfx_env}
        cer: secrets/{name}.cer
  federatedCredentials:
    - name: github-main
      issuer: https://token.actions.githubusercontent.com
      subject: repo:contoso/{name}:ref:refs/heads/main
"#
    )
}

/// Writes `text` to `<dir>/<file>` and returns the path.
pub fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

pub async fn plan(client: &GraphClient, paths: &[PathBuf]) -> PlannedRun {
    make_plan(
        client,
        &PlanRequest {
            paths: paths.to_vec(),
            recursive: false,
            prune: false,
        },
    )
    .await
    .unwrap()
}

/// Executes a plan with quick waits, quietly.
pub async fn execute(client: &GraphClient, plan: &entraform::plan::Plan) -> Report {
    apply::execute(client, plan, &quick_execute(), &|_| {}, &StopSignal::new()).await
}

/// Plans and executes once, collecting the progress lines.
pub async fn plan_and_execute(
    client: &GraphClient,
    paths: &[PathBuf],
    options: &ExecuteOptions,
) -> (PlannedRun, Report, Vec<String>) {
    let planned = plan(client, paths).await;
    let lines = std::sync::Mutex::new(Vec::new());
    let progress = |e: &apply::Event| lines.lock().unwrap().push(apply::progress_line(e));
    let report = apply::execute(
        client,
        &planned.plan,
        options,
        &progress,
        &StopSignal::new(),
    )
    .await;
    (planned, report, lines.into_inner().unwrap())
}

/// Plans until the plan has no changes, for at most `tries` plans: right after an apply, Graph
/// may not show every new object yet (the sandbox's replication delay), and a plan made then
/// would create it again.
pub async fn plan_until_clean(client: &GraphClient, paths: &[PathBuf], tries: usize) -> PlannedRun {
    for _ in 1..tries {
        let planned = plan(client, paths).await;
        if !planned.plan.has_changes() {
            return planned;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    plan(client, paths).await
}

/// Plans, applies completely, and plans until clean; the plan that was applied.
pub async fn apply_clean(t: &Tenant, paths: &[PathBuf]) -> entraform::plan::Plan {
    let planned = plan(&t.client, paths).await;
    let report = execute(&t.client, &planned.plan).await;
    assert!(
        report.complete(),
        "{:?} {:?}",
        outcome_names(&report),
        report.errors
    );
    let clean = plan_until_clean(&t.client, paths, 10).await;
    assert!(
        !clean.plan.has_changes(),
        "{}",
        entraform::plan::render::text(&clean.plan, false)
    );
    planned.plan
}

pub fn outcome_names(report: &Report) -> Vec<String> {
    report
        .records
        .iter()
        .map(|r| {
            let state = match r.outcome {
                apply::ActionOutcome::Done { .. } => "done",
                apply::ActionOutcome::Failed { .. } => "failed",
                apply::ActionOutcome::ConsentRequired { .. } => "consent",
                apply::ActionOutcome::NotStarted => "not started",
            };
            format!("{}: {state}", r.address)
        })
        .collect()
}

// --- raw HTTP ------------------------------------------------------------------------------

/// A bootstrap-admin token and plain reqwest, so checks do not go through the code under test.
pub struct Raw {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Raw {
    pub async fn new(base: &str, tenant: &str, client_id: &str, secret: &str) -> Raw {
        let http = reqwest::Client::new();
        let resp: Value = http
            .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Raw {
            base: base.to_owned(),
            token: resp["access_token"].as_str().unwrap().to_owned(),
            http,
        }
    }

    pub async fn of(sb: &RunningSandbox) -> Raw {
        Raw::new(
            &sb.graph_url(),
            &sb.tenant_id(),
            &sb.bootstrap_client_id(),
            sb.bootstrap_client_secret().expose(),
        )
        .await
    }

    /// Every item of a collection, pages followed. Faults (5xx, 429, dropped connections) are
    /// retried; anything else but 200 panics.
    pub async fn list(&self, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut next = Some(format!("{}/v1.0{path}", self.base));
        while let Some(url) = next {
            let (status, body) = self.fetch(&url).await;
            assert_eq!(status, 200, "GET {url}: {body}");
            out.extend(body["value"].as_array().cloned().unwrap_or_default());
            next = body["@odata.nextLink"].as_str().map(str::to_owned);
        }
        out
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.fetch(&format!("{}/v1.0{path}", self.base)).await
    }

    /// A `PATCH` (a change made behind entraform's back, to make a saved plan stale).
    pub async fn patch(&self, path: &str, body: &Value) -> u16 {
        self.write(reqwest::Method::PATCH, path, Some(body), &[])
            .await
            .0
    }

    /// A write behind entraform's back: the status and the body (`null` when there is none).
    pub async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/v1.0{path}", self.base))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let resp = request.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn fetch(&self, url: &str) -> (u16, Value) {
        for _ in 0..30 {
            let resp = match self.http.get(url).bearer_auth(&self.token).send().await {
                Ok(r) => r,
                Err(_) => continue,
            };
            let status = resp.status().as_u16();
            let wait = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let Ok(body) = resp.json::<Value>().await else {
                continue;
            };
            match status {
                429 => tokio::time::sleep(Duration::from_secs(wait.unwrap_or(1))).await,
                500..=599 => tokio::time::sleep(Duration::from_millis(20)).await,
                _ => return (status, body),
            }
        }
        panic!("GET {url}: no answer after 30 attempts")
    }

    pub async fn stats(&self) -> entraform_stats::Stats {
        let body: Value = self
            .http
            .get(format!("{}/_sandbox/stats", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        serde_json::from_value(body).unwrap()
    }
}

/// `/_sandbox/stats` as JSON (the served sandbox's counterpart of `RunningSandbox::stats`).
pub mod entraform_stats {
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, Default, serde::Deserialize)]
    pub struct Stats {
        pub total: u64,
        pub routes: BTreeMap<String, BTreeMap<String, u64>>,
        pub statuses: BTreeMap<String, u64>,
    }
}

/// Requests that change something (any method but GET), by route.
pub fn writes(routes: &BTreeMap<String, BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    routes
        .iter()
        .filter(|(route, _)| {
            route.contains(" /v1.0")
                && !route.starts_with("GET ")
                && route.as_str() != "POST /v1.0/$batch"
        })
        .map(|(route, by_status)| (route.clone(), by_status.values().sum()))
        .collect()
}

/// What exists for the apps named `names` (by `uniqueName` and display name), counted so a test
/// can assert exactly one of each: no duplicate, no orphan left by an interrupted create.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// uniqueName → applications carrying it.
    pub by_unique_name: BTreeMap<String, usize>,
    /// display name → applications carrying it (an orphan would have the name but no uniqueName).
    pub by_display_name: BTreeMap<String, usize>,
    /// uniqueName → service principals of its app.
    pub service_principals: BTreeMap<String, usize>,
    /// uniqueName → app role assignments, delegated grants, role assignments, owners,
    /// key credentials, federated credentials.
    pub app_role_assignments: BTreeMap<String, usize>,
    pub delegated_grants: BTreeMap<String, usize>,
    pub role_assignments: BTreeMap<String, usize>,
    pub owners: BTreeMap<String, usize>,
    pub keys: BTreeMap<String, usize>,
    pub federated_credentials: BTreeMap<String, usize>,
    /// uniqueName → thumbprints (customKeyIdentifier, as hex) of its key credentials.
    pub thumbprints: BTreeMap<String, Vec<String>>,
}

impl Raw {
    pub async fn census(&self, names: &[String]) -> Census {
        let mut c = Census::default();
        let apps = self
            .list("/applications?$select=id,appId,uniqueName,displayName,keyCredentials&$top=999")
            .await;
        for name in names {
            let display = format!("{name} automation");
            c.by_display_name.insert(
                display.clone(),
                apps.iter()
                    .filter(|a| a["displayName"] == display.as_str())
                    .count(),
            );
            let mine: Vec<&Value> = apps
                .iter()
                .filter(|a| a["uniqueName"] == name.as_str())
                .collect();
            c.by_unique_name.insert(name.clone(), mine.len());
            let Some(app) = mine.first() else { continue };
            let keys = app["keyCredentials"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            c.keys.insert(name.clone(), keys.len());
            c.thumbprints.insert(
                name.clone(),
                keys.iter()
                    .map(|k| {
                        // Edm.Binary: the thumbprint's bytes in base64, shown as hex.
                        use base64::Engine as _;
                        let cki = k["customKeyIdentifier"].as_str().unwrap_or_default();
                        base64::engine::general_purpose::STANDARD
                            .decode(cki)
                            .map(hex::encode_upper)
                            .unwrap_or_else(|_| cki.to_owned())
                    })
                    .collect(),
            );
            let id = app["id"].as_str().unwrap();
            let app_id = app["appId"].as_str().unwrap();
            c.owners.insert(
                name.clone(),
                self.list(&format!("/applications/{id}/owners")).await.len(),
            );
            c.federated_credentials.insert(
                name.clone(),
                self.list(&format!("/applications/{id}/federatedIdentityCredentials"))
                    .await
                    .len(),
            );
            let sps = self
                .list(&format!(
                    "/servicePrincipals?$filter=appId eq '{app_id}'&$select=id"
                ))
                .await;
            c.service_principals.insert(name.clone(), sps.len());
            let Some(sp) = sps.first() else { continue };
            let sp_id = sp["id"].as_str().unwrap();
            c.app_role_assignments.insert(
                name.clone(),
                self.list(&format!("/servicePrincipals/{sp_id}/appRoleAssignments"))
                    .await
                    .len(),
            );
            c.delegated_grants.insert(
                name.clone(),
                self.list(&format!(
                    "/oauth2PermissionGrants?$filter=clientId eq '{sp_id}'"
                ))
                .await
                .len(),
            );
            c.role_assignments.insert(
                name.clone(),
                self.list(&format!(
                    "/roleManagement/directory/roleAssignments?$filter=principalId eq '{sp_id}'"
                ))
                .await
                .len(),
            );
        }
        c
    }
}

/// One of everything for each of `names`, as the exchange manifest asks.
pub fn assert_exactly_one_of_everything(c: &Census, names: &[String]) {
    for name in names {
        let one = |what: &str, map: &BTreeMap<String, usize>| {
            assert_eq!(map.get(name).copied(), Some(1), "{name}: {what}: {c:#?}");
        };
        one("applications by uniqueName", &c.by_unique_name);
        assert_eq!(
            c.by_display_name
                .get(&format!("{name} automation"))
                .copied(),
            Some(1),
            "{name}: applications by display name (an orphan has no uniqueName): {c:#?}"
        );
        one("service principals", &c.service_principals);
        one("app role assignments", &c.app_role_assignments);
        one("delegated grants", &c.delegated_grants);
        one("directory role assignments", &c.role_assignments);
        one("owners", &c.owners);
        one("key credentials", &c.keys);
        one("federated credentials", &c.federated_credentials);
    }
}

// --- a served sandbox, for the binary ---------------------------------------------------------

/// `entraform sandbox serve --json` in its own process, so the tenant outlives any entraform
/// run (and any kill of one). Stopped (by its own pid) when dropped.
pub struct Served {
    child: Child,
    pub info: Value,
}

impl Served {
    pub fn start(state: &Path, extra: &[&str]) -> Served {
        let (child, info) = crate::common::spawn_served_sandbox(state, extra);
        Served { child, info }
    }

    pub fn field(&self, key: &str) -> &str {
        self.info[key].as_str().unwrap()
    }

    /// `entraform` pointed at this sandbox as a client-secret app, the way a pipeline runs it.
    pub fn entraform(&self) -> std::process::Command {
        let mut cmd = entraform();
        cmd.args([
            "--graph-url",
            self.field("graph_url"),
            "--login-url",
            self.field("authority_url"),
            "--tenant",
            self.field("tenant_id"),
        ])
        .env("AZURE_CLIENT_ID", self.field("client_id"))
        .env("AZURE_CLIENT_SECRET", self.field("client_secret"));
        cmd
    }

    /// A Graph client signed in as the sandbox's bootstrap admin.
    pub fn admin_client(&self) -> GraphClient {
        GraphClient::new(
            entraform::graph::GraphEndpoints::new(
                entraform::graph::Cloud::Public,
                Some(self.field("graph_url")),
                Some(self.field("authority_url")),
                Some(self.field("tenant_id")),
            )
            .unwrap(),
            entraform::graph::Credential::client_secret(
                self.field("client_id"),
                self.field("client_secret"),
            ),
            quick_client(),
        )
        .unwrap()
    }

    pub async fn raw(&self) -> Raw {
        Raw::new(
            self.field("graph_url"),
            self.field("tenant_id"),
            self.field("client_id"),
            self.field("client_secret"),
        )
        .await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --- redaction for goldens --------------------------------------------------------------------

/// Replaces what differs between runs: GUIDs and thumbprints numbered by first appearance,
/// Graph's opaque assignment ids, RFC 3339 times, elapsed times, the temporary folder.
pub fn redact(text: &str, temp: &Path) -> String {
    let text = text.replace(&temp.display().to_string(), "<tmp>");
    let mut numbered: BTreeMap<String, String> = BTreeMap::new();
    let mut out = String::new();
    for token in split_keep(&text) {
        let is_guid = token.len() == 36
            && token.char_indices().all(|(j, c)| {
                if [8, 13, 18, 23].contains(&j) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        let is_thumb = token.len() == 40 && token.chars().all(|c| c.is_ascii_hexdigit());
        let is_time =
            token.len() == 20 && token.ends_with('Z') && token.as_bytes().get(10) == Some(&b'T');
        if is_guid || is_thumb {
            let kind = if is_guid { "guid" } else { "thumbprint" };
            let n = numbered.len() + 1;
            out.push_str(
                numbered
                    .entry(token.to_lowercase())
                    .or_insert_with(|| format!("<{kind}-{n}>")),
            );
        } else if is_time {
            out.push_str("<time>");
        } else {
            out.push_str(token);
        }
    }
    // Durations and opaque ids: `after 3s` → `after <t>`, `[id=KH2o…]` → `[id=<opaque>]`.
    let mut lines = Vec::new();
    for line in out.lines() {
        let mut l = line.to_owned();
        // `after 3s`, `after 1m5s`: a run of digits and h/m/s after " after ".
        if let Some(at) = l.find(" after ")
            && l[at + 7..].starts_with(|c: char| c.is_ascii_digit())
        {
            let end = l[at + 7..]
                .find(|c: char| !(c.is_ascii_digit() || "hms".contains(c)))
                .map_or(l.len(), |e| at + 7 + e);
            l.replace_range(at + 7..end, "<t>");
        }
        if let Some(at) = l.find("[id=")
            && !l[at..].starts_with("[id=<guid")
            && let Some(end) = l[at..].find(']')
        {
            l.replace_range(at + 4..at + end, "<opaque>");
        }
        lines.push(l);
    }
    let mut joined = lines.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

/// Splits into runs of "word" characters (alphanumerics, `-`, `:`) and everything else, so a
/// GUID, a thumbprint or a timestamp is one token.
fn split_keep(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        let word = c.is_ascii_alphanumeric() || c == '-' || c == ':';
        if i == 0 {
            in_word = word;
            continue;
        }
        if word != in_word {
            out.push(&text[start..i]);
            start = i;
            in_word = word;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}
