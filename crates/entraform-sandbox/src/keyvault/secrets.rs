//! Secrets set on their own (SPEC: Azure/azure-rest-api-specs
//! `specification/keyvault/data-plane/Secrets/{routes,models}.tsp`): `PUT /secrets/{name}` (a
//! new version each time), get (latest and by version), versions, soft delete, deleted get and
//! purge. `GET /secrets/{name}` of a certificate's name answers with the certificate's own
//! secret (its PFX), as Key Vault does: one name, one object.
//!
//! Limits from `articles/key-vault/secrets/about-secrets.md`: a value up to 25 KB, a
//! `contentType` up to 255 characters, up to 15 tags of up to 512 characters each.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::store::{DeletedSecret, SecretObject, SecretVersion, Vault};
use super::{KvError, KvRequest, Reply, certificates};
use crate::state::Document;

const RECOVERABLE_DAYS: i64 = 90;
const RECOVERY_LEVEL: &str = "Recoverable+Purgeable";
const MAX_VALUE_BYTES: usize = 25 * 1024;
const MAX_CONTENT_TYPE: usize = 255;
const MAX_TAGS: usize = 15;
const MAX_TAG_CHARS: usize = 512;

/// Data actions (learn.microsoft.com/azure/role-based-access-control/permissions/security,
/// `Microsoft.KeyVault` data actions): Key Vault Secrets Officer holds `vaults/secrets/*`.
const SET: &str = "Microsoft.KeyVault/vaults/secrets/setSecret/action";
const GET: &str = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
const METADATA: &str = "Microsoft.KeyVault/vaults/secrets/readMetadata/action";
const DELETE: &str = "Microsoft.KeyVault/vaults/secrets/delete";
const PURGE: &str = "Microsoft.KeyVault/vaults/secrets/purge/action";

pub(crate) enum Kind {
    Set(String),
    Get(String, Option<String>),
    Versions(String),
    Delete(String),
    GetDeleted(String),
    Purge(String),
}

/// The secrets routes and their data actions; `None` for any other route.
pub(crate) fn operation(request: &KvRequest<'_>) -> Option<(&'static str, Kind)> {
    let seg: Vec<&str> = request.segments.iter().map(String::as_str).collect();
    let n = |s: &str| s.to_owned();
    Some(match (request.method, seg.as_slice()) {
        ("PUT", ["secrets", name]) => (SET, Kind::Set(n(name))),
        ("GET", ["secrets", name, "versions"]) => (METADATA, Kind::Versions(n(name))),
        ("GET", ["secrets", name]) => (GET, Kind::Get(n(name), None)),
        ("GET", ["secrets", name, v]) => (GET, Kind::Get(n(name), Some(n(v)))),
        ("DELETE", ["secrets", name]) => (DELETE, Kind::Delete(n(name))),
        ("GET", ["deletedsecrets", name]) => (METADATA, Kind::GetDeleted(n(name))),
        ("DELETE", ["deletedsecrets", name]) => (PURGE, Kind::Purge(n(name))),
        _ => return None,
    })
}

pub(crate) fn run(
    doc: &mut Document,
    request: &KvRequest<'_>,
    kind: &Kind,
) -> Result<Reply, KvError> {
    let key = request.vault.to_ascii_lowercase();
    let url = request.id_base.as_str();
    let now = request.now_s;
    let ok = |status, body: Option<Value>| {
        Ok(Reply {
            status,
            headers: Vec::new(),
            body,
        })
    };
    let vault = doc.key_vaults.entry(key).or_default();
    match kind {
        Kind::Set(name) => {
            let secret = set(vault, name, request.body, now)?;
            let latest = secret.versions.last().expect("just set");
            ok(200, Some(bundle(url, &secret.name, latest)))
        }
        Kind::Get(name, version) => {
            if let Some(secret) = vault.secrets.get(&name.to_ascii_lowercase()) {
                let v = match version {
                    Some(v) => secret
                        .versions
                        .iter()
                        .find(|x| x.version.eq_ignore_ascii_case(v)),
                    None => secret.versions.last(),
                }
                .ok_or_else(|| not_found(name))?;
                return ok(200, Some(bundle(url, &secret.name, v)));
            }
            certificates::certificate_secret(url, vault, name, version.as_deref())
                .map(|body| Reply {
                    status: 200,
                    headers: Vec::new(),
                    body: Some(body),
                })
                .ok_or_else(|| not_found(name))
        }
        Kind::Versions(name) => {
            let secret = vault
                .secrets
                .get(&name.to_ascii_lowercase())
                .ok_or_else(|| not_found(name))?;
            let items = secret
                .versions
                .iter()
                .map(|v| item(url, &secret.name, Some(&v.version), v))
                .collect();
            ok(
                200,
                Some(certificates::page(items, &request.params, request)),
            )
        }
        Kind::Delete(name) => {
            let secret = vault
                .secrets
                .remove(&name.to_ascii_lowercase())
                .ok_or_else(|| not_found(name))?;
            let deleted = DeletedSecret {
                secret,
                deleted_date: now,
                scheduled_purge_date: now + RECOVERABLE_DAYS * 86_400,
            };
            let body = deleted_bundle(url, &deleted);
            vault
                .deleted_secrets
                .insert(name.to_ascii_lowercase(), deleted);
            ok(200, Some(body))
        }
        Kind::GetDeleted(name) => {
            let deleted = vault
                .deleted_secrets
                .get(&name.to_ascii_lowercase())
                .ok_or_else(|| deleted_not_found(name))?;
            ok(200, Some(deleted_bundle(url, deleted)))
        }
        Kind::Purge(name) => {
            vault
                .deleted_secrets
                .remove(&name.to_ascii_lowercase())
                .ok_or_else(|| deleted_not_found(name))?;
            ok(204, None)
        }
    }
}

/// `PUT /secrets/{name}` `{value, contentType?, attributes?, tags?}`: "existing name ⇒ new
/// version" (SPEC `setSecret`).
fn set<'v>(
    vault: &'v mut Vault,
    name: &str,
    body: &[u8],
    now: i64,
) -> Result<&'v SecretObject, KvError> {
    if !certificates::valid_object_name(name) {
        return Err(KvError::bad_parameter(format!(
            "The request URI contains an invalid name: {name}"
        )));
    }
    let key = name.to_ascii_lowercase();
    if vault.deleted_secrets.contains_key(&key) {
        // The certificate's live body with "Secret"/"secret" (the template Azure/azure-sdk-for-net
        // mocks for secrets).
        return Err(KvError::new(
            409,
            "Conflict",
            format!(
                "Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."
            ),
        )
        .inner("ObjectIsDeletedButRecoverable"));
    }
    if vault.certificates.contains_key(&key) {
        // What Key Vault does to a write of a certificate's own secret is not documented; the
        // sandbox refuses rather than guess.
        return Err(KvError::bad_parameter(format!(
            "The secret {name} backs a certificate; the sandbox does not emulate setting it."
        )));
    }
    let Ok(Value::Object(params)) = serde_json::from_slice::<Value>(body) else {
        return Err(KvError::bad_parameter(
            "The request body is not valid JSON: a SecretSetParameters object is required.",
        ));
    };
    let Some(value) = params.get("value").and_then(Value::as_str) else {
        return Err(KvError::bad_parameter("Property 'value' is required."));
    };
    if value.len() > MAX_VALUE_BYTES {
        return Err(KvError::bad_parameter(
            "The secret value is larger than 25 KB.",
        ));
    }
    let content_type = match params.get("contentType") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if c.chars().count() <= MAX_CONTENT_TYPE => Some(c.clone()),
        Some(_) => {
            return Err(KvError::bad_parameter(
                "Property 'contentType' must be a string of at most 255 characters.",
            ));
        }
    };
    let attributes = params.get("attributes").cloned().unwrap_or(Value::Null);
    let time = |field: &str| -> Result<Option<i64>, KvError> {
        match &attributes[field] {
            Value::Null => Ok(None),
            v => v.as_i64().map(Some).ok_or_else(|| {
                KvError::bad_parameter(format!(
                    "Property 'attributes.{field}' must be Unix seconds."
                ))
            }),
        }
    };
    let (nbf, exp) = (time("nbf")?, time("exp")?);
    let enabled = attributes["enabled"].as_bool().unwrap_or(true);
    let tags = tags(params.get("tags"))?;
    let version = SecretVersion {
        version: uuid::Uuid::new_v4().simple().to_string(),
        value: value.to_owned(),
        content_type,
        enabled,
        nbf,
        exp,
        created: now,
        updated: now,
        tags,
    };
    let secret = vault.secrets.entry(key).or_insert_with(|| SecretObject {
        name: name.to_owned(),
        versions: Vec::new(),
    });
    secret.versions.push(version);
    Ok(secret)
}

fn tags(given: Option<&Value>) -> Result<BTreeMap<String, String>, KvError> {
    let bad = || {
        KvError::bad_parameter(format!(
            "Property 'tags' must be at most {MAX_TAGS} string pairs of at most {MAX_TAG_CHARS} characters."
        ))
    };
    let Some(Value::Object(map)) = given.filter(|v| !v.is_null()) else {
        return match given {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(_) => Err(bad()),
        };
    };
    if map.len() > MAX_TAGS {
        return Err(bad());
    }
    map.iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) if k.chars().count() <= MAX_TAG_CHARS && s.chars().count() <= MAX_TAG_CHARS => {
                Ok((k.clone(), s.to_owned()))
            }
            _ => Err(bad()),
        })
        .collect()
}

fn attributes(v: &SecretVersion) -> Value {
    let mut a = Map::new();
    a.insert("enabled".into(), json!(v.enabled));
    if let Some(nbf) = v.nbf {
        a.insert("nbf".into(), json!(nbf));
    }
    if let Some(exp) = v.exp {
        a.insert("exp".into(), json!(exp));
    }
    a.insert("created".into(), json!(v.created));
    a.insert("updated".into(), json!(v.updated));
    a.insert("recoveryLevel".into(), json!(RECOVERY_LEVEL));
    a.insert("recoverableDays".into(), json!(RECOVERABLE_DAYS));
    Value::Object(a)
}

/// `SecretBundle`.
fn bundle(url: &str, name: &str, v: &SecretVersion) -> Value {
    let mut body = json!({
        "value": v.value,
        "id": format!("{url}/secrets/{name}/{}", v.version),
        "attributes": attributes(v),
        "tags": v.tags,
    });
    if let Some(c) = &v.content_type {
        body["contentType"] = json!(c);
    }
    body
}

/// `SecretItem`: no value.
fn item(url: &str, name: &str, version: Option<&str>, v: &SecretVersion) -> Value {
    let id = match version {
        Some(ver) => format!("{url}/secrets/{name}/{ver}"),
        None => format!("{url}/secrets/{name}"),
    };
    let mut body = json!({ "id": id, "attributes": attributes(v), "tags": v.tags });
    if let Some(c) = &v.content_type {
        body["contentType"] = json!(c);
    }
    body
}

fn deleted_bundle(url: &str, deleted: &DeletedSecret) -> Value {
    let secret = &deleted.secret;
    let latest = secret
        .versions
        .last()
        .expect("a stored secret has a version");
    let mut body = bundle(url, &secret.name, latest);
    // A deleted secret's value is not returned (`DeletedSecretBundle` is read for recovery).
    if let Value::Object(b) = &mut body {
        b.remove("value");
        b.insert(
            "recoveryId".into(),
            json!(format!("{url}/deletedsecrets/{}", secret.name)),
        );
        b.insert("deletedDate".into(), json!(deleted.deleted_date));
        b.insert(
            "scheduledPurgeDate".into(),
            json!(deleted.scheduled_purge_date),
        );
    }
    body
}

fn not_found(name: &str) -> KvError {
    KvError::new(
        404,
        "SecretNotFound",
        format!(
            "A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command."
        ),
    )
}

fn deleted_not_found(name: &str) -> KvError {
    KvError::new(
        404,
        "SecretNotFound",
        format!("Deleted Secret not found: {name}"),
    )
}
