//! Manifest diagnostics: a file's text, so a span points at its line, and a file's worth of
//! diagnostics rendered together (at most [`MAX_SHOWN_PER_FILE`] each, then a count). One
//! diagnostic renders as [`crate::diagnostic`] says.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::yaml::{Pos, Span};
pub use crate::diagnostic::{Diagnostic, Location, render_body};

/// At most this many diagnostics are shown per file; a mangled file should not flood a terminal.
pub const MAX_SHOWN_PER_FILE: usize = 50;

/// A file's text split into lines the way YAML counts them (`\n`, `\r\n` or `\r`).
#[derive(Debug, Clone)]
pub struct SourceText {
    pub path: PathBuf,
    lines: Vec<String>,
}

impl SourceText {
    pub fn new(path: &Path, text: &str) -> Self {
        let mut lines = Vec::new();
        let mut current = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\n' => lines.push(std::mem::take(&mut current)),
                '\r' => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    lines.push(std::mem::take(&mut current));
                }
                c => current.push(c),
            }
        }
        lines.push(current);
        Self {
            path: path.to_owned(),
            lines,
        }
    }

    pub fn line(&self, line: usize) -> &str {
        line.checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .map_or("", String::as_str)
    }

    pub fn location(&self, span: Span) -> Location {
        let Pos { line, col } = span.start;
        let source_line = self.line(line);
        let line_len = source_line.chars().count();
        let width = if span.end == span.start {
            1
        } else if span.end.line == line && span.end.col > col {
            span.end.col - col
        } else {
            // A node over several lines: underline the rest of its first line.
            line_len.saturating_sub(col)
        };
        Location::new(line, col + 1, width, source_line)
    }

    pub fn diagnostic(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.path.clone(),
            location: Some(self.location(span)),
            message: message.into(),
            hint: None,
            note: None,
        }
    }
}

/// Every diagnostic, each starting with `error: `, and a closing count when there are several.
/// `omitted` counts diagnostics dropped before rendering (see [`MAX_SHOWN_PER_FILE`]).
pub fn render(diagnostics: &[Diagnostic], omitted: usize) -> String {
    let mut out = String::new();
    render_into(&mut out, diagnostics, omitted, true);
    out
}

/// [`render`] without the first `error: `, for a `Display` whose caller adds it.
pub(super) fn render_into(
    out: &mut String,
    diagnostics: &[Diagnostic],
    omitted: usize,
    first_prefix: bool,
) {
    let mut shown_per_file: Vec<(&Path, usize)> = Vec::new();
    let mut hidden = omitted;
    let mut first = true;
    for d in diagnostics {
        let count = match shown_per_file.iter_mut().find(|(f, _)| *f == d.file) {
            Some((_, n)) => n,
            None => {
                shown_per_file.push((&d.file, 0));
                &mut shown_per_file.last_mut().expect("just pushed").1
            }
        };
        *count += 1;
        if *count > MAX_SHOWN_PER_FILE {
            hidden += 1;
            continue;
        }
        if !first {
            out.push_str("\n\n");
        }
        if !first || first_prefix {
            out.push_str("error: ");
        }
        first = false;
        out.push_str(&render_body(d));
    }
    let total = diagnostics.len() + omitted;
    if total > 1 {
        let files = shown_per_file.len();
        let _ = write!(
            out,
            "\n\nerror: found {} errors in {} {}",
            total,
            files,
            if files == 1 { "file" } else { "files" }
        );
        if hidden > 0 {
            let _ = write!(
                out,
                " ({hidden} not shown: at most {MAX_SHOWN_PER_FILE} per file)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_shows_the_line_and_carets_under_the_span() {
        let src = SourceText::new(Path::new("m.yaml"), "spec:\n  displayNam: x\n");
        let span = Span {
            start: Pos { line: 2, col: 2 },
            end: Pos { line: 2, col: 12 },
        };
        let d = src
            .diagnostic(span, "unknown field `displayNam` in `spec`")
            .with_hint(Some("did you mean `displayName`?".to_owned()));
        assert_eq!(
            render(&[d], 0),
            "error: unknown field `displayNam` in `spec`\n --> m.yaml:2:3\n  |\n2 |   displayNam: x\n  |   ^^^^^^^^^^\n  = hint: did you mean `displayName`?"
        );
    }

    #[test]
    fn carets_follow_tabs_in_the_source_line() {
        let src = SourceText::new(Path::new("m.yaml"), "a:\n\t\tb: 1\n");
        let d = src.diagnostic(Span::point(Pos { line: 2, col: 2 }), "x");
        assert!(render(&[d], 0).ends_with("2 | \t\tb: 1\n  | \t\t^"));
    }

    #[test]
    fn lines_split_on_every_yaml_line_break() {
        let src = SourceText::new(Path::new("m.yaml"), "a\r\nb\rc\nd");
        assert_eq!(
            [
                src.line(1),
                src.line(2),
                src.line(3),
                src.line(4),
                src.line(5)
            ],
            ["a", "b", "c", "d", ""]
        );
    }

    #[test]
    fn many_errors_end_with_a_count_and_are_capped_per_file() {
        let d = Diagnostic::file(Path::new("m.yaml"), "bad");
        let many = vec![d; MAX_SHOWN_PER_FILE + 3];
        let text = render(&many, 0);
        assert_eq!(text.matches("error: bad").count(), MAX_SHOWN_PER_FILE);
        assert!(
            text.ends_with("error: found 53 errors in 1 file (3 not shown: at most 50 per file)")
        );
    }
}
