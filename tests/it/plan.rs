//! Golden plans: each folder under `tests/plan/cases/` holds a desired model (`desired.yaml`),
//! a live tenant (`live.yaml`; the shared `tests/plan/catalog.yaml` fills in its catalog when
//! it has none), optional `local_certs.yaml` and `case.yaml` (`prune: true`, `replace: [ADDRESS]`), and the expected
//! `plan.txt`, `plan.json`, `plan.md` and the saved plan `planfile.json` (operations, fingerprints:
//! what apply reads), or `error.txt` when planning must fail.
//!
//! `ENTRAFORM_BLESS=1 cargo test --test it plan::` rewrites the expected files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use entraform::hint::Hint as _;
use entraform::model::{DesiredApp, LiveTenant, LocalCertificate, LocalPfx};
use entraform::plan::{ManifestHashes, file, render};
use entraform::planner::{self, KeyIdSource, PlanInput, PlanOptions};
use serde::Deserialize;
use time::macros::datetime;

fn cases_dir() -> PathBuf {
    crate::common::repo_root().join("tests/plan/cases")
}

#[derive(Deserialize)]
struct LocalPfxEntry {
    app: String,
    name: String,
    #[serde(flatten)]
    pfx: LocalPfx,
}

#[derive(Deserialize)]
struct LocalCertEntry {
    app: String,
    name: String,
    certificate: LocalCertificate,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CaseOptions {
    #[serde(default)]
    prune: bool,
    /// `--replace` addresses.
    #[serde(default)]
    replace: Vec<String>,
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Case {
    desired: Vec<DesiredApp>,
    live: LiveTenant,
    local: BTreeMap<(String, String), LocalCertificate>,
    /// `local_pfx.yaml`: generated certificates' PFX files as found on disk.
    pfx: BTreeMap<(String, String), LocalPfx>,
    options: CaseOptions,
    manifests: ManifestHashes,
}

fn load(case: &str) -> Case {
    let dir = cases_dir().join(case);
    let desired: Vec<DesiredApp> = read_yaml(&dir.join("desired.yaml"));
    let mut live: serde_yaml::Value = read_yaml(&dir.join("live.yaml"));
    if live.get("catalog").is_none() {
        let catalog: serde_yaml::Value = read_yaml(&cases_dir().join("../catalog.yaml"));
        live.as_mapping_mut()
            .expect("live.yaml is a mapping")
            .insert("catalog".into(), catalog);
    }
    let live: LiveTenant = serde_yaml::from_value(live).expect("live.yaml is a LiveTenant");
    let local = if dir.join("local_certs.yaml").exists() {
        read_yaml::<Vec<LocalCertEntry>>(&dir.join("local_certs.yaml"))
            .into_iter()
            .map(|e| ((e.app, e.name), e.certificate))
            .collect()
    } else {
        BTreeMap::new()
    };
    let pfx = if dir.join("local_pfx.yaml").exists() {
        read_yaml::<Vec<LocalPfxEntry>>(&dir.join("local_pfx.yaml"))
            .into_iter()
            .map(|e| ((e.app, e.name), e.pfx))
            .collect()
    } else {
        BTreeMap::new()
    };
    let options: CaseOptions = if dir.join("case.yaml").exists() {
        read_yaml(&dir.join("case.yaml"))
    } else {
        CaseOptions::default()
    };
    let desired_bytes = std::fs::read(dir.join("desired.yaml")).unwrap();
    let manifests =
        ManifestHashes::from_contents([(Path::new("desired.yaml"), desired_bytes.as_slice())]);
    Case {
        desired,
        live,
        local,
        pfx,
        options,
        manifests,
    }
}

/// No Key Vault certificates were read for these cases.
static NO_VAULTS: std::collections::BTreeMap<
    (String, String),
    Option<entraform::model::LocalCertificate>,
> = std::collections::BTreeMap::new();

impl Case {
    fn input(&self) -> PlanInput<'_> {
        PlanInput {
            desired: &self.desired,
            live: &self.live,
            local_certificates: &self.local,
            local_pfx: &self.pfx,
            key_vault: &NO_VAULTS,
            now: datetime!(2025-06-01 00:00 UTC),
            options: PlanOptions {
                prune: self.options.prune,
                replace: self
                    .options
                    .replace
                    .iter()
                    .map(|a| a.parse().expect("case.yaml: a plan address"))
                    .collect(),
            },
            key_ids: KeyIdSource::Seeded(0),
            entraform_version: "0.0.0-test",
            manifests: &self.manifests,
        }
    }
}

/// Every output of one case, keyed by the expected file's name.
fn outputs(case: &str) -> BTreeMap<&'static str, String> {
    let loaded = load(case);
    let input = loaded.input();
    let mut out = BTreeMap::new();
    match planner::plan(&input) {
        Ok(plan) => {
            // Every golden plan also survives the plan file unchanged.
            let saved = file::to_plan_file(&plan);
            let back = file::from_plan_file(&saved, Path::new("plan.json"))
                .unwrap_or_else(|e| panic!("{case}: the saved plan does not read back: {e}"));
            assert_eq!(back, plan, "{case}: plan file round trip");
            // The second plan of the same inputs is the same plan: nothing random leaks in.
            assert_eq!(
                planner::plan(&input).unwrap(),
                plan,
                "{case}: planning is deterministic"
            );

            out.insert("plan.txt", render::text(&plan, false));
            out.insert("planfile.json", saved);
            out.insert("plan.json", render::json(&plan, false));
            out.insert("plan.md", render::markdown(&plan, false));
        }
        Err(err) => {
            let mut text = format!("error: {err}\n");
            if let Some(hint) = err.hint() {
                text.push_str(&format!("hint: {hint}\n"));
            }
            out.insert("error.txt", text);
        }
    }
    out
}

fn check(case: &str) {
    let dir = cases_dir().join(case);
    let actual = outputs(case);
    crate::common::assert_goldens(
        case,
        &dir,
        &[
            "plan.txt",
            "plan.json",
            "plan.md",
            "planfile.json",
            "error.txt",
        ],
        |name| actual.get(name).cloned(),
    );
}

crate::common::golden_cases! {
    dir: cases_dir();
    a_fresh_tenant_gets_everything_created => "fresh-tenant",
    new_app_roles_and_scopes_get_ids_from_the_plan => "app-roles-added",
    a_changed_role_text_is_one_write_that_keeps_the_id => "app-roles-changed",
    removing_enabled_roles_and_scopes_disables_them_in_a_first_write => "app-roles-removed-in-two-writes",
    a_role_already_disabled_is_removed_in_one_write => "app-role-already-disabled-removed-in-one-write",
    pre_authorized_clients_resolve_to_appids_and_scope_ids => "pre-authorized-applications",
    pre_authorized_names_the_plan_cannot_resolve_fail_at_their_lines => "pre-authorized-unknown-names",
    a_client_and_its_new_api_are_planned_together_with_ids_known_after_apply => "api-and-client-created-together",
    apps_naming_each_other_as_new_apis_are_refused_at_their_api_lines => "apis-naming-each-other",
    a_tenant_that_matches_has_no_changes => "no-changes",
    drift_in_every_application_field_is_shown_field_by_field => "drift-application-fields",
    a_role_and_a_permission_no_longer_in_the_manifest_are_removed => "removed-role-assignment",
    an_extra_unmanaged_key_credential_is_removed => "unmanaged-key-credential",
    a_certificate_due_for_renewal_is_replaced_new_key_first => "certificate-rotation",
    without_overlap_the_old_key_goes_in_the_same_apply => "certificate-rotation-without-overlap",
    a_hand_made_app_is_adopted_by_app_id_in_one_change => "adopt-by-app-id",
    unknown_names_fail_with_did_you_mean_and_every_problem_listed => "unknown-permission",
    protect_true_marks_the_app_with_the_protected_tag => "protected-app",
    prune_refuses_to_delete_a_protected_app => "prune-protected",
    prune_deletes_managed_apps_no_manifest_mentions => "prune",
    without_admin_consent_permissions_are_only_declared => "admin-consent-false",
    federated_credentials_are_created_updated_and_deleted => "federated-credential-change",
    owners_are_added_and_removed => "owners-change",
    users_and_groups_are_assigned_and_unassigned_as_a_set => "assignments-change",
    an_unknown_user_and_a_shared_group_name_are_problems => "assignments-unknown-principals",
    an_interrupted_rotation_leaves_an_old_key_to_remove => "interrupted-rotation",
    a_changed_certificate_file_replaces_the_old_key => "file-certificate-replaced",
    key_operations_follow_each_other_in_one_certificate_set => "certificate-set-changes",
    a_pfx_that_matches_no_key_is_drift_and_replaced => "pfx-matches-no-key",
    an_edited_subject_rotates_the_certificate_with_the_reason => "generated-subject-changed",
    an_edited_key_type_rotates_the_certificate_with_the_reason => "generated-key-type-changed",
    credentials_the_manifest_does_not_manage_are_noted => "unmanaged-credentials-are-noted",
    client_secrets_declared_empty_removes_every_secret => "client-secrets-declared-empty",
    managed_apps_no_manifest_mentions_are_noted => "unmentioned-managed-apps",
    replace_rotates_a_certificate_now_keeping_the_old_key_for_the_overlap => "certificate-replaced-on-request",
    replace_naming_no_generated_certificate_is_refused_with_the_addresses => "replace-unknown-address",
}

#[test]
fn colour_adds_escape_codes_and_changes_nothing_else() {
    let case = load("federated-credential-change");
    let plan = planner::plan(&case.input()).unwrap();
    let plain = render::text(&plan, false);
    let coloured = render::text(&plan, true);
    assert!(!plain.contains('\x1b'));
    assert!(coloured.contains("\x1b[32m+\x1b[0m"), "{coloured}");
    assert!(coloured.contains("\x1b[31m-\x1b[0m"), "{coloured}");
    let mut stripped = String::new();
    let mut rest = coloured.as_str();
    while let Some(start) = rest.find("\x1b[") {
        stripped.push_str(&rest[..start]);
        let end = rest[start..].find('m').unwrap();
        rest = &rest[start + end + 1..];
    }
    stripped.push_str(rest);
    assert_eq!(stripped, plain);
}

#[test]
fn a_plan_with_changes_lists_every_operation_in_apply_order() {
    let case = load("fresh-tenant");
    let plan = planner::plan(&case.input()).unwrap();
    let ops: Vec<String> = plan
        .operations()
        .map(|(address, op)| {
            let json = serde_json::to_value(op).unwrap();
            format!("{address} {}", json["op"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        ops,
        [
            "application.exo-v2-app upsert_application",
            "service_principal.exo-v2-app create_service_principal",
            r#"app_role_assignment.exo-v2-app["Office 365 Exchange Online/Exchange.ManageAsApp"] grant_app_role"#,
            r#"delegated_grant.exo-v2-app["Microsoft Graph"] create_delegated_grant"#,
            r#"directory_role_assignment.exo-v2-app["Exchange Administrator"] assign_directory_role"#,
            r#"owner.exo-v2-app["alice@contoso.onmicrosoft.com"] add_owner"#,
            r#"certificate.exo-v2-app["automation"] add_certificate"#,
            r#"federated_credential.exo-v2-app["github-main"] create_federated_credential"#,
        ]
    );
}

/// GitHub and Azure DevOps continue a table with any line that follows a row: every table in a
/// markdown plan must end at a blank line, or the notes read as one more row.
#[test]
fn every_markdown_table_ends_at_a_blank_line() {
    let root = crate::common::repo_root().join("tests/plan");
    let mut checked = 0;
    for kind in ["cases", "e2e"] {
        for case in std::fs::read_dir(root.join(kind)).unwrap() {
            let path = case.unwrap().path().join("plan.md");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            for pair in lines.windows(2) {
                assert!(
                    !pair[0].starts_with('|') || pair[1].starts_with('|') || pair[1].is_empty(),
                    "{}: `{}` follows a table row",
                    path.display(),
                    pair[1]
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 10, "only {checked} markdown plans found");
}
