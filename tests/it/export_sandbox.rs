//! `entraform export` against the sandbox: apps made by hand the way the Exchange Online
//! PowerShell walkthrough makes them (raw Graph calls, no entraform code) export to manifests
//! whose plan is exactly their adoption; `--all-owned` finds what the signed-in app owns; the
//! reads stay batched; nothing is ever overwritten.

use std::path::Path;

use base64::Engine as _;
use entraform::ops::export::{self, ExportError, Selection};
use entraform::sandbox::{self, RunningSandbox, SandboxConfig};
use serde_json::{Value, json};
use sha1::Digest as _;

use crate::common::{entraform, stderr, stdout};

const EXCHANGE: &str = "00000002-0000-0ff1-ce00-000000000000";
const MANAGE_AS_APP: &str = "dc50a0fb-09a3-484d-be87-e023b12c6440";
const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";

/// Graph over plain HTTP, signed in as the sandbox's bootstrap admin: what a PowerShell
/// script's `Invoke-MgGraphRequest` amounts to.
pub struct RawGraph {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl RawGraph {
    pub async fn sign_in(sb: &RunningSandbox) -> Self {
        let http = reqwest::Client::new();
        let form = [
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", sb.bootstrap_client_id()),
            (
                "client_secret",
                sb.bootstrap_client_secret().expose().to_owned(),
            ),
            ("scope", "https://graph.microsoft.com/.default".to_owned()),
        ];
        let answer: Value = http
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                sb.authority_url(),
                sb.tenant_id()
            ))
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            http,
            base: format!("{}/v1.0", sb.graph_url()),
            token: answer["access_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await;
    }
}

/// What the walkthrough made, to compare after apply.
#[derive(Debug, Clone, PartialEq)]
pub struct HandMade {
    pub app_object_id: String,
    pub app_id: String,
    pub sp_object_id: String,
    pub key_id: String,
    pub thumbprint: String,
}

/// A self-signed RSA certificate made with rcgen, as `New-SelfSignedCertificate` would: DER.
fn self_signed(cn: &str) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.self_signed(&key).unwrap().der().to_vec()
}

/// The Exchange Online app-only walkthrough, step by step: the registration declaring
/// Exchange.ManageAsApp, its service principal, the Exchange Administrator role, the
/// certificate PATCHed into keyCredentials (Graph's add-certificate how-to: thumbprint in
/// customKeyIdentifier, subject as display name), and the app role assignment (admin consent).
pub async fn walkthrough_app(graph: &RawGraph, name: &str) -> HandMade {
    let app = graph
        .post(
            "/applications",
            json!({
                "displayName": name,
                "signInAudience": "AzureADMyOrg",
                "requiredResourceAccess": [{
                    "resourceAppId": EXCHANGE,
                    "resourceAccess": [{"id": MANAGE_AS_APP, "type": "Role"}]
                }]
            }),
        )
        .await;
    let app_object_id = app["id"].as_str().unwrap().to_owned();
    let app_id = app["appId"].as_str().unwrap().to_owned();
    let sp = graph
        .post("/servicePrincipals", json!({"appId": app_id}))
        .await;
    let sp_object_id = sp["id"].as_str().unwrap().to_owned();
    graph
        .post(
            "/roleManagement/directory/roleAssignments",
            json!({
                "principalId": sp_object_id,
                "roleDefinitionId": EXCHANGE_ADMINISTRATOR,
                "directoryScopeId": "/"
            }),
        )
        .await;
    let der = self_signed(name);
    let thumbprint = hex::encode_upper(sha1::Sha1::digest(&der));
    graph
        .patch(
            &format!("/applications/{app_object_id}"),
            json!({"keyCredentials": [{
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
                "key": base64::engine::general_purpose::STANDARD.encode(&der),
                "customKeyIdentifier": thumbprint,
                "displayName": format!("CN={name}"),
            }]}),
        )
        .await;
    let exchange = graph
        .get(&format!(
            "/servicePrincipals(appId='{EXCHANGE}')?$select=id"
        ))
        .await;
    graph
        .post(
            &format!("/servicePrincipals/{sp_object_id}/appRoleAssignments"),
            json!({
                "principalId": sp_object_id,
                "resourceId": exchange["id"],
                "appRoleId": MANAGE_AS_APP
            }),
        )
        .await;
    let keys = graph
        .get(&format!(
            "/applications/{app_object_id}?$select=keyCredentials"
        ))
        .await;
    HandMade {
        app_object_id,
        app_id,
        sp_object_id,
        key_id: keys["keyCredentials"][0]["keyId"]
            .as_str()
            .unwrap()
            .to_owned(),
        thumbprint,
    }
}

/// A sandbox whose state lives in `dir`, so `entraform --sandbox` commands see the same tenant.
pub async fn sandbox_in(dir: &Path) -> RunningSandbox {
    sandbox::start(SandboxConfig::new().state_path(dir.join("tenant.json")))
        .await
        .unwrap()
}

/// `entraform --sandbox --sandbox-state <dir>/tenant.json <args…>`.
pub fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
    entraform()
        .arg("--sandbox")
        .arg("--sandbox-state")
        .arg(dir.join("tenant.json"))
        .args(args)
        .output()
        .unwrap()
}

fn path_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The changes of `plan --format json`, as (address, action).
pub fn planned_changes(
    dir: &Path,
    manifests: &Path,
) -> (Option<i32>, Vec<(String, String)>, Value) {
    let out = cli(
        dir,
        &[
            "plan",
            "--format",
            "json",
            "--detailed-exitcode",
            path_arg(manifests),
        ],
    );
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "plan failed: {}",
        stderr(&out)
    );
    let plan: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let changes = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_owned(),
                c["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (out.status.code(), changes, plan)
}

#[tokio::test(flavor = "multi_thread")]
async fn hand_made_apps_export_to_manifests_that_plan_exactly_their_adoption() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox_in(dir.path()).await;
    let graph = RawGraph::sign_in(&sb).await;
    let exo = walkthrough_app(&graph, "Exo_V2_App").await;
    let audit = walkthrough_app(&graph, "Exo_V2_Audit").await;
    // A client secret, which no manifest can carry: reported by its hint, never by value.
    let secret = graph
        .post(
            &format!("/applications/{}/addPassword", audit.app_object_id),
            json!({"passwordCredential": {"displayName": "legacy"}}),
        )
        .await;
    let secret_text = secret["secretText"].as_str().unwrap().to_owned();
    sb.shutdown().await.unwrap();

    let manifests = dir.path().join("manifests");
    for name in ["Exo_V2_App", "Exo_V2_Audit"] {
        let out = cli(
            dir.path(),
            &[
                "export",
                "--display-name",
                name,
                "--out",
                path_arg(&manifests),
            ],
        );
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(!stdout(&out).contains(&secret_text) && !stderr(&out).contains(&secret_text));
    }
    let exported = std::fs::read_to_string(manifests.join("exo-v2-audit.yaml")).unwrap();
    assert!(!exported.contains(&secret_text));
    assert!(
        exported.contains("client secret \"legacy\" (hint"),
        "{exported}"
    );
    assert!(exported.contains(&format!("appId: {}", audit.app_id)));
    let cer = manifests.join(format!("certs/exo-v2-app-{}.cer", exo.thumbprint));
    assert!(cer.exists(), "{} was not written", cer.display());

    let (code, changes, plan) = planned_changes(dir.path(), &manifests);
    assert_eq!(code, Some(2));
    assert_eq!(
        changes,
        [
            ("application.exo-v2-app".to_owned(), "update".to_owned()),
            ("application.exo-v2-audit".to_owned(), "update".to_owned()),
        ]
    );
    // Each change is the adoption: the uniqueName and the managed tag, nothing else.
    for (change, name) in plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["exo-v2-app", "exo-v2-audit"])
    {
        assert_eq!(change["before"]["unique_name"], Value::Null);
        assert_eq!(change["after"]["unique_name"], name);
        assert_eq!(change["after"]["tags"], json!(["entraform:managed"]));
        let before = change["before"].as_object().unwrap();
        let after = change["after"].as_object().unwrap();
        let differing: Vec<&String> = after
            .keys()
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        assert_eq!(differing, ["unique_name", "tags"], "{change:#}");
    }

    let applied = cli(
        dir.path(),
        &["apply", "--auto-approve", path_arg(&manifests)],
    );
    assert!(applied.status.success(), "{}", stderr(&applied));
    let (code, changes, _) = planned_changes(dir.path(), &manifests);
    assert_eq!((code, changes), (Some(0), Vec::new()));

    // Nothing was recreated: the same objects, the same key.
    let sb = sandbox_in(dir.path()).await;
    let graph = RawGraph::sign_in(&sb).await;
    for (before, name) in [(&exo, "exo-v2-app"), (&audit, "exo-v2-audit")] {
        let app = graph
            .get(&format!(
                "/applications(appId='{}')?$select=id,uniqueName,tags,keyCredentials",
                before.app_id
            ))
            .await;
        assert_eq!(app["id"], before.app_object_id.as_str());
        assert_eq!(app["uniqueName"], name);
        assert_eq!(app["tags"], json!(["entraform:managed"]));
        let keys = app["keyCredentials"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["keyId"], before.key_id.as_str());
        let sp = graph
            .get(&format!(
                "/servicePrincipals(appId='{}')?$select=id",
                before.app_id
            ))
            .await;
        assert_eq!(sp["id"], before.sp_object_id.as_str());
    }
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_manifests_apply_export_and_plan_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let examples = dir.path().join("examples");
    std::fs::create_dir(&examples).unwrap();
    for entry in std::fs::read_dir(crate::common::repo_root().join("manifests")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            std::fs::copy(&path, examples.join(path.file_name().unwrap())).unwrap();
        }
    }
    let with_passwords = |args: &[&str]| {
        entraform()
            .env("EXO_PFX_PASSWORD", "exo-test-password")
            .env("USAGE_REPORTS_PFX_PASSWORD", "usage-test-password")
            .env("SP_BACKUP_PFX_PASSWORD", "backup-test-password")
            .arg("--sandbox")
            .arg("--sandbox-state")
            .arg(dir.path().join("tenant.json"))
            .args(args)
            .output()
            .unwrap()
    };
    let applied = with_passwords(&["apply", "--auto-approve", path_arg(&examples)]);
    assert!(applied.status.success(), "{}", stderr(&applied));

    let exported = dir.path().join("exported");
    let names = [
        "Exo_V2_App",
        "GitHub Deployer (contoso/platform)",
        "Usage Reports Collector",
        "Contoso Intranet",
        "SharePoint Backup Agent",
    ];
    for name in names {
        let out = cli(
            dir.path(),
            &[
                "export",
                "--display-name",
                name,
                "--out",
                path_arg(&exported),
            ],
        );
        assert!(out.status.success(), "{name}: {}", stderr(&out));
    }
    // Managed apps keep their names, and are not adopted again.
    for file in [
        "exo-v2-app.yaml",
        "github-deployer.yaml",
        "usage-reports.yaml",
        "intranet-portal.yaml",
        "sharepoint-backup.yaml",
    ] {
        let text = std::fs::read_to_string(exported.join(file)).unwrap();
        assert!(!text.contains("appId:"), "{file}:\n{text}");
    }
    let (code, changes, plan) = planned_changes(dir.path(), &exported);
    assert_eq!((code, changes), (Some(0), Vec::new()), "{plan:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_export_reports_what_it_cannot_express_on_stderr_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox_in(dir.path()).await;
    let graph = RawGraph::sign_in(&sb).await;
    let app = walkthrough_app(&graph, "Exo_V2_App").await;
    graph
        .patch(
            &format!("/applications/{}", app.app_object_id),
            json!({"isDeviceOnlyAuthSupported": true}),
        )
        .await;
    sb.shutdown().await.unwrap();

    let manifests = dir.path().join("manifests");
    let args = [
        "export",
        "--app-id",
        &app.app_id,
        "--out",
        path_arg(&manifests),
    ];
    let first = cli(dir.path(), &args);
    assert!(first.status.success(), "{}", stderr(&first));
    let err = stderr(&first);
    assert!(
        err.contains(
            "warning: exo-v2-app: not in the manifest, left as it is: isDeviceOnlyAuthSupported: true"
        ),
        "{err}"
    );
    assert!(err.contains("private keys cannot be exported"), "{err}");
    assert_eq!(
        stdout(&first).trim(),
        manifests.join("exo-v2-app.yaml").display().to_string()
    );
    let before = std::fs::read(manifests.join("exo-v2-app.yaml")).unwrap();

    let second = cli(dir.path(), &args);
    assert_eq!(second.status.code(), Some(1));
    let err = stderr(&second);
    assert!(err.contains("export never overwrites a file"), "{err}");
    assert!(
        err.contains("hint: export into another folder with `--out`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(manifests.join("exo-v2-app.yaml")).unwrap(),
        before
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn all_owned_exports_only_what_the_signed_in_app_owns() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox_in(dir.path()).await;
    let graph = RawGraph::sign_in(&sb).await;
    let mine = walkthrough_app(&graph, "Owned By Automation").await;
    walkthrough_app(&graph, "Someone Else's").await;
    let me = graph
        .get(&format!(
            "/servicePrincipals(appId='{}')?$select=id",
            sb.bootstrap_client_id()
        ))
        .await;
    graph
        .post(
            &format!("/applications/{}/owners/$ref", mine.app_object_id),
            json!({"@odata.id": format!("{}/directoryObjects/{}", graph.base, me["id"].as_str().unwrap())}),
        )
        .await;

    let client = crate::graph_support::admin_client(&sb, crate::graph_support::quick());
    let result = export::export(&client, &Selection::AllOwned).await.unwrap();
    let names: Vec<&str> = result.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["owned-by-automation"]);
    // Graph's list of what the service principal owns, not every app with its owners.
    assert_eq!(
        sb.stats()
            .count("GET /v1.0/servicePrincipals/{id}/ownedObjects/microsoft.graph.application"),
        1
    );
    // The owner is a service principal: written by object id.
    assert!(
        result.apps[0]
            .manifest
            .contains(&format!("owners: [{}]", me["id"].as_str().unwrap())),
        "{}",
        result.apps[0].manifest
    );
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slug_another_app_already_uses_as_unique_name_gets_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox_in(dir.path()).await;
    let graph = RawGraph::sign_in(&sb).await;
    graph
        .post(
            "/applications",
            json!({"displayName": "Someone's", "uniqueName": "exo-v2-app"}),
        )
        .await;
    let app = walkthrough_app(&graph, "Exo_V2_App").await;
    let client = crate::graph_support::admin_client(&sb, crate::graph_support::quick());
    let id = app.app_id.parse().unwrap();
    let result = export::export(&client, &Selection::AppId(id))
        .await
        .unwrap();
    assert_eq!(result.apps[0].name, "exo-v2-app-2");
    let missing = export::export(&client, &Selection::DisplayName("No Such App".into())).await;
    assert!(
        matches!(
            missing,
            Err(entraform::Error::Export(ExportError::NoSuchDisplayName(_)))
        ),
        "{missing:?}"
    );
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn exporting_many_apps_reads_them_in_a_few_batched_requests() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox_in(dir.path()).await;
    let graph = RawGraph::sign_in(&sb).await;
    let apps = 32;
    for i in 0..apps {
        walkthrough_app(&graph, &format!("Mailbox Job {i:02}")).await;
    }
    let client = crate::graph_support::admin_client(&sb, crate::graph_support::quick());
    let before = sb.stats();
    let result = export::export(&client, &Selection::All).await.unwrap();
    let after = sb.stats();
    let used = client.stats();
    // The 32 jobs and the sandbox's own admin app.
    assert_eq!(result.apps.len(), apps + 1);
    let routes: Vec<String> = after
        .routes
        .iter()
        .filter(|(route, by_status)| {
            by_status.values().sum::<u64>()
                > before.routes.get(*route).map_or(0, |s| s.values().sum())
        })
        .map(|(route, _)| route.clone())
        .collect();
    // One application at a time only for its certificates: Graph returns `key` to no list
    // (keyCredential reference), so each app with keys is one read, batched 20 per request.
    let single = |s: &entraform::sandbox::Stats| s.count("GET /v1.0/applications/{id}");
    let with_keys = result
        .apps
        .iter()
        .filter(|a| !a.certificates.is_empty())
        .count() as u64;
    assert_eq!(single(&after) - single(&before), with_keys, "{routes:?}");
    assert!(
        !routes.iter().any(|r| r.starts_with("GET /v1.0/applications/")
            && r != "GET /v1.0/applications/{id}"),
        "{routes:?}"
    );
    println!(
        "{} HTTP requests, {} Graph operations for {} apps",
        used.http_requests,
        used.operations,
        apps + 1
    );
    // Sign-in, the selection, observe's rounds and one more round (with the certificate reads,
    // ⌈apps/20⌉ batches): none grows one per app, except Graph's one-per-client delegated grant
    // filter and the certificate reads, which ride in the batches.
    assert!(used.http_requests <= 14, "{used:?}: {routes:?}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_whose_unique_name_no_manifest_can_carry_is_not_exported() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox_in(dir.path()).await;
    let graph = RawGraph::sign_in(&sb).await;
    let app = graph
        .post(
            "/applications",
            json!({"displayName": "Legacy App", "uniqueName": "legacy_app"}),
        )
        .await;
    sb.shutdown().await.unwrap();

    let out_dir = dir.path().join("manifests");
    let app_id = app["appId"].as_str().unwrap();
    let out = cli(
        dir.path(),
        &["export", "--app-id", app_id, "--out", path_arg(&out_dir)],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("warning: `Legacy App` (appId")
            && err.contains("its uniqueName `legacy_app` is not a valid `metadata.name`"),
        "{err}"
    );
    assert!(
        err.contains("error: the application selected cannot be exported"),
        "{err}"
    );
    assert!(!out_dir.exists());

    let bad = cli(dir.path(), &["export", "--app-id", "not-a-guid"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("`--app-id`: `not-a-guid` is not a GUID"),
        "{}",
        stderr(&bad)
    );
    let missing = cli(
        dir.path(),
        &["export", "--app-id", "6b3c1e2a-0000-4000-8000-000000000001"],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing)
            .contains("error: no application has appId 6b3c1e2a-0000-4000-8000-000000000001"),
        "{}",
        stderr(&missing)
    );
}
