//! `/applications`: create, get (by id, appId, uniqueName), list, update, upsert, delete,
//! certificates (`keyCredentials`, `addKey`/`removeKey` with real proof verification), secrets
//! (`addPassword`/`removePassword`), federated identity credentials and owners.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sha1::Digest as _;

use super::{
    Call, Field, Key, Kind, Reply, apply_fields, count_reply, entity, f, owners_route, page, perm,
    visible,
};
use super::{filter_project, only_properties};
use crate::errors::GraphError;
use crate::jwt::{Parts, cert_info};
use crate::odata::{self, APPLICATIONS, FEDERATED_CREDENTIALS, MAX_EXPANDED};
use crate::state::{Document, Entry, Object, StoredSecret};
use crate::{is_guid, iso, new_guid, parse_iso};

/// Every property an application has, in Graph's order; also what `$select` may name.
pub(crate) const APP_PROPERTIES: &[&str] = &[
    "id",
    "deletedDateTime",
    "appId",
    "applicationTemplateId",
    "disabledByMicrosoftStatus",
    "createdDateTime",
    "displayName",
    "description",
    "groupMembershipClaims",
    "identifierUris",
    "isDeviceOnlyAuthSupported",
    "isFallbackPublicClient",
    "nativeAuthenticationApisEnabled",
    "notes",
    "publisherDomain",
    "serviceManagementReference",
    "signInAudience",
    "tags",
    "tokenEncryptionKeyId",
    "uniqueName",
    "samlMetadataUrl",
    "defaultRedirectUri",
    "certification",
    "optionalClaims",
    "servicePrincipalLockConfiguration",
    "requestSignatureVerification",
    "addIns",
    "api",
    "appRoles",
    "info",
    "keyCredentials",
    "parentalControlSettings",
    "passwordCredentials",
    "publicClient",
    "requiredResourceAccess",
    "verifiedPublisher",
    "web",
    "spa",
    "oauth2RequirePostResponse",
];

const AUDIENCES: &[&str] = &[
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
];

const SCHEMA: &[Field] = &[
    f("id", Kind::ReadOnly),
    f("deletedDateTime", Kind::ReadOnly),
    f("appId", Kind::ReadOnly),
    f("applicationTemplateId", Kind::ReadOnly),
    f("disabledByMicrosoftStatus", Kind::ReadOnly),
    f("createdDateTime", Kind::ReadOnly),
    f("publisherDomain", Kind::ReadOnly),
    f("certification", Kind::ReadOnly),
    f("verifiedPublisher", Kind::ReadOnly),
    f("passwordCredentials", Kind::ReadOnly),
    f("displayName", Kind::Str(256)),
    f("description", Kind::OptStr),
    f("groupMembershipClaims", Kind::OptStr),
    f("identifierUris", Kind::Strs),
    f("isDeviceOnlyAuthSupported", Kind::OptBool),
    f("isFallbackPublicClient", Kind::OptBool),
    f("nativeAuthenticationApisEnabled", Kind::OptStr),
    f("notes", Kind::OptStr),
    f("serviceManagementReference", Kind::OptStr),
    f("signInAudience", Kind::Enum(AUDIENCES)),
    f("tags", Kind::Strs),
    f("tokenEncryptionKeyId", Kind::OptGuid),
    f("uniqueName", Kind::Special),
    f("samlMetadataUrl", Kind::OptStr),
    f("defaultRedirectUri", Kind::OptStr),
    f(
        "optionalClaims",
        Kind::Obj(&["idToken", "accessToken", "saml2Token"]),
    ),
    f(
        "servicePrincipalLockConfiguration",
        Kind::Obj(&[
            "isEnabled",
            "allProperties",
            "credentialsWithUsageVerify",
            "credentialsWithUsageSign",
            "identifierUris",
            "tokenEncryptionKeyId",
        ]),
    ),
    f(
        "requestSignatureVerification",
        Kind::Obj(&["allowedWeakAlgorithms", "isSignedRequestRequired"]),
    ),
    f("addIns", Kind::ObjList),
    f(
        "api",
        Kind::Obj(&[
            "requestedAccessTokenVersion",
            "acceptMappedClaims",
            "knownClientApplications",
            "oauth2PermissionScopes",
            "preAuthorizedApplications",
        ]),
    ),
    f("appRoles", Kind::Special),
    f(
        "info",
        Kind::Obj(&[
            "termsOfServiceUrl",
            "supportUrl",
            "privacyStatementUrl",
            "marketingUrl",
            "logoUrl",
        ]),
    ),
    f("keyCredentials", Kind::Special),
    f(
        "parentalControlSettings",
        Kind::Obj(&["countriesBlockedForMinors", "legalAgeGroupRule"]),
    ),
    f("publicClient", Kind::Obj(&["redirectUris"])),
    f("requiredResourceAccess", Kind::Special),
    f(
        "web",
        Kind::Obj(&[
            "redirectUris",
            "homePageUrl",
            "logoutUrl",
            "implicitGrantSettings",
            "redirectUriSettings",
        ]),
    ),
    f("spa", Kind::Obj(&["redirectUris"])),
    f("oauth2RequirePostResponse", Kind::Bool),
];

/// A new application as Graph returns it from `POST /applications`.
pub(crate) fn new_object(
    id: &str,
    app_id: &str,
    display_name: &str,
    domain: &str,
    now: i64,
) -> Object {
    let v = json!({
        "id": id,
        "deletedDateTime": null,
        "appId": app_id,
        "applicationTemplateId": null,
        "disabledByMicrosoftStatus": null,
        "createdDateTime": iso(now),
        "displayName": display_name,
        "description": null,
        "groupMembershipClaims": null,
        "identifierUris": [],
        "isDeviceOnlyAuthSupported": null,
        "isFallbackPublicClient": null,
        "nativeAuthenticationApisEnabled": null,
        "notes": null,
        "publisherDomain": domain,
        "serviceManagementReference": null,
        "signInAudience": "AzureADandPersonalMicrosoftAccount",
        "tags": [],
        "tokenEncryptionKeyId": null,
        "uniqueName": null,
        "samlMetadataUrl": null,
        "defaultRedirectUri": null,
        "certification": null,
        "optionalClaims": null,
        "servicePrincipalLockConfiguration": null,
        "requestSignatureVerification": null,
    });
    // Split in two: one json! literal this large exceeds the macro recursion limit.
    let rest = json!({
        "addIns": [],
        "api": {
            // Graph's default audience (AzureADandPersonalMicrosoftAccount) comes with v2 tokens
            // (application-post-applications example response).
            "requestedAccessTokenVersion": 2,
            "acceptMappedClaims": null,
            "knownClientApplications": [],
            "oauth2PermissionScopes": [],
            "preAuthorizedApplications": []
        },
        "appRoles": [],
        "info": {
            "termsOfServiceUrl": null,
            "supportUrl": null,
            "privacyStatementUrl": null,
            "marketingUrl": null,
            "logoUrl": null
        },
        "keyCredentials": [],
        "parentalControlSettings": {
            "countriesBlockedForMinors": [],
            "legalAgeGroupRule": "Allow"
        },
        "passwordCredentials": [],
        "publicClient": { "redirectUris": [] },
        "requiredResourceAccess": [],
        "verifiedPublisher": {
            "displayName": null,
            "verifiedPublisherId": null,
            "addedDateTime": null
        },
        "web": {
            "homePageUrl": null,
            "logoutUrl": null,
            "redirectUris": [],
            "implicitGrantSettings": {
                "enableAccessTokenIssuance": false,
                "enableIdTokenIssuance": false
            },
            "redirectUriSettings": []
        },
        "spa": { "redirectUris": [] },
        "oauth2RequirePostResponse": false
    });
    match (v, rest) {
        (Value::Object(mut m), Value::Object(r)) => {
            m.extend(r);
            m
        }
        _ => unreachable!("JSON object literals"),
    }
}

/// The application as Graph shows it: `keyCredentials[].key` only when asked for.
pub(crate) fn render(e: &Entry, with_keys: bool) -> Object {
    let mut o = e.object.clone();
    if !with_keys && let Some(Value::Array(keys)) = o.get_mut("keyCredentials") {
        for k in keys.iter_mut() {
            if let Some(m) = k.as_object_mut() {
                m.insert("key".into(), Value::Null);
            }
        }
    }
    o
}

fn find<'a>(doc: &'a Document, key: &Key, now: i64) -> Result<&'a Entry, GraphError> {
    lookup(doc, key)?
        .filter(|e| e.visible(now))
        .ok_or_else(|| GraphError::not_found(&key.describe()))
}

/// Any application with this key, visible or not.
fn lookup<'a>(doc: &'a Document, key: &Key) -> Result<Option<&'a Entry>, GraphError> {
    Ok(match key {
        Key::Id(id) if !is_guid(id) => return Err(super::invalid_id(id)),
        Key::Id(id) => doc.applications.get(&id.to_lowercase()),
        Key::Alt(k, v) if k == "appId" => doc
            .applications
            .values()
            .find(|e| e.str("appId").eq_ignore_ascii_case(v)),
        Key::Alt(k, v) if k == "uniqueName" => doc
            .applications
            .values()
            .find(|e| e.str("uniqueName").eq_ignore_ascii_case(v)),
        Key::Alt(k, _) => {
            return Err(GraphError::bad_request(format!(
                "'{k}' is not an alternate key of application; use appId or uniqueName."
            )));
        }
    })
}

/// What `$filter` sees: the object plus its relationships.
fn filter_view(e: &Entry) -> Object {
    let mut o = odata::filter_view(&APPLICATIONS, &e.object);
    o.insert(
        "federatedIdentityCredentials".into(),
        Value::Array(
            e.federated
                .iter()
                .map(|f| Value::Object(f.object.clone()))
                .collect(),
        ),
    );
    o.insert(
        "owners".into(),
        Value::Array(e.owners.iter().cloned().map(Value::String).collect()),
    );
    o
}

fn rel_count(o: &Object, rel: &str) -> usize {
    o.get(rel).and_then(Value::as_array).map_or(0, Vec::len)
}

pub(crate) fn expand(doc: &Document, e: &Entry, rel: &str, now: i64) -> Value {
    let items: Vec<Value> = match rel {
        "federatedIdentityCredentials" => e
            .federated
            .iter()
            .filter(|f| f.visible(now))
            .map(|f| Value::Object(f.object.clone()))
            .collect(),
        _ => e
            .owners
            .iter()
            .filter_map(|id| super::directory_object(doc, id, now))
            .map(Value::Object)
            .collect(),
    };
    Value::Array(items.into_iter().take(MAX_EXPANDED).collect())
}

pub(crate) fn list(doc: &mut Document, call: &Call) -> Result<Reply, GraphError> {
    call.caller.can_read_apps()?;
    let q = call.query(&APPLICATIONS)?;
    let mut items = Vec::new();
    for e in visible(&doc.applications, call.now) {
        let view = filter_view(e);
        if let Some(flt) = &q.filter
            && !odata::eval(flt, &view, &rel_count)
        {
            continue;
        }
        if let Some(term) = &q.search
            && !odata::search_matches(&view, term)
        {
            continue;
        }
        // `key` is "only available for single object requests (GET /applications/{id}?$select=
        // keyCredentials); otherwise, it's always null" (keyCredential reference).
        let mut o = odata::project(&render(e, false), q.select.as_deref());
        if let Some(rel) = &q.expand {
            o.insert(rel.clone(), expand(doc, e, rel, call.now));
        }
        items.push(o);
    }
    let context = call.metadata(&format!("applications{}", q.context_suffix()));
    Ok(Reply::json(200, page(call, context, items, &q)?))
}

pub(crate) fn count(doc: &mut Document, call: &Call) -> Result<Reply, GraphError> {
    call.caller.can_read_apps()?;
    count_reply(call, || visible(&doc.applications, call.now).count())
}

fn get(doc: &Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    call.caller.can_read_apps()?;
    let q = call.entity_query(&APPLICATIONS)?;
    let e = find(doc, key, call.now)?;
    let with_keys = q
        .select
        .as_ref()
        .is_some_and(|s| s.iter().any(|p| p == "keyCredentials"));
    let mut o = odata::project(&render(e, with_keys), q.select.as_deref());
    if let Some(rel) = &q.expand {
        o.insert(rel.clone(), expand(doc, e, rel, call.now));
    }
    let context = call.metadata(&format!("applications{}/$entity", q.context_suffix()));
    Ok(Reply::json(200, entity(context, o)))
}

fn location(doc: &Document, id: &str) -> String {
    format!(
        "https://graph.microsoft.com/v2/{}/directoryObjects/{id}/Microsoft.DirectoryServices.Application",
        doc.tenant.id
    )
}

/// Checks and applies a create/update body to `obj` (a copy; the caller commits it).
fn apply_body(
    doc: &Document,
    obj: &mut Object,
    body: &Object,
    self_id: &str,
) -> Result<(), GraphError> {
    apply_fields(obj, body, SCHEMA)?;
    if let Some(v) = body.get("uniqueName") {
        let current = obj.get("uniqueName").cloned().unwrap_or(Value::Null);
        match (v, &current) {
            (Value::String(new), Value::String(old)) if new == old => {}
            (Value::String(_), Value::String(_)) | (Value::Null, Value::String(_)) => {
                return Err(GraphError::bad_request(
                    "Property 'uniqueName' is immutable once set and cannot be updated.",
                ));
            }
            (Value::String(new), Value::Null) => {
                if new.is_empty() || new.chars().count() > 120 || new.contains(char::is_whitespace)
                {
                    return Err(GraphError::invalid_value("uniqueName"));
                }
                // A soft-deleted application keeps its uniqueName until it is purged.
                if doc
                    .applications
                    .values()
                    .chain(doc.deleted_applications.values())
                    .any(|e| {
                        e.object["id"] != self_id && e.str("uniqueName").eq_ignore_ascii_case(new)
                    })
                {
                    return Err(GraphError::object_conflict("uniqueName"));
                }
                obj.insert("uniqueName".into(), v.clone());
            }
            (Value::Null, Value::Null) => {}
            _ => return Err(GraphError::invalid_value("uniqueName")),
        }
    }
    if let Some(v) = body.get("appRoles") {
        let roles = check_app_roles(v, obj.get("appRoles"))?;
        obj.insert("appRoles".into(), roles);
    }
    if let Some(v) = body.get("requiredResourceAccess") {
        check_required_resource_access(v)?;
        obj.insert("requiredResourceAccess".into(), v.clone());
    }
    if let Some(v) = body.get("keyCredentials") {
        let Value::Array(list) = v else {
            return Err(GraphError::invalid_value("keyCredentials"));
        };
        let mut out = Vec::new();
        for k in list {
            out.push(Value::Object(normalize_key(k)?));
        }
        let mut ids: Vec<&str> = out.iter().filter_map(|k| k["keyId"].as_str()).collect();
        ids.sort();
        ids.dedup();
        if ids.len() != out.len() {
            return Err(GraphError::bad_request(
                "keyCredentials must have unique keyIds.",
            ));
        }
        obj.insert("keyCredentials".into(), Value::Array(out));
    }
    if body.contains_key("identifierUris") {
        let uris: Vec<String> = obj["identifierUris"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        let taken = doc.applications.values().any(|e| {
            e.object["id"] != self_id
                && e.object["identifierUris"].as_array().is_some_and(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .any(|u| uris.contains(&u.to_lowercase()))
                })
        });
        if taken {
            return Err(GraphError::object_conflict("identifierUris"));
        }
    }
    Ok(())
}

fn check_app_roles(v: &Value, existing: Option<&Value>) -> Result<Value, GraphError> {
    let bad = || GraphError::invalid_value("appRoles");
    let Value::Array(list) = v else {
        return Err(bad());
    };
    let mut out = Vec::new();
    let mut seen_ids = Vec::new();
    let mut seen_values = Vec::new();
    for r in list {
        let Value::Object(m) = r else {
            return Err(bad());
        };
        for k in m.keys() {
            if ![
                "id",
                "allowedMemberTypes",
                "description",
                "displayName",
                "isEnabled",
                "value",
                "origin",
                "@odata.type",
            ]
            .contains(&k.as_str())
            {
                return Err(GraphError::unknown_property(k));
            }
        }
        let id = m
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| is_guid(s))
            .ok_or_else(bad)?;
        let types = m
            .get("allowedMemberTypes")
            .and_then(Value::as_array)
            .ok_or_else(bad)?;
        if types.is_empty()
            || !types
                .iter()
                .all(|t| matches!(t.as_str(), Some("User" | "Application")))
        {
            return Err(bad());
        }
        let value = m.get("value").and_then(Value::as_str).map(str::to_string);
        if seen_ids.contains(&id.to_lowercase()) {
            return Err(GraphError::bad_request("App roles must have unique ids."));
        }
        seen_ids.push(id.to_lowercase());
        if let Some(v) = &value {
            if seen_values.contains(v) {
                return Err(GraphError::bad_request(
                    "App roles must have unique values.",
                ));
            }
            seen_values.push(v.clone());
        }
        out.push(json!({
            "allowedMemberTypes": types,
            "description": m.get("description").cloned().unwrap_or(Value::Null),
            "displayName": m.get("displayName").cloned().unwrap_or(Value::Null),
            "id": id,
            "isEnabled": m.get("isEnabled").and_then(Value::as_bool).unwrap_or(true),
            "origin": "Application",
            "value": value,
        }));
    }
    // An enabled role cannot be removed or changed before it is disabled.
    for old in existing.and_then(Value::as_array).into_iter().flatten() {
        if old["isEnabled"] != json!(true) {
            continue;
        }
        let same = out.iter().find(|n| n["id"] == old["id"]);
        // Disabling is the allowed change.
        let unchanged = same.is_some_and(|n| {
            n["value"] == old["value"] && n["allowedMemberTypes"] == old["allowedMemberTypes"]
        });
        if !unchanged {
            return Err(GraphError::new(
                400,
                "CannotDeleteOrUpdateEnabledEntitlement",
                "Property  value cannot be deleted or updated unless it is disabled first.",
            ));
        }
    }
    Ok(Value::Array(out))
}

fn check_required_resource_access(v: &Value) -> Result<(), GraphError> {
    let bad = || GraphError::invalid_value("requiredResourceAccess");
    let Value::Array(list) = v else {
        return Err(bad());
    };
    if list.len() > 50 {
        return Err(GraphError::bad_request(
            "The number of resources in requiredResourceAccess exceeds the limit of 50.",
        ));
    }
    let mut total = 0;
    for r in list {
        let Value::Object(m) = r else {
            return Err(bad());
        };
        for k in m.keys() {
            if k != "resourceAppId" && k != "resourceAccess" {
                return Err(GraphError::unknown_property(k));
            }
        }
        if !m
            .get("resourceAppId")
            .and_then(Value::as_str)
            .is_some_and(is_guid)
        {
            return Err(bad());
        }
        let access = m
            .get("resourceAccess")
            .and_then(Value::as_array)
            .ok_or_else(bad)?;
        for a in access {
            let Value::Object(am) = a else {
                return Err(bad());
            };
            for k in am.keys() {
                if k != "id" && k != "type" {
                    return Err(GraphError::unknown_property(k));
                }
            }
            if !am.get("id").and_then(Value::as_str).is_some_and(is_guid)
                || !matches!(
                    am.get("type").and_then(Value::as_str),
                    Some("Role" | "Scope")
                )
            {
                return Err(bad());
            }
        }
        total += access.len();
    }
    if total > 400 {
        return Err(GraphError::bad_request(
            "The number of permissions in requiredResourceAccess exceeds the limit of 400.",
        ));
    }
    Ok(())
}

const KEY_FIELDS: &[&str] = &[
    "customKeyIdentifier",
    "displayName",
    "endDateTime",
    "key",
    "keyId",
    "startDateTime",
    "type",
    "usage",
];

/// keyCredential `displayName`: longer values are accepted and cut to this many characters.
const KEY_DISPLAY_NAME_MAX: usize = 90;

/// Validates one keyCredential: `key` must be a real certificate; fills keyId and dates.
fn normalize_key(v: &Value) -> Result<Object, GraphError> {
    let Value::Object(m) = v else {
        return Err(GraphError::invalid_value("keyCredentials"));
    };
    only_properties(m, KEY_FIELDS)?;
    let bad_key = || {
        GraphError::bad_request(
            "Invalid value specified for property 'key' of resource 'KeyCredential'.",
        )
    };
    let key = m.get("key").and_then(Value::as_str).ok_or_else(bad_key)?;
    let der = STANDARD.decode(key.trim()).map_err(|_| bad_key())?;
    let info = cert_info(&der).ok_or_else(bad_key)?;
    let ty = m
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("AsymmetricX509Cert");
    if !["AsymmetricX509Cert", "X509CertAndPassword"].contains(&ty) {
        return Err(GraphError::invalid_value("type"));
    }
    let usage = m.get("usage").and_then(Value::as_str).unwrap_or("Verify");
    if !["Verify", "Sign"].contains(&usage) {
        return Err(GraphError::invalid_value("usage"));
    }
    // Edm.Binary: stored as the bytes the base64 carries and returned re-encoded; absent, it is
    // the certificate's SHA-1 thumbprint (keyCredential reference: "When not provided in the
    // payload, defaults to the thumbprint of the certificate").
    let cki_bytes = match m.get("customKeyIdentifier") {
        None | Some(Value::Null) => sha1::Sha1::digest(&der).to_vec(),
        Some(Value::String(s)) => STANDARD
            .decode(s.trim())
            .map_err(|_| GraphError::invalid_value("customKeyIdentifier"))?,
        _ => return Err(GraphError::invalid_value("customKeyIdentifier")),
    };
    let cki = Value::String(STANDARD.encode(cki_bytes));
    let key_id = match m.get("keyId") {
        None | Some(Value::Null) => new_guid(),
        Some(Value::String(s)) if is_guid(s) => s.to_lowercase(),
        _ => return Err(GraphError::invalid_value("keyId")),
    };
    let date = |name: &str, default: i64| -> Result<i64, GraphError> {
        match m.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::String(s)) => parse_iso(s).ok_or_else(|| GraphError::invalid_value(name)),
            _ => Err(GraphError::invalid_value(name)),
        }
    };
    let start = date("startDateTime", info.not_before_ms)?;
    let end = date("endDateTime", info.not_after_ms)?;
    if end <= start {
        return Err(GraphError::bad_request(
            "Key credential end date must be later than its start date.",
        ));
    }
    // "The friendly name for the key, with a maximum length of 90 characters. Longer values are
    // accepted but shortened." (keyCredential reference)
    let display = match m.get("displayName") {
        Some(Value::String(s)) => s.clone(),
        _ => info.subject.clone(),
    };
    let display = Value::String(display.chars().take(KEY_DISPLAY_NAME_MAX).collect());
    let mut out = Map::new();
    out.insert("customKeyIdentifier".into(), cki);
    out.insert("displayName".into(), display);
    out.insert("endDateTime".into(), json!(iso(end)));
    out.insert("key".into(), json!(key.trim()));
    out.insert("keyId".into(), json!(key_id));
    out.insert("startDateTime".into(), json!(iso(start)));
    out.insert("type".into(), json!(ty));
    out.insert("usage".into(), json!(usage));
    Ok(out)
}

/// The app's certificates that are valid now (key credential dates and certificate dates).
pub(crate) fn valid_certificates(obj: &Object, now: i64) -> Vec<(Object, crate::jwt::CertInfo)> {
    certificates(obj)
        .into_iter()
        .filter(|(_, info, start, end)| {
            *start <= now && now <= *end && info.not_before_ms <= now && now <= info.not_after_ms
        })
        .map(|(k, info, _, _)| (k, info))
        .collect()
}

/// A verification certificate on an app and its key credential's validity window.
pub(crate) type Certificate = (Object, crate::jwt::CertInfo, i64, i64);

/// Every verification certificate on the app, whatever its dates.
pub(crate) fn certificates(obj: &Object) -> Vec<Certificate> {
    let mut out = Vec::new();
    for k in obj
        .get("keyCredentials")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(m) = k.as_object() else { continue };
        if m.get("usage").and_then(Value::as_str) != Some("Verify") {
            continue;
        }
        let Some(der) = m
            .get("key")
            .and_then(Value::as_str)
            .and_then(|s| STANDARD.decode(s).ok())
        else {
            continue;
        };
        let Some(info) = cert_info(&der) else {
            continue;
        };
        let start = m
            .get("startDateTime")
            .and_then(Value::as_str)
            .and_then(parse_iso)
            .unwrap_or(i64::MIN);
        let end = m
            .get("endDateTime")
            .and_then(Value::as_str)
            .and_then(parse_iso)
            .unwrap_or(i64::MAX);
        out.push((m.clone(), info, start, end));
    }
    out
}

pub(crate) fn create(doc: &mut Document, call: &Call) -> Result<Reply, GraphError> {
    call.caller.require(&[perm::APP_RW, perm::APP_OWNED])?;
    let body = call.json_body()?;
    create_with(doc, call, body, None)
}

fn create_with(
    doc: &mut Document,
    call: &Call,
    body: Object,
    unique_name: Option<&str>,
) -> Result<Reply, GraphError> {
    if !matches!(body.get("displayName"), Some(Value::String(s)) if !s.trim().is_empty()) {
        return Err(GraphError::invalid_value("displayName"));
    }
    let id = new_guid();
    let app_id = new_guid();
    let mut obj = new_object(&id, &app_id, "", &doc.tenant.domain, call.now);
    if body.contains_key("signInAudience") {
        // Only Graph's default audience brings v2 tokens along; any other starts unset.
        obj["api"]["requestedAccessTokenVersion"] = Value::Null;
    }
    if let Some(u) = unique_name {
        if let Some(Value::String(b)) = body.get("uniqueName")
            && b != u
        {
            return Err(GraphError::bad_request(
                "The uniqueName in the request body does not match the key in the URL.",
            ));
        }
        let mut with_key = body.clone();
        with_key.insert("uniqueName".into(), json!(u));
        apply_body(doc, &mut obj, &with_key, &id)?;
    } else {
        apply_body(doc, &mut obj, &body, &id)?;
    }
    check_token_version(&obj)?;
    let mut entry = Entry::new(obj, call.visible_at());
    if !call.caller.has_any(&[perm::APP_RW]) {
        entry.owners.push(call.caller.sp_id.clone());
    }
    let rendered = render(&entry, false);
    doc.applications.insert(id.clone(), entry);
    let context = call.metadata("applications/$entity");
    Ok(Reply::created(
        entity(context, rendered),
        location(doc, &id),
    ))
}

fn update(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    let upsert = matches!(key, Key::Alt(k, _) if k == "uniqueName")
        && call.headers.prefers("create-if-missing");
    let existing = lookup(doc, key)?.map(|e| (e.visible(call.now), e.str("id").to_string()));
    let id = match existing {
        Some((true, id)) => id,
        Some((false, _)) if upsert => {
            // The object exists but this replica does not see it yet: creating it again
            // collides on the alternate key, as right after a real create.
            return Err(GraphError::object_conflict("uniqueName"));
        }
        None if upsert => {
            call.caller.require(&[perm::APP_RW, perm::APP_OWNED])?;
            let body = call.json_body()?;
            let Key::Alt(_, name) = key else {
                unreachable!("upsert keys are alternate keys")
            };
            return create_with(doc, call, body, Some(name));
        }
        _ => return Err(GraphError::not_found(&key.describe())),
    };
    let entry = &doc.applications[&id];
    call.caller.can_write(&entry.owners)?;
    let body = call.json_body()?;
    let mut obj = entry.object.clone();
    if let (Key::Alt(k, v), Some(Value::String(b))) = (key, body.get("uniqueName"))
        && k == "uniqueName"
        && !b.eq_ignore_ascii_case(v)
    {
        return Err(GraphError::bad_request(
            "Property 'uniqueName' is immutable once set and cannot be updated.",
        ));
    }
    apply_body(doc, &mut obj, &body, &id)?;
    check_token_version(&obj)?;
    doc.applications.get_mut(&id).expect("found above").object = obj;
    Ok(Reply::no_content())
}

/// Converged audiences (work and personal accounts) need v2 access tokens: "If
/// signInAudience is AzureADandPersonalMicrosoftAccount or PersonalMicrosoftAccount, the value
/// must be 2" (apiApplication reference, microsoft-graph-docs-contrib
/// api-reference/v1.0/resources/apiapplication.md; microsoft-graph-docs-contrib issue #1122 for
/// PersonalMicrosoftAccount). Graph refuses the write with InvalidAccessTokenVersion and a
/// generic message (as quoted in azure-ad-b2c/Scripts issue #2).
fn check_token_version(obj: &Object) -> Result<(), GraphError> {
    let converged = matches!(
        obj.get("signInAudience").and_then(Value::as_str),
        Some("AzureADandPersonalMicrosoftAccount" | "PersonalMicrosoftAccount")
    );
    let version = obj
        .get("api")
        .and_then(|a| a.get("requestedAccessTokenVersion"))
        .unwrap_or(&Value::Null);
    let version = match version {
        Value::Null => None,
        v => match v.as_i64() {
            Some(n @ (1 | 2)) => Some(n),
            _ => return Err(GraphError::invalid_value("requestedAccessTokenVersion")),
        },
    };
    if converged && version != Some(2) {
        return Err(GraphError::new(
            400,
            "InvalidAccessTokenVersion",
            "One or more properties contains invalid values.",
        ));
    }
    Ok(())
}

fn delete(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    let e = find(doc, key, call.now)?;
    call.caller.can_write(&e.owners)?;
    let id = e.str("id").to_string();
    let app_id = e.str("appId").to_string();
    let mut e = doc.applications.remove(&id).expect("found above");
    e.object
        .insert("deletedDateTime".into(), json!(iso(call.now)));
    doc.deleted_applications.insert(id, e);
    // The application's own service principal goes with it, and with it its grants.
    let sp_ids: Vec<String> = doc
        .service_principals
        .values()
        .filter(|s| s.str("appId").eq_ignore_ascii_case(&app_id))
        .map(|s| s.str("id").to_string())
        .collect();
    for sp in sp_ids {
        super::sps::remove(doc, &sp, call.now);
    }
    Ok(Reply::no_content())
}

/// Verifies an `addKey`/`removeKey` proof: signed by a currently valid certificate of the app,
/// `aud` = the AAD Graph id, `iss` = the application's object id, lifetime ≤ 10 minutes.
fn verify_proof(e: &Entry, proof: Option<&Value>, now: i64) -> Result<(), GraphError> {
    let certs = valid_certificates(&e.object, now);
    if certs.is_empty() {
        return Err(GraphError::bad_request(
            "The application has no valid certificate to verify the proof of possession; add the first certificate with a PATCH of keyCredentials.",
        ));
    }
    let invalid =
        |why: &str| GraphError::bad_request(format!("Invalid proof of possession token: {why}"));
    let token = proof
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("'proof' is required."))?;
    let parts = Parts::parse(token).ok_or_else(|| invalid("not a JWT."))?;
    if !certs
        .iter()
        .any(|(_, c)| parts.verify_rsa(&c.modulus, &c.exponent))
    {
        return Err(invalid(
            "the signature does not verify with any valid certificate of the application.",
        ));
    }
    if parts.audiences() != ["00000002-0000-0000-c000-000000000000"] {
        return Err(invalid(
            "'aud' must be 00000002-0000-0000-c000-000000000000.",
        ));
    }
    if parts.claim_str("iss") != Some(e.str("id")) {
        return Err(invalid("'iss' must be the application's object id."));
    }
    let (Some(nbf), Some(exp)) = (parts.claim_i64("nbf"), parts.claim_i64("exp")) else {
        return Err(invalid("'nbf' and 'exp' are required."));
    };
    if exp - nbf > 600 {
        return Err(invalid("the token lifetime exceeds 10 minutes."));
    }
    let now_s = now / 1000;
    if now_s < nbf - 300 || now_s > exp {
        return Err(invalid("the token is expired or not yet valid."));
    }
    Ok(())
}

fn add_key(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    let e = find(doc, key, call.now)?;
    call.caller.can_write(&e.owners)?;
    let body = call.json_body()?;
    verify_proof(e, body.get("proof"), call.now)?;
    if !matches!(body.get("passwordCredential"), None | Some(Value::Null)) {
        return Err(GraphError::bad_request(
            "The sandbox does not support passwordCredential in addKey (used only with X509CertAndPassword).",
        ));
    }
    let new = normalize_key(body.get("keyCredential").unwrap_or(&Value::Null))?;
    let id = e.str("id").to_string();
    let entry = doc.applications.get_mut(&id).expect("found above");
    let keys = entry
        .object
        .entry("keyCredentials")
        .or_insert_with(|| json!([]));
    let list = keys.as_array_mut().expect("keyCredentials is an array");
    if list.iter().any(|k| k["keyId"] == new["keyId"]) {
        return Err(GraphError::bad_request(
            "keyCredentials must have unique keyIds.",
        ));
    }
    list.push(Value::Object(new.clone()));
    let mut shown = new;
    shown.insert("key".into(), Value::Null);
    let context = call.metadata("microsoft.graph.keyCredential");
    Ok(Reply::json(200, entity(context, shown)))
}

fn remove_key(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    let e = find(doc, key, call.now)?;
    call.caller.can_write(&e.owners)?;
    let body = call.json_body()?;
    verify_proof(e, body.get("proof"), call.now)?;
    let key_id = key_id_of(&body)?;
    let id = e.str("id").to_string();
    remove_credential(doc, &id, "keyCredentials", &key_id)?;
    Ok(Reply::no_content())
}

/// The `keyId` of a removeKey/removePassword body, lower-cased.
fn key_id_of(body: &Object) -> Result<String, GraphError> {
    Ok(body
        .get("keyId")
        .and_then(Value::as_str)
        .filter(|s| is_guid(s))
        .ok_or_else(|| GraphError::invalid_value("keyId"))?
        .to_lowercase())
}

/// Removes the credential `key_id` from an application's `collection`; 404 when it has none.
fn remove_credential(
    doc: &mut Document,
    app_id: &str,
    collection: &str,
    key_id: &str,
) -> Result<(), GraphError> {
    let entry = doc
        .applications
        .get_mut(app_id)
        .expect("found by the caller");
    let list = entry
        .object
        .get_mut(collection)
        .and_then(Value::as_array_mut)
        .expect("credential collections are arrays");
    let before = list.len();
    list.retain(|k| {
        !k["keyId"]
            .as_str()
            .is_some_and(|id| id.eq_ignore_ascii_case(key_id))
    });
    if list.len() == before {
        return Err(GraphError::not_found(key_id));
    }
    Ok(())
}

fn add_password(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    let e = find(doc, key, call.now)?;
    call.caller.can_write(&e.owners)?;
    let body = call.json_body()?;
    let pc = match body.get("passwordCredential") {
        Some(Value::Object(m)) => m.clone(),
        None | Some(Value::Null) => Map::new(),
        _ => return Err(GraphError::invalid_value("passwordCredential")),
    };
    let date = |name: &str, default: i64| match pc.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) => parse_iso(s).ok_or_else(|| GraphError::invalid_value(name)),
        _ => Err(GraphError::invalid_value(name)),
    };
    let start = date("startDateTime", call.now)?;
    let end = date("endDateTime", call.now + 2 * 365 * 24 * 3600 * 1000)?;
    let secret = new_secret_text();
    let key_id = new_guid();
    let stored = json!({
        "customKeyIdentifier": null,
        "displayName": pc.get("displayName").cloned().unwrap_or(Value::Null),
        "endDateTime": iso(end),
        "hint": &secret[..3],
        "keyId": key_id,
        "secretText": null,
        "startDateTime": iso(start),
    });
    let id = e.str("id").to_string();
    let entry = doc.applications.get_mut(&id).expect("found above");
    entry
        .object
        .entry("passwordCredentials")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .expect("passwordCredentials is an array")
        .push(stored.clone());
    entry.secrets.push(StoredSecret {
        key_id: key_id.clone(),
        text: secret.clone(),
    });
    let mut shown = stored.as_object().cloned().expect("object literal");
    shown.insert("secretText".into(), json!(secret));
    let context = call.metadata("microsoft.graph.passwordCredential");
    Ok(Reply::json(200, entity(context, shown)))
}

fn remove_password(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    let e = find(doc, key, call.now)?;
    call.caller.can_write(&e.owners)?;
    let body = call.json_body()?;
    let key_id = key_id_of(&body)?;
    let id = e.str("id").to_string();
    remove_credential(doc, &id, "passwordCredentials", &key_id)?;
    let entry = doc.applications.get_mut(&id).expect("found above");
    entry.secrets.retain(|s| s.key_id != key_id);
    Ok(Reply::no_content())
}

/// A client secret in the shape Entra generates (40 characters, `~` in the fourth place).
pub(crate) fn new_secret_text() -> String {
    let raw = crate::random_b64url(30).replace(['-', '_'], "x");
    format!("{}{}Q~{}", &raw[..3], "8", &raw[3..37])
}

// --- federated identity credentials -------------------------------------------------------------

const FIC_MAX: usize = 20;

fn fic_check(body: &Object, existing: Option<&Object>) -> Result<Object, GraphError> {
    only_properties(
        body,
        &[
            "id",
            "name",
            "issuer",
            "subject",
            "audiences",
            "description",
        ],
    )?;
    let mut out = existing.cloned().unwrap_or_default();
    let text = |name: &str, max: usize, required: bool| -> Result<Option<String>, GraphError> {
        match body.get(name) {
            None if required && existing.is_none() => Err(GraphError::bad_request(format!(
                "Property '{name}' is required."
            ))),
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max => {
                Ok(Some(s.clone()))
            }
            _ => Err(GraphError::invalid_value(name)),
        }
    };
    if let Some(name) = text("name", 120, true)? {
        if let Some(old) = existing
            && old["name"] != json!(name)
        {
            return Err(GraphError::bad_request(
                "Property 'name' is immutable once set and cannot be updated.",
            ));
        }
        // "3-120 characters and must be URL friendly. Alphanumeric, dash, or underscore
        // characters are supported, the first character must be alphanumeric only."
        // (MicrosoftDocs/azure-docs, federated-credential-configuration-considerations.md)
        let url_friendly = name.chars().count() >= 3
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !url_friendly {
            return Err(GraphError::invalid_value("name"));
        }
        out.insert("name".into(), json!(name));
    }
    if let Some(issuer) = text("issuer", 600, true)? {
        out.insert("issuer".into(), json!(issuer));
    }
    if let Some(subject) = text("subject", 600, true)? {
        out.insert("subject".into(), json!(subject));
    }
    match body.get("description") {
        None => {
            out.entry("description").or_insert(Value::Null);
        }
        Some(Value::Null) => {
            out.insert("description".into(), Value::Null);
        }
        Some(Value::String(s)) if s.chars().count() <= 600 => {
            out.insert("description".into(), json!(s));
        }
        _ => return Err(GraphError::invalid_value("description")),
    }
    match body.get("audiences") {
        None if existing.is_none() => {
            return Err(GraphError::bad_request("Property 'audiences' is required."));
        }
        None => {}
        Some(Value::Array(a))
            if a.len() == 1
                && a[0]
                    .as_str()
                    .is_some_and(|s| !s.is_empty() && s.len() <= 600) =>
        {
            out.insert("audiences".into(), Value::Array(a.clone()));
        }
        Some(Value::Array(_)) => {
            return Err(GraphError::bad_request(
                "Federated identity credential 'audiences' must contain exactly one value.",
            ));
        }
        _ => return Err(GraphError::invalid_value("audiences")),
    }
    Ok(out)
}

fn fic_render(id: &str, o: &Object) -> Object {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    for k in ["name", "issuer", "subject", "description", "audiences"] {
        m.insert(k.into(), o.get(k).cloned().unwrap_or(Value::Null));
    }
    m
}

fn fic_route(
    doc: &mut Document,
    call: &Call,
    key: &Key,
    rest: &[&str],
) -> Result<Reply, GraphError> {
    let app = find(doc, key, call.now)?;
    let app_id = app.str("id").to_string();
    let ctx = format!("applications('{app_id}')/federatedIdentityCredentials");
    let (fic_key, tail): (Option<Key>, &[&str]) = match rest {
        [] => (None, &[]),
        [seg, tail @ ..] => {
            let k = if let Some(name) = seg
                .strip_prefix("(name='")
                .or_else(|| seg.strip_prefix("federatedIdentityCredentials(name='"))
            {
                Key::Alt(
                    "name".into(),
                    name.trim_end_matches("')").replace("''", "'"),
                )
            } else {
                Key::Id(seg.to_string())
            };
            (Some(k), tail)
        }
    };
    if !tail.is_empty() {
        return Err(GraphError::no_route(call.path));
    }
    let pos = |doc: &Document, k: &Key| -> Option<usize> {
        doc.applications[&app_id]
            .federated
            .iter()
            .position(|f| match k {
                Key::Id(id) => f.object["id"].as_str() == Some(id.as_str()),
                Key::Alt(_, n) => f.object["name"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(n)),
            })
    };
    match (call.method, fic_key) {
        ("GET", None) => {
            call.caller.can_read_apps()?;
            let q = call.query(&FEDERATED_CREDENTIALS)?;
            let items = filter_project(
                doc.applications[&app_id]
                    .federated
                    .iter()
                    .filter(|f| f.visible(call.now))
                    .map(|f| &f.object),
                &q,
            );
            let context = call.metadata(&format!("{ctx}{}", q.context_suffix()));
            Ok(Reply::json(200, page(call, context, items, &q)?))
        }
        ("POST", None) => {
            call.caller.can_write(&doc.applications[&app_id].owners)?;
            let body = call.json_body()?;
            let obj = fic_check(&body, None)?;
            fic_insert(doc, call, &app_id, obj, &ctx)
        }
        ("GET", Some(k)) => {
            call.caller.can_read_apps()?;
            let q = call.entity_query(&FEDERATED_CREDENTIALS)?;
            let i = pos(doc, &k)
                .filter(|i| doc.applications[&app_id].federated[*i].visible(call.now))
                .ok_or_else(|| GraphError::not_found(&k.describe()))?;
            let o = odata::project(
                &doc.applications[&app_id].federated[i].object,
                q.select.as_deref(),
            );
            Ok(Reply::json(
                200,
                entity(
                    call.metadata(&format!("{ctx}{}/$entity", q.context_suffix())),
                    o,
                ),
            ))
        }
        ("PATCH", Some(k)) => {
            call.caller.can_write(&doc.applications[&app_id].owners)?;
            let body = call.json_body()?;
            match pos(doc, &k) {
                Some(i) => {
                    let current = doc.applications[&app_id].federated[i].object.clone();
                    let updated = fic_check(&body, Some(&current))?;
                    fic_unique(doc, &app_id, &updated, Some(i))?;
                    let id = current["id"].as_str().unwrap_or_default().to_string();
                    doc.applications.get_mut(&app_id).expect("found").federated[i].object =
                        fic_render(&id, &updated);
                    Ok(Reply::no_content())
                }
                None => {
                    // Upsert by name.
                    let Key::Alt(_, name) = k else {
                        return Err(GraphError::not_found(&k.describe()));
                    };
                    let mut with_name = body.clone();
                    with_name.insert("name".into(), json!(name));
                    let obj = fic_check(&with_name, None)?;
                    fic_insert(doc, call, &app_id, obj, &ctx)
                }
            }
        }
        ("DELETE", Some(k)) => {
            call.caller.can_write(&doc.applications[&app_id].owners)?;
            let i = pos(doc, &k).ok_or_else(|| GraphError::not_found(&k.describe()))?;
            doc.applications
                .get_mut(&app_id)
                .expect("found")
                .federated
                .remove(i);
            Ok(Reply::no_content())
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}

fn fic_unique(
    doc: &Document,
    app_id: &str,
    obj: &Object,
    skip: Option<usize>,
) -> Result<(), GraphError> {
    for (i, f) in doc.applications[app_id].federated.iter().enumerate() {
        if Some(i) == skip {
            continue;
        }
        if f.object["name"].as_str().map(str::to_lowercase)
            == obj["name"].as_str().map(str::to_lowercase)
        {
            return Err(GraphError::same_key(409, "name"));
        }
        if f.object["issuer"] == obj["issuer"] && f.object["subject"] == obj["subject"] {
            return Err(GraphError::bad_request(
                "FederatedIdentityCredential with the same issuer and subject already exists on this application.",
            ));
        }
    }
    Ok(())
}

fn fic_insert(
    doc: &mut Document,
    call: &Call,
    app_id: &str,
    obj: Object,
    ctx: &str,
) -> Result<Reply, GraphError> {
    if doc.applications[app_id].federated.len() >= FIC_MAX {
        return Err(GraphError::bad_request(format!(
            "The application already has the maximum of {FIC_MAX} federated identity credentials."
        )));
    }
    fic_unique(doc, app_id, &obj, None)?;
    let id = new_guid();
    let rendered = fic_render(&id, &obj);
    let tenant = doc.tenant.id.clone();
    doc.applications
        .get_mut(app_id)
        .expect("found")
        .federated
        .push(Entry::new(rendered.clone(), call.visible_at()));
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(call.metadata(&format!("{ctx}/$entity"))),
    );
    body.insert(
        "@odata.id".into(),
        json!(format!("https://graph.microsoft.com/v2/{tenant}/directoryObjects/$/Microsoft.DirectoryServices.Application('{app_id}')/federatedIdentityCredentials/{id}")),
    );
    body.extend(rendered);
    Ok(Reply::created(
        Value::Object(body),
        format!(
            "{}/v1.0/applications/{app_id}/federatedIdentityCredentials/{id}",
            call.base
        ),
    ))
}

/// Everything under `/applications/{key}`.
pub(crate) fn route(
    doc: &mut Document,
    call: &Call,
    key: &Key,
    rest: &[&str],
) -> Result<Reply, GraphError> {
    match (call.method, rest) {
        ("GET", []) => get(doc, call, key),
        ("PATCH", []) => update(doc, call, key),
        ("DELETE", []) => delete(doc, call, key),
        ("POST", ["addKey"]) => add_key(doc, call, key),
        ("POST", ["removeKey"]) => remove_key(doc, call, key),
        ("POST", ["addPassword"]) => add_password(doc, call, key),
        ("POST", ["removePassword"]) => remove_password(doc, call, key),
        (_, [first, tail @ ..]) if first.starts_with("federatedIdentityCredentials") => {
            let sub: Vec<&str> = match first.strip_prefix("federatedIdentityCredentials") {
                Some("") => tail.to_vec(),
                Some(k) => std::iter::once(k).chain(tail.iter().copied()).collect(),
                None => tail.to_vec(),
            };
            fic_route(doc, call, key, &sub)
        }
        (_, ["owners", tail @ ..]) => {
            let e = find(doc, key, call.now)?;
            let id = e.str("id").to_string();
            if call.method == "GET" {
                call.caller.can_read_apps()?;
            }
            let can_write = call.caller.can_write(&e.owners);
            let id2 = id.clone();
            owners_route(
                doc,
                call,
                move |d| d.applications[&id].owners.clone(),
                move |d, o| d.applications.get_mut(&id2).expect("found").owners = o,
                call.metadata("directoryObjects"),
                tail,
                can_write,
            )
        }
        _ => Err(GraphError::no_route(call.path)),
    }
}
