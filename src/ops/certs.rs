//! `entraform certs`: load the manifests, read the `file:` certificates they name, read the
//! apps' key credentials (observe for managed apps; every application with `--all`), then let
//! the pure report decide what is due.

use std::collections::BTreeMap;
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::Result;
use crate::graph::types::Application;
use crate::graph::{GraphClient, api};
use crate::manifest::{self, ManifestError};
use crate::model::{CertificateSource, DesiredApp, Thumbprint};
use crate::observe::{self, ObserveRequest};
use crate::report::certs::{self as report, AppCertificates, CertReport, ReportInput};

#[derive(Debug, Clone)]
pub struct CertsRequest {
    pub paths: Vec<PathBuf>,
    pub recursive: bool,
    /// `--within DAYS`: overrides every certificate's window.
    pub within_days: Option<u32>,
    /// `--all`: every application the caller can read.
    pub all: bool,
}

/// The report, and what the user should know about how it was made.
#[derive(Debug, Clone)]
pub struct CertsRun {
    pub report: CertReport,
    /// Things that did not stop the report but make it less complete (an unreadable
    /// `file:` certificate, no manifests with `--all`).
    pub warnings: Vec<String>,
    /// Applications read from the tenant.
    pub apps_read: usize,
}

/// What the report reads from disk, before any tenant is contacted: the manifests and the
/// thumbprints of their `file:` certificates.
#[derive(Debug, Clone)]
pub struct LocalCerts {
    desired: Vec<DesiredApp>,
    file_thumbprints: BTreeMap<(String, String), Thumbprint>,
    warnings: Vec<String>,
}

pub async fn certificates(client: &GraphClient, request: &CertsRequest) -> Result<CertsRun> {
    let local = read_local(request)?;
    certificates_from(client, request, local).await
}

pub fn read_local(request: &CertsRequest) -> Result<LocalCerts> {
    let mut warnings = Vec::new();
    let desired = match manifest::load(&request.paths, request.recursive) {
        Ok(m) => m.apps,
        // With `--all` the manifests only name things; a cron job reporting on the whole tenant
        // from a folder without manifests still gets its report.
        Err(
            e @ (ManifestError::NotFound { .. }
            | ManifestError::NotAFile { .. }
            | ManifestError::NoManifests { .. }),
        ) if request.all => {
            warnings.push(format!(
                "{e}; reporting without manifest names, every window is {}",
                request
                    .within_days
                    .map_or_else(|| report::DEFAULT_WINDOW.to_string(), |d| format!("{d}d"))
            ));
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };
    let file_thumbprints = read_file_thumbprints(&desired, &mut warnings);
    Ok(LocalCerts {
        desired,
        file_thumbprints,
        warnings,
    })
}

/// The report, from what [`read_local`] read and the tenant.
pub async fn certificates_from(
    client: &GraphClient,
    request: &CertsRequest,
    local: LocalCerts,
) -> Result<CertsRun> {
    let LocalCerts {
        desired,
        file_thumbprints,
        warnings,
    } = local;
    let apps: Vec<AppCertificates> = if request.all {
        // Default properties: `keyCredentials` without the key bytes (naming it in `$select`
        // would return them and count against a much lower throttling limit).
        crate::read_progress::list_applications::<Application>(client, &api::applications::list())
            .await?
            .iter()
            .map(|app| AppCertificates {
                app_id: app.app_id,
                unique_name: app.unique_name.clone(),
                display_name: app.display_name.clone().unwrap_or_default(),
                keys: app
                    .key_credentials
                    .iter()
                    .map(observe::key_credential)
                    .collect(),
                secrets: app
                    .password_credentials
                    .iter()
                    .map(observe::password_credential)
                    .collect(),
            })
            .collect()
    } else {
        let live = observe::observe(client, &ObserveRequest::applications_only(&desired)).await?;
        live.apps.iter().map(AppCertificates::from).collect()
    };

    let pfx = super::plan::read_local_pfx(&desired);
    let report = report::report(&ReportInput {
        desired: &desired,
        file_thumbprints: &file_thumbprints,
        apps: &apps,
        pfx: &pfx,
        now: OffsetDateTime::now_utc(),
        within_days: request.within_days,
        all: request.all,
    });
    Ok(CertsRun {
        report,
        warnings,
        apps_read: apps.len(),
    })
}

/// The thumbprint of every `file:` certificate that can be read. One that cannot is a warning,
/// not an error: its key is still found by its `entraform:<name>` display name, and a cron job
/// should report the rest rather than fail.
fn read_file_thumbprints(
    desired: &[DesiredApp],
    warnings: &mut Vec<String>,
) -> BTreeMap<(String, String), Thumbprint> {
    let mut out = BTreeMap::new();
    for app in desired {
        for spec in app.certificates.iter().flatten() {
            if let CertificateSource::File { path } = &spec.source {
                match crate::cert::read_public_certificate(path) {
                    Ok(cert) => {
                        out.insert((app.name.clone(), spec.name.clone()), cert.thumbprint());
                    }
                    Err(e) => warnings.push(format!(
                        "{}: certificate `{}`: {e}; its key is matched by name only",
                        app.name, spec.name
                    )),
                }
            }
        }
    }
    out
}
