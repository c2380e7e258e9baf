//! Writing YAML by hand, so exported manifests read like the examples: fields in the documented
//! order, short lists in flow style, comments where they help. Scalars are written plain when
//! no YAML reader (1.1 or 1.2) could take them for anything but that string, and double-quoted
//! otherwise.

use std::fmt::Write as _;

/// Flow lists (`[a, b]`) longer than this are written one item per line.
const FLOW_WIDTH: usize = 88;

/// A scalar as it is written after `key: ` or `- ` in block context.
pub fn scalar(s: &str) -> String {
    if plain_ok(s, false) {
        s.to_owned()
    } else {
        quoted(s)
    }
}

/// `[a, b]` when every item can be written plain inside a flow sequence and the result is
/// short; `None` otherwise.
pub fn flow_list<S: AsRef<str>>(items: &[S]) -> Option<String> {
    if !items.iter().all(|i| plain_ok(i.as_ref(), true)) {
        return None;
    }
    let text = format!(
        "[{}]",
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(", ")
    );
    (text.chars().count() <= FLOW_WIDTH).then_some(text)
}

/// A double-quoted scalar. Only `"`, `\` and characters YAML does not allow printed raw are
/// escaped, so the text stays readable.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text safe inside a `#` comment: one line, no control characters.
pub fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if needs_escape(c) || c == '\n' || c == '\r' || c == '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Controls, the byte-order mark and the line and paragraph separators: not printable in YAML,
/// or printable but treated as line breaks by some readers.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// Whether `s` reads back as exactly this string when written plain. Deliberately stricter
/// than YAML: anything doubtful is quoted.
fn plain_ok(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.trim() != s || s.len() > 200 {
        return false;
    }
    if !(first.is_alphanumeric() || first == '_' || first == '/') {
        return false;
    }
    let allowed = |c: char| {
        c.is_alphanumeric()
            || matches!(
                c,
                ' ' | '_' | '-' | '.' | '/' | ':' | '@' | '+' | '=' | '(' | ')' | '~' | '$' | ';'
            )
            || (c == ',' && !flow)
    };
    if !s.chars().all(|c| allowed(c) && !needs_escape(c)) {
        return false;
    }
    if s.contains(": ") || s.ends_with(':') || s.contains("  ") {
        return false;
    }
    !looks_typed(s)
}

/// Plain scalars some YAML reader resolves to a bool, null, number or date (YAML 1.1's wider
/// sets included, since editors still use them).
fn looks_typed(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf",
    ];
    let lower = s.to_ascii_lowercase();
    if WORDS.contains(&lower.as_str()) || s.parse::<f64>().is_ok() {
        return true;
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    for prefix in ["0x", "0o", "0b"] {
        if let Some(rest) = unsigned.strip_prefix(prefix)
            && !rest.is_empty()
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return true;
        }
    }
    // Integers with `_`, sexagesimal `1:30`, octal `010`, floats `1_000.5`.
    if unsigned.starts_with(|c: char| c.is_ascii_digit())
        && unsigned
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '_' | ':' | '.'))
    {
        return true;
    }
    // Timestamps: `2025-01-31…`.
    let b = s.as_bytes();
    b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

/// Lines of YAML, two spaces per level.
#[derive(Debug, Default)]
pub struct Lines {
    out: String,
}

impl Lines {
    pub fn new() -> Self {
        Self::default()
    }

    /// `key: value`, with an optional trailing comment.
    pub fn field(&mut self, indent: usize, key: &str, value: &str, comment: Option<&str>) {
        self.raw(indent, &format!("{key}: {value}"), comment);
    }

    /// `key:` opening a block.
    pub fn open(&mut self, indent: usize, key: &str, comment: Option<&str>) {
        self.raw(indent, &format!("{key}:"), comment);
    }

    /// A list of scalars under `key`: flow style when short, else one `- item` per line.
    pub fn list(&mut self, indent: usize, key: &str, items: &[String], comment: Option<&str>) {
        match flow_list(items) {
            Some(flow) => self.field(indent, key, &flow, comment),
            None => {
                self.open(indent, key, comment);
                for item in items {
                    self.raw(indent + 1, &format!("- {}", scalar(item)), None);
                }
            }
        }
    }

    /// Any JSON value under `key`: mappings nested, lists of scalars as [`Self::list`], lists
    /// of mappings as `- ` items; `null` is left out.
    pub fn value(&mut self, indent: usize, key: &str, value: &serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Null => {}
            Value::Bool(b) => self.field(indent, key, &b.to_string(), None),
            Value::Number(n) => self.field(indent, key, &n.to_string(), None),
            Value::String(s) => self.field(indent, key, &scalar(s), None),
            Value::Object(map) => {
                self.open(indent, key, None);
                for (k, v) in map {
                    self.value(indent + 1, k, v);
                }
            }
            Value::Array(items) if items.iter().all(Value::is_string) => {
                let items: Vec<String> = items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect();
                self.list(indent, key, &items, None);
            }
            Value::Array(items) => {
                self.open(indent, key, None);
                for item in items {
                    let mut inner = Lines::new();
                    match item {
                        Value::Object(map) => {
                            for (k, v) in map {
                                inner.value(indent + 2, k, v);
                            }
                        }
                        other => inner.value(indent + 2, "value", other),
                    }
                    // The first line of the item carries the dash.
                    let text = inner.into_string();
                    let at = 2 * (indent + 1);
                    if text.len() > at + 2 {
                        self.out.push_str(&text[..at]);
                        self.out.push_str("- ");
                        self.out.push_str(&text[at + 2..]);
                    }
                }
            }
        }
    }

    /// A line of YAML as given.
    pub fn raw(&mut self, indent: usize, text: &str, comment: Option<&str>) {
        for _ in 0..indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        if let Some(c) = comment {
            self.out.push_str("  # ");
            self.out.push_str(&comment_text(c));
        }
        self.out.push('\n');
    }

    /// A whole-line comment; an empty text writes a bare `#`.
    pub fn comment(&mut self, indent: usize, text: &str) {
        for _ in 0..indent {
            self.out.push_str("  ");
        }
        if text.is_empty() {
            self.out.push_str("#\n");
        } else {
            self.out.push_str("# ");
            self.out.push_str(&comment_text(text));
            self.out.push('\n');
        }
    }

    pub fn append(&mut self, other: &Lines) {
        self.out.push_str(&other.out);
    }

    pub fn as_str(&self) -> &str {
        &self.out
    }

    pub fn into_string(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reads_back(written: &str) -> String {
        serde_yaml::from_str::<std::collections::BTreeMap<String, String>>(&format!(
            "k: {written}\n"
        ))
        .unwrap_or_else(|e| panic!("`{written}`: {e}"))
        .remove("k")
        .unwrap()
    }

    #[test]
    fn ordinary_names_urls_and_guids_stay_plain() {
        for s in [
            "Exo_V2_App",
            "https://token.actions.githubusercontent.com",
            "repo:contoso/platform:ref:refs/heads/main",
            "00000003-0000-0ff1-ce00-000000000000",
            "admin@contoso.onmicrosoft.com",
            "GitHub Deployer (contoso/platform)",
            "Office 365 Exchange Online",
            "api://AzureADTokenExchange",
        ] {
            assert_eq!(scalar(s), s);
        }
    }

    #[test]
    fn anything_a_reader_could_take_for_another_type_is_quoted() {
        for s in [
            "",
            "true",
            "No",
            "on",
            "null",
            "~",
            "1",
            "1.5",
            "0x1F",
            "010",
            "1_000",
            "1:30",
            "2025-01-31",
            "-1",
            "+1",
            ".inf",
            "nan",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "#x",
            "- x",
            "*alias",
            "&anchor",
            "!tag",
            "[x]",
            "{x}",
            "|",
            ">",
            "'q'",
            "\"q\"",
            "a\nb",
            "%x",
            "@x",
            "`x`",
            "a\tb",
        ] {
            assert!(scalar(s).starts_with('"'), "{s:?} -> {}", scalar(s));
            assert_eq!(reads_back(&scalar(s)), s);
        }
    }

    #[test]
    fn flow_lists_are_used_only_when_every_item_is_safe_and_the_line_short() {
        assert_eq!(
            flow_list(&["Exchange.ManageAsApp", "User.Read"]).as_deref(),
            Some("[Exchange.ManageAsApp, User.Read]")
        );
        assert_eq!(flow_list(&["a,b"]), None);
        assert_eq!(flow_list(&["yes"]), None);
        assert_eq!(flow_list(&["x".repeat(100)]), None);
        assert_eq!(flow_list::<&str>(&[]).as_deref(), Some("[]"));
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(comment_text("a\nb\u{7}"), "a\\nb\\u{7}");
    }

    proptest! {
        #[test]
        fn every_string_reads_back_as_itself(s in "\\PC{0,40}|[ -~]{0,40}") {
            prop_assert_eq!(reads_back(&scalar(&s)), s.clone());
            // The manifest loader (saphyr, with its own type resolution) agrees.
            let doc = format!(
                "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: x\nspec:\n  displayName: x\n  description: {}\n",
                scalar(&s)
            );
            let apps = crate::manifest::parse(std::path::Path::new("x.yaml"), doc.as_bytes())
                .unwrap_or_else(|e| panic!("{s:?}: {e}"));
            prop_assert_eq!(apps[0].description.as_deref(), Some(s.as_str()));
            if let Some(flow) = flow_list(std::slice::from_ref(&s)) {
                let back: std::collections::BTreeMap<String, Vec<String>> =
                    serde_yaml::from_str(&format!("k: {flow}\n")).unwrap();
                prop_assert_eq!(&back["k"], &vec![s.clone()]);
            }
        }
    }
}
