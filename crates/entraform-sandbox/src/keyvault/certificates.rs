//! Certificates and the secrets that back them (SPEC: Azure/azure-rest-api-specs
//! `specification/keyvault/data-plane/Certificates/{routes,models}.tsp` and
//! `Secrets/{routes,models}.tsp`; example bodies from `Certificates/stable/2025-07-01/examples/`).
//! All times are Unix seconds; `x5t` is the base64url SHA-1 of the DER, unpadded.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::store::{Certificate, CertificateVersion, DeletedCertificate, Policy, Vault};
use super::{KvError, KvRequest, Reply, pfx};
use crate::state::Document;

/// Days a deleted certificate stays recoverable (the default, and the examples' 90 days).
const RECOVERABLE_DAYS: i64 = 90;
const RECOVERY_LEVEL: &str = "Recoverable+Purgeable";
/// "If not specified the service will return up to 25 results."
const PAGE_SIZE: usize = 25;

const READ: &str = "Microsoft.KeyVault/vaults/certificates/read";
const IMPORT: &str = "Microsoft.KeyVault/vaults/certificates/import/action";
const DELETE: &str = "Microsoft.KeyVault/vaults/certificates/delete";
const RECOVER: &str = "Microsoft.KeyVault/vaults/certificates/recover/action";
const PURGE: &str = "Microsoft.KeyVault/vaults/certificates/purge/action";

/// What a request asks for, and the data action it needs.
pub(crate) struct Operation {
    pub action: &'static str,
    kind: Kind,
}

enum Kind {
    List,
    Import(String),
    Get(String, Option<String>),
    Versions(String),
    Policy(String),
    Delete(String),
    GetDeleted(String),
    Recover(String),
    Purge(String),
}

fn not_found_route(request: &KvRequest<'_>) -> KvError {
    KvError::new(
        404,
        "NotFound",
        format!(
            "The requested route /{} was not found for {}.",
            request.segments.join("/"),
            request.method
        ),
    )
}

pub(crate) fn operation(request: &KvRequest<'_>) -> Result<Operation, KvError> {
    let seg: Vec<&str> = request.segments.iter().map(String::as_str).collect();
    let op = |action, kind| Ok(Operation { action, kind });
    let name = |n: &str| n.to_owned();
    match (request.method, seg.as_slice()) {
        ("GET", ["certificates"]) => op(READ, Kind::List),
        ("POST", ["certificates", n, "import"]) => op(IMPORT, Kind::Import(name(n))),
        ("GET", ["certificates", n, "versions"]) => op(READ, Kind::Versions(name(n))),
        ("GET", ["certificates", n, "policy"]) => op(READ, Kind::Policy(name(n))),
        ("GET", ["certificates", n]) => op(READ, Kind::Get(name(n), None)),
        ("GET", ["certificates", n, v]) => op(READ, Kind::Get(name(n), Some(name(v)))),
        ("DELETE", ["certificates", n]) => op(DELETE, Kind::Delete(name(n))),
        ("GET", ["deletedcertificates", n]) => op(READ, Kind::GetDeleted(name(n))),
        ("POST", ["deletedcertificates", n, "recover"]) => op(RECOVER, Kind::Recover(name(n))),
        ("DELETE", ["deletedcertificates", n]) => op(PURGE, Kind::Purge(name(n))),
        _ => Err(not_found_route(request)),
    }
}

pub(crate) fn run(
    doc: &mut Document,
    request: &KvRequest<'_>,
    operation: &Operation,
) -> Result<Reply, KvError> {
    let key = request.vault.to_ascii_lowercase();
    let url = request.id_base.as_str();
    let now = request.now_s;
    let ok = |body: Value| {
        Ok(Reply {
            status: 200,
            headers: Vec::new(),
            body: Some(body),
        })
    };
    if let Kind::Import(name) = &operation.kind {
        let vault = doc.key_vaults.entry(key).or_default();
        let cert = import(vault, name, request.body, now)?;
        return ok(bundle(url, cert, cert.latest().expect("just imported")));
    }
    let empty = Vault::default();
    let vault = doc.key_vaults.get(&key).unwrap_or(&empty);
    match &operation.kind {
        Kind::Import(_) => unreachable!("handled above"),
        Kind::List => ok(list(url, vault, request)),
        Kind::Get(name, version) => {
            let cert = find(vault, name)?;
            let v = match version {
                Some(v) => cert.version(v).ok_or_else(|| not_found(name))?,
                None => cert.latest().ok_or_else(|| not_found(name))?,
            };
            ok(bundle(url, cert, v))
        }
        Kind::Versions(name) => {
            let cert = find(vault, name)?;
            let items = cert
                .versions
                .iter()
                .map(|v| item(url, &cert.name, Some(v), v))
                .collect();
            ok(page(items, &request.params, request))
        }
        Kind::Policy(name) => ok(policy(url, find(vault, name)?)),
        Kind::GetDeleted(name) => {
            let deleted = vault
                .deleted_certificates
                .get(&name.to_ascii_lowercase())
                .ok_or_else(|| deleted_not_found(name))?;
            ok(deleted_bundle(url, deleted))
        }
        Kind::Delete(name) => {
            let vault = doc.key_vaults.entry(key).or_default();
            let cert = vault
                .certificates
                .remove(&name.to_ascii_lowercase())
                .ok_or_else(|| not_found(name))?;
            let deleted = DeletedCertificate {
                certificate: cert,
                deleted_date: now,
                scheduled_purge_date: now + RECOVERABLE_DAYS * 86_400,
            };
            let body = deleted_bundle(url, &deleted);
            vault
                .deleted_certificates
                .insert(name.to_ascii_lowercase(), deleted);
            ok(body)
        }
        Kind::Recover(name) => {
            let vault = doc.key_vaults.entry(key).or_default();
            let deleted = vault
                .deleted_certificates
                .remove(&name.to_ascii_lowercase())
                .ok_or_else(|| deleted_not_found(name))?;
            let cert = deleted.certificate;
            let body = bundle(
                url,
                &cert,
                cert.latest().expect("a stored certificate has a version"),
            );
            vault.certificates.insert(name.to_ascii_lowercase(), cert);
            ok(body)
        }
        Kind::Purge(name) => {
            let vault = doc.key_vaults.entry(key).or_default();
            vault
                .deleted_certificates
                .remove(&name.to_ascii_lowercase())
                .ok_or_else(|| deleted_not_found(name))?;
            Ok(Reply {
                status: 204,
                headers: Vec::new(),
                body: None,
            })
        }
    }
}

fn not_found(name: &str) -> KvError {
    KvError::new(
        404,
        "CertificateNotFound",
        format!("Certificate not found: {name}"),
    )
}

fn deleted_not_found(name: &str) -> KvError {
    KvError::new(
        404,
        "CertificateNotFound",
        format!("Deleted Certificate not found: {name}"),
    )
}

fn find<'v>(vault: &'v Vault, name: &str) -> Result<&'v Certificate, KvError> {
    vault
        .certificates
        .get(&name.to_ascii_lowercase())
        .ok_or_else(|| not_found(name))
}

pub(crate) fn valid_object_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `POST /certificates/{name}/import`: a new version of the certificate (the first creates it).
fn import<'v>(
    vault: &'v mut Vault,
    name: &str,
    body: &[u8],
    now: i64,
) -> Result<&'v Certificate, KvError> {
    if !valid_object_name(name) {
        return Err(KvError::bad_parameter(format!(
            "The request URI contains an invalid name: {name}"
        )));
    }
    let key = name.to_ascii_lowercase();
    if vault.deleted_certificates.contains_key(&key) {
        // Recorded live (rcl-letsencrypt-auto-ssl/Lets-Encrypt-Auto issue #16).
        return Err(KvError::new(
            409,
            "Conflict",
            format!(
                "Certificate {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the certificate can only be recovered or purged."
            ),
        )
        .inner("ObjectIsDeletedButRecoverable"));
    }
    let Ok(Value::Object(params)) = serde_json::from_slice::<Value>(body) else {
        return Err(KvError::bad_parameter(
            "The request body is not valid JSON: a CertificateImportParameters object is required.",
        ));
    };
    let Some(value) = params.get("value").and_then(Value::as_str) else {
        return Err(KvError::bad_parameter("Property 'value' is required."));
    };
    let pfx_bytes = STANDARD.decode(value.trim()).map_err(|_| {
        KvError::bad_parameter("The specified certificate value is not valid base64.")
    })?;
    let pwd = params
        .get("pwd")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let requested = params.get("policy").filter(|p| p.is_object());
    let existing = vault.certificates.get(&key).map(|c| c.policy.clone());
    let flag = |props: &str, field: &str| requested.and_then(|p| p[props][field].as_bool());
    let content_type = requested
        .and_then(|p| p["secret_props"]["contentType"].as_str())
        .map(str::to_owned)
        .or_else(|| existing.as_ref().map(|p| p.content_type.clone()))
        .unwrap_or_else(|| "application/x-pkcs12".to_owned());
    if content_type != "application/x-pkcs12" {
        return Err(KvError::bad_parameter(format!(
            "The sandbox stores certificates as PKCS#12 only; contentType '{content_type}' is not emulated."
        )));
    }
    let exportable = flag("key_props", "exportable")
        .or(existing.as_ref().map(|p| p.exportable))
        .unwrap_or(true);
    let reuse_key = flag("key_props", "reuse_key")
        .or(existing.as_ref().map(|p| p.reuse_key))
        .unwrap_or(false);
    let imported = pfx::import(&pfx_bytes, pwd, exportable).map_err(KvError::bad_parameter)?;
    let info = crate::jwt::cert_info(&imported.leaf).ok_or_else(|| {
        KvError::bad_parameter(
            "The specified X.509 certificate content is invalid. Error: One or more X.509 properties are invalid.",
        )
    })?;
    let version = CertificateVersion {
        version: uuid::Uuid::new_v4().simple().to_string(),
        created: now,
        updated: now,
        enabled: true,
        nbf: info.not_before_ms / 1000,
        exp: info.not_after_ms / 1000,
        cer: STANDARD.encode(&imported.leaf),
        x5t: info.x5t.clone(),
        subject: info.subject.clone(),
        key_size: (info.modulus.len() * 8) as u32,
        secret_value: imported.secret_value,
    };
    let cert = vault
        .certificates
        .entry(key)
        .or_insert_with(|| Certificate {
            name: name.to_owned(),
            policy: Policy {
                exportable,
                reuse_key,
                content_type: content_type.clone(),
                created: now,
                updated: now,
            },
            versions: Vec::new(),
        });
    if requested.is_some() {
        cert.policy.exportable = exportable;
        cert.policy.reuse_key = reuse_key;
        cert.policy.content_type = content_type;
        cert.policy.updated = now;
    }
    cert.versions.push(version);
    Ok(cert)
}

fn attributes(v: &CertificateVersion) -> Value {
    json!({
        "enabled": v.enabled,
        "nbf": v.nbf,
        "exp": v.exp,
        "created": v.created,
        "updated": v.updated,
        "recoveryLevel": RECOVERY_LEVEL,
        "recoverableDays": RECOVERABLE_DAYS,
    })
}

fn object_id(url: &str, kind: &str, name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{url}/{kind}/{name}/{v}"),
        None => format!("{url}/{kind}/{name}"),
    }
}

/// The policy Key Vault makes for an imported certificate "by reading the X.509 certificate"
/// (`articles/key-vault/certificates/about-certificates.md`), as in
/// `ImportCertificate-example.json`: issuer `Unknown`, the default lifetime action.
fn policy(url: &str, cert: &Certificate) -> Value {
    let latest = cert.latest();
    let months = latest.map_or(12, |v| {
        ((v.exp - v.nbf) as f64 / (30.4375 * 86_400.0)).round() as i64
    });
    json!({
        "id": format!("{url}/certificates/{}/policy", cert.name),
        "key_props": {
            "exportable": cert.policy.exportable,
            "kty": "RSA",
            "key_size": latest.map_or(2048, |v| v.key_size),
            "reuse_key": cert.policy.reuse_key,
        },
        "secret_props": { "contentType": cert.policy.content_type },
        "x509_props": {
            "subject": latest.map(|v| v.subject.clone()).unwrap_or_default(),
            "ekus": [],
            "key_usage": [],
            "validity_months": months,
        },
        "lifetime_actions": [
            { "trigger": { "lifetime_percentage": 80 }, "action": { "action_type": "EmailContacts" } }
        ],
        "issuer": { "name": "Unknown" },
        "attributes": {
            "enabled": true,
            "created": cert.policy.created,
            "updated": cert.policy.updated,
        },
    })
}

/// `CertificateBundle`.
fn bundle(url: &str, cert: &Certificate, v: &CertificateVersion) -> Value {
    let ver = Some(v.version.as_str());
    json!({
        "id": object_id(url, "certificates", &cert.name, ver),
        "kid": object_id(url, "keys", &cert.name, ver),
        "sid": object_id(url, "secrets", &cert.name, ver),
        "x5t": v.x5t,
        "cer": v.cer,
        "attributes": attributes(v),
        "policy": policy(url, cert),
    })
}

/// `CertificateItem`: the base id in the collection list, the versioned id in versions.
fn item(
    url: &str,
    name: &str,
    version: Option<&CertificateVersion>,
    v: &CertificateVersion,
) -> Value {
    let mut attrs = attributes(v);
    if let Value::Object(a) = &mut attrs {
        a.remove("recoverableDays");
    }
    json!({
        "id": object_id(url, "certificates", name, version.map(|v| v.version.as_str())),
        "x5t": v.x5t,
        "attributes": attrs,
    })
}

fn deleted_bundle(url: &str, deleted: &DeletedCertificate) -> Value {
    let cert = &deleted.certificate;
    let mut body = bundle(
        url,
        cert,
        cert.latest().expect("a stored certificate has a version"),
    );
    let extra: Map<String, Value> = [
        (
            "recoveryId".to_owned(),
            json!(format!("{url}/deletedcertificates/{}", cert.name)),
        ),
        ("deletedDate".to_owned(), json!(deleted.deleted_date)),
        (
            "scheduledPurgeDate".to_owned(),
            json!(deleted.scheduled_purge_date),
        ),
    ]
    .into_iter()
    .collect();
    let mut out = extra;
    if let Value::Object(b) = body.take() {
        out.extend(b);
    }
    Value::Object(out)
}

/// `GET /secrets/{name}[/{version}]` of a certificate's name: its secret, if it has one.
pub(crate) fn certificate_secret(
    url: &str,
    vault: &Vault,
    name: &str,
    version: Option<&str>,
) -> Option<Value> {
    let cert = vault.certificates.get(&name.to_ascii_lowercase())?;
    let v = match version {
        Some(v) => cert.version(v),
        None => cert.latest(),
    }?;
    Some(secret(url, cert, v))
}

/// The secret backing a certificate, as recorded live: `managed: true`, the `kid`, the PFX.
fn secret(url: &str, cert: &Certificate, v: &CertificateVersion) -> Value {
    let ver = Some(v.version.as_str());
    json!({
        "value": v.secret_value,
        "contentType": cert.policy.content_type,
        "id": object_id(url, "secrets", &cert.name, ver),
        "managed": true,
        "attributes": attributes(v),
        "kid": object_id(url, "keys", &cert.name, ver),
    })
}

fn list(url: &str, vault: &Vault, request: &KvRequest<'_>) -> Value {
    let items: Vec<Value> = vault
        .certificates
        .values()
        .filter_map(|c| c.latest().map(|v| item(url, &c.name, None, v)))
        .collect();
    page(items, &request.params, request)
}

pub(crate) fn page(
    items: Vec<Value>,
    params: &crate::odata::Params,
    request: &KvRequest<'_>,
) -> Value {
    let path = request.segments.join("/");
    page_of(items, params, &format!("{}/{path}", request.vault_url))
}

/// `{value, nextLink}` with at most `maxresults` (1..25) items; the next link is absolute and
/// carries the request's `api-version` (`GetDeletedCertificates-example.json`).
fn page_of(items: Vec<Value>, params: &crate::odata::Params, base: &str) -> Value {
    let size = params
        .get("maxresults")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(PAGE_SIZE)
        .clamp(1, PAGE_SIZE);
    let skip = params
        .get("$skiptoken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let rest: Vec<Value> = items.into_iter().skip(skip).collect();
    let next = (rest.len() > size).then(|| {
        format!(
            "{base}?api-version={}&$skiptoken={}&maxresults={size}",
            params.get("api-version").unwrap_or_default(),
            skip + size
        )
    });
    json!({
        "value": rest.into_iter().take(size).collect::<Vec<_>>(),
        "nextLink": next,
    })
}
