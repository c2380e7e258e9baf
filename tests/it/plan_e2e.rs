//! End-to-end golden plans: manifest + sandbox state → text, JSON and markdown, through the real
//! pipeline (manifest loading, observe over HTTP, the planner, the renderers).
//!
//! Each folder under `tests/plan/e2e/` holds:
//! - `manifest.yaml`, copied into a temporary folder before planning, with `${var.field}`
//!   references filled in (an adopted appId is only known once the setup made the app);
//! - `setup.json`, the tenant's state as the raw Graph requests that build it on a fresh sandbox
//!   (the way a hand-made setup would). A step `{"certificate": "name", "validity_days": N,
//!   "age_days": M}` generates a certificate whose `${name.key}`, `${name.thumbprint}`,
//!   `${name.start}` and `${name.end}` later steps can use; a request step may save its answer
//!   `"as"` a variable, whose fields later steps reach by path (`${users.value.0.id}`). `${exchange.id}` and `${graph.id}` are the resource service principals;
//! - `case.json` (optional): `{"prune": true}`;
//! - the expected `plan.txt`, `plan.json`, `plan.md`, or `error.txt` when planning must fail.
//!
//! GUIDs, thumbprints, timestamps and the temporary folder are redacted, so the files are stable.
//! `ENTRAFORM_BLESS=1 cargo test --test it plan_e2e` rewrites them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use entraform::cert::{self, GenerateRequest};
use entraform::graph::{ClientConfig, GraphClient};
use entraform::model::{KeyType, Period};
use entraform::ops::plan::{PlanRequest, make_plan};
use entraform::plan::render;
use entraform::sandbox::{self, RunningSandbox, SandboxConfig};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::common::repo_root;
use crate::scale;

fn cases_dir() -> PathBuf {
    repo_root().join("tests/plan/e2e")
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CaseOptions {
    #[serde(default)]
    prune: bool,
}

#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum Step {
    Certificate {
        certificate: String,
        validity_days: u64,
        #[serde(default)]
        age_days: i64,
    },
    Request {
        method: String,
        path: String,
        #[serde(default)]
        headers: HashMap<String, String>,
        #[serde(default)]
        body: Option<Value>,
        #[serde(default, rename = "as")]
        save_as: Option<String>,
    },
}

/// Variables that setup steps and the manifest can reference: `name` → JSON object.
struct Vars(HashMap<String, Value>);

impl Vars {
    /// Replaces every `${name.field}` in `text`.
    fn fill(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .map(|e| start + e)
                .unwrap_or_else(|| panic!("unclosed `${{` in {text}"));
            let reference = &rest[start + 2..end];
            let mut path = reference.split('.');
            let name = path.next().unwrap_or_default();
            let mut value = self
                .0
                .get(name)
                .unwrap_or_else(|| panic!("no variable `{name}`"));
            for field in path {
                value = match field.parse::<usize>() {
                    Ok(index) => &value[index],
                    Err(_) => &value[field],
                };
            }
            match value {
                Value::String(s) => out.push_str(s),
                Value::Null => panic!("`${{{reference}}}` is not set"),
                other => out.push_str(&other.to_string()),
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn fill_json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.fill(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.fill_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

async fn set_up(sandbox: &RunningSandbox, client: &GraphClient, steps: &[Step]) -> Vars {
    let mut vars = Vars(HashMap::new());
    for (name, app_id) in [
        ("exchange", scale::EXCHANGE_APP_ID),
        ("graph", "00000003-0000-0000-c000-000000000000"),
    ] {
        let sp: Value = client
            .get(&format!("/servicePrincipals(appId='{app_id}')?$select=id"))
            .await
            .unwrap();
        vars.0.insert(name.to_owned(), sp);
    }
    let token = client
        .token_for("https://graph.microsoft.com/.default")
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for step in steps {
        match step {
            Step::Certificate {
                certificate,
                validity_days,
                age_days,
            } => {
                let generated = cert::generate(&GenerateRequest {
                    subject: format!("CN={certificate}"),
                    key_type: KeyType::Rsa2048,
                    validity: Period::from_days(*validity_days),
                    now: OffsetDateTime::now_utc() - time::Duration::days(*age_days),
                })
                .unwrap();
                let c = generated.certificate();
                vars.0.insert(
                    certificate.clone(),
                    json!({
                        "key": c.key_base64(),
                        "thumbprint": c.thumbprint().to_hex(),
                        "start": c.start_date_time(),
                        "end": c.end_date_time(),
                    }),
                );
            }
            Step::Request {
                method,
                path,
                headers,
                body,
                save_as,
            } => {
                let url = format!("{}/v1.0{}", sandbox.graph_url(), vars.fill(path));
                let mut request = http
                    .request(method.parse().unwrap(), &url)
                    .bearer_auth(token.token.expose());
                for (k, v) in headers {
                    request = request.header(k, v);
                }
                if let Some(body) = body {
                    request = request.json(&vars.fill_json(body));
                }
                let response = request.send().await.unwrap();
                let status = response.status();
                let text = response.text().await.unwrap();
                assert!(
                    status.is_success(),
                    "setup {method} {path}: {status}\n{text}"
                );
                if let Some(name) = save_as {
                    vars.0
                        .insert(name.clone(), serde_json::from_str(&text).unwrap());
                }
            }
        }
    }
    vars
}

/// Replaces what differs between runs with stable placeholders: GUIDs, thumbprints and opaque
/// assignment ids numbered by first appearance, timestamps, and the temporary folder.
fn redact(text: &str, temp: &Path) -> String {
    let text = text.replace(&temp.display().to_string(), "<case>");
    let mut out = String::new();
    let mut numbered: HashMap<String, String> = HashMap::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let is_hex = |c: char| c.is_ascii_hexdigit();
    while i < chars.len() {
        let at_boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let take = |n: usize| -> Option<String> {
            (i + n <= chars.len()).then(|| chars[i..i + n].iter().collect())
        };
        let after_ok = |n: usize| i + n == chars.len() || !chars[i + n].is_ascii_alphanumeric();
        if at_boundary
            && let Some(candidate) = take(36)
            && after_ok(36)
            && candidate.char_indices().all(|(j, c)| {
                if [8, 13, 18, 23].contains(&j) {
                    c == '-'
                } else {
                    is_hex(c)
                }
            })
        {
            let next = numbered.len() + 1;
            out.push_str(
                numbered
                    .entry(candidate.to_lowercase())
                    .or_insert_with(|| format!("<guid-{next}>")),
            );
            i += 36;
            continue;
        }
        if at_boundary
            && let Some(candidate) = take(40)
            && after_ok(40)
            && candidate.chars().all(is_hex)
        {
            let next = numbered.len() + 1;
            out.push_str(
                numbered
                    .entry(candidate.to_uppercase())
                    .or_insert_with(|| format!("<thumbprint-{next}>")),
            );
            i += 40;
            continue;
        }
        // Opaque ids (role and app role assignments): long base64url runs.
        if at_boundary {
            let run = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
                .count();
            if run >= 40 {
                let candidate: String = chars[i..i + run].iter().collect();
                let next = numbered.len() + 1;
                out.push_str(
                    numbered
                        .entry(candidate)
                        .or_insert_with(|| format!("<id-{next}>")),
                );
                i += run;
                continue;
            }
        }
        // RFC 3339 timestamps (2026-11-28T20:26:16Z, with optional fraction) and dates.
        if at_boundary
            && let Some(date) = take(10)
            && date.len() == 10
            && date.char_indices().all(|(j, c)| {
                if j == 4 || j == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            })
        {
            let mut end = i + 10;
            if end < chars.len() && chars[end] == 'T' {
                end += 1;
                while end < chars.len()
                    && (chars[end].is_ascii_digit() || matches!(chars[end], ':' | '.'))
                {
                    end += 1;
                }
                if end < chars.len() && chars[end] == 'Z' {
                    end += 1;
                }
                out.push_str("<timestamp>");
            } else {
                out.push_str("<date>");
            }
            i = end;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

async fn outputs(case: &str) -> Vec<(&'static str, String)> {
    let dir = cases_dir().join(case);
    let steps: Vec<Step> = match std::fs::read_to_string(dir.join("setup.json")) {
        Ok(text) => {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{case}/setup.json: {e}"))
        }
        Err(_) => Vec::new(),
    };
    let options: CaseOptions = std::fs::read_to_string(dir.join("case.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_default();

    let sandbox = sandbox::start(SandboxConfig::new()).await.unwrap();
    let client = scale::admin_client(&sandbox, ClientConfig::default());
    let vars = set_up(&sandbox, &client, &steps).await;

    let temp = tempfile::tempdir().unwrap();
    let manifest = temp.path().join("manifest.yaml");
    let text = std::fs::read_to_string(dir.join("manifest.yaml")).unwrap();
    std::fs::write(&manifest, vars.fill(&text)).unwrap();

    let planned = make_plan(
        &client,
        &PlanRequest {
            paths: vec![manifest],
            recursive: false,
            prune: options.prune,
        },
    )
    .await;
    sandbox.shutdown().await.unwrap();
    let temp_path = temp.path().to_path_buf();
    match planned {
        Ok(run) => vec![
            ("plan.txt", render::text(&run.plan, false)),
            ("plan.json", render::json(&run.plan, false)),
            ("plan.md", render::markdown(&run.plan, false)),
        ]
        .into_iter()
        .map(|(name, text)| (name, redact(&text, &temp_path)))
        .collect(),
        Err(err) => vec![(
            "error.txt",
            redact(&entraform::output::render_error(&err, false), &temp_path),
        )],
    }
}

async fn check(case: &str) {
    let dir = cases_dir().join(case);
    // Days left are calendar days: a run that straddles midnight UTC counts one fewer, so it
    // runs again rather than fail.
    let mut actual;
    loop {
        let day = OffsetDateTime::now_utc().date();
        actual = outputs(case).await;
        if OffsetDateTime::now_utc().date() == day {
            break;
        }
    }
    crate::common::assert_goldens(
        case,
        &dir,
        &["plan.txt", "plan.json", "plan.md", "error.txt"],
        |name| {
            actual
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.clone())
        },
    );
}

#[test]
fn every_case_folder_has_a_test() {
    let mut folders: Vec<String> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut tested: Vec<&str> = CASES.to_vec();
    tested.sort();
    assert_eq!(folders, tested);
}

const CASES: &[&str] = &[
    "adopt-by-app-id",
    "api-name-with-url-characters",
    "certificate-due-for-rotation",
    "drift-in-each-field",
    "extra-unmanaged-key-credential",
    "fresh-tenant",
    "names-the-tenant-does-not-know",
    "no-changes",
    "notes-after-the-tables",
    "protected-app",
    "prune",
    "removed-role-assignment",
    "unknown-permission",
    "unmentioned-without-prune",
];

macro_rules! cases {
    ($($name:ident => $folder:literal,)*) => {$(
        #[tokio::test]
        async fn $name() {
            check($folder).await;
        }
    )*};
}

cases! {
    adopt_by_app_id => "adopt-by-app-id",
    api_name_with_url_characters => "api-name-with-url-characters",
    certificate_due_for_rotation => "certificate-due-for-rotation",
    drift_in_each_field => "drift-in-each-field",
    extra_unmanaged_key_credential => "extra-unmanaged-key-credential",
    fresh_tenant => "fresh-tenant",
    names_the_tenant_does_not_know => "names-the-tenant-does-not-know",
    no_changes => "no-changes",
    notes_after_the_tables => "notes-after-the-tables",
    protected_app => "protected-app",
    prune => "prune",
    removed_role_assignment => "removed-role-assignment",
    unknown_permission => "unknown-permission",
    unmentioned_without_prune => "unmentioned-without-prune",
}
