//! `entraform certs` as a pure report: which manifest certificate each key is, its window and
//! status, and the table, JSON and summary it prints (golden, inline).

use std::collections::BTreeMap;
use std::path::Path;

use entraform::model::{
    AppId, DesiredApp, KeyId, LiveKeyCredential, LivePasswordCredential, LocalPfx, Thumbprint,
};
use entraform::report::certs::{self, AppCertificates, CertReport, ReportInput, Status};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);

const MANIFESTS: &str = r#"
apiVersion: entraform/v1
kind: Application
metadata:
  name: exo-v2-app
spec:
  displayName: Exo_V2_App
  certificates:
    - name: automation
      generate:
        renewBefore: 30d
        pfx: secrets/exo.pfx
        pfxPasswordEnv: EXO_PFX_PASSWORD
    - name: partner
      file: certs/partner.cer
---
apiVersion: entraform/v1
kind: Application
metadata:
  name: reporting
spec:
  displayName: Reporting
  certificates:
    - name: nightly
      generate:
        renewBefore: 14d
        pfx: secrets/reporting.pfx
        pfxPasswordEnv: REPORTING_PFX_PASSWORD
---
apiVersion: entraform/v1
kind: Application
metadata:
  name: not-applied-yet
spec:
  displayName: Not applied yet
"#;

fn desired() -> Vec<DesiredApp> {
    entraform::manifest::parse(Path::new("manifests/apps.yaml"), MANIFESTS.as_bytes())
        .expect("the fixture manifests are valid")
}

fn id(n: u8) -> uuid::Uuid {
    uuid::Uuid::from_bytes([n; 16])
}

fn thumbprint(n: u8) -> Thumbprint {
    Thumbprint([n; 20])
}

fn key(n: u8, display_name: Option<&str>, days: i64) -> LiveKeyCredential {
    LiveKeyCredential {
        key_id: KeyId(id(n)),
        display_name: display_name.map(str::to_owned),
        thumbprint: Some(thumbprint(n)),
        key_type: "AsymmetricX509Cert".into(),
        usage: "Verify".into(),
        start: Some(NOW - Duration::days(300)),
        end: Some(NOW + Duration::days(days) + Duration::hours(6)),
    }
}

fn apps(all: bool) -> Vec<AppCertificates> {
    let mut apps = vec![
        AppCertificates {
            app_id: AppId(id(0xa1)),
            unique_name: Some("exo-v2-app".into()),
            display_name: "Exo_V2_App".into(),
            secrets: Vec::new(),
            keys: vec![
                key(0x11, Some("entraform:automation"), 12),
                // The partner's file, attached by hand under another name: matched by thumbprint.
                key(0x22, Some("CN=partner"), 200),
                key(0x33, Some("Portal upload"), -4),
                key(0x44, None, 100),
            ],
        },
        AppCertificates {
            app_id: AppId(id(0xa2)),
            unique_name: Some("reporting".into()),
            display_name: "Reporting".into(),
            secrets: Vec::new(),
            keys: vec![key(0x55, Some("entraform:nightly"), 20)],
        },
    ];
    if all {
        apps.push(AppCertificates {
            app_id: AppId(id(0xa3)),
            unique_name: None,
            display_name: "Legacy HR".into(),
            secrets: Vec::new(),
            keys: vec![key(0x66, Some("CN=hr"), 5)],
        });
    }
    apps
}

fn build(within_days: Option<u32>, all: bool) -> CertReport {
    let desired = desired();
    let files: BTreeMap<(String, String), Thumbprint> =
        BTreeMap::from([(("exo-v2-app".into(), "partner".into()), thumbprint(0x22))]);
    let apps = apps(all);
    certs::report(&ReportInput {
        desired: &desired,
        file_thumbprints: &files,
        apps: &apps,
        pfx: &BTreeMap::new(),
        now: NOW,
        within_days,
        all,
    })
}

#[test]
fn the_table_names_keys_like_the_manifests_and_sorts_by_days_left() {
    let report = build(None, false);
    insta::assert_snapshot!(certs::table(&report, false), @r"
    APP         CERTIFICATE    THUMBPRINT                                NOT AFTER   DAYS LEFT  WINDOW  STATUS
    exo-v2-app  Portal upload  3333333333333333333333333333333333333333  2025-05-28         -4     30d  expired
    exo-v2-app  automation     1111111111111111111111111111111111111111  2025-06-13         12     30d  renew
    reporting   nightly        5555555555555555555555555555555555555555  2025-06-21         20     14d  ok
    exo-v2-app  (unmanaged)    4444444444444444444444444444444444444444  2025-09-09        100     30d  ok
    exo-v2-app  partner        2222222222222222222222222222222222222222  2025-12-18        200     30d  ok
    ");
    insta::assert_snapshot!(
        certs::summary(&report),
        @"5 certificates on 2 apps: 1 expired, 1 inside its renewal window."
    );
    assert!(report.needs_attention());
    assert_eq!(report.apps_not_found, ["not-applied-yet"]);
}

#[test]
fn within_overrides_every_window() {
    let report = build(Some(25), false);
    let nightly = report
        .certificates
        .iter()
        .find(|r| r.certificate == "nightly")
        .unwrap();
    assert_eq!(
        nightly.status,
        Status::Renew,
        "20 days left is inside 25 days, though renewBefore is 14d"
    );
    assert_eq!(nightly.window.to_string(), "25d");
    let automation = report
        .certificates
        .iter()
        .find(|r| r.certificate == "automation")
        .unwrap();
    assert_eq!(automation.window.to_string(), "25d");

    let report = build(Some(0), false);
    let flagged: Vec<&str> = report
        .certificates
        .iter()
        .filter(|r| r.status != Status::Ok)
        .map(|r| r.certificate.as_str())
        .collect();
    assert_eq!(flagged, ["Portal upload"], "--within 0 flags expired only");
}

#[test]
fn nothing_inside_its_window_needs_no_attention() {
    let desired = desired();
    let apps = vec![AppCertificates {
        app_id: AppId(id(0xa2)),
        unique_name: Some("reporting".into()),
        display_name: "Reporting".into(),
        secrets: Vec::new(),
        keys: vec![key(0x55, Some("entraform:nightly"), 20)],
    }];
    let report = certs::report(&ReportInput {
        desired: &desired,
        file_thumbprints: &BTreeMap::new(),
        apps: &apps,
        pfx: &BTreeMap::new(),
        now: NOW,
        within_days: None,
        all: false,
    });
    assert!(!report.needs_attention());
    assert_eq!(
        certs::summary(&report),
        "1 certificate on 1 app, none inside its renewal window."
    );
}

/// Issue 13: a PFX the manifests name that holds none of the app's keys is drift: whatever
/// uses it cannot sign in, so `certs` says so and exits 2 even when every key is fresh.
#[test]
fn a_pfx_that_matches_no_key_needs_attention() {
    let desired = desired();
    let apps = vec![AppCertificates {
        app_id: AppId(id(0xa2)),
        unique_name: Some("reporting".into()),
        display_name: "Reporting".into(),
        secrets: Vec::new(),
        keys: vec![key(0x55, Some("entraform:nightly"), 200)],
    }];
    let pfx = |t| {
        BTreeMap::from([(
            ("reporting".to_owned(), "nightly".to_owned()),
            LocalPfx {
                path: "secrets/nightly.pfx".into(),
                thumbprint: thumbprint(t),
            },
        )])
    };
    let report_with = |files: &BTreeMap<(String, String), LocalPfx>| {
        certs::report(&ReportInput {
            desired: &desired,
            file_thumbprints: &BTreeMap::new(),
            apps: &apps,
            pfx: files,
            now: NOW,
            within_days: None,
            all: false,
        })
    };
    let matching = report_with(&pfx(0x55));
    assert!(!matching.needs_attention());
    let stray = report_with(&pfx(0x77));
    assert!(stray.needs_attention());
    assert_eq!(
        certs::unusable_lines(&stray),
        [
            "`secrets/nightly.pfx` (reporting, certificate `nightly`) holds certificate 7777777777777777777777777777777777777777, which is not one of the app's keys: whatever uses it cannot sign in; `entraform plan` shows it as drift and `entraform apply` replaces it"
        ]
    );
    assert!(certs::json(&stray).contains("\"unusable_pfx\": ["));
}

#[test]
fn all_adds_unmanaged_apps_under_their_display_names() {
    let report = build(None, true);
    let hr = report
        .certificates
        .iter()
        .find(|r| r.app == "Legacy HR")
        .unwrap();
    assert!(!hr.managed);
    assert_eq!(hr.certificate, "CN=hr");
    assert_eq!(hr.window.to_string(), "30d");
    assert_eq!(hr.status, Status::Renew);
    insta::assert_snapshot!(
        certs::summary(&report),
        @"6 certificates on 3 apps: 1 expired, 2 inside their renewal window."
    );
}

#[test]
fn the_json_document_has_a_versioned_shape() {
    let report = build(None, true);
    insta::assert_snapshot!(certs::json(&report), @r#"
    {
      "format_version": "1",
      "generated_at": "2025-06-01T00:00:00Z",
      "within_days": null,
      "all": true,
      "attention": true,
      "summary": {
        "apps": 3,
        "certificates": 6,
        "ok": 3,
        "renew": 2,
        "expired": 1
      },
      "certificates": [
        {
          "app": "exo-v2-app",
          "app_id": "a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",
          "app_display_name": "Exo_V2_App",
          "managed": true,
          "certificate": "Portal upload",
          "kind": "certificate",
          "source": "unmanaged",
          "key_id": "33333333-3333-3333-3333-333333333333",
          "key_display_name": "Portal upload",
          "thumbprint": "3333333333333333333333333333333333333333",
          "not_before": "2024-08-05T00:00:00Z",
          "not_after": "2025-05-28T06:00:00Z",
          "days_left": -4,
          "window": "30d",
          "status": "expired"
        },
        {
          "app": "Legacy HR",
          "app_id": "a3a3a3a3-a3a3-a3a3-a3a3-a3a3a3a3a3a3",
          "app_display_name": "Legacy HR",
          "managed": false,
          "certificate": "CN=hr",
          "kind": "certificate",
          "source": "unmanaged",
          "key_id": "66666666-6666-6666-6666-666666666666",
          "key_display_name": "CN=hr",
          "thumbprint": "6666666666666666666666666666666666666666",
          "not_before": "2024-08-05T00:00:00Z",
          "not_after": "2025-06-06T06:00:00Z",
          "days_left": 5,
          "window": "30d",
          "status": "renew"
        },
        {
          "app": "exo-v2-app",
          "app_id": "a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",
          "app_display_name": "Exo_V2_App",
          "managed": true,
          "certificate": "automation",
          "kind": "certificate",
          "source": "generate",
          "key_id": "11111111-1111-1111-1111-111111111111",
          "key_display_name": "entraform:automation",
          "thumbprint": "1111111111111111111111111111111111111111",
          "not_before": "2024-08-05T00:00:00Z",
          "not_after": "2025-06-13T06:00:00Z",
          "days_left": 12,
          "window": "30d",
          "status": "renew"
        },
        {
          "app": "reporting",
          "app_id": "a2a2a2a2-a2a2-a2a2-a2a2-a2a2a2a2a2a2",
          "app_display_name": "Reporting",
          "managed": true,
          "certificate": "nightly",
          "kind": "certificate",
          "source": "generate",
          "key_id": "55555555-5555-5555-5555-555555555555",
          "key_display_name": "entraform:nightly",
          "thumbprint": "5555555555555555555555555555555555555555",
          "not_before": "2024-08-05T00:00:00Z",
          "not_after": "2025-06-21T06:00:00Z",
          "days_left": 20,
          "window": "14d",
          "status": "ok"
        },
        {
          "app": "exo-v2-app",
          "app_id": "a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",
          "app_display_name": "Exo_V2_App",
          "managed": true,
          "certificate": "(unmanaged)",
          "kind": "certificate",
          "source": "unmanaged",
          "key_id": "44444444-4444-4444-4444-444444444444",
          "key_display_name": null,
          "thumbprint": "4444444444444444444444444444444444444444",
          "not_before": "2024-08-05T00:00:00Z",
          "not_after": "2025-09-09T06:00:00Z",
          "days_left": 100,
          "window": "30d",
          "status": "ok"
        },
        {
          "app": "exo-v2-app",
          "app_id": "a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",
          "app_display_name": "Exo_V2_App",
          "managed": true,
          "certificate": "partner",
          "kind": "certificate",
          "source": "file",
          "key_id": "22222222-2222-2222-2222-222222222222",
          "key_display_name": "CN=partner",
          "thumbprint": "2222222222222222222222222222222222222222",
          "not_before": "2024-08-05T00:00:00Z",
          "not_after": "2025-12-18T06:00:00Z",
          "days_left": 200,
          "window": "30d",
          "status": "ok"
        }
      ],
      "apps_not_found": [
        "not-applied-yet"
      ],
      "unusable_pfx": []
    }
    "#);
    // The document parses back and its summary agrees with its rows.
    let doc: serde_json::Value = serde_json::from_str(&certs::json(&report)).unwrap();
    assert_eq!(doc["certificates"].as_array().unwrap().len(), 6);
}

#[test]
fn colour_marks_only_the_status_of_certificates_that_need_attention() {
    let report = build(None, false);
    let plain = certs::table(&report, false);
    let coloured = certs::table(&report, true);
    assert!(coloured.contains("\x1b[1;31mexpired\x1b[0m"), "{coloured}");
    assert!(coloured.contains("\x1b[1;33mrenew\x1b[0m"), "{coloured}");
    let stripped = coloured
        .replace("\x1b[1;31m", "")
        .replace("\x1b[1;33m", "")
        .replace("\x1b[0m", "");
    assert_eq!(stripped, plain);
}

/// Issue 16: a client secret added behind entraform's back is listed with its expiry (never a
/// value: the report has none to show) and, inside the window, makes `certs` exit 2.
#[test]
fn a_client_secret_is_listed_with_its_expiry_and_needs_attention_inside_the_window() {
    let desired = desired();
    let secret = |n: u8, days: i64| LivePasswordCredential {
        key_id: KeyId(id(n)),
        display_name: Some("backdoor".into()),
        hint: Some("Abc".into()),
        start: Some(NOW - Duration::days(1)),
        end: Some(NOW + Duration::days(days) + Duration::hours(6)),
    };
    let apps = |days| {
        vec![AppCertificates {
            app_id: AppId(id(0xa2)),
            unique_name: Some("reporting".into()),
            display_name: "Reporting".into(),
            keys: vec![key(0x55, Some("entraform:nightly"), 200)],
            secrets: vec![secret(0x77, days)],
        }]
    };
    let report = |apps: &[AppCertificates]| {
        certs::report(&ReportInput {
            desired: &desired,
            file_thumbprints: &BTreeMap::new(),
            apps,
            pfx: &BTreeMap::new(),
            now: NOW,
            within_days: None,
            all: false,
        })
    };
    let soon = report(&apps(7));
    assert!(
        soon.needs_attention(),
        "7 days left is inside the 30-day window"
    );
    insta::assert_snapshot!(certs::table(&soon, false), @r"
    APP        CERTIFICATE               THUMBPRINT                                NOT AFTER   DAYS LEFT  WINDOW  STATUS
    reporting  backdoor (client secret)  -                                         2025-06-08          7     30d  renew
    reporting  nightly                   5555555555555555555555555555555555555555  2025-12-18        200     14d  ok
    ");
    let json: serde_json::Value = serde_json::from_str(&certs::json(&soon)).unwrap();
    let row = &json["certificates"][0];
    assert_eq!(row["kind"], "client_secret", "{row}");
    assert_eq!(row["hint"], "Abc", "{row}");
    assert_eq!(row["thumbprint"], serde_json::Value::Null, "{row}");
    assert_eq!(row["status"], "renew", "{row}");

    assert!(!report(&apps(90)).needs_attention());
}

/// Issue 16: `certs --format prometheus`, node_exporter's textfile-collector format. The report
/// with managed, unmanaged and superseded keys and a client secret whose name needs escaping.
fn prometheus_report() -> CertReport {
    let desired = desired();
    let files: BTreeMap<(String, String), Thumbprint> =
        BTreeMap::from([(("exo-v2-app".into(), "partner".into()), thumbprint(0x22))]);
    let mut apps = apps(true);
    apps[1].keys.push(key(0x56, Some("entraform:nightly"), 3));
    apps[1].secrets.push(LivePasswordCredential {
        key_id: KeyId(id(0x77)),
        display_name: Some("say \"hi\" \\o/\nnext\x1b[2K".into()),
        hint: Some("Abc".into()),
        start: Some(NOW - Duration::days(1)),
        end: Some(NOW + Duration::days(7) + Duration::hours(6)),
    });
    certs::report(&ReportInput {
        desired: &desired,
        file_thumbprints: &files,
        apps: &apps,
        pfx: &BTreeMap::new(),
        now: NOW,
        within_days: None,
        all: true,
    })
}

#[test]
fn the_prometheus_text_is_exactly_this() {
    insta::assert_snapshot!(entraform::report::prometheus::prometheus(&prometheus_report()), @r#"
    # HELP entraform_credential_expiry_timestamp_seconds When an app credential (certificate or client secret) expires, as a Unix timestamp.
    # TYPE entraform_credential_expiry_timestamp_seconds gauge
    entraform_credential_expiry_timestamp_seconds{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="Portal upload",kind="certificate",thumbprint="3333333333333333333333333333333333333333",key_id="33333333-3333-3333-3333-333333333333"} 1748412000
    entraform_credential_expiry_timestamp_seconds{app="reporting",app_id="a2a2a2a2-a2a2-a2a2-a2a2-a2a2a2a2a2a2",credential="nightly",kind="certificate",thumbprint="5656565656565656565656565656565656565656",key_id="56565656-5656-5656-5656-565656565656"} 1749016800
    entraform_credential_expiry_timestamp_seconds{app="Legacy HR",app_id="a3a3a3a3-a3a3-a3a3-a3a3-a3a3a3a3a3a3",credential="CN=hr",kind="certificate",thumbprint="6666666666666666666666666666666666666666",key_id="66666666-6666-6666-6666-666666666666"} 1749189600
    entraform_credential_expiry_timestamp_seconds{app="reporting",app_id="a2a2a2a2-a2a2-a2a2-a2a2-a2a2a2a2a2a2",credential="say \"hi\" \\o/\nnext�[2K",kind="client_secret",thumbprint="",key_id="77777777-7777-7777-7777-777777777777"} 1749362400
    entraform_credential_expiry_timestamp_seconds{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="automation",kind="certificate",thumbprint="1111111111111111111111111111111111111111",key_id="11111111-1111-1111-1111-111111111111"} 1749794400
    entraform_credential_expiry_timestamp_seconds{app="reporting",app_id="a2a2a2a2-a2a2-a2a2-a2a2-a2a2a2a2a2a2",credential="nightly",kind="certificate",thumbprint="5555555555555555555555555555555555555555",key_id="55555555-5555-5555-5555-555555555555"} 1750485600
    entraform_credential_expiry_timestamp_seconds{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="(unmanaged)",kind="certificate",thumbprint="4444444444444444444444444444444444444444",key_id="44444444-4444-4444-4444-444444444444"} 1757397600
    entraform_credential_expiry_timestamp_seconds{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="partner",kind="certificate",thumbprint="2222222222222222222222222222222222222222",key_id="22222222-2222-2222-2222-222222222222"} 1766037600
    # HELP entraform_credential_expiry_days_left Calendar days (UTC) until an app credential expires, as `entraform certs` counts them; negative once expired.
    # TYPE entraform_credential_expiry_days_left gauge
    entraform_credential_expiry_days_left{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="Portal upload",kind="certificate",thumbprint="3333333333333333333333333333333333333333",key_id="33333333-3333-3333-3333-333333333333"} -4
    entraform_credential_expiry_days_left{app="reporting",app_id="a2a2a2a2-a2a2-a2a2-a2a2-a2a2a2a2a2a2",credential="nightly",kind="certificate",thumbprint="5656565656565656565656565656565656565656",key_id="56565656-5656-5656-5656-565656565656"} 3
    entraform_credential_expiry_days_left{app="Legacy HR",app_id="a3a3a3a3-a3a3-a3a3-a3a3-a3a3a3a3a3a3",credential="CN=hr",kind="certificate",thumbprint="6666666666666666666666666666666666666666",key_id="66666666-6666-6666-6666-666666666666"} 5
    entraform_credential_expiry_days_left{app="reporting",app_id="a2a2a2a2-a2a2-a2a2-a2a2-a2a2a2a2a2a2",credential="say \"hi\" \\o/\nnext�[2K",kind="client_secret",thumbprint="",key_id="77777777-7777-7777-7777-777777777777"} 7
    entraform_credential_expiry_days_left{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="automation",kind="certificate",thumbprint="1111111111111111111111111111111111111111",key_id="11111111-1111-1111-1111-111111111111"} 12
    entraform_credential_expiry_days_left{app="reporting",app_id="a2a2a2a2-a2a2-a2a2-a2a2-a2a2a2a2a2a2",credential="nightly",kind="certificate",thumbprint="5555555555555555555555555555555555555555",key_id="55555555-5555-5555-5555-555555555555"} 20
    entraform_credential_expiry_days_left{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="(unmanaged)",kind="certificate",thumbprint="4444444444444444444444444444444444444444",key_id="44444444-4444-4444-4444-444444444444"} 100
    entraform_credential_expiry_days_left{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="partner",kind="certificate",thumbprint="2222222222222222222222222222222222222222",key_id="22222222-2222-2222-2222-222222222222"} 200
    # HELP entraform_credential_attention 1 when the credential makes `entraform certs` exit 2 (inside its renewal window or expired), else 0.
    # TYPE entraform_credential_attention gauge
    entraform_credential_attention{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="Portal upload",kind="certificate",thumbprint="3333333333333333333333333333333333333333",key_id="33333333-3333-3333-3333-333333333333"} 1
    entraform_credential_attention{app="reporting",app_id="a2a2a2a2-a2a2-a2a2-a2a2-a2a2a2a2a2a2",credential="nightly",kind="certificate",thumbprint="5656565656565656565656565656565656565656",key_id="56565656-5656-5656-5656-565656565656"} 0
    entraform_credential_attention{app="Legacy HR",app_id="a3a3a3a3-a3a3-a3a3-a3a3-a3a3a3a3a3a3",credential="CN=hr",kind="certificate",thumbprint="6666666666666666666666666666666666666666",key_id="66666666-6666-6666-6666-666666666666"} 1
    entraform_credential_attention{app="reporting",app_id="a2a2a2a2-a2a2-a2a2-a2a2-a2a2a2a2a2a2",credential="say \"hi\" \\o/\nnext�[2K",kind="client_secret",thumbprint="",key_id="77777777-7777-7777-7777-777777777777"} 1
    entraform_credential_attention{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="automation",kind="certificate",thumbprint="1111111111111111111111111111111111111111",key_id="11111111-1111-1111-1111-111111111111"} 1
    entraform_credential_attention{app="reporting",app_id="a2a2a2a2-a2a2-a2a2-a2a2-a2a2a2a2a2a2",credential="nightly",kind="certificate",thumbprint="5555555555555555555555555555555555555555",key_id="55555555-5555-5555-5555-555555555555"} 0
    entraform_credential_attention{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="(unmanaged)",kind="certificate",thumbprint="4444444444444444444444444444444444444444",key_id="44444444-4444-4444-4444-444444444444"} 0
    entraform_credential_attention{app="exo-v2-app",app_id="a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",credential="partner",kind="certificate",thumbprint="2222222222222222222222222222222222222222",key_id="22222222-2222-2222-2222-222222222222"} 0
    "#);
}

/// One sample line of the exposition format: `name{label="value",...} number`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

/// The sample grammar of the text exposition format, strictly: a label value's only escapes
/// are `\\`, `\"` and `\n`, and it holds no raw line feed or double quote.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let open = line.find('{').ok_or("no `{`")?;
    let name = &line[..open];
    if !is_metric_name(name) {
        return Err(format!("bad metric name `{name}`"));
    }
    let mut rest = line[open + 1..].chars().peekable();
    let mut labels = Vec::new();
    loop {
        let label: String = rest.by_ref().take_while(|c| *c != '=').collect();
        if !is_label_name(&label) {
            return Err(format!("bad label name `{label}`"));
        }
        if rest.next() != Some('"') {
            return Err(format!("label `{label}`: no opening quote"));
        }
        let mut value = String::new();
        loop {
            match rest.next().ok_or("unterminated label value")? {
                '"' => break,
                '\\' => match rest.next().ok_or("dangling escape")? {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    other => return Err(format!("invalid escape `\\{other}`")),
                },
                '\n' => return Err("raw line feed in a label value".into()),
                c if c.is_control() => return Err(format!("raw control {c:?} in a label value")),
                c => value.push(c),
            }
        }
        labels.push((label, value));
        match rest.next() {
            Some(',') => continue,
            Some('}') => break,
            other => return Err(format!("expected `,` or `}}`, found {other:?}")),
        }
    }
    let tail: String = rest.collect();
    let number = tail.strip_prefix(' ').ok_or("no space before the value")?;
    if number.contains(' ') {
        return Err("a timestamp or extra text after the value".into());
    }
    let value: f64 = number
        .parse()
        .map_err(|e| format!("value `{number}`: {e}"))?;
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

#[test]
fn the_prometheus_text_parses_with_a_strict_grammar_and_every_series_has_the_same_labels() {
    let report = prometheus_report();
    let text = entraform::report::prometheus::prometheus(&report);
    assert!(text.ends_with('\n'), "the last line ends with a line feed");
    let mut typed: Vec<String> = Vec::new();
    let mut helped: Vec<String> = Vec::new();
    let mut samples: Vec<Sample> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = format!("line {}: {line}", n + 1);
        if let Some(help) = line.strip_prefix("# HELP ") {
            let (name, doc) = help.split_once(' ').expect(&at);
            assert!(is_metric_name(name) && !doc.is_empty(), "{at}");
            assert!(!helped.contains(&name.to_owned()), "HELP twice: {at}");
            helped.push(name.to_owned());
        } else if let Some(ty) = line.strip_prefix("# TYPE ") {
            let (name, kind) = ty.split_once(' ').expect(&at);
            assert_eq!(kind, "gauge", "{at}");
            assert!(!typed.contains(&name.to_owned()), "TYPE twice: {at}");
            assert!(
                samples.iter().all(|s| s.name != name),
                "TYPE after samples: {at}"
            );
            typed.push(name.to_owned());
        } else {
            let sample = parse_sample(line).unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(
                typed.last(),
                Some(&sample.name),
                "a family's samples follow its TYPE line, together: {at}"
            );
            samples.push(sample);
        }
    }
    assert_eq!(
        typed,
        [
            "entraform_credential_expiry_timestamp_seconds",
            "entraform_credential_expiry_days_left",
            "entraform_credential_attention"
        ]
    );
    assert_eq!(helped, typed);

    let names = |s: &Sample| s.labels.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    let expected = [
        "app",
        "app_id",
        "credential",
        "kind",
        "thumbprint",
        "key_id",
    ];
    for s in &samples {
        assert_eq!(names(s), expected, "{s:?}");
    }
    // One series per credential and family: no two samples share name and labels.
    let mut series: Vec<String> = samples
        .iter()
        .map(|s| format!("{}{:?}", s.name, s.labels))
        .collect();
    let count = series.len();
    series.sort();
    series.dedup();
    assert_eq!(series.len(), count, "duplicate series");
    assert_eq!(count, 3 * report.certificates.len());

    // The values are the report's, and the secret's name comes back exactly (bar the escape
    // character, which the format cannot carry).
    let secret = samples
        .iter()
        .find(|s| {
            s.labels
                .iter()
                .any(|(k, v)| k == "kind" && v == "client_secret")
        })
        .expect("the client secret has series");
    let label = |s: &Sample, k: &str| s.labels.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(
        label(secret, "credential"),
        "say \"hi\" \\o/\nnext\u{fffd}[2K"
    );
    assert_eq!(label(secret, "thumbprint"), "");
    assert_eq!(label(secret, "key_id"), KeyId(id(0x77)).to_string());
    let automation = samples
        .iter()
        .find(|s| {
            s.name == "entraform_credential_expiry_days_left"
                && label(s, "credential") == "automation"
        })
        .unwrap();
    assert_eq!(automation.value, 12.0);
    let attention: f64 = samples
        .iter()
        .filter(|s| s.name == "entraform_credential_attention")
        .map(|s| s.value)
        .sum();
    let c = report.counts();
    assert_eq!(attention as usize, c.renew + c.expired);
}
