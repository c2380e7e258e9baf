use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Context, ManifestPaths, Outcome};
use crate::error::Result;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub manifests: ManifestPaths,

    /// Output format on stdout
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,

    /// Save the plan for `entraform apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 0 when there are no changes, 2 when there are (1 on error)
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Also delete managed applications that no manifest mentions
    #[arg(long)]
    pub prune: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

pub async fn run(args: PlanArgs, ctx: &Context) -> Result<Outcome> {
    let _ = (args, ctx);
    Err(crate::Error::usage("`plan` is not implemented yet"))
}
