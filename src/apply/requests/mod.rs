//! What each operation sends, and which read proves it landed: a pure mapping from a plan's
//! [`Operation`] (with what earlier steps of the run resolved) to Graph [`Request`]s built by
//! [`crate::graph::api`]. The executor ([`super::execute`]) resolves references, sends, waits
//! out replication, confirms and records; it never writes a path or a body itself.
//!
//! This file holds the kinds of write the executor knows ([`Write`]) and one `match` from
//! operation to step; each resource's steps, bodies and confirmation checks are in its file:
//!
//! | file | operations |
//! |---|---|
//! | `applications` | upsert, adopt, update, delete and restore the application; its owners |
//! | `service_principals` | upsert, update, restore and delete the app's service principal |
//! | `grants` | application permissions (app role assignments) and delegated grants |
//! | `roles` | directory role assignments |
//! | `keys` | key credentials (certificates): the whole set is read, checked and written; client secrets |
//! | `federated` | federated identity credentials |
//!
//! Golden-tested without a sandbox: the snapshot in `snapshots/` shows every variant's requests.

mod applications;
mod assignments;
mod federated;
mod grants;
mod keys;
mod roles;
mod service_principals;

use std::collections::BTreeMap;

use serde_json::Value;

pub use keys::{KeyChange, KeyEdit, PasswordAdd, key_credential};

use super::ActionError;
use super::retry::Consent;
use crate::graph::api::deleted_items;
use crate::graph::{GraphError, Request, decode_value};
use crate::model::{AppId, ObjectId, PermissionId, RoleDefinitionId};
use crate::plan::{AppRef, ExistingApp, FederatedCredentialBody, Operation, ResourceRef, SpRef};

/// What an operation refers to besides its own fields: objects an earlier step of the run may
/// create (resolved from that step's results), and what it tells the run about objects that
/// exist (remembered before it is sent, for later steps and the outputs).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct References<'a> {
    pub app: Option<&'a AppRef>,
    pub service_principal: Option<&'a SpRef>,
    /// The service principal upsert sends the application's display name.
    pub display_name: bool,
    pub existing_app: Option<&'a ExistingApp>,
    /// A display name the operation gives the app (labels of certificates generated later).
    pub new_display_name: Option<&'a str>,
    /// Apps of this plan, by `metadata.name`, whose appId or service principal the operation
    /// names as an API ([`ResourceRef::Planned`]): earlier steps created them.
    pub apis: Vec<&'a str>,
}

/// What the executor resolved for one operation's [`References`], and the cloud's Graph root
/// (an owner reference names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The app's name (`metadata.name`), for messages.
    pub name: String,
    pub app: Option<ExistingApp>,
    pub service_principal: Option<ObjectId>,
    pub display_name: Option<String>,
    pub graph_resource: String,
    /// The [`References::apis`] this run has created so far: appIds and service principals.
    pub api_apps: BTreeMap<String, AppId>,
    pub api_sps: BTreeMap<String, ObjectId>,
}

/// One operation's requests.
#[derive(Debug)]
pub struct Step<'a> {
    pub write: Write<'a>,
    /// Whether the write refers to the app's objects, which this run may just have created
    /// (then Graph may not show them yet, and "not found" means "not yet").
    pub depends: Depends,
    /// What the run knows once the write succeeded.
    pub learns: Learns,
    /// The ids shown when it is done.
    pub detail: Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depends {
    /// The application or service principal, maybe created or restored earlier in this run.
    OnApp,
    /// Only objects that existed when the plan was made (or the write creates the app).
    OnExisting,
}

#[derive(Debug)]
pub enum Write<'a> {
    /// `PATCH …(key='…')` with `Prefer: create-if-missing`.
    Upsert(Upsert),
    /// A create Graph keeps unique: "already exists" is success once `confirm` shows the
    /// object the plan wanted.
    Create(Create<'a>),
    /// A `PATCH` of an object that existed when the plan was made.
    Update { request: Request, consent: Consent },
    /// A `DELETE`; gone already is done.
    Delete(Request),
    /// From deleted items; "not there" is done once `read_back` shows the object live.
    Restore {
        request: Request,
        read_back: Request,
    },
    /// A change of the app's key set: read it (with the bytes of the keys kept), check it is the
    /// plan's, write the whole set, read it back until Entra ID shows it.
    Keys(KeyChange<'a>),
    /// A managed client secret: added, its value set in Key Vault, taken back if that fails.
    Password(PasswordAdd<'a>),
}

#[derive(Debug)]
pub struct Upsert {
    pub request: Request,
    /// The object's ids: read after a 204 (it existed), and, when Graph says the key is taken,
    /// to tell whether this replica shows the object holding it.
    pub read: Request,
    /// Who else may hold the key: a deleted application keeps its `uniqueName` for 30 days.
    pub deleted_holder: Option<DeletedHolder>,
}

#[derive(Debug)]
pub struct DeletedHolder {
    pub unique_name: String,
    pub read: Request,
}

#[derive(Debug)]
pub struct Create<'a> {
    /// "the owner", for messages.
    pub what: &'static str,
    pub request: Request,
    pub consent: Consent,
    pub unique_by: UniqueBy,
    pub confirm: Confirmation<'a>,
}

/// What Graph keeps unique about a created object, which decides how an "already exists"
/// answer to the first attempt is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueBy {
    /// Its content (an assignment, a grant, an owner): the object that exists is the plan's,
    /// maybe created by this run's own lost attempt, so it is waited for until it shows.
    Content,
    /// A name (a federated credential): a conflict on the first attempt is someone else's
    /// object, read once and reported, never waited for.
    Name,
}

/// A read, and what in it shows the object the plan wanted.
#[derive(Debug)]
pub struct Confirmation<'a> {
    pub read: Request,
    pub expect: Expect<'a>,
}

#[derive(Debug)]
pub enum Expect<'a> {
    AppRoleAssignment {
        resource_id: ObjectId,
        app_role_id: PermissionId,
    },
    /// A tenant-wide grant to the API with exactly these scopes.
    DelegatedGrant {
        resource_id: ObjectId,
        scope: &'a str,
    },
    DirectoryRoleAssignment {
        role_definition_id: RoleDefinitionId,
        directory_scope_id: &'a str,
    },
    /// The principal in the role, among the resource's `appRoleAssignedTo`.
    AssignedTo {
        principal_id: ObjectId,
        app_role_id: PermissionId,
    },
    Owner(ObjectId),
    FederatedCredential(&'a FederatedCredentialBody),
}

/// What a confirmation read found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    Matches,
    /// Something holds the place, and it is not what the plan wanted: why.
    Differs(String),
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learns {
    Nothing,
    /// The upserted application's ids (from the answer, or read), and its display name.
    Application {
        display_name: String,
    },
    /// The upserted service principal's id.
    ServicePrincipal,
    Restored(Restored),
    /// The app's service principal is gone.
    ServicePrincipalDeleted,
    /// The app and its service principal are gone.
    ApplicationDeleted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    Application(ExistingApp),
    ServicePrincipal(ObjectId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    None,
    Id(String),
    /// The id of what the write created (a create's 201 body; an upsert's object).
    CreatedId,
    /// A certificate's key id and thumbprint, known once it is generated or read.
    Certificate,
}

/// What `op` refers to; see [`References`].
pub fn references(op: &Operation) -> References<'_> {
    References {
        apis: op.planned_apis(),
        ..own_references(op)
    }
}

fn own_references(op: &Operation) -> References<'_> {
    use Operation as O;
    let none = References::default();
    match op {
        O::CreateServicePrincipal { app, .. } => References {
            app: Some(app),
            display_name: true,
            ..none
        },
        O::AddOwner { app, .. }
        | O::AddCertificate { app, .. }
        | O::AddClientSecret { app, .. }
        | O::CreateFederatedCredential { app, .. } => References {
            app: Some(app),
            ..none
        },
        O::GrantAppRole { principal, .. }
        | O::AssignDirectoryRole { principal, .. }
        | O::AssignPrincipal {
            resource: principal,
            ..
        } => References {
            service_principal: Some(principal),
            ..none
        },
        O::CreateDelegatedGrant { client, .. } => References {
            service_principal: Some(client),
            ..none
        },
        O::UpdateApplication { app, patch } => References {
            existing_app: Some(app),
            new_display_name: patch.display_name.as_deref(),
            ..none
        },
        O::AdoptApplication { app, .. }
        | O::RemoveOwner { app, .. }
        | O::RemoveKeyCredential { app, .. }
        | O::RemovePasswordCredential { app, .. }
        | O::UpdateFederatedCredential { app, .. } => References {
            existing_app: Some(app),
            ..none
        },
        O::UpsertApplication { .. }
        | O::DeleteServicePrincipal { .. }
        | O::DeleteApplication { .. }
        | O::RestoreApplication { .. }
        | O::RestoreServicePrincipal { .. }
        | O::UpdateServicePrincipal { .. }
        | O::RevokeAppRole { .. }
        | O::UnassignPrincipal { .. }
        | O::UpdateDelegatedGrant { .. }
        | O::DeleteDelegatedGrant { .. }
        | O::RemoveDirectoryRole { .. }
        | O::DeleteFederatedCredential { .. } => none,
    }
}

/// The requests of `op`, given what its [`References`] resolved to.
pub fn step<'a>(op: &'a Operation, resolved: &Resolved) -> Result<Step<'a>, ActionError> {
    use Operation as O;
    Ok(match op {
        O::UpsertApplication {
            unique_name,
            application,
        } => applications::upsert(unique_name, application, resolved)?,
        O::AdoptApplication {
            app,
            unique_name,
            patch,
        } => applications::adopt(app, unique_name, patch, resolved)?,
        O::UpdateApplication { app, patch } => applications::update(app, patch, resolved)?,
        O::DeleteApplication { app } => applications::delete(app),
        O::RestoreApplication { app } => applications::restore(app),
        O::AddOwner { owner_id, .. } => {
            applications::add_owner(resolved.app()?, *owner_id, &resolved.graph_resource)
        }
        O::RemoveOwner { app, owner_id } => applications::remove_owner(app, *owner_id),
        O::CreateServicePrincipal { fields, .. } => service_principals::upsert(
            resolved.app()?,
            resolved.display_name.clone().unwrap_or_default(),
            fields,
        ),
        O::UpdateServicePrincipal { object_id, fields } => {
            service_principals::update(*object_id, fields)
        }
        O::RestoreServicePrincipal { object_id } => service_principals::restore(*object_id),
        O::DeleteServicePrincipal { object_id } => service_principals::delete(*object_id),
        O::GrantAppRole {
            resource_id,
            app_role_id,
            ..
        } => grants::assign_app_role(
            resolved.service_principal()?,
            resolved.api_sp(resource_id)?,
            *app_role_id,
        ),
        O::RevokeAppRole {
            resource_id,
            assignment_id,
            ..
        } => grants::revoke_app_role(*resource_id, assignment_id),
        O::AssignPrincipal {
            principal_id,
            app_role_id,
            ..
        } => assignments::assign(resolved.service_principal()?, *principal_id, *app_role_id),
        O::UnassignPrincipal {
            resource_id,
            assignment_id,
        } => assignments::unassign(*resource_id, assignment_id),
        O::CreateDelegatedGrant {
            resource_id, scope, ..
        } => grants::grant_delegated(
            resolved.service_principal()?,
            resolved.api_sp(resource_id)?,
            scope,
        ),
        O::UpdateDelegatedGrant { grant_id, scope } => grants::update_delegated(grant_id, scope),
        O::DeleteDelegatedGrant { grant_id } => grants::revoke_delegated(grant_id),
        O::AssignDirectoryRole {
            role_definition_id,
            directory_scope_id,
            ..
        } => roles::assign(
            resolved.service_principal()?,
            *role_definition_id,
            directory_scope_id,
        ),
        O::RemoveDirectoryRole { assignment_id } => roles::remove(assignment_id),
        O::AddCertificate { key, method, .. } => keys::add(resolved.app()?, key, method),
        O::RemoveKeyCredential {
            app,
            key_id,
            method,
            ..
        } => keys::remove(app, *key_id, method),
        O::RemovePasswordCredential { app, key_id } => keys::remove_password(app, *key_id),
        O::AddClientSecret { secret, .. } => keys::add_password(resolved.app()?, secret),
        O::CreateFederatedCredential { credential, .. } => {
            federated::create(resolved.app()?, credential)
        }
        O::UpdateFederatedCredential { app, id, patch } => federated::update(app, *id, patch),
        O::DeleteFederatedCredential { app, id } => federated::delete(app, *id),
    })
}

impl<'a> Step<'a> {
    /// A `PATCH` of an object that existed when the plan was made, shown by its `id`.
    fn update(request: Request, consent: Consent, id: impl std::fmt::Display) -> Self {
        Step {
            write: Write::Update { request, consent },
            depends: Depends::OnExisting,
            learns: Learns::Nothing,
            detail: Detail::Id(id.to_string()),
        }
    }

    fn delete(request: Request, learns: Learns) -> Self {
        Step {
            write: Write::Delete(request),
            depends: Depends::OnExisting,
            learns,
            detail: Detail::None,
        }
    }

    /// `POST /directory/deletedItems/{id}/restore`; `read_back` shows the object live.
    fn restore(id: ObjectId, read_back: Request, restored: Restored) -> Self {
        Step {
            write: Write::Restore {
                request: deleted_items::restore(id),
                read_back,
            },
            depends: Depends::OnExisting,
            learns: Learns::Restored(restored),
            detail: Detail::Id(id.to_string()),
        }
    }

    /// A create of something that belongs to the app (its service principal's grants, its
    /// owners, its credentials), shown by the created object's id.
    fn create(create: Create<'a>) -> Self {
        Step {
            write: Write::Create(create),
            depends: Depends::OnApp,
            learns: Learns::Nothing,
            detail: Detail::CreatedId,
        }
    }
}

impl Resolved {
    fn app(&self) -> Result<&ExistingApp, ActionError> {
        self.app.as_ref().ok_or_else(|| ActionError::Unresolved {
            name: self.name.clone(),
            what: "application",
        })
    }

    fn service_principal(&self) -> Result<ObjectId, ActionError> {
        self.service_principal
            .ok_or_else(|| ActionError::Unresolved {
                name: self.name.clone(),
                what: "service principal",
            })
    }

    /// The appId of an API, which may be an app this run created.
    fn api_app_id(&self, api: &ResourceRef<AppId>) -> Result<AppId, ActionError> {
        created_by_run(api, &self.api_apps, "application")
    }

    /// The service principal of an API, which may be one this run created.
    fn api_sp(&self, api: &ResourceRef<ObjectId>) -> Result<ObjectId, ActionError> {
        created_by_run(api, &self.api_sps, "service principal")
    }
}

/// The id `api` names: as written, or what this run created for the app it names.
fn created_by_run<T: Copy>(
    api: &ResourceRef<T>,
    created: &BTreeMap<String, T>,
    what: &'static str,
) -> Result<T, ActionError> {
    match api {
        ResourceRef::Existing(id) => Ok(*id),
        ResourceRef::Planned { planned } => {
            created
                .get(planned)
                .copied()
                .ok_or_else(|| ActionError::Unresolved {
                    name: planned.clone(),
                    what,
                })
        }
    }
}

impl Expect<'_> {
    /// Whether `listed` (the confirmation read's items) shows the object the plan wanted.
    pub fn judge(&self, listed: Vec<Value>, read: &Request) -> Result<Found, GraphError> {
        let path = read.path_and_query();
        fn decode<T: serde::de::DeserializeOwned>(
            listed: Vec<Value>,
            path: &str,
        ) -> Result<Vec<T>, GraphError> {
            listed
                .into_iter()
                .map(|v| decode_value(v, "GET", path))
                .collect()
        }
        Ok(match self {
            Expect::AppRoleAssignment {
                resource_id,
                app_role_id,
            } => grants::app_role_found(&decode(listed, &path)?, *resource_id, *app_role_id),
            Expect::AssignedTo {
                principal_id,
                app_role_id,
            } => assignments::assigned_found(&decode(listed, &path)?, *principal_id, *app_role_id),
            Expect::DelegatedGrant { resource_id, scope } => {
                grants::delegated_found(&decode(listed, &path)?, *resource_id, scope)
            }
            Expect::DirectoryRoleAssignment {
                role_definition_id,
                directory_scope_id,
            } => roles::assignment_found(
                &decode(listed, &path)?,
                *role_definition_id,
                directory_scope_id,
            ),
            Expect::Owner(owner) => applications::owner_found(&decode(listed, &path)?, *owner),
            Expect::FederatedCredential(wanted) => {
                federated::conflict(&decode(listed, &path)?, wanted)
            }
        })
    }
}

fn found(present: bool) -> Found {
    if present {
        Found::Matches
    } else {
        Found::Missing
    }
}

#[cfg(test)]
mod tests;
