//! Diagnostics and their rendering, in the shape cargo and rustc use: the message,
//! `--> file:line:column`, the offending line with carets, then a hint and a note. Manifest
//! validation and plan-time problems both render this way, so a user reads one shape.
//! A leaf like [`crate::hint`]: it imports nothing from the crate, so any layer can use it.
//! Rendering is a pure function of the data, so tests can pin it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
    render_parts(
        &d.message,
        Some(&d.position()),
        d.location.as_ref(),
        d.hint.as_deref(),
        d.note.as_deref(),
    )
}

/// The message, then `--> position` (when there is one), the source line with carets under
/// `location`, and the `= hint:` and `= note:` lines: the body of any diagnostic, whether or
/// not it is about a file.
pub fn render_parts(
    message: &str,
    position: Option<&str>,
    location: Option<&Location>,
    hint: Option<&str>,
    note: Option<&str>,
) -> String {
    let mut out = message.to_owned();
    let gutter = location.map_or(1, |loc| loc.line.to_string().len());
    let pad = " ".repeat(gutter);
    if let Some(position) = position {
        let _ = write!(out, "\n{pad}--> {position}");
    }
    if let Some(loc) = location {
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
    if let Some(hint) = hint {
        let _ = write!(out, "\n{pad} = hint: {hint}");
    }
    if let Some(note) = note {
        let _ = write!(out, "\n{pad} = note: {note}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_diagnostic_about_no_file_has_no_position_line() {
        assert_eq!(
            render_parts(
                "app `old` is protected",
                None,
                None,
                Some("remove the tag"),
                None
            ),
            "app `old` is protected\n  = hint: remove the tag"
        );
    }
}
