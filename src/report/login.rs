//! What `entraform test-login` shows: an app signed in with its own certificate, and what the
//! token it got carries — `roles` (application permissions granted with admin consent) and
//! `wids` (directory role template ids) — so a user knows the automation will work before its
//! first scheduled run. Never the token itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::model::{AppId, Thumbprint};
use crate::style::escape;

/// The claims of an access token that say what the app may do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenClaims {
    /// `aud`: the resource the token is for.
    pub audience: Option<String>,
    /// `tid`.
    pub tenant_id: Option<String>,
    /// `appid` (v1 tokens) or `azp` (v2).
    pub app_id: Option<String>,
    /// `exp`.
    pub expires_at: Option<OffsetDateTime>,
    /// Application permissions on the audience, e.g. `Exchange.ManageAsApp`.
    pub roles: Vec<String>,
    /// Directory role template ids, e.g. Exchange Administrator's.
    pub wids: Vec<String>,
}

/// Reads an access token's claims without verifying its signature: the token comes straight
/// from the sign-in entraform just made, over the connection it trusts. `None` when the token is
/// not a JWT (Microsoft documents access tokens as opaque to clients; in practice they are JWTs).
pub fn decode_claims(token: &str) -> Option<TokenClaims> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let claims = claims.as_object()?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let list = |name: &str| -> Vec<String> {
        claims
            .get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let audience = match claims.get("aud") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    Some(TokenClaims {
        audience,
        tenant_id: text("tid"),
        app_id: text("appid").or_else(|| text("azp")),
        expires_at: claims
            .get("exp")
            .and_then(Value::as_i64)
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()),
        roles: list("roles"),
        wids: list("wids"),
    })
}

/// The certificate the app signed in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCertificate {
    pub path: PathBuf,
    /// The manifest's certificate name, when the file is a generated certificate's `pfx`.
    pub name: Option<String>,
    pub thumbprint: Thumbprint,
    pub not_after: OffsetDateTime,
}

/// An API the app holds application permissions on, and the scope that shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherApi {
    /// As the manifest names it.
    pub api: String,
    pub scope: String,
}

/// A successful sign-in, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginReport {
    /// `metadata.name`.
    pub app: String,
    pub display_name: String,
    pub app_id: AppId,
    pub certificate: LoginCertificate,
    pub scope: String,
    /// The other APIs the app holds application permissions on, each with the scope whose
    /// token would carry those roles.
    pub other_apis: Vec<OtherApi>,
    /// `None` when the token is not a JWT.
    pub claims: Option<TokenClaims>,
    /// Directory role display names by template id (lower case), when the roles were readable.
    pub role_names: BTreeMap<String, String>,
}

fn when(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
    ))
    .unwrap_or_else(|_| utc.to_string())
}

fn date(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_else(|_| utc.date().to_string())
}

/// `in 59 minutes`, `in 2 hours`, `5 minutes ago`.
fn relative(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (t - now).whole_seconds();
    let (n, unit) = match secs.unsigned_abs() {
        s if s < 120 => (s, "second"),
        s if s < 2 * 3600 => (s / 60, "minute"),
        s if s < 2 * 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    let amount = format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs < 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// The sign-in as aligned `label value` lines for stdout.
pub fn render(report: &LoginReport, now: OffsetDateTime) -> String {
    let mut out = format!(
        "`{}` signed in with its certificate.\n\n",
        escape(&report.app)
    );
    // Values come from the tenant and its token: one escaped line each.
    let mut field = |label: &str, value: &str| {
        let _ = writeln!(out, "  {label:<12} {}", escape(value));
    };
    field("app", &format!("{} ({})", report.app, report.display_name));
    field("appId", &report.app_id.to_string());
    let cert = &report.certificate;
    let mut facts = Vec::new();
    if let Some(name) = &cert.name {
        facts.push(format!("certificate `{name}`"));
    }
    facts.push(format!("thumbprint {}", cert.thumbprint));
    facts.push(format!("expires {}", date(cert.not_after)));
    field(
        "certificate",
        &format!("{} ({})", cert.path.display(), facts.join(", ")),
    );
    field("scope", &report.scope);
    let Some(claims) = &report.claims else {
        field(
            "claims",
            "the access token is not a JWT, so its roles cannot be shown",
        );
        return out;
    };
    let unknown = || "(not in the token)".to_owned();
    field("tenant", &claims.tenant_id.clone().unwrap_or_else(unknown));
    field("audience", &claims.audience.clone().unwrap_or_else(unknown));
    field(
        "expires",
        &claims
            .expires_at
            .map_or_else(unknown, |t| format!("{} ({})", when(t), relative(t, now))),
    );
    if claims.roles.is_empty() {
        field("roles", "(none)");
    } else {
        let mut roles = claims.roles.clone();
        roles.sort();
        for (i, role) in roles.iter().enumerate() {
            field(if i == 0 { "roles" } else { "" }, role);
        }
    }
    if claims.wids.is_empty() {
        field("wids", "(none)");
    } else {
        for (i, wid) in claims.wids.iter().enumerate() {
            let value = match report.role_names.get(&wid.to_ascii_lowercase()) {
                Some(name) => format!("{wid}  {name}"),
                None => wid.clone(),
            };
            field(if i == 0 { "wids" } else { "" }, &value);
        }
    }
    out
}

/// Next steps worth a `hint:` line: a token without roles cannot do anything app-only.
pub fn hints(report: &LoginReport) -> Vec<String> {
    let Some(claims) = &report.claims else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let audience = claims.audience.as_deref().unwrap_or(&report.scope);
    if claims.roles.is_empty() && report.other_apis.is_empty() {
        out.push(format!(
            "the token carries no application permissions for `{audience}`: list them under `apiPermissions` with `adminConsent: true` and run `entraform apply`"
        ));
    }
    // Roles are per audience: the others' show in their own tokens.
    for other in &report.other_apis {
        out.push(format!(
            "`{}` roles are in a token for `{}`: `entraform test-login --app {} --scope {}`",
            other.api, other.scope, report.app, other.scope
        ));
    }
    let exchange = claims
        .audience
        .as_deref()
        .is_some_and(|a| a.contains("outlook.office"));
    if exchange && claims.wids.is_empty() {
        out.push(
            "Exchange Online PowerShell also needs a directory role such as `Exchange Administrator` (`directoryRoles` in the manifest)"
                .to_owned(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwt(claims: &Value) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn claims_are_read_from_the_payload() {
        let token = jwt(&json!({
            "aud": "https://outlook.office365.com",
            "tid": "t", "azp": "a", "exp": 1_748_739_600,
            "roles": ["Exchange.ManageAsApp"],
            "wids": ["29232cdf-9323-42fd-ade2-1d097af3e4de"],
        }));
        let c = decode_claims(&token).unwrap();
        assert_eq!(c.audience.as_deref(), Some("https://outlook.office365.com"));
        assert_eq!(c.app_id.as_deref(), Some("a"));
        assert_eq!(c.roles, ["Exchange.ManageAsApp"]);
        assert_eq!(c.wids, ["29232cdf-9323-42fd-ade2-1d097af3e4de"]);
        assert_eq!(
            c.expires_at,
            Some(time::macros::datetime!(2025-06-01 01:00 UTC))
        );
    }

    #[test]
    fn a_token_without_roles_has_empty_lists_and_an_opaque_token_has_no_claims() {
        let c = decode_claims(&jwt(&json!({"aud": ["x"]}))).unwrap();
        assert!(c.roles.is_empty() && c.wids.is_empty());
        assert_eq!(c.audience.as_deref(), Some("x"));
        assert_eq!(decode_claims("opaque-token"), None);
        assert_eq!(decode_claims("a.b.c.d"), None);
        assert_eq!(decode_claims("a.!!!.c"), None);
    }

    #[test]
    fn relative_times_read_naturally() {
        let now = time::macros::datetime!(2025-06-01 00:00 UTC);
        assert_eq!(
            relative(time::macros::datetime!(2025-06-01 00:59:59 UTC), now),
            "in 59 minutes"
        );
        assert_eq!(
            relative(time::macros::datetime!(2025-05-31 23:55 UTC), now),
            "5 minutes ago"
        );
        assert_eq!(
            relative(time::macros::datetime!(2025-06-04 00:00 UTC), now),
            "in 3 days"
        );
    }
}
