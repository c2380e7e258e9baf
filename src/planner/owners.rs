//! Owners of the application: a set of directory object ids.

use std::collections::BTreeSet;

use super::resolve::Resolved;
use super::{AppCx, Obj, Problem, ProblemKind, create, delete, s};
use crate::model::ObjectId;
use crate::plan::{Change, Note, NoteKind, Operation, ResourceKind};

pub(crate) fn owners(
    cx: &AppCx<'_>,
    resolved: &Resolved<'_>,
) -> Result<(Vec<Change>, Vec<Note>), Box<Problem>> {
    let Some(wanted) = &resolved.owners else {
        return Ok((Vec::new(), Vec::new()));
    };
    let live = match cx.live {
        None => &[][..],
        Some(l) => match &l.owners {
            Some(o) => o.as_slice(),
            // Without the live owners a plan would add owners that exist and miss ones to
            // remove: the observer must read them whenever a manifest manages them.
            None => {
                return Err(Box::new(Problem {
                    kind: ProblemKind::OwnersNotRead,
                    source: Some(cx.desired.source.clone()),
                    app: cx.name().to_owned(),
                    message: "the manifest manages owners, but the application's owners were not read from the tenant".to_owned(),
                    help: Vec::new(),
                }));
            }
        },
    };
    let mut changes = Vec::new();
    let wanted_ids: BTreeSet<ObjectId> = wanted.iter().map(|o| o.id).collect();

    for owner in wanted {
        if live.iter().any(|l| l.id == owner.id) {
            continue;
        }
        let after = Obj::new().with("id", s(owner.id)).with_opt(
            "user_principal_name",
            (owner.label != owner.id.to_string()).then(|| owner.label.clone()),
        );
        changes.push(create(
            cx.keyed(ResourceKind::Owner, owner.label.clone()),
            after,
            &[],
            vec![Operation::AddOwner {
                app: cx.app_ref(),
                owner_id: owner.id,
            }],
        ));
    }

    // Signed in with only `Application.ReadWrite.OwnedBy`, entraform may change only the apps
    // it owns: removing its own service principal would lock it out of this one for good.
    let keep = cx
        .input
        .live
        .signed_in
        .as_ref()
        .filter(|s| s.writes_only_what_it_owns())
        .map(|s| s.service_principal_id);
    let mut notes = Vec::new();
    if let Some(app) = cx.existing() {
        for l in live.iter().filter(|l| !wanted_ids.contains(&l.id)) {
            if Some(l.id) == keep {
                notes.push(cx.note(
                    NoteKind::KeptOwner,
                    format!(
                        "`{}` keeps entraform's own service principal ({}) as an owner though the manifest leaves it out: signed in with `Application.ReadWrite.OwnedBy`, entraform can change only the apps it owns",
                        cx.name(),
                        l.id
                    ),
                    None,
                ));
                continue;
            }
            let label = l
                .user_principal_name
                .clone()
                .unwrap_or_else(|| l.id.to_string());
            let before = Obj::new()
                .with("id", s(l.id))
                .with_opt("user_principal_name", l.user_principal_name.clone());
            changes.push(delete(
                cx.keyed(ResourceKind::Owner, label),
                before,
                "not in the manifest's owners".to_owned(),
                vec![Operation::RemoveOwner {
                    app: app.clone(),
                    owner_id: l.id,
                }],
            ));
        }
    }
    Ok((changes, notes))
}
