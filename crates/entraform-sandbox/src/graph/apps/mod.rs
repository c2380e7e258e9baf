//! `/applications`: create, get (by id, appId, uniqueName), list, update, upsert, delete,
//! certificates (`keyCredentials`, `addKey`/`removeKey` with real proof verification), secrets
//! (`addPassword`/`removePassword`), federated identity credentials and owners. By concern:
//! [`keys`] (certificates and key proofs), [`passwords`], [`federated`]; the rest here.

mod federated;
mod keys;
mod passwords;

pub(crate) use keys::{certificates, valid_certificates};
pub(crate) use passwords::new_secret_text;

use federated::fic_route;
use keys::{add_key, normalize_key, remove_key};
use passwords::{add_password, remove_password};

use serde_json::{Value, json};

use super::{
    Call, Field, Key, Kind, Reply, apply_fields, count_reply, entity, f, owners_route, page, perm,
    visible,
};
use crate::errors::GraphError;
use crate::odata::{self, APPLICATIONS, MAX_EXPANDED};
use crate::state::{Document, Entry, Object};
use crate::{is_guid, iso, new_guid};

/// What a write may set on each application property, and its value on a new application (as
/// JSON; the values `new_object` is given are marked `null` here), in Graph's order.
const PROPERTIES: &[Property] = &[
    p("id", Kind::ReadOnly, "null"),
    p("deletedDateTime", Kind::ReadOnly, "null"),
    p("appId", Kind::ReadOnly, "null"),
    p("applicationTemplateId", Kind::ReadOnly, "null"),
    p("disabledByMicrosoftStatus", Kind::ReadOnly, "null"),
    p("createdDateTime", Kind::ReadOnly, "null"),
    p("displayName", Kind::Str(256), "null"),
    p("description", Kind::OptStr, "null"),
    p("groupMembershipClaims", Kind::OptStr, "null"),
    p("identifierUris", Kind::Strs, "[]"),
    p("isDeviceOnlyAuthSupported", Kind::OptBool, "null"),
    p("isFallbackPublicClient", Kind::OptBool, "null"),
    p("nativeAuthenticationApisEnabled", Kind::OptStr, "null"),
    p("notes", Kind::OptStr, "null"),
    p("publisherDomain", Kind::ReadOnly, "null"),
    p("serviceManagementReference", Kind::OptStr, "null"),
    p(
        "signInAudience",
        Kind::Enum(AUDIENCES),
        r#""AzureADandPersonalMicrosoftAccount""#,
    ),
    p("tags", Kind::Strs, "[]"),
    p("tokenEncryptionKeyId", Kind::OptGuid, "null"),
    p("uniqueName", Kind::Special, "null"),
    p("samlMetadataUrl", Kind::OptStr, "null"),
    p("defaultRedirectUri", Kind::OptStr, "null"),
    p("certification", Kind::ReadOnly, "null"),
    p(
        "optionalClaims",
        Kind::Obj(&["idToken", "accessToken", "saml2Token"]),
        "null",
    ),
    p(
        "servicePrincipalLockConfiguration",
        Kind::Obj(&[
            "isEnabled",
            "allProperties",
            "credentialsWithUsageVerify",
            "credentialsWithUsageSign",
            "identifierUris",
            "tokenEncryptionKeyId",
        ]),
        "null",
    ),
    p(
        "requestSignatureVerification",
        Kind::Obj(&["allowedWeakAlgorithms", "isSignedRequestRequired"]),
        "null",
    ),
    p("addIns", Kind::ObjList, "[]"),
    // Graph's default audience (AzureADandPersonalMicrosoftAccount) comes with v2 tokens
    // (application-post-applications example response).
    p(
        "api",
        Kind::Obj(&[
            "requestedAccessTokenVersion",
            "acceptMappedClaims",
            "knownClientApplications",
            "oauth2PermissionScopes",
            "preAuthorizedApplications",
        ]),
        r#"{"requestedAccessTokenVersion": 2, "acceptMappedClaims": null,
            "knownClientApplications": [], "oauth2PermissionScopes": [],
            "preAuthorizedApplications": []}"#,
    ),
    p("appRoles", Kind::Special, "[]"),
    p(
        "info",
        Kind::Obj(&[
            "termsOfServiceUrl",
            "supportUrl",
            "privacyStatementUrl",
            "marketingUrl",
            "logoUrl",
        ]),
        r#"{"termsOfServiceUrl": null, "supportUrl": null, "privacyStatementUrl": null,
            "marketingUrl": null, "logoUrl": null}"#,
    ),
    p("keyCredentials", Kind::Special, "[]"),
    p(
        "parentalControlSettings",
        Kind::Obj(&["countriesBlockedForMinors", "legalAgeGroupRule"]),
        r#"{"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"}"#,
    ),
    p("passwordCredentials", Kind::ReadOnly, "[]"),
    p(
        "publicClient",
        Kind::Obj(&["redirectUris"]),
        r#"{"redirectUris": []}"#,
    ),
    p("requiredResourceAccess", Kind::Special, "[]"),
    p(
        "verifiedPublisher",
        Kind::ReadOnly,
        r#"{"displayName": null, "verifiedPublisherId": null, "addedDateTime": null}"#,
    ),
    p(
        "web",
        Kind::Obj(&[
            "redirectUris",
            "homePageUrl",
            "logoutUrl",
            "implicitGrantSettings",
            "redirectUriSettings",
        ]),
        r#"{"homePageUrl": null, "logoutUrl": null, "redirectUris": [],
            "implicitGrantSettings": {"enableAccessTokenIssuance": false,
                                      "enableIdTokenIssuance": false},
            "redirectUriSettings": []}"#,
    ),
    p(
        "spa",
        Kind::Obj(&["redirectUris"]),
        r#"{"redirectUris": []}"#,
    ),
    p("oauth2RequirePostResponse", Kind::Bool, "false"),
];

struct Property {
    field: Field,
    /// JSON text.
    new: &'static str,
}

const fn p(name: &'static str, kind: Kind, new: &'static str) -> Property {
    Property {
        field: f(name, kind),
        new,
    }
}

/// Every property an application has, in Graph's order; also what `$select` may name.
pub(crate) const APP_PROPERTIES: &[&str] = &{
    let mut names = [""; PROPERTIES.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = PROPERTIES[i].field.name;
        i += 1;
    }
    names
};

/// What a create or update body may set.
const SCHEMA: &[Field] = &{
    let mut fields = [f("", Kind::ReadOnly); PROPERTIES.len()];
    let mut i = 0;
    while i < fields.len() {
        fields[i] = PROPERTIES[i].field;
        i += 1;
    }
    fields
};

const AUDIENCES: &[&str] = &[
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
];

/// A new application as Graph returns it from `POST /applications`.
pub(crate) fn new_object(
    id: &str,
    app_id: &str,
    display_name: &str,
    domain: &str,
    now: i64,
) -> Object {
    PROPERTIES
        .iter()
        .map(|p| {
            let value = match p.field.name {
                "id" => json!(id),
                "appId" => json!(app_id),
                "createdDateTime" => json!(iso(now)),
                "displayName" => json!(display_name),
                "publisherDomain" => json!(domain),
                _ => serde_json::from_str(p.new).expect("the property table holds valid JSON"),
            };
            (p.field.name.to_string(), value)
        })
        .collect()
}

/// The application as Graph shows it: `keyCredentials[].key` only when asked for.
pub(crate) fn render(e: &Entry, with_keys: bool) -> Object {
    let mut o = e.object.clone();
    if !with_keys {
        hide_keys(&mut o);
    }
    o
}

/// Nulls the `key` of every key credential, as lists and most reads show them.
fn hide_keys(o: &mut Object) {
    if let Some(Value::Array(keys)) = o.get_mut("keyCredentials") {
        for k in keys.iter_mut() {
            if let Some(m) = k.as_object_mut() {
                m.insert("key".into(), Value::Null);
            }
        }
    }
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
        Key::Alt(k, v) if k == "appId" => doc.applications.find_by("appId", v).next(),
        Key::Alt(k, v) if k == "uniqueName" => doc.applications.find_by("uniqueName", v).next(),
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

pub(crate) fn list(doc: &Document, call: &Call) -> Result<Reply, GraphError> {
    call.caller.can_read_apps()?;
    let q = call.query(&APPLICATIONS)?;
    let mut items = Vec::new();
    let candidates = doc
        .applications
        .candidates(q.filter.as_ref(), &crate::collection::no_extra);
    for e in candidates.filter(|e| e.visible(call.now)) {
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
        // Projected first, so what is not selected is never copied.
        let mut o = odata::project(&e.object, q.select.as_deref());
        hide_keys(&mut o);
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

pub(crate) fn get(doc: &Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
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
    let uris_before = obj.get("identifierUris").cloned().unwrap_or(Value::Null);
    let scopes_before = obj
        .get("api")
        .and_then(|a| a.get("oauth2PermissionScopes"))
        .cloned();
    apply_fields(obj, body, SCHEMA)?;
    if let Some(v) = body
        .get("api")
        .and_then(|a| a.get("oauth2PermissionScopes"))
    {
        let scopes = check_entitlements(Entitlements::Scopes, v, scopes_before.as_ref())?;
        if let Some(Value::Object(api)) = obj.get_mut("api") {
            api.insert("oauth2PermissionScopes".into(), scopes);
        }
    }
    if body.contains_key("identifierUris") {
        check_identifier_uri_domains(doc, &obj["identifierUris"], &uris_before)?;
    }
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
                    .find_by("uniqueName", new)
                    .chain(doc.deleted_applications.find_by("uniqueName", new))
                    .any(|e| e.object["id"] != self_id)
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
        let roles = check_entitlements(Entitlements::Roles, v, obj.get("appRoles"))?;
        obj.insert("appRoles".into(), roles);
    }
    check_one_value_namespace(obj)?;
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

/// Since October 2021 an added or changed `https://` App ID URI must be on a verified domain
/// of the tenant or a subdomain of one; existing ones are kept (entra-docs
/// reference-breaking-changes.md, "AppId Uri in single tenant applications will require use of
/// default scheme or verified domains"; the message as observed in client code).
fn check_identifier_uri_domains(
    doc: &Document,
    uris: &Value,
    before: &Value,
) -> Result<(), GraphError> {
    let before = before.as_array();
    for uri in uris
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if before.is_some_and(|b| b.iter().any(|u| u == uri)) {
            continue;
        }
        let Some(rest) = uri.strip_prefix("https://") else {
            continue;
        };
        let host = rest
            .split(['/', '?', '#', ':'])
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let domain = doc.tenant.domain.to_lowercase();
        if host != domain && !host.ends_with(&format!(".{domain}")) {
            return Err(GraphError::new(
                400,
                "HostNameNotOnVerifiedDomain",
                format!(
                    "Values of identifierUris property must use a verified domain of the organization or its subdomain: '{uri}'"
                ),
            ));
        }
    }
    Ok(())
}

/// The two lists of entitlements an application defines: app roles and (under `api`)
/// delegated permission scopes (approle.md, permissionscope.md).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entitlements {
    Roles,
    Scopes,
}

impl Entitlements {
    fn property(self) -> &'static str {
        match self {
            Entitlements::Roles => "appRoles",
            Entitlements::Scopes => "oauth2PermissionScopes",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Entitlements::Roles => &[
                "id",
                "allowedMemberTypes",
                "description",
                "displayName",
                "isEnabled",
                "value",
                "origin",
                "@odata.type",
            ],
            Entitlements::Scopes => &[
                "id",
                "adminConsentDescription",
                "adminConsentDisplayName",
                "userConsentDescription",
                "userConsentDisplayName",
                "type",
                "isEnabled",
                "value",
                "origin",
                "@odata.type",
            ],
        }
    }

    /// Who may hold it: changing it on an enabled entry is refused like removing one.
    fn gate(self) -> &'static str {
        match self {
            Entitlements::Roles => "allowedMemberTypes",
            Entitlements::Scopes => "type",
        }
    }
}

/// The `value` rule of both references: "Must not exceed 120 characters in length. Allowed
/// characters are : ! # $ % & ' ( ) * + , - . / : ; < = > ? @ [ ] ^ + _ ` { | } ~, as well as
/// characters in the ranges 0-9, A-Z and a-z. Any other character, including the space
/// character, are not allowed." (approle.md, permissionscope.md); not starting with `.`
/// (terraform-provider-azuread `validate/tokens.go` `RoleScopeClaimValue`).
fn valid_entitlement_value(value: &str) -> bool {
    const SYMBOLS: &str = ":!#$%&'()*+,-./;<=>?@[]^_`{|}~";
    !value.starts_with('.')
        && value.chars().count() <= 120
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SYMBOLS.contains(c))
}

/// Graph's answer to a list with two entries of one value or id (microsoft-graph-docs issue
/// #21667; terraform-provider-azuread issue #269 for a value shared by a role and a scope).
fn duplicate_value(target: &str) -> GraphError {
    let message = "Request contains a property with duplicate values.";
    let mut e = GraphError::new(400, "DuplicateValue", message);
    e.details
        .push(json!({"code": "DuplicateValue", "message": message, "target": target}));
    e
}

fn check_entitlements(
    which: Entitlements,
    v: &Value,
    existing: Option<&Value>,
) -> Result<Value, GraphError> {
    let property = which.property();
    let bad = || GraphError::invalid_value(property);
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
        if let Some(k) = m.keys().find(|k| !which.keys().contains(&k.as_str())) {
            return Err(GraphError::unknown_property(k));
        }
        let id = m
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| is_guid(s))
            .ok_or_else(bad)?;
        let value = m.get("value").and_then(Value::as_str).map(str::to_string);
        if value
            .as_deref()
            .is_some_and(|v| !valid_entitlement_value(v))
        {
            return Err(bad());
        }
        if seen_ids.contains(&id.to_lowercase())
            || value.as_ref().is_some_and(|v| seen_values.contains(v))
        {
            return Err(duplicate_value(property));
        }
        seen_ids.push(id.to_lowercase());
        seen_values.extend(value.clone());
        let is_enabled = m.get("isEnabled").and_then(Value::as_bool).unwrap_or(true);
        out.push(match which {
            Entitlements::Roles => {
                let types = m
                    .get("allowedMemberTypes")
                    .and_then(Value::as_array)
                    .ok_or_else(bad)?;
                if types.is_empty()
                    || !types
                        .iter()
                        .all(|t| matches!(t.as_str(), Some("User" | "Application")))
                {
                    return Err(GraphError::bad_request(format!(
                        "App role with identifier '{id}' must have at least one value specified for 'allowedMemberTypes'."
                    )));
                }
                json!({
                    "allowedMemberTypes": types,
                    "description": m.get("description").cloned().unwrap_or(Value::Null),
                    "displayName": m.get("displayName").cloned().unwrap_or(Value::Null),
                    "id": id,
                    "isEnabled": is_enabled,
                    "origin": "Application",
                    "value": value,
                })
            }
            Entitlements::Scopes => {
                let kind = m.get("type").cloned().unwrap_or(Value::Null);
                if !matches!(kind.as_str(), None | Some("User" | "Admin")) {
                    return Err(bad());
                }
                let text = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
                json!({
                    "adminConsentDescription": text("adminConsentDescription"),
                    "adminConsentDisplayName": text("adminConsentDisplayName"),
                    "id": id,
                    "isEnabled": is_enabled,
                    "type": kind,
                    "userConsentDescription": text("userConsentDescription"),
                    "userConsentDisplayName": text("userConsentDisplayName"),
                    "value": value,
                })
            }
        });
    }
    // An enabled role or scope cannot be removed, nor change who may hold it, before it is
    // disabled (approle.md and permissionscope.md, `isEnabled`: "To delete a role, this must
    // first be set to false. At that point, in a subsequent call, this role may be removed.").
    for old in existing.and_then(Value::as_array).into_iter().flatten() {
        if old["isEnabled"] != json!(true) {
            continue;
        }
        let same = out.iter().find(|n| n["id"] == old["id"]);
        // Disabling is the allowed change.
        let unchanged = same
            .is_some_and(|n| n["value"] == old["value"] && n[which.gate()] == old[which.gate()]);
        if !unchanged {
            return Err(GraphError::new(
                400,
                "CannotDeleteOrUpdateEnabledEntitlement",
                "Permission (scope or role) cannot be deleted or updated unless disabled first",
            ));
        }
    }
    Ok(Value::Array(out))
}

/// App roles and scopes share one namespace of values; an entry may be in both only as the
/// same entitlement, under one id (terraform-provider-azuread issue #269 and PR #971).
fn check_one_value_namespace(obj: &Object) -> Result<(), GraphError> {
    let roles = obj["appRoles"].as_array().cloned().unwrap_or_default();
    let scopes = obj
        .get("api")
        .and_then(|a| a.get("oauth2PermissionScopes"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for s in &scopes {
        if s["value"].is_string()
            && roles
                .iter()
                .any(|r| r["value"] == s["value"] && r["id"] != s["id"])
        {
            return Err(duplicate_value("appRoles"));
        }
    }
    Ok(())
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
        .find_by("appId", &app_id)
        .map(|s| s.str("id").to_string())
        .collect();
    for sp in sp_ids {
        super::sps::remove(doc, &sp, call.now);
    }
    Ok(Reply::no_content())
}

// --- shared by certificates and secrets ------------------------------------------------------

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
    let mut entry = doc
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
