//! Reads the tenant into the live model, as cheaply as Graph allows, with a fingerprint on every
//! object so a saved plan can tell when something moved.
//!
//! Reads go in rounds; each round is one [`GraphClient::batch_list_all`] over every list it
//! needs (20 per `$batch`, pages followed), so the request count grows with ⌈N/15⌉ `in (…)`
//! filters per batch of 20 rather than with N:
//!
//! The tenant id comes from the access token, not from Graph.
//!
//! 1. applications by `uniqueName in (…)` and adopted `appId in (…)`, federated credentials
//!    expanded (and, only for a certificate whose `customKeyIdentifier` is not its thumbprint,
//!    that app's certificates read once); every app carrying the managed tag (in full with
//!    `--prune`; else named only, for the plan's note about those no manifest mentions, 999 a
//!    page); the catalog names resolve against (resource service principals by
//!    display name or appId, role definitions, users by UPN or id).
//! 2. service principals by `appId in (…)` with `appRoleAssignments` expanded; owners by
//!    `id in (…)` with `owners` expanded (only for apps whose manifest manages owners); for
//!    names no live app holds, applications in deleted items by `uniqueName in (…)` (a managed
//!    one is restored, anyone else's holds the name for 30 days).
//! 3. what an expansion may have cut short (Graph expands at most 20 objects, without a next
//!    link), directory role assignments by `principalId in (…)` and delegated grants by
//!    `clientId eq` (only for apps whose manifest manages them), and resource service
//!    principals that live grants mention but no manifest does (so removals show names); the
//!    owners of deleted apps and their deleted service principals.
//!
//! A read that fails is an error, never "absent".

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::graph::api::{
    applications, deleted_items, directory_roles, filter, groups, organization, permission_grants,
    service_principals, users,
};
use crate::graph::types::{
    AppRoleAssignment, Application, DirectoryObject, FederatedIdentityCredential, Group,
    KeyCredential, OAuth2PermissionGrant, Organization, PasswordCredential, ServicePrincipal,
    UnifiedRoleAssignment, UnifiedRoleDefinition, User,
};
use crate::graph::{self, GraphClient, GraphError, Request};
use crate::model::{
    ApiRef, AppId, AppRole, Catalog, DeletedApp, DesiredApp, FieldValues, Fingerprint, LiveApp,
    LiveAppRoleAssignment, LiveAssignment, LiveDelegatedGrant, LiveDirectoryRoleAssignment,
    LiveFederatedCredential, LiveGroup, LiveKeyCredential, LiveOwner, LivePasswordCredential,
    LiveServicePrincipal, LiveTenant, LiveUser, MANAGED_BY_TAG, ManagedApp, ObjectId, On, OwnerRef,
    PermissionKind, PermissionScope, PrincipalRef, RequiredResourceAccess, ResourceAccess,
    ResourceServicePrincipal, RoleDefinition, RoleDefinitionId, Thumbprint,
};
use crate::read_progress::{self, ReadProgress, Stage};

/// Graph expands at most this many objects per parent, with no next link: a full expansion may
/// have been cut short and is read again directly.
const EXPAND_CAP: usize = 20;

/// What to read: which applications, which of their parts, and which names to resolve.
/// `plan` derives it from manifests ([`ObserveRequest::for_manifests`]); `certs` and `export`
/// ask for what they need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObserveRequest {
    pub apps: Vec<AppQuery>,
    /// Also every application carrying [`MANAGED_BY_TAG`] (for `--prune`).
    pub all_managed: bool,
    /// Every application carrying [`MANAGED_BY_TAG`], named only ([`LiveTenant::managed`]): a
    /// plan without `--prune` notes those no manifest mentions. One list, paged.
    pub managed_names: bool,
    /// Resource service principals to read, with their app roles and scopes.
    pub apis: BTreeSet<ApiRef>,
    /// Read the directory's role definitions.
    pub role_definitions: bool,
    /// Users to resolve.
    pub users: BTreeSet<OwnerRef>,
    /// Groups to resolve by display name (`assignments`).
    pub groups: BTreeSet<String>,
    /// Users or groups to resolve by object id (`assignments`).
    pub principal_ids: BTreeSet<ObjectId>,
}

/// One application to find, and the parts of it to read besides the application itself, its
/// service principal, app role assignments and federated credentials (always read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppQuery {
    pub key: AppKey,
    pub parts: Parts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppKey {
    UniqueName(String),
    AppId(AppId),
}

/// Optional parts of an application, read only when asked for (each costs requests and a
/// permission).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parts {
    pub owners: bool,
    pub directory_roles: bool,
    pub delegated_grants: bool,
    /// Who is assigned to the app's roles (`appRoleAssignedTo` of its service principal).
    pub assignments: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        owners: true,
        directory_roles: true,
        delegated_grants: true,
        assignments: true,
    };

    fn union(self, other: Parts) -> Parts {
        Parts {
            owners: self.owners || other.owners,
            directory_roles: self.directory_roles || other.directory_roles,
            delegated_grants: self.delegated_grants || other.delegated_grants,
            assignments: self.assignments || other.assignments,
        }
    }
}

impl ObserveRequest {
    /// Everything a plan of `desired` compares: each app by `uniqueName` (and by its adopted
    /// appId), the parts its manifest manages, and the names it uses.
    pub fn for_manifests(desired: &[DesiredApp], prune: bool) -> Self {
        let mut request = ObserveRequest {
            all_managed: prune,
            managed_names: !prune,
            ..ObserveRequest::default()
        };
        for d in desired {
            let parts = Parts {
                owners: d.owners.is_some(),
                directory_roles: d.directory_roles.is_some(),
                delegated_grants: d.api_permissions.is_some() && d.admin_consent,
                assignments: d.assignments.is_some(),
            };
            request.apps.push(AppQuery {
                key: AppKey::UniqueName(d.name.clone()),
                parts,
            });
            if let Some(app_id) = d.adopt_app_id {
                request.apps.push(AppQuery {
                    key: AppKey::AppId(app_id),
                    parts,
                });
            }
            request
                .apis
                .extend(d.api_permissions.iter().flatten().map(|p| p.api.clone()));
            request.role_definitions |= d.directory_roles.is_some();
            request.users.extend(d.owners.iter().flatten().cloned());
            for a in d.assignments.iter().flatten() {
                match &a.principal {
                    PrincipalRef::Upn(upn) => {
                        request.users.insert(OwnerRef::Upn(upn.clone()));
                    }
                    PrincipalRef::GroupName(name) => {
                        request.groups.insert(name.clone());
                    }
                    PrincipalRef::ObjectId(id) => {
                        request.principal_ids.insert(*id);
                    }
                }
            }
        }
        request
    }

    /// Only the applications themselves (key credentials included): no optional parts and no
    /// names to resolve, so `Application.Read.All` is enough.
    pub fn applications_only(desired: &[DesiredApp]) -> Self {
        let mut request = Self::for_manifests(desired, false);
        for app in &mut request.apps {
            app.parts = Parts::default();
        }
        ObserveRequest {
            apps: request.apps,
            ..ObserveRequest::default()
        }
    }

    /// The parts asked, by either key of an application.
    fn parts_index(&self) -> PartsIndex<'_> {
        let mut index = PartsIndex::default();
        for q in &self.apps {
            let parts = match &q.key {
                AppKey::UniqueName(name) => index.by_unique_name.entry(name).or_default(),
                AppKey::AppId(id) => index.by_app_id.entry(*id).or_default(),
            };
            *parts = parts.union(q.parts);
        }
        index
    }
}

/// [`ObserveRequest`]'s parts by key: looked up once per application read, so a tenant of
/// 10,000 apps is not compared with 10,000 queries each time.
#[derive(Default)]
struct PartsIndex<'r> {
    by_unique_name: HashMap<&'r str, Parts>,
    by_app_id: HashMap<AppId, Parts>,
}

impl PartsIndex<'_> {
    /// The parts asked for an application found by either of its keys.
    fn of(&self, app: &Application) -> Parts {
        let by_name = app
            .unique_name
            .as_deref()
            .and_then(|name| self.by_unique_name.get(name).copied());
        let by_id = self.by_app_id.get(&app.app_id).copied();
        by_name.unwrap_or_default().union(by_id.unwrap_or_default())
    }
}

/// Reads what `request` asks for.
pub async fn observe(
    client: &GraphClient,
    request: &ObserveRequest,
) -> Result<LiveTenant, GraphError> {
    // The tenant and the signed-in app are the token's; Graph is not asked (the tenant would
    // need `Organization.Read.All`).
    let tenant_id = client.tenant_id().await?;
    let signed_in = client.signed_in_app().await?;

    // Round 1: the apps and the catalog.
    let mut round = Round::default();
    let mut names = Vec::new();
    let mut app_ids = Vec::new();
    for query in &request.apps {
        match &query.key {
            AppKey::UniqueName(name) => names.push(name.clone()),
            AppKey::AppId(id) => app_ids.push(id.to_string()),
        }
    }
    // Progress counts the apps asked for: names first, then adopted appIds.
    round.reads(Stage::Applications, names.len() + app_ids.len());
    let mut app_lists: Vec<usize> = filter::unique_name_chunks(&names)
        .into_iter()
        .chain(
            filter::app_id_chunks(&app_ids)
                .into_iter()
                .map(|(f, at)| (f, at.into_iter().map(|i| i + names.len()).collect())),
        )
        .map(|(f, at)| round.list_for(applications::with_federated_credentials_where(&f), at))
        .collect();
    if request.all_managed {
        app_lists.push(round.list(applications::with_federated_credentials_where(
            &filter::tagged(MANAGED_BY_TAG),
        )));
    }
    // Only what the note about unmentioned apps shows: no `$expand`, so pages hold 999.
    let managed_list = (request.managed_names && !request.all_managed)
        .then(|| round.list(applications::names_where(&filter::tagged(MANAGED_BY_TAG))));
    let resource_lists = resource_queries(&request.apis)
        .into_iter()
        .map(|q| round.list(q))
        .collect::<Vec<_>>();
    let role_list = request
        .role_definitions
        .then(|| round.list(directory_roles::definitions()));
    let user_lists = user_queries(&request.users)
        .into_iter()
        .map(|q| round.list(q))
        .collect::<Vec<_>>();
    let principal_lists: Vec<(PrincipalKind, usize)> =
        principal_queries(&request.groups, &request.principal_ids)
            .into_iter()
            .map(|(kind, q)| (kind, round.list(q)))
            .collect();
    let mut results = round.run(client).await?;

    let mut applications: Vec<Application> = Vec::new();
    let mut fields: HashMap<ObjectId, FieldValues> = HashMap::new();
    let mut seen_apps = HashSet::new();
    for list in app_lists {
        for (app, values) in results
            .items_with_fields::<Application>(list, |v| FieldValues::read(On::Application, v))?
        {
            if seen_apps.insert(app.id) {
                fields.insert(app.id, values);
                applications.push(app);
            }
        }
    }
    // A certificate whose `customKeyIdentifier` is not its thumbprint (a tool put something
    // else there) is told apart by its bytes, which only a read of the one object returns.
    let unknown: Vec<ObjectId> = applications
        .iter()
        .filter(|a| {
            a.key_credentials.iter().any(|k| {
                k.kind.as_deref() == Some("AsymmetricX509Cert") && key_thumbprint(k).is_none()
            })
        })
        .map(|a| a.id)
        .collect();
    if !unknown.is_empty() {
        let mut read = key_certificates(client, &unknown).await?;
        for app in &mut applications {
            if let Some(keys) = read.remove(&app.id) {
                app.key_credentials = keys;
            }
        }
    }
    let managed = match managed_list {
        Some(list) => results
            .items::<Application>(list)?
            .into_iter()
            .map(|a| ManagedApp {
                object_id: a.id,
                app_id: a.app_id,
                unique_name: a.unique_name,
                display_name: a.display_name.unwrap_or_default(),
                tags: a.tags,
            })
            .collect(),
        None => Vec::new(),
    };
    let mut catalog = Catalog::default();
    let mut seen_resources = HashSet::new();
    for list in resource_lists {
        for sp in results.items::<ServicePrincipal>(list)? {
            if seen_resources.insert(sp.id) {
                catalog.resources.push(resource(sp));
            }
        }
    }
    if let Some(list) = role_list {
        catalog.role_definitions = results
            .items::<UnifiedRoleDefinition>(list)?
            .into_iter()
            .map(role_definition)
            .collect();
    }
    let mut seen_users = HashSet::new();
    for list in user_lists {
        for user in results.items::<User>(list)? {
            add_user(&mut catalog, &mut seen_users, user);
        }
    }
    let mut seen_groups = HashSet::new();
    for (kind, list) in principal_lists {
        match kind {
            PrincipalKind::User => {
                for user in results.items::<User>(list)? {
                    add_user(&mut catalog, &mut seen_users, user);
                }
            }
            PrincipalKind::Group => {
                for group in results.items::<Group>(list)? {
                    add_group(&mut catalog, &mut seen_groups, group);
                }
            }
        }
    }

    // Owners, roles and grants are read only for the apps that asked for them.
    let parts = request.parts_index();
    let owners_wanted: Vec<ObjectId> = applications
        .iter()
        .filter(|a| parts.of(a).owners)
        .map(|a| a.id)
        .collect();

    // Names no live application holds may be held by a deleted one (restorable for 30 days).
    let live_names: HashSet<String> = applications
        .iter()
        .filter_map(|a| a.unique_name.as_deref().map(str::to_ascii_lowercase))
        .collect();
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !live_names.contains(&n.to_ascii_lowercase()))
        .cloned()
        .collect();

    // Round 2: service principals with their app role assignments; owners; deleted apps.
    let mut round = Round::default();
    let deleted_lists: Vec<usize> = filter::unique_name_in(&missing)
        .into_iter()
        .map(|f| round.list(deleted_items::applications_with_federated_credentials_where(&f)))
        .collect();
    let app_ids: Vec<String> = applications.iter().map(|a| a.app_id.to_string()).collect();
    round.reads(Stage::ServicePrincipals, applications.len());
    let sp_lists: Vec<usize> = filter::app_id_chunks(&app_ids)
        .into_iter()
        .map(|(f, at)| round.list_for(service_principals::with_app_role_assignments_where(&f), at))
        .collect();
    let owner_ids: Vec<String> = owners_wanted.iter().map(ToString::to_string).collect();
    let owner_lists: Vec<usize> = filter::id_in(&owner_ids)
        .into_iter()
        .map(|f| round.list(applications::owners_where(&f)))
        .collect();
    let mut results = round.run(client).await?;

    // Each service principal's fields are read against its application's tags.
    let tags_by_app_id: HashMap<AppId, &[String]> = applications
        .iter()
        .map(|a| (a.app_id, a.tags.as_slice()))
        .collect();
    let mut sps: HashMap<AppId, ServicePrincipal> = HashMap::new();
    for list in sp_lists {
        let read = |sp: &Value| {
            let app_tags = sp["appId"]
                .as_str()
                .and_then(|id| id.parse::<AppId>().ok())
                .and_then(|id| tags_by_app_id.get(&id).copied())
                .unwrap_or(&[]);
            FieldValues::read_service_principal(sp, app_tags)
        };
        for (sp, values) in results.items_with_fields::<ServicePrincipal>(list, read)? {
            fields.insert(sp.id, values);
            sps.insert(sp.app_id, sp);
        }
    }
    let mut owners: HashMap<ObjectId, Vec<DirectoryObject>> = HashMap::new();
    for list in owner_lists {
        for app in results.items::<AppOwners>(list)? {
            owners.insert(app.id, app.owners);
        }
    }
    let mut deleted: Vec<Application> = Vec::new();
    for list in deleted_lists {
        for (app, values) in results
            .items_with_fields::<Application>(list, |v| FieldValues::read(On::Application, v))?
        {
            fields.insert(app.id, values);
            deleted.push(app);
        }
    }

    // Round 3: cut-short expansions, role assignments, delegated grants; what deleted apps
    // still have (owners, their deleted service principals).
    let mut round = Round::default();
    round.reads(Stage::RolesAndGrants, applications.len());
    let deleted_owner_ids: Vec<String> = deleted
        .iter()
        .filter(|a| parts.of(a).owners)
        .map(|a| a.id.to_string())
        .collect();
    let deleted_owner_lists: Vec<usize> = filter::id_in(&deleted_owner_ids)
        .into_iter()
        .map(|f| round.list(deleted_items::application_owners_where(&f)))
        .collect();
    let deleted_app_ids: Vec<String> = deleted.iter().map(|a| a.app_id.to_string()).collect();
    let deleted_sp_lists: Vec<usize> = filter::app_id_in(&deleted_app_ids)
        .into_iter()
        .map(|f| round.list(deleted_items::service_principals_where(&f)))
        .collect();
    let position: HashMap<AppId, usize> = applications
        .iter()
        .enumerate()
        .map(|(at, a)| (a.app_id, at))
        .collect();
    let mut assignment_refills: Vec<(AppId, usize)> = Vec::new();
    for sp in sps.values() {
        if sp.app_role_assignments.as_ref().map_or(0, Vec::len) >= EXPAND_CAP {
            let at = position.get(&sp.app_id).copied().into_iter().collect();
            let list = round.list_for(service_principals::app_role_assignments(sp.id), at);
            assignment_refills.push((sp.app_id, list));
        }
    }
    let mut owner_refills: Vec<(ObjectId, usize)> = Vec::new();
    for (app, list) in &owners {
        if list.len() >= EXPAND_CAP {
            owner_refills.push((*app, round.list(applications::owners(*app))));
        }
    }
    let sp_of = |app: &Application| sps.get(&app.app_id).map(|sp| sp.id);
    // (position of the app, its service principal), for the apps whose roles are read.
    let role_principals: Vec<(usize, String)> = applications
        .iter()
        .enumerate()
        .filter(|(_, a)| parts.of(a).directory_roles)
        .filter_map(|(at, a)| sp_of(a).map(|id| (at, id.to_string())))
        .collect();
    let principal_ids: Vec<&str> = role_principals.iter().map(|(_, id)| id.as_str()).collect();
    let role_lists: Vec<usize> = filter::principal_id_chunks(&principal_ids)
        .into_iter()
        .map(|(f, at)| {
            let apps = at.into_iter().map(|i| role_principals[i].0).collect();
            round.list_for(directory_roles::assignments_where(&f), apps)
        })
        .collect();
    let grant_lists: Vec<(ObjectId, usize)> = applications
        .iter()
        .enumerate()
        .filter(|(_, a)| parts.of(a).delegated_grants)
        .filter_map(|(at, a)| sp_of(a).map(|sp| (at, sp)))
        .map(|(at, sp)| {
            (
                sp,
                round.list_for(permission_grants::of_client_compared(sp), vec![at]),
            )
        })
        .collect();
    // One list per app whose manifest manages `assignments` (Graph expands one relationship
    // per request, and `appRoleAssignments` is already expanded).
    let assigned_lists: Vec<(ObjectId, usize)> = applications
        .iter()
        .filter(|a| parts.of(a).assignments)
        .filter_map(sp_of)
        .map(|sp| {
            (
                sp,
                round.list(service_principals::app_roles_assigned_to(sp)),
            )
        })
        .collect();
    let mut results = round.run(client).await?;

    for (app_id, list) in assignment_refills {
        let full = results.items(list)?;
        if let Some(sp) = sps.get_mut(&app_id) {
            sp.app_role_assignments = Some(full);
        }
    }
    for (app, list) in owner_refills {
        owners.insert(app, results.items(list)?);
    }
    let mut role_assignments: HashMap<ObjectId, Vec<UnifiedRoleAssignment>> = HashMap::new();
    for list in role_lists {
        for assignment in results.items::<UnifiedRoleAssignment>(list)? {
            role_assignments
                .entry(assignment.principal_id)
                .or_default()
                .push(assignment);
        }
    }
    let mut grants: HashMap<ObjectId, Vec<OAuth2PermissionGrant>> = HashMap::new();
    for (sp, list) in grant_lists {
        grants.insert(sp, results.items(list)?);
    }
    let mut assigned: HashMap<ObjectId, Vec<AppRoleAssignment>> = HashMap::new();
    for (sp, list) in assigned_lists {
        assigned.insert(sp, results.items(list)?);
    }
    for list in deleted_owner_lists {
        for app in results.items::<AppOwners>(list)? {
            owners.insert(app.id, app.owners);
        }
    }
    let mut deleted_sps: HashMap<AppId, ObjectId> = HashMap::new();
    for list in deleted_sp_lists {
        for sp in results.items::<ServicePrincipal>(list)? {
            deleted_sps.insert(sp.app_id, sp.id);
        }
    }
    let deleted_apps: Vec<DeletedApp> = deleted
        .into_iter()
        .map(|app| {
            let deleted_at = app.deleted_date_time;
            let service_principal = deleted_sps.get(&app.app_id).copied();
            let owners = owners.remove(&app.id);
            let values = fields.remove(&app.id).unwrap_or_default();
            DeletedApp {
                app: live_app(app, values, owners, None),
                deleted_at,
                service_principal,
            }
        })
        .collect();

    let mut apps: Vec<LiveApp> = applications
        .into_iter()
        .map(|app| {
            let sp = sps.remove(&app.app_id).map(|sp| {
                let role_assignments = role_assignments.remove(&sp.id).unwrap_or_default();
                let grants = grants.remove(&sp.id).unwrap_or_default();
                let assigned = assigned.remove(&sp.id);
                let values = fields.remove(&sp.id).unwrap_or_default();
                service_principal(sp, values, role_assignments, grants, assigned)
            });
            let owners = owners.remove(&app.id);
            let values = fields.remove(&app.id).unwrap_or_default();
            live_app(app, values, owners, sp)
        })
        .collect();
    apps.sort_by(|a, b| {
        (a.unique_name.as_deref(), a.object_id).cmp(&(b.unique_name.as_deref(), b.object_id))
    });

    // Round 4 (usually empty): resources that live permissions mention but no manifest does;
    // users and groups live assignments hold that no manifest names (for their UPNs and names).
    let missing = missing_resources(&apps, &catalog);
    let (unnamed_users, unnamed_groups) = unnamed_principals(&apps, &catalog);
    if !missing.0.is_empty()
        || !missing.1.is_empty()
        || !unnamed_users.is_empty()
        || !unnamed_groups.is_empty()
    {
        let mut round = Round::default();
        let lists: Vec<usize> = filter::id_in(&missing.0)
            .into_iter()
            .chain(filter::app_id_in(&missing.1))
            .map(|f| round.list(service_principals::resources_where(&f)))
            .collect();
        let user_lists: Vec<usize> = filter::id_in(&unnamed_users)
            .into_iter()
            .map(|f| round.list(users::identities_where(&f)))
            .collect();
        let group_lists: Vec<usize> = filter::id_in(&unnamed_groups)
            .into_iter()
            .map(|f| round.list(groups::identities_where(&f)))
            .collect();
        let mut results = round.run(client).await?;
        for list in lists {
            for sp in results.items::<ServicePrincipal>(list)? {
                if seen_resources.insert(sp.id) {
                    catalog.resources.push(resource(sp));
                }
            }
        }
        for list in user_lists {
            for user in results.items::<User>(list)? {
                add_user(&mut catalog, &mut seen_users, user);
            }
        }
        for list in group_lists {
            for group in results.items::<Group>(list)? {
                add_group(&mut catalog, &mut seen_groups, group);
            }
        }
    }

    Ok(LiveTenant {
        tenant_id,
        signed_in,
        apps,
        catalog,
        deleted_apps,
        managed,
    })
}

/// The tenant's initial `*.onmicrosoft.com` domain (else its default one), for
/// `Connect-ExchangeOnline -Organization`. `GET /organization` needs `Organization.Read.All` (or
/// `Directory.Read.All`), so only what prints that domain reads it.
pub async fn tenant_domain(client: &GraphClient) -> Result<String, GraphError> {
    let read = organization::domains();
    let path = read.path_and_query();
    let mut orgs: Vec<Organization> = client.list(&read).await?;
    if orgs.len() != 1 {
        return Err(decode_error(
            &path,
            "value",
            format!(
                "expected exactly one organization, Graph returned {}",
                orgs.len()
            ),
        ));
    }
    let org = orgs.remove(0);
    org.verified_domains
        .iter()
        .find(|d| d.is_initial)
        .or_else(|| org.verified_domains.iter().find(|d| d.is_default))
        .map(|d| d.name.clone())
        .ok_or_else(|| {
            decode_error(
                &path,
                "value[0].verifiedDomains",
                "no verified domain".into(),
            )
        })
}

/// Each application's key credentials with their certificates (`key`). Graph returns `key`
/// only to a read of one object with `$select=keyCredentials` ("otherwise, it's always null",
/// keyCredential reference), so each application is one such read, 20 per `$batch`.
pub async fn key_certificates(
    client: &GraphClient,
    apps: &[ObjectId],
) -> Result<HashMap<ObjectId, Vec<KeyCredential>>, GraphError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Keys {
        #[serde(default)]
        key_credentials: Vec<KeyCredential>,
    }
    if apps.is_empty() {
        return Ok(HashMap::new());
    }
    let requests = apps
        .iter()
        .map(|id| applications::with_key_certificates(*id))
        .collect();
    let outcomes = client.batch(requests).await?;
    apps.iter()
        .zip(outcomes)
        .map(|(id, outcome)| Ok((*id, outcome?.json::<Keys>()?.key_credentials)))
        .collect()
}

/// An application read with `$select=id&$expand=owners`.
#[derive(serde::Deserialize)]
struct AppOwners {
    id: ObjectId,
    #[serde(default)]
    owners: Vec<DirectoryObject>,
}

fn resource_queries(apis: &BTreeSet<ApiRef>) -> Vec<Request> {
    let mut names = Vec::new();
    let mut app_ids = Vec::new();
    for api in apis {
        match api {
            ApiRef::DisplayName(name) => names.push(name),
            ApiRef::AppId(id) => app_ids.push(id.to_string()),
        }
    }
    names
        .iter()
        .map(|n| filter::display_name_is(n))
        .chain(filter::app_id_in(&app_ids))
        .map(|f| service_principals::resources_where(&f))
        .collect()
}

fn user_queries(users: &BTreeSet<OwnerRef>) -> Vec<Request> {
    let mut upns = Vec::new();
    let mut ids = Vec::new();
    for owner in users {
        match owner {
            OwnerRef::Upn(upn) => upns.push(upn.clone()),
            OwnerRef::ObjectId(id) => ids.push(id.to_string()),
        }
    }
    filter::user_principal_name_in(&upns)
        .into_iter()
        .chain(filter::id_in(&ids))
        .map(|f| users::identities_where(&f))
        .collect()
}

fn add_user(catalog: &mut Catalog, seen: &mut HashSet<ObjectId>, user: User) {
    if let Some(upn) = user.user_principal_name
        && seen.insert(user.id)
    {
        catalog.users.push(LiveUser {
            id: user.id,
            user_principal_name: upn,
        });
    }
}

fn add_group(catalog: &mut Catalog, seen: &mut HashSet<ObjectId>, group: Group) {
    if seen.insert(group.id) {
        catalog.groups.push(LiveGroup {
            id: group.id,
            display_name: group.display_name.unwrap_or_default(),
        });
    }
}

#[derive(Debug, Clone, Copy)]
enum PrincipalKind {
    User,
    Group,
}

/// Groups by display name (`in (…)`), and ids both as users and as groups: an id may be either.
fn principal_queries(
    named: &BTreeSet<String>,
    ids: &BTreeSet<ObjectId>,
) -> Vec<(PrincipalKind, Request)> {
    let names: Vec<&String> = named.iter().collect();
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let id_filters = filter::id_in(&ids);
    filter::display_name_in(&names)
        .into_iter()
        .map(|f| (PrincipalKind::Group, groups::identities_where(&f)))
        .chain(
            id_filters
                .iter()
                .map(|f| (PrincipalKind::User, users::identities_where(f))),
        )
        .chain(
            id_filters
                .iter()
                .map(|f| (PrincipalKind::Group, groups::identities_where(f))),
        )
        .collect()
}

/// Users and groups live assignments hold whose names the catalog lacks: (user ids, group ids).
fn unnamed_principals(apps: &[LiveApp], catalog: &Catalog) -> (Vec<String>, Vec<String>) {
    let known: HashSet<ObjectId> = catalog
        .users
        .iter()
        .map(|u| u.id)
        .chain(catalog.groups.iter().map(|g| g.id))
        .collect();
    let mut users = BTreeSet::new();
    let mut groups = BTreeSet::new();
    let held = apps
        .iter()
        .filter_map(|a| a.service_principal.as_ref()?.assigned_to.as_ref())
        .flatten()
        .filter(|a| !known.contains(&a.principal_id));
    for a in held {
        if a.principal_type.eq_ignore_ascii_case("User") {
            users.insert(a.principal_id.to_string());
        } else if a.principal_type.eq_ignore_ascii_case("Group") {
            groups.insert(a.principal_id.to_string());
        }
    }
    (users.into_iter().collect(), groups.into_iter().collect())
}

/// Resource service principals referenced by live assignments, grants or required resource
/// access but absent from the catalog: (object ids, app ids).
fn missing_resources(apps: &[LiveApp], catalog: &Catalog) -> (Vec<String>, Vec<String>) {
    let known_ids: HashSet<ObjectId> = catalog.resources.iter().map(|r| r.object_id).collect();
    let known_app_ids: HashSet<AppId> = catalog.resources.iter().map(|r| r.app_id).collect();
    let mut ids = BTreeSet::new();
    let mut app_ids = BTreeSet::new();
    for app in apps {
        for rra in &app.required_resource_access {
            if !known_app_ids.contains(&rra.resource_app_id) {
                app_ids.insert(rra.resource_app_id.to_string());
            }
        }
        if let Some(sp) = &app.service_principal {
            let resources = sp
                .app_role_assignments
                .iter()
                .map(|a| a.resource_id)
                .chain(sp.delegated_grants.iter().map(|g| g.resource_id));
            for id in resources {
                if !known_ids.contains(&id) {
                    ids.insert(id.to_string());
                }
            }
        }
    }
    (ids.into_iter().collect(), app_ids.into_iter().collect())
}

/// The lists one round reads, sent together.
#[derive(Default)]
struct Round {
    lists: Vec<Request>,
    /// What the round's progress counts: the stage, and how many apps it reads.
    stage: Option<(Stage, usize)>,
    /// For each list, the apps (positions below the stage's count) it reads for; an app is
    /// read when every list that reads for it is back.
    covers: Vec<Vec<usize>>,
}

impl Round {
    fn list(&mut self, request: Request) -> usize {
        self.list_for(request, Vec::new())
    }

    /// A list that reads for the apps at `apps` (positions in the round's stage).
    fn list_for(&mut self, request: Request, apps: Vec<usize>) -> usize {
        self.lists.push(request);
        self.covers.push(apps);
        self.lists.len() - 1
    }

    /// The round is `stage` of reading `apps` apps, for the progress line.
    fn reads(&mut self, stage: Stage, apps: usize) {
        self.stage = Some((stage, apps));
    }

    async fn run(self, client: &GraphClient) -> Result<RoundResults, GraphError> {
        if self.lists.is_empty() {
            return Ok(RoundResults {
                reads: Vec::new(),
                lists: Vec::new(),
            });
        }
        let (start, before) = (std::time::Instant::now(), client.stats());
        let progress = self
            .stage
            .filter(|(_, apps)| *apps > 0 && read_progress::listening())
            .map(|(stage, apps)| AppsRead::new(stage, apps, &self.covers));
        let finished = |list: usize| {
            if let Some(p) = &progress {
                p.list_finished(list, &self.covers);
            }
        };
        // Items stay JSON text until decoded into what each list holds.
        let lists = client
            .batch_list_reporting::<Box<RawValue>>(&self.lists, &finished)
            .await?;
        let lists = lists.into_iter().collect::<Result<Vec<_>, _>>()?;
        let after = client.stats();
        tracing::debug!(
            lists = self.lists.len(),
            http_requests = after.http_requests - before.http_requests,
            graph_operations = after.operations - before.operations,
            elapsed_ms = start.elapsed().as_millis() as u64,
            "read a round of lists"
        );
        Ok(RoundResults {
            reads: self.lists,
            lists,
        })
    }
}

struct RoundResults {
    reads: Vec<Request>,
    lists: Vec<Vec<Box<RawValue>>>,
}

/// Which apps of a round's stage have been read: each app waits for the lists that read for it.
struct AppsRead {
    stage: Stage,
    total: usize,
    state: std::sync::Mutex<(Vec<u32>, usize)>,
}

impl AppsRead {
    /// Counts what each app waits for; an app no list reads for counts as read. Tells the
    /// progress line where the round starts.
    fn new(stage: Stage, total: usize, covers: &[Vec<usize>]) -> Self {
        let mut waiting = vec![0u32; total];
        for &app in covers.iter().flatten() {
            if let Some(w) = waiting.get_mut(app) {
                *w += 1;
            }
        }
        let done = waiting.iter().filter(|&&w| w == 0).count();
        read_progress::emit(ReadProgress {
            stage,
            done,
            total: Some(total),
        });
        AppsRead {
            stage,
            total,
            state: std::sync::Mutex::new((waiting, done)),
        }
    }

    fn list_finished(&self, list: usize, covers: &[Vec<usize>]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (waiting, done) = &mut *state;
        for &app in &covers[list] {
            if let Some(w) = waiting.get_mut(app)
                && *w > 0
            {
                *w -= 1;
                if *w == 0 {
                    *done += 1;
                }
            }
        }
        read_progress::emit(ReadProgress {
            stage: self.stage,
            done: *done,
            total: Some(self.total),
        });
    }
}

impl RoundResults {
    /// Takes list `index` out, decoded: every list of a round is read exactly once, so its JSON
    /// is moved into the decoder rather than copied.
    fn items<T: DeserializeOwned>(&mut self, index: usize) -> Result<Vec<T>, GraphError> {
        let path = self.reads[index].path_and_query();
        std::mem::take(&mut self.lists[index])
            .into_iter()
            .map(|raw| graph::decode_json(raw.get().as_bytes(), "GET", &path))
            .collect()
    }

    /// [`Self::items`], each with the values of its plain fields ([`crate::model::fields`])
    /// that `read` takes from its JSON.
    fn items_with_fields<T: DeserializeOwned>(
        &mut self,
        index: usize,
        read: impl Fn(&Value) -> FieldValues,
    ) -> Result<Vec<(T, FieldValues)>, GraphError> {
        let path = self.reads[index].path_and_query();
        std::mem::take(&mut self.lists[index])
            .into_iter()
            .map(|raw| {
                let v: Value = graph::decode_json(raw.get().as_bytes(), "GET", &path)?;
                let values = read(&v);
                Ok((graph::decode_value(v, "GET", &path)?, values))
            })
            .collect()
    }
}

fn decode_error(path: &str, json_path: &str, message: String) -> GraphError {
    GraphError::Decode {
        method: "GET".to_owned(),
        path: path.to_owned(),
        json_path: json_path.to_owned(),
        source: serde::de::Error::custom(message),
    }
}

/// A stable hash of what entraform read about one object.
fn fingerprint(value: &impl Serialize) -> Fingerprint {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Fingerprint(hex::encode(&Sha256::digest(&bytes)[..16]))
}

fn live_app(
    app: Application,
    fields: FieldValues,
    owners: Option<Vec<DirectoryObject>>,
    service_principal: Option<LiveServicePrincipal>,
) -> LiveApp {
    let required_resource_access: Vec<RequiredResourceAccess> = app
        .required_resource_access
        .iter()
        .map(|r| RequiredResourceAccess {
            resource_app_id: r.resource_app_id,
            resource_access: r
                .resource_access
                .iter()
                .filter_map(|a| {
                    let kind = match a.kind.as_str() {
                        "Role" => PermissionKind::Role,
                        "Scope" => PermissionKind::Scope,
                        _ => return None,
                    };
                    Some(ResourceAccess { id: a.id, kind })
                })
                .collect(),
        })
        .collect();
    let key_credentials: Vec<LiveKeyCredential> =
        app.key_credentials.iter().map(key_credential).collect();
    let password_credentials = app
        .password_credentials
        .iter()
        .map(password_credential)
        .collect();
    let federated_credentials = app
        .federated_identity_credentials
        .unwrap_or_default()
        .into_iter()
        .map(federated_credential)
        .collect();
    let owners = owners.map(|list| {
        let mut owners: Vec<LiveOwner> = list
            .into_iter()
            .map(|o| LiveOwner {
                id: o.id,
                user_principal_name: o.user_principal_name,
            })
            .collect();
        owners.sort_by_key(|o| o.id);
        owners
    });
    let mut live = LiveApp {
        object_id: app.id,
        app_id: app.app_id,
        unique_name: app.unique_name,
        display_name: app.display_name.unwrap_or_default(),
        description: app.description,
        sign_in_audience: app.sign_in_audience.unwrap_or_default(),
        redirect_uris: app.web.map(|w| w.redirect_uris).unwrap_or_default(),
        tags: app.tags,
        required_resource_access,
        key_credentials,
        password_credentials,
        federated_credentials,
        owners,
        service_principal,
        app_roles: app.app_roles.into_iter().map(app_role).collect(),
        fields,
        fingerprint: Fingerprint(String::new()),
    };
    live.fingerprint = app_fingerprint(&live);
    live
}

/// The app's own fields; its service principal and federated credentials have their own. Every
/// field is named, so a new one does not compile until it is either hashed or said not to be.
fn app_fingerprint(live: &LiveApp) -> Fingerprint {
    let LiveApp {
        object_id,
        app_id,
        unique_name,
        display_name,
        description,
        sign_in_audience,
        redirect_uris,
        tags,
        required_resource_access,
        key_credentials,
        owners,
        password_credentials,
        app_roles,
        fields,
        federated_credentials: _,
        service_principal: _,
        fingerprint: _,
    } = live;
    fingerprint(&(
        object_id,
        app_id,
        unique_name,
        display_name,
        description,
        sign_in_audience,
        redirect_uris,
        tags,
        required_resource_access,
        key_credentials,
        owners,
        // A secret added between plan and apply makes the plan stale.
        password_credentials,
        fields,
        app_roles,
    ))
}

/// A key credential as the live model holds it (also used by `certs --all`, which lists
/// applications itself).
pub fn key_credential(k: &KeyCredential) -> LiveKeyCredential {
    LiveKeyCredential {
        key_id: k.key_id,
        display_name: k.display_name.clone(),
        thumbprint: key_thumbprint(k),
        key_type: k.kind.clone().unwrap_or_default(),
        usage: k.usage.clone().unwrap_or_default(),
        start: k.start_date_time,
        end: k.end_date_time,
    }
}

/// A client secret's metadata as the live model holds it; `secretText` is never carried over.
pub fn password_credential(p: &PasswordCredential) -> LivePasswordCredential {
    LivePasswordCredential {
        key_id: p.key_id,
        display_name: p.display_name.clone(),
        hint: p.hint.clone(),
        start: p.start_date_time,
        end: p.end_date_time,
    }
}

/// The certificate's thumbprint, computed from `key` when the read carried it (only a
/// single-object read with `$select=keyCredentials` does); else `customKeyIdentifier`, which
/// may be anything a tool put there.
fn key_thumbprint(k: &KeyCredential) -> Option<Thumbprint> {
    use base64::Engine as _;
    let der = k.key.as_deref().and_then(|b| {
        base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
    });
    match der {
        Some(der) => Some(Thumbprint::of_der(&der)),
        None => k
            .custom_key_identifier
            .as_deref()
            .and_then(Thumbprint::from_custom_key_identifier),
    }
}

fn federated_credential(f: FederatedIdentityCredential) -> LiveFederatedCredential {
    let mut live = LiveFederatedCredential {
        id: f.id,
        name: f.name,
        issuer: f.issuer,
        subject: f.subject,
        audiences: f.audiences,
        description: f.description,
        fingerprint: Fingerprint(String::new()),
    };
    live.fingerprint = fingerprint(&(
        &live.id,
        &live.name,
        &live.issuer,
        &live.subject,
        &live.audiences,
        &live.description,
    ));
    live
}

fn service_principal(
    sp: ServicePrincipal,
    fields: FieldValues,
    role_assignments: Vec<UnifiedRoleAssignment>,
    grants: Vec<OAuth2PermissionGrant>,
    assigned: Option<Vec<AppRoleAssignment>>,
) -> LiveServicePrincipal {
    let app_role_assignments = sp
        .app_role_assignments
        .unwrap_or_default()
        .into_iter()
        .map(|a| LiveAppRoleAssignment {
            fingerprint: fingerprint(&(&a.id, &a.resource_id, &a.app_role_id)),
            id: a.id,
            resource_id: a.resource_id,
            app_role_id: a.app_role_id,
        })
        .collect();
    let delegated_grants = grants
        .into_iter()
        .map(|g| LiveDelegatedGrant {
            fingerprint: fingerprint(&(&g.id, &g.resource_id, &g.consent_type, &g.scope)),
            id: g.id,
            resource_id: g.resource_id,
            consent_type: g.consent_type,
            scope: g.scope,
        })
        .collect();
    let directory_role_assignments = role_assignments
        .into_iter()
        .map(|r| LiveDirectoryRoleAssignment {
            fingerprint: fingerprint(&(&r.id, &r.role_definition_id, &r.directory_scope_id)),
            id: r.id,
            role_definition_id: r.role_definition_id,
            directory_scope_id: r.directory_scope_id,
        })
        .collect();
    let assigned_to = assigned.map(|list| {
        list.into_iter()
            .map(|a| LiveAssignment {
                fingerprint: fingerprint(&(&a.id, &a.principal_id, &a.app_role_id)),
                id: a.id,
                principal_id: a.principal_id,
                principal_type: a.principal_type.unwrap_or_default(),
                principal_display_name: a.principal_display_name,
                app_role_id: a.app_role_id,
            })
            .collect()
    });
    LiveServicePrincipal {
        object_id: sp.id,
        assigned_to,
        fingerprint: fingerprint(&(&sp.id, &sp.app_id, &fields)),
        app_role_assignments,
        delegated_grants,
        directory_role_assignments,
        fields,
    }
}

fn resource(sp: ServicePrincipal) -> ResourceServicePrincipal {
    ResourceServicePrincipal {
        object_id: sp.id,
        app_id: sp.app_id,
        display_name: sp.display_name.unwrap_or_default(),
        managed_name: None,
        app_roles: sp.app_roles.into_iter().map(app_role).collect(),
        oauth2_permission_scopes: sp
            .oauth2_permission_scopes
            .into_iter()
            .map(|s| PermissionScope {
                id: s.id,
                value: s.value,
                is_enabled: s.is_enabled,
            })
            .collect(),
    }
}

fn app_role(r: crate::graph::types::AppRole) -> AppRole {
    AppRole {
        id: r.id,
        value: r.value,
        display_name: r.display_name,
        allowed_member_types: r.allowed_member_types,
        is_enabled: r.is_enabled,
    }
}

fn role_definition(r: UnifiedRoleDefinition) -> RoleDefinition {
    RoleDefinition {
        id: r.id,
        template_id: r
            .template_id
            .as_deref()
            .and_then(|t| t.parse::<RoleDefinitionId>().ok()),
        display_name: r.display_name.unwrap_or_default(),
        is_built_in: r.is_built_in.unwrap_or(false),
    }
}

/// Counts for logging at `-v`: what the plan read.
pub fn summary(live: &LiveTenant) -> BTreeMap<&'static str, usize> {
    let sps: Vec<&LiveServicePrincipal> = live
        .apps
        .iter()
        .filter_map(|a| a.service_principal.as_ref())
        .collect();
    BTreeMap::from([
        ("applications", live.apps.len()),
        ("service_principals", sps.len()),
        (
            "app_role_assignments",
            sps.iter().map(|s| s.app_role_assignments.len()).sum(),
        ),
        (
            "directory_role_assignments",
            sps.iter().map(|s| s.directory_role_assignments.len()).sum(),
        ),
        ("resources", live.catalog.resources.len()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ApiPermission;

    fn manifest(name: &str) -> DesiredApp {
        DesiredApp::unmanaged(name, name)
    }

    #[test]
    fn a_plan_reads_only_the_parts_and_names_its_manifests_manage() {
        let adopted: AppId = "3f76be04-5cf0-47f1-9df6-d05981a450fc".parse().unwrap();
        let mut exo = manifest("exo");
        exo.adopt_app_id = Some(adopted);
        exo.directory_roles = Some(vec![]);
        exo.api_permissions = Some(vec![ApiPermission {
            api: ApiRef::DisplayName("Office 365 Exchange Online".into()),
            application: ["Exchange.ManageAsApp".to_owned()].into(),
            delegated: Default::default(),
        }]);
        let mut declared_only = manifest("declared-only");
        declared_only.admin_consent = false;
        declared_only.api_permissions = Some(vec![]);
        declared_only.owners = Some(vec![OwnerRef::Upn("admin@contoso.onmicrosoft.com".into())]);

        let request = ObserveRequest::for_manifests(&[exo, declared_only], true);

        let exo_parts = Parts {
            owners: false,
            directory_roles: true,
            delegated_grants: true,
            assignments: false,
        };
        assert_eq!(
            request.apps,
            [
                AppQuery {
                    key: AppKey::UniqueName("exo".into()),
                    parts: exo_parts
                },
                AppQuery {
                    key: AppKey::AppId(adopted),
                    parts: exo_parts
                },
                AppQuery {
                    key: AppKey::UniqueName("declared-only".into()),
                    // Grants are not managed without admin consent, so they are not read.
                    parts: Parts {
                        owners: true,
                        directory_roles: false,
                        delegated_grants: false,
                        assignments: false,
                    }
                },
            ]
        );
        assert!(request.all_managed && request.role_definitions);
        assert_eq!(request.apis.len(), 1);
        assert_eq!(request.users.len(), 1);
    }

    #[test]
    fn certs_reads_applications_and_nothing_else() {
        let mut exo = manifest("exo");
        exo.directory_roles = Some(vec![]);
        exo.owners = Some(vec![]);
        let request = ObserveRequest::applications_only(&[exo]);
        assert_eq!(request.apps.len(), 1);
        assert_eq!(request.apps[0].parts, Parts::default());
        assert!(!request.role_definitions && request.apis.is_empty() && request.users.is_empty());
    }
}
