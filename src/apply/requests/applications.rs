//! The application itself (upsert by `uniqueName`, adoption, updates, deletion, restore) and its
//! owners.

use super::{
    Confirmation, Create, DeletedHolder, Depends, Detail, Expect, Found, Learns, Resolved,
    Restored, Step, UniqueBy, Upsert, Write, found,
};
use crate::apply::{ActionError, Consent};
use crate::graph::api::applications::{self, ApplicationWrite, WebRedirects};
use crate::graph::api::deleted_items;
use crate::graph::types as wire;
use crate::model::{ObjectId, PermissionKind};
use crate::plan::{ApplicationBody, ApplicationPatch, ExistingApp, PlannedResourceAccess};

pub(super) fn upsert<'a>(
    unique_name: &str,
    application: &ApplicationBody,
    resolved: &Resolved,
) -> Result<Step<'a>, ActionError> {
    Ok(Step {
        write: Write::Upsert(Upsert {
            request: applications::upsert(unique_name, &application_write(application, resolved)?),
            read: applications::identity_by_unique_name(unique_name),
            deleted_holder: Some(DeletedHolder {
                unique_name: unique_name.to_owned(),
                read: deleted_items::applications_holding(unique_name),
            }),
        }),
        // The write that creates the app waits for nothing.
        depends: Depends::OnExisting,
        learns: Learns::Application {
            display_name: application.display_name.clone(),
        },
        detail: Detail::CreatedId,
    })
}

/// Takes over an application made by hand: the plan's changes and the `uniqueName` that makes
/// it entraform's.
pub(super) fn adopt<'a>(
    app: &ExistingApp,
    unique_name: &str,
    patch: &ApplicationPatch,
    resolved: &Resolved,
) -> Result<Step<'a>, ActionError> {
    let mut changes = application_patch(patch, resolved)?;
    changes.unique_name = Some(unique_name.to_owned());
    Ok(Step::update(
        applications::update(app.object_id, &changes),
        Consent::NotNeeded,
        app.object_id,
    ))
}

pub(super) fn update<'a>(
    app: &ExistingApp,
    patch: &ApplicationPatch,
    resolved: &Resolved,
) -> Result<Step<'a>, ActionError> {
    Ok(Step::update(
        applications::update(app.object_id, &application_patch(patch, resolved)?),
        Consent::NotNeeded,
        app.object_id,
    ))
}

pub(super) fn delete<'a>(app: &ExistingApp) -> Step<'a> {
    Step::delete(
        applications::delete(app.object_id),
        Learns::ApplicationDeleted,
    )
}

pub(super) fn restore<'a>(app: &ExistingApp) -> Step<'a> {
    Step::restore(
        app.object_id,
        applications::identity(app.object_id),
        Restored::Application(app.clone()),
    )
}

pub(super) fn add_owner<'a>(app: &ExistingApp, owner: ObjectId, graph_resource: &str) -> Step<'a> {
    Step {
        // Graph answers 204, without a body; the owner is the id to show.
        detail: Detail::Id(owner.to_string()),
        ..Step::create(Create {
            what: "the owner",
            request: applications::add_owner(app.object_id, owner, graph_resource),
            consent: Consent::NotNeeded,
            unique_by: UniqueBy::Content,
            confirm: Confirmation {
                read: applications::owners(app.object_id),
                expect: Expect::Owner(owner),
            },
        })
    }
}

pub(super) fn remove_owner<'a>(app: &ExistingApp, owner: ObjectId) -> Step<'a> {
    Step::delete(
        applications::remove_owner(app.object_id, owner),
        Learns::Nothing,
    )
}

/// Whether the app's owners include `owner`.
pub(super) fn owner_found(owners: &[wire::DirectoryObject], owner: ObjectId) -> Found {
    found(owners.iter().any(|o| o.id == owner))
}

// --- plan values as Graph bodies --------------------------------------------------------------

/// With the appIds of APIs this run created filled in.
fn required_resource_access(
    rra: &[PlannedResourceAccess],
    resolved: &Resolved,
) -> Result<Vec<wire::RequiredResourceAccess>, ActionError> {
    rra.iter()
        .map(|r| {
            Ok(wire::RequiredResourceAccess {
                resource_app_id: resolved.api_app_id(&r.resource_app_id)?,
                resource_access: r
                    .resource_access
                    .iter()
                    .map(|a| wire::ResourceAccess {
                        id: a.id,
                        kind: match a.kind {
                            PermissionKind::Role => "Role",
                            PermissionKind::Scope => "Scope",
                        }
                        .to_owned(),
                    })
                    .collect(),
            })
        })
        .collect()
}

fn application_write(
    b: &ApplicationBody,
    resolved: &Resolved,
) -> Result<ApplicationWrite, ActionError> {
    let mut write = ApplicationWrite::default();
    write.display_name = Some(b.display_name.clone());
    write.description = b.description.clone().map(Some);
    write.set_sign_in_audience(&b.sign_in_audience);
    write.web = b
        .redirect_uris
        .clone()
        .map(|redirect_uris| WebRedirects { redirect_uris });
    write.tags = Some(b.tags.clone());
    write.required_resource_access = b
        .required_resource_access
        .as_deref()
        .map(|rra| required_resource_access(rra, resolved))
        .transpose()?;
    write.fields = b.fields.clone();
    Ok(write)
}

fn application_patch(
    p: &ApplicationPatch,
    resolved: &Resolved,
) -> Result<ApplicationWrite, ActionError> {
    let mut write = ApplicationWrite::default();
    write.display_name = p.display_name.clone();
    write.description = p.description.clone();
    if let Some(audience) = &p.sign_in_audience {
        write.set_sign_in_audience(audience);
    }
    write.web = p
        .redirect_uris
        .clone()
        .map(|redirect_uris| WebRedirects { redirect_uris });
    write.tags = p.tags.clone();
    write.required_resource_access = p
        .required_resource_access
        .as_deref()
        .map(|rra| required_resource_access(rra, resolved))
        .transpose()?;
    write.fields = p.fields.clone();
    Ok(write)
}
