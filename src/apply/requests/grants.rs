//! Permissions granted to the app's service principal: application permissions (app role
//! assignments) and tenant-wide delegated permissions (OAuth2 permission grants). Both are
//! consent: a 403 means the caller may not grant it, and an administrator must.

use std::collections::BTreeSet;

use super::{Confirmation, Create, Expect, Found, Learns, Step, UniqueBy, found};
use crate::apply::Consent;
use crate::graph::api::permission_grants;
use crate::graph::api::service_principals::{self, AppRoleAssignmentWrite};
use crate::graph::types as wire;
use crate::model::{ObjectId, PermissionId};

pub(super) fn assign_app_role<'a>(
    principal: ObjectId,
    resource_id: ObjectId,
    app_role_id: PermissionId,
) -> Step<'a> {
    let assignment = AppRoleAssignmentWrite {
        principal_id: principal,
        resource_id,
        app_role_id,
    };
    Step::create(Create {
        what: "the app role assignment",
        request: service_principals::assign_app_role(resource_id, &assignment),
        consent: Consent::Grants,
        unique_by: UniqueBy::Content,
        confirm: Confirmation {
            read: service_principals::app_role_assignments(principal),
            expect: Expect::AppRoleAssignment {
                resource_id,
                app_role_id,
            },
        },
    })
}

pub(super) fn revoke_app_role<'a>(resource_id: ObjectId, assignment_id: &str) -> Step<'a> {
    Step::delete(
        service_principals::remove_app_role_assignment(resource_id, assignment_id),
        Learns::Nothing,
    )
}

pub(super) fn grant_delegated(client: ObjectId, resource_id: ObjectId, scope: &str) -> Step<'_> {
    Step::create(Create {
        what: "the delegated permission grant",
        request: permission_grants::grant_for_all_principals(client, resource_id, scope),
        consent: Consent::Grants,
        unique_by: UniqueBy::Content,
        confirm: Confirmation {
            read: permission_grants::of_client(client),
            expect: Expect::DelegatedGrant { resource_id, scope },
        },
    })
}

pub(super) fn update_delegated<'a>(grant_id: &str, scope: &str) -> Step<'a> {
    Step::update(
        permission_grants::set_scope(grant_id, scope),
        Consent::Grants,
        grant_id,
    )
}

pub(super) fn revoke_delegated<'a>(grant_id: &str) -> Step<'a> {
    Step::delete(permission_grants::delete(grant_id), Learns::Nothing)
}

/// Whether the principal's assignments include the role on the resource.
pub(super) fn app_role_found(
    assignments: &[wire::AppRoleAssignment],
    resource_id: ObjectId,
    app_role_id: PermissionId,
) -> Found {
    found(
        assignments
            .iter()
            .any(|a| a.resource_id == resource_id && a.app_role_id == app_role_id),
    )
}

/// The client's tenant-wide grant to the API: missing, with exactly these scopes (in any
/// order), or with others.
pub(super) fn delegated_found(
    grants: &[wire::OAuth2PermissionGrant],
    resource_id: ObjectId,
    scope: &str,
) -> Found {
    let existing = grants
        .iter()
        .find(|g| g.resource_id == resource_id && g.consent_type == "AllPrincipals");
    match existing {
        None => Found::Missing,
        Some(g) if same_scopes(&g.scope, scope) => Found::Matches,
        Some(g) => Found::Differs(format!(
            "a tenant-wide grant to this API already exists with scope `{}`, not `{scope}`",
            g.scope
        )),
    }
}

fn same_scopes(a: &str, b: &str) -> bool {
    let set = |s: &str| {
        s.split_whitespace()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
    };
    set(a) == set(b)
}
