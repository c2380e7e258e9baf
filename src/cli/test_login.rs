use std::path::PathBuf;

use clap::Args;

use super::{Context, ManifestPaths, Outcome};
use crate::error::Result;

#[derive(Debug, Args)]
pub struct TestLoginArgs {
    /// The app's metadata.name in the manifests
    #[arg(long, value_name = "NAME")]
    pub app: String,

    /// PFX to sign in with (default: the app's generated certificate's pfx)
    #[arg(long, value_name = "FILE")]
    pub pfx: Option<PathBuf>,

    /// The resource to ask a token for
    #[arg(long, default_value = "https://graph.microsoft.com/.default")]
    pub scope: String,

    #[command(flatten)]
    pub manifests: ManifestPaths,
}

pub async fn run(args: TestLoginArgs, ctx: &Context) -> Result<Outcome> {
    let _ = (args, ctx);
    Err(crate::Error::usage("`test-login` is not implemented yet"))
}
