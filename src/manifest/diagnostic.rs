//! Manifest diagnostics and their rendering, in the shape cargo and rustc use for TOML errors:
//! the message, `--> file:line:column`, the offending line with carets, then hints and notes.
//! Rendering is a pure function of the diagnostics, so tests can pin it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::yaml::{Pos, Span};

/// At most this many diagnostics are shown per file; a mangled file should not flood a terminal.
pub const MAX_SHOWN_PER_FILE: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub location: Option<Location>,
    pub message: String,
    pub hint: Option<String>,
    pub note: Option<String>,
}

/// Long lines are shown as a window of this many characters around the column.
const SNIPPET_CHARS: usize = 120;

/// Where in a file a diagnostic points; `line` and `column` are 1-based, in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    /// Carets under the offending text; at least 1.
    pub width: usize,
    /// The offending line as written (lossily decoded when the file is not UTF-8), or a window
    /// of it marked with `…` when it is long.
    pub snippet: String,
    /// Where in `snippet` the carets start (0-based, in characters).
    pub caret: usize,
}

impl Location {
    /// `column` is 1-based; `width` is clamped to what the snippet shows.
    pub fn new(line: usize, column: usize, width: usize, source_line: &str) -> Self {
        let col = column.saturating_sub(1);
        let len = source_line.chars().count();
        let (snippet, caret) = if len <= SNIPPET_CHARS {
            (source_line.to_owned(), col)
        } else {
            let start = col
                .saturating_sub(SNIPPET_CHARS / 2)
                .min(len - SNIPPET_CHARS);
            let mut snippet = String::new();
            if start > 0 {
                snippet.push('…');
            }
            snippet.extend(source_line.chars().skip(start).take(SNIPPET_CHARS));
            if start + SNIPPET_CHARS < len {
                snippet.push('…');
            }
            (snippet, col - start + usize::from(start > 0))
        };
        let room = snippet.chars().count().saturating_sub(caret).max(1);
        Self {
            line: line.max(1),
            column: col + 1,
            width: width.clamp(1, room),
            snippet,
            caret,
        }
    }
}

impl Location {
    pub fn display(&self, file: &Path) -> String {
        format!("{}:{}:{}", file.display(), self.line, self.column)
    }
}

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

impl Diagnostic {
    /// A diagnostic about a whole file (it cannot be read, it is too large, ...).
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Self {
            file: path.to_owned(),
            location: None,
            message: message.into(),
            hint: None,
            note: None,
        }
    }

    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn with_note(mut self, note: Option<String>) -> Self {
        self.note = note;
        self
    }

    /// `file:line:column` (or just the file), as editors and terminals link it.
    pub fn position(&self) -> String {
        match &self.location {
            Some(loc) => loc.display(&self.file),
            None => self.file.display().to_string(),
        }
    }
}

/// One diagnostic without its leading `error: `: message, location, source line, hint, note.
pub fn render_body(d: &Diagnostic) -> String {
    let mut out = d.message.clone();
    let gutter = d
        .location
        .as_ref()
        .map_or(1, |loc| loc.line.to_string().len());
    let pad = " ".repeat(gutter);
    let _ = write!(out, "\n{pad}--> {}", d.position());
    if let Some(loc) = &d.location {
        // Copy tabs from the source into the padding so the carets line up in any terminal.
        let lead: String = loc
            .snippet
            .chars()
            .take(loc.caret)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = write!(
            out,
            "\n{pad} |\n{} | {}\n{pad} | {lead}{}",
            loc.line,
            loc.snippet.trim_end(),
            "^".repeat(loc.width)
        );
    }
    if let Some(hint) = &d.hint {
        let _ = write!(out, "\n{pad} = hint: {hint}");
    }
    if let Some(note) = &d.note {
        let _ = write!(out, "\n{pad} = note: {note}");
    }
    out
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
    fn long_lines_show_a_window_around_the_column() {
        let line = format!("tags: [{}bad, {}x]", "x, ".repeat(200), "x, ".repeat(100));
        let loc = Location::new(1, 608, 3, &line);
        assert_eq!(loc.column, 608);
        assert!(loc.snippet.starts_with('…') && loc.snippet.ends_with('…'));
        assert!(loc.snippet.chars().count() <= SNIPPET_CHARS + 2);
        let under: String = loc
            .snippet
            .chars()
            .skip(loc.caret)
            .take(loc.width)
            .collect();
        assert_eq!(under, "bad");
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
