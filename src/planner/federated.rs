//! Federated identity credentials, matched by name (immutable in Graph): created, updated in
//! place (issuer, subject, audiences, description) or deleted.

use std::collections::BTreeSet;

use super::{AppCx, Obj, create, delete, set_value, update};
use crate::model::{FederatedCredentialSpec, LiveFederatedCredential};
use crate::plan::{
    Change, FederatedCredentialBody, FederatedCredentialPatch, Operation, ResourceKind,
};

fn shown(name: &str, issuer: &str, subject: &str, audiences: serde_json::Value) -> Obj {
    Obj::new()
        .with("name", name)
        .with("issuer", issuer)
        .with("subject", subject)
        .with("audiences", audiences)
}

pub(crate) fn federated_credentials(cx: &AppCx<'_>) -> Vec<Change> {
    let Some(specs) = &cx.desired.federated_credentials else {
        return Vec::new();
    };
    let live: &[LiveFederatedCredential] = cx
        .live
        .map(|l| l.federated_credentials.as_slice())
        .unwrap_or(&[]);
    let mut changes = Vec::new();

    for spec in specs {
        let address = cx.keyed(ResourceKind::FederatedCredential, spec.name.clone());
        match live.iter().find(|l| l.name == spec.name) {
            None => changes.push(create(
                address,
                shown(
                    &spec.name,
                    &spec.issuer,
                    &spec.subject,
                    set_value(&spec.audiences),
                )
                .with_opt("description", spec.description.clone()),
                &[],
                vec![Operation::CreateFederatedCredential {
                    app: cx.app_ref(),
                    credential: body(spec),
                }],
            )),
            Some(l) => {
                if let Some(change) = updated(cx, address, spec, l) {
                    changes.push(change);
                }
            }
        }
    }

    if let Some(app) = cx.existing() {
        for l in live
            .iter()
            .filter(|l| !specs.iter().any(|s| s.name == l.name))
        {
            changes.push(delete(
                cx.keyed(ResourceKind::FederatedCredential, l.name.clone()),
                shown(&l.name, &l.issuer, &l.subject, set_value(&l.audiences))
                    .with_opt("description", l.description.clone())
                    .with("id", l.id.to_string()),
                "not in the manifest's federatedCredentials".to_owned(),
                vec![Operation::DeleteFederatedCredential {
                    app: app.clone(),
                    id: l.id,
                }],
            ));
        }
    }
    changes
}

fn body(spec: &FederatedCredentialSpec) -> FederatedCredentialBody {
    FederatedCredentialBody {
        name: spec.name.clone(),
        issuer: spec.issuer.clone(),
        subject: spec.subject.clone(),
        audiences: spec.audiences.iter().cloned().collect(),
        description: spec.description.clone(),
    }
}

/// Issuer and subject compare exactly: Entra ID matches a token's claims against them
/// character for character, so no normalisation is safe.
fn updated(
    cx: &AppCx<'_>,
    address: crate::plan::Address,
    spec: &FederatedCredentialSpec,
    l: &LiveFederatedCredential,
) -> Option<Change> {
    let mut patch = FederatedCredentialPatch::default();
    if l.issuer != spec.issuer {
        patch.issuer = Some(spec.issuer.clone());
    }
    if l.subject != spec.subject {
        patch.subject = Some(spec.subject.clone());
    }
    let live_audiences: BTreeSet<&String> = l.audiences.iter().collect();
    if live_audiences != spec.audiences.iter().collect() {
        patch.audiences = Some(spec.audiences.iter().cloned().collect());
    }
    let mut before = shown(&l.name, &l.issuer, &l.subject, set_value(&l.audiences));
    let mut after = shown(
        &spec.name,
        &spec.issuer,
        &spec.subject,
        set_value(&spec.audiences),
    );
    if let Some(want) = &spec.description {
        let want = super::normalize::description(Some(want));
        let have = super::normalize::description(l.description.as_deref());
        before.set("description", have.map(str::to_owned));
        after.set("description", want.map(str::to_owned));
        if want != have {
            patch.description = Some(want.map(str::to_owned));
        }
    }
    if patch == FederatedCredentialPatch::default() {
        return None;
    }
    let app = cx
        .existing()
        .expect("a live credential belongs to a live app");
    Some(update(
        address,
        before,
        after,
        None,
        vec![Operation::UpdateFederatedCredential {
            app,
            id: l.id,
            patch,
        }],
    ))
}
