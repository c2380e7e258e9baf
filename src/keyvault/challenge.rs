//! Key Vault's bearer challenge. A request without a token gets 401 with
//! `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/{tenant}",
//! resource="https://vault.azure.net"` (or `scope="…/.default"`); the client asks for a token
//! for that resource and sends the request again (MicrosoftDocs/azure-security-docs
//! `articles/key-vault/general/authentication-requests-and-responses.md`).
//!
//! As the official SDKs do (Azure/azure-sdk-for-rust
//! `sdk/keyvault/azure_security_keyvault_secrets/src/authorizer.rs`, azure-sdk-for-python
//! `_shared/challenge_auth_policy.py`), the challenge is believed only when the vault's host is
//! under the resource's domain: a server elsewhere must not get a token for Key Vault.

use reqwest::Url;

/// A parsed challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub authorization: Option<String>,
    /// The OAuth scope to ask for: `scope`, else `resource` + `/.default`.
    pub scope: String,
}

impl Challenge {
    /// Parses `Bearer k="v", k="v"`; `None` when it is not a bearer challenge naming a
    /// resource or scope.
    pub fn parse(header: &str) -> Option<Challenge> {
        let rest = header.trim().strip_prefix("Bearer")?.trim_start();
        let mut authorization = None;
        let (mut scope, mut resource) = (None, None);
        for part in rest.split(',') {
            let Some((k, v)) = part.trim().split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"').to_owned();
            match k.trim().to_ascii_lowercase().as_str() {
                "authorization" | "authorization_uri" => authorization = Some(v),
                "scope" => scope = Some(v),
                "resource" => resource = Some(v),
                _ => {}
            }
        }
        let scope = scope
            .filter(|s| !s.is_empty())
            .or_else(|| resource.map(|r| format!("{}/.default", r.trim_end_matches('/'))))?;
        Some(Challenge {
            authorization,
            scope,
        })
    }

    /// The scope's host (`vault.azure.net`).
    pub fn resource_host(&self) -> Option<String> {
        Url::parse(&self.scope)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    }

    /// Whether a token for this challenge may go to `vault`: its host must end with
    /// `.{resource host}`. With `--key-vault-url` the user named the server (an emulator or a
    /// proxy): then the challenge must ask for the cloud's own Key Vault resource, and nothing
    /// else (never, say, a Graph token).
    pub fn allowed_for(&self, vault: &Url, overridden_for: Option<&str>) -> bool {
        let Some(resource) = self.resource_host() else {
            return false;
        };
        if let Some(expected) = overridden_for {
            return Url::parse(expected)
                .ok()
                .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
                .is_some_and(|h| h == resource);
        }
        vault
            .host_str()
            .is_some_and(|h| h.to_ascii_lowercase().ends_with(&format!(".{resource}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_or_a_scope_gives_the_scope() {
        let c = Challenge::parse(
            r#"Bearer authorization="https://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net""#,
        )
        .unwrap();
        assert_eq!(c.scope, "https://vault.azure.net/.default");
        assert_eq!(
            c.authorization.as_deref(),
            Some("https://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        let c = Challenge::parse(
            r#"Bearer authorization="https://login.microsoftonline.com/t", scope="https://vault.azure.net/.default""#,
        )
        .unwrap();
        assert_eq!(c.scope, "https://vault.azure.net/.default");
        assert!(Challenge::parse("Basic realm=x").is_none());
        assert!(Challenge::parse(r#"Bearer authorization="x""#).is_none());
    }

    #[test]
    fn the_vault_must_be_under_the_resources_domain() {
        let c = Challenge::parse(r#"Bearer authorization="a", resource="https://vault.azure.net""#)
            .unwrap();
        let url = |u: &str| Url::parse(u).unwrap();
        assert!(c.allowed_for(&url("https://kv-ops.vault.azure.net"), None));
        assert!(!c.allowed_for(&url("https://kv-ops.vault.azure.net.evil.example"), None));
        assert!(!c.allowed_for(&url("https://127.0.0.1:8443/_keyvault/kv"), None));
        assert!(!c.allowed_for(&url("https://vault.azure.net"), None));
        // An override: the challenge must name the cloud's Key Vault resource.
        let sandbox = url("http://127.0.0.1:9/_keyvault/kv");
        assert!(c.allowed_for(&sandbox, Some("https://vault.azure.net")));
        let graph =
            Challenge::parse(r#"Bearer authorization="a", resource="https://graph.microsoft.com""#)
                .unwrap();
        assert!(!graph.allowed_for(&sandbox, Some("https://vault.azure.net")));
    }
}
