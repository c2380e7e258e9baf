//! `/roleManagement/directory`: directory role definitions and their assignments.

use serde::Serialize;

use super::{Query, Request, body};
use crate::graph::RetrySafety;
use crate::model::{ObjectId, RoleDefinitionId};

const ASSIGNMENTS: &str = "/roleManagement/directory/roleAssignments";

/// Every role definition, built-in and custom, with the template id tokens' `wids` carry.
pub fn definitions() -> Request {
    Request::get("/roleManagement/directory/roleDefinitions")
        .with_query(Query::default().select("id,displayName,templateId,isBuiltIn"))
}

/// Role assignments matching `filter` (by principal).
pub fn assignments_where(filter: &str) -> Request {
    Request::get(ASSIGNMENTS).with_query(Query::default().filter(filter))
}

/// `POST /roleManagement/directory/roleAssignments`.
pub fn assign(assignment: &RoleAssignmentWrite) -> Request {
    Request::post(ASSIGNMENTS, body(assignment), RetrySafety::NotIdempotent)
}

/// `DELETE /roleManagement/directory/roleAssignments/{id}`.
pub fn remove_assignment(id: &str) -> Request {
    Request::delete(format!("{ASSIGNMENTS}/{id}"), RetrySafety::Idempotent)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentWrite {
    pub role_definition_id: RoleDefinitionId,
    pub principal_id: ObjectId,
    /// `/` for the whole tenant.
    pub directory_scope_id: String,
}
