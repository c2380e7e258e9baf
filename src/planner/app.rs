//! Applications: which live app each manifest means (by `uniqueName`, or adopted by appId), the
//! application's own fields, its service principal, and `--prune`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::resolve::Resolved;
use super::{
    AppCx, Obj, PlanInput, Problem, ProblemKind, access, create, delete, entitlements, fields,
    normalize, pre_authorized, s, set_value, update,
};
use crate::model::{
    AppId, DeletedApp, DesiredApp, LiveApp, MANAGED_BY_TAG, ManagedApp, ObjectId, On,
    PROTECTED_TAG, SignInAudience,
};
use crate::plan::{
    Action, Address, ApplicationBody, ApplicationPatch, Change, ExistingApp, Note, NoteKind,
    Operation, ResourceKind,
};

/// What a desired app is in the tenant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Matched<'a> {
    /// Found by `uniqueName`.
    Managed(&'a LiveApp),
    /// Found by `metadata.appId`, without a `uniqueName` yet: it will be adopted.
    Adopt(&'a LiveApp),
    /// Not in the tenant: it will be created.
    New,
    /// In deleted items, carrying the managed tag: deleted behind entraform's back. It will be
    /// restored (keeping its appId and credentials), and compared as it was.
    Restore(&'a DeletedApp),
}

impl<'a> Matched<'a> {
    pub fn live(&self) -> Option<&'a LiveApp> {
        match *self {
            Matched::Managed(l) | Matched::Adopt(l) => Some(l),
            Matched::Restore(d) => Some(&d.app),
            Matched::New => None,
        }
    }
}

/// One entry per desired app, in order; `None` where a problem was recorded instead.
pub(crate) fn match_apps<'a>(
    input: &PlanInput<'a>,
    problems: &mut Vec<Problem>,
) -> Vec<Option<Matched<'a>>> {
    let live = &input.live.apps;
    // By uniqueName, as Graph compares it (without case): a tenant of 10,000 apps is not
    // scanned once per manifest.
    let mut by_unique_name: HashMap<String, &LiveApp> = HashMap::with_capacity(live.len());
    for l in live {
        if let Some(u) = &l.unique_name {
            by_unique_name.entry(u.to_ascii_lowercase()).or_insert(l);
        }
    }
    let mut out = Vec::with_capacity(input.desired.len());
    let mut names: BTreeMap<String, &DesiredApp> = BTreeMap::new();
    let mut adopted: BTreeMap<String, &DesiredApp> = BTreeMap::new();
    let mut claimed: BTreeMap<ObjectId, &DesiredApp> = BTreeMap::new();

    for d in input.desired {
        let mut problem = |kind, message: String, help: Vec<String>| {
            problems.push(Problem {
                kind,
                source: Some(d.source.clone()),
                app: d.name.clone(),
                message,
                help,
            });
        };
        let at =
            |other: &DesiredApp| format!("{}:{}", other.source.file.display(), other.source.line);

        if let Some(other) = names.insert(d.name.to_lowercase(), d) {
            problem(
                ProblemKind::DuplicateApp,
                format!("`metadata.name` is also used at {}", at(other)),
                Vec::new(),
            );
            out.push(None);
            continue;
        }
        if let Some(id) = d.adopt_app_id
            && let Some(other) = adopted.insert(id.to_string(), d)
        {
            problem(
                ProblemKind::DuplicateApp,
                format!(
                    "`metadata.appId` {id} is also adopted by `{}` at {}",
                    other.name,
                    at(other)
                ),
                Vec::new(),
            );
            out.push(None);
            continue;
        }

        let by_name = by_unique_name.get(&d.name.to_ascii_lowercase()).copied();
        let matched = match (by_name, d.adopt_app_id) {
            (Some(l), Some(want)) if l.app_id != want => {
                problem(
                    ProblemKind::AdoptionConflict,
                    format!(
                        "`metadata.appId` is {want}, but the application with uniqueName `{}` has appId {}",
                        d.name, l.app_id
                    ),
                    vec![format!(
                        "remove `metadata.appId`, or set it to {} (the app this name already manages)",
                        l.app_id
                    )],
                );
                None
            }
            (Some(l), _) => Some(Matched::Managed(l)),
            (None, Some(id)) => match live.iter().find(|l| l.app_id == id) {
                None => {
                    problem(
                        ProblemKind::AdoptedAppMissing,
                        format!("`metadata.appId` {id}: no application with this appId in the tenant"),
                        vec!["check the appId, or remove `metadata.appId` to create a new application".to_owned()],
                    );
                    None
                }
                Some(l) => match &l.unique_name {
                    Some(other) => {
                        problem(
                            ProblemKind::AdoptionConflict,
                            format!(
                                "the application with appId {id} already has uniqueName `{other}`, which Graph never changes"
                            ),
                            vec![format!("set `metadata.name` to `{other}` to manage it")],
                        );
                        None
                    }
                    None => Some(Matched::Adopt(l)),
                },
            },
            (None, None) => match input.live.deleted_apps.iter().find(|x| {
                x.app
                    .unique_name
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(&d.name))
            }) {
                Some(x) if x.app.tags.iter().any(|t| t == MANAGED_BY_TAG) => {
                    Some(Matched::Restore(x))
                }
                Some(x) => {
                    let id = x.app.object_id;
                    problem(
                        ProblemKind::NameHeldByDeletedApp,
                        format!(
                            "the uniqueName `{}` is held by a deleted application (appId {}{}) that entraform does not manage; Entra ID keeps deleted applications, and their names, for 30 days",
                            d.name,
                            x.app.app_id,
                            deleted_on(x)
                        ),
                        vec![
                            format!(
                                "restore it (Graph: `POST /v1.0/directory/deletedItems/{id}/restore`, or Restore in the Entra portal): the next plan manages it by this name"
                            ),
                            format!(
                                "or purge it for good (Graph: `DELETE /v1.0/directory/deletedItems/{id}`) to create a new application under this name"
                            ),
                        ],
                    );
                    None
                }
                None => Some(Matched::New),
            },
        };
        if let Some(l) = matched.and_then(|m| m.live())
            && let Some(other) = claimed.insert(l.object_id, d)
        {
            problem(
                ProblemKind::DuplicateApp,
                format!(
                    "the application {} is also managed by `{}` at {}",
                    l.app_id,
                    other.name,
                    at(other)
                ),
                Vec::new(),
            );
            out.push(None);
            continue;
        }
        out.push(matched);
    }
    out
}

/// `, deleted 2025-06-01` when Graph said when.
fn deleted_on(x: &DeletedApp) -> String {
    x.deleted_at
        .map(|t| format!(", deleted {}", t.date()))
        .unwrap_or_default()
}

/// The tags an app should carry: the user's (the manifest's, or the live ones when unmanaged)
/// plus entraform's own.
fn desired_tags(d: &DesiredApp, live: Option<&LiveApp>) -> BTreeSet<String> {
    let mut tags: BTreeSet<String> = match &d.tags {
        Some(t) => t
            .iter()
            .filter(|t| !normalize::is_own_tag(t))
            .cloned()
            .collect(),
        None => live
            .map(|l| normalize::user_tags(&l.tags))
            .unwrap_or_default(),
    };
    tags.insert(MANAGED_BY_TAG.to_owned());
    if d.protect {
        tags.insert(PROTECTED_TAG.to_owned());
    }
    tags
}

pub(crate) fn application(cx: &AppCx<'_>, resolved: &Resolved<'_>) -> Option<Change> {
    let d = cx.desired;
    let catalog = cx.catalog;
    let tags: Vec<String> = desired_tags(d, cx.live).into_iter().collect();
    let rra = resolved
        .apis
        .as_ref()
        .map(|apis| access::required_resource_access(apis));
    let address = cx.address(ResourceKind::Application);
    let planned_fields = entitlements::planned_fields(cx);

    let Some(live) = cx.live else {
        let description = normalize::description(d.description.as_deref()).map(str::to_owned);
        let audience = d.sign_in_audience.unwrap_or(SignInAudience::AzureADMyOrg);
        let redirect_uris: Option<Vec<String>> = d
            .redirect_uris
            .as_ref()
            .map(|u| u.iter().cloned().collect());
        let mut after = Obj::new()
            .with("unique_name", d.name.clone())
            .with("display_name", d.display_name.clone())
            .with_opt("description", description.clone())
            .with("sign_in_audience", audience.as_str())
            .with_opt("redirect_uris", redirect_uris.as_ref().map(set_value))
            .with("tags", set_value(&tags))
            .with_opt(
                "required_resource_access",
                rra.as_ref()
                    .map(|r| set_value(access::rra_labels(r, catalog))),
            );
        let fields = fields::compare(
            On::Application,
            &planned_fields,
            None,
            &mut Obj::new(),
            &mut after,
        );
        pre_authorized::show_by_name(cx, &mut [&mut after]);
        let op = Operation::UpsertApplication {
            unique_name: d.name.clone(),
            application: ApplicationBody {
                display_name: d.display_name.clone(),
                description,
                sign_in_audience: audience.as_str().to_owned(),
                redirect_uris,
                tags,
                required_resource_access: rra,
                fields,
            },
        };
        return Some(create(address, after, &["app_id"], vec![op]));
    };

    let mut before = Obj::new().with("app_id", s(live.app_id));
    let mut after = Obj::new().with("app_id", s(live.app_id));
    let mut patch = ApplicationPatch::default();
    let mut reasons = Vec::new();

    if cx.adopting {
        before.set("unique_name", serde_json::Value::Null);
        after.set("unique_name", d.name.clone());
        reasons.push(format!(
            "adopting the existing application {} named by `metadata.appId`",
            live.app_id
        ));
    }

    before.set("display_name", live.display_name.clone());
    after.set("display_name", d.display_name.clone());
    if live.display_name != d.display_name {
        patch.display_name = Some(d.display_name.clone());
    }

    if let Some(want) = &d.description {
        let want = normalize::description(Some(want));
        let have = normalize::description(live.description.as_deref());
        before.set("description", have.map(str::to_owned));
        after.set("description", want.map(str::to_owned));
        if want != have {
            patch.description = Some(want.map(str::to_owned));
        }
    }

    if let Some(want) = d.sign_in_audience {
        before.set("sign_in_audience", live.sign_in_audience.clone());
        after.set("sign_in_audience", want.as_str());
        if !normalize::same_audience(&live.sign_in_audience, want) {
            patch.sign_in_audience = Some(want.as_str().to_owned());
        }
    }

    if let Some(want) = &d.redirect_uris {
        // A live URI that differs from a wanted one only by Graph's normalisation is shown in
        // the manifest's spelling, so it never reads as a change.
        let shown_live = live.redirect_uris.iter().map(|uri| {
            want.iter()
                .find(|w| normalize::redirect_uri(w) == normalize::redirect_uri(uri))
                .unwrap_or(uri)
        });
        before.set("redirect_uris", set_value(shown_live));
        after.set("redirect_uris", set_value(want));
        if normalize::redirect_uri_set(&live.redirect_uris) != normalize::redirect_uri_set(want) {
            patch.redirect_uris = Some(want.iter().cloned().collect());
        }
    }

    before.set("tags", set_value(&live.tags));
    after.set("tags", set_value(&tags));
    let live_tags: BTreeSet<&String> = live.tags.iter().collect();
    if live_tags != tags.iter().collect() {
        patch.tags = Some(tags.clone());
        let has = |t: &str| live.tags.iter().any(|x| x == t);
        if !cx.adopting && !has(MANAGED_BY_TAG) {
            reasons.push(format!("the `{MANAGED_BY_TAG}` tag is missing"));
        }
        if d.protect && !has(PROTECTED_TAG) {
            reasons.push(format!("`protect: true` adds the `{PROTECTED_TAG}` tag"));
        }
        if !d.protect && has(PROTECTED_TAG) {
            reasons.push(format!(
                "`protect` is off, so the `{PROTECTED_TAG}` tag goes"
            ));
        }
    }

    if let Some(want) = &rra {
        before.set(
            "required_resource_access",
            set_value(access::rra_labels(&live.required_resource_access, catalog)),
        );
        after.set(
            "required_resource_access",
            set_value(access::rra_labels(want, catalog)),
        );
        if access::rra_set(&live.required_resource_access) != access::rra_set(want) {
            patch.required_resource_access = Some(want.clone());
        }
    }

    patch.fields = fields::compare(
        On::Application,
        &planned_fields,
        Some(&live.fields),
        &mut before,
        &mut after,
    );
    pre_authorized::show_by_name(cx, &mut [&mut before, &mut after]);

    let app = ExistingApp {
        object_id: live.object_id,
        app_id: live.app_id,
    };
    // Removing an enabled app role or scope takes two writes (Graph's rule, see
    // `model::entitlements`): the disabling one goes before everything else the change writes.
    let disable = entitlements::disable_first(&live.fields, &patch.fields).map(|(fields, why)| {
        reasons.push(why);
        Operation::UpdateApplication {
            app: app.clone(),
            patch: ApplicationPatch {
                fields,
                ..ApplicationPatch::default()
            },
        }
    });
    if let Some(deleted) = cx.restoring {
        // Restore first (the object, appId, keys and federated credentials come back), then
        // whatever the manifest changed since.
        let mut ops = vec![Operation::RestoreApplication { app: app.clone() }];
        ops.extend(disable);
        if !patch.is_empty() {
            ops.push(Operation::UpdateApplication { app, patch });
        }
        let mut change = update(address, before, after, None, ops);
        change.action = Action::Restore;
        let when = deleted
            .deleted_at
            .map(|t| format!(" on {}", t.date()))
            .unwrap_or_default();
        change.reason = Some(format!(
            "deleted outside entraform{when}; restoring keeps its appId {} and its credentials, where a new application would get a new one",
            live.app_id
        ));
        return Some(change);
    }
    if !cx.adopting && patch.is_empty() {
        return None;
    }
    let op = if cx.adopting {
        Operation::AdoptApplication {
            app,
            unique_name: d.name.clone(),
            patch,
        }
    } else {
        Operation::UpdateApplication { app, patch }
    };
    let reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    let ops = disable.into_iter().chain([op]).collect();
    Some(update(address, before, after, reason, ops))
}

pub(crate) fn service_principal(cx: &AppCx<'_>) -> Option<Change> {
    let desired = &cx.desired.service_principal_fields;
    if let Some(sp) = cx.sp() {
        let mut before = Obj::new().with("object_id", s(sp.object_id));
        let mut after = Obj::new().with("object_id", s(sp.object_id));
        let fields = fields::compare(
            On::ServicePrincipal,
            desired,
            Some(&sp.fields),
            &mut before,
            &mut after,
        );
        if fields.is_empty() {
            return None;
        }
        return Some(update(
            cx.address(ResourceKind::ServicePrincipal),
            before,
            after,
            None,
            vec![Operation::UpdateServicePrincipal {
                object_id: sp.object_id,
                fields,
            }],
        ));
    }
    // Every field the manifest declares, for a service principal written from scratch.
    let declared = |after: &mut Obj| {
        fields::compare(On::ServicePrincipal, desired, None, &mut Obj::new(), after)
    };
    if let Some(object_id) = cx.restoring.and_then(|d| d.service_principal) {
        // Deleted with the app; restored on its own (Graph does not bring it back with it), as
        // it was deleted: the fields the manifest declares are written after it, since the
        // manifest may have changed while it was gone.
        let mut after = Obj::new()
            .with(
                "app_id",
                s(cx.live.map(|l| l.app_id).expect("restoring a live view")),
            )
            .with("object_id", s(object_id));
        let fields = declared(&mut after);
        let mut ops = vec![Operation::RestoreServicePrincipal { object_id }];
        if !fields.is_empty() {
            ops.push(Operation::UpdateServicePrincipal { object_id, fields });
        }
        let mut change = create(cx.address(ResourceKind::ServicePrincipal), after, &[], ops);
        change.action = Action::Restore;
        change.reason =
            Some("deleted with its application; restored with the same object id".to_owned());
        return Some(change);
    }
    let mut after = Obj::new().with_opt("app_id", cx.live.map(|l| s(l.app_id)));
    let fields = declared(&mut after);
    let unknown: &[&str] = if cx.live.is_some() {
        &["object_id"]
    } else {
        &["app_id", "object_id"]
    };
    let mut change = create(
        cx.address(ResourceKind::ServicePrincipal),
        after,
        unknown,
        vec![Operation::CreateServicePrincipal {
            app: cx.app_ref(),
            fields,
        }],
    );
    if cx.live.is_some() {
        change.reason = Some("the application has no service principal".to_owned());
    }
    Some(change)
}

/// Managed apps no manifest mentions: deleted with `--prune` (never a protected one), else
/// only noted.
pub(crate) fn prune(
    input: &PlanInput<'_>,
    matches: &[Option<Matched<'_>>],
    problems: &mut Vec<Problem>,
) -> (Vec<Change>, Vec<Note>) {
    let matched: BTreeSet<ObjectId> = matches
        .iter()
        .flatten()
        .filter_map(|m| m.live())
        .map(|l| l.object_id)
        .collect();
    // A manifest that could not be matched (a problem was recorded) still means its app: never
    // offer that app for deletion.
    let mentioned: BTreeSet<String> = input
        .desired
        .iter()
        .map(|d| d.name.to_lowercase())
        .collect();
    let adopted: BTreeSet<_> = input
        .desired
        .iter()
        .filter_map(|d| d.adopt_app_id)
        .collect();
    let unmentioned =
        |object_id: ObjectId, app_id: AppId, unique_name: Option<&str>, tags: &[String]| {
            !matched.contains(&object_id)
                && !adopted.contains(&app_id)
                && !unique_name.is_some_and(|u| mentioned.contains(&u.to_lowercase()))
                && tags.iter().any(|t| t == MANAGED_BY_TAG)
        };

    if !input.options.prune {
        return (Vec::new(), unmentioned_notes(input, unmentioned));
    }
    let mut unmentioned: Vec<&LiveApp> = input
        .live
        .apps
        .iter()
        .filter(|l| unmentioned(l.object_id, l.app_id, l.unique_name.as_deref(), &l.tags))
        .collect();
    unmentioned.sort_by_key(|l| prune_name(l));

    let mut changes = Vec::new();
    for l in unmentioned {
        let name = prune_name(l);
        if l.tags.iter().any(|t| t == PROTECTED_TAG) {
            problems.push(Problem {
                kind: ProblemKind::ProtectedApp,
                source: None,
                app: name.clone(),
                message: format!(
                    "application {} is protected, so `--prune` will not delete it",
                    l.app_id
                ),
                help: vec![format!(
                    "it carries the `{PROTECTED_TAG}` tag (from `protect: true`); to delete it, restore its manifest with `protect: false` and apply (or remove the tag in the tenant), then prune again"
                )],
            });
            continue;
        }
        let before = Obj::new()
            .with("app_id", s(l.app_id))
            .with("unique_name", l.unique_name.clone())
            .with("display_name", l.display_name.clone())
            .with_opt(
                "service_principal_id",
                l.service_principal.as_ref().map(|sp| s(sp.object_id)),
            );
        let app = ExistingApp {
            object_id: l.object_id,
            app_id: l.app_id,
        };
        let mut ops: Vec<Operation> = l
            .service_principal
            .as_ref()
            .map(|sp| Operation::DeleteServicePrincipal {
                object_id: sp.object_id,
            })
            .into_iter()
            .collect();
        ops.push(Operation::DeleteApplication { app });
        changes.push(delete(
            Address::app(ResourceKind::Application, name),
            before,
            format!("it carries the `{MANAGED_BY_TAG}` tag but no manifest mentions it, and `--prune` is on"),
            ops,
        ));
    }
    (changes, Vec::new())
}

/// Without `--prune`, a note for each managed app no manifest mentions: it keeps whatever it
/// was granted (an Exchange Administrator role, say) and a daily check should say so. Not a
/// change: `plan --detailed-exitcode` still exits 0, as Terraform's warnings do.
fn unmentioned_notes(
    input: &PlanInput<'_>,
    unmentioned: impl Fn(ObjectId, AppId, Option<&str>, &[String]) -> bool,
) -> Vec<Note> {
    let live = &input.live;
    // With names only (`managed`) and, in a hand-made model, in full (`apps`): once each.
    let mut apps: BTreeMap<ObjectId, ManagedApp> = BTreeMap::new();
    for l in &live.apps {
        apps.entry(l.object_id).or_insert_with(|| ManagedApp {
            object_id: l.object_id,
            app_id: l.app_id,
            unique_name: l.unique_name.clone(),
            display_name: l.display_name.clone(),
            tags: l.tags.clone(),
        });
    }
    for m in &live.managed {
        apps.entry(m.object_id).or_insert_with(|| m.clone());
    }
    let mut notes: Vec<Note> = apps
        .into_values()
        .filter(|m| unmentioned(m.object_id, m.app_id, m.unique_name.as_deref(), &m.tags))
        .map(|m| {
            let name = m.unique_name.clone().unwrap_or_else(|| m.app_id.to_string());
            let then = if m.tags.iter().any(|t| t == PROTECTED_TAG) {
                format!("it carries `{PROTECTED_TAG}`, so `--prune` would stop rather than delete it")
            } else {
                "`--prune` would delete it".to_owned()
            };
            Note {
                kind: NoteKind::Unmentioned,
                app: Some(name),
                message: format!(
                    "managed by entraform (appId {}, display name `{}`) but no manifest mentions it; {then}",
                    m.app_id, m.display_name
                ),
                url: None,
            }
        })
        .collect();
    notes.sort_by(|a, b| a.app.cmp(&b.app));
    notes
}

/// The name a pruned app is addressed by: its `uniqueName`, else its appId.
fn prune_name(l: &LiveApp) -> String {
    l.unique_name
        .clone()
        .unwrap_or_else(|| l.app_id.to_string())
}
