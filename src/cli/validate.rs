use clap::Args;

use super::{Context, ManifestPaths, Outcome};
use crate::error::Result;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub manifests: ManifestPaths,
}

pub fn run(args: ValidateArgs, ctx: &Context) -> Result<Outcome> {
    let _ = (args, ctx);
    Err(crate::Error::usage("`validate` is not implemented yet"))
}
