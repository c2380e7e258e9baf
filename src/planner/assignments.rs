//! `assignments`: users and groups assigned to the app's own roles, as app role assignments
//! whose resource is the app's service principal (`appRoleAssignedTo`). Compared as a set of
//! (principal, role); service principals holding the app's roles are application permissions,
//! which the client's own manifest manages, and are left alone.

use std::collections::BTreeSet;

use super::resolve::did_you_mean;
use super::{AppCx, Obj, Problem, ProblemKind, create, delete, s};
use crate::model::{
    AppRole, AssignedRole, Catalog, LiveAssignment, ObjectId, PermissionId, PrincipalRef, Source,
};
use crate::plan::{Change, Operation, ResourceKind};

/// Graph's default access role: an assignment to the app without a specific role.
pub const DEFAULT_ACCESS: PermissionId = PermissionId(uuid::Uuid::nil());

/// A principal as found in the tenant, with what its address shows (a UPN, a group's name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Principal {
    id: ObjectId,
    label: String,
}

/// The id of the app role `role` names for a user or group, from the app's roles (`value`, id,
/// `isEnabled`, `allowedMemberTypes`): the live application's today, the planned ones when the
/// manifest declares them. Groups are assigned with `User` member type roles, as users are.
pub fn app_role_for_users(
    roles: &[AppRole],
    role: &AssignedRole,
) -> Result<PermissionId, (String, Vec<String>)> {
    let value = match role {
        AssignedRole::Default => return Ok(DEFAULT_ACCESS),
        AssignedRole::Value(v) => v,
    };
    let allows_users = |r: &AppRole| r.allowed_member_types.iter().any(|t| t == "User");
    match roles.iter().find(|r| r.value.as_deref() == Some(value)) {
        Some(r) if !allows_users(r) => Err((
            format!("the app role `{value}` is for applications only, not for users and groups"),
            vec!["add `User` to its `allowedMemberTypes`, or assign another role".to_owned()],
        )),
        Some(r) if !r.is_enabled => {
            Err((format!("the app role `{value}` is disabled"), Vec::new()))
        }
        Some(r) => Ok(r.id),
        None => Err((
            format!("the app has no role `{value}`"),
            did_you_mean(
                value,
                roles
                    .iter()
                    .filter(|r| allows_users(r) && r.is_enabled)
                    .filter_map(|r| r.value.as_deref())
                    .chain([AssignedRole::DEFAULT]),
            ),
        )),
    }
}

/// The user or group `principal` names.
fn find_principal(
    principal: &PrincipalRef,
    catalog: &Catalog,
) -> Result<Principal, (ProblemKind, String, Vec<String>)> {
    match principal {
        PrincipalRef::Upn(upn) => catalog
            .users
            .iter()
            .find(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
            .map(|u| Principal {
                id: u.id,
                label: u.user_principal_name.clone(),
            })
            .ok_or_else(|| {
                (
                    ProblemKind::UnknownPrincipal,
                    format!("no user `{upn}` in this tenant"),
                    did_you_mean(
                        upn,
                        catalog.users.iter().map(|u| u.user_principal_name.as_str()),
                    ),
                )
            }),
        PrincipalRef::GroupName(name) => {
            let found: Vec<_> = catalog
                .groups
                .iter()
                .filter(|g| g.display_name.eq_ignore_ascii_case(name))
                .collect();
            match found.as_slice() {
                [one] => Ok(Principal {
                    id: one.id,
                    label: one.display_name.clone(),
                }),
                [] => Err((
                    ProblemKind::UnknownPrincipal,
                    format!("no group named `{name}` in this tenant"),
                    did_you_mean(name, catalog.groups.iter().map(|g| g.display_name.as_str())),
                )),
                many => Err((
                    ProblemKind::AmbiguousPrincipal,
                    format!(
                        "{} groups are named `{name}`; name the group by its object id",
                        many.len()
                    ),
                    vec![format!(
                        "their ids: {}",
                        many.iter()
                            .map(|g| format!("`{}`", g.id))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )],
                )),
            }
        }
        PrincipalRef::ObjectId(id) => catalog
            .users
            .iter()
            .find(|u| u.id == *id)
            .map(|u| u.user_principal_name.clone())
            .or_else(|| {
                catalog
                    .groups
                    .iter()
                    .find(|g| g.id == *id)
                    .map(|g| g.display_name.clone())
            })
            .map(|label| Principal { id: *id, label })
            .ok_or_else(|| {
                (
                    ProblemKind::UnknownPrincipal,
                    format!("no user or group with id `{id}` in this tenant"),
                    Vec::new(),
                )
            }),
    }
}

/// What a live assignment's principal is called: its UPN or group name when read, else what
/// Graph put on the assignment, else its id.
fn principal_label(catalog: &Catalog, id: ObjectId, display_name: Option<&str>) -> String {
    catalog
        .users
        .iter()
        .find(|u| u.id == id)
        .map(|u| u.user_principal_name.clone())
        .or_else(|| {
            catalog
                .groups
                .iter()
                .find(|g| g.id == id)
                .map(|g| g.display_name.clone())
        })
        .or_else(|| display_name.map(str::to_owned))
        .unwrap_or_else(|| id.to_string())
}

fn role_label(roles: &[AppRole], id: PermissionId) -> String {
    if id == DEFAULT_ACCESS {
        return AssignedRole::DEFAULT.to_owned();
    }
    roles
        .iter()
        .find(|r| r.id == id)
        .and_then(|r| r.value.clone())
        .unwrap_or_else(|| id.to_string())
}

/// The key of a live assignment's address: `<principal>/<role>`.
pub fn live_key(catalog: &Catalog, roles: &[AppRole], a: &LiveAssignment) -> String {
    let label = principal_label(catalog, a.principal_id, a.principal_display_name.as_deref());
    format!("{label}/{}", role_label(roles, a.app_role_id))
}

pub(crate) fn assignments(cx: &AppCx<'_>) -> Result<Vec<Change>, Vec<Problem>> {
    let Some(specs) = &cx.desired.assignments else {
        return Ok(Vec::new());
    };
    let catalog = &cx.input.live.catalog;
    // The roles as planned name what is wanted (an assignment may name a role this plan adds);
    // the tenant's name what is there.
    let planned_roles: Vec<AppRole> = super::entitlements::planned_app_roles(cx);
    let roles: &[AppRole] = cx.live.map_or(&[], |l| l.app_roles.as_slice());
    let problem = |kind, source: &Source, message: String, help: Vec<String>| Problem {
        kind,
        source: Some(source.clone()),
        app: cx.name().to_owned(),
        message,
        help,
    };

    let mut problems = Vec::new();
    let mut wanted: BTreeSet<(Principal, PermissionId)> = BTreeSet::new();
    for (i, spec) in specs.iter().enumerate() {
        let principal =
            find_principal(&spec.principal, catalog).map_err(|(kind, message, help)| {
                problems.push(problem(
                    kind,
                    cx.desired.assignment_source(i),
                    message,
                    help,
                ))
            });
        let role = app_role_for_users(&planned_roles, &spec.role).map_err(|(message, help)| {
            problems.push(problem(
                ProblemKind::UnknownAppRole,
                cx.desired.assignment_role_source(i),
                message,
                help,
            ))
        });
        if let (Ok(principal), Ok(role)) = (principal, role) {
            wanted.insert((principal, role));
        }
    }
    let live = match cx.sp() {
        None => &[][..],
        Some(sp) => match &sp.assigned_to {
            Some(a) => a.as_slice(),
            // Without them a plan would add what exists and miss what to remove.
            None => {
                problems.push(Problem {
                    kind: ProblemKind::AssignmentsNotRead,
                    source: Some(cx.desired.source.clone()),
                    app: cx.name().to_owned(),
                    message: "the manifest manages `assignments`, but the service principal's assignments were not read from the tenant".to_owned(),
                    help: Vec::new(),
                });
                &[]
            }
        },
    };
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut changes = Vec::new();
    let key =
        |label: &str, role: PermissionId| format!("{label}/{}", role_label(&planned_roles, role));
    for (principal, role) in &wanted {
        if live
            .iter()
            .any(|a| a.principal_id == principal.id && a.app_role_id == *role)
        {
            continue;
        }
        let after = Obj::new()
            .with("principal", principal.label.clone())
            .with("principal_id", s(principal.id))
            .with("role", role_label(&planned_roles, *role))
            .with("app_role_id", s(role));
        changes.push(create(
            cx.keyed(ResourceKind::Assignment, key(&principal.label, *role)),
            after,
            &[],
            vec![Operation::AssignPrincipal {
                resource: cx.sp_ref(),
                principal_id: principal.id,
                app_role_id: *role,
            }],
        ));
    }
    let Some(sp) = cx.sp() else {
        return Ok(changes);
    };
    for a in live.iter().filter(|a| a.is_user_or_group()) {
        if wanted
            .iter()
            .any(|(p, role)| p.id == a.principal_id && *role == a.app_role_id)
        {
            continue;
        }
        let label = principal_label(catalog, a.principal_id, a.principal_display_name.as_deref());
        let address = cx.keyed(ResourceKind::Assignment, live_key(catalog, roles, a));
        let before = Obj::new()
            .with("principal", label.clone())
            .with("principal_id", s(a.principal_id))
            .with("principal_type", a.principal_type.clone())
            .with("role", role_label(roles, a.app_role_id))
            .with("app_role_id", s(a.app_role_id))
            .with("id", a.id.clone());
        changes.push(delete(
            address,
            before,
            "not in the manifest's assignments".to_owned(),
            vec![Operation::UnassignPrincipal {
                resource_id: sp.object_id,
                assignment_id: a.id.clone(),
            }],
        ));
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(value: &str, members: &[&str], enabled: bool) -> AppRole {
        AppRole {
            id: PermissionId(uuid::Uuid::from_u128(value.len() as u128)),
            value: Some(value.to_owned()),
            display_name: None,
            allowed_member_types: members.iter().map(|m| (*m).to_owned()).collect(),
            is_enabled: enabled,
        }
    }

    #[test]
    fn roles_resolve_by_value_for_users_only_when_enabled() {
        let roles = [
            role("Reader", &["User"], true),
            role("Sync.All", &["Application"], true),
            role("Old", &["User", "Application"], false),
        ];
        assert_eq!(
            app_role_for_users(&roles, &AssignedRole::Default),
            Ok(DEFAULT_ACCESS)
        );
        assert_eq!(
            app_role_for_users(&roles, &AssignedRole::Value("Reader".into())),
            Ok(roles[0].id)
        );
        let (message, _) =
            app_role_for_users(&roles, &AssignedRole::Value("Sync.All".into())).unwrap_err();
        assert_eq!(
            message,
            "the app role `Sync.All` is for applications only, not for users and groups"
        );
        let (message, _) =
            app_role_for_users(&roles, &AssignedRole::Value("Old".into())).unwrap_err();
        assert_eq!(message, "the app role `Old` is disabled");
        let (message, help) =
            app_role_for_users(&roles, &AssignedRole::Value("reader".into())).unwrap_err();
        assert_eq!(message, "the app has no role `reader`");
        assert_eq!(help, ["did you mean `Reader`?"]);
    }
}
