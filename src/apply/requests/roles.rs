//! Directory role assignments of the app's service principal (e.g. Exchange Administrator).

use super::{Confirmation, Create, Expect, Found, Learns, Step, UniqueBy, found};
use crate::apply::Consent;
use crate::graph::api::directory_roles::{self, RoleAssignmentWrite};
use crate::graph::api::filter;
use crate::graph::types as wire;
use crate::model::{ObjectId, RoleDefinitionId};

pub(super) fn assign<'a>(
    principal: ObjectId,
    role_definition_id: RoleDefinitionId,
    directory_scope_id: &'a str,
) -> Step<'a> {
    let assignment = RoleAssignmentWrite {
        role_definition_id,
        principal_id: principal,
        directory_scope_id: directory_scope_id.to_owned(),
    };
    let by_principal = filter::principal_id_is(&principal.to_string());
    Step::create(Create {
        what: "the directory role assignment",
        request: directory_roles::assign(&assignment),
        consent: Consent::NotNeeded,
        unique_by: UniqueBy::Content,
        confirm: Confirmation {
            read: directory_roles::assignments_where(&by_principal),
            expect: Expect::DirectoryRoleAssignment {
                role_definition_id,
                directory_scope_id,
            },
        },
    })
}

pub(super) fn remove<'a>(assignment_id: &str) -> Step<'a> {
    Step::delete(
        directory_roles::remove_assignment(assignment_id),
        Learns::Nothing,
    )
}

/// Whether the principal's assignments include the role at the scope.
pub(super) fn assignment_found(
    assignments: &[wire::UnifiedRoleAssignment],
    role_definition_id: RoleDefinitionId,
    directory_scope_id: &str,
) -> Found {
    found(assignments.iter().any(|a| {
        a.role_definition_id == role_definition_id && a.directory_scope_id == directory_scope_id
    }))
}
