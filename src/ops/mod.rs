//! What commands do, step by step: the IO in order around the pure core. Commands in `cli/`
//! parse flags and call these (cargo keeps the same split between `commands/` and `ops/`).

pub mod apply;
pub mod certs;
pub mod error;
pub mod export;
pub mod plan;
pub mod plan_file;
pub mod sandbox;
pub mod test_login;

use std::path::PathBuf;

use crate::Result;
use crate::model::{CertificateSource, DesiredApp};
use crate::output::Printer;

/// Asks on stderr and reads one line of answer from stdin (the caller checks for a terminal).
pub(crate) async fn ask(printer: &Printer, question: &str) -> Result<String> {
    printer.prompt(question);
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| crate::Error::io("cannot read the answer", std::io::Error::other(e)))?
    .map_err(|e| crate::Error::io("cannot read the answer from stdin", e))
}

/// Every PFX and CER path of a generated certificate in `apps`: the files entraform writes.
pub fn generated_certificate_files(apps: &[DesiredApp]) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for app in apps {
        for spec in app.certificates.iter().flatten() {
            if let CertificateSource::Generate(g) = &spec.source {
                paths.extend(g.pfx.clone());
                paths.extend(g.cer.clone());
            }
        }
    }
    paths
}
