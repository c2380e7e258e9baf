use clap::{Args, ValueEnum};

use super::{Context, ManifestPaths, Outcome};
use crate::error::Result;

#[derive(Debug, Args)]
pub struct CertsArgs {
    #[command(flatten)]
    pub manifests: ManifestPaths,

    /// Flag certificates expiring within this many days (default: each certificate's renewBefore)
    #[arg(long, value_name = "DAYS")]
    pub within: Option<u32>,

    /// Report every app the caller can read, not only managed ones
    #[arg(long)]
    pub all: bool,

    /// Output format on stdout
    #[arg(long, value_enum, default_value_t = CertsFormat::Table)]
    pub format: CertsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertsFormat {
    Table,
    Json,
}

pub async fn run(args: CertsArgs, ctx: &Context) -> Result<Outcome> {
    let _ = (args, ctx);
    Err(crate::Error::usage("`certs` is not implemented yet"))
}
