//! A tenant with many managed apps, for the request-budget test and the plan benchmark: each app
//! has Exchange.ManageAsApp granted, the Exchange Administrator role and a certificate, exactly
//! as its manifest asks, so a plan of them finds no changes. Seeded through `$batch` over real
//! HTTP, as a client would.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use entraform::cert::{self, GenerateRequest};
use entraform::graph::{BatchRequest, ClientConfig, GraphClient, GraphEndpoints, RetrySafety};
use entraform::model::{KeyType, Period};
use entraform::sandbox::RunningSandbox;
use futures_util::StreamExt;
use serde_json::{Value, json};

pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
pub const MANAGE_AS_APP: &str = "dc50a0fb-09a3-484d-be87-e023b12c6440";
pub const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";

/// A client signed in as the sandbox's bootstrap admin.
pub fn admin_client(sandbox: &RunningSandbox, config: ClientConfig) -> GraphClient {
    let endpoints = GraphEndpoints::new(
        entraform::graph::Cloud::Public,
        Some(&sandbox.graph_url()),
        Some(&sandbox.authority_url()),
        Some(&sandbox.tenant_id()),
    )
    .expect("sandbox endpoints");
    let credential = entraform::graph::Credential::client_secret(
        sandbox.bootstrap_client_id(),
        sandbox.bootstrap_client_secret().expose(),
    );
    GraphClient::new(endpoints, credential, config).expect("client")
}

pub fn app_name(i: usize) -> String {
    format!("scale-app-{i:04}")
}

/// Creates `count` apps as their manifests describe and writes those manifests (one file) and
/// the shared public certificate into `dir`. Returns the manifest path.
pub async fn seed(client: &GraphClient, dir: &Path, count: usize) -> PathBuf {
    let generated = write_certificate(dir);
    let certificate = generated.certificate();

    let exchange: Value = client
        .get(&format!(
            "/servicePrincipals(appId='{EXCHANGE_APP_ID}')?$select=id"
        ))
        .await
        .expect("Exchange Online service principal");
    let exchange_sp = exchange["id"].as_str().expect("id").to_owned();

    let key_credential = json!({
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "key": certificate.key_base64(),
        "customKeyIdentifier": certificate.thumbprint().to_hex(),
        "displayName": "CN=scale",
        "startDateTime": certificate.start_date_time(),
        "endDateTime": certificate.end_date_time(),
    });
    let apps = answers(
        client,
        (0..count)
            .map(|i| {
                BatchRequest::upsert(
                    format!("/applications(uniqueName='{}')", app_name(i)),
                    json!({
                        "displayName": format!("Scale App {i:04}"),
                        "signInAudience": "AzureADMyOrg",
                        "tags": [entraform::model::MANAGED_BY_TAG],
                        "requiredResourceAccess": [{
                            "resourceAppId": EXCHANGE_APP_ID,
                            "resourceAccess": [{"id": MANAGE_AS_APP, "type": "Role"}],
                        }],
                        "keyCredentials": [key_credential.clone()],
                    }),
                )
            })
            .collect(),
    )
    .await;
    let sps = answers(
        client,
        apps.iter()
            .map(|app| {
                BatchRequest::upsert(
                    format!(
                        "/servicePrincipals(appId='{}')",
                        app["appId"].as_str().unwrap()
                    ),
                    json!({}),
                )
            })
            .collect(),
    )
    .await;
    let mut grants = Vec::new();
    for sp in &sps {
        let sp = sp["id"].as_str().unwrap();
        grants.push(BatchRequest::post(
            format!("/servicePrincipals/{exchange_sp}/appRoleAssignedTo"),
            json!({"principalId": sp, "resourceId": exchange_sp, "appRoleId": MANAGE_AS_APP}),
            RetrySafety::NotIdempotent,
        ));
        grants.push(BatchRequest::post(
            "/roleManagement/directory/roleAssignments",
            json!({"principalId": sp, "roleDefinitionId": EXCHANGE_ADMINISTRATOR, "directoryScopeId": "/"}),
            RetrySafety::NotIdempotent,
        ));
    }
    answers(client, grants).await;
    write_manifests(dir, count)
}

/// The certificate every app shares, written as `scale.cer` in `dir`.
pub fn write_certificate(dir: &Path) -> cert::GeneratedCertificate {
    let generated = cert::generate(&GenerateRequest {
        subject: "CN=scale".to_owned(),
        key_type: KeyType::Rsa2048,
        validity: Period::from_days(365),
        now: time::OffsetDateTime::now_utc(),
    })
    .expect("certificate");
    cert::write_cer_file(&dir.join("scale.cer"), generated.certificate()).expect("cer");
    generated
}

/// Apps per manifest file: a file stays well under the 1 MiB a manifest may be.
const APPS_PER_FILE: usize = 1000;

/// The manifests of [`seed`]'s apps, whether or not the apps exist yet (a plan of an empty
/// tenant creates them all): the folder `scale/` beside `scale.cer`, one file per
/// [`APPS_PER_FILE`] apps, as a large tenant's repository would split them.
pub fn write_manifests(dir: &Path, count: usize) -> PathBuf {
    let folder = dir.join("scale");
    std::fs::create_dir_all(&folder).expect("manifest folder");
    for (file, first) in (0..count).step_by(APPS_PER_FILE).enumerate() {
        let mut manifests = String::new();
        for i in first..count.min(first + APPS_PER_FILE) {
            manifests.push_str(&format!(
                "---\napiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  displayName: Scale App {i:04}\n  apiPermissions:\n    - api: Office 365 Exchange Online\n      application: [Exchange.ManageAsApp]\n  directoryRoles: [Exchange Administrator]\n  certificates:\n    - name: shared\n      file: ../scale.cer\n",
                name = app_name(i)
            ));
        }
        std::fs::write(folder.join(format!("scale-{file:02}.yaml")), manifests).expect("manifests");
    }
    folder
}

/// Sends requests through `$batch` and returns every answer's body, failing on any error.
async fn answers(client: &GraphClient, requests: Vec<BatchRequest>) -> Vec<Value> {
    client
        .batch(requests)
        .await
        .expect("batch")
        .into_iter()
        .map(|outcome| {
            let response = outcome.expect("batch part");
            if response.status == 204 {
                Value::Null
            } else {
                response.json::<Value>().expect("json body")
            }
        })
        .collect()
}

/// What a per-resource tool does for the same reads: one GET per object, 10 apps at a time.
/// Returns (HTTP requests, wall time).
pub async fn per_object_reads(client: &GraphClient, names: &[String]) -> (u64, Duration) {
    let start = Instant::now();
    let before = client.stats().http_requests;
    let reads = futures_util::stream::iter(names.iter().cloned())
        .map(|name| async move {
            let app: Value = client
                .get(&format!("/applications(uniqueName='{name}')"))
                .await
                .expect("app");
            let (id, app_id) = (app["id"].as_str().unwrap(), app["appId"].as_str().unwrap());
            let _: Value = client
                .get(&format!("/applications/{id}/federatedIdentityCredentials"))
                .await
                .expect("federated credentials");
            let sp: Value = client
                .get(&format!("/servicePrincipals(appId='{app_id}')"))
                .await
                .expect("service principal");
            let sp = sp["id"].as_str().unwrap();
            for path in [
                format!("/servicePrincipals/{sp}/appRoleAssignments"),
                format!("/oauth2PermissionGrants?$filter=clientId eq '{sp}'"),
                format!("/roleManagement/directory/roleAssignments?$filter=principalId eq '{sp}'"),
            ] {
                let _: Value = client.get(&path).await.expect("read");
            }
        })
        .buffer_unordered(10);
    reads.collect::<Vec<()>>().await;
    (client.stats().http_requests - before, start.elapsed())
}

/// Plans the manifests at `manifest` with `client`, as `entraform plan` would.
pub async fn plan(client: &GraphClient, manifest: &Path) -> entraform::ops::plan::PlannedRun {
    entraform::ops::plan::make_plan(
        client,
        &entraform::ops::plan::PlanRequest {
            paths: vec![manifest.to_path_buf()],
            recursive: false,
            prune: false,
        },
    )
    .await
    .expect("plan")
}

/// `cmd` (an `entraform` command) pointed at `sandbox`, signed in as its bootstrap admin with a
/// client secret, as a pipeline runs it.
pub fn signed_in_to<'a>(
    cmd: &'a mut std::process::Command,
    sandbox: &RunningSandbox,
) -> &'a mut std::process::Command {
    cmd.args(["--graph-url", &sandbox.graph_url()])
        .args(["--login-url", &sandbox.authority_url()])
        .args(["--tenant", &sandbox.tenant_id()])
        .env("AZURE_CLIENT_ID", sandbox.bootstrap_client_id())
        .env(
            "AZURE_CLIENT_SECRET",
            sandbox.bootstrap_client_secret().expose(),
        )
}
