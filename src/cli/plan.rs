use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::connect::Connection;
use super::replace::ReplaceArgs;
use super::{Context, ManifestPaths, Outcome};
use crate::Result;
use crate::ops::{self, plan::LocalInputs};
use crate::plan::render;
use crate::planner::PlanOptions;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub manifests: ManifestPaths,

    /// Output format on stdout
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,

    /// Save the plan for `entraform apply FILE` (`-`: to stdout, with the plan shown on stderr)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 0 when there are no changes, 2 when there are (1 on error)
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Also delete managed applications that no manifest mentions
    #[arg(long)]
    pub prune: bool,

    #[command(flatten)]
    pub replace: ReplaceArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

pub async fn run(args: PlanArgs, ctx: &Context) -> Result<Outcome> {
    let local = LocalInputs::read(args.manifests.load("plan")?)?;
    let options = PlanOptions {
        prune: args.prune,
        replace: args.replace.checked(&local.manifests.apps)?,
    };
    let conn = Connection::open(&ctx.global).await?;
    let planned = crate::read_progress::reporting(
        &ctx.reading_line(),
        &conn.client,
        |p: &ops::plan::PlannedRun| p.live.apps.len(),
        ops::plan::plan_local(&conn.client, Some(&conn.key_vault), local, &options),
    )
    .await;
    // Close (and save the sandbox) whether or not planning worked.
    conn.close().await?;
    let plan = planned?.plan;

    let to_stdout = args.out.as_deref() == Some(std::path::Path::new("-"));
    let color = if to_stdout {
        ctx.printer.stderr_color()
    } else {
        ctx.printer.stdout_color()
    };
    let rendered = match args.format {
        PlanFormat::Text => render::text(&plan, color),
        PlanFormat::Json => render::json(&plan, false),
        PlanFormat::Markdown => render::markdown(&plan, false),
    };
    if to_stdout {
        // stdout is the plan file; the plan for people goes where status lines go.
        ctx.printer.status(rendered.trim_end());
        ctx.printer.data(&crate::plan::file::to_plan_file(&plan));
    } else {
        ctx.printer.data(&rendered);
    }
    if let Some(out) = args.out.as_ref().filter(|_| !to_stdout) {
        ops::plan_file::write(out, &plan)?;
        ctx.printer.status(&format!(
            "Saved the plan to `{}`; apply exactly this plan with `entraform apply {}`.",
            out.display(),
            out.display()
        ));
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::Attention
    } else {
        Outcome::Clean
    })
}
