//! The JSON documents for programs keep the shapes `docs/json-output.md` promises. Each
//! `<!-- json-shape: NAME -->` block there lists every field path with its type; this test runs
//! `plan`, `plan --out`, `apply` and `certs` with `--format json` against the sandbox in states
//! that fill every list (creates, updates, deletes, a rotation, notes, certificates, apps not
//! found), and requires of every document: `format_version` is `"1"`, every field is documented
//! with a matching type, every field documented without `?` is present, and every documented
//! field outside an optional one was seen at least once (so the page has no stale entries).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::common::{entraform, repo_root, stderr};

/// One documented field: its allowed types and whether it may be absent.
#[derive(Debug, Clone)]
struct Field {
    types: Vec<String>,
    optional: bool,
}

/// Path (without `?` marks) → field, for one shape block.
type Shape = BTreeMap<String, Field>;

fn shape_block(doc: &str, name: &str) -> Shape {
    let marker = format!("<!-- json-shape: {name} -->");
    let start = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/json-output.md has no `{marker}`"));
    let rest = &doc[start + marker.len()..];
    let rest = rest
        .trim_start()
        .strip_prefix("```text\n")
        .expect("a ```text block");
    let block = &rest[..rest.find("```").unwrap()];
    let mut shape = Shape::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let (path, types) = line.split_once(char::is_whitespace).unwrap();
        let optional_segments: Vec<&str> = path.split('.').collect();
        let optional = optional_segments.last().unwrap().contains('?');
        let clean = path.replace('?', "");
        let types = types.split('|').map(|t| t.trim().to_owned()).collect();
        assert!(
            shape
                .insert(clean.clone(), Field { types, optional })
                .is_none(),
            "{name}: `{clean}` is listed twice"
        );
    }
    shape
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `value` at `path` against `shape`, recording what was seen.
fn check(
    shape: &Shape,
    path: &str,
    value: &Value,
    seen: &mut BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    let Some(field) = shape.get(path) else {
        problems.push(format!("`{path}` ({}) is not documented", type_of(value)));
        return;
    };
    seen.insert(path.to_owned());
    let actual = type_of(value);
    let literal = |t: &str| t.starts_with('"') && value.as_str() == Some(t.trim_matches('"'));
    let matched = field
        .types
        .iter()
        .find(|t| *t == actual || literal(t) || (t.as_str() == "{…}" && actual == "object"));
    let Some(matched) = matched else {
        problems.push(format!(
            "`{path}` is {actual} `{value}`, documented as {}",
            field.types.join(" | ")
        ));
        return;
    };
    if matched == "{…}" {
        return;
    }
    match value {
        Value::Object(map) => {
            let child = |k: &str| {
                if path.is_empty() {
                    k.to_owned()
                } else {
                    format!("{path}.{k}")
                }
            };
            let is_map = shape.contains_key(&child("*"));
            for (k, v) in map {
                let p = if is_map { child("*") } else { child(k) };
                check(shape, &p, v, seen, problems);
            }
            if !is_map {
                for (p, f) in shape.iter() {
                    let Some(name) = p.strip_prefix(&child("")) else {
                        continue;
                    };
                    let direct = !name.is_empty() && !name.contains('.') && !name.contains('[');
                    if direct && !f.optional && !map.contains_key(name) {
                        problems.push(format!("`{p}` is missing"));
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                check(shape, &format!("{path}[]"), item, seen, problems);
            }
        }
        _ => {}
    }
}

/// The root object's fields are written without a leading dot, so the root has an empty path
/// whose children are `name`, not `.name`.
fn check_document(shape: &Shape, doc: &Value, seen: &mut BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut root = shape.clone();
    root.insert(
        String::new(),
        Field {
            types: vec!["object".into()],
            optional: false,
        },
    );
    check(&root, "", doc, seen, &mut problems);
    seen.remove("");
    problems
}

/// Every documented path that must have been seen: not optional, and under no optional field.
fn never_seen(shape: &Shape, seen: &BTreeSet<String>) -> Vec<String> {
    let optional: Vec<&String> = shape
        .iter()
        .filter(|(_, f)| f.optional)
        .map(|(p, _)| p)
        .collect();
    shape
        .iter()
        .filter(|(p, f)| {
            !f.optional
                && !optional
                    .iter()
                    .any(|o| p.starts_with(&format!("{o}.")) || p.starts_with(&format!("{o}[")))
                && !seen.contains(*p)
        })
        .map(|(p, _)| format!("`{p}` never appeared in any output"))
        .collect()
}

struct Run<'a> {
    dir: &'a Path,
}

impl Run<'_> {
    fn entraform(&self, args: &[&str]) -> Output {
        entraform()
            .current_dir(self.dir)
            .env("EXO_PFX_PASSWORD", "exo-test-password")
            .env("USAGE_REPORTS_PFX_PASSWORD", "usage-test-password")
            .env("SP_BACKUP_PFX_PASSWORD", "backup-test-password")
            .arg("--sandbox")
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs a command that prints JSON and must exit with `code`.
    fn json(&self, args: &[&str], code: i32) -> Value {
        let out = self.entraform(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "entraform {args:?}: {}",
            stderr(&out)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("entraform {args:?} did not print JSON: {e}"))
    }

    /// `plan --prune --out FILE`, read back.
    fn plan_file(&self) -> Value {
        let out = self.entraform(&["plan", "--prune", "--out", "tfplan.json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&std::fs::read(self.dir.join("tfplan.json")).unwrap()).unwrap()
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no `{from}`");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
}

#[test]
fn every_json_output_has_the_documented_shape_and_format_version_1() {
    let page = std::fs::read_to_string(repo_root().join("docs/json-output.md")).unwrap();
    let plan_shape = shape_block(&page, "plan");
    let mut file_shape = plan_shape.clone();
    file_shape.extend(shape_block(&page, "plan-file"));
    let apply_shape = shape_block(&page, "apply");
    let certs_shape = shape_block(&page, "certs");

    let tmp = tempfile::tempdir().unwrap();
    let run = Run { dir: tmp.path() };
    let manifests = tmp.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    for entry in std::fs::read_dir(repo_root().join("manifests")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, manifests.join(path.file_name().unwrap())).unwrap();
    }

    let mut plans = Vec::new();
    let mut certs = Vec::new();
    let mut applies = Vec::new();
    // A fresh tenant: every app to create, certificates still to generate, apps not found.
    certs.push(run.json(&["certs", "--format", "json"], 0));
    plans.push(run.json(&["plan", "--format", "json", "--detailed-exitcode"], 2));
    let mut plan_files = vec![run.plan_file()];
    applies.push(run.json(&["apply", "--auto-approve", "--format", "json"], 0));
    // Applied: certificates with thumbprints and days left, consent notes with their URL.
    plans.push(run.json(&["plan", "--format", "json"], 0));
    certs.push(run.json(
        &["certs", "--all", "--within", "400", "--format", "json"],
        2,
    ));
    // Updates, a rotation (renewBefore now longer than what is left) and a delete.
    run.edit(
        "manifests/exchange-online-app.yaml",
        "displayName: Exo_V2_App",
        "displayName: Exo_V2_App (renamed)",
    );
    run.edit(
        "manifests/exchange-online-app.yaml",
        "validity: 365d\n        renewBefore: 30d",
        "validity: 2y\n        renewBefore: 400d\n        overlap: 0d",
    );
    run.edit(
        "manifests/multi-app.yaml",
        "name: intranet-portal",
        "name: intranet-portal-2",
    );
    plans.push(run.json(
        &["plan", "--prune", "--format", "json", "--detailed-exitcode"],
        2,
    ));
    plan_files.push(run.plan_file());
    applies.push(run.json(
        &[
            "apply",
            "--auto-approve",
            "--format",
            "json",
            "manifests/exchange-online-app.yaml",
        ],
        0,
    ));

    // A PFX that holds none of the app's keys (another app's, copied over it).
    let secrets = tmp.path().join("manifests/secrets");
    std::fs::copy(
        secrets.join("usage-reports.pfx"),
        secrets.join("Exo_V2_App.pfx"),
    )
    .unwrap();
    certs.push(run.json(&["certs", "--format", "json"], 2));

    let mut problems = Vec::new();
    let mut verify = |name: &str, shape: &Shape, docs: &[&Value]| {
        let mut seen = BTreeSet::new();
        for (i, doc) in docs.iter().enumerate() {
            if doc["format_version"] != "1" {
                problems.push(format!(
                    "{name} #{i}: format_version is {}",
                    doc["format_version"]
                ));
            }
            for p in check_document(shape, doc, &mut seen) {
                problems.push(format!("{name} #{i}: {p}"));
            }
        }
        for p in never_seen(shape, &seen) {
            problems.push(format!("{name}: {p}"));
        }
    };
    verify(
        "plan --format json",
        &plan_shape,
        &plans.iter().collect::<Vec<_>>(),
    );
    verify(
        "plan --out",
        &file_shape,
        &plan_files.iter().collect::<Vec<_>>(),
    );
    verify(
        "apply --format json",
        &apply_shape,
        &applies.iter().collect::<Vec<_>>(),
    );
    verify(
        "certs --format json",
        &certs_shape,
        &certs.iter().collect::<Vec<_>>(),
    );
    assert!(
        problems.is_empty(),
        "docs/json-output.md and the outputs disagree:\n{}",
        problems.join("\n")
    );

    // The states above did what they are for.
    let actions: BTreeSet<&str> = plans[2]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        BTreeSet::from(["create", "create-then-delete", "delete", "update"]),
        "{:#}",
        plans[2]
    );
    assert!(
        applies[1]["apps"][0]["certificates"][0]["kept_previous"].is_array(),
        "{:#}",
        applies[1]
    );
}

#[test]
fn the_shape_check_finds_undocumented_mistyped_and_missing_fields() {
    let page = "<!-- json-shape: t -->\n```text\na  string\nb?  number\nc  array\nc[]  object\nc[].d  string | null\nm  object\nm.*  string\nx  {…}\n```\n";
    let shape = shape_block(page, "t");
    let mut seen = BTreeSet::new();
    let good = serde_json::json!({"a": "x", "c": [{"d": null}], "m": {"k1": "v", "k2": "w"}, "x": {"any": 1}});
    assert!(check_document(&shape, &good, &mut seen).is_empty());
    assert!(never_seen(&shape, &seen).is_empty(), "{seen:?}");

    let bad = serde_json::json!({"a": 1, "c": [{"e": "?"}], "m": {"k": 2}, "x": {}, "extra": true});
    let problems = check_document(&shape, &bad, &mut BTreeSet::new());
    for expected in [
        "`a` is number `1`, documented as string",
        "`c[].e` (string) is not documented",
        "`c[].d` is missing",
        "`m.*` is number `2`, documented as string",
        "`extra` (boolean) is not documented",
    ] {
        assert!(
            problems.iter().any(|p| p == expected),
            "{expected}: {problems:#?}"
        );
    }
    let mut seen = BTreeSet::new();
    check_document(
        &shape,
        &serde_json::json!({"a": "x", "c": [], "m": {}, "x": {}}),
        &mut seen,
    );
    assert_eq!(
        never_seen(&shape, &seen),
        [
            "`c[]` never appeared in any output",
            "`c[].d` never appeared in any output",
            "`m.*` never appeared in any output"
        ]
    );
}
