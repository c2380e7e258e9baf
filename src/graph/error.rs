//! Graph and sign-in errors, with the ids Microsoft support asks for and a hint for the obvious
//! next step (the permission a 403 needs, what an AADSTS code usually means).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::hint::Hint;

use super::credential::CredentialSource;
use super::redact;

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Graph answered with an error status.
    #[error("{0}")]
    Http(Box<HttpError>),
    /// The token endpoint (or the Azure CLI) refused to sign in.
    #[error("{0}")]
    SignIn(Box<SignInError>),
    /// The request did not get an HTTP answer (connection refused or reset, timeout, TLS).
    #[error("{method} {path}: no response after {attempts} attempt(s)")]
    Transport {
        method: String,
        path: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    /// The server's TLS certificate was refused: it chains to a CA this machine does not trust
    /// (a TLS-inspecting proxy, a served sandbox), or it is invalid.
    #[error(
        "{method} {path}: the server's TLS certificate is not trusted{}",
        issuer.as_ref().map(|i| format!(": it is issued by `{i}`, a CA this machine does not trust")).unwrap_or_default()
    )]
    UntrustedCertificate {
        method: String,
        path: String,
        /// The CA the presented chain is issued by, when a second look could read it.
        issuer: Option<String>,
        #[source]
        source: reqwest::Error,
    },
    /// Graph answered, but not with the JSON entraform expects.
    #[error("{method} {path}: unexpected response body at `{json_path}`")]
    Decode {
        method: String,
        path: String,
        json_path: String,
        #[source]
        source: serde_json::Error,
    },
    /// A credential or input file could not be read.
    #[error("cannot read {what} `{}`", path.display())]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A client certificate could not be loaded or used to sign (the source names the file).
    #[error("cannot use the client certificate for sign-in")]
    Certificate {
        path: PathBuf,
        #[source]
        source: crate::cert::CertError,
    },
    /// The connection settings are incomplete or contradict each other.
    #[error("{message}")]
    Config {
        message: String,
        hint: Option<String>,
    },
    /// One failure shared by several results: the `$batch` call carrying a part failed whole.
    #[error(transparent)]
    Shared(Arc<GraphError>),
    /// The answer was larger than any Graph response (it was not read to the end).
    #[error(
        "{method} {path}: the response is larger than {} MiB, more than any Graph response{}",
        limit / (1024 * 1024),
        request_id.as_deref().map(|id| format!(" (request-id {id})")).unwrap_or_default()
    )]
    ResponseTooLarge {
        method: String,
        path: String,
        limit: u64,
        request_id: Option<String>,
    },
}

impl GraphError {
    /// The HTTP status, when Graph answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Http(e) => Some(e.status),
            GraphError::Shared(e) => e.status(),
            _ => None,
        }
    }

    /// Graph's error `code` (`Request_ResourceNotFound`, …), when Graph answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Http(e) => e.code.as_deref(),
            GraphError::Shared(e) => e.code(),
            _ => None,
        }
    }

    /// A 404 from Graph: callers use it for "not there (yet)" without matching on codes.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub(crate) fn config(message: impl Into<String>, hint: Option<String>) -> Self {
        GraphError::Config {
            message: message.into(),
            hint,
        }
    }
}

/// One item of Graph's `error.details`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
}

/// An error response from Graph, keeping everything needed to act on it or report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub method: String,
    /// The path after `/v1.0`, with its query.
    pub path: String,
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    pub details: Vec<ErrorDetail>,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
    /// `innerError.date`, Graph's clock when it failed.
    pub date: Option<String>,
    /// How many times the request was sent (more than one when it was retried).
    pub attempts: u32,
    /// Set when this came back as one part of a `$batch`.
    pub in_batch: bool,
}

impl HttpError {
    /// Reads Graph's error body field by field, so the code, message and ids survive the
    /// shapes Graph is known to vary: `{"error": …}` or the older `{"odata.error": …}`,
    /// `message` as a string or as `{"lang", "value"}`, `details` as a list or a single object
    /// (manicminer/hamilton `odata/odata.go` records the same variants). Anything else keeps
    /// only the status. Server text is redacted before it is kept ([`redact::server_message`]).
    pub(crate) fn from_body(
        method: &str,
        path: &str,
        status: u16,
        body: Option<&serde_json::Value>,
        request_id: Option<String>,
        client_request_id: Option<String>,
    ) -> Self {
        use serde_json::Value;
        let error = body
            .and_then(|b| b.get("error").or_else(|| b.get("odata.error")))
            .filter(|e| e.is_object());
        let field = |name: &str| error.and_then(|e| e.get(name));
        let code = field("code").and_then(text_of);
        let message = field("message").and_then(text_of);
        let details = match field("details") {
            Some(Value::Array(items)) => items.iter().filter_map(detail_of).collect(),
            Some(one @ Value::Object(_)) => detail_of(one).into_iter().collect(),
            _ => Vec::new(),
        };
        let inner = field("innerError")
            .or_else(|| field("innererror"))
            .filter(|i| i.is_object());
        let inner_text = |name: &str| inner.and_then(|i| i.get(name)).and_then(text_of);
        HttpError {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            code,
            message,
            details,
            request_id: request_id.or_else(|| inner_text("request-id")),
            client_request_id: client_request_id.or_else(|| inner_text("client-request-id")),
            date: inner_text("date"),
            attempts: 1,
            in_batch: false,
        }
    }
}

/// A server's text value, redacted: a string, or an object carrying it in `value`; empty is
/// absent.
fn text_of(v: &serde_json::Value) -> Option<String> {
    let s = match v {
        serde_json::Value::String(s) => s.as_str(),
        serde_json::Value::Object(m) => m.get("value")?.as_str()?,
        _ => return None,
    };
    let s = s.trim();
    (!s.is_empty()).then(|| redact::server_message(s, &[]))
}

fn detail_of(v: &serde_json::Value) -> Option<ErrorDetail> {
    let d = ErrorDetail {
        code: v.get("code").and_then(text_of),
        message: v.get("message").and_then(text_of),
        target: v.get("target").and_then(text_of),
    };
    (d.code.is_some() || d.message.is_some() || d.target.is_some()).then_some(d)
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if self.in_batch {
            f.write_str(" (in $batch)")?;
        }
        write!(f, ": {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        for d in &self.details {
            let text = [d.code.as_deref(), d.target.as_deref(), d.message.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            if !text.is_empty() {
                write!(f, " [{text}]")?;
            }
        }
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        write_ids(
            f,
            &[
                ("request-id", self.request_id.as_deref()),
                ("client-request-id", self.client_request_id.as_deref()),
                ("date", self.date.as_deref()),
            ],
        )
    }
}

/// A refused sign-in: which credential was tried, and what the identity platform said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInError {
    pub credential: CredentialSource,
    pub client_id: Option<String>,
    pub tenant: Option<String>,
    /// HTTP status of the token endpoint's answer; `None` for the Azure CLI.
    pub status: Option<u16>,
    /// OAuth `error` (`invalid_client`, `unauthorized_client`, …).
    pub error: Option<String>,
    /// `error_codes`, the AADSTS numbers.
    pub codes: Vec<u32>,
    /// The first line of `error_description` (the rest repeats the ids below).
    pub description: Option<String>,
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    pub timestamp: Option<String>,
}

impl SignInError {
    pub(crate) fn new(credential: CredentialSource) -> Self {
        SignInError {
            credential,
            client_id: None,
            tenant: None,
            status: None,
            error: None,
            codes: Vec::new(),
            description: None,
            trace_id: None,
            correlation_id: None,
            timestamp: None,
        }
    }

    /// Reads a token endpoint error body (`{error, error_description, error_codes, …}`).
    /// `sent_secrets` are the secret values the request carried: a token endpoint (or a proxy
    /// before it) that echoes the request must not get them printed.
    pub(crate) fn from_token_response(
        credential: CredentialSource,
        client_id: &str,
        tenant: Option<&str>,
        status: u16,
        body: &[u8],
        sent_secrets: &[&str],
    ) -> Self {
        #[derive(serde::Deserialize, Default)]
        struct Body {
            error: Option<String>,
            error_description: Option<String>,
            #[serde(default)]
            error_codes: Vec<u32>,
            trace_id: Option<String>,
            correlation_id: Option<String>,
            timestamp: Option<String>,
        }
        let parsed: Body = serde_json::from_slice(body).unwrap_or_default();
        let description = parsed
            .error_description
            .as_deref()
            .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
            .map(str::to_owned)
            .or_else(|| {
                // Not the identity platform's JSON: keep a short, printable excerpt.
                // Redacted whole first, so a cut cannot leave half a secret.
                let text =
                    redact::server_message(String::from_utf8_lossy(body).trim(), sent_secrets);
                (!text.is_empty() && parsed.error.is_none())
                    .then(|| text.chars().take(200).collect())
            })
            .map(|d: String| redact::server_message(&d, sent_secrets));
        let mut codes = parsed.error_codes;
        if codes.is_empty() {
            codes.extend(description.as_deref().and_then(aadsts_in));
        }
        SignInError {
            credential,
            client_id: Some(client_id.to_owned()),
            tenant: tenant.map(str::to_owned),
            status: Some(status),
            error: parsed
                .error
                .map(|e| redact::server_message(&e, sent_secrets)),
            codes,
            description,
            trace_id: parsed.trace_id,
            correlation_id: parsed.correlation_id,
            timestamp: parsed.timestamp,
        }
    }

    /// The hint for the first AADSTS code entraform knows.
    pub fn code_hint(&self) -> Option<&'static str> {
        self.codes.iter().find_map(|c| aadsts_hint(*c))
    }
}

/// `AADSTS7000215: …` → 7000215.
pub(crate) fn aadsts_in(text: &str) -> Option<u32> {
    let rest = &text[text.find("AADSTS")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

impl fmt::Display for SignInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sign-in with {} failed", self.credential.describe())?;
        if let Some(client_id) = &self.client_id {
            write!(f, " for client `{client_id}`")?;
        }
        if let Some(tenant) = &self.tenant {
            write!(f, " in tenant `{tenant}`")?;
        }
        match (&self.description, &self.error) {
            (Some(d), _) => write!(f, ": {d}")?,
            (None, Some(e)) => write!(f, ": {e}")?,
            (None, None) => {
                if let Some(status) = self.status {
                    write!(f, ": HTTP {status}")?;
                }
            }
        }
        // The description normally starts with the code; name it when it does not.
        if let Some(code) = self.codes.first()
            && !self
                .description
                .as_deref()
                .is_some_and(|d| d.contains(&format!("AADSTS{code}")))
        {
            write!(f, " (AADSTS{code})")?;
        }
        write_ids(
            f,
            &[
                ("trace-id", self.trace_id.as_deref()),
                ("correlation-id", self.correlation_id.as_deref()),
                ("timestamp", self.timestamp.as_deref()),
            ],
        )
    }
}

fn write_ids(f: &mut fmt::Formatter<'_>, ids: &[(&str, Option<&str>)]) -> fmt::Result {
    let present: Vec<String> = ids
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}: {v}")))
        .collect();
    if present.is_empty() {
        Ok(())
    } else {
        write!(f, " ({})", present.join(", "))
    }
}

/// What an AADSTS code usually means for an app signing in with client credentials.
pub fn aadsts_hint(code: u32) -> Option<&'static str> {
    Some(match code {
        700016 => {
            "the application (client id) was not found in this tenant: check AZURE_CLIENT_ID and --tenant, and that the app was not deleted"
        }
        7000215 => {
            "the client secret is wrong or expired: copy the secret's value (not its id) again, or create a new secret"
        }
        7000222 => "the client secret has expired: create a new secret for the app",
        700027 => {
            "the certificate is not registered on the app, or the assertion's signature does not match it: upload the certificate's public part (.cer) to the app"
        }
        50027 => {
            "the client assertion was rejected as malformed: the federated token file must hold the token itself (a JWT), nothing around it"
        }
        50012 => {
            "the client assertion was rejected: check the certificate matches the app and the assertion's audience is this token endpoint"
        }
        700024 => {
            "the client assertion is outside its validity window: check this machine's clock, or that the federated token file is being refreshed"
        }
        90002 => {
            "the tenant was not found: check --tenant / AZURE_TENANT_ID (a tenant id or a verified domain) and --cloud"
        }
        70011 => {
            "the scope is not valid: a client credentials token is asked for `<resource>/.default`"
        }
        70021 => {
            "no federated credential on the app matches this token's issuer, subject and audience: add one (new ones can take a minute to work)"
        }
        7000112 => "the application is disabled in this tenant",
        // 700211 issuer, 700212 audience, 700213 subject.
        700211..=700213 => {
            "the federated token's issuer, audience or subject matches no federated credential on the app"
        }
        _ => return None,
    })
}

/// The least-privileged Graph application permission an operation needs, for 403 hints.
pub fn permission_for(method: &str, path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path).to_ascii_lowercase();
    let write = !method.eq_ignore_ascii_case("GET");
    let first = path.trim_start_matches('/').split(['/', '(']).next()?;
    let has = |segment: &str| path.contains(segment);
    Some(match first {
        "serviceprincipals" if has("/approleassignedto") || has("/approleassignments") => {
            if write {
                "AppRoleAssignment.ReadWrite.All"
            } else {
                "Application.Read.All"
            }
        }
        "applications" | "serviceprincipals" => {
            if write && has("/owners") {
                // Graph reference: owners are directory objects, so the reference needs reads too.
                "Application.ReadWrite.OwnedBy` and `Directory.Read.All"
            } else if write {
                "Application.ReadWrite.OwnedBy` or `Application.ReadWrite.All"
            } else {
                "Application.Read.All"
            }
        }
        "rolemanagement" => {
            if write {
                "RoleManagement.ReadWrite.Directory"
            } else {
                "RoleManagement.Read.Directory"
            }
        }
        "oauth2permissiongrants" => {
            if write {
                "DelegatedPermissionGrant.ReadWrite.All"
            } else {
                "Directory.Read.All"
            }
        }
        "users" => "User.Read.All",
        "groups" => "Group.Read.All",
        "organization" => "Organization.Read.All",
        "domains" => "Domain.Read.All",
        "directoryobjects" => "Directory.Read.All",
        _ => return None,
    })
}

/// Decodes a JSON body as `T`; a mismatch names the request and the JSON path.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    method: &str,
    path: &str,
) -> Result<T, GraphError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| GraphError::Decode {
        method: method.to_owned(),
        path: path.to_owned(),
        json_path: e.path().to_string(),
        source: e.into_inner(),
    })
}

/// Decodes an already-parsed JSON value (e.g. one item of a page read as `Value`) as `T`, with
/// the same request and JSON-path context as a body decode.
pub fn decode_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    method: &str,
    path: &str,
) -> Result<T, GraphError> {
    serde_path_to_error::deserialize(value).map_err(|e| GraphError::Decode {
        method: method.to_owned(),
        path: path.to_owned(),
        json_path: e.path().to_string(),
        source: e.into_inner(),
    })
}

impl Hint for GraphError {
    fn hint(&self) -> Option<String> {
        match self {
            GraphError::Http(e) => http_hint(e),
            GraphError::SignIn(e) => e.code_hint().map(str::to_owned).or_else(|| {
                (e.credential == CredentialSource::AzureCli)
                    .then(|| "run `az login` (and `az account set` for the right tenant)".into())
            }),
            GraphError::Transport { .. } => Some(
                "check the network path to Graph (proxy, firewall) and --graph-url / --cloud"
                    .into(),
            ),
            GraphError::UntrustedCertificate { .. } => Some(
                "if you trust that CA, pass its certificate (PEM) with `--ca-cert <file>` (or ENTRAFORM_CA_CERT); a sandbox served with `--tls` writes its CA next to its state (`sandbox.ca.pem`)"
                    .into(),
            ),
            GraphError::Decode { .. } => None,
            GraphError::ReadFile { .. } => None,
            GraphError::Certificate { source, .. } => source.hint(),
            GraphError::Config { hint, .. } => hint.clone(),
            GraphError::Shared(e) => e.hint(),
            GraphError::ResponseTooLarge { .. } => Some(
                "check that --graph-url and --login-url point at Microsoft Graph and its sign-in endpoint"
                    .into(),
            ),
        }
    }
}

fn http_hint(e: &HttpError) -> Option<String> {
    match (e.status, e.code.as_deref()) {
        (403, _) => Some(match permission_for(&e.method, &e.path) {
            Some(p) => format!(
                "`{} {}` needs the Graph application permission `{p}` (granted with admin consent)",
                e.method,
                e.path.split('?').next().unwrap_or(&e.path)
            ),
            None => "the signed-in identity lacks a Graph permission for this operation".into(),
        }),
        (401, _) => Some(
            "Graph did not accept the token: check that --tenant and --cloud match the app's tenant"
                .into(),
        ),
        (429, _) => Some(
            "Graph kept throttling this request: wait a few minutes, or lower the concurrency"
                .into(),
        ),
        (_, Some("Request_UnsupportedQuery")) => Some(
            "this query needs advanced query parameters (`ConsistencyLevel: eventual` and `$count=true`) or is not supported on this property"
                .into(),
        ),
        (_, Some("Request_MultipleObjectsWithSameKeyValue")) => Some(
            "another object already uses this unique value (uniqueName, identifierUri or name)"
                .into(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_403_names_the_permission_the_operation_needs() {
        let cases = [
            ("POST", "/applications", "Application.ReadWrite.OwnedBy"),
            (
                "PATCH",
                "/applications(uniqueName='x')",
                "Application.ReadWrite.All",
            ),
            ("GET", "/applications?$top=999", "Application.Read.All"),
            (
                "POST",
                "/servicePrincipals/1/appRoleAssignedTo",
                "AppRoleAssignment.ReadWrite.All",
            ),
            (
                "POST",
                "/roleManagement/directory/roleAssignments",
                "RoleManagement.ReadWrite.Directory",
            ),
            (
                "PATCH",
                "/oauth2PermissionGrants/abc",
                "DelegatedPermissionGrant.ReadWrite.All",
            ),
            ("GET", "/users/abc", "User.Read.All"),
            ("GET", "/groups", "Group.Read.All"),
        ];
        for (method, path, permission) in cases {
            let body = serde_json::json!({"error": {
                "code": "Authorization_RequestDenied",
                "message": "Insufficient privileges to complete the operation.",
                "innerError": {"date": "2024-01-01T00:00:00", "request-id": "r1", "client-request-id": "c1"}
            }});
            let e = HttpError::from_body(method, path, 403, Some(&body), None, None);
            let hint = GraphError::Http(Box::new(e)).hint().unwrap();
            assert!(hint.contains(permission), "{method} {path}: {hint}");
        }
    }

    #[test]
    fn http_errors_keep_graphs_code_message_and_ids() {
        // Graph's own example (json-batching.md), as a part body would carry it.
        let body = serde_json::json!({"error": {
            "code": "Authorization_RequestDenied",
            "message": "Insufficient privileges to complete the operation.",
            "innerError": {
                "date": "2025-02-13T10:17:06",
                "request-id": "93b6f17e-c05d-4f45-ad2a-6665c708d8a0",
                "client-request-id": "e70c5c1b-8b47-68c0-3171-3d22f5e0bd54"
            }
        }});
        let e = HttpError::from_body("GET", "/users", 403, Some(&body), None, Some("c-1".into()));
        assert_eq!(e.code.as_deref(), Some("Authorization_RequestDenied"));
        let text = e.to_string();
        assert!(text.starts_with("GET /users: 403 Authorization_RequestDenied: "));
        assert!(
            text.contains("request-id: 93b6f17e-c05d-4f45-ad2a-6665c708d8a0"),
            "{text}"
        );
        // The header we sent wins over the body's copy.
        assert!(text.contains("client-request-id: c-1"), "{text}");
        assert!(text.contains("date: 2025-02-13T10:17:06"), "{text}");
    }

    /// The Display of an error read from `body`.
    fn shown(body: serde_json::Value) -> (HttpError, String) {
        let e = HttpError::from_body("PATCH", "/applications/1", 400, Some(&body), None, None);
        let text = e.to_string();
        (e, text)
    }

    #[test]
    fn a_message_given_as_an_object_keeps_its_value() {
        let (e, text) = shown(serde_json::json!({"error": {
            "code": "Request_BadRequest",
            "message": {"lang": "en", "value": "Invalid value specified for property 'displayName'."},
            "innerError": {"request-id": "r-1", "date": "2025-01-01T00:00:00"}
        }}));
        assert_eq!(e.code.as_deref(), Some("Request_BadRequest"));
        assert_eq!(
            text,
            "PATCH /applications/1: 400 Request_BadRequest: Invalid value specified for property 'displayName'. (request-id: r-1, date: 2025-01-01T00:00:00)"
        );
    }

    #[test]
    fn details_given_as_one_object_are_kept() {
        let (e, text) = shown(serde_json::json!({"error": {
            "code": "Request_BadRequest",
            "message": "The appId of the service principal does not reference a valid application object.",
            "details": {"code": "NoBackingApplicationObject", "target": "appId"}
        }}));
        assert_eq!(e.details.len(), 1);
        assert!(
            text.ends_with("object. [NoBackingApplicationObject appId]"),
            "{text}"
        );
    }

    #[test]
    fn details_as_a_list_with_object_messages_are_kept() {
        let (e, _) = shown(serde_json::json!({"error": {
            "code": "Request_BadRequest",
            "message": "One or more properties contains invalid values.",
            "details": [
                {"code": "InvalidValue", "message": {"value": "bad"}, "target": "x"},
                {"unexpected": true}
            ]
        }}));
        assert_eq!(
            e.details,
            [ErrorDetail {
                code: Some("InvalidValue".into()),
                message: Some("bad".into()),
                target: Some("x".into())
            }]
        );
    }

    #[test]
    fn the_older_odata_error_envelope_is_read() {
        let (e, text) = shown(serde_json::json!({"odata.error": {
            "code": "Request_ResourceNotFound",
            "message": {"lang": "en", "value": "Resource not found."},
            "innererror": {"request-id": "r-2"}
        }}));
        assert_eq!(e.code.as_deref(), Some("Request_ResourceNotFound"));
        assert!(
            text.contains(": Resource not found. (request-id: r-2)"),
            "{text}"
        );
    }

    #[test]
    fn odd_fields_cost_only_themselves() {
        // A message of the wrong type and a string `details` do not lose the code.
        let (e, text) = shown(serde_json::json!({"error": {
            "code": "InvalidAccessTokenVersion",
            "message": 42,
            "details": "free text",
            "innerError": "not an object"
        }}));
        assert_eq!(e.code.as_deref(), Some("InvalidAccessTokenVersion"));
        assert_eq!(e.message, None);
        assert_eq!(text, "PATCH /applications/1: 400 InvalidAccessTokenVersion");
        // A body that is no error envelope keeps the status.
        let (e, _) = shown(serde_json::json!(["not", "an", "error"]));
        assert_eq!((e.status, e.code), (400, None));
    }

    #[test]
    fn a_message_echoing_a_secret_field_is_redacted() {
        let (_, text) = shown(serde_json::json!({"error": {
            "code": "Request_BadRequest",
            "message": "Unexpected body client_secret=abc123xyz&scope=x"
        }}));
        assert!(text.contains("client_secret=<redacted>&scope=x"), "{text}");
    }

    #[test]
    fn sign_in_errors_carry_the_aadsts_code_and_its_hint() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: x","error_codes":[7000215],"timestamp":"x","trace_id":"t","correlation_id":"c"}"#;
        let e = SignInError::from_token_response(
            CredentialSource::ClientSecret,
            "app-1",
            Some("contoso"),
            401,
            body,
            &[],
        );
        assert_eq!(e.codes, vec![7000215]);
        let text = e.to_string();
        assert_eq!(
            text,
            "sign-in with a client secret (AZURE_CLIENT_SECRET) failed for client `app-1` in tenant `contoso`: AADSTS7000215: Invalid client secret provided. (trace-id: t, correlation-id: c, timestamp: x)"
        );
        let hint = GraphError::SignIn(Box::new(e)).hint().unwrap();
        assert!(hint.contains("the client secret is wrong or expired"));
    }

    #[test]
    fn a_token_endpoint_echoing_the_request_gets_no_secret_printed() {
        let secret = "Xy7~secret.value_1234567890";
        let echo = format!(
            r#"{{"error":"invalid_request","error_description":"AADSTS900144: bad request: grant_type=client_credentials&client_id=a&client_secret={}&scope=x\r\nTrace ID: t"}}"#,
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>()
        );
        let e = SignInError::from_token_response(
            CredentialSource::ClientSecret,
            "a",
            None,
            400,
            echo.as_bytes(),
            &[secret],
        );
        let text = e.to_string();
        assert!(!text.contains("Xy7"), "{text}");
        assert!(text.contains("client_secret=<redacted>&scope=x"), "{text}");
        // Not JSON at all: the excerpt is redacted before it is cut.
        let plain = format!("proxy says: {} {}", "x".repeat(190), secret);
        let e = SignInError::from_token_response(
            CredentialSource::ClientSecret,
            "a",
            None,
            502,
            plain.as_bytes(),
            &[secret],
        );
        assert!(!e.to_string().contains("Xy7"), "{e}");
    }

    #[test]
    fn an_aadsts_code_is_found_in_the_description_when_error_codes_is_missing() {
        let body = br#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."}"#;
        let e = SignInError::from_token_response(
            CredentialSource::ClientSecret,
            "a",
            None,
            400,
            body,
            &[],
        );
        assert_eq!(e.codes, vec![90002]);
        assert!(e.code_hint().unwrap().contains("tenant was not found"));
    }

    #[test]
    fn aadsts_codes_are_read_from_free_text() {
        assert_eq!(
            aadsts_in("ERROR: AADSTS700082: The refresh token has expired"),
            Some(700082)
        );
        assert_eq!(aadsts_in("Please run 'az login'"), None);
    }

    #[test]
    fn every_documented_aadsts_code_has_a_hint() {
        for code in [
            700016, 7000215, 7000222, 700027, 50012, 50027, 700024, 90002, 70011, 70021,
        ] {
            assert!(aadsts_hint(code).is_some(), "{code}");
        }
    }
}
