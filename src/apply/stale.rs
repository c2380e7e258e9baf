//! A saved plan against the world as it is now (Terraform refuses a plan whose state moved;
//! here the tenant's own objects are the state). Pure: the caller re-reads the manifests and
//! re-observes the tenant, these functions decide.

use std::collections::BTreeMap;

use super::ApplyError;
use crate::model::{LiveApp, LiveTenant};
use crate::plan::fingerprint::{Drift, compare, fingerprints_of};
use crate::plan::{Address, ManifestHashes, Operation, Plan, ResourceKind};

/// Every way the manifests on disk differ from those the plan was made from. `now` maps each
/// recorded path to the lower-case hex SHA-256 of its bytes today, or `None` when it cannot be
/// read.
pub fn manifest_changes(
    recorded: &ManifestHashes,
    now: &BTreeMap<String, Option<String>>,
) -> Vec<String> {
    recorded
        .files
        .iter()
        .filter_map(|(path, hash)| match now.get(path) {
            Some(Some(h)) if h == hash => None,
            Some(Some(_)) => Some(format!("`{path}` was edited")),
            _ => Some(format!("`{path}` is gone")),
        })
        .collect()
}

/// Whether the plan was made with `--prune`, as far as it shows: it deletes an application, or
/// it read more applications than there are manifests (the managed apps no manifest mentions).
pub fn plan_was_pruned(plan: &Plan, manifest_apps: usize) -> bool {
    let deletes = plan
        .operations()
        .any(|(_, op)| matches!(op, Operation::DeleteApplication { .. }));
    let apps_read = plan
        .fingerprints
        .keys()
        .filter(|k| k.starts_with("application/"))
        .count();
    deletes || apps_read > manifest_apps
}

/// Refuses the plan when it was made for another tenant or when any object it read has moved
/// (changed, gone, or a new one where it looked). `fresh` is the tenant observed now, over the
/// same manifests and with the same `--prune` as the plan.
pub fn stale_check(plan: &Plan, fresh: &LiveTenant) -> Result<(), ApplyError> {
    if fresh.tenant_id != plan.tenant_id {
        return Err(ApplyError::WrongTenant {
            planned: plan.tenant_id.to_string(),
            actual: fresh.tenant_id.to_string(),
        });
    }
    let drift = compare(&plan.fingerprints, &fingerprints_of(fresh));
    if drift.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::Stale {
            addresses: drift_addresses(&drift, fresh, plan),
        })
    }
}

/// What differs between a saved plan and the plan made again from the same manifests, the same
/// tenant and the plan's own time and key ids: the first change whose operations, or whose
/// shown values, are not what planning gives. `None` when they agree. A saved plan that was
/// edited (its operations, or the changes a reviewer read) is refused this way, before any
/// write.
pub fn derivation_mismatch(saved: &Plan, derived: &Plan) -> Option<String> {
    let mut derived_changes = derived.changes.iter();
    for change in &saved.changes {
        let Some(expected) = derived_changes.next() else {
            return Some(format!(
                "`{}` is not a change the manifests call for",
                change.address
            ));
        };
        if change.address != expected.address {
            return Some(format!(
                "`{}` is where planning puts `{}`",
                change.address, expected.address
            ));
        }
        if change.operations != expected.operations {
            return Some(format!(
                "the operations of `{}` are not the ones its change calls for",
                change.address
            ));
        }
        if change != expected {
            return Some(format!(
                "the change `{}` does not show what its operations do",
                change.address
            ));
        }
    }
    derived_changes.next().map(|missing| {
        format!(
            "it leaves out `{}`, which the manifests call for",
            missing.address
        )
    })
}

/// The plan address of each drifted object, once each, in the order a plan shows them (objects
/// no address can be found for last, by their fingerprint key).
pub fn drift_addresses(drift: &[Drift], fresh: &LiveTenant, plan: &Plan) -> Vec<String> {
    let mut found: Vec<Address> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for d in drift {
        match address_of(d.object(), fresh, plan) {
            Some(a) if !found.contains(&a) => found.push(a),
            Some(_) => {}
            None => unknown.push(d.object().to_owned()),
        }
    }
    found.sort();
    found
        .iter()
        .map(ToString::to_string)
        .chain(unknown)
        .collect()
}

fn app_name(app: &LiveApp) -> String {
    app.unique_name
        .clone()
        .unwrap_or_else(|| app.app_id.to_string())
}

fn address_of(key: &str, fresh: &LiveTenant, plan: &Plan) -> Option<Address> {
    let (kind, rest) = key.split_once('/')?;
    let catalog = &fresh.catalog;
    let resource_name = |id: &crate::model::ObjectId| {
        catalog
            .resources
            .iter()
            .find(|r| r.object_id == *id)
            .map_or_else(|| id.to_string(), |r| r.display_name.clone())
    };
    // From the tenant as it is now.
    for app in &fresh.apps {
        let name = app_name(app);
        let sp = app.service_principal.as_ref();
        let found = match kind {
            "application" if app.object_id.to_string() == rest => {
                Some(Address::app(ResourceKind::Application, &name))
            }
            "service_principal" if sp.is_some_and(|s| s.object_id.to_string() == rest) => {
                Some(Address::app(ResourceKind::ServicePrincipal, &name))
            }
            "federated_credential" => app
                .federated_credentials
                .iter()
                .find(|f| format!("{}/{}", app.object_id, f.id) == rest)
                .map(|f| Address::keyed(ResourceKind::FederatedCredential, &name, &f.name)),
            "assignment" => sp
                .and_then(|s| s.assigned_to.iter().flatten().find(|a| a.id == rest))
                .map(|a| {
                    let key = crate::planner::assignments::live_key(catalog, &app.app_roles, a);
                    Address::keyed(ResourceKind::Assignment, &name, key)
                }),
            "app_role_assignment" => sp
                .and_then(|s| s.app_role_assignments.iter().find(|a| a.id == rest))
                .map(|a| {
                    let api = resource_name(&a.resource_id);
                    let value = catalog
                        .resources
                        .iter()
                        .find(|r| r.object_id == a.resource_id)
                        .and_then(|r| r.app_roles.iter().find(|x| x.id == a.app_role_id))
                        .and_then(|x| x.value.clone())
                        .unwrap_or_else(|| a.app_role_id.to_string());
                    Address::keyed(
                        ResourceKind::AppRoleAssignment,
                        &name,
                        format!("{api}/{value}"),
                    )
                }),
            "delegated_grant" => sp
                .and_then(|s| s.delegated_grants.iter().find(|g| g.id == rest))
                .map(|g| {
                    Address::keyed(
                        ResourceKind::DelegatedGrant,
                        &name,
                        resource_name(&g.resource_id),
                    )
                }),
            "directory_role_assignment" => sp
                .and_then(|s| s.directory_role_assignments.iter().find(|r| r.id == rest))
                .map(|r| {
                    let role = catalog
                        .role_definitions
                        .iter()
                        .find(|d| {
                            d.id == r.role_definition_id
                                || d.template_id == Some(r.role_definition_id)
                        })
                        .map_or_else(
                            || r.role_definition_id.to_string(),
                            |d| d.display_name.clone(),
                        );
                    let label = if r.directory_scope_id == "/" {
                        role
                    } else {
                        format!("{role} at {}", r.directory_scope_id)
                    };
                    Address::keyed(ResourceKind::DirectoryRoleAssignment, &name, label)
                }),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    // Gone from the tenant: the plan's own operations may name it.
    plan.operations().find_map(|(address, op)| {
        use Operation as O;
        let hit = match (kind, op) {
            ("application", O::UpdateApplication { app, .. })
            | ("application", O::AdoptApplication { app, .. })
            | ("application", O::DeleteApplication { app }) => app.object_id.to_string() == rest,
            ("service_principal", O::DeleteServicePrincipal { object_id })
            | ("service_principal", O::UpdateServicePrincipal { object_id, .. }) => {
                object_id.to_string() == rest
            }
            ("app_role_assignment", O::RevokeAppRole { assignment_id, .. })
            | ("assignment", O::UnassignPrincipal { assignment_id, .. })
            | ("directory_role_assignment", O::RemoveDirectoryRole { assignment_id }) => {
                assignment_id == rest
            }
            ("delegated_grant", O::UpdateDelegatedGrant { grant_id, .. })
            | ("delegated_grant", O::DeleteDelegatedGrant { grant_id }) => grant_id == rest,
            ("federated_credential", O::UpdateFederatedCredential { app, id, .. })
            | ("federated_credential", O::DeleteFederatedCredential { app, id }) => {
                format!("{}/{id}", app.object_id) == rest
            }
            _ => false,
        };
        hit.then(|| match kind {
            "application" => Address::app(ResourceKind::Application, &address.app),
            _ => address.clone(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edited_and_missing_manifests_are_named() {
        let recorded = ManifestHashes {
            files: [
                ("a.yaml".to_owned(), "aa".to_owned()),
                ("b.yaml".to_owned(), "bb".to_owned()),
                ("c.yaml".to_owned(), "cc".to_owned()),
            ]
            .into(),
            combined: String::new(),
        };
        let now = [
            ("a.yaml".to_owned(), Some("aa".to_owned())),
            ("b.yaml".to_owned(), Some("b2".to_owned())),
            ("c.yaml".to_owned(), None),
        ]
        .into();
        assert_eq!(
            manifest_changes(&recorded, &now),
            vec!["`b.yaml` was edited", "`c.yaml` is gone"]
        );
    }
}
