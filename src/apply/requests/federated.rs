//! The app's federated identity credentials (workload identity federation, e.g. GitHub
//! Actions). Graph keeps their names unique per app, case-insensitively, and one credential per
//! issuer and subject.

use std::collections::BTreeSet;

use super::{Confirmation, Create, Expect, Found, Learns, Step, UniqueBy};
use crate::apply::Consent;
use crate::graph::api::applications::{self, FederatedCredentialWrite};
use crate::graph::types as wire;
use crate::model::FederatedCredentialId;
use crate::plan::{ExistingApp, FederatedCredentialBody, FederatedCredentialPatch};

pub(super) fn create<'a>(app: &ExistingApp, credential: &'a FederatedCredentialBody) -> Step<'a> {
    Step::create(Create {
        what: "the federated credential",
        request: applications::create_federated_credential(
            app.object_id,
            &FederatedCredentialWrite {
                name: Some(credential.name.clone()),
                issuer: Some(credential.issuer.clone()),
                subject: Some(credential.subject.clone()),
                audiences: Some(credential.audiences.clone()),
                description: credential.description.clone().map(Some),
            },
        ),
        consent: Consent::NotNeeded,
        unique_by: UniqueBy::Name,
        confirm: Confirmation {
            read: applications::federated_credentials(app.object_id),
            expect: Expect::FederatedCredential(credential),
        },
    })
}

pub(super) fn update<'a>(
    app: &ExistingApp,
    id: FederatedCredentialId,
    patch: &FederatedCredentialPatch,
) -> Step<'a> {
    let changes = FederatedCredentialWrite {
        name: None,
        issuer: patch.issuer.clone(),
        subject: patch.subject.clone(),
        audiences: patch.audiences.clone(),
        description: patch.description.clone(),
    };
    Step::update(
        applications::update_federated_credential(app.object_id, id, &changes),
        Consent::NotNeeded,
        id,
    )
}

pub(super) fn delete<'a>(app: &ExistingApp, id: FederatedCredentialId) -> Step<'a> {
    Step::delete(
        applications::delete_federated_credential(app.object_id, id),
        Learns::Nothing,
    )
}

/// What holds a federated credential's name (Entra ID compares names case-insensitively) or its
/// issuer and subject (unique per app), against the credential the plan wanted.
pub(super) fn conflict(
    live: &[wire::FederatedIdentityCredential],
    wanted: &FederatedCredentialBody,
) -> Found {
    let by_name = live
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(&wanted.name));
    match by_name {
        Some(f) if f.name == wanted.name && same_federated(f, wanted) => Found::Matches,
        Some(f) if f.name != wanted.name => Found::Differs(format!(
            "a federated credential named `{}` already exists, and Entra ID compares names case-insensitively, so `{}` cannot be created",
            f.name, wanted.name
        )),
        Some(f) => Found::Differs(format!(
            "a federated credential named `{}` already exists with issuer `{}` and subject `{}`",
            f.name, f.issuer, f.subject
        )),
        None => match live
            .iter()
            .find(|f| f.issuer == wanted.issuer && f.subject == wanted.subject)
        {
            Some(f) => Found::Differs(format!(
                "the federated credential `{}` already has issuer `{}` and subject `{}`; Entra ID allows one credential per issuer and subject",
                f.name, f.issuer, f.subject
            )),
            None => Found::Missing,
        },
    }
}

fn same_federated(
    live: &wire::FederatedIdentityCredential,
    wanted: &FederatedCredentialBody,
) -> bool {
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    live.issuer == wanted.issuer
        && live.subject == wanted.subject
        && set(&live.audiences) == set(&wanted.audiences)
        && live.description.as_deref().filter(|d| !d.is_empty())
            == wanted.description.as_deref().filter(|d| !d.is_empty())
}
