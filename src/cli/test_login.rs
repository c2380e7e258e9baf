use std::path::PathBuf;

use clap::Args;

use super::connect::Connection;
use super::{Context, ManifestPaths, Outcome};
use crate::Result;
use crate::ops::test_login::{TestLoginRequest, prepare, sign_in};
use crate::report::login;

#[derive(Debug, Args)]
pub struct TestLoginArgs {
    /// The app's metadata.name in the manifests
    #[arg(long, value_name = "NAME")]
    pub app: String,

    /// PFX to sign in with (default: the app's generated certificate's pfx)
    #[arg(long, value_name = "FILE", conflicts_with = "key_vault")]
    pub pfx: Option<PathBuf>,

    /// Sign in with the current version in Key Vault of the app's generated certificate, fetched
    /// as the script host would
    #[arg(long)]
    pub key_vault: bool,

    /// The resource to ask a token for [default: the API the app holds application permissions
    /// on, e.g. https://outlook.office365.com/.default; Graph's when none]
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,

    #[command(flatten)]
    pub manifests: ManifestPaths,
}

pub async fn run(args: TestLoginArgs, ctx: &Context) -> Result<Outcome> {
    let request = TestLoginRequest {
        app: args.app,
        pfx: args.pfx,
        key_vault: args.key_vault,
        scope: args.scope,
        paths: args.manifests.paths(),
        recursive: args.manifests.recursive,
    };
    // Everything local first: a wrong name, file or password starts no sandbox.
    let mut prepared = prepare(&request)
        .await
        .map_err(|e| super::missing_default(e, &args.manifests.paths, "test-login"))?;
    let conn = Connection::open(&ctx.global).await?;
    let done = match prepared.fetch_from_key_vault(&conn.key_vault).await {
        Ok(()) => sign_in(&conn.client, prepared, &|line| ctx.printer.status(line)).await,
        Err(e) => Err(e),
    };
    conn.close().await?;
    let done = done?;

    for note in &done.notes {
        ctx.printer.status(note);
    }
    ctx.printer.data(&login::render(
        &done.report,
        time::OffsetDateTime::now_utc(),
    ));
    for hint in login::hints(&done.report) {
        ctx.printer.hint(&hint);
    }
    Ok(Outcome::Clean)
}
