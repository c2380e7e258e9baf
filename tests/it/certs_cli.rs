//! `entraform certs` against a sandbox tenant: the cron job's exit codes, table and JSON.

use serde_json::Value;

use crate::certs_seed::{APP, seed};
use crate::common::{stderr, stdout};

#[tokio::test]
async fn certs_exits_2_inside_the_window_and_0_outside_it() {
    // A 10-day certificate; the manifest renews 30 days before the end.
    let s = seed(10, "30d").await;

    let due = s.run(&["certs", "exo.yaml"]);
    assert_eq!(due.status.code(), Some(2), "{}", stderr(&due));
    let table = stdout(&due);
    let row = table
        .lines()
        .find(|l| l.contains(&s.thumbprint))
        .unwrap_or_else(|| panic!("no row for the certificate:\n{table}"));
    assert!(row.starts_with(APP), "{row}");
    assert!(row.contains(" automation "), "{row}");
    assert!(row.ends_with("renew"), "{row}");
    assert!(
        stderr(&due).contains("1 certificate on 1 app: 1 inside its renewal window."),
        "{}",
        stderr(&due)
    );

    // `--within` overrides renewBefore: 10 days left is outside a 5-day window.
    let fine = s.run(&["certs", "--within", "5", "exo.yaml"]);
    assert_eq!(fine.status.code(), Some(0), "{}", stderr(&fine));
    assert!(stdout(&fine).contains(" ok"), "{}", stdout(&fine));

    let json = s.run(&["certs", "--format", "json", "exo.yaml"]);
    assert_eq!(json.status.code(), Some(2), "{}", stderr(&json));
    let doc: Value = serde_json::from_str(&stdout(&json)).expect("stdout is one JSON document");
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["attention"], true);
    let cert = &doc["certificates"][0];
    assert_eq!(cert["app"], APP);
    assert_eq!(cert["app_id"], s.app_id.as_str());
    assert_eq!(cert["certificate"], "automation");
    assert_eq!(cert["source"], "generate");
    assert_eq!(cert["thumbprint"], s.thumbprint.as_str());
    assert_eq!(cert["window"], "30d");
    assert_eq!(cert["status"], "renew");
    assert!(
        (8..=10).contains(&cert["days_left"].as_i64().unwrap()),
        "{cert}"
    );

    // The same exit codes in the textfile collector's format.
    let prom = s.run(&["certs", "--format", "prometheus", "exo.yaml"]);
    assert_eq!(prom.status.code(), Some(2), "{}", stderr(&prom));
    let text = stdout(&prom);
    assert!(
        text.contains(&format!(
            "entraform_credential_attention{{app=\"{APP}\",app_id=\"{}\",credential=\"automation\",kind=\"certificate\",thumbprint=\"{}\",key_id=\"",
            s.app_id, s.thumbprint
        )),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("entraform_credential_attention{") && l.ends_with("} 1")),
        "{text}"
    );
    let fine = s.run(&[
        "certs",
        "--within",
        "5",
        "--format",
        "prometheus",
        "exo.yaml",
    ]);
    assert_eq!(fine.status.code(), Some(0), "{}", stderr(&fine));
}

#[tokio::test]
async fn a_certificate_outside_its_window_exits_0_and_all_reads_every_app() {
    let s = seed(365, "30d").await;
    let out = s.run(&["certs", "exo.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 certificate on 1 app, none inside its renewal window."),
        "{}",
        stderr(&out)
    );

    // With `--all` and no manifests folder: the whole tenant, every window 30 days, and the
    // seeded app still named by the manifest it was given.
    let all = s.run(&["certs", "--all", "--format", "json", "exo.yaml"]);
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    let doc: Value = serde_json::from_str(&stdout(&all)).unwrap();
    assert_eq!(doc["all"], true);
    assert!(doc["summary"]["apps"].as_u64().unwrap() >= 2, "{doc}");
    assert_eq!(doc["certificates"][0]["certificate"], "automation");

    let bare = s.run(&["certs", "--all", "--within", "400"]);
    assert_eq!(bare.status.code(), Some(2), "{}", stderr(&bare));
    let err = stderr(&bare);
    assert!(
        err.contains("warning:") && err.contains("`manifests`"),
        "{err}"
    );
    assert!(stdout(&bare).contains("Exo_V2_App"), "{}", stdout(&bare));
}

#[tokio::test]
async fn a_manifest_app_not_in_the_tenant_is_said_on_stderr() {
    let s = seed(365, "30d").await;
    std::fs::write(
        s.dir.path().join("other.yaml"),
        "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: not-applied\nspec:\n  displayName: Not applied\n",
    )
    .unwrap();
    let out = s.run(&["certs", "exo.yaml", "other.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`not-applied` has no application in the tenant yet"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn certs_reads_only_applications_and_their_service_principals() {
    use entraform::graph::{Cloud, GraphClient, GraphEndpoints};
    use entraform::ops::certs::{CertsRequest, certificates};
    use entraform::sandbox::{self, SandboxConfig};

    let s = seed(10, "30d").await;
    // A manifest that also manages roles, permissions and owners: a plan would read all of
    // them (and need the permissions to); certs must not.
    let manifest = s.dir.path().join("full.yaml");
    std::fs::write(
        &manifest,
        format!(
            "{}  owners: [admin@contoso.onmicrosoft.com]\n  apiPermissions:\n    - api: Office 365 Exchange Online\n      application: [Exchange.ManageAsApp]\n  directoryRoles: [Exchange Administrator]\n",
            crate::certs_seed::manifest_text("30d")
        ),
    )
    .unwrap();
    let sb = sandbox::start(SandboxConfig::new().state_path(&s.state))
        .await
        .unwrap();
    let client = GraphClient::with_client_secret(
        GraphEndpoints::new(
            Cloud::Public,
            Some(&sb.graph_url()),
            Some(&sb.authority_url()),
            Some(&sb.tenant_id()),
        )
        .unwrap(),
        sb.bootstrap_client_id(),
        sb.bootstrap_client_secret().expose(),
    )
    .unwrap();
    let run = certificates(
        &client,
        &CertsRequest {
            paths: vec![manifest],
            recursive: false,
            within_days: None,
            all: false,
        },
    )
    .await
    .unwrap();
    assert!(run.report.needs_attention());
    assert_eq!(run.report.certificates[0].certificate, "automation");
    let routes: Vec<String> = sb.stats().routes.keys().cloned().collect();
    for route in &routes {
        assert!(
            [
                "/applications",
                "/servicePrincipals",
                "/organization",
                "/$batch",
                "/oauth2/v2.0/token"
            ]
            .iter()
            .any(|allowed| route.contains(allowed)),
            "certs read `{route}`: {routes:?}"
        );
    }
    sb.shutdown().await.unwrap();
}
