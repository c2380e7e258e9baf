//! The tenant's persistent state: a versioned JSON snapshot of Graph objects (kept as Graph's
//! own JSON) and, beside it, a journal of the writes since (`sandbox.journal` next to
//! `sandbox.json`).
//!
//! Every mutation happens in memory under the document's write lock (reads share a read lock),
//! so concurrent clients cannot lose each other's updates. Releasing the write lock appends one
//! record for the write to the journal's buffer: the entries it changed, whole (`null` for a
//! removed one), and everything outside the collections when that changed. A write is answered
//! only after its record is on disk ([`Store::persist`]: write + fsync, one fsync for every
//! record waiting, so concurrent writers commit as a group). A record is framed by its length
//! and a checksum, so a record torn by a crash is recognised and dropped on load, with
//! everything after it.
//!
//! When the journal grows past the snapshot it is compacted: a new snapshot (temp file in the
//! same folder, fsync, rename, fsync folder) with the next journal generation, then a new
//! journal of that generation. A journal whose generation is not the snapshot's is stale (a
//! crash between the two steps) and ignored. So a write costs its own bytes, and an apply of N
//! objects writes O(N) bytes in all, not O(N²). Loading is the snapshot plus the journal's
//! records, in order.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::SandboxError;

/// The state file format this build reads and writes. Version 2 added Key Vault (vaults and
/// their role assignments); version 3 the journal beside the snapshot (`journal_generation`).
/// A version 1 or 2 file is read and migrated (see [`migrate`]), and saved as version 3 so an
/// older entraform refuses it rather than dropping its vaults or the writes in its journal.
pub(crate) const FORMAT_VERSION: u32 = 3;

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

pub(crate) use crate::collection::Collection;

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
    /// The journal that continues this snapshot (see the module's comment); 0: none.
    #[serde(default)]
    pub journal_generation: u64,
}

impl Document {
    /// The collections by their name in the file.
    fn collections_mut(&mut self) -> [(&'static str, &mut Collection); 9] {
        [
            ("applications", &mut self.applications),
            ("service_principals", &mut self.service_principals),
            ("app_role_assignments", &mut self.app_role_assignments),
            (
                "oauth2_permission_grants",
                &mut self.oauth2_permission_grants,
            ),
            ("role_definitions", &mut self.role_definitions),
            ("role_assignments", &mut self.role_assignments),
            ("users", &mut self.users),
            ("deleted_applications", &mut self.deleted_applications),
            (
                "deleted_service_principals",
                &mut self.deleted_service_principals,
            ),
        ]
    }

    /// Everything outside the collections, as the journal records it.
    fn rest(&self) -> Vec<u8> {
        serde_json::to_vec(&Rest {
            tenant: self.tenant.clone(),
            bootstrap: self.bootstrap.clone(),
            signing_key: self.signing_key.clone(),
            key_vaults: self.key_vaults.clone(),
            key_vault_roles: self.key_vault_roles.clone(),
        })
        .expect("the state serialises")
    }

    fn set_rest(&mut self, rest: Rest) {
        self.tenant = rest.tenant;
        self.bootstrap = rest.bootstrap;
        self.signing_key = rest.signing_key;
        self.key_vaults = rest.key_vaults;
        self.key_vault_roles = rest.key_vault_roles;
    }

    /// The record of what changed since the last call, if anything did; `rest` is what the
    /// journal last recorded of the rest, updated.
    fn take_record(&mut self, rest: &mut Vec<u8>) -> Option<Record> {
        let mut entries = BTreeMap::new();
        for (name, coll) in self.collections_mut() {
            let changed = coll.take_changed();
            if changed.is_empty() {
                continue;
            }
            let changed: BTreeMap<String, Option<Entry>> = changed
                .into_iter()
                .map(|id| {
                    let e = coll.get(&id).cloned();
                    (id, e)
                })
                .collect();
            entries.insert(name.to_owned(), changed);
        }
        let now = self.rest();
        let rest = (now != *rest).then(|| {
            *rest = now;
            serde_json::from_slice(rest).expect("just serialised")
        });
        (!entries.is_empty() || rest.is_some()).then_some(Record { entries, rest })
    }

    fn replay(&mut self, record: Record) {
        for (name, changed) in record.entries {
            if let Some((_, coll)) = self.collections_mut().into_iter().find(|(n, _)| *n == name) {
                for (id, entry) in changed {
                    coll.restore(id, entry);
                }
            }
        }
        if let Some(rest) = record.rest {
            self.set_rest(rest);
        }
    }
}

/// What lies outside the collections.
#[derive(Serialize, Deserialize)]
struct Rest {
    tenant: Tenant,
    bootstrap: Bootstrap,
    signing_key: SigningKey,
    key_vaults: BTreeMap<String, crate::keyvault::store::Vault>,
    key_vault_roles: Vec<crate::keyvault::store::RoleAssignment>,
}

/// One committed write in the journal.
#[derive(Serialize, Deserialize)]
struct Record {
    /// Collection → id → the entry now (`None`: removed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    entries: BTreeMap<String, BTreeMap<String, Option<Entry>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rest: Option<Rest>,
}

/// The first record of a journal: which snapshot it continues.
#[derive(Serialize, Deserialize)]
struct Header {
    journal_generation: u64,
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
        Some(FORMAT_VERSION | 1 | 2) => {}
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
    if doc.journal_generation > 0 {
        let journal = journal_path_for(path);
        let bytes = match entraform_local_file::read(&journal, entraform_local_file::SANDBOX_STATE)
        {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(SandboxError::ReadState {
                    path: journal,
                    source,
                });
            }
        };
        let (records, _) = frames(&bytes);
        let mut records = records.into_iter();
        let continues = records
            .next()
            .and_then(|h| serde_json::from_slice::<Header>(h).ok())
            .is_some_and(|h| h.journal_generation == doc.journal_generation);
        if continues {
            for payload in records {
                match serde_json::from_slice::<Record>(payload) {
                    Ok(record) => doc.replay(record),
                    // A record that passed its checksum but does not parse was written by
                    // something else: stop there, as at a torn record.
                    Err(_) => break,
                }
            }
        }
    }
    Ok(Some(doc))
}

/// Whether the file at `path` is a journal: a regular file whose first record is a journal
/// header. Anything else there is not ours to replace or delete.
pub(crate) fn is_journal(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    let Ok(bytes) = entraform_local_file::read(path, entraform_local_file::SANDBOX_STATE) else {
        return false;
    };
    frames(&bytes)
        .0
        .first()
        .is_some_and(|h| serde_json::from_slice::<Header>(h).is_ok())
}

/// The journal beside a state file: `sandbox.json` → `sandbox.journal`.
pub(crate) fn journal_path_for(state: &Path) -> PathBuf {
    state.with_extension("journal")
}

/// Length (4 bytes, little-endian) + checksum (the first 8 bytes of the payload's SHA-256) +
/// payload.
const FRAME_HEAD: usize = 12;

fn checksum(payload: &[u8]) -> [u8; 8] {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(payload);
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("a record under 4 GiB");
    let mut out = Vec::with_capacity(FRAME_HEAD + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(payload));
    out.extend_from_slice(payload);
    out
}

/// The whole records at the start of `bytes`, and how many bytes they take: reading stops at
/// the first record that is cut short or fails its checksum (a write a crash tore).
fn frames(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(head) = bytes.get(at..at + FRAME_HEAD) {
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let Some(payload) = bytes.get(at + FRAME_HEAD..at + FRAME_HEAD + len) else {
            break;
        };
        if checksum(payload) != head[4..] {
            break;
        }
        out.push(payload);
        at += FRAME_HEAD + len;
    }
    (out, at)
}

/// Brings a document of an older format version up to [`FORMAT_VERSION`].
fn migrate(doc: &mut Document) {
    if doc.format_version < 2 {
        // Version 1 had no Key Vault: the bootstrap admin gets what a new tenant's has.
        crate::keyvault::store::grant_admin(doc);
        doc.format_version = 2;
    }
    if doc.format_version < 3 {
        // Version 2 had no journal: whatever `sandbox.journal` holds is not this tenant's.
        doc.journal_generation = 0;
        doc.format_version = 3;
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

/// Writes `doc` as a new snapshot that starts journal generation `generation`, then an empty
/// journal of that generation (the older journal is stale from the moment the snapshot is
/// renamed into place). Returns the snapshot's size and the journal file, open for appending.
pub(crate) fn write_snapshot(
    path: &Path,
    doc: &mut Document,
    generation: u64,
) -> Result<(u64, std::fs::File), SandboxError> {
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SandboxError::WriteState { path, source }
    };
    doc.journal_generation = generation;
    let bytes = serde_json::to_vec_pretty(&*doc).expect("the state serialises");
    write_atomically(path, &bytes).map_err(write_error(path))?;
    let journal = journal_path_for(path);
    let header = serde_json::to_vec(&Header {
        journal_generation: generation,
    })
    .expect("a header serialises");
    write_atomically(&journal, &frame(&header)).map_err(write_error(&journal))?;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .map_err(write_error(&journal))?;
    Ok((bytes.len() as u64, file))
}

/// The in-memory document, its files, and the journal records not yet on disk.
pub(crate) struct Store {
    doc: RwLock<Document>,
    path: Option<PathBuf>,
    /// Framed records not yet written, and the number of the last one.
    pending: Mutex<Pending>,
    /// The journal file; held while writing it or compacting.
    journal: Mutex<Journal>,
    pub(crate) dirty: tokio::sync::Notify,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    seq: u64,
    /// What the journal last recorded of everything outside the collections.
    rest: Vec<u8>,
}

#[derive(Default)]
struct Journal {
    file: Option<std::fs::File>,
    generation: u64,
    /// Bytes in the journal and in its snapshot.
    len: u64,
    snapshot_len: u64,
    /// The last record on disk.
    durable_seq: u64,
    /// Bytes written to the state's files in all, for measurements.
    written: u64,
}

/// Compaction waits until the journal is at least this big, so a small tenant is not
/// rewritten every few writes.
const MIN_COMPACT: u64 = 1 << 20;

/// The document under its write lock; dropping it records what changed for the journal.
pub(crate) struct DocWrite<'a> {
    guard: RwLockWriteGuard<'a, Document>,
    store: &'a Store,
}

impl Deref for DocWrite<'_> {
    type Target = Document;

    fn deref(&self) -> &Document {
        &self.guard
    }
}

impl DerefMut for DocWrite<'_> {
    fn deref_mut(&mut self) -> &mut Document {
        &mut self.guard
    }
}

impl Drop for DocWrite<'_> {
    fn drop(&mut self) {
        if self.store.path.is_none() {
            // In memory only: nothing to journal, but forget what changed.
            for (_, coll) in self.guard.collections_mut() {
                coll.take_changed();
            }
            return;
        }
        let mut pending = self.store.pending();
        let Some(record) = self.guard.take_record(&mut pending.rest) else {
            return;
        };
        let payload = serde_json::to_vec(&record).expect("a record serialises");
        pending.bytes.extend_from_slice(&frame(&payload));
        pending.seq += 1;
        drop(pending);
        self.store.dirty.notify_one();
    }
}

impl Store {
    pub(crate) fn new(mut doc: Document, path: Option<PathBuf>) -> Self {
        // What seeding or loading changed is in the first snapshot.
        for (_, coll) in doc.collections_mut() {
            coll.take_changed();
        }
        let rest = doc.rest();
        Store {
            doc: RwLock::new(doc),
            path,
            pending: Mutex::new(Pending {
                rest,
                ..Pending::default()
            }),
            journal: Mutex::new(Journal::default()),
            dirty: tokio::sync::Notify::new(),
        }
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn journal(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The document to change; see [`DocWrite`].
    pub(crate) fn lock(&self) -> DocWrite<'_> {
        // A panic while holding the lock must not take the whole tenant down with it.
        DocWrite {
            guard: self.doc.write().unwrap_or_else(|p| p.into_inner()),
            store: self,
        }
    }

    /// The document to read, shared with other readers.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Document> {
        self.doc.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes every write made so far durable before the caller answers (see [`Store::persist`]).
    pub(crate) fn mark_dirty(&self) {
        if let Err(e) = self.persist() {
            tracing::warn!(error = %e, "cannot save the sandbox state");
        }
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Bytes written to the state file and journal since the server started.
    pub(crate) fn bytes_written(&self) -> u64 {
        self.journal().written
    }

    /// Puts every record written so far on disk: one write and fsync for all that wait (group
    /// commit), then compaction when the journal has outgrown its snapshot. Blocking.
    pub(crate) fn persist(&self) -> Result<(), SandboxError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let target = self.pending().seq;
        let mut journal = self.journal();
        if journal.file.is_none() {
            return self.compact(&mut journal, path);
        }
        if journal.durable_seq >= target {
            return Ok(());
        }
        let (bytes, seq) = {
            let mut pending = self.pending();
            (std::mem::take(&mut pending.bytes), pending.seq)
        };
        let journal_path = journal_path_for(path);
        let write_error = |source| SandboxError::WriteState {
            path: journal_path.clone(),
            source,
        };
        let file = journal.file.as_mut().expect("open");
        file.write_all(&bytes).map_err(write_error)?;
        file.sync_data().map_err(write_error)?;
        journal.len += bytes.len() as u64;
        journal.written += bytes.len() as u64;
        journal.durable_seq = seq;
        if journal.len > journal.snapshot_len.max(MIN_COMPACT) {
            self.compact(&mut journal, path)?;
        }
        Ok(())
    }

    /// Writes the whole document as a new snapshot and starts a new journal.
    fn compact(&self, journal: &mut Journal, path: &Path) -> Result<(), SandboxError> {
        let (mut doc, seq) = {
            // The document as of now, with every record up to here in it: they are dropped.
            let doc = self.read();
            let mut pending = self.pending();
            pending.bytes.clear();
            (Document::clone(&doc), pending.seq)
        };
        let generation = journal.generation.max(doc.journal_generation) + 1;
        journal.file = None;
        let (snapshot_len, file) = write_snapshot(path, &mut doc, generation)?;
        self.doc
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .journal_generation = generation;
        journal.file = Some(file);
        journal.generation = generation;
        journal.snapshot_len = snapshot_len;
        journal.len = 0;
        journal.written += snapshot_len;
        journal.durable_seq = seq;
        Ok(())
    }

    /// Compacts (on shutdown, so the snapshot alone is the tenant).
    pub(crate) fn save_if_changed(&self) -> Result<(), SandboxError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        self.persist()?;
        let mut journal = self.journal();
        if journal.len > 0 || journal.file.is_none() {
            self.compact(&mut journal, path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app(i: usize) -> Entry {
        let mut o = Object::new();
        o.insert("id".into(), json!(format!("app-{i:05}")));
        o.insert("appId".into(), json!(format!("appid-{i:05}")));
        o.insert("uniqueName".into(), json!(format!("name-{i:05}")));
        o.insert("displayName".into(), json!(format!("App {i}")));
        Entry::new(o, 0)
    }

    /// A store on a new tenant in `dir`, with its first snapshot written.
    fn store(dir: &Path) -> (Store, PathBuf) {
        let path = dir.join("sandbox.json");
        let store = Store::new(crate::seed::new_tenant().unwrap(), Some(path.clone()));
        store.persist().unwrap();
        (store, path)
    }

    fn create(store: &Store, i: usize) {
        store
            .lock()
            .applications
            .insert(format!("app-{i:05}"), app(i));
        store.persist().unwrap();
    }

    fn names(doc: &Document) -> Vec<String> {
        doc.applications
            .values()
            .map(|e| e.str("uniqueName").to_owned())
            .filter(|n| n.starts_with("name-"))
            .collect()
    }

    #[test]
    fn a_write_is_on_disk_when_persist_returns_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store(dir.path());
        for i in 0..5 {
            create(&store, i);
        }
        store.lock().applications.remove("app-00002");
        store
            .lock()
            .applications
            .get_mut("app-00003")
            .unwrap()
            .object
            .insert("uniqueName".into(), json!("name-renamed"));
        store.lock().tenant.display_name = "Renamed".into();
        store.persist().unwrap();
        // No clean shutdown: the snapshot is the seeded tenant, the journal has the rest.
        let loaded = load(&path).unwrap().unwrap();
        assert_eq!(
            names(&loaded),
            ["name-00000", "name-00001", "name-renamed", "name-00004"]
        );
        assert_eq!(loaded.tenant.display_name, "Renamed");
        assert_eq!(loaded.format_version, FORMAT_VERSION);
        let renamed = loaded
            .applications
            .find_by("uniqueName", "NAME-RENAMED")
            .count();
        assert_eq!(renamed, 1, "indexes built on load");
        assert_eq!(
            loaded
                .applications
                .find_by("uniqueName", "name-00003")
                .count(),
            0
        );
    }

    #[test]
    fn a_torn_record_is_dropped_with_everything_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store(dir.path());
        create(&store, 0);
        create(&store, 1);
        let journal = journal_path_for(&path);
        let whole = std::fs::read(&journal).unwrap();
        let (records, used) = frames(&whole);
        assert_eq!(
            (records.len(), used),
            (3, whole.len()),
            "a header and two records"
        );
        let last = whole.len() - (FRAME_HEAD + records[2].len());
        // Cut the last record at every length, and flip each of its bytes: it is never half
        // applied, and what came before it always is.
        for cut in last..whole.len() {
            std::fs::write(&journal, &whole[..cut]).unwrap();
            assert_eq!(
                names(&load(&path).unwrap().unwrap()),
                ["name-00000"],
                "cut at {cut}"
            );
        }
        for at in last..whole.len() {
            let mut bad = whole.clone();
            bad[at] ^= 0x55;
            std::fs::write(&journal, &bad).unwrap();
            let loaded = names(&load(&path).unwrap().unwrap());
            assert_eq!(loaded, ["name-00000"], "byte {at} flipped");
        }
        std::fs::write(&journal, &whole).unwrap();
        assert_eq!(
            names(&load(&path).unwrap().unwrap()),
            ["name-00000", "name-00001"]
        );
    }

    #[test]
    fn a_journal_of_another_generation_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store(dir.path());
        create(&store, 0);
        let stale = std::fs::read(journal_path_for(&path)).unwrap();
        store.save_if_changed().unwrap();
        create(&store, 1);
        // A crash after the new snapshot was renamed into place, before the new journal was:
        // the old journal is still there, and must not be replayed over the newer snapshot.
        store.lock().applications.remove("app-00000");
        store.save_if_changed().unwrap();
        std::fs::write(journal_path_for(&path), &stale).unwrap();
        assert_eq!(names(&load(&path).unwrap().unwrap()), ["name-00001"]);
    }

    /// Writes cost their own bytes: ten times the creates write about ten times the bytes
    /// (snapshots included), where rewriting the file on every commit would be far more.
    #[test]
    fn creates_write_bytes_in_proportion_to_their_number() {
        let written = |n: usize| {
            let dir = tempfile::tempdir().unwrap();
            let (store, _) = store(dir.path());
            let before = store.bytes_written();
            for i in 0..n {
                store
                    .lock()
                    .applications
                    .insert(format!("app-{i:05}"), app(i));
                if i % 10 == 9 {
                    store.persist().unwrap();
                }
            }
            store.save_if_changed().unwrap();
            store.bytes_written() - before
        };
        let (small, large) = (written(300), written(3000));
        assert!(
            large < small * 15,
            "{small} bytes for 300 creates, {large} for 3,000"
        );
    }
}
