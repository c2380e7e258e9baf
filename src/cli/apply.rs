use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::connect::Connection;
use super::replace::ReplaceArgs;
use super::{Context, Outcome};
use crate::Result;
use crate::apply::ExecuteOptions;
use crate::ops::apply::{ApplyRequest, ApplySource, OutputFormat, apply};
use crate::ops::plan::LocalInputs;
use crate::planner::PlanOptions;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Manifest files or folders, or one saved plan file (from `plan --out`) [default: manifests]
    #[arg(value_name = "PATH|PLANFILE")]
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

    #[command(flatten)]
    pub replace: ReplaceArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    Text,
    Json,
}

/// One path that is a file but not YAML: a saved plan (`plan --out` writes JSON).
fn plan_file(paths: &[PathBuf]) -> Option<&Path> {
    match paths {
        [one] if one.is_file() => {
            let ext = one
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase());
            (!matches!(ext.as_deref(), Some("yaml" | "yml"))).then_some(one.as_path())
        }
        _ => None,
    }
}

pub async fn run(args: ApplyArgs, ctx: &Context) -> Result<Outcome> {
    let source = match plan_file(&args.paths) {
        Some(path) => {
            if args.prune || args.recursive || !args.replace.addresses.is_empty() {
                return Err(crate::Error::usage_with_hint(
                    "`--prune`, `--recursive` and `--replace` cannot be used with a saved plan",
                    "a saved plan already says what it deletes and replaces; pass them to `entraform plan --out` instead",
                ));
            }
            ApplySource::PlanFile(path.to_owned())
        }
        None => {
            let local =
                LocalInputs::read(super::load_manifests(&args.paths, args.recursive, "apply")?)?;
            let options = PlanOptions {
                prune: args.prune,
                replace: args.replace.checked(&local.manifests.apps)?,
            };
            ApplySource::Manifests { local, options }
        }
    };
    let mut request = ApplyRequest {
        source,
        auto_approve: args.auto_approve,
        format: match args.format {
            ApplyFormat::Text => OutputFormat::Text,
            ApplyFormat::Json => OutputFormat::Json,
        },
        execute: ExecuteOptions::default(),
    };
    let conn = Connection::open(&ctx.global).await?;
    request.execute.key_vault = Some(conn.key_vault.clone());
    let result = apply(&conn.client, &request, &ctx.printer).await;
    // Close (and save the sandbox) whatever happened.
    conn.close().await?;
    result.map(|_| Outcome::Clean)
}
