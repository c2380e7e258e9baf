//! The app roles and permission scopes an app defines ([`crate::model::entitlements`]): the id
//! of each entry, decided here (kept by `value` once the tenant has it, else drawn from the
//! plan's [`super::KeyIdSource`], so a saved plan carries it), and the write that must come
//! first when an enabled entry goes away.

use super::AppCx;
use crate::model::entitlements::{self, Entitlement, Planned};
use crate::model::{FieldValues, LiveApp, PermissionId};
use crate::plan::{Address, ResourceKind};

/// The manifest's plain fields with an id in every app role and scope it declares.
pub(crate) fn planned_fields(cx: &AppCx<'_>) -> FieldValues {
    let mut fields = cx.desired.fields.clone();
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
    desired: &serde_json::Value,
    live: Option<&LiveApp>,
) -> serde_json::Value {
    let live: Vec<&serde_json::Value> = Entitlement::ALL
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
#[allow(dead_code)] // the reuse point for assignments of roles (issue 15) and pre-authorized apps
pub(crate) fn planned(cx: &AppCx<'_>, kind: Entitlement) -> Vec<Planned> {
    match cx.desired.fields.get(kind.path()) {
        Some(desired) => entitlements::entries(&with_ids(
            cx.input.key_ids,
            cx.name(),
            kind,
            desired,
            cx.live,
        )),
        None => cx
            .live
            .and_then(|l| l.fields.get(kind.path()))
            .map(entitlements::entries)
            .unwrap_or_default(),
    }
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
