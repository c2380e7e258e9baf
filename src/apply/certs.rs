//! Certificates at apply time: the PFX password variables are checked before anything is
//! written; a generated certificate is made, and its PFX (and CER) written, before its key is
//! uploaded, so an interrupted apply leaves at worst a file whose key never reached the tenant.
//! Files are never overwritten: a rotation keeps the current ones under the names the plan chose
//! while each new file replaces its path in one rename (see [`crate::cert::write_secret_file_keeping`]).

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::{ApplyError, WrittenFiles};
use crate::cert::{self, CertError, GenerateRequest, GeneratedCertificate, PfxPassword};
use crate::graph::Secret;
use crate::plan::{ArchivedFiles, CertificateMaterial, GenerateCertificate, Operation, Plan};

/// Every `pfxPasswordEnv` the plan's generated certificates need, sorted, once each.
pub fn pfx_password_vars(plan: &Plan) -> Vec<String> {
    plan.operations()
        .filter_map(|(_, op)| match op {
            Operation::AddCertificate { key, .. } => match &key.certificate {
                CertificateMaterial::Generate(g) => g.pfx_password_env.clone(),
                CertificateMaterial::File(_) => None,
            },
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Refuses, naming every variable at once, when a needed PFX password is missing, empty or
/// unusable. Runs before the first write of the whole apply.
pub fn check_pfx_passwords(plan: &Plan) -> Result<(), ApplyError> {
    let problems: Vec<CertError> = pfx_password_vars(plan)
        .iter()
        .filter_map(|var| cert::pfx_password_from_env(var).err())
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::PfxPasswords { problems })
    }
}

/// What a generated certificate became before its key is uploaded.
pub(crate) struct Generated {
    pub certificate: GeneratedCertificate,
    pub files: WrittenFiles,
    /// For a Key Vault destination: the PFX to import (base64) and the one-time password it
    /// is encrypted with (Key Vault keeps neither the password nor the encryption).
    pub for_key_vault: Option<(Secret, Secret)>,
}

/// Generates the certificate, writes its files and prepares its Key Vault import; blocking
/// (RSA key generation, PBKDF2, file syncs), so the executor runs it off the async threads.
/// `label` names the certificate in certificate stores (the PFX's friendlyName).
pub(crate) fn generate_and_write(
    spec: &GenerateCertificate,
    password: Option<&PfxPassword>,
    label: &str,
    now: OffsetDateTime,
) -> Result<Generated, CertError> {
    let generated = cert::generate(&GenerateRequest {
        subject: spec.subject.clone(),
        key_type: spec.key_type,
        validity: spec.validity,
        now,
    })?;
    // The same PFX layout (the Windows CSP attribute on the key bag) goes to Key Vault, under
    // a password made for the one import.
    let for_key_vault = match &spec.key_vault {
        Some(_) => {
            use base64::Engine as _;
            let one_time = PfxPassword::new(hex::encode(rand::random::<[u8; 24]>()))?;
            let bytes = cert::write_pfx(&generated, &one_time, spec.pfx_encryption, label)?;
            Some((
                Secret::new(base64::engine::general_purpose::STANDARD.encode(bytes)),
                Secret::new(one_time.expose_secret()),
            ))
        }
        None => None,
    };

    // A rotation keeps the current files under the names the plan chose; each new file then
    // replaces the old one in a single rename, so the path always holds a whole file.
    let previous = spec.keep_previous.as_ref();
    let mut kept = Vec::new();
    let pfx = match (&spec.pfx, password) {
        (Some(path), Some(password)) => {
            let pfx_bytes = cert::write_pfx(&generated, password, spec.pfx_encryption, label)?;
            let written = match previous.and_then(|p| p.pfx.as_ref()) {
                Some(keep_as) => cert::write_secret_file_keeping(path, &pfx_bytes, keep_as)?,
                None => cert::write_secret_file(path, &pfx_bytes)?,
            };
            kept.extend(written.kept_previous);
            Some(written.path)
        }
        _ => None,
    };
    let cer = match &spec.cer {
        Some(path) => {
            let der = generated.certificate().der();
            let w = match previous.and_then(|p| p.cer.as_ref()) {
                Some(keep_as) => cert::write_secret_file_keeping(path, der, keep_as)?,
                None => cert::write_cer_file(path, generated.certificate())?,
            };
            kept.extend(w.kept_previous);
            Some(w.path)
        }
        None => None,
    };
    Ok(Generated {
        certificate: generated,
        files: WrittenFiles { pfx, cer, kept },
        for_key_vault,
    })
}

/// Deletes the files a rotation archived for a key just removed: each only if it is a regular
/// file at exactly the archived path that still holds that key's certificate (a CER's own
/// thumbprint; a PFX's `localKeyId`, which entraform writes as the thumbprint, outside the
/// encryption). Anything else is left and said. `None` when there was nothing to do.
pub(crate) fn delete_archived(archived: &ArchivedFiles) -> Option<String> {
    let mut deleted = Vec::new();
    let mut left = Vec::new();
    for path in &archived.files {
        let ours = |bytes: &[u8]| cert::written_thumbprint(bytes) == Some(archived.thumbprint);
        match crate::local_file::remove_if(path, crate::local_file::PFX, ours) {
            Ok(true) => deleted.push(format!("`{}`", path.display())),
            Ok(false) => left.push(format!(
                "`{}` (it does not hold certificate {}: not entraform's archive)",
                path.display(),
                archived.thumbprint
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => left.push(format!("`{}` ({e})", path.display())),
        }
    }
    for file in &left {
        tracing::warn!("left the archived file {file}");
    }
    let mut said = Vec::new();
    if !deleted.is_empty() {
        said.push(format!("deleted archived {}", deleted.join(", ")));
    }
    if !left.is_empty() {
        said.push(format!("left {}", left.join(", ")));
    }
    (!said.is_empty()).then(|| said.join("; "))
}
