//! `entraform test-login`: sign in as a managed app with its own certificate, exactly as
//! `Connect-ExchangeOnline -CertificateFilePath` does (client credentials with an RS256 client
//! assertion at the tenant's token endpoint), and read what the token carries.
//!
//! The steps: find the app's manifest, choose the certificate and its password and the scope
//! (all before any tenant is contacted), look up the app's `appId` in the tenant (with the
//! connection's own credential), sign in as the app at the connection's authority, decode the
//! token's claims, and name its `wids` from the tenant's role definitions when the connection
//! may read them.
//!
//! Without `--scope`, the token is asked for the API the app holds application permissions on
//! (its `roles` claim only lists permissions on the token's audience): an Exchange-only app gets
//! `https://outlook.office365.com/.default`, not Graph's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cert::{self, AssertionAlg, CertError, ClientCertificate, PfxPassword};
use crate::graph::types::UnifiedRoleDefinition;
use crate::graph::{self, Credential, GraphClient, GraphError, SignInError};
use crate::manifest;
use crate::model::{ApiRef, AppId, CertificateSource, DesiredApp, KNOWN_APIS, Thumbprint};
use crate::report::login::{self, LoginCertificate, LoginReport, OtherApi};
use crate::{Error, Result};
use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct TestLoginRequest {
    /// The app's `metadata.name`.
    pub app: String,
    /// `--pfx`: sign in with this file instead of the app's generated certificate.
    pub pfx: Option<PathBuf>,
    /// `--key-vault`: sign in with the current version in the Key Vault the app's generated
    /// certificate goes to, fetched as the script host would.
    pub key_vault: bool,
    /// `--scope`, e.g. `https://outlook.office365.com/.default`; `None` chooses from the app's
    /// `apiPermissions`.
    pub scope: Option<String>,
    pub paths: Vec<PathBuf>,
    pub recursive: bool,
}

/// A successful sign-in and what the user should know about how it was made.
#[derive(Debug, Clone)]
pub struct TestLogin {
    pub report: LoginReport,
    /// Status lines for stderr (which certificate of several was used).
    pub notes: Vec<String>,
}

/// What a sign-in needs from disk: the app's manifest, its certificate (key and all) and the
/// scope. Read before connecting, so a wrong name, file or password starts no sandbox and
/// signs in nowhere.
pub struct Prepared {
    app: DesiredApp,
    choice: CertificateChoice,
    /// `None` until fetched from Key Vault ([`Prepared::fetch_from_key_vault`]).
    certificate: Option<ClientCertificate>,
    /// With `--key-vault`: where the certificate is fetched from.
    key_vault: Option<crate::model::KeyVaultCertificate>,
    /// `--scope`, if given.
    scope: Option<String>,
    notes: Vec<String>,
}

/// `progress` receives status lines while the sign-in waits for a new key to replicate.
pub async fn test_login(
    client: &GraphClient,
    request: &TestLoginRequest,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<TestLogin> {
    let prepared = prepare(request).await?;
    sign_in(client, prepared, progress).await
}

pub async fn prepare(request: &TestLoginRequest) -> Result<Prepared> {
    let manifests = manifest::load(&request.paths, request.recursive)?;
    let app = find_app(&manifests.apps, &request.app)?.clone();
    let mut notes = Vec::new();
    if request.key_vault {
        let (name, target) = vault_certificate(&app)?;
        return Ok(Prepared {
            choice: CertificateChoice {
                path: PathBuf::from(format!("Key Vault {target}")),
                name: Some(name),
                password_env: None,
            },
            app,
            certificate: None,
            key_vault: Some(target),
            scope: request.scope.clone(),
            notes,
        });
    }
    let choice = choose_certificate(&app, request.pfx.as_deref(), &mut notes)?;
    let certificate = load_certificate(&choice).await?;
    let scope = request.scope.clone();
    Ok(Prepared {
        app,
        choice,
        certificate: Some(certificate),
        key_vault: None,
        scope,
        notes,
    })
}

/// The app's (first) generated certificate that goes to Key Vault.
fn vault_certificate(app: &DesiredApp) -> Result<(String, crate::model::KeyVaultCertificate)> {
    app.certificates
        .iter()
        .flatten()
        .find_map(|c| match &c.source {
            CertificateSource::Generate(g) => {
                g.key_vault.clone().map(|target| (c.name.clone(), target))
            }
            _ => None,
        })
        .ok_or_else(|| {
            Error::usage_with_hint(
                format!("`{}` has no generated certificate with a `keyVault` destination", app.name),
                "add `keyVault: {vault, certificate}` under the certificate's `generate`, or drop `--key-vault`",
            )
        })
}

impl Prepared {
    /// With `--key-vault`: fetches the certificate's current version from the vault, as the
    /// script host does (`GET /secrets/{name}`: the PFX with a blank password).
    pub async fn fetch_from_key_vault(
        &mut self,
        key_vault: &crate::keyvault::KeyVaultClient,
    ) -> Result<()> {
        let Some(target) = &self.key_vault else {
            return Ok(());
        };
        use base64::Engine as _;
        let secret = key_vault.get_secret(target).await?;
        let bytes = zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(secret.value.expose().trim())
                .map_err(|_| {
                    Error::usage(format!(
                        "the secret of Key Vault {target} is not a base64 PFX ({})",
                        secret.content_type.as_deref().unwrap_or("no content type")
                    ))
                })?,
        );
        self.certificate = Some(cert::client_certificate_from_pfx(
            &self.choice.path,
            &bytes,
        )?);
        Ok(())
    }
}

/// `progress` receives status lines while the sign-in waits for a new key to replicate.
pub async fn sign_in(
    client: &GraphClient,
    prepared: Prepared,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<TestLogin> {
    let Prepared {
        app,
        choice,
        certificate,
        scope,
        mut notes,
        ..
    } = prepared;
    let certificate = certificate.ok_or_else(|| {
        Error::usage("the certificate was not fetched from Key Vault before signing in")
    })?;
    let app = &app;
    let (scope, other_apis) = resolve_scope(client, app, scope, &mut notes).await?;

    let (app_id, display_name) = find_app_id(client, app).await?;
    let credential = Credential::Certificate {
        client_id: app_id.to_string(),
        path: choice.path.clone(),
        certificate: Arc::new(certificate.clone()),
        alg: AssertionAlg::Rs256,
    };
    let http = graph::http_client(client.config())?;
    let thumbprint = certificate.certificate().thumbprint();
    let attached = || key_attached(client, app_id, thumbprint);
    let token = sign_in_while_replicating(
        &http,
        client.endpoints(),
        &credential,
        &scope,
        &attached,
        progress,
    )
    .await
    .map_err(|e| {
        let e = match e {
            Refused::Detached(e) => {
                progress(&format!(
                    "the certificate in `{}` ({thumbprint}) matches no key of `{}` in the tenant: whatever uses this file cannot sign in",
                    choice.path.display(),
                    app.name
                ));
                e
            }
            Refused::Graph(e) => e,
        };
        sign_in_failed(&app.name, &choice.path, &scope, e)
    })?;
    let claims = login::decode_claims(token.token.expose());
    drop(token);

    let role_names = match &claims {
        Some(c) if !c.wids.is_empty() => role_names(client).await,
        _ => BTreeMap::new(),
    };
    Ok(TestLogin {
        report: LoginReport {
            app: app.name.clone(),
            display_name: display_name.unwrap_or_else(|| app.display_name.clone()),
            app_id,
            certificate: LoginCertificate {
                path: choice.path,
                name: choice.name,
                thumbprint: certificate.certificate().thumbprint(),
                not_after: certificate.certificate().not_after(),
            },
            scope,
            other_apis,
            claims,
            role_names,
        },
        notes,
    })
}

/// Graph's scope: what a token is asked for when the app declares no application permissions.
pub use crate::model::GRAPH_SCOPE;

/// The APIs the app holds application permissions on, in manifest order. A token's `roles`
/// list application permissions on its audience only, so the scope that shows an app's roles
/// is its API's: without `--scope`, the first of these (none: Graph).
fn role_apis(app: &DesiredApp) -> Vec<&ApiRef> {
    app.api_permissions
        .iter()
        .flatten()
        .filter(|p| !p.application.is_empty())
        .map(|p| &p.api)
        .collect()
}

/// The `.default` scope of an API, when it can be told without asking the tenant.
fn known_scope(api: &ApiRef) -> Option<String> {
    match api {
        ApiRef::AppId(id) => Some(
            KNOWN_APIS
                .iter()
                .find(|(_, app_id, _)| app_id.eq_ignore_ascii_case(&id.to_string()))
                .map_or_else(
                    || format!("{id}/.default"),
                    |(_, _, scope)| (*scope).to_owned(),
                ),
        ),
        ApiRef::DisplayName(name) => KNOWN_APIS
            .iter()
            .find(|(known, _, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, _, scope)| (*scope).to_owned()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceAppId {
    app_id: AppId,
}

/// An API's scope, asking the tenant for the appId of one named by a display name that is
/// not well known; `None` when the tenant has no such service principal.
async fn api_scope(client: &GraphClient, api: &ApiRef) -> Result<Option<String>> {
    if let Some(scope) = known_scope(api) {
        return Ok(Some(scope));
    }
    let found = client
        .list::<ResourceAppId>(&graph::api::service_principals::named(&api.to_string()))
        .await?;
    Ok(match found.as_slice() {
        [one] => Some(format!("{}/.default", one.app_id)),
        _ => None,
    })
}

/// The scope to ask for (`given`, else the first API's [`role_apis`]), and every other API the
/// app holds application permissions on with the scope that would show its roles. Explains a
/// choice among several in `notes`.
async fn resolve_scope(
    client: &GraphClient,
    app: &DesiredApp,
    given: Option<String>,
    notes: &mut Vec<String>,
) -> Result<(String, Vec<OtherApi>)> {
    let mut scoped = Vec::new();
    for api in role_apis(app) {
        match api_scope(client, api).await? {
            Some(s) => scoped.push(OtherApi {
                api: api.to_string(),
                scope: s,
            }),
            None => notes.push(format!(
                "cannot tell the scope of `{api}`: the tenant has no one service principal by that name; pass `--scope <its application ID URI>/.default` to see its roles"
            )),
        }
    }
    let chosen = match (given, scoped.first()) {
        (Some(given), _) => given,
        (None, Some(first)) => {
            if scoped.len() > 1 {
                notes.push(format!(
                    "`{}` holds application permissions on {} APIs; signing in for the first the manifest lists, `{}`",
                    app.name,
                    scoped.len(),
                    first.api
                ));
            }
            first.scope.clone()
        }
        (None, None) => GRAPH_SCOPE.to_owned(),
    };
    let others = scoped
        .into_iter()
        .filter(|o| !o.scope.eq_ignore_ascii_case(&chosen))
        .collect();
    Ok((chosen, others))
}

fn find_app<'a>(apps: &'a [DesiredApp], name: &str) -> Result<&'a DesiredApp> {
    if let Some(app) = apps.iter().find(|a| a.name == name) {
        return Ok(app);
    }
    let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
    let suggestions = crate::planner::resolve::suggest(name, names.iter().copied());
    let hint = match suggestions.as_slice() {
        [] if names.len() <= 10 => format!(
            "`--app` takes a `metadata.name`; the manifests loaded name {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        [] => "`--app` takes a `metadata.name` from the manifests".to_owned(),
        [one] => format!("did you mean `{one}`?"),
        many => format!(
            "did you mean one of {}?",
            many.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Err(Error::usage_with_hint(
        format!("no manifest names an app `{name}`"),
        hint,
    ))
}

/// The file to sign in with, and where its password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CertificateChoice {
    path: PathBuf,
    /// The manifest certificate it is, when it is a generated certificate's `pfx`.
    name: Option<String>,
    /// The variable holding the password: the certificate's `pfxPasswordEnv`, or for `--pfx`
    /// the app's first generated certificate's.
    password_env: Option<String>,
}

fn choose_certificate(
    app: &DesiredApp,
    pfx: Option<&Path>,
    notes: &mut Vec<String>,
) -> Result<CertificateChoice> {
    let generated: Vec<(&str, &Path, &str)> = app
        .certificates
        .iter()
        .flatten()
        .filter_map(|c| match &c.source {
            CertificateSource::Generate(g) => Some((
                c.name.as_str(),
                g.pfx.as_deref()?,
                g.pfx_password_env.as_deref()?,
            )),
            CertificateSource::File { .. } | CertificateSource::KeyVault(_) => None,
        })
        .collect();
    if let Some(path) = pfx {
        return Ok(CertificateChoice {
            path: path.to_owned(),
            name: generated
                .iter()
                .find(|(_, pfx, _)| *pfx == path)
                .map(|(n, _, _)| (*n).to_owned()),
            password_env: generated.first().map(|(_, _, env)| (*env).to_owned()),
        });
    }
    let Some((name, pfx, env)) = generated.first() else {
        return Err(Error::usage_with_hint(
            format!(
                "`{}` has no generated certificate with a PFX file, so there is none of its own to sign in with",
                app.name
            ),
            "pass the certificate and its private key with `--pfx FILE` (a PFX, or a PEM file holding both), or `--key-vault` for a certificate kept in Key Vault",
        ));
    };
    if generated.len() > 1 {
        notes.push(format!(
            "`{}` has {} generated certificates; signing in with the first, `{name}` (`{}`); pass `--pfx` for another",
            app.name,
            generated.len(),
            pfx.display()
        ));
    }
    Ok(CertificateChoice {
        path: pfx.to_path_buf(),
        name: Some((*name).to_owned()),
        password_env: Some((*env).to_owned()),
    })
}

/// Loads the certificate off the async threads (a PFX runs PBKDF2). A missing password variable
/// matters only for a file that needs one: a PEM file or an unprotected PFX loads without.
async fn load_certificate(choice: &CertificateChoice) -> Result<ClientCertificate> {
    let password = choice
        .password_env
        .as_deref()
        .map(cert::pfx_password_from_env);
    let path = choice.path.clone();
    let loaded = tokio::task::spawn_blocking(move || -> Result<ClientCertificate, CertError> {
        match password {
            Some(Ok(password)) => cert::load_client_certificate(&path, Some(&password)),
            Some(Err(missing)) => match cert::load_client_certificate(&path, None) {
                Err(CertError::WrongPassword { .. }) => Err(missing),
                other => other,
            },
            None => cert::load_client_certificate(&path, None::<&PfxPassword>),
        }
    })
    .await
    .map_err(|e| Error::usage(format!("loading the certificate stopped: {e}")))?;
    Ok(loaded?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppIdentity {
    app_id: AppId,
    #[serde(default)]
    display_name: Option<String>,
}

/// The app's `appId` and display name, by its `uniqueName`, else by the adopted `appId`.
async fn find_app_id(client: &GraphClient, app: &DesiredApp) -> Result<(AppId, Option<String>)> {
    let by_name = graph::api::applications::identity_by_unique_name(&app.name);
    let found = match client.fetch::<AppIdentity>(&by_name).await {
        Ok(found) => Some(found),
        Err(e) if e.is_not_found() => match app.adopt_app_id {
            Some(id) => {
                let by_id = graph::api::applications::identity_by_app_id(id);
                match client.fetch::<AppIdentity>(&by_id).await {
                    Ok(found) => Some(found),
                    Err(e) if e.is_not_found() => None,
                    Err(e) => return Err(e.into()),
                }
            }
            None => None,
        },
        Err(e) => return Err(e.into()),
    };
    let found = found.ok_or_else(|| {
        Error::usage_with_hint(
            format!("`{}` has no application in the tenant", app.name),
            "create it with `entraform apply` first",
        )
    })?;
    Ok((found.app_id, found.display_name))
}

/// Directory role display names by template id, when the connection may read them; a token's
/// `wids` are template ids.
async fn role_names(client: &GraphClient) -> BTreeMap<String, String> {
    match client
        .list::<UnifiedRoleDefinition>(&graph::api::directory_roles::definitions())
        .await
    {
        Ok(defs) => defs
            .into_iter()
            .filter_map(|d| {
                let template = d.template_id.unwrap_or_else(|| d.id.to_string());
                Some((template.to_ascii_lowercase(), d.display_name?))
            })
            .collect(),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read role definitions; wids stay unnamed");
            BTreeMap::new()
        }
    }
}

/// How long test-login waits for a new key to replicate to the token service.
const REPLICATION_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// How long a certificate Graph does not show on the app is given to show up before test-login
/// says it is not the app's.
const DETACHED_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// AADSTS codes Entra ID answers while a new key, application or service principal has not
/// replicated to the token service (graph-contract.md, corrections: a new key can fail with
/// AADSTS700027 for seconds to minutes; AADSTS70021 is the same for a federated credential).
const REPLICATING: &[(u32, &str)] = &[
    (700027, "the key"),
    (70021, "the federated credential"),
    (700016, "the application"),
    (7000229, "the service principal"),
];

/// Why a sign-in failed for good.
enum Refused {
    /// AADSTS700027, and Graph does not show the certificate on the app either.
    Detached(GraphError),
    Graph(GraphError),
}

/// Whether Graph shows a key with this thumbprint on the app (read once, with the key bytes).
async fn key_attached(client: &GraphClient, app_id: AppId, thumbprint: Thumbprint) -> bool {
    let read = graph::api::applications::with_key_certificates_by_app_id(app_id);
    let app = match client.fetch::<graph::types::Application>(&read).await {
        Ok(app) => app,
        Err(e) => {
            // Unknown: the token service's answer is all there is; wait as for a new key.
            tracing::debug!(error = %e, "cannot read the app's keys");
            return true;
        }
    };
    app.key_credentials.iter().any(|k| {
        let from_key = k.key.as_deref().and_then(|b64| {
            use base64::Engine as _;
            let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            cert::PublicCertificate::from_der(&der).ok()
        });
        match from_key {
            Some(c) => c.thumbprint() == thumbprint,
            None => crate::observe::key_credential(k).thumbprint == Some(thumbprint),
        }
    })
}

/// Signs in, waiting (bounded by [`REPLICATION_WAIT`], and saying so) while the identity
/// platform answers as it does right after apply attached a new key. AADSTS700027 is waited out
/// while Graph shows the key on the app (`attached`), or until [`DETACHED_AFTER`]: a key Graph
/// does not show either is simply not the app's, and waiting longer would not help.
async fn sign_in_while_replicating<F, Fut>(
    http: &reqwest::Client,
    endpoints: &graph::GraphEndpoints,
    credential: &Credential,
    scope: &str,
    attached: &F,
    progress: &(dyn Fn(&str) + Sync),
) -> std::result::Result<graph::AccessToken, Refused>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = tokio::time::Instant::now();
    let mut wait = std::time::Duration::from_millis(500);
    let mut said = None;
    loop {
        let err = match graph::acquire_token(http, endpoints, credential, scope).await {
            Ok(token) => return Ok(token),
            Err(e) => e,
        };
        let replicating = match &err {
            GraphError::SignIn(e) => e
                .codes
                .iter()
                .find_map(|c| REPLICATING.iter().find(|(code, _)| code == c)),
            _ => None,
        };
        let Some((code, what)) = replicating else {
            return Err(Refused::Graph(err));
        };
        // Graph's reads lag a new key too: only a key it has not shown for a while is not
        // the app's.
        if *code == 700027 && !attached().await && started.elapsed() >= DETACHED_AFTER {
            return Err(Refused::Detached(err));
        }
        if started.elapsed() + wait > REPLICATION_WAIT {
            return Err(Refused::Graph(err));
        }
        if said != Some(*code) {
            progress(&format!(
                "waiting for {what} to replicate to Entra ID's token service (AADSTS{code}); this can take a few minutes after apply..."
            ));
            said = Some(*code);
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(std::time::Duration::from_secs(10));
    }
}

/// A refused sign-in, worded for test-login: which app, which file, which scope, the identity
/// platform's AADSTS code and ids, and the graph layer's hint for the code.
fn sign_in_failed(app: &str, path: &Path, scope: &str, err: GraphError) -> Error {
    let GraphError::SignIn(e) = err else {
        return err.into();
    };
    Error::Usage {
        message: sign_in_message(app, path, scope, &e),
        hint: e.code_hint().map(str::to_owned),
    }
}

fn sign_in_message(app: &str, path: &Path, scope: &str, e: &SignInError) -> String {
    let mut message = format!(
        "`{app}` could not sign in with `{}` for `{scope}`",
        path.display()
    );
    match (&e.description, &e.error) {
        (Some(d), _) => message.push_str(&format!(": {d}")),
        (None, Some(err)) => message.push_str(&format!(": {err}")),
        (None, None) => {
            if let Some(status) = e.status {
                message.push_str(&format!(": HTTP {status}"));
            }
        }
    }
    if let Some(code) = e.codes.first()
        && !message.contains(&format!("AADSTS{code}"))
    {
        message.push_str(&format!(" (AADSTS{code})"));
    }
    let ids: Vec<String> = [
        ("trace-id", &e.trace_id),
        ("correlation-id", &e.correlation_id),
        ("timestamp", &e.timestamp),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
    .collect();
    if !ids.is_empty() {
        message.push_str(&format!(" ({})", ids.join(", ")));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hint::Hint as _;
    use crate::model::{CertificateSpec, KeyType, PfxEncryption};

    fn app(certs: &[(&str, &str, &str)]) -> DesiredApp {
        DesiredApp {
            certificates: Some(
                certs
                    .iter()
                    .map(|(name, pfx, env)| CertificateSpec {
                        name: (*name).into(),
                        source: CertificateSource::Generate(crate::model::GenerateSpec {
                            subject: "CN=Exo_V2_App".into(),
                            key_type: KeyType::Rsa2048,
                            validity: "365d".parse().unwrap(),
                            renew_before: "30d".parse().unwrap(),
                            overlap: crate::model::DEFAULT_OVERLAP,
                            keep_archived: false,
                            pfx: Some((*pfx).into()),
                            pfx_password_env: Some((*env).into()),
                            pfx_encryption: PfxEncryption::Aes256,
                            cer: None,
                            key_vault: None,
                        }),
                    })
                    .collect(),
            ),
            ..DesiredApp::unmanaged("exo-v2-app", "Exo_V2_App")
        }
    }

    #[test]
    fn the_first_generated_certificate_is_used_and_the_choice_is_said_when_there_are_several() {
        let mut notes = Vec::new();
        let one = app(&[("automation", "secrets/a.pfx", "A_PASS")]);
        let choice = choose_certificate(&one, None, &mut notes).unwrap();
        assert_eq!(choice.path, Path::new("secrets/a.pfx"));
        assert_eq!(choice.name.as_deref(), Some("automation"));
        assert_eq!(choice.password_env.as_deref(), Some("A_PASS"));
        assert!(notes.is_empty());

        let two = app(&[
            ("automation", "secrets/a.pfx", "A_PASS"),
            ("backup", "secrets/b.pfx", "B_PASS"),
        ]);
        let choice = choose_certificate(&two, None, &mut notes).unwrap();
        assert_eq!(choice.name.as_deref(), Some("automation"));
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("`automation`"), "{}", notes[0]);
    }

    #[test]
    fn pfx_uses_the_apps_first_password_variable() {
        let two = app(&[
            ("automation", "secrets/a.pfx", "A_PASS"),
            ("backup", "secrets/b.pfx", "B_PASS"),
        ]);
        let mut notes = Vec::new();
        let given = choose_certificate(&two, Some(Path::new("old.pfx")), &mut notes).unwrap();
        assert_eq!(given.password_env.as_deref(), Some("A_PASS"));
        assert_eq!(given.name, None);
        let named = choose_certificate(&two, Some(Path::new("secrets/b.pfx")), &mut notes).unwrap();
        assert_eq!(named.name.as_deref(), Some("backup"));
        assert!(notes.is_empty());
    }

    #[test]
    fn an_app_without_generated_certificates_needs_pfx() {
        let none = app(&[]);
        let err = choose_certificate(&none, None, &mut Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains("no generated certificate"),
            "{err}"
        );
        assert!(err.hint().unwrap().contains("--pfx"));
        let given = choose_certificate(&none, Some(Path::new("k.pem")), &mut Vec::new()).unwrap();
        assert_eq!(given.password_env, None);
    }

    #[test]
    fn the_scope_that_shows_roles_is_the_api_holding_application_permissions() {
        use crate::model::ApiPermission;
        let permission = |api: ApiRef, application: &[&str], delegated: &[&str]| ApiPermission {
            api,
            application: application.iter().map(|s| (*s).to_owned()).collect(),
            delegated: delegated.iter().map(|s| (*s).to_owned()).collect(),
        };
        let exchange = ApiRef::DisplayName("Office 365 Exchange Online".into());
        let graph = ApiRef::DisplayName("Microsoft Graph".into());
        let mut exo = app(&[]);
        exo.api_permissions = Some(vec![
            // Delegated permissions put nothing in an app-only token.
            permission(graph.clone(), &[], &["User.Read"]),
            permission(exchange.clone(), &["Exchange.ManageAsApp"], &[]),
        ]);
        assert_eq!(role_apis(&exo), [&exchange]);
        assert_eq!(
            known_scope(&exchange).as_deref(),
            Some("https://outlook.office365.com/.default")
        );
        assert_eq!(known_scope(&graph).as_deref(), Some(GRAPH_SCOPE));
        let by_id: AppId = "00000002-0000-0ff1-ce00-000000000000".parse().unwrap();
        assert_eq!(
            known_scope(&ApiRef::AppId(by_id)).as_deref(),
            Some("https://outlook.office365.com/.default")
        );
        let other: AppId = "c5393580-f805-4401-95e8-94b7a6ef2fc2".parse().unwrap();
        assert_eq!(
            known_scope(&ApiRef::AppId(other)).as_deref(),
            Some("c5393580-f805-4401-95e8-94b7a6ef2fc2/.default")
        );
        assert_eq!(
            known_scope(&ApiRef::DisplayName("Office 365 Management APIs".into())),
            None,
            "asked of the tenant"
        );
    }

    #[test]
    fn an_unknown_app_gets_a_did_you_mean() {
        let apps = [app(&[])];
        let err = find_app(&apps, "exo-v2").unwrap_err();
        assert_eq!(err.to_string(), "no manifest names an app `exo-v2`");
        assert_eq!(err.hint().unwrap(), "did you mean `exo-v2-app`?");
        let err = find_app(&apps, "zzz").unwrap_err();
        assert!(err.hint().unwrap().contains("`exo-v2-app`"));
    }

    #[test]
    fn a_refused_sign_in_names_the_app_file_scope_code_and_ids() {
        let e = SignInError {
            credential: graph::CredentialSource::Certificate,
            client_id: Some("c".into()),
            tenant: Some("t".into()),
            status: Some(401),
            error: Some("invalid_client".into()),
            codes: vec![700027],
            description: Some(
                "AADSTS700027: Client assertion contains an invalid signature.".into(),
            ),
            trace_id: Some("tr".into()),
            correlation_id: Some("co".into()),
            timestamp: None,
        };
        let err = sign_in_failed(
            "exo-v2-app",
            Path::new("secrets/x.pfx"),
            "https://outlook.office365.com/.default",
            GraphError::SignIn(Box::new(e)),
        );
        assert_eq!(
            err.to_string(),
            "`exo-v2-app` could not sign in with `secrets/x.pfx` for `https://outlook.office365.com/.default`: \
             AADSTS700027: Client assertion contains an invalid signature. (trace-id: tr, correlation-id: co)"
        );
        assert_eq!(err.hint().as_deref(), graph::aadsts_hint(700027));
    }
}
