//! Certificates: which live key credential each manifest certificate is, when to rotate, and
//! which keys go. Generated certificates are matched by their key's `displayName`
//! (`entraform:<name>`), `file:` certificates by thumbprint. While `certificates` is present it
//! is authoritative: every other key credential is removed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use super::app::Matched;
use super::{AppCx, Obj, PlanInput, Problem, ProblemKind, create, delete, rfc3339, s};
use crate::model::{
    CertificateSource as Source, GenerateSpec, KeyId, LiveKeyCredential, LocalCertificate,
    LocalPfx, certificate_display_name, days_left,
};
use crate::plan::{
    Action, Address, CertificateMaterial, CertificateSource, CertificateStatus, Change,
    FileCertificate, GenerateCertificate, KeyCredentialMethod, NewKeyCredential, Note, NoteKind,
    Operation, PreviousFiles, ResourceKind,
};

/// A `file:` certificate this close to expiry gets a note (it has no `renewBefore`).
const FILE_WARNING: Duration = Duration::days(30);

type Output = (Vec<Change>, Vec<CertificateStatus>, Vec<Note>);

pub(crate) fn certificates(cx: &AppCx<'_>) -> Result<Output, Vec<Problem>> {
    let Some(specs) = &cx.desired.certificates else {
        return Ok(Default::default());
    };
    let mut st = State {
        cx,
        live: cx.live.map(|l| l.key_credentials.as_slice()).unwrap_or(&[]),
        claimed: BTreeSet::new(),
        new_ids: BTreeSet::new(),
        changes: Vec::new(),
        statuses: Vec::new(),
        notes: Vec::new(),
    };
    let mut problems = Vec::new();

    // File certificates first: a thumbprint is the surer match, and a generated certificate must
    // not claim a key that is really a user's file.
    for spec in specs {
        if let Source::File { path } = &spec.source {
            let key = (cx.name().to_owned(), spec.name.clone());
            match cx.input.local_certificates.get(&key) {
                Some(local) => st.file(&spec.name, path, local),
                None => problems.push(Problem {
                    kind: ProblemKind::MissingLocalCertificate,
                    source: Some(cx.desired.source.clone()),
                    app: cx.name().to_owned(),
                    message: format!(
                        "certificate `{}`: the file `{}` was not read before planning",
                        spec.name,
                        path.display()
                    ),
                    help: Vec::new(),
                }),
            }
        }
    }
    for spec in specs {
        if let Source::KeyVault(target) = &spec.source {
            let key = (cx.name().to_owned(), spec.name.clone());
            let shown = PathBuf::from(target.to_string());
            match cx.input.key_vault.get(&key) {
                Some(Some(latest)) => st.file(&spec.name, &shown, latest),
                found => problems.push(Problem {
                    kind: ProblemKind::MissingLocalCertificate,
                    source: Some(cx.desired.source.clone()),
                    app: cx.name().to_owned(),
                    message: match found {
                        Some(None) => format!(
                            "certificate `{}`: Key Vault {target} has no certificate to register",
                            spec.name
                        ),
                        _ => format!(
                            "certificate `{}`: Key Vault {target} was not read before planning",
                            spec.name
                        ),
                    },
                    help: Vec::new(),
                }),
            }
        }
    }
    for spec in specs {
        if let Source::Generate(g) = &spec.source {
            st.generated(&spec.name, g);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let unclaimed: Vec<&LiveKeyCredential> = st
        .live
        .iter()
        .filter(|k| !st.claimed.contains(&k.key_id))
        .collect();
    for k in unclaimed {
        st.remove_key(k, "not in the manifest's certificates".to_owned());
    }
    Ok((st.changes, st.statuses, st.notes))
}

struct State<'a, 'b> {
    cx: &'a AppCx<'b>,
    live: &'a [LiveKeyCredential],
    claimed: BTreeSet<KeyId>,
    new_ids: BTreeSet<KeyId>,
    changes: Vec<Change>,
    statuses: Vec<CertificateStatus>,
    notes: Vec<Note>,
}

impl<'a> State<'a, '_> {
    fn now(&self) -> OffsetDateTime {
        self.cx.input.now
    }

    /// Unclaimed live keys named `entraform:<name>`, newest first.
    fn named(&self, name: &str) -> Vec<&'a LiveKeyCredential> {
        let display = certificate_display_name(name);
        let live: &'a [LiveKeyCredential] = self.live;
        let mut keys: Vec<&'a LiveKeyCredential> = live
            .iter()
            .filter(|k| k.display_name.as_deref() == Some(display.as_str()))
            .filter(|k| !self.claimed.contains(&k.key_id))
            .collect();
        keys.sort_by(|a, b| b.end.cmp(&a.end).then(a.key_id.cmp(&b.key_id)));
        keys
    }

    fn new_key_id(&mut self, address: &Address) -> KeyId {
        let live = self.live;
        let new_ids = &self.new_ids;
        let id = self.cx.input.key_ids.key_id_for(address, &|id| {
            new_ids.contains(&id) || live.iter().any(|k| k.key_id == id)
        });
        self.new_ids.insert(id);
        id
    }

    fn days_left(&self, end: Option<OffsetDateTime>) -> Option<i64> {
        end.map(|e| days_left(e, self.now()))
    }

    fn file(&mut self, name: &str, path: &Path, local: &LocalCertificate) {
        let cx = self.cx;
        let address = cx.keyed(ResourceKind::Certificate, name);
        let live: &'a [LiveKeyCredential] = self.live;
        let attached = live
            .iter()
            .find(|k| k.thumbprint == Some(local.thumbprint) && !self.claimed.contains(&k.key_id));
        let action = if let Some(k) = attached {
            self.claimed.insert(k.key_id);
            for old in self.named(name) {
                self.supersede(old, &local.thumbprint.to_string());
            }
            Action::NoOp
        } else {
            let olds = self.named(name);
            let key_id = self.new_key_id(&address);
            let after = Obj::new()
                .with("display_name", certificate_display_name(name))
                .with("key_id", s(key_id))
                .with("source", "file")
                .with("path", path.display().to_string())
                .with("subject", local.subject.clone())
                .with("thumbprint", s(local.thumbprint))
                .with("not_before", rfc3339(local.not_before))
                .with("not_after", rfc3339(local.not_after));
            let add = Operation::AddCertificate {
                app: cx.app_ref(),
                key: NewKeyCredential {
                    key_id,
                    display_name: certificate_display_name(name),
                    certificate: CertificateMaterial::File(FileCertificate {
                        path: path.to_owned(),
                        der: local.der.clone(),
                        thumbprint: local.thumbprint,
                        not_before: local.not_before,
                        not_after: local.not_after,
                    }),
                },
                method: pending(),
            };
            match olds.split_first() {
                None => {
                    self.changes
                        .push(create(address.clone(), after, &[], vec![add]));
                    Action::Create
                }
                Some((replaced, rest)) => {
                    let reason = format!(
                        "the certificate file changed: {} -> {}",
                        thumbprint_or_id(replaced),
                        local.thumbprint
                    );
                    self.replace(&address, replaced, after, &[], add, reason);
                    for old in rest {
                        self.supersede(old, &local.thumbprint.to_string());
                    }
                    Action::CreateThenDelete
                }
            }
        };
        let days_left = self.days_left(Some(local.not_after));
        if local.not_after - self.now() <= FILE_WARNING {
            let when = expiry(local.not_after, self.now());
            self.notes.push(cx.note(
                NoteKind::CertificateExpiry,
                format!(
                    "certificate `{name}` ({}) {when}; entraform does not renew `file:` certificates: replace `{}`",
                    local.thumbprint,
                    path.display()
                ),
                None,
            ));
        }
        self.statuses.push(CertificateStatus {
            address,
            source: CertificateSource::File,
            thumbprint: Some(local.thumbprint),
            not_after: Some(local.not_after),
            days_left,
            renew_before: None,
            validity: None,
            action,
        });
    }

    /// The certificate's PFX on disk, when it holds a certificate that is none of the app's
    /// keys: whatever uses the file cannot sign in (two applies raced, or the key was removed
    /// behind entraform's back). Said only when every key's thumbprint is known.
    fn orphaned_pfx(&self, name: &str) -> Option<&'a LocalPfx> {
        let key = (self.cx.name().to_owned(), name.to_owned());
        let pfx = self.cx.input.local_pfx.get(&key)?;
        let known = self.live.iter().all(|k| k.thumbprint.is_some());
        let attached = self
            .live
            .iter()
            .any(|k| k.thumbprint == Some(pfx.thumbprint));
        (known && !attached).then_some(pfx)
    }

    /// Why the Key Vault certificate a generated certificate is imported into does not hold
    /// one of the app's keys (its latest version is what the script host signs in with), when
    /// the vault was read: it has no such certificate, or its latest version is not a key of
    /// the app. Like a PFX that matches no key, that is drift a rotation repairs.
    fn vault_drift(&self, name: &str, g: &GenerateSpec) -> Option<String> {
        let target = g.key_vault.as_ref()?;
        let key = (self.cx.name().to_owned(), name.to_owned());
        match self.cx.input.key_vault.get(&key)? {
            None => Some(format!(
                "Key Vault {target} holds no certificate: whatever reads it cannot sign in"
            )),
            Some(latest) => {
                let known = self.live.iter().all(|k| k.thumbprint.is_some());
                let attached = self
                    .live
                    .iter()
                    .any(|k| k.thumbprint == Some(latest.thumbprint));
                (known && !attached).then(|| {
                    format!(
                        "Key Vault {target} holds certificate {}, which is not one of the app's keys: whatever reads it cannot sign in",
                        latest.thumbprint
                    )
                })
            }
        }
    }

    fn generated(&mut self, name: &str, g: &GenerateSpec) {
        let cx = self.cx;
        let address = cx.keyed(ResourceKind::Certificate, name);
        let keys = self.named(name);
        for k in &keys {
            self.claimed.insert(k.key_id);
        }
        let newest = keys.first().copied();
        let orphan = self.orphaned_pfx(name);
        let vault_drift = newest.and_then(|_| self.vault_drift(name, g));
        let due = newest.map(|k| {
            orphan.is_some()
                || vault_drift.is_some()
                || k.end
                    .is_some_and(|end| end - self.now() <= g.renew_before.as_duration())
        });

        let mut status = CertificateStatus {
            address: address.clone(),
            source: CertificateSource::Generate,
            thumbprint: newest.and_then(|k| k.thumbprint),
            not_after: newest.and_then(|k| k.end),
            days_left: self.days_left(newest.and_then(|k| k.end)),
            renew_before: Some(g.renew_before),
            validity: Some(g.validity),
            action: Action::NoOp,
        };

        if newest.is_none() || due == Some(true) {
            let key_id = self.new_key_id(&address);
            // The files on disk are moved aside under the thumbprint they hold.
            let keep_previous = match (orphan, newest) {
                (Some(pfx), _) => Some(pfx.thumbprint.to_string()),
                (None, Some(k)) => Some(thumbprint_or_id(k)),
                (None, None) => None,
            }
            .map(|tag| PreviousFiles {
                pfx: g.pfx.as_deref().map(|p| backup_path(p, &tag)),
                cer: g.cer.as_deref().map(|c| backup_path(c, &tag)),
            });
            let after = Obj::new()
                .with("display_name", certificate_display_name(name))
                .with("key_id", s(key_id))
                .with("source", "generate")
                .with("subject", g.subject.clone())
                .with("key_type", g.key_type.as_str())
                .with("validity", s(g.validity))
                .with_opt("pfx", g.pfx.as_ref().map(|p| p.display().to_string()))
                .with_opt("pfx_password_env", g.pfx_password_env.clone())
                .with("pfx_encryption", g.pfx_encryption.as_str())
                .with_opt("cer", g.cer.as_ref().map(|c| c.display().to_string()))
                .with_opt("key_vault", g.key_vault.as_ref().map(ToString::to_string));
            let add = Operation::AddCertificate {
                app: cx.app_ref(),
                key: NewKeyCredential {
                    key_id,
                    display_name: certificate_display_name(name),
                    certificate: CertificateMaterial::Generate(GenerateCertificate {
                        subject: g.subject.clone(),
                        key_type: g.key_type,
                        validity: g.validity,
                        pfx: g.pfx.clone(),
                        pfx_password_env: g.pfx_password_env.clone(),
                        pfx_encryption: g.pfx_encryption,
                        cer: g.cer.clone(),
                        keep_previous,
                        key_vault: g.key_vault.clone(),
                    }),
                },
                method: pending(),
            };
            let unknown = ["thumbprint", "not_before", "not_after"];
            let drift = orphan
                .map(|pfx| {
                    format!(
                        "the PFX `{}` holds certificate {}, which is not one of the app's keys: whatever uses it cannot sign in",
                        pfx.path.display(),
                        pfx.thumbprint
                    )
                })
                .or(vault_drift);
            match newest {
                None => {
                    let mut change = create(address, after, &unknown, vec![add]);
                    change.reason = drift;
                    self.changes.push(change);
                    status.action = Action::Create;
                }
                Some(old) => {
                    let mut reason = drift.unwrap_or_else(|| {
                        let end = old.end.expect("due implies an end date");
                        expiry_reason(end, self.now(), g.renew_before)
                    });
                    // The new key starts at apply; planned from now, as every date here is.
                    // An expired key signs in nowhere: nothing to keep it for.
                    let kept = overlapping(g, self.now())
                        .filter(|_| old.end.is_some_and(|end| end > self.now()));
                    if let Some(until) = kept {
                        reason.push_str(&format!(
                            "; the old key is kept until {} (overlap {})",
                            date(until),
                            g.overlap
                        ));
                    }
                    self.replace(&address, old, after, &unknown, add, reason);
                    status.action = Action::CreateThenDelete;
                    if kept.is_some() {
                        status.action = self.keep_replaced_key();
                    }
                }
            }
        }
        if let Some(newest) = newest {
            let by = thumbprint_or_id(newest);
            // Older keys stay while the newest is inside its overlap (a key kept after a
            // rotation is not drift), and go once it has passed.
            let kept = newest.start.and_then(|start| overlapping(g, start));
            for old in &keys[1..] {
                match kept {
                    Some(until) if until > self.now() => self.notes.push(cx.note(
                        NoteKind::RotationOverlap,
                        format!(
                            "certificate `{name}`: the previous key {} is kept until {} (overlap {}); the first apply after that removes it",
                            thumbprint_or_id(old),
                            date(until),
                            g.overlap
                        ),
                        None,
                    )),
                    Some(until) => {
                        self.claimed.insert(old.key_id);
                        self.remove_key(
                            old,
                            format!(
                                "superseded by {by}; its overlap {} ended {}",
                                g.overlap,
                                date(until)
                            ),
                        );
                    }
                    None => self.supersede(old, &by),
                }
            }
        }
        self.statuses.push(status);
    }

    /// Attach the new key, then remove the old one: rotation without a moment with no key.
    fn replace(
        &mut self,
        address: &Address,
        old: &LiveKeyCredential,
        after: Obj,
        unknown: &[&str],
        add: Operation,
        reason: String,
    ) {
        self.claimed.insert(old.key_id);
        // The old key was attached for the same manifest certificate, so from the same source.
        let source = after.0.get("source").cloned().unwrap_or_default();
        let app = self
            .cx
            .existing()
            .expect("a live key belongs to a live app");
        let remove_op = Operation::RemoveKeyCredential {
            app,
            key_id: old.key_id,
            method: pending(),
        };
        self.changes.push(Change {
            address: address.clone(),
            action: Action::CreateThenDelete,
            reason: Some(reason),
            before: Some(certificate_before(old, source).value()),
            after: Some(after.value()),
            after_unknown: unknown.iter().map(|u| (*u).to_owned()).collect(),
            operations: vec![add, remove_op],
        });
    }

    /// The replacement just planned keeps its old key for the overlap: the certificate changes
    /// key in place now, and a later plan removes the old key.
    fn keep_replaced_key(&mut self) -> Action {
        let change = self
            .changes
            .last_mut()
            .expect("a replacement was just planned");
        change.action = Action::Update;
        change.operations.truncate(1);
        Action::Update
    }

    fn supersede(&mut self, old: &LiveKeyCredential, by: &str) {
        self.claimed.insert(old.key_id);
        self.remove_key(old, format!("superseded by {by}"));
    }

    fn remove_key(&mut self, k: &LiveKeyCredential, reason: String) {
        let app = self
            .cx
            .existing()
            .expect("a live key belongs to a live app");
        let before = Obj::new()
            .with("key_id", s(k.key_id))
            .with("display_name", k.display_name.clone())
            .with("thumbprint", k.thumbprint.map(s))
            .with("type", k.key_type.clone())
            .with("usage", k.usage.clone())
            .with("start", k.start.map(rfc3339))
            .with("end", k.end.map(rfc3339));
        self.changes.push(delete(
            self.cx
                .keyed(ResourceKind::KeyCredential, k.key_id.to_string()),
            before,
            reason,
            vec![Operation::RemoveKeyCredential {
                app,
                key_id: k.key_id,
                method: pending(),
            }],
        ));
    }
}

fn certificate_before(k: &LiveKeyCredential, source: serde_json::Value) -> Obj {
    Obj::new()
        .with("display_name", k.display_name.clone())
        .with("key_id", s(k.key_id))
        .with("source", source)
        .with("thumbprint", k.thumbprint.map(s))
        .with("not_before", k.start.map(rfc3339))
        .with("not_after", k.end.map(rfc3339))
}

/// Filled in by [`assign_key_lists`] once the order of changes is final.
fn pending() -> KeyCredentialMethod {
    KeyCredentialMethod::PatchKeyCredentials { keep: Vec::new() }
}

/// When the previous key goes if the newest key started at `start`; `None` for overlap `0d`.
fn overlapping(g: &GenerateSpec, start: OffsetDateTime) -> Option<OffsetDateTime> {
    (g.overlap.as_seconds() > 0).then(|| start + g.overlap.as_duration())
}

fn thumbprint_or_id(k: &LiveKeyCredential) -> String {
    k.thumbprint
        .map_or_else(|| k.key_id.to_string(), |t| t.to_string())
}

/// `automation.pfx` → `automation.<old thumbprint>.pfx`, beside it.
fn backup_path(path: &Path, tag: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{tag}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{tag}"),
    };
    path.with_file_name(name)
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// `expires in 12 days`, `expires today`, `expired today`, `expired 3 days ago`: calendar days,
/// as [`days_left`] counts them.
pub(crate) fn expiry(end: OffsetDateTime, now: OffsetDateTime) -> String {
    match (end > now, days_left(end, now)) {
        (true, 0) => "expires today".to_owned(),
        (true, days) => format!("expires in {}", plural(days, "day")),
        (false, 0) => "expired today".to_owned(),
        (false, days) => format!("expired {} ago", plural(-days, "day")),
    }
}

/// `2025-06-13`: the UTC date, as plans show expiry.
pub(crate) fn date(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    utc.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_else(|_| utc.date().to_string())
}

/// "expires in 12 days, renewBefore is 30d" / "expired 3 days ago".
pub(crate) fn expiry_reason(
    end: OffsetDateTime,
    now: OffsetDateTime,
    renew_before: crate::model::Period,
) -> String {
    let when = expiry(end, now);
    if end > now {
        format!("{when}, renewBefore is {renew_before}")
    } else {
        when
    }
}

/// Fills every key operation's `keep` list: the app's exact key set at that step, following
/// the final order of changes from the live keys.
pub(crate) fn assign_key_lists(
    input: &PlanInput<'_>,
    matches: &[Option<Matched<'_>>],
    changes: &mut [Change],
) {
    let mut keys: BTreeMap<String, BTreeSet<KeyId>> = BTreeMap::new();
    for (d, m) in input.desired.iter().zip(matches) {
        if let Some(live) = m.as_ref().and_then(|m| m.live()) {
            keys.insert(
                d.name.clone(),
                live.key_credentials.iter().map(|k| k.key_id).collect(),
            );
        }
    }
    for change in changes {
        let current = keys.entry(change.address.app.clone()).or_default();
        for op in &mut change.operations {
            match op {
                Operation::AddCertificate { key, method, .. } => {
                    *method = KeyCredentialMethod::PatchKeyCredentials {
                        keep: current.iter().copied().collect(),
                    };
                    current.insert(key.key_id);
                }
                Operation::RemoveKeyCredential { key_id, method, .. } => {
                    current.remove(key_id);
                    *method = KeyCredentialMethod::PatchKeyCredentials {
                        keep: current.iter().copied().collect(),
                    };
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn expiry_reasons_read_like_the_issue() {
        let midnight = datetime!(2025-06-01 00:00 UTC);
        let renew: crate::model::Period = "30d".parse().unwrap();
        for (end, now, reason) in [
            (
                datetime!(2025-06-13 12:00 UTC),
                midnight,
                "expires in 12 days, renewBefore is 30d",
            ),
            (
                datetime!(2025-06-01 05:00 UTC),
                midnight,
                "expires today, renewBefore is 30d",
            ),
            (
                datetime!(2025-06-01 05:00 UTC),
                datetime!(2025-06-01 06:00 UTC),
                "expired today",
            ),
            // Whole calendar days: an end at 23:00 tomorrow is 1 day away at noon too.
            (
                datetime!(2025-06-02 23:00 UTC),
                datetime!(2025-06-01 12:00 UTC),
                "expires in 1 day, renewBefore is 30d",
            ),
            (
                datetime!(2025-05-29 00:00 UTC),
                midnight,
                "expired 3 days ago",
            ),
            (
                datetime!(2025-05-31 00:00 UTC),
                midnight,
                "expired 1 day ago",
            ),
        ] {
            assert_eq!(expiry_reason(end, now, renew), reason, "{end} at {now}");
        }
    }

    #[test]
    fn the_previous_pfx_is_kept_beside_the_new_one() {
        assert_eq!(
            backup_path(Path::new("certs/exo.pfx"), "ABCD"),
            Path::new("certs/exo.ABCD.pfx")
        );
        assert_eq!(backup_path(Path::new("exo"), "ABCD"), Path::new("exo.ABCD"));
    }
}
