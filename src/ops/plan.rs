//! Making a plan: load the manifests, read the `file:` certificates they name, observe the
//! tenant, then let the pure planner decide.

use std::collections::BTreeMap;
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::error::Result;
use crate::graph::GraphClient;
use crate::manifest::{self, Manifests};
use crate::model::{CertificateSource, DesiredApp, LiveTenant, LocalCertificate};
use crate::observe::{self, ObserveRequest};
use crate::plan::{self, KeyIdSource, ManifestHashes, Plan, PlanInput, PlanOptions};

#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub paths: Vec<PathBuf>,
    pub recursive: bool,
    pub prune: bool,
}

/// A plan and what it was made from.
pub struct PlannedRun {
    pub plan: Plan,
    pub manifests: Manifests,
    pub live: LiveTenant,
}

/// What a plan reads from disk: the manifests and the `file:` certificates they name. Read
/// before any tenant is contacted, so a command with nothing to plan starts no sandbox and
/// signs in nowhere.
#[derive(Debug, Clone)]
pub struct LocalInputs {
    pub manifests: Manifests,
    pub certificates: BTreeMap<(String, String), LocalCertificate>,
}

impl LocalInputs {
    pub fn read(manifests: Manifests) -> Result<Self> {
        let certificates = read_local_certificates(&manifests.apps)?;
        Ok(Self {
            manifests,
            certificates,
        })
    }
}

pub async fn make_plan(client: &GraphClient, request: &PlanRequest) -> Result<PlannedRun> {
    let manifests = manifest::load(&request.paths, request.recursive)?;
    plan_local(client, LocalInputs::read(manifests)?, request.prune).await
}

/// A plan from what was already read from disk.
pub async fn plan_local(
    client: &GraphClient,
    local: LocalInputs,
    prune: bool,
) -> Result<PlannedRun> {
    let LocalInputs {
        manifests,
        certificates: local_certificates,
    } = local;
    let before = client.stats();
    let live = observe::observe(
        client,
        &ObserveRequest::for_manifests(&manifests.apps, prune),
    )
    .await?;
    let after = client.stats();
    tracing::info!(
        http_requests = after.http_requests - before.http_requests,
        graph_operations = after.operations - before.operations,
        found = ?observe::summary(&live),
        "read the tenant"
    );
    let hashes = ManifestHashes::from_hashes(
        manifests
            .files
            .iter()
            .map(|f| (f.path.to_string_lossy().into_owned(), f.sha256.clone())),
    );
    let plan = plan_against(
        &manifests.apps,
        &live,
        &local_certificates,
        &Planning {
            prune,
            now: OffsetDateTime::now_utc(),
            key_ids: KeyIdSource::Random,
            manifests: &hashes,
        },
    )?;
    Ok(PlannedRun {
        plan,
        manifests,
        live,
    })
}

/// The choices a plan is made with, besides the manifests and the tenant.
pub struct Planning<'a> {
    pub prune: bool,
    pub now: OffsetDateTime,
    pub key_ids: KeyIdSource<'a>,
    pub manifests: &'a ManifestHashes,
}

/// The pure planner over what was read.
pub fn plan_against(
    desired: &[DesiredApp],
    live: &LiveTenant,
    local_certificates: &BTreeMap<(String, String), LocalCertificate>,
    planning: &Planning<'_>,
) -> Result<Plan> {
    Ok(plan::plan(&PlanInput {
        desired,
        live,
        local_certificates,
        now: planning.now,
        options: PlanOptions {
            prune: planning.prune,
        },
        key_ids: planning.key_ids,
        entraform_version: env!("CARGO_PKG_VERSION"),
        manifests: planning.manifests,
    })?)
}

/// Reads every `file:` certificate the manifests name (public certificates only).
pub fn read_local_certificates(
    apps: &[DesiredApp],
) -> Result<BTreeMap<(String, String), LocalCertificate>> {
    let mut out = BTreeMap::new();
    for app in apps {
        for spec in app.certificates.iter().flatten() {
            if let CertificateSource::File { path } = &spec.source {
                let cert = crate::cert::read_public_certificate(path)?;
                out.insert(
                    (app.name.clone(), spec.name.clone()),
                    LocalCertificate {
                        der: cert.der().to_vec(),
                        thumbprint: cert.thumbprint(),
                        subject: cert.subject().to_owned(),
                        not_before: cert.not_before(),
                        not_after: cert.not_after(),
                    },
                );
            }
        }
    }
    Ok(out)
}
