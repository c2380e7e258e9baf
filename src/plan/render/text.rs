//! The plan as Terraform prints one: a legend of the symbols used, a block per change, the
//! certificates' days left, notes, then `Plan: N to add, N to change, N to destroy.`

use std::fmt::Write as _;

use time::OffsetDateTime;

use super::values::{self, Line, Sign};
use crate::plan::{Action, CertificateSource, CertificateStatus, Change, Plan};
use crate::style::{Style, escape, paint};

pub fn text(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    if plan.has_changes() {
        out.push_str(
            "entraform compared the manifests with the tenant.\nResource actions are indicated with the following symbols:\n",
        );
        for action in Action::LEGEND_ORDER {
            if plan.changes.iter().any(|c| c.action == action) {
                let _ = writeln!(
                    out,
                    "{} {}",
                    symbol(&format!("{:>3}", action.symbol()), color),
                    action.legend()
                );
            }
        }
        out.push_str("\nentraform will perform the following actions:\n");
        for change in &plan.changes {
            out.push('\n');
            block(&mut out, change, color);
        }
        out.push('\n');
    }
    if !plan.certificates.is_empty() {
        out.push_str("Certificates:\n");
        let width = plan
            .certificates
            .iter()
            .map(|c| c.address.to_string().len())
            .max()
            .unwrap_or(0);
        for c in &plan.certificates {
            let _ = writeln!(out, "  {}", certificate_line(c, width, plan.created_at));
        }
        out.push('\n');
    }
    if !plan.notes.is_empty() {
        out.push_str("Notes:\n");
        for n in &plan.notes {
            let who = n
                .app
                .as_deref()
                .map(|a| format!("{}: ", escape(a)))
                .unwrap_or_default();
            let _ = writeln!(out, "  - {who}{}", escape(&n.message));
        }
        out.push('\n');
    }
    if plan.has_changes() {
        let s = plan.summary;
        let restore = if s.restore > 0 {
            format!("{} to restore, ", s.restore)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{} {restore}{} to add, {} to change, {} to destroy.",
            paint("Plan:", Style::Bold, color),
            s.add,
            s.change,
            s.destroy
        );
    } else {
        let _ = writeln!(
            out,
            "{} Your tenant matches the manifests.",
            paint("No changes.", Style::BoldGreen, color)
        );
    }
    out
}

/// Colours each `+`, `-` and `~` of a symbol the way Terraform does.
fn symbol(sym: &str, color: bool) -> String {
    sym.chars()
        .map(|c| match c {
            '+' => paint("+", Style::Green, color),
            '-' => paint("-", Style::Red, color),
            '~' => paint("~", Style::Yellow, color),
            other => other.to_string(),
        })
        .collect()
}

fn block(out: &mut String, change: &Change, color: bool) {
    let headline = format!("# {} {}", change.address, change.action.headline());
    let _ = writeln!(out, "  {}", paint(&headline, Style::Bold, color));
    if let Some(reason) = &change.reason {
        let _ = writeln!(out, "  # ({})", escape(reason));
    }
    let a = &change.address;
    let mut header = format!("{} \"{}\"", a.kind, escape(&a.app));
    if let Some(key) = &a.key {
        let _ = write!(header, " {}", serde_json::Value::String(key.clone()));
    }
    let _ = writeln!(
        out,
        "{} {header} {{",
        symbol(&format!("{:>3}", change.action.symbol()), color)
    );
    for line in values::body(change) {
        let _ = writeln!(out, "{}", line_text(&line, color));
    }
    out.push_str("    }\n");
}

fn line_text(line: &Line, color: bool) -> String {
    let indent = " ".repeat(6 + 4 * line.depth);
    match line.sign {
        Some(sign) => {
            let sym = match sign {
                Sign::Add => paint("+", Style::Green, color),
                Sign::Remove => paint("-", Style::Red, color),
                Sign::Change => paint("~", Style::Yellow, color),
            };
            format!("{indent}{sym} {}", line.text)
        }
        None => format!("{indent}  {}", line.text),
    }
}

fn days(n: i64) -> String {
    match n.unsigned_abs() {
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

/// `certificate.app["x"]  <thumbprint>  expires 2025-09-01 (92 days left; renewBefore 30d)`.
/// `planned_at` tells "expires today" from "expired today" on the last day.
fn certificate_line(c: &CertificateStatus, width: usize, planned_at: OffsetDateTime) -> String {
    let mut line = format!("{:width$}  ", c.address.to_string());
    match (c.thumbprint, c.not_after, c.days_left) {
        (thumb, Some(end), Some(left)) => {
            if let Some(t) = thumb {
                let _ = write!(line, "{t}  ");
            }
            let date = end.date();
            match left {
                0 if end <= planned_at => {
                    let _ = write!(line, "expired {date} (today");
                }
                0 => {
                    let _ = write!(line, "expires {date} (today");
                }
                ..0 => {
                    let _ = write!(line, "expired {date} ({} ago", days(left));
                }
                _ => {
                    let _ = write!(line, "expires {date} ({} left", days(left));
                }
            }
            if let Some(renew) = c.renew_before {
                let _ = write!(line, "; renewBefore {renew}");
            }
            line.push(')');
        }
        _ => {
            line.push_str("new");
            if let Some(v) = c.validity {
                let _ = write!(line, ", valid for {v} from apply");
            }
            if let Some(renew) = c.renew_before {
                let _ = write!(line, " (renewBefore {renew})");
            }
        }
    }
    match c.action {
        Action::NoOp => {}
        Action::Create if c.source == CertificateSource::Generate => {
            line.push_str(": will be generated")
        }
        other => {
            let _ = write!(line, ": {}", other.headline());
        }
    }
    line
}
