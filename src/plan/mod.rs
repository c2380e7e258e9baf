//! Plans: typed actions and changes, text/markdown/JSON rendering, the saved plan file. No IO
//! beyond reading and writing the plan file itself.

use crate::error::Hint;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {}

impl Hint for PlanError {}
