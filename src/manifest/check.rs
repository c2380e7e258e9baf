//! Structural checks of a YAML tree against the manifest JSON Schema: unknown fields, wrong
//! types, missing required fields, unsupported enum values. Driven by the generated schema, so
//! what editors flag and what `validate` reports come from one source: the raw types.
//!
//! Only the keywords schemars emits for our types are interpreted (`$ref`, `allOf`, `anyOf`,
//! `oneOf`, `type`, `enum`, `const`, `properties`, `required`, `additionalProperties`, `items`).
//! Value formats (patterns, GUIDs, lengths) are left to semantic validation, which explains them
//! better than a regular expression can.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Schema;

use super::yaml::{Node, ScalarKind, Span, Value};

/// A field path as users write it: `spec.certificates[0].generate.pfx`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Seg>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl FieldPath {
    pub fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_owned()));
        p
    }

    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Parses `spec.certificates[0].generate` back into segments (for tests and lookups).
pub fn path(text: &str) -> FieldPath {
    let mut segs = Vec::new();
    for part in text.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            segs.push(Seg::Key(rest[..i].to_owned()));
            rest = &rest[i..];
            while let Some(end) = rest.find(']') {
                if let Ok(n) = rest[1..end].parse() {
                    segs.push(Seg::Index(n));
                }
                rest = &rest[end + 1..];
            }
        } else {
            segs.push(Seg::Key(rest.to_owned()));
        }
    }
    FieldPath(segs)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

pub struct Checker<'s> {
    root: &'s Schema,
    /// Where each property name is allowed, for "`redirectUris` belongs under `spec.web`".
    homes: BTreeMap<String, Vec<String>>,
}

impl<'s> Checker<'s> {
    pub fn new(root: &'s Schema) -> Self {
        let mut checker = Self {
            root,
            homes: BTreeMap::new(),
        };
        checker.homes = checker.collect_homes();
        checker
    }

    /// Checks one document. `apiVersion` and `kind` come first: when they are wrong the rest
    /// is not an entraform v1 application and reporting on it would only be noise.
    pub fn check_document(&self, doc: &Node, out: &mut Vec<Problem>) {
        let root = self.resolve(self.root);
        let Value::Map(_) = &doc.value else {
            out.push(Problem {
                span: doc.span,
                message: format!(
                    "a manifest must be a mapping with `apiVersion`, `kind`, `metadata` and `spec`, found {}",
                    describe(doc)
                ),
                hint: None,
            });
            return;
        };
        let before = out.len();
        for header in ["apiVersion", "kind"] {
            let schema = &root["properties"][header];
            match doc.get(header) {
                Some(entry) => self.check(
                    &entry.value,
                    schema,
                    &FieldPath::default().key(header),
                    entry.key.span,
                    out,
                ),
                None => out.push(Problem {
                    span: first_line(doc),
                    message: format!("missing required field `{header}`"),
                    hint: required_hint(header),
                }),
            }
        }
        if out.len() > before {
            return;
        }
        self.check(doc, self.root, &FieldPath::default(), first_line(doc), out);
    }

    fn resolve<'a>(&'a self, mut schema: &'a Schema) -> &'a Schema {
        // References in our schema are one level deep; the bound is only a guard.
        for _ in 0..8 {
            let Some(reference) = schema.get("$ref").and_then(Schema::as_str) else {
                break;
            };
            let pointer = reference.trim_start_matches('#');
            match self.root.pointer(pointer) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    /// `anchor` is where to point when the problem is about something absent: the key that
    /// holds this node.
    fn check(
        &self,
        node: &Node,
        schema: &Schema,
        path: &FieldPath,
        anchor: Span,
        out: &mut Vec<Problem>,
    ) {
        if matches!(node.value, Value::Invalid) {
            return;
        }
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Schema::as_array) {
            for sub in all {
                self.check(node, sub, path, anchor, out);
            }
        }
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Schema::as_array)
        {
            self.check_union(node, schema, branches, path, anchor, out);
            return;
        }
        let at = if is_empty_span(node.span) {
            anchor
        } else {
            node.span
        };
        if let Some(expected) = schema.get("type")
            && !type_admits(expected, node)
        {
            out.push(type_problem(at, path, &expected_phrase(expected), node));
            return;
        }
        if let Some(values) = schema.get("enum").and_then(Schema::as_array) {
            enum_check(node, values, path, at, out);
        } else if let Some(value) = schema.get("const") {
            enum_check(node, std::slice::from_ref(value), path, at, out);
        }
        match &node.value {
            Value::Map(entries) => self.check_object(node, entries, schema, path, anchor, out),
            Value::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item, item_schema, &path.index(i), item.span, out);
                    }
                }
            }
            _ => {}
        }
    }

    fn check_object(
        &self,
        node: &Node,
        entries: &[super::yaml::Entry],
        schema: &Schema,
        path: &FieldPath,
        anchor: Span,
        out: &mut Vec<Problem>,
    ) {
        let empty = serde_json::Map::new();
        let properties = schema
            .get("properties")
            .and_then(Schema::as_object)
            .unwrap_or(&empty);
        let closed = schema.get("additionalProperties") == Some(&Schema::Bool(false));
        // A required field that an unknown key was probably meant to be is reported once, as
        // the unknown key with its did-you-mean.
        let mut suggested: Vec<&str> = Vec::new();
        // A merge key (`<<: *alias`) was reported with its alias; what it would have merged in
        // is unknown, so missing fields here would be noise.
        let mut merged = false;
        for entry in entries {
            let Some(key) = entry.key.as_str() else {
                continue;
            };
            match properties.get(key) {
                Some(prop) => {
                    self.check(&entry.value, prop, &path.key(key), entry.key.span, out);
                }
                // A merge key's alias was reported already.
                None if key == "<<" && matches!(entry.value.value, Value::Invalid) => {
                    merged = true;
                }
                None if closed => {
                    if let Some(close) = did_you_mean(key, properties.keys().map(String::as_str)) {
                        suggested.push(close);
                    }
                    out.push(Problem {
                        span: entry.key.span,
                        message: if path.is_root() {
                            format!("unknown field `{key}` at the top level")
                        } else {
                            format!("unknown field `{key}` in `{path}`")
                        },
                        hint: self.unknown_field_hint(key, properties, path),
                    });
                }
                None => {}
            }
        }
        if let Some(required) = schema.get("required").and_then(Schema::as_array) {
            for name in required.iter().filter_map(Schema::as_str) {
                if node.get(name).is_none() && !merged && !suggested.contains(&name) {
                    out.push(Problem {
                        span: anchor,
                        message: if path.is_root() {
                            format!("missing required field `{name}`")
                        } else {
                            format!("missing required field `{name}` in `{path}`")
                        },
                        hint: if name == "name" && path.to_string() == "metadata" {
                            Some(
                                "add `name:`, the app's stable identity, e.g. `name: exo-v2-app`"
                                    .to_owned(),
                            )
                        } else {
                            required_hint(name)
                        },
                    });
                }
            }
        }
    }

    fn check_union(
        &self,
        node: &Node,
        union: &Schema,
        branches: &[Schema],
        path: &FieldPath,
        anchor: Span,
        out: &mut Vec<Problem>,
    ) {
        let at = if is_empty_span(node.span) {
            anchor
        } else {
            node.span
        };
        let resolved: Vec<&Schema> = branches.iter().map(|b| self.resolve(b)).collect();
        // A unit enum with documented variants: one `const` per branch.
        let consts: Vec<Schema> = resolved
            .iter()
            .filter_map(|b| b.get("const").cloned())
            .collect();
        if consts.len() == resolved.len() {
            let string = Schema::String("string".to_owned());
            if !type_admits(&string, node) {
                out.push(type_problem(at, path, "a string", node));
            } else {
                enum_check(node, &consts, path, at, out);
            }
            return;
        }
        let admitting: Vec<&Schema> = resolved
            .iter()
            .copied()
            .filter(|b| b.get("type").is_none_or(|t| type_admits(t, node)))
            .collect();
        match admitting.as_slice() {
            [] => {
                let expected: Vec<String> =
                    resolved.iter().map(|b| self.branch_phrase(b)).collect();
                let mut problem = type_problem(at, path, &expected.join(" or "), node);
                problem.hint = union
                    .get("description")
                    .and_then(Schema::as_str)
                    .map(|d| d.replace('\n', " "));
                out.push(problem);
            }
            [only] => self.check(node, only, path, anchor, out),
            several => {
                let mut first_attempt = None;
                for branch in several {
                    let mut attempt = Vec::new();
                    self.check(node, branch, path, anchor, &mut attempt);
                    if attempt.is_empty() {
                        return;
                    }
                    first_attempt.get_or_insert(attempt);
                }
                out.extend(first_attempt.unwrap_or_default());
            }
        }
    }

    fn branch_phrase(&self, branch: &Schema) -> String {
        let base = branch
            .get("type")
            .map_or_else(|| "a value".to_owned(), expected_phrase);
        match branch.get("properties").and_then(Schema::as_object) {
            Some(props) if !props.is_empty() => {
                let names: Vec<String> = props.keys().map(|k| format!("`{k}`")).collect();
                format!("{base} with {}", names.join(" and "))
            }
            _ => base,
        }
    }

    fn unknown_field_hint(
        &self,
        key: &str,
        properties: &serde_json::Map<String, Schema>,
        path: &FieldPath,
    ) -> Option<String> {
        if let Some(close) = did_you_mean(key, properties.keys().map(String::as_str)) {
            return Some(format!("did you mean `{close}`?"));
        }
        if let Some(homes) = self.homes.get(key) {
            let here = generic(path);
            let elsewhere: Vec<&String> = homes.iter().filter(|h| **h != here).collect();
            let named = |home: &&String| {
                if home.is_empty() {
                    "the top level".to_owned()
                } else {
                    format!("`{home}`")
                }
            };
            match elsewhere.as_slice() {
                [] => {}
                [home] => return Some(format!("`{key}` belongs under {}", named(home))),
                [first @ .., last] => {
                    let first: Vec<String> = first.iter().map(named).collect();
                    return Some(format!(
                        "`{key}` belongs under {} or {}",
                        first.join(", "),
                        named(last)
                    ));
                }
            }
        }
        let names: Vec<String> = properties.keys().map(|k| format!("`{k}`")).collect();
        (!names.is_empty()).then(|| format!("expected one of {}", names.join(", ")))
    }

    /// Property name → the (index-free) paths of the objects that allow it.
    fn collect_homes(&self) -> BTreeMap<String, Vec<String>> {
        let mut homes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut stack: Vec<(&Schema, String, usize)> = vec![(self.root, String::new(), 0)];
        while let Some((schema, at, depth)) = stack.pop() {
            if depth > 16 {
                continue;
            }
            let schema = self.resolve(schema);
            for key in ["allOf", "anyOf", "oneOf"] {
                if let Some(subs) = schema.get(key).and_then(Schema::as_array) {
                    stack.extend(subs.iter().map(|s| (s, at.clone(), depth + 1)));
                }
            }
            if let Some(items) = schema.get("items") {
                stack.push((items, format!("{at}[]"), depth + 1));
            }
            if let Some(props) = schema.get("properties").and_then(Schema::as_object) {
                for (name, prop) in props {
                    let list = homes.entry(name.clone()).or_default();
                    if !list.contains(&at) {
                        list.push(at.clone());
                    }
                    let child = if at.is_empty() {
                        name.clone()
                    } else {
                        format!("{at}.{name}")
                    };
                    stack.push((prop, child, depth + 1));
                }
            }
        }
        homes
    }
}

/// `spec.certificates[0].generate` → `spec.certificates[].generate`.
fn generic(path: &FieldPath) -> String {
    let mut out = String::new();
    for seg in &path.0 {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(_) => out.push_str("[]"),
        }
    }
    out
}

/// The closest candidate when it is close enough to be what was meant.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c.to_lowercase() == lower {
            return Some(c);
        }
        let score = strsim::jaro_winkler(&lower, &c.to_lowercase());
        if score >= 0.85 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

fn is_empty_span(span: Span) -> bool {
    span.start == span.end
}

fn first_line(doc: &Node) -> Span {
    match &doc.value {
        Value::Map(entries) if !entries.is_empty() => entries[0].key.span,
        _ => Span::point(doc.span.start),
    }
}

fn type_admits(expected: &Schema, node: &Node) -> bool {
    let found = json_type(node);
    let admits = |t: &str| t == found || (t == "number" && found == "integer");
    match expected {
        Schema::String(t) => admits(t),
        Schema::Array(ts) => ts.iter().filter_map(Schema::as_str).any(admits),
        _ => true,
    }
}

fn json_type(node: &Node) -> &'static str {
    match &node.value {
        Value::Scalar(s) => match s.kind() {
            ScalarKind::Null => "null",
            ScalarKind::Bool(_) => "boolean",
            // The schema's `integer` (e.g. `requestedAccessTokenVersion`) takes whole numbers.
            ScalarKind::Number if s.text.parse::<i64>().is_ok() => "integer",
            ScalarKind::Number => "number",
            ScalarKind::String => "string",
        },
        Value::Seq(_) => "array",
        Value::Map(_) => "object",
        Value::Invalid => "invalid",
    }
}

fn expected_phrase(expected: &Schema) -> String {
    let one = |t: &str| match t {
        "string" => "a string",
        "boolean" => "`true` or `false`",
        "array" => "a list",
        "object" => "a mapping",
        "integer" | "number" => "a number",
        "null" => "nothing",
        _ => "a value",
    };
    match expected {
        Schema::String(t) => one(t).to_owned(),
        Schema::Array(ts) => ts
            .iter()
            .filter_map(Schema::as_str)
            .map(one)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "a value".to_owned(),
    }
}

/// How a node reads in a message: "a string `x`", "a list", "an empty value".
pub fn describe(node: &Node) -> String {
    match &node.value {
        Value::Scalar(s) => {
            let shown = shorten(&s.text);
            match s.kind() {
                ScalarKind::Null => "an empty value".to_owned(),
                ScalarKind::Bool(_) => format!("a boolean `{shown}`"),
                ScalarKind::Number => format!("a number `{shown}`"),
                ScalarKind::String => format!("a string `{shown}`"),
            }
        }
        Value::Seq(_) => "a list".to_owned(),
        Value::Map(_) => "a mapping".to_owned(),
        Value::Invalid => "an unsupported value".to_owned(),
    }
}

/// Long values are cut so a message stays on one line.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    let one_line = text.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= MAX {
        one_line
    } else {
        let cut: String = one_line.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

fn type_problem(at: Span, path: &FieldPath, expected: &str, node: &Node) -> Problem {
    let field = path.0.iter().rev().find_map(|s| match s {
        Seg::Key(k) => Some(k.as_str()),
        Seg::Index(_) => None,
    });
    let kind = match &node.value {
        Value::Scalar(s) => Some(s.kind()),
        _ => None,
    };
    let hint = match (field, expected, kind, &node.value) {
        (Some("validity" | "renewBefore"), _, _, _) => {
            Some("durations are a number and a unit, e.g. `365d` (units: h, d, w, y)".to_owned())
        }
        (_, _, Some(ScalarKind::Null), _) if expected == "a list" => Some(format!(
            "write `[]` for none, or remove `{}` to leave it unmanaged",
            field.unwrap_or("the field")
        )),
        (_, _, Some(ScalarKind::Null), _) => Some(format!(
            "write a value, or remove `{}` if it is optional",
            field.unwrap_or("the field")
        )),
        (_, "a string", Some(ScalarKind::Number | ScalarKind::Bool(_)), Value::Scalar(s)) => {
            Some(format!("quote it: `\"{}\"`", shorten(&s.text)))
        }
        (_, "`true` or `false`", _, Value::Scalar(s)) if !s.plain => {
            Some("write `true` or `false` without quotes".to_owned())
        }
        (_, "`true` or `false`", _, _) => Some(
            "write `true` or `false`; YAML 1.2 reads `yes`, `no`, `on` and `off` as strings"
                .to_owned(),
        ),
        (_, "a list", Some(ScalarKind::String), Value::Scalar(s)) => Some(format!(
            "write a list: `[{}]`, or one `- item` per line",
            shorten(&s.text)
        )),
        _ => None,
    };
    Problem {
        span: at,
        message: if path.is_root() {
            format!("expected {expected}, found {}", describe(node))
        } else {
            format!("`{path}` must be {expected}, found {}", describe(node))
        },
        hint,
    }
}

fn enum_check(node: &Node, values: &[Schema], path: &FieldPath, at: Span, out: &mut Vec<Problem>) {
    let Some(text) = node.as_str() else {
        return;
    };
    let allowed: Vec<&str> = values.iter().filter_map(Schema::as_str).collect();
    if allowed.contains(&text) {
        return;
    }
    let listed: Vec<String> = allowed.iter().map(|v| format!("`{v}`")).collect();
    let expected = match listed.as_slice() {
        [one] => one.clone(),
        _ => format!("one of {}", listed.join(", ")),
    };
    out.push(Problem {
        span: at,
        message: format!(
            "unsupported `{path}` `{}`: expected {expected}",
            shorten(text)
        ),
        hint: did_you_mean(text, allowed.iter().copied()).map(|c| format!("did you mean `{c}`?")),
    });
}

/// What to write when a required field is missing, for the fields where that is not obvious.
fn required_hint(field: &str) -> Option<String> {
    Some(
        match field {
            "apiVersion" => "add `apiVersion: entraform/v1`",
            "kind" => "add `kind: Application`",
            "metadata" => "add `metadata:` with `name:`, the app's stable identity",
            "spec" => "add `spec:` with at least `displayName:`",
            "name" => "every item needs a `name:`",
            "pfx" => {
                "the generated private key is written only to this PFX file, e.g. `pfx: secrets/app.pfx`"
            }
            "pfxPasswordEnv" => {
                "name the environment variable that holds the PFX password, e.g. `pfxPasswordEnv: APP_PFX_PASSWORD`"
            }
            _ => return None,
        }
        .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::yaml;

    fn problems(text: &str) -> Vec<Problem> {
        let schema = crate::manifest::json_schema();
        let checker = Checker::new(&schema);
        let parsed = yaml::parse(text);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let mut out = Vec::new();
        checker.check_document(parsed.documents[0].root.as_ref().unwrap(), &mut out);
        out
    }

    const VALID: &str = "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: a\nspec:\n  displayName: A\n";

    #[test]
    fn a_minimal_manifest_passes() {
        assert_eq!(problems(VALID), []);
    }

    #[test]
    fn unknown_fields_get_a_did_you_mean_or_their_home() {
        let p = problems(&format!("{VALID}  displayNme: B\n  redirectUris: []\n"));
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].message, "unknown field `displayNme` in `spec`");
        assert_eq!(p[0].hint.as_deref(), Some("did you mean `displayName`?"));
        assert_eq!(
            p[1].hint.as_deref(),
            Some("`redirectUris` belongs under `spec.publicClient`, `spec.spa` or `spec.web`")
        );
    }

    #[test]
    fn a_wrong_api_version_hides_everything_else() {
        let p = problems("apiVersion: entraform/v2\nkind: Application\nspec: 3\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(
            p[0].message,
            "unsupported `apiVersion` `entraform/v2`: expected `entraform/v1`"
        );
    }

    #[test]
    fn a_directory_role_that_is_neither_a_name_nor_a_mapping_reads_well() {
        let p = problems(&format!(
            "{VALID}  directoryRoles:\n    - [Global Reader]\n    - role: X\n      scop: /\n"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(
            p[0].message,
            "`spec.directoryRoles[0]` must be a string or a mapping with `role` and `scope`, found a list"
        );
        assert_eq!(
            p[1].message,
            "unknown field `scop` in `spec.directoryRoles[1]`"
        );
    }

    #[test]
    fn empty_values_are_not_absent_ones() {
        let p = problems(&format!("{VALID}  tags:\n"));
        assert_eq!(
            p[0].message,
            "`spec.tags` must be a list, found an empty value"
        );
        assert_eq!(p[0].span.start.line, 7);
    }

    #[test]
    fn field_paths_round_trip() {
        let p = path("spec.certificates[0].generate");
        assert_eq!(p.to_string(), "spec.certificates[0].generate");
        assert_eq!(generic(&p), "spec.certificates[].generate");
    }
}
