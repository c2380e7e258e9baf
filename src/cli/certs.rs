use clap::{Args, ValueEnum};

use super::connect::Connection;
use super::{Context, ManifestPaths, Outcome};
use crate::Result;
use crate::ops::certs::{CertsRequest, certificates_from, read_local};
use crate::report::certs as report;

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
    /// Prometheus text format, for node_exporter's textfile collector
    Prometheus,
}

pub async fn run(args: CertsArgs, ctx: &Context) -> Result<Outcome> {
    let request = CertsRequest {
        paths: args.manifests.paths(),
        recursive: args.manifests.recursive,
        within_days: args.within,
        all: args.all,
    };
    let local = read_local(&request)
        .map_err(|e| super::missing_default(e, &args.manifests.paths, "certs"))?;
    let conn = Connection::open(&ctx.global).await?;
    let run = crate::read_progress::reporting(
        &ctx.reading_line(),
        &conn.client,
        |r: &crate::ops::certs::CertsRun| r.apps_read,
        certificates_from(&conn.client, &request, local),
    )
    .await;
    // Close (and save the sandbox) whether or not the report worked.
    conn.close().await?;
    let run = run?;

    for warning in &run.warnings {
        ctx.printer.warn(warning);
    }
    for app in &run.report.apps_not_found {
        ctx.printer.status(&format!(
            "`{app}` has no application in the tenant yet (`entraform apply` creates it)."
        ));
    }
    let rendered = match args.format {
        CertsFormat::Table => report::table(&run.report, ctx.printer.stdout_color()),
        CertsFormat::Json => report::json(&run.report),
        CertsFormat::Prometheus => crate::report::prometheus::prometheus(&run.report),
    };
    ctx.printer.data(&rendered);
    ctx.printer.status(&report::summary(&run.report));
    for line in report::unusable_lines(&run.report) {
        ctx.printer.warn(&line);
    }
    Ok(if run.report.needs_attention() {
        Outcome::Attention
    } else {
        Outcome::Clean
    })
}
