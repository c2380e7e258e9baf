//! `assignments`: users and groups assigned to the app's roles, end to end against the sandbox:
//! applied, clean, changed by hand and repaired, a saved plan made stale, and problems pointing
//! at their entry.

use std::path::PathBuf;

use entraform::ops::plan::{PlanRequest, make_plan};
use entraform::plan::render;
use serde_json::{Value, json};

use crate::apply_support::{self, Raw, Tenant, plan, start, write};

fn manifest(name: &str, assignments: &str) -> String {
    format!(
        "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  displayName: {name} app\n{assignments}"
    )
}

async fn apply_clean(t: &Tenant, paths: &[PathBuf]) -> String {
    render::text(&apply_support::apply_clean(t, paths).await, false)
}

async fn upn(raw: &Raw, login: &str) -> String {
    raw.list("/users")
        .await
        .into_iter()
        .filter_map(|u| u["userPrincipalName"].as_str().map(str::to_owned))
        .find(|u| u.starts_with(&format!("{login}@")))
        .unwrap()
}

/// The app's service principal id, and gives the app a `Reader` role for users and groups and
/// a `Sync.All` role for applications only (as `appRoles` written by hand or by another tool).
async fn app_with_roles(raw: &Raw, name: &str) -> String {
    let app = &raw
        .list(&format!("/applications?$filter=uniqueName eq '{name}'"))
        .await[0];
    let roles = json!({"appRoles": [
        {"id": "6a2b1d9e-4c5f-4a3b-9d8e-7f6a5b4c3d2e", "value": "Reader", "displayName": "Reader",
         "description": "Reads", "allowedMemberTypes": ["User"], "isEnabled": true},
        {"id": "7b3c2e0f-5d6a-4b4c-8e9f-8a7b6c5d4e3f", "value": "Sync.All", "displayName": "Sync",
         "description": "Syncs", "allowedMemberTypes": ["Application"], "isEnabled": true},
    ]});
    let path = format!("/applications/{}", app["id"].as_str().unwrap());
    assert_eq!(raw.patch(&path, &roles).await, 204);
    let app_id = app["appId"].as_str().unwrap();
    let sp = &raw
        .list(&format!("/servicePrincipals?$filter=appId eq '{app_id}'"))
        .await[0];
    sp["id"].as_str().unwrap().to_owned()
}

async fn assigned(raw: &Raw, sp: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = raw
        .list(&format!("/servicePrincipals/{sp}/appRoleAssignedTo"))
        .await
        .into_iter()
        .map(|a: Value| {
            (
                a["principalType"].as_str().unwrap().to_owned(),
                a["principalDisplayName"].as_str().unwrap().to_owned(),
                a["appRoleId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_groups_are_assigned_kept_and_repaired_after_a_change_by_hand() {
    let t = start().await;
    let raw = Raw::of(&t.sb).await;
    let path = write(t.dir.path(), "web.yaml", &manifest("web", ""));
    apply_clean(&t, std::slice::from_ref(&path)).await;
    let sp = app_with_roles(&raw, "web").await;
    let alex = upn(&raw, "alex").await;
    let megan = upn(&raw, "megan").await;

    let assignments = format!(
        "  assignments:\n    - principal: {alex}\n    - principal: Sales\n      role: Reader\n"
    );
    write(t.dir.path(), "web.yaml", &manifest("web", &assignments));
    let text = apply_clean(&t, std::slice::from_ref(&path)).await;
    assert!(
        text.contains(&format!(
            "assignment.web[\"{alex}/default\"] will be created"
        )),
        "{text}"
    );
    assert!(
        text.contains("assignment.web[\"Sales/Reader\"] will be created"),
        "{text}"
    );
    assert_eq!(
        assigned(&raw, &sp).await,
        [
            (
                "Group".to_owned(),
                "Sales".to_owned(),
                "6a2b1d9e-4c5f-4a3b-9d8e-7f6a5b4c3d2e".to_owned()
            ),
            (
                "User".to_owned(),
                "Alex Wilber".to_owned(),
                "00000000-0000-0000-0000-000000000000".to_owned()
            ),
        ]
    );

    // An export writes them: users by UPN, groups by id (named in a comment).
    let exported = entraform::ops::export::export(
        &t.client,
        &entraform::ops::export::Selection::DisplayName("web app".into()),
    )
    .await
    .unwrap();
    let manifest_text = &exported.apps[0].manifest;
    let sales_id = raw.list("/groups?$filter=displayName eq 'Sales'").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        manifest_text.contains(&format!(
            "    - principal: {sales_id}  # Sales\n      role: Reader\n"
        )) && manifest_text.contains("  assignments:\n")
            && manifest_text.contains(&format!("    - principal: {alex}\n")),
        "{manifest_text}"
    );

    // A plan saved now is stale once an assignment changes behind entraform's back.
    let saved = plan(&t.client, std::slice::from_ref(&path)).await.plan;
    let before = entraform::plan::fingerprint::fingerprints_of(
        &entraform::observe::observe(&t.client, &observe_request(&path))
            .await
            .unwrap(),
    );
    assert_eq!(saved.fingerprints, before);

    // Behind entraform's back: Sales unassigned, Megan assigned.
    let live = raw
        .list(&format!("/servicePrincipals/{sp}/appRoleAssignedTo"))
        .await;
    let sales = live
        .iter()
        .find(|a| a["principalDisplayName"] == "Sales")
        .unwrap();
    let (status, _) = raw
        .write(
            reqwest::Method::DELETE,
            &format!(
                "/servicePrincipals/{sp}/appRoleAssignedTo/{}",
                sales["id"].as_str().unwrap()
            ),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 204);
    let megan_id = raw
        .list(&format!("/users?$filter=userPrincipalName eq '{megan}'"))
        .await[0]["id"]
        .clone();
    let (status, body) = raw
        .write(
            reqwest::Method::POST,
            &format!("/servicePrincipals/{sp}/appRoleAssignedTo"),
            Some(&json!({"principalId": megan_id, "resourceId": sp,
                "appRoleId": "00000000-0000-0000-0000-000000000000"})),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let drifted = plan_until_changed(&t, &path, 2).await;
    let after = entraform::plan::fingerprint::fingerprints_of(
        &entraform::observe::observe(&t.client, &observe_request(&path))
            .await
            .unwrap(),
    );
    let drift = entraform::plan::fingerprint::compare(&saved.fingerprints, &after);
    assert!(
        drift.iter().any(|d| d.object().starts_with("assignment/")),
        "{drift:?}"
    );
    let text = render::text(&drifted, false);
    assert!(
        text.contains("assignment.web[\"Sales/Reader\"] will be created"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "assignment.web[\"{megan}/default\"] will be destroyed"
        )),
        "{text}"
    );
    apply_clean(&t, std::slice::from_ref(&path)).await;
    assert_eq!(assigned(&raw, &sp).await.len(), 2);

    // `[]` removes every user and group.
    write(
        t.dir.path(),
        "web.yaml",
        &manifest("web", "  assignments: []\n"),
    );
    apply_clean(&t, std::slice::from_ref(&path)).await;
    assert!(assigned(&raw, &sp).await.is_empty());
}

fn observe_request(path: &PathBuf) -> entraform::observe::ObserveRequest {
    let bytes = std::fs::read(path).unwrap();
    let desired = entraform::manifest::parse(path, &bytes).unwrap();
    entraform::observe::ObserveRequest::for_manifests(&desired, false)
}

/// Plans until the plan shows `changes` changes: a read right after a write by hand may not
/// show it yet (the sandbox's replication delay).
async fn plan_until_changed(t: &Tenant, path: &PathBuf, changes: usize) -> entraform::plan::Plan {
    for _ in 0..20 {
        let planned = plan(&t.client, std::slice::from_ref(path)).await;
        if planned.plan.changes.len() >= changes {
            return planned.plan;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    panic!("the change by hand never showed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_principals_and_roles_are_problems_at_their_entry() {
    let t = start().await;
    let raw = Raw::of(&t.sb).await;
    let path = write(t.dir.path(), "web.yaml", &manifest("web", ""));
    apply_clean(&t, std::slice::from_ref(&path)).await;
    app_with_roles(&raw, "web").await;
    let alex = upn(&raw, "alex").await;
    let domain = alex.split_once('@').unwrap().1.to_owned();

    let assignments = format!(
        "  assignments:\n    - principal: nobody@{domain}\n    - principal: Sale\n    - principal: {alex}\n      role: Sync.All\n    - principal: {alex}\n      role: reader\n"
    );
    write(t.dir.path(), "web.yaml", &manifest("web", &assignments));
    let Err(err) = make_plan(
        &t.client,
        &PlanRequest {
            paths: vec![path.clone()],
            recursive: false,
            prune: false,
        },
    )
    .await
    else {
        panic!("the plan was made");
    };
    let text = format!("{err}");
    for expected in [
        format!("no user `nobody@{domain}` in this tenant"),
        "web.yaml:8:18".to_owned(),
        "no group named `Sale` in this tenant".to_owned(),
        "web.yaml:9:18".to_owned(),
        // Role problems point at the `role` line.
        "the app role `Sync.All` is for applications only, not for users and groups".to_owned(),
        "web.yaml:11:13".to_owned(),
        "the app has no role `reader`".to_owned(),
        "web.yaml:13:13".to_owned(),
        "did you mean `Reader`?".to_owned(),
    ] {
        assert!(text.contains(&expected), "`{expected}` in:\n{text}");
    }
}

/// A new app declares its roles and assigns a user to one in the same manifest: the role's id
/// is decided by the plan, the assignment names it, and one apply leaves a clean tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_app_assigns_a_role_its_own_manifest_declares_in_one_apply() {
    let t = start().await;
    let raw = Raw::of(&t.sb).await;
    let alex = upn(&raw, "alex").await;
    let spec = format!(
        "  appRoles:\n    - value: Reports.Read\n      displayName: Read reports\n      description: Read every report\n      allowedMemberTypes: [User]\n  assignments:\n    - principal: {alex}\n      role: Reports.Read\n"
    );
    let path = write(t.dir.path(), "reports.yaml", &manifest("reports", &spec));
    let text = apply_clean(&t, std::slice::from_ref(&path)).await;
    assert!(text.contains("Reports.Read"), "{text}");

    let app = &raw
        .list("/applications?$filter=uniqueName eq 'reports'&$select=appId,appRoles")
        .await[0];
    let role_id = app["appRoles"][0]["id"].clone();
    let app_id = app["appId"].as_str().unwrap();
    let sp = raw
        .list(&format!(
            "/servicePrincipals?$filter=appId eq '{app_id}'&$select=id"
        ))
        .await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assigned = raw
        .list(&format!("/servicePrincipals/{sp}/appRoleAssignedTo"))
        .await;
    assert_eq!(assigned.len(), 1, "{assigned:?}");
    assert_eq!(assigned[0]["appRoleId"], role_id);
    assert_eq!(assigned[0]["principalType"], "User");
}
