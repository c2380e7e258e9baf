//! Where the sandbox's time comes from. Replication delay, throttling windows, token lifetimes,
//! timestamps and key validity all read the server's [`Clock`].

/// The clock a sandbox runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system clock, as Graph and every real client see it (`sandbox serve`, `--sandbox`).
    #[default]
    Wall,
    /// Tokio's clock, starting from the wall time the sandbox started at. In a normal runtime it
    /// moves with the wall clock; in a paused one (`#[tokio::test(start_paused = true)]`) it
    /// moves only when every task waits, straight to the next timer, so replication delays,
    /// throttling windows and the client's back-off (which sleeps on the same clock) take no
    /// real time, and a test can move it with `tokio::time::advance`.
    Runtime,
}

/// A running sandbox's time.
#[derive(Debug)]
pub(crate) enum Time {
    Wall,
    Runtime {
        started_ms: i64,
        started: tokio::time::Instant,
    },
}

impl Time {
    pub(crate) fn new(clock: Clock) -> Self {
        match clock {
            Clock::Wall => Time::Wall,
            Clock::Runtime => Time::Runtime {
                started_ms: wall_ms(),
                started: tokio::time::Instant::now(),
            },
        }
    }

    /// Milliseconds since the Unix epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        match self {
            Time::Wall => wall_ms(),
            Time::Runtime {
                started_ms,
                started,
            } => {
                let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
                started_ms.saturating_add(elapsed)
            }
        }
    }
}

/// The system clock, for what is not the tenant's time (a lock holder's start) or happens
/// before the server runs (seeding a tenant).
pub(crate) fn wall_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
