use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Context, ManifestPaths, Outcome};
use crate::Result;
use crate::ops;
use crate::sandbox::{self, Clock, Faults, Role, SandboxConfig};

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the sandbox tenant over HTTP(S) until interrupted
    #[command(after_help = "Example:\n  entraform sandbox serve --listen 127.0.0.1:8443 --tls")]
    Serve(ServeArgs),
    /// Delete the sandbox state and start over with a fresh tenant
    #[command(after_help = "Example:\n  entraform sandbox reset")]
    Reset(ResetArgs),
    /// Give an app a Key Vault data-plane role in the sandbox (stop `sandbox serve` first)
    #[command(
        after_help = "Examples:\n  entraform sandbox grant --vault kv-ops --role \"Key Vault Secrets User\" --app 11111111-2222-3333-4444-555555555555\n  entraform sandbox grant --role \"Key Vault Certificates Officer\" --app <appId>   # every vault"
    )]
    Grant(GrantArgs),
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The vault [default: every vault, like an assignment at the subscription]
    #[arg(long, value_name = "NAME")]
    pub vault: Option<String>,

    /// The role, e.g. "Key Vault Certificates Officer", "Key Vault Secrets User", or its id
    #[arg(long, value_name = "ROLE")]
    pub role: String,

    /// The application (client) id of the app whose service principal gets the role
    #[arg(long, value_name = "APPID")]
    pub app: String,

    /// State file [default: .entraform/sandbox.json]
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// State file [default: .entraform/sandbox.json]
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Manifests whose PFX/CER files to check for keys of the deleted tenant
    #[command(flatten)]
    pub manifests: ManifestPaths,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:0]; anything but loopback also needs --tls and --allow-remote
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Allow a --listen address other machines can reach (anyone who reaches it can act as the tenant's admin)
    #[arg(long)]
    pub allow_remote: bool,

    /// State file [default: .entraform/sandbox.json]
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Serve HTTPS with a freshly generated CA, written next to the state file
    #[arg(long)]
    pub tls: bool,

    /// Print the connection details as one JSON line
    #[arg(long)]
    pub json: bool,

    /// Delay every request by this many milliseconds (at most 60000)
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub latency_ms: u64,

    /// Keep new objects invisible to reads for this many milliseconds (at most 600000)
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub replication_delay_ms: u64,

    /// Throttle each calling app to this many resource units per 10 seconds (at least 1)
    #[arg(long, value_name = "UNITS", value_parser = clap::value_parser!(u32).range(1..))]
    pub throttle: Option<u32>,

    /// Probability (0 to 1) that a Graph request fails with a 5xx or a dropped connection
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fail_rate: f64,

    /// Seed for the fault injection, so a run can be replayed
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// Trust tokens from this OIDC issuer for federated credentials (repeatable)
    #[arg(long = "trust-issuer", value_name = "URL")]
    pub trust_issuer: Vec<String>,
}

/// A probability: a number from 0 to 1 (NaN and infinities are not numbers here).
fn probability(text: &str) -> std::result::Result<f64, String> {
    let p: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("`{text}` is not between 0 and 1"))
    }
}

pub async fn run(cmd: SandboxCommand, ctx: &Context) -> Result<Outcome> {
    match cmd {
        SandboxCommand::Serve(args) => serve(args, ctx).await,
        SandboxCommand::Reset(args) => reset(args, ctx).await,
        SandboxCommand::Grant(args) => grant(args, ctx).await,
    }
}

async fn grant(args: GrantArgs, ctx: &Context) -> Result<Outcome> {
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| ctx.global.sandbox_state.clone());
    let grant = tokio::task::spawn_blocking(move || {
        sandbox::grant_key_vault_role(&state, args.vault.as_deref(), &args.role, &args.app)
    })
    .await
    .map_err(|e| crate::Error::io("the grant stopped", std::io::Error::other(e)))?;
    let grant = match grant {
        Ok(g) => g,
        Err(sandbox::GrantError::State(e)) => return Err(e.into()),
        Err(e @ sandbox::GrantError::UnknownRole(_)) => {
            return Err(crate::Error::usage_with_hint(
                e.to_string(),
                format!("roles: {}", sandbox::GrantError::role_names().join(", ")),
            ));
        }
        Err(e) => return Err(crate::Error::usage(e.to_string())),
    };
    let scope = grant
        .vault
        .as_deref()
        .map_or_else(|| "every vault".to_owned(), |v| format!("vault `{v}`"));
    let verb = if grant.created {
        "Granted"
    } else {
        "Already granted:"
    };
    ctx.printer.status(&format!(
        "{verb} {} on {scope} to app `{}` (service principal {}).",
        grant.role, grant.app_id, grant.principal_id
    ));
    Ok(Outcome::Clean)
}

async fn reset(args: ResetArgs, ctx: &Context) -> Result<Outcome> {
    let state = args
        .state
        .unwrap_or_else(|| ctx.global.sandbox_state.clone());
    let request = ops::sandbox::ResetRequest {
        state,
        paths: args.manifests.paths(),
        recursive: args.manifests.recursive,
    };
    ops::sandbox::reset(&request, &ctx.printer).await?;
    Ok(Outcome::Clean)
}

async fn serve(args: ServeArgs, ctx: &Context) -> Result<Outcome> {
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| ctx.global.sandbox_state.clone());
    let config = SandboxConfig {
        allow_non_loopback: args.allow_remote,
        listen: args.listen.clone().unwrap_or_else(|| "127.0.0.1:0".into()),
        state_path: Some(state.clone()),
        tls: args.tls,
        faults: Faults {
            latency_ms: args.latency_ms,
            replication_delay_ms: args.replication_delay_ms,
            throttle: args.throttle,
            fail_rate: args.fail_rate,
        },
        seed: args.seed,
        trusted_issuers: args.trust_issuer.clone(),
        role: Role::Serve,
        lock_wait: std::time::Duration::ZERO,
        // A served tenant keeps the wall clock: its clients are real processes.
        clock: Clock::Wall,
    };
    // Listen for signals before printing the connection details: a script that reads them and
    // stops the server at once must get a clean, saved shutdown, not the default SIGTERM death.
    let stop = StopSignal::install()?;
    let running = sandbox::start(config).await?;
    let ca = running.ca_certificate_path();
    let listening = running.local_addr();
    if args.json {
        let mut line = serde_json::json!({
            "graph_url": running.graph_url(),
            "authority_url": running.authority_url(),
            "tenant_id": running.tenant_id(),
            "tenant_domain": running.tenant_domain(),
            "client_id": running.bootstrap_client_id(),
            "client_secret": running.bootstrap_client_secret().expose(),
            "state": state.display().to_string(),
            "listen": listening.to_string(),
            "key_vault_url": running.key_vault_url_template(),
        });
        if let Some(ca) = &ca {
            line["ca_certificate"] = serde_json::json!(ca.display().to_string());
        }
        ctx.printer.data(&format!("{line}\n"));
    } else {
        let mut text = format!(
            "Graph URL:      {}\nAuthority URL:  {}\nKey Vault URL:  {}\nTenant id:      {}\nTenant domain:  {}\nClient id:      {}\nClient secret:  {}\nState:          {}\nListening on:   {}\n",
            running.graph_url(),
            running.authority_url(),
            running.key_vault_url_template(),
            running.tenant_id(),
            running.tenant_domain(),
            running.bootstrap_client_id(),
            running.bootstrap_client_secret().expose(),
            state.display(),
            listening,
        );
        if let Some(ca) = &ca {
            text.push_str(&format!("CA certificate: {}\n", ca.display()));
        }
        ctx.printer.data(&text);
        ctx.printer
            .status("Serving the sandbox tenant; press Ctrl-C to stop.");
    }
    if !listening.ip().is_loopback() {
        ctx.printer.warn(&format!(
            "serving beyond this machine on {listening}: anyone who can reach it can act as the tenant's admin"
        ));
    }
    stop.wait().await;
    running.shutdown().await?;
    ctx.printer.status("Sandbox stopped; state saved.");
    Ok(Outcome::Clean)
}

/// SIGINT or SIGTERM, registered up front so none is missed.
struct StopSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn install() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let install = |kind| {
                signal(kind).map_err(|e| crate::Error::io("cannot listen for stop signals", e))
            };
            Ok(Self {
                interrupt: install(SignalKind::interrupt())?,
                terminate: install(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
