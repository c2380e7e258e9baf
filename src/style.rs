//! Styling text for a terminal, pure: the colours renderers may use ([`paint`], only when
//! asked) and how a value from outside is shown on one line ([`escape`]). Renderers (plans,
//! reports, errors) return styled `String`s; [`crate::output`] decides whether colour is on and
//! is the only writer.

use std::borrow::Cow;
use std::fmt::Write as _;

/// A text style; `paint` wraps text in its ANSI codes only when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bold,
    Dim,
    Red,
    Green,
    Yellow,
    Cyan,
    BoldRed,
    BoldGreen,
    BoldYellow,
}

impl Style {
    pub(crate) const ALL: [Style; 9] = [
        Style::Bold,
        Style::Dim,
        Style::Red,
        Style::Green,
        Style::Yellow,
        Style::Cyan,
        Style::BoldRed,
        Style::BoldGreen,
        Style::BoldYellow,
    ];

    /// The SGR parameters of this style.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Red => "31",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Cyan => "36",
            Style::BoldRed => "1;31",
            Style::BoldGreen => "1;32",
            Style::BoldYellow => "1;33",
        }
    }
}

pub fn paint(text: &str, style: Style, color: bool) -> String {
    if color && !text.is_empty() {
        format!("\x1b[{}m{text}\x1b[0m", style.code())
    } else {
        text.to_owned()
    }
}

/// A value from outside, shown as exactly what it holds on one line: control characters (C0,
/// DEL, C1) and the invisible bidirectional overrides are written as escapes the way JSON
/// writes them (`\n`, `\u001b`, `\u202e`), as the plan already shows one-line values.
pub fn escape(value: &str) -> Cow<'_, str> {
    if !value.chars().any(needs_escape) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether [`escape`] rewrites `c`.
pub(crate) fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Marks that reorder how a line is displayed (the "Trojan Source" characters).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// How [`escape`] writes `c`: `\n`, `\r`, `\t`, else `\uXXXX`.
pub(crate) fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // JSON's spelling, so an escape inside a JSON string is still that string.
        other => {
            let _ = write!(out, "\\u{:04x}", u32::from(other));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_one_line_showing_what_they_hold() {
        assert_eq!(escape("plain app"), "plain app");
        assert_eq!(
            escape("evil\x1b[1A\x1b[2Kname\nline\r\u{202e}"),
            "evil\\u001b[1A\\u001b[2Kname\\nline\\r\\u202e"
        );
        assert_eq!(escape("\u{9b}31m"), "\\u009b31m");
    }
}
