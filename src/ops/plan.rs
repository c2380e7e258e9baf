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

pub async fn make_plan(client: &GraphClient, request: &PlanRequest) -> Result<PlannedRun> {
    let manifests = manifest::load(&request.paths, request.recursive)?;
    let hashes = ManifestHashes::from_hashes(
        manifests
            .files
            .iter()
            .map(|f| (f.path.to_string_lossy().into_owned(), f.sha256.clone())),
    );
    let (plan, live) = plan_apps(client, &manifests.apps, request.prune, &hashes).await?;
    Ok(PlannedRun {
        plan,
        manifests,
        live,
    })
}

/// Reads the tenant for `desired` and plans: what `plan` does after loading manifests, and what
/// `apply` does again to see whether Entra ID shows what it wrote.
pub async fn plan_apps(
    client: &GraphClient,
    desired: &[DesiredApp],
    prune: bool,
    hashes: &ManifestHashes,
) -> Result<(Plan, LiveTenant)> {
    let local_certificates = read_local_certificates(desired)?;
    let before = client.stats();
    let live = observe::observe(client, &ObserveRequest::for_manifests(desired, prune)).await?;
    let after = client.stats();
    tracing::info!(
        http_requests = after.http_requests - before.http_requests,
        graph_operations = after.operations - before.operations,
        found = ?observe::summary(&live),
        "read the tenant"
    );
    let plan = plan::plan(&PlanInput {
        desired,
        live: &live,
        local_certificates: &local_certificates,
        now: OffsetDateTime::now_utc(),
        options: PlanOptions { prune },
        key_ids: KeyIdSource::Random,
        entraform_version: env!("CARGO_PKG_VERSION"),
        manifests: hashes,
    })?;
    Ok((plan, live))
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
