//! Where entraform talks to: the Graph service root, the authority host and the tenant, picked
//! from a cloud name and the `--graph-url` / `--login-url` / `AZURE_AUTHORITY_HOST` overrides.
//!
//! Overrides are how entraform is pointed at a served sandbox as if it were a real tenant, so the
//! URL rules live here, once: `https` everywhere, plain `http` only for loopback hosts (a token
//! sent in the clear to anything else would be readable on the wire).

use std::net::IpAddr;

use reqwest::Url;

use super::error::GraphError;

/// A Microsoft cloud: each has its own Graph and login hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cloud {
    #[default]
    Public,
    UsGov,
    China,
}

impl Cloud {
    /// The Graph service root, which is also the resource tokens are requested for.
    pub fn graph_root(self) -> &'static str {
        match self {
            Cloud::Public => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The DNS suffix of the cloud's Key Vaults (`{vault}.{suffix}`); `https://{suffix}` is
    /// the resource Key Vault tokens are for (MicrosoftDocs/azure-security-docs
    /// `articles/key-vault/general/about-keys-secrets-certificates.md`, DNS suffixes).
    pub fn key_vault_suffix(self) -> &'static str {
        match self {
            Cloud::Public => "vault.azure.net",
            Cloud::UsGov => "vault.usgovcloudapi.net",
            Cloud::China => "vault.azure.cn",
        }
    }

    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Public => "https://login.microsoftonline.com",
            Cloud::UsGov => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }
}

/// The resolved connection targets. `graph_root` and `authority_host` never end with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphEndpoints {
    /// e.g. `https://graph.microsoft.com`; requests go to `{graph_root}/v1.0/…`.
    pub graph_root: Url,
    /// e.g. `https://login.microsoftonline.com`; tokens come from
    /// `{authority_host}/{tenant}/oauth2/v2.0/token`.
    pub authority_host: Url,
    /// A tenant id or verified domain. Only the Azure CLI credential can do without one (it
    /// signs in to the CLI's default tenant).
    pub tenant: Option<String>,
    /// The resource tokens are asked for: the cloud's Graph resource even when `--graph-url`
    /// points elsewhere, because a proxy or emulator in front of Graph still expects Graph's
    /// audience.
    pub resource: String,
}

impl GraphEndpoints {
    /// Endpoints for `cloud`, with optional overrides. `login_url` is `--login-url` or, when the
    /// flag is absent, `AZURE_AUTHORITY_HOST` (the caller decides which; clap does it for the CLI).
    pub fn new(
        cloud: Cloud,
        graph_url: Option<&str>,
        login_url: Option<&str>,
        tenant: Option<&str>,
    ) -> Result<Self, GraphError> {
        let graph_root = service_root("--graph-url", graph_url.unwrap_or(cloud.graph_root()))?;
        let authority_host =
            service_root("--login-url", login_url.unwrap_or(cloud.authority_host()))?;
        let tenant = tenant
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(validate_tenant)
            .transpose()?;
        Ok(Self {
            graph_root,
            authority_host,
            tenant,
            resource: cloud.graph_root().to_owned(),
        })
    }

    /// `{graph_root}/v1.0`, the base every relative Graph path is appended to.
    pub fn api_base(&self) -> String {
        format!("{}/v1.0", root_str(&self.graph_root))
    }

    /// The OAuth scope for Graph: `{resource}/.default`.
    pub fn graph_scope(&self) -> String {
        format!("{}/.default", self.resource)
    }

    /// `{authority_host}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> Result<String, GraphError> {
        let tenant = self.tenant.as_deref().ok_or_else(|| GraphError::Config {
            message: "no tenant given".into(),
            hint: Some("pass `--tenant <id or domain>` or set `AZURE_TENANT_ID`".into()),
        })?;
        Ok(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            root_str(&self.authority_host)
        ))
    }

    /// Turns a path (`/applications?…`) or an absolute URL under [`Self::api_base`] (an
    /// `@odata.nextLink`) into the absolute URL to send. An absolute URL anywhere else is
    /// refused: a bearer token must never follow a link off the Graph host.
    pub fn resolve(&self, path_or_url: &str) -> Result<Url, GraphError> {
        let base = self.api_base();
        let absolute = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://")
        {
            let url = Url::parse(path_or_url).map_err(|e| GraphError::Config {
                message: format!("`{path_or_url}` is not a valid URL: {e}"),
                hint: None,
            })?;
            let inside = url.origin() == self.graph_root.origin()
                && url
                    .path()
                    .starts_with(&format!("{}/", api_path(&self.graph_root)));
            if !inside {
                return Err(GraphError::Config {
                    message: format!(
                        "refusing to follow `{path_or_url}`: it is not under `{base}`"
                    ),
                    hint: None,
                });
            }
            return Ok(url);
        } else if path_or_url.starts_with('/') {
            format!("{base}{path_or_url}")
        } else {
            format!("{base}/{path_or_url}")
        };
        Url::parse(&absolute).map_err(|e| GraphError::Config {
            message: format!("`{path_or_url}` does not make a valid Graph URL: {e}"),
            hint: None,
        })
    }

    /// The part of a Graph URL after `/v1.0`, as `$batch` parts and error messages want it.
    pub fn relative(&self, url: &Url) -> String {
        let prefix = api_path(&self.graph_root);
        let path = url.path().strip_prefix(&prefix).unwrap_or(url.path());
        match url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        }
    }
}

fn root_str(url: &Url) -> &str {
    url.as_str().trim_end_matches('/')
}

/// The URL path of `{graph_root}/v1.0` (a proxy may put Graph under a path prefix).
fn api_path(root: &Url) -> String {
    format!("{}/v1.0", root.path().trim_end_matches('/'))
}

/// Parses a service root: `https` (or `http` to loopback), a host, no query, no credentials.
fn service_root(flag: &str, raw: &str) -> Result<Url, GraphError> {
    let bad = |message: String, hint: Option<String>| GraphError::Config { message, hint };
    let url = Url::parse(raw.trim())
        .map_err(|e| bad(format!("`{raw}` given to `{flag}` is not a URL: {e}"), None))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(bad(
                format!("`{flag}` `{raw}` uses plain http to a host that is not loopback"),
                Some(
                    "use https; plain http is accepted only for 127.0.0.1, ::1 and localhost (a local sandbox)"
                        .into(),
                ),
            ));
        }
        other => {
            return Err(bad(
                format!("`{flag}` `{raw}` has scheme `{other}`; expected https"),
                None,
            ));
        }
    }
    if url.host().is_none() {
        return Err(bad(format!("`{flag}` `{raw}` has no host"), None));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            format!("`{flag}` must not carry credentials in the URL"),
            None,
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            format!("`{flag}` `{raw}` must not have a query or fragment"),
            None,
        ));
    }
    let path = url.path().trim_end_matches('/');
    if flag == "--graph-url" && (path.ends_with("/v1.0") || path.ends_with("/beta")) {
        return Err(bad(
            format!("`{flag}` `{raw}` already names an API version"),
            Some(format!(
                "give the service root (e.g. `{}`); entraform appends `/v1.0/…` itself",
                raw.trim_end_matches('/')
                    .trim_end_matches("/v1.0")
                    .trim_end_matches("/beta")
            )),
        ));
    }
    if flag == "--login-url" && path.ends_with("/oauth2/v2.0/token") {
        return Err(bad(
            format!("`{flag}` `{raw}` is a token endpoint, not an authority host"),
            Some(
                "give the authority host (e.g. `https://login.microsoftonline.com`); entraform appends `/{tenant}/oauth2/v2.0/token`"
                    .into(),
            ),
        ));
    }
    // Normalise away a trailing slash so joins never produce `//`.
    let normalised = format!("{}{}", url.origin().ascii_serialization(), path);
    Url::parse(&normalised).map_err(|e| bad(format!("`{raw}` is not a URL: {e}"), None))
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// A tenant id (GUID) or a verified domain: it goes into the token URL's path, so nothing that
/// could change the path is allowed.
fn validate_tenant(tenant: &str) -> Result<String, GraphError> {
    let ok = tenant.len() <= 256
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !tenant.starts_with('.')
        && !tenant.contains("..");
    if ok {
        Ok(tenant.to_owned())
    } else {
        Err(GraphError::Config {
            message: format!("`{tenant}` is not a tenant id or domain name"),
            hint: Some(
                "use the directory (tenant) id GUID or a verified domain such as `contoso.onmicrosoft.com`"
                    .into(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(graph: Option<&str>, login: Option<&str>) -> Result<GraphEndpoints, GraphError> {
        GraphEndpoints::new(Cloud::Public, graph, login, Some("contoso.onmicrosoft.com"))
    }

    #[test]
    fn each_cloud_has_its_own_graph_and_login_hosts() {
        let gov = GraphEndpoints::new(Cloud::UsGov, None, None, Some("t")).unwrap();
        assert_eq!(gov.api_base(), "https://graph.microsoft.us/v1.0");
        assert_eq!(
            gov.token_url().unwrap(),
            "https://login.microsoftonline.us/t/oauth2/v2.0/token"
        );
        assert_eq!(gov.graph_scope(), "https://graph.microsoft.us/.default");
        let china = GraphEndpoints::new(Cloud::China, None, None, Some("t")).unwrap();
        assert_eq!(
            china.api_base(),
            "https://microsoftgraph.chinacloudapi.cn/v1.0"
        );
        assert_eq!(
            china.token_url().unwrap(),
            "https://login.chinacloudapi.cn/t/oauth2/v2.0/token"
        );
    }

    #[test]
    fn overrides_replace_hosts_but_keep_the_clouds_token_audience() {
        let e = endpoints(Some("http://127.0.0.1:8080/"), Some("http://localhost:9/")).unwrap();
        assert_eq!(e.api_base(), "http://127.0.0.1:8080/v1.0");
        assert_eq!(
            e.token_url().unwrap(),
            "http://localhost:9/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(e.graph_scope(), "https://graph.microsoft.com/.default");
    }

    #[test]
    fn plain_http_is_refused_unless_the_host_is_loopback() {
        for ok in [
            "http://127.0.0.1:1",
            "http://127.8.9.10",
            "http://[::1]:80",
            "http://LOCALHOST:5",
        ] {
            assert!(endpoints(Some(ok), None).is_ok(), "{ok}");
        }
        for refused in [
            "http://graph.microsoft.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "http://[::2]",
        ] {
            let err = endpoints(Some(refused), None).unwrap_err();
            assert!(err.to_string().contains("plain http"), "{refused}: {err}");
            let err = endpoints(None, Some(refused)).unwrap_err();
            assert!(err.to_string().contains("--login-url"), "{refused}: {err}");
        }
        assert!(endpoints(Some("ftp://graph.microsoft.com"), None).is_err());
    }

    #[test]
    fn a_graph_url_with_an_api_version_is_refused_with_the_root_to_use() {
        let err = endpoints(Some("https://graph.microsoft.com/v1.0/"), None).unwrap_err();
        use crate::hint::Hint;
        assert!(
            err.hint()
                .unwrap()
                .contains("`https://graph.microsoft.com`")
        );
    }

    #[test]
    fn tenants_that_could_change_the_token_path_are_refused() {
        for bad in ["a/b", "..", "x?y", "tenant id", ".x"] {
            assert!(
                GraphEndpoints::new(Cloud::Public, None, None, Some(bad)).is_err(),
                "{bad}"
            );
        }
        for good in [
            "contoso.onmicrosoft.com",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
        ] {
            assert!(GraphEndpoints::new(Cloud::Public, None, None, Some(good)).is_ok());
        }
    }

    #[test]
    fn next_links_are_followed_only_under_the_graph_root() {
        let e = endpoints(Some("http://127.0.0.1:8080"), None).unwrap();
        let url = e
            .resolve("http://127.0.0.1:8080/v1.0/applications?$skiptoken=abc")
            .unwrap();
        assert_eq!(e.relative(&url), "/applications?$skiptoken=abc");
        for elsewhere in [
            "http://127.0.0.1:8081/v1.0/applications",
            "https://evil.example/v1.0/applications",
            "http://127.0.0.1:8080/beta/applications",
        ] {
            assert!(e.resolve(elsewhere).is_err(), "{elsewhere}");
        }
    }

    #[test]
    fn relative_paths_are_appended_to_the_api_base_and_encoded() {
        let e = endpoints(None, None).unwrap();
        let url = e
            .resolve("/applications?$filter=displayName eq 'a b'")
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://graph.microsoft.com/v1.0/applications?$filter=displayName%20eq%20%27a%20b%27"
        );
        assert_eq!(
            e.relative(&url),
            "/applications?$filter=displayName%20eq%20%27a%20b%27"
        );
    }
}
