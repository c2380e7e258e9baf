//! Which operations may run together. Pure: a plan in, a tree of sequential and parallel
//! composition out, over the indices of [`Plan::operations`].
//!
//! Apps are independent of each other, except that an app naming another app of the plan as an
//! API (its appId or service principal is created by the plan) starts once that app's steps are
//! done: apps run in stages, each after the ones it names. Within an app: the application first,
//! then its service principal, then everything that hangs off them (permissions, roles, owners,
//! certificates, federated credentials) at once, each kind in its own lane. Within a lane,
//! additions go before removals (a new role is in place before an old one goes), except
//! federated credentials, whose removals go first so an issuer + subject (or a name) is free
//! before it is reused; the plan already orders changes that way. Certificates and key
//! credentials of one app run strictly one after another: each is a `PATCH` of the app's whole
//! key set. A change's own operations (a rotation's add then remove, a prune's service principal
//! then application) run in order.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::plan::{Action, Plan, ResourceKind};

/// A schedule: steps are indices into `plan.operations()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Step(usize),
    /// One after another; a child starts when the previous one has finished.
    Seq(Vec<Node>),
    /// At the same time.
    Par(Vec<Node>),
}

impl Node {
    /// Every step, in plan order.
    pub fn steps(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out.sort_unstable();
        out
    }

    fn collect(&self, out: &mut Vec<usize>) {
        match self {
            Node::Step(i) => out.push(*i),
            Node::Seq(children) | Node::Par(children) => {
                for c in children {
                    c.collect(out);
                }
            }
        }
    }

    /// Collapses one-child groups, drops empty ones and splices a group into a parent of the
    /// same kind, so the tree says only what matters.
    fn simplified(self) -> Option<Node> {
        let (children, par) = match self {
            Node::Step(_) => return Some(self),
            Node::Seq(children) => (children, false),
            Node::Par(children) => (children, true),
        };
        let mut kids = Vec::new();
        for child in children.into_iter().filter_map(Node::simplified) {
            match child {
                Node::Par(inner) if par => kids.extend(inner),
                Node::Seq(inner) if !par => kids.extend(inner),
                other => kids.push(other),
            }
        }
        match kids.len() {
            0 => None,
            1 => kids.pop(),
            _ if par => Some(Node::Par(kids)),
            _ => Some(Node::Seq(kids)),
        }
    }
}

/// `seq(0, par(1, 2))`: for tests and `-vv` logs.
impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, name: &str, children: &[Node]| {
            write!(f, "{name}(")?;
            for (i, c) in children.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str(")")
        };
        match self {
            Node::Step(i) => write!(f, "{i}"),
            Node::Seq(c) => list(f, "seq", c),
            Node::Par(c) => list(f, "par", c),
        }
    }
}

/// A lane within an app: one kind group, additions and removals as two phases.
#[derive(Default)]
struct Lane {
    /// Phase → changes, each change the list of its operation indices.
    phases: [Vec<Vec<usize>>; 2],
}

#[derive(Default)]
struct AppSteps {
    /// Kind group (0 application … 6 federated credentials) → lane.
    lanes: [Lane; 7],
    /// The apps of the plan it names as APIs.
    after: BTreeSet<String>,
}

/// The schedule of a plan: `Seq` over stages, each `Par` over apps, each app a `Seq` of
/// application, service principal and the concurrent lanes.
pub fn schedule(plan: &Plan) -> Node {
    let mut apps: Vec<(String, AppSteps)> = Vec::new();
    // Each app's place in `apps`: a plan of 10,000 apps has tens of thousands of changes.
    let mut position: HashMap<&str, usize> = HashMap::new();
    let mut index = 0;
    for change in &plan.changes {
        let ops: Vec<usize> = (index..index + change.operations.len()).collect();
        index += change.operations.len();
        let at = *position.entry(&change.address.app).or_insert_with(|| {
            apps.push((change.address.app.clone(), AppSteps::default()));
            apps.len() - 1
        });
        let app = &mut apps[at].1;
        for op in &change.operations {
            app.after
                .extend(op.planned_apis().into_iter().map(str::to_owned));
        }
        let group = usize::from(change.address.kind.group()).min(6);
        app.lanes[group].phases[phase(change.action, change.address.kind)].push(ops);
    }

    let stages = stages(&apps, &position);
    let mut nodes: Vec<Vec<Node>> = vec![Vec::new(); stages.iter().max().map_or(0, |m| m + 1)];
    for ((_, steps), stage) in apps.into_iter().zip(stages) {
        nodes[stage].push(app_node(steps));
    }
    Node::Seq(nodes.into_iter().map(Node::Par).collect())
        .simplified()
        .unwrap_or(Node::Seq(Vec::new()))
}

/// Each app's stage: one past the latest stage of the apps it names. The planner refuses a
/// cycle; should one reach here, its apps share the last stage (and apply reports what it could
/// not resolve) rather than loop.
fn stages(apps: &[(String, AppSteps)], position: &HashMap<&str, usize>) -> Vec<usize> {
    let mut stage = vec![0; apps.len()];
    // A longest path has fewer edges than there are apps; more rounds mean a cycle.
    for _ in 0..apps.len() {
        let mut moved = false;
        for (i, (name, steps)) in apps.iter().enumerate() {
            let want = steps
                .after
                .iter()
                .filter(|dep| *dep != name)
                .filter_map(|dep| position.get(dep.as_str()).copied())
                .map(|d| stage[d] + 1)
                .max()
                .unwrap_or(0)
                .min(apps.len());
            if want > stage[i] {
                stage[i] = want;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    stage
}

fn app_node(steps: AppSteps) -> Node {
    let [application, service_principal, rest @ ..] = steps.lanes;
    let lanes: Vec<Node> = rest
        .into_iter()
        .enumerate()
        .map(|(i, lane)| {
            // Group 5: certificates and key credentials, one PATCH of the key set each.
            if i + 2 == 5 {
                let all: Vec<Node> = lane
                    .phases
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(Node::Step)
                    .collect();
                Node::Seq(all)
            } else {
                lane_node(lane)
            }
        })
        .collect();
    Node::Seq(vec![
        lane_node(application),
        lane_node(service_principal),
        Node::Par(lanes),
    ])
}

fn lane_node(lane: Lane) -> Node {
    Node::Seq(
        lane.phases
            .into_iter()
            .map(|changes| {
                Node::Par(
                    changes
                        .into_iter()
                        .map(|ops| Node::Seq(ops.into_iter().map(Node::Step).collect()))
                        .collect(),
                )
            })
            .collect(),
    )
}

/// 0 for the first phase of a lane, 1 for the second: removals second, except for federated
/// credentials, whose removals come first (the same rule as [`crate::plan::Change::apply_order`]).
fn phase(action: Action, kind: ResourceKind) -> usize {
    let removal = action == Action::Delete;
    let removals_first = kind == ResourceKind::FederatedCredential;
    usize::from(removal != removals_first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppId, KeyId, ObjectId, PermissionId, TenantId};
    use crate::plan::{
        Address, Change, ExistingApp, KeyCredentialMethod, ManifestHashes, Operation, SpRef,
        Summary,
    };
    use uuid::Uuid;

    fn app() -> ExistingApp {
        ExistingApp {
            object_id: ObjectId(Uuid::from_u128(1)),
            app_id: AppId(Uuid::from_u128(2)),
        }
    }

    fn change(kind: ResourceKind, app: &str, key: &str, action: Action, ops: usize) -> Change {
        let op = match kind {
            ResourceKind::Application => Operation::UpdateApplication {
                app: super::tests::app(),
                patch: Default::default(),
            },
            ResourceKind::KeyCredential | ResourceKind::Certificate => {
                Operation::RemoveKeyCredential {
                    app: super::tests::app(),
                    key_id: KeyId(Uuid::from_u128(3)),
                    method: KeyCredentialMethod::PatchKeyCredentials { keep: vec![] },
                    archived: None,
                }
            }
            _ => Operation::GrantAppRole {
                principal: SpRef::Planned(app.to_owned()),
                resource_id: ObjectId(Uuid::from_u128(4)).into(),
                app_role_id: PermissionId(Uuid::from_u128(5)),
            },
        };
        Change {
            address: if key.is_empty() {
                Address::app(kind, app)
            } else {
                Address::keyed(kind, app, key)
            },
            action,
            reason: None,
            before: None,
            after: None,
            after_unknown: Vec::new(),
            operations: vec![op; ops],
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: "1".into(),
            entraform_version: "test".into(),
            tenant_id: TenantId(Uuid::nil()),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            summary: Summary::of(&changes),
            changes,
            certificates: Vec::new(),
            notes: Vec::new(),
            fingerprints: Default::default(),
            manifests: ManifestHashes::default(),
            key_id_seed: None,
            replace: Vec::new(),
        }
    }

    #[test]
    fn a_fresh_app_creates_its_application_then_its_service_principal_then_the_rest_at_once() {
        use ResourceKind as K;
        let p = plan(vec![
            change(K::Application, "a", "", Action::Create, 1),
            change(K::ServicePrincipal, "a", "", Action::Create, 1),
            change(K::AppRoleAssignment, "a", "x", Action::Create, 1),
            change(K::DelegatedGrant, "a", "g", Action::Create, 1),
            change(K::DirectoryRoleAssignment, "a", "r", Action::Create, 1),
            change(K::Owner, "a", "o", Action::Create, 1),
            change(K::Certificate, "a", "c", Action::Create, 1),
            change(K::FederatedCredential, "a", "f", Action::Create, 1),
        ]);
        assert_eq!(schedule(&p).to_string(), "seq(0, 1, par(2, 3, 4, 5, 6, 7))");
    }

    #[test]
    fn apps_run_side_by_side_and_removals_wait_for_additions() {
        use ResourceKind as K;
        let p = plan(vec![
            change(K::AppRoleAssignment, "a", "new", Action::Create, 1),
            change(K::AppRoleAssignment, "a", "new2", Action::Create, 1),
            change(K::AppRoleAssignment, "a", "old", Action::Delete, 1),
            change(K::FederatedCredential, "a", "gone", Action::Delete, 1),
            change(K::FederatedCredential, "a", "new", Action::Create, 1),
            change(K::Application, "b", "", Action::Update, 1),
        ]);
        assert_eq!(
            schedule(&p).to_string(),
            "par(seq(par(0, 1), 2), seq(3, 4), 5)"
        );
    }

    #[test]
    fn certificate_and_key_changes_of_an_app_run_one_at_a_time_in_plan_order() {
        use ResourceKind as K;
        let p = plan(vec![
            change(
                K::Certificate,
                "a",
                "automation",
                Action::CreateThenDelete,
                2,
            ),
            change(K::Certificate, "a", "backup", Action::Create, 1),
            change(K::KeyCredential, "a", "k1", Action::Delete, 1),
            change(K::KeyCredential, "a", "k2", Action::Delete, 1),
        ]);
        assert_eq!(schedule(&p).to_string(), "seq(0, 1, 2, 3, 4)");
        assert_eq!(schedule(&p).steps(), vec![0, 1, 2, 3, 4]);
    }

    /// `app`'s grant on the API `api`, an app of the same plan.
    fn grant_on(app: &str, api: &str) -> Change {
        let mut c = change(ResourceKind::DelegatedGrant, app, api, Action::Create, 1);
        c.operations = vec![Operation::CreateDelegatedGrant {
            client: SpRef::Planned(app.to_owned()),
            resource_id: crate::plan::ResourceRef::Planned {
                planned: api.to_owned(),
            },
            scope: "access_as_user".into(),
        }];
        c
    }

    #[test]
    fn an_app_naming_an_api_the_plan_creates_starts_once_that_app_is_done() {
        use ResourceKind as K;
        let p = plan(vec![
            change(K::Application, "api", "", Action::Create, 1),
            change(K::ServicePrincipal, "api", "", Action::Create, 1),
            change(K::Application, "client", "", Action::Create, 1),
            grant_on("client", "api"),
            change(K::Application, "front", "", Action::Create, 1),
            grant_on("front", "client"),
            change(K::Application, "other", "", Action::Update, 1),
        ]);
        assert_eq!(
            schedule(&p).to_string(),
            "seq(par(seq(0, 1), 6), 2, 3, 4, 5)"
        );
    }

    #[test]
    fn a_cycle_that_reached_the_schedule_still_schedules_every_step_once() {
        let p = plan(vec![
            grant_on("a", "b"),
            grant_on("b", "a"),
            grant_on("c", "c"),
        ]);
        assert_eq!(schedule(&p).steps(), vec![0, 1, 2]);
    }

    #[test]
    fn an_empty_plan_schedules_nothing() {
        assert_eq!(schedule(&plan(vec![])).steps(), Vec::<usize>::new());
    }
}
