//! What each operation sends, and which read proves it landed: a pure mapping from a plan's
//! [`Operation`] (with what earlier steps of the run resolved) to Graph [`Request`]s built by
//! [`crate::graph::api`]. The executor ([`super::execute`]) resolves references, sends, waits
//! out replication, confirms and records; it never writes a path or a body itself.
//!
//! Golden-tested without a sandbox: the snapshot in `snapshots/` shows every variant's requests.

use std::collections::BTreeSet;

use serde_json::Value;

use super::ActionError;
use super::retry::Consent;
use crate::cert::PublicCertificate;
use crate::graph::api::applications::{
    self, ApplicationWrite, FederatedCredentialWrite, WebRedirects,
};
use crate::graph::api::directory_roles::{self, RoleAssignmentWrite};
use crate::graph::api::service_principals::{self, AppRoleAssignmentWrite, ServicePrincipalWrite};
use crate::graph::api::{deleted_items, filter, permission_grants};
use crate::graph::types::{self as wire, KeyCredential};
use crate::graph::{GraphError, Request, decode_value};
use crate::model::{
    KeyId, ObjectId, PermissionId, PermissionKind, RequiredResourceAccess, RoleDefinitionId,
};
use crate::plan::{
    AppRef, ApplicationBody, ApplicationPatch, ExistingApp, FederatedCredentialBody,
    FederatedCredentialPatch, KeyCredentialMethod, NewKeyCredential, Operation, SpRef,
};

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

#[derive(Debug)]
pub struct KeyChange<'a> {
    pub app: ExistingApp,
    pub edit: KeyEdit<'a>,
    /// The key ids the app must have besides the one added or removed.
    pub keep: &'a [KeyId],
    /// The key set with the bytes of every key (a kept key is sent back whole).
    pub read: Request,
    /// The key set without the bytes (whose reads Graph limits to 150 a minute), read until it
    /// shows what was written.
    pub read_back: Request,
}

#[derive(Debug)]
pub enum KeyEdit<'a> {
    Add(&'a NewKeyCredential),
    Remove(KeyId),
}

impl KeyChange<'_> {
    /// The write of the whole key set.
    pub fn write(&self, keys: &[KeyCredential]) -> Request {
        applications::set_key_credentials(self.app.object_id, keys)
    }
}

/// What `op` refers to; see [`References`].
pub fn references(op: &Operation) -> References<'_> {
    use Operation as O;
    let none = References::default();
    match op {
        O::CreateServicePrincipal { app } => References {
            app: Some(app),
            display_name: true,
            ..none
        },
        O::AddOwner { app, .. }
        | O::AddCertificate { app, .. }
        | O::CreateFederatedCredential { app, .. } => References {
            app: Some(app),
            ..none
        },
        O::GrantAppRole { principal, .. } | O::AssignDirectoryRole { principal, .. } => {
            References {
                service_principal: Some(principal),
                ..none
            }
        }
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
        | O::UpdateFederatedCredential { app, .. } => References {
            existing_app: Some(app),
            ..none
        },
        O::UpsertApplication { .. }
        | O::DeleteServicePrincipal { .. }
        | O::DeleteApplication { .. }
        | O::RestoreApplication { .. }
        | O::RestoreServicePrincipal { .. }
        | O::RevokeAppRole { .. }
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
        } => Step {
            write: Write::Upsert(Upsert {
                request: applications::upsert(unique_name, &application_write(application)),
                read: applications::identity_by_unique_name(unique_name),
                deleted_holder: Some(DeletedHolder {
                    unique_name: unique_name.clone(),
                    read: deleted_items::applications_holding(unique_name),
                }),
            }),
            // The write that creates the app waits for nothing.
            depends: Depends::OnExisting,
            learns: Learns::Application {
                display_name: application.display_name.clone(),
            },
            detail: Detail::CreatedId,
        },
        O::AdoptApplication {
            app,
            unique_name,
            patch,
        } => {
            let mut changes = application_patch(patch);
            changes.unique_name = Some(unique_name.clone());
            Step::update(
                applications::update(app.object_id, &changes),
                Consent::NotNeeded,
                app.object_id,
            )
        }
        O::UpdateApplication { app, patch } => Step::update(
            applications::update(app.object_id, &application_patch(patch)),
            Consent::NotNeeded,
            app.object_id,
        ),
        O::DeleteServicePrincipal { object_id } => Step::delete(
            service_principals::delete(*object_id),
            Learns::ServicePrincipalDeleted,
        ),
        O::DeleteApplication { app } => Step::delete(
            applications::delete(app.object_id),
            Learns::ApplicationDeleted,
        ),
        O::CreateServicePrincipal { .. } => {
            let app = resolved.app()?;
            let body = ServicePrincipalWrite {
                display_name: resolved.display_name.clone().unwrap_or_default(),
            };
            Step {
                write: Write::Upsert(Upsert {
                    request: service_principals::upsert(app.app_id, &body),
                    read: service_principals::identity_by_app_id(app.app_id),
                    deleted_holder: None,
                }),
                depends: Depends::OnApp,
                learns: Learns::ServicePrincipal,
                detail: Detail::CreatedId,
            }
        }
        O::RestoreApplication { app } => Step::restore(
            app.object_id,
            applications::identity(app.object_id),
            Restored::Application(app.clone()),
        ),
        O::RestoreServicePrincipal { object_id } => Step::restore(
            *object_id,
            service_principals::identity(*object_id),
            Restored::ServicePrincipal(*object_id),
        ),
        O::GrantAppRole {
            resource_id,
            app_role_id,
            ..
        } => {
            let principal = resolved.service_principal()?;
            let assignment = AppRoleAssignmentWrite {
                principal_id: principal,
                resource_id: *resource_id,
                app_role_id: *app_role_id,
            };
            Step::create(Create {
                what: "the app role assignment",
                request: service_principals::assign_app_role(*resource_id, &assignment),
                consent: Consent::Grants,
                unique_by: UniqueBy::Content,
                confirm: Confirmation {
                    read: service_principals::app_role_assignments(principal),
                    expect: Expect::AppRoleAssignment {
                        resource_id: *resource_id,
                        app_role_id: *app_role_id,
                    },
                },
            })
        }
        O::RevokeAppRole {
            resource_id,
            assignment_id,
            ..
        } => Step::delete(
            service_principals::remove_app_role_assignment(*resource_id, assignment_id),
            Learns::Nothing,
        ),
        O::CreateDelegatedGrant {
            resource_id, scope, ..
        } => {
            let client = resolved.service_principal()?;
            Step::create(Create {
                what: "the delegated permission grant",
                request: permission_grants::grant_for_all_principals(client, *resource_id, scope),
                consent: Consent::Grants,
                unique_by: UniqueBy::Content,
                confirm: Confirmation {
                    read: permission_grants::of_client(client),
                    expect: Expect::DelegatedGrant {
                        resource_id: *resource_id,
                        scope,
                    },
                },
            })
        }
        O::UpdateDelegatedGrant { grant_id, scope } => Step::update(
            permission_grants::set_scope(grant_id, scope),
            Consent::Grants,
            grant_id,
        ),
        O::DeleteDelegatedGrant { grant_id } => {
            Step::delete(permission_grants::delete(grant_id), Learns::Nothing)
        }
        O::AssignDirectoryRole {
            role_definition_id,
            directory_scope_id,
            ..
        } => {
            let principal = resolved.service_principal()?;
            let assignment = RoleAssignmentWrite {
                role_definition_id: *role_definition_id,
                principal_id: principal,
                directory_scope_id: directory_scope_id.clone(),
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
                        role_definition_id: *role_definition_id,
                        directory_scope_id,
                    },
                },
            })
        }
        O::RemoveDirectoryRole { assignment_id } => Step::delete(
            directory_roles::remove_assignment(assignment_id),
            Learns::Nothing,
        ),
        O::AddOwner { owner_id, .. } => {
            let app = resolved.app()?;
            Step {
                // Graph answers 204, without a body; the owner is the id to show.
                detail: Detail::Id(owner_id.to_string()),
                ..Step::create(Create {
                    what: "the owner",
                    request: applications::add_owner(
                        app.object_id,
                        *owner_id,
                        &resolved.graph_resource,
                    ),
                    consent: Consent::NotNeeded,
                    unique_by: UniqueBy::Content,
                    confirm: Confirmation {
                        read: applications::owners(app.object_id),
                        expect: Expect::Owner(*owner_id),
                    },
                })
            }
        }
        O::RemoveOwner { app, owner_id } => Step::delete(
            applications::remove_owner(app.object_id, *owner_id),
            Learns::Nothing,
        ),
        O::AddCertificate { key, method, .. } => Step::keys(
            key_change(resolved.app()?.clone(), KeyEdit::Add(key), method),
            Detail::Certificate,
        ),
        O::RemoveKeyCredential {
            app,
            key_id,
            method,
        } => Step::keys(
            key_change(app.clone(), KeyEdit::Remove(*key_id), method),
            Detail::None,
        ),
        O::CreateFederatedCredential { credential, .. } => {
            let app = resolved.app()?;
            Step::create(Create {
                what: "the federated credential",
                request: applications::create_federated_credential(
                    app.object_id,
                    &federated_write(credential),
                ),
                consent: Consent::NotNeeded,
                unique_by: UniqueBy::Name,
                confirm: Confirmation {
                    read: applications::federated_credentials(app.object_id),
                    expect: Expect::FederatedCredential(credential),
                },
            })
        }
        O::UpdateFederatedCredential { app, id, patch } => Step::update(
            applications::update_federated_credential(app.object_id, *id, &federated_patch(patch)),
            Consent::NotNeeded,
            id,
        ),
        O::DeleteFederatedCredential { app, id } => Step::delete(
            applications::delete_federated_credential(app.object_id, *id),
            Learns::Nothing,
        ),
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

    fn keys(change: KeyChange<'a>, detail: Detail) -> Self {
        Step {
            write: Write::Keys(change),
            depends: Depends::OnApp,
            learns: Learns::Nothing,
            detail,
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
}

fn key_change<'a>(
    app: ExistingApp,
    edit: KeyEdit<'a>,
    method: &'a KeyCredentialMethod,
) -> KeyChange<'a> {
    let KeyCredentialMethod::PatchKeyCredentials { keep } = method;
    KeyChange {
        read: applications::with_key_certificates(app.object_id),
        read_back: applications::get(app.object_id),
        app,
        edit,
        keep,
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
            } => {
                let list: Vec<wire::AppRoleAssignment> = decode(listed, &path)?;
                found(
                    list.iter()
                        .any(|a| a.resource_id == *resource_id && a.app_role_id == *app_role_id),
                )
            }
            Expect::DelegatedGrant { resource_id, scope } => {
                let list: Vec<wire::OAuth2PermissionGrant> = decode(listed, &path)?;
                let existing = list
                    .iter()
                    .find(|g| g.resource_id == *resource_id && g.consent_type == "AllPrincipals");
                match existing {
                    None => Found::Missing,
                    Some(g) if same_scopes(&g.scope, scope) => Found::Matches,
                    Some(g) => Found::Differs(format!(
                        "a tenant-wide grant to this API already exists with scope `{}`, not `{scope}`",
                        g.scope
                    )),
                }
            }
            Expect::DirectoryRoleAssignment {
                role_definition_id,
                directory_scope_id,
            } => {
                let list: Vec<wire::UnifiedRoleAssignment> = decode(listed, &path)?;
                found(list.iter().any(|a| {
                    a.role_definition_id == *role_definition_id
                        && a.directory_scope_id == *directory_scope_id
                }))
            }
            Expect::Owner(owner) => {
                let list: Vec<wire::DirectoryObject> = decode(listed, &path)?;
                found(list.iter().any(|o| o.id == *owner))
            }
            Expect::FederatedCredential(wanted) => {
                let list: Vec<wire::FederatedIdentityCredential> = decode(listed, &path)?;
                federated_conflict(&list, wanted)
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

fn same_scopes(a: &str, b: &str) -> bool {
    let set = |s: &str| {
        s.split_whitespace()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
    };
    set(a) == set(b)
}

/// What holds a federated credential's name (Entra ID compares names case-insensitively) or its
/// issuer and subject (unique per app), against the credential the plan wanted.
fn federated_conflict(
    live: &[wire::FederatedIdentityCredential],
    wanted: &FederatedCredentialBody,
) -> Found {
    let by_name = live
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(&wanted.name));
    match by_name {
        Some(f) if f.name == wanted.name && same_federated(f, wanted) => Found::Matches,
        Some(f) if f.name != wanted.name => Found::Differs(format!(
            "a federated credential named `{}` already exists, and Entra ID compares names case-insensitively, so `{}` cannot be created",
            f.name, wanted.name
        )),
        Some(f) => Found::Differs(format!(
            "a federated credential named `{}` already exists with issuer `{}` and subject `{}`",
            f.name, f.issuer, f.subject
        )),
        None => match live
            .iter()
            .find(|f| f.issuer == wanted.issuer && f.subject == wanted.subject)
        {
            Some(f) => Found::Differs(format!(
                "the federated credential `{}` already has issuer `{}` and subject `{}`; Entra ID allows one credential per issuer and subject",
                f.name, f.issuer, f.subject
            )),
            None => Found::Missing,
        },
    }
}

fn same_federated(
    live: &wire::FederatedIdentityCredential,
    wanted: &FederatedCredentialBody,
) -> bool {
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    live.issuer == wanted.issuer
        && live.subject == wanted.subject
        && set(&live.audiences) == set(&wanted.audiences)
        && live.description.as_deref().filter(|d| !d.is_empty())
            == wanted.description.as_deref().filter(|d| !d.is_empty())
}

// --- plan values as Graph bodies --------------------------------------------------------------

fn required_resource_access(rra: &[RequiredResourceAccess]) -> Vec<wire::RequiredResourceAccess> {
    rra.iter()
        .map(|r| wire::RequiredResourceAccess {
            resource_app_id: r.resource_app_id,
            resource_access: r
                .resource_access
                .iter()
                .map(|a| wire::ResourceAccess {
                    id: a.id,
                    kind: match a.kind {
                        PermissionKind::Role => "Role",
                        PermissionKind::Scope => "Scope",
                    }
                    .to_owned(),
                })
                .collect(),
        })
        .collect()
}

fn application_write(b: &ApplicationBody) -> ApplicationWrite {
    let mut write = ApplicationWrite::default();
    write.display_name = Some(b.display_name.clone());
    write.description = b.description.clone().map(Some);
    write.set_sign_in_audience(&b.sign_in_audience);
    write.web = b
        .redirect_uris
        .clone()
        .map(|redirect_uris| WebRedirects { redirect_uris });
    write.tags = Some(b.tags.clone());
    write.required_resource_access = b
        .required_resource_access
        .as_deref()
        .map(required_resource_access);
    write
}

fn application_patch(p: &ApplicationPatch) -> ApplicationWrite {
    let mut write = ApplicationWrite::default();
    write.display_name = p.display_name.clone();
    write.description = p.description.clone();
    if let Some(audience) = &p.sign_in_audience {
        write.set_sign_in_audience(audience);
    }
    write.web = p
        .redirect_uris
        .clone()
        .map(|redirect_uris| WebRedirects { redirect_uris });
    write.tags = p.tags.clone();
    write.required_resource_access = p
        .required_resource_access
        .as_deref()
        .map(required_resource_access);
    write
}

fn federated_write(c: &FederatedCredentialBody) -> FederatedCredentialWrite {
    FederatedCredentialWrite {
        name: Some(c.name.clone()),
        issuer: Some(c.issuer.clone()),
        subject: Some(c.subject.clone()),
        audiences: Some(c.audiences.clone()),
        description: c.description.clone().map(Some),
    }
}

fn federated_patch(p: &FederatedCredentialPatch) -> FederatedCredentialWrite {
    FederatedCredentialWrite {
        name: None,
        issuer: p.issuer.clone(),
        subject: p.subject.clone(),
        audiences: p.audiences.clone(),
        description: p.description.clone(),
    }
}

/// The key credential for a certificate: its SHA-1 thumbprint's 20 bytes as
/// `customKeyIdentifier` (Edm.Binary, so base64), its own validity as the credential's dates.
pub fn key_credential(key: &NewKeyCredential, cert: &PublicCertificate) -> KeyCredential {
    KeyCredential {
        key_id: key.key_id,
        custom_key_identifier: Some(cert.thumbprint().to_custom_key_identifier()),
        display_name: Some(key.display_name.clone()),
        start_date_time: Some(cert.not_before()),
        end_date_time: Some(cert.not_after()),
        key: Some(cert.key_base64()),
        kind: Some("AsymmetricX509Cert".to_owned()),
        usage: Some("Verify".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::model::{AppId, FederatedCredentialId, ResourceAccess, Thumbprint};
    use crate::plan::{CertificateMaterial, FileCertificate};

    /// An RSA certificate made once with `openssl req -x509 -newkey rsa:1024 -subj
    /// /CN=exo-automation`; SHA-1 thumbprint 808ADE9B57A48263B14E3C2255A1EC79DE374122.
    const CERTIFICATE: &str = "MIIB+zCCAWSgAwIBAgIBATANBgkqhkiG9w0BAQsFADAZMRcwFQYDVQQDDA5leG8tYXV0b21hdGlvbjAeFw0yNjEyMDMxNDQ5\
MzdaFw0yNzEyMDMxNDQ5MzdaMBkxFzAVBgNVBAMMDmV4by1hdXRvbWF0aW9uMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKB\
gQDVK+EvpfJ0swsTxPpNu0ZUKbZalP80BUPnRG3IBIjz16zDyjhoRxlSsBWCWlu+4mz9ycp8hKI87a1lIF0EUUIdJNYpqUvk\
PuuJivrpTg0SOyb9vEJcObgsCsErCRT/qE/KSFlefw5Q7V6Ve6p6ES4stV+4XaQA+WMLsQ3J9G4xNwIDAQABo1MwUTAdBgNV\
HQ4EFgQUAZ1B9v3zULQyDxcRzKso9wN2D2UwHwYDVR0jBBgwFoAUAZ1B9v3zULQyDxcRzKso9wN2D2UwDwYDVR0TAQH/BAUw\
AwEB/zANBgkqhkiG9w0BAQsFAAOBgQAPA3fk1q7Hh60T410FQVZRAQDNpT6TN5eZ2tZ+bmr/oZjTKHc6MvJlNQkONqH9xLX9\
sIKq+wJ5MX4KRR4R9wOom303AcMP2AwI5CwpxhNMxW0MIpkYgnOa4RouALlfPcxcd3o9Giq2f+1H5Ir49KRJDKltSthKLmRC\
TvdqyuiG1w==";

    fn guid(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn app() -> ExistingApp {
        ExistingApp {
            object_id: ObjectId(guid(0xa1)),
            app_id: AppId(guid(0xa2)),
        }
    }

    const SP: ObjectId = ObjectId(Uuid::from_u128(0xb1));
    const EXCHANGE: ObjectId = ObjectId(Uuid::from_u128(0xe1));

    fn certificate() -> PublicCertificate {
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(CERTIFICATE)
            .unwrap();
        PublicCertificate::from_der(&der).unwrap()
    }

    fn new_key() -> NewKeyCredential {
        let cert = certificate();
        NewKeyCredential {
            key_id: KeyId(guid(0xc3)),
            display_name: "entraform:automation".into(),
            certificate: CertificateMaterial::File(FileCertificate {
                path: PathBuf::from("certs/automation.cer"),
                der: cert.der().to_vec(),
                thumbprint: cert.thumbprint(),
                not_before: cert.not_before(),
                not_after: cert.not_after(),
            }),
        }
    }

    fn federated() -> FederatedCredentialBody {
        FederatedCredentialBody {
            name: "github-main".into(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: "repo:contoso/infra:ref:refs/heads/main".into(),
            audiences: vec!["api://AzureADTokenExchange".into()],
            description: None,
        }
    }

    /// One of each operation, as a plan for the app `exo` would carry it.
    fn every_operation() -> Vec<Operation> {
        use Operation as O;
        let keep = |ids: &[u128]| KeyCredentialMethod::PatchKeyCredentials {
            keep: ids.iter().map(|n| KeyId(guid(*n))).collect(),
        };
        vec![
            O::UpsertApplication {
                unique_name: "exo".into(),
                application: ApplicationBody {
                    display_name: "Exchange automation".into(),
                    description: Some("Runs Exchange Online scripts".into()),
                    sign_in_audience: "AzureADMyOrg".into(),
                    redirect_uris: None,
                    tags: vec!["entraform:managed".into()],
                    required_resource_access: Some(vec![RequiredResourceAccess {
                        resource_app_id: AppId(guid(0xe2)),
                        resource_access: vec![ResourceAccess {
                            id: PermissionId(guid(0xf1)),
                            kind: PermissionKind::Role,
                        }],
                    }]),
                },
            },
            O::AdoptApplication {
                app: app(),
                unique_name: "exo".into(),
                patch: ApplicationPatch {
                    tags: Some(vec!["entraform:managed".into()]),
                    ..Default::default()
                },
            },
            O::UpdateApplication {
                app: app(),
                patch: ApplicationPatch {
                    display_name: Some("Exchange automation (prod)".into()),
                    description: Some(None),
                    sign_in_audience: Some("PersonalMicrosoftAccount".into()),
                    redirect_uris: Some(vec!["http://localhost".into()]),
                    ..Default::default()
                },
            },
            O::RestoreApplication { app: app() },
            O::RestoreServicePrincipal { object_id: SP },
            O::DeleteServicePrincipal { object_id: SP },
            O::DeleteApplication { app: app() },
            O::CreateServicePrincipal {
                app: AppRef::Planned("exo".into()),
            },
            O::GrantAppRole {
                principal: SpRef::Planned("exo".into()),
                resource_id: EXCHANGE,
                app_role_id: PermissionId(guid(0xf1)),
            },
            O::RevokeAppRole {
                principal: SP,
                resource_id: EXCHANGE,
                assignment_id: "41W1zT6z1U-kJxf62svfp1HFE8pMZhxDun-ThPczmJE".into(),
            },
            O::CreateDelegatedGrant {
                client: SpRef::Existing(SP),
                resource_id: EXCHANGE,
                scope: "EWS.AccessAsUser.All User.Read".into(),
            },
            O::UpdateDelegatedGrant {
                grant_id: "grant-1".into(),
                scope: "User.Read".into(),
            },
            O::DeleteDelegatedGrant {
                grant_id: "grant-1".into(),
            },
            O::AssignDirectoryRole {
                principal: SpRef::Planned("exo".into()),
                role_definition_id: RoleDefinitionId(guid(0xd1)),
                directory_scope_id: "/".into(),
            },
            O::RemoveDirectoryRole {
                assignment_id: "role-assignment-1".into(),
            },
            O::AddOwner {
                app: AppRef::Existing(app()),
                owner_id: ObjectId(guid(0x0e)),
            },
            O::RemoveOwner {
                app: app(),
                owner_id: ObjectId(guid(0x0e)),
            },
            O::AddCertificate {
                app: AppRef::Planned("exo".into()),
                key: new_key(),
                method: keep(&[0xc1]),
            },
            O::RemoveKeyCredential {
                app: app(),
                key_id: KeyId(guid(0xc1)),
                method: keep(&[0xc3]),
            },
            O::CreateFederatedCredential {
                app: AppRef::Planned("exo".into()),
                credential: federated(),
            },
            O::UpdateFederatedCredential {
                app: app(),
                id: FederatedCredentialId(guid(0xfc)),
                patch: FederatedCredentialPatch {
                    subject: Some("repo:contoso/infra:environment:prod".into()),
                    description: Some(None),
                    ..Default::default()
                },
            },
            O::DeleteFederatedCredential {
                app: app(),
                id: FederatedCredentialId(guid(0xfc)),
            },
        ]
    }

    /// Which variant `op` is; no wildcard, so a new variant fails to compile here until it
    /// has an example above.
    fn variant(op: &Operation) -> usize {
        use Operation as O;
        match op {
            O::UpsertApplication { .. } => 0,
            O::AdoptApplication { .. } => 1,
            O::UpdateApplication { .. } => 2,
            O::RestoreApplication { .. } => 3,
            O::RestoreServicePrincipal { .. } => 4,
            O::DeleteServicePrincipal { .. } => 5,
            O::DeleteApplication { .. } => 6,
            O::CreateServicePrincipal { .. } => 7,
            O::GrantAppRole { .. } => 8,
            O::RevokeAppRole { .. } => 9,
            O::CreateDelegatedGrant { .. } => 10,
            O::UpdateDelegatedGrant { .. } => 11,
            O::DeleteDelegatedGrant { .. } => 12,
            O::AssignDirectoryRole { .. } => 13,
            O::RemoveDirectoryRole { .. } => 14,
            O::AddOwner { .. } => 15,
            O::RemoveOwner { .. } => 16,
            O::AddCertificate { .. } => 17,
            O::RemoveKeyCredential { .. } => 18,
            O::CreateFederatedCredential { .. } => 19,
            O::UpdateFederatedCredential { .. } => 20,
            O::DeleteFederatedCredential { .. } => 21,
        }
    }

    /// What earlier steps of the run resolved for the app `exo`.
    fn resolved() -> Resolved {
        Resolved {
            name: "exo".into(),
            app: Some(app()),
            service_principal: Some(SP),
            display_name: Some("Exchange automation".into()),
            graph_resource: "https://graph.microsoft.com".into(),
        }
    }

    /// A request as the golden file shows it: certificate bytes shortened.
    fn show(request: &Request) -> String {
        let mut shown = request.clone();
        if let Some(keys) = shown
            .body
            .as_mut()
            .and_then(|b| b.get_mut("keyCredentials"))
            .and_then(Value::as_array_mut)
        {
            for key in keys {
                if key.get("key").is_some() {
                    key["key"] = json!("<certificate DER, base64>");
                }
            }
        }
        shown.to_string()
    }

    /// What an operation refers to, in words.
    fn refers(refs: &References) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(app) = refs.app {
            out.push(format!("application {app:?}"));
        }
        if let Some(sp) = refs.service_principal {
            out.push(format!("service principal {sp:?}"));
        }
        if refs.display_name {
            out.push("the application's display name".into());
        }
        if let Some(app) = refs.existing_app {
            out.push(format!("remembers {app:?}"));
        }
        if let Some(name) = refs.new_display_name {
            out.push(format!("remembers display name {name:?}"));
        }
        out
    }

    fn render(op: &Operation) -> String {
        let step = step(op, &resolved()).unwrap();
        let mut out = format!("{}\n", serde_json::to_value(op).unwrap()["op"]);
        let mut line = |label: &str, text: String| out.push_str(&format!("  {label:<10} {text}\n"));
        let refs = refers(&references(op));
        if !refs.is_empty() {
            line("resolves", refs.join("; "));
        }
        match &step.write {
            Write::Upsert(u) => {
                line("send", show(&u.request));
                line("ids", show(&u.read));
                if let Some(holder) = &u.deleted_holder {
                    line("if held", show(&holder.read));
                }
                line("proven by", "201 with the object, else the ids read".into());
            }
            Write::Create(c) => {
                line("send", show(&c.request));
                line("consent", format!("{:?}", c.consent));
                line("unique by", format!("{:?}", c.unique_by));
                line("if exists", show(&c.confirm.read));
                line("expect", format!("{:?}", c.confirm.expect));
                line("proven by", "201, else the read above showing it".into());
            }
            Write::Update { request, consent } => {
                line("send", show(request));
                line("consent", format!("{consent:?}"));
                line("proven by", "the run's closing plan (settle)".into());
            }
            Write::Delete(request) => {
                line("send", show(request));
                line("proven by", "the run's closing plan (settle)".into());
            }
            Write::Restore { request, read_back } => {
                line("send", show(request));
                line("if gone", show(read_back));
                line("proven by", "the run's closing plan (settle)".into());
            }
            Write::Keys(change) => {
                line("read", show(&change.read));
                let edit = match change.edit {
                    KeyEdit::Add(key) => format!("add {} ({})", key.key_id, key.display_name),
                    KeyEdit::Remove(id) => format!("remove {id}"),
                };
                line(
                    "check",
                    format!("the set is {:?}; then {edit}", change.keep),
                );
                let mut keys: Vec<KeyCredential> = change
                    .keep
                    .iter()
                    .map(|id| KeyCredential {
                        key_id: *id,
                        custom_key_identifier: None,
                        display_name: None,
                        start_date_time: None,
                        end_date_time: None,
                        key: Some("MIIC".into()),
                        kind: Some("AsymmetricX509Cert".into()),
                        usage: Some("Verify".into()),
                    })
                    .collect();
                if let KeyEdit::Add(key) = change.edit {
                    keys.push(key_credential(key, &certificate()));
                }
                line("send", show(&change.write(&keys)));
                line(
                    "proven by",
                    format!("{} (key reads in a row)", show(&change.read_back)),
                );
            }
        }
        line("depends", format!("{:?}", step.depends));
        line("learns", format!("{:?}", step.learns));
        line("detail", format!("{:?}", step.detail));
        // The example ids differ in their last digits only.
        out.replace("00000000-0000-0000-0000-0000000000", "…")
    }

    #[test]
    fn every_operations_requests() {
        let ops = every_operation();
        let covered: BTreeSet<usize> = ops.iter().map(variant).collect();
        assert_eq!(covered.len(), 22, "one example per variant");
        let text: String = ops.iter().map(render).collect::<Vec<_>>().join("\n");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_reference_the_run_did_not_resolve_is_an_error_not_a_request() {
        let op = Operation::GrantAppRole {
            principal: SpRef::Planned("exo".into()),
            resource_id: EXCHANGE,
            app_role_id: PermissionId(guid(0xf1)),
        };
        let unresolved = Resolved {
            service_principal: None,
            ..resolved()
        };
        let err = step(&op, &unresolved).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`exo` has no service principal yet: the step that creates it did not complete"
        );
    }

    #[test]
    fn a_certificates_key_credential_names_it_by_its_thumbprints_bytes() {
        let key = key_credential(&new_key(), &certificate());
        let thumbprint: Thumbprint = "808ADE9B57A48263B14E3C2255A1EC79DE374122".parse().unwrap();
        assert_eq!(
            key.custom_key_identifier.as_deref(),
            Some(thumbprint.to_custom_key_identifier().as_str())
        );
        assert_eq!(key.key.as_deref(), Some(CERTIFICATE));
    }

    #[test]
    fn a_confirmation_tells_the_plans_object_from_another_writers() {
        let read = applications::federated_credentials(app().object_id);
        let wanted = federated();
        let live = |name: &str, subject: &str| {
            json!({"id": guid(0xfc).to_string(), "name": name, "issuer": wanted.issuer,
                   "subject": subject, "audiences": wanted.audiences})
        };
        let expect = Expect::FederatedCredential(&wanted);
        assert_eq!(
            expect
                .judge(vec![live("github-main", &wanted.subject)], &read)
                .unwrap(),
            Found::Matches
        );
        let differs = expect
            .judge(vec![live("GitHub-Main", &wanted.subject)], &read)
            .unwrap();
        assert!(
            matches!(&differs, Found::Differs(why) if why.contains("case-insensitively")),
            "{differs:?}"
        );
        assert_eq!(expect.judge(vec![], &read).unwrap(), Found::Missing);

        let grant = Expect::DelegatedGrant {
            resource_id: EXCHANGE,
            scope: "User.Read openid",
        };
        let listed = |scope: &str| {
            vec![
                json!({"id": "g", "clientId": SP.to_string(), "consentType": "AllPrincipals",
                        "resourceId": EXCHANGE.to_string(), "scope": scope}),
            ]
        };
        let read = permission_grants::of_client(SP);
        assert_eq!(
            grant.judge(listed(" openid  User.Read"), &read).unwrap(),
            Found::Matches
        );
        assert!(matches!(
            grant.judge(listed("User.Read"), &read).unwrap(),
            Found::Differs(_)
        ));
    }
}
