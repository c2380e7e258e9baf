//! Command-line types (clap) and dispatch. Each command lives in its own file and only parses
//! its flags and calls into the library, the way cargo's `src/bin/cargo/commands/` do.

mod apply;
mod certs;
mod completions;
pub(crate) mod connect;
mod export;
mod logging;
mod plan;
mod sandbox;
mod schema;
mod test_login;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::Result;
use crate::output::Printer;

const EXAMPLES: &str = "\
Examples:
  entraform validate manifests/
  entraform --sandbox plan manifests/exchange-online-app.yaml
  entraform --sandbox apply --auto-approve manifests/
  entraform plan --detailed-exitcode --format markdown manifests/
  entraform certs --within 30 manifests/";

#[derive(Debug, Parser)]
#[command(
    name = "entraform",
    version = crate::version::SHORT,
    long_version = crate::version::LONG,
    about = "Manage Microsoft Entra ID app registrations from YAML manifests, Terraform-style",
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Use the local sandbox tenant instead of Microsoft's cloud (started in-process)
    #[arg(long, global = true)]
    pub sandbox: bool,

    /// Where the sandbox keeps its tenant between runs
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = ".entraform/sandbox.json"
    )]
    pub sandbox_state: PathBuf,

    /// Tenant id or verified domain (default: AZURE_TENANT_ID)
    #[arg(long, global = true, env = "AZURE_TENANT_ID", value_name = "TENANT")]
    pub tenant: Option<String>,

    /// Which Microsoft cloud to talk to
    #[arg(long, global = true, value_enum, default_value_t = Cloud::Public)]
    pub cloud: Cloud,

    /// Microsoft Graph service root, e.g. https://graph.microsoft.com (entraform appends /v1.0/...)
    #[arg(long, global = true, env = "ENTRAFORM_GRAPH_URL", value_name = "URL")]
    pub graph_url: Option<String>,

    /// Authority host, e.g. https://login.microsoftonline.com (default: AZURE_AUTHORITY_HOST)
    #[arg(long, global = true, env = "AZURE_AUTHORITY_HOST", value_name = "URL")]
    pub login_url: Option<String>,

    /// Also trust this CA certificate (PEM) for Graph and sign-in, e.g. a TLS-inspecting proxy's
    /// or a served sandbox's
    #[arg(long, global = true, env = "ENTRAFORM_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Sign in with this credential type instead of the first one found in the environment
    #[arg(long, global = true, value_enum)]
    pub auth: Option<AuthMethod>,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr; data on stdout is unaffected
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log line format on stderr
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Never colour output (also: NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cloud {
    Public,
    Usgov,
    China,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMethod {
    /// The sandbox's bootstrap admin
    Sandbox,
    /// Workload identity federation (AZURE_FEDERATED_TOKEN_FILE)
    WorkloadIdentity,
    /// A certificate (AZURE_CLIENT_CERTIFICATE_PATH)
    Certificate,
    /// A client secret (AZURE_CLIENT_SECRET)
    Secret,
    /// The Azure CLI's signed-in account (`az account get-access-token`)
    AzureCli,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests without contacting a tenant
    #[command(after_help = "Example:\n  entraform validate manifests/")]
    Validate(validate::ValidateArgs),
    /// Print the manifest JSON Schema
    #[command(after_help = "Example:\n  entraform schema > schema/manifest.schema.json")]
    Schema(schema::SchemaArgs),
    /// Show what apply would change in the tenant
    #[command(
        after_help = "Examples:\n  entraform --sandbox plan manifests/\n  entraform plan --out tfplan.json --detailed-exitcode manifests/"
    )]
    Plan(plan::PlanArgs),
    /// Change the tenant to match the manifests (or a saved plan)
    #[command(
        after_help = "Examples:\n  entraform --sandbox apply manifests/\n  entraform apply --auto-approve tfplan.json"
    )]
    Apply(apply::ApplyArgs),
    /// Write manifests for app registrations that already exist
    #[command(
        after_help = "Example:\n  entraform export --display-name Exo_V2_App --out manifests/"
    )]
    Export(export::ExportArgs),
    /// Report certificate expiry; exit 2 when any is due for renewal
    #[command(after_help = "Example:\n  entraform certs --within 30 manifests/")]
    Certs(certs::CertsArgs),
    /// Sign in as an app with its certificate and show the roles its token carries
    #[command(
        name = "test-login",
        after_help = "Example:\n  entraform --sandbox test-login --app exo-v2-app --scope https://outlook.office365.com/.default"
    )]
    TestLogin(test_login::TestLoginArgs),
    /// Run or reset the local sandbox tenant
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// Print a shell completion script
    #[command(after_help = "Example:\n  source <(entraform completions bash)")]
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff)
    #[command(after_help = "Example:\n  entraform man > entraform.1")]
    Man,
}

/// How a successful command ended; mapped to the exit code contract (0 and 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do, nothing needs attention.
    Clean,
    /// Changes are present or something needs attention (plan --detailed-exitcode, certs).
    Attention,
}

/// Everything a command needs besides its own flags.
pub struct Context {
    pub global: GlobalArgs,
    pub printer: Printer,
}

/// Exit codes everywhere: 0 success, 1 error, 2 success with changes / attention needed.
pub fn main() -> ExitCode {
    // clap exits 2 on usage errors; here 2 means "changes present", so a typo in a drift cron
    // must not look like drift.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let printer = Printer::new(cli.global.no_color, cli.global.quiet);
    logging::init(&cli.global, printer.stderr_color());
    let ctx = Context {
        global: cli.global,
        printer,
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            ctx.printer
                .error(&crate::Error::io("cannot start the async runtime", err));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command, &ctx)) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Attention) => ExitCode::from(2),
        Err(err) => {
            ctx.printer.error(&err);
            ExitCode::from(1)
        }
    }
}

async fn run(command: Command, ctx: &Context) -> Result<Outcome> {
    match command {
        Command::Validate(args) => validate::run(args, ctx),
        Command::Schema(args) => schema::run(args, ctx),
        Command::Plan(args) => plan::run(args, ctx).await,
        Command::Apply(args) => apply::run(args, ctx).await,
        Command::Export(args) => export::run(args, ctx).await,
        Command::Certs(args) => certs::run(args, ctx).await,
        Command::TestLogin(args) => test_login::run(args, ctx).await,
        Command::Sandbox(cmd) => sandbox::run(cmd, ctx).await,
        Command::Completions(args) => completions::run_completions(args, ctx),
        Command::Man => completions::run_man(ctx),
    }
}

/// Manifest paths shared by the commands that read manifests.
#[derive(Debug, Clone, Args)]
pub struct ManifestPaths {
    /// Manifest files or folders (folders load every *.yaml / *.yml in them)
    #[arg(value_name = "PATH", default_value = "manifests")]
    pub paths: Vec<PathBuf>,

    /// Also load manifests from sub-folders
    #[arg(short, long)]
    pub recursive: bool,
}
