use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Context, Outcome};
use crate::error::Result;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Manifest files or folders, or one saved plan file (from `plan --out`)
    #[arg(value_name = "PATH|PLANFILE", default_value = "manifests")]
    pub paths: Vec<PathBuf>,

    /// Also load manifests from sub-folders
    #[arg(short, long)]
    pub recursive: bool,

    /// Apply without asking for confirmation (required without a terminal)
    #[arg(long)]
    pub auto_approve: bool,

    /// Also delete managed applications that no manifest mentions
    #[arg(long)]
    pub prune: bool,

    /// Format of the outputs printed after a successful apply
    #[arg(long, value_enum, default_value_t = ApplyFormat::Text)]
    pub format: ApplyFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    Text,
    Json,
}

pub async fn run(args: ApplyArgs, ctx: &Context) -> Result<Outcome> {
    let _ = (args, ctx);
    Err(crate::Error::usage("`apply` is not implemented yet"))
}
