//! `/organization`: the tenant itself.

use super::{Query, Request};

/// The tenant and its verified domains (needs `Organization.Read.All`).
pub fn domains() -> Request {
    Request::get("/organization").with_query(Query::default().select("id,verifiedDomains"))
}
