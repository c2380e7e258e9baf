//! `/directory/deletedItems`: applications and service principals stay here for 30 days after a
//! delete, listable by type (`/directory/deletedItems/microsoft.graph.application`), readable by
//! id, restorable (`POST …/{id}/restore`, same ids and credentials) and purgeable (`DELETE
//! …/{id}`). A deleted application keeps its `uniqueName` reserved until it is purged (see
//! `apps::apply_body`). Graph's reference pages: directory-deleteditems-list, -get, -restore,
//! -delete; restoring an application does not restore its service principal.

use serde_json::{Value, json};

use super::{Call, Reply, apps, entity, page, perm, sps};
use crate::errors::GraphError;
use crate::odata::{self, APPLICATIONS, SERVICE_PRINCIPALS};
use crate::parse_iso;
use crate::state::{Collection, Document, Entry};

/// How long Graph keeps a deleted item before it purges it by itself.
const RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;

const APPLICATION_CAST: &str = "microsoft.graph.application";
const SERVICE_PRINCIPAL_CAST: &str = "microsoft.graph.servicePrincipal";

/// Purges what has been deleted for longer than Graph keeps it.
fn expire(doc: &mut Document, now: i64) {
    let fresh = |e: &Entry| {
        e.object
            .get("deletedDateTime")
            .and_then(Value::as_str)
            .and_then(parse_iso)
            .is_none_or(|at| now - at < RETENTION_MS)
    };
    doc.deleted_applications.retain(|_, e| fresh(e));
    doc.deleted_service_principals.retain(|_, e| fresh(e));
}

/// Everything under `/directory/deletedItems`.
pub(crate) fn route(doc: &mut Document, call: &Call, rest: &[&str]) -> Result<Reply, GraphError> {
    expire(doc, call.now);
    match (call.method, rest) {
        ("GET", []) => Err(GraphError::bad_request(
            "The OData cast type is required: list deleted items with /directory/deletedItems/microsoft.graph.application (or another type).",
        )),
        ("GET", [cast]) if cast.eq_ignore_ascii_case(APPLICATION_CAST) => {
            list(call, &doc.deleted_applications, Kind::Application, doc)
        }
        ("GET", [cast]) if cast.eq_ignore_ascii_case(SERVICE_PRINCIPAL_CAST) => list(
            call,
            &doc.deleted_service_principals,
            Kind::ServicePrincipal,
            doc,
        ),
        ("GET", [id]) => get(doc, call, id),
        ("POST", [id, "restore"]) => restore(doc, call, id),
        ("DELETE", [id]) => purge(doc, call, id),
        _ => Err(GraphError::no_route(call.path)),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Application,
    ServicePrincipal,
}

impl Kind {
    fn odata_type(self) -> &'static str {
        match self {
            Kind::Application => "#microsoft.graph.application",
            Kind::ServicePrincipal => "#microsoft.graph.servicePrincipal",
        }
    }
}

fn render(doc: &Document, e: &Entry, kind: Kind) -> super::Object {
    match kind {
        Kind::Application => apps::render(e, false),
        Kind::ServicePrincipal => sps::render(doc, e),
    }
}

fn list(call: &Call, coll: &Collection, kind: Kind, doc: &Document) -> Result<Reply, GraphError> {
    call.caller.can_read_apps()?;
    let res = match kind {
        Kind::Application => &APPLICATIONS,
        Kind::ServicePrincipal => &SERVICE_PRINCIPALS,
    };
    let q = call.query(res)?;
    // A deleted service principal's tags include its application's: no index says which.
    let narrowing = match kind {
        Kind::Application => q.filter.as_ref(),
        Kind::ServicePrincipal => None,
    };
    let items = coll
        .candidates(narrowing, &crate::collection::no_extra)
        .filter(|e| {
            let view = odata::filter_view(res, &render(doc, e, kind));
            q.filter
                .as_ref()
                .is_none_or(|f| odata::eval(f, &view, &|_, _| 0))
                && q.search
                    .as_ref()
                    .is_none_or(|t| odata::search_matches(&view, t))
        })
        .map(|e| {
            let mut o = odata::project(&render(doc, e, kind), q.select.as_deref());
            if let (Some(rel), Kind::Application) = (&q.expand, kind) {
                o.insert(rel.clone(), apps::expand(doc, e, rel, call.now));
            }
            o
        })
        .collect();
    let set = match kind {
        Kind::Application => "applications",
        Kind::ServicePrincipal => "servicePrincipals",
    };
    let context = call.metadata(&format!("{set}{}", q.context_suffix()));
    Ok(Reply::json(200, page(call, context, items, &q)?))
}

/// A deleted item by id, and what it is.
fn find<'a>(doc: &'a Document, id: &str) -> Result<(&'a Entry, Kind), GraphError> {
    if !crate::is_guid(id) {
        return Err(super::invalid_id(id));
    }
    let id = id.to_lowercase();
    if let Some(e) = doc.deleted_applications.get(&id) {
        return Ok((e, Kind::Application));
    }
    if let Some(e) = doc.deleted_service_principals.get(&id) {
        return Ok((e, Kind::ServicePrincipal));
    }
    Err(GraphError::not_found(&id))
}

fn get(doc: &Document, call: &Call, id: &str) -> Result<Reply, GraphError> {
    call.caller.can_read_apps()?;
    let (e, kind) = find(doc, id)?;
    let mut o = render(doc, e, kind);
    o.insert("@odata.type".into(), json!(kind.odata_type()));
    Ok(Reply::json(
        200,
        entity(call.metadata("directoryObjects/$entity"), o),
    ))
}

/// Application.ReadWrite.All, or OwnedBy on an item the caller owned.
fn can_write(call: &Call, e: &Entry) -> Result<(), GraphError> {
    call.caller.can_write(&e.owners)
}

fn restore(doc: &mut Document, call: &Call, id: &str) -> Result<Reply, GraphError> {
    let (e, kind) = find(doc, id)?;
    can_write(call, e)?;
    let id = e.str("id").to_string();
    let mut e = match kind {
        Kind::Application => doc.deleted_applications.remove(&id),
        Kind::ServicePrincipal => {
            let app_id = e.str("appId").to_string();
            let app_active = doc
                .applications
                .values()
                .any(|a| a.str("appId").eq_ignore_ascii_case(&app_id));
            let taken = doc
                .service_principals
                .values()
                .any(|s| s.str("appId").eq_ignore_ascii_case(&app_id));
            let local = doc.deleted_applications.values().any(|a| a.str("appId").eq_ignore_ascii_case(&app_id));
            if taken {
                return Err(GraphError::bad_request(format!(
                    "The service principal cannot be created, updated, or restored because the service principal name {app_id} is already in use."
                )));
            }
            if !app_active && local {
                return Err(GraphError::bad_request(format!(
                    "The service principal cannot be restored because its application {app_id} is deleted; restore the application first."
                )));
            }
            doc.deleted_service_principals.remove(&id)
        }
    }
    .expect("found above");
    e.object.insert("deletedDateTime".into(), Value::Null);
    // Restored objects replicate like new ones.
    e.visible_at = call.visible_at();
    let mut shown = render(doc, &e, kind);
    shown.insert("@odata.type".into(), json!(kind.odata_type()));
    match kind {
        Kind::Application => doc.applications.insert(id, e),
        Kind::ServicePrincipal => doc.service_principals.insert(id, e),
    };
    Ok(Reply::json(
        200,
        entity(call.metadata("directoryObjects/$entity"), shown),
    ))
}

fn purge(doc: &mut Document, call: &Call, id: &str) -> Result<Reply, GraphError> {
    let (e, kind) = find(doc, id)?;
    if !call.caller.has_any(&[perm::APP_RW, perm::APP_OWNED]) {
        return Err(GraphError::denied());
    }
    can_write(call, e)?;
    let id = e.str("id").to_string();
    match kind {
        Kind::Application => doc.deleted_applications.remove(&id),
        Kind::ServicePrincipal => doc.deleted_service_principals.remove(&id),
    };
    Ok(Reply::no_content())
}
