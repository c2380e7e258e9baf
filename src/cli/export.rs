use std::path::PathBuf;

use clap::{ArgGroup, Args};

use super::connect::Connection;
use super::{Context, Outcome};
use crate::Result;
use crate::model::AppId;
use crate::ops::export::{self, ExportError, Selection};

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
    let selection = selection(&args)?;
    let conn = Connection::open(&ctx.global).await?;
    let result = crate::read_progress::reporting(
        &ctx.reading_line(),
        &conn.client,
        |r: &export::ExportResult| r.apps.len() + r.skipped.len(),
        export::export(&conn.client, &selection),
    )
    .await;
    // Close (and save the sandbox) whether or not reading worked.
    conn.close().await?;
    let result = result?;

    for s in &result.skipped {
        ctx.printer.warn(&format!(
            "`{}` (appId {}) is not exported: {}",
            s.display_name, s.app_id, s.reason
        ));
    }
    if result.apps.is_empty() {
        if !result.skipped.is_empty() {
            return Err(ExportError::NoneExportable(result.skipped.len()).into());
        }
        ctx.printer.status("No applications to export.");
        return Ok(Outcome::Clean);
    }
    let written = export::write(&args.out, &result.apps)?;
    let mut adopted = 0;
    let mut certificates = 0;
    for (app, file) in result.apps.iter().zip(&written) {
        for item in &app.unmanaged {
            ctx.printer.warn(&format!(
                "{}: not in the manifest, left as it is: {item}",
                app.name
            ));
        }
        adopted += usize::from(app.adopts);
        certificates += file.certificates.len();
        ctx.printer.data(&format!("{}\n", file.manifest.display()));
    }
    if certificates > 0 {
        ctx.printer.warn(&format!(
            "private keys cannot be exported: the manifests name {certificates} public certificate{} (`file:`), written under `{}`",
            if certificates == 1 { "" } else { "s" },
            args.out.join(crate::export::CERTIFICATE_FOLDER).display()
        ));
    }
    ctx.printer.status(&format!(
        "Exported {} application{} to `{}`.",
        written.len(),
        if written.len() == 1 { "" } else { "s" },
        args.out.display()
    ));
    let adoption = if adopted > 0 {
        format!(
            "; its first apply adopts {adopted} app{} (sets the uniqueName, adds the managed tag)",
            if adopted == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    ctx.printer.hint(&format!(
        "review them, then run `entraform plan {}`{adoption}",
        args.out.display()
    ));
    Ok(Outcome::Clean)
}

fn selection(args: &ExportArgs) -> Result<Selection> {
    if let Some(id) = &args.app_id {
        let id: AppId = id.trim().parse().map_err(|e| {
            crate::Error::usage_with_hint(
                format!("`--app-id`: {e}"),
                "pass the application (client) id, as the Entra portal shows it",
            )
        })?;
        return Ok(Selection::AppId(id));
    }
    if let Some(name) = &args.display_name {
        return Ok(Selection::DisplayName(name.clone()));
    }
    Ok(if args.all_owned {
        Selection::AllOwned
    } else {
        Selection::All
    })
}
