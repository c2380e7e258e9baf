use std::path::PathBuf;

use clap::{ArgGroup, Args};

use super::{Context, Outcome};
use crate::error::Result;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["app_id", "display_name", "all_owned", "all"])))]
pub struct ExportArgs {
    /// Export the app with this client id
    #[arg(long, value_name = "GUID")]
    pub app_id: Option<String>,

    /// Export apps with this display name
    #[arg(long, value_name = "NAME")]
    pub display_name: Option<String>,

    /// Export every app the signed-in identity owns
    #[arg(long)]
    pub all_owned: bool,

    /// Export every app in the tenant
    #[arg(long)]
    pub all: bool,

    /// Folder the manifests (and public certificates) are written to
    #[arg(long, value_name = "DIR", default_value = "manifests")]
    pub out: PathBuf,
}

pub async fn run(args: ExportArgs, ctx: &Context) -> Result<Outcome> {
    let _ = (args, ctx);
    Err(crate::Error::usage("`export` is not implemented yet"))
}
