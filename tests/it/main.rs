//! The one integration-test binary (one link instead of one per file): a module per area.

mod apply_execute;
mod apply_support;
mod cert;
mod cert_openssl;
mod cli;
mod common;
mod export;
mod export_sandbox;
mod graph_auth;
mod graph_batch;
mod graph_faults;
mod graph_paging;
mod graph_redaction;
mod graph_retry;
mod graph_support;
mod manifest;
mod manifest_props;
mod plan;
mod plan_budget;
mod plan_e2e;
mod sandbox_contract;
mod sandbox_durability;
mod sandbox_faults;
mod sandbox_serve;
mod sandbox_tokens;
mod sandbox_util;
#[path = "../support/scale.rs"]
mod scale;
