//! The app's key credentials (certificates). Graph has no request for one key: a change is a
//! `PATCH` of the whole set, so the executor reads the set, checks it is the plan's, writes it
//! whole and reads it back.

use super::{Depends, Detail, Learns, Step, Write};
use crate::cert::PublicCertificate;
use crate::graph::Request;
use crate::graph::api::applications;
use crate::graph::types::KeyCredential;
use crate::model::KeyId;
use crate::plan::{ExistingApp, KeyCredentialMethod, NewClientSecret, NewKeyCredential};

#[derive(Debug)]
pub struct KeyChange<'a> {
    pub app: ExistingApp,
    pub edit: KeyEdit<'a>,
    /// The key ids the app must have besides the one added or removed.
    pub keep: &'a [KeyId],
    /// The key set with the bytes of every key (a kept key is sent back whole).
    pub read: Request,
    /// The key set without the bytes (whose reads Graph limits to 150 a minute), read until it
    /// shows what was written.
    pub read_back: Request,
}

#[derive(Debug)]
pub enum KeyEdit<'a> {
    Add(&'a NewKeyCredential),
    Remove(KeyId),
}

impl KeyChange<'_> {
    /// The write of the whole key set.
    pub fn write(&self, keys: &[KeyCredential]) -> Request {
        applications::set_key_credentials(self.app.object_id, keys)
    }
}

pub(super) fn add<'a>(
    app: &ExistingApp,
    key: &'a NewKeyCredential,
    method: &'a KeyCredentialMethod,
) -> Step<'a> {
    change(app, KeyEdit::Add(key), method, Detail::Certificate)
}

pub(super) fn remove<'a>(
    app: &ExistingApp,
    key_id: KeyId,
    method: &'a KeyCredentialMethod,
) -> Step<'a> {
    change(app, KeyEdit::Remove(key_id), method, Detail::None)
}

fn change<'a>(
    app: &ExistingApp,
    edit: KeyEdit<'a>,
    method: &'a KeyCredentialMethod,
    detail: Detail,
) -> Step<'a> {
    let KeyCredentialMethod::PatchKeyCredentials { keep } = method;
    Step {
        write: Write::Keys(KeyChange {
            read: applications::with_key_certificates(app.object_id),
            read_back: applications::get(app.object_id),
            app: app.clone(),
            edit,
            keep,
        }),
        depends: Depends::OnApp,
        learns: Learns::Nothing,
        detail,
    }
}

/// A managed client secret: `addPassword` (its end counted from when it is sent), then the value
/// to Key Vault, and when that fails `removePassword` with the key id Graph gave it.
#[derive(Debug)]
pub struct PasswordAdd<'a> {
    pub app: ExistingApp,
    pub secret: &'a NewClientSecret,
}

impl PasswordAdd<'_> {
    pub fn add(&self, now: time::OffsetDateTime) -> Request {
        applications::add_password(
            self.app.object_id,
            &self.secret.display_name,
            now + self.secret.validity.as_duration(),
        )
    }

    pub fn take_back(&self, key_id: KeyId) -> Request {
        applications::remove_password(self.app.object_id, key_id)
    }
}

pub(super) fn add_password<'a>(app: &ExistingApp, secret: &'a NewClientSecret) -> Step<'a> {
    Step {
        write: Write::Password(PasswordAdd {
            app: app.clone(),
            secret,
        }),
        depends: Depends::OnApp,
        learns: Learns::Nothing,
        detail: Detail::Certificate,
    }
}

/// A client secret (password credential) is removed by its key id, not by writing the set;
/// one already gone is done.
pub(super) fn remove_password<'a>(app: &ExistingApp, key_id: KeyId) -> Step<'a> {
    Step::delete(
        applications::remove_password(app.object_id, key_id),
        Learns::Nothing,
    )
}

/// The key credential for a certificate: its SHA-1 thumbprint's 20 bytes as
/// `customKeyIdentifier` (Edm.Binary, so base64), its own validity as the credential's dates.
pub fn key_credential(key: &NewKeyCredential, cert: &PublicCertificate) -> KeyCredential {
    KeyCredential {
        key_id: key.key_id,
        custom_key_identifier: Some(cert.thumbprint().to_custom_key_identifier()),
        display_name: Some(key.display_name.clone()),
        start_date_time: Some(cert.not_before()),
        end_date_time: Some(cert.not_after()),
        key: Some(cert.key_base64()),
        kind: Some("AsymmetricX509Cert".to_owned()),
        usage: Some("Verify".to_owned()),
    }
}
