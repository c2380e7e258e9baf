//! Exporting: find the applications asked for, read them the way `plan` will (through
//! [`observe`], so what is written is what the planner compares), read what observe does not
//! (certificate bytes, the raw objects, name clashes), let the pure writer ([`crate::export`])
//! write each manifest, then put the files in place without overwriting any.
//!
//! Requests, after the selection: observe's rounds, then one round of lists batched 20 per
//! `$batch`: the certificates of the K apps that have any, one read per app (Graph returns
//! `key` only to `GET /applications/{id}?$select=keyCredentials`, a form it throttles at 150 a
//! minute per tenant), alongside the service principals, the display names of the APIs the apps use
//! (to tell whether a name finds exactly one), and the `uniqueName`s the new names would take.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

use crate::Result;
use crate::cert::CertError;
use crate::export::{self, AppExport, Exported};
use crate::graph::api::{applications, filter, service_principals};
use crate::graph::types::{Application, KeyCredential};
use crate::graph::{self, GraphClient, GraphError, Request};
use crate::hint::Hint;
use crate::model::{AppId, KeyId, LiveApp, LiveTenant, ObjectId};
use crate::observe::{self, AppKey, AppQuery, ObserveRequest, Parts};

/// Which applications to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    AppId(AppId),
    /// Every application with exactly this display name.
    DisplayName(String),
    /// Applications the signed-in application owns.
    AllOwned,
    All,
}

/// What the tenant yielded: a manifest per application, and the applications that could not
/// be exported, with why.
#[derive(Debug, Clone, Default)]
pub struct ExportResult {
    pub apps: Vec<Exported>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone)]
pub struct Skipped {
    pub display_name: String,
    pub app_id: AppId,
    pub reason: String,
}

/// A manifest on disk and the certificate files written for it.
#[derive(Debug, Clone)]
pub struct Written {
    pub manifest: PathBuf,
    pub certificates: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no application has appId {0}")]
    NoSuchAppId(AppId),
    #[error("no application is named `{0}`")]
    NoSuchDisplayName(String),
    #[error("`--all-owned` needs the signed-in application, but {0} signs in as a user")]
    OwnedNeedsApplication(&'static str),
    #[error("the signed-in application {0} has no service principal in this tenant")]
    NoCallerServicePrincipal(String),
    #[error(
        "{}",
        if *.0 == 1 {
            "the application selected cannot be exported".to_owned()
        } else {
            format!("none of the {} applications selected can be exported", .0)
        }
    )]
    NoneExportable(usize),
    #[error(
        "{} already exist{} in `{}`; export never overwrites a file",
        list(paths),
        if paths.len() == 1 { "s" } else { "" },
        out.display()
    )]
    WouldOverwrite { out: PathBuf, paths: Vec<PathBuf> },
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the certificate `{}`", path.display())]
    WriteCertificate {
        path: PathBuf,
        #[source]
        source: CertError,
    },
}

fn list(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths
        .iter()
        .take(5)
        .map(|p| format!("`{}`", p.display()))
        .collect();
    let more = paths.len().saturating_sub(5);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

impl Hint for ExportError {
    fn hint(&self) -> Option<String> {
        match self {
            ExportError::NoSuchAppId(_) => Some(
                "pass the application (client) id, as the Entra portal shows it; `--all` exports every app".to_owned(),
            ),
            ExportError::NoSuchDisplayName(_) => Some(
                "display names match exactly (case aside); `--all` exports every app".to_owned(),
            ),
            ExportError::OwnedNeedsApplication(_) => Some(
                "sign in as an application (a secret, a certificate or workload identity), or use `--all` or `--display-name`".to_owned(),
            ),
            ExportError::NoCallerServicePrincipal(_) | ExportError::NoneExportable(_) => None,
            ExportError::WouldOverwrite { .. } => Some(
                "export into another folder with `--out`, or move the existing files away"
                    .to_owned(),
            ),
            ExportError::Write { .. } => None,
            ExportError::WriteCertificate { source, .. } => source.hint(),
        }
    }
}

/// Reads the selected applications and writes their manifests in memory.
pub async fn export(client: &GraphClient, selection: &Selection) -> Result<ExportResult> {
    let before = client.stats();
    let raw = select(client, selection).await?;
    let mut apps: Vec<(Application, Value)> = Vec::with_capacity(raw.len());
    for value in raw {
        let app: Application =
            graph::decode_value(value.clone(), "GET", &applications::list().path)?;
        apps.push((app, value));
    }
    apps.sort_by(|a, b| {
        (a.0.display_name.as_deref(), a.0.app_id).cmp(&(b.0.display_name.as_deref(), b.0.app_id))
    });
    if apps.is_empty() {
        return Ok(ExportResult::default());
    }

    let live = observe::observe(client, &reading_plan(&apps)).await?;
    let live_by_app: HashMap<AppId, &LiveApp> = live.apps.iter().map(|a| (a.app_id, a)).collect();

    let mut result = ExportResult::default();
    let mut names: HashMap<AppId, String> = HashMap::new();
    for (app, _) in &apps {
        if let Some(unique) = &app.unique_name {
            match export::kept_name(unique) {
                Ok(name) => {
                    names.insert(app.app_id, name);
                }
                Err(reason) => result.skipped.push(skipped(app, reason)),
            }
        }
    }
    let extras = read_extras(client, &apps, &live, &names).await?;
    let names = new_names(client, &apps, names, extras.taken_names.clone()).await?;

    let exported_names: BTreeMap<AppId, String> =
        names.iter().map(|(id, n)| (*id, n.clone())).collect();
    for (app, raw) in &apps {
        let Some(name) = names.get(&app.app_id) else {
            continue;
        };
        let Some(live_app) = live_by_app.get(&app.app_id) else {
            result.skipped.push(skipped(
                app,
                "it disappeared while it was being read".to_owned(),
            ));
            continue;
        };
        let no_keys = BTreeMap::new();
        let input = AppExport {
            name,
            live: live_app,
            application: raw,
            service_principal: extras.service_principals.get(&app.app_id),
            keys: extras.keys.get(&app.id).unwrap_or(&no_keys),
            catalog: &live.catalog,
            shared_api_names: &extras.shared_api_names,
            exported_names: &exported_names,
        };
        match export::export_app(&input) {
            Ok(exported) => result.apps.push(exported),
            Err(reason) => result.skipped.push(skipped(app, reason)),
        }
    }
    let after = client.stats();
    tracing::info!(
        applications = result.apps.len(),
        http_requests = after.http_requests - before.http_requests,
        graph_operations = after.operations - before.operations,
        "read the applications to export"
    );
    Ok(result)
}

fn skipped(app: &Application, reason: String) -> Skipped {
    Skipped {
        display_name: app.display_name.clone().unwrap_or_default(),
        app_id: app.app_id,
        reason,
    }
}

/// The applications asked for, as Graph returned them (default properties).
async fn select(client: &GraphClient, selection: &Selection) -> Result<Vec<Value>> {
    Ok(match selection {
        Selection::AppId(id) => {
            let read = applications::list_where(&filter::app_id_is(&id.to_string()));
            let apps: Vec<Value> = client.list(&read).await?;
            if apps.is_empty() {
                return Err(ExportError::NoSuchAppId(*id).into());
            }
            apps
        }
        Selection::DisplayName(name) => {
            let read = applications::list_where(&filter::display_name_is(name));
            let apps: Vec<Value> = client.list(&read).await?;
            if apps.is_empty() {
                return Err(ExportError::NoSuchDisplayName(name.clone()).into());
            }
            apps
        }
        Selection::All => {
            crate::read_progress::list_applications(client, &applications::list()).await?
        }
        Selection::AllOwned => owned(client).await?,
    })
}

/// Applications the signed-in application's service principal owns: Graph lists them under
/// `/servicePrincipals/{id}/ownedObjects` (cast to applications), read then by `id in (…)` for
/// the same default properties every other selection has.
async fn owned(client: &GraphClient) -> Result<Vec<Value>> {
    let credential = client.credential();
    let Some(client_id) = credential.client_id() else {
        return Err(ExportError::OwnedNeedsApplication(credential.source().describe()).into());
    };
    let me: Vec<Value> = client
        .list(&service_principals::ids_where(&filter::app_id_is(
            client_id,
        )))
        .await?;
    let Some(me) = me
        .first()
        .and_then(|sp| sp.get("id"))
        .and_then(Value::as_str)
        .and_then(|id| id.parse::<ObjectId>().ok())
    else {
        return Err(ExportError::NoCallerServicePrincipal(client_id.to_owned()).into());
    };
    let owned: Vec<Value> = client
        .list(&service_principals::owned_applications(me))
        .await?;
    let ids: Vec<String> = owned
        .iter()
        .filter_map(|o| o.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let reads: Vec<Request> = filter::id_in(&ids)
        .into_iter()
        .map(|f| applications::list_where(&f))
        .collect();
    Ok(run(client, &reads).await?.into_iter().flatten().collect())
}

/// What observe should read: every part of each app, and the role definitions to name its
/// directory roles (resources its permissions use are read by observe as it finds them).
fn reading_plan(apps: &[(Application, Value)]) -> ObserveRequest {
    ObserveRequest {
        apps: apps
            .iter()
            .map(|(app, _)| AppQuery {
                key: AppKey::AppId(app.app_id),
                parts: Parts::ALL,
            })
            .collect(),
        role_definitions: true,
        ..ObserveRequest::default()
    }
}

/// What the writer needs besides the live model.
struct Extras {
    /// Certificate DER by key id, by application object id.
    keys: HashMap<ObjectId, BTreeMap<KeyId, Vec<u8>>>,
    service_principals: HashMap<AppId, Value>,
    shared_api_names: BTreeSet<String>,
    /// `uniqueName`s (lower case) the tenant already uses among the names asked about.
    taken_names: HashSet<String>,
}

async fn read_extras(
    client: &GraphClient,
    apps: &[(Application, Value)],
    live: &LiveTenant,
    kept: &HashMap<AppId, String>,
) -> Result<Extras> {
    let mut reads: Vec<Request> = Vec::new();
    let with_keys: Vec<ObjectId> = live
        .apps
        .iter()
        .filter(|a| !a.key_credentials.is_empty())
        .map(|a| a.object_id)
        .collect();
    let app_ids: Vec<String> = apps.iter().map(|(a, _)| a.app_id.to_string()).collect();
    let sp_lists: Vec<usize> = filter::app_id_in(&app_ids)
        .into_iter()
        .map(|f| push(&mut reads, service_principals::settings_where(&f)))
        .collect();
    let api_names: BTreeSet<&str> = live
        .catalog
        .resources
        .iter()
        .map(|r| r.display_name.as_str())
        .filter(|n| !n.trim().is_empty())
        .collect();
    let name_lists: Vec<(&str, usize)> = api_names
        .iter()
        .map(|n| (*n, push(&mut reads, service_principals::named(n))))
        .collect();
    let candidates: Vec<String> = apps
        .iter()
        .filter(|(a, _)| a.unique_name.is_none())
        .map(|(a, _)| export::base_name(a.display_name.as_deref().unwrap_or_default(), a.app_id))
        .collect();
    let taken_lists: Vec<usize> = unique_name_queries(&candidates)
        .into_iter()
        .map(|r| push(&mut reads, r))
        .collect();

    let (lists, certificates) = tokio::try_join!(
        run(client, &reads),
        observe::key_certificates(client, &with_keys)
    )?;
    let mut extras = Extras {
        keys: certificates
            .into_iter()
            .map(|(id, keys)| (id, key_bytes(&keys)))
            .collect(),
        service_principals: HashMap::new(),
        shared_api_names: BTreeSet::new(),
        taken_names: kept.values().cloned().collect(),
    };
    for i in sp_lists {
        for sp in &lists[i] {
            if let Some(app_id) = sp
                .get("appId")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
            {
                extras.service_principals.insert(app_id, sp.clone());
            }
        }
    }
    for (name, i) in name_lists {
        let same = lists[i]
            .iter()
            .filter(|sp| sp.get("displayName").and_then(Value::as_str) == Some(name))
            .count();
        if same > 1 {
            extras.shared_api_names.insert(name.to_owned());
        }
    }
    for i in taken_lists {
        extras.taken_names.extend(unique_names(&lists[i]));
    }
    Ok(extras)
}

fn push(reads: &mut Vec<Request>, read: Request) -> usize {
    reads.push(read);
    reads.len() - 1
}

/// Lists `reads` together (20 per `$batch`, pages followed); any failure fails the export.
async fn run(client: &GraphClient, reads: &[Request]) -> Result<Vec<Vec<Value>>, GraphError> {
    if reads.is_empty() {
        return Ok(Vec::new());
    }
    client
        .batch_list::<Value>(reads)
        .await?
        .into_iter()
        .collect()
}

fn unique_name_queries(candidates: &[String]) -> Vec<Request> {
    filter::unique_name_in(candidates)
        .into_iter()
        .map(|f| applications::unique_names_where(&f))
        .collect()
}

fn unique_names(apps: &[Value]) -> impl Iterator<Item = String> + '_ {
    apps.iter()
        .filter_map(|a| a.get("uniqueName").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
}

/// Certificate DER by key id, from key credentials read with their `key`.
fn key_bytes(keys: &[KeyCredential]) -> BTreeMap<KeyId, Vec<u8>> {
    keys.iter()
        .filter_map(|k| {
            let der = base64::engine::general_purpose::STANDARD
                .decode(k.key.as_deref()?.trim())
                .ok()?;
            Some((k.key_id, der))
        })
        .collect()
}

/// Names for the apps without `uniqueName`: their display name's slug, numbered past any name
/// the tenant or this export already uses. A numbered name not yet asked about is checked with
/// Graph before it is kept.
async fn new_names(
    client: &GraphClient,
    apps: &[(Application, Value)],
    mut names: HashMap<AppId, String>,
    mut taken: HashSet<String>,
) -> Result<HashMap<AppId, String>> {
    let kept: HashSet<AppId> = names.keys().copied().collect();
    let mut asked: HashSet<String> = apps
        .iter()
        .filter(|(a, _)| a.unique_name.is_none())
        .map(|(a, _)| export::base_name(a.display_name.as_deref().unwrap_or_default(), a.app_id))
        .collect();
    loop {
        let mut assigned: HashSet<String> = kept.iter().map(|id| names[id].clone()).collect();
        let mut fresh = Vec::new();
        for (app, _) in apps.iter().filter(|(a, _)| a.unique_name.is_none()) {
            let base =
                export::base_name(app.display_name.as_deref().unwrap_or_default(), app.app_id);
            let name =
                export::first_free(&base, &|n: &str| taken.contains(n) || assigned.contains(n));
            if !asked.contains(&name) {
                fresh.push(name.clone());
            }
            assigned.insert(name.clone());
            names.insert(app.app_id, name);
        }
        if fresh.is_empty() {
            return Ok(names);
        }
        let lists = run(client, &unique_name_queries(&fresh)).await?;
        asked.extend(fresh);
        for list in &lists {
            taken.extend(unique_names(list));
        }
    }
}

/// Writes every manifest and certificate into `out`, or nothing when any manifest file exists
/// already (or a certificate file with other bytes).
pub fn write(out: &Path, apps: &[Exported]) -> Result<Vec<Written>, ExportError> {
    let mut clashes = Vec::new();
    let mut certificates_to_write = Vec::new();
    for app in apps {
        let path = out.join(&app.file_name);
        if fs::symlink_metadata(&path).is_ok() {
            clashes.push(path);
        }
        for c in &app.certificates {
            let path = out.join(&c.path);
            match fs::read(&path) {
                Ok(bytes) if bytes == c.certificate.der() => {}
                Ok(_) => clashes.push(path),
                Err(_) if fs::symlink_metadata(&path).is_ok() => clashes.push(path),
                Err(_) => certificates_to_write.push((path, &c.certificate)),
            }
        }
    }
    if !clashes.is_empty() {
        return Err(ExportError::WouldOverwrite {
            out: out.to_owned(),
            paths: clashes,
        });
    }
    fs::create_dir_all(out).map_err(|source| ExportError::Write {
        path: out.to_owned(),
        source,
    })?;
    for (path, cert) in certificates_to_write {
        crate::cert::write_cer_file(&path, cert)
            .map_err(|source| ExportError::WriteCertificate { path, source })?;
    }
    let mut written = Vec::with_capacity(apps.len());
    for app in apps {
        let path = out.join(&app.file_name);
        let fail = |source| ExportError::Write {
            path: path.clone(),
            source,
        };
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(fail)?;
        file.write_all(app.manifest.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(fail)?;
        written.push(Written {
            manifest: path,
            certificates: app.certificates.iter().map(|c| out.join(&c.path)).collect(),
        });
    }
    Ok(written)
}
