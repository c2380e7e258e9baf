//! The plan as JSON: the document `plan --format json` prints and the file `plan --out FILE`
//! saves for `entraform apply FILE`. The file is the document plus `operations`, `fingerprints`,
//! `manifests`, `key_id_seed` and `replace`. Both are described in `docs/plan-format.md`; the shape is stable and only
//! ever extended. Reading refuses any other `format_version` (Terraform's `planfile` does the
//! same). This module encodes and decodes; reading and writing the file is
//! [`crate::ops::plan_file`]'s.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;
use time::OffsetDateTime;

use super::{
    Action, Address, CertificateStatus, Change, FORMAT_VERSION, Note, Operation, Plan, Summary,
};
use crate::hint::Hint;
use crate::model::{Fingerprint, TenantId};

/// Why the text of a saved plan is not a plan this build can apply.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("`{path}` is not an entraform plan file")]
    Parse {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "`{path}` is a plan in format version {found}, but this entraform ({ours}) reads format version {expected}"
    )]
    UnsupportedFormatVersion {
        path: std::path::PathBuf,
        found: String,
        expected: &'static str,
        ours: &'static str,
    },
    #[error("the plan file `{path}` is inconsistent: {message}")]
    Invalid {
        path: std::path::PathBuf,
        message: String,
    },
}

impl Hint for DecodeError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            DecodeError::UnsupportedFormatVersion { .. } => {
                "make a new plan with this entraform (`entraform plan --out FILE`), or apply the file with the version that made it"
            }
            DecodeError::Parse { .. } | DecodeError::Invalid { .. } => {
                "make a new plan with `entraform plan --out FILE`"
            }
        }.to_owned())
    }
}

/// SHA-256 of every manifest file the plan was made from, and of them all together, so a saved
/// plan can tell which manifests it reflects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestHashes {
    /// Path as given on the command line → lower-case hex SHA-256 of the file's bytes.
    pub files: BTreeMap<String, String>,
    /// SHA-256 over each `path NUL hash LF` line, in path order.
    pub combined: String,
}

impl ManifestHashes {
    pub fn from_contents<'a>(files: impl IntoIterator<Item = (&'a Path, &'a [u8])>) -> Self {
        Self::from_hashes(files.into_iter().map(|(path, bytes)| {
            (
                path.to_string_lossy().into_owned(),
                hex::encode(sha2::Sha256::digest(bytes)),
            )
        }))
    }

    /// From hashes already computed (manifest loading hashes every file it reads):
    /// path → lower-case hex SHA-256.
    pub fn from_hashes(files: impl IntoIterator<Item = (String, String)>) -> Self {
        let files: BTreeMap<String, String> = files.into_iter().collect();
        let mut all = sha2::Sha256::new();
        for (path, hash) in &files {
            all.update(path.as_bytes());
            all.update([0]);
            all.update(hash.as_bytes());
            all.update([b'\n']);
        }
        Self {
            files,
            combined: hex::encode(all.finalize()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ChangeDocument {
    address: Address,
    action: Action,
    reason: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
    #[serde(default)]
    after_unknown: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Step {
    address: Address,
    operation: Operation,
}

#[derive(Debug, Serialize, Deserialize)]
struct PlanDocument {
    format_version: String,
    entraform_version: String,
    tenant_id: TenantId,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    changes: Vec<ChangeDocument>,
    summary: Summary,
    #[serde(default)]
    certificates: Vec<CertificateStatus>,
    #[serde(default)]
    notes: Vec<Note>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operations: Option<Vec<Step>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprints: Option<BTreeMap<String, Fingerprint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    manifests: Option<ManifestHashes>,
    /// 16 lower-case hex digits; absent in files written before plans recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_id_seed: Option<String>,
    /// `--replace` addresses; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    replace: Vec<Address>,
}

fn document(plan: &Plan, saved: bool) -> PlanDocument {
    PlanDocument {
        format_version: plan.format_version.clone(),
        entraform_version: plan.entraform_version.clone(),
        tenant_id: plan.tenant_id,
        created_at: plan.created_at,
        changes: plan
            .changes
            .iter()
            .map(|c| ChangeDocument {
                address: c.address.clone(),
                action: c.action,
                reason: c.reason.clone(),
                before: c.before.clone(),
                after: c.after.clone(),
                after_unknown: c.after_unknown.clone(),
            })
            .collect(),
        summary: plan.summary,
        certificates: plan.certificates.clone(),
        notes: plan.notes.clone(),
        operations: saved.then(|| {
            plan.operations()
                .map(|(address, op)| Step {
                    address: address.clone(),
                    operation: op.clone(),
                })
                .collect()
        }),
        fingerprints: saved.then(|| plan.fingerprints.clone()),
        manifests: saved.then(|| plan.manifests.clone()),
        key_id_seed: plan
            .key_id_seed
            .filter(|_| saved)
            .map(|seed| format!("{seed:016x}")),
        replace: if saved {
            plan.replace.clone()
        } else {
            Vec::new()
        },
    }
}

fn pretty(doc: &PlanDocument) -> String {
    let mut text = serde_json::to_string_pretty(doc)
        .expect("a plan document has string keys and finite numbers only");
    text.push('\n');
    text
}

/// The document `plan --format json` prints (no operations, fingerprints or manifest hashes).
pub fn to_json(plan: &Plan) -> String {
    pretty(&document(plan, false))
}

/// The saved plan file's text.
pub fn to_plan_file(plan: &Plan) -> String {
    pretty(&document(plan, true))
}

/// Parses a saved plan; `path` is only for messages.
pub fn from_plan_file(text: &str, path: &Path) -> Result<Plan, DecodeError> {
    let parse = |source| DecodeError::Parse {
        path: path.to_owned(),
        source,
    };
    let invalid = |message: String| DecodeError::Invalid {
        path: path.to_owned(),
        message,
    };
    // The version is checked before the shape, so a future plan is refused for its version and
    // not for a field this build has never heard of.
    let value: Value = serde_json::from_str(text).map_err(parse)?;
    let found = match value.get("format_version") {
        Some(Value::String(v)) => v.clone(),
        Some(other) => other.to_string(),
        None => return Err(invalid("it has no `format_version`".to_owned())),
    };
    if found != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedFormatVersion {
            path: path.to_owned(),
            found,
            expected: FORMAT_VERSION,
            ours: env!("CARGO_PKG_VERSION"),
        });
    }
    let doc: PlanDocument = serde_json::from_value(value).map_err(parse)?;
    let (Some(steps), Some(fingerprints), Some(manifests)) =
        (doc.operations, doc.fingerprints, doc.manifests)
    else {
        return Err(invalid(
            "it has no `operations`, `fingerprints` or `manifests`: it looks like the output of \
             `plan --format json`, which cannot be applied; save a plan with `plan --out FILE`"
                .to_owned(),
        ));
    };

    // The hashes are what proves the plan was made from the manifests on disk: without them
    // apply could not tell an edited manifest, so a plan without them is not applied.
    if manifests.files.is_empty() {
        return Err(invalid(
            "it records no manifest hashes, so apply cannot check the manifests it was made from"
                .to_owned(),
        ));
    }
    if ManifestHashes::from_hashes(manifests.files.clone()).combined != manifests.combined {
        return Err(invalid(
            "its combined manifest hash does not match the per-file hashes".to_owned(),
        ));
    }

    let mut changes: Vec<Change> = doc
        .changes
        .into_iter()
        .map(|c| Change {
            address: c.address,
            action: c.action,
            reason: c.reason,
            before: c.before,
            after: c.after,
            after_unknown: c.after_unknown,
            operations: Vec::new(),
        })
        .collect();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (i, c) in changes.iter().enumerate() {
        if index.insert(c.address.to_string(), i).is_some() {
            return Err(invalid(format!(
                "the address `{}` appears twice",
                c.address
            )));
        }
    }
    // Steps must follow the changes' order: apply runs them as listed.
    let mut last = 0;
    for step in steps {
        let Some(&i) = index.get(&step.address.to_string()) else {
            return Err(invalid(format!(
                "an operation belongs to `{}`, which is not among the changes",
                step.address
            )));
        };
        if i < last {
            return Err(invalid(format!(
                "the operations of `{}` are out of order",
                step.address
            )));
        }
        last = i;
        changes[i].operations.push(step.operation);
    }
    if let Some(c) = changes
        .iter()
        .find(|c| c.operations.is_empty() && c.action != Action::NoOp)
    {
        return Err(invalid(format!(
            "the change `{}` has no operations",
            c.address
        )));
    }
    let summary = Summary::of(&changes);
    if summary != doc.summary {
        return Err(invalid("its summary does not match its changes".to_owned()));
    }
    let key_id_seed =
        match doc.key_id_seed {
            None => None,
            Some(hex) => Some(parse_seed(&hex).ok_or_else(|| {
                invalid("its `key_id_seed` is not 16 hexadecimal digits".to_owned())
            })?),
        };
    Ok(Plan {
        format_version: doc.format_version,
        entraform_version: doc.entraform_version,
        tenant_id: doc.tenant_id,
        created_at: doc.created_at,
        changes,
        summary,
        certificates: doc.certificates,
        notes: doc.notes,
        fingerprints,
        manifests,
        key_id_seed,
        replace: doc.replace,
    })
}

fn parse_seed(hex: &str) -> Option<u64> {
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// Whether `bytes` are a saved plan of any format version (the fields every version has had):
/// what `plan --out` may replace.
pub fn looks_like_plan_file(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes).is_ok_and(|doc| {
        doc.get("format_version").is_some()
            && doc.get("entraform_version").is_some_and(Value::is_string)
            && doc.get("operations").is_some_and(Value::is_array)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KeyId, ObjectId};
    use crate::plan::{
        AppRef, CertificateSource, CertificateStatus, ExistingApp, KeyCredentialMethod,
        ResourceKind,
    };
    use serde_json::json;
    use time::macros::datetime;
    use uuid::Uuid;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn sample() -> Plan {
        let app = ExistingApp {
            object_id: ObjectId(id(1)),
            app_id: crate::model::AppId(id(2)),
        };
        let changes = vec![
            Change {
                address: Address::app(ResourceKind::ServicePrincipal, "exo"),
                action: Action::Create,
                reason: Some("the application has no service principal".into()),
                before: None,
                after: Some(json!({"app_id": id(2).to_string()})),
                after_unknown: vec!["object_id".into()],
                operations: vec![Operation::CreateServicePrincipal {
                    fields: Default::default(),
                    app: AppRef::Existing(app.clone()),
                }],
            },
            Change {
                address: Address::keyed(ResourceKind::KeyCredential, "exo", id(9).to_string()),
                action: Action::Delete,
                reason: Some("not in the manifest's certificates".into()),
                before: Some(json!({"key_id": id(9).to_string()})),
                after: None,
                after_unknown: Vec::new(),
                operations: vec![Operation::RemoveKeyCredential {
                    app,
                    key_id: KeyId(id(9)),
                    method: KeyCredentialMethod::PatchKeyCredentials {
                        keep: vec![KeyId(id(8))],
                    },
                    archived: None,
                }],
            },
        ];
        Plan {
            format_version: FORMAT_VERSION.into(),
            entraform_version: "0.0.0-test".into(),
            tenant_id: TenantId(id(3)),
            created_at: datetime!(2025-06-01 00:00 UTC),
            summary: Summary::of(&changes),
            changes,
            certificates: vec![CertificateStatus {
                address: Address::keyed(ResourceKind::Certificate, "exo", "automation"),
                source: CertificateSource::Generate,
                thumbprint: None,
                not_after: Some(datetime!(2026-01-01 00:00 UTC)),
                days_left: Some(214),
                renew_before: Some("30d".parse().unwrap()),
                validity: Some("1y".parse().unwrap()),
                action: Action::NoOp,
            }],
            notes: Vec::new(),
            fingerprints: [("application/1".to_owned(), Fingerprint("abc".into()))].into(),
            manifests: ManifestHashes::from_contents([(Path::new("m.yaml"), &b"x"[..])]),
            key_id_seed: Some(0x0123_4567_89ab_cdef),
            replace: vec![Address::keyed(
                ResourceKind::Certificate,
                "exo",
                "automation",
            )],
        }
    }

    #[test]
    fn a_saved_plan_decodes_to_the_plan_it_encodes() {
        let plan = sample();
        let text = to_plan_file(&plan);
        assert_eq!(from_plan_file(&text, Path::new("p.json")).unwrap(), plan);
        assert!(looks_like_plan_file(text.as_bytes()));
        assert!(!looks_like_plan_file(to_json(&plan).as_bytes()));
        assert!(!looks_like_plan_file(b"apiVersion: entraform/v1\n"));
    }

    #[test]
    fn replacements_are_saved_but_not_shown_and_older_files_have_none() {
        let text = to_plan_file(&sample());
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["replace"], json!([r#"certificate.exo["automation"]"#]));
        let shown: Value = serde_json::from_str(&to_json(&sample())).unwrap();
        assert!(shown.get("replace").is_none());
        let mut older = doc.clone();
        older.as_object_mut().unwrap().remove("replace");
        let plan = from_plan_file(&older.to_string(), Path::new("p.json")).unwrap();
        assert!(plan.replace.is_empty());
    }

    #[test]
    fn the_key_id_seed_is_saved_but_not_shown_and_older_files_have_none() {
        let text = to_plan_file(&sample());
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["key_id_seed"], "0123456789abcdef");
        let shown: Value = serde_json::from_str(&to_json(&sample())).unwrap();
        assert!(shown.get("key_id_seed").is_none());

        // A plan file from before plans recorded the seed still reads, without one.
        let mut older = doc.clone();
        older.as_object_mut().unwrap().remove("key_id_seed");
        let plan = from_plan_file(&older.to_string(), Path::new("p.json")).unwrap();
        assert_eq!(plan.key_id_seed, None);

        for bad in [json!("123"), json!("+123456789abcdef"), json!(12)] {
            let mut edited = doc.clone();
            edited["key_id_seed"] = bad.clone();
            let err = from_plan_file(&edited.to_string(), Path::new("p.json")).unwrap_err();
            assert!(
                matches!(err, DecodeError::Invalid { .. } | DecodeError::Parse { .. }),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn another_format_version_is_refused_before_its_shape_is_read() {
        let mut doc: Value = serde_json::from_str(&to_plan_file(&sample())).unwrap();
        doc["format_version"] = json!("2");
        doc["changes"] = json!("a shape from the future");
        let err = from_plan_file(&doc.to_string(), Path::new("p.json")).unwrap_err();
        assert!(
            matches!(&err, DecodeError::UnsupportedFormatVersion { found, .. } if found == "2"),
            "{err:?}"
        );
        assert!(err.to_string().contains("format version 2"), "{err}");
        assert!(err.hint().unwrap().contains("entraform plan --out"));
    }

    #[test]
    fn the_json_output_is_not_a_plan_file() {
        let err = from_plan_file(&to_json(&sample()), Path::new("p.json")).unwrap_err();
        assert!(err.to_string().contains("inconsistent"), "{err}");
        assert!(format!("{err:?}").contains("plan --format json"), "{err:?}");
    }

    #[test]
    fn operations_out_of_order_or_for_unknown_addresses_are_refused() {
        let mut doc: Value = serde_json::from_str(&to_plan_file(&sample())).unwrap();
        doc["operations"].as_array_mut().unwrap().reverse();
        let err = from_plan_file(&doc.to_string(), Path::new("p.json")).unwrap_err();
        assert!(format!("{err:?}").contains("out of order"), "{err:?}");

        let mut doc: Value = serde_json::from_str(&to_plan_file(&sample())).unwrap();
        doc["operations"][0]["address"] = json!("application.other");
        let err = from_plan_file(&doc.to_string(), Path::new("p.json")).unwrap_err();
        assert!(
            format!("{err:?}").contains("not among the changes"),
            "{err:?}"
        );
    }

    #[test]
    fn a_plan_without_manifest_hashes_is_refused() {
        for manifests in [
            json!({"files": {}, "combined": ""}),
            json!({"files": {"m.yaml": "00"}, "combined": "ff"}),
        ] {
            let mut doc: Value = serde_json::from_str(&to_plan_file(&sample())).unwrap();
            doc["manifests"] = manifests;
            let err = from_plan_file(&doc.to_string(), Path::new("p.json")).unwrap_err();
            assert!(matches!(err, DecodeError::Invalid { .. }), "{err:?}");
        }
    }

    #[test]
    fn a_file_that_is_not_json_names_the_file() {
        let err = from_plan_file("not json", Path::new("tfplan.json")).unwrap_err();
        assert!(matches!(err, DecodeError::Parse { .. }));
        assert_eq!(
            err.to_string(),
            "`tfplan.json` is not an entraform plan file"
        );
    }

    #[test]
    fn manifest_hashes_are_sha256_and_depend_on_every_file() {
        let one = ManifestHashes::from_contents([(Path::new("a.yaml"), &b"abc"[..])]);
        assert_eq!(
            one.files["a.yaml"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let two = ManifestHashes::from_contents([
            (Path::new("a.yaml"), &b"abc"[..]),
            (Path::new("b.yaml"), &b""[..]),
        ]);
        assert_ne!(one.combined, two.combined);
    }
}
