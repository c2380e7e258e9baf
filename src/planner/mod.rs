//! The planner. Pure: (desired apps, live tenant) → a [`Plan`]. No IO.
//!
//! Field by field for what the manifests set (absent = unmanaged); collections are sets; Graph's
//! own defaults and normalisations ([`normalize`]) never show as changes. Names are resolved
//! against the live tenant first ([`resolve`]); every problem found is reported together.
//! Each change carries the fully decided operations apply will run.

mod access;
mod app;
pub mod assignments;
mod certs;
mod credentials;
pub(crate) mod entitlements;
mod federated;
mod fields;
mod input;
pub mod normalize;
mod owners;
mod pre_authorized;
mod problem;
pub mod resolve;
mod roles;

use serde_json::{Map, Value};

pub use certs::check_replace;
pub use input::{KeyIdSource, PlanInput, PlanOptions};
pub use problem::{PlanError, Problem, ProblemKind};

use crate::model::{DesiredApp, LiveApp, LiveServicePrincipal};
use crate::plan::{
    Action, Address, AppRef, CertificateStatus, Change, ExistingApp, FORMAT_VERSION, Note,
    NoteKind, Operation, Plan, ResourceKind, SpRef, Summary, fingerprint,
};

/// What the comparison found, before it is wrapped into a plan.
#[derive(Debug, Clone, Default)]
struct Decided {
    /// In apply order, no-ops left out.
    changes: Vec<Change>,
    certificates: Vec<CertificateStatus>,
    notes: Vec<Note>,
}

/// Makes the plan. Every problem found (an unknown permission, role or owner, a protected app
/// under `--prune`, an adoption that cannot work...) is reported at once in
/// [`PlanError::Problems`].
pub fn plan(input: &PlanInput<'_>) -> Result<Plan, PlanError> {
    let decided = decide(input)?;
    Ok(Plan {
        format_version: FORMAT_VERSION.to_owned(),
        entraform_version: input.entraform_version.to_owned(),
        tenant_id: input.live.tenant_id,
        // Whole seconds: the document is for people and diffs, not a clock.
        created_at: input.now.replace_nanosecond(0).unwrap_or(input.now),
        summary: Summary::of(&decided.changes),
        changes: decided.changes,
        certificates: decided.certificates,
        notes: decided.notes,
        fingerprints: fingerprint::fingerprints_of(input.live),
        manifests: input.manifests.clone(),
        key_id_seed: input.key_ids.seed(),
        replace: input.options.replace.iter().cloned().collect(),
    })
}

fn decide(input: &PlanInput<'_>) -> Result<Decided, PlanError> {
    let mut out = Decided::default();
    let mut problems = check_replace(input.desired, &input.options.replace);
    let matches = app::match_apps(input, &mut problems);
    let catalog = entitlements::catalog_with_managed_apis(input, &matches);
    // The apps of this plan each app names as an API, for the cycle check.
    let mut planned_apis = Vec::new();

    for (desired, matched) in input.desired.iter().zip(&matches) {
        let Some(matched) = matched else { continue };
        let resolved = match resolve::resolve(desired, &catalog) {
            Ok(r) => r,
            Err(found) => {
                problems.extend(found);
                continue;
            }
        };
        planned_apis.push((
            desired,
            resolved
                .apis
                .iter()
                .flatten()
                .filter_map(|api| match api.resource {
                    resolve::ApiResource::Planned(p) => Some((p.name.as_str(), api.entry)),
                    resolve::ApiResource::Live(_) => None,
                })
                .collect::<Vec<_>>(),
        ));
        let cx = AppCx {
            input,
            catalog: &catalog,
            desired,
            live: matched.live(),
            adopting: matches!(matched, app::Matched::Adopt(_)),
            restoring: match matched {
                app::Matched::Restore(d) => Some(*d),
                _ => None,
            },
        };
        if let Err(found) = pre_authorized::resolve(&cx) {
            problems.extend(found);
            continue;
        }
        out.changes.extend(app::application(&cx, &resolved));
        out.changes.extend(app::service_principal(&cx));
        out.changes
            .extend(access::app_role_assignments(&cx, &resolved));
        out.changes.extend(access::delegated_grants(&cx, &resolved));
        out.changes.extend(roles::directory_roles(&cx, &resolved));
        match assignments::assignments(&cx) {
            Ok(changes) => out.changes.extend(changes),
            Err(found) => problems.extend(found),
        }
        match owners::owners(&cx, &resolved) {
            Ok((changes, notes)) => {
                out.changes.extend(changes);
                out.notes.extend(notes);
            }
            Err(p) => problems.push(*p),
        }
        match certs::certificates(&cx) {
            Ok((changes, statuses, notes)) => {
                out.changes.extend(changes);
                out.certificates.extend(statuses);
                out.notes.extend(notes);
            }
            Err(found) => problems.extend(found),
        }
        let (secrets, notes) = credentials::client_secrets(&cx);
        out.changes.extend(secrets);
        out.notes.extend(notes);
        out.notes.extend(credentials::unmanaged_certificates(&cx));
        out.changes.extend(federated::federated_credentials(&cx));
        out.notes.extend(access::consent_note(&cx, &resolved));
    }

    problems.extend(resolve::api_cycles(&planned_apis));

    let (pruned, notes) = app::prune(input, &matches, &mut problems);
    out.changes.extend(pruned);
    out.notes.extend(notes);

    if !problems.is_empty() {
        return Err(PlanError::Problems(problems));
    }
    out.changes.sort_by(Change::apply_order);
    certs::assign_key_lists(input, &matches, &mut out.changes);
    out.certificates.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(out)
}

/// One desired app and what it matched in the tenant.
pub(crate) struct AppCx<'a> {
    pub input: &'a PlanInput<'a>,
    /// What names resolve against: the tenant's catalog with the APIs of this run's apps.
    pub catalog: &'a crate::model::Catalog,
    pub desired: &'a DesiredApp,
    pub live: Option<&'a LiveApp>,
    pub adopting: bool,
    /// The app is in deleted items and will be restored first; `live` is how it was.
    pub restoring: Option<&'a crate::model::DeletedApp>,
}

impl AppCx<'_> {
    pub fn name(&self) -> &str {
        &self.desired.name
    }

    pub fn existing(&self) -> Option<ExistingApp> {
        self.live.map(|l| ExistingApp {
            object_id: l.object_id,
            app_id: l.app_id,
        })
    }

    pub fn app_ref(&self) -> AppRef {
        self.existing()
            .map_or_else(|| AppRef::Planned(self.name().to_owned()), AppRef::Existing)
    }

    pub fn sp(&self) -> Option<&LiveServicePrincipal> {
        self.live.and_then(|l| l.service_principal.as_ref())
    }

    pub fn sp_ref(&self) -> SpRef {
        self.sp().map_or_else(
            || SpRef::Planned(self.name().to_owned()),
            |sp| SpRef::Existing(sp.object_id),
        )
    }

    pub fn address(&self, kind: ResourceKind) -> Address {
        Address::app(kind, self.name())
    }

    pub fn keyed(&self, kind: ResourceKind, key: impl Into<String>) -> Address {
        Address::keyed(kind, self.name(), key)
    }

    pub fn note(&self, kind: NoteKind, message: String, url: Option<String>) -> Note {
        Note {
            kind,
            app: Some(self.name().to_owned()),
            message,
            url,
        }
    }
}

/// A JSON object built field by field, in the order fields are shown.
#[derive(Debug, Clone, Default)]
pub(crate) struct Obj(Map<String, Value>);

impl Obj {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    pub fn with_opt(self, key: &str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(v) => self.with(key, v),
            None => self,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.get_mut(key)
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(key.to_owned(), value.into());
    }

    pub fn value(self) -> Value {
        Value::Object(self.0)
    }
}

/// A JSON string for anything printable (ids, thumbprints, periods).
pub(crate) fn s(value: impl ToString) -> Value {
    Value::String(value.to_string())
}

/// A JSON array of strings, sorted: sets are shown in a stable order.
pub(crate) fn set_value<I, T>(items: I) -> Value
where
    I: IntoIterator<Item = T>,
    T: ToString,
{
    let mut v: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    v.sort();
    v.dedup();
    Value::Array(v.into_iter().map(Value::String).collect())
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> Value {
    Value::String(
        t.format(&time::format_description::well_known::Rfc3339)
            .expect("a live timestamp formats as RFC 3339"),
    )
}

pub(crate) fn create(
    address: Address,
    after: Obj,
    unknown: &[&str],
    ops: Vec<Operation>,
) -> Change {
    Change {
        address,
        action: Action::Create,
        reason: None,
        before: None,
        after: Some(after.value()),
        after_unknown: unknown.iter().map(|s| (*s).to_owned()).collect(),
        operations: ops,
    }
}

pub(crate) fn delete(address: Address, before: Obj, reason: String, ops: Vec<Operation>) -> Change {
    Change {
        address,
        action: Action::Delete,
        reason: Some(reason),
        before: Some(before.value()),
        after: None,
        after_unknown: Vec::new(),
        operations: ops,
    }
}

pub(crate) fn update(
    address: Address,
    before: Obj,
    after: Obj,
    reason: Option<String>,
    ops: Vec<Operation>,
) -> Change {
    Change {
        address,
        action: Action::Update,
        reason,
        before: Some(before.value()),
        after: Some(after.value()),
        after_unknown: Vec::new(),
        operations: ops,
    }
}

#[cfg(test)]
mod tests;
