//! The plan for a pull-request comment: a summary table, then one collapsible `<details>` per
//! change with its block as a `diff` code block (signs moved to the first column so GitHub
//! colours them; `~` becomes `!`).

use std::fmt::Write as _;

use super::values::{self, Sign};
use crate::output::escape;
use crate::plan::{Action, CertificateSource, Change, Plan};

pub fn markdown(plan: &Plan, _color: bool) -> String {
    let mut out = String::new();
    let s = plan.summary;
    if plan.has_changes() {
        let _ = writeln!(
            out,
            "### entraform plan: {} to add, {} to change, {} to destroy\n",
            s.add, s.change, s.destroy
        );
        out.push_str("| | Address | Action | Reason |\n|:-:|---|---|---|\n");
        for c in &plan.changes {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                c.action.symbol(),
                code_span(&c.address.to_string()),
                c.action,
                cell(c.reason.as_deref().unwrap_or(""))
            );
        }
        out.push('\n');
        for c in &plan.changes {
            details(&mut out, c);
        }
    } else {
        out.push_str("### entraform plan: no changes\n\nYour tenant matches the manifests.\n\n");
    }
    if !plan.certificates.is_empty() {
        out.push_str("**Certificates**\n\n| Certificate | Thumbprint | Expires | Days left | Renew before | Plan |\n|---|---|---|--:|---|---|\n");
        for c in &plan.certificates {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
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
        out.push('\n');
    }
    if !plan.notes.is_empty() {
        out.push_str("**Notes**\n\n");
        for n in &plan.notes {
            let who = n
                .app
                .as_deref()
                .map(|a| format!("{}: ", code_span(a)))
                .unwrap_or_default();
            let _ = writeln!(out, "- {who}{}", escape(&n.message));
        }
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn details(out: &mut String, c: &Change) {
    let _ = writeln!(
        out,
        "<details><summary><code>{}</code> {}</summary>\n",
        html(&c.address.to_string()),
        c.action.headline()
    );
    if let Some(reason) = &c.reason {
        let _ = writeln!(out, "{}\n", html(reason));
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
    let _ = writeln!(out, "{fence}diff\n{body}{fence}\n\n</details>\n");
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
