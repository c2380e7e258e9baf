//! Key credentials: the app's whole key set is read (with the key bytes), checked against the
//! plan, written whole, and read back until Entra ID shows it: Graph has no request for one key,
//! so a concurrent writer's set would silently replace ours.

use std::collections::BTreeSet;
use tokio::time::Instant;

use time::OffsetDateTime;

use super::{AttachedCertificate, Exec, StepError};
use crate::apply::ActionError;
use crate::apply::certs::generate_and_write;
use crate::apply::requests::{self, KeyChange, PasswordAdd};
use crate::apply::retry::{Consent, Replication};
use crate::cert::{self, PublicCertificate};
use crate::graph::Secret;
use crate::graph::types::{Application, KeyCredential};
use crate::model::KeyId;
use crate::plan::{Address, CertificateMaterial, CertificateSource, NewKeyCredential};

impl Exec<'_> {
    /// The app's key credentials with their `key` bytes: what this run last wrote, or a read.
    async fn key_set(
        &self,
        name: &str,
        replication: Replication,
        change: &KeyChange<'_>,
    ) -> Result<Vec<KeyCredential>, StepError> {
        let app = &change.app;
        if let Some(keys) = self.state().keys.get(&app.object_id) {
            return Ok(keys.clone());
        }
        let read: Application = self
            .read(replication, || self.client.fetch(&change.read))
            .await?;
        let mut st = self.state();
        if let Some(display) = read.display_name {
            st.display_names.entry(name.to_owned()).or_insert(display);
        }
        st.key_history
            .entry(app.object_id)
            .or_default()
            .push(key_ids(&read.key_credentials));
        Ok(read.key_credentials)
    }

    /// Writes the app's whole key set, then reads it back until Entra ID shows it (a PATCH of
    /// `keyCredentials` replaces the set, so a concurrent writer's set would silently win).
    async fn patch_keys(
        &self,
        name: &str,
        replication: Replication,
        change: &KeyChange<'_>,
        keys: Vec<KeyCredential>,
    ) -> Result<(), StepError> {
        let app = &change.app;
        let wrote = key_ids(&keys);
        {
            let mut st = self.state();
            // What was there before this write is a stale read from now on.
            let before = st.keys.get(&app.object_id).map(|k| key_ids(k));
            let history = st.key_history.entry(app.object_id).or_default();
            history.extend(before);
        }
        self.update(replication, Consent::NotNeeded, &change.write(&keys))
            .await?;
        self.state().keys.insert(app.object_id, keys);
        self.confirm_key_set(name, change, &wrote).await?;
        self.state()
            .key_history
            .entry(app.object_id)
            .or_default()
            .push(wrote);
        Ok(())
    }

    /// Reads the app's key ids (without the key bytes, whose reads Graph limits to 150 a
    /// minute) until [`Settle::key_reads`](crate::apply::Settle) reads in a row show `wrote`. Replicas
    /// show writes in order: until `wrote` shows, any other set is older than it (stale, even
    /// another writer's); once it has shown, a set this run never saw is a newer write by
    /// someone else that replaced it, and fails.
    async fn confirm_key_set(
        &self,
        name: &str,
        change: &KeyChange<'_>,
        wrote: &BTreeSet<KeyId>,
    ) -> Result<(), StepError> {
        let app = &change.app;
        let settle = self.options.settle;
        let since = Instant::now();
        let mut streak = crate::apply::Streak::new(settle.key_reads, since);
        let mut n = 0;
        let mut shown = false;
        loop {
            n += 1;
            let seen = match self.client.fetch::<Application>(&change.read_back).await {
                Ok(read) => Some(key_ids(&read.key_credentials)),
                // Not replicated yet (a fresh app).
                Err(e) if e.status() == Some(404) => None,
                Err(e) => return Err(e.into()),
            };
            let consistent = match &seen {
                Some(ids) if ids == wrote => {
                    shown = true;
                    true
                }
                None => false,
                Some(_) if !shown => false,
                Some(ids) => {
                    let known = self
                        .state()
                        .key_history
                        .get(&app.object_id)
                        .is_some_and(|h| h.contains(ids));
                    if !known {
                        return Err(ActionError::KeysChangedWhileApplying {
                            app: name.to_owned(),
                            expected: id_list(wrote),
                            found: id_list(ids),
                        }
                        .into());
                    }
                    false
                }
            };
            if streak.record(consistent, Instant::now()) {
                return Ok(());
            }
            let wait = settle.delay(n);
            if since.elapsed() + wait > settle.max_elapsed {
                return Err(ActionError::NotVisible {
                    what: format!("the key credentials written to app `{name}`"),
                    waited_s: since.elapsed().as_secs(),
                }
                .into());
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Generates (or takes) the certificate, then adds its key to the app's set. Returns what
    /// the progress line shows: its key id and thumbprint.
    pub(super) async fn add_certificate(
        &self,
        address: &Address,
        replication: Replication,
        change: &KeyChange<'_>,
        key: &NewKeyCredential,
    ) -> Result<String, StepError> {
        let name = address.app.as_str();

        // The key set is checked before any file is written, so a refusal leaves nothing behind.
        let current = self.key_set(name, replication, change).await?;
        check_key_set(&current, change.keep, &[])?;

        let (public, files, source) = match &key.certificate {
            CertificateMaterial::Generate(spec) => {
                let password = spec
                    .pfx_password_env
                    .as_deref()
                    .map(cert::pfx_password_from_env)
                    .transpose()?;
                let key_vault = match (&spec.key_vault, &self.options.key_vault) {
                    (Some(target), Some(client)) => Some((target.clone(), client.clone())),
                    (Some(target), None) => {
                        return Err(ActionError::Conflict(format!(
                            "certificate for Key Vault {target}: this run has no Key Vault client"
                        ))
                        .into());
                    }
                    (None, _) => None,
                };
                let display = self.state().display_names.get(name).cloned();
                let label = format!(
                    "{} ({})",
                    display.as_deref().unwrap_or(name),
                    address.key.as_deref().unwrap_or(&key.display_name)
                );
                let spec = spec.clone();
                let now = OffsetDateTime::now_utc();
                let _permit = self.cpu.acquire().await;
                let generated = tokio::task::spawn_blocking(move || {
                    generate_and_write(&spec, password.as_ref(), &label, now)
                })
                .await
                .map_err(|e| match e.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(_) => {
                        ActionError::Conflict("certificate generation was cancelled".to_owned())
                    }
                })??;
                // Into the vault before the key goes to the app: a failed import leaves no key
                // registered that the vault does not hold (a key imported but never registered
                // is drift the next plan repairs by rotating).
                if let (Some((target, client)), Some((pfx, one_time))) =
                    (key_vault, &generated.for_key_vault)
                {
                    client
                        .import_certificate(&target, pfx, one_time)
                        .await
                        .map_err(|source| ActionError::KeyVault {
                            target: Box::new(target.clone()),
                            source: Box::new(source),
                        })?;
                }
                // The private key stays in the PFX only: `generated` is dropped (and wiped)
                // when this block ends.
                (
                    generated.certificate.certificate().clone(),
                    Some(generated.files),
                    CertificateSource::Generate,
                )
            }
            CertificateMaterial::File(file) => (
                PublicCertificate::from_der(&file.der)?,
                None,
                CertificateSource::File,
            ),
        };

        let mut next = current;
        next.push(requests::key_credential(key, &public));
        self.patch_keys(name, replication, change, next).await?;

        let thumbprint = public.thumbprint();
        self.state().certificates.push(AttachedCertificate {
            app: name.to_owned(),
            name: address
                .key
                .clone()
                .unwrap_or_else(|| key.display_name.clone()),
            key_id: key.key_id,
            thumbprint,
            not_before: public.not_before(),
            not_after: public.not_after(),
            source,
            files,
        });
        Ok(format!("key_id={}, thumbprint={thumbprint}", key.key_id))
    }

    /// Adds a managed client secret and sets its value (which Graph shows only in this answer)
    /// as a new version of the Key Vault secret. When the vault refuses, the secret is removed
    /// from the app again: nothing is left registered whose value nobody holds, or the error
    /// says exactly which key id is. Returns what the progress line shows (the key id).
    pub(super) async fn add_client_secret(
        &self,
        name: &str,
        replication: Replication,
        add: &PasswordAdd<'_>,
    ) -> Result<String, StepError> {
        let target = &add.secret.key_vault;
        let Some(client) = self.options.key_vault.clone() else {
            return Err(ActionError::Conflict(format!(
                "client secret for Key Vault {target}: this run has no Key Vault client"
            ))
            .into());
        };
        let request = add.add(OffsetDateTime::now_utc());
        let answer = match self
            .write(
                crate::apply::retry::WriteKind::Update,
                replication,
                Consent::NotNeeded,
                || self.client.send(&request),
            )
            .await?
        {
            super::Wrote::Ok(resp) => resp,
            super::Wrote::Gone | super::Wrote::Exists { .. } => {
                return Err(ActionError::NoSecretText {
                    app: name.to_owned(),
                    missing: "answer",
                }
                .into());
            }
        };
        let added: AddedPassword = answer.json()?;
        drop(answer);
        let key_id = added.key_id.ok_or(ActionError::NoSecretText {
            app: name.to_owned(),
            missing: "keyId",
        })?;
        let value = added.secret_text.map(Secret::new);
        let set = match &value {
            Some(value) => {
                let start = added
                    .start_date_time
                    .unwrap_or_else(OffsetDateTime::now_utc);
                let end = added
                    .end_date_time
                    .unwrap_or_else(|| start + add.secret.validity.as_duration());
                let tags = [
                    ("entraform-app", name.to_owned()),
                    ("entraform-app-id", add.app.app_id.to_string()),
                    ("entraform-key-id", key_id.to_string()),
                ];
                client
                    .set_secret(
                        target,
                        value,
                        SECRET_CONTENT_TYPE,
                        (start.unix_timestamp(), end.unix_timestamp()),
                        &tags,
                    )
                    .await
                    .map(drop)
            }
            None => Err(crate::keyvault::KeyVaultError::Config {
                message:
                    "Graph's answer to addPassword had no `secretText`: there is no value to set"
                        .to_owned(),
                hint: None,
            }),
        };
        drop(value);
        let Err(vault_error) = set else {
            return Ok(format!("key_id={key_id}, key_vault={target}"));
        };
        // The value is gone with this run: take the secret back.
        match self.delete(replication, &add.take_back(key_id)).await {
            Ok(()) => Err(ActionError::SecretToKeyVault {
                target: Box::new(target.clone()),
                key_id,
                source: Box::new(vault_error),
            }
            .into()),
            Err(StepError::Failed(ActionError::Graph(e))) => Err(ActionError::SecretLeftOnApp {
                target: Box::new(target.clone()),
                key_id,
                app_id: add.app.app_id,
                vault_error: Box::new(vault_error),
                source: Box::new(e),
            }
            .into()),
            Err(other) => Err(other),
        }
    }

    pub(super) async fn remove_key(
        &self,
        name: &str,
        replication: Replication,
        change: &KeyChange<'_>,
        key_id: KeyId,
    ) -> Result<(), StepError> {
        let current = self.key_set(name, replication, change).await?;
        if !current.iter().any(|k| k.key_id == key_id) {
            // Already gone: the set must now be exactly what the plan keeps.
            check_key_set(&current, change.keep, &[])?;
            self.state().keys.insert(change.app.object_id, current);
            return Ok(());
        }
        check_key_set(&current, change.keep, &[key_id])?;
        let next: Vec<KeyCredential> = current.into_iter().filter(|k| k.key_id != key_id).collect();
        self.patch_keys(name, replication, change, next).await
    }
}

/// What a managed secret's value is in Key Vault: the secret itself, as text (what Azure's
/// SDKs send for a plain secret, e.g. the Rust SDK's `{"contentType":"text/plain",…}`).
const SECRET_CONTENT_TYPE: &str = "text/plain";

/// `addPassword`'s answer, the parts used: `secretText` goes straight into a [`Secret`].
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddedPassword {
    key_id: Option<KeyId>,
    secret_text: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    start_date_time: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    end_date_time: Option<OffsetDateTime>,
}

fn key_ids(keys: &[KeyCredential]) -> BTreeSet<KeyId> {
    keys.iter().map(|k| k.key_id).collect()
}

fn id_list(ids: &BTreeSet<KeyId>) -> String {
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The tenant's key ids must be exactly `keep` plus `also`.
fn check_key_set(
    current: &[KeyCredential],
    keep: &[KeyId],
    also: &[KeyId],
) -> Result<(), ActionError> {
    let found = key_ids(current);
    let expected: BTreeSet<KeyId> = keep.iter().chain(also).copied().collect();
    if found == expected {
        return Ok(());
    }
    Err(ActionError::KeysChanged {
        expected: id_list(&expected),
        found: id_list(&found),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn key(n: u128) -> KeyCredential {
        KeyCredential {
            key_id: KeyId(Uuid::from_u128(n)),
            custom_key_identifier: None,
            display_name: None,
            start_date_time: None,
            end_date_time: None,
            key: None,
            kind: None,
            usage: None,
        }
    }

    #[test]
    fn a_key_set_other_than_the_planned_one_is_refused_with_both_lists() {
        let k = |n| KeyId(Uuid::from_u128(n));
        assert!(check_key_set(&[key(1), key(2)], &[k(2), k(1)], &[]).is_ok());
        assert!(check_key_set(&[key(1), key(2)], &[k(2)], &[k(1)]).is_ok());
        let err = check_key_set(&[key(1), key(3)], &[k(1)], &[]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("expected 00000000-0000-0000-0000-000000000001"),
            "{text}"
        );
        assert!(
            text.contains(
                "found 00000000-0000-0000-0000-000000000001, 00000000-0000-0000-0000-000000000003"
            ),
            "{text}"
        );
        assert!(check_key_set(&[], &[], &[]).is_ok());
    }
}
