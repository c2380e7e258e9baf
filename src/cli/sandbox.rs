use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Context, Outcome};
use crate::error::Result;

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the sandbox tenant over HTTP(S) until interrupted
    #[command(after_help = "Example:\n  entraform sandbox serve --listen 127.0.0.1:8443 --tls")]
    Serve(ServeArgs),
    /// Delete the sandbox state and start over with a fresh tenant
    Reset,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; anything but loopback must be named explicitly
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,

    /// State file (default: the global --sandbox-state)
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Serve HTTPS with a freshly generated CA, written next to the state file
    #[arg(long)]
    pub tls: bool,

    /// Print the connection details as one JSON line
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cmd: SandboxCommand, ctx: &Context) -> Result<Outcome> {
    let _ = (cmd, ctx);
    Err(crate::Error::usage("`sandbox` is not implemented yet"))
}
