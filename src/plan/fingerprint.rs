//! Fingerprints of every live object a plan was made from. Apply re-reads the tenant, computes
//! the same map with [`fingerprints_of`] and refuses the plan when [`compare`] finds drift
//! (Terraform refuses a plan whose state changed; there is no state file here, so the tenant's
//! own objects are the state).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Fingerprint, LiveTenant};

/// Keys of the map, one per live object:
/// `application/<object id>`, `service_principal/<object id>`,
/// `federated_credential/<application object id>/<id>`, `app_role_assignment/<id>`,
/// `delegated_grant/<id>`, `directory_role_assignment/<id>`.
pub fn fingerprints_of(live: &LiveTenant) -> BTreeMap<String, Fingerprint> {
    let mut out = BTreeMap::new();
    for app in &live.apps {
        out.insert(
            format!("application/{}", app.object_id),
            app.fingerprint.clone(),
        );
        for fc in &app.federated_credentials {
            out.insert(
                format!("federated_credential/{}/{}", app.object_id, fc.id),
                fc.fingerprint.clone(),
            );
        }
        if let Some(sp) = &app.service_principal {
            out.insert(
                format!("service_principal/{}", sp.object_id),
                sp.fingerprint.clone(),
            );
            for a in &sp.app_role_assignments {
                out.insert(
                    format!("app_role_assignment/{}", a.id),
                    a.fingerprint.clone(),
                );
            }
            for g in &sp.delegated_grants {
                out.insert(format!("delegated_grant/{}", g.id), g.fingerprint.clone());
            }
            for r in &sp.directory_role_assignments {
                out.insert(
                    format!("directory_role_assignment/{}", r.id),
                    r.fingerprint.clone(),
                );
            }
            for a in sp.assigned_to.iter().flatten() {
                out.insert(format!("assignment/{}", a.id), a.fingerprint.clone());
            }
        }
    }
    out
}

/// How one object moved between plan and apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "drift", rename_all = "snake_case")]
pub enum Drift {
    Changed { object: String },
    Gone { object: String },
    Appeared { object: String },
}

impl Drift {
    pub fn object(&self) -> &str {
        match self {
            Drift::Changed { object } | Drift::Gone { object } | Drift::Appeared { object } => {
                object
            }
        }
    }
}

/// Everything that differs between the fingerprints a plan recorded and a fresh read of the
/// same scope, sorted by object key. Empty: the plan is current.
pub fn compare(
    planned: &BTreeMap<String, Fingerprint>,
    fresh: &BTreeMap<String, Fingerprint>,
) -> Vec<Drift> {
    let mut out = Vec::new();
    for (key, fp) in planned {
        match fresh.get(key) {
            None => out.push(Drift::Gone {
                object: key.clone(),
            }),
            Some(now) if now != fp => out.push(Drift::Changed {
                object: key.clone(),
            }),
            Some(_) => {}
        }
    }
    for key in fresh.keys() {
        if !planned.contains_key(key) {
            out.push(Drift::Appeared {
                object: key.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.object().cmp(b.object()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, Fingerprint> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Fingerprint((*v).to_owned())))
            .collect()
    }

    #[test]
    fn changed_gone_and_appeared_objects_are_all_reported() {
        let planned = map(&[("application/1", "a"), ("delegated_grant/2", "b")]);
        let fresh = map(&[("application/1", "a2"), ("app_role_assignment/3", "c")]);
        assert_eq!(
            compare(&planned, &fresh),
            vec![
                Drift::Appeared {
                    object: "app_role_assignment/3".into()
                },
                Drift::Changed {
                    object: "application/1".into()
                },
                Drift::Gone {
                    object: "delegated_grant/2".into()
                },
            ]
        );
        assert!(compare(&planned, &planned).is_empty());
    }
}
