//! The one integration-test binary (one link instead of one per file): a module per area.

mod apply_cli;
mod apply_execute;
mod apply_faults;
mod apply_golden;
mod apply_kill;
mod apply_support;
mod cert;
mod cert_openssl;
mod certs_cli;
mod certs_report;
mod certs_seed;
mod cli;
mod common;
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
mod rotation;
mod sandbox_contract;
mod sandbox_durability;
mod sandbox_faults;
mod sandbox_serve;
mod sandbox_tokens;
mod sandbox_util;
#[path = "../support/scale.rs"]
mod scale;
mod test_login;
mod test_login_report;
