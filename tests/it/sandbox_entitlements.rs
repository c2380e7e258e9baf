//! Contract tests of the app roles and permission scopes an application defines, each from
//! Graph's reference: the appRole resource (`resources/approle.md`), the permissionScope
//! resource (`resources/permissionscope.md`) and application update
//! (`api/application-update.md`: collections are replaced whole).

use serde_json::{Value, json};

use crate::sandbox_util::*;

fn role(value: &str) -> Value {
    json!({"id": uuid::Uuid::new_v4(), "allowedMemberTypes": ["User"], "displayName": value,
           "description": value, "isEnabled": true, "value": value})
}

fn scope(value: &str) -> Value {
    json!({"id": uuid::Uuid::new_v4(), "adminConsentDisplayName": value,
           "adminConsentDescription": value, "type": "User", "isEnabled": true, "value": value})
}

fn scopes(list: Vec<Value>) -> Value {
    json!({"api": {"oauth2PermissionScopes": list}})
}

async fn app(t: &Tenant, name: &str) -> String {
    let app = t
        .post(
            "/applications",
            json!({"displayName": name, "uniqueName": name}),
        )
        .await;
    assert_eq!(app.status, 201, "{}", app.text);
    format!("/applications/{}", app.body["id"].as_str().unwrap())
}

/// approle.md and permissionscope.md, `value`: "Must not exceed 120 characters in length.
/// Allowed characters are : ! # $ % & ' ( ) * + , - . / : ; < = > ? @ [ ] ^ + _ ` { | } ~, as
/// well as characters in the ranges 0-9, A-Z and a-z. Any other character, including the space
/// character, are not allowed." A leading `.` is refused as terraform-provider-azuread
/// (`validate/tokens.go`) records.
#[tokio::test]
async fn role_and_scope_values_follow_the_references_rule() {
    let t = start().await;
    let path = app(&t, "values").await;
    for bad in ["Read All", ".hidden", "naïve", &"a".repeat(121)] {
        let r = t.patch(&path, json!({"appRoles": [role(bad)]})).await;
        assert_eq!(r.status, 400, "role `{bad}`: {}", r.text);
        let r = t.patch(&path, scopes(vec![scope(bad)])).await;
        assert_eq!(r.status, 400, "scope `{bad}`: {}", r.text);
    }
    let longest = "a".repeat(120);
    for good in [
        "Files.Read.All",
        "access_as_user",
        "api://x/y:z#1",
        longest.as_str(),
    ] {
        let r = t.patch(&path, json!({"appRoles": [role(good)]})).await;
        assert_eq!(r.status, 204, "role `{good}`: {}", r.text);
        // Disabled, so the next value may replace it.
        let mut off = role(good);
        off["id"] =
            t.get(&format!("{path}?$select=appRoles")).await.body["appRoles"][0]["id"].clone();
        off["isEnabled"] = json!(false);
        assert_eq!(t.patch(&path, json!({"appRoles": [off]})).await.status, 204);
    }
}

/// Duplicate values in one list, or one value as a role and a scope under different ids: 400
/// `DuplicateValue` (microsoft-graph-docs issue #21667; terraform-provider-azuread issue #269).
/// Missing member types: "App role with identifier '…' must have at least one value specified
/// for 'allowedMemberTypes'." (msgraph-sdk-powershell #3309). Scope `type`: `User` or `Admin`.
#[tokio::test]
async fn duplicates_and_bad_member_types_are_refused() {
    let t = start().await;
    let path = app(&t, "dupes").await;
    let r = t
        .patch(&path, json!({"appRoles": [role("A"), role("A")]}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "DuplicateValue");
    let r = t.patch(&path, scopes(vec![scope("s"), scope("s")])).await;
    assert_eq!(r.body["error"]["code"], "DuplicateValue");
    let r = t
        .patch(
            &path,
            json!({"appRoles": [role("Shared")], "api": {"oauth2PermissionScopes": [scope("Shared")]}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "DuplicateValue");

    let mut none = role("None");
    none["allowedMemberTypes"] = json!([]);
    let r = t.patch(&path, json!({"appRoles": [none]})).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must have at least one value specified for 'allowedMemberTypes'"),
        "{}",
        r.text
    );
    let mut everyone = scope("everyone");
    everyone["type"] = json!("Everyone");
    assert_eq!(t.patch(&path, scopes(vec![everyone])).await.status, 400);
}

/// permissionscope.md, `isEnabled`: "To delete a scope, this must first be set to false. At
/// that point, in a subsequent call, this scope may be removed." Graph answers 400
/// `CannotDeleteOrUpdateEnabledEntitlement` (Teams Toolkit `aadErrorCode`; the message as
/// terraform-provider-azuread and go-azure-sdk match it). A text change is accepted in place.
#[tokio::test]
async fn an_enabled_scope_is_disabled_before_it_is_removed_or_retyped() {
    let t = start().await;
    let path = app(&t, "scopes").await;
    let s = scope("access_as_user");
    assert_eq!(t.patch(&path, scopes(vec![s.clone()])).await.status, 204);

    let mut texts = s.clone();
    texts["adminConsentDescription"] = json!("new words");
    assert_eq!(
        t.patch(&path, scopes(vec![texts.clone()])).await.status,
        204
    );

    let mut admin = texts.clone();
    admin["type"] = json!("Admin");
    let r = t.patch(&path, scopes(vec![admin])).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["error"]["code"],
        "CannotDeleteOrUpdateEnabledEntitlement"
    );
    let r = t.patch(&path, scopes(vec![])).await;
    assert_eq!(
        r.body["error"]["code"],
        "CannotDeleteOrUpdateEnabledEntitlement"
    );

    let mut off = texts;
    off["isEnabled"] = json!(false);
    assert_eq!(t.patch(&path, scopes(vec![off])).await.status, 204);
    assert_eq!(t.patch(&path, scopes(vec![])).await.status, 204);
    // The rest of `api` is kept: a PATCH of `api` merges its members.
    let api = t.get(&format!("{path}?$select=api")).await.body["api"].clone();
    assert_eq!(api["oauth2PermissionScopes"], json!([]));
    assert!(api.get("requestedAccessTokenVersion").is_some(), "{api}");
}
