//! `entraform sandbox reset`: delete the tenant, then find the certificate files its keys were
//! written to (PFX and CER files at the paths the manifests name, and the previous files kept
//! beside them) and offer to remove them: their keys exist nowhere any more.

use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use crate::Result;
use crate::manifest::{self, ManifestError};
use crate::model::DesiredApp;
use crate::output::Printer;
use crate::sandbox::{self, ResetTenant};
use crate::style::escape;

#[derive(Debug, Clone)]
pub struct ResetRequest {
    pub state: PathBuf,
    /// Manifests whose certificate files to check.
    pub paths: Vec<PathBuf>,
    pub recursive: bool,
}

pub async fn reset(request: &ResetRequest, printer: &Printer) -> Result<()> {
    let state = request.state.clone();
    let reset = tokio::task::spawn_blocking(move || sandbox::reset(&state))
        .await
        .map_err(|e| crate::Error::io("the reset stopped", std::io::Error::other(e)))??;
    let shown = escape(&request.state.to_string_lossy()).into_owned();
    let Some(tenant) = reset else {
        printer.status(&format!("No sandbox tenant at `{shown}`."));
        return Ok(());
    };
    printer.status(&format!("Deleted the sandbox tenant in `{shown}`."));
    if tenant.keys.is_empty() {
        return Ok(());
    }
    let apps = match manifest::load(&request.paths, request.recursive) {
        Ok(m) => m.apps,
        // No manifests here: nothing names a certificate file, so there is nothing to find.
        Err(ManifestError::NotFound { .. } | ManifestError::NoManifests { .. }) => return Ok(()),
        Err(e) => {
            printer.warn(&format!(
                "cannot look for certificate files of the deleted tenant: {}",
                e.to_string().lines().next().unwrap_or_default()
            ));
            return Ok(());
        }
    };
    let files = files_of_tenant(&apps, &tenant);
    if files.is_empty() {
        return Ok(());
    }
    let mut list =
        "These certificate files hold keys of the deleted tenant, which no tenant has now:\n"
            .to_owned();
    for f in &files {
        list.push_str(&format!("  {}\n", escape(&f.to_string_lossy())));
    }
    printer.status(list.trim_end());
    if !std::io::stdin().is_terminal() {
        printer.hint("remove them yourself, or run `entraform sandbox reset` at a terminal to be asked; nothing was removed");
        return Ok(());
    }
    let question = format!("Remove these {} files? [y/N] ", files.len());
    if !yes(&super::ask(printer, &question).await?) {
        printer.status("Kept them.");
        return Ok(());
    }
    for f in &files {
        std::fs::remove_file(f)
            .map_err(|e| crate::Error::io(format!("cannot remove `{}`", f.display()), e))?;
    }
    printer.status(&format!("Removed {} files.", files.len()));
    Ok(())
}

fn yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// The PFX and CER files the manifests name for generated certificates, and the previous files
/// entraform kept beside them, whose certificate is one of `tenant`'s keys (read from the file
/// itself, never guessed from its name).
pub fn files_of_tenant(apps: &[DesiredApp], tenant: &ResetTenant) -> Vec<PathBuf> {
    let thumbprints: BTreeSet<&str> = tenant
        .keys
        .iter()
        .filter_map(|k| k.thumbprint.as_deref())
        .collect();
    let mut found = BTreeSet::new();
    for path in super::generated_certificate_files(apps) {
        let candidates =
            std::iter::once(path.clone()).chain(crate::cert::kept_previous_files(&path));
        for candidate in candidates {
            let ours = crate::local_file::is_regular(&candidate)
                && crate::cert::written_file_thumbprint(&candidate)
                    .is_some_and(|t| thumbprints.contains(t.to_string().as_str()));
            if ours {
                found.insert(candidate);
            }
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_removes() {
        assert!(yes("y\n"));
        assert!(yes(" YES "));
        assert!(!yes("\n"));
        assert!(!yes("no"));
        assert!(!yes("yes please"));
    }
}
