//! The executor: runs a plan's operations against Graph in the order [`super::schedule`] gives,
//! concurrently where independent (the Graph client bounds requests in flight), and reports
//! what happened to each.
//!
//! It makes no choices. It resolves references to objects created earlier in the run from the
//! write responses (a 201's body), waits out replication where Graph documents it (a dependent
//! write answered 404, `NoBackingApplicationObject`, "Not a valid reference update", a 409 on an
//! upsert), and treats an "already exists" answer to a create as success only after reading the
//! object back and finding the one the plan wanted. After a failure it starts nothing new and
//! lets what is running finish; [`StopSignal`] does the same for Ctrl-C.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, join_all};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use super::certs::generate_and_write;
use super::progress::{Event, EventKind, start_detail, verb};
use super::retry::{Disposition, WriteKind, classify};
use super::schedule::{Node, schedule};
use super::{ActionError, ApplyError, WrittenFiles};
use crate::cert::{self, PublicCertificate};
use crate::graph::types::{
    AppRoleAssignment, Application, DirectoryObject, FederatedIdentityCredential, KeyCredential,
    OAuth2PermissionGrant, ServicePrincipal, UnifiedRoleAssignment,
};
use crate::graph::{GraphClient, GraphError, RetrySafety, quote};
use crate::model::{AppId, KeyId, ObjectId, PermissionKind, RequiredResourceAccess, Thumbprint};
use crate::plan::{
    Address, AppRef, ApplicationBody, ApplicationPatch, CertificateMaterial, CertificateSource,
    ExistingApp, FederatedCredentialBody, FederatedCredentialPatch, KeyCredentialMethod,
    NewKeyCredential, Operation, Plan, SpRef,
};

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
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            consistency: Backoff::default(),
            settle: super::Settle::default(),
            cpu_parallelism: std::thread::available_parallelism().map_or(2, |n| n.get()),
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

/// What a confirmation read found.
enum Found {
    Matches,
    Differs(String),
    Missing,
}

type StepResult = Result<Option<String>, StepError>;

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
        let id = match op {
            Operation::GrantAppRole { principal, .. } => self.sp(principal).ok()?,
            Operation::CreateDelegatedGrant { client, .. } => self.sp(client).ok()?,
            Operation::UpdateDelegatedGrant { grant_id, .. } => {
                let grant: OAuth2PermissionGrant = self
                    .client
                    .get(&format!("/oauth2PermissionGrants/{grant_id}"))
                    .await
                    .ok()?;
                grant.client_id
            }
            _ => return None,
        };
        let sp: ServicePrincipal = self
            .client
            .get(&format!("/servicePrincipals/{id}?$select=id,appId"))
            .await
            .ok()?;
        Some(sp.app_id)
    }

    // --- references -----------------------------------------------------------------------

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

    fn fresh(&self, name: &str) -> bool {
        self.state().fresh.contains(name)
    }

    // --- sending ----------------------------------------------------------------------------

    /// Sends until success or a final answer, waiting out replication and repeating creates
    /// whose answer was lost, within [`ExecuteOptions::consistency`].
    async fn write<T, F, Fut>(
        &self,
        kind: WriteKind,
        fresh: bool,
        grants_consent: bool,
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
            match classify(kind, &err, fresh, grants_consent) {
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

    /// A read that follows this run's writes: "not found" while `fresh` means not yet.
    async fn read<T, F, Fut>(&self, fresh: bool, send: F) -> Result<T, StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GraphError>>,
    {
        match self.write(WriteKind::Read, fresh, false, send).await? {
            Wrote::Ok(v) => Ok(v),
            Wrote::Gone | Wrote::Exists { .. } => {
                unreachable!("reads are never deletes or creates")
            }
        }
    }

    /// After "already exists": reads until the object shows and matches, differs, or the
    /// bounds run out; with [`Confirm::Once`], a single read.
    async fn confirm<F, Fut>(
        &self,
        what: &str,
        how: Confirm,
        conflict: &GraphError,
        mut check: F,
    ) -> Result<(), StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Found, GraphError>>,
    {
        let bounds = self.options.consistency;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.read(true, &mut check).await? {
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
    /// success once `confirm` finds the object the plan wanted. `keyed_by_name`: the key is a
    /// name, not the content (a federated credential), so a conflict on the first attempt is
    /// someone else's object: read once and report it, never wait for it.
    async fn create<T, F, Fut, C, CFut>(
        &self,
        what: &str,
        fresh: bool,
        grants_consent: bool,
        keyed_by_name: bool,
        send: F,
        check: C,
    ) -> Result<Option<T>, StepError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GraphError>>,
        C: FnMut() -> CFut,
        CFut: Future<Output = Result<Found, GraphError>>,
    {
        match self
            .write(WriteKind::Create, fresh, grants_consent, send)
            .await?
        {
            Wrote::Ok(v) => Ok(Some(v)),
            Wrote::Exists { err, ours_maybe } => {
                tracing::debug!(error = %err, "already exists; confirming {what}");
                let how = if keyed_by_name && !ours_maybe {
                    Confirm::Once
                } else {
                    Confirm::UntilVisible
                };
                self.confirm(what, how, &err, check).await?;
                Ok(None)
            }
            Wrote::Gone => Ok(None),
        }
    }

    /// An upsert by alternate key (`PATCH …(key='…')` with `Prefer: create-if-missing`). When
    /// Graph answers that the key is taken, the object holding it is read: shown, the upsert is
    /// sent again (it now finds the object and updates it); not shown, it is an object this
    /// replica does not see yet, or one `taken_by` names (a deleted application), which fails.
    async fn upsert<TF, TFut>(
        &self,
        fresh: bool,
        path: &str,
        body: &Value,
        taken_by: TF,
    ) -> Result<crate::graph::Response, StepError>
    where
        TF: Fn() -> TFut,
        TFut: Future<Output = Result<Option<ActionError>, GraphError>>,
    {
        let bounds = self.options.consistency;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match self
                .write(WriteKind::Upsert, fresh, false, || {
                    self.client.upsert(path, body)
                })
                .await?
            {
                Wrote::Ok(resp) => return Ok(resp),
                Wrote::Exists { err, .. } => err,
                Wrote::Gone => unreachable!("an upsert is not a delete"),
            };
            let read = format!("{path}?$select=id");
            let visible = match self.client.get::<Value>(&read).await {
                Ok(_) => true,
                Err(e) if e.status() == Some(404) => false,
                Err(e) => return Err(e.into()),
            };
            if !visible && let Some(holder) = taken_by().await? {
                return Err(holder.into());
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
        }
    }

    async fn delete(&self, path: &str) -> Result<(), StepError> {
        self.write(WriteKind::Delete, false, false, || {
            self.client.delete(path, RetrySafety::Idempotent)
        })
        .await
        .map(drop)
    }

    async fn update(
        &self,
        fresh: bool,
        grants: bool,
        path: &str,
        body: &Value,
    ) -> Result<(), StepError> {
        self.write(WriteKind::Update, fresh, grants, || {
            self.client.patch(path, body, RetrySafety::Idempotent)
        })
        .await
        .map(drop)
    }

    // --- operations -------------------------------------------------------------------------

    async fn perform(&self, address: &Address, op: &Operation) -> StepResult {
        let name = address.app.as_str();
        use Operation as O;
        match op {
            O::UpsertApplication {
                unique_name,
                application,
            } => {
                self.upsert_application(name, unique_name, application)
                    .await
            }
            O::AdoptApplication {
                app,
                unique_name,
                patch,
            } => {
                let mut body = patch_json(patch);
                body.insert("uniqueName".into(), json!(unique_name));
                self.state().apps.insert(name.to_owned(), app.clone());
                self.update(
                    false,
                    false,
                    &format!("/applications/{}", app.object_id),
                    &Value::Object(body),
                )
                .await?;
                Ok(Some(format!("id={}", app.object_id)))
            }
            O::UpdateApplication { app, patch } => {
                {
                    let mut st = self.state();
                    st.apps.insert(name.to_owned(), app.clone());
                    if let Some(display) = &patch.display_name {
                        st.display_names.insert(name.to_owned(), display.clone());
                    }
                }
                let body = Value::Object(patch_json(patch));
                self.update(
                    false,
                    false,
                    &format!("/applications/{}", app.object_id),
                    &body,
                )
                .await?;
                Ok(Some(format!("id={}", app.object_id)))
            }
            O::DeleteServicePrincipal { object_id } => {
                self.delete(&format!("/servicePrincipals/{object_id}"))
                    .await?;
                self.state().sps.remove(name);
                Ok(None)
            }
            O::DeleteApplication { app } => {
                self.delete(&format!("/applications/{}", app.object_id))
                    .await?;
                let mut st = self.state();
                st.apps.remove(name);
                st.sps.remove(name);
                Ok(None)
            }
            O::CreateServicePrincipal { app } => self.create_service_principal(name, app).await,
            O::RestoreApplication { app } => {
                self.restore(
                    name,
                    app.object_id,
                    &format!("/applications/{}", app.object_id),
                )
                .await?;
                self.state().apps.insert(name.to_owned(), app.clone());
                Ok(Some(format!("id={}", app.object_id)))
            }
            O::RestoreServicePrincipal { object_id } => {
                self.restore(name, *object_id, &format!("/servicePrincipals/{object_id}"))
                    .await?;
                self.state().sps.insert(name.to_owned(), *object_id);
                Ok(Some(format!("id={object_id}")))
            }
            O::GrantAppRole {
                principal,
                resource_id,
                app_role_id,
            } => {
                self.remember_sp(name, principal);
                let sp = self.sp(principal)?;
                let fresh = self.fresh(name);
                let body = json!({
                    "principalId": sp.to_string(),
                    "resourceId": resource_id.to_string(),
                    "appRoleId": app_role_id.to_string(),
                });
                let path = format!("/servicePrincipals/{resource_id}/appRoleAssignedTo");
                let created = self
                    .create(
                        "the app role assignment",
                        fresh,
                        true,
                        false,
                        || self.client.post(&path, &body, RetrySafety::NotIdempotent),
                        || async {
                            let list: Vec<AppRoleAssignment> = self
                                .client
                                .list_all(&format!("/servicePrincipals/{sp}/appRoleAssignments"))
                                .await?;
                            Ok(found(list.iter().any(|a| {
                                a.resource_id == *resource_id && a.app_role_id == *app_role_id
                            })))
                        },
                    )
                    .await?;
                id_detail::<AppRoleAssignment>(created, |a| a.id.clone())
            }
            O::RevokeAppRole {
                resource_id,
                assignment_id,
                ..
            } => {
                self.delete(&format!(
                    "/servicePrincipals/{resource_id}/appRoleAssignedTo/{assignment_id}"
                ))
                .await?;
                Ok(None)
            }
            O::CreateDelegatedGrant {
                client,
                resource_id,
                scope,
            } => {
                self.remember_sp(name, client);
                let sp = self.sp(client)?;
                let fresh = self.fresh(name);
                let body = json!({
                    "clientId": sp.to_string(),
                    "consentType": "AllPrincipals",
                    "resourceId": resource_id.to_string(),
                    "scope": scope,
                });
                let created = self
                    .create(
                        "the delegated permission grant",
                        fresh,
                        true,
                        false,
                        || {
                            self.client
                                .post("/oauth2PermissionGrants", &body, RetrySafety::NotIdempotent)
                        },
                        || async {
                            let list: Vec<OAuth2PermissionGrant> = self
                                .client
                                .list_all(&format!(
                                    "/oauth2PermissionGrants?$filter=clientId eq {}",
                                    quote(&sp.to_string())
                                ))
                                .await?;
                            let existing = list.iter().find(|g| {
                                g.resource_id == *resource_id && g.consent_type == "AllPrincipals"
                            });
                            Ok(match existing {
                                None => Found::Missing,
                                Some(g) if same_scopes(&g.scope, scope) => Found::Matches,
                                Some(g) => Found::Differs(format!(
                                    "a tenant-wide grant to this API already exists with scope `{}`, not `{scope}`",
                                    g.scope
                                )),
                            })
                        },
                    )
                    .await?;
                id_detail::<OAuth2PermissionGrant>(created, |g| g.id.clone())
            }
            O::UpdateDelegatedGrant { grant_id, scope } => {
                self.update(
                    false,
                    true,
                    &format!("/oauth2PermissionGrants/{grant_id}"),
                    &json!({ "scope": scope }),
                )
                .await?;
                Ok(Some(format!("id={grant_id}")))
            }
            O::DeleteDelegatedGrant { grant_id } => {
                self.delete(&format!("/oauth2PermissionGrants/{grant_id}"))
                    .await?;
                Ok(None)
            }
            O::AssignDirectoryRole {
                principal,
                role_definition_id,
                directory_scope_id,
            } => {
                self.remember_sp(name, principal);
                let sp = self.sp(principal)?;
                let fresh = self.fresh(name);
                let body = json!({
                    "roleDefinitionId": role_definition_id.to_string(),
                    "principalId": sp.to_string(),
                    "directoryScopeId": directory_scope_id,
                });
                let created = self
                    .create(
                        "the directory role assignment",
                        fresh,
                        false,
                        false,
                        || {
                            self.client.post(
                                "/roleManagement/directory/roleAssignments",
                                &body,
                                RetrySafety::NotIdempotent,
                            )
                        },
                        || async {
                            let list: Vec<UnifiedRoleAssignment> = self
                                .client
                                .list_all(&format!(
                                    "/roleManagement/directory/roleAssignments?$filter=principalId eq {}",
                                    quote(&sp.to_string())
                                ))
                                .await?;
                            Ok(found(list.iter().any(|a| {
                                a.role_definition_id == *role_definition_id
                                    && a.directory_scope_id == *directory_scope_id
                            })))
                        },
                    )
                    .await?;
                id_detail::<UnifiedRoleAssignment>(created, |a| a.id.clone())
            }
            O::RemoveDirectoryRole { assignment_id } => {
                self.delete(&format!(
                    "/roleManagement/directory/roleAssignments/{assignment_id}"
                ))
                .await?;
                Ok(None)
            }
            O::AddOwner { app, owner_id } => {
                let app = self.app(name, app)?;
                let fresh = self.fresh(name);
                let body = json!({
                    "@odata.id": format!(
                        "{}/v1.0/directoryObjects/{owner_id}",
                        self.client.endpoints().resource
                    ),
                });
                let path = format!("/applications/{}/owners/$ref", app.object_id);
                self.create(
                    "the owner",
                    fresh,
                    false,
                    false,
                    || self.client.post(&path, &body, RetrySafety::NotIdempotent),
                    || async {
                        let owners: Vec<DirectoryObject> = self
                            .client
                            .list_all(&format!(
                                "/applications/{}/owners?$select=id",
                                app.object_id
                            ))
                            .await?;
                        Ok(found(owners.iter().any(|o| o.id == *owner_id)))
                    },
                )
                .await?;
                Ok(Some(format!("id={owner_id}")))
            }
            O::RemoveOwner { app, owner_id } => {
                self.state()
                    .apps
                    .entry(name.to_owned())
                    .or_insert_with(|| app.clone());
                self.delete(&format!(
                    "/applications/{}/owners/{owner_id}/$ref",
                    app.object_id
                ))
                .await?;
                Ok(None)
            }
            O::AddCertificate { app, key, method } => {
                self.add_certificate(address, app, key, method).await
            }
            O::RemoveKeyCredential {
                app,
                key_id,
                method,
            } => self.remove_key(name, app, *key_id, method).await,
            O::CreateFederatedCredential { app, credential } => {
                let app = self.app(name, app)?;
                let fresh = self.fresh(name);
                let body = federated_json(credential);
                let path = format!(
                    "/applications/{}/federatedIdentityCredentials",
                    app.object_id
                );
                let created = self
                    .create(
                        "the federated credential",
                        fresh,
                        false,
                        true,
                        || self.client.post(&path, &body, RetrySafety::NotIdempotent),
                        || async {
                            let list: Vec<FederatedIdentityCredential> =
                                self.client.list_all(&path).await?;
                            Ok(federated_conflict(&list, credential))
                        },
                    )
                    .await?;
                id_detail::<FederatedIdentityCredential>(created, |f| f.id.to_string())
            }
            O::UpdateFederatedCredential { app, id, patch } => {
                self.state()
                    .apps
                    .entry(name.to_owned())
                    .or_insert_with(|| app.clone());
                self.update(
                    false,
                    false,
                    &format!(
                        "/applications/{}/federatedIdentityCredentials/{id}",
                        app.object_id
                    ),
                    &Value::Object(federated_patch_json(patch)),
                )
                .await?;
                Ok(Some(format!("id={id}")))
            }
            O::DeleteFederatedCredential { app, id } => {
                self.delete(&format!(
                    "/applications/{}/federatedIdentityCredentials/{id}",
                    app.object_id
                ))
                .await?;
                Ok(None)
            }
        }
    }

    async fn upsert_application(
        &self,
        name: &str,
        unique_name: &str,
        application: &ApplicationBody,
    ) -> StepResult {
        // Whatever the answer, the object may be new: later writes for it wait out replication.
        self.state().fresh.insert(name.to_owned());
        let path = format!("/applications(uniqueName={})", quote(unique_name));
        let body = Value::Object(application_json(application));
        let resp = self
            .upsert(false, &path, &body, || self.deleted_holder(unique_name))
            .await?;
        let (app, created) = if resp.created() && resp.has_body() {
            let a: Application = resp.json()?;
            (a, true)
        } else {
            // 204: it existed (perhaps made by an attempt whose answer was lost).
            let get = format!("{path}?$select=id,appId");
            let a: Application = self.read(true, || self.client.get(&get)).await?;
            (a, false)
        };
        let existing = ExistingApp {
            object_id: app.id,
            app_id: app.app_id,
        };
        let mut st = self.state();
        st.apps.insert(name.to_owned(), existing.clone());
        st.display_names
            .insert(name.to_owned(), application.display_name.clone());
        if created {
            // Trust the write: a new application has no keys.
            st.keys.insert(app.id, Vec::new());
        }
        Ok(Some(format!("id={}", existing.object_id)))
    }

    /// Restores `id` from deleted items. Not there any more is done when the object is back
    /// (an earlier attempt whose answer was lost restored it); writes for the app from here on
    /// wait out replication, as for a new object.
    async fn restore(&self, name: &str, id: ObjectId, live_path: &str) -> Result<(), StepError> {
        self.state().fresh.insert(name.to_owned());
        let path = format!("/directory/deletedItems/{id}/restore");
        let restored = self
            .write(WriteKind::Update, false, false, || {
                // Graph's reference: "Do not supply a request body for this method."
                self.client.send(crate::graph::Request {
                    method: reqwest::Method::POST,
                    path: path.clone(),
                    headers: Vec::new(),
                    body: None,
                    safety: RetrySafety::Idempotent,
                })
            })
            .await;
        match restored {
            Ok(_) => Ok(()),
            Err(StepError::Failed(ActionError::Graph(e))) if e.status() == Some(404) => {
                let get = format!("{live_path}?$select=id");
                self.read(true, || self.client.get::<Value>(&get)).await?;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The deleted application holding `unique_name`, as the error to fail with: Entra ID keeps
    /// a deleted application's uniqueName for 30 days.
    async fn deleted_holder(&self, unique_name: &str) -> Result<Option<ActionError>, GraphError> {
        let path = format!(
            "/directory/deletedItems/microsoft.graph.application?$filter=uniqueName eq {}&$select=id,appId,deletedDateTime",
            quote(unique_name)
        );
        let held: Vec<Application> = self.client.list_all(&path).await?;
        Ok(held
            .into_iter()
            .next()
            .map(|app| ActionError::NameHeldByDeletedApp {
                unique_name: unique_name.to_owned(),
                object_id: app.id,
                app_id: app.app_id,
            }))
    }

    async fn create_service_principal(&self, name: &str, app: &AppRef) -> StepResult {
        let app = self.app(name, app)?;
        let fresh = self.fresh(name);
        self.state().fresh.insert(name.to_owned());
        let path = format!(
            "/servicePrincipals(appId={})",
            quote(&app.app_id.to_string())
        );
        let known = self.state().display_names.get(name).cloned();
        let display_name = match known {
            Some(d) => d,
            None => {
                let get = format!(
                    "/applications/{}?$select=id,appId,displayName",
                    app.object_id
                );
                let read: Application = self.read(fresh, || self.client.get(&get)).await?;
                read.display_name.unwrap_or_default()
            }
        };
        let body = service_principal_upsert_json(&display_name);
        let resp = self
            .upsert(fresh, &path, &body, || async { Ok(None) })
            .await?;
        let id = if resp.created() && resp.has_body() {
            resp.json::<ServicePrincipal>()?.id
        } else {
            let get = format!("{path}?$select=id,appId");
            self.read(true, || self.client.get::<ServicePrincipal>(&get))
                .await?
                .id
        };
        self.state().sps.insert(name.to_owned(), id);
        Ok(Some(format!("id={id}")))
    }

    /// The app's key credentials with their `key` bytes: what this run last wrote, or a read.
    async fn key_set(
        &self,
        name: &str,
        app: &ExistingApp,
        fresh: bool,
    ) -> Result<Vec<KeyCredential>, StepError> {
        if let Some(keys) = self.state().keys.get(&app.object_id) {
            return Ok(keys.clone());
        }
        let get = format!(
            "/applications/{}?$select=id,appId,displayName,keyCredentials",
            app.object_id
        );
        let read: Application = self.read(fresh, || self.client.get(&get)).await?;
        let mut st = self.state();
        if let Some(display) = read.display_name {
            st.display_names.entry(name.to_owned()).or_insert(display);
        }
        st.key_history
            .entry(app.object_id)
            .or_default()
            .push(key_ids(&read.key_credentials));
        Ok(read.key_credentials)
    }

    /// Writes the app's whole key set, then reads it back until Entra ID shows it (a PATCH of
    /// `keyCredentials` replaces the set, so a concurrent writer's set would silently win).
    async fn patch_keys(
        &self,
        name: &str,
        app: &ExistingApp,
        fresh: bool,
        keys: Vec<KeyCredential>,
    ) -> Result<(), StepError> {
        let wrote = key_ids(&keys);
        {
            let mut st = self.state();
            // What was there before this write is a stale read from now on.
            let before = st.keys.get(&app.object_id).map(|k| key_ids(k));
            let history = st.key_history.entry(app.object_id).or_default();
            history.extend(before);
        }
        self.update(
            fresh,
            false,
            &format!("/applications/{}", app.object_id),
            &json!({ "keyCredentials": keys }),
        )
        .await?;
        self.state().keys.insert(app.object_id, keys);
        self.confirm_key_set(name, app, &wrote).await?;
        self.state()
            .key_history
            .entry(app.object_id)
            .or_default()
            .push(wrote);
        Ok(())
    }

    /// Reads the app's key ids (without the key bytes, whose reads Graph limits to 150 a
    /// minute) until [`Settle::key_reads`](super::Settle) reads in a row show `wrote`. Replicas
    /// show writes in order: until `wrote` shows, any other set is older than it (stale, even
    /// another writer's); once it has shown, a set this run never saw is a newer write by
    /// someone else that replaced it, and fails.
    async fn confirm_key_set(
        &self,
        name: &str,
        app: &ExistingApp,
        wrote: &BTreeSet<KeyId>,
    ) -> Result<(), StepError> {
        let settle = self.options.settle;
        let since = Instant::now();
        let mut streak = super::Streak::new(settle.key_reads, since);
        let path = format!("/applications/{}", app.object_id);
        let mut n = 0;
        let mut shown = false;
        loop {
            n += 1;
            let seen = match self.client.get::<Application>(&path).await {
                Ok(read) => Some(key_ids(&read.key_credentials)),
                // Not replicated yet (a fresh app).
                Err(e) if e.status() == Some(404) => None,
                Err(e) => return Err(e.into()),
            };
            let consistent = match &seen {
                Some(ids) if ids == wrote => {
                    shown = true;
                    true
                }
                None => false,
                Some(_) if !shown => false,
                Some(ids) => {
                    let known = self
                        .state()
                        .key_history
                        .get(&app.object_id)
                        .is_some_and(|h| h.contains(ids));
                    if !known {
                        return Err(ActionError::KeysChangedWhileApplying {
                            app: name.to_owned(),
                            expected: id_list(wrote),
                            found: id_list(ids),
                        }
                        .into());
                    }
                    false
                }
            };
            if streak.record(consistent, Instant::now()) {
                return Ok(());
            }
            let wait = settle.delay(n);
            if since.elapsed() + wait > settle.max_elapsed {
                return Err(ActionError::NotVisible {
                    what: format!("the key credentials written to app `{name}`"),
                    waited_s: since.elapsed().as_secs(),
                }
                .into());
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn add_certificate(
        &self,
        address: &Address,
        app: &AppRef,
        key: &NewKeyCredential,
        method: &KeyCredentialMethod,
    ) -> StepResult {
        let name = address.app.as_str();
        let app = self.app(name, app)?;
        let fresh = self.fresh(name);
        let KeyCredentialMethod::PatchKeyCredentials { keep } = method;

        // The key set is checked before any file is written, so a refusal leaves nothing behind.
        let current = self.key_set(name, &app, fresh).await?;
        check_key_set(&current, keep, &[])?;

        let (public, files, source) = match &key.certificate {
            CertificateMaterial::Generate(spec) => {
                let password = cert::pfx_password_from_env(&spec.pfx_password_env)?;
                let display = self.state().display_names.get(name).cloned();
                let label = format!(
                    "{} ({})",
                    display.as_deref().unwrap_or(name),
                    address.key.as_deref().unwrap_or(&key.display_name)
                );
                let spec = spec.clone();
                let now = OffsetDateTime::now_utc();
                let _permit = self.cpu.acquire().await;
                let (generated, files) = tokio::task::spawn_blocking(move || {
                    generate_and_write(&spec, &password, &label, now)
                })
                .await
                .map_err(|e| match e.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(_) => {
                        ActionError::Conflict("certificate generation was cancelled".to_owned())
                    }
                })??;
                // The private key stays in the PFX only: `generated` is dropped (and wiped)
                // when this block ends.
                (
                    generated.certificate().clone(),
                    Some(files),
                    CertificateSource::Generate,
                )
            }
            CertificateMaterial::File(file) => (
                PublicCertificate::from_der(&file.der)?,
                None,
                CertificateSource::File,
            ),
        };

        let mut next = current;
        next.push(new_key_credential(key, &public));
        self.patch_keys(name, &app, fresh, next).await?;

        let thumbprint = public.thumbprint();
        self.state().certificates.push(AttachedCertificate {
            app: name.to_owned(),
            name: address
                .key
                .clone()
                .unwrap_or_else(|| key.display_name.clone()),
            key_id: key.key_id,
            thumbprint,
            not_before: public.not_before(),
            not_after: public.not_after(),
            source,
            files,
        });
        Ok(Some(format!(
            "key_id={}, thumbprint={thumbprint}",
            key.key_id
        )))
    }

    async fn remove_key(
        &self,
        name: &str,
        app: &ExistingApp,
        key_id: KeyId,
        method: &KeyCredentialMethod,
    ) -> StepResult {
        self.state()
            .apps
            .entry(name.to_owned())
            .or_insert_with(|| app.clone());
        let fresh = self.fresh(name);
        let KeyCredentialMethod::PatchKeyCredentials { keep } = method;
        let current = self.key_set(name, app, fresh).await?;
        if !current.iter().any(|k| k.key_id == key_id) {
            // Already gone: the set must now be exactly what the plan keeps.
            check_key_set(&current, keep, &[])?;
            self.state().keys.insert(app.object_id, current);
            return Ok(None);
        }
        check_key_set(&current, keep, &[key_id])?;
        let next: Vec<KeyCredential> = current.into_iter().filter(|k| k.key_id != key_id).collect();
        self.patch_keys(name, app, fresh, next).await?;
        Ok(None)
    }
}

fn key_ids(keys: &[KeyCredential]) -> BTreeSet<KeyId> {
    keys.iter().map(|k| k.key_id).collect()
}

fn id_list(ids: &BTreeSet<KeyId>) -> String {
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The tenant's key ids must be exactly `keep` plus `also`.
fn check_key_set(
    current: &[KeyCredential],
    keep: &[KeyId],
    also: &[KeyId],
) -> Result<(), ActionError> {
    let found = key_ids(current);
    let expected: BTreeSet<KeyId> = keep.iter().chain(also).copied().collect();
    if found == expected {
        return Ok(());
    }
    Err(ActionError::KeysChanged {
        expected: id_list(&expected),
        found: id_list(&found),
    })
}

fn found(present: bool) -> Found {
    if present {
        Found::Matches
    } else {
        Found::Missing
    }
}

/// `id=…` from a create's 201 body, when there was one (a confirmed duplicate has none).
fn id_detail<T: serde::de::DeserializeOwned>(
    created: Option<crate::graph::Response>,
    id: impl Fn(&T) -> String,
) -> StepResult {
    match created {
        Some(resp) if resp.has_body() => Ok(Some(format!("id={}", id(&resp.json::<T>()?)))),
        _ => Ok(None),
    }
}

fn same_scopes(a: &str, b: &str) -> bool {
    let set = |s: &str| {
        s.split_whitespace()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
    };
    set(a) == set(b)
}

/// What holds a federated credential's name (Entra ID compares names case-insensitively) or its
/// issuer and subject (unique per app), against the credential the plan wanted.
fn federated_conflict(
    live: &[FederatedIdentityCredential],
    wanted: &FederatedCredentialBody,
) -> Found {
    let by_name = live
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(&wanted.name));
    match by_name {
        Some(f) if f.name == wanted.name && same_federated(f, wanted) => Found::Matches,
        Some(f) if f.name != wanted.name => Found::Differs(format!(
            "a federated credential named `{}` already exists, and Entra ID compares names case-insensitively, so `{}` cannot be created",
            f.name, wanted.name
        )),
        Some(f) => Found::Differs(format!(
            "a federated credential named `{}` already exists with issuer `{}` and subject `{}`",
            f.name, f.issuer, f.subject
        )),
        None => match live
            .iter()
            .find(|f| f.issuer == wanted.issuer && f.subject == wanted.subject)
        {
            Some(f) => Found::Differs(format!(
                "the federated credential `{}` already has issuer `{}` and subject `{}`; Entra ID allows one credential per issuer and subject",
                f.name, f.issuer, f.subject
            )),
            None => Found::Missing,
        },
    }
}

fn same_federated(live: &FederatedIdentityCredential, wanted: &FederatedCredentialBody) -> bool {
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    live.issuer == wanted.issuer
        && live.subject == wanted.subject
        && set(&live.audiences) == set(&wanted.audiences)
        && live.description.as_deref().filter(|d| !d.is_empty())
            == wanted.description.as_deref().filter(|d| !d.is_empty())
}

/// What an operation was trying to do, for `could not …` messages.
fn describe(op: &Operation) -> &'static str {
    use Operation as O;
    match op {
        O::UpsertApplication { .. } => "create the application",
        O::AdoptApplication { .. } => "adopt the application",
        O::UpdateApplication { .. } => "update the application",
        O::DeleteServicePrincipal { .. } => "delete the service principal",
        O::DeleteApplication { .. } => "delete the application",
        O::CreateServicePrincipal { .. } => "create the service principal",
        O::RestoreApplication { .. } => "restore the application",
        O::RestoreServicePrincipal { .. } => "restore the service principal",
        O::GrantAppRole { .. } => "grant the application permission",
        O::RevokeAppRole { .. } => "revoke the application permission",
        O::CreateDelegatedGrant { .. } => "grant the delegated permissions",
        O::UpdateDelegatedGrant { .. } => "update the delegated permissions",
        O::DeleteDelegatedGrant { .. } => "revoke the delegated permissions",
        O::AssignDirectoryRole { .. } => "assign the directory role",
        O::RemoveDirectoryRole { .. } => "remove the directory role assignment",
        O::AddOwner { .. } => "add the owner",
        O::RemoveOwner { .. } => "remove the owner",
        O::AddCertificate { .. } => "attach the certificate",
        O::RemoveKeyCredential { .. } => "remove the key credential",
        O::CreateFederatedCredential { .. } => "create the federated credential",
        O::UpdateFederatedCredential { .. } => "update the federated credential",
        O::DeleteFederatedCredential { .. } => "delete the federated credential",
    }
}

// --- wire bodies ----------------------------------------------------------------------------

fn required_resource_access_json(rra: &[RequiredResourceAccess]) -> Value {
    Value::Array(
        rra.iter()
            .map(|r| {
                json!({
                    "resourceAppId": r.resource_app_id.to_string(),
                    "resourceAccess": r.resource_access.iter().map(|a| json!({
                        "id": a.id.to_string(),
                        "type": match a.kind {
                            PermissionKind::Role => "Role",
                            PermissionKind::Scope => "Scope",
                        },
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// The audience, with the v2 access tokens a converged audience requires in the same write
/// (apiApplication reference; Graph refuses it alone with 400 `InvalidAccessTokenVersion`).
fn insert_audience(m: &mut Map<String, Value>, audience: &str) {
    m.insert("signInAudience".into(), json!(audience));
    if matches!(
        audience,
        "AzureADandPersonalMicrosoftAccount" | "PersonalMicrosoftAccount"
    ) {
        m.insert("api".into(), json!({"requestedAccessTokenVersion": 2}));
    }
}

fn application_json(b: &ApplicationBody) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("displayName".into(), json!(b.display_name));
    if let Some(d) = &b.description {
        m.insert("description".into(), json!(d));
    }
    insert_audience(&mut m, &b.sign_in_audience);
    if let Some(uris) = &b.redirect_uris {
        m.insert("web".into(), json!({ "redirectUris": uris }));
    }
    m.insert("tags".into(), json!(b.tags));
    if let Some(rra) = &b.required_resource_access {
        m.insert(
            "requiredResourceAccess".into(),
            required_resource_access_json(rra),
        );
    }
    m
}

fn patch_json(p: &ApplicationPatch) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(v) = &p.display_name {
        m.insert("displayName".into(), json!(v));
    }
    if let Some(v) = &p.description {
        m.insert("description".into(), json!(v));
    }
    if let Some(v) = &p.sign_in_audience {
        insert_audience(&mut m, v);
    }
    if let Some(v) = &p.redirect_uris {
        m.insert("web".into(), json!({ "redirectUris": v }));
    }
    if let Some(v) = &p.tags {
        m.insert("tags".into(), json!(v));
    }
    if let Some(v) = &p.required_resource_access {
        m.insert(
            "requiredResourceAccess".into(),
            required_resource_access_json(v),
        );
    }
    m
}

/// The body of `PATCH /servicePrincipals(appId='…')` with `Prefer: create-if-missing`: what
/// Graph's serviceprincipal-upsert example sends, the display name (the application's).
fn service_principal_upsert_json(display_name: &str) -> Value {
    json!({ "displayName": display_name })
}

fn federated_json(c: &FederatedCredentialBody) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(c.name));
    m.insert("issuer".into(), json!(c.issuer));
    m.insert("subject".into(), json!(c.subject));
    m.insert("audiences".into(), json!(c.audiences));
    if let Some(d) = &c.description {
        m.insert("description".into(), json!(d));
    }
    Value::Object(m)
}

fn federated_patch_json(p: &FederatedCredentialPatch) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(v) = &p.issuer {
        m.insert("issuer".into(), json!(v));
    }
    if let Some(v) = &p.subject {
        m.insert("subject".into(), json!(v));
    }
    if let Some(v) = &p.audiences {
        m.insert("audiences".into(), json!(v));
    }
    if let Some(v) = &p.description {
        m.insert("description".into(), json!(v));
    }
    m
}

/// The key credential for a certificate: its SHA-1 thumbprint's 20 bytes as
/// `customKeyIdentifier` (Edm.Binary, so base64), its own validity as the credential's dates.
fn new_key_credential(key: &NewKeyCredential, cert: &PublicCertificate) -> KeyCredential {
    KeyCredential {
        key_id: key.key_id,
        custom_key_identifier: Some(cert.thumbprint().to_custom_key_identifier()),
        display_name: Some(key.display_name.clone()),
        start_date_time: Some(cert.not_before()),
        end_date_time: Some(cert.not_after()),
        key: Some(cert.key_base64()),
        kind: Some("AsymmetricX509Cert".to_owned()),
        usage: Some("Verify".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn key(n: u128) -> KeyCredential {
        KeyCredential {
            key_id: KeyId(Uuid::from_u128(n)),
            custom_key_identifier: None,
            display_name: None,
            start_date_time: None,
            end_date_time: None,
            key: None,
            kind: None,
            usage: None,
        }
    }

    #[test]
    fn a_key_set_other_than_the_planned_one_is_refused_with_both_lists() {
        let k = |n| KeyId(Uuid::from_u128(n));
        assert!(check_key_set(&[key(1), key(2)], &[k(2), k(1)], &[]).is_ok());
        assert!(check_key_set(&[key(1), key(2)], &[k(2)], &[k(1)]).is_ok());
        let err = check_key_set(&[key(1), key(3)], &[k(1)], &[]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("expected 00000000-0000-0000-0000-000000000001"),
            "{text}"
        );
        assert!(
            text.contains(
                "found 00000000-0000-0000-0000-000000000001, 00000000-0000-0000-0000-000000000003"
            ),
            "{text}"
        );
        assert!(check_key_set(&[], &[], &[]).is_ok());
    }

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

    #[test]
    fn the_service_principal_upsert_carries_what_graphs_example_sends() {
        let example: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/graph-examples/serviceprincipals-upsert-create.request.json"
        ))
        .unwrap();
        let ours = service_principal_upsert_json("Exo_V2_App");
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&ours), keys(&example));
        assert_eq!(ours["displayName"], "Exo_V2_App");
    }

    #[test]
    fn bodies_use_graphs_names_and_send_null_to_clear_a_description() {
        let patch = ApplicationPatch {
            description: Some(None),
            redirect_uris: Some(vec!["http://localhost".into()]),
            ..Default::default()
        };
        assert_eq!(
            Value::Object(patch_json(&patch)),
            json!({"description": null, "web": {"redirectUris": ["http://localhost"]}})
        );
        let patch = ApplicationPatch {
            sign_in_audience: Some("PersonalMicrosoftAccount".into()),
            ..Default::default()
        };
        assert_eq!(
            Value::Object(patch_json(&patch)),
            json!({"signInAudience": "PersonalMicrosoftAccount", "api": {"requestedAccessTokenVersion": 2}})
        );
        assert!(same_scopes("User.Read openid", " openid  User.Read"));
        assert!(!same_scopes("User.Read", "User.Read openid"));
    }
}
