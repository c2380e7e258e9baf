//! Manifests: raw serde + schemars types, loading with line/column, validation into
//! [`crate::model::DesiredApp`].

use crate::error::Hint;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {}

impl Hint for ManifestError {}
