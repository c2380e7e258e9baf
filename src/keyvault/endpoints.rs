//! Where a vault is: `https://{vault}.{cloud suffix}`, the URL a manifest gives, or
//! `--key-vault-url` (a template with `{vault}`, e.g. the sandbox's
//! `http://127.0.0.1:PORT/_keyvault/{vault}`).

use reqwest::Url;

use super::error::KeyVaultError;
use crate::graph::Cloud;
use crate::model::KeyVaultCertificate;

/// How vault URLs are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultEndpoints {
    pub cloud: Cloud,
    /// `--key-vault-url`: every vault is reached through it, by name.
    pub template: Option<String>,
}

impl VaultEndpoints {
    /// Checks an override: it names `{vault}`, and once filled in is `https` (or `http` to a
    /// loopback host, as for `--graph-url`).
    pub fn new(cloud: Cloud, template: Option<&str>) -> Result<Self, KeyVaultError> {
        let template = template.map(str::trim).filter(|t| !t.is_empty());
        if let Some(t) = template {
            if !t.contains("{vault}") {
                return Err(KeyVaultError::config(
                    format!("`--key-vault-url` `{t}` does not say where the vault name goes"),
                    Some(
                        "give a template with `{vault}`, e.g. `https://{vault}.vault.azure.net` or a served sandbox's `http://127.0.0.1:PORT/_keyvault/{vault}`"
                            .into(),
                    ),
                ));
            }
            check_url("--key-vault-url", &t.replace("{vault}", "vault"))?;
        }
        Ok(VaultEndpoints {
            cloud,
            template: template.map(str::to_owned),
        })
    }

    /// `https://vault.azure.net`: the resource Key Vault tokens are asked for in this cloud.
    pub fn resource(&self) -> String {
        format!("https://{}", self.cloud.key_vault_suffix())
    }

    /// Whether vault URLs come from `--key-vault-url`.
    pub fn overridden(&self) -> bool {
        self.template.is_some()
    }

    /// The base URL of the vault (no trailing `/`).
    pub fn vault_url(&self, target: &KeyVaultCertificate) -> Result<Url, KeyVaultError> {
        let name = target.vault_name();
        let raw = match &self.template {
            Some(t) => t.replace("{vault}", name),
            None if target.vault.trim().starts_with("https://") => target.vault.trim().to_owned(),
            None => format!("https://{name}.{}", self.cloud.key_vault_suffix()),
        };
        check_url("the vault URL", &raw)
    }
}

fn check_url(what: &str, raw: &str) -> Result<Url, KeyVaultError> {
    let url = Url::parse(raw.trim_end_matches('/'))
        .map_err(|e| KeyVaultError::config(format!("{what} `{raw}` is not a URL: {e}"), None))?;
    let ok = match url.scheme() {
        "https" => true,
        "http" => crate::graph::endpoints::is_loopback(&url),
        _ => false,
    };
    if !ok {
        return Err(KeyVaultError::config(
            format!("{what} `{raw}` must use https (plain http only to a loopback host)"),
            None,
        ));
    }
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(KeyVaultError::config(
            format!("{what} `{raw}` must not carry a query or credentials"),
            None,
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(vault: &str) -> KeyVaultCertificate {
        KeyVaultCertificate {
            vault: vault.into(),
            certificate: "c".into(),
        }
    }

    #[test]
    fn each_cloud_has_its_vault_suffix_and_resource() {
        for (cloud, url, resource) in [
            (
                Cloud::Public,
                "https://kv-ops.vault.azure.net/",
                "https://vault.azure.net",
            ),
            (
                Cloud::UsGov,
                "https://kv-ops.vault.usgovcloudapi.net/",
                "https://vault.usgovcloudapi.net",
            ),
            (
                Cloud::China,
                "https://kv-ops.vault.azure.cn/",
                "https://vault.azure.cn",
            ),
        ] {
            let e = VaultEndpoints::new(cloud, None).unwrap();
            assert_eq!(e.vault_url(&target("kv-ops")).unwrap().as_str(), url);
            assert_eq!(e.resource(), resource);
        }
    }

    #[test]
    fn a_url_is_used_as_given_and_an_override_maps_every_vault_by_name() {
        let e = VaultEndpoints::new(Cloud::Public, None).unwrap();
        assert_eq!(
            e.vault_url(&target("https://kv-ops.vault.azure.net/"))
                .unwrap()
                .as_str(),
            "https://kv-ops.vault.azure.net/"
        );
        let e = VaultEndpoints::new(Cloud::Public, Some("http://127.0.0.1:9/_keyvault/{vault}"))
            .unwrap();
        assert_eq!(
            e.vault_url(&target("https://kv-ops.vault.azure.net"))
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/_keyvault/kv-ops"
        );
        assert!(e.overridden());
    }

    #[test]
    fn an_override_must_name_the_vault_and_keep_tokens_off_plain_http() {
        assert!(VaultEndpoints::new(Cloud::Public, Some("http://127.0.0.1:9")).is_err());
        assert!(VaultEndpoints::new(Cloud::Public, Some("http://10.0.0.1/{vault}")).is_err());
        assert!(
            VaultEndpoints::new(Cloud::Public, Some("https://{vault}.vault.localhost:8443"))
                .is_ok()
        );
    }
}
