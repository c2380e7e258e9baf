//! API permissions: `requiredResourceAccess` (declared on the application), app role
//! assignments (application permissions granted = admin consent) and `AllPrincipals` delegated
//! grants. Grants are managed only with `adminConsent: true`.

use std::collections::{BTreeMap, BTreeSet};

use super::resolve::{ApiResource, Resolved, ResolvedApi};
use super::{AppCx, Obj, create, delete, normalize, s, set_value, update};
use crate::model::{
    AppId, Catalog, LiveDelegatedGrant, ObjectId, PermissionId, PermissionKind,
    RequiredResourceAccess, ResourceAccess, ResourceServicePrincipal,
};
use crate::plan::{
    Change, Note, NoteKind, Operation, PlannedResourceAccess, ResourceKind, ResourceRef,
};

/// `requiredResourceAccess` as the manifest's permissions define it: `Role` for application
/// permissions, `Scope` for delegated ones.
pub(crate) fn required_resource_access(apis: &[ResolvedApi<'_>]) -> Vec<PlannedResourceAccess> {
    let mut by_resource: BTreeMap<ResourceRef<AppId>, BTreeSet<ResourceAccess>> = BTreeMap::new();
    for api in apis {
        let entry = by_resource.entry(api.resource.app_id()).or_default();
        entry.extend(api.app_roles.iter().map(|r| ResourceAccess {
            id: r.id,
            kind: PermissionKind::Role,
        }));
        entry.extend(api.scopes.iter().map(|s| ResourceAccess {
            id: s.id,
            kind: PermissionKind::Scope,
        }));
    }
    by_resource
        .into_iter()
        .filter(|(_, access)| !access.is_empty())
        .map(|(resource_app_id, access)| RequiredResourceAccess {
            resource_app_id,
            resource_access: access.into_iter().collect(),
        })
        .collect()
}

/// Compared as a set: order, duplicates and empty resource entries mean nothing.
pub(crate) fn rra_set<A>(
    rra: &[RequiredResourceAccess<A>],
) -> BTreeSet<(ResourceRef<AppId>, PermissionKind, PermissionId)>
where
    A: Clone + Into<ResourceRef<AppId>>,
{
    rra.iter()
        .flat_map(|r| {
            r.resource_access
                .iter()
                .map(move |a| (r.resource_app_id.clone().into(), a.kind, a.id))
        })
        .collect()
}

/// `<API>/<value> (application|delegated)`, falling back to ids for what the catalog lacks.
pub(crate) fn rra_labels<A>(rra: &[RequiredResourceAccess<A>], catalog: &Catalog) -> Vec<String>
where
    A: Clone + Into<ResourceRef<AppId>>,
{
    rra_set(rra)
        .into_iter()
        .map(|(app_id, kind, id)| {
            let resource = api_by_app_id(catalog, &app_id);
            let api = match (resource, &app_id) {
                (Some(r), _) => api_label(r, catalog),
                (None, ResourceRef::Existing(app_id)) => app_id.to_string(),
                (None, ResourceRef::Planned { planned }) => planned.clone(),
            };
            let (value, kind_name) = match kind {
                PermissionKind::Role => (
                    resource.and_then(|r| r.app_roles().iter().find(|x| x.id == id)?.value.clone()),
                    "application",
                ),
                PermissionKind::Scope => (
                    resource.and_then(|r| r.scopes().iter().find(|x| x.id == id)?.value.clone()),
                    "delegated",
                ),
            };
            format!(
                "{api}/{} ({kind_name})",
                value.unwrap_or_else(|| id.to_string())
            )
        })
        .collect()
}

/// The API an appId (or an app of this plan) names: the plan's view of it when it is one of
/// this run's apps.
fn api_by_app_id<'c>(catalog: &'c Catalog, id: &ResourceRef<AppId>) -> Option<ApiResource<'c>> {
    match id {
        ResourceRef::Existing(app_id) => catalog
            .planned_apis
            .iter()
            .find(|p| p.app_id == Some(*app_id))
            .map(ApiResource::Planned)
            .or_else(|| {
                catalog
                    .resources
                    .iter()
                    .find(|r| r.app_id == *app_id)
                    .map(ApiResource::Live)
            }),
        ResourceRef::Planned { planned } => catalog
            .planned_apis
            .iter()
            .find(|p| p.name == *planned)
            .map(ApiResource::Planned),
    }
}

/// A resource's display name, or `name (appId)` when another resource shares the name, so
/// addresses stay unique.
pub(crate) fn resource_label(resource: &ResourceServicePrincipal, catalog: &Catalog) -> String {
    let shared = catalog
        .resources
        .iter()
        .filter(|r| r.display_name == resource.display_name)
        .count()
        > 1;
    if shared {
        format!("{} ({})", resource.display_name, resource.app_id)
    } else {
        resource.display_name.clone()
    }
}

/// [`resource_label`], and the display name of an API this plan creates.
fn api_label(resource: ApiResource<'_>, catalog: &Catalog) -> String {
    match resource {
        ApiResource::Live(r) => resource_label(r, catalog),
        ApiResource::Planned(p) => p.display_name.clone(),
    }
}

fn resource_by_object_id(catalog: &Catalog, id: ObjectId) -> Option<&ResourceServicePrincipal> {
    catalog.resources.iter().find(|r| r.object_id == id)
}

/// How a plan shows a resource's service principal id: unknown until apply for a planned one.
fn with_resource_id(obj: Obj, id: &ResourceRef<ObjectId>) -> Obj {
    match id {
        ResourceRef::Existing(id) => obj.with("resource_id", s(id)),
        ResourceRef::Planned { .. } => obj,
    }
}

/// The keys a create's `after` leaves to apply.
fn unknown_resource_id(id: &ResourceRef<ObjectId>) -> &'static [&'static str] {
    match id {
        ResourceRef::Existing(_) => &[],
        ResourceRef::Planned { .. } => &["resource_id"],
    }
}

fn grants_managed(cx: &AppCx<'_>) -> bool {
    cx.desired.admin_consent && cx.desired.api_permissions.is_some()
}

const NOT_IN_PERMISSIONS: &str = "not in the manifest's apiPermissions";

pub(crate) fn app_role_assignments(cx: &AppCx<'_>, resolved: &Resolved<'_>) -> Vec<Change> {
    let Some(apis) = resolved.apis.as_ref().filter(|_| grants_managed(cx)) else {
        return Vec::new();
    };
    let catalog = cx.catalog;
    let live = cx
        .sp()
        .map(|sp| sp.app_role_assignments.as_slice())
        .unwrap_or(&[]);
    let mut changes = Vec::new();

    let wanted: BTreeSet<(ResourceRef<ObjectId>, PermissionId)> = apis
        .iter()
        .flat_map(|api| {
            api.app_roles
                .iter()
                .map(|r| (api.resource.object_id(), r.id))
        })
        .collect();
    for api in apis {
        let resource_id = api.resource.object_id();
        for role in &api.app_roles {
            if live.iter().any(|a| {
                ResourceRef::Existing(a.resource_id) == resource_id && a.app_role_id == role.id
            }) {
                continue;
            }
            let api_name = api_label(api.resource, catalog);
            let value = role.value.clone().unwrap_or_else(|| role.id.to_string());
            let after = with_resource_id(
                Obj::new()
                    .with("api", api_name.clone())
                    .with("permission", value.clone()),
                &resource_id,
            )
            .with("app_role_id", s(role.id));
            changes.push(create(
                cx.keyed(
                    ResourceKind::AppRoleAssignment,
                    format!("{api_name}/{value}"),
                ),
                after,
                unknown_resource_id(&resource_id),
                vec![Operation::GrantAppRole {
                    principal: cx.sp_ref(),
                    resource_id: resource_id.clone(),
                    app_role_id: role.id,
                }],
            ));
        }
    }

    let Some(sp) = cx.sp() else { return changes };
    for a in live {
        if wanted.contains(&(ResourceRef::Existing(a.resource_id), a.app_role_id)) {
            continue;
        }
        let resource = resource_by_object_id(catalog, a.resource_id);
        let api_name =
            resource.map_or_else(|| a.resource_id.to_string(), |r| resource_label(r, catalog));
        let value = resource
            .and_then(|r| {
                r.app_roles
                    .iter()
                    .find(|x| x.id == a.app_role_id)?
                    .value
                    .clone()
            })
            .unwrap_or_else(|| a.app_role_id.to_string());
        let before = Obj::new()
            .with("api", api_name.clone())
            .with("permission", value.clone())
            .with("resource_id", s(a.resource_id))
            .with("app_role_id", s(a.app_role_id))
            .with("id", a.id.clone());
        changes.push(delete(
            cx.keyed(
                ResourceKind::AppRoleAssignment,
                format!("{api_name}/{value}"),
            ),
            before,
            NOT_IN_PERMISSIONS.to_owned(),
            vec![Operation::RevokeAppRole {
                principal: sp.object_id,
                resource_id: a.resource_id,
                assignment_id: a.id.clone(),
            }],
        ));
    }
    changes
}

pub(crate) fn delegated_grants(cx: &AppCx<'_>, resolved: &Resolved<'_>) -> Vec<Change> {
    let Some(apis) = resolved.apis.as_ref().filter(|_| grants_managed(cx)) else {
        return Vec::new();
    };
    let catalog = cx.catalog;
    let mut live: BTreeMap<ObjectId, Vec<&LiveDelegatedGrant>> = BTreeMap::new();
    for g in cx
        .sp()
        .map(|sp| sp.delegated_grants.as_slice())
        .unwrap_or(&[])
    {
        if g.consent_type.eq_ignore_ascii_case("AllPrincipals") {
            live.entry(g.resource_id).or_default().push(g);
        }
    }
    for grants in live.values_mut() {
        grants.sort_by(|a, b| a.id.cmp(&b.id));
    }
    let mut changes = Vec::new();

    for api in apis.iter().filter(|a| !a.scopes.is_empty()) {
        let api_name = api_label(api.resource, catalog);
        let address = cx.keyed(ResourceKind::DelegatedGrant, api_name.clone());
        let wanted: BTreeSet<String> = api.scopes.iter().filter_map(|s| s.value.clone()).collect();
        let scope = wanted.iter().cloned().collect::<Vec<_>>().join(" ");
        let resource_id = api.resource.object_id();
        let existing = match &resource_id {
            ResourceRef::Existing(id) => live.remove(id).unwrap_or_default(),
            ResourceRef::Planned { .. } => Vec::new(),
        };
        let Some((first, extra)) = existing.split_first() else {
            let after = with_resource_id(Obj::new().with("api", api_name.clone()), &resource_id)
                .with("consent_type", "AllPrincipals")
                .with("scope", set_value(&wanted));
            changes.push(create(
                address,
                after,
                unknown_resource_id(&resource_id),
                vec![Operation::CreateDelegatedGrant {
                    client: cx.sp_ref(),
                    resource_id,
                    scope,
                }],
            ));
            continue;
        };
        let have = normalize::scope_set(&first.scope);
        if have != wanted {
            let base = || {
                Obj::new()
                    .with("api", api_name.clone())
                    .with("resource_id", s(first.resource_id))
                    .with("consent_type", "AllPrincipals")
            };
            changes.push(update(
                address,
                base().with("scope", set_value(&have)),
                base().with("scope", set_value(&wanted)),
                None,
                vec![Operation::UpdateDelegatedGrant {
                    grant_id: first.id.clone(),
                    scope,
                }],
            ));
        }
        for g in extra {
            changes.push(delete_grant(
                cx,
                &format!("{api_name} ({})", g.id),
                g,
                "a second tenant-wide grant to the same API".to_owned(),
            ));
        }
    }
    for grants in live.values() {
        for g in grants {
            let api_name = resource_by_object_id(catalog, g.resource_id)
                .map_or_else(|| g.resource_id.to_string(), |r| resource_label(r, catalog));
            let key = if grants.len() > 1 {
                format!("{api_name} ({})", g.id)
            } else {
                api_name
            };
            changes.push(delete_grant(cx, &key, g, NOT_IN_PERMISSIONS.to_owned()));
        }
    }
    changes
}

fn delete_grant(cx: &AppCx<'_>, key: &str, g: &LiveDelegatedGrant, reason: String) -> Change {
    let before = Obj::new()
        .with("resource_id", s(g.resource_id))
        .with("consent_type", g.consent_type.clone())
        .with("scope", set_value(normalize::scope_set(&g.scope)))
        .with("id", g.id.clone());
    delete(
        cx.keyed(ResourceKind::DelegatedGrant, key),
        before,
        reason,
        vec![Operation::DeleteDelegatedGrant {
            grant_id: g.id.clone(),
        }],
    )
}

/// `adminConsent: false`: the permissions are declared and nothing is granted; say where an
/// administrator consents.
pub(crate) fn consent_note(cx: &AppCx<'_>, resolved: &Resolved<'_>) -> Option<Note> {
    let apis = resolved.apis.as_ref()?;
    if cx.desired.admin_consent
        || apis
            .iter()
            .all(|a| a.app_roles.is_empty() && a.scopes.is_empty())
    {
        return None;
    }
    let tenant = cx.input.live.tenant_id;
    let base = format!("https://login.microsoftonline.com/{tenant}/adminconsent?client_id=");
    let (url, when) = match cx.live {
        Some(l) => (Some(format!("{base}{}", l.app_id)), ""),
        None => (None, " (the appId is known after apply)"),
    };
    let shown = url.clone().unwrap_or_else(|| format!("{base}<appId>"));
    Some(cx.note(
        NoteKind::AdminConsent,
        format!(
            "`adminConsent` is false: API permissions are declared but not granted; an administrator can grant them at {shown}{when}"
        ),
        url,
    ))
}
