//! The plain fields of an application and its service principal, in one table.
//!
//! A field here is a scalar or a list of Graph's that entraform compares and writes whole. Each
//! entry names its Graph property (a dotted path, `web.logoutUrl`), which is also its manifest
//! key under `spec` (or `spec.servicePrincipal`), and its [`Kind`], which says how a value is
//! checked, normalised and compared. From the table follow: manifest validation, what the
//! planner compares and shows (before/after, under [`Field::attr`]), the create body and the
//! patch (the value at its path), what `observe` reads and fingerprints, and what `export`
//! writes. Adding a field is one entry here and its typed key in `manifest/raw.rs` (the schema
//! and docs follow).
//!
//! Values are JSON, in Graph's own shape; [`Field::normalize`] turns any value Graph or a
//! manifest may hold into one canonical value, so equal meaning compares equal (an empty text
//! and `null`, a list in any order, an absent flag and `false`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::entitlements::{self, Entitlement};
use super::pre_authorized;

/// Which Graph object a field lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Application,
    ServicePrincipal,
}

/// How a field's values are checked, normalised and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text of at most `max` characters; empty is absent (`null`).
    Text { max: usize },
    /// An absolute `http(s)` URL of at most `max` characters; empty is absent.
    Url { max: usize },
    /// `true` or `false`; absent is `default`.
    Flag { default: bool },
    /// One of these integers; absent is `default`.
    Int {
        allowed: &'static [i64],
        default: i64,
    },
    /// Comma-separated names from `allowed` (Graph's `groupMembershipClaims`); order does not
    /// matter, and `None` or empty is absent.
    Names { allowed: &'static [&'static str] },
    /// A set of strings, each checked by `item`: order and repeats do not matter.
    Set { item: Item },
    /// An object of flags, each absent as `false` (`implicitGrantSettings`).
    Flags { members: &'static [&'static str] },
    /// `optionalClaims`: claims per token type, each a set.
    OptionalClaims,
    /// `appRoles` or `api.oauth2PermissionScopes`: entries declared by `value`, each with the
    /// `id` the plan decides ([`super::entitlements`]).
    Entitlements(Entitlement),
    /// `api.preAuthorizedApplications`: a manifest names clients and scope values, Graph holds
    /// appIds and scope ids ([`super::pre_authorized`]); the planner resolves one to the other.
    PreAuthorized,
}

/// What one item of a [`Kind::Set`] must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// Any non-empty text of at most 256 characters.
    Text,
    /// An email address.
    Email,
    /// An App ID URI: `api://…`, or `https://…` on a verified domain (the tenant checks that).
    IdentifierUri,
    /// A redirect URI of a web or single-page app: `https://…`, or `http://localhost…`.
    WebRedirect,
    /// A redirect URI of a public client: any scheme (`msal<appId>://auth`,
    /// `urn:ietf:wg:oauth:2.0:oob`).
    PublicClientRedirect,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Graph's property path on the object, dotted; also the manifest key path.
    pub path: &'static str,
    pub on: On,
    pub kind: Kind,
    /// A value of this field, for the docs and the tests that set every field.
    pub example: &'static str,
    /// Another value, which the tests write behind entraform's back.
    pub other: &'static str,
}

/// Graph's redirect URI limit, and the one TFAD applies to `logoutUrl` (≤ 255).
const URI_MAX: usize = 256;

/// Every field, in the order plans and exports show them.
pub const FIELDS: &[Field] = &[
    Field {
        path: "notes",
        on: On::Application,
        kind: Kind::Text { max: 1024 },
        example: r#""Owned by the platform team""#,
        other: r#""changed by hand""#,
    },
    Field {
        path: "serviceManagementReference",
        on: On::Application,
        kind: Kind::Text { max: 1024 },
        example: r#""CI-1234""#,
        other: r#""CI-9999""#,
    },
    Field {
        path: "groupMembershipClaims",
        on: On::Application,
        kind: Kind::Names {
            allowed: &[
                "None",
                "SecurityGroup",
                "All",
                "ApplicationGroup",
                "DirectoryRole",
            ],
        },
        example: r#""SecurityGroup""#,
        other: r#""All""#,
    },
    Field {
        path: "isFallbackPublicClient",
        on: On::Application,
        kind: Kind::Flag { default: false },
        example: "true",
        other: "false",
    },
    Field {
        path: "identifierUris",
        on: On::Application,
        kind: Kind::Set {
            item: Item::IdentifierUri,
        },
        example: r#"["api://entraform-example"]"#,
        other: r#"["api://changed-by-hand"]"#,
    },
    Field {
        path: "info.marketingUrl",
        on: On::Application,
        kind: Kind::Url { max: URI_MAX },
        example: r#""https://contoso.com/app""#,
        other: r#""https://contoso.com/other""#,
    },
    Field {
        path: "info.privacyStatementUrl",
        on: On::Application,
        kind: Kind::Url { max: URI_MAX },
        example: r#""https://contoso.com/privacy""#,
        other: r#""https://contoso.com/other""#,
    },
    Field {
        path: "info.supportUrl",
        on: On::Application,
        kind: Kind::Url { max: URI_MAX },
        example: r#""https://contoso.com/support""#,
        other: r#""https://contoso.com/other""#,
    },
    Field {
        path: "info.termsOfServiceUrl",
        on: On::Application,
        kind: Kind::Url { max: URI_MAX },
        example: r#""https://contoso.com/terms""#,
        other: r#""https://contoso.com/other""#,
    },
    Field {
        path: "web.homePageUrl",
        on: On::Application,
        kind: Kind::Url { max: URI_MAX },
        example: r#""https://app.contoso.com/""#,
        other: r#""https://contoso.com/other""#,
    },
    Field {
        path: "web.logoutUrl",
        on: On::Application,
        kind: Kind::Url { max: 255 },
        example: r#""https://app.contoso.com/logout""#,
        other: r#""https://contoso.com/other""#,
    },
    Field {
        path: "web.implicitGrantSettings",
        on: On::Application,
        kind: Kind::Flags {
            members: &["enableIdTokenIssuance", "enableAccessTokenIssuance"],
        },
        example: r#"{"enableIdTokenIssuance": true}"#,
        other: r#"{"enableAccessTokenIssuance": true}"#,
    },
    Field {
        path: "spa.redirectUris",
        on: On::Application,
        kind: Kind::Set {
            item: Item::WebRedirect,
        },
        example: r#"["https://app.contoso.com/spa"]"#,
        other: r#"["https://contoso.com/other"]"#,
    },
    Field {
        path: "publicClient.redirectUris",
        on: On::Application,
        kind: Kind::Set {
            item: Item::PublicClientRedirect,
        },
        example: r#"["msalexample://auth", "urn:ietf:wg:oauth:2.0:oob"]"#,
        other: r#"["https://contoso.com/other"]"#,
    },
    Field {
        path: "api.requestedAccessTokenVersion",
        on: On::Application,
        kind: Kind::Int {
            allowed: &[1, 2],
            default: 1,
        },
        example: "2",
        other: "1",
    },
    Field {
        path: "optionalClaims",
        on: On::Application,
        kind: Kind::OptionalClaims,
        example: r#"{"idToken": [{"name": "upn", "additionalProperties": ["include_externally_authenticated_upn"]}], "accessToken": [{"name": "groups"}], "saml2Token": [{"name": "email", "essential": true}]}"#,
        other: r#"{"idToken": [{"name": "email"}]}"#,
    },
    Field {
        path: "appRoles",
        on: On::Application,
        kind: Kind::Entitlements(Entitlement::AppRole),
        example: r#"[{"value": "Reports.Read", "displayName": "Read reports", "description": "Read every report", "allowedMemberTypes": ["User", "Application"]}]"#,
        other: r#"[{"value": "Reports.Read", "displayName": "Read reports", "description": "changed by hand", "allowedMemberTypes": ["Application", "User"]}]"#,
    },
    Field {
        path: "api.oauth2PermissionScopes",
        on: On::Application,
        kind: Kind::Entitlements(Entitlement::Scope),
        example: r#"[{"value": "access_as_user", "adminConsentDisplayName": "Access the API", "adminConsentDescription": "Lets the app call the API as the signed-in user", "type": "User"}]"#,
        other: r#"[{"value": "access_as_user", "adminConsentDisplayName": "changed by hand", "adminConsentDescription": "Lets the app call the API as the signed-in user", "type": "User"}]"#,
    },
    // The clients are Microsoft's Azure CLI and Azure PowerShell (first-party appIds).
    Field {
        path: pre_authorized::PATH,
        on: On::Application,
        kind: Kind::PreAuthorized,
        example: r#"[{"app": "04b07795-8ddf-461a-bbee-02f9e1bf7b46", "scopes": ["access_as_user"]}]"#,
        other: r#"[{"app": "1950a258-227b-4e31-a9cf-717495945fc2", "scopes": ["access_as_user"]}]"#,
    },
    Field {
        path: "appRoleAssignmentRequired",
        on: On::ServicePrincipal,
        kind: Kind::Flag { default: false },
        example: "true",
        other: "false",
    },
    Field {
        path: "accountEnabled",
        on: On::ServicePrincipal,
        kind: Kind::Flag { default: true },
        example: "false",
        other: "true",
    },
    Field {
        path: "tags",
        on: On::ServicePrincipal,
        kind: Kind::Set { item: Item::Text },
        example: r#"["HideApp"]"#,
        other: r#"["ChangedByHand"]"#,
    },
    Field {
        path: "notificationEmailAddresses",
        on: On::ServicePrincipal,
        kind: Kind::Set { item: Item::Email },
        example: r#"["admins@contoso.com"]"#,
        other: r#"["someone@contoso.com"]"#,
    },
    Field {
        path: "description",
        on: On::ServicePrincipal,
        kind: Kind::Text { max: 1024 },
        example: r#""Exchange Online automation for the service desk""#,
        other: r#""changed by hand""#,
    },
    Field {
        path: "notes",
        on: On::ServicePrincipal,
        kind: Kind::Text { max: 1024 },
        example: r#""Enterprise app of the platform team""#,
        other: r#""changed by hand""#,
    },
];

/// The fields on `on`.
pub fn fields_on(on: On) -> impl Iterator<Item = &'static Field> {
    FIELDS.iter().filter(move |f| f.on == on)
}

/// The field on `on` at `path`.
pub fn field(on: On, path: &str) -> Option<&'static Field> {
    fields_on(on).find(|f| f.path == path)
}

/// The top-level Graph properties the fields on `on` live in (`web` for `web.logoutUrl`), for
/// a `$select`.
pub fn top_level_properties(on: On) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for f in fields_on(on) {
        let top = f.path.split('.').next().unwrap_or(f.path);
        if !out.contains(&top) {
            out.push(top);
        }
    }
    out
}

/// Values of fields by [`Field::path`]; for a manifest, only the fields it manages.
///
/// A list sorted by path, not a map: a plan holds one per application and service principal
/// (20,000 at 10,000 apps), and a B-tree's nodes of eleven slots cost half as much again.
/// Paths are the field table's (`'static`), shared by every object. Written as a map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    from = "BTreeMap<Cow<'static, str>, Value>",
    into = "BTreeMap<Cow<'static, str>, Value>"
)]
pub struct FieldValues(Vec<(Cow<'static, str>, Value)>);

impl From<BTreeMap<Cow<'static, str>, Value>> for FieldValues {
    fn from(map: BTreeMap<Cow<'static, str>, Value>) -> Self {
        FieldValues(map.into_iter().collect())
    }
}

impl From<FieldValues> for BTreeMap<Cow<'static, str>, Value> {
    fn from(values: FieldValues) -> Self {
        values.0.into_iter().collect()
    }
}

impl FieldValues {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, path: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(p, _)| p.as_ref().cmp(path))
    }

    pub fn get(&self, path: &str) -> Option<&Value> {
        self.position(path).ok().map(|at| &self.0[at].1)
    }

    fn get_mut(&mut self, path: &str) -> Option<&mut Value> {
        self.position(path).ok().map(|at| &mut self.0[at].1)
    }

    pub fn insert(&mut self, path: &'static str, value: Value) {
        match self.position(path) {
            Ok(at) => self.0[at].1 = value,
            Err(at) => self.0.insert(at, (Cow::Borrowed(path), value)),
        }
    }

    /// The values of the fields on `on`, each normalised, read from the object Graph returned;
    /// a field Graph did not return reads as its default.
    pub fn read(on: On, object: &Value) -> Self {
        let mut out = FieldValues::default();
        for f in fields_on(on) {
            out.insert(f.path, f.normalize(get_path(object, f.path)));
        }
        out.0.shrink_to_fit();
        out
    }

    /// [`Self::read`] of a service principal: its `tags` without its application's, which
    /// Graph shows on it too (serviceprincipal reference: the union of both).
    pub fn read_service_principal(object: &Value, app_tags: &[String]) -> Self {
        let mut out = Self::read(On::ServicePrincipal, object);
        if let Some(Value::Array(tags)) = out.get_mut("tags") {
            tags.retain(|t| !t.as_str().is_some_and(|t| app_tags.iter().any(|a| a == t)));
        }
        out
    }

    /// The values on `on` (with their fields), in table order.
    pub fn on(&self, on: On) -> impl Iterator<Item = (&'static Field, &Value)> {
        fields_on(on).filter_map(|f| self.get(f.path).map(|v| (f, v)))
    }

    /// Sets every value at its path in `body` (a Graph write), merging into objects already
    /// there: `web.logoutUrl` joins a `web` that carries `redirectUris`.
    pub fn write_into(&self, body: &mut Map<String, Value>) {
        for (path, value) in &self.0 {
            set_path(body, path, value.clone());
        }
    }
}

impl Field {
    /// The name plans show it by: the path in snake case (`web.logout_url`), under
    /// `service_principal` for the service principal's resource.
    pub fn attr(&self) -> String {
        self.path
            .split('.')
            .map(snake_case)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The canonical form of `value` (`None`: Graph did not return it, or the manifest left
    /// it out of an object).
    pub fn normalize(&self, value: Option<&Value>) -> Value {
        let value = value.unwrap_or(&Value::Null);
        match self.kind {
            Kind::Text { .. } | Kind::Url { .. } => match value.as_str() {
                Some(s) if !s.is_empty() => Value::String(s.to_owned()),
                _ => Value::Null,
            },
            Kind::Flag { default } => Value::Bool(value.as_bool().unwrap_or(default)),
            Kind::Int { default, .. } => Value::from(value.as_i64().unwrap_or(default)),
            Kind::Names { allowed } => {
                let mut names: Vec<&str> = value
                    .as_str()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case("None"))
                    .map(|n| {
                        allowed
                            .iter()
                            .find(|a| a.eq_ignore_ascii_case(n))
                            .copied()
                            .unwrap_or(n)
                    })
                    .collect();
                names.sort_unstable();
                names.dedup();
                if names.is_empty() {
                    Value::Null
                } else {
                    Value::String(names.join(","))
                }
            }
            Kind::Set { .. } => string_set(value),
            Kind::Flags { members } => {
                let mut out = Map::new();
                for m in members {
                    let on = value.get(m).and_then(Value::as_bool).unwrap_or(false);
                    out.insert((*m).to_owned(), Value::Bool(on));
                }
                Value::Object(out)
            }
            Kind::OptionalClaims => optional_claims(value),
            Kind::Entitlements(kind) => entitlements::normalize(kind, value),
            Kind::PreAuthorized => pre_authorized::normalize(value),
        }
    }

    /// The canonical form of a manifest's value: [`Self::normalize`], except for a field whose
    /// manifest form the planner resolves into Graph's ([`Kind::PreAuthorized`]).
    pub fn normalize_manifest(&self, value: &Value) -> Value {
        match self.kind {
            Kind::PreAuthorized => pre_authorized::normalize_manifest(value),
            _ => self.normalize(Some(value)),
        }
    }

    /// The normalised value a Graph object without this field set has.
    pub fn default_value(&self) -> Value {
        self.normalize(None)
    }

    /// How `export` writes a normalised value: `None` for the default (an untouched object
    /// has it, so the manifest need not say it); objects without their default members.
    pub fn export(&self, value: &Value) -> Option<Value> {
        if *value == self.default_value() {
            return None;
        }
        Some(match self.kind {
            Kind::Flags { .. } => compact(value),
            Kind::OptionalClaims => {
                let mut out = Map::new();
                for (token, claims) in value.as_object().into_iter().flatten() {
                    let claims: Vec<Value> = claims
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(compact)
                        .collect();
                    if !claims.is_empty() {
                        out.insert(token.clone(), Value::Array(claims));
                    }
                }
                Value::Object(out)
            }
            Kind::Entitlements(_) => entitlements::export(value),
            _ => value.clone(),
        })
    }

    /// What is wrong with a manifest's value, if anything (its type is the schema's to check).
    pub fn check(&self, value: &Value) -> Result<(), String> {
        match self.kind {
            Kind::Text { max } => match value.as_str() {
                Some(s) if s.chars().count() > max => Err(format!(
                    "is {} characters long; Entra ID allows at most {max}",
                    s.chars().count()
                )),
                Some(_) => Ok(()),
                None => Err("must be text".to_owned()),
            },
            Kind::Url { max } => match value.as_str() {
                Some(s) => check_url(s, max, false),
                None => Err("must be a URL".to_owned()),
            },
            Kind::Flag { .. } => value
                .as_bool()
                .map(|_| ())
                .ok_or_else(|| "must be `true` or `false`".to_owned()),
            Kind::Int { allowed, .. } => match value.as_i64() {
                Some(n) if allowed.contains(&n) => Ok(()),
                _ => Err(format!(
                    "must be one of {}",
                    allowed
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
            Kind::Names { allowed } => {
                let Some(s) = value.as_str() else {
                    return Err("must be text".to_owned());
                };
                for name in s.split(',').map(str::trim) {
                    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(name)) {
                        return Err(format!(
                            "`{name}` is not one of {} (several are joined by commas)",
                            allowed
                                .iter()
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
                Ok(())
            }
            Kind::Set { item } => {
                let Some(items) = value.as_array() else {
                    return Err("must be a list".to_owned());
                };
                let mut seen = Vec::new();
                for i in items {
                    let Some(s) = i.as_str() else {
                        return Err("must be a list of text".to_owned());
                    };
                    item.check(s).map_err(|e| format!("`{s}` {e}"))?;
                    if seen.contains(&s) {
                        return Err(format!("lists `{s}` twice"));
                    }
                    seen.push(s);
                }
                Ok(())
            }
            Kind::Flags { members } => {
                let Some(map) = value.as_object() else {
                    return Err("must be a mapping".to_owned());
                };
                for (k, v) in map {
                    if !members.contains(&k.as_str()) || !v.is_boolean() {
                        return Err(format!(
                            "takes only {} (`true` or `false`)",
                            members.join(" and ")
                        ));
                    }
                }
                Ok(())
            }
            Kind::OptionalClaims => check_optional_claims(value),
            Kind::Entitlements(_) | Kind::PreAuthorized => match self.problems(value).first() {
                Some((at, message)) => Err(format!("{at} {message}").trim_start().to_owned()),
                None => Ok(()),
            },
        }
    }

    /// Every problem of a manifest's value, each with where it is below the field (`[1].value`,
    /// empty for the field itself).
    pub fn problems(&self, value: &Value) -> Vec<(String, String)> {
        match self.kind {
            Kind::Entitlements(kind) => entitlements::check(kind, value),
            Kind::PreAuthorized => pre_authorized::check(value),
            _ => self
                .check(value)
                .err()
                .map(|e| (String::new(), e))
                .into_iter()
                .collect(),
        }
    }
}

impl Item {
    fn check(self, s: &str) -> Result<(), String> {
        if s.is_empty() {
            return Err("is empty".to_owned());
        }
        if s.chars().count() > URI_MAX {
            return Err(format!("is longer than {URI_MAX} characters"));
        }
        match self {
            Item::Text => Ok(()),
            Item::Email => {
                let (local, domain) = s.split_once('@').unwrap_or_default();
                if local.is_empty() || !domain.contains('.') || s.contains(char::is_whitespace) {
                    Err("is not an email address".to_owned())
                } else {
                    Ok(())
                }
            }
            // identifier-uri-restrictions: `api://` or `https://` (the host on a verified
            // domain, which only the tenant can check).
            Item::IdentifierUri => {
                let rest = s
                    .strip_prefix("api://")
                    .or_else(|| s.strip_prefix("https://"));
                match rest {
                    Some(r) if !r.is_empty() && !r.contains(char::is_whitespace) => Ok(()),
                    _ => Err(
                        "is not an App ID URI: use `api://…` or `https://<verified domain>/…`"
                            .to_owned(),
                    ),
                }
            }
            Item::WebRedirect => check_url(s, URI_MAX, true),
            Item::PublicClientRedirect => {
                if s.contains(char::is_whitespace) || !s.contains(':') {
                    Err("is not a URI".to_owned())
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// `https://…`, or `http://` on localhost when `localhost_http`, or any `http(s)` otherwise.
fn check_url(s: &str, max: usize, localhost_only_http: bool) -> Result<(), String> {
    if s.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    let host_of = |rest: &str| -> String {
        rest.split(['/', '?', '#'])
            .next()
            .unwrap_or_default()
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    if let Some(rest) = s.strip_prefix("https://") {
        if host_of(rest).is_empty() || s.contains(char::is_whitespace) {
            return Err("is not an absolute URL".to_owned());
        }
        return Ok(());
    }
    if let Some(rest) = s.strip_prefix("http://") {
        let host = host_of(rest);
        let host = host.split(':').next().unwrap_or_default();
        if host.is_empty() || s.contains(char::is_whitespace) {
            return Err("is not an absolute URL".to_owned());
        }
        if localhost_only_http && !matches!(host, "localhost" | "127.0.0.1") {
            return Err("must use `https://` (`http://` only for localhost)".to_owned());
        }
        return Ok(());
    }
    Err("must be an `https://` URL".to_owned())
}

/// The token types of `optionalClaims`, and the members of a claim.
const TOKENS: &[&str] = &["idToken", "accessToken", "saml2Token"];
const CLAIM_MEMBERS: &[&str] = &["name", "source", "essential", "additionalProperties"];

fn check_optional_claims(value: &Value) -> Result<(), String> {
    let Some(map) = value.as_object() else {
        return Err("must be a mapping of `idToken`, `accessToken` and `saml2Token`".to_owned());
    };
    for (token, claims) in map {
        if !TOKENS.contains(&token.as_str()) {
            return Err(format!(
                "has `{token}`; the token types are `idToken`, `accessToken` and `saml2Token`"
            ));
        }
        let mut seen = Vec::new();
        for claim in claims.as_array().into_iter().flatten() {
            let Some(name) = claim.get("name").and_then(Value::as_str) else {
                return Err(format!("`{token}`: every claim needs a `name`"));
            };
            if let Some(m) = claim.as_object()
                && let Some(k) = m.keys().find(|k| !CLAIM_MEMBERS.contains(&k.as_str()))
            {
                return Err(format!("`{token}` claim `{name}`: unknown key `{k}`"));
            }
            let source = claim.get("source").and_then(Value::as_str);
            if seen.contains(&(name, source)) {
                return Err(format!("`{token}` lists the claim `{name}` twice"));
            }
            seen.push((name, source));
        }
    }
    Ok(())
}

/// Each token type's claims sorted by name and source, each claim with every member.
fn optional_claims(value: &Value) -> Value {
    let mut out = Map::new();
    for token in TOKENS {
        let mut claims: Vec<Value> = value
            .get(token)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                let mut m = Map::new();
                m.insert("name".into(), c.get("name").cloned().unwrap_or(Value::Null));
                m.insert(
                    "source".into(),
                    c.get("source")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map_or(Value::Null, |s| Value::String(s.to_owned())),
                );
                m.insert(
                    "essential".into(),
                    Value::Bool(c.get("essential").and_then(Value::as_bool).unwrap_or(false)),
                );
                m.insert(
                    "additionalProperties".into(),
                    string_set(c.get("additionalProperties").unwrap_or(&Value::Null)),
                );
                Value::Object(m)
            })
            .collect();
        claims.sort_by_key(|c| (c["name"].to_string(), c["source"].to_string()));
        out.insert((*token).to_owned(), Value::Array(claims));
    }
    Value::Object(out)
}

/// An object without its `null`, `false` and `[]` members.
fn compact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| {
                    !(v.is_null()
                        || **v == Value::Bool(false)
                        || v.as_array().is_some_and(Vec::is_empty))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A JSON array of the strings in `value`, sorted, each once.
fn string_set(value: &Value) -> Value {
    let mut items: Vec<String> = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    items.sort();
    items.dedup();
    Value::Array(items.into_iter().map(Value::String).collect())
}

/// The value at a dotted path, if every step is there.
pub fn get_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(object, |v, key| v.get(key))
}

/// Sets `value` at a dotted path, making (or reusing) the objects on the way.
pub fn set_path(object: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            object.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = object
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !inner.is_object() {
                *inner = Value::Object(Map::new());
            }
            if let Value::Object(m) = inner {
                set_path(m, rest, value);
            }
        }
    }
}

/// Removes the value at a dotted path, and the objects it leaves empty.
pub fn remove_path(object: &mut Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            object.remove(path);
        }
        Some((head, rest)) => {
            if let Some(Value::Object(m)) = object.get_mut(head) {
                remove_path(m, rest);
                if m.is_empty() {
                    object.remove(head);
                }
            }
        }
    }
}

fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn every_example_is_valid_and_differs_from_its_other_value_and_the_default() {
        for f in FIELDS {
            let (example, other) = (json(f.example), json(f.other));
            assert_eq!(f.check(&example), Ok(()), "{}", f.path);
            assert_eq!(f.check(&other), Ok(()), "{}", f.path);
            let example = f.normalize_manifest(&example);
            assert_ne!(example, f.normalize_manifest(&other), "{}", f.path);
            assert_ne!(example, f.normalize_manifest(&json("[]")), "{}", f.path);
        }
    }

    #[test]
    fn graph_spellings_of_nothing_compare_equal_to_absent() {
        let notes = field(On::Application, "notes").unwrap();
        assert_eq!(notes.normalize(Some(&json(r#""""#))), Value::Null);
        let groups = field(On::Application, "groupMembershipClaims").unwrap();
        assert_eq!(groups.normalize(Some(&json(r#""None""#))), Value::Null);
        assert_eq!(
            groups.normalize(Some(&json(r#""DirectoryRole, securitygroup""#))),
            json(r#""DirectoryRole,SecurityGroup""#)
        );
        let grant = field(On::Application, "web.implicitGrantSettings").unwrap();
        assert_eq!(
            grant.normalize(None),
            grant.normalize(Some(&json(r#"{"enableIdTokenIssuance": false}"#)))
        );
        let version = field(On::Application, "api.requestedAccessTokenVersion").unwrap();
        assert_eq!(version.normalize(Some(&Value::Null)), json("1"));
        let claims = field(On::Application, "optionalClaims").unwrap();
        assert_eq!(
            claims.normalize(Some(&json(r#"{"idToken": [{"name": "b"}, {"name": "a", "essential": false, "additionalProperties": []}]}"#))),
            claims.normalize(Some(&json(r#"{"idToken": [{"name": "a"}, {"name": "b", "source": null}], "saml2Token": []}"#)))
        );
    }

    #[test]
    fn values_merge_into_a_body_by_path() {
        let mut values = FieldValues::default();
        values.insert("web.logoutUrl", json(r#""https://a/""#));
        values.insert("notes", Value::Null);
        let mut body = json(r#"{"web": {"redirectUris": []}}"#)
            .as_object()
            .cloned()
            .unwrap();
        values.write_into(&mut body);
        assert_eq!(
            Value::Object(body),
            json(r#"{"web": {"redirectUris": [], "logoutUrl": "https://a/"}, "notes": null}"#)
        );
    }

    #[test]
    fn urls_and_uris_follow_graphs_rules() {
        let logout = field(On::Application, "web.logoutUrl").unwrap();
        assert!(logout.check(&json(r#""ftp://x""#)).is_err());
        let spa = field(On::Application, "spa.redirectUris").unwrap();
        assert!(spa.check(&json(r#"["http://contoso.com/"]"#)).is_err());
        assert!(spa.check(&json(r#"["http://localhost:3000/"]"#)).is_ok());
        assert!(spa.check(&json(r#"["https://a/", "https://a/"]"#)).is_err());
        let ids = field(On::Application, "identifierUris").unwrap();
        assert!(ids.check(&json(r#"["urn:x"]"#)).is_err());
        assert!(ids.check(&json(r#"["https://contoso.com/api"]"#)).is_ok());
        assert_eq!(logout.attr(), "web.logout_url");
    }
}
