//! tracing-subscriber on stderr: `-v` info, `-vv` debug, `-vvv` trace, `-q` errors only;
//! `RUST_LOG` wins when set.

use tracing_subscriber::EnvFilter;

use super::{GlobalArgs, LogFormat};

pub fn init(global: &GlobalArgs, color: bool) {
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    // Our own crate at the chosen level; dependencies one step quieter so -vv stays readable.
    let default = match level {
        "debug" => "warn,entraform=debug".to_owned(),
        "trace" => "info,entraform=trace".to_owned(),
        other => format!("{other},entraform={other}"),
    };
    // A refused certificate is reported once, as entraform's own error naming the CA; the
    // verifier's log line for every attempt would only repeat it.
    let default = format!("{default},rustls_platform_verifier=off");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || SafeStderr { color })
        .with_target(global.verbose >= 2);
    // A second init (tests calling into the CLI twice) is harmless; ignore it.
    let _ = match global.log_format {
        LogFormat::Text => builder.with_ansi(color).without_time().try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// stderr for log lines. tracing-subscriber already escapes ESC and C1 codes in field values;
/// this also escapes what it leaves (a carriage return in a tenant value would overwrite the
/// line, a line feed would forge the next one). One write is one event, ending in its own
/// line feed.
struct SafeStderr {
    /// tracing colours the line itself only then.
    color: bool,
}

impl std::io::Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, end) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (&*text, ""),
        };
        let mut out = String::with_capacity(text.len());
        for c in body.chars() {
            // With colour, ESC is tracing's own; values were escaped before they got here.
            if (c == '\x1b' && self.color) || c == '\t' || !crate::style::needs_escape(c) {
                out.push(c);
            } else {
                crate::style::push_escaped(&mut out, c);
            }
        }
        out.push_str(end);
        std::io::stderr().write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
