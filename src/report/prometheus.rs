//! `entraform certs --format prometheus`: the certificate report in Prometheus' text exposition
//! format (version 0.0.4), for node_exporter's textfile collector, so credential expiry reaches
//! the dashboards and alerts that already exist.
//!
//! Every series has the same label names (`app`, `app_id`, `credential`, `kind`, `thumbprint`,
//! `key_id`): a client secret has no thumbprint, so its `thumbprint` is empty (which Prometheus
//! reads as absent) and its `key_id` tells it apart. `app_id` and `key_id` make each series
//! unique (two apps may share a display name; Graph keeps key ids unique within an app).

use std::fmt::Write as _;

use super::certs::{CertReport, CertificateRow, Status};
use crate::style::needs_escape;

/// A row's value in one family; `None` when the credential has no end date (nothing to measure).
type Value = fn(&CertificateRow) -> Option<i64>;

/// The metric families, in the order they are written: name, help, value.
const FAMILIES: [(&str, &str, Value); 3] = [
    (
        "entraform_credential_expiry_timestamp_seconds",
        "When an app credential (certificate or client secret) expires, as a Unix timestamp.",
        |r| r.not_after.map(|t| t.unix_timestamp()),
    ),
    (
        "entraform_credential_expiry_days_left",
        "Calendar days (UTC) until an app credential expires, as `entraform certs` counts them; negative once expired.",
        |r| r.days_left,
    ),
    (
        "entraform_credential_attention",
        "1 when the credential makes `entraform certs` exit 2 (inside its renewal window or expired), else 0.",
        |r| {
            r.not_after
                .map(|_| i64::from(!matches!(r.status, Status::Ok | Status::Superseded)))
        },
    ),
];

/// The exposition text: each family's `# HELP` and `# TYPE` lines, then one sample per
/// credential, in the report's order. Families without samples are still described, so a
/// scrape of an empty report is valid and says what would be there.
pub fn prometheus(report: &CertReport) -> String {
    let mut out = String::new();
    for (name, help, value) in FAMILIES {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for row in &report.certificates {
            if let Some(v) = value(row) {
                let _ = writeln!(out, "{name}{{{}}} {v}", labels(row));
            }
        }
    }
    out
}

fn labels(r: &CertificateRow) -> String {
    let pairs = [
        ("app", r.app.clone()),
        ("app_id", r.app_id.to_string()),
        ("credential", r.certificate.clone()),
        ("kind", r.kind.as_str().to_owned()),
        (
            "thumbprint",
            r.thumbprint.map(|t| t.to_hex()).unwrap_or_default(),
        ),
        ("key_id", r.key_id.to_string()),
    ];
    pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", label_value(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A label value as the exposition format writes it: backslash, double quote and line feed
/// escaped (`\\`, `\"`, `\n`, the only escapes it has). Any other control or bidi character
/// from the tenant becomes U+FFFD: the format has no escape for it, and it must not reach a
/// terminal or a file someone reads raw.
pub fn label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if needs_escape(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_what_the_format_says_and_replace_other_controls() {
        assert_eq!(label_value("plain"), "plain");
        assert_eq!(
            label_value("a\\b\"c\"\nd"),
            "a\\\\b\\\"c\\\"\\nd",
            "backslash, double quote, line feed"
        );
        assert_eq!(
            label_value("x\x1b[2K\ty\u{202e}"),
            "x\u{fffd}[2K\u{fffd}y\u{fffd}"
        );
    }
}
