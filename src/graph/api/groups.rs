//! `/groups`: the groups a manifest assigns to the app's roles.

use super::{Query, Request};

/// Groups matching `filter`, by id and display name (`displayName` and `id` take `eq` and
/// `in`: group-list, "Optional query parameters").
pub fn identities_where(filter: &str) -> Request {
    Request::get("/groups").with_query(Query::default().filter(filter).select("id,displayName"))
}
