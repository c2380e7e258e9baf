//! Client secrets, and key credentials the manifest does not manage. Managed secrets
//! (`clientSecrets: [{name, …}]`) are recognised by their display name `entraform:<name>`, as
//! generated certificates are, and rotated the same way. Credentials added behind entraform's
//! back are how an app keeps a way in: absent from the manifest they are shown as notes; with
//! `clientSecrets` declared the secrets it does not list are removed (and, with
//! `certificates` declared, [`super::certs`] removes the keys it does not list).

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::certs::{date, expiry, expiry_reason};
use super::{AppCx, Obj, create, delete, rfc3339, s};
use crate::model::{
    ClientSecretSpec, KeyId, LiveKeyCredential, LivePasswordCredential, certificate_display_name,
};
use crate::plan::{
    Action, Change, ExistingApp, NewClientSecret, Note, NoteKind, Operation, ResourceKind,
};

/// The app's client secrets: with `clientSecrets` declared, its managed secrets and the
/// removal of every other; else notes.
pub(crate) fn client_secrets(cx: &AppCx<'_>) -> (Vec<Change>, Vec<Note>) {
    let Some(specs) = &cx.desired.client_secrets else {
        let Some(live) = cx.live else {
            return Default::default();
        };
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
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    let mut claimed = BTreeSet::new();
    for spec in specs {
        let (c, n) = managed_secret(cx, spec, &mut claimed);
        changes.extend(c);
        notes.extend(n);
    }
    let (Some(live), Some(app)) = (cx.live, cx.existing()) else {
        return (changes, notes);
    };
    changes.extend(
        live.password_credentials
            .iter()
            .filter(|p| !claimed.contains(&p.key_id))
            .map(|p| {
                remove_secret(
                    cx,
                    &app,
                    p,
                    "not in the manifest's clientSecrets".to_owned(),
                )
            }),
    );
    (changes, notes)
}

/// One managed secret: its live secrets are those named `entraform:<name>` (newest first);
/// none, or the newest within `renewBefore`, adds a new one; older ones stay for the
/// `overlap` after the newest started, then go.
fn managed_secret(
    cx: &AppCx<'_>,
    spec: &ClientSecretSpec,
    claimed: &mut BTreeSet<KeyId>,
) -> (Vec<Change>, Vec<Note>) {
    let now = cx.input.now;
    let display = certificate_display_name(&spec.name);
    let live = cx
        .live
        .map(|l| l.password_credentials.as_slice())
        .unwrap_or(&[]);
    let mut ours: Vec<&LivePasswordCredential> = live
        .iter()
        .filter(|p| p.display_name.as_deref() == Some(display.as_str()))
        .collect();
    ours.sort_by(|a, b| b.end.cmp(&a.end).then(a.key_id.cmp(&b.key_id)));
    claimed.extend(ours.iter().map(|p| p.key_id));
    let address = cx.keyed(ResourceKind::ClientSecret, spec.name.clone());
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    let after = Obj::new()
        .with("display_name", display.clone())
        .with("validity", s(spec.validity))
        .with("key_vault", spec.key_vault.to_string());
    let add = Operation::AddClientSecret {
        app: cx.app_ref(),
        secret: NewClientSecret {
            display_name: display.clone(),
            validity: spec.validity,
            key_vault: spec.key_vault.clone(),
        },
    };
    let unknown = ["key_id", "hint", "end"];
    let newest = ours.first().copied();
    match newest {
        None => changes.push(create(address, after, &unknown, vec![add])),
        Some(old)
            if old
                .end
                .is_some_and(|end| end - now <= spec.renew_before.as_duration()) =>
        {
            let end = old.end.expect("checked above");
            let mut reason = expiry_reason(end, now, spec.renew_before);
            // An expired secret signs in nowhere: nothing to keep it for.
            let kept = overlap_end(spec, now).filter(|_| end > now);
            let mut ops = vec![add];
            let action = match kept {
                Some(until) => {
                    reason.push_str(&format!(
                        "; the old secret is kept until {} (overlap {})",
                        date(until),
                        spec.overlap
                    ));
                    Action::Update
                }
                None => {
                    ops.push(Operation::RemovePasswordCredential {
                        app: cx.existing().expect("a live secret belongs to a live app"),
                        key_id: old.key_id,
                    });
                    Action::CreateThenDelete
                }
            };
            changes.push(Change {
                address,
                action,
                reason: Some(reason),
                before: Some(secret_before(old).value()),
                after: Some(after.value()),
                after_unknown: unknown.iter().map(|u| (*u).to_owned()).collect(),
                operations: ops,
            });
        }
        Some(_) => {}
    }
    if let (Some(newest), Some(app)) = (newest, cx.existing()) {
        let kept = newest.start.and_then(|start| overlap_end(spec, start));
        for old in &ours[1..] {
            match kept {
                Some(until) if until > now => notes.push(cx.note(
                    NoteKind::RotationOverlap,
                    format!(
                        "client secret `{}`: the previous secret (keyId {}) is kept until {} (overlap {}); the first apply after that removes it",
                        spec.name,
                        old.key_id,
                        date(until),
                        spec.overlap
                    ),
                    None,
                )),
                Some(until) => changes.push(remove_secret(
                    cx,
                    &app,
                    old,
                    format!(
                        "superseded by keyId {}; its overlap {} ended {}",
                        newest.key_id,
                        spec.overlap,
                        date(until)
                    ),
                )),
                None => changes.push(remove_secret(
                    cx,
                    &app,
                    old,
                    format!("superseded by keyId {}", newest.key_id),
                )),
            }
        }
    }
    (changes, notes)
}

/// When the previous secret goes if the newest started at `start`; `None` for overlap `0d`.
fn overlap_end(spec: &ClientSecretSpec, start: OffsetDateTime) -> Option<OffsetDateTime> {
    (spec.overlap.as_seconds() > 0).then(|| start + spec.overlap.as_duration())
}

fn secret_before(p: &LivePasswordCredential) -> Obj {
    Obj::new()
        .with("key_id", s(p.key_id))
        .with("display_name", p.display_name.clone())
        .with("hint", p.hint.clone())
        .with("start", p.start.map(rfc3339))
        .with("end", p.end.map(rfc3339))
}

fn remove_secret(
    cx: &AppCx<'_>,
    app: &ExistingApp,
    p: &LivePasswordCredential,
    reason: String,
) -> Change {
    delete(
        cx.keyed(ResourceKind::ClientSecret, p.key_id.to_string()),
        secret_before(p),
        reason,
        vec![Operation::RemovePasswordCredential {
            app: app.clone(),
            key_id: p.key_id,
        }],
    )
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
