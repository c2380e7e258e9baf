//! The error commands return: one variant per layer, each layer owning its own enum with
//! context (Omicron's rule: never repeat a source inside a message; the printer walks the chain
//! once). It lives with the commands because it names every layer; the layers share only
//! [`Hint`].

use crate::hint::Hint;
use crate::sandbox::SandboxError;

// The sandbox's hints name entraform's commands and flags, so they live on this side.
impl Hint for SandboxError {
    fn hint(&self) -> Option<String> {
        match self {
            SandboxError::CorruptState { .. } | SandboxError::UnsupportedStateVersion { .. } => {
                Some("run `entraform sandbox reset` to start over with a fresh tenant".into())
            }
            SandboxError::NonLoopback { addr } => Some(format!(
                "anyone who can reach `{addr}` can act as the tenant's admin; to serve beyond this machine anyway, pass `--listen {addr} --tls --allow-remote`"
            )),
            SandboxError::ServerRunning { holder, .. } => Some(format!(
                "drop `--sandbox` and pass `--graph-url {url} --login-url {url}{tenant}` with AZURE_CLIENT_ID and AZURE_CLIENT_SECRET as `sandbox serve` printed them; or stop the server first",
                url = holder.graph_url.as_deref().unwrap_or("<url>"),
                tenant = holder
                    .tenant_id
                    .as_deref()
                    .map(|t| format!(" --tenant {t}"))
                    .unwrap_or_default(),
            )),
            SandboxError::StateInUse { .. } => Some(
                "wait for that command to finish (or stop it), or give this one its own `--sandbox-state`"
                    .into(),
            ),
            SandboxError::NotAState { .. } => Some(
                "`sandbox reset` deletes only a sandbox state file; check `--state` / `--sandbox-state`"
                    .into(),
            ),
            SandboxError::Bind { .. } => {
                Some("pick another port, or `--listen 127.0.0.1:0` for any free one".into())
            }
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Cert(#[from] crate::cert::CertError),
    #[error(transparent)]
    KeyVault(#[from] crate::keyvault::KeyVaultError),
    #[error(transparent)]
    Plan(#[from] crate::planner::PlanError),
    #[error(transparent)]
    PlanFile(#[from] crate::ops::plan_file::PlanFileError),
    #[error(transparent)]
    Apply(#[from] crate::apply::ApplyError),
    #[error(transparent)]
    Export(#[from] crate::ops::export::ExportError),
    /// The command line asked for something that cannot be done as asked.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage_with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Error::Manifest(e) => e.hint(),
            Error::Graph(e) => e.hint(),
            Error::Sandbox(e) => e.hint(),
            Error::Cert(e) => e.hint(),
            Error::KeyVault(e) => e.hint(),
            Error::Plan(e) => e.hint(),
            Error::PlanFile(e) => e.hint(),
            Error::Apply(e) => e.hint(),
            Error::Export(e) => e.hint(),
            Error::Usage { hint, .. } => hint.clone(),
            Error::Io { .. } => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
