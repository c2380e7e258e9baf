//! Applying: make the plan (or read a saved one and prove it is still current), confirm, run the
//! executor with progress on stderr and Ctrl-C handling, then report and print the outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::Result;
use crate::apply::{self, ApplyError, ExecuteOptions, Outputs, OutputsInput, Report, StopSignal};
use crate::graph::GraphClient;
use crate::model::{DesiredApp, LiveTenant};
use crate::observe::{self, ObserveRequest};
use crate::output::Printer;
use crate::plan::{self, Address, Plan};
use crate::planner::{KeyIdSource, PlanOptions};

use super::plan::{LocalFiles, LocalInputs, Planning, plan_against, plan_local};

/// Where the plan comes from.
#[derive(Debug, Clone)]
pub enum ApplySource {
    /// Plan now from these manifests, show the plan and ask.
    Manifests {
        local: LocalInputs,
        options: PlanOptions,
    },
    /// Apply this saved plan exactly, once it is proven current.
    PlanFile(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct ApplyRequest {
    pub source: ApplySource,
    pub auto_approve: bool,
    pub format: OutputFormat,
    pub execute: ExecuteOptions,
}

/// How a successful apply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    NoChanges,
    Complete,
    /// A saved plan whose changes were all true in the tenant already.
    AlreadyApplied,
}

/// The plan and what it was made from.
struct Prepared {
    plan: Plan,
    desired: Vec<DesiredApp>,
    live: LiveTenant,
    /// For the outputs' `Connect-ExchangeOnline -Organization`.
    tenant_domain: String,
    saved: bool,
}

pub async fn apply(
    client: &GraphClient,
    request: &ApplyRequest,
    printer: &Printer,
) -> Result<Applied> {
    // The outputs name the tenant's domain, which only `GET /organization` tells (and which
    // needs its own permission): read alongside the plan, so a refusal stops apply before any
    // write. The plan's own error, if any, comes first.
    let (prepared, already_applied) = match &request.source {
        ApplySource::Manifests { local, options } => {
            let (run, tenant_domain) = tokio::join!(
                plan_local(
                    client,
                    request.execute.key_vault.as_ref(),
                    local.clone(),
                    options
                ),
                observe::tenant_domain(client)
            );
            let run = run?;
            let prepared = Prepared {
                plan: run.plan,
                desired: run.manifests.apps,
                live: run.live,
                tenant_domain: tenant_domain?,
                saved: false,
            };
            (prepared, false)
        }
        ApplySource::PlanFile(path) => {
            let plan = super::plan_file::read(path)?;
            let (checked, tenant_domain) = tokio::join!(
                check_saved_plan(client, request.execute.key_vault.as_ref(), &plan, path),
                observe::tenant_domain(client)
            );
            let (checked, desired, live) = match checked? {
                SavedPlan::Current { desired, live } => (false, desired, live),
                SavedPlan::AlreadyApplied { desired, live } => (true, desired, live),
            };
            let prepared = Prepared {
                plan,
                desired,
                live,
                tenant_domain: tenant_domain?,
                saved: true,
            };
            (prepared, checked)
        }
    };
    let plan = &prepared.plan;
    remove_interrupted_writes(&prepared.desired, printer);

    if already_applied || !plan.has_changes() {
        printer.status(if already_applied {
            "This plan was already applied: every change in it is already true in the tenant. Nothing to do."
        } else {
            "No changes. Your tenant matches the manifests."
        });
        print_outputs(
            client,
            request.format,
            printer,
            &prepared,
            &Report::default(),
        );
        return Ok(if already_applied {
            Applied::AlreadyApplied
        } else {
            Applied::NoChanges
        });
    }
    if !prepared.saved {
        // The plan is data in text mode; with `--format json` stdout is the outputs document.
        match request.format {
            OutputFormat::Text => {
                printer.data(&plan::render::text(plan, printer.stdout_color()));
            }
            OutputFormat::Json => printer.status(&plan::render::text(plan, false)),
        }
    }
    // Before any write: a certificate that cannot be written must not leave half an apply.
    apply::check_pfx_passwords(plan)?;
    if !prepared.saved && !request.auto_approve {
        confirm(printer).await?;
    }

    let report = run_with_interrupts(client, plan, &request.execute, printer).await?;
    // Only a run that did its part is held to it: after a failure, the failure report says
    // what was done and a new plan shows the rest.
    let did_its_part = report.complete() || report.only_consent_missing();
    if did_its_part
        && !report.stopped_by_user
        && let Err(e) = settle(client, &prepared, &report, &request.execute, printer).await
    {
        for error in report.errors {
            printer.error(&crate::Error::Apply(error));
        }
        return Err(e);
    }
    finish(client, request.format, printer, &prepared, report)
}

/// Removes the temporary files a killed apply left beside the PFX and CER files the manifests
/// name (a `kill -9` between writing one and renaming it into place leaves a whole private
/// key in a hidden file). Only names of our own temporary files, only beside those paths.
fn remove_interrupted_writes(desired: &[DesiredApp], printer: &Printer) {
    for path in super::generated_certificate_files(desired) {
        for removed in crate::cert::remove_leftover_temp_files(&path) {
            printer.status(&format!(
                "Removed `{}`, left by an interrupted write of `{}`.",
                crate::style::escape(&removed.to_string_lossy()),
                crate::style::escape(&path.to_string_lossy()),
            ));
        }
    }
}

/// What a saved plan turned out to be against the manifests and tenant as they are now.
enum SavedPlan {
    /// Current: apply it.
    Current {
        desired: Vec<DesiredApp>,
        live: LiveTenant,
    },
    /// Every change in it is already true in the tenant.
    AlreadyApplied {
        desired: Vec<DesiredApp>,
        live: LiveTenant,
    },
}

/// Apply ends consistent: it reads the tenant and plans again until Entra ID shows every change
/// this run made, [`Settle::final_reads`](apply::Settle) plans in a row (bounded), so a `plan`
/// right after it finds nothing to do.
async fn settle(
    client: &GraphClient,
    prepared: &Prepared,
    report: &Report,
    options: &ExecuteOptions,
    printer: &Printer,
) -> Result<()> {
    if !report
        .records
        .iter()
        .any(|r| matches!(r.outcome, apply::ActionOutcome::Done { .. }))
    {
        return Ok(());
    }
    let settle = options.settle;
    let prune = apply::plan_was_pruned(&prepared.plan, prepared.desired.len());
    let since = tokio::time::Instant::now();
    let mut streak = apply::Streak::new(settle.final_reads, since);
    let mut announced = None;
    let mut n = 0;
    loop {
        n += 1;
        let fresh = match super::plan::plan_apps(
            client,
            options.key_vault.as_ref(),
            &prepared.desired,
            prune,
            &prepared.plan.manifests,
        )
        .await
        {
            Ok((fresh, _)) => fresh,
            Err(e) => {
                // The writes were answered; only reading them back failed (this identity
                // may lack a read permission a plan of this app needs).
                printer.warn(&format!(
                    "cannot read back what apply wrote to wait for Entra ID to show it: {e}"
                ));
                return Ok(());
            }
        };
        let pending = apply::pending_changes(&prepared.plan, report, &fresh);
        if !pending.is_empty() && announced != Some(pending.len()) {
            printer.status(&format!(
                "waiting for Entra ID to show {} change{}...",
                pending.len(),
                if pending.len() == 1 { "" } else { "s" }
            ));
            announced = Some(pending.len());
        }
        if streak.record(pending.is_empty(), tokio::time::Instant::now()) {
            return Ok(());
        }
        let wait = settle.delay(n);
        if since.elapsed() + wait > settle.max_elapsed {
            return Err(ApplyError::NotSettled {
                pending: pending.iter().map(ToString::to_string).collect(),
                waited_s: since.elapsed().as_secs(),
            }
            .into());
        }
        tokio::time::sleep(wait).await;
    }
}

/// Re-reads what the saved plan was made from and refuses it when anything moved: the
/// manifests, the tenant, any object it fingerprinted. Then plans again from them, with the
/// plan's own time and key id seed, and refuses the plan unless it is exactly what that gives (so
/// a plan file edited after review is never applied). A plan whose changes are all true in
/// the tenant already is recognised as applied, not as stale.
async fn check_saved_plan(
    client: &GraphClient,
    key_vault: Option<&crate::keyvault::KeyVaultClient>,
    plan: &Plan,
    path: &Path,
) -> Result<SavedPlan> {
    let mut now = BTreeMap::new();
    for manifest in plan.manifests.files.keys() {
        let hash = crate::local_file::read(Path::new(manifest), crate::local_file::MANIFEST)
            .ok()
            .map(|bytes| hex::encode(sha2::Sha256::digest(&bytes)));
        now.insert(manifest.clone(), hash);
    }
    let changes = apply::manifest_changes(&plan.manifests, &now);
    if !changes.is_empty() {
        return Err(ApplyError::ManifestsChanged { changes }.into());
    }
    let paths: Vec<PathBuf> = plan.manifests.files.keys().map(PathBuf::from).collect();
    let desired = crate::manifest::load(&paths, false)?.apps;
    let prune = apply::plan_was_pruned(plan, desired.len());
    let live = observe::observe(client, &ObserveRequest::for_manifests(&desired, prune)).await?;
    let mut files = LocalFiles::read(&desired)?;
    if let Some(kv) = key_vault {
        files.key_vault = super::plan::read_key_vaults(kv, &desired).await?;
    }
    let recorded = plan.new_key_ids();
    let key_ids = match plan.key_id_seed {
        Some(seed) => KeyIdSource::Seeded(seed),
        // A plan file from before plans recorded their seed: its ids are in its operations.
        None => KeyIdSource::Recorded(&recorded),
    };
    let replace: BTreeSet<Address> = plan.replace.iter().cloned().collect();
    if let Err(stale) = apply::stale_check(plan, &live) {
        if matches!(stale, ApplyError::Stale { .. }) {
            // Without the replacements: a key replaced by this plan is not replaced again.
            let fresh = plan_against(
                &desired,
                &live,
                &files,
                &Planning {
                    prune,
                    replace: &BTreeSet::new(),
                    now: time::OffsetDateTime::now_utc(),
                    key_ids,
                    manifests: &plan.manifests,
                },
            )?;
            if !fresh.has_changes() && plan.has_changes() {
                return Ok(SavedPlan::AlreadyApplied { desired, live });
            }
        }
        return Err(stale.into());
    }
    let derived = plan_against(
        &desired,
        &live,
        &files,
        &Planning {
            prune,
            replace: &replace,
            now: plan.created_at,
            key_ids,
            manifests: &plan.manifests,
        },
    )?;
    if let Some(mismatch) = apply::derivation_mismatch(plan, &derived) {
        return Err(ApplyError::PlanNotDerived {
            path: path.to_owned(),
            mismatch,
        }
        .into());
    }
    Ok(SavedPlan::Current { desired, live })
}

/// Terraform's question; only `yes` goes on. Without a terminal there is no one to ask.
async fn confirm(printer: &Printer) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(ApplyError::NotATerminal.into());
    }
    let question = format!("{}{}", apply::confirmation_prompt(), apply::ANSWER_PROMPT);
    let answer = super::ask(printer, &question).await?;
    printer.prompt("\n");
    if apply::approved(&answer) {
        Ok(())
    } else {
        Err(ApplyError::Cancelled.into())
    }
}

/// Runs the executor. The first Ctrl-C starts nothing new and lets what is running finish;
/// the second abandons it at once.
async fn run_with_interrupts(
    client: &GraphClient,
    plan: &Plan,
    options: &ExecuteOptions,
    printer: &Printer,
) -> Result<Report> {
    // Listening starts before the first write, so no Ctrl-C falls between the two.
    let mut interrupts = Interrupts::listen();
    let stop = StopSignal::new();
    let progress = |e: &apply::Event| printer.status(&apply::progress_line(e));
    let run = apply::execute(client, plan, options, &progress, &stop);
    tokio::pin!(run);
    tokio::select! {
        report = &mut run => return Ok(report),
        () = interrupts.next() => {}
    }
    stop.stop();
    printer.warn(
        "interrupted: starting nothing new and letting the actions in flight finish; press Ctrl-C again to abort them",
    );
    tokio::select! {
        report = &mut run => Ok(report),
        () = interrupts.next() => Err(ApplyError::Aborted.into()),
    }
}

/// Ctrl-C presses, counted from when this was made.
struct Interrupts {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            let signal =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
            Self { signal }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// The next press; never, when signals cannot be listened to.
    async fn next(&mut self) {
        #[cfg(unix)]
        match &mut self.signal {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending().await,
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn finish(
    client: &GraphClient,
    format: OutputFormat,
    printer: &Printer,
    prepared: &Prepared,
    mut report: Report,
) -> Result<Applied> {
    let plan = &prepared.plan;
    // Each failure once, with its cause and hint.
    for error in std::mem::take(&mut report.errors) {
        printer.error(&crate::Error::Apply(error));
    }
    if report.complete() {
        printer.status(&apply::applied_summary(plan, &report));
        print_outputs(client, format, printer, prepared, &report);
        return Ok(Applied::Complete);
    }
    let consent_only = report.only_consent_missing();
    if consent_only {
        print_outputs(client, format, printer, prepared, &report);
    }
    let mut message = apply::failure_report(plan, &report);
    message.push_str(&apply::consent_report(
        &report,
        &plan.tenant_id.to_string(),
        login_host(client),
    ));
    Err(ApplyError::Incomplete {
        message: message.trim_end().to_owned(),
        consent_only,
    }
    .into())
}

fn print_outputs(
    client: &GraphClient,
    format: OutputFormat,
    printer: &Printer,
    prepared: &Prepared,
    report: &Report,
) {
    let outputs = Outputs::build(&OutputsInput {
        plan: &prepared.plan,
        report,
        tenant_domain: &prepared.tenant_domain,
        login_host: login_host(client),
        live: Some(&prepared.live),
        desired: Some(&prepared.desired),
    });
    match format {
        OutputFormat::Text => {
            if !outputs.apps.is_empty() {
                printer.data(&apply::outputs_text(&outputs));
            }
        }
        OutputFormat::Json => printer.data(&apply::outputs_json(&outputs)),
    }
}

/// The sign-in host of the tenant's cloud, for the admin consent URL (even when `--login-url`
/// points at a proxy or the sandbox: consent is given in Microsoft's own portal).
fn login_host(client: &GraphClient) -> &'static str {
    let resource = client.endpoints().resource.as_str();
    for cloud in [
        crate::graph::Cloud::UsGov,
        crate::graph::Cloud::China,
        crate::graph::Cloud::Public,
    ] {
        if resource == cloud.graph_root() {
            return cloud.authority_host();
        }
    }
    crate::graph::Cloud::Public.authority_host()
}
