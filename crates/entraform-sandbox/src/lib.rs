//! The local tenant: a Graph v1.0 and token-endpoint emulator over real HTTP(S), persisted to one
//! JSON file. It is both a product feature (`--sandbox`, `entraform sandbox serve`) and the
//! ground every test stands on, so it follows Graph's contract strictly: shapes, status codes,
//! error bodies, query limits, permissions, eventual consistency and throttling.
//!
//! It shares no wire types with entraform's Graph client: it reads and writes Graph's JSON on its
//! own, so a misnamed field cannot agree with itself. It is a package of its own that does not
//! depend on `entraform`, so that holds by construction.
//!
//! Layout: [`state`] (the document, its snapshot and its journal), [`collection`] (objects by
//! id, indexed), [`lock`] (one process per state file), [`seed`] (a new tenant), [`http`] (the
//! server: accept loop, TLS, faults, request ids, stats), [`token`] (the authority), [`graph`]
//! (the `/v1.0` resources), [`keyvault`] (Azure Key Vault's certificates data plane),
//! [`odata`] (query options), [`faults`], [`tls`], [`jwt`].

mod clock;
mod collection;
mod errors;
mod faults;
mod graph;
mod http;
mod jwt;
mod keyvault;
mod lock;
mod odata;
mod replica;
mod seed;
mod state;
mod tls;
mod token;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

pub use clock::Clock;
pub use faults::Faults;
pub use lock::{Holder, Role};
pub use seed::SANDBOX_DOMAIN;

/// The bootstrap client secret: shown only through [`Secret::expose`], never by `Debug` or
/// `Display`, so it stays out of logs and errors.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// `host:port`; port 0 picks a free one.
    pub listen: String,
    /// Allow a non-loopback `listen` (the CLI sets this only when `--listen` was given).
    pub allow_non_loopback: bool,
    /// Where the tenant lives between runs; `None` keeps it in memory only.
    pub state_path: Option<PathBuf>,
    /// Serve HTTPS with a freshly generated CA (written next to the state file).
    pub tls: bool,
    pub faults: Faults,
    /// Seed for the fault RNG: the same seed and requests give the same faults.
    pub seed: u64,
    /// Issuers whose tokens federated credentials may accept (their JWKS is fetched by OIDC
    /// discovery).
    pub trusted_issuers: Vec<String>,
    /// What kind of process holds the state file (see [`Role`]).
    pub role: Role,
    /// How long an in-process run waits for another one to release the state file.
    pub lock_wait: std::time::Duration,
    /// The tenant's time: the wall clock, or tokio's for tests in virtual time.
    pub clock: Clock,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: "127.0.0.1:0".into(),
            allow_non_loopback: false,
            state_path: None,
            tls: false,
            faults: Faults::default(),
            seed: 0,
            trusted_issuers: Vec::new(),
            role: Role::InProcess,
            lock_wait: std::time::Duration::ZERO,
            clock: Clock::Wall,
        }
    }
}

impl SandboxConfig {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = addr.into();
        self
    }

    pub fn state_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_path = Some(path.into());
        self
    }

    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn trust_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.trusted_issuers.push(issuer.into());
        self
    }
}

/// Request counts by route and status, batch parts counted one by one, and the time the server
/// spent on them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub total: u64,
    /// `"GET /v1.0/applications"` → status (`"200"`, `"429"`, `"dropped"`) → count.
    pub routes: BTreeMap<String, BTreeMap<String, u64>>,
    pub statuses: BTreeMap<String, u64>,
    pub server_time: ServerTime,
    /// Bytes written to the state file and its journal since the server started.
    pub state_bytes_written: u64,
}

/// Time spent serving, from a request's arrival (after any injected latency) to its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerTime {
    /// Every HTTP request (a `$batch` once, with its parts inside).
    pub total: Timing,
    /// By route: HTTP requests and, one by one, the parts of `$batch` requests.
    pub routes: BTreeMap<String, Timing>,
}

/// How many requests took how long, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timing {
    pub count: u64,
    pub total_us: u64,
    pub max_us: u64,
}

impl Timing {
    fn add(&mut self, elapsed: std::time::Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.count += 1;
        self.total_us = self.total_us.saturating_add(us);
        self.max_us = self.max_us.max(us);
    }
}

impl Stats {
    /// Requests to one route (e.g. `"POST /v1.0/applications"`), any status.
    pub fn count(&self, route: &str) -> u64 {
        self.routes
            .get(route)
            .map(|s| s.values().sum())
            .unwrap_or(0)
    }

    /// Requests that got one status (e.g. `"429"`), any route.
    pub fn with_status(&self, status: &str) -> u64 {
        self.statuses.get(status).copied().unwrap_or(0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot read the sandbox state `{}`", path.display())]
    ReadState {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the sandbox state `{}` is not valid JSON for this version", path.display())]
    CorruptState {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "the sandbox state `{}` has format version {}, this entraform reads version {supported}",
        path.display(),
        found.map_or_else(|| "(none)".to_string(), |v| v.to_string())
    )]
    UnsupportedStateVersion {
        path: PathBuf,
        found: Option<u32>,
        supported: u32,
    },
    #[error("cannot save the sandbox state `{}`", path.display())]
    WriteState {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{addr}` is not a loopback address; the sandbox serves other machines only over HTTPS and when asked to"
    )]
    NonLoopback { addr: String },
    #[error(
        "a sandbox server is running on this state (`{}`, {}); use --graph-url {}",
        state.display(),
        holder.describe(),
        holder.graph_url.as_deref().unwrap_or("<its Graph URL>")
    )]
    ServerRunning { state: PathBuf, holder: Box<Holder> },
    #[error(
        "the sandbox state `{}` is in use by {}",
        state.display(),
        holder.as_ref().map_or_else(|| "another entraform process".to_owned(), |h| h.describe())
    )]
    StateInUse {
        state: PathBuf,
        holder: Option<Box<Holder>>,
    },
    #[error("refusing to delete `{}`: {found}", path.display())]
    NotAState { path: PathBuf, found: String },
    #[error("`{addr}` is not a valid listen address (expected host:port)")]
    BadListen { addr: String },
    #[error("cannot listen on `{addr}`")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the sandbox's keys and certificates")]
    Crypto {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot write the CA certificate `{}`", path.display())]
    WriteCa {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the sandbox server stopped unexpectedly")]
    ServerGone,
}

/// A running sandbox. Dropping it stops the server without saving; call
/// [`RunningSandbox::shutdown`] to stop and save.
pub struct RunningSandbox {
    server: Arc<http::Server>,
    handle: http::Handle,
    local_addr: SocketAddr,
    secret: Secret,
    ca_pem: Option<String>,
    /// Held until the sandbox is dropped (after the last save in [`RunningSandbox::shutdown`]).
    _lock: Option<lock::StateLock>,
}

impl fmt::Debug for RunningSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningSandbox")
            .field("graph_url", &self.graph_url())
            .field("tenant_id", &self.tenant_id())
            .finish_non_exhaustive()
    }
}

impl RunningSandbox {
    /// Graph's service root (no `/v1.0`), e.g. `http://127.0.0.1:41234`.
    pub fn graph_url(&self) -> String {
        self.server.base_url.clone()
    }

    /// The authority host; tokens come from `{authority_url}/{tenant}/oauth2/v2.0/token`.
    pub fn authority_url(&self) -> String {
        self.server.base_url.clone()
    }

    /// The token endpoint of this tenant.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.server.base_url,
            self.tenant_id()
        )
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn tenant_id(&self) -> String {
        self.server.store.read().tenant.id.clone()
    }

    pub fn tenant_domain(&self) -> String {
        self.server.store.read().tenant.domain.clone()
    }

    pub fn bootstrap_client_id(&self) -> String {
        self.server.store.read().bootstrap.client_id.clone()
    }

    pub fn bootstrap_client_secret(&self) -> &Secret {
        &self.secret
    }

    /// The CA certificate (PEM) that signs the HTTPS certificate, with `tls`.
    pub fn ca_certificate_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// Where the CA certificate was written, with `tls` and a state file.
    pub fn ca_certificate_path(&self) -> Option<PathBuf> {
        self.server.ca_path.clone()
    }

    pub fn state_path(&self) -> Option<PathBuf> {
        self.server.store.path().map(|p| p.to_path_buf())
    }

    pub fn stats(&self) -> Stats {
        self.server.stats()
    }

    /// The URL of a sandbox Key Vault on this server: `{graph_url}/_keyvault/{vault}`.
    pub fn key_vault_url(&self, vault: &str) -> String {
        format!("{}{}{vault}", self.server.base_url, keyvault::PATH_PREFIX)
    }

    /// The `--key-vault-url` template for this server: `{graph_url}/_keyvault/{vault}`.
    pub fn key_vault_url_template(&self) -> String {
        self.key_vault_url("{vault}")
    }

    /// Gives the application `app_id`'s service principal a Key Vault data-plane role
    /// (`"Key Vault Secrets User"` or the role definition id) on `vault`, or on every vault.
    pub fn grant_key_vault_role(
        &self,
        vault: Option<&str>,
        role: &str,
        app_id: &str,
    ) -> Result<KeyVaultGrant, GrantError> {
        let grant = {
            let mut doc = self.server.store.lock();
            keyvault::store::grant(&mut doc, vault, role, app_id)?
        };
        self.server.store.mark_dirty();
        Ok(grant)
    }

    /// Stops accepting, lets requests in flight finish (briefly), and saves the state.
    pub async fn shutdown(self) -> Result<(), SandboxError> {
        self.handle.stop().await;
        let server = self.server.clone();
        tokio::task::spawn_blocking(move || server.store.save_if_changed())
            .await
            .map_err(|_| SandboxError::ServerGone)?
    }
}

/// Starts a sandbox: loads (or creates) the tenant, binds, and serves in the background.
pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
    http::start(config).await
}

/// Deletes a state file (and the CA certificate beside it) so the next start seeds a new
/// tenant, and returns the tenant it held (`None` when there was none). Only a sandbox state
/// file is deleted, recognised by its content: anything else at `state_path` (a device, a
/// manifest, a link to one) is refused. A running server or command holding the file is named
/// and nothing is deleted.
pub fn reset(state_path: &std::path::Path) -> Result<Option<ResetTenant>, SandboxError> {
    let refuse = |found: String| SandboxError::NotAState {
        path: state_path.to_owned(),
        found,
    };
    let meta = match std::fs::symlink_metadata(state_path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SandboxError::ReadState {
                path: state_path.to_owned(),
                source,
            });
        }
    };
    if let Some(kind) = entraform_local_file::kind_of(&meta.file_type()) {
        return Err(refuse(format!("it is {kind}, not a sandbox state file")));
    }
    let _lock = lock::acquire(state_path, Role::Serve, std::time::Duration::ZERO)?;
    let bytes = entraform_local_file::read(state_path, entraform_local_file::SANDBOX_STATE)
        .map_err(|e| refuse(format!("it cannot be read as a sandbox state ({e})")))?;
    if !state::looks_like_state(&bytes) {
        return Err(refuse("it is not a sandbox state file".into()));
    }
    // A state of another format version is still ours to delete: that is what reset is for.
    let tenant = match state::load(state_path) {
        Ok(Some(doc)) => ResetTenant::from_document(&doc),
        _ => ResetTenant::default(),
    };
    let remove = |path: PathBuf| match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SandboxError::WriteState { path, source }),
    };
    remove(state_path.to_owned())?;
    let journal = state::journal_path_for(state_path);
    if state::is_journal(&journal) {
        remove(journal)?;
    }
    let ca = tls::ca_path_for(state_path);
    if tls::is_ca_file(&ca) {
        remove(ca)?;
    }
    Ok(Some(tenant))
}

/// What a reset tenant held that files on disk may still refer to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResetTenant {
    pub tenant_id: String,
    /// Every certificate key of every application.
    pub keys: Vec<ResetKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetKey {
    /// The application's `uniqueName` (an entraform app's `metadata.name`).
    pub unique_name: Option<String>,
    /// `entraform:<certificate name>` for keys entraform attached.
    pub display_name: Option<String>,
    /// SHA-1 of the certificate, upper-case hex.
    pub thumbprint: Option<String>,
}

impl ResetTenant {
    fn from_document(doc: &state::Document) -> Self {
        let mut keys = Vec::new();
        for entry in doc.applications.values() {
            let unique_name = entry
                .object
                .get("uniqueName")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            let creds = entry
                .object
                .get("keyCredentials")
                .and_then(serde_json::Value::as_array);
            for cred in creds.into_iter().flatten() {
                use base64::Engine as _;
                use sha1::Digest as _;
                let text = |k: &str| cred.get(k).and_then(serde_json::Value::as_str);
                let thumbprint = text("key")
                    .and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok())
                    .map(|der| hex::encode_upper(sha1::Sha1::digest(&der)));
                keys.push(ResetKey {
                    unique_name: unique_name.clone(),
                    display_name: text("displayName").map(str::to_owned),
                    thumbprint,
                });
            }
        }
        ResetTenant {
            tenant_id: doc.tenant.id.clone(),
            keys,
        }
    }
}

/// Whether `path` is a sandbox state file (of any format version), by its content.
pub fn is_state_file(path: &std::path::Path) -> bool {
    entraform_local_file::read(path, entraform_local_file::SANDBOX_STATE)
        .is_ok_and(|bytes| state::looks_like_state(&bytes))
}

/// A Key Vault role assignment made in a sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyVaultGrant {
    pub role: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub app_id: String,
    /// `None`: every vault.
    pub vault: Option<String>,
    /// `false` when the principal held the role there already.
    pub created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("`{0}` is not a Key Vault data-plane role")]
    UnknownRole(String),
    #[error("no service principal with appId `{0}` in the sandbox tenant")]
    UnknownApp(String),
    #[error("`{0}` is not a valid vault name (3 to 24 letters, digits and hyphens)")]
    BadVault(String),
    #[error(transparent)]
    State(#[from] SandboxError),
}

impl GrantError {
    /// The roles a `grant` accepts, for hints.
    pub fn role_names() -> Vec<&'static str> {
        keyvault::rbac::ROLES.iter().map(|r| r.name).collect()
    }
}

/// [`RunningSandbox::grant_key_vault_role`] on a state file no server holds: loads it, adds
/// the assignment and saves it atomically. A server or command holding the file is named.
pub fn grant_key_vault_role(
    state_path: &std::path::Path,
    vault: Option<&str>,
    role: &str,
    app_id: &str,
) -> Result<KeyVaultGrant, GrantError> {
    let _lock = lock::acquire(state_path, Role::InProcess, std::time::Duration::ZERO)?;
    let mut doc = match state::load(state_path)? {
        Some(doc) => doc,
        None => seed::new_tenant()?,
    };
    let grant = keyvault::store::grant(&mut doc, vault, role, app_id)?;
    let generation = doc.journal_generation + 1;
    state::write_snapshot(state_path, &mut doc, generation)?;
    Ok(grant)
}

/// Who holds the sandbox state at `state_path` now, if anyone.
pub fn state_holder(state_path: &std::path::Path) -> Option<Holder> {
    lock::holder_of(state_path)
}

// --- small shared helpers -------------------------------------------------------------------

pub(crate) use clock::wall_ms;

fn datetime(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn format(ms: i64, format: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    datetime(ms)
        .format(format)
        .expect("a UTC date formats with a fixed description")
}

/// `2019-09-17T19:10:35Z`: Graph's format for most timestamps.
pub(crate) fn iso(ms: i64) -> String {
    format(
        ms,
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"),
    )
}

/// `2021-02-15T16:14:59.8643039Z`: seven fractional digits, as on assignments.
pub(crate) fn iso_ticks(ms: i64) -> String {
    format(
        ms,
        time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7]Z"
        ),
    )
}

/// `2025-02-13T10:17:06`: the `innerError.date` format.
pub(crate) fn error_date(ms: i64) -> String {
    format(
        ms,
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    )
}

/// Parses an ISO 8601 timestamp as Graph accepts it (offset required).
pub(crate) fn parse_iso(s: &str) -> Option<i64> {
    let d = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((d.unix_timestamp_nanos() / 1_000_000) as i64)
}

pub(crate) fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

/// `n` random bytes as unpadded base64url (Graph's assignment and grant ids look like this).
pub(crate) fn random_b64url(n: usize) -> String {
    use base64::Engine;
    let mut bytes = vec![0u8; n];
    rand::fill(&mut bytes[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_written_in_graphs_formats() {
        // 2021-02-05T06:04:09.123Z
        let ms = 1_612_505_049_123;
        assert_eq!(super::iso(ms), "2021-02-05T06:04:09Z");
        assert_eq!(super::iso_ticks(ms), "2021-02-05T06:04:09.1230000Z");
        assert_eq!(super::error_date(ms), "2021-02-05T06:04:09");
        assert_eq!(super::parse_iso("2021-02-05T06:04:09.123Z"), Some(ms));
    }
}
