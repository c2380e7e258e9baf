//! Certificates: RSA generation (rcgen), PFX and CER export, thumbprints, client assertions.

use crate::error::Hint;

#[derive(Debug, thiserror::Error)]
pub enum CertError {}

impl Hint for CertError {}
