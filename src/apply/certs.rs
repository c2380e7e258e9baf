//! Certificates at apply time: the PFX password variables are checked before anything is
//! written; a generated certificate is made, and its PFX (and CER) written, before its key is
//! uploaded, so an interrupted apply leaves at worst a file whose key never reached the tenant.
//! Files are never overwritten: a rotation moves the current ones to the names the plan chose,
//! and anything else in the way is kept under a timestamped name by [`crate::cert`].

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::{ApplyError, WrittenFiles};
use crate::cert::{self, CertError, GenerateRequest, GeneratedCertificate, PfxPassword};
use crate::plan::{CertificateMaterial, GenerateCertificate, Operation, Plan};

/// Every `pfxPasswordEnv` the plan's generated certificates need, sorted, once each.
pub fn pfx_password_vars(plan: &Plan) -> Vec<String> {
    plan.operations()
        .filter_map(|(_, op)| match op {
            Operation::AddCertificate { key, .. } => match &key.certificate {
                CertificateMaterial::Generate(g) => Some(g.pfx_password_env.clone()),
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

/// Generates the certificate and writes its files; blocking (RSA key generation, PBKDF2, file
/// syncs), so the executor runs it off the async threads. `label` names the certificate in
/// certificate stores (the PFX's friendlyName).
pub(crate) fn generate_and_write(
    spec: &GenerateCertificate,
    password: &PfxPassword,
    label: &str,
    now: OffsetDateTime,
) -> Result<(GeneratedCertificate, WrittenFiles), CertError> {
    let generated = cert::generate(&GenerateRequest {
        subject: spec.subject.clone(),
        key_type: spec.key_type,
        validity: spec.validity,
        now,
    })?;
    let pfx_bytes = cert::write_pfx(&generated, password, spec.pfx_encryption, label)?;

    let mut kept = Vec::new();
    if let Some(previous) = &spec.keep_previous {
        if let Some(p) = move_aside(&spec.pfx, &previous.pfx)? {
            kept.push(p);
        }
        if let (Some(cer), Some(prev_cer)) = (&spec.cer, &previous.cer)
            && let Some(p) = move_aside(cer, prev_cer)?
        {
            kept.push(p);
        }
    }
    let written = cert::write_secret_file(&spec.pfx, &pfx_bytes)?;
    kept.extend(written.kept_previous);
    let cer = match &spec.cer {
        Some(path) => {
            let w = cert::write_cer_file(path, generated.certificate())?;
            kept.extend(w.kept_previous);
            Some(w.path)
        }
        None => None,
    };
    Ok((
        generated,
        WrittenFiles {
            pfx: written.path,
            cer,
            kept,
        },
    ))
}

/// Moves `from` to `to` when `from` exists and `to` does not; never replaces `to`. A file still
/// in the way afterwards is kept under a timestamped name when the new one is written.
fn move_aside(from: &Path, to: &Path) -> Result<Option<PathBuf>, CertError> {
    let fail = |operation: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source: io::Error| CertError::Write {
            path,
            operation,
            source,
        }
    };
    match fs::symlink_metadata(from) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail("inspect", from)(e)),
    }
    // A hard link fails when `to` exists, where a rename would silently replace it.
    match fs::hard_link(from, to) {
        Ok(()) => {
            fs::remove_file(from).map_err(fail("remove the old name of", from))?;
            Ok(Some(to.to_owned()))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(_) if !to.exists() => {
            fs::rename(from, to).map_err(fail("keep the previous file as", to))?;
            Ok(Some(to.to_owned()))
        }
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_aside_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let cur = dir.path().join("a.pfx");
        let old = dir.path().join("a.OLD.pfx");
        assert_eq!(move_aside(&cur, &old).unwrap(), None);
        fs::write(&cur, b"current").unwrap();
        assert_eq!(move_aside(&cur, &old).unwrap(), Some(old.clone()));
        assert!(!cur.exists());
        assert_eq!(fs::read(&old).unwrap(), b"current");
        fs::write(&cur, b"newer").unwrap();
        assert_eq!(move_aside(&cur, &old).unwrap(), None);
        assert_eq!(fs::read(&old).unwrap(), b"current");
        assert_eq!(fs::read(&cur).unwrap(), b"newer");
    }
}
