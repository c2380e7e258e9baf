//! `/users`: the people a manifest names as owners or assigns to the app's roles.

use super::{Query, Request};

/// Users matching `filter`, by id and user principal name.
pub fn identities_where(filter: &str) -> Request {
    Request::get("/users").with_query(
        Query::default()
            .filter(filter)
            .select("id,userPrincipalName"),
    )
}
