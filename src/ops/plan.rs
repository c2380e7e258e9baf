//! Making a plan: load the manifests, read the `file:` certificates they name, observe the
//! tenant, then let the pure planner decide.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::Result;
use crate::graph::GraphClient;
use crate::keyvault::KeyVaultClient;
use crate::manifest::{self, Manifests};
use crate::model::{
    CertificateSource, DesiredApp, KeyVaultCertificate, LiveTenant, LocalCertificate, LocalPfx,
};
use crate::observe::{self, ObserveRequest};
use crate::plan::{Address, ManifestHashes, Plan};
use crate::planner::{self, KeyIdSource, PlanInput, PlanOptions};

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

/// What a plan reads from disk besides the manifests: the `file:` certificates they name, and
/// which certificate each generated PFX holds (to see one that matches no key of its app).
#[derive(Debug, Clone, Default)]
pub struct LocalFiles {
    pub certificates: BTreeMap<(String, String), LocalCertificate>,
    pub pfx: BTreeMap<(String, String), LocalPfx>,
    /// The Key Vault certificates the manifests name, read once connected (see
    /// [`read_key_vaults`]); empty until then.
    pub key_vault: BTreeMap<(String, String), Option<LocalCertificate>>,
}

impl LocalFiles {
    pub fn read(apps: &[DesiredApp]) -> Result<Self> {
        Ok(Self {
            certificates: read_local_certificates(apps)?,
            pfx: read_local_pfx(apps),
            key_vault: BTreeMap::new(),
        })
    }
}

/// The latest version of every Key Vault certificate the manifests name (a generated
/// certificate's destination, or a `keyVault:` certificate's source), by (app, certificate);
/// `None` where the vault has no such certificate. Read concurrently.
pub async fn read_key_vaults(
    key_vault: &KeyVaultClient,
    apps: &[DesiredApp],
) -> Result<BTreeMap<(String, String), Option<LocalCertificate>>> {
    let wanted: Vec<((String, String), &KeyVaultCertificate)> = apps
        .iter()
        .flat_map(|app| {
            app.certificates.iter().flatten().filter_map(|spec| {
                let target = match &spec.source {
                    CertificateSource::Generate(g) => g.key_vault.as_ref()?,
                    CertificateSource::KeyVault(target) => target,
                    CertificateSource::File { .. } => return None,
                };
                Some(((app.name.clone(), spec.name.clone()), target))
            })
        })
        .collect();
    let reads = wanted.iter().map(|(key, target)| async move {
        let found = key_vault.get_certificate(target).await?;
        let local = found
            .map(|bundle| crate::cert::PublicCertificate::from_der(&bundle.der))
            .transpose()?
            .map(|c| local_certificate(&c));
        Ok::<_, crate::Error>((key.clone(), local))
    });
    Ok(futures_util::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect())
}

/// What a plan reads from disk: the manifests and the files they name. Read before any tenant
/// is contacted, so a command with nothing to plan starts no sandbox and signs in nowhere.
#[derive(Debug, Clone)]
pub struct LocalInputs {
    pub manifests: Manifests,
    pub files: LocalFiles,
}

impl LocalInputs {
    pub fn read(manifests: Manifests) -> Result<Self> {
        let files = LocalFiles::read(&manifests.apps)?;
        Ok(Self { manifests, files })
    }
}

pub async fn make_plan(client: &GraphClient, request: &PlanRequest) -> Result<PlannedRun> {
    let manifests = manifest::load(&request.paths, request.recursive)?;
    let options = PlanOptions {
        prune: request.prune,
        ..PlanOptions::default()
    };
    plan_local(client, None, LocalInputs::read(manifests)?, &options).await
}

/// A plan from what was already read from disk (and, with `key_vault`, the Key Vault
/// certificates the manifests name; without it they are not compared).
pub async fn plan_local(
    client: &GraphClient,
    key_vault: Option<&KeyVaultClient>,
    local: LocalInputs,
    options: &PlanOptions,
) -> Result<PlannedRun> {
    let LocalInputs {
        manifests,
        mut files,
    } = local;
    if let Some(kv) = key_vault {
        files.key_vault = read_key_vaults(kv, &manifests.apps).await?;
    }
    let hashes = ManifestHashes::from_hashes(
        manifests
            .files
            .iter()
            .map(|f| (f.path.to_string_lossy().into_owned(), f.sha256.clone())),
    );
    let (plan, live) = observe_and_plan(client, &manifests.apps, &files, options, &hashes).await?;
    Ok(PlannedRun {
        plan,
        manifests,
        live,
    })
}

/// Reads the local files and the tenant for `desired` again and plans: what `apply` does after
/// its writes (which may have written PFX files) to see whether Entra ID shows them.
pub async fn plan_apps(
    client: &GraphClient,
    key_vault: Option<&KeyVaultClient>,
    desired: &[DesiredApp],
    prune: bool,
    hashes: &ManifestHashes,
) -> Result<(Plan, LiveTenant)> {
    let mut files = LocalFiles::read(desired)?;
    if let Some(kv) = key_vault {
        files.key_vault = read_key_vaults(kv, desired).await?;
    }
    // What apply wrote is read back without `--replace`: a replaced key is not replaced again.
    let options = PlanOptions {
        prune,
        ..PlanOptions::default()
    };
    observe_and_plan(client, desired, &files, &options, hashes).await
}

async fn observe_and_plan(
    client: &GraphClient,
    desired: &[DesiredApp],
    files: &LocalFiles,
    options: &PlanOptions,
    hashes: &ManifestHashes,
) -> Result<(Plan, LiveTenant)> {
    let before = client.stats();
    let live = observe::observe(
        client,
        &ObserveRequest::for_manifests(desired, options.prune),
    )
    .await?;
    let after = client.stats();
    tracing::info!(
        http_requests = after.http_requests - before.http_requests,
        graph_operations = after.operations - before.operations,
        resource_units = after.resource_units - before.resource_units,
        found = ?observe::summary(&live),
        "read the tenant"
    );
    let plan = plan_against(
        desired,
        &live,
        files,
        &Planning {
            prune: options.prune,
            replace: &options.replace,
            now: OffsetDateTime::now_utc(),
            // The one random draw of a plan: the planner derives every new key id from it,
            // and the plan records it for apply to plan again.
            key_ids: KeyIdSource::Seeded(rand::random()),
            manifests: hashes,
        },
    )?;
    Ok((plan, live))
}

/// The largest PFX read to see which certificate it holds (a certificate with its chain is a
/// few kilobytes).
const PFX_PEEK_LIMIT: crate::local_file::Limit = crate::local_file::PFX;

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
            let Some(pfx) = &g.pfx else {
                continue;
            };
            let thumbprint = crate::local_file::read(pfx, PFX_PEEK_LIMIT)
                .ok()
                .and_then(|bytes| crate::cert::pfx_thumbprint(&bytes));
            match thumbprint {
                Some(thumbprint) => {
                    out.insert(
                        (app.name.clone(), spec.name.clone()),
                        LocalPfx {
                            path: pfx.clone(),
                            thumbprint,
                        },
                    );
                }
                None if pfx.exists() => tracing::debug!(
                    path = %pfx.display(),
                    "the PFX does not show which certificate it holds; not compared with the tenant"
                ),
                None => {}
            }
        }
    }
    out
}

/// The choices a plan is made with, besides the manifests and the tenant.
pub struct Planning<'a> {
    pub prune: bool,
    /// `--replace`: generated certificates to rotate now.
    pub replace: &'a BTreeSet<Address>,
    pub now: OffsetDateTime,
    pub key_ids: KeyIdSource<'a>,
    pub manifests: &'a ManifestHashes,
}

/// The pure planner over what was read.
pub fn plan_against(
    desired: &[DesiredApp],
    live: &LiveTenant,
    files: &LocalFiles,
    planning: &Planning<'_>,
) -> Result<Plan> {
    Ok(planner::plan(&PlanInput {
        desired,
        live,
        local_certificates: &files.certificates,
        local_pfx: &files.pfx,
        key_vault: &files.key_vault,
        now: planning.now,
        options: PlanOptions {
            prune: planning.prune,
            replace: planning.replace.clone(),
        },
        key_ids: planning.key_ids,
        entraform_version: env!("CARGO_PKG_VERSION"),
        manifests: planning.manifests,
    })?)
}

/// Reads every `file:` certificate the manifests name (public certificates only), and for each
/// generated certificate the one its files on disk describe, if any: the `cer:` file, else the
/// PFX opened with the password from `pfxPasswordEnv` when that variable is set (its certificate
/// bag is encrypted). The planner compares a generated certificate's subject and key size with
/// the registered key only through these (or the vault's copy), never through Graph.
pub fn read_local_certificates(
    apps: &[DesiredApp],
) -> Result<BTreeMap<(String, String), LocalCertificate>> {
    let mut out = BTreeMap::new();
    let mut read: HashMap<PathBuf, LocalCertificate> = HashMap::new();
    for app in apps {
        for spec in app.certificates.iter().flatten() {
            let key = (app.name.clone(), spec.name.clone());
            match &spec.source {
                CertificateSource::File { path } => {
                    // Read once per file: many apps may share one certificate.
                    let local = match read.get(path) {
                        Some(local) => LocalCertificate::clone(local),
                        None => {
                            let cert = crate::cert::read_public_certificate(path)?;
                            let local = local_certificate(&cert);
                            read.insert(path.clone(), local.clone());
                            local
                        }
                    };
                    out.insert(key, local);
                }
                CertificateSource::Generate(g) => {
                    if let Some(cert) = generated_on_disk(g) {
                        out.insert(key, local_certificate(&cert));
                    }
                }
                CertificateSource::KeyVault(_) => {}
            }
        }
    }
    Ok(out)
}

/// The certificate a generated certificate's files hold; `None` when they are absent or
/// unreadable (before the first apply, or no password): nothing is guessed then.
fn generated_on_disk(g: &crate::model::GenerateSpec) -> Option<crate::cert::PublicCertificate> {
    if let Some(cer) = g.cer.as_deref()
        && let Ok(cert) = crate::cert::read_public_certificate(cer)
    {
        return Some(cert);
    }
    let (pfx, var) = (g.pfx.as_deref()?, g.pfx_password_env.as_deref()?);
    let password = crate::cert::pfx_password_from_env(var).ok()?;
    crate::cert::load_client_certificate(pfx, Some(&password))
        .ok()
        .map(|c| c.certificate().clone())
}

fn local_certificate(cert: &crate::cert::PublicCertificate) -> LocalCertificate {
    LocalCertificate {
        der: cert.der().into(),
        thumbprint: cert.thumbprint(),
        subject: cert.subject().to_owned(),
        not_before: cert.not_before(),
        not_after: cert.not_after(),
        key_bits: cert.key_bits(),
    }
}
