//! Credentials on a managed app that the manifest does not manage: client secrets (always, as
//! managed secrets need Key Vault) and, while `certificates` is absent, key credentials. Added
//! behind entraform's back they are how an app keeps a way in; absent from the manifest they are
//! shown as notes, with `clientSecrets` declared the secrets it does not list are removed.

use super::certs::{date, expiry};
use super::{AppCx, Obj, delete, rfc3339, s};
use crate::model::{LiveKeyCredential, LivePasswordCredential, certificate_display_name};
use crate::plan::{Change, Note, NoteKind, Operation, ResourceKind};

/// The app's client secrets: removals when `clientSecrets` is declared, else notes.
pub(crate) fn client_secrets(cx: &AppCx<'_>) -> (Vec<Change>, Vec<Note>) {
    let (Some(live), Some(app)) = (cx.live, cx.existing()) else {
        return Default::default();
    };
    let Some(specs) = &cx.desired.client_secrets else {
        let notes = live
            .password_credentials
            .iter()
            .map(|p| {
                cx.note(
                    NoteKind::UnmanagedCredential,
                    format!(
                        "client secret {}: not managed by entraform; `clientSecrets: []` in the manifest removes it",
                        describe_secret(p, cx)
                    ),
                    None,
                )
            })
            .collect();
        return (Vec::new(), notes);
    };
    // Managed secrets (by their `entraform:<name>` display name) plug in here once they can be
    // created; every other secret goes.
    let managed = |p: &LivePasswordCredential| {
        specs.iter().any(|spec| {
            p.display_name.as_deref() == Some(certificate_display_name(&spec.name).as_str())
        })
    };
    let changes = live
        .password_credentials
        .iter()
        .filter(|p| !managed(p))
        .map(|p| {
            let before = Obj::new()
                .with("key_id", s(p.key_id))
                .with("display_name", p.display_name.clone())
                .with("hint", p.hint.clone())
                .with("start", p.start.map(rfc3339))
                .with("end", p.end.map(rfc3339));
            delete(
                cx.keyed(ResourceKind::ClientSecret, p.key_id.to_string()),
                before,
                "not in the manifest's clientSecrets".to_owned(),
                vec![Operation::RemovePasswordCredential {
                    app: app.clone(),
                    key_id: p.key_id,
                }],
            )
        })
        .collect();
    (changes, Vec::new())
}

/// Notes for the app's key credentials while `certificates` is absent (when it is declared,
/// [`super::certs`] removes the keys it does not list).
pub(crate) fn unmanaged_certificates(cx: &AppCx<'_>) -> Vec<Note> {
    let Some(live) = cx.live.filter(|_| cx.desired.certificates.is_none()) else {
        return Vec::new();
    };
    live.key_credentials
        .iter()
        .map(|k| {
            cx.note(
                NoteKind::UnmanagedCredential,
                format!(
                    "certificate {}: not managed by entraform; declaring `certificates` removes every key it does not list",
                    describe_key(k, cx)
                ),
                None,
            )
        })
        .collect()
}

/// `` `backup` (hint `Abc`, keyId …) expires in 40 days (2026-03-01) ``: never the value.
fn describe_secret(p: &LivePasswordCredential, cx: &AppCx<'_>) -> String {
    let hint = p
        .hint
        .as_deref()
        .map(|h| format!("hint `{h}`, "))
        .unwrap_or_default();
    format!(
        "{} ({hint}keyId {}){}",
        name_or_none(p.display_name.as_deref()),
        p.key_id,
        ends(p.end, cx)
    )
}

fn describe_key(k: &LiveKeyCredential, cx: &AppCx<'_>) -> String {
    let thumbprint = k
        .thumbprint
        .map(|t| format!("thumbprint {t}, "))
        .unwrap_or_default();
    format!(
        "{} ({thumbprint}keyId {}){}",
        name_or_none(k.display_name.as_deref()),
        k.key_id,
        ends(k.end, cx)
    )
}

fn name_or_none(name: Option<&str>) -> String {
    match name.filter(|n| !n.trim().is_empty()) {
        Some(n) => format!("`{n}`"),
        None => "(no name)".to_owned(),
    }
}

fn ends(end: Option<time::OffsetDateTime>, cx: &AppCx<'_>) -> String {
    end.map(|e| format!(" {} ({})", expiry(e, cx.input.now), date(e)))
        .unwrap_or_default()
}
