//! The plan for a pull-request comment: a summary table, then one collapsible `<details>` per
//! change with its block as a `diff` code block (signs moved to the first column so GitHub
//! colours them; `~` becomes `!`).

use std::fmt::Write as _;

use super::values::{self, Sign};
use crate::plan::{Action, CertificateSource, Change, Plan};
use crate::style::escape;

pub fn markdown(plan: &Plan, _color: bool) -> String {
    // Each block is written without its trailing line break and the blocks are joined with a
    // blank line: a line right after a table row would render as another row of the table.
    let mut blocks: Vec<String> = Vec::new();
    let s = plan.summary;
    if plan.has_changes() {
        blocks.push(format!(
            "### entraform plan: {} to add, {} to change, {} to destroy",
            s.add, s.change, s.destroy
        ));
        let mut table = String::from("| | Address | Action | Reason |\n|:-:|---|---|---|");
        for c in &plan.changes {
            let _ = write!(
                table,
                "\n| `{}` | {} | {} | {} |",
                c.action.symbol(),
                code_span(&c.address.to_string()),
                c.action,
                cell(c.reason.as_deref().unwrap_or(""))
            );
        }
        blocks.push(table);
        blocks.extend(plan.changes.iter().map(details));
    } else {
        blocks.push("### entraform plan: no changes".to_owned());
        blocks.push("Your tenant matches the manifests.".to_owned());
    }
    if !plan.certificates.is_empty() {
        blocks.push("**Certificates**".to_owned());
        let mut table = String::from(
            "| Certificate | Thumbprint | Expires | Days left | Renew before | Plan |\n|---|---|---|--:|---|---|",
        );
        for c in &plan.certificates {
            let _ = write!(
                table,
                "\n| {} | {} | {} | {} | {} | {} |",
                code_span(&c.address.to_string()),
                c.thumbprint.map(|t| format!("`{t}`")).unwrap_or_default(),
                c.not_after
                    .map(|t| t.date().to_string())
                    .unwrap_or_else(|| "new".to_owned()),
                c.days_left.map(|d| d.to_string()).unwrap_or_default(),
                c.renew_before.map(|r| r.to_string()).unwrap_or_default(),
                match c.action {
                    Action::NoOp => "",
                    Action::Create if c.source == CertificateSource::Generate => "generate",
                    other => other.as_str(),
                }
            );
        }
        blocks.push(table);
    }
    if !plan.notes.is_empty() {
        blocks.push("**Notes**".to_owned());
        let list: Vec<String> = plan
            .notes
            .iter()
            .map(|n| {
                let who = n
                    .app
                    .as_deref()
                    .map(|a| format!("{}: ", code_span(a)))
                    .unwrap_or_default();
                // Escaped: a line break inside a note would end the list item.
                format!("- {who}{}", escape(&n.message))
            })
            .collect();
        blocks.push(list.join("\n"));
    }
    let mut out = blocks.join("\n\n");
    out.push('\n');
    out
}

fn details(c: &Change) -> String {
    let mut out = format!(
        "<details><summary><code>{}</code> {}</summary>\n\n",
        html(&c.address.to_string()),
        c.action.headline()
    );
    if let Some(reason) = &c.reason {
        let _ = write!(out, "{}\n\n", html(reason));
    }
    let mut body = String::new();
    for line in values::body(c) {
        let sign = match line.sign {
            Some(Sign::Change) => '!',
            Some(sign) => sign.symbol(),
            None => ' ',
        };
        let _ = writeln!(body, "{sign} {}{}", "    ".repeat(line.depth), line.text);
    }
    let fence = fence_for(&body);
    let _ = write!(out, "{fence}diff\n{body}{fence}\n\n</details>");
    out
}

/// A fence longer than any run of backticks in the content.
fn fence_for(content: &str) -> String {
    let longest = content.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

fn code_span(text: &str) -> String {
    let ticks = if text.contains('`') { "``" } else { "`" };
    let pad = if text.contains('`') { " " } else { "" };
    cell(&format!("{ticks}{pad}{text}{pad}{ticks}"))
}

/// A table cell cannot hold a line break (escaped, like every control character) or an
/// unescaped pipe.
fn cell(text: &str) -> String {
    escape(text).replace('|', "\\|")
}

fn html(text: &str) -> String {
    escape(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
