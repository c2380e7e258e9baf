//! Which credential signs in, chosen the way the Azure SDKs choose (so pipelines need no new
//! variables): the sandbox's admin, then workload identity federation, a certificate, a client
//! secret, and finally the Azure CLI. `--auth` forces one, and then its variables are required.
//!
//! Choosing is pure over an [`EnvSnapshot`]; loading (reading a certificate) happens after.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::GraphError;
use super::redact::Secret;
use crate::cert::{AssertionAlg, ClientCertificate, PfxPassword};

pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
pub const AZURE_CLIENT_CERTIFICATE_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
pub const AZURE_CLIENT_CERTIFICATE_PASSWORD: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";

/// The kinds of credential, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialSource {
    /// The sandbox's bootstrap admin (`--sandbox`).
    Sandbox,
    /// Workload identity federation: `AZURE_FEDERATED_TOKEN_FILE`.
    WorkloadIdentity,
    /// A certificate: `AZURE_CLIENT_CERTIFICATE_PATH`.
    Certificate,
    /// A client secret: `AZURE_CLIENT_SECRET`.
    ClientSecret,
    /// `az account get-access-token`.
    AzureCli,
}

impl CredentialSource {
    pub const ORDER: [CredentialSource; 5] = [
        CredentialSource::Sandbox,
        CredentialSource::WorkloadIdentity,
        CredentialSource::Certificate,
        CredentialSource::ClientSecret,
        CredentialSource::AzureCli,
    ];

    /// How messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            CredentialSource::Sandbox => "the sandbox's bootstrap admin",
            CredentialSource::WorkloadIdentity => {
                "workload identity federation (AZURE_FEDERATED_TOKEN_FILE)"
            }
            CredentialSource::Certificate => "a certificate (AZURE_CLIENT_CERTIFICATE_PATH)",
            CredentialSource::ClientSecret => "a client secret (AZURE_CLIENT_SECRET)",
            CredentialSource::AzureCli => "the Azure CLI (`az account get-access-token`)",
        }
    }

    /// The `--auth` value that forces it.
    pub fn flag_value(self) -> &'static str {
        match self {
            CredentialSource::Sandbox => "sandbox",
            CredentialSource::WorkloadIdentity => "workload-identity",
            CredentialSource::Certificate => "certificate",
            CredentialSource::ClientSecret => "secret",
            CredentialSource::AzureCli => "azure-cli",
        }
    }

    /// The variables it cannot do without (the tenant may also come from `--tenant`).
    fn required_vars(self) -> &'static [&'static str] {
        match self {
            CredentialSource::Sandbox | CredentialSource::AzureCli => &[],
            CredentialSource::WorkloadIdentity => {
                &[AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID]
            }
            CredentialSource::Certificate => &[
                AZURE_CLIENT_CERTIFICATE_PATH,
                AZURE_CLIENT_ID,
                AZURE_TENANT_ID,
            ],
            CredentialSource::ClientSecret => {
                &[AZURE_CLIENT_SECRET, AZURE_CLIENT_ID, AZURE_TENANT_ID]
            }
        }
    }
}

/// The environment variables credential selection reads, captured once so selection is pure
/// and tests need not touch the process environment.
#[derive(Clone, Default)]
pub struct EnvSnapshot {
    vars: BTreeMap<String, String>,
    path: Option<OsString>,
}

impl std::fmt::Debug for EnvSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values include secrets.
        f.debug_struct("EnvSnapshot")
            .field("set", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl EnvSnapshot {
    const NAMES: [&'static str; 7] = [
        AZURE_TENANT_ID,
        AZURE_CLIENT_ID,
        AZURE_CLIENT_SECRET,
        AZURE_CLIENT_CERTIFICATE_PATH,
        AZURE_CLIENT_CERTIFICATE_PASSWORD,
        AZURE_FEDERATED_TOKEN_FILE,
        AZURE_AUTHORITY_HOST,
    ];

    pub fn from_process() -> Self {
        let vars = Self::NAMES
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
            .collect();
        EnvSnapshot {
            vars,
            path: std::env::var_os("PATH"),
        }
    }

    /// A snapshot from explicit pairs (`PATH` included if given).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut snapshot = EnvSnapshot::default();
        for (k, v) in pairs {
            let (k, v) = (k.into(), v.into());
            if k == "PATH" {
                snapshot.path = Some(v.into());
            } else {
                snapshot.vars.insert(k, v);
            }
        }
        snapshot
    }

    /// A set, non-blank variable (the Azure SDKs also treat empty as unset).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The first `program` on `PATH`, like a shell would find it.
    pub fn find_program(&self, program: &str) -> Option<PathBuf> {
        let path = self.path.as_ref()?;
        std::env::split_paths(path).find_map(|dir| {
            let candidates = if cfg!(windows) {
                vec![
                    dir.join(format!("{program}.cmd")),
                    dir.join(format!("{program}.exe")),
                ]
            } else {
                vec![dir.join(program)]
            };
            candidates.into_iter().find(|p| is_executable(p))
        })
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// The sandbox's bootstrap admin, given when `--sandbox` started one.
#[derive(Debug, Clone)]
pub struct SandboxAdmin {
    pub client_id: String,
    pub secret: Secret,
}

/// What the user asked for on the command line.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    /// `--auth`: use this credential or fail, instead of the first one found.
    pub forced: Option<CredentialSource>,
    /// Set in `--sandbox` mode.
    pub sandbox: Option<SandboxAdmin>,
    /// `--tenant`; falls back to `AZURE_TENANT_ID`.
    pub tenant: Option<String>,
    /// RS256 with `x5t` (what every tenant accepts) unless PS256 with `x5t#S256` is wanted.
    pub certificate_alg: AssertionAlg,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            forced: None,
            sandbox: None,
            tenant: None,
            certificate_alg: AssertionAlg::Rs256,
        }
    }
}

/// A chosen credential, before any file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialPlan {
    Sandbox {
        client_id: String,
    },
    WorkloadIdentity {
        client_id: String,
        token_file: PathBuf,
    },
    Certificate {
        client_id: String,
        path: PathBuf,
        /// Whether `AZURE_CLIENT_CERTIFICATE_PASSWORD` is set (the value stays in the env).
        has_password: bool,
    },
    ClientSecret {
        client_id: String,
    },
    AzureCli {
        program: PathBuf,
    },
}

impl CredentialPlan {
    pub fn source(&self) -> CredentialSource {
        match self {
            CredentialPlan::Sandbox { .. } => CredentialSource::Sandbox,
            CredentialPlan::WorkloadIdentity { .. } => CredentialSource::WorkloadIdentity,
            CredentialPlan::Certificate { .. } => CredentialSource::Certificate,
            CredentialPlan::ClientSecret { .. } => CredentialSource::ClientSecret,
            CredentialPlan::AzureCli { .. } => CredentialSource::AzureCli,
        }
    }
}

/// Picks the credential: `--auth`'s if given (its variables then required), else the first
/// whose variables are all present, in [`CredentialSource::ORDER`].
pub fn plan_credential(
    opts: &AuthOptions,
    env: &EnvSnapshot,
) -> Result<CredentialPlan, GraphError> {
    let tenant_given = opts.tenant.as_deref().is_some_and(|t| !t.trim().is_empty())
        || env.get(AZURE_TENANT_ID).is_some();
    if let Some(source) = opts.forced {
        return try_source(source, opts, env, tenant_given)
            .map_err(|missing| forced_error(source, &missing));
    }
    let mut partial: Vec<(CredentialSource, Vec<&str>)> = Vec::new();
    for source in CredentialSource::ORDER {
        match try_source(source, opts, env, tenant_given) {
            Ok(plan) => {
                for (skipped, missing) in &partial {
                    tracing::warn!(
                        "skipping {}: {} not set",
                        CredentialSource::describe(*skipped),
                        missing_list(missing)
                    );
                }
                tracing::debug!("signing in with {}", source.describe());
                return Ok(plan);
            }
            Err(missing) => {
                // Its own variable set (the secret, the certificate path, the token file) but
                // not the ones it shares: likely a mistake worth naming.
                let required = source.required_vars();
                if required.first().is_some_and(|own| !missing.contains(own)) {
                    partial.push((source, missing));
                }
            }
        }
    }
    let mut message = "no credential found to sign in to Microsoft Graph".to_owned();
    for (source, missing) in &partial {
        message.push_str(&format!(
            "; {} is incomplete: {} not set",
            source.describe(),
            missing_list(missing)
        ));
    }
    Err(GraphError::config(
        message,
        Some(
            "set AZURE_CLIENT_ID and AZURE_TENANT_ID with AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_CLIENT_SECRET, sign in with `az login`, or use `--sandbox` (see docs/authentication.md)"
                .into(),
        ),
    ))
}

/// The plan for one source, or the variables it lacks.
fn try_source(
    source: CredentialSource,
    opts: &AuthOptions,
    env: &EnvSnapshot,
    tenant_given: bool,
) -> Result<CredentialPlan, Vec<&'static str>> {
    if source == CredentialSource::Sandbox {
        return match &opts.sandbox {
            Some(admin) => Ok(CredentialPlan::Sandbox {
                client_id: admin.client_id.clone(),
            }),
            None => Err(vec!["--sandbox"]),
        };
    }
    if source == CredentialSource::AzureCli {
        return match env.find_program("az") {
            Some(program) => Ok(CredentialPlan::AzureCli { program }),
            None => Err(vec!["az (on PATH)"]),
        };
    }
    let missing: Vec<&'static str> = source
        .required_vars()
        .iter()
        .copied()
        .filter(|name| {
            if *name == AZURE_TENANT_ID {
                !tenant_given
            } else {
                env.get(name).is_none()
            }
        })
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let client_id = env.get(AZURE_CLIENT_ID).unwrap_or_default().to_owned();
    Ok(match source {
        CredentialSource::WorkloadIdentity => CredentialPlan::WorkloadIdentity {
            client_id,
            token_file: env
                .get(AZURE_FEDERATED_TOKEN_FILE)
                .unwrap_or_default()
                .into(),
        },
        CredentialSource::Certificate => CredentialPlan::Certificate {
            client_id,
            path: env
                .get(AZURE_CLIENT_CERTIFICATE_PATH)
                .unwrap_or_default()
                .into(),
            has_password: env.get(AZURE_CLIENT_CERTIFICATE_PASSWORD).is_some(),
        },
        _ => CredentialPlan::ClientSecret { client_id },
    })
}

fn missing_list(missing: &[&str]) -> String {
    missing
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn forced_error(source: CredentialSource, missing: &[&str]) -> GraphError {
    let flag = format!("--auth {}", source.flag_value());
    match source {
        CredentialSource::Sandbox => GraphError::config(
            format!("`{flag}` needs the sandbox"),
            Some("add `--sandbox`".into()),
        ),
        CredentialSource::AzureCli => GraphError::config(
            format!("`{flag}` needs the Azure CLI, but `az` is not on PATH"),
            Some("install the Azure CLI and run `az login`".into()),
        ),
        _ => {
            let tenant_hint = if missing.contains(&AZURE_TENANT_ID) {
                " (or pass `--tenant`)"
            } else {
                ""
            };
            GraphError::config(
                format!("`{flag}` needs {} to be set", missing_list(missing)),
                Some(format!(
                    "set {}{tenant_hint}; see docs/authentication.md",
                    missing_list(missing)
                )),
            )
        }
    }
}

/// A credential ready to ask for tokens.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A client secret; also how `--sandbox` signs in with the bootstrap admin.
    ClientSecret { client_id: String, secret: Secret },
    /// A certificate whose private key signs a fresh client assertion for each token.
    Certificate {
        client_id: String,
        path: PathBuf,
        certificate: Arc<ClientCertificate>,
        alg: AssertionAlg,
    },
    /// An external IdP's token, re-read from the file on every sign-in (the IdP rotates it).
    WorkloadIdentity {
        client_id: String,
        token_file: PathBuf,
    },
    /// `az account get-access-token`.
    AzureCli { program: PathBuf },
}

impl Credential {
    pub fn client_secret(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Credential::ClientSecret {
            client_id: client_id.into(),
            secret: Secret::new(secret),
        }
    }

    pub fn source(&self) -> CredentialSource {
        match self {
            Credential::ClientSecret { .. } => CredentialSource::ClientSecret,
            Credential::Certificate { .. } => CredentialSource::Certificate,
            Credential::WorkloadIdentity { .. } => CredentialSource::WorkloadIdentity,
            Credential::AzureCli { .. } => CredentialSource::AzureCli,
        }
    }

    pub fn client_id(&self) -> Option<&str> {
        match self {
            Credential::ClientSecret { client_id, .. }
            | Credential::Certificate { client_id, .. }
            | Credential::WorkloadIdentity { client_id, .. } => Some(client_id),
            Credential::AzureCli { .. } => None,
        }
    }
}

/// Chooses a credential ([`plan_credential`]) and loads what it needs (the certificate file).
pub async fn resolve_credential(
    opts: &AuthOptions,
    env: &EnvSnapshot,
) -> Result<Credential, GraphError> {
    Ok(match plan_credential(opts, env)? {
        CredentialPlan::Sandbox { client_id } => {
            let secret = opts
                .sandbox
                .as_ref()
                .map(|a| a.secret.clone())
                .unwrap_or_else(|| Secret::new(""));
            Credential::ClientSecret { client_id, secret }
        }
        CredentialPlan::WorkloadIdentity {
            client_id,
            token_file,
        } => Credential::WorkloadIdentity {
            client_id,
            token_file,
        },
        CredentialPlan::Certificate {
            client_id, path, ..
        } => {
            let password = env
                .get(AZURE_CLIENT_CERTIFICATE_PASSWORD)
                .map(|p| PfxPassword::from_variable(AZURE_CLIENT_CERTIFICATE_PASSWORD, p))
                .transpose()
                .map_err(|source| GraphError::Certificate {
                    path: path.clone(),
                    source,
                })?;
            let certificate = load_certificate(path.clone(), password).await?;
            Credential::Certificate {
                client_id,
                path,
                certificate: Arc::new(certificate),
                alg: opts.certificate_alg,
            }
        }
        CredentialPlan::ClientSecret { client_id } => Credential::ClientSecret {
            client_id,
            secret: Secret::new(env.get(AZURE_CLIENT_SECRET).unwrap_or_default()),
        },
        CredentialPlan::AzureCli { program } => Credential::AzureCli { program },
    })
}

/// Loads a PEM (certificate + key) or PFX off the async threads: PFX decryption runs PBKDF2.
pub async fn load_certificate(
    path: PathBuf,
    password: Option<PfxPassword>,
) -> Result<ClientCertificate, GraphError> {
    let p = path.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        crate::cert::load_client_certificate(&p, password.as_ref())
    })
    .await
    .map_err(|e| GraphError::config(format!("loading the certificate stopped: {e}"), None))?;
    loaded.map_err(|source| GraphError::Certificate { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hint::Hint;

    const SECRET_ENV: [(&str, &str); 3] = [
        (AZURE_CLIENT_ID, "11111111-1111-1111-1111-111111111111"),
        (AZURE_TENANT_ID, "contoso.onmicrosoft.com"),
        (AZURE_CLIENT_SECRET, "s3cret"),
    ];

    fn sandbox_opts() -> AuthOptions {
        AuthOptions {
            sandbox: Some(SandboxAdmin {
                client_id: "admin".into(),
                secret: Secret::new("x"),
            }),
            ..AuthOptions::default()
        }
    }

    #[test]
    fn the_sandbox_wins_over_everything_in_the_environment() {
        let env = EnvSnapshot::from_pairs(SECRET_ENV);
        let plan = plan_credential(&sandbox_opts(), &env).unwrap();
        assert_eq!(plan.source(), CredentialSource::Sandbox);
    }

    #[test]
    fn credentials_are_tried_in_the_azure_sdk_order() {
        let all = [
            (AZURE_CLIENT_ID, "c"),
            (AZURE_TENANT_ID, "t"),
            (AZURE_FEDERATED_TOKEN_FILE, "/var/run/token"),
            (AZURE_CLIENT_CERTIFICATE_PATH, "/c.pem"),
            (AZURE_CLIENT_SECRET, "s"),
        ];
        let pick = |skip: &[&str]| {
            let env =
                EnvSnapshot::from_pairs(all.iter().filter(|(k, _)| !skip.contains(k)).copied());
            plan_credential(&AuthOptions::default(), &env)
                .unwrap()
                .source()
        };
        assert_eq!(pick(&[]), CredentialSource::WorkloadIdentity);
        assert_eq!(
            pick(&[AZURE_FEDERATED_TOKEN_FILE]),
            CredentialSource::Certificate
        );
        assert_eq!(
            pick(&[AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_CERTIFICATE_PATH]),
            CredentialSource::ClientSecret
        );
    }

    #[test]
    fn the_tenant_may_come_from_the_flag_instead_of_the_environment() {
        let env = EnvSnapshot::from_pairs([(AZURE_CLIENT_ID, "c"), (AZURE_CLIENT_SECRET, "s")]);
        let opts = AuthOptions {
            tenant: Some("contoso.onmicrosoft.com".into()),
            ..AuthOptions::default()
        };
        assert_eq!(
            plan_credential(&opts, &env).unwrap(),
            CredentialPlan::ClientSecret {
                client_id: "c".into()
            }
        );
    }

    #[test]
    fn a_forced_credential_names_each_missing_variable() {
        let env = EnvSnapshot::from_pairs([(AZURE_CLIENT_ID, "c")]);
        let opts = AuthOptions {
            forced: Some(CredentialSource::WorkloadIdentity),
            ..AuthOptions::default()
        };
        let err = plan_credential(&opts, &env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`--auth workload-identity` needs `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_TENANT_ID` to be set"
        );
        assert!(err.hint().unwrap().contains("--tenant"));
    }

    #[test]
    fn a_forced_credential_is_used_even_when_an_earlier_one_is_configured() {
        let mut pairs = SECRET_ENV.to_vec();
        pairs.push((AZURE_FEDERATED_TOKEN_FILE, "/t"));
        let env = EnvSnapshot::from_pairs(pairs);
        let opts = AuthOptions {
            forced: Some(CredentialSource::ClientSecret),
            ..AuthOptions::default()
        };
        assert_eq!(
            plan_credential(&opts, &env).unwrap().source(),
            CredentialSource::ClientSecret
        );
    }

    #[test]
    fn forcing_the_sandbox_without_sandbox_mode_is_refused() {
        let opts = AuthOptions {
            forced: Some(CredentialSource::Sandbox),
            ..AuthOptions::default()
        };
        let err = plan_credential(&opts, &EnvSnapshot::default()).unwrap_err();
        assert_eq!(err.hint().as_deref(), Some("add `--sandbox`"));
    }

    #[test]
    fn with_nothing_configured_the_error_names_incomplete_credentials() {
        let env = EnvSnapshot::from_pairs([(AZURE_CLIENT_SECRET, "s"), ("PATH", "")]);
        let err = plan_credential(&AuthOptions::default(), &env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no credential found to sign in to Microsoft Graph; a client secret (AZURE_CLIENT_SECRET) is incomplete: `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` not set"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_azure_cli_is_found_on_path_and_used_last() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let az = dir.path().join("az");
        std::fs::write(&az, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().to_str().unwrap().to_owned();
        let env = EnvSnapshot::from_pairs([("PATH", path.as_str())]);
        assert_eq!(
            plan_credential(&AuthOptions::default(), &env).unwrap(),
            CredentialPlan::AzureCli { program: az }
        );
        let mut pairs = SECRET_ENV.to_vec();
        pairs.push(("PATH", path.as_str()));
        let env = EnvSnapshot::from_pairs(pairs);
        assert_eq!(
            plan_credential(&AuthOptions::default(), &env)
                .unwrap()
                .source(),
            CredentialSource::ClientSecret
        );
    }

    #[test]
    fn blank_variables_count_as_unset() {
        let env = EnvSnapshot::from_pairs([
            (AZURE_CLIENT_ID, "c"),
            (AZURE_TENANT_ID, "t"),
            (AZURE_CLIENT_SECRET, "  "),
            ("PATH", ""),
        ]);
        assert!(plan_credential(&AuthOptions::default(), &env).is_err());
    }

    #[test]
    fn debug_output_of_the_environment_shows_names_only() {
        let env = EnvSnapshot::from_pairs(SECRET_ENV);
        let shown = format!("{env:?}");
        assert!(!shown.contains("s3cret") && shown.contains(AZURE_CLIENT_SECRET));
    }
}
