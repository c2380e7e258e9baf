//! The executor: runs a plan's operations against Graph in the order [`super::schedule`] gives,
//! concurrently where independent (the Graph client bounds requests in flight), and reports
//! what happened to each.
//!
//! It makes no choices and writes no request: [`super::requests`] says what each operation sends
//! and which read proves it landed. It resolves references to objects created earlier in the run
//! from the write responses (a 201's body), waits out replication where Graph documents it (a dependent
//! write answered 404, `NoBackingApplicationObject`, "Not a valid reference update", a 409 on an
//! upsert), and treats an "already exists" answer to a create as success only after reading the
//! object back and finding the one the plan wanted. After a failure it starts nothing new and
//! lets what is running finish; [`StopSignal`] does the same for Ctrl-C.
//!
//! A change of an app's key set (a certificate added or a key removed) is read, checked, written
//! whole and read back in `keys`.

mod keys;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, join_all};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use super::progress::{Event, EventKind, describe, start_detail, verb};
use super::requests::{
    self, Confirmation, Create, DeletedHolder, Depends, Detail, Found, KeyEdit, Learns, References,
    Resolved, Restored, UniqueBy, Upsert, Write,
};
use super::retry::{Consent, Disposition, Replication, WriteKind, classify};
use super::schedule::{Node, schedule};
use super::{ActionError, ApplyError, WrittenFiles};
use crate::graph::types::{Application, KeyCredential, OAuth2PermissionGrant, ServicePrincipal};
use crate::graph::{GraphClient, GraphError, Request, api};
use crate::model::{AppId, KeyId, ObjectId, Thumbprint};
use crate::plan::{Address, AppRef, CertificateSource, ExistingApp, Operation, Plan, SpRef};

/// Bounded exponential backoff for waiting out Graph's eventual consistency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait; doubled each time.
    pub first: Duration,
    pub max_delay: Duration,
    /// No new attempt starts after this much time on one operation (waits included).
    pub max_elapsed: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        // Replication usually settles within seconds; a minute is far beyond what Graph's docs
        // describe and still short enough that a stuck apply says so.
        Backoff {
            first: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait before attempt `n + 1` (n ≥ 1), with jitter in the upper half.
    fn delay(&self, n: u32) -> Duration {
        let ceiling = self
            .first
            .saturating_mul(1u32 << n.saturating_sub(1).min(16))
            .min(self.max_delay);
        ceiling.mul_f64(0.5 + 0.5 * rand::random::<f64>())
    }
}

#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    pub consistency: Backoff,
    /// How writes are proven to have landed (key sets here; the whole run in `ops::apply`).
    pub settle: super::Settle,
    /// Certificates generated at the same time (RSA key generation and PBKDF2 are CPU-bound).
    pub cpu_parallelism: usize,
    /// Where certificates with a Key Vault destination are imported; without it such a
    /// certificate fails to apply (and nothing of it is written).
    pub key_vault: Option<crate::keyvault::KeyVaultClient>,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            consistency: Backoff::default(),
            settle: super::Settle::default(),
            cpu_parallelism: std::thread::available_parallelism().map_or(2, |n| n.get()),
            key_vault: None,
        }
    }
}

/// Asks a running apply to start nothing new (the first Ctrl-C). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Receives a progress event as each action starts and ends.
pub type Progress<'a> = &'a (dyn Fn(&Event) + Send + Sync);

/// What became of one operation.
#[derive(Debug)]
pub enum ActionOutcome {
    Done {
        elapsed: Duration,
        /// Ids worth showing (`id=…`), never key material.
        detail: Option<String>,
    },
    /// Its error is in [`Report::errors`].
    Failed {
        elapsed: Duration,
    },
    /// Refused for want of the right to grant consent; everything else went on.
    ConsentRequired {
        elapsed: Duration,
    },
    NotStarted,
}

#[derive(Debug)]
pub struct ActionRecord {
    pub address: Address,
    pub outcome: ActionOutcome,
}

/// A certificate this run attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedCertificate {
    /// The app's `metadata.name`.
    pub app: String,
    /// The manifest's certificate name.
    pub name: String,
    pub key_id: KeyId,
    pub thumbprint: Thumbprint,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub source: CertificateSource,
    /// For a generated certificate: the files written.
    pub files: Option<WrittenFiles>,
}

/// An app whose permissions entraform could not grant (403): an administrator must consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRequired {
    pub app: String,
    pub app_id: Option<AppId>,
    pub address: Address,
}

/// Everything the run did, for the summary and the outputs.
#[derive(Debug, Default)]
pub struct Report {
    /// One per operation, in plan order.
    pub records: Vec<ActionRecord>,
    /// Why actions failed, in the order they failed.
    pub errors: Vec<ApplyError>,
    /// Every application the run created or acted on, by app name; deleted ones are gone.
    pub apps: BTreeMap<String, ExistingApp>,
    pub service_principals: BTreeMap<String, ObjectId>,
    pub certificates: Vec<AttachedCertificate>,
    pub consent: Vec<ConsentRequired>,
    /// The run was stopped by [`StopSignal`] (Ctrl-C).
    pub stopped_by_user: bool,
}

impl Report {
    /// Every action ran and succeeded.
    pub fn complete(&self) -> bool {
        self.records
            .iter()
            .all(|r| matches!(r.outcome, ActionOutcome::Done { .. }))
    }

    /// Everything not done is only waiting for an administrator's consent.
    pub fn only_consent_missing(&self) -> bool {
        !self.consent.is_empty()
            && self.records.iter().all(|r| {
                matches!(
                    r.outcome,
                    ActionOutcome::Done { .. } | ActionOutcome::ConsentRequired { .. }
                )
            })
    }
}

/// Runs the plan. Never fails as a whole: each action's fate is in the [`Report`].
pub async fn execute(
    client: &GraphClient,
    plan: &Plan,
    options: &ExecuteOptions,
    progress: Progress<'_>,
    stop: &StopSignal,
) -> Report {
    let ops: Vec<(&Address, &Operation)> = plan.operations().collect();
    let exec = Exec {
        client,
        options,
        progress,
        stop,
        failed: AtomicBool::new(false),
        cpu: Semaphore::new(options.cpu_parallelism.max(1)),
        state: Mutex::new(State {
            records: ops
                .iter()
                .map(|(address, _)| ActionRecord {
                    address: (*address).clone(),
                    outcome: ActionOutcome::NotStarted,
                })
                .collect(),
            ..State::default()
        }),
        ops,
    };
    let tree = schedule(plan);
    tracing::debug!(schedule = %tree, "applying");
    exec.run(&tree).await;
    let state = exec.state.into_inner().unwrap_or_else(|e| e.into_inner());
    Report {
        records: state.records,
        errors: state.errors,
        apps: state.apps,
        service_principals: state.sps,
        certificates: state.certificates,
        consent: state.consent,
        stopped_by_user: stop.is_stopped(),
    }
}

#[derive(Default)]
struct State {
    records: Vec<ActionRecord>,
    errors: Vec<ApplyError>,
    apps: BTreeMap<String, ExistingApp>,
    sps: BTreeMap<String, ObjectId>,
    /// Apps whose application or service principal this run created (or may have): later
    /// writes for them wait out replication.
    fresh: BTreeSet<String>,
    /// Key sets this run wrote (or read), so the next key change of the same app need not read
    /// them back before Graph has replicated them.
    keys: BTreeMap<ObjectId, Vec<KeyCredential>>,
    /// Every key set (by key ids) this run read or wrote per app, oldest first: a read showing
    /// one of them is stale, anything else is another writer's.
    key_history: BTreeMap<ObjectId, Vec<BTreeSet<KeyId>>>,
    /// Display names known from this run's writes or reads, by app name: a generated
    /// certificate is labelled `<displayName> (<certificate name>)` in certificate stores.
    display_names: BTreeMap<String, String>,
    certificates: Vec<AttachedCertificate>,
    consent: Vec<ConsentRequired>,
}

struct Exec<'a> {
    client: &'a GraphClient,
    ops: Vec<(&'a Address, &'a Operation)>,
    options: &'a ExecuteOptions,
    progress: Progress<'a>,
    stop: &'a StopSignal,
    failed: AtomicBool,
    cpu: Semaphore,
    state: Mutex<State>,
}

/// How one step ended, before it is recorded.
enum StepError {
    Failed(ActionError),
    Consent(GraphError),
}

impl From<ActionError> for StepError {
    fn from(e: ActionError) -> Self {
        StepError::Failed(e)
    }
}

impl From<GraphError> for StepError {
    fn from(e: GraphError) -> Self {
        StepError::Failed(ActionError::Graph(e))
    }
}

impl From<crate::cert::CertError> for StepError {
    fn from(e: crate::cert::CertError) -> Self {
        StepError::Failed(ActionError::Cert(e))
    }
}

/// A write's result once eventual consistency was waited out.
enum Wrote<T> {
    Ok(T),
    /// A delete found nothing to delete.
    Gone,
    /// A create found the object there already (to be confirmed). `ours_maybe`: an earlier
    /// attempt of this run may have created it (its answer was lost or the service failed).
    Exists {
        err: GraphError,
        ours_maybe: bool,
    },
}

/// How long to look for the object a create's "already exists" answer is about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Confirm {
    /// Until it shows (within the consistency bounds): the answer may be about our own write.
    UntilVisible,
    /// Read once: a conflict with an object that is not ours is an error now, not a wait.
    Once,
}

type StepResult = Result<Option<String>, StepError>;

/// The ids an upsert's answer (201) or read (after a 204) gives.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ids {
    id: ObjectId,
    app_id: AppId,
}

/// The id of what a create made, from its 201 body.
#[derive(serde::Deserialize)]
struct CreatedId {
    id: String,
}

impl<'a> Exec<'a> {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run<'s>(&'s self, node: &'s Node) -> BoxFuture<'s, ()> {
        async move {
            match node {
                Node::Step(i) => self.step(*i).await,
                Node::Seq(children) => {
                    for child in children {
                        self.run(child).await;
                    }
                }
                Node::Par(children) => {
                    join_all(children.iter().map(|c| self.run(c))).await;
                }
            }
        }
        .boxed()
    }

    async fn step(&self, index: usize) {
        if self.stop.is_stopped() || self.failed.load(Ordering::SeqCst) {
            return;
        }
        let (address, op) = self.ops[index];
        let verb = verb(op);
        let event = |kind| Event {
            index,
            address: address.clone(),
            verb,
            kind,
        };
        (self.progress)(&event(EventKind::Started {
            detail: start_detail(address, op),
        }));
        let started = Instant::now();
        let result = self.perform(address, op).await;
        let elapsed = started.elapsed();
        match result {
            Ok(detail) => {
                self.state().records[index].outcome = ActionOutcome::Done {
                    elapsed,
                    detail: detail.clone(),
                };
                (self.progress)(&event(EventKind::Done { elapsed, detail }));
            }
            Err(StepError::Consent(err)) => {
                tracing::debug!(%address, error = %err, "consent refused");
                let app_id = self.app_id_for_consent(address, op).await;
                let mut st = self.state();
                st.consent.push(ConsentRequired {
                    app: address.app.clone(),
                    app_id,
                    address: address.clone(),
                });
                st.records[index].outcome = ActionOutcome::ConsentRequired { elapsed };
                drop(st);
                (self.progress)(&event(EventKind::ConsentRequired { elapsed }));
            }
            Err(StepError::Failed(err)) => {
                self.failed.store(true, Ordering::SeqCst);
                tracing::debug!(%address, error = %err, "action failed");
                let mut st = self.state();
                st.records[index].outcome = ActionOutcome::Failed { elapsed };
                st.errors.push(ApplyError::Action {
                    address: address.clone(),
                    what: format!("could not {}", describe(op)),
                    source: Box::new(err),
                });
                drop(st);
                (self.progress)(&event(EventKind::Failed { elapsed }));
            }
        }
    }

    /// The appId for the consent URL of the app whose grant was refused.
    async fn app_id_for_consent(&self, address: &Address, op: &Operation) -> Option<AppId> {
        if let Some(app) = self.state().apps.get(&address.app) {
            return Some(app.app_id);
        }
        let id = match (requests::references(op).service_principal, op) {
            (Some(sp), _) => self.sp(sp).ok()?,
            (None, Operation::UpdateDelegatedGrant { grant_id, .. }) => {
                let grant: OAuth2PermissionGrant = self
                    .client
                    .fetch(&api::permission_grants::get(grant_id))
                    .await
                    .ok()?;
                grant.client_id
            }
            _ => return None,
        };
        let sp: ServicePrincipal = self
            .client
            .fetch(&api::service_principals::identity(id))
            .await
            .ok()?;
        Some(sp.app_id)
    }

    // --- references -----------------------------------------------------------------------

    /// Resolves what an operation refers to from this run's earlier results (reading the app's
    /// display name when the run has not learnt it), and remembers what it says exists.
    async fn resolve(&self, name: &str, refs: References<'_>) -> Result<Resolved, StepError> {
        {
            let mut st = self.state();
            if let Some(app) = refs.existing_app {
                st.apps
                    .entry(name.to_owned())
                    .or_insert_with(|| app.clone());
            }
            if let Some(display) = refs.new_display_name {
                st.display_names.insert(name.to_owned(), display.to_owned());
            }
        }
        let app = refs.app.map(|r| self.app(name, r)).transpose()?;
        let service_principal = refs
            .service_principal
            .map(|r| {
                self.remember_sp(name, r);
                self.sp(r)
            })
            .transpose()?;
        let display_name = match &app {
            Some(app) if refs.display_name => Some(self.display_name(name, app).await?),
            _ => None,
        };
        let (api_apps, api_sps) = {
            let st = self.state();
            let apps = refs
                .apis
                .iter()
                .filter_map(|api| Some((api.to_string(), st.apps.get(*api)?.app_id)))
                .collect();
            let sps = refs
                .apis
                .iter()
                .filter_map(|api| Some((api.to_string(), *st.sps.get(*api)?)))
                .collect();
            (apps, sps)
        };
        Ok(Resolved {
            name: name.to_owned(),
            app,
            service_principal,
            display_name,
            graph_resource: self.client.endpoints().resource.clone(),
            api_apps,
            api_sps,
        })
    }

    fn app(&self, name: &str, r: &AppRef) -> Result<ExistingApp, ActionError> {
        match r {
            AppRef::Existing(app) => {
                self.state()
                    .apps
                    .entry(name.to_owned())
                    .or_insert_with(|| app.clone());
                Ok(app.clone())
            }
            AppRef::Planned(planned) => {
                self.state()
                    .apps
                    .get(planned)
                    .cloned()
                    .ok_or_else(|| ActionError::Unresolved {
                        name: planned.clone(),
                        what: "application",
                    })
            }
        }
    }

    fn sp(&self, r: &SpRef) -> Result<ObjectId, ActionError> {
        match r {
            SpRef::Existing(id) => Ok(*id),
            SpRef::Planned(planned) => {
                self.state()
                    .sps
                    .get(planned)
                    .copied()
                    .ok_or_else(|| ActionError::Unresolved {
                        name: planned.clone(),
                        what: "service principal",
                    })
            }
        }
    }

    fn remember_sp(&self, name: &str, r: &SpRef) {
        if let SpRef::Existing(id) = r {
            self.state().sps.entry(name.to_owned()).or_insert(*id);
        }
    }

    /// The app's display name: what this run wrote, else a read.
    async fn display_name(&self, name: &str, app: &ExistingApp) -> Result<String, StepError> {
        let known = self.state().display_names.get(name).cloned();
        if let Some(display) = known {
            return Ok(display);
        }
        let read = api::applications::identity(app.object_id);
        let read: Application = self
            .read(self.replication(name, Depends::OnApp, &[]), || {
                self.client.fetch(&read)
            })
            .await?;
        Ok(read.display_name.unwrap_or_default())
    }

    /// Whether a write that `depends` as given (or that names APIs this run created) may meet
    /// objects Graph does not show yet.
    fn replication(&self, name: &str, depends: Depends, apis: &[&str]) -> Replication {
        let st = self.state();
        let fresh_api = apis.iter().any(|api| st.fresh.contains(*api));
        match depends {
            Depends::OnApp if st.fresh.contains(name) => Replication::Pending,
            _ if fresh_api => Replication::Pending,
            _ => Replication::Settled,
        }
    }

    // --- sending ----------------------------------------------------------------------------

    /// Sends until success or a final answer, waiting out replication and repeating creates
    /// whose answer was lost, within [`ExecuteOptions::consistency`].
    async fn write<T, F, Fut>(
        &self,
        kind: WriteKind,
        replication: Replication,
        consent: Consent,
        mut send: F,
    ) -> Result<Wrote<T>, StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GraphError>>,
    {
        let bounds = self.options.consistency;
        let started = Instant::now();
        let mut attempt = 0;
        let mut ours_maybe = false;
        loop {
            attempt += 1;
            let err = match send().await {
                Ok(v) => return Ok(Wrote::Ok(v)),
                Err(e) => e,
            };
            match classify(kind, &err, replication, consent) {
                Disposition::Done => return Ok(Wrote::Gone),
                Disposition::AlreadyExists => return Ok(Wrote::Exists { err, ours_maybe }),
                Disposition::ConsentRequired => return Err(StepError::Consent(err)),
                Disposition::Fail => return Err(err.into()),
                d @ (Disposition::WaitForReplication | Disposition::Repeat) => {
                    ours_maybe |= d == Disposition::Repeat;
                    let wait = bounds.delay(attempt);
                    if started.elapsed() + wait > bounds.max_elapsed {
                        return Err(match d {
                            Disposition::WaitForReplication => ActionError::StillReplicating {
                                waited_s: started.elapsed().as_secs(),
                                source: err,
                            }
                            .into(),
                            _ => err.into(),
                        });
                    }
                    tracing::debug!(
                        disposition = ?d,
                        error = %err,
                        wait_ms = wait.as_millis() as u64,
                        "waiting before sending again"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// A read that follows this run's writes: "not found" while `replication` is pending means
    /// not yet.
    async fn read<T, F, Fut>(&self, replication: Replication, send: F) -> Result<T, StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GraphError>>,
    {
        match self
            .write(WriteKind::Read, replication, Consent::NotNeeded, send)
            .await?
        {
            Wrote::Ok(v) => Ok(v),
            Wrote::Gone | Wrote::Exists { .. } => {
                unreachable!("reads are never deletes or creates")
            }
        }
    }

    /// After "already exists": reads until the object shows and matches, differs, or the
    /// bounds run out; with [`Confirm::Once`], a single read.
    async fn confirm(
        &self,
        what: &str,
        how: Confirm,
        conflict: &GraphError,
        confirmation: &Confirmation<'_>,
    ) -> Result<(), StepError> {
        let bounds = self.options.consistency;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let listed: Vec<Value> = self
                .read(Replication::Pending, || {
                    self.client.list(&confirmation.read)
                })
                .await?;
            match confirmation.expect.judge(listed, &confirmation.read)? {
                Found::Matches => return Ok(()),
                Found::Differs(why) => return Err(ActionError::Conflict(why).into()),
                Found::Missing if how == Confirm::Once => {
                    return Err(ActionError::Conflict(format!(
                        "Graph refused to create {what} because an object with the same key already exists, and it is not visible to reads yet (another writer may have just created it): {}",
                        conflict
                    ))
                    .into());
                }
                Found::Missing => {
                    let wait = bounds.delay(attempt);
                    if started.elapsed() + wait > bounds.max_elapsed {
                        return Err(ActionError::NotVisible {
                            what: what.to_owned(),
                            waited_s: started.elapsed().as_secs(),
                        }
                        .into());
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// A create that Graph keeps unique: sent (again after a lost answer); "already exists" is
    /// success once `confirm` finds the object the plan wanted. Returns the new object's id
    /// (none for a confirmed duplicate).
    async fn create(
        &self,
        replication: Replication,
        create: &Create<'_>,
    ) -> Result<Option<String>, StepError> {
        match self
            .write(WriteKind::Create, replication, create.consent, || {
                self.client.send(&create.request)
            })
            .await?
        {
            Wrote::Ok(resp) if resp.has_body() => Ok(Some(resp.json::<CreatedId>()?.id)),
            Wrote::Ok(_) | Wrote::Gone => Ok(None),
            Wrote::Exists { err, ours_maybe } => {
                tracing::debug!(error = %err, "already exists; confirming {}", create.what);
                let how = match create.unique_by {
                    UniqueBy::Name if !ours_maybe => Confirm::Once,
                    _ => Confirm::UntilVisible,
                };
                self.confirm(create.what, how, &err, &create.confirm)
                    .await?;
                Ok(None)
            }
        }
    }

    /// An upsert by alternate key. When Graph answers that the key is taken, the object holding
    /// it is read: shown, the upsert is sent again (it now finds the object and updates it);
    /// not shown, it is an object this replica does not see yet, or a deleted one holding the
    /// name, which fails. Returns the object's ids and whether this upsert created it.
    async fn upsert(
        &self,
        replication: Replication,
        upsert: &Upsert,
    ) -> Result<(Ids, bool), StepError> {
        let bounds = self.options.consistency;
        let started = Instant::now();
        let mut attempt = 0;
        let resp = loop {
            attempt += 1;
            let err = match self
                .write(WriteKind::Upsert, replication, Consent::NotNeeded, || {
                    self.client.send(&upsert.request)
                })
                .await?
            {
                Wrote::Ok(resp) => break resp,
                Wrote::Exists { err, .. } => err,
                Wrote::Gone => unreachable!("an upsert is not a delete"),
            };
            let visible = match self.client.send(&upsert.read).await {
                Ok(_) => true,
                Err(e) if e.status() == Some(404) => false,
                Err(e) => return Err(e.into()),
            };
            if !visible
                && let Some(holder) = &upsert.deleted_holder
                && let Some(held) = self.deleted_holder(holder).await?
            {
                return Err(held.into());
            }
            // Shown now: send again at once (once; a holder that keeps refusing is waited on).
            let wait = if visible && attempt == 1 {
                Duration::ZERO
            } else {
                bounds.delay(attempt)
            };
            if started.elapsed() + wait > bounds.max_elapsed {
                return Err(ActionError::StillReplicating {
                    waited_s: started.elapsed().as_secs(),
                    source: err,
                }
                .into());
            }
            tracing::debug!(error = %err, wait_ms = wait.as_millis() as u64, "key taken by an object not visible yet");
            tokio::time::sleep(wait).await;
        };
        if resp.created() && resp.has_body() {
            Ok((resp.json()?, true))
        } else {
            // 204: it existed (perhaps made by an attempt whose answer was lost).
            let ids = self
                .read(Replication::Pending, || self.client.fetch(&upsert.read))
                .await?;
            Ok((ids, false))
        }
    }

    /// The deleted application holding the name, as the error to fail with.
    async fn deleted_holder(
        &self,
        holder: &DeletedHolder,
    ) -> Result<Option<ActionError>, GraphError> {
        let held: Vec<Application> = self.client.list(&holder.read).await?;
        Ok(held
            .into_iter()
            .next()
            .map(|app| ActionError::NameHeldByDeletedApp {
                unique_name: holder.unique_name.clone(),
                object_id: app.id,
                app_id: app.app_id,
            }))
    }

    async fn delete(&self, replication: Replication, request: &Request) -> Result<(), StepError> {
        self.write(WriteKind::Delete, replication, Consent::NotNeeded, || {
            self.client.send(request)
        })
        .await
        .map(drop)
    }

    async fn update(
        &self,
        replication: Replication,
        consent: Consent,
        request: &Request,
    ) -> Result<(), StepError> {
        self.write(WriteKind::Update, replication, consent, || {
            self.client.send(request)
        })
        .await
        .map(drop)
    }

    /// Restores an object from deleted items. Not there any more is done when the object is
    /// back (an earlier attempt whose answer was lost restored it); writes for the app from
    /// here on wait out replication, as for a new object.
    async fn restore(
        &self,
        name: &str,
        replication: Replication,
        request: &Request,
        read_back: &Request,
    ) -> Result<(), StepError> {
        self.state().fresh.insert(name.to_owned());
        let restored = self
            .write(WriteKind::Update, replication, Consent::NotNeeded, || {
                self.client.send(request)
            })
            .await;
        match restored {
            Ok(_) => Ok(()),
            Err(StepError::Failed(ActionError::Graph(e))) if e.status() == Some(404) => {
                self.read(Replication::Pending, || self.client.send(read_back))
                    .await?;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    // --- operations -------------------------------------------------------------------------

    /// One operation: its requests from [`requests::step`], sent with the waits and
    /// confirmations its kind of write needs, and what it produced recorded for later steps.
    async fn perform(&self, address: &Address, op: &Operation) -> StepResult {
        let name = address.app.as_str();
        let refs = requests::references(op);
        let apis = refs.apis.clone();
        let resolved = self.resolve(name, refs).await?;
        let step = requests::step(op, &resolved)?;
        let replication = self.replication(name, step.depends, &apis);
        // What happened to the files a removed key's rotation archived.
        let mut files_detail = None;
        let produced = match &step.write {
            Write::Upsert(upsert) => {
                // Whatever the answer, the object may be new: later writes for the app wait
                // out replication.
                self.state().fresh.insert(name.to_owned());
                let (ids, created) = self.upsert(replication, upsert).await?;
                self.learn_upserted(name, &step.learns, &ids, created);
                Some(ids.id.to_string())
            }
            Write::Create(create) => self.create(replication, create).await?,
            Write::Update { request, consent } => {
                self.update(replication, *consent, request).await?;
                None
            }
            Write::Delete(request) => {
                self.delete(replication, request).await?;
                None
            }
            Write::Restore { request, read_back } => {
                self.restore(name, replication, request, read_back).await?;
                None
            }
            Write::Keys(change) => match change.edit {
                KeyEdit::Add(key) => Some(
                    self.add_certificate(address, replication, change, key)
                        .await?,
                ),
                KeyEdit::Remove(key_id) => {
                    self.remove_key(name, replication, change, key_id).await?;
                    if let Operation::RemoveKeyCredential {
                        archived: Some(archived),
                        ..
                    } = op
                    {
                        files_detail = super::certs::delete_archived(archived);
                    }
                    None
                }
            },
            Write::Password(add) => Some(self.add_client_secret(name, replication, add).await?),
        };
        self.learn(name, &step.learns);
        Ok(match step.detail {
            Detail::None => None,
            Detail::Id(id) => Some(format!("id={id}")),
            Detail::CreatedId => produced.map(|id| format!("id={id}")),
            Detail::Certificate => produced,
        }
        .or(files_detail))
    }

    /// Records the upserted object for the app's later steps.
    fn learn_upserted(&self, name: &str, learns: &Learns, ids: &Ids, created: bool) {
        let mut st = self.state();
        match learns {
            Learns::Application { display_name } => {
                st.apps.insert(
                    name.to_owned(),
                    ExistingApp {
                        object_id: ids.id,
                        app_id: ids.app_id,
                    },
                );
                st.display_names
                    .insert(name.to_owned(), display_name.clone());
                if created {
                    // Trust the write: a new application has no keys.
                    st.keys.insert(ids.id, Vec::new());
                }
            }
            Learns::ServicePrincipal => {
                st.sps.insert(name.to_owned(), ids.id);
            }
            _ => {}
        }
    }

    /// Records what a write that succeeded restored or removed.
    fn learn(&self, name: &str, learns: &Learns) {
        let mut st = self.state();
        match learns {
            Learns::Restored(Restored::Application(app)) => {
                st.apps.insert(name.to_owned(), app.clone());
            }
            Learns::Restored(Restored::ServicePrincipal(id)) => {
                st.sps.insert(name.to_owned(), *id);
            }
            Learns::ServicePrincipalDeleted => {
                st.sps.remove(name);
            }
            Learns::ApplicationDeleted => {
                st.apps.remove(name);
                st.sps.remove(name);
            }
            Learns::Nothing | Learns::Application { .. } | Learns::ServicePrincipal => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let b = Backoff {
            first: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            max_elapsed: Duration::from_secs(1),
        };
        assert!(
            b.delay(1) <= Duration::from_millis(100) && b.delay(1) >= Duration::from_millis(50)
        );
        assert!(
            b.delay(2) <= Duration::from_millis(200) && b.delay(2) >= Duration::from_millis(100)
        );
        assert!(b.delay(10) <= Duration::from_millis(350));
    }
}
