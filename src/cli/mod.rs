//! Command-line types (clap) and dispatch. Each command lives in its own file and only parses
//! its flags and calls into the library, the way cargo's `src/bin/cargo/commands/` do.

mod apply;
mod certs;
mod completions;
pub(crate) mod connect;
mod export;
mod logging;
mod plan;
mod replace;
mod sandbox;
mod schema;
mod test_login;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::Result;
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

/// The help heading of the options that choose the tenant and how to sign in to it, shown only
/// by the commands that talk to a tenant.
pub const TENANT_OPTIONS: &str = "Tenant Options";
/// The help heading of the options every command takes (logging, colour).
pub const GLOBAL_OPTIONS: &str = "Global Options";

/// Options accepted before or after any command. Each command's help shows its own options
/// first, then these under their headings ([`command`] hides the tenant ones where they do not
/// apply).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Use the local sandbox tenant instead of Microsoft's cloud (started in-process)
    #[arg(long, global = true, help_heading = TENANT_OPTIONS)]
    pub sandbox: bool,

    /// Where the sandbox keeps its tenant between runs
    #[arg(
        long,
        global = true,
        help_heading = TENANT_OPTIONS,
        value_name = "PATH",
        default_value = ".entraform/sandbox.json"
    )]
    pub sandbox_state: PathBuf,

    /// Tenant id or verified domain (default: AZURE_TENANT_ID)
    #[arg(long, global = true, help_heading = TENANT_OPTIONS, env = "AZURE_TENANT_ID", value_name = "TENANT")]
    pub tenant: Option<String>,

    /// Which Microsoft cloud to talk to
    #[arg(long, global = true, help_heading = TENANT_OPTIONS, value_enum, default_value_t = Cloud::Public)]
    pub cloud: Cloud,

    /// Microsoft Graph service root, e.g. https://graph.microsoft.com (entraform appends /v1.0/...)
    #[arg(long, global = true, help_heading = TENANT_OPTIONS, env = "ENTRAFORM_GRAPH_URL", value_name = "URL")]
    pub graph_url: Option<String>,

    /// Azure Key Vault URL template, e.g. https://{vault}.vault.azure.net (default: the cloud's)
    #[arg(long, global = true, help_heading = TENANT_OPTIONS, env = "ENTRAFORM_KEY_VAULT_URL", value_name = "URL")]
    pub key_vault_url: Option<String>,

    /// Authority host, e.g. https://login.microsoftonline.com (default: AZURE_AUTHORITY_HOST)
    #[arg(long, global = true, help_heading = TENANT_OPTIONS, env = "AZURE_AUTHORITY_HOST", value_name = "URL")]
    pub login_url: Option<String>,

    /// Also trust this CA certificate (PEM) for Graph and sign-in, e.g. a TLS-inspecting proxy's
    /// or a served sandbox's
    #[arg(long, global = true, help_heading = TENANT_OPTIONS, env = "ENTRAFORM_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Sign in with this credential type instead of the first one found in the environment
    #[arg(long, global = true, help_heading = TENANT_OPTIONS, value_enum)]
    pub auth: Option<AuthMethod>,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short, long, global = true, help_heading = GLOBAL_OPTIONS, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr; data on stdout is unaffected
    #[arg(short, long, global = true, help_heading = GLOBAL_OPTIONS, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log line format on stderr
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Never colour output (also: NO_COLOR)
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS)]
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
        after_help = "Examples:\n  entraform --sandbox test-login --app exo-v2-app\n  entraform test-login --app exo-v2-app --scope https://graph.microsoft.com/.default"
    )]
    TestLogin(test_login::TestLoginArgs),
    /// Run or reset the local sandbox tenant
    #[command(
        subcommand,
        after_help = "Examples:\n  entraform sandbox serve --json\n  entraform sandbox reset"
    )]
    Sandbox(sandbox::SandboxCommand),
    /// Print a shell completion script
    #[command(after_help = "Example:\n  source <(entraform completions bash)")]
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff)
    #[command(after_help = "Example:\n  entraform man > entraform.1")]
    Man,
}

/// The tenant options: everything [`Connection::open`](connect::Connection::open) reads.
const TENANT_OPTION_IDS: [&str; 9] = [
    "sandbox",
    "sandbox_state",
    "tenant",
    "cloud",
    "graph_url",
    "key_vault_url",
    "login_url",
    "ca_cert",
    "auth",
];

/// The commands whose help leaves out the tenant options, because they never talk to a tenant
/// (or, `sandbox serve`, are one), and the tenant option each still shows as its own.
const NO_TENANT: &[(&[&str], Option<&str>)] = &[
    (&["validate"], None),
    (&["schema"], None),
    (&["completions"], None),
    (&["man"], None),
    (&["sandbox"], None),
    // `serve` and `reset` take their own `--state`; `--sandbox-state` is still read when it is not given.
    (&["sandbox", "serve"], None),
    (&["sandbox", "reset"], None),
    (&["sandbox", "grant"], None),
];

/// The command line, with each command's help showing only the options that apply to it.
/// Hidden options are still accepted, so no command line that worked stops working.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    let tenant: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| TENANT_OPTION_IDS.contains(&a.get_id().as_str()))
        .cloned()
        .collect();
    // Building the tree copies each global option into every subcommand that does not define
    // it already: give those commands their own (hidden) copy first.
    for (path, own) in NO_TENANT {
        cmd = adjust(cmd, path, &tenant, *own);
    }
    cmd
}

fn adjust(
    cmd: clap::Command,
    path: &[&str],
    tenant: &[clap::Arg],
    own: Option<&str>,
) -> clap::Command {
    match path {
        [] => tenant.iter().fold(cmd, |cmd, arg| {
            cmd.arg(if Some(arg.get_id().as_str()) == own {
                arg.clone().help_heading(None)
            } else {
                arg.clone().hide(true)
            })
        }),
        [name, rest @ ..] => cmd.mut_subcommand(*name, |sub| adjust(sub, rest, tenant, own)),
    }
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

impl Context {
    /// The progress line for reading the tenant; plain lines when log lines may come between
    /// its updates (`-v`, `RUST_LOG`).
    pub fn reading_line(&self) -> crate::output::StatusLine {
        let logging = self.global.verbose > 0 || std::env::var_os("RUST_LOG").is_some();
        self.printer.status_line(logging)
    }
}

/// Exit codes everywhere: 0 success, 1 error, 2 success with changes / attention needed.
pub fn main() -> ExitCode {
    // clap exits 2 on usage errors; here 2 means "changes present", so a typo in a drift cron
    // must not look like drift.
    let mut cmd = command();
    let parsed = cmd
        .try_get_matches_from_mut(replace::terraform_spelling(std::env::args_os()))
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .map_err(|err| err.format(&mut cmd));
    let cli = match parsed {
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
    /// Manifest files or folders (folders load every *.yaml / *.yml in them) [default: manifests]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Also load manifests from sub-folders
    #[arg(short, long)]
    pub recursive: bool,
}

/// The folder read when a command is given no manifest paths.
pub const DEFAULT_MANIFESTS: &str = "manifests";

impl ManifestPaths {
    /// The paths given, or the default folder.
    pub fn paths(&self) -> Vec<PathBuf> {
        given_or_default(&self.paths)
    }

    /// Reads and validates the manifests. Commands that talk to a tenant call this before
    /// they connect: with nothing to plan, no sandbox is started (and no state file written)
    /// and no one signs in.
    pub fn load(&self, command: &str) -> Result<crate::manifest::Manifests> {
        load_manifests(&self.paths, self.recursive, command)
    }
}

fn given_or_default(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(DEFAULT_MANIFESTS)]
    } else {
        paths.to_vec()
    }
}

/// [`crate::manifest::load`] on the given paths, or on the default folder.
pub fn load_manifests(
    given: &[PathBuf],
    recursive: bool,
    command: &str,
) -> Result<crate::manifest::Manifests> {
    crate::manifest::load(&given_or_default(given), recursive)
        .map_err(|e| missing_default(e.into(), given, command))
}

/// When no path was given and the default folder is missing, says where it was looked for and
/// how to name another; any other error is returned as it is.
pub fn missing_default(err: crate::Error, given: &[PathBuf], command: &str) -> crate::Error {
    use crate::manifest::ManifestError;
    match err {
        crate::Error::Manifest(ManifestError::NotFound { path }) if given.is_empty() => {
            let here = std::env::current_dir()
                .map(|d| format!(" in `{}`", d.display()))
                .unwrap_or_default();
            crate::Error::usage_with_hint(
                format!(
                    "no manifests to read: `{}/`, the folder read when no path is given, does not exist{here}",
                    path.display()
                ),
                format!(
                    "run `entraform {command}` where your `{DEFAULT_MANIFESTS}/` folder is, or name the manifest files or folders: `entraform {command} path/to/manifests/`"
                ),
            )
        }
        other => other,
    }
}
