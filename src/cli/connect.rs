//! From the global flags to a signed-in Graph client: which cloud and endpoints, which
//! credential, and with `--sandbox` an in-process sandbox that lives as long as the command.

use crate::Result;
use crate::graph::{
    self, AuthOptions, ClientConfig, CredentialSource, EnvSnapshot, GraphClient, GraphEndpoints,
    SandboxAdmin,
};
use crate::keyvault::{KeyVaultClient, VaultEndpoints};
use crate::sandbox::{self, RunningSandbox, SandboxConfig};

use super::{AuthMethod, Cloud, GlobalArgs};

/// How long `--sandbox` waits for another command using the same sandbox state.
const SANDBOX_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// A Graph client and, in `--sandbox` mode, the sandbox it talks to. Call [`Connection::close`]
/// when done so the sandbox saves its tenant.
pub struct Connection {
    pub client: GraphClient,
    /// Key Vault, signing in with the same credential (no request is made until one is needed).
    pub key_vault: KeyVaultClient,
    sandbox: Option<RunningSandbox>,
}

impl Connection {
    pub async fn open(global: &GlobalArgs) -> Result<Self> {
        if global.sandbox {
            return Self::open_sandbox(global).await;
        }
        let endpoints = GraphEndpoints::new(
            cloud(global.cloud),
            global.graph_url.as_deref(),
            global.login_url.as_deref(),
            global.tenant.as_deref(),
        )?;
        let tenant = endpoints.tenant.clone().ok_or_else(|| {
            crate::Error::usage_with_hint(
                "no tenant given",
                "pass `--tenant <id or domain>` or set AZURE_TENANT_ID; to try entraform offline, use `--sandbox`",
            )
        })?;
        let options = AuthOptions {
            forced: global.auth.map(credential_source),
            sandbox: None,
            tenant: Some(tenant),
            ..AuthOptions::default()
        };
        let credential = graph::resolve_credential(&options, &EnvSnapshot::from_process()).await?;
        let client = GraphClient::new(endpoints, credential, client_config(global)?)?;
        let vaults = VaultEndpoints::new(cloud(global.cloud), global.key_vault_url.as_deref())?;
        Ok(Self {
            key_vault: KeyVaultClient::new(&client, vaults)?,
            client,
            sandbox: None,
        })
    }

    async fn open_sandbox(global: &GlobalArgs) -> Result<Self> {
        if global.graph_url.is_some() || global.key_vault_url.is_some() {
            return Err(crate::Error::usage_with_hint(
                "`--sandbox` starts its own tenant; it cannot be combined with `--graph-url` or `--key-vault-url` (or ENTRAFORM_GRAPH_URL, ENTRAFORM_KEY_VAULT_URL)",
                "to use a served sandbox, drop `--sandbox` and pass the URLs `entraform sandbox serve` printed",
            ));
        }
        let config = SandboxConfig {
            // Another `--sandbox` command on the same state finishes first; a server is never
            // waited for (the error says to use it over HTTP instead).
            lock_wait: SANDBOX_LOCK_WAIT,
            ..SandboxConfig::new().state_path(global.sandbox_state.clone())
        };
        let running = sandbox::start(config).await?;
        tracing::info!(
            state = %global.sandbox_state.display(),
            tenant = running.tenant_id(),
            "started the sandbox tenant in-process"
        );
        let tenant = running.tenant_id().to_owned();
        let endpoints = GraphEndpoints::new(
            graph::Cloud::Public,
            Some(&running.graph_url()),
            Some(&running.authority_url()),
            Some(&tenant),
        )?;
        let options = AuthOptions {
            forced: Some(CredentialSource::Sandbox),
            sandbox: Some(SandboxAdmin {
                client_id: running.bootstrap_client_id().to_owned(),
                secret: graph::Secret::new(running.bootstrap_client_secret().expose()),
            }),
            tenant: Some(tenant),
            ..AuthOptions::default()
        };
        let credential = graph::resolve_credential(&options, &EnvSnapshot::from_process()).await?;
        let client = GraphClient::new(endpoints, credential, ClientConfig::default())?;
        // The sandbox serves every vault under its own address.
        let vaults = VaultEndpoints::new(
            graph::Cloud::Public,
            Some(&running.key_vault_url_template()),
        )?;
        Ok(Self {
            key_vault: KeyVaultClient::new(&client, vaults)?,
            client,
            sandbox: Some(running),
        })
    }

    /// Logs the request counts (at `-v`) and, in sandbox mode, stops the sandbox and saves it.
    pub async fn close(self) -> Result<()> {
        let stats = self.client.stats();
        tracing::info!(
            http_requests = stats.http_requests,
            graph_operations = stats.operations,
            retries = stats.retries,
            throttled = stats.throttled,
            "Graph requests"
        );
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await?;
        }
        Ok(())
    }
}

/// `--ca-cert`'s certificates join the system's trusted CAs.
fn client_config(global: &GlobalArgs) -> Result<ClientConfig> {
    let mut config = ClientConfig::default();
    if let Some(path) = &global.ca_cert {
        config.ca_certificates = graph::load_ca_certificates(path)?;
    }
    Ok(config)
}

fn cloud(cloud: Cloud) -> graph::Cloud {
    match cloud {
        Cloud::Public => graph::Cloud::Public,
        Cloud::Usgov => graph::Cloud::UsGov,
        Cloud::China => graph::Cloud::China,
    }
}

fn credential_source(method: AuthMethod) -> CredentialSource {
    match method {
        AuthMethod::Sandbox => CredentialSource::Sandbox,
        AuthMethod::WorkloadIdentity => CredentialSource::WorkloadIdentity,
        AuthMethod::Certificate => CredentialSource::Certificate,
        AuthMethod::Secret => CredentialSource::ClientSecret,
        AuthMethod::AzureCli => CredentialSource::AzureCli,
    }
}
