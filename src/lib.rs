//! entraform manages Microsoft Entra ID app registrations from YAML manifests.
//!
//! The program is a pipeline, **manifest → desired model → live model → planner → plan → apply**,
//! with a pure middle and IO at the edges. A map for readers:
//!
//! | module | owns | IO? |
//! |---|---|---|
//! | [`cli`] | clap types, one thin file per command, exit codes | yes |
//! | [`output`] | the only writer to stdout/stderr; colour rules | yes |
//! | [`style`] | colours and escaping values from outside, for every renderer | no |
//! | [`manifest`] | manifest language: raw types, schema, loading with positions, validation | reads files |
//! | [`model`] | ids, desired state, live state | no |
//! | [`planner`] | (desired, live) → a plan: every change and the operations behind it | no |
//! | [`plan`] | the types of a plan (actions, changes, operations) and their codecs: text, markdown, JSON, the plan file | no |
//! | [`export`] | live apps → manifest YAML, and what the manifest language cannot express | no |
//! | [`graph`] | Microsoft Graph + token endpoint client: auth, retries, paging, batching | yes |
//! | [`keyvault`] | Azure Key Vault client: certificate import and read, the bearer challenge | yes |
//! | [`observe`] | reads the tenant into the live model, with fingerprints | yes |
//! | [`read_progress`] | how far a read of the tenant has got, and the line a command shows for it | yes |
//! | [`ops`] | what commands do, step by step: IO around the pure core; reading and writing plan files | yes |
//! | [`apply`] | executes a plan in dependency order | yes |
//! | [`report`] | what `certs` and `test-login` print: built from read data, rendered | no |
//! | [`cert`] | certificate generation, PFX/CER, thumbprints, client assertions | files |
//! | [`hint`] | the `hint:` every layer's error may give; imports nothing | no |
//! | [`diagnostic`] | an error that points at a line: `--> file:line:column`, the line, carets; imports nothing | no |
//! | [`local_file`] | reading a named file: regular files only, with a size limit | reads files |
//! | [`sandbox`] | the local tenant: a faithful Graph + token endpoint emulator | yes |
//!
//! The sandbox and the Graph client share no wire types: each reads and writes Graph's JSON on
//! its own, so a misnamed field cannot agree with itself and hide. The sandbox is its own
//! package, which does not depend on this one.

pub mod apply;
pub mod cert;
pub mod cli;
pub mod diagnostic;
pub mod export;
pub mod graph;
pub mod hint;
pub mod keyvault;
pub mod manifest;
pub mod model;
pub mod observe;
pub mod ops;
pub mod output;
pub mod plan;
pub mod planner;
pub mod read_progress;
pub mod report;
pub mod secret;
pub mod style;
pub mod version;

// Packages of their own in this workspace, at their old paths.
pub use entraform_local_file as local_file;
pub use entraform_sandbox as sandbox;

pub use ops::error::{Error, Result};
