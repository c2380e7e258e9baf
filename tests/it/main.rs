//! The one integration-test binary (one link instead of one per file): a module per area.

mod common;
mod cli;
