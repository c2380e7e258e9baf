//! The manifest language through the CLI: the examples validate, the schema is current, and
//! every invalid manifest in `tests/manifests/invalid/` fails with its pinned message.
//!
//! Each case is a `*.yaml` file or a folder; its expected stderr sits beside it as
//! `<case>.stderr`. Regenerate after an intended change with
//! `ENTRAFORM_BLESS=1 cargo test --test it manifest` and review the diff.

use std::path::{Path, PathBuf};

use entraform::manifest::{self, ManifestError};
use entraform::model::{
    ApiRef, CertificateSource, DEFAULT_FEDERATED_AUDIENCE, KeyType, Period, PfxEncryption, RoleRef,
};

use crate::common::{entraform, repo_root, stderr, stdout};

const CORPUS: &str = "tests/manifests/invalid";

#[test]
fn the_example_manifests_validate() {
    let out = entraform()
        .current_dir(repo_root())
        .args(["validate", "manifests/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "3 manifests valid (6 applications)\n");
    assert_eq!(stdout(&out), "");
}

#[test]
fn validate_reads_manifests_by_default() {
    let out = entraform()
        .current_dir(repo_root())
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn the_schema_command_prints_the_committed_schema() {
    let out = entraform().arg("schema").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let committed =
        std::fs::read_to_string(repo_root().join("schema/manifest.schema.json")).unwrap();
    assert!(
        stdout(&out) == committed,
        "schema/manifest.schema.json is stale; regenerate it with \
         `cargo run -- schema > schema/manifest.schema.json`"
    );
}

#[test]
fn every_example_points_editors_at_the_schema() {
    for entry in std::fs::read_dir(repo_root().join("manifests")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schema/manifest.schema.json\n"),
            "{} has no schema modeline",
            path.display()
        );
    }
}

/// The Exchange example is the scenario, with every default filled in.
#[test]
fn the_exchange_example_loads_into_the_desired_model() {
    let root = repo_root();
    let path = PathBuf::from("manifests/exchange-online-app.yaml");
    let bytes = std::fs::read(root.join(&path)).unwrap();
    let apps = manifest::parse(&path, &bytes).unwrap();
    let [app] = apps.as_slice() else {
        panic!("{apps:?}")
    };
    assert_eq!(app.name, "exo-v2-app");
    assert_eq!(app.display_name, "Exo_V2_App");
    assert!(app.protect && app.admin_consent);
    let permissions = app.api_permissions.as_ref().unwrap();
    assert_eq!(
        permissions[0].api,
        ApiRef::DisplayName("Office 365 Exchange Online".to_owned())
    );
    assert!(permissions[0].application.contains("Exchange.ManageAsApp"));
    let roles = app.directory_roles.as_ref().unwrap();
    assert_eq!(
        roles[0].role,
        RoleRef::Name("Exchange Administrator".to_owned())
    );
    assert_eq!(roles[0].scope, "/");
    let cert = &app.certificates.as_ref().unwrap()[0];
    let CertificateSource::Generate(g) = &cert.source else {
        panic!("{cert:?}")
    };
    assert_eq!(g.key_type, KeyType::Rsa2048);
    assert_eq!(g.validity, "1y".parse::<Period>().unwrap());
    assert_eq!(g.pfx_encryption, PfxEncryption::Aes256);
    // Paths resolve against the manifest's folder.
    assert_eq!(
        g.pfx,
        Some(PathBuf::from("manifests/secrets/Exo_V2_App.pfx"))
    );
    assert_eq!(app.source.file, path);
    assert_eq!(app.source.line, 10);
}

#[test]
fn defaults_fill_what_a_manifest_leaves_out() {
    let text = "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: a\nspec:\n  displayName: My App, Inc.\n  certificates:\n    - name: c\n      generate:\n        pfx: a.pfx\n        pfxPasswordEnv: P\n  federatedCredentials:\n    - name: fed\n      issuer: https://issuer.example\n      subject: s\n";
    let apps = manifest::parse(Path::new("m/app.yaml"), text.as_bytes()).unwrap();
    let app = &apps[0];
    assert!(!app.protect);
    assert!(app.admin_consent);
    assert_eq!(app.sign_in_audience, None);
    assert_eq!(app.tags, None, "absent means unmanaged");
    let CertificateSource::Generate(g) = &app.certificates.as_ref().unwrap()[0].source else {
        panic!()
    };
    assert_eq!(g.subject, "CN=My App\\, Inc.");
    assert_eq!(g.renew_before, Period::from_days(30));
    assert_eq!(g.pfx, Some(PathBuf::from("m/a.pfx")));
    assert_eq!(g.cer, None);
    let fic = &app.federated_credentials.as_ref().unwrap()[0];
    assert_eq!(
        fic.audiences.iter().collect::<Vec<_>>(),
        [DEFAULT_FEDERATED_AUDIENCE]
    );
}

#[test]
fn loading_records_each_file_and_its_hash() {
    let dir = repo_root().join("manifests");
    let loaded = manifest::load(std::slice::from_ref(&dir), false).unwrap();
    let names: Vec<_> = loaded
        .files
        .iter()
        .map(|f| f.path.strip_prefix(&dir).unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "exchange-online-app.yaml",
            "github-oidc-deployer.yaml",
            "multi-app.yaml"
        ]
        .map(PathBuf::from)
    );
    assert!(loaded.files.iter().all(|f| f.sha256.len() == 64));
    let apps: Vec<_> = loaded.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        apps,
        [
            "exo-v2-app",
            "github-deployer",
            "github-reader",
            "usage-reports",
            "intranet-portal",
            "sharepoint-backup"
        ]
    );
}

#[test]
fn folders_are_searched_recursively_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("team-a");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(
        repo_root().join("manifests/exchange-online-app.yaml"),
        sub.join("exo.yml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();

    let err = manifest::load(&[dir.path().to_owned()], false).unwrap_err();
    assert!(
        matches!(
            err,
            ManifestError::NoManifests {
                has_subfolders: true,
                ..
            }
        ),
        "{err}"
    );
    let out = entraform()
        .current_dir(dir.path())
        .args(["validate", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: no manifests (`*.yaml` or `*.yml` files) in `.`\nhint: add `--recursive` to load sub-folders too\n"
    );

    let loaded = manifest::load(&[dir.path().to_owned()], true).unwrap();
    assert_eq!(loaded.apps.len(), 1);
}

#[test]
fn a_missing_path_is_named_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let out = entraform()
        .current_dir(dir.path())
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: no manifests to read: `manifests/`, the folder read when no path is given, does not exist in `{}`\n\
             hint: run `entraform validate` where your `manifests/` folder is, or name the manifest files or folders: `entraform validate path/to/manifests/`\n",
            dir.path().canonicalize().unwrap().display()
        )
    );
}

#[test]
fn a_file_named_twice_is_loaded_once() {
    let root = repo_root();
    let loaded = manifest::load(
        &[
            root.join("manifests"),
            root.join("manifests/exchange-online-app.yaml"),
        ],
        false,
    )
    .unwrap();
    assert_eq!(loaded.files.len(), 3);
}

#[test]
fn a_huge_file_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let line = "# padding padding padding padding padding padding padding padding\n";
    let text = line.repeat(10 * 1024 * 1024 / line.len() + 1);
    std::fs::write(dir.path().join("huge.yaml"), text).unwrap();
    let out = entraform()
        .current_dir(dir.path())
        .args(["validate", "huge.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: `huge.yaml` is 10.0 MiB; manifests are limited to 1 MiB\n --> huge.yaml\n  = hint: a manifest describes one or a few apps in a few KiB; is this the right file?\n"
    );
}

/// Every invalid case exits 1 with its pinned message, which names the file and a line.
#[test]
fn invalid_manifests_fail_with_their_pinned_messages() {
    let root = repo_root();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root.join(CORPUS))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 25, "only {} invalid cases", cases.len());

    let mut failures = Vec::new();
    for case in &cases {
        let relative = case.strip_prefix(&root).unwrap();
        let out = entraform()
            .current_dir(&root)
            .arg("validate")
            .arg(relative)
            .output()
            .unwrap();
        let actual = stderr(&out);
        let name = relative.display().to_string();
        if out.status.code() != Some(1) {
            failures.push(format!("{name}: exit {:?}\n{actual}", out.status.code()));
            continue;
        }
        // file:line:column of the first diagnostic.
        let named = actual.lines().any(|l| {
            l.trim_start()
                .strip_prefix("--> ")
                .is_some_and(|loc| loc.starts_with(&name) && loc.matches(':').count() == 2)
        });
        if !named {
            failures.push(format!(
                "{name}: the message names no file:line:column\n{actual}"
            ));
        }
        let golden = case.with_extension("stderr");
        failures.extend(crate::common::golden_mismatch(&golden, Some(&actual)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_error_in_a_file_is_reported() {
    let root = repo_root();
    let path = PathBuf::from(CORPUS).join("many-errors.yaml");
    let bytes = std::fs::read(root.join(&path)).unwrap();
    let ManifestError::Invalid(report) = manifest::parse(&path, &bytes).unwrap_err() else {
        panic!()
    };
    assert!(report.diagnostics.len() >= 10, "{report}");
    // Across both documents, in file order.
    let lines: Vec<usize> = report
        .diagnostics
        .iter()
        .map(|d| d.location.as_ref().unwrap().line)
        .collect();
    assert!(lines.is_sorted(), "{lines:?}");
    assert!(
        lines.first() < Some(&10) && lines.last() >= Some(&29),
        "{lines:?}"
    );
}

#[test]
fn a_mangled_file_shows_fifty_errors_and_counts_the_rest() {
    let mut text = String::from(
        "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: a\nspec:\n  displayName: A\n",
    );
    for i in 0..300 {
        text.push_str(&format!("  unknown{i}: x\n"));
    }
    let ManifestError::Invalid(report) =
        manifest::parse(Path::new("m.yaml"), text.as_bytes()).unwrap_err()
    else {
        panic!()
    };
    assert_eq!(report.diagnostics.len(), manifest::MAX_SHOWN_PER_FILE);
    assert_eq!(report.omitted, 250);
    assert!(
        report
            .to_string()
            .ends_with("error: found 300 errors in 1 file (250 not shown: at most 50 per file)"),
        "{report}"
    );
}
