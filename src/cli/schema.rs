use clap::Args;

use super::{Context, Outcome};
use crate::error::Result;

#[derive(Debug, Args)]
pub struct SchemaArgs {}

pub fn run(args: SchemaArgs, ctx: &Context) -> Result<Outcome> {
    let _ = (args, ctx);
    Err(crate::Error::usage("`schema` is not implemented yet"))
}
