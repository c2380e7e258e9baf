//! App roles and permission scopes an app defines, end to end in the sandbox: ids chosen by the
//! plan and kept, and removal of an enabled one in two writes.

use entraform::plan::Operation;
use serde_json::Value;

use crate::apply_support::apply_clean;
use crate::apply_support::{Raw, Tenant, start, write};

fn manifest(roles: &str) -> String {
    format!(
        "apiVersion: entraform/v1
kind: Application
metadata:
  name: reports-api
spec:
  displayName: Reports API
  appRoles:
{roles}
  api:
    oauth2PermissionScopes:
      - value: access_as_user
        adminConsentDisplayName: Access the Reports API
        adminConsentDescription: Call the API as the signed-in user
"
    )
}

const READ: &str = "    - value: Reports.Read
      displayName: Read reports
      description: Read every report
      allowedMemberTypes: [User, Application]
";
const WRITE: &str = "    - value: Reports.Write
      displayName: Write reports
      description: Write reports
      allowedMemberTypes: [User]
";

async fn roles(raw: &Raw) -> Vec<Value> {
    let apps = raw
        .list("/applications?$filter=uniqueName eq 'reports-api'&$select=appRoles")
        .await;
    apps[0]["appRoles"].as_array().unwrap().clone()
}

fn id_of(roles: &[Value], value: &str) -> Value {
    roles
        .iter()
        .find(|r| r["value"] == value)
        .map(|r| r["id"].clone())
        .unwrap_or_else(|| panic!("no role `{value}` in {roles:?}"))
}

fn application_patches(t: &Tenant) -> u64 {
    t.sb.stats()
        .routes
        .iter()
        .filter(|(route, _)| route.starts_with("PATCH /v1.0/applications/"))
        .map(|(_, by_status)| by_status.values().sum::<u64>())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_enabled_role_is_disabled_then_removed_in_two_writes_and_ids_stay() {
    let t = start().await;
    let raw = Raw::of(&t.sb).await;
    let path = write(
        t.dir.path(),
        "api.yaml",
        &manifest(&format!("{READ}{WRITE}")),
    );
    let paths = [path.clone()];
    apply_clean(&t, &paths).await;
    let created = roles(&raw).await;
    let read_id = id_of(&created, "Reports.Read");

    // A changed description keeps the id: one write.
    write(
        t.dir.path(),
        "api.yaml",
        &manifest(&format!(
            "{}{WRITE}",
            READ.replace("Read every report", "Read every report, new and archived")
        )),
    );
    let before = application_patches(&t);
    let changed = apply_clean(&t, &paths).await;
    assert_eq!(changed.operations().count(), 1);
    assert_eq!(application_patches(&t) - before, 1);
    assert_eq!(id_of(&roles(&raw).await, "Reports.Read"), read_id);

    // Removing the enabled `Reports.Write`: disabled first, removed in a second write.
    write(t.dir.path(), "api.yaml", &manifest(READ));
    let before = application_patches(&t);
    let removed = apply_clean(&t, &paths).await;
    let text = entraform::plan::render::text(&removed, false);
    assert!(
        text.contains("two writes: first `isEnabled: false` on app role `Reports.Write`"),
        "{text}"
    );
    let ops: Vec<&Operation> = removed.operations().map(|(_, op)| op).collect();
    assert_eq!(ops.len(), 2, "{ops:#?}");
    assert_eq!(application_patches(&t) - before, 2);
    let left = roles(&raw).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(id_of(&left, "Reports.Read"), read_id);
    t.sb.shutdown().await.unwrap();
}

const CLIENT: &str = "apiVersion: entraform/v1
kind: Application
metadata:
  name: reports-client
spec:
  displayName: Reports client
  apiPermissions:
    - api: reports-api
      delegated: [access_as_user]
";

/// A client names our own API by its `metadata.name` and gets its scope and app role, ids
/// decided by the API's plan, with both apps created in one apply: the API goes first, and the
/// client's `requiredResourceAccess` and grants name the appId and service principal it got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_and_the_api_it_names_by_metadata_name_are_created_in_one_apply() {
    let t = start().await;
    let api = write(t.dir.path(), "api.yaml", &manifest(READ));
    let client = write(
        t.dir.path(),
        "client.yaml",
        &CLIENT.replace(
            "      delegated: [access_as_user]\n",
            "      delegated: [access_as_user]\n      application: [Reports.Read]\n",
        ),
    );
    // The client's manifest first: the order of files does not decide the order of creation.
    let planned = apply_clean(&t, &[client, api]).await;
    let text = entraform::plan::render::text(&planned, false);
    assert!(
        text.contains("Reports API/access_as_user (delegated)"),
        "{text}"
    );
    assert!(
        text.contains("resource_id") && text.contains("(known after apply)"),
        "{text}"
    );

    let raw = Raw::of(&t.sb).await;
    let api_app = &raw
        .list("/applications?$filter=uniqueName eq 'reports-api'&$select=appId,api,appRoles")
        .await[0];
    let client_app = &raw
        .list("/applications?$filter=uniqueName eq 'reports-client'&$select=appId,requiredResourceAccess")
        .await[0];
    let rra = &client_app["requiredResourceAccess"][0];
    assert_eq!(rra["resourceAppId"], api_app["appId"]);
    let granted: Vec<&Value> = rra["resourceAccess"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["id"])
        .collect();
    assert!(
        granted.contains(&&api_app["api"]["oauth2PermissionScopes"][0]["id"]),
        "{rra}"
    );
    assert!(granted.contains(&&api_app["appRoles"][0]["id"]), "{rra}");

    let sp_id = |app: &Value| {
        let app_id = app["appId"].as_str().unwrap().to_owned();
        let raw = &raw;
        async move {
            raw.list(&format!(
                "/servicePrincipals?$filter=appId eq '{app_id}'&$select=id"
            ))
            .await[0]["id"]
                .clone()
        }
    };
    let api_sp = sp_id(api_app).await;
    let client_sp = sp_id(client_app).await;
    let grants = raw
        .list(&format!(
            "/oauth2PermissionGrants?$filter=clientId eq '{}'",
            client_sp.as_str().unwrap()
        ))
        .await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0]["resourceId"], api_sp);
    assert_eq!(grants[0]["scope"], "access_as_user");
    let roles = raw
        .list(&format!(
            "/servicePrincipals/{}/appRoleAssignments",
            client_sp.as_str().unwrap()
        ))
        .await;
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert_eq!(roles[0]["resourceId"], api_sp);
    t.sb.shutdown().await.unwrap();
}

/// The API pre-authorizes a client of the run named by its `metadata.name` for its scope:
/// Graph holds the client's appId and the scope's id, and the next plan is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_pre_authorizes_a_client_of_the_run_by_its_metadata_name() {
    let t = start().await;
    let client = write(
        t.dir.path(),
        "client.yaml",
        "apiVersion: entraform/v1
kind: Application
metadata:
  name: reports-client
spec:
  displayName: Reports client
",
    );
    apply_clean(&t, std::slice::from_ref(&client)).await;
    let api = manifest(READ).replace(
        "        adminConsentDescription: Call the API as the signed-in user\n",
        "        adminConsentDescription: Call the API as the signed-in user
    preAuthorizedApplications:
      - app: reports-client
        scopes: [access_as_user]
",
    );
    let api = write(t.dir.path(), "api.yaml", &api);
    let planned = apply_clean(&t, &[api, client]).await;
    let text = entraform::plan::render::text(&planned, false);
    // The plan names the client and the scope as the manifest does, not by Graph's ids.
    assert!(
        text.contains(r#"+ {"app":"reports-client","scopes":["access_as_user"]}"#),
        "{text}"
    );

    let raw = Raw::of(&t.sb).await;
    let client_app_id = raw
        .list("/applications?$filter=uniqueName eq 'reports-client'")
        .await[0]["appId"]
        .clone();
    let api = &raw
        .list("/applications?$filter=uniqueName eq 'reports-api'&$select=api")
        .await[0]["api"];
    assert_eq!(
        api["preAuthorizedApplications"],
        serde_json::json!([{
            "appId": client_app_id,
            "delegatedPermissionIds": [api["oauth2PermissionScopes"][0]["id"]],
        }])
    );
    t.sb.shutdown().await.unwrap();
}
