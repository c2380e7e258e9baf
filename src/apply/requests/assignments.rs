//! Users and groups assigned to the app's roles: app role assignments whose resource is the
//! app's own service principal (`appRoleAssignedTo`).

use super::{Confirmation, Create, Expect, Found, Learns, Step, UniqueBy, found};
use crate::apply::Consent;
use crate::graph::api::service_principals::{self, AppRoleAssignmentWrite};
use crate::graph::types as wire;
use crate::model::{ObjectId, PermissionId};

pub(super) fn assign<'a>(
    resource_id: ObjectId,
    principal_id: ObjectId,
    app_role_id: PermissionId,
) -> Step<'a> {
    let assignment = AppRoleAssignmentWrite {
        principal_id,
        resource_id,
        app_role_id,
    };
    Step::create(Create {
        what: "the assignment",
        request: service_principals::assign_app_role(resource_id, &assignment),
        // Assigning users and groups is not consent: a 403 is a missing permission.
        consent: Consent::NotNeeded,
        unique_by: UniqueBy::Content,
        confirm: Confirmation {
            read: service_principals::app_roles_assigned_to(resource_id),
            expect: Expect::AssignedTo {
                principal_id,
                app_role_id,
            },
        },
    })
}

pub(super) fn unassign<'a>(resource_id: ObjectId, assignment_id: &str) -> Step<'a> {
    Step::delete(
        service_principals::remove_app_role_assignment(resource_id, assignment_id),
        Learns::Nothing,
    )
}

/// Whether the resource's assignments include the principal in the role.
pub(super) fn assigned_found(
    assignments: &[wire::AppRoleAssignment],
    principal_id: ObjectId,
    app_role_id: PermissionId,
) -> Found {
    found(
        assignments
            .iter()
            .any(|a| a.principal_id == principal_id && a.app_role_id == app_role_id),
    )
}
