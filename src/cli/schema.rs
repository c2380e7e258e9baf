use clap::Args;

use super::{Context, Outcome};
use crate::Result;

#[derive(Debug, Args)]
pub struct SchemaArgs {}

/// Prints the schema committed as `schema/manifest.schema.json`; a test keeps the two equal.
pub fn run(args: SchemaArgs, ctx: &Context) -> Result<Outcome> {
    let SchemaArgs {} = args;
    ctx.printer.data(&schema_text());
    Ok(Outcome::Clean)
}

pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&crate::manifest::json_schema())
        .expect("a serde_json::Value always serialises");
    text.push('\n');
    text
}
