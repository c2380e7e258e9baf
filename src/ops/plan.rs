//! Making a plan: load the manifests, read the `file:` certificates they name, observe the
//! tenant, then let the pure planner decide.

use std::collections::BTreeMap;
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::error::Result;
use crate::graph::GraphClient;
use crate::manifest::{self, Manifests};
use crate::model::{CertificateSource, DesiredApp, LiveTenant, LocalCertificate, LocalPfx};
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
    let local_pfx = read_local_pfx(desired);
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
        local_pfx: &local_pfx,
        now: OffsetDateTime::now_utc(),
        options: PlanOptions { prune },
        key_ids: KeyIdSource::Random,
        entraform_version: env!("CARGO_PKG_VERSION"),
        manifests: hashes,
    })?;
    Ok((plan, live))
}

/// The largest PFX read to see which certificate it holds (a certificate with its chain is a
/// few kilobytes).
const PFX_PEEK_LIMIT: u64 = 1 << 20;

/// The thumbprint of each generated certificate's PFX that exists, read without its password
/// ([`crate::cert::pfx_thumbprint`]). A file that is not there, not a regular file, too large,
/// or does not show its thumbprint is left out: nothing can be said about it.
pub fn read_local_pfx(apps: &[DesiredApp]) -> BTreeMap<(String, String), LocalPfx> {
    let mut out = BTreeMap::new();
    for app in apps {
        for spec in app.certificates.iter().flatten() {
            let CertificateSource::Generate(g) = &spec.source else {
                continue;
            };
            let regular =
                std::fs::metadata(&g.pfx).is_ok_and(|m| m.is_file() && m.len() <= PFX_PEEK_LIMIT);
            let thumbprint = regular
                .then(|| std::fs::read(&g.pfx).ok())
                .flatten()
                .and_then(|bytes| crate::cert::pfx_thumbprint(&bytes));
            match thumbprint {
                Some(thumbprint) => {
                    out.insert(
                        (app.name.clone(), spec.name.clone()),
                        LocalPfx {
                            path: g.pfx.clone(),
                            thumbprint,
                        },
                    );
                }
                None if g.pfx.exists() => tracing::debug!(
                    path = %g.pfx.display(),
                    "the PFX does not show which certificate it holds; not compared with the tenant"
                ),
                None => {}
            }
        }
    }
    out
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
