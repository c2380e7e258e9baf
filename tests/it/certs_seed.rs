//! A sandbox tenant seeded straight through Graph, as its bootstrap admin, with one managed app
//! the way `entraform apply` leaves it: `uniqueName`, a generated certificate attached as
//! `entraform:automation`, its PFX written beside the manifest, a service principal with
//! `Exchange.ManageAsApp` and the Exchange Administrator role. `certs` and `test-login` are
//! tested against it on their own; `rotation` tests the whole loop through `apply`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use entraform::cert::{self, GenerateRequest, GeneratedCertificate, PfxPassword};
use entraform::model::{KeyType, Period, PfxEncryption};
use entraform::sandbox::SandboxConfig;
use serde_json::json;

use crate::common::{entraform, stderr, stdout};
use crate::sandbox_util::{EXCHANGE_APP_ID, MANAGE_AS_APP, start_with};

pub const APP: &str = "exo-v2-app";
pub const PASSWORD_ENV: &str = "EXO_PFX_PASSWORD";
pub const PASSWORD: &str = "correct horse battery staple";
pub const EXCHANGE_SCOPE: &str = "https://outlook.office365.com/.default";
pub const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";

pub struct Seeded {
    pub dir: tempfile::TempDir,
    pub state: PathBuf,
    pub manifest: PathBuf,
    pub pfx: PathBuf,
    pub app_id: String,
    pub thumbprint: String,
}

impl Seeded {
    /// `entraform --sandbox --sandbox-state <state> <args>` with the PFX password set.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = entraform()
            .arg("--sandbox")
            .arg("--sandbox-state")
            .arg(&self.state)
            .args(args)
            .env(PASSWORD_ENV, PASSWORD)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        eprintln!(
            "$ entraform {}\n{}{}",
            args.join(" "),
            stdout(&out),
            stderr(&out)
        );
        out
    }
}

/// A generated certificate (RSA 2048, `CN=Exo_V2_App`) valid for `days`, and its PFX bytes.
pub fn certificate(days: u64) -> (GeneratedCertificate, Vec<u8>) {
    let generated = cert::generate(&GenerateRequest {
        subject: "CN=Exo_V2_App".into(),
        key_type: KeyType::Rsa2048,
        validity: Period::from_days(days),
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
    let pfx = cert::write_pfx(
        &generated,
        &PfxPassword::new(PASSWORD).unwrap(),
        PfxEncryption::Aes256,
        "Exo_V2_App",
    )
    .unwrap();
    (generated, pfx)
}

/// The manifest the seeded tenant matches, with the given `renewBefore`.
pub fn manifest_text(renew_before: &str) -> String {
    format!(
        "apiVersion: entraform/v1
kind: Application
metadata:
  name: {APP}
spec:
  displayName: Exo_V2_App
  certificates:
    - name: automation
      generate:
        subject: CN=Exo_V2_App
        validity: 365d
        renewBefore: {renew_before}
        pfx: secrets/exo.pfx
        pfxPasswordEnv: {PASSWORD_ENV}
"
    )
}

/// Seeds the tenant with the app and a certificate valid for `cert_days`; the manifest says
/// `renewBefore: <renew_before>`.
pub async fn seed(cert_days: u64, renew_before: &str) -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let t = start_with(SandboxConfig::new().state_path(&state)).await;

    let app = t
        .send(
            "PATCH",
            &format!("/applications(uniqueName='{APP}')"),
            Some(json!({"displayName": "Exo_V2_App", "signInAudience": "AzureADMyOrg"})),
            &[("Prefer", "create-if-missing")],
        )
        .await;
    assert_eq!(app.status, 201, "{}", app.text);
    let object_id = app.body["id"].as_str().unwrap().to_owned();
    let app_id = app.body["appId"].as_str().unwrap().to_owned();

    let (generated, pfx_bytes) = certificate(cert_days);
    let thumbprint = generated.certificate().thumbprint().to_hex();
    let keys = t
        .patch(
            &format!("/applications/{object_id}"),
            json!({"keyCredentials": [{
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
                "key": STANDARD.encode(generated.certificate().der()),
                "customKeyIdentifier": thumbprint,
                "displayName": "entraform:automation",
            }]}),
        )
        .await;
    assert_eq!(keys.status, 204, "{}", keys.text);

    let sp = t.post("/servicePrincipals", json!({"appId": app_id})).await;
    assert_eq!(sp.status, 201, "{}", sp.text);
    let sp_id = sp.body["id"].as_str().unwrap().to_owned();
    let exchange = t.sp_id(EXCHANGE_APP_ID).await;
    let granted = t
        .post(
            &format!("/servicePrincipals/{exchange}/appRoleAssignedTo"),
            json!({"principalId": sp_id, "resourceId": exchange, "appRoleId": MANAGE_AS_APP}),
        )
        .await;
    assert_eq!(granted.status, 201, "{}", granted.text);
    let role = t
        .post(
            "/roleManagement/directory/roleAssignments",
            json!({"principalId": sp_id, "roleDefinitionId": EXCHANGE_ADMINISTRATOR, "directoryScopeId": "/"}),
        )
        .await;
    assert_eq!(role.status, 201, "{}", role.text);
    t.sb.shutdown().await.unwrap();

    let manifest = dir.path().join("exo.yaml");
    std::fs::write(&manifest, manifest_text(renew_before)).unwrap();
    let pfx = dir.path().join("secrets/exo.pfx");
    write_pfx(&pfx, &pfx_bytes);
    Seeded {
        dir,
        state,
        manifest,
        pfx,
        app_id,
        thumbprint,
    }
}

pub fn write_pfx(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}
