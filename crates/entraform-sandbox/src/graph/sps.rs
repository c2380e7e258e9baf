//! `/servicePrincipals`: create (with Graph's `NoBackingApplicationObject` for an app this replica
//! cannot see yet), get, list, update, upsert by appId, delete, and the assignment and owner
//! relationships. A service principal of a local application shows the application's roles,
//! scopes and tags, as Graph does.

use serde_json::{Value, json};

use super::{
    Call, Field, Key, Kind, Reply, apply_fields, assignments, count_reply, entity, f, owners_route,
    page, perm, visible,
};
use crate::errors::GraphError;
use crate::odata::{self, MAX_EXPANDED, SERVICE_PRINCIPALS};
use crate::state::{Document, Entry, Object};
use crate::{is_guid, new_guid};

pub(crate) const SP_PROPERTIES: &[&str] = &[
    "id",
    "deletedDateTime",
    "accountEnabled",
    "alternativeNames",
    "appDescription",
    "appDisplayName",
    "appId",
    "applicationTemplateId",
    "appOwnerOrganizationId",
    "appRoleAssignmentRequired",
    "description",
    "disabledByMicrosoftStatus",
    "displayName",
    "homepage",
    "loginUrl",
    "logoutUrl",
    "notes",
    "notificationEmailAddresses",
    "preferredSingleSignOnMode",
    "preferredTokenSigningKeyThumbprint",
    "publisherName",
    "replyUrls",
    "servicePrincipalNames",
    "servicePrincipalType",
    "signInAudience",
    "tags",
    "tokenEncryptionKeyId",
    "samlSingleSignOnSettings",
    "addIns",
    "appRoles",
    "info",
    "keyCredentials",
    "oauth2PermissionScopes",
    "passwordCredentials",
    "resourceSpecificApplicationPermissions",
    "verifiedPublisher",
];

const SCHEMA: &[Field] = &[
    f("id", Kind::ReadOnly),
    f("deletedDateTime", Kind::ReadOnly),
    f("appId", Kind::Special),
    f("appDisplayName", Kind::ReadOnly),
    f("applicationTemplateId", Kind::ReadOnly),
    f("appOwnerOrganizationId", Kind::ReadOnly),
    f("servicePrincipalType", Kind::ReadOnly),
    f("signInAudience", Kind::ReadOnly),
    f("appRoles", Kind::ReadOnly),
    f("oauth2PermissionScopes", Kind::ReadOnly),
    f("passwordCredentials", Kind::ReadOnly),
    f("resourceSpecificApplicationPermissions", Kind::ReadOnly),
    f("verifiedPublisher", Kind::ReadOnly),
    f("disabledByMicrosoftStatus", Kind::ReadOnly),
    f("publisherName", Kind::ReadOnly),
    f("accountEnabled", Kind::Bool),
    f("alternativeNames", Kind::Strs),
    f("appDescription", Kind::OptStr),
    f("appRoleAssignmentRequired", Kind::Bool),
    f("description", Kind::OptStr),
    f("displayName", Kind::Str(256)),
    f("homepage", Kind::OptStr),
    f("loginUrl", Kind::OptStr),
    f("logoutUrl", Kind::OptStr),
    f("notes", Kind::OptStr),
    f("notificationEmailAddresses", Kind::Strs),
    f("preferredSingleSignOnMode", Kind::OptStr),
    f("preferredTokenSigningKeyThumbprint", Kind::OptStr),
    f("replyUrls", Kind::Strs),
    f("servicePrincipalNames", Kind::Strs),
    f("tags", Kind::Strs),
    f("tokenEncryptionKeyId", Kind::OptGuid),
    f("samlSingleSignOnSettings", Kind::Obj(&["relayState"])),
    f("addIns", Kind::ObjList),
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
    f("keyCredentials", Kind::ObjList),
];

/// A new service principal as Graph returns it from `POST /servicePrincipals`.
pub(crate) fn new_object(id: &str, app_id: &str, display_name: &str, owner_org: &str) -> Object {
    let v = json!({
        "id": id,
        "deletedDateTime": null,
        "accountEnabled": true,
        "alternativeNames": [],
        "appDescription": null,
        "appDisplayName": display_name,
        "appId": app_id,
        "applicationTemplateId": null,
        "appOwnerOrganizationId": owner_org,
        "appRoleAssignmentRequired": false,
        "description": null,
        "disabledByMicrosoftStatus": null,
        "displayName": display_name,
        "homepage": null,
        "loginUrl": null,
        "logoutUrl": null,
        "notes": null,
        "notificationEmailAddresses": [],
        "preferredSingleSignOnMode": null,
        "preferredTokenSigningKeyThumbprint": null,
        "publisherName": null,
        "replyUrls": [],
        "servicePrincipalNames": [app_id],
        "servicePrincipalType": "Application",
        "signInAudience": "AzureADMyOrg",
        "tags": [],
        "tokenEncryptionKeyId": null,
        "samlSingleSignOnSettings": null,
        "addIns": [],
        "appRoles": [],
        "info": {
            "termsOfServiceUrl": null,
            "supportUrl": null,
            "privacyStatementUrl": null,
            "marketingUrl": null,
            "logoUrl": null
        },
        "keyCredentials": [],
        "oauth2PermissionScopes": [],
        "passwordCredentials": [],
        "resourceSpecificApplicationPermissions": [],
        "verifiedPublisher": {
            "displayName": null,
            "verifiedPublisherId": null,
            "addedDateTime": null
        }
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}

fn union(a: &Value, b: &Value) -> Value {
    let mut out: Vec<Value> = a.as_array().cloned().unwrap_or_default();
    for v in b.as_array().into_iter().flatten() {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Value::Array(out)
}

/// The service principal as Graph shows it: a local application's roles, scopes, names and
/// tags flow into its service principal.
pub(crate) fn render(doc: &Document, e: &Entry) -> Object {
    let app_id = e.str("appId");
    render_with(app_of(doc, app_id), e)
}

/// The local application of an appId, if any.
fn app_of<'a>(doc: &'a Document, app_id: &str) -> Option<&'a Entry> {
    doc.applications.find_by("appId", app_id).next()
}

fn render_with(app: Option<&Entry>, e: &Entry) -> Object {
    let mut o = e.object.clone();
    if let Some(app) = app {
        let a = &app.object;
        o.insert("appDisplayName".into(), a["displayName"].clone());
        o.insert("appRoles".into(), a["appRoles"].clone());
        o.insert(
            "oauth2PermissionScopes".into(),
            a["api"]["oauth2PermissionScopes"].clone(),
        );
        o.insert("signInAudience".into(), a["signInAudience"].clone());
        o.insert("tags".into(), union(&o["tags"], &a["tags"]));
        o.insert(
            "servicePrincipalNames".into(),
            union(&o["servicePrincipalNames"], &a["identifierUris"]),
        );
    }
    if let Some(Value::Array(keys)) = o.get_mut("keyCredentials") {
        for k in keys.iter_mut() {
            if let Some(m) = k.as_object_mut() {
                m.insert("key".into(), Value::Null);
            }
        }
    }
    o
}

pub(crate) fn lookup<'a>(doc: &'a Document, key: &Key) -> Result<Option<&'a Entry>, GraphError> {
    Ok(match key {
        Key::Id(id) if !is_guid(id) => return Err(super::invalid_id(id)),
        Key::Id(id) => doc.service_principals.get(&id.to_lowercase()),
        Key::Alt(k, v) if k == "appId" => doc.service_principals.find_by("appId", v).next(),
        Key::Alt(k, _) => {
            return Err(GraphError::bad_request(format!(
                "'{k}' is not an alternate key of servicePrincipal; use appId."
            )));
        }
    })
}

pub(crate) fn find<'a>(doc: &'a Document, key: &Key, now: i64) -> Result<&'a Entry, GraphError> {
    lookup(doc, key)?
        .filter(|e| e.visible(now))
        .ok_or_else(|| GraphError::not_found(&key.describe()))
}

/// Finds the service principal of an appId (visible ones only).
pub(crate) fn by_app_id<'a>(doc: &'a Document, app_id: &str, now: i64) -> Option<&'a Entry> {
    doc.service_principals
        .find_by("appId", app_id)
        .find(|e| e.visible(now))
}

/// What `$filter` sees of a service principal: its filterable properties, with the tags and
/// service principal names it inherits from its application, and its owners.
fn filter_view(app: Option<&Entry>, e: &Entry) -> Object {
    let mut o = odata::filter_view(&SERVICE_PRINCIPALS, &e.object);
    if let Some(app) = app {
        let a = &app.object;
        o.insert("tags".into(), union(&e.object["tags"], &a["tags"]));
        o.insert(
            "servicePrincipalNames".into(),
            union(&e.object["servicePrincipalNames"], &a["identifierUris"]),
        );
    }
    o.insert(
        "owners".into(),
        Value::Array(e.owners.iter().cloned().map(Value::String).collect()),
    );
    o
}

fn can_read(call: &Call) -> Result<(), GraphError> {
    call.caller.can_read_apps()
}

pub(crate) fn list(doc: &Document, call: &Call) -> Result<Reply, GraphError> {
    can_read(call)?;
    let q = call.query(&SERVICE_PRINCIPALS)?;
    let mut items = Vec::new();
    // A service principal's tags include its application's.
    let tagged_apps = |prop: &str, value: &str| {
        (prop == "tags").then(|| {
            doc.applications
                .find_by("tags", value)
                .flat_map(|a| doc.service_principals.lookup("appId", a.str("appId")))
                .flatten()
                .cloned()
                .collect()
        })
    };
    let candidates = doc
        .service_principals
        .candidates(q.filter.as_ref(), &tagged_apps);
    for e in candidates.filter(|e| e.visible(call.now)) {
        let app = app_of(doc, e.str("appId"));
        let view = filter_view(app, e);
        if let Some(flt) = &q.filter
            && !odata::eval(flt, &view, &|o, rel| {
                o.get(rel).and_then(Value::as_array).map_or(0, Vec::len)
            })
        {
            continue;
        }
        if let Some(term) = &q.search
            && !odata::search_matches(&view, term)
        {
            continue;
        }
        let mut o = odata::project(&render_with(app, e), q.select.as_deref());
        if let Some(rel) = &q.expand {
            o.insert(rel.clone(), expand(doc, e, rel, call.now));
        }
        items.push(o);
    }
    let context = call.metadata(&format!("servicePrincipals{}", q.context_suffix()));
    Ok(Reply::json(200, page(call, context, items, &q)?))
}

fn expand(doc: &Document, e: &Entry, rel: &str, now: i64) -> Value {
    let id = e.str("id");
    let items: Vec<Value> = match rel {
        "appRoleAssignments" => assignments::of_principal(doc, id, now),
        "appRoleAssignedTo" => assignments::of_resource(doc, id, now),
        _ => e
            .owners
            .iter()
            .filter_map(|o| super::directory_object(doc, o, now))
            .collect(),
    }
    .into_iter()
    .map(Value::Object)
    .collect();
    Value::Array(items.into_iter().take(MAX_EXPANDED).collect())
}

pub(crate) fn count(doc: &mut Document, call: &Call) -> Result<Reply, GraphError> {
    can_read(call)?;
    count_reply(call, || visible(&doc.service_principals, call.now).count())
}

pub(crate) fn get(doc: &Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    can_read(call)?;
    let q = call.entity_query(&SERVICE_PRINCIPALS)?;
    let e = find(doc, key, call.now)?;
    let mut o = odata::project(&render(doc, e), q.select.as_deref());
    if let Some(rel) = &q.expand {
        o.insert(rel.clone(), expand(doc, e, rel, call.now));
    }
    let context = call.metadata(&format!("servicePrincipals{}/$entity", q.context_suffix()));
    Ok(Reply::json(200, entity(context, o)))
}

fn no_backing_app(app_id: &str) -> GraphError {
    let message = format!(
        "The appId '{app_id}' of the service principal does not reference a valid application object."
    );
    let mut e = GraphError::bad_request(message.clone());
    e.details.push(json!({
        "code": "NoBackingApplicationObject",
        "message": message,
        "target": "appId",
    }));
    e
}

/// What an `Application.ReadWrite.OwnedBy` caller gets for an application this replica does
/// not know (yet).
fn not_local_app() -> GraphError {
    GraphError::new(
        403,
        "Authorization_RequestDenied",
        "When using this permission, the backing application of the service principal being created must in the local tenant",
    )
}

pub(crate) fn create(doc: &mut Document, call: &Call) -> Result<Reply, GraphError> {
    call.caller.require(&[perm::APP_RW, perm::APP_OWNED])?;
    let body = call.json_body()?;
    let app_id = match body.get("appId") {
        Some(Value::String(s)) if is_guid(s) => s.to_lowercase(),
        _ => return Err(GraphError::invalid_value("appId")),
    };
    create_for(doc, call, &app_id, &body)
}

fn create_for(
    doc: &mut Document,
    call: &Call,
    app_id: &str,
    body: &Object,
) -> Result<Reply, GraphError> {
    let app = app_of(doc, app_id);
    let (app_name, app_owners) = match app {
        Some(a) if a.visible(call.now) => (a.str("displayName").to_string(), a.owners.clone()),
        // Created but not yet replicated to this replica, or never created. An OwnedBy caller is
        // told so as a 403 that reads like a missing permission (terraform-provider-azuread
        // retries it: internal/services/serviceprincipals/service_principal_resource.go).
        _ if !call.caller.has_any(&[perm::APP_RW]) => return Err(not_local_app()),
        _ => return Err(no_backing_app(app_id)),
    };
    if !call.caller.has_any(&[perm::APP_RW]) && !app_owners.contains(&call.caller.sp_id) {
        return Err(GraphError::denied());
    }
    if doc
        .service_principals
        .find_by("appId", app_id)
        .next()
        .is_some()
    {
        return Err(GraphError::new(
            409,
            "Request_MultipleObjectsWithSameKeyValue",
            format!(
                "The service principal cannot be created, updated, or restored because the service principal name {app_id} is already in use."
            ),
        ));
    }
    let id = new_guid();
    let mut obj = new_object(&id, app_id, &app_name, &doc.tenant.id);
    apply_fields(&mut obj, body, SCHEMA)?;
    let mut entry = Entry::new(obj, call.visible_at());
    if !call.caller.has_any(&[perm::APP_RW]) {
        entry.owners.push(call.caller.sp_id.clone());
    }
    let rendered = render(doc, &entry);
    doc.service_principals.insert(id.clone(), entry);
    let location = format!(
        "https://graph.microsoft.com/v2/{}/directoryObjects/{id}/Microsoft.DirectoryServices.ServicePrincipal",
        doc.tenant.id
    );
    Ok(Reply::created(
        entity(call.metadata("servicePrincipals/$entity"), rendered),
        location,
    ))
}

fn update(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    let upsert =
        matches!(key, Key::Alt(k, _) if k == "appId") && call.headers.prefers("create-if-missing");
    let existing = lookup(doc, key)?.map(|e| (e.visible(call.now), e.str("id").to_string()));
    let id = match existing {
        Some((true, id)) => id,
        Some((false, _)) if upsert => {
            return Err(GraphError::new(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "Another object with the same value for property appId already exists.",
            ));
        }
        None if upsert => {
            call.caller.require(&[perm::APP_RW, perm::APP_OWNED])?;
            let body = call.json_body()?;
            let Key::Alt(_, app_id) = key else {
                unreachable!("upsert keys are alternate keys")
            };
            return create_for(doc, call, &app_id.to_lowercase(), &body);
        }
        _ => return Err(GraphError::not_found(&key.describe())),
    };
    let entry = &doc.service_principals[&id];
    call.caller.can_write(&entry.owners)?;
    let body = call.json_body()?;
    if let Some(v) = body.get("appId")
        && v.as_str().map(str::to_lowercase) != Some(entry.str("appId").to_lowercase())
    {
        return Err(GraphError::read_only("appId"));
    }
    let mut obj = entry.object.clone();
    apply_fields(&mut obj, &body, SCHEMA)?;
    doc.service_principals
        .get_mut(&id)
        .expect("found above")
        .object = obj;
    Ok(Reply::no_content())
}

/// Deletes a service principal (into deleted items, for 30 days) and everything that points at
/// it: its assignments and grants do not come back with a restore here.
pub(crate) fn remove(doc: &mut Document, sp_id: &str, now: i64) {
    if let Some(mut e) = doc.service_principals.remove(sp_id) {
        e.object
            .insert("deletedDateTime".into(), json!(crate::iso(now)));
        doc.deleted_service_principals.insert(sp_id.to_owned(), e);
    }
    doc.app_role_assignments
        .retain(|_, a| a.str("principalId") != sp_id && a.str("resourceId") != sp_id);
    doc.role_assignments
        .retain(|_, a| a.str("principalId") != sp_id);
    doc.oauth2_permission_grants
        .retain(|_, g| g.str("clientId") != sp_id && g.str("resourceId") != sp_id);
    let owned = |e: &Entry| e.owners.iter().any(|o| o == sp_id);
    let disown = |e: &mut Entry| e.owners.retain(|o| o != sp_id);
    doc.applications.update_where(owned, disown);
    doc.service_principals.update_where(owned, disown);
}

fn delete(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    let e = find(doc, key, call.now)?;
    call.caller.can_write(&e.owners)?;
    let id = e.str("id").to_string();
    remove(doc, &id, call.now);
    Ok(Reply::no_content())
}

/// `GET /servicePrincipals/{id}/ownedObjects[/microsoft.graph.application]`: the directory
/// objects this service principal owns, optionally cast to one type (serviceprincipal-list-
/// ownedobjects: Application.Read.All, Application.ReadWrite.OwnedBy, Application.ReadWrite.All,
/// Directory.Read.All, Directory.ReadWrite.All).
fn owned_objects(
    doc: &Document,
    call: &Call,
    sp_id: &str,
    tail: &[&str],
) -> Result<Reply, GraphError> {
    can_read(call)?;
    let cast = match tail {
        [] => None,
        ["microsoft.graph.application"] => Some("#microsoft.graph.application"),
        ["microsoft.graph.servicePrincipal"] => Some("#microsoft.graph.servicePrincipal"),
        _ => return Err(GraphError::no_route(call.path)),
    };
    let q = call.query(&odata::OWNERS)?;
    let owned = doc
        .applications
        .values()
        .chain(doc.service_principals.values())
        .filter(|e| e.visible(call.now) && e.owners.iter().any(|o| o == sp_id))
        .filter_map(|e| super::directory_object(doc, e.str("id"), call.now))
        .filter(|o| cast.is_none_or(|t| o.get("@odata.type").and_then(Value::as_str) == Some(t)))
        .map(|o| {
            let mut p = odata::project(&o, q.select.as_deref());
            if let Some(t) = o.get("@odata.type") {
                p.insert("@odata.type".into(), t.clone());
            }
            p
        })
        .collect();
    let what = cast.map_or("directoryObjects", |t| {
        if t.ends_with("application") {
            "applications"
        } else {
            "servicePrincipals"
        }
    });
    Ok(Reply::json(
        200,
        super::page(call, call.metadata(what), owned, &q)?,
    ))
}

/// Everything under `/servicePrincipals/{key}`.
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
        (_, ["appRoleAssignedTo", tail @ ..]) => {
            let id = find(doc, key, call.now)?.str("id").to_string();
            assignments::route(doc, call, &id, assignments::Side::Resource, tail)
        }
        (_, ["appRoleAssignments", tail @ ..]) => {
            let id = find(doc, key, call.now)?.str("id").to_string();
            assignments::route(doc, call, &id, assignments::Side::Principal, tail)
        }
        ("GET", ["ownedObjects", tail @ ..]) => {
            let id = find(doc, key, call.now)?.str("id").to_string();
            owned_objects(doc, call, &id, tail)
        }
        (_, ["owners", tail @ ..]) => {
            let e = find(doc, key, call.now)?;
            let id = e.str("id").to_string();
            if call.method == "GET" {
                can_read(call)?;
            }
            let can_write = call.caller.can_write(&e.owners);
            let id2 = id.clone();
            owners_route(
                doc,
                call,
                move |d| d.service_principals[&id].owners.clone(),
                move |d, o| d.service_principals.get_mut(&id2).expect("found").owners = o,
                call.metadata("directoryObjects"),
                tail,
                can_write,
            )
        }
        _ => Err(GraphError::no_route(call.path)),
    }
}
