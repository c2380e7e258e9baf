//! Names in manifests → ids in the tenant: APIs to resource service principals, permission
//! values to app role and scope ids, role names to role definitions, owner UPNs to user ids.
//! Every failure becomes a [`Problem`] with a did-you-mean drawn from the tenant's real lists.

use std::collections::{BTreeSet, HashMap};

use super::{Problem, ProblemKind};
use crate::model::{
    ApiRef, AppId, AppRole, Catalog, DesiredApp, KNOWN_APIS, ObjectId, OwnerRef, PermissionKind,
    PermissionScope, PlannedApi, ResourceServicePrincipal, RoleDefinition, RoleDefinitionId,
    RoleRef, Source,
};
use crate::plan::ResourceRef;

/// An API the app asks permissions on, with the permissions found on it.
#[derive(Debug, Clone)]
pub struct ResolvedApi<'c> {
    pub resource: ApiResource<'c>,
    /// The first `apiPermissions` entry naming it.
    pub entry: usize,
    /// Application permissions, sorted by value.
    pub app_roles: Vec<&'c AppRole>,
    /// Delegated permissions, sorted by value.
    pub scopes: Vec<&'c PermissionScope>,
}

/// An API's service principal: one the tenant has, or one this plan creates.
#[derive(Debug, Clone, Copy)]
pub enum ApiResource<'c> {
    Live(&'c ResourceServicePrincipal),
    Planned(&'c PlannedApi),
}

impl<'c> ApiResource<'c> {
    pub fn display_name(self) -> &'c str {
        match self {
            ApiResource::Live(r) => &r.display_name,
            ApiResource::Planned(p) => &p.display_name,
        }
    }

    pub fn app_roles(self) -> &'c [AppRole] {
        match self {
            ApiResource::Live(r) => &r.app_roles,
            ApiResource::Planned(p) => &p.app_roles,
        }
    }

    pub fn scopes(self) -> &'c [PermissionScope] {
        match self {
            ApiResource::Live(r) => &r.oauth2_permission_scopes,
            ApiResource::Planned(p) => &p.oauth2_permission_scopes,
        }
    }

    /// Its appId, or the app of this plan that will have one.
    pub fn app_id(self) -> ResourceRef<AppId> {
        match self {
            ApiResource::Live(r) => ResourceRef::Existing(r.app_id),
            ApiResource::Planned(PlannedApi {
                app_id: Some(id), ..
            }) => ResourceRef::Existing(*id),
            ApiResource::Planned(p) => ResourceRef::Planned {
                planned: p.name.clone(),
            },
        }
    }

    /// Its service principal's id, or the app of this plan that will have one.
    pub fn object_id(self) -> ResourceRef<ObjectId> {
        match self {
            ApiResource::Live(r) => ResourceRef::Existing(r.object_id),
            ApiResource::Planned(p) => ResourceRef::Planned {
                planned: p.name.clone(),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResolvedRole<'c> {
    pub definition: &'c RoleDefinition,
    pub scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResolvedOwner {
    pub id: ObjectId,
    /// The UPN when known, else the id: what the owner's address shows.
    pub label: String,
}

/// What an app's names resolve to. `apis` is `None` when the manifest does not manage
/// `apiPermissions`; likewise for roles and owners.
#[derive(Debug, Clone, Default)]
pub struct Resolved<'c> {
    pub apis: Option<Vec<ResolvedApi<'c>>>,
    pub roles: Option<Vec<ResolvedRole<'c>>>,
    pub owners: Option<Vec<ResolvedOwner>>,
}

/// Older names Microsoft still prints in documentation and PowerShell, by role template id.
pub const LEGACY_ROLE_NAMES: [(&str, &str); 2] = [
    (
        "Company Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
    ),
    (
        "Exchange Service Administrator",
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
    ),
];

pub fn resolve<'c>(app: &DesiredApp, catalog: &'c Catalog) -> Result<Resolved<'c>, Vec<Problem>> {
    let mut problems = Vec::new();
    // Each problem points at the entry that names what the tenant does not have.
    let mut problem = |kind, at: &Source, message: String, help: Vec<String>| {
        problems.push(Problem {
            kind,
            source: Some(at.clone()),
            app: app.name.clone(),
            message,
            help,
        })
    };

    let apis = app.api_permissions.as_ref().map(|perms| {
        let mut apis: Vec<ResolvedApi<'c>> = Vec::new();
        for (i, perm) in perms.iter().enumerate() {
            let resource = match find_api(&perm.api, catalog) {
                Ok(r) => r,
                Err((kind, message, help)) => {
                    problem(kind, app.api_source(i), message, help);
                    continue;
                }
            };
            let pos = match apis
                .iter()
                .position(|a| a.resource.object_id() == resource.object_id())
            {
                Some(pos) => pos,
                None => {
                    apis.push(ResolvedApi {
                        resource,
                        entry: i,
                        app_roles: Vec::new(),
                        scopes: Vec::new(),
                    });
                    apis.len() - 1
                }
            };
            for value in &perm.application {
                match find_app_role(resource, value) {
                    Ok(role) => apis[pos].app_roles.push(role),
                    Err((message, help)) => problem(
                        ProblemKind::UnknownPermission,
                        app.permission_source(i, PermissionKind::Role, value),
                        message,
                        help,
                    ),
                }
            }
            for value in &perm.delegated {
                match find_scope(resource, value) {
                    Ok(scope) => apis[pos].scopes.push(scope),
                    Err((message, help)) => problem(
                        ProblemKind::UnknownPermission,
                        app.permission_source(i, PermissionKind::Scope, value),
                        message,
                        help,
                    ),
                }
            }
        }
        for api in &mut apis {
            api.app_roles.sort_by(|a, b| a.value.cmp(&b.value));
            api.app_roles.dedup_by_key(|r| r.id);
            api.scopes.sort_by(|a, b| a.value.cmp(&b.value));
            api.scopes.dedup_by_key(|s| s.id);
        }
        apis.sort_by(|a, b| a.resource.display_name().cmp(b.resource.display_name()));
        apis
    });

    let roles = app.directory_roles.as_ref().map(|specs| {
        let mut roles = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            match find_role(&spec.role, catalog) {
                Ok(definition) => roles.push(ResolvedRole {
                    definition,
                    scope: spec.scope.clone(),
                }),
                Err((message, help)) => problem(
                    ProblemKind::UnknownRole,
                    app.directory_role_source(i),
                    message,
                    help,
                ),
            }
        }
        roles
    });

    let owners = app.owners.as_ref().map(|refs| {
        let mut owners = BTreeSet::new();
        for (i, owner) in refs.iter().enumerate() {
            match owner {
                OwnerRef::ObjectId(id) => {
                    let label = catalog
                        .users
                        .iter()
                        .find(|u| u.id == *id)
                        .map_or_else(|| id.to_string(), |u| u.user_principal_name.clone());
                    owners.insert(ResolvedOwner { id: *id, label });
                }
                OwnerRef::Upn(upn) => {
                    match catalog
                        .users
                        .iter()
                        .find(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
                    {
                        Some(u) => {
                            owners.insert(ResolvedOwner {
                                id: u.id,
                                label: u.user_principal_name.clone(),
                            });
                        }
                        None => problem(
                            ProblemKind::UnknownOwner,
                            app.owner_source(i),
                            format!("no user `{upn}` in this tenant"),
                            did_you_mean(
                                upn,
                                catalog.users.iter().map(|u| u.user_principal_name.as_str()),
                            ),
                        ),
                    }
                }
            }
        }
        owners.into_iter().collect()
    });

    if problems.is_empty() {
        Ok(Resolved {
            apis,
            roles,
            owners,
        })
    } else {
        Err(problems)
    }
}

type Failure = (ProblemKind, String, Vec<String>);

fn find_api<'c>(api: &ApiRef, catalog: &'c Catalog) -> Result<ApiResource<'c>, Failure> {
    let planned = |p: &'c PlannedApi| Ok(ApiResource::Planned(p));
    match api {
        ApiRef::AppId(id)
            if let Some(p) = catalog.planned_apis.iter().find(|p| p.app_id == Some(*id)) =>
        {
            planned(p)
        }
        ApiRef::AppId(id) => catalog
            .resources
            .iter()
            .find(|r| r.app_id == *id)
            .map(ApiResource::Live)
            .ok_or_else(|| {
                (
                    ProblemKind::UnknownApi,
                    format!("no service principal with appId `{id}` in this tenant"),
                    Vec::new(),
                )
            }),
        ApiRef::DisplayName(name)
            if let Some(ours) = catalog.resources.iter().find(|r| {
                r.managed_name
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(name))
            }) =>
        {
            Ok(ApiResource::Live(ours))
        }
        ApiRef::DisplayName(name)
            if let Some(p) = catalog
                .planned_apis
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(name)) =>
        {
            planned(p)
        }
        ApiRef::DisplayName(name) => {
            let found: Vec<_> = catalog
                .resources
                .iter()
                .filter(|r| r.display_name == *name)
                .collect();
            match found.as_slice() {
                [one] => Ok(ApiResource::Live(one)),
                [] => Err((
                    ProblemKind::UnknownApi,
                    format!("no API named `{name}` in this tenant"),
                    // The catalog holds only what the manifests' names found; Microsoft's own
                    // APIs are in every tenant, so their names are candidates too.
                    did_you_mean(
                        name,
                        catalog
                            .resources
                            .iter()
                            .map(|r| r.display_name.as_str())
                            .chain(
                                catalog
                                    .resources
                                    .iter()
                                    .filter_map(|r| r.managed_name.as_deref()),
                            )
                            .chain(catalog.planned_apis.iter().map(|p| p.name.as_str()))
                            .chain(KNOWN_APIS.iter().map(|(n, _, _)| *n)),
                    ),
                )),
                many => Err((
                    ProblemKind::AmbiguousApi,
                    format!(
                        "{} service principals are named `{name}`; name the API by its appId",
                        many.len()
                    ),
                    vec![format!(
                        "their appIds: {}",
                        many.iter()
                            .map(|r| format!("`{}`", r.app_id))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )],
                )),
            }
        }
    }
}

fn allows_applications(role: &AppRole) -> bool {
    role.allowed_member_types.iter().any(|t| t == "Application")
}

fn find_app_role<'c>(
    resource: ApiResource<'c>,
    value: &str,
) -> Result<&'c AppRole, (String, Vec<String>)> {
    let api = resource.display_name();
    let same: Vec<&AppRole> = resource
        .app_roles()
        .iter()
        .filter(|r| r.value.as_deref() == Some(value))
        .collect();
    if let Some(role) = same.iter().find(|r| allows_applications(r) && r.is_enabled) {
        return Ok(role);
    }
    if same.iter().any(|r| allows_applications(r)) {
        return Err((
            format!("the application permission `{value}` of `{api}` is disabled"),
            Vec::new(),
        ));
    }
    if !same.is_empty() {
        return Err((
            format!(
                "`{value}` on `{api}` is an app role for users and groups, not an application permission"
            ),
            Vec::new(),
        ));
    }
    if resource
        .scopes()
        .iter()
        .any(|s| s.value.as_deref() == Some(value))
    {
        return Err((
            format!(
                "`{value}` is a delegated permission of `{api}`, not an application permission"
            ),
            vec!["list it under `delegated`".to_owned()],
        ));
    }
    Err((
        format!("`{value}` is not an application permission of `{api}`"),
        did_you_mean(
            value,
            resource
                .app_roles()
                .iter()
                .filter(|r| allows_applications(r) && r.is_enabled)
                .filter_map(|r| r.value.as_deref()),
        ),
    ))
}

fn find_scope<'c>(
    resource: ApiResource<'c>,
    value: &str,
) -> Result<&'c PermissionScope, (String, Vec<String>)> {
    let api = resource.display_name();
    let same: Vec<&PermissionScope> = resource
        .scopes()
        .iter()
        .filter(|s| s.value.as_deref() == Some(value))
        .collect();
    if let Some(scope) = same.iter().find(|s| s.is_enabled) {
        return Ok(scope);
    }
    if !same.is_empty() {
        return Err((
            format!("the delegated permission `{value}` of `{api}` is disabled"),
            Vec::new(),
        ));
    }
    if resource
        .app_roles()
        .iter()
        .any(|r| r.value.as_deref() == Some(value) && allows_applications(r))
    {
        return Err((
            format!("`{value}` is an application permission of `{api}`, not a delegated one"),
            vec!["list it under `application`".to_owned()],
        ));
    }
    Err((
        format!("`{value}` is not a delegated permission of `{api}`"),
        did_you_mean(
            value,
            resource
                .scopes()
                .iter()
                .filter(|s| s.is_enabled)
                .filter_map(|s| s.value.as_deref()),
        ),
    ))
}

fn find_role<'c>(
    role: &RoleRef,
    catalog: &'c Catalog,
) -> Result<&'c RoleDefinition, (String, Vec<String>)> {
    let by_id = |id: RoleDefinitionId| {
        catalog
            .role_definitions
            .iter()
            .find(|d| d.id == id || d.template_id == Some(id))
    };
    match role {
        RoleRef::TemplateId(id) => by_id(*id).ok_or_else(|| {
            (
                format!("no directory role definition with id `{id}` in this tenant"),
                Vec::new(),
            )
        }),
        RoleRef::Name(name) => {
            if let Some(d) = catalog
                .role_definitions
                .iter()
                .find(|d| d.display_name == *name)
            {
                return Ok(d);
            }
            let legacy = LEGACY_ROLE_NAMES
                .iter()
                .find(|(legacy, _)| legacy == name)
                .and_then(|(_, template)| template.parse().ok())
                .and_then(by_id);
            legacy.ok_or_else(|| {
                (
                    format!("no directory role named `{name}` in this tenant"),
                    did_you_mean(
                        name,
                        catalog
                            .role_definitions
                            .iter()
                            .map(|d| d.display_name.as_str())
                            .chain(LEGACY_ROLE_NAMES.iter().map(|(n, _)| *n)),
                    ),
                )
            })
        }
    }
}

/// Up to three candidates close to `wanted`, as a `did you mean` line; a candidate that differs
/// only in case wins outright (values are case-sensitive, and that is the usual mistake).
pub fn did_you_mean<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let suggestions = suggest(wanted, candidates);
    match suggestions.as_slice() {
        [] => Vec::new(),
        [one] => vec![format!("did you mean `{one}`?")],
        many => vec![format!(
            "did you mean one of {}?",
            many.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )],
    }
}

/// Close candidates, best first: one that holds `wanted` as whole words (`Exchange Online` in
/// `Office 365 Exchange Online`: a name written short), then by Jaro-Winkler similarity.
pub fn suggest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let candidates: BTreeSet<&str> = candidates.into_iter().collect();
    if let Some(same) = candidates.iter().find(|c| c.eq_ignore_ascii_case(wanted)) {
        return vec![(*same).to_owned()];
    }
    let wanted_lower = wanted.to_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .iter()
        .map(|c| {
            let lower = c.to_lowercase();
            let score = if holds_words(&lower, &wanted_lower) {
                1.0
            } else {
                strsim::jaro_winkler(&wanted_lower, &lower)
            };
            (score, *c)
        })
        .filter(|(score, _)| *score >= 0.85)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_owned())
        .collect()
}

/// Whether `words` occurs in `text` with no letter or digit right before or after it. Short
/// fragments (`api`, `read`) would match too much to help.
fn holds_words(text: &str, words: &str) -> bool {
    const MIN_CHARS: usize = 5;
    if words.chars().count() < MIN_CHARS {
        return false;
    }
    text.match_indices(words).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + words.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// An app, and the apps of this plan it names as APIs, each with its `apiPermissions` entry.
pub type NamedApis<'a> = (&'a DesiredApp, Vec<(&'a str, usize)>);

/// Apps of this plan that name each other as APIs (directly, through others, or an app naming
/// itself) while the plan creates their service principals: neither's ids exist before the
/// other's.
pub fn api_cycles(apps: &[NamedApis<'_>]) -> Vec<Problem> {
    // By name, once: 10,000 clients of one new API must not each search the run.
    let by_name: HashMap<&str, &NamedApis<'_>> =
        apps.iter().map(|a| (a.0.name.as_str(), a)).collect();
    // Whether `to` is reached from `from` along the APIs each app names.
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(app) = stack.pop() {
            if app == to {
                return true;
            }
            if seen.insert(app)
                && let Some((_, names)) = by_name.get(app)
            {
                stack.extend(names.iter().map(|(n, _)| *n));
            }
        }
        false
    };
    let mut problems = Vec::new();
    for (app, names) in apps {
        for (api, entry) in names {
            if !reaches(api, &app.name) {
                continue;
            }
            let file = |name: &str| {
                by_name
                    .get(name)
                    .map(|(d, _)| d.source.file.display().to_string())
                    .unwrap_or_default()
            };
            let (message, help) = if *api == app.name {
                (
                    format!(
                        "`{api}` names itself as an API, and this plan creates its service principal: its ids are not known before it exists"
                    ),
                    format!(
                        "apply `{api}` without this entry first, then add it back and apply again"
                    ),
                )
            } else {
                (
                    format!(
                        "`{}` and `{api}` ({}) name each other as APIs, and this plan creates both service principals: neither's ids are known before the other's",
                        app.name,
                        file(api),
                    ),
                    format!(
                        "apply one of `{}` ({}) and `{api}` ({}) without its permission on the other first, then add it back and apply again",
                        app.name,
                        app.source.file.display(),
                        file(api)
                    ),
                )
            };
            problems.push(Problem {
                kind: ProblemKind::UnknownApi,
                source: Some(app.api_source(*entry).clone()),
                app: app.name.clone(),
                message,
                help: vec![help],
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_written_short_suggests_the_full_name_that_holds_it() {
        let candidates = [
            "Office 365 Exchange Online",
            "Microsoft Graph",
            "Exchange Online Protection",
        ];
        assert_eq!(
            did_you_mean("exchange online", candidates),
            ["did you mean one of `Exchange Online Protection`, `Office 365 Exchange Online`?"]
        );
        assert_eq!(
            did_you_mean("Graph", candidates),
            ["did you mean `Microsoft Graph`?"]
        );
        // Part of a word, or too short to mean anything, is not a match.
        assert!(suggest("change Onl", candidates).is_empty());
        assert!(suggest("365", candidates).is_empty());
    }

    #[test]
    fn an_unknown_api_name_is_compared_with_microsofts_own_apis_too() {
        let (kind, message, help) = find_api(
            &ApiRef::DisplayName("Exchange Online".into()),
            &Catalog::default(),
        )
        .unwrap_err();
        assert_eq!(kind, ProblemKind::UnknownApi);
        assert_eq!(message, "no API named `Exchange Online` in this tenant");
        assert_eq!(help, ["did you mean `Office 365 Exchange Online`?"]);
    }

    #[test]
    fn a_value_differing_only_in_case_is_the_only_suggestion() {
        assert_eq!(
            suggest(
                "exchange.manageasapp",
                ["Exchange.ManageAsApp", "Exchange.ManageAsAppV2"]
            ),
            ["Exchange.ManageAsApp"]
        );
    }

    #[test]
    fn close_values_are_suggested_best_first_and_far_ones_are_not() {
        let candidates = [
            "Exchange.ManageAsApp",
            "Exchange.ManageAsAppV2",
            "Mail.Send",
            "full_access_as_app",
        ];
        assert_eq!(
            suggest("Exchange.ManageAsAp", candidates),
            ["Exchange.ManageAsApp", "Exchange.ManageAsAppV2"]
        );
        assert!(suggest("Calendars.Read", candidates).is_empty());
        assert_eq!(
            did_you_mean("Mail.Sendd", candidates),
            ["did you mean `Mail.Send`?"]
        );
        assert!(did_you_mean("zzz", candidates).is_empty());
    }
}
