//! No input makes manifest loading panic or hang: random bytes, YAML-shaped noise, and the
//! example manifests mutated byte by byte and line by line. Case counts stay modest so this runs
//! in seconds; `fuzz/` has a cargo-fuzz target for longer runs.

use std::path::Path;

use entraform::manifest::{self, ManifestError};
use proptest::prelude::*;

const EXAMPLES: [&str; 3] = [
    include_str!("../../manifests/exchange-online-app.yaml"),
    include_str!("../../manifests/github-oidc-deployer.yaml"),
    include_str!("../../manifests/multi-app.yaml"),
];

/// Characters that mean something to YAML, plus a few that parsers find awkward.
const YAML_BITS: &[&str] = &[
    ":", ": ", "-", "- ", "[", "]", "{", "}", ",", "&a", "*a", "!", "!!str ", "|", ">", "#", "'",
    "\"", "\t", "\n", "  ", "---\n", "...\n", "? ", "<<: ", "~", "\\", "\u{feff}", "\r", "é",
    "null", "true", "1e9", "0x1F", "\u{0}",
];

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = Path::new("manifests/fuzzed.yaml");
    match manifest::parse(path, bytes) {
        Ok(apps) => {
            for app in &apps {
                prop_assert!(!app.name.is_empty());
                prop_assert_eq!(app.source.file.as_path(), path);
            }
        }
        Err(ManifestError::Invalid(report)) => {
            prop_assert!(!report.diagnostics.is_empty());
            // Rendering must not panic either, and every diagnostic names the file.
            let text = report.to_string();
            for d in &report.diagnostics {
                prop_assert_eq!(d.file.as_path(), path);
                if let Some(loc) = &d.location {
                    prop_assert!(loc.line >= 1 && loc.column >= 1 && loc.width >= 1);
                }
            }
            prop_assert!(text.contains("manifests/fuzzed.yaml"));
        }
        Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, bits: Vec<usize> },
    Replace { at: usize, bit: usize },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    Indent { line: usize, spaces: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..24usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), prop::collection::vec(any::<usize>(), 1..4))
            .prop_map(|(at, bits)| Mutation::Insert { at, bits }),
        (any::<usize>(), any::<usize>()).prop_map(|(at, bit)| Mutation::Replace { at, bit }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (any::<usize>(), 0..5usize).prop_map(|(line, spaces)| Mutation::Indent { line, spaces }),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for m in mutations {
        let n = bytes.len().max(1);
        match m {
            Mutation::Delete { at, len } => {
                let at = at % n;
                let end = (at + len).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            Mutation::Insert { at, bits } => {
                let at = at % (bytes.len() + 1);
                let insert: Vec<u8> = bits
                    .iter()
                    .flat_map(|b| YAML_BITS[b % YAML_BITS.len()].bytes())
                    .collect();
                bytes.splice(at..at, insert);
            }
            Mutation::Replace { at, bit } => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    let with = YAML_BITS[bit % YAML_BITS.len()].as_bytes();
                    bytes.splice(at..=at, with.iter().copied());
                }
            }
            Mutation::DuplicateLine { line }
            | Mutation::SwapLines { a: line, .. }
            | Mutation::Indent { line, .. } => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                let count = lines.len();
                let i = line % count;
                match m {
                    Mutation::DuplicateLine { .. } => {
                        let copy = lines[i].clone();
                        lines.insert(i, copy);
                    }
                    Mutation::SwapLines { b, .. } => lines.swap(i, b % count),
                    Mutation::Indent { spaces, .. } => {
                        lines[i].splice(0..0, std::iter::repeat_n(b' ', *spaces));
                    }
                    _ => unreachable!("matched above"),
                }
                bytes = lines.join(&b'\n');
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes)?;
    }

    #[test]
    fn yaml_shaped_noise_never_panics(bits in prop::collection::vec(any::<usize>(), 0..200)) {
        let text: String = bits.iter().map(|b| YAML_BITS[b % YAML_BITS.len()]).collect();
        check(text.as_bytes())?;
    }

    #[test]
    fn mutated_examples_never_panic(
        example in 0..EXAMPLES.len(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        check(&apply(EXAMPLES[example], &mutations))?;
    }
}

#[test]
fn the_unmutated_examples_pass_the_same_check() {
    for example in EXAMPLES {
        let apps = manifest::parse(Path::new("manifests/fuzzed.yaml"), example.as_bytes()).unwrap();
        assert!(!apps.is_empty());
    }
}
