//! The one integration-test binary (one link instead of one per file): a module per area.

mod cli;
mod common;
mod plan;
