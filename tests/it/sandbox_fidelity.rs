//! Where Entra ID answers differently from what a client would guess, the sandbox answers as
//! Entra ID does (issue 12): each test replays the request and checks the status, error code and
//! message text of the documented or widely recorded answer.

use std::future::Future;
use std::time::{Duration, Instant};

use entraform::sandbox::{Faults, SandboxConfig};
use serde_json::json;

use crate::sandbox_util::*;

fn delayed(ms: u64) -> SandboxConfig {
    SandboxConfig::new().faults(Faults {
        replication_delay_ms: ms,
        ..Faults::default()
    })
}

/// Sends until the answer is not `transient` (replication under test), for at most 10 s.
async fn settle<F, Fut>(transient: &[u16], mut send: F) -> Resp
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Resp>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = send().await;
        if !transient.contains(&r.status) || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An application and its service principal, created as soon as the application replicates:
/// (the application, the service principal's answer).
async fn fresh_app_with_sp(t: &Tenant, name: &str) -> (serde_json::Value, Resp) {
    let app = t
        .post(
            "/applications",
            json!({"displayName": name, "signInAudience": "AzureADMyOrg"}),
        )
        .await
        .body;
    let sp = settle(&[400], || {
        t.post("/servicePrincipals", json!({"appId": app["appId"]}))
    })
    .await;
    assert_eq!(sp.status, 201, "{}", sp.text);
    (app, sp)
}

/// graph-contract.md, corrections: a uniqueName collision is 400 `Request_BadRequest`, not 409.
#[tokio::test]
async fn a_unique_name_collision_is_a_400_bad_request() {
    let t = start().await;
    let body = json!({"displayName": "first", "uniqueName": "collide-1"});
    assert_eq!(t.post("/applications", body).await.status, 201);
    let again = t
        .post(
            "/applications",
            json!({"displayName": "second", "uniqueName": "COLLIDE-1"}),
        )
        .await;
    assert_eq!(again.status, 400, "{}", again.text);
    assert_eq!(again.body["error"]["code"], "Request_BadRequest");
    assert_eq!(
        again.body["error"]["message"],
        "Another object with the same value for property uniqueName already exists."
    );
    assert_eq!(again.body["error"]["details"][0]["code"], "ObjectConflict");
    assert_eq!(again.body["error"]["details"][0]["target"], "uniqueName");
}

/// The upsert that collides with an object this replica does not see yet answers the same 400.
#[tokio::test]
async fn an_upsert_of_a_name_not_yet_replicated_is_the_same_400() {
    let t = start_with(delayed(60_000)).await;
    let upsert = || {
        t.send(
            "PATCH",
            "/applications(uniqueName='fresh-upsert')",
            Some(json!({"displayName": "fresh"})),
            &[("Prefer", "create-if-missing")],
        )
    };
    assert_eq!(upsert().await.status, 201);
    let again = upsert().await;
    assert_eq!(again.status, 400, "{}", again.text);
    assert_eq!(again.body["error"]["code"], "Request_BadRequest");
    assert_eq!(
        again.body["error"]["message"],
        "Another object with the same value for property uniqueName already exists."
    );
}

/// terraform-provider-azuread retries this 403 (service_principal_resource.go; its issue #611):
/// an `Application.ReadWrite.OwnedBy` caller creating the service principal of an application
/// that has not replicated is told the application is not in the local tenant.
#[tokio::test]
async fn an_owned_by_caller_gets_a_403_for_a_service_principal_of_a_fresh_app() {
    let t = start_with(delayed(300)).await;
    let (app, sp) = fresh_app_with_sp(&t, "owner-bot").await;
    let sp_id = sp.body["id"].as_str().unwrap().to_string();
    // The service principal is fresh too: wait until it can be granted a role.
    assert_eq!(
        settle(&[404], || async {
            t.get(&format!("/servicePrincipals/{sp_id}")).await
        })
        .await
        .status,
        200
    );
    t.grant_graph_role(&sp_id, "Application.ReadWrite.OwnedBy")
        .await;
    let pw = t
        .post(
            &format!("/applications/{}/addPassword", app["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    let secret = pw.body["secretText"].as_str().unwrap().to_owned();
    // The new secret and the role grant reach the token endpoint after replication.
    let token = settle(&[400, 401], || async {
        let tok = token_by_secret(
            &t.http,
            &t.sb.token_url(),
            app["appId"].as_str().unwrap(),
            &secret,
            GRAPH,
        )
        .await;
        let roles = claims(tok.body["access_token"].as_str().unwrap_or(".e30."));
        if tok.status == 200 && roles["roles"].is_array() {
            tok
        } else {
            Resp { status: 401, ..tok }
        }
    })
    .await;
    assert_eq!(token.status, 200, "{}", token.text);
    let token = token.body["access_token"].as_str().unwrap().to_owned();

    let owned = t
        .send_as(
            &token,
            "POST",
            "/applications",
            Some(json!({"displayName": "owned", "signInAudience": "AzureADMyOrg"})),
            &[],
        )
        .await;
    assert_eq!(owned.status, 201, "{}", owned.text);
    let create_sp = || {
        t.send_as(
            &token,
            "POST",
            "/servicePrincipals",
            Some(json!({"appId": owned.body["appId"]})),
            &[],
        )
    };
    let early = create_sp().await;
    assert_eq!(early.status, 403, "{}", early.text);
    assert_eq!(early.body["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(
        early.body["error"]["message"],
        "When using this permission, the backing application of the service principal being created must in the local tenant"
    );
    // Once the application has replicated, the same request succeeds.
    assert_eq!(settle(&[403], create_sp).await.status, 201);
}

/// terraform-provider-azuread retries this 400 for a fresh service principal
/// (service_principal_delegated_permission_grant_resource.go): the not-found text, status 400.
#[tokio::test]
async fn a_delegated_grant_for_a_fresh_service_principal_is_a_400_with_the_not_found_text() {
    let t = start_with(delayed(1500)).await;
    let graph = t.sp_id(GRAPH_APP_ID).await;
    let (_, sp) = fresh_app_with_sp(&t, "fresh-grant").await;
    let client = sp.body["id"].as_str().unwrap().to_owned();
    let grant = || {
        t.post(
            "/oauth2PermissionGrants",
            json!({"clientId": client, "consentType": "AllPrincipals", "resourceId": graph, "scope": "User.Read"}),
        )
    };
    let early = grant().await;
    assert_eq!(early.status, 400, "{}", early.text);
    assert_eq!(early.body["error"]["code"], "Request_BadRequest");
    assert_eq!(
        early.body["error"]["message"],
        format!(
            "Resource '{client}' does not exist or one of its queried reference-property objects are not present."
        )
    );
    assert_eq!(settle(&[400], grant).await.status, 201);
}

/// graph-contract.md, corrections: replication applies to updates, deletes and a new key's use
/// at the token endpoint. A read right after a write shows the tenant as it was before it.
#[tokio::test]
async fn updates_deletes_and_new_keys_replicate_too() {
    let t = start_with(delayed(1000)).await;
    let (app, _) = fresh_app_with_sp(&t, "replicated").await;
    let id = app["id"].as_str().unwrap().to_owned();
    let app_id = app["appId"].as_str().unwrap().to_owned();
    let notes = || async { t.get(&format!("/applications/{id}?$select=notes")).await };
    assert_eq!(settle(&[404], notes).await.status, 200);

    // An update: the old value until it replicates.
    let patched = t
        .patch(&format!("/applications/{id}"), json!({"notes": "v2"}))
        .await;
    assert_eq!(patched.status, 204);
    assert_eq!(notes().await.body["notes"], json!(null));
    let deadline = Instant::now() + Duration::from_secs(10);
    while notes().await.body["notes"] != "v2" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(notes().await.body["notes"], "v2");

    // A new key: the token endpoint does not know it yet (AADSTS700027), then signs in.
    let (der, key) = rsa_certificate("CN=replicated");
    let patched = t
        .patch(
            &format!("/applications/{id}"),
            json!({"keyCredentials": [key_credential(&der)]}),
        )
        .await;
    assert_eq!(patched.status, 204, "{}", patched.text);
    let sign_in = || async {
        let assertion = sign(
            &der,
            &key,
            jsonwebtoken::Algorithm::RS256,
            &assertion_claims(&app_id, &t.sb.token_url()),
        );
        token_by_assertion(&t.http, &t.sb.token_url(), &app_id, &assertion, GRAPH).await
    };
    let early = sign_in().await;
    assert_eq!(early.status, 401, "{}", early.text);
    assert_eq!(early.body["error_codes"], json!([700027]));
    assert!(
        t.get(&format!("/applications/{id}?$select=keyCredentials"))
            .await
            .body["keyCredentials"]
            .as_array()
            .unwrap()
            .is_empty(),
        "a read right after the PATCH returns the old key set"
    );
    assert_eq!(settle(&[401], sign_in).await.status, 200);

    // A delete: still there for reads until it replicates; gone for writes at once.
    assert_eq!(t.delete(&format!("/applications/{id}")).await.status, 204);
    assert_eq!(t.get(&format!("/applications/{id}")).await.status, 200);
    assert_eq!(
        t.patch(&format!("/applications/{id}"), json!({"notes": "x"}))
            .await
            .status,
        404
    );
    assert_eq!(
        settle(&[200], || async {
            t.get(&format!("/applications/{id}")).await
        })
        .await
        .status,
        404
    );
}

/// Graph's directory-deleteditems-list, -get, -restore and -delete pages: a deleted application
/// (and its service principal) stays in deleted items for 30 days, keeps its uniqueName, comes
/// back with its ids and keys on restore, and is gone for good on purge.
#[tokio::test]
async fn deleted_applications_keep_their_name_until_restored_or_purged() {
    let t = start().await;
    let (der, _) = rsa_certificate("CN=deleted");
    let app = t
        .send(
            "PATCH",
            "/applications(uniqueName='soft-1')",
            Some(json!({"displayName": "soft", "keyCredentials": [key_credential(&der)]})),
            &[("Prefer", "create-if-missing")],
        )
        .await;
    assert_eq!(app.status, 201, "{}", app.text);
    let id = app.body["id"].as_str().unwrap().to_owned();
    let app_id = app.body["appId"].as_str().unwrap().to_owned();
    let sp = t.post("/servicePrincipals", json!({"appId": app_id})).await;
    let sp_id = sp.body["id"].as_str().unwrap().to_owned();
    assert_eq!(t.delete(&format!("/applications/{id}")).await.status, 204);

    // Listed by type (the cast is required), filterable like applications, readable by id.
    let bare = t.get("/directory/deletedItems").await;
    assert_eq!(bare.status, 400, "{}", bare.text);
    let listed = t
        .get("/directory/deletedItems/microsoft.graph.application?$filter=uniqueName eq 'soft-1'&$select=id,appId,uniqueName,deletedDateTime")
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let items = listed.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert!(items[0]["deletedDateTime"].as_str().unwrap().ends_with('Z'));
    let got = t.get(&format!("/directory/deletedItems/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["@odata.type"], "#microsoft.graph.application");
    // Its service principal went with it.
    let sps = t
        .get("/directory/deletedItems/microsoft.graph.servicePrincipal")
        .await;
    assert!(
        sps.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == sp_id.as_str()),
        "{}",
        sps.text
    );

    // The name stays taken.
    let again = t
        .send(
            "PATCH",
            "/applications(uniqueName='soft-1')",
            Some(json!({"displayName": "again"})),
            &[("Prefer", "create-if-missing")],
        )
        .await;
    assert_eq!(again.status, 400, "{}", again.text);
    assert_eq!(
        again.body["error"]["message"],
        "Another object with the same value for property uniqueName already exists."
    );

    // Restore: the same object, appId and key; the service principal is restored on its own.
    let restored = t
        .post(&format!("/directory/deletedItems/{id}/restore"), json!({}))
        .await;
    assert_eq!(restored.status, 200, "{}", restored.text);
    assert_eq!(restored.body["appId"], app_id.as_str());
    assert_eq!(restored.body["deletedDateTime"], json!(null));
    let back = t
        .get("/applications(uniqueName='soft-1')?$select=id,appId,keyCredentials")
        .await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.body["keyCredentials"].as_array().unwrap().len(), 1);
    assert_eq!(
        t.get(&format!("/servicePrincipals/{sp_id}")).await.status,
        404
    );
    let sp_back = t
        .post(
            &format!("/directory/deletedItems/{sp_id}/restore"),
            json!({}),
        )
        .await;
    assert_eq!(sp_back.status, 200, "{}", sp_back.text);
    assert_eq!(
        t.get(&format!("/servicePrincipals/{sp_id}")).await.status,
        200
    );

    // Purge: gone for good, and the name is free.
    assert_eq!(t.delete(&format!("/applications/{id}")).await.status, 204);
    assert_eq!(
        t.delete(&format!("/directory/deletedItems/{id}"))
            .await
            .status,
        204
    );
    assert_eq!(
        t.get(&format!("/directory/deletedItems/{id}")).await.status,
        404
    );
    let fresh = t
        .send(
            "PATCH",
            "/applications(uniqueName='soft-1')",
            Some(json!({"displayName": "fresh"})),
            &[("Prefer", "create-if-missing")],
        )
        .await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
}
