//! `entraform plan` as a user runs it: the seed scenario against a fresh sandbox.

use crate::common::{entraform, repo_root, stderr, stdout};

#[test]
fn the_exchange_scenario_plans_everything_it_needs_and_exits_2_with_detailed_exitcode() {
    let dir = tempfile::tempdir().unwrap();
    let out = entraform()
        .current_dir(repo_root())
        .args(["--sandbox", "--sandbox-state"])
        .arg(dir.path().join("sandbox.json"))
        .args([
            "plan",
            "--detailed-exitcode",
            "manifests/exchange-online-app.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let plan = stdout(&out);
    for address in [
        "# application.exo-v2-app will be created",
        "# service_principal.exo-v2-app will be created",
        r#"# app_role_assignment.exo-v2-app["Office 365 Exchange Online/Exchange.ManageAsApp"] will be created"#,
        r#"# directory_role_assignment.exo-v2-app["Exchange Administrator"] will be created"#,
        r#"# certificate.exo-v2-app["automation"] will be created"#,
    ] {
        assert!(plan.contains(address), "missing `{address}` in:\n{plan}");
    }
    assert!(
        plan.contains("to add, 0 to change, 0 to destroy."),
        "{plan}"
    );
}

#[test]
fn without_detailed_exitcode_a_plan_with_changes_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = entraform()
        .current_dir(repo_root())
        .args(["--sandbox", "--sandbox-state"])
        .arg(dir.path().join("sandbox.json"))
        .args(["plan", "manifests/exchange-online-app.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn verbose_plans_log_how_many_requests_they_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = entraform()
        .current_dir(repo_root())
        .args(["-v", "--sandbox", "--sandbox-state"])
        .arg(dir.path().join("sandbox.json"))
        .args(["plan", "manifests/"])
        .output()
        .unwrap();
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("read the tenant") && log.contains("http_requests="),
        "{log}"
    );
}

/// What `plan` prints from the first `error: ` on, for one manifest against a fresh sandbox.
fn plan_error(manifest: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("exo.yaml"), manifest).unwrap();
    let out = entraform()
        .current_dir(dir.path())
        .args([
            "--sandbox",
            "--sandbox-state",
            "sandbox.json",
            "plan",
            "exo.yaml",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    err[err.find("error: ").expect("an error")..].to_owned()
}

const EXO_HEAD: &str = "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: exo\nspec:\n  displayName: Exo Automation\n";

/// Names only the tenant can resolve are checked at plan time; each problem points at its own
/// entry, with the line and a caret, the way a validation error does, and its own hint.
#[test]
fn names_the_tenant_does_not_know_point_at_their_own_lines() {
    let shown = plan_error(&format!(
        "{EXO_HEAD}  \
         apiPermissions:\n    \
         - api: Office 365 Exchange Online\n      \
           application: [Exchange.ManageAsApp, Exchange.ManageAsAp]\n  \
         directoryRoles:\n    \
         - Exchange Admin\n"
    ));
    assert_eq!(
        shown,
        "error: `Exchange.ManageAsAp` is not an application permission of `Office 365 Exchange Online`
 --> exo.yaml:9:43
  |
9 |       application: [Exchange.ManageAsApp, Exchange.ManageAsAp]
  |                                           ^^^^^^^^^^^^^^^^^^^
  = hint: did you mean one of `Exchange.ManageAsApp`, `Exchange.ManageAsAppV2`, `Exchange.AdminAPI.ManageAsApp`?

error: no directory role named `Exchange Admin` in this tenant
  --> exo.yaml:11:7
   |
11 |     - Exchange Admin
   |       ^^^^^^^^^^^^^^
   = hint: did you mean one of `Exchange Administrator`, `Exchange Service Administrator`, `Exchange Recipient Administrator`?

error: the manifests cannot be planned against this tenant (2 problems in 1 file)
"
    );
}

#[test]
fn an_api_written_short_gets_a_did_you_mean() {
    let shown = plan_error(&format!(
        "{EXO_HEAD}  apiPermissions:\n    - api: Exchange Online\n      application: [Exchange.ManageAsApp]\n"
    ));
    assert_eq!(
        shown,
        "error: no API named `Exchange Online` in this tenant
 --> exo.yaml:8:12
  |
8 |     - api: Exchange Online
  |            ^^^^^^^^^^^^^^^
  = hint: did you mean `Office 365 Exchange Online`?

error: the manifests cannot be planned against this tenant (1 problem)
"
    );
}

/// A managed app whose manifest was removed keeps what it was granted; every plan says so, but
/// a note is not a change: `--detailed-exitcode` still exits 0, as Terraform's warnings do.
#[test]
fn a_managed_app_no_manifest_mentions_is_noted_and_is_not_drift() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = |name: &str| {
        format!(
            "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  displayName: {name}\n"
        )
    };
    std::fs::write(dir.path().join("kept.yaml"), manifest("kept")).unwrap();
    std::fs::write(dir.path().join("old-exo-app.yaml"), manifest("old-exo-app")).unwrap();
    let run = |args: &[&str]| {
        entraform()
            .current_dir(dir.path())
            .args(["--sandbox", "--sandbox-state", "sandbox.json"])
            .args(args)
            .output()
            .unwrap()
    };
    let applied = run(&["apply", "--auto-approve", "."]);
    assert!(applied.status.success(), "{}", stderr(&applied));
    std::fs::remove_file(dir.path().join("old-exo-app.yaml")).unwrap();

    let out = run(&["plan", "--detailed-exitcode", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(
        plan.contains("Notes:\n  - old-exo-app: managed by entraform (appId ")
            && plan.contains(
                ", display name `old-exo-app`) but no manifest mentions it; `--prune` would delete it\n"
            )
            && plan.contains("No changes."),
        "{plan}"
    );
}
