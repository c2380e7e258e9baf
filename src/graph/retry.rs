//! When to send a request again, and how long to wait first.
//!
//! The policy is a pure function of (status or transport failure, retry-safety class, attempt,
//! time spent), so it is tested as a table. The client only sleeps and counts.

use std::time::{Duration, SystemTime};

/// How safe it is to send a write twice. Chosen by the caller, who knows what the write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetrySafety {
    /// Sending it twice has the effect of sending it once (reads, `PATCH` of fixed values,
    /// `DELETE`, whose repeat is a 404 the caller treats as done).
    Idempotent,
    /// An upsert by alternate key (`PATCH …(uniqueName='x')` with `Prefer: create-if-missing`):
    /// a repeat finds the object the first attempt created.
    Upsert,
    /// A repeat could create a second object (`POST /applications`, `POST …/appRoleAssignedTo`):
    /// sent again only when the first attempt certainly did nothing.
    NotIdempotent,
}

/// Bounds on retrying one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total sends, the first included, for failures other than throttling (a 429 is bounded by
    /// `max_elapsed` alone: Graph's limits refill with time, not with attempts).
    pub max_attempts: u32,
    /// No retry starts after this much time since the first send (waits included).
    pub max_elapsed: Duration,
    /// The first backoff when the server names no wait; doubled each attempt.
    pub base_delay: Duration,
    /// Longest single backoff (a longer `Retry-After` is still honoured within `max_elapsed`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_elapsed: Duration::from_secs(120),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// What a single send produced, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// An HTTP status, with the server's `Retry-After` when it sent a usable one.
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No connection was made: the request never reached the server.
    NotSent,
    /// The connection broke or timed out after the request may have been received.
    NoAnswer,
}

/// Whether a status (or failure) is worth another attempt for this kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A success (2xx): nothing to retry.
    Success,
    /// An error that another attempt will not fix (or that is unsafe to repeat).
    Fail,
    /// Transient: try again after a wait.
    Retry,
    /// 401: the token may have expired in flight; get a new one and try once more.
    RefreshToken,
}

/// The retry table: which statuses are retried, for each safety class.
///
/// 429 and 408 mean the server refused the request before acting on it, so every request may be
/// repeated. 500, 502, 503, 504 and 507 (which Microsoft's own fault injectors use for transient
/// failures) may come after the work was done, so only requests whose repeat is harmless are.
/// Everything else is the caller's to handle.
pub fn verdict(attempt: Attempt, safety: RetrySafety) -> Verdict {
    let repeatable = safety != RetrySafety::NotIdempotent;
    match attempt {
        Attempt::NotSent => Verdict::Retry,
        Attempt::NoAnswer if repeatable => Verdict::Retry,
        Attempt::NoAnswer => Verdict::Fail,
        Attempt::Status { status, .. } => match status {
            200..=299 => Verdict::Success,
            401 => Verdict::RefreshToken,
            408 | 429 => Verdict::Retry,
            500 | 502..=504 | 507 if repeatable => Verdict::Retry,
            _ => Verdict::Fail,
        },
    }
}

/// The next step after an attempt, within the policy's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Stop and report this attempt's result (success or the error).
    Finish,
    /// Wait this long, then send again.
    RetryAfter(Duration),
    /// Get a fresh token and send again at once.
    RefreshToken,
}

/// What a 401 answer leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthorized {
    /// Get a fresh token and send once more: the token may have expired in flight.
    RefreshToken,
    /// Final: the token was already renewed for this request, or the 401 is a sign-in refusal.
    Final,
}

/// Decides the next step. `attempt_no` counts sends so far (1 after the first); `elapsed` is the
/// time since the first send; `jitter` is a uniform random number in `[0, 1)` (passed in so the
/// function stays deterministic under test).
pub fn next_step(
    policy: &RetryPolicy,
    safety: RetrySafety,
    attempt: Attempt,
    attempt_no: u32,
    elapsed: Duration,
    on_401: Unauthorized,
    jitter: f64,
) -> Step {
    let throttled = matches!(attempt, Attempt::Status { status: 429, .. });
    if attempt_no >= policy.max_attempts && !throttled {
        return Step::Finish;
    }
    match verdict(attempt, safety) {
        Verdict::Success | Verdict::Fail => Step::Finish,
        Verdict::RefreshToken => match on_401 {
            Unauthorized::RefreshToken => Step::RefreshToken,
            Unauthorized::Final => Step::Finish,
        },
        Verdict::Retry => {
            let wait = match attempt {
                Attempt::Status {
                    retry_after: Some(wait),
                    ..
                } => wait,
                _ => backoff(policy, attempt_no, jitter),
            };
            if elapsed.saturating_add(wait) > policy.max_elapsed {
                Step::Finish
            } else {
                Step::RetryAfter(wait)
            }
        }
    }
}

/// Exponential backoff with jitter: `base · 2^(n-1)` capped at `max_delay`, then a random point
/// in its upper half, so concurrent clients spread out but still back off.
pub fn backoff(policy: &RetryPolicy, attempt_no: u32, jitter: f64) -> Duration {
    let exp = attempt_no.saturating_sub(1).min(20);
    let ceiling = policy
        .base_delay
        .saturating_mul(1u32 << exp)
        .min(policy.max_delay);
    ceiling.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// How long every request of a client holds off after a 429 (Graph's limits are per app and
/// tenant, so one 429 speaks for all requests in flight): the server's `Retry-After` (or the
/// backoff when it names none), doubled for each 429 in a row since the last success (`streak`
/// counts this one), capped at `max_delay` unless the server asked for longer, and stretched by
/// up to a half by `jitter` (in `[0, 1)`) so clients that were throttled together do not all
/// come back in the same millisecond.
pub fn throttle_hold(
    policy: &RetryPolicy,
    retry_after: Option<Duration>,
    streak: u32,
    jitter: f64,
) -> Duration {
    let base = retry_after
        .unwrap_or(policy.base_delay)
        .max(policy.base_delay);
    let doubled = base.saturating_mul(1u32 << streak.saturating_sub(1).min(16));
    let cap = policy.max_delay.max(retry_after.unwrap_or_default());
    doubled.min(cap).mul_f64(1.0 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Reads `Retry-After`: whole or fractional seconds (Graph sends `2.128`), or an HTTP date.
/// Anything unreadable or negative is ignored (the caller then backs off on its own).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::try_from_secs_f64(secs).ok())
            .flatten();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> Attempt {
        Attempt::Status {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn the_retry_table_for_every_status_and_safety_class() {
        // One line per class: the statuses (100–599) that are retried.
        let mut table = String::new();
        for safety in [
            RetrySafety::Idempotent,
            RetrySafety::Upsert,
            RetrySafety::NotIdempotent,
        ] {
            let mut retried = Vec::new();
            let mut refresh = Vec::new();
            for code in 100..=599 {
                match verdict(status(code), safety) {
                    Verdict::Retry => retried.push(code.to_string()),
                    Verdict::RefreshToken => refresh.push(code.to_string()),
                    Verdict::Success => assert!((200..300).contains(&code)),
                    Verdict::Fail => {}
                }
            }
            table.push_str(&format!(
                "{safety:?}: retry {}; new token {}\n",
                retried.join(","),
                refresh.join(",")
            ));
        }
        insta::assert_snapshot!(table, @r"
        Idempotent: retry 408,429,500,502,503,504,507; new token 401
        Upsert: retry 408,429,500,502,503,504,507; new token 401
        NotIdempotent: retry 408,429; new token 401
        ");
    }

    #[test]
    fn a_request_that_never_left_is_always_retried_but_a_lost_answer_only_when_safe() {
        for safety in [
            RetrySafety::Idempotent,
            RetrySafety::Upsert,
            RetrySafety::NotIdempotent,
        ] {
            assert_eq!(verdict(Attempt::NotSent, safety), Verdict::Retry);
        }
        assert_eq!(
            verdict(Attempt::NoAnswer, RetrySafety::Upsert),
            Verdict::Retry
        );
        assert_eq!(
            verdict(Attempt::NoAnswer, RetrySafety::NotIdempotent),
            Verdict::Fail
        );
    }

    #[test]
    fn retry_after_is_read_as_seconds_fractional_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 2.128 ", now),
            Some(Duration::from_millis(2128))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(7)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        // RFC 850 and asctime forms are HTTP dates too.
        assert!(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now).is_some());
        assert!(parse_retry_after("Sun Nov  6 08:49:37 1994", now).is_some());
        for junk in ["", "-1", "soon", "NaN", "inf"] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn the_servers_retry_after_wins_over_backoff() {
        let policy = RetryPolicy::default();
        let throttled = Attempt::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            next_step(
                &policy,
                RetrySafety::NotIdempotent,
                throttled,
                1,
                Duration::ZERO,
                Unauthorized::RefreshToken,
                0.0
            ),
            Step::RetryAfter(Duration::from_secs(7))
        );
    }

    #[test]
    fn retries_stop_at_the_attempt_and_time_bounds() {
        let policy = RetryPolicy {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let s = |n, elapsed, retry_after| {
            next_step(
                &policy,
                RetrySafety::Idempotent,
                Attempt::Status {
                    status: 503,
                    retry_after,
                },
                n,
                elapsed,
                Unauthorized::RefreshToken,
                0.5,
            )
        };
        assert!(matches!(s(2, Duration::ZERO, None), Step::RetryAfter(_)));
        assert_eq!(s(3, Duration::ZERO, None), Step::Finish);
        assert_eq!(
            s(1, Duration::from_secs(8), Some(Duration::from_secs(3))),
            Step::Finish
        );
    }

    #[test]
    fn a_429_is_retried_until_the_time_budget_not_an_attempt_count() {
        let policy = RetryPolicy {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(120),
            ..RetryPolicy::default()
        };
        let throttled = Attempt::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(1)),
        };
        let step = |n, elapsed| {
            next_step(
                &policy,
                RetrySafety::NotIdempotent,
                throttled,
                n,
                Duration::from_secs(elapsed),
                Unauthorized::RefreshToken,
                0.0,
            )
        };
        assert_eq!(step(10, 60), Step::RetryAfter(Duration::from_secs(1)));
        assert_eq!(step(10, 120), Step::Finish);
    }

    #[test]
    fn throttled_clients_hold_off_longer_each_429_in_a_row_with_jitter() {
        let policy = RetryPolicy::default();
        let s = Duration::from_secs;
        let hold =
            |retry_after, streak, jitter| throttle_hold(&policy, retry_after, streak, jitter);
        assert_eq!(hold(Some(s(1)), 1, 0.0), s(1));
        assert_eq!(hold(Some(s(1)), 2, 0.0), s(2));
        assert_eq!(hold(Some(s(1)), 4, 0.0), s(8));
        assert_eq!(hold(Some(s(1)), 4, 0.999).as_millis(), 11_996);
        // Capped at max_delay (30 s), unless the server asks for more.
        assert_eq!(hold(Some(s(1)), 10, 0.0), s(30));
        assert_eq!(hold(Some(s(45)), 1, 0.0), s(45));
        // No Retry-After (or 0): the backoff's base, doubled likewise.
        assert_eq!(hold(None, 1, 0.0), policy.base_delay);
        assert_eq!(hold(Some(Duration::ZERO), 3, 0.0), policy.base_delay * 4);
    }

    #[test]
    fn a_401_gets_one_fresh_token_and_no_more() {
        let policy = RetryPolicy::default();
        let step = |on_401| {
            next_step(
                &policy,
                RetrySafety::Idempotent,
                status(401),
                1,
                Duration::ZERO,
                on_401,
                0.0,
            )
        };
        assert_eq!(step(Unauthorized::RefreshToken), Step::RefreshToken);
        assert_eq!(step(Unauthorized::Final), Step::Finish);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_within_the_upper_half() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        assert_eq!(backoff(&policy, 1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(&policy, 2, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(&policy, 3, 0.0), Duration::from_millis(200));
        assert_eq!(backoff(&policy, 10, 1.0), Duration::from_millis(1000));
        assert_eq!(backoff(&policy, 100, 0.0), Duration::from_millis(500));
    }
}
