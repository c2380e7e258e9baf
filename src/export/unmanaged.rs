//! What an application (and its service principal) carries that the manifest language cannot
//! express, read from the JSON Graph returned: each becomes a line at the top of the exported
//! manifest and a warning, so nothing is dropped silently. Secrets are named by display name,
//! hint and expiry, never by value.

use serde_json::{Map, Value};

/// Properties of an application the manifest expresses, Graph maintains, or entraform reads
/// elsewhere; every other property with a non-default value is reported.
const HANDLED: &[&str] = &[
    "id",
    "appId",
    "uniqueName",
    "displayName",
    "description",
    "signInAudience",
    "tags",
    "requiredResourceAccess",
    "keyCredentials",
    "web",
    "federatedIdentityCredentials",
    "owners",
    // Read-only, or maintained by Graph.
    "deletedDateTime",
    "createdDateTime",
    "publisherDomain",
    "applicationTemplateId",
    "certification",
    "disabledByMicrosoftStatus",
];

/// Everything on the application the manifest cannot express, in a stable order.
pub fn application(app: &Value) -> Vec<String> {
    let Some(app) = app.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for secret in list(app, "passwordCredentials") {
        out.push(format!("client secret {}", describe_secret(secret)));
    }
    let uris = strings(app.get("identifierUris"));
    if !uris.is_empty() {
        out.push(format!("identifierUris: {}", uris.join(", ")));
    }
    let roles: Vec<String> = list(app, "appRoles")
        .iter()
        .map(|r| {
            str_of(r, "value")
                .or_else(|| str_of(r, "displayName"))
                .unwrap_or("(no value)")
                .to_owned()
        })
        .collect();
    if !roles.is_empty() {
        out.push(format!("app roles it defines: {}", roles.join(", ")));
    }
    if let Some(api) = app.get("api").and_then(Value::as_object) {
        api_settings(api, &mut out);
    }
    if let Some(web) = app.get("web").and_then(Value::as_object) {
        for (key, label) in [
            ("homePageUrl", "home page URL"),
            ("logoutUrl", "logout URL"),
        ] {
            if let Some(url) = web
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                out.push(format!("web {label}: {url}"));
            }
        }
        if let Some(grant) = web.get("implicitGrantSettings").and_then(Value::as_object) {
            for (key, label) in [
                ("enableAccessTokenIssuance", "access tokens"),
                ("enableIdTokenIssuance", "ID tokens"),
            ] {
                if grant.get(key) == Some(&Value::Bool(true)) {
                    out.push(format!("implicit grant of {label} is on"));
                }
            }
        }
    }
    for (platform, label) in [
        ("spa", "single-page app"),
        ("publicClient", "public client"),
    ] {
        let uris = app
            .get(platform)
            .and_then(|p| p.get("redirectUris"))
            .map(|v| strings(Some(v)))
            .unwrap_or_default();
        if !uris.is_empty() {
            out.push(format!("{label} redirect URIs: {}", uris.join(", ")));
        }
    }
    if let Some(claims) = app.get("optionalClaims").filter(|v| !is_default(v)) {
        let mut kinds = Vec::new();
        for (token, list) in claims.as_object().into_iter().flatten() {
            let names: Vec<&str> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| str_of(c, "name"))
                .collect();
            if !names.is_empty() {
                kinds.push(format!("{token} {}", names.join(", ")));
            }
        }
        out.push(format!("optional claims: {}", kinds.join("; ")));
    }
    if let Some(groups) = app.get("groupMembershipClaims").and_then(Value::as_str)
        && !groups.is_empty()
        && !groups.eq_ignore_ascii_case("None")
    {
        out.push(format!("groupMembershipClaims: {groups}"));
    }
    for (key, label) in [
        (
            "isFallbackPublicClient",
            "isFallbackPublicClient (public client flows allowed)",
        ),
        ("isDeviceOnlyAuthSupported", "isDeviceOnlyAuthSupported"),
        ("oauth2RequirePostResponse", "oauth2RequirePostResponse"),
    ] {
        if app.get(key) == Some(&Value::Bool(true)) {
            out.push(format!("{label}: true"));
        }
    }
    if let Some(info) = app.get("info").and_then(Value::as_object) {
        for (key, value) in info {
            if let Some(url) = value.as_str().filter(|s| !s.is_empty()) {
                out.push(if key == "logoUrl" {
                    "a logo".to_owned()
                } else {
                    format!("info.{key}: {url}")
                });
            }
        }
    }
    if let Some(p) = app
        .get("parentalControlSettings")
        .and_then(Value::as_object)
    {
        let countries = strings(p.get("countriesBlockedForMinors"));
        let rule = p.get("legalAgeGroupRule").and_then(Value::as_str);
        if !countries.is_empty() || rule.is_some_and(|r| r != "Allow") {
            out.push(format!(
                "parental control settings (legalAgeGroupRule {}, countries blocked for minors: {})",
                rule.unwrap_or("Allow"),
                if countries.is_empty() { "none".to_owned() } else { countries.join(", ") }
            ));
        }
    }
    if let Some(lock) = app
        .get("servicePrincipalLockConfiguration")
        .and_then(Value::as_object)
        && lock.get("isEnabled") == Some(&Value::Bool(true))
    {
        out.push("app instance property lock is on".to_owned());
    }
    if let Some(verified) = app.get("verifiedPublisher").and_then(Value::as_object)
        && let Some(name) = verified
            .get("displayName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    {
        out.push(format!("verified publisher: {name}"));
    }
    for (key, value) in app {
        const DONE: &[&str] = &[
            "passwordCredentials",
            "identifierUris",
            "appRoles",
            "api",
            "spa",
            "publicClient",
            "optionalClaims",
            "groupMembershipClaims",
            "isFallbackPublicClient",
            "isDeviceOnlyAuthSupported",
            "oauth2RequirePostResponse",
            "info",
            "parentalControlSettings",
            "servicePrincipalLockConfiguration",
            "verifiedPublisher",
        ];
        if key.starts_with('@')
            || HANDLED.contains(&key.as_str())
            || DONE.contains(&key.as_str())
            || is_default(value)
        {
            continue;
        }
        out.push(format!("{key}: {}", summary(value)));
    }
    out
}

fn api_settings(api: &Map<String, Value>, out: &mut Vec<String>) {
    let scopes: Vec<&str> = api
        .get("oauth2PermissionScopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| str_of(s, "value").unwrap_or("(no value)"))
        .collect();
    if !scopes.is_empty() {
        out.push(format!("API scopes it exposes: {}", scopes.join(", ")));
    }
    let pre = api
        .get("preAuthorizedApplications")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if pre > 0 {
        out.push(format!("{pre} pre-authorized client application(s)"));
    }
    let known = strings(api.get("knownClientApplications"));
    if !known.is_empty() {
        out.push(format!("known client applications: {}", known.join(", ")));
    }
    if let Some(v) = api
        .get("requestedAccessTokenVersion")
        .filter(|v| !v.is_null())
    {
        out.push(format!("requestedAccessTokenVersion: {v}"));
    }
    if api.get("acceptMappedClaims") == Some(&Value::Bool(true)) {
        out.push("acceptMappedClaims: true".to_owned());
    }
}

/// What the app's service principal carries beyond what the manifest expresses. `app_tags`
/// are the application's: Graph shows them on the service principal too.
pub fn service_principal(sp: &Value, app_tags: &[String]) -> Vec<String> {
    let Some(sp) = sp.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if sp.get("accountEnabled") == Some(&Value::Bool(false)) {
        out.push("the service principal is disabled (accountEnabled: false)".to_owned());
    }
    if sp.get("appRoleAssignmentRequired") == Some(&Value::Bool(true)) {
        out.push(
            "the service principal requires assignment (appRoleAssignmentRequired)".to_owned(),
        );
    }
    let own_tags: Vec<String> = strings(sp.get("tags"))
        .into_iter()
        .filter(|t| !app_tags.contains(t))
        .collect();
    if !own_tags.is_empty() {
        out.push(format!("service principal tags: {}", own_tags.join(", ")));
    }
    for (key, label) in [
        ("preferredSingleSignOnMode", "single sign-on mode"),
        ("loginUrl", "service principal login URL"),
        ("logoutUrl", "service principal logout URL"),
        ("homepage", "service principal home page"),
        ("notes", "service principal notes"),
    ] {
        if let Some(v) = sp
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            out.push(format!("{label}: {v}"));
        }
    }
    let emails = strings(sp.get("notificationEmailAddresses"));
    if !emails.is_empty() {
        out.push(format!(
            "notification e-mail addresses: {}",
            emails.join(", ")
        ));
    }
    for secret in list(sp, "passwordCredentials") {
        out.push(format!(
            "service principal secret {}",
            describe_secret(secret)
        ));
    }
    out
}

/// `"deploy" (hint "abc", expires 2026-01-31)`: never the secret itself.
fn describe_secret(secret: &Value) -> String {
    let name = str_of(secret, "displayName")
        .map(|n| format!("\"{n}\""))
        .unwrap_or_else(|| {
            str_of(secret, "keyId")
                .map_or_else(|| "(unnamed)".to_owned(), |id| format!("(keyId {id})"))
        });
    let mut details = Vec::new();
    if let Some(hint) = str_of(secret, "hint") {
        details.push(format!("hint \"{hint}\""));
    }
    if let Some(end) = str_of(secret, "endDateTime") {
        details.push(format!("expires {}", end.get(..10).unwrap_or(end)));
    }
    if details.is_empty() {
        name
    } else {
        format!("{name} ({})", details.join(", "))
    }
}

fn list<'a>(o: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    o.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Null, `false`, empty strings and lists, and objects holding only defaults: what an untouched
/// application has.
fn is_default(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_default),
        Value::Bool(true) | Value::Number(_) => false,
    }
}

/// A short rendering of an unexpected property's value.
fn summary(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("{} item(s)", a.len()),
        Value::Object(_) => "set".to_owned(),
        other => other.to_string(),
    };
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_untouched_application_has_nothing_to_report() {
        let app = json!({
            "id": "x", "appId": "y", "displayName": "App", "identifierUris": [],
            "api": {"requestedAccessTokenVersion": null, "oauth2PermissionScopes": [],
                    "preAuthorizedApplications": [], "knownClientApplications": []},
            "info": {"logoUrl": null}, "passwordCredentials": [], "appRoles": [],
            "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
            "web": {"homePageUrl": null, "implicitGrantSettings": {"enableIdTokenIssuance": false}},
            "spa": {"redirectUris": []}, "isFallbackPublicClient": null, "notes": null,
            "oauth2RequirePostResponse": false, "verifiedPublisher": {"displayName": null}
        });
        assert_eq!(application(&app), Vec::<String>::new());
    }

    #[test]
    fn secrets_are_named_by_hint_and_expiry_never_by_value() {
        let app = json!({"passwordCredentials": [
            {"displayName": "deploy", "hint": "abc", "endDateTime": "2026-01-31T10:00:00Z",
             "secretText": "abc~very-secret", "keyId": "k"}
        ]});
        let found = application(&app);
        assert_eq!(
            found,
            ["client secret \"deploy\" (hint \"abc\", expires 2026-01-31)"]
        );
        assert!(!found.concat().contains("very-secret"));
    }

    #[test]
    fn unknown_properties_with_values_are_reported_too() {
        let app = json!({"notes": "ask Bob", "someFutureSetting": {"on": true}, "tokenEncryptionKeyId": null});
        assert_eq!(
            application(&app),
            ["notes: ask Bob", "someFutureSetting: set"]
        );
    }

    #[test]
    fn service_principal_tags_shown_on_the_app_too_are_not_reported() {
        let sp = json!({"accountEnabled": true, "tags": ["team", "WindowsAzureActiveDirectoryIntegratedApp"]});
        assert_eq!(
            service_principal(&sp, &["team".to_owned()]),
            ["service principal tags: WindowsAzureActiveDirectoryIntegratedApp"]
        );
    }
}
