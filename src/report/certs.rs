//! The certificate report behind `entraform certs`: every key credential of the apps in view,
//! named the way the manifests name it, with its days left, its renewal window and whether it
//! is inside that window. Built from the desired apps and what was read from the tenant;
//! rendered as an aligned table (sorted by days left) or a JSON document in a versioned shape
//! (`docs/certificates.md`).
//!
//! "Inside the window" means exactly what makes a plan rotate a generated certificate: its end
//! is no more than the window away (`renewBefore`, or `--within` days). So `certs` exits 2 on
//! the same day `plan` starts to propose the rotation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::model::{
    AppId, CertificateSource, DesiredApp, KeyId, LiveApp, LiveKeyCredential,
    LivePasswordCredential, LocalPfx, Period, Thumbprint, certificate_display_name, days_left,
};
use crate::style::{Style, escape, paint};

/// The JSON document's shape version. Only ever extended; a breaking change gets a new number.
pub const FORMAT_VERSION: &str = "1";

/// The window of a certificate without a `renewBefore` (a `file:` certificate, a key no manifest
/// names, any app with `--all`) when `--within` is not given. The same 30 days after which a
/// plan starts warning about a `file:` certificate.
pub const DEFAULT_WINDOW: Period = Period::from_days(30);

/// What the table calls a key that no manifest names and that has no `displayName`.
pub const UNMANAGED: &str = "(unmanaged)";

/// One application's key credentials, as observe or a list of `/applications` read them.
#[derive(Debug, Clone, PartialEq)]
pub struct AppCertificates {
    pub app_id: AppId,
    pub unique_name: Option<String>,
    pub display_name: String,
    pub keys: Vec<LiveKeyCredential>,
    /// Client secrets' metadata (never their values).
    pub secrets: Vec<LivePasswordCredential>,
}

impl From<&LiveApp> for AppCertificates {
    fn from(app: &LiveApp) -> Self {
        Self {
            app_id: app.app_id,
            unique_name: app.unique_name.clone(),
            display_name: app.display_name.clone(),
            keys: app.key_credentials.clone(),
            secrets: app.password_credentials.clone(),
        }
    }
}

/// Everything the report is made from; no IO.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    pub desired: &'a [DesiredApp],
    /// Thumbprints of the manifests' `file:` certificates that could be read, by (app
    /// `metadata.name`, certificate name). A file that could not be read still matches by the
    /// key's `displayName`.
    pub file_thumbprints: &'a BTreeMap<(String, String), Thumbprint>,
    pub apps: &'a [AppCertificates],
    /// The PFX files of generated certificates that exist and show their thumbprint.
    pub pfx: &'a BTreeMap<(String, String), LocalPfx>,
    pub now: OffsetDateTime,
    /// `--within DAYS`: overrides every certificate's window.
    pub within_days: Option<u32>,
    /// `--all`: apps without a manifest are in view too.
    pub all: bool,
}

/// Where a reported key comes from, as far as the manifests know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// A manifest certificate with `generate:`; entraform rotates it.
    Generate,
    /// A manifest certificate with `file:`; the user replaces the file.
    File,
    /// No manifest names this key (or the app has no manifest).
    Unmanaged,
}

/// What a reported credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A key credential (certificate).
    Certificate,
    /// A password credential (client secret): metadata only.
    ClientSecret,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Certificate => "certificate",
            Self::ClientSecret => "client_secret",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Inside its window: due for renewal.
    Renew,
    /// Past its end date: sign-ins with it fail.
    Expired,
    /// A generated certificate's previous key, kept after a rotation for its overlap: a newer
    /// key of the same certificate is in place, so its expiry needs nothing done.
    Superseded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Renew => "renew",
            Status::Expired => "expired",
            Status::Superseded => "superseded",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CertificateRow {
    /// The app's `metadata.name` when a manifest manages it, else its display name.
    pub app: String,
    pub app_id: AppId,
    pub app_display_name: String,
    /// A manifest manages the app.
    pub managed: bool,
    /// The manifest's certificate name, else the key's `displayName`, else [`UNMANAGED`].
    pub certificate: String,
    pub kind: CredentialKind,
    /// A client secret's first characters, as Graph shows them.
    pub hint: Option<String>,
    pub source: KeySource,
    pub key_id: KeyId,
    pub key_display_name: Option<String>,
    pub thumbprint: Option<Thumbprint>,
    pub not_before: Option<OffsetDateTime>,
    pub not_after: Option<OffsetDateTime>,
    /// Calendar days from today to `not_after`'s date (UTC), as in plans: 0 on the last day,
    /// negative once that date has passed.
    pub days_left: Option<i64>,
    pub window: Period,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CertReport {
    pub generated_at: OffsetDateTime,
    pub within_days: Option<u32>,
    pub all: bool,
    /// How many applications were looked at.
    pub apps: usize,
    /// Sorted by days left (soonest first, unknown last), then app, certificate and key id.
    pub certificates: Vec<CertificateRow>,
    /// Manifest apps with no application in the tenant (not applied yet).
    pub apps_not_found: Vec<String>,
    /// PFX files the manifests name that hold a certificate none of the app's keys is:
    /// whatever uses one cannot sign in.
    pub unusable_pfx: Vec<UnusablePfx>,
}

/// A generated certificate's PFX that matches no key of its app in the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnusablePfx {
    pub app: String,
    pub certificate: String,
    pub path: String,
    pub thumbprint: Thumbprint,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub certificates: usize,
    pub ok: usize,
    pub renew: usize,
    pub expired: usize,
}

impl CertReport {
    pub fn counts(&self) -> Counts {
        self.certificates
            .iter()
            .fold(Counts::default(), |mut c, row| {
                c.certificates += 1;
                match row.status {
                    Status::Ok | Status::Superseded => c.ok += 1,
                    Status::Renew => c.renew += 1,
                    Status::Expired => c.expired += 1,
                }
                c
            })
    }

    /// Some certificate is inside its window or expired, or a PFX matches no key: `certs`
    /// exits 2.
    pub fn needs_attention(&self) -> bool {
        self.certificates
            .iter()
            .any(|r| !matches!(r.status, Status::Ok | Status::Superseded))
            || !self.unusable_pfx.is_empty()
    }
}

/// Builds the report.
pub fn report(input: &ReportInput<'_>) -> CertReport {
    let within = input
        .within_days
        .map(|days| Period::from_days(u64::from(days)));
    let mut matched: BTreeSet<&str> = BTreeSet::new();
    let mut rows = Vec::new();
    let mut unusable_pfx = Vec::new();
    for app in input.apps {
        let desired = input.desired.iter().find(|d| {
            app.unique_name.as_deref() == Some(d.name.as_str())
                || d.adopt_app_id == Some(app.app_id)
        });
        if let Some(d) = desired {
            matched.insert(d.name.as_str());
            unusable_pfx.extend(unusable(d, app, input.pfx));
        }
        for key in &app.keys {
            let named = match desired {
                Some(d) => name_key(d, key, input.file_thumbprints),
                None => unnamed(key),
            };
            let window = within.or(named.renew_before).unwrap_or(DEFAULT_WINDOW);
            rows.push(CertificateRow {
                app: desired.map_or_else(|| app.display_name.clone(), |d| d.name.clone()),
                app_id: app.app_id,
                app_display_name: app.display_name.clone(),
                managed: desired.is_some(),
                certificate: named.name,
                kind: CredentialKind::Certificate,
                hint: None,
                source: named.source,
                key_id: key.key_id,
                key_display_name: key.display_name.clone(),
                thumbprint: key.thumbprint,
                not_before: key.start,
                not_after: key.end,
                days_left: key.end.map(|end| days_left(end, input.now)),
                window,
                status: status(key.end, window, input.now),
            });
        }
        // A managed secret (by its `entraform:<name>`) is reported like a generated
        // certificate, under its `renewBefore`; any other under the default window.
        for secret in &app.secrets {
            let spec = desired.and_then(|d| {
                d.client_secrets.iter().flatten().find(|spec| {
                    secret.display_name.as_deref()
                        == Some(certificate_display_name(&spec.name).as_str())
                })
            });
            let window = within
                .or(spec.map(|s| s.renew_before))
                .unwrap_or(DEFAULT_WINDOW);
            rows.push(CertificateRow {
                app: desired.map_or_else(|| app.display_name.clone(), |d| d.name.clone()),
                app_id: app.app_id,
                app_display_name: app.display_name.clone(),
                managed: desired.is_some(),
                certificate: spec.map_or_else(
                    || unnamed_name(secret.display_name.as_deref()),
                    |s| s.name.clone(),
                ),
                kind: CredentialKind::ClientSecret,
                hint: secret.hint.clone(),
                source: if spec.is_some() {
                    KeySource::Generate
                } else {
                    KeySource::Unmanaged
                },
                key_id: secret.key_id,
                key_display_name: secret.display_name.clone(),
                thumbprint: None,
                not_before: secret.start,
                not_after: secret.end,
                days_left: secret.end.map(|end| days_left(end, input.now)),
                window,
                status: status(secret.end, window, input.now),
            });
        }
    }
    supersede_older_generated_keys(&mut rows);
    rows.sort_by(|a, b| {
        let days = |r: &CertificateRow| (r.days_left.is_none(), r.days_left);
        days(a)
            .cmp(&days(b))
            .then_with(|| a.app.cmp(&b.app))
            .then_with(|| a.certificate.cmp(&b.certificate))
            .then_with(|| a.key_id.cmp(&b.key_id))
    });
    CertReport {
        // Whole seconds: the document is for people and diffs, not a clock.
        generated_at: input.now.replace_nanosecond(0).unwrap_or(input.now),
        within_days: input.within_days,
        all: input.all,
        apps: input.apps.len(),
        certificates: rows,
        apps_not_found: input
            .desired
            .iter()
            .filter(|d| !matched.contains(d.name.as_str()))
            .map(|d| d.name.clone())
            .collect(),
        unusable_pfx,
    }
}

/// Every key of a generated certificate (or secret of a managed client secret) but the one
/// ending last is a previous one kept for its overlap (or left by an interrupted rotation): the plan removes it, nobody renews it.
fn supersede_older_generated_keys(rows: &mut [CertificateRow]) {
    type Of = (AppId, CredentialKind, String);
    let mut newest: BTreeMap<Of, Option<OffsetDateTime>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.source == KeySource::Generate) {
        let end = newest
            .entry((r.app_id, r.kind, r.certificate.clone()))
            .or_default();
        *end = (*end).max(r.not_after);
    }
    for r in rows.iter_mut().filter(|r| r.source == KeySource::Generate) {
        if newest.get(&(r.app_id, r.kind, r.certificate.clone())) != Some(&r.not_after) {
            r.status = Status::Superseded;
        }
    }
}

/// The app's generated certificates whose PFX holds none of its keys, the rule a plan replaces
/// them by (said only when every key's thumbprint is known).
fn unusable(
    desired: &DesiredApp,
    app: &AppCertificates,
    pfx: &BTreeMap<(String, String), LocalPfx>,
) -> Vec<UnusablePfx> {
    if app.keys.iter().any(|k| k.thumbprint.is_none()) {
        return Vec::new();
    }
    desired
        .certificates
        .iter()
        .flatten()
        .filter_map(|spec| {
            let file = pfx.get(&(desired.name.clone(), spec.name.clone()))?;
            let attached = app
                .keys
                .iter()
                .any(|k| k.thumbprint == Some(file.thumbprint));
            (!attached).then(|| UnusablePfx {
                app: desired.name.clone(),
                certificate: spec.name.clone(),
                path: file.path.display().to_string(),
                thumbprint: file.thumbprint,
            })
        })
        .collect()
}

/// One line per PFX that matches no key, for stderr.
pub fn unusable_lines(report: &CertReport) -> Vec<String> {
    report
        .unusable_pfx
        .iter()
        .map(|p| {
            format!(
                "`{}` ({}, certificate `{}`) holds certificate {}, which is not one of the app's keys: whatever uses it cannot sign in; `entraform plan` shows it as drift and `entraform apply` replaces it",
                p.path, p.app, p.certificate, p.thumbprint
            )
        })
        .collect()
}

struct Named {
    name: String,
    source: KeySource,
    renew_before: Option<Period>,
}

/// Which manifest certificate `key` is, the way a plan decides it: a `file:` certificate by
/// thumbprint first (the surer match), then a certificate by the key's `entraform:<name>`.
fn name_key(
    desired: &DesiredApp,
    key: &LiveKeyCredential,
    file_thumbprints: &BTreeMap<(String, String), Thumbprint>,
) -> Named {
    let specs = desired.certificates.as_deref().unwrap_or(&[]);
    let by_thumbprint = specs.iter().find(|spec| {
        matches!(spec.source, CertificateSource::File { .. })
            && key.thumbprint.is_some()
            && file_thumbprints
                .get(&(desired.name.clone(), spec.name.clone()))
                .copied()
                == key.thumbprint
    });
    let by_name = || {
        specs.iter().find(|spec| {
            key.display_name.as_deref() == Some(certificate_display_name(&spec.name).as_str())
        })
    };
    match by_thumbprint.or_else(by_name) {
        Some(spec) => match &spec.source {
            CertificateSource::Generate(g) => Named {
                name: spec.name.clone(),
                source: KeySource::Generate,
                renew_before: Some(g.renew_before),
            },
            // Registered from Key Vault, not renewed by entraform: reported like a file.
            CertificateSource::File { .. } | CertificateSource::KeyVault(_) => Named {
                name: spec.name.clone(),
                source: KeySource::File,
                renew_before: None,
            },
        },
        None => unnamed(key),
    }
}

fn unnamed(key: &LiveKeyCredential) -> Named {
    Named {
        name: unnamed_name(key.display_name.as_deref()),
        source: KeySource::Unmanaged,
        renew_before: None,
    }
}

/// A credential's display name, or [`UNMANAGED`] when it has none.
fn unnamed_name(display_name: Option<&str>) -> String {
    display_name
        .filter(|n| !n.trim().is_empty())
        .map_or_else(|| UNMANAGED.to_owned(), str::to_owned)
}

fn status(end: Option<OffsetDateTime>, window: Period, now: OffsetDateTime) -> Status {
    match end {
        Some(end) if end <= now => Status::Expired,
        Some(end) if end - now <= window.as_duration() => Status::Renew,
        _ => Status::Ok,
    }
}

/// `30d`, `36h`; `0d` for `--within 0` (only expired certificates count).
fn window_text(window: Period) -> String {
    if window.as_seconds() == 0 {
        "0d".to_owned()
    } else {
        window.to_string()
    }
}

fn date(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_else(|_| utc.date().to_string())
}

/// The table: one aligned row per certificate, soonest expiry first. Empty when there is none
/// (the summary line says so).
pub fn table(report: &CertReport, color: bool) -> String {
    if report.certificates.is_empty() {
        return String::new();
    }
    let header = [
        "APP",
        "CERTIFICATE",
        "THUMBPRINT",
        "NOT AFTER",
        "DAYS LEFT",
        "WINDOW",
        "STATUS",
    ];
    let dash = || "-".to_owned();
    let cells: Vec<[String; 7]> = report
        .certificates
        .iter()
        .map(|r| {
            [
                escape(&r.app).into_owned(),
                match r.kind {
                    CredentialKind::Certificate => escape(&r.certificate).into_owned(),
                    CredentialKind::ClientSecret => {
                        format!("{} (client secret)", escape(&r.certificate))
                    }
                },
                r.thumbprint.map_or_else(dash, |t| t.to_hex()),
                r.not_after.map_or_else(dash, date),
                r.days_left.map_or_else(dash, |d| d.to_string()),
                window_text(r.window),
                r.status.as_str().to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Numbers and windows read best right-aligned.
    let right = |i: usize| i == 4 || i == 5;
    let line = |out: &mut String, row: &[String; 7], status_style: Option<Style>| {
        let mut text = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            if i == 6 {
                let styled = status_style.map_or_else(|| cell.clone(), |s| paint(cell, s, color));
                text.push_str(&styled);
            } else if right(i) {
                let _ = write!(text, "{cell:>w$}", w = widths[i]);
            } else {
                let _ = write!(text, "{cell:<w$}", w = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    let mut out = String::new();
    let header: [String; 7] = header.map(str::to_owned);
    line(&mut out, &header, None);
    for (row, r) in cells.iter().zip(&report.certificates) {
        let style = match r.status {
            Status::Ok | Status::Superseded => None,
            Status::Renew => Some(Style::BoldYellow),
            Status::Expired => Some(Style::BoldRed),
        };
        line(&mut out, row, style);
    }
    out
}

/// One line for stderr: how many certificates, and how many need attention.
pub fn summary(report: &CertReport) -> String {
    let c = report.counts();
    let apps = plural(report.apps, "app");
    if c.certificates == 0 {
        return format!("No certificates on {apps}.");
    }
    let certificates = plural(c.certificates, "certificate");
    if c.renew + c.expired == 0 {
        return format!("{certificates} on {apps}, none inside its renewal window.");
    }
    let mut parts = Vec::new();
    if c.expired > 0 {
        parts.push(format!("{} expired", c.expired));
    }
    if c.renew > 0 {
        parts.push(format!(
            "{} inside {} renewal window",
            c.renew,
            if c.renew == 1 { "its" } else { "their" }
        ));
    }
    format!("{certificates} on {apps}: {}.", parts.join(", "))
}

fn plural(n: usize, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    format_version: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    generated_at: OffsetDateTime,
    within_days: Option<u32>,
    all: bool,
    attention: bool,
    summary: JsonSummary,
    certificates: Vec<JsonRow<'a>>,
    apps_not_found: &'a [String],
    unusable_pfx: &'a [UnusablePfx],
}

#[derive(Serialize)]
struct JsonSummary {
    apps: usize,
    #[serde(flatten)]
    counts: Counts,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    app: &'a str,
    app_id: AppId,
    app_display_name: &'a str,
    managed: bool,
    certificate: &'a str,
    kind: CredentialKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    source: KeySource,
    key_id: KeyId,
    key_display_name: Option<&'a str>,
    thumbprint: Option<Thumbprint>,
    #[serde(with = "time::serde::rfc3339::option")]
    not_before: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    not_after: Option<OffsetDateTime>,
    days_left: Option<i64>,
    window: String,
    status: Status,
}

/// The JSON document (`format_version` "1"), pretty-printed with a final newline.
pub fn json(report: &CertReport) -> String {
    let doc = JsonReport {
        format_version: FORMAT_VERSION,
        generated_at: report.generated_at,
        within_days: report.within_days,
        all: report.all,
        attention: report.needs_attention(),
        summary: JsonSummary {
            apps: report.apps,
            counts: report.counts(),
        },
        certificates: report
            .certificates
            .iter()
            .map(|r| JsonRow {
                app: &r.app,
                app_id: r.app_id,
                app_display_name: &r.app_display_name,
                managed: r.managed,
                certificate: &r.certificate,
                kind: r.kind,
                hint: r.hint.as_deref(),
                source: r.source,
                key_id: r.key_id,
                key_display_name: r.key_display_name.as_deref(),
                thumbprint: r.thumbprint,
                not_before: r.not_before,
                not_after: r.not_after,
                days_left: r.days_left,
                window: window_text(r.window),
                status: r.status,
            })
            .collect(),
        apps_not_found: &report.apps_not_found,
        unusable_pfx: &report.unusable_pfx,
    };
    let mut out = serde_json::to_string_pretty(&doc).expect("the report serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);

    #[test]
    fn inside_the_window_is_the_plans_rotation_rule() {
        let window: Period = "30d".parse().unwrap();
        assert_eq!(
            status(Some(datetime!(2025-07-01 00:00 UTC)), window, NOW),
            Status::Renew,
            "exactly renewBefore away is due, as in the plan"
        );
        assert_eq!(
            status(Some(datetime!(2025-07-01 00:00:01 UTC)), window, NOW),
            Status::Ok
        );
        assert_eq!(status(Some(NOW), window, NOW), Status::Expired);
        assert_eq!(status(None, window, NOW), Status::Ok);
        assert_eq!(
            status(
                Some(datetime!(2025-06-01 12:00 UTC)),
                Period::from_days(0),
                NOW
            ),
            Status::Ok,
            "`--within 0` flags only expired certificates"
        );
    }

    #[test]
    fn days_left_are_calendar_days_like_the_plan() {
        assert_eq!(days_left(datetime!(2025-06-13 12:00 UTC), NOW), 12);
        assert_eq!(days_left(datetime!(2025-05-31 23:00 UTC), NOW), -1);
        assert_eq!(
            days_left(NOW + Period::from_days(365).as_duration(), NOW),
            365
        );
    }

    #[test]
    fn summaries_count_what_needs_attention() {
        let empty = CertReport {
            generated_at: NOW,
            within_days: None,
            all: false,
            apps: 1,
            certificates: Vec::new(),
            apps_not_found: Vec::new(),
            unusable_pfx: Vec::new(),
        };
        assert_eq!(summary(&empty), "No certificates on 1 app.");
        assert!(!empty.needs_attention());
        assert_eq!(table(&empty, false), "");
    }
}
