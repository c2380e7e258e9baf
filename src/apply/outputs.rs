//! What a user needs after apply, per app: the tenant, the ids, the certificates (thumbprint,
//! expiry, where the PFX is) and ready-to-paste `Connect-ExchangeOnline` lines; as text or as a
//! versioned JSON document (`--format json`). Pure: built from the plan, the executor's report
//! and, when the caller has them, the manifests and the tenant as observed.

use crate::model::KeyVaultCertificate;
use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;

use super::execute::{ActionOutcome, Report};
use crate::model::{
    ApiRef, AppId, CertificateSource as SpecSource, DesiredApp, LiveTenant, ObjectId, PermissionId,
    Thumbprint,
};
use crate::plan::{CertificateMaterial, Operation, Plan, ResourceKind};

/// The outputs document's version; extended only, like the plan's.
pub const OUTPUTS_FORMAT_VERSION: &str = "1";

const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
const EXCHANGE_DISPLAY_NAME: &str = "Office 365 Exchange Online";
const MANAGE_AS_APP: &str = "Exchange.ManageAsApp";
const MANAGE_AS_APP_ID: &str = "dc50a0fb-09a3-484d-be87-e023b12c6440";

/// What the outputs are made from.
#[derive(Debug, Clone, Copy)]
pub struct OutputsInput<'a> {
    pub plan: &'a Plan,
    pub report: &'a Report,
    /// The tenant's initial `*.onmicrosoft.com` domain, for `-Organization`.
    pub tenant_domain: &'a str,
    /// The authority host for the admin consent URL (`https://login.microsoftonline.com`).
    pub login_host: &'a str,
    /// The tenant as observed before apply: ids of apps the plan does not touch.
    pub live: Option<&'a LiveTenant>,
    /// The manifests: every app, even unchanged ones, and where their PFX files are.
    pub desired: Option<&'a [DesiredApp]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outputs {
    pub format_version: &'static str,
    pub tenant_id: String,
    pub tenant_domain: String,
    pub apps: Vec<AppOutputs>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppOutputs {
    /// `metadata.name`.
    pub name: String,
    pub display_name: Option<String>,
    pub app_id: Option<AppId>,
    pub application_object_id: Option<ObjectId>,
    pub service_principal_object_id: Option<ObjectId>,
    pub certificates: Vec<CertificateOutput>,
    /// Set when entraform could not grant the app's permissions itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_consent_url: Option<String>,
    /// `Connect-ExchangeOnline` lines: the PFX form, then the thumbprint form.
    pub exchange_online: Vec<String>,
    /// For a certificate kept in Key Vault: the PowerShell lines that fetch it on the script
    /// host and connect with no file and no password ([`key_vault_connect_lines`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exchange_online_key_vault: Vec<String>,
}

/// The script host's lines for a certificate in Key Vault, as an identity with Key Vault
/// Secrets User (after `Connect-AzAccount`): the PFX as the certificate's secret (base64, blank
/// password) into an `X509Certificate2` kept in memory, then `-Certificate`. docs/key-vault.md
/// shows these lines; a test keeps the two the same.
pub fn key_vault_connect_lines(
    vault: &str,
    certificate: &str,
    app_id: &AppId,
    org: &str,
) -> Vec<String> {
    vec![
        format!(
            "$b64 = Get-AzKeyVaultSecret -VaultName {} -Name {} -AsPlainText",
            powershell_string(vault),
            powershell_string(certificate)
        ),
        "$cert = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([System.Convert]::FromBase64String($b64), [string]$null, 'MachineKeySet,EphemeralKeySet')".to_owned(),
        format!("Connect-ExchangeOnline -Certificate $cert -AppID {app_id} -Organization {org}"),
    ]
}

/// A PowerShell single-quoted string (a `'` doubled).
fn powershell_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateOutput {
    pub name: String,
    pub thumbprint: Option<Thumbprint>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub not_after: Option<OffsetDateTime>,
    pub pfx: Option<PathBuf>,
    pub cer: Option<PathBuf>,
    /// Files this apply moved aside (never deleted), e.g. the previous PFX on rotation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept_previous: Vec<PathBuf>,
    /// The Key Vault certificate a generated certificate is imported into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_vault: Option<KeyVaultCertificate>,
}

/// `https://login.microsoftonline.com/{tenant}/adminconsent?client_id={appId}`.
pub fn consent_url(login_host: &str, tenant: &str, app_id: &AppId) -> String {
    format!(
        "{}/{tenant}/adminconsent?client_id={app_id}",
        login_host.trim_end_matches('/')
    )
}

/// The grants entraform was refused (403) and the URL where an administrator gives them.
/// Empty when there were none.
pub fn consent_report(report: &Report, tenant: &str, login_host: &str) -> String {
    if report.consent.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "Admin consent needed: entraform may not grant consent in this tenant \
         (403 Authorization_RequestDenied), so these were not granted:\n",
    );
    for c in &report.consent {
        out.push_str(&format!("  {}\n", c.address));
    }
    out.push_str("An administrator can grant them at:\n");
    let mut seen = BTreeSet::new();
    for c in &report.consent {
        if seen.insert(&c.app) {
            let url = c.app_id.map_or_else(
                || "(the appId could not be read)".to_owned(),
                |id| consent_url(login_host, tenant, &id),
            );
            out.push_str(&format!("  {}: {url}\n", c.app));
        }
    }
    out
}

impl Outputs {
    pub fn build(input: &OutputsInput<'_>) -> Outputs {
        let OutputsInput { plan, report, .. } = *input;
        let deleted: BTreeSet<&str> = plan
            .operations()
            .zip(&report.records)
            .filter(|((_, op), r)| {
                matches!(op, Operation::DeleteApplication { .. })
                    && matches!(r.outcome, ActionOutcome::Done { .. })
            })
            .map(|((a, _), _)| a.app.as_str())
            .collect();
        let mut names: BTreeSet<String> = BTreeSet::new();
        names.extend(input.desired.unwrap_or(&[]).iter().map(|d| d.name.clone()));
        names.extend(plan.changes.iter().map(|c| c.address.app.clone()));
        names.extend(plan.certificates.iter().map(|c| c.address.app.clone()));
        names.retain(|n| !deleted.contains(n.as_str()));

        let apps = names
            .into_iter()
            .map(|name| app_outputs(input, &name))
            .collect();
        Outputs {
            format_version: OUTPUTS_FORMAT_VERSION,
            tenant_id: plan.tenant_id.to_string(),
            tenant_domain: input.tenant_domain.to_owned(),
            apps,
        }
    }
}

fn app_outputs(input: &OutputsInput<'_>, name: &str) -> AppOutputs {
    let desired = input.desired.unwrap_or(&[]).iter().find(|d| d.name == name);
    let live = input.live.and_then(|l| {
        l.apps.iter().find(|a| {
            a.unique_name.as_deref() == Some(name)
                || desired
                    .and_then(|d| d.adopt_app_id)
                    .is_some_and(|id| id == a.app_id)
        })
    });
    let ids = input
        .report
        .apps
        .get(name)
        .map(|a| (a.object_id, a.app_id))
        .or_else(|| live.map(|a| (a.object_id, a.app_id)))
        .or_else(|| planned_app(input.plan, name));
    let sp = input
        .report
        .service_principals
        .get(name)
        .copied()
        .or_else(|| {
            live.and_then(|a| a.service_principal.as_ref())
                .map(|s| s.object_id)
        });

    let certificates = certificates(input, name, desired);
    let app_id = ids.map(|(_, app_id)| app_id);
    let consent = input
        .report
        .consent
        .iter()
        .find(|c| c.app == name)
        .and_then(|c| c.app_id.or(app_id))
        .map(|id| consent_url(input.login_host, &input.plan.tenant_id.to_string(), &id));

    let mut exchange = Vec::new();
    let mut exchange_key_vault = Vec::new();
    if let Some(app_id) = app_id
        && manages_exchange(input, name, desired)
        && let Some(cert) = certificates
            .iter()
            .filter(|c| c.thumbprint.is_some())
            .max_by_key(|c| c.not_after)
    {
        let org = input.tenant_domain;
        if let Some(pfx) = &cert.pfx {
            exchange.push(format!(
                "Connect-ExchangeOnline -CertificateFilePath {} -CertificatePassword (Read-Host -AsSecureString) -AppID {app_id} -Organization {org}",
                powershell_quote(&pfx.display().to_string())
            ));
        }
        if let Some(thumb) = cert.thumbprint {
            exchange.push(format!(
                "Connect-ExchangeOnline -CertificateThumbPrint {thumb} -AppID {app_id} -Organization {org}"
            ));
        }
        if let Some(kv) = &cert.key_vault {
            exchange_key_vault =
                key_vault_connect_lines(kv.vault_name(), &kv.certificate, &app_id, org);
        }
    }

    AppOutputs {
        name: name.to_owned(),
        display_name: desired
            .map(|d| d.display_name.clone())
            .or_else(|| live.map(|a| a.display_name.clone())),
        app_id,
        application_object_id: ids.map(|(id, _)| id),
        service_principal_object_id: sp,
        certificates,
        admin_consent_url: consent,
        exchange_online: exchange,
        exchange_online_key_vault: exchange_key_vault,
    }
}

/// Ids the plan itself carries for an app it acts on.
fn planned_app(plan: &Plan, name: &str) -> Option<(ObjectId, AppId)> {
    plan.operations()
        .filter(|(a, _)| a.app == name)
        .find_map(|(_, op)| {
            use crate::plan::AppRef;
            use Operation as O;
            let app = match op {
                O::AdoptApplication { app, .. }
                | O::UpdateApplication { app, .. }
                | O::RemoveOwner { app, .. }
                | O::RemoveKeyCredential { app, .. }
                | O::RemovePasswordCredential { app, .. }
                | O::UpdateFederatedCredential { app, .. }
                | O::DeleteFederatedCredential { app, .. } => app,
                O::CreateServicePrincipal {
                    app: AppRef::Existing(app),
                    ..
                }
                | O::AddOwner {
                    app: AppRef::Existing(app),
                    ..
                }
                | O::AddCertificate {
                    app: AppRef::Existing(app),
                    ..
                }
                | O::AddClientSecret {
                    app: AppRef::Existing(app),
                    ..
                }
                | O::CreateFederatedCredential {
                    app: AppRef::Existing(app),
                    ..
                } => app,
                _ => return None,
            };
            Some((app.object_id, app.app_id))
        })
}

fn certificates(
    input: &OutputsInput<'_>,
    name: &str,
    desired: Option<&DesiredApp>,
) -> Vec<CertificateOutput> {
    // Names in manifest order, then any the plan mentions besides.
    let mut names: Vec<String> = desired
        .and_then(|d| d.certificates.as_ref())
        .map(|specs| specs.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    for status in &input.plan.certificates {
        if status.address.app == name
            && let Some(key) = &status.address.key
            && !names.contains(key)
        {
            names.push(key.clone());
        }
    }
    names
        .into_iter()
        .map(|cert| {
            let spec_files = desired
                .and_then(|d| d.certificates.as_ref())
                .and_then(|specs| specs.iter().find(|s| s.name == cert))
                .and_then(|s| match &s.source {
                    SpecSource::Generate(g) => {
                        Some((g.pfx.clone(), g.cer.clone(), g.key_vault.clone()))
                    }
                    SpecSource::File { .. } | SpecSource::KeyVault(_) => None,
                })
                .or_else(|| planned_files(input.plan, name, &cert));
            let key_vault = spec_files.as_ref().and_then(|f| f.2.clone());
            let attached = input
                .report
                .certificates
                .iter()
                .rev()
                .find(|c| c.app == name && c.name == cert);
            if let Some(a) = attached {
                let files = a.files.as_ref();
                return CertificateOutput {
                    name: cert,
                    thumbprint: Some(a.thumbprint),
                    not_after: Some(a.not_after),
                    pfx: files.and_then(|f| f.pfx.clone()),
                    cer: files.and_then(|f| f.cer.clone()),
                    kept_previous: files.map(|f| f.kept.clone()).unwrap_or_default(),
                    key_vault,
                };
            }
            let status = input.plan.certificates.iter().find(|s| {
                s.address.app == name
                    && s.address.kind == ResourceKind::Certificate
                    && s.address.key.as_deref() == Some(cert.as_str())
            });
            let (pfx, cer, _) = spec_files.unwrap_or_default();
            CertificateOutput {
                name: cert,
                thumbprint: status.and_then(|s| s.thumbprint),
                not_after: status.and_then(|s| s.not_after),
                pfx,
                cer,
                kept_previous: Vec::new(),
                key_vault,
            }
        })
        .collect()
}

/// Where the plan says a generated certificate goes: its files and its Key Vault certificate.
type Destinations = (
    Option<PathBuf>,
    Option<PathBuf>,
    Option<KeyVaultCertificate>,
);

fn planned_files(plan: &Plan, app: &str, cert: &str) -> Option<Destinations> {
    plan.operations().find_map(|(a, op)| match op {
        Operation::AddCertificate { key, .. } if a.app == app && a.key.as_deref() == Some(cert) => {
            match &key.certificate {
                CertificateMaterial::Generate(g) => {
                    Some((g.pfx.clone(), g.cer.clone(), g.key_vault.clone()))
                }
                CertificateMaterial::File(_) => None,
            }
        }
        _ => None,
    })
}

/// Whether the app has (or is being given) `Exchange.ManageAsApp`.
fn manages_exchange(input: &OutputsInput<'_>, name: &str, desired: Option<&DesiredApp>) -> bool {
    let role: PermissionId = MANAGE_AS_APP_ID.parse().expect("a GUID");
    let in_manifest = desired
        .and_then(|d| d.api_permissions.as_ref())
        .is_some_and(|apis| {
            apis.iter().any(|p| {
                let exchange = match &p.api {
                    ApiRef::DisplayName(n) => n == EXCHANGE_DISPLAY_NAME,
                    ApiRef::AppId(id) => id.to_string() == EXCHANGE_APP_ID,
                };
                exchange && p.application.contains(MANAGE_AS_APP)
            })
        });
    let in_plan = input.plan.operations().any(|(a, op)| {
        a.app == name
            && matches!(op, Operation::GrantAppRole { app_role_id, .. } if *app_role_id == role)
    });
    let in_tenant = input
        .live
        .and_then(|l| {
            l.apps
                .iter()
                .find(|a| a.unique_name.as_deref() == Some(name))
        })
        .is_some_and(|a| {
            a.service_principal.as_ref().is_some_and(|sp| {
                sp.app_role_assignments
                    .iter()
                    .any(|r| r.app_role_id == role)
            }) || a
                .required_resource_access
                .iter()
                .flat_map(|r| &r.resource_access)
                .any(|r| r.id == role)
        });
    in_manifest || in_plan || in_tenant
}

/// A path as one PowerShell argument: bare when that is unambiguous, single-quoted otherwise.
fn powershell_quote(path: &str) -> String {
    let plain = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/\\:".contains(c));
    if plain {
        path.to_owned()
    } else {
        format!("'{}'", path.replace('\'', "''"))
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// The outputs as text, Terraform's `Outputs:` block in spirit.
pub fn outputs_text(outputs: &Outputs) -> String {
    let mut out = String::from("\nOutputs:\n");
    for app in &outputs.apps {
        out.push_str(&format!("\n{}:\n", app.name));
        let mut rows: Vec<(String, String)> = vec![
            ("tenant_id".into(), outputs.tenant_id.clone()),
            ("tenant_domain".into(), outputs.tenant_domain.clone()),
        ];
        let opt = |v: Option<String>| v.unwrap_or_else(|| "(unknown)".to_owned());
        if let Some(d) = &app.display_name {
            rows.push(("display_name".into(), d.clone()));
        }
        rows.push(("app_id".into(), opt(app.app_id.map(|i| i.to_string()))));
        rows.push((
            "application_object_id".into(),
            opt(app.application_object_id.map(|i| i.to_string())),
        ));
        rows.push((
            "service_principal_object_id".into(),
            opt(app.service_principal_object_id.map(|i| i.to_string())),
        ));
        if let Some(url) = &app.admin_consent_url {
            rows.push(("admin_consent_url".into(), url.clone()));
        }
        push_rows(&mut out, "  ", &rows);
        for c in &app.certificates {
            out.push_str(&format!("  certificate \"{}\":\n", c.name));
            let mut rows = vec![
                (
                    "thumbprint".to_owned(),
                    c.thumbprint
                        .map_or_else(|| "(none yet)".to_owned(), |t| t.to_hex()),
                ),
                (
                    "not_after".to_owned(),
                    c.not_after.map_or_else(|| "(none yet)".to_owned(), rfc3339),
                ),
            ];
            if let Some(p) = &c.pfx {
                rows.push(("pfx".into(), p.display().to_string()));
            }
            if let Some(p) = &c.cer {
                rows.push(("cer".into(), p.display().to_string()));
            }
            if let Some(kv) = &c.key_vault {
                rows.push(("key_vault".into(), kv.to_string()));
            }
            for p in &c.kept_previous {
                rows.push(("kept_previous".into(), p.display().to_string()));
            }
            push_rows(&mut out, "    ", &rows);
        }
        let mut lines = app.exchange_online.iter();
        if app.exchange_online.len() == 2 {
            out.push_str("\n  Connect to Exchange Online with the PFX:\n");
            out.push_str(&format!("    {}\n", lines.next().expect("two lines")));
            out.push_str("  or with the certificate in your certificate store:\n");
            out.push_str(&format!("    {}\n", lines.next().expect("two lines")));
        } else if let Some(line) = lines.next() {
            out.push_str("\n  Connect to Exchange Online:\n");
            out.push_str(&format!("    {line}\n"));
        }
        if !app.exchange_online_key_vault.is_empty() {
            out.push_str("\n  Connect to Exchange Online with the certificate in Key Vault (after Connect-AzAccount, as an identity with Key Vault Secrets User):\n");
            for line in &app.exchange_online_key_vault {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    out
}

fn push_rows(out: &mut String, indent: &str, rows: &[(String, String)]) {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        out.push_str(&format!("{indent}{k:<width$} = \"{v}\"\n"));
    }
}

/// The outputs as JSON (`--format json`): a stable, versioned document.
pub fn outputs_json(outputs: &Outputs) -> String {
    let mut text =
        serde_json::to_string_pretty(outputs).expect("outputs have string keys and no floats");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_powershell_only_when_needed() {
        assert_eq!(powershell_quote("secrets/app.pfx"), "secrets/app.pfx");
        assert_eq!(powershell_quote("C:\\certs\\a.pfx"), "C:\\certs\\a.pfx");
        assert_eq!(
            powershell_quote("my certs/o'brien.pfx"),
            "'my certs/o''brien.pfx'"
        );
    }

    #[test]
    fn the_consent_url_is_the_documented_one() {
        let id: AppId = "3f76be04-5cf0-47f1-9df6-d05981a450fc".parse().unwrap();
        assert_eq!(
            consent_url(
                "https://login.microsoftonline.com/",
                "contoso.onmicrosoft.com",
                &id
            ),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=3f76be04-5cf0-47f1-9df6-d05981a450fc"
        );
    }
}
