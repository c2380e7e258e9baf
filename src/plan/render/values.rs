//! The attribute lines of a change block, shared by the text and markdown renderers: created
//! and destroyed values in full, updates field by field, sets as added and removed elements,
//! multi-line strings diffed line by line (`similar`), unchanged fields counted, not shown.
//! Values are the tenant's: one-line values are JSON-quoted (controls escaped by serde), lines
//! of multi-line text go through [`escape`].

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::plan::{Action, Change};
use crate::style::escape;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Sign {
    Add,
    Remove,
    Change,
}

impl Sign {
    pub fn symbol(self) -> char {
        match self {
            Sign::Add => '+',
            Sign::Remove => '-',
            Sign::Change => '~',
        }
    }
}

/// One printed line: `depth` 0 is an attribute, 1 an element of a list or a line of text.
/// A line without a sign sits in the text column (closing brackets, unchanged lines, comments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub depth: usize,
    pub sign: Option<Sign>,
    pub text: String,
}

impl Line {
    fn new(depth: usize, sign: Option<Sign>, text: impl Into<String>) -> Self {
        Self {
            depth,
            sign,
            text: text.into(),
        }
    }
}

const UNKNOWN: &str = "(known after apply)";

/// The block body of a change.
pub(crate) fn body(change: &Change) -> Vec<Line> {
    let empty = serde_json::Map::new();
    let before = change
        .before
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let after = change
        .after
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let unknown = |k: &str| change.after_unknown.iter().any(|u| u == k);

    let mut keys: Vec<&str> = Vec::new();
    match change.action {
        Action::Create => keys.extend(after.keys().map(String::as_str)),
        Action::Delete => keys.extend(before.keys().map(String::as_str)),
        _ => {
            keys.extend(before.keys().map(String::as_str));
            keys.extend(
                after
                    .keys()
                    .map(String::as_str)
                    .filter(|k| !before.contains_key(*k)),
            );
        }
    }
    for u in &change.after_unknown {
        if !keys.contains(&u.as_str()) {
            keys.push(u);
        }
    }
    let width = keys
        .iter()
        .filter(|k| match change.action {
            Action::Create | Action::Delete => true,
            _ => before.get(**k) != after.get(**k) || unknown(k),
        })
        .map(|k| k.len())
        .max()
        .unwrap_or(0);

    let mut lines = Vec::new();
    let mut hidden = 0;
    for key in keys {
        let name = format!("{key:width$}");
        let b = before.get(key).filter(|v| !v.is_null());
        let a = after.get(key).filter(|v| !v.is_null());
        if unknown(key) {
            match b {
                Some(b) if change.action != Action::Create => {
                    changed_scalar(&mut lines, &name, b, UNKNOWN)
                }
                _ => lines.push(Line::new(0, Some(Sign::Add), format!("{name} = {UNKNOWN}"))),
            }
            continue;
        }
        match change.action {
            Action::Create => {
                if let Some(a) = a {
                    whole(&mut lines, &name, a, Sign::Add);
                }
            }
            Action::Delete => {
                if let Some(b) = b {
                    whole(&mut lines, &name, b, Sign::Remove);
                }
            }
            _ => match (b, a) {
                (None, None) => {}
                (Some(b), Some(a)) if b == a => hidden += 1,
                (None, Some(a)) => whole(&mut lines, &name, a, Sign::Add),
                (Some(b), None) => {
                    let mut removed = Vec::new();
                    whole(&mut removed, &name, b, Sign::Remove);
                    if let Some(last) = removed.last_mut() {
                        last.text.push_str(" -> null");
                    }
                    lines.extend(removed);
                }
                (Some(Value::Array(b)), Some(Value::Array(a))) => set_diff(&mut lines, &name, b, a),
                (Some(Value::String(b)), Some(Value::String(a)))
                    if b.contains('\n') || a.contains('\n') =>
                {
                    text_diff(&mut lines, &name, b, a)
                }
                (Some(b), Some(a)) => changed_scalar(&mut lines, &name, b, &scalar(a)),
            },
        }
    }
    if hidden > 0 {
        lines.push(Line::new(
            0,
            None,
            format!(
                "# ({hidden} unchanged attribute{} hidden)",
                if hidden == 1 { "" } else { "s" }
            ),
        ));
    }
    lines
}

/// A value on one line: strings quoted as JSON, anything else compact JSON.
pub(crate) fn scalar(v: &Value) -> String {
    v.to_string()
}

fn changed_scalar(lines: &mut Vec<Line>, name: &str, before: &Value, after: &str) {
    lines.push(Line::new(
        0,
        Some(Sign::Change),
        format!("{name} = {} -> {after}", scalar(before)),
    ));
}

/// A whole value, created or destroyed.
fn whole(lines: &mut Vec<Line>, name: &str, v: &Value, sign: Sign) {
    match v {
        Value::Array(items) if !items.is_empty() => {
            lines.push(Line::new(0, Some(sign), format!("{name} = [")));
            for item in items {
                lines.push(Line::new(1, Some(sign), format!("{},", scalar(item))));
            }
            lines.push(Line::new(0, None, "]"));
        }
        Value::String(text) if text.contains('\n') => {
            lines.push(Line::new(0, Some(sign), format!("{name} = <<-EOT")));
            for l in text.lines() {
                lines.push(Line::new(1, None, escape(l)));
            }
            lines.push(Line::new(0, None, "EOT"));
        }
        _ => lines.push(Line::new(0, Some(sign), format!("{name} = {}", scalar(v)))),
    }
}

/// Lists in a plan are sets: show what is added and removed, count the rest.
fn set_diff(lines: &mut Vec<Line>, name: &str, before: &[Value], after: &[Value]) {
    let mut rows: Vec<(String, Sign)> = Vec::new();
    for a in after.iter().filter(|a| !before.contains(a)) {
        rows.push((scalar(a), Sign::Add));
    }
    for b in before.iter().filter(|b| !after.contains(b)) {
        rows.push((scalar(b), Sign::Remove));
    }
    rows.sort();
    let unchanged = after.iter().filter(|a| before.contains(a)).count();
    lines.push(Line::new(0, Some(Sign::Change), format!("{name} = [")));
    for (text, sign) in rows {
        lines.push(Line::new(1, Some(sign), format!("{text},")));
    }
    if unchanged > 0 {
        lines.push(Line::new(
            1,
            None,
            format!(
                "# ({unchanged} unchanged element{} hidden)",
                if unchanged == 1 { "" } else { "s" }
            ),
        ));
    }
    lines.push(Line::new(0, None, "]"));
}

fn text_diff(lines: &mut Vec<Line>, name: &str, before: &str, after: &str) {
    lines.push(Line::new(0, Some(Sign::Change), format!("{name} = <<-EOT")));
    let diff = TextDiff::from_lines(before, after);
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            ChangeTag::Delete => Some(Sign::Remove),
            ChangeTag::Insert => Some(Sign::Add),
            ChangeTag::Equal => None,
        };
        let text = change.value().trim_end_matches(['\n', '\r']);
        lines.push(Line::new(1, sign, escape(text)));
    }
    lines.push(Line::new(0, None, "EOT"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Address, ResourceKind};
    use serde_json::json;

    fn change(action: Action, before: Option<Value>, after: Option<Value>) -> Change {
        Change {
            address: Address::app(ResourceKind::Application, "a"),
            action,
            reason: None,
            before,
            after,
            after_unknown: Vec::new(),
            operations: Vec::new(),
        }
    }

    fn printed(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                let sign = l.sign.map_or(' ', Sign::symbol);
                format!("{}{sign} {}", "    ".repeat(l.depth), l.text)
            })
            .collect()
    }

    #[test]
    fn an_update_shows_changed_fields_and_counts_the_rest() {
        let c = change(
            Action::Update,
            Some(
                json!({"app_id": "1", "display_name": "Old", "tags": ["a", "b", "c"], "description": "x"}),
            ),
            Some(
                json!({"app_id": "1", "display_name": "New", "tags": ["a", "c", "d"], "description": null}),
            ),
        );
        assert_eq!(
            printed(&body(&c)),
            [
                r#"~ display_name = "Old" -> "New""#,
                "~ tags         = [",
                r#"    - "b","#,
                r#"    + "d","#,
                "      # (2 unchanged elements hidden)",
                "  ]",
                r#"- description  = "x" -> null"#,
                "  # (1 unchanged attribute hidden)",
            ]
        );
    }

    #[test]
    fn multi_line_text_is_diffed_line_by_line() {
        let c = change(
            Action::Update,
            Some(json!({"description": "one\ntwo\nthree"})),
            Some(json!({"description": "one\n2\nthree"})),
        );
        assert_eq!(
            printed(&body(&c)),
            [
                "~ description = <<-EOT",
                "      one",
                "    - two",
                "    + 2",
                "      three",
                "  EOT",
            ]
        );
    }

    #[test]
    fn unknown_values_read_known_after_apply() {
        let mut c = change(
            Action::Create,
            None,
            Some(json!({"display_name": "X", "tags": []})),
        );
        c.after_unknown = vec!["app_id".into()];
        assert_eq!(
            printed(&body(&c)),
            [
                r#"+ display_name = "X""#,
                "+ tags         = []",
                "+ app_id       = (known after apply)",
            ]
        );
    }
}
