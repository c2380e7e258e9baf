//! The one place that writes to the terminal: data to stdout, everything else to stderr.
//!
//! Renderers elsewhere return `String`s and take a `color: bool`; only this module prints.
//! Colour follows `--no-color`, `NO_COLOR` (any non-empty value) and whether the stream is a
//! terminal, decided separately for stdout and stderr.

use std::io::{IsTerminal, Write};

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
    fn code(self) -> &'static str {
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

#[derive(Debug, Clone)]
pub struct Printer {
    stdout_color: bool,
    stderr_color: bool,
    quiet: bool,
}

impl Printer {
    pub fn new(no_color_flag: bool, quiet: bool) -> Self {
        let allowed = !no_color_flag && !no_color_env();
        Self {
            stdout_color: allowed && std::io::stdout().is_terminal(),
            stderr_color: allowed && std::io::stderr().is_terminal(),
            quiet,
        }
    }

    /// A printer that never colours; for tests and machine output.
    pub fn plain() -> Self {
        Self {
            stdout_color: false,
            stderr_color: false,
            quiet: false,
        }
    }

    pub fn stdout_color(&self) -> bool {
        self.stdout_color
    }

    pub fn stderr_color(&self) -> bool {
        self.stderr_color
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Writes data to stdout exactly as given. Data is never suppressed by `--quiet`.
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`entraform plan | head`) is not an error worth reporting.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    /// A progress or status line on stderr; silent with `--quiet`.
    pub fn status(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// A question on stderr, without a line end, shown even with `--quiet`: the user must see
    /// what they are answering.
    pub fn prompt(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
    }

    pub fn warn(&self, message: &str) {
        eprintln!(
            "{} {message}",
            paint("warning:", Style::BoldYellow, self.stderr_color)
        );
    }

    pub fn hint(&self, message: &str) {
        eprintln!(
            "{} {message}",
            paint("hint:", Style::Bold, self.stderr_color)
        );
    }

    /// Prints an error with its chain of causes, once, and its hint.
    pub fn error(&self, err: &crate::Error) {
        eprint!("{}", render_error(err, self.stderr_color));
    }
}

/// `error: <message>`, one `caused by:` line per source, then `hint:` when there is one.
pub fn render_error(err: &crate::Error, color: bool) -> String {
    let mut out = format!("{} {err}\n", paint("error:", Style::BoldRed, color));
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        out.push_str(&format!("  caused by: {cause}\n"));
        source = cause.source();
    }
    if let Some(hint) = err.hint() {
        out.push_str(&format!("{} {hint}\n", paint("hint:", Style::Bold, color)));
    }
    out
}

fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}
