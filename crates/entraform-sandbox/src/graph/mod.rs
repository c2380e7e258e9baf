//! Graph `/v1.0`: routing, authorization by the caller's app roles, and the helpers every
//! resource shares (paging with `@odata.nextLink`, `@odata.context`, body validation).
//! Handlers are synchronous: they run under the state lock, which is what keeps concurrent
//! writers from losing each other's updates.

pub(crate) mod apps;
pub(crate) mod assignments;
pub(crate) mod deleted;
pub(crate) mod grants;
pub(crate) mod groups;
pub(crate) mod roles;
pub(crate) mod sps;
pub(crate) mod users;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::errors::GraphError;
use super::odata::{Params, Query, Resource};
use super::state::{Collection, Document, Entry, Object};

/// Graph app roles (application permissions) by value.
pub(crate) mod perm {
    pub const APP_READ: &str = "Application.Read.All";
    pub const APP_RW: &str = "Application.ReadWrite.All";
    pub const APP_OWNED: &str = "Application.ReadWrite.OwnedBy";
    pub const ASSIGN_RW: &str = "AppRoleAssignment.ReadWrite.All";
    pub const GRANT_RW: &str = "DelegatedPermissionGrant.ReadWrite.All";
    pub const DIR_READ: &str = "Directory.Read.All";
    pub const DIR_RW: &str = "Directory.ReadWrite.All";
    pub const ORG_READ: &str = "Organization.Read.All";
    pub const ORG_RW: &str = "Organization.ReadWrite.All";
    pub const ROLE_READ: &str = "RoleManagement.Read.Directory";
    pub const ROLE_RW: &str = "RoleManagement.ReadWrite.Directory";
    pub const USER_READ: &str = "User.Read.All";
    pub const USER_RW: &str = "User.ReadWrite.All";
    pub const GROUP_READ: &str = "Group.Read.All";
    pub const GROUP_RW: &str = "Group.ReadWrite.All";
    pub const GROUP_MEMBER_READ: &str = "GroupMember.Read.All";
}

/// Who is calling, from a verified access token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub app_id: String,
    /// The caller's service principal object id (`oid`).
    pub sp_id: String,
    pub roles: Vec<String>,
}

impl Caller {
    pub(crate) fn has_any(&self, roles: &[&str]) -> bool {
        self.roles.iter().any(|r| roles.contains(&r.as_str()))
    }

    pub(crate) fn require(&self, roles: &[&str]) -> Result<(), GraphError> {
        if self.has_any(roles) {
            Ok(())
        } else {
            Err(GraphError::denied())
        }
    }

    pub(crate) fn can_read_apps(&self) -> Result<(), GraphError> {
        self.require(&[
            perm::APP_READ,
            perm::APP_RW,
            perm::APP_OWNED,
            perm::DIR_READ,
            perm::DIR_RW,
        ])
    }

    /// Application.ReadWrite.All, or OwnedBy on an object the caller owns.
    pub(crate) fn can_write(&self, owners: &[String]) -> Result<(), GraphError> {
        if self.has_any(&[perm::APP_RW])
            || (self.has_any(&[perm::APP_OWNED]) && owners.contains(&self.sp_id))
        {
            Ok(())
        } else {
            Err(GraphError::denied())
        }
    }
}

/// Request headers, case-insensitive.
#[derive(Debug, Clone, Default)]
pub(crate) struct Headers(pub Vec<(String, String)>);

impl Headers {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn eventual(&self) -> bool {
        self.get("ConsistencyLevel")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
    }

    pub(crate) fn prefers(&self, token: &str) -> bool {
        self.get("Prefer")
            .is_some_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case(token)))
    }
}

/// One Graph request (top-level or a `$batch` part), path relative to `/v1.0`.
pub(crate) struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub params: &'a Params,
    pub headers: &'a Headers,
    pub body: &'a [u8],
    pub caller: &'a Caller,
    pub now: i64,
    /// `http(s)://host:port`, Graph's service root.
    pub base: &'a str,
    pub replication_delay_ms: i64,
}

impl Call<'_> {
    /// When an object created now becomes visible.
    pub(crate) fn visible_at(&self) -> i64 {
        self.now + self.replication_delay_ms
    }

    pub(crate) fn json_body(&self) -> Result<Object, GraphError> {
        if self.body.is_empty() {
            return Err(GraphError::bad_request(
                "Empty Payload. JSON content expected.",
            ));
        }
        match serde_json::from_slice::<Value>(self.body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(GraphError::bad_request(
                "Invalid request body: a JSON object is expected.",
            )),
            Err(e) => Err(GraphError::bad_request(format!(
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format. ({e})"
            ))),
        }
    }

    pub(crate) fn metadata(&self, fragment: &str) -> String {
        format!("{}/v1.0/$metadata#{fragment}", self.base)
    }

    pub(crate) fn query(&self, res: &Resource) -> Result<Query, GraphError> {
        Query::parse(self.params, res, self.headers.eventual())
    }

    /// Options on a single-object GET: only `$select` (and `$expand` where documented).
    pub(crate) fn entity_query(&self, res: &Resource) -> Result<Query, GraphError> {
        for (k, _) in &self.params.0 {
            let ok = ["$select", "$expand"]
                .iter()
                .any(|o| o.eq_ignore_ascii_case(k));
            if k.starts_with('$') && !ok {
                return Err(GraphError::bad_request(format!(
                    "Query option '{k}' is not allowed. Make sure that it is supported by the target resource."
                )));
            }
        }
        Query::parse(self.params, res, false)
    }
}

/// A Graph response before the server adds its headers.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// A `text/plain` body (`/$count`).
    pub text: Option<String>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Some(body),
            text: None,
        }
    }

    pub(crate) fn no_content() -> Reply {
        Reply {
            status: 204,
            headers: Vec::new(),
            body: None,
            text: None,
        }
    }

    pub(crate) fn created(body: Value, location: String) -> Reply {
        Reply {
            status: 201,
            headers: vec![("Location".into(), location)],
            body: Some(body),
            text: None,
        }
    }

    pub(crate) fn count(n: usize) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: None,
            text: Some(n.to_string()),
        }
    }
}

/// `{"@odata.context": ..., ...object}`.
pub(crate) fn entity(context: String, obj: Object) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), Value::String(context));
    out.extend(obj);
    Value::Object(out)
}

/// Pages a filtered list (ordered by id unless `$orderby`) and builds the collection body.
pub(crate) fn page(
    call: &Call,
    context: String,
    mut items: Vec<Object>,
    q: &Query,
) -> Result<Value, GraphError> {
    let total = items.len();
    let mut offset = 0usize;
    if let Some((prop, desc)) = &q.orderby {
        items.sort_by(|a, b| {
            let key = |o: &Object| {
                o.get(prop)
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
                    .unwrap_or_default()
            };
            let ord = key(a).cmp(&key(b));
            if *desc { ord.reverse() } else { ord }
        });
    }
    if let Some(token) = &q.skiptoken {
        let decoded = URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| GraphError::bad_request("Invalid skip token."))?;
        if let Some(n) = decoded.strip_prefix("o:") {
            offset = n
                .parse()
                .map_err(|_| GraphError::bad_request("Invalid skip token."))?;
        } else if let Some(after) = decoded.strip_prefix("a:") {
            offset = items
                .iter()
                .position(|o| {
                    o.get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| id > after)
                })
                .unwrap_or(items.len());
        } else {
            return Err(GraphError::bad_request("Invalid skip token."));
        }
    }
    let size = q.page_size();
    let end = (offset + size).min(items.len());
    let more = end < items.len();
    let last_id = more.then(|| {
        items[end - 1]
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    });
    let page: Vec<Value> = items
        .drain(offset.min(end)..end)
        .map(Value::Object)
        .collect();
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(context));
    if q.count && q.skiptoken.is_none() {
        body.insert("@odata.count".into(), json!(total));
    }
    if let Some(last) = last_id {
        let token = if q.orderby.is_some() {
            format!("o:{end}")
        } else {
            format!("a:{last}")
        };
        let token = URL_SAFE_NO_PAD.encode(token);
        let rest = call.params.encode_without_skiptoken();
        let sep = if rest.is_empty() { "" } else { "&" };
        body.insert(
            "@odata.nextLink".into(),
            Value::String(format!(
                "{}/v1.0{}?{rest}{sep}$skiptoken={token}",
                call.base, call.path
            )),
        );
    }
    body.insert("value".into(), Value::Array(page));
    Ok(Value::Object(body))
}

/// Visible entries of a collection.
pub(crate) fn visible(coll: &Collection, now: i64) -> impl Iterator<Item = &Entry> {
    coll.values().filter(move |e| e.visible(now))
}

/// A key segment: `applications/{id}` or `applications(appId='…')`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Key {
    Id(String),
    Alt(String, String),
}

impl Key {
    pub(crate) fn describe(&self) -> String {
        match self {
            Key::Id(id) => id.clone(),
            Key::Alt(k, v) => format!("{k}='{v}'"),
        }
    }
}

/// Splits `applications(appId='x')` into `("applications", Some(Alt))`.
fn split_key(seg: &str) -> Result<(&str, Option<Key>), GraphError> {
    let Some(open) = seg.find('(') else {
        return Ok((seg, None));
    };
    let name = &seg[..open];
    let inner = seg[open + 1..].strip_suffix(')').ok_or_else(|| {
        GraphError::bad_request(format!("Bad request: malformed key segment '{seg}'."))
    })?;
    let key = match inner.split_once('=') {
        Some((k, v)) => {
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .ok_or_else(|| {
                    GraphError::bad_request(format!("Bad request: malformed key segment '{seg}'."))
                })?;
            Key::Alt(k.trim().to_string(), v.replace("''", "'"))
        }
        None => Key::Id(inner.trim_matches('\'').to_string()),
    };
    Ok((name, Some(key)))
}

/// A call's path, decoded into segments.
fn segments(call: &Call) -> Vec<String> {
    call.path
        .trim_matches('/')
        .split('/')
        .map(|s| super::odata::decode_component(s, false))
        .collect()
}

/// `(collection, key, the segments after it)`: `{collection}/{id}` and `{collection}(key)` are
/// the same thing.
fn route_parts<'s>(
    segs: &'s [&'s str],
) -> Result<(&'s str, Option<Key>, &'s [&'s str]), GraphError> {
    let (first, first_key) = split_key(segs.first().copied().unwrap_or_default())?;
    let rest = &segs[1.min(segs.len())..];
    let (key, rest): (Option<Key>, &[&str]) = match (first_key, rest) {
        (Some(k), rest) => (Some(k), rest),
        (None, [id, tail @ ..]) if *id != "$count" => (Some(Key::Id(id.to_string())), tail),
        (None, rest) => (None, rest),
    };
    Ok((first, key, rest))
}

/// Routes a read that needs no more than a shared view of the tenant (the lists clients page
/// through), or `None` for anything else, which [`dispatch`] serves under the write lock.
pub(crate) fn dispatch_read(doc: &Document, call: &Call) -> Option<Result<Reply, GraphError>> {
    if call.method != "GET" {
        return None;
    }
    let segs = segments(call);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (first, key, rest) = match route_parts(&segs) {
        Ok(parts) => parts,
        Err(e) => return Some(Err(e)),
    };
    Some(match (first, key, rest) {
        ("applications", None, []) => apps::list(doc, call),
        ("applications", Some(k), []) => apps::get(doc, call, &k),
        ("servicePrincipals", None, []) => sps::list(doc, call),
        ("servicePrincipals", Some(k), []) => sps::get(doc, call, &k),
        ("oauth2PermissionGrants", None, []) => grants::list(doc, call),
        ("roleManagement", Some(Key::Id(dir)), ["roleDefinitions", tail @ ..])
            if dir == "directory" =>
        {
            roles::definitions(doc, call, tail)
        }
        ("roleManagement", Some(Key::Id(dir)), ["roleAssignments"]) if dir == "directory" => {
            roles::list_assignments(doc, call)
        }
        _ => return None,
    })
}

/// Routes one call to its resource.
pub(crate) fn dispatch(doc: &mut Document, call: &Call) -> Result<Reply, GraphError> {
    let segs = segments(call);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = call.method;
    let (first, key, rest) = route_parts(&segs)?;
    match (first, key, rest) {
        ("applications", None, []) => match m {
            "GET" => apps::list(doc, call),
            "POST" => apps::create(doc, call),
            _ => Err(GraphError::method_not_allowed()),
        },
        ("applications", None, ["$count"]) => apps::count(doc, call),
        ("applications", Some(k), rest) => apps::route(doc, call, &k, rest),
        ("servicePrincipals", None, []) => match m {
            "GET" => sps::list(doc, call),
            "POST" => sps::create(doc, call),
            _ => Err(GraphError::method_not_allowed()),
        },
        ("servicePrincipals", None, ["$count"]) => sps::count(doc, call),
        ("servicePrincipals", Some(k), rest) => sps::route(doc, call, &k, rest),
        ("oauth2PermissionGrants", key, rest) => grants::route(doc, call, key, rest),
        ("roleManagement", Some(Key::Id(dir)), ["roleDefinitions", tail @ ..])
            if dir == "directory" =>
        {
            roles::definitions(doc, call, tail)
        }
        ("roleManagement", Some(Key::Id(dir)), ["roleAssignments", tail @ ..])
            if dir == "directory" =>
        {
            roles::assignments(doc, call, tail)
        }
        ("directory", Some(Key::Id(items)), rest) if items == "deletedItems" => {
            deleted::route(doc, call, rest)
        }
        ("users", None, []) if m == "GET" => users::list(doc, call),
        ("users", None, ["$count"]) => users::count(doc, call),
        ("users", Some(k), []) if m == "GET" => users::get(doc, call, &k),
        ("groups", None, []) if m == "GET" => groups::list(doc, call),
        ("groups", Some(k), []) if m == "GET" => groups::get(doc, call, &k),
        ("organization", None, []) if m == "GET" => users::organization(doc, call),
        ("directoryObjects", Some(Key::Id(id)), []) if m == "GET" => {
            users::directory_object(doc, call, &id)
        }
        _ => Err(GraphError::no_route(call.path)),
    }
}

/// `/$count`: needs `ConsistencyLevel: eventual`, answers in text/plain.
pub(crate) fn count_reply(call: &Call, n: impl FnOnce() -> usize) -> Result<Reply, GraphError> {
    if call.method != "GET" {
        return Err(GraphError::method_not_allowed());
    }
    if !call.headers.eventual() {
        return Err(GraphError::bad_request(
            "$count is not currently supported.",
        ));
    }
    Ok(Reply::count(n()))
}

// --- body validation shared by resources ------------------------------------------------------

/// How a writable property is validated.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Str(usize),
    OptStr,
    OptBool,
    Bool,
    Strs,
    Enum(&'static [&'static str]),
    /// A complex value merged into the existing one; allowed sub-properties.
    Obj(&'static [&'static str]),
    ObjList,
    OptGuid,
    ReadOnly,
    /// Handled by the resource itself.
    Special,
}

#[derive(Clone, Copy)]
pub(crate) struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

pub(crate) const fn f(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

/// The objects a list query keeps (its `$filter` and `$search`), projected by its `$select`.
/// For resources without relationships to count; only what is returned is cloned.
pub(crate) fn filter_project<O: std::borrow::Borrow<Object>>(
    objects: impl IntoIterator<Item = O>,
    q: &crate::odata::Query,
) -> Vec<Object> {
    use crate::odata;
    objects
        .into_iter()
        .filter(|o| {
            let o = o.borrow();
            q.filter
                .as_ref()
                .is_none_or(|f| odata::eval(f, o, &|_, _| 0))
                && q.search
                    .as_ref()
                    .is_none_or(|t| odata::search_matches(o, t))
        })
        .map(|o| odata::project(o.borrow(), q.select.as_deref()))
        .collect()
}

/// Refuses a body property outside `allowed` (OData annotations aside), as Graph does.
pub(crate) fn only_properties(body: &Object, allowed: &[&str]) -> Result<(), GraphError> {
    match body
        .keys()
        .find(|k| !k.starts_with("@odata.") && !allowed.contains(&k.as_str()))
    {
        Some(k) => Err(GraphError::unknown_property(k)),
        None => Ok(()),
    }
}

/// Applies `body` to `target` per `schema`. Collections are replaced whole; complex values are
/// merged one level deep, their own collections replaced. Unknown properties are refused.
pub(crate) fn apply_fields(
    target: &mut Object,
    body: &Object,
    schema: &[Field],
) -> Result<(), GraphError> {
    for (k, v) in body {
        if k.starts_with("@odata.") {
            continue;
        }
        // Graph's JSON property names are case-sensitive.
        let Some(field) = schema.iter().find(|f| f.name == k) else {
            return Err(GraphError::unknown_property(k));
        };
        let bad = || GraphError::invalid_value(k);
        let value = match field.kind {
            Kind::Special => continue,
            Kind::ReadOnly => return Err(GraphError::read_only(k)),
            Kind::Str(max) => match v {
                Value::String(s) if s.chars().count() <= max && !s.trim().is_empty() => v.clone(),
                _ => return Err(bad()),
            },
            Kind::OptStr => match v {
                Value::String(_) | Value::Null => v.clone(),
                _ => return Err(bad()),
            },
            Kind::OptBool => match v {
                Value::Bool(_) | Value::Null => v.clone(),
                _ => return Err(bad()),
            },
            Kind::Bool => match v {
                Value::Bool(_) => v.clone(),
                _ => return Err(bad()),
            },
            Kind::Strs => match v {
                Value::Array(a) if a.iter().all(Value::is_string) => v.clone(),
                _ => return Err(bad()),
            },
            Kind::Enum(allowed) => match v {
                Value::String(s) if allowed.contains(&s.as_str()) => v.clone(),
                _ => return Err(bad()),
            },
            Kind::OptGuid => match v {
                Value::String(s) if super::is_guid(s) => v.clone(),
                Value::Null => v.clone(),
                _ => return Err(bad()),
            },
            Kind::ObjList => match v {
                Value::Array(a) if a.iter().all(Value::is_object) => v.clone(),
                _ => return Err(bad()),
            },
            Kind::Obj(subs) => match v {
                Value::Null => Value::Null,
                Value::Object(m) => {
                    let mut merged = target
                        .get(k)
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    for (sk, sv) in m {
                        if sk.starts_with("@odata.") {
                            continue;
                        }
                        if !subs.contains(&sk.as_str()) {
                            return Err(GraphError::unknown_property(sk));
                        }
                        merged.insert(sk.clone(), sv.clone());
                    }
                    Value::Object(merged)
                }
                _ => return Err(bad()),
            },
        };
        target.insert(k.clone(), value);
    }
    Ok(())
}

/// Graph's answer to an object id that is not a GUID.
pub(crate) fn invalid_id(id: &str) -> GraphError {
    GraphError::bad_request(format!("Invalid object identifier '{id}'."))
}

/// Reads `"@odata.id": ".../directoryObjects/{id}"` from a `$ref` body.
pub(crate) fn ref_target(call: &Call) -> Result<String, GraphError> {
    let body = call.json_body()?;
    let Some(Value::String(url)) = body.get("@odata.id") else {
        return Err(GraphError::bad_request(
            "The request body must contain '@odata.id' for a reference.",
        ));
    };
    let id = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let id = id
        .strip_prefix("directoryObjects(")
        .map(|s| s.trim_matches(|c| c == '\'' || c == ')'))
        .unwrap_or(id);
    if !super::is_guid(id) {
        return Err(invalid_id(id));
    }
    Ok(id.to_string())
}

/// A directory object by id, for owners and principals: `(kind, rendered summary)`.
pub(crate) fn directory_object(doc: &Document, id: &str, now: i64) -> Option<Object> {
    if let Some(e) = doc.service_principals.get(id).filter(|e| e.visible(now)) {
        let mut o = sps::render(doc, e);
        o.insert(
            "@odata.type".into(),
            json!("#microsoft.graph.servicePrincipal"),
        );
        return Some(o);
    }
    if let Some(e) = doc.users.get(id).filter(|e| e.visible(now)) {
        let mut o = e.object.clone();
        o.insert("@odata.type".into(), json!("#microsoft.graph.user"));
        return Some(o);
    }
    if let Some(e) = doc.groups.get(id).filter(|e| e.visible(now)) {
        return Some(groups::as_directory_object(&e.object));
    }
    if let Some(e) = doc.applications.get(id).filter(|e| e.visible(now)) {
        let mut o = apps::render(e, false);
        o.insert("@odata.type".into(), json!("#microsoft.graph.application"));
        return Some(o);
    }
    None
}

/// Owners list/add/remove, shared by applications and service principals.
pub(crate) fn owners_route(
    doc: &mut Document,
    call: &Call,
    owners: impl Fn(&Document) -> Vec<String>,
    set: impl Fn(&mut Document, Vec<String>),
    context: String,
    rest: &[&str],
    can_write: Result<(), GraphError>,
) -> Result<Reply, GraphError> {
    match (call.method, rest) {
        ("GET", []) => {
            let q = call.query(&super::odata::OWNERS)?;
            let items: Vec<Object> = owners(doc)
                .iter()
                .filter_map(|id| directory_object(doc, id, call.now))
                .map(|o| {
                    let mut p = super::odata::project(&o, q.select.as_deref());
                    if let Some(t) = o.get("@odata.type") {
                        p.insert("@odata.type".into(), t.clone());
                    }
                    p
                })
                .collect();
            Ok(Reply::json(200, page(call, context, items, &q)?))
        }
        ("POST", ["$ref"]) => {
            can_write?;
            let id = ref_target(call)?;
            if directory_object(doc, &id, call.now).is_none() {
                return Err(GraphError::not_found(&id));
            }
            let mut current = owners(doc);
            if current.contains(&id) {
                return Err(GraphError::bad_request(
                    "One or more added object references already exist for the following modified properties: 'owners'.",
                ));
            }
            current.push(id);
            set(doc, current);
            Ok(Reply::no_content())
        }
        ("DELETE", [id, "$ref"]) => {
            can_write?;
            let mut current = owners(doc);
            let before = current.len();
            current.retain(|o| o != id);
            if current.len() == before {
                return Err(GraphError::not_found(id));
            }
            set(doc, current);
            Ok(Reply::no_content())
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}
