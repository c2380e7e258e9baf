//! The app's service principal (its enterprise app): upsert by `appId`, update, restore,
//! deletion.

use super::{Depends, Detail, Learns, Restored, Step, Upsert, Write};
use crate::apply::Consent;
use crate::graph::api::service_principals::{self, ServicePrincipalWrite};
use crate::model::{FieldValues, ObjectId};
use crate::plan::ExistingApp;

/// `display_name`: the application's, which Graph's own example sends; `fields`: the plain
/// fields the manifest sets.
pub(super) fn upsert<'a>(
    app: &ExistingApp,
    display_name: String,
    fields: &FieldValues,
) -> Step<'a> {
    let body = ServicePrincipalWrite {
        display_name: Some(display_name),
        fields: fields.clone(),
    };
    Step {
        write: Write::Upsert(Upsert {
            request: service_principals::upsert(app.app_id, &body),
            read: service_principals::identity_by_app_id(app.app_id),
            deleted_holder: None,
        }),
        depends: Depends::OnApp,
        learns: Learns::ServicePrincipal,
        detail: Detail::CreatedId,
    }
}

pub(super) fn update<'a>(id: ObjectId, fields: &FieldValues) -> Step<'a> {
    let body = ServicePrincipalWrite {
        display_name: None,
        fields: fields.clone(),
    };
    Step::update(
        service_principals::update(id, &body),
        Consent::NotNeeded,
        id,
    )
}

pub(super) fn restore<'a>(id: ObjectId) -> Step<'a> {
    Step::restore(
        id,
        service_principals::identity(id),
        Restored::ServicePrincipal(id),
    )
}

pub(super) fn delete<'a>(id: ObjectId) -> Step<'a> {
    Step::delete(
        service_principals::delete(id),
        Learns::ServicePrincipalDeleted,
    )
}
