//! The only door to a tenant: HTTP client, authentication, retries, paging, `$batch`, wire DTOs
//! and Graph errors.
//!
//! | file | owns |
//! |---|---|
//! | `endpoints` | clouds, `--graph-url`/`--login-url` rules (https, or http to loopback only) |
//! | `credential` | choosing a credential from flags and `AZURE_*` variables, in Azure SDK order |
//! | `token` | the token endpoint and the Azure CLI; the in-memory token cache |
//! | `api` | every request entraform makes: paths, queries, headers, typed write bodies |
//! | `request` | [`Request`]: one request described (method, path, query, headers, body) |
//! | `client` | [`GraphClient`]: one send path with retries, bounded concurrency, counters |
//! | `retry` | the retry table, `Retry-After`, backoff (pure) |
//! | `paging`, `batch` | page sizes and `in (…)` filters; `$batch` grouping, part retries, merging |
//! | `types` | Graph's JSON shapes (never shared with the sandbox) |
//! | `redact` | [`Secret`] and redaction of traced bodies and server messages |
//! | `tls` | extra CA certificates (`--ca-cert`), naming the CA behind a refused certificate |
//! | `error` | [`GraphError`], sign-in errors with AADSTS hints, permission hints for 403s |

pub mod api;
mod batch;
mod client;
mod credential;
pub(crate) mod endpoints;
mod error;
mod paging;
pub mod redact;
mod request;
pub mod retry;
mod tls;
mod token;
pub mod types;

pub use crate::cert::AssertionAlg;
pub use batch::{BATCH_LIMIT, BatchOutcome, BatchRequest, BatchResponse, plan_groups};
pub(crate) use client::{BodyError, read_body};
pub use client::{ClientConfig, GraphClient, RequestStats, Response, http_client};
pub use credential::{
    AuthOptions, Credential, CredentialPlan, CredentialSource, EnvSnapshot, SandboxAdmin,
    load_certificate, plan_credential, resolve_credential,
};
pub use endpoints::{Cloud, GraphEndpoints};
pub(crate) use error::decode_json;
pub use error::{
    ErrorDetail, GraphError, HttpError, SignInError, aadsts_hint, decode_value, permission_for,
};
pub use paging::{IN_FILTER_LIMIT, in_filters, quote, with_page_size};
pub use redact::Secret;
pub use request::{CREATE_IF_MISSING, EVENTUAL_CONSISTENCY, Query, Request};
pub use retry::{RetryPolicy, RetrySafety};
pub use tls::load_ca_certificates;
pub use token::{AccessToken, acquire_token};
