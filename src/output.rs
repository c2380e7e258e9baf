//! The one place that writes to the terminal: data to stdout, everything else to stderr.
//!
//! Renderers elsewhere return `String`s and take a `color: bool`; only this module prints.
//! Colour follows `--no-color`, `NO_COLOR` (any non-empty value) and whether the stream is a
//! terminal, decided separately for stdout and stderr.
//!
//! Text from outside (the tenant, a server, a manifest) can hold control characters: an app
//! renamed to `\x1b[1A\x1b[2K` would erase lines of the plan under review. Renderers pass such
//! values through [`crate::style::escape`] (which also keeps them on one line), and everything
//! printed passes [`terminal_safe`], which lets through only line feeds, tabs and the colour
//! codes of [`crate::style::paint`].

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::hint::Hint;
use crate::style::{Style, needs_escape, paint, push_escaped};
// The printer's callers escape the values they put in status lines with the same function.
pub use crate::style::escape;

/// What may reach the terminal: every control character escaped except line feeds and tabs,
/// and, with `color`, the SGR sequences [`paint`] writes (no others: a value cannot hide text
/// or move the cursor even when colour is on). JSON passes unchanged in meaning: serde escapes
/// C0 controls itself, and the escapes written here for the rest are JSON's own.
pub fn terminal_safe(text: &str, color: bool) -> Cow<'_, str> {
    let allowed = |c: char| c == '\n' || c == '\t' || !needs_escape(c);
    if text.chars().all(allowed) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b'
            && color
            && let Some(len) = own_sgr_len(rest)
        {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        if allowed(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// The length of the `ESC [ <code> m` at the start of `text` when `<code>` is one [`paint`]
/// uses (or the reset, `0`).
fn own_sgr_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix("\x1b[")?;
    let end = body.find('m')?;
    let code = &body[..end];
    let ours = code == "0" || Style::ALL.iter().any(|s| s.code() == code);
    ours.then_some(2 + end + 1)
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
        let text = terminal_safe(text, self.stdout_color);
        let mut out = std::io::stdout().lock();
        // A closed pipe (`entraform plan | head`) is not an error worth reporting.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    /// A progress or status line on stderr; silent with `--quiet`.
    pub fn status(&self, line: &str) {
        if !self.quiet {
            self.stderr(&format!("{line}\n"));
        }
    }

    /// A question on stderr, without a line end, shown even with `--quiet`: the user must see
    /// what they are answering.
    pub fn prompt(&self, text: &str) {
        self.stderr(text);
    }

    pub fn warn(&self, message: &str) {
        self.stderr(&format!(
            "{} {message}\n",
            paint("warning:", Style::BoldYellow, self.stderr_color)
        ));
    }

    pub fn hint(&self, message: &str) {
        self.stderr(&format!(
            "{} {message}\n",
            paint("hint:", Style::Bold, self.stderr_color)
        ));
    }

    /// Prints an error with its chain of causes, once, and its hint.
    pub fn error(&self, err: &(impl std::error::Error + Hint)) {
        self.stderr(&render_error(err, self.stderr_color));
    }

    /// A line of progress on stderr (see [`StatusLine`]). `logging` says that log lines may
    /// come between its updates (`-v`), which a line redrawn in place would garble, so it is
    /// written as plain lines then.
    pub fn status_line(&self, logging: bool) -> StatusLine {
        let mode = if self.quiet {
            LineMode::Off
        } else if std::io::stderr().is_terminal() && !logging {
            LineMode::Live
        } else {
            LineMode::Plain
        };
        StatusLine::new(mode)
    }

    fn stderr(&self, text: &str) {
        let text = terminal_safe(text, self.stderr_color);
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
    }
}

/// How a [`StatusLine`] shows itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineMode {
    /// stderr is a terminal: one line, redrawn in place, cleared at the end.
    Live,
    /// stderr is a log (CI): the first update, then one every [`PLAIN_EVERY`], and the end.
    Plain,
    /// `--quiet`.
    Off,
}

/// How often a live line is redrawn at most.
pub const LIVE_EVERY: Duration = Duration::from_millis(100);
/// How often a plain progress line is written at most: a few in a minute-long read.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Progress on stderr that replaces itself: a live line on a terminal, a few plain lines in a
/// log, nothing with `--quiet`. Cheap to clone; clones show the same line.
#[derive(Debug, Clone)]
pub struct StatusLine {
    inner: Arc<LineState>,
}

#[derive(Debug)]
struct LineState {
    mode: LineMode,
    pacer: Mutex<Pacer>,
}

/// When an update is written: pure (times are given), so the pacing is tested without a clock.
#[derive(Debug, Clone)]
pub struct Pacer {
    every: Duration,
    last: Option<Instant>,
    /// A live line is on the screen and must be cleared.
    shown: bool,
}

impl Pacer {
    pub fn new(every: Duration) -> Self {
        Pacer {
            every,
            last: None,
            shown: false,
        }
    }

    /// Whether an update at `now` is written: the first always, then one per `every`.
    pub fn due(&mut self, now: Instant) -> bool {
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.every);
        if due {
            self.last = Some(now);
        }
        due
    }
}

/// Erases the current terminal line: carriage return, then `EL 2` (erase the whole line).
const CLEAR_LINE: &str = "\r\x1b[2K";

impl StatusLine {
    pub fn new(mode: LineMode) -> Self {
        let every = match mode {
            LineMode::Live => LIVE_EVERY,
            LineMode::Plain | LineMode::Off => PLAIN_EVERY,
        };
        StatusLine {
            inner: Arc::new(LineState {
                mode,
                pacer: Mutex::new(Pacer::new(every)),
            }),
        }
    }

    pub fn mode(&self) -> LineMode {
        self.inner.mode
    }

    /// Whether anything will be shown.
    pub fn is_on(&self) -> bool {
        self.inner.mode != LineMode::Off
    }

    /// Shows `text` if it is time to (see [`Pacer`]); otherwise drops it.
    pub fn update(&self, text: &str) {
        let mut pacer = self.inner.pacer();
        if self.inner.mode == LineMode::Off || !pacer.due(Instant::now()) {
            return;
        }
        let text = terminal_safe(text, false);
        match self.inner.mode {
            LineMode::Live => {
                // Our own control codes around a line that has none.
                write_stderr(&format!("{CLEAR_LINE}{text}"));
                pacer.shown = true;
            }
            LineMode::Plain => write_stderr(&format!("{text}\n")),
            LineMode::Off => {}
        }
    }

    /// Ends the line: a live one is cleared; a plain one gets `done` as its last line.
    pub fn finish(&self, done: Option<&str>) {
        match self.inner.mode {
            LineMode::Live => self.inner.clear(),
            LineMode::Plain => {
                if let Some(done) = done {
                    write_stderr(&format!("{}\n", terminal_safe(done, false)));
                }
            }
            LineMode::Off => {}
        }
    }
}

impl LineState {
    fn pacer(&self) -> std::sync::MutexGuard<'_, Pacer> {
        self.pacer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn clear(&self) {
        let mut pacer = self.pacer();
        if pacer.shown {
            write_stderr(CLEAR_LINE);
            pacer.shown = false;
        }
    }
}

impl Drop for LineState {
    /// A read that ended in an error (or a panic) leaves no half line before the error.
    fn drop(&mut self) {
        if self.mode == LineMode::Live {
            self.clear();
        }
    }
}

fn write_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// `error: <message>`, one `caused by:` line per source, then `hint:` when there is one.
pub fn render_error(err: &(impl std::error::Error + Hint), color: bool) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_line_writes_the_first_update_then_one_per_period() {
        let start = Instant::now();
        let mut pacer = Pacer::new(PLAIN_EVERY);
        let at = |s: u64| start + Duration::from_secs(s);
        let written: Vec<u64> = [0, 1, 9, 10, 11, 19, 25, 31]
            .into_iter()
            .filter(|&s| pacer.due(at(s)))
            .collect();
        assert_eq!(written, [0, 10, 25]);
    }

    #[test]
    fn a_quiet_status_line_is_off() {
        let line = Printer::new(true, true).status_line(false);
        assert_eq!(line.mode(), LineMode::Off);
        assert!(!line.is_on());
        // Nothing to see, and nothing to fail.
        line.update("Reading the tenant: 1 of 2 apps");
        line.finish(Some("Read the tenant"));
    }

    #[test]
    fn only_our_own_colours_reach_the_terminal() {
        let ours = paint("Plan:", Style::Bold, true);
        let text = format!("{ours} \x1b[8mhidden\x1b[0m \x1b[2K\tx\n");
        assert_eq!(
            terminal_safe(&text, true),
            "\x1b[1mPlan:\x1b[0m \\u001b[8mhidden\x1b[0m \\u001b[2K\tx\n"
        );
        // Without colour nothing passes, not even our own codes.
        assert_eq!(
            terminal_safe(&text, false),
            "\\u001b[1mPlan:\\u001b[0m \\u001b[8mhidden\\u001b[0m \\u001b[2K\tx\n"
        );
        assert!(matches!(terminal_safe("a\tb\n", false), Cow::Borrowed(_)));
        // Inside JSON, the escape is JSON's: the document stays valid and means the same.
        let json = serde_json::json!({"name": "a\u{9b}\u{202e}b"}).to_string();
        let safe = terminal_safe(&json, false);
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["name"], "a\u{9b}\u{202e}b");
    }
}
