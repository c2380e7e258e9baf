//! Reports that are not plans: what `entraform certs` and `entraform test-login` print. Pure:
//! each is built from data the command already read and rendered to a `String`; only
//! [`crate::output`] writes it out.
//!
//! | file | owns |
//! |---|---|
//! | `certs` | every certificate's days left and renewal window; the table and the JSON document |
//! | `login` | an app's own sign-in: the token's claims (`roles`, `wids`) and how they print |
//! | `prometheus` | the certificate report as Prometheus text, for node_exporter's textfile collector |

pub mod certs;
pub mod login;
pub mod prometheus;
