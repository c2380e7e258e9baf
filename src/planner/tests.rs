//! Rules of the diff that the golden cases (`tests/plan/cases/`) do not spell out one by one.

use std::collections::BTreeMap;

use time::macros::datetime;
use uuid::Uuid;

use crate::model::*;
use crate::plan::{self, Action, ManifestHashes, NoteKind, Plan};
use crate::planner::{self, KeyIdSource, PlanError, PlanInput, PlanOptions, ProblemKind};

fn guid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn catalog() -> Catalog {
    serde_yaml::from_str(include_str!("../../tests/plan/catalog.yaml")).unwrap()
}

fn desired(name: &str) -> DesiredApp {
    DesiredApp::unmanaged(name, &name.to_uppercase())
}

fn live_app(name: Option<&str>, n: u128) -> LiveApp {
    LiveApp {
        object_id: ObjectId(guid(0xa000 + n)),
        app_id: AppId(guid(0xb000 + n)),
        unique_name: name.map(Into::into),
        display_name: name.unwrap_or("hand-made").to_uppercase(),
        description: None,
        sign_in_audience: "AzureADMyOrg".into(),
        redirect_uris: Vec::new(),
        tags: vec![MANAGED_BY_TAG.into()],
        required_resource_access: Vec::new(),
        password_credentials: Vec::new(),
        key_credentials: Vec::new(),
        federated_credentials: Vec::new(),
        owners: Some(Vec::new()),
        service_principal: Some(LiveServicePrincipal {
            object_id: ObjectId(guid(0x5000 + n)),
            app_role_assignments: Vec::new(),
            delegated_grants: Vec::new(),
            directory_role_assignments: Vec::new(),
            assigned_to: None,
            fields: Default::default(),
            fingerprint: Fingerprint(format!("sp-{n}")),
        }),
        app_roles: Vec::new(),
        fields: Default::default(),
        fingerprint: Fingerprint(format!("app-{n}")),
    }
}

fn tenant(apps: Vec<LiveApp>) -> LiveTenant {
    LiveTenant {
        tenant_id: TenantId(guid(1)),
        signed_in: None,
        apps,
        catalog: catalog(),
        deleted_apps: Vec::new(),
        managed: Vec::new(),
    }
}

fn plan_with(desired: &[DesiredApp], live: &LiveTenant, prune: bool) -> Result<Plan, PlanError> {
    let local = BTreeMap::new();
    let manifests = ManifestHashes::default();
    planner::plan(&PlanInput {
        desired,
        live,
        local_certificates: &local,
        local_pfx: &BTreeMap::new(),
        key_vault: &BTreeMap::new(),
        now: datetime!(2025-06-01 00:00 UTC),
        options: PlanOptions {
            prune,
            ..PlanOptions::default()
        },
        key_ids: KeyIdSource::Seeded(0),
        entraform_version: "test",
        manifests: &manifests,
    })
}

fn addresses(plan: &Plan) -> Vec<String> {
    plan.changes.iter().map(|c| c.address.to_string()).collect()
}

fn problems(err: PlanError) -> Vec<(ProblemKind, String)> {
    let PlanError::Problems(ps) = err;
    ps.into_iter()
        .map(|p| (p.kind, format!("{} {}", p.message, p.help.join(" "))))
        .collect()
}

#[test]
fn legacy_role_names_and_template_ids_resolve_to_the_canonical_role() {
    let mut d = desired("x");
    d.directory_roles = Some(vec![
        DirectoryRoleSpec {
            role: RoleRef::Name("Company Administrator".into()),
            scope: "/".into(),
        },
        DirectoryRoleSpec {
            role: RoleRef::Name("Exchange Service Administrator".into()),
            scope: "/".into(),
        },
        // The same role again by template id: still one assignment.
        DirectoryRoleSpec {
            role: RoleRef::TemplateId("29232CDF-9323-42FD-ADE2-1D097AF3E4DE".parse().unwrap()),
            scope: "/".into(),
        },
        DirectoryRoleSpec {
            role: RoleRef::Name("Global Reader".into()),
            scope: "/administrativeUnits/au-1".into(),
        },
    ]);
    let plan = plan_with(&[d], &tenant(vec![live_app(Some("x"), 1)]), false).unwrap();
    assert_eq!(
        addresses(&plan),
        [
            r#"directory_role_assignment.x["Exchange Administrator"]"#,
            r#"directory_role_assignment.x["Global Administrator"]"#,
            r#"directory_role_assignment.x["Global Reader at /administrativeUnits/au-1"]"#,
        ]
    );
}

#[test]
fn user_only_disabled_and_misplaced_permissions_are_refused_with_the_reason() {
    let mut live = tenant(vec![]);
    let graph = &mut live.catalog.resources[1];
    graph.app_roles.push(AppRole {
        id: PermissionId(guid(0x77)),
        value: Some("Reports.Viewer".into()),
        display_name: None,
        allowed_member_types: vec!["User".into()],
        is_enabled: true,
    });
    graph.app_roles[0].is_enabled = false;
    let mut d = desired("x");
    d.api_permissions = Some(vec![ApiPermission {
        api: ApiRef::DisplayName("Microsoft Graph".into()),
        application: ["Reports.Viewer", "Application.ReadWrite.All", "User.Read"]
            .map(String::from)
            .into(),
        delegated: ["Directory.Read.All"].map(String::from).into(),
    }]);
    let found = problems(plan_with(&[d], &live, false).unwrap_err());
    let messages: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        messages,
        [
            "the application permission `Application.ReadWrite.All` of `Microsoft Graph` is disabled ",
            "`Reports.Viewer` on `Microsoft Graph` is an app role for users and groups, not an application permission ",
            "`User.Read` is a delegated permission of `Microsoft Graph`, not an application permission list it under `delegated`",
            "`Directory.Read.All` is an application permission of `Microsoft Graph`, not a delegated one list it under `application`",
        ]
    );
    assert!(
        found
            .iter()
            .all(|(k, _)| *k == ProblemKind::UnknownPermission)
    );
}

#[test]
fn an_api_name_shared_by_two_service_principals_must_be_given_by_app_id() {
    let mut live = tenant(vec![]);
    let mut twin = live.catalog.resources[1].clone();
    twin.object_id = ObjectId(guid(0xe9));
    twin.app_id = AppId(guid(0xe9));
    live.catalog.resources.push(twin);
    let mut d = desired("x");
    d.api_permissions = Some(vec![ApiPermission {
        api: ApiRef::DisplayName("Microsoft Graph".into()),
        application: ["Mail.Send"].map(String::from).into(),
        delegated: Default::default(),
    }]);
    let found = problems(plan_with(&[d.clone()], &live, false).unwrap_err());
    assert_eq!(found[0].0, ProblemKind::AmbiguousApi);
    assert!(
        found[0].1.contains("00000000-0000-0000-0000-0000000000e9"),
        "{found:?}"
    );

    // By appId it works, and the address tells the twins apart.
    d.api_permissions.as_mut().unwrap()[0].api =
        ApiRef::AppId("00000003-0000-0000-c000-000000000000".parse().unwrap());
    let plan = plan_with(&[d], &live, false).unwrap();
    assert!(
        addresses(&plan).contains(
            &r#"app_role_assignment.x["Microsoft Graph (00000003-0000-0000-c000-000000000000)/Mail.Send"]"#
                .to_owned()
        ),
        "{:?}",
        addresses(&plan)
    );
}

#[test]
fn adoption_needs_an_existing_app_without_a_unique_name() {
    let mut d = desired("x");
    d.adopt_app_id = Some(AppId(guid(0xb000 + 7)));
    let found = problems(plan_with(&[d.clone()], &tenant(vec![]), false).unwrap_err());
    assert_eq!(found[0].0, ProblemKind::AdoptedAppMissing);

    let found = problems(
        plan_with(
            &[d.clone()],
            &tenant(vec![live_app(Some("other"), 7)]),
            false,
        )
        .unwrap_err(),
    );
    assert_eq!(found[0].0, ProblemKind::AdoptionConflict);
    assert!(
        found[0].1.contains("set `metadata.name` to `other`"),
        "{found:?}"
    );

    // The app this name already manages has another appId: refused rather than guessed.
    let found =
        problems(plan_with(&[d], &tenant(vec![live_app(Some("x"), 8)]), false).unwrap_err());
    assert_eq!(found[0].0, ProblemKind::AdoptionConflict);
}

#[test]
fn two_manifests_cannot_manage_one_app() {
    let a = desired("x");
    let mut b = desired("X");
    b.source.file = "manifests/copy.yaml".into();
    let found = problems(plan_with(&[a, b], &tenant(vec![]), false).unwrap_err());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, ProblemKind::DuplicateApp);
    assert!(found[0].1.contains("manifests/x.yaml:2"), "{found:?}");
}

#[test]
fn a_managed_app_that_lost_its_tag_gets_it_back_and_says_why() {
    let mut live = live_app(Some("x"), 1);
    live.tags = vec!["team".into()];
    let plan = plan_with(&[desired("x")], &tenant(vec![live]), false).unwrap();
    assert_eq!(addresses(&plan), ["application.x"]);
    assert_eq!(
        plan.changes[0].reason.as_deref(),
        Some("the `entraform:managed` tag is missing")
    );
    match &plan.changes[0].operations[..] {
        [plan::Operation::UpdateApplication { patch, .. }] => {
            assert_eq!(
                patch.tags.as_deref(),
                Some(&["entraform:managed".to_owned(), "team".to_owned()][..])
            );
            assert!(patch.display_name.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn graph_defaults_and_unset_fields_are_not_changes() {
    let mut live = live_app(Some("x"), 1);
    live.description = None;
    live.sign_in_audience = "AzureADMultipleOrgs".into();
    live.tags = vec!["b".into(), MANAGED_BY_TAG.into(), "a".into()];
    let mut d = desired("x");
    d.description = Some(String::new());
    d.tags = Some(["a", "b"].map(String::from).into());
    let plan = plan_with(&[d], &tenant(vec![live]), false).unwrap();
    assert!(!plan.has_changes(), "{:?}", addresses(&plan));
}

#[test]
fn without_prune_unmentioned_managed_apps_are_only_noted() {
    let live = tenant(vec![live_app(Some("x"), 1), live_app(Some("old"), 2)]);
    let plan = plan_with(&[desired("x")], &live, false).unwrap();
    assert!(!plan.has_changes());
    assert_eq!(plan.notes.len(), 1);
    assert_eq!(plan.notes[0].kind, NoteKind::Unmentioned);
    assert_eq!(plan.notes[0].app.as_deref(), Some("old"));
    assert!(plan.notes[0].message.ends_with("`--prune` would delete it"));

    let plan = plan_with(&[desired("x")], &live, true).unwrap();
    assert_eq!(addresses(&plan), ["application.old"]);
    assert_eq!(plan.summary.destroy, 1);
}

#[test]
fn without_prune_every_managed_app_read_by_name_only_is_noted_once() {
    let mut live = tenant(vec![live_app(Some("x"), 1)]);
    let named = |n: u128, name: Option<&str>, tags: &[&str]| ManagedApp {
        object_id: ObjectId(guid(0xa000 + n)),
        app_id: AppId(guid(0xb000 + n)),
        unique_name: name.map(Into::into),
        display_name: name.unwrap_or("hand-made").to_uppercase(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
    };
    live.managed = vec![
        // The manifest's own app, read by name too.
        named(1, Some("x"), &[MANAGED_BY_TAG]),
        named(2, Some("old-exo-app"), &[MANAGED_BY_TAG]),
        named(3, Some("kept"), &[MANAGED_BY_TAG, PROTECTED_TAG]),
        named(4, None, &[MANAGED_BY_TAG]),
    ];
    let plan = plan_with(&[desired("x")], &live, false).unwrap();
    assert!(!plan.has_changes());
    let notes: Vec<(Option<&str>, &str)> = plan
        .notes
        .iter()
        .map(|n| (n.app.as_deref(), n.message.as_str()))
        .collect();
    assert_eq!(
        notes,
        [
            (
                Some("00000000-0000-0000-0000-00000000b004"),
                "managed by entraform (appId 00000000-0000-0000-0000-00000000b004, display name `HAND-MADE`) but no manifest mentions it; `--prune` would delete it"
            ),
            (
                Some("kept"),
                "managed by entraform (appId 00000000-0000-0000-0000-00000000b003, display name `KEPT`) but no manifest mentions it; it carries `entraform:protected`, so `--prune` would stop rather than delete it"
            ),
            (
                Some("old-exo-app"),
                "managed by entraform (appId 00000000-0000-0000-0000-00000000b002, display name `OLD-EXO-APP`) but no manifest mentions it; `--prune` would delete it"
            ),
        ]
    );
}

#[test]
fn managed_owners_that_were_not_read_stop_the_plan() {
    let mut live = live_app(Some("x"), 1);
    live.owners = None;
    let mut d = desired("x");
    d.owners = Some(vec![OwnerRef::ObjectId(ObjectId(guid(42)))]);
    let found = problems(plan_with(&[d], &tenant(vec![live]), false).unwrap_err());
    assert_eq!(found[0].0, ProblemKind::OwnersNotRead);
}

#[test]
fn without_admin_consent_existing_grants_are_left_alone() {
    let mut live = live_app(Some("x"), 1);
    live.service_principal
        .as_mut()
        .unwrap()
        .app_role_assignments
        .push(LiveAppRoleAssignment {
            id: "ara".into(),
            resource_id: ObjectId(guid(0xe000_0000_0000_4000_8000_0000_0000_0002)),
            app_role_id: "7ab1d382-f21e-4acd-a863-ba3e13f7da61".parse().unwrap(),
            fingerprint: Fingerprint("ara".into()),
        });
    let mut d = desired("x");
    d.admin_consent = false;
    d.api_permissions = Some(vec![]);
    let plan = plan_with(&[d], &tenant(vec![live]), false).unwrap();
    assert!(!plan.has_changes(), "{:?}", addresses(&plan));
    // Nothing declared, nothing to consent to.
    assert!(plan.notes.is_empty());
}

#[test]
fn an_expired_generated_certificate_is_replaced_and_says_how_long_ago() {
    let mut live = live_app(Some("x"), 1);
    live.key_credentials.push(LiveKeyCredential {
        key_id: KeyId(guid(0xc1)),
        display_name: Some(certificate_display_name("automation")),
        thumbprint: None,
        key_type: "AsymmetricX509Cert".into(),
        usage: "Verify".into(),
        start: Some(datetime!(2024-05-29 00:00 UTC)),
        end: Some(datetime!(2025-05-29 00:00 UTC)),
    });
    let mut d = desired("x");
    d.certificates = Some(vec![CertificateSpec {
        name: "automation".into(),
        source: CertificateSource::Generate(GenerateSpec {
            subject: "CN=X".into(),
            key_type: KeyType::Rsa2048,
            validity: "1y".parse().unwrap(),
            renew_before: "30d".parse().unwrap(),
            overlap: crate::model::DEFAULT_OVERLAP,
            keep_archived: false,
            pfx: Some("x.pfx".into()),
            pfx_password_env: Some("X_PFX_PASSWORD".into()),
            pfx_encryption: PfxEncryption::Aes256,
            cer: None,
            key_vault: None,
        }),
    }]);
    let plan = plan_with(&[d], &tenant(vec![live]), false).unwrap();
    let change = &plan.changes[0];
    assert_eq!(change.action, Action::CreateThenDelete);
    assert_eq!(
        change.reason.as_deref(),
        Some(
            "expired 3 days ago; the current files are archived as `x.00000000-0000-0000-0000-0000000000c1.pfx`"
        )
    );
    assert_eq!(plan.certificates[0].days_left, Some(-3));
    // Without a thumbprint the old PFX is kept under the old key's id.
    match &change.operations[0] {
        plan::Operation::AddCertificate { key, .. } => match &key.certificate {
            plan::CertificateMaterial::Generate(g) => assert_eq!(
                g.keep_previous.as_ref().unwrap().pfx.as_deref(),
                Some(std::path::Path::new(
                    "x.00000000-0000-0000-0000-0000000000c1.pfx"
                ))
            ),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_assignment_by_template_id_is_the_same_role_as_by_definition_id() {
    let mut live_tenant = tenant(vec![]);
    live_tenant.catalog.role_definitions.push(RoleDefinition {
        id: RoleDefinitionId(guid(0xdef)),
        template_id: Some(RoleDefinitionId(guid(0x7e7))),
        display_name: "Mailbox Auditor".into(),
        is_built_in: false,
    });
    let mut app = live_app(Some("x"), 1);
    app.service_principal
        .as_mut()
        .unwrap()
        .directory_role_assignments
        .push(LiveDirectoryRoleAssignment {
            id: "ra".into(),
            role_definition_id: RoleDefinitionId(guid(0x7e7)),
            directory_scope_id: "/".into(),
            fingerprint: Fingerprint("ra".into()),
        });
    live_tenant.apps.push(app);
    let mut d = desired("x");
    d.directory_roles = Some(vec![DirectoryRoleSpec {
        role: RoleRef::Name("Mailbox Auditor".into()),
        scope: "/".into(),
    }]);
    let plan = plan_with(&[d], &live_tenant, false).unwrap();
    assert!(!plan.has_changes(), "{:?}", addresses(&plan));
}

#[test]
fn with_only_owned_by_entraform_never_plans_to_remove_itself_as_an_owner() {
    let me = ObjectId(guid(7));
    let other = ObjectId(guid(9));
    let mut live = live_app(Some("x"), 1);
    live.owners = Some(
        [me, other]
            .map(|id| LiveOwner {
                id,
                user_principal_name: None,
            })
            .to_vec(),
    );
    let mut d = desired("x");
    d.owners = Some(vec![OwnerRef::ObjectId(ObjectId(guid(42)))]);
    let mut t = tenant(vec![live]);
    let signed_in = |roles: &[&str]| SignedInApp {
        service_principal_id: me,
        roles: roles.iter().map(|r| r.to_string()).collect(),
    };

    t.signed_in = Some(signed_in(&["Application.ReadWrite.OwnedBy"]));
    let plan = plan_with(std::slice::from_ref(&d), &t, false).unwrap();
    let removed = |plan: &Plan| {
        plan.changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| c.address.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(removed(&plan), [format!("owner.x[\"{other}\"]")]);
    let kept: Vec<_> = plan
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::KeptOwner)
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(
        kept[0].message.contains(&me.to_string()),
        "{}",
        kept[0].message
    );
    assert!(kept[0].message.contains("Application.ReadWrite.OwnedBy"));

    // With Application.ReadWrite.All it needs no ownership: it is an owner like any other.
    t.signed_in = Some(signed_in(&[
        "Application.ReadWrite.OwnedBy",
        "Application.ReadWrite.All",
    ]));
    let plan = plan_with(&[d], &t, false).unwrap();
    assert_eq!(removed(&plan).len(), 2);
    assert!(plan.notes.iter().all(|n| n.kind != NoteKind::KeptOwner));
}

#[test]
fn a_deleted_managed_app_is_restored_and_an_unmanaged_one_blocks_its_name() {
    let deleted = |tags: Vec<String>, sp: Option<u128>| {
        let mut app = live_app(Some("x"), 3);
        app.tags = tags;
        app.service_principal = None;
        DeletedApp {
            app,
            deleted_at: Some(datetime!(2025-05-30 08:00 UTC)),
            service_principal: sp.map(|n| ObjectId(guid(n))),
        }
    };
    let mut live = tenant(vec![]);
    live.deleted_apps = vec![deleted(vec![MANAGED_BY_TAG.into()], Some(0x5003))];
    let mut d = desired("x");
    d.description = Some("changed since".into());
    let plan = plan_with(&[d.clone()], &live, false).unwrap();
    assert_eq!(
        addresses(&plan),
        ["application.x", "service_principal.x"],
        "nothing the app had is created again"
    );
    let app = &plan.changes[0];
    assert_eq!(app.action, Action::Restore);
    assert!(
        app.reason
            .as_deref()
            .unwrap()
            .starts_with("deleted outside entraform on 2025-05-30; restoring keeps its appId"),
        "{:?}",
        app.reason
    );
    // Restored first, then brought up to date with the manifest.
    assert!(matches!(
        app.operations.as_slice(),
        [
            plan::Operation::RestoreApplication { .. },
            plan::Operation::UpdateApplication { .. }
        ]
    ));
    assert_eq!(plan.changes[1].action, Action::Restore);
    assert_eq!(
        plan.changes[1].operations,
        [plan::Operation::RestoreServicePrincipal {
            object_id: ObjectId(guid(0x5003))
        }]
    );
    assert_eq!((plan.summary.restore, plan.summary.add), (2, 0));

    // Its service principal was purged: a new one is created for the restored app.
    live.deleted_apps = vec![deleted(vec![MANAGED_BY_TAG.into()], None)];
    let plan = plan_with(&[desired("x")], &live, false).unwrap();
    assert_eq!(plan.changes[1].action, Action::Create);

    // Not entraform's: the name cannot be used, and the plan says why and what to do.
    live.deleted_apps = vec![deleted(Vec::new(), None)];
    let found = problems(plan_with(&[desired("x")], &live, false).unwrap_err());
    assert_eq!(found[0].0, ProblemKind::NameHeldByDeletedApp);
    assert!(found[0].1.contains("deleted 2025-05-30"), "{found:?}");
    assert!(found[0].1.contains("/restore"), "{found:?}");
}

/// A managed client secret rotates like a generated certificate: inside `renewBefore` a new
/// one is added (the old kept for the overlap, the plan says until when); once the overlap has
/// passed the old one goes; other secrets go as soon as `clientSecrets` is declared.
#[test]
fn a_managed_client_secret_rotates_with_its_overlap_and_others_are_removed() {
    let now = datetime!(2025-06-01 00:00 UTC);
    let secret = |n: u128, name: &str, start, end| LivePasswordCredential {
        key_id: KeyId(guid(0x5e00 + n)),
        display_name: Some(name.into()),
        hint: Some("abc".into()),
        start: Some(start),
        end: Some(end),
    };
    let mut app = desired("exo");
    app.client_secrets = Some(vec![ClientSecretSpec {
        name: "automation".into(),
        validity: "180d".parse().unwrap(),
        renew_before: "30d".parse().unwrap(),
        overlap: "7d".parse().unwrap(),
        key_vault: KeyVaultSecret {
            vault: "kv-ops".into(),
            secret: "exo-secret".into(),
        },
    }]);
    let desired = [app];

    // Due in 10 days: a new secret; the old one is kept for the overlap.
    let mut live = live_app(Some("exo"), 1);
    live.password_credentials = vec![
        secret(
            1,
            "entraform:automation",
            now - time::Duration::days(170),
            now + time::Duration::days(10),
        ),
        secret(2, "backdoor", now, now + time::Duration::days(300)),
    ];
    let plan = plan_with(&desired, &tenant(vec![live.clone()]), false).unwrap();
    let rotation = plan
        .changes
        .iter()
        .find(|c| c.address.to_string() == "client_secret.exo[\"automation\"]")
        .expect("a rotation");
    assert_eq!(rotation.action, Action::Update);
    assert_eq!(
        rotation.reason.as_deref(),
        Some(
            "expires in 10 days, renewBefore is 30d; the old secret is kept until 2025-06-08 (overlap 7d)"
        )
    );
    assert!(matches!(
        rotation.operations.as_slice(),
        [plan::Operation::AddClientSecret { secret, .. }]
            if secret.display_name == "entraform:automation" && secret.key_vault.to_string() == "kv-ops/exo-secret"
    ));
    let removed: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(
        removed,
        [format!("client_secret.exo[\"{}\"]", guid(0x5e02))]
    );

    // After the rotation: inside the overlap the old secret is a note; after it, removed.
    live.password_credentials = vec![
        secret(
            1,
            "entraform:automation",
            now - time::Duration::days(170),
            now + time::Duration::days(10),
        ),
        secret(
            3,
            "entraform:automation",
            now - time::Duration::days(2),
            now + time::Duration::days(178),
        ),
    ];
    let plan = plan_with(&desired, &tenant(vec![live.clone()]), false).unwrap();
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    assert!(
        plan.notes
            .iter()
            .any(|n| n.kind == NoteKind::RotationOverlap
                && n.message.contains("kept until 2025-06-06 (overlap 7d)"))
    );
    live.password_credentials[1].start = Some(now - time::Duration::days(8));
    let plan = plan_with(&desired, &tenant(vec![live]), false).unwrap();
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, Action::Delete);
    assert!(
        plan.changes[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("its overlap 7d ended 2025-05-31"),
        "{:?}",
        plan.changes[0].reason
    );
}
