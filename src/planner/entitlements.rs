//! The app roles and permission scopes an app defines ([`crate::model::entitlements`]): the id
//! of each entry, decided here (kept by `value` once the tenant has it, else drawn from the
//! plan's [`super::KeyIdSource`], so a saved plan carries it), and the write that must come
//! first when an enabled entry goes away.

use std::collections::HashSet;

use serde_json::Value;

use super::app::Matched;
use super::{AppCx, PlanInput};
use crate::model::entitlements::{self, Entitlement, Planned};
use crate::model::pre_authorized;
use crate::model::{
    ApiRef, AppId, AppRole, Catalog, DesiredApp, FieldValues, LiveApp, PermissionId,
    PermissionScope, PlannedApi, ResourceServicePrincipal,
};
use crate::plan::{Address, ResourceKind};

/// The manifest's plain fields with an id in every app role and scope it declares.
pub(crate) fn planned_fields(cx: &AppCx<'_>) -> FieldValues {
    let mut fields = cx.desired.fields.clone();
    if let Ok(Some(resolved)) = super::pre_authorized::resolve(cx) {
        fields.insert(pre_authorized::PATH, resolved);
    }
    for kind in Entitlement::ALL {
        if let Some(desired) = cx.desired.fields.get(kind.path()) {
            let planned = with_ids(cx.input.key_ids, cx.name(), kind, desired, cx.live);
            fields.insert(kind.path(), planned);
        }
    }
    fields
}

fn with_ids(
    key_ids: super::KeyIdSource<'_>,
    app: &str,
    kind: Entitlement,
    desired: &Value,
    live: Option<&LiveApp>,
) -> Value {
    let live: Vec<&Value> = Entitlement::ALL
        .iter()
        .filter_map(|k| live.and_then(|l| l.fields.get(k.path())))
        .collect();
    let planned = entitlements::with_ids(desired, &live, |value, taken| {
        let address = Address::keyed(
            ResourceKind::Application,
            app,
            format!("{}:{value}", kind.path()),
        );
        PermissionId(
            key_ids
                .key_id_for(&address, &|id| taken(PermissionId(id.0)))
                .0,
        )
    });
    entitlements::normalize(kind, &planned)
}

/// The app roles (or scopes) the app will have once the plan is applied, with their ids: the
/// manifest's when it manages them, else the tenant's. For what refers to them: assignments of
/// a role, a client's delegated permission, a pre-authorized scope.
pub(crate) fn planned(cx: &AppCx<'_>, kind: Entitlement) -> Vec<Planned> {
    entitlements::entries(&planned_list(cx.input, cx.desired, cx.live, kind))
}

/// The app roles the app will have once the plan is applied, ids and member types included:
/// what `assignments` may name, roles this plan adds among them. The tenant's when the
/// manifest does not manage `appRoles`.
pub(crate) fn planned_app_roles(cx: &AppCx<'_>) -> Vec<AppRole> {
    match cx.desired.fields.get(Entitlement::AppRole.path()) {
        Some(_) => app_roles(&planned_list(
            cx.input,
            cx.desired,
            cx.live,
            Entitlement::AppRole,
        )),
        None => cx.live.map(|l| l.app_roles.clone()).unwrap_or_default(),
    }
}

/// The planned list of `kind` of one app, normalised, with ids.
fn planned_list(
    input: &PlanInput<'_>,
    desired: &DesiredApp,
    live: Option<&LiveApp>,
    kind: Entitlement,
) -> Value {
    match desired.fields.get(kind.path()) {
        Some(d) => with_ids(input.key_ids, &desired.name, kind, d, live),
        None => live
            .and_then(|l| l.fields.get(kind.path()))
            .cloned()
            .unwrap_or(Value::Array(Vec::new())),
    }
}

/// The tenant's catalog of APIs, with each app of this run as an API another manifest may name
/// by its `metadata.name`, showing the app roles and scopes it will have once the plan is
/// applied (their ids are decided here, so a client may ask for a scope its API gains in the
/// same plan). An app whose service principal the plan creates is a [`PlannedApi`]: apply
/// resolves its ids once it exists.
pub(crate) fn catalog_with_managed_apis(
    input: &PlanInput<'_>,
    matches: &[Option<Matched<'_>>],
) -> Catalog {
    let mut catalog = input.live.catalog.clone();
    // Only the apps some manifest names as an API: the catalog is searched once per permission,
    // and a run of 10,000 apps that all ask Exchange must not search 10,000 APIs each time.
    let mut named_as_api: HashSet<String> = HashSet::new();
    let mut named_by_app_id: HashSet<AppId> = HashSet::new();
    for perm in input
        .desired
        .iter()
        .flat_map(|d| d.api_permissions.iter().flatten())
    {
        match &perm.api {
            ApiRef::DisplayName(name) => named_as_api.insert(name.to_lowercase()),
            ApiRef::AppId(id) => named_by_app_id.insert(*id),
        };
    }
    for (d, m) in input.desired.iter().zip(matches) {
        let Some(m) = m else { continue };
        let live = m.live();
        catalog
            .run_apps
            .push((d.name.clone(), live.map(|l| l.app_id)));
        let named = named_as_api.contains(&d.name.to_lowercase())
            || live.is_some_and(|l| {
                named_by_app_id.contains(&l.app_id)
                    || named_as_api.contains(&l.display_name.to_lowercase())
            });
        if !named {
            continue;
        }
        let app_roles = app_roles(&planned_list(input, d, live, Entitlement::AppRole));
        let oauth2_permission_scopes = scopes(&planned_list(input, d, live, Entitlement::Scope));
        match live.and_then(|l| l.service_principal.as_ref().map(|sp| (l, sp))) {
            Some((live, sp)) => {
                // The planned view replaces what the tenant shows of it.
                catalog.resources.retain(|r| r.object_id != sp.object_id);
                catalog.resources.push(ResourceServicePrincipal {
                    object_id: sp.object_id,
                    app_id: live.app_id,
                    display_name: live.display_name.clone(),
                    managed_name: Some(d.name.clone()),
                    app_roles,
                    oauth2_permission_scopes,
                });
            }
            None => catalog.planned_apis.push(PlannedApi {
                name: d.name.clone(),
                display_name: d.display_name.clone(),
                app_id: live.map(|l| l.app_id),
                app_roles,
                oauth2_permission_scopes,
            }),
        }
    }
    catalog
}

fn text(e: &Value, k: &str) -> Option<String> {
    e.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn enabled(e: &Value) -> bool {
    e.get("isEnabled").and_then(Value::as_bool).unwrap_or(true)
}

fn id(e: &Value) -> Option<PermissionId> {
    e.get("id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<PermissionId>().ok())
}

fn app_roles(list: &Value) -> Vec<AppRole> {
    let entries = list.as_array().into_iter().flatten();
    entries
        .filter_map(|e| {
            Some(AppRole {
                id: id(e)?,
                value: text(e, "value"),
                display_name: text(e, "displayName"),
                allowed_member_types: e
                    .get("allowedMemberTypes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect(),
                is_enabled: enabled(e),
            })
        })
        .collect()
}

fn scopes(list: &Value) -> Vec<PermissionScope> {
    let entries = list.as_array().into_iter().flatten();
    entries
        .filter_map(|e| {
            Some(PermissionScope {
                id: id(e)?,
                value: text(e, "value"),
                is_enabled: enabled(e),
            })
        })
        .collect()
}

/// For a patch of the app's fields: the write that must go first (the live lists with each
/// enabled entry that goes away, or whose member types change, disabled), and why.
pub(crate) fn disable_first(
    live: &FieldValues,
    patch: &FieldValues,
) -> Option<(FieldValues, String)> {
    let mut first = FieldValues::default();
    let mut disabled = Vec::new();
    for kind in Entitlement::ALL {
        let (Some(planned), Some(have)) = (patch.get(kind.path()), live.get(kind.path())) else {
            continue;
        };
        if let Some((list, values)) = entitlements::disable_first(kind, have, planned) {
            first.insert(kind.path(), list);
            disabled.extend(values.iter().map(|v| format!("{} `{v}`", kind.noun())));
        }
    }
    if first.is_empty() {
        return None;
    }
    Some((
        first,
        format!(
            "two writes: first `isEnabled: false` on {} (Entra ID removes or re-scopes only a disabled one), then the change",
            disabled.join(" and ")
        ),
    ))
}
