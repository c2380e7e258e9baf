//! Key Vault's data-plane RBAC: the built-in roles with their data actions, and the check a
//! request passes before it is served.
//!
//! Roles and data actions: learn.microsoft.com/azure/role-based-access-control/built-in-roles/security
//! (MicrosoftDocs/azure-docs `articles/role-based-access-control/built-in-roles/security.md`) and
//! the Key Vault RBAC guide (MicrosoftDocs/azure-security-docs
//! `articles/key-vault/general/rbac-guide.md`).

use super::store::RoleAssignment;
use crate::state::Document;

pub(crate) const ADMINISTRATOR: &str = "00482a5a-887f-4fb3-b363-3b7fe8e74483";

/// A built-in role: display name, role definition id, data actions (with `*` wildcards).
pub(crate) struct Role {
    pub name: &'static str,
    pub id: &'static str,
    pub data_actions: &'static [&'static str],
}

pub(crate) const ROLES: &[Role] = &[
    Role {
        name: "Key Vault Administrator",
        id: ADMINISTRATOR,
        data_actions: &["Microsoft.KeyVault/vaults/*"],
    },
    Role {
        name: "Key Vault Certificates Officer",
        id: "a4417e6f-fecd-4de8-b567-7b0420556985",
        data_actions: &[
            "Microsoft.KeyVault/vaults/certificatecas/*",
            "Microsoft.KeyVault/vaults/certificates/*",
            "Microsoft.KeyVault/vaults/certificatecontacts/write",
        ],
    },
    Role {
        name: "Key Vault Certificate User",
        id: "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
        data_actions: &[
            "Microsoft.KeyVault/vaults/certificates/read",
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            "Microsoft.KeyVault/vaults/keys/read",
        ],
    },
    Role {
        name: "Key Vault Secrets Officer",
        id: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        data_actions: &["Microsoft.KeyVault/vaults/secrets/*"],
    },
    Role {
        name: "Key Vault Secrets User",
        id: "4633458b-17de-408a-b874-0445c86b69e6",
        data_actions: &[
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ],
    },
    Role {
        name: "Key Vault Reader",
        id: "21090545-7ca7-4776-b22c-e363652d74d2",
        data_actions: &[
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ],
    },
    Role {
        name: "Key Vault Crypto Officer",
        id: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
        data_actions: &[
            "Microsoft.KeyVault/vaults/keys/*",
            "Microsoft.KeyVault/vaults/keyrotationpolicies/*",
        ],
    },
];

/// A role by display name (any case) or definition id.
pub(crate) fn role(name_or_id: &str) -> Option<&'static Role> {
    let wanted = name_or_id.trim();
    ROLES
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(wanted) || r.id.eq_ignore_ascii_case(wanted))
}

/// ARM's wildcard match: `*` stands for any run of characters, `/` included; case-insensitive.
fn matches(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return p == a;
    };
    if !a.starts_with(first) {
        return false;
    }
    let mut at = first.len();
    for part in middle {
        match a[at..].find(part) {
            Some(i) => at += i + part.len(),
            None => return false,
        }
    }
    a.len() >= at + last.len() && a.ends_with(last)
}

/// Whether `principal` may perform `action` on `vault`.
pub(crate) fn allowed(doc: &Document, principal: &str, vault: &str, action: &str) -> bool {
    doc.key_vault_roles
        .iter()
        .filter(|a| a.principal_id.eq_ignore_ascii_case(principal))
        .filter(|a| {
            a.vault
                .as_deref()
                .is_none_or(|v| v.eq_ignore_ascii_case(vault))
        })
        .filter_map(|a: &RoleAssignment| role(&a.role_definition_id))
        .any(|r| r.data_actions.iter().any(|p| matches(p, action)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_arm() {
        assert!(matches(
            "Microsoft.KeyVault/vaults/*",
            "Microsoft.KeyVault/vaults/certificates/import/action"
        ));
        assert!(matches(
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/vaults/certificates/read"
        ));
        assert!(!matches(
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/vaults/secrets/getSecret/action"
        ));
        assert!(!matches(
            "Microsoft.KeyVault/vaults/certificates/*",
            "Microsoft.KeyVault/vaults/secrets/getSecret/action"
        ));
        assert!(matches(
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "microsoft.keyvault/vaults/secrets/getsecret/action"
        ));
    }

    #[test]
    fn the_certificates_officer_cannot_read_the_pfx_back() {
        let officer = role("key vault certificates officer").unwrap();
        let can = |action: &str| officer.data_actions.iter().any(|p| matches(p, action));
        assert!(can("Microsoft.KeyVault/vaults/certificates/import/action"));
        assert!(!can("Microsoft.KeyVault/vaults/secrets/getSecret/action"));
    }
}
