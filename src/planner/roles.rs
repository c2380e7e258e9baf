//! Directory role assignments of the app's service principal: a set of (role definition,
//! directory scope).

use std::collections::BTreeSet;

use super::resolve::Resolved;
use super::{AppCx, Obj, create, delete, s};
use crate::model::{Catalog, RoleDefinitionId};
use crate::plan::{Change, Operation, ResourceKind};

/// `Exchange Administrator`, or `Exchange Administrator at /administrativeUnits/…` for a
/// narrower scope.
fn label(role: &str, scope: &str) -> String {
    if scope == "/" {
        role.to_owned()
    } else {
        format!("{role} at {scope}")
    }
}

fn role_name(catalog: &Catalog, id: RoleDefinitionId) -> String {
    catalog
        .role_definitions
        .iter()
        .find(|d| d.id == id || d.template_id == Some(id))
        .map_or_else(|| id.to_string(), |d| d.display_name.clone())
}

/// An assignment may name a role by its definition id or by its template id; both are the
/// same role.
fn same_role(catalog: &Catalog, wanted: RoleDefinitionId, live: RoleDefinitionId) -> bool {
    wanted == live
        || catalog
            .role_definitions
            .iter()
            .any(|d| d.id == wanted && d.template_id == Some(live))
}

pub(crate) fn directory_roles(cx: &AppCx<'_>, resolved: &Resolved<'_>) -> Vec<Change> {
    let Some(roles) = &resolved.roles else {
        return Vec::new();
    };
    let catalog = cx.catalog;
    let live = cx
        .sp()
        .map(|sp| sp.directory_role_assignments.as_slice())
        .unwrap_or(&[]);
    let mut changes = Vec::new();
    let mut wanted = BTreeSet::new();

    for role in roles {
        let id = role.definition.id;
        if !wanted.insert((id, role.scope.clone())) {
            continue;
        }
        if live.iter().any(|a| {
            same_role(catalog, id, a.role_definition_id) && a.directory_scope_id == role.scope
        }) {
            continue;
        }
        let name = &role.definition.display_name;
        let after = Obj::new()
            .with("role", name.clone())
            .with("role_definition_id", s(id))
            .with("directory_scope_id", role.scope.clone());
        changes.push(create(
            cx.keyed(
                ResourceKind::DirectoryRoleAssignment,
                label(name, &role.scope),
            ),
            after,
            &[],
            vec![Operation::AssignDirectoryRole {
                principal: cx.sp_ref(),
                role_definition_id: id,
                directory_scope_id: role.scope.clone(),
            }],
        ));
    }

    for a in live {
        if wanted.iter().any(|(id, scope)| {
            same_role(catalog, *id, a.role_definition_id) && *scope == a.directory_scope_id
        }) {
            continue;
        }
        let name = role_name(catalog, a.role_definition_id);
        let before = Obj::new()
            .with("role", name.clone())
            .with("role_definition_id", s(a.role_definition_id))
            .with("directory_scope_id", a.directory_scope_id.clone())
            .with("id", a.id.clone());
        changes.push(delete(
            cx.keyed(
                ResourceKind::DirectoryRoleAssignment,
                label(&name, &a.directory_scope_id),
            ),
            before,
            "not in the manifest's directoryRoles".to_owned(),
            vec![Operation::RemoveDirectoryRole {
                assignment_id: a.id.clone(),
            }],
        ));
    }
    changes
}
