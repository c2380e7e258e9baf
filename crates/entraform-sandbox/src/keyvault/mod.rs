//! Azure Key Vault's data plane for certificates and secrets, served by the same server as
//! Graph: certificate import, get (latest and by version), versions, list, soft delete, deleted
//! get, recover, purge, and the secret that backs a certificate (its PFX); secrets set on their
//! own (`PUT /secrets/{name}`, versions, soft delete, purge). Shapes, codes and messages follow the
//! Key Vault REST reference (Azure/azure-rest-api-specs
//! `specification/keyvault/data-plane/{Certificates,Secrets}`) and live responses recorded in
//! Azure SDK test recordings; see `docs/sandbox.md` for what is and is not emulated.
//!
//! A vault is chosen by host name, `{vault}.vault.localhost:PORT` (what the official SDKs'
//! challenge check wants: a vault host under the resource's domain), or by a path prefix,
//! `/_keyvault/{vault}/…` on the sandbox's own address (what needs no name resolution). Either
//! way the rest of the path is Key Vault's.
//!
//! Every request is checked in Key Vault's order: `api-version`, then the bearer token (no
//! token or a wrong one: 401 with the `WWW-Authenticate` challenge naming the sandbox's
//! authority and `https://vault.azure.net`), then throttling (`--throttle`), then the caller's
//! data-plane role for the operation's data action (403 `ForbiddenByRbac`).

mod certificates;
mod pfx;
pub(crate) mod rbac;
mod secrets;
pub(crate) mod store;

use serde_json::{Value, json};

use crate::faults::Charge;
use crate::graph::Headers;
use crate::http::Server;
use crate::odata::Params;

/// The Azure Key Vault service principal every tenant has (its `servicePrincipalNames` hold
/// `https://vault.azure.net`, the resource tokens are asked for).
pub(crate) const KEY_VAULT_APP_ID: &str = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";
/// The audience of Key Vault tokens in the public cloud.
pub(crate) const RESOURCE: &str = "https://vault.azure.net";
/// The path prefix that names a vault on the sandbox's own address.
pub(crate) const PATH_PREFIX: &str = "/_keyvault/";
/// The host suffix that names a vault: `{vault}.vault.localhost`.
pub(crate) const HOST_SUFFIX: &str = ".vault.localhost";

/// The stable versions in the REST specs and the ones the official SDKs send (Python 4.12
/// supports 7.0 through 2026-04-01; Rust 1.1 betas send 2026-03-01-preview).
const API_VERSIONS: &[&str] = &[
    "2016-10-01",
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6-preview.2",
    "7.6",
    "2025-06-01-preview",
    "2025-07-01",
    "2026-01-01-preview",
    "2026-03-01-preview",
    "2026-04-01",
    "2026-05-01-preview",
];
const LATEST_API_VERSION: &str = "2026-04-01";

/// A Key Vault answer before the server adds its common headers.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

/// A Key Vault error: `{"error":{"code","message","innererror":{"code"}}}` (lower-case
/// `innererror`, unlike Graph; `KeyVaultError` in the specs' `Secrets/common/common.tsp`).
#[derive(Debug, Clone)]
pub(crate) struct KvError {
    pub status: u16,
    pub code: &'static str,
    pub inner: Option<&'static str>,
    pub message: String,
    pub headers: Vec<(String, String)>,
}

impl KvError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        KvError {
            status,
            code,
            inner: None,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    fn inner(mut self, code: &'static str) -> Self {
        self.inner = Some(code);
        self
    }

    pub(crate) fn bad_parameter(message: impl Into<String>) -> Self {
        Self::new(400, "BadParameter", message)
    }

    fn reply(self) -> Reply {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(inner) = self.inner {
            error["innererror"] = json!({ "code": inner });
        }
        Reply {
            status: self.status,
            headers: self.headers,
            body: Some(json!({ "error": error })),
        }
    }
}

/// Who is calling, from a verified token.
pub(crate) struct Caller {
    pub app_id: String,
    pub object_id: String,
    pub tenant_id: String,
}

/// One Key Vault request, its vault resolved.
pub(crate) struct KvRequest<'a> {
    pub method: &'a str,
    /// As addressed (any case); vault names compare case-insensitively.
    pub vault: String,
    /// The vault's base URL as the client addressed it: next links start with it.
    pub vault_url: String,
    /// The vault's own URL, `{scheme}://{vault}.vault.localhost:PORT`, however it was
    /// addressed: object ids start with it, as Key Vault's ids always name the vault's own
    /// host (the official SDKs parse ids as `{vault}/{collection}/{name}[/{version}]`, e.g.
    /// azure-sdk-for-python `azure/keyvault/certificates/_shared/__init__.py`
    /// `parse_key_vault_id`, so a path prefix in an id would break them).
    pub id_base: String,
    /// The path after the vault, split; a trailing `/` (how SDKs ask for the latest version)
    /// is dropped.
    pub segments: Vec<String>,
    pub params: Params,
    pub body: &'a [u8],
    pub now_s: i64,
}

/// The vault a request addresses, if it is a Key Vault request: `(vault, vault URL, rest of
/// the path)`.
fn addressed(server: &Server, headers: &Headers, path: &str) -> Option<(String, String, String)> {
    if let Some(rest) = path.strip_prefix(PATH_PREFIX) {
        let (vault, rest) = rest.split_once('/').unwrap_or((rest, ""));
        let url = format!("{}{PATH_PREFIX}{vault}", server.base_url);
        return Some((vault.to_owned(), url, format!("/{rest}")));
    }
    let host = headers.get("host")?;
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let vault = name
        .to_ascii_lowercase()
        .strip_suffix(HOST_SUFFIX)?
        .to_owned();
    let scheme = server.base_url.split("://").next().unwrap_or("http");
    Some((vault, format!("{scheme}://{host}"), path.to_owned()))
}

/// `/certificates/abc/1f…` → `/certificates/{name}/{version}`, for request statistics.
fn route_template(method: &str, segments: &[String]) -> String {
    let names: Vec<&str> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| match (i, s.as_str()) {
            (0, first) => first,
            (2, "import" | "versions" | "policy" | "recover") => s.as_str(),
            (1, _) => "{name}",
            _ => "{version}",
        })
        .collect();
    format!("{method} {PATH_PREFIX}{{vault}}/{}", names.join("/"))
}

/// A routed request: a secret's or a certificate's, with the data action it needs.
enum Operation {
    Secret(&'static str, secrets::Kind),
    Certificate(certificates::Operation),
}

/// Serves a Key Vault request; `None` when the request is not one (Graph or the authority).
pub(crate) fn handle(
    server: &Server,
    method: &str,
    path: &str,
    query: &str,
    headers: &Headers,
    body: &[u8],
) -> Option<(String, Reply)> {
    let (vault, vault_url, rest) = addressed(server, headers, path)?;
    let mut segments: Vec<String> = rest
        .trim_start_matches('/')
        .split('/')
        .map(|s| crate::odata::decode_component(s, false))
        .collect();
    if segments.len() > 1 && segments.last().is_some_and(String::is_empty) {
        segments.pop();
    }
    let route = route_template(method, &segments);
    let (scheme, rest) = server.base_url.split_once("://").unwrap_or(("http", ""));
    let port = rest.rsplit_once(':').map_or("", |(_, p)| p);
    let id_base = format!(
        "{scheme}://{}{HOST_SUFFIX}:{port}",
        vault.to_ascii_lowercase()
    );
    let request = KvRequest {
        method,
        vault,
        vault_url,
        id_base,
        segments,
        params: Params::parse(query),
        body,
        now_s: server.time.now_ms() / 1000,
    };
    let reply = match serve(server, &request, headers) {
        Ok(reply) => reply,
        Err(e) => e.reply(),
    };
    Some((route, reply))
}

fn serve(server: &Server, request: &KvRequest<'_>, headers: &Headers) -> Result<Reply, KvError> {
    check_api_version(&request.params)?;
    let caller = authenticate(server, headers)?;
    if !valid_vault_name(&request.vault) {
        return Err(KvError::bad_parameter(
            "The vault name should be string of 3 to 24 characters and can contain only numbers (0-9), letters (a-z, A-Z), and hyphens (-)",
        )
        .inner("VaultNameNotValid"));
    }
    if let Some(limit) = server.faults.throttle {
        let bucket = format!("keyvault/{}", request.vault.to_ascii_lowercase());
        if let Charge::Throttled { .. } =
            server
                .fault_state
                .charge(&bucket, 1, limit, server.time.now_ms())
        {
            // Observed live without a Retry-After header (vcsjones/AzureSignTool issue #219).
            return Err(KvError::new(
                429,
                "Throttled",
                "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached",
            ));
        }
    }
    let operation = match secrets::operation(request) {
        Some((action, kind)) => Operation::Secret(action, kind),
        None => Operation::Certificate(certificates::operation(request)?),
    };
    let action = match &operation {
        Operation::Secret(action, _) => action,
        Operation::Certificate(op) => op.action,
    };
    {
        let doc = server.store.read();
        if !rbac::allowed(&doc, &caller.object_id, &request.vault, action) {
            return Err(forbidden(&doc.tenant.id, &caller, request, action));
        }
    }
    let mut doc = server.store.lock();
    let reply = match &operation {
        Operation::Secret(_, kind) => secrets::run(&mut doc, request, kind)?,
        Operation::Certificate(op) => certificates::run(&mut doc, request, op)?,
    };
    if request.method != "GET" {
        drop(doc);
        server.store.mark_dirty();
    }
    Ok(reply)
}

/// "3-24 character string, containing only 0-9, a-z, A-Z, and not consecutive -"
/// (`articles/key-vault/general/about-keys-secrets-certificates.md`); it starts with a letter
/// and ends with a letter or digit (ARM's resource name rules).
pub(crate) fn valid_vault_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("--")
}

fn check_api_version(params: &Params) -> Result<(), KvError> {
    match params.get("api-version") {
        // "Clients must use the api-version query string parameter … as there is no default."
        // (`articles/key-vault/general/authentication-requests-and-responses.md`)
        None => Err(KvError::bad_parameter(
            "The 'api-version' query parameter is required: there is no default.",
        )),
        Some(v) if API_VERSIONS.contains(&v) => Ok(()),
        Some(v) => Err(KvError::bad_parameter(format!(
            "The specified version ({v}) is not recognized. Consider using the latest supported version ({LATEST_API_VERSION})."
        ))),
    }
}

/// The 401 every SDK's first request gets: it names the authority (with the tenant) and the
/// resource to ask a token for. Recorded live: `Bearer
/// authorization="https://login.windows.net/{tenant}", resource="https://vault.azure.net"`
/// with "AKV10000: Request is missing a Bearer or PoP token." (Azure/azure-sdk-for-js
/// `sdk/keyvault/keyvault-certificates/recordings`).
fn unauthorized(server: &Server, message: &str) -> KvError {
    let tenant = server.store.read().tenant.id.clone();
    let mut e = KvError::new(401, "Unauthorized", message);
    e.headers.push((
        "WWW-Authenticate".into(),
        format!(
            "Bearer authorization=\"{}/{tenant}\", resource=\"{RESOURCE}\"",
            server.base_url
        ),
    ));
    e
}

fn authenticate(server: &Server, headers: &Headers) -> Result<Caller, KvError> {
    let missing = "AKV10000: Request is missing a Bearer or PoP token.";
    let token = headers
        .get("Authorization")
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized(server, missing))?;
    let claims = server
        .signer
        .verify_own(token)
        .ok_or_else(|| unauthorized(server, "AKV10022: Invalid audience or signature."))?;
    let aud = claims["aud"].as_str().unwrap_or_default();
    if aud.trim_end_matches('/') != RESOURCE && aud != KEY_VAULT_APP_ID {
        return Err(unauthorized(
            server,
            &format!("AKV10022: Invalid audience. Expected {RESOURCE}, found: {aud}."),
        ));
    }
    let now = server.time.now_ms() / 1000;
    if claims["exp"].as_i64().is_none_or(|exp| exp < now) {
        return Err(unauthorized(server, "AKV10032: Token expired."));
    }
    let tenant_id = server.store.read().tenant.id.clone();
    if claims["tid"].as_str() != Some(tenant_id.as_str()) {
        return Err(unauthorized(server, "AKV10032: Invalid issuer."));
    }
    Ok(Caller {
        app_id: claims["appid"].as_str().unwrap_or_default().to_owned(),
        object_id: claims["oid"].as_str().unwrap_or_default().to_owned(),
        tenant_id,
    })
}

/// 403 `ForbiddenByRbac`, in the text Key Vault sends (recorded in
/// hashicorp/terraform-provider-azurerm issue #27817): the caller, the data action it lacks and
/// the resource. The sandbox has no subscription: the tenant id stands in for one.
fn forbidden(tenant: &str, caller: &Caller, request: &KvRequest<'_>, action: &str) -> KvError {
    let vault = request.vault.to_ascii_lowercase();
    let object = match request.segments.as_slice() {
        [kind, name, ..] => format!(
            "/{}/{}",
            kind.trim_start_matches("deleted"),
            name.to_ascii_lowercase()
        ),
        _ => String::new(),
    };
    let message = format!(
        "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={};oid={};iss=https://sts.windows.net/{}/\r\nAction: '{action}'\r\nResource: '/subscriptions/{tenant}/resourcegroups/entraform-sandbox/providers/microsoft.keyvault/vaults/{vault}{object}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {vault};location=sandbox\r\n",
        caller.app_id, caller.object_id, caller.tenant_id
    );
    KvError::new(403, "Forbidden", message).inner("ForbiddenByRbac")
}
