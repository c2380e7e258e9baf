//! `/directory/deletedItems`: applications and service principals deleted in the last 30 days
//! (Graph requires the type cast to list them).

use super::{Query, Request};
use crate::graph::RetrySafety;
use crate::model::ObjectId;

const APPLICATIONS: &str = "/directory/deletedItems/microsoft.graph.application";
const SERVICE_PRINCIPALS: &str = "/directory/deletedItems/microsoft.graph.servicePrincipal";

/// Deleted applications matching `filter` with their federated credentials, as a plan
/// compares them before offering a restore.
pub fn applications_with_federated_credentials_where(filter: &str) -> Request {
    Request::get(APPLICATIONS).with_query(
        Query::default()
            .filter(filter)
            .expand("federatedIdentityCredentials"),
    )
}

/// The owners of the deleted applications matching `filter`.
pub fn application_owners_where(filter: &str) -> Request {
    Request::get(APPLICATIONS).with_query(
        Query::default()
            .filter(filter)
            .select("id")
            .expand("owners"),
    )
}

/// The deleted application holding `unique_name`, if any: Entra ID keeps a deleted
/// application's `uniqueName` for 30 days.
pub fn applications_holding(unique_name: &str) -> Request {
    Request::get(APPLICATIONS).with_query(
        Query::default()
            .filter(&super::filter::unique_name_is(unique_name))
            .select("id,appId,deletedDateTime"),
    )
}

/// Deleted service principals matching `filter`.
pub fn service_principals_where(filter: &str) -> Request {
    Request::get(SERVICE_PRINCIPALS).with_query(Query::default().filter(filter).select("id,appId"))
}

/// `POST /directory/deletedItems/{id}/restore`: the object comes back with its ids. Graph's
/// reference: "Do not supply a request body for this method."
pub fn restore(id: ObjectId) -> Request {
    Request::bodiless(
        reqwest::Method::POST,
        format!("/directory/deletedItems/{id}/restore"),
        RetrySafety::Idempotent,
    )
}
