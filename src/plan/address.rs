//! Addresses users can read and grep for: `application.exo-v2-app`,
//! `certificate.exo-v2-app["automation"]`. An address names one object the plan manages.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kinds of object a plan addresses, in the order their changes are applied within an app
/// (an application exists before its service principal, which exists before its permissions...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Application,
    ServicePrincipal,
    AppRoleAssignment,
    DelegatedGrant,
    DirectoryRoleAssignment,
    Owner,
    Certificate,
    KeyCredential,
    ClientSecret,
    FederatedCredential,
    /// A user or group assigned to one of the app's roles.
    Assignment,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 11] = [
        Self::Application,
        Self::ServicePrincipal,
        Self::AppRoleAssignment,
        Self::DelegatedGrant,
        Self::DirectoryRoleAssignment,
        Self::Owner,
        Self::Certificate,
        Self::KeyCredential,
        Self::ClientSecret,
        Self::FederatedCredential,
        Self::Assignment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::ServicePrincipal => "service_principal",
            Self::AppRoleAssignment => "app_role_assignment",
            Self::DelegatedGrant => "delegated_grant",
            Self::DirectoryRoleAssignment => "directory_role_assignment",
            Self::Owner => "owner",
            Self::Certificate => "certificate",
            Self::KeyCredential => "key_credential",
            Self::ClientSecret => "client_secret",
            Self::FederatedCredential => "federated_credential",
            Self::Assignment => "assignment",
        }
    }

    /// The group a kind is applied in: application, service principal, permissions, roles,
    /// owners, certificates, federated credentials. Kinds in one group sort by address.
    pub fn group(self) -> u8 {
        match self {
            Self::Application => 0,
            Self::ServicePrincipal => 1,
            Self::AppRoleAssignment | Self::DelegatedGrant => 2,
            Self::DirectoryRoleAssignment | Self::Assignment => 3,
            Self::Owner => 4,
            Self::Certificate | Self::KeyCredential | Self::ClientSecret => 5,
            Self::FederatedCredential => 6,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `<kind>.<app>` or `<kind>.<app>["<key>"]`; the key is quoted with `"` and `\` escaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub kind: ResourceKind,
    /// The app's `metadata.name` (for a pruned app: its `uniqueName`, else its appId).
    pub app: String,
    pub key: Option<String>,
}

impl Address {
    pub fn app(kind: ResourceKind, app: impl Into<String>) -> Self {
        Self {
            kind,
            app: app.into(),
            key: None,
        }
    }

    pub fn keyed(kind: ResourceKind, app: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            kind,
            app: app.into(),
            key: Some(key.into()),
        }
    }
}

/// Names from the tenant can hold anything, a terminal escape included: an address shows
/// control characters as escapes (`\n`, `\u001b`), so it is always one printable line, and
/// parses back to the same name.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.", self.kind)?;
        write_escaped(f, &self.app, &['\\'])?;
        if let Some(key) = &self.key {
            f.write_str("[\"")?;
            write_escaped(f, key, &['"', '\\'])?;
            f.write_str("\"]")?;
        }
        Ok(())
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str, quoted: &[char]) -> fmt::Result {
    for c in text.chars() {
        if quoted.contains(&c) {
            write!(f, "\\{c}")?;
        } else if crate::style::needs_escape(c) {
            let mut escaped = String::new();
            crate::style::push_escaped(&mut escaped, c);
            f.write_str(&escaped)?;
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

/// Reverses [`write_escaped`]; `None` on a dangling or unknown escape, or on a character of
/// `forbidden` that is not escaped.
fn unescape(text: &str, forbidden: &[char]) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if forbidden.contains(&c) {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let rest = chars.as_str();
                let code = u32::from_str_radix(rest.get(..4)?, 16).ok()?;
                out.push(char::from_u32(code)?);
                chars = rest[4..].chars();
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Addresses sort by app, then kind group, then their text: the plan's display order.
impl Ord for Address {
    fn cmp(&self, other: &Self) -> Ordering {
        self.app
            .cmp(&other.app)
            .then(self.kind.group().cmp(&other.kind.group()))
            .then_with(|| self.to_string().cmp(&other.to_string()))
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a plan address (expected e.g. `certificate.my-app[\"automation\"]`)")]
pub struct InvalidAddress(pub String);

impl FromStr for Address {
    type Err = InvalidAddress;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidAddress(s.to_owned());
        let (kind, rest) = s.split_once('.').ok_or_else(bad)?;
        let kind = ResourceKind::parse(kind).ok_or_else(bad)?;
        let Some(open) = rest.find("[\"") else {
            if rest.is_empty() {
                return Err(bad());
            }
            return Ok(Address::app(kind, unescape(rest, &[]).ok_or_else(bad)?));
        };
        let (app, quoted) = rest.split_at(open);
        let inner = quoted
            .strip_prefix("[\"")
            .and_then(|q| q.strip_suffix("\"]"))
            .ok_or_else(bad)?;
        let key = unescape(inner, &['"']).ok_or_else(bad)?;
        if app.is_empty() {
            return Err(bad());
        }
        Ok(Address::keyed(
            kind,
            unescape(app, &[]).ok_or_else(bad)?,
            key,
        ))
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_print_like_the_issue_shows_them() {
        assert_eq!(
            Address::app(ResourceKind::Application, "exo-v2-app").to_string(),
            "application.exo-v2-app"
        );
        assert_eq!(
            Address::keyed(
                ResourceKind::AppRoleAssignment,
                "exo-v2-app",
                "Office 365 Exchange Online/Exchange.ManageAsApp"
            )
            .to_string(),
            r#"app_role_assignment.exo-v2-app["Office 365 Exchange Online/Exchange.ManageAsApp"]"#
        );
        assert_eq!(
            Address::keyed(ResourceKind::Certificate, "a", r#"say "hi" \o/"#).to_string(),
            r#"certificate.a["say \"hi\" \\o/"]"#
        );
    }

    #[test]
    fn addresses_parse_back_to_themselves() {
        for a in [
            Address::app(ResourceKind::ServicePrincipal, "exo-v2-app"),
            Address::keyed(ResourceKind::FederatedCredential, "x", "github-main"),
            Address::keyed(ResourceKind::Owner, "x", r#"we"ird\key"#),
            Address::keyed(ResourceKind::Owner, "x", "\x1b[2K\n\u{202e}\\u001b"),
            Address::app(ResourceKind::Application, "renamed\x1b[1A\\n"),
            Address::keyed(
                ResourceKind::DirectoryRoleAssignment,
                "x",
                "Exchange Administrator at /administrativeUnits/1",
            ),
        ] {
            assert_eq!(a.to_string().parse::<Address>().unwrap(), a);
        }
        for bad in [
            "",
            "application",
            "application.",
            "nope.x",
            "owner.x[\"a",
            "owner.[\"a\"]",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }

    #[test]
    fn control_characters_in_names_print_as_escapes() {
        let a = Address::keyed(ResourceKind::FederatedCredential, "a\x1b[1A", "k\x1b[2K\nx");
        assert_eq!(
            a.to_string(),
            r#"federated_credential.a\u001b[1A["k\u001b[2K\nx"]"#
        );
    }

    #[test]
    fn addresses_sort_by_app_then_kind_group_then_text() {
        let mut v = [
            Address::keyed(ResourceKind::FederatedCredential, "a", "z"),
            Address::keyed(ResourceKind::KeyCredential, "a", "0000"),
            Address::keyed(ResourceKind::Certificate, "a", "zz"),
            Address::app(ResourceKind::ServicePrincipal, "a"),
            Address::app(ResourceKind::Application, "b"),
            Address::keyed(ResourceKind::DelegatedGrant, "a", "Microsoft Graph"),
            Address::keyed(ResourceKind::AppRoleAssignment, "a", "Microsoft Graph/X"),
            Address::app(ResourceKind::Application, "a"),
        ];
        v.sort();
        let printed: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            printed,
            [
                "application.a",
                "service_principal.a",
                r#"app_role_assignment.a["Microsoft Graph/X"]"#,
                r#"delegated_grant.a["Microsoft Graph"]"#,
                r#"certificate.a["zz"]"#,
                r#"key_credential.a["0000"]"#,
                r#"federated_credential.a["z"]"#,
                "application.b",
            ]
        );
    }
}
