//! Every Graph request entraform makes, in one place: a small constructor per request, named for
//! what it reads or writes, with its path, query, headers and typed body. Nothing here sends; the
//! client sends a [`Request`] alone or packs it into a `$batch`.
//!
//! | file | Graph resource |
//! |---|---|
//! | `applications` | `/applications`: the app, its owners, key and federated credentials |
//! | `service_principals` | `/servicePrincipals`: enterprise apps, their app role assignments |
//! | `permission_grants` | `/oauth2PermissionGrants`: delegated permissions consented |
//! | `directory_roles` | `/roleManagement/directory`: role definitions and assignments |
//! | `deleted_items` | `/directory/deletedItems`: soft-deleted apps and service principals |
//! | `users`, `organization` | names owners resolve against; the tenant's domains |
//! | [`filter`] | `$filter` expressions, `in (…)` lists packed to Graph's limit |
//!
//! Write bodies are typed here, next to the request that sends them, with Graph's property
//! names; reads decode into [`super::types`]. Read constructors name their `$select` so a read
//! asks for what its callers decode, no more: some properties (`keyCredentials` with `key`)
//! cost a much lower throttling limit.

pub mod applications;
pub mod deleted_items;
pub mod directory_roles;
pub mod groups;
pub mod organization;
pub mod permission_grants;
pub mod service_principals;
pub mod users;

pub use super::request::{Query, Request, body};

/// `$filter` expressions. `…_in` lists are packed [`IN_FILTER_LIMIT`](super::IN_FILTER_LIMIT)
/// values a clause (one request each); `…_is` is one value.
pub mod filter {
    use super::super::paging::{in_filter_chunks, in_filters, quote};

    /// A filter and the positions of the values it asks for (see [`in_filter_chunks`]).
    pub type Chunk = (String, Vec<usize>);

    pub fn unique_name_chunks(names: &[impl AsRef<str>]) -> Vec<Chunk> {
        in_filter_chunks("uniqueName", names)
    }

    pub fn app_id_chunks(app_ids: &[impl AsRef<str>]) -> Vec<Chunk> {
        in_filter_chunks("appId", app_ids)
    }

    pub fn principal_id_chunks(ids: &[impl AsRef<str>]) -> Vec<Chunk> {
        in_filter_chunks("principalId", ids)
    }

    pub fn unique_name_in(names: &[impl AsRef<str>]) -> Vec<String> {
        in_filters("uniqueName", names)
    }

    pub fn app_id_in(app_ids: &[impl AsRef<str>]) -> Vec<String> {
        in_filters("appId", app_ids)
    }

    pub fn id_in(ids: &[impl AsRef<str>]) -> Vec<String> {
        in_filters("id", ids)
    }

    pub fn principal_id_in(ids: &[impl AsRef<str>]) -> Vec<String> {
        in_filters("principalId", ids)
    }

    pub fn user_principal_name_in(upns: &[impl AsRef<str>]) -> Vec<String> {
        in_filters("userPrincipalName", upns)
    }

    pub fn display_name_in(names: &[impl AsRef<str>]) -> Vec<String> {
        in_filters("displayName", names)
    }

    pub fn app_id_is(app_id: &str) -> String {
        format!("appId eq {}", quote(app_id))
    }

    pub fn display_name_is(name: &str) -> String {
        format!("displayName eq {}", quote(name))
    }

    pub fn unique_name_is(name: &str) -> String {
        format!("uniqueName eq {}", quote(name))
    }

    pub fn client_id_is(id: &str) -> String {
        format!("clientId eq {}", quote(id))
    }

    pub fn principal_id_is(id: &str) -> String {
        format!("principalId eq {}", quote(id))
    }

    /// Objects carrying `tag` among their `tags`.
    pub fn tagged(tag: &str) -> String {
        format!("tags/any(t:t eq {})", quote(tag))
    }
}
