//! The tenant's persistent state: one versioned JSON document of Graph objects (kept as Graph's
//! own JSON), loaded on start and saved atomically (temp file in the same folder, fsync, rename,
//! fsync folder) by a background saver that coalesces bursts of writes, and once more on
//! shutdown. Every mutation happens in memory under one lock, so concurrent clients cannot lose
//! each other's updates.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::SandboxError;

/// The state file format this build reads and writes. Version 2 added Key Vault (vaults and
/// their role assignments); a version 1 file is read and migrated (see [`migrate`]), and saved
/// as version 2 so an older entraform refuses it rather than dropping its vaults.
pub(crate) const FORMAT_VERSION: u32 = 2;

pub(crate) type Object = Map<String, Value>;

/// A stored Graph object and the sandbox's bookkeeping about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Unix milliseconds from which reads see this object (`--replication-delay-ms`).
    pub visible_at: i64,
    /// Object ids of the owners (applications and service principals).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// Secret texts of `passwordCredentials`, which Graph never returns after creation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<StoredSecret>,
    /// Federated identity credentials of an application.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated: Vec<Entry>,
    pub object: Object,
}

impl Entry {
    pub(crate) fn new(object: Object, visible_at: i64) -> Self {
        Entry {
            visible_at,
            owners: Vec::new(),
            secrets: Vec::new(),
            federated: Vec::new(),
            object,
        }
    }

    pub(crate) fn visible(&self, now_ms: i64) -> bool {
        self.visible_at <= now_ms
    }

    pub(crate) fn str(&self, key: &str) -> &str {
        self.object
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StoredSecret {
    pub key_id: String,
    pub text: String,
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSecret")
            .field("key_id", &self.key_id)
            .field("text", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Tenant {
    pub id: String,
    pub domain: String,
    pub display_name: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Bootstrap {
    pub client_id: String,
    pub client_secret: String,
    pub application_id: String,
    pub service_principal_id: String,
}

impl fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bootstrap")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// The key the sandbox signs access tokens with, kept so tokens survive a restart.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct SigningKey {
    pub kid: String,
    pub private_key_pem: String,
    /// Base64 DER of a self-signed certificate for the key (published as `x5c`).
    pub certificate: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Collections are keyed by object id; the order is the paging order.
pub(crate) type Collection = BTreeMap<String, Entry>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Document {
    pub format_version: u32,
    pub tenant: Tenant,
    pub bootstrap: Bootstrap,
    pub signing_key: SigningKey,
    pub applications: Collection,
    pub service_principals: Collection,
    pub app_role_assignments: Collection,
    pub oauth2_permission_grants: Collection,
    pub role_definitions: Collection,
    pub role_assignments: Collection,
    pub users: Collection,
    /// Security groups (seeded; entraform reads them to assign them to app roles).
    #[serde(default)]
    pub groups: Collection,
    /// Soft-deleted applications (Graph keeps them 30 days).
    #[serde(default)]
    pub deleted_applications: Collection,
    /// Soft-deleted service principals, likewise.
    #[serde(default)]
    pub deleted_service_principals: Collection,
    /// Key Vaults by lower-case name (the data plane only; see [`crate::keyvault`]).
    #[serde(default)]
    pub key_vaults: BTreeMap<String, crate::keyvault::store::Vault>,
    /// Key Vault data-plane role assignments.
    #[serde(default)]
    pub key_vault_roles: Vec<crate::keyvault::store::RoleAssignment>,
}

#[derive(Deserialize)]
struct VersionOnly {
    format_version: Option<u32>,
}

pub(crate) fn load(path: &Path) -> Result<Option<Document>, SandboxError> {
    let bytes = match entraform_local_file::read(path, entraform_local_file::SANDBOX_STATE) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SandboxError::ReadState {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let version: VersionOnly =
        serde_json::from_slice(&bytes).map_err(|source| SandboxError::CorruptState {
            path: path.to_path_buf(),
            source,
        })?;
    match version.format_version {
        Some(FORMAT_VERSION | 1) => {}
        found => {
            return Err(SandboxError::UnsupportedStateVersion {
                path: path.to_path_buf(),
                found,
                supported: FORMAT_VERSION,
            });
        }
    }
    let mut doc: Document =
        serde_json::from_slice(&bytes).map_err(|source| SandboxError::CorruptState {
            path: path.to_path_buf(),
            source,
        })?;
    migrate(&mut doc);
    Ok(Some(doc))
}

/// Brings a document of an older format version up to [`FORMAT_VERSION`].
fn migrate(doc: &mut Document) {
    if doc.format_version < 2 {
        // Version 1 had no Key Vault: the bootstrap admin gets what a new tenant's has.
        crate::keyvault::store::grant_admin(doc);
        doc.format_version = 2;
    }
}

/// Whether `bytes` are a sandbox state file of any format version: a JSON object with a numeric
/// `format_version`, a `tenant` and a `bootstrap` admin.
pub(crate) fn looks_like_state(bytes: &[u8]) -> bool {
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(bytes) else {
        return false;
    };
    doc.get("format_version").is_some_and(Value::is_u64)
        && doc.get("tenant").is_some_and(Value::is_object)
        && doc.get("bootstrap").is_some_and(Value::is_object)
}

/// Removes temp files a killed saver left beside the state file (they are never read).
pub(crate) fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&prefix) && file.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` so that a crash at any moment leaves either the old or the new
/// file, never a mix: temp file in the same folder, fsync, rename over, fsync the folder.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    entraform_local_file::create_private_dirs(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sandbox.json".into());
    // tempfile creates the file 0600: the state holds client secrets.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(())
}

/// The in-memory document, its file, and what has been saved.
pub(crate) struct Store {
    doc: Mutex<Document>,
    path: Option<PathBuf>,
    generation: AtomicU64,
    saved_generation: AtomicU64,
    /// Serialises file writes (background saver vs. shutdown).
    save_lock: Mutex<()>,
    pub(crate) dirty: tokio::sync::Notify,
}

impl Store {
    pub(crate) fn new(doc: Document, path: Option<PathBuf>) -> Self {
        Store {
            doc: Mutex::new(doc),
            path,
            generation: AtomicU64::new(0),
            saved_generation: AtomicU64::new(0),
            save_lock: Mutex::new(()),
            dirty: tokio::sync::Notify::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Document> {
        // A panic while holding the lock must not take the whole tenant down with it.
        self.doc.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that the document changed; the saver writes it soon.
    pub(crate) fn mark_dirty(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.dirty.notify_one();
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Saves when something changed since the last save. Blocking: call off the async runtime.
    pub(crate) fn save_if_changed(&self) -> Result<(), SandboxError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let _guard = self.save_lock.lock().unwrap_or_else(|p| p.into_inner());
        let (generation, bytes) = {
            let doc = self.lock();
            let generation = self.generation.load(Ordering::SeqCst);
            if generation == self.saved_generation.load(Ordering::SeqCst) && path.exists() {
                return Ok(());
            }
            let bytes = serde_json::to_vec_pretty(&*doc).expect("the state serialises");
            (generation, bytes)
        };
        write_atomically(path, &bytes).map_err(|source| SandboxError::WriteState {
            path: path.clone(),
            source,
        })?;
        self.saved_generation.store(generation, Ordering::SeqCst);
        Ok(())
    }
}
