//! The local tenant: a Graph v1.0 and token-endpoint emulator over real HTTP, persisted to a file.

use crate::error::Hint;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {}

impl Hint for SandboxError {}
