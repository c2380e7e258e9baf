//! entraform copes with Graph as the sandbox now answers it (issue 12): each test runs a plan,
//! an apply or a command end to end against the sandbox and checks what a real tenant would
//! show afterwards.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha1::Digest;

use crate::apply_support::{PFX_ENV, Raw, plan, plan_and_execute, quick_execute, start, write};

/// A manifest for `name` with these `certificates:` entries (YAML list items, indented).
fn manifest(name: &str, certificates: &str) -> String {
    format!(
        "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  displayName: {name}\n  signInAudience: AzureADMyOrg\n  certificates:\n{certificates}"
    )
}

fn generated(name: &str, file: &str) -> String {
    format!(
        "    - name: {name}\n      generate:\n        validity: 30d\n        renewBefore: 7d\n        pfx: secrets/{file}.pfx\n        pfxPasswordEnv: {PFX_ENV}\n        cer: secrets/{file}.cer\n"
    )
}

/// The application's key credentials read with their bytes.
async fn keys(raw: &Raw, unique_name: &str) -> Vec<Value> {
    let apps = raw
        .list(&format!(
            "/applications?$filter=uniqueName eq '{unique_name}'&$select=id"
        ))
        .await;
    let id = apps[0]["id"].as_str().unwrap();
    let (status, app) = raw
        .get(&format!("/applications/{id}?$select=id,keyCredentials"))
        .await;
    assert_eq!(status, 200, "{app}");
    app["keyCredentials"].as_array().unwrap().clone()
}

#[tokio::test]
async fn after_apply_custom_key_identifier_decodes_to_the_certificates_thumbprint_bytes() {
    let t = start().await;
    let path = write(
        t.dir.path(),
        "app.yaml",
        &manifest(
            "thumbprint-bytes",
            &generated("automation", "thumbprint-bytes"),
        ),
    );
    let (_, report, _) = plan_and_execute(&t.client, &[path], &quick_execute()).await;
    assert!(report.complete(), "{report:?}");
    let raw = Raw::of(&t.sb).await;
    let keys = keys(&raw, "thumbprint-bytes").await;
    assert_eq!(keys.len(), 1);
    let der = STANDARD.decode(keys[0]["key"].as_str().unwrap()).unwrap();
    let cki = STANDARD
        .decode(keys[0]["customKeyIdentifier"].as_str().unwrap())
        .unwrap();
    assert_eq!(cki, sha1::Sha1::digest(&der).to_vec());
    // The same thumbprint an admin reads from the CER file entraform wrote.
    let cer = entraform::cert::read_public_certificate(
        &t.dir.path().join("secrets/thumbprint-bytes.cer"),
    )
    .unwrap();
    assert_eq!(cer.thumbprint().0.to_vec(), cki);
}

#[tokio::test]
async fn certificates_uploaded_with_any_custom_key_identifier_are_recognised_by_plan() {
    let t = start().await;
    let name = "uploaded-elsewhere";
    // The app exists and entraform manages it, its certificates not yet.
    let path = write(
        t.dir.path(),
        "app.yaml",
        &manifest(name, "").replace("  certificates:\n", ""),
    );
    let (_, report, _) =
        plan_and_execute(&t.client, std::slice::from_ref(&path), &quick_execute()).await;
    assert!(report.complete(), "{report:?}");

    // Three certificates uploaded the ways other tools do: without customKeyIdentifier
    // (PowerShell's New-MgApplicationKey, the portal), with the thumbprint as 40 hex digits
    // of text (older entraform, Graph's how-to), and with an identifier of the uploader's own.
    let raw = Raw::of(&t.sb).await;
    let apps = raw
        .list(&format!(
            "/applications?$filter=uniqueName eq '{name}'&$select=id"
        ))
        .await;
    let id = apps[0]["id"].as_str().unwrap().to_owned();
    let mut entries = Vec::new();
    let mut files = String::new();
    for (i, cki) in ["absent", "hex", "custom"].iter().enumerate() {
        let (der, _) = crate::sandbox_util::rsa_certificate(cki);
        let file = format!("certs/{cki}.cer");
        write(t.dir.path(), &file, "");
        std::fs::write(t.dir.path().join(&file), &der).unwrap();
        files.push_str(&format!("    - name: uploaded-{i}\n      file: {file}\n"));
        let mut entry = json!({"type": "AsymmetricX509Cert", "usage": "Verify",
                               "key": STANDARD.encode(&der), "displayName": format!("CN={cki}")});
        match *cki {
            "hex" => {
                entry["customKeyIdentifier"] = json!(hex::encode_upper(sha1::Sha1::digest(&der)))
            }
            "custom" => entry["customKeyIdentifier"] = json!(STANDARD.encode("my own label")),
            _ => {}
        }
        entries.push(entry);
    }
    let status = raw
        .patch(
            &format!("/applications/{id}"),
            &json!({"keyCredentials": entries}),
        )
        .await;
    assert_eq!(status, 204);

    write(t.dir.path(), "app.yaml", &manifest(name, &files));
    let planned = plan(&t.client, &[path]).await;
    assert!(
        !planned.plan.has_changes(),
        "every uploaded certificate is the manifest's: {:#?}",
        planned.plan.changes
    );
}

#[tokio::test]
async fn a_certificate_named_with_the_longest_name_graph_keeps_is_recognised_after_apply() {
    let t = start().await;
    let long = "c".repeat(entraform::model::MAX_CERTIFICATE_NAME);
    let path = write(
        t.dir.path(),
        "app.yaml",
        &manifest("long-certificate-name", &generated(&long, "long")),
    );
    let (_, report, _) =
        plan_and_execute(&t.client, std::slice::from_ref(&path), &quick_execute()).await;
    assert!(report.complete(), "{report:?}");
    let again = plan(&t.client, &[path]).await;
    assert!(
        !again.plan.has_changes(),
        "the certificate is not generated again: {:#?}",
        again.plan.changes
    );
}

#[tokio::test]
async fn apps_for_work_and_personal_accounts_are_created_and_switched_in_one_write() {
    let t = start().await;
    let body = |audience: &str| {
        format!(
            "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: converged\nspec:\n  displayName: converged\n  signInAudience: {audience}\n"
        )
    };
    for audience in [
        "AzureADandPersonalMicrosoftAccount",
        "AzureADMyOrg",
        "PersonalMicrosoftAccount",
    ] {
        let path = write(t.dir.path(), "app.yaml", &body(audience));
        let (_, report, _) =
            plan_and_execute(&t.client, std::slice::from_ref(&path), &quick_execute()).await;
        assert!(report.complete(), "{audience}: {report:?}");
        assert!(
            !plan(&t.client, &[path]).await.plan.has_changes(),
            "{audience}"
        );
    }
    let raw = Raw::of(&t.sb).await;
    let app = raw
        .list("/applications?$filter=uniqueName eq 'converged'&$select=signInAudience,api")
        .await;
    assert_eq!(app[0]["signInAudience"], "PersonalMicrosoftAccount");
    assert_eq!(app[0]["api"]["requestedAccessTokenVersion"], 2);
}
