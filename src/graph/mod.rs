//! The only door to a tenant: HTTP client, authentication, retries, paging, `$batch`, wire DTOs
//! and Graph errors.

use crate::error::Hint;

#[derive(Debug, thiserror::Error)]
pub enum GraphError {}

impl Hint for GraphError {}
