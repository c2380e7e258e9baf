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
