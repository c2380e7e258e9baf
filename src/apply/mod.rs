//! Executing a plan: the executor that turns [`crate::plan::Operation`]s into Graph calls, in
//! dependency order and concurrently where independent, waiting out Graph's eventual
//! consistency; and the pure pieces around it that apply needs and tests read directly.
//!
//! | file | owns | IO? |
//! |---|---|---|
//! | `schedule` | which operations may run together and which wait for others | no |
//! | `retry` | what a failed write means: wait for replication, repeat, already there, consent, fail | no |
//! | `settle` | when reads have shown a write long enough: consecutive reads, pending changes | no |
//! | `requests/` | what each operation sends and which read proves it landed (`graph::api`), a file per resource | no |
//! | `execute` | the executor: id resolution, ordering, waits for replication, confirmations, the report; `execute/keys`: key sets read, checked, written whole and read back | Graph |
//! | `certs` | PFX passwords checked up front; generating, writing and describing certificates | files |
//! | `stale` | a saved plan against a fresh read: tenant, manifests, fingerprints | no |
//! | `progress` | progress lines, the closing summary, the failure report (pure renderers) | no |
//! | `outputs` | what a user needs after apply: ids, thumbprints, `Connect-ExchangeOnline` lines | no |
//! | `confirm` | the confirmation prompt and its answer | no |
//!
//! The executor makes no choices (Oxide's Reconfigurator): key ids, the keys to keep and the
//! order are the plan's. It takes ids from write responses instead of re-reading, and every
//! create is idempotent (upserts by alternate key, or a create whose "already exists" answer is
//! confirmed against the object that exists), so an interrupted apply is finished by running it
//! again. Two things it does read back (`settle`): a key set it wrote, until several reads in a
//! row show it (a concurrent writer's set fails the run), and, in `ops::apply`, the whole run,
//! until a fresh plan shows none of its changes as still to do.

mod certs;
mod confirm;
mod execute;
mod outputs;
mod progress;
mod requests;
mod retry;
mod schedule;
mod settle;
mod stale;

use std::path::PathBuf;

pub use certs::{check_pfx_passwords, pfx_password_vars};
pub use confirm::{ANSWER_PROMPT, approved, confirmation_prompt};
pub use execute::{
    ActionOutcome, ActionRecord, AttachedCertificate, Backoff, ConsentRequired, ExecuteOptions,
    Progress, Report, StopSignal, execute,
};
pub use outputs::{
    AppOutputs, CertificateOutput, OUTPUTS_FORMAT_VERSION, Outputs, OutputsInput, consent_report,
    consent_url, key_vault_connect_lines, outputs_json, outputs_text,
};
pub use progress::{
    Event, EventKind, Verb, applied_summary, failure_report, format_elapsed, progress_line,
    start_detail, verb,
};
pub use retry::{Consent, Disposition, Replication, WriteKind, classify};
pub use schedule::{Node, schedule};
pub use settle::{Settle, Streak, pending_changes};
pub use stale::{
    derivation_mismatch, drift_addresses, manifest_changes, plan_was_pruned, stale_check,
};

use crate::hint::Hint;
use crate::plan::Address;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A saved plan whose objects moved since it was made.
    #[error(
        "the plan is stale: {} changed since it was made; run plan again",
        addresses.join(", ")
    )]
    Stale { addresses: Vec<String> },

    #[error(
        "the plan was made for tenant {planned}, but entraform is signed in to tenant {actual}"
    )]
    WrongTenant { planned: String, actual: String },

    /// Manifests the saved plan was made from, changed or gone since.
    #[error(
        "the plan is stale: the manifests changed since it was made ({}); run plan again",
        changes.join(", ")
    )]
    ManifestsChanged { changes: Vec<String> },

    /// A saved plan whose changes and operations are not what its manifests and tenant give.
    #[error(
        "the plan file `{}` was changed after `plan --out` wrote it: {mismatch}; apply refuses it",
        path.display()
    )]
    PlanNotDerived { path: PathBuf, mismatch: String },

    /// PFX password variables that are missing or empty, all of them at once.
    #[error("{}", password_message(problems))]
    PfxPasswords {
        problems: Vec<crate::cert::CertError>,
    },

    #[error("apply needs confirmation, but stdin is not a terminal")]
    NotATerminal,

    #[error("Apply cancelled.")]
    Cancelled,

    /// The second Ctrl-C: what was in flight was abandoned.
    #[error("apply aborted: actions in flight were abandoned and may or may not have happened")]
    Aborted,

    /// One action of the plan failed (the executor reports each; the run ends with
    /// [`ApplyError::Incomplete`]).
    #[error("{address}: {what}")]
    Action {
        address: Address,
        what: String,
        #[source]
        source: Box<ActionError>,
    },

    /// Apply did what the plan asked, but reads of the tenant do not show all of it within
    /// the bounds: replication is unusually slow, or another writer changed it meanwhile.
    #[error(
        "Entra ID does not show {} of the changes this run made after waiting {waited_s}s: {}",
        pending.len(),
        pending.join(", ")
    )]
    NotSettled { pending: Vec<String>, waited_s: u64 },

    /// The run did not do everything the plan asked; what was done is reported.
    #[error("{message}")]
    Incomplete { message: String, consent_only: bool },
}

fn password_message(problems: &[crate::cert::CertError]) -> String {
    let mut out = "cannot write the certificates' PFX files: ".to_owned();
    out.push_str(
        &problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    );
    out
}

/// Why one action failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),

    #[error(transparent)]
    Cert(#[from] crate::cert::CertError),

    /// The import into Key Vault failed: the key was not uploaded to the app.
    #[error(
        "cannot import the certificate into Key Vault {target}; its key was not added to the app"
    )]
    KeyVault {
        target: Box<crate::model::KeyVaultCertificate>,
        #[source]
        source: Box<crate::keyvault::KeyVaultError>,
    },

    /// Setting a new client secret's value in Key Vault failed; the secret was removed from
    /// the app again (its value existed only in this run's memory).
    #[error(
        "cannot set Key Vault secret {target}; the client secret added to the app (keyId {key_id}) was removed again"
    )]
    SecretToKeyVault {
        target: Box<crate::model::KeyVaultSecret>,
        key_id: crate::model::KeyId,
        #[source]
        source: Box<crate::keyvault::KeyVaultError>,
    },

    /// Setting the value in Key Vault failed, and so did removing the secret from the app: a
    /// secret whose value nobody has is left registered.
    #[error(
        "cannot set Key Vault secret {target} ({vault_error}), and removing the client secret from the app failed too: keyId {key_id} is still registered on app {app_id}, with a value nobody holds"
    )]
    SecretLeftOnApp {
        target: Box<crate::model::KeyVaultSecret>,
        key_id: crate::model::KeyId,
        app_id: crate::model::AppId,
        vault_error: Box<crate::keyvault::KeyVaultError>,
        #[source]
        source: Box<crate::graph::GraphError>,
    },

    /// Graph's answer to `addPassword` had no `secretText` or `keyId`.
    #[error("Graph's answer to addPassword for `{app}` has no {missing}")]
    NoSecretText { app: String, missing: &'static str },

    /// An operation referred to an object this run was to create and did not.
    #[error("`{name}` has no {what} yet: the step that creates it did not complete")]
    Unresolved { name: String, what: &'static str },

    /// The tenant's keys differ from the set the plan was made against.
    #[error(
        "the application's key credentials changed since the plan was made (expected {expected}, found {found})"
    )]
    KeysChanged { expected: String, found: String },

    /// "Already exists", but what exists is not what the plan wanted.
    #[error("{0}")]
    Conflict(String),

    /// Eventual consistency did not settle within the executor's bounds.
    #[error("{what} was still not visible after {waited_s}s")]
    NotVisible { what: String, waited_s: u64 },

    /// The app's key set read back after this run's write is neither what it wrote nor a set
    /// it saw earlier: another writer changed it at the same time (a PATCH of
    /// `keyCredentials` replaces the whole set, so one of the two writes is lost).
    #[error(
        "keyCredentials of app `{app}` changed while applying (wrote {expected}, Entra ID now shows {found}); run plan again"
    )]
    KeysChangedWhileApplying {
        app: String,
        expected: String,
        found: String,
    },

    /// The app's `uniqueName` is held by an application in deleted items (for 30 days, or
    /// until it is purged), so no new application can take it.
    #[error(
        "the uniqueName `{unique_name}` is held by a deleted application (appId {app_id}): Entra ID keeps deleted applications, and their names, for 30 days"
    )]
    NameHeldByDeletedApp {
        unique_name: String,
        object_id: crate::model::ObjectId,
        app_id: crate::model::AppId,
    },

    /// Graph kept answering as it does while a new object replicates, past the executor's
    /// bounds. The answer may read like something else (a 403 for an OwnedBy caller).
    #[error("Entra ID had still not replicated what this write depends on after {waited_s}s")]
    StillReplicating {
        waited_s: u64,
        #[source]
        source: crate::graph::GraphError,
    },
}

impl Hint for ApplyError {
    fn hint(&self) -> Option<String> {
        match self {
            ApplyError::Stale { .. } | ApplyError::ManifestsChanged { .. } => Some(
                "make a new plan with `entraform plan --out FILE` and apply that, or run `entraform apply` on the manifests"
                    .to_owned(),
            ),
            ApplyError::PlanNotDerived { .. } => Some(
                "apply checks a saved plan by planning again from the same manifests and tenant; make a new plan with `entraform plan --out FILE` and review that"
                    .to_owned(),
            ),
            ApplyError::WrongTenant { .. } => Some(
                "sign in to the plan's tenant (`--tenant`, AZURE_TENANT_ID), or make a new plan for this one"
                    .to_owned(),
            ),
            ApplyError::PfxPasswords { problems } => {
                let vars: Vec<String> = problems.iter().filter_map(cert_var).collect();
                Some(format!(
                    "set {} to the password the PFX files should have, e.g. `read -rs {0} && export {0}`",
                    vars.join(", ")
                ))
                .filter(|_| !vars.is_empty())
            }
            ApplyError::NotATerminal => Some(
                "pass `--auto-approve` to apply without asking, or save a plan with `entraform plan --out FILE`, review it and apply that"
                    .to_owned(),
            ),
            ApplyError::Action { source, .. } => match source.as_ref() {
                ActionError::Graph(e) => e.hint(),
                ActionError::Cert(e) => e.hint(),
                ActionError::KeyVault { source, .. } => source.hint(),
                ActionError::SecretToKeyVault { source, .. } => source.hint(),
                ActionError::SecretLeftOnApp {
                    key_id,
                    app_id,
                    vault_error,
                    ..
                } => Some(format!(
                    "remove it: `az ad app credential delete --id {app_id} --key-id {key_id}` (or Graph: `POST /v1.0/applications(appId='{app_id}')/removePassword` with {{\"keyId\": \"{key_id}\"}}); the next `entraform plan` also shows it{}",
                    vault_error
                        .hint()
                        .map(|h| format!(". Key Vault: {h}"))
                        .unwrap_or_default()
                )),
                ActionError::KeysChanged { .. } => {
                    Some("run `entraform plan` again to see the keys as they are now".to_owned())
                }
                ActionError::KeysChangedWhileApplying { .. } => Some(
                    "another apply (or an administrator) wrote the same app's keys at the same time; run `entraform plan` to see the keys as they are now, and apply from one place at a time"
                        .to_owned(),
                ),
                ActionError::NameHeldByDeletedApp { object_id, .. } => Some(format!(
                    "restore it (Graph: `POST /v1.0/directory/deletedItems/{object_id}/restore`; for an app entraform managed, `entraform plan` offers the restore), or purge it for good (Graph: `DELETE /v1.0/directory/deletedItems/{object_id}`)"
                )),
                ActionError::StillReplicating { source, .. } => Some(format!(
                    "{}run `entraform apply` again in a few minutes: it continues where this run stopped",
                    if source.status() == Some(403) {
                        "the 403 is how Entra ID answers an `Application.ReadWrite.OwnedBy` caller while its new application replicates, not a missing permission; "
                    } else {
                        ""
                    }
                )),
                _ => None,
            },
            ApplyError::Incomplete { consent_only, .. } => Some(if *consent_only {
                "once an administrator has granted consent, `entraform plan` shows no changes"
                    .to_owned()
            } else {
                "run `entraform apply` again: it plans from the tenant as it is now and finishes the rest without repeating what was done"
                    .to_owned()
            }),
            ApplyError::NotSettled { .. } => Some(
                "another writer may have changed them, or replication is slower than usual: `entraform plan` shows the tenant as it is now, and `entraform apply` finishes what is missing"
                    .to_owned(),
            ),
            ApplyError::Aborted => Some(
                "`entraform plan` shows where the tenant stands; `entraform apply` finishes the rest"
                    .to_owned(),
            ),
            ApplyError::Cancelled => None,
        }
    }
}

fn cert_var(e: &crate::cert::CertError) -> Option<String> {
    use crate::cert::CertError as C;
    match e {
        C::PasswordMissing { var } | C::PasswordNotUnicode { var } => Some(var.clone()),
        C::PasswordEmpty { var } | C::PasswordNotBmp { var } => var.clone(),
        _ => None,
    }
}

/// Where the files of a generated certificate went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrittenFiles {
    /// `None` when the certificate went to Key Vault only.
    pub pfx: Option<PathBuf>,
    pub cer: Option<PathBuf>,
    /// Earlier files moved aside (never deleted), e.g. on rotation.
    pub kept: Vec<PathBuf>,
}
