//! Key Vault errors: `{"error":{"code","message","innererror":{"code"}}}` (Azure/azure-rest-api-specs
//! `specification/keyvault/data-plane/Secrets/common/common.tsp`, `KeyVaultError`), kept with the
//! `x-ms-request-id` support asks for, and a hint for the ones with an obvious fix.

use crate::hint::Hint;

#[derive(Debug, thiserror::Error)]
pub enum KeyVaultError {
    #[error("{message}")]
    Config {
        message: String,
        hint: Option<String>,
    },
    #[error("Key Vault at `{vault}` answered with a challenge entraform does not follow: {reason}")]
    Challenge { vault: String, reason: String },
    #[error("cannot get a token for Key Vault (`{scope}`)")]
    SignIn {
        scope: String,
        #[source]
        source: Box<crate::graph::GraphError>,
    },
    #[error("{method} {url} got no answer after {attempts} attempt(s)")]
    Transport {
        method: String,
        url: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    #[error(transparent)]
    Service(Box<ServiceError>),
}

impl KeyVaultError {
    pub(crate) fn config(message: impl Into<String>, hint: Option<String>) -> Self {
        KeyVaultError::Config {
            message: message.into(),
            hint,
        }
    }

    /// The service's error, when it answered with one.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            KeyVaultError::Service(e) => Some(e),
            _ => None,
        }
    }
}

/// A non-2xx answer from Key Vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub method: String,
    /// `kv-ops` and the path in it, e.g. `/certificates/exo-automation/import`.
    pub vault: String,
    pub path: String,
    pub status: u16,
    pub code: Option<String>,
    pub inner_code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    pub attempts: u32,
}

impl ServiceError {
    /// The data action a 403 names (`Action: 'Microsoft.KeyVault/vaults/…'`).
    pub fn action(&self) -> Option<&str> {
        let message = self.message.as_deref()?;
        let at = message.find("Action: '")? + "Action: '".len();
        message[at..].split('\'').next()
    }

    fn forbidden(&self) -> bool {
        self.status == 403
            || matches!(
                self.inner_code.as_deref(),
                Some("ForbiddenByRbac" | "AccessDenied" | "ForbiddenByPolicy")
            )
    }

    /// The certificate (or secret) name the path is about.
    fn object(&self) -> &str {
        self.path.split('/').nth(2).unwrap_or_default()
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Key Vault `{}` refused {} {}: {}",
            self.vault, self.method, self.path, self.status
        )?;
        match (&self.code, &self.inner_code) {
            (Some(c), Some(i)) => write!(f, " {c} ({i})")?,
            (Some(c), None) => write!(f, " {c}")?,
            _ => {}
        }
        // The first line says what happened; a 403 also names the action it lacked.
        if let Some(first) = self.message.as_deref().and_then(|m| m.lines().next()) {
            write!(f, ": {}", first.trim())?;
        }
        if let Some(action) = self.action() {
            write!(f, " (action `{action}`)")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [x-ms-request-id: {id}]")?;
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {}

/// The role that grants a data action, and what it is for.
fn role_for(action: &str) -> (&'static str, &'static str) {
    let a = action.to_ascii_lowercase();
    if a.contains("/secrets/setsecret") {
        ("Key Vault Secrets Officer", "setting client secrets")
    } else if a.contains("/secrets/getsecret") {
        (
            "Key Vault Secrets User",
            "reading the certificate's PFX (what the script host needs)",
        )
    } else if a.contains("/certificates/") {
        ("Key Vault Certificates Officer", "importing certificates")
    } else {
        ("Key Vault Administrator", "this operation")
    }
}

impl Hint for ServiceError {
    fn hint(&self) -> Option<String> {
        let vault = &self.vault;
        if self.inner_code.as_deref() == Some("ObjectIsDeletedButRecoverable") {
            let name = self.object();
            let kind = if self.path.starts_with("/secrets/") {
                "secret"
            } else {
                "certificate"
            };
            return Some(format!(
                "the {kind} `{name}` in `{vault}` is deleted but recoverable, and its name is taken until it is recovered or purged: \
                 `az keyvault {kind} recover --vault-name {vault} --name {name}` brings it back (then run entraform again); \
                 `az keyvault {kind} purge --vault-name {vault} --name {name}` deletes it for good (its old versions are lost)"
            ));
        }
        if self.forbidden() {
            let (role, purpose) = self.action().map_or(
                ("Key Vault Certificates Officer", "importing certificates"),
                role_for,
            );
            return Some(format!(
                "the identity entraform signs in with needs the data-plane role `{role}` on `{vault}` for {purpose}: \
                 `az role assignment create --role \"{role}\" --assignee <appId or objectId> --scope $(az keyvault show --name {vault} --query id -o tsv)`; \
                 a vault using access policies needs the matching permission instead; role changes take a few minutes to apply. \
                 In the sandbox: `entraform sandbox grant --vault {vault} --role \"{role}\" --app <appId>`"
            ));
        }
        match self.status {
            401 => Some(
                "the token was refused: is the vault in the tenant entraform signs in to (`--tenant`), and the cloud right (`--cloud`)?"
                    .into(),
            ),
            429 => Some("Key Vault kept throttling the vault; try again in a minute".into()),
            _ => None,
        }
    }
}

impl Hint for KeyVaultError {
    fn hint(&self) -> Option<String> {
        match self {
            KeyVaultError::Config { hint, .. } => hint.clone(),
            KeyVaultError::Challenge { .. } => Some(
                "the vault URL's host must be under the cloud's Key Vault domain (e.g. `*.vault.azure.net`); for an emulator or proxy, pass `--key-vault-url`"
                    .into(),
            ),
            KeyVaultError::SignIn { source, .. } => source.hint(),
            KeyVaultError::Transport { .. } => None,
            KeyVaultError::Service(e) => e.hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, inner: &str, message: &str, path: &str) -> ServiceError {
        ServiceError {
            method: "POST".into(),
            vault: "kv-ops".into(),
            path: path.into(),
            status,
            code: Some("Forbidden".into()),
            inner_code: Some(inner.into()),
            message: Some(message.into()),
            request_id: Some("r-1".into()),
            attempts: 1,
        }
    }

    #[test]
    fn a_403_names_the_missing_role_for_its_action() {
        let import = error(
            403,
            "ForbiddenByRbac",
            "Caller is not authorized to perform action on resource.\r\nIf role assignments…\r\nAction: 'Microsoft.KeyVault/vaults/certificates/import/action'\r\nResource: '/x'",
            "/certificates/exo/import",
        );
        assert_eq!(
            import.action(),
            Some("Microsoft.KeyVault/vaults/certificates/import/action")
        );
        let text = import.to_string();
        assert!(text.contains("ForbiddenByRbac"), "{text}");
        assert!(text.contains("[x-ms-request-id: r-1]"), "{text}");
        assert!(
            import
                .hint()
                .unwrap()
                .contains("`Key Vault Certificates Officer`")
        );
        let read = error(
            403,
            "ForbiddenByRbac",
            "Caller is not authorized…\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'",
            "/secrets/exo",
        );
        assert!(read.hint().unwrap().contains("`Key Vault Secrets User`"));
        let set = error(
            403,
            "ForbiddenByRbac",
            "Caller is not authorized…\r\nAction: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'",
            "/secrets/exo-secret",
        );
        assert!(set.hint().unwrap().contains("`Key Vault Secrets Officer`"));
        let policy = error(
            403,
            "AccessDenied",
            "Access denied. Caller was not found on any access policy.",
            "/certificates/exo/import",
        );
        assert!(policy.hint().unwrap().contains("access policies"));
    }

    #[test]
    fn a_soft_deleted_name_says_how_to_recover_or_purge() {
        let e = error(
            409,
            "ObjectIsDeletedButRecoverable",
            "Certificate exo is currently in a deleted but recoverable state…",
            "/certificates/exo/import",
        );
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("az keyvault certificate recover --vault-name kv-ops --name exo"),
            "{hint}"
        );
        assert!(
            hint.contains("az keyvault certificate purge --vault-name kv-ops --name exo"),
            "{hint}"
        );
        let secret = error(
            409,
            "ObjectIsDeletedButRecoverable",
            "Secret exo is currently in a deleted but recoverable state…",
            "/secrets/exo",
        );
        let hint = secret.hint().unwrap();
        assert!(
            hint.contains("az keyvault secret recover --vault-name kv-ops --name exo"),
            "{hint}"
        );
    }
}
