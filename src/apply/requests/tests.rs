use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::cert::PublicCertificate;
use crate::graph::api::{applications, permission_grants};
use crate::graph::types::KeyCredential;
use crate::model::{
    AppId, FederatedCredentialId, FieldValues, KeyId, PermissionKind, RequiredResourceAccess,
    ResourceAccess, Thumbprint,
};
use crate::plan::{
    ApplicationBody, ApplicationPatch, CertificateMaterial, FederatedCredentialPatch,
    FileCertificate, KeyCredentialMethod, NewKeyCredential,
};

/// An RSA certificate made once with `openssl req -x509 -newkey rsa:1024 -subj
/// /CN=exo-automation`; SHA-1 thumbprint 808ADE9B57A48263B14E3C2255A1EC79DE374122.
const CERTIFICATE: &str = "MIIB+zCCAWSgAwIBAgIBATANBgkqhkiG9w0BAQsFADAZMRcwFQYDVQQDDA5leG8tYXV0b21hdGlvbjAeFw0yNjEyMDMxNDQ5\
MzdaFw0yNzEyMDMxNDQ5MzdaMBkxFzAVBgNVBAMMDmV4by1hdXRvbWF0aW9uMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKB\
gQDVK+EvpfJ0swsTxPpNu0ZUKbZalP80BUPnRG3IBIjz16zDyjhoRxlSsBWCWlu+4mz9ycp8hKI87a1lIF0EUUIdJNYpqUvk\
PuuJivrpTg0SOyb9vEJcObgsCsErCRT/qE/KSFlefw5Q7V6Ve6p6ES4stV+4XaQA+WMLsQ3J9G4xNwIDAQABo1MwUTAdBgNV\
HQ4EFgQUAZ1B9v3zULQyDxcRzKso9wN2D2UwHwYDVR0jBBgwFoAUAZ1B9v3zULQyDxcRzKso9wN2D2UwDwYDVR0TAQH/BAUw\
AwEB/zANBgkqhkiG9w0BAQsFAAOBgQAPA3fk1q7Hh60T410FQVZRAQDNpT6TN5eZ2tZ+bmr/oZjTKHc6MvJlNQkONqH9xLX9\
sIKq+wJ5MX4KRR4R9wOom303AcMP2AwI5CwpxhNMxW0MIpkYgnOa4RouALlfPcxcd3o9Giq2f+1H5Ir49KRJDKltSthKLmRC\
TvdqyuiG1w==";

fn guid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn app() -> ExistingApp {
    ExistingApp {
        object_id: ObjectId(guid(0xa1)),
        app_id: AppId(guid(0xa2)),
    }
}

const SP: ObjectId = ObjectId(Uuid::from_u128(0xb1));
const EXCHANGE: ObjectId = ObjectId(Uuid::from_u128(0xe1));

fn certificate() -> PublicCertificate {
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(CERTIFICATE)
        .unwrap();
    PublicCertificate::from_der(&der).unwrap()
}

fn new_key() -> NewKeyCredential {
    let cert = certificate();
    NewKeyCredential {
        key_id: KeyId(guid(0xc3)),
        display_name: "entraform:automation".into(),
        certificate: CertificateMaterial::File(FileCertificate {
            path: PathBuf::from("certs/automation.cer"),
            der: cert.der().to_vec(),
            thumbprint: cert.thumbprint(),
            not_before: cert.not_before(),
            not_after: cert.not_after(),
        }),
    }
}

fn federated() -> FederatedCredentialBody {
    FederatedCredentialBody {
        name: "github-main".into(),
        issuer: "https://token.actions.githubusercontent.com".into(),
        subject: "repo:contoso/infra:ref:refs/heads/main".into(),
        audiences: vec!["api://AzureADTokenExchange".into()],
        description: None,
    }
}

/// One of each operation, as a plan for the app `exo` would carry it.
fn every_operation() -> Vec<Operation> {
    use Operation as O;
    let keep = |ids: &[u128]| KeyCredentialMethod::PatchKeyCredentials {
        keep: ids.iter().map(|n| KeyId(guid(*n))).collect(),
    };
    vec![
        O::UpsertApplication {
            unique_name: "exo".into(),
            application: ApplicationBody {
                display_name: "Exchange automation".into(),
                description: Some("Runs Exchange Online scripts".into()),
                sign_in_audience: "AzureADMyOrg".into(),
                redirect_uris: None,
                tags: vec!["entraform:managed".into()],
                required_resource_access: Some(vec![
                    RequiredResourceAccess {
                        resource_app_id: AppId(guid(0xe2)).into(),
                        resource_access: vec![ResourceAccess {
                            id: PermissionId(guid(0xf1)),
                            kind: PermissionKind::Role,
                        }],
                    },
                    // An API this run created: its appId as the run resolved it.
                    RequiredResourceAccess {
                        resource_app_id: ResourceRef::Planned {
                            planned: "hr-api".into(),
                        },
                        resource_access: vec![ResourceAccess {
                            id: PermissionId(guid(0xf2)),
                            kind: PermissionKind::Scope,
                        }],
                    },
                ]),
                fields: FieldValues::default(),
            },
        },
        O::AdoptApplication {
            app: app(),
            unique_name: "exo".into(),
            patch: ApplicationPatch {
                tags: Some(vec!["entraform:managed".into()]),
                ..Default::default()
            },
        },
        O::UpdateApplication {
            app: app(),
            patch: ApplicationPatch {
                display_name: Some("Exchange automation (prod)".into()),
                description: Some(None),
                sign_in_audience: Some("PersonalMicrosoftAccount".into()),
                redirect_uris: Some(vec!["http://localhost".into()]),
                fields: plain_fields(&[
                    ("web.logoutUrl", json!("https://contoso.com/logout")),
                    ("notes", Value::Null),
                ]),
                ..Default::default()
            },
        },
        O::RestoreApplication { app: app() },
        O::RestoreServicePrincipal { object_id: SP },
        O::DeleteServicePrincipal { object_id: SP },
        O::DeleteApplication { app: app() },
        O::CreateServicePrincipal {
            app: AppRef::Planned("exo".into()),
            fields: FieldValues::default(),
        },
        O::UpdateServicePrincipal {
            object_id: SP,
            fields: plain_fields(&[
                ("appRoleAssignmentRequired", json!(true)),
                ("tags", json!(["HideApp"])),
            ]),
        },
        O::GrantAppRole {
            principal: SpRef::Planned("exo".into()),
            resource_id: EXCHANGE.into(),
            app_role_id: PermissionId(guid(0xf1)),
        },
        O::RevokeAppRole {
            principal: SP,
            resource_id: EXCHANGE,
            assignment_id: "41W1zT6z1U-kJxf62svfp1HFE8pMZhxDun-ThPczmJE".into(),
        },
        O::AssignPrincipal {
            resource: SpRef::Planned("exo".into()),
            principal_id: ObjectId(guid(0xa1)),
            app_role_id: PermissionId(guid(0)),
        },
        O::UnassignPrincipal {
            resource_id: SP,
            assignment_id: "-WmtM5na7Uus0D8kI1yylpU9Mdo0Pb9OoBJvd3T5eKc".into(),
        },
        O::CreateDelegatedGrant {
            client: SpRef::Existing(SP),
            resource_id: EXCHANGE.into(),
            scope: "EWS.AccessAsUser.All User.Read".into(),
        },
        // An API this run created: its service principal as the run resolved it.
        O::CreateDelegatedGrant {
            client: SpRef::Existing(SP),
            resource_id: ResourceRef::Planned {
                planned: "hr-api".into(),
            },
            scope: "access_as_user".into(),
        },
        O::UpdateDelegatedGrant {
            grant_id: "grant-1".into(),
            scope: "User.Read".into(),
        },
        O::DeleteDelegatedGrant {
            grant_id: "grant-1".into(),
        },
        O::AssignDirectoryRole {
            principal: SpRef::Planned("exo".into()),
            role_definition_id: RoleDefinitionId(guid(0xd1)),
            directory_scope_id: "/".into(),
        },
        O::RemoveDirectoryRole {
            assignment_id: "role-assignment-1".into(),
        },
        O::AddOwner {
            app: AppRef::Existing(app()),
            owner_id: ObjectId(guid(0x0e)),
        },
        O::RemoveOwner {
            app: app(),
            owner_id: ObjectId(guid(0x0e)),
        },
        O::AddCertificate {
            app: AppRef::Planned("exo".into()),
            key: new_key(),
            method: keep(&[0xc1]),
        },
        O::RemoveKeyCredential {
            app: app(),
            key_id: KeyId(guid(0xc1)),
            method: keep(&[0xc3]),
            archived: None,
        },
        O::RemovePasswordCredential {
            app: app(),
            key_id: KeyId(guid(0x5e)),
        },
        O::AddClientSecret {
            app: AppRef::Planned("exo".into()),
            secret: crate::plan::NewClientSecret {
                display_name: "entraform:automation".into(),
                validity: "180d".parse().unwrap(),
                key_vault: crate::model::KeyVaultSecret {
                    vault: "kv-ops".into(),
                    secret: "exo-secret".into(),
                },
            },
        },
        O::CreateFederatedCredential {
            app: AppRef::Planned("exo".into()),
            credential: federated(),
        },
        O::UpdateFederatedCredential {
            app: app(),
            id: FederatedCredentialId(guid(0xfc)),
            patch: FederatedCredentialPatch {
                subject: Some("repo:contoso/infra:environment:prod".into()),
                description: Some(None),
                ..Default::default()
            },
        },
        O::DeleteFederatedCredential {
            app: app(),
            id: FederatedCredentialId(guid(0xfc)),
        },
    ]
}

/// Which variant `op` is; no wildcard, so a new variant fails to compile here until it
/// has an example above.
fn variant(op: &Operation) -> usize {
    use Operation as O;
    match op {
        O::UpsertApplication { .. } => 0,
        O::AdoptApplication { .. } => 1,
        O::UpdateApplication { .. } => 2,
        O::RestoreApplication { .. } => 3,
        O::RestoreServicePrincipal { .. } => 4,
        O::DeleteServicePrincipal { .. } => 5,
        O::DeleteApplication { .. } => 6,
        O::CreateServicePrincipal { .. } => 7,
        O::GrantAppRole { .. } => 8,
        O::RevokeAppRole { .. } => 9,
        O::CreateDelegatedGrant { .. } => 10,
        O::UpdateDelegatedGrant { .. } => 11,
        O::DeleteDelegatedGrant { .. } => 12,
        O::AssignDirectoryRole { .. } => 13,
        O::RemoveDirectoryRole { .. } => 14,
        O::AddOwner { .. } => 15,
        O::RemoveOwner { .. } => 16,
        O::AddCertificate { .. } => 17,
        O::RemoveKeyCredential { .. } => 18,
        O::CreateFederatedCredential { .. } => 19,
        O::UpdateFederatedCredential { .. } => 20,
        O::DeleteFederatedCredential { .. } => 21,
        O::RemovePasswordCredential { .. } => 22,
        O::UpdateServicePrincipal { .. } => 23,
        O::AddClientSecret { .. } => 24,
        O::AssignPrincipal { .. } => 25,
        O::UnassignPrincipal { .. } => 26,
    }
}

fn plain_fields(values: &[(&'static str, Value)]) -> FieldValues {
    let mut out = FieldValues::default();
    for (path, value) in values {
        out.insert(path, value.clone());
    }
    out
}

/// What earlier steps of the run resolved for the app `exo`.
fn resolved() -> Resolved {
    Resolved {
        name: "exo".into(),
        app: Some(app()),
        service_principal: Some(SP),
        display_name: Some("Exchange automation".into()),
        graph_resource: "https://graph.microsoft.com".into(),
        api_apps: [("hr-api".to_owned(), AppId(guid(0xa9)))].into(),
        api_sps: [("hr-api".to_owned(), ObjectId(guid(0xa8)))].into(),
    }
}

/// A request as the golden file shows it: certificate bytes shortened.
fn show(request: &Request) -> String {
    let mut shown = request.clone();
    if let Some(keys) = shown
        .body
        .as_mut()
        .and_then(|b| b.get_mut("keyCredentials"))
        .and_then(Value::as_array_mut)
    {
        for key in keys {
            if key.get("key").is_some() {
                key["key"] = json!("<certificate DER, base64>");
            }
        }
    }
    shown.to_string()
}

/// What an operation refers to, in words.
fn refers(refs: &References) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(app) = refs.app {
        out.push(format!("application {app:?}"));
    }
    if let Some(sp) = refs.service_principal {
        out.push(format!("service principal {sp:?}"));
    }
    if refs.display_name {
        out.push("the application's display name".into());
    }
    if let Some(app) = refs.existing_app {
        out.push(format!("remembers {app:?}"));
    }
    if let Some(name) = refs.new_display_name {
        out.push(format!("remembers display name {name:?}"));
    }
    for api in &refs.apis {
        out.push(format!("the API this run created {api:?}"));
    }
    out
}

fn render(op: &Operation) -> String {
    let step = step(op, &resolved()).unwrap();
    let mut out = format!("{}\n", serde_json::to_value(op).unwrap()["op"]);
    let mut line = |label: &str, text: String| out.push_str(&format!("  {label:<10} {text}\n"));
    let refs = refers(&references(op));
    if !refs.is_empty() {
        line("resolves", refs.join("; "));
    }
    match &step.write {
        Write::Upsert(u) => {
            line("send", show(&u.request));
            line("ids", show(&u.read));
            if let Some(holder) = &u.deleted_holder {
                line("if held", show(&holder.read));
            }
            line("proven by", "201 with the object, else the ids read".into());
        }
        Write::Create(c) => {
            line("send", show(&c.request));
            line("consent", format!("{:?}", c.consent));
            line("unique by", format!("{:?}", c.unique_by));
            line("if exists", show(&c.confirm.read));
            line("expect", format!("{:?}", c.confirm.expect));
            line("proven by", "201, else the read above showing it".into());
        }
        Write::Update { request, consent } => {
            line("send", show(request));
            line("consent", format!("{consent:?}"));
            line("proven by", "the run's closing plan (settle)".into());
        }
        Write::Delete(request) => {
            line("send", show(request));
            line("proven by", "the run's closing plan (settle)".into());
        }
        Write::Restore { request, read_back } => {
            line("send", show(request));
            line("if gone", show(read_back));
            line("proven by", "the run's closing plan (settle)".into());
        }
        Write::Password(add) => {
            let now = time::macros::datetime!(2025-06-01 00:00 UTC);
            line("send", show(&add.add(now)));
            line(
                "then",
                format!(
                    "the secretText to Key Vault {} (PUT /secrets/{{name}}, text/plain)",
                    add.secret.key_vault
                ),
            );
            line("if refused", show(&add.take_back(KeyId(guid(0x5f)))));
            line("proven by", "the run's closing plan (settle)".into());
        }
        Write::Keys(change) => {
            line("read", show(&change.read));
            let edit = match change.edit {
                KeyEdit::Add(key) => format!("add {} ({})", key.key_id, key.display_name),
                KeyEdit::Remove(id) => format!("remove {id}"),
            };
            line(
                "check",
                format!("the set is {:?}; then {edit}", change.keep),
            );
            let mut keys: Vec<KeyCredential> = change
                .keep
                .iter()
                .map(|id| KeyCredential {
                    key_id: *id,
                    custom_key_identifier: None,
                    display_name: None,
                    start_date_time: None,
                    end_date_time: None,
                    key: Some("MIIC".into()),
                    kind: Some("AsymmetricX509Cert".into()),
                    usage: Some("Verify".into()),
                })
                .collect();
            if let KeyEdit::Add(key) = change.edit {
                keys.push(key_credential(key, &certificate()));
            }
            line("send", show(&change.write(&keys)));
            line(
                "proven by",
                format!("{} (key reads in a row)", show(&change.read_back)),
            );
        }
    }
    line("depends", format!("{:?}", step.depends));
    line("learns", format!("{:?}", step.learns));
    line("detail", format!("{:?}", step.detail));
    // The example ids differ in their last digits only.
    out.replace("00000000-0000-0000-0000-0000000000", "…")
}

#[test]
fn every_operations_requests() {
    let ops = every_operation();
    let covered: BTreeSet<usize> = ops.iter().map(variant).collect();
    assert_eq!(covered.len(), 27, "one example per variant");
    let text: String = ops.iter().map(render).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!(text);
}

#[test]
fn a_reference_the_run_did_not_resolve_is_an_error_not_a_request() {
    let op = Operation::GrantAppRole {
        principal: SpRef::Planned("exo".into()),
        resource_id: EXCHANGE.into(),
        app_role_id: PermissionId(guid(0xf1)),
    };
    let unresolved = Resolved {
        service_principal: None,
        ..resolved()
    };
    let err = step(&op, &unresolved).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`exo` has no service principal yet: the step that creates it did not complete"
    );
}

#[test]
fn a_certificates_key_credential_names_it_by_its_thumbprints_bytes() {
    let key = key_credential(&new_key(), &certificate());
    let thumbprint: Thumbprint = "808ADE9B57A48263B14E3C2255A1EC79DE374122".parse().unwrap();
    assert_eq!(
        key.custom_key_identifier.as_deref(),
        Some(thumbprint.to_custom_key_identifier().as_str())
    );
    assert_eq!(key.key.as_deref(), Some(CERTIFICATE));
}

#[test]
fn a_confirmation_tells_the_plans_object_from_another_writers() {
    let read = applications::federated_credentials(app().object_id);
    let wanted = federated();
    let live = |name: &str, subject: &str| {
        json!({"id": guid(0xfc).to_string(), "name": name, "issuer": wanted.issuer,
               "subject": subject, "audiences": wanted.audiences})
    };
    let expect = Expect::FederatedCredential(&wanted);
    assert_eq!(
        expect
            .judge(vec![live("github-main", &wanted.subject)], &read)
            .unwrap(),
        Found::Matches
    );
    let differs = expect
        .judge(vec![live("GitHub-Main", &wanted.subject)], &read)
        .unwrap();
    assert!(
        matches!(&differs, Found::Differs(why) if why.contains("case-insensitively")),
        "{differs:?}"
    );
    assert_eq!(expect.judge(vec![], &read).unwrap(), Found::Missing);

    let grant = Expect::DelegatedGrant {
        resource_id: EXCHANGE,
        scope: "User.Read openid",
    };
    let listed = |scope: &str| {
        vec![
            json!({"id": "g", "clientId": SP.to_string(), "consentType": "AllPrincipals",
                    "resourceId": EXCHANGE.to_string(), "scope": scope}),
        ]
    };
    let read = permission_grants::of_client(SP);
    assert_eq!(
        grant.judge(listed(" openid  User.Read"), &read).unwrap(),
        Found::Matches
    );
    assert!(matches!(
        grant.judge(listed("User.Read"), &read).unwrap(),
        Found::Differs(_)
    ));
}
