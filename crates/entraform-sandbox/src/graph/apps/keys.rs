//! Certificates: `keyCredentials` on create/update, `addKey`/`removeKey` with proof of
//! possession, and the certificates that prove it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sha1::Digest as _;

use super::{find, key_id_of, remove_credential};
use crate::errors::GraphError;
use crate::graph::only_properties;
use crate::graph::{Call, Key, Reply, entity};
use crate::jwt::{Parts, cert_info};
use crate::state::{Document, Entry, Object};
use crate::{is_guid, iso, new_guid, parse_iso};

const KEY_FIELDS: &[&str] = &[
    "customKeyIdentifier",
    "displayName",
    "endDateTime",
    "key",
    "keyId",
    "startDateTime",
    "type",
    "usage",
];

/// keyCredential `displayName`: longer values are accepted and cut to this many characters.
const KEY_DISPLAY_NAME_MAX: usize = 90;

/// Validates one keyCredential: `key` must be a real certificate; fills keyId and dates.
pub(super) fn normalize_key(v: &Value) -> Result<Object, GraphError> {
    let Value::Object(m) = v else {
        return Err(GraphError::invalid_value("keyCredentials"));
    };
    only_properties(m, KEY_FIELDS)?;
    let bad_key = || {
        GraphError::bad_request(
            "Invalid value specified for property 'key' of resource 'KeyCredential'.",
        )
    };
    let key = m.get("key").and_then(Value::as_str).ok_or_else(bad_key)?;
    let der = STANDARD.decode(key.trim()).map_err(|_| bad_key())?;
    let info = cert_info(&der).ok_or_else(bad_key)?;
    let ty = m
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("AsymmetricX509Cert");
    if !["AsymmetricX509Cert", "X509CertAndPassword"].contains(&ty) {
        return Err(GraphError::invalid_value("type"));
    }
    let usage = m.get("usage").and_then(Value::as_str).unwrap_or("Verify");
    if !["Verify", "Sign"].contains(&usage) {
        return Err(GraphError::invalid_value("usage"));
    }
    // Edm.Binary: stored as the bytes the base64 carries and returned re-encoded; absent, it is
    // the certificate's SHA-1 thumbprint (keyCredential reference: "When not provided in the
    // payload, defaults to the thumbprint of the certificate").
    let cki_bytes = match m.get("customKeyIdentifier") {
        None | Some(Value::Null) => sha1::Sha1::digest(&der).to_vec(),
        Some(Value::String(s)) => STANDARD
            .decode(s.trim())
            .map_err(|_| GraphError::invalid_value("customKeyIdentifier"))?,
        _ => return Err(GraphError::invalid_value("customKeyIdentifier")),
    };
    let cki = Value::String(STANDARD.encode(cki_bytes));
    let key_id = match m.get("keyId") {
        None | Some(Value::Null) => new_guid(),
        Some(Value::String(s)) if is_guid(s) => s.to_lowercase(),
        _ => return Err(GraphError::invalid_value("keyId")),
    };
    let date = |name: &str, default: i64| -> Result<i64, GraphError> {
        match m.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::String(s)) => parse_iso(s).ok_or_else(|| GraphError::invalid_value(name)),
            _ => Err(GraphError::invalid_value(name)),
        }
    };
    let start = date("startDateTime", info.not_before_ms)?;
    let end = date("endDateTime", info.not_after_ms)?;
    if end <= start {
        return Err(GraphError::bad_request(
            "Key credential end date must be later than its start date.",
        ));
    }
    // "The friendly name for the key, with a maximum length of 90 characters. Longer values are
    // accepted but shortened." (keyCredential reference)
    let display = match m.get("displayName") {
        Some(Value::String(s)) => s.clone(),
        _ => info.subject.clone(),
    };
    let display = Value::String(display.chars().take(KEY_DISPLAY_NAME_MAX).collect());
    let mut out = Map::new();
    out.insert("customKeyIdentifier".into(), cki);
    out.insert("displayName".into(), display);
    out.insert("endDateTime".into(), json!(iso(end)));
    out.insert("key".into(), json!(key.trim()));
    out.insert("keyId".into(), json!(key_id));
    out.insert("startDateTime".into(), json!(iso(start)));
    out.insert("type".into(), json!(ty));
    out.insert("usage".into(), json!(usage));
    Ok(out)
}

/// The app's certificates that are valid now (key credential dates and certificate dates).
pub(crate) fn valid_certificates(obj: &Object, now: i64) -> Vec<(Object, crate::jwt::CertInfo)> {
    certificates(obj)
        .into_iter()
        .filter(|(_, info, start, end)| {
            *start <= now && now <= *end && info.not_before_ms <= now && now <= info.not_after_ms
        })
        .map(|(k, info, _, _)| (k, info))
        .collect()
}

/// A verification certificate on an app and its key credential's validity window.
pub(crate) type Certificate = (Object, crate::jwt::CertInfo, i64, i64);

/// Every verification certificate on the app, whatever its dates.
pub(crate) fn certificates(obj: &Object) -> Vec<Certificate> {
    let mut out = Vec::new();
    for k in obj
        .get("keyCredentials")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(m) = k.as_object() else { continue };
        if m.get("usage").and_then(Value::as_str) != Some("Verify") {
            continue;
        }
        let Some(der) = m
            .get("key")
            .and_then(Value::as_str)
            .and_then(|s| STANDARD.decode(s).ok())
        else {
            continue;
        };
        let Some(info) = cert_info(&der) else {
            continue;
        };
        let start = m
            .get("startDateTime")
            .and_then(Value::as_str)
            .and_then(parse_iso)
            .unwrap_or(i64::MIN);
        let end = m
            .get("endDateTime")
            .and_then(Value::as_str)
            .and_then(parse_iso)
            .unwrap_or(i64::MAX);
        out.push((m.clone(), info, start, end));
    }
    out
}

/// Verifies an `addKey`/`removeKey` proof: signed by a currently valid certificate of the app,
/// `aud` = the AAD Graph id, `iss` = the application's object id, lifetime ≤ 10 minutes.
fn verify_proof(e: &Entry, proof: Option<&Value>, now: i64) -> Result<(), GraphError> {
    let certs = valid_certificates(&e.object, now);
    if certs.is_empty() {
        return Err(GraphError::bad_request(
            "The application has no valid certificate to verify the proof of possession; add the first certificate with a PATCH of keyCredentials.",
        ));
    }
    let invalid =
        |why: &str| GraphError::bad_request(format!("Invalid proof of possession token: {why}"));
    let token = proof
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("'proof' is required."))?;
    let parts = Parts::parse(token).ok_or_else(|| invalid("not a JWT."))?;
    if !certs
        .iter()
        .any(|(_, c)| parts.verify_rsa(&c.modulus, &c.exponent))
    {
        return Err(invalid(
            "the signature does not verify with any valid certificate of the application.",
        ));
    }
    if parts.audiences() != ["00000002-0000-0000-c000-000000000000"] {
        return Err(invalid(
            "'aud' must be 00000002-0000-0000-c000-000000000000.",
        ));
    }
    if parts.claim_str("iss") != Some(e.str("id")) {
        return Err(invalid("'iss' must be the application's object id."));
    }
    let (Some(nbf), Some(exp)) = (parts.claim_i64("nbf"), parts.claim_i64("exp")) else {
        return Err(invalid("'nbf' and 'exp' are required."));
    };
    if exp - nbf > 600 {
        return Err(invalid("the token lifetime exceeds 10 minutes."));
    }
    let now_s = now / 1000;
    if now_s < nbf - 300 || now_s > exp {
        return Err(invalid("the token is expired or not yet valid."));
    }
    Ok(())
}

pub(super) fn add_key(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    let e = find(doc, key, call.now)?;
    call.caller.can_write(&e.owners)?;
    let body = call.json_body()?;
    verify_proof(e, body.get("proof"), call.now)?;
    if !matches!(body.get("passwordCredential"), None | Some(Value::Null)) {
        return Err(GraphError::bad_request(
            "The sandbox does not support passwordCredential in addKey (used only with X509CertAndPassword).",
        ));
    }
    let new = normalize_key(body.get("keyCredential").unwrap_or(&Value::Null))?;
    let id = e.str("id").to_string();
    let mut entry = doc.applications.get_mut(&id).expect("found above");
    let keys = entry
        .object
        .entry("keyCredentials")
        .or_insert_with(|| json!([]));
    let list = keys.as_array_mut().expect("keyCredentials is an array");
    if list.iter().any(|k| k["keyId"] == new["keyId"]) {
        return Err(GraphError::bad_request(
            "keyCredentials must have unique keyIds.",
        ));
    }
    list.push(Value::Object(new.clone()));
    let mut shown = new;
    shown.insert("key".into(), Value::Null);
    let context = call.metadata("microsoft.graph.keyCredential");
    Ok(Reply::json(200, entity(context, shown)))
}

pub(super) fn remove_key(doc: &mut Document, call: &Call, key: &Key) -> Result<Reply, GraphError> {
    let e = find(doc, key, call.now)?;
    call.caller.can_write(&e.owners)?;
    let body = call.json_body()?;
    verify_proof(e, body.get("proof"), call.now)?;
    let key_id = key_id_of(&body)?;
    let id = e.str("id").to_string();
    remove_credential(doc, &id, "keyCredentials", &key_id)?;
    Ok(Reply::no_content())
}
