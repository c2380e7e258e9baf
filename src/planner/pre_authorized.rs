//! `api.preAuthorizedApplications` ([`crate::model::pre_authorized`]): each client named by
//! appId or by the `metadata.name` of another app of the run, each scope by the value of one of
//! the app's own scopes, resolved to Graph's ids here (the scope ids the same plan decides).

use serde_json::{Value, json};

use std::collections::HashMap;

use super::entitlements::planned;
use super::resolve::did_you_mean;
use super::{AppCx, Obj, Problem, ProblemKind};
use crate::model::entitlements::{self, Entitlement};
use crate::model::fields::field;
use crate::model::pre_authorized::{self, Entry};
use crate::model::{AppId, On, Source};

/// The list in Graph's shape (normalised), `None` when the manifest does not manage it; or a
/// problem at each client or scope the plan cannot resolve.
pub(crate) fn resolve(cx: &AppCx<'_>) -> Result<Option<Value>, Vec<Problem>> {
    let Some(desired) = cx.desired.fields.get(pre_authorized::PATH) else {
        return Ok(None);
    };
    let scopes = planned(cx, Entitlement::Scope);
    let mut problems = Vec::new();
    let mut problem = |kind, at: &Source, message: String, help: Vec<String>| {
        problems.push(Problem {
            kind,
            source: Some(at.clone()),
            app: cx.desired.name.clone(),
            message,
            help,
        })
    };
    let mut out = Vec::new();
    for Entry {
        app,
        scopes: values,
    } in pre_authorized::entries(desired)
    {
        let app_id = match client_app_id(cx, &app) {
            Ok(id) => Some(id),
            Err((message, help)) => {
                let at = cx.desired.pre_authorized_source(&app);
                problem(ProblemKind::UnknownApi, at, message, help);
                None
            }
        };
        let mut ids = Vec::new();
        for value in &values {
            match scopes.iter().find(|s| s.value == *value) {
                Some(s) => ids.push(s.id.to_string()),
                None => problem(
                    ProblemKind::UnknownPermission,
                    cx.desired.pre_authorized_scope_source(&app, value),
                    format!(
                        "`{value}` is not a permission scope of `{}` (`api.oauth2PermissionScopes`)",
                        cx.desired.name
                    ),
                    did_you_mean(value, scopes.iter().map(|s| s.value.as_str())),
                ),
            }
        }
        if let Some(app_id) = app_id {
            out.push(json!({"appId": app_id.to_string(), "delegatedPermissionIds": ids}));
        }
    }
    if problems.is_empty() {
        Ok(Some(pre_authorized::normalize(&Value::Array(out))))
    } else {
        Err(problems)
    }
}

/// The appId of a client: as written, or that of the app of this run named so.
fn client_app_id(cx: &AppCx<'_>, app: &str) -> Result<AppId, (String, Vec<String>)> {
    if let Ok(id) = app.parse::<AppId>() {
        return Ok(id);
    }
    let run_apps = &cx.catalog.run_apps;
    match run_apps.iter().find(|(name, _)| name == app) {
        Some((_, Some(id))) => Ok(*id),
        Some((_, None)) => Err((
            format!("`{app}` is an app this plan creates: its appId is not known until then"),
            vec![format!(
                "apply `{app}`'s manifest on its own first (`entraform apply <its file>`), then plan both again"
            )],
        )),
        None => {
            let others = run_apps
                .iter()
                .map(|(name, _)| name.as_str())
                .filter(|name| *name != cx.desired.name);
            let mut help = did_you_mean(app, others);
            if help.is_empty() {
                help.push(
                    "name the client by its appId, or by the metadata.name of an app in the manifests of this run"
                        .to_owned(),
                );
            }
            Err((
                format!("`{app}` is neither an appId nor an app of this run"),
                help,
            ))
        }
    }
}

/// Shows `api.preAuthorizedApplications` in `objs` (a change's before and after) in the
/// manifest's form rather than Graph's ids: each client by the `metadata.name` of the app of
/// this run it is (else its appId), each scope by its value (else its id).
pub(crate) fn show_by_name(cx: &AppCx<'_>, objs: &mut [&mut Obj]) {
    let Some(attr) = field(On::Application, pre_authorized::PATH).map(|f| f.attr()) else {
        return;
    };
    if !objs.iter_mut().any(|o| o.get_mut(&attr).is_some()) {
        return;
    }
    // The planned scopes, and the tenant's (a scope on its way out is still named).
    let live_scopes = cx
        .live
        .and_then(|l| l.fields.get(Entitlement::Scope.path()))
        .map(entitlements::entries)
        .unwrap_or_default();
    let scopes: HashMap<String, String> = planned(cx, Entitlement::Scope)
        .into_iter()
        .chain(live_scopes)
        .map(|s| (s.id.to_string(), s.value))
        .collect();
    // A client of the run by its name; its appId is looked up per entry (a few per app), not
    // indexed over every app of the run.
    let client = |app_id: &str| -> String {
        let run_app = app_id.parse::<AppId>().ok().and_then(|id| {
            cx.catalog
                .run_apps
                .iter()
                .find(|(_, run_id)| *run_id == Some(id))
        });
        run_app.map_or_else(|| app_id.to_owned(), |(name, _)| name.clone())
    };
    for obj in objs.iter_mut() {
        let Some(Value::Array(list)) = obj.get_mut(&attr) else {
            continue;
        };
        for entry in list.iter_mut() {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
            let app = client(&text(entry.get("appId")));
            let mut values: Vec<String> = entry
                .get("delegatedPermissionIds")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|id| {
                    let id = text(Some(id));
                    scopes.get(&id).cloned().unwrap_or(id)
                })
                .collect();
            values.sort();
            *entry = json!({"app": app, "scopes": values});
        }
    }
}
