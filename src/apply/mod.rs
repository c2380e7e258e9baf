//! Executing a plan: ordering, concurrency, eventual-consistency waits, progress.

use crate::error::Hint;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {}

impl Hint for ApplyError {}
