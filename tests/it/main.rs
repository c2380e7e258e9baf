//! The one integration-test binary (one link instead of one per file): a module per area.

mod cli;
mod common;
mod sandbox_contract;
mod sandbox_durability;
mod sandbox_faults;
mod sandbox_serve;
mod sandbox_tokens;
mod sandbox_util;
