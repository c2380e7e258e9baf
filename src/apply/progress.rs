//! What apply says while and after it works, as pure functions returning text (golden-tested):
//! a line when each action starts and ends, Terraform's closing line, and the report of what was
//! done and what was not when a run stops early.

use std::time::Duration;

use super::execute::{ActionOutcome, Report};
use crate::plan::{Action, Address, Operation, Plan, ResourceKind};

/// Terraform's three verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Modify,
    Destroy,
    /// Bring back from deleted items (Terraform's import verbs are the model).
    Restore,
}

impl Verb {
    fn ing(self) -> &'static str {
        match self {
            Verb::Create => "Creating...",
            Verb::Modify => "Modifying...",
            Verb::Destroy => "Destroying...",
            Verb::Restore => "Restoring...",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Verb::Create => "Creation complete",
            Verb::Modify => "Modifications complete",
            Verb::Destroy => "Destruction complete",
            Verb::Restore => "Restore complete",
        }
    }

    fn failed(self) -> &'static str {
        match self {
            Verb::Create => "Creation failed",
            Verb::Modify => "Modifications failed",
            Verb::Destroy => "Destruction failed",
            Verb::Restore => "Restore failed",
        }
    }
}

/// What an operation does, in Terraform's words.
pub fn verb(op: &Operation) -> Verb {
    use Operation as O;
    match op {
        O::UpsertApplication { .. }
        | O::CreateServicePrincipal { .. }
        | O::GrantAppRole { .. }
        | O::AssignPrincipal { .. }
        | O::CreateDelegatedGrant { .. }
        | O::AssignDirectoryRole { .. }
        | O::AddOwner { .. }
        | O::AddCertificate { .. }
        | O::AddClientSecret { .. }
        | O::CreateFederatedCredential { .. } => Verb::Create,
        O::AdoptApplication { .. }
        | O::UpdateApplication { .. }
        | O::UpdateServicePrincipal { .. }
        | O::UpdateDelegatedGrant { .. }
        | O::UpdateFederatedCredential { .. } => Verb::Modify,
        O::DeleteServicePrincipal { .. }
        | O::DeleteApplication { .. }
        | O::RevokeAppRole { .. }
        | O::UnassignPrincipal { .. }
        | O::DeleteDelegatedGrant { .. }
        | O::RemoveDirectoryRole { .. }
        | O::RemoveOwner { .. }
        | O::RemoveKeyCredential { .. }
        | O::RemovePasswordCredential { .. }
        | O::DeleteFederatedCredential { .. } => Verb::Destroy,
        O::RestoreApplication { .. } | O::RestoreServicePrincipal { .. } => Verb::Restore,
    }
}

/// What an operation was trying to do, for `could not …` messages.
pub fn describe(op: &Operation) -> &'static str {
    use Operation as O;
    match op {
        O::UpsertApplication { .. } => "create the application",
        O::AdoptApplication { .. } => "adopt the application",
        O::UpdateApplication { .. } => "update the application",
        O::DeleteServicePrincipal { .. } => "delete the service principal",
        O::DeleteApplication { .. } => "delete the application",
        O::CreateServicePrincipal { .. } => "create the service principal",
        O::UpdateServicePrincipal { .. } => "update the service principal",
        O::RestoreApplication { .. } => "restore the application",
        O::RestoreServicePrincipal { .. } => "restore the service principal",
        O::GrantAppRole { .. } => "grant the application permission",
        O::RevokeAppRole { .. } => "revoke the application permission",
        O::AssignPrincipal { .. } => "assign the user or group",
        O::UnassignPrincipal { .. } => "remove the assignment",
        O::CreateDelegatedGrant { .. } => "grant the delegated permissions",
        O::UpdateDelegatedGrant { .. } => "update the delegated permissions",
        O::DeleteDelegatedGrant { .. } => "revoke the delegated permissions",
        O::AssignDirectoryRole { .. } => "assign the directory role",
        O::RemoveDirectoryRole { .. } => "remove the directory role assignment",
        O::AddOwner { .. } => "add the owner",
        O::RemoveOwner { .. } => "remove the owner",
        O::AddCertificate { .. } => "attach the certificate",
        O::RemoveKeyCredential { .. } => "remove the key credential",
        O::RemovePasswordCredential { .. } => "remove the client secret",
        O::AddClientSecret { .. } => "add the client secret",
        O::CreateFederatedCredential { .. } => "create the federated credential",
        O::UpdateFederatedCredential { .. } => "update the federated credential",
        O::DeleteFederatedCredential { .. } => "delete the federated credential",
    }
}

/// What is known about the object before an operation starts, shown in its first line
/// (Terraform shows `[id=…]` when destroying). Only ids: never key material.
pub fn start_detail(address: &Address, op: &Operation) -> Option<String> {
    use Operation as O;
    match op {
        // A prune's first step removes the service principal under the application's address.
        O::DeleteServicePrincipal { object_id } if address.kind == ResourceKind::Application => {
            Some(format!("service_principal={object_id}"))
        }
        O::DeleteServicePrincipal { object_id } => Some(format!("id={object_id}")),
        O::DeleteApplication { app } | O::RestoreApplication { app } => {
            Some(format!("id={}", app.object_id))
        }
        O::RestoreServicePrincipal { object_id } | O::UpdateServicePrincipal { object_id, .. } => {
            Some(format!("id={object_id}"))
        }
        O::AdoptApplication { app, .. } | O::UpdateApplication { app, .. } => {
            Some(format!("id={}", app.object_id))
        }
        O::RevokeAppRole { assignment_id, .. } | O::UnassignPrincipal { assignment_id, .. } => {
            Some(format!("id={assignment_id}"))
        }
        O::UpdateDelegatedGrant { grant_id, .. } | O::DeleteDelegatedGrant { grant_id } => {
            Some(format!("id={grant_id}"))
        }
        O::RemoveDirectoryRole { assignment_id } => Some(format!("id={assignment_id}")),
        O::RemoveOwner { owner_id, .. } => Some(format!("id={owner_id}")),
        O::RemoveKeyCredential { key_id, .. } | O::RemovePasswordCredential { key_id, .. } => {
            Some(format!("key_id={key_id}"))
        }
        O::UpdateFederatedCredential { id, .. } | O::DeleteFederatedCredential { id, .. } => {
            Some(format!("id={id}"))
        }
        _ => None,
    }
}

/// One progress event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The operation's position in [`Plan::operations`].
    pub index: usize,
    pub address: Address,
    pub verb: Verb,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Started {
        detail: Option<String>,
    },
    Done {
        elapsed: Duration,
        detail: Option<String>,
    },
    Failed {
        elapsed: Duration,
    },
    /// Not granted: entraform may not grant consent in this tenant.
    ConsentRequired {
        elapsed: Duration,
    },
}

/// `application.exo-v2-app: Creation complete after 1s [id=…]`.
pub fn progress_line(event: &Event) -> String {
    let bracket = |d: &Option<String>| d.as_ref().map(|d| format!(" [{d}]")).unwrap_or_default();
    let a = &event.address;
    match &event.kind {
        EventKind::Started { detail } => format!("{a}: {}{}", event.verb.ing(), bracket(detail)),
        EventKind::Done { elapsed, detail } => format!(
            "{a}: {} after {}{}",
            event.verb.done(),
            format_elapsed(*elapsed),
            bracket(detail)
        ),
        EventKind::Failed { elapsed } => {
            format!(
                "{a}: {} after {}",
                event.verb.failed(),
                format_elapsed(*elapsed)
            )
        }
        EventKind::ConsentRequired { elapsed } => format!(
            "{a}: Not granted after {}: entraform may not grant consent in this tenant",
            format_elapsed(*elapsed)
        ),
    }
}

/// Whole seconds, as Terraform prints them: `0s`, `12s`, `1m5s`, `1h2m0s`.
pub fn format_elapsed(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// How far one change got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChangeState {
    Done,
    /// Some of its operations ran (a rotation whose new key is attached, the old not removed).
    Partly,
    Failed,
    ConsentRequired,
    NotStarted,
}

fn change_states(plan: &Plan, report: &Report) -> Vec<(Address, Action, ChangeState, usize)> {
    let mut out = Vec::new();
    let mut index = 0;
    for change in &plan.changes {
        let outcomes: Vec<&ActionOutcome> = (index..index + change.operations.len())
            .filter_map(|i| report.records.get(i).map(|r| &r.outcome))
            .collect();
        index += change.operations.len();
        let done = outcomes
            .iter()
            .filter(|o| matches!(o, ActionOutcome::Done { .. }))
            .count();
        let state = if outcomes
            .iter()
            .any(|o| matches!(o, ActionOutcome::Failed { .. }))
        {
            ChangeState::Failed
        } else if outcomes
            .iter()
            .any(|o| matches!(o, ActionOutcome::ConsentRequired { .. }))
        {
            ChangeState::ConsentRequired
        } else if done == outcomes.len() {
            ChangeState::Done
        } else if done > 0 {
            ChangeState::Partly
        } else {
            ChangeState::NotStarted
        };
        out.push((change.address.clone(), change.action, state, done));
    }
    out
}

/// Added, changed and destroyed, counted as the plan's summary counts them, over what was
/// actually done: a whole change counts fully, a replacement whose first half ran counts that
/// half.
fn counts(plan: &Plan, report: &Report) -> (usize, usize, usize) {
    change_states(plan, report).into_iter().fold(
        (0, 0, 0),
        |(a, c, d), (_, action, state, done)| {
            let (da, dc, dd) = match (state, action) {
                (ChangeState::Done, action) => action.counts(),
                (_, Action::CreateThenDelete) if done > 0 => (1, 0, 0),
                (_, Action::DeleteThenCreate) if done > 0 => (0, 0, 1),
                _ => (0, 0, 0),
            };
            (a + da, c + dc, d + dd)
        },
    )
}

/// `Apply complete! Resources: 8 added, 0 changed, 0 destroyed.`
pub fn applied_summary(plan: &Plan, report: &Report) -> String {
    let (a, c, d) = counts(plan, report);
    format!("Apply complete! Resources: {a} added, {c} changed, {d} destroyed.")
}

/// What was done and what was not, after a run that stopped early (an error or Ctrl-C) or left
/// grants for an administrator. Empty when everything was done.
pub fn failure_report(plan: &Plan, report: &Report) -> String {
    let states = change_states(plan, report);
    let total = states.len();
    let of = |s: ChangeState| {
        states
            .iter()
            .filter(|(_, _, st, _)| *st == s)
            .map(|(a, _, _, _)| a.clone())
            .collect::<Vec<_>>()
    };
    let (done, partly, failed, consent, not_started) = (
        of(ChangeState::Done),
        of(ChangeState::Partly),
        of(ChangeState::Failed),
        of(ChangeState::ConsentRequired),
        of(ChangeState::NotStarted),
    );
    if done.len() == total {
        return String::new();
    }
    let why = if report.stopped_by_user {
        "Apply interrupted"
    } else if failed.is_empty() {
        "Apply finished without admin consent"
    } else {
        "Apply stopped after an error"
    };
    let mut out = format!("{why}: {} of {total} changes done.\n", done.len());
    let mut section = |title: &str, items: &[Address]| {
        if !items.is_empty() {
            out.push_str(&format!("{title}:\n"));
            for a in items {
                out.push_str(&format!("  {a}\n"));
            }
        }
    };
    section("Done", &done);
    section("Partly done (run apply again to finish)", &partly);
    section("Failed", &failed);
    section("Not granted (needs admin consent)", &consent);
    section("Not started", &not_started);
    let (a, c, d) = counts(plan, report);
    out.push_str(&format!(
        "Resources: {a} added, {c} changed, {d} destroyed.\n"
    ));
    out
}
