//! Injected faults, off by default and deterministic for a given `--seed`: latency, replication
//! delay, Graph's throttling (a token bucket of resource units per calling app, charged with the
//! contract's cost table) and random failures (5xx bodies and dropped connections, including a
//! write that is applied but whose response is lost).

use std::collections::HashMap;
use std::sync::Mutex;

use rand::rngs::StdRng;

use crate::errors::GraphError;
use rand::{RngExt, SeedableRng};

/// Faults to inject; all off by default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added to every request.
    pub latency_ms: u64,
    /// How long a new object stays invisible to reads.
    pub replication_delay_ms: u64,
    /// Resource units per 10 s per calling app; `None` = no throttling.
    pub throttle: Option<u32>,
    /// Probability (0..=1) that a Graph request fails (5xx or dropped connection).
    pub fail_rate: f64,
}

/// What a failing request does instead of succeeding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Status(u16),
    /// Close the connection without processing the request.
    DropBefore,
    /// Process the request (apply the write), then close the connection without answering.
    DropAfter,
}

/// Graph's limit on `$select=keyCredentials` reads: 150 per minute per tenant.
const KEY_SELECT_PER_MINUTE: usize = 150;

struct Bucket {
    tokens: f64,
    updated_ms: i64,
}

pub(crate) struct FaultState {
    rng: Mutex<StdRng>,
    buckets: Mutex<HashMap<String, Bucket>>,
    key_selects: Mutex<Vec<i64>>,
}

/// The result of charging a request against its caller's budget.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Charge {
    Ok { percent_used: u32 },
    Throttled { retry_after_s: u64 },
}

impl FaultState {
    pub(crate) fn new(seed: u64) -> Self {
        FaultState {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            buckets: Mutex::new(HashMap::new()),
            key_selects: Mutex::new(Vec::new()),
        }
    }

    /// Decides whether this request fails, and how.
    pub(crate) fn failure(&self, rate: f64, write: bool) -> Option<Failure> {
        if rate <= 0.0 {
            return None;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        if rng.random::<f64>() >= rate {
            return None;
        }
        let reads: &[Failure] = &[
            Failure::Status(500),
            Failure::Status(502),
            Failure::Status(503),
            Failure::Status(504),
            Failure::DropBefore,
        ];
        let writes: &[Failure] = &[
            Failure::Status(500),
            Failure::Status(502),
            Failure::Status(503),
            Failure::Status(504),
            Failure::Status(507),
            Failure::DropBefore,
            Failure::DropAfter,
        ];
        let choices = if write { writes } else { reads };
        Some(choices[rng.random_range(0..choices.len())])
    }

    /// Charges `cost` resource units to `caller`'s bucket of `limit` units per 10 s.
    pub(crate) fn charge(&self, caller: &str, cost: u32, limit: u32, now_ms: i64) -> Charge {
        let limit = f64::from(limit.max(1));
        let rate_per_ms = limit / 10_000.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(caller.to_string()).or_insert(Bucket {
            tokens: limit,
            updated_ms: now_ms,
        });
        let elapsed = (now_ms - b.updated_ms).max(0) as f64;
        b.tokens = (b.tokens + elapsed * rate_per_ms).min(limit);
        b.updated_ms = now_ms;
        let cost = f64::from(cost);
        if b.tokens >= cost {
            b.tokens -= cost;
            let used = ((limit - b.tokens) / limit * 100.0).round() as u32;
            Charge::Ok { percent_used: used }
        } else {
            let missing = cost - b.tokens;
            let wait_ms = missing / rate_per_ms;
            Charge::Throttled {
                retry_after_s: ((wait_ms / 1000.0).ceil() as u64).max(1),
            }
        }
    }

    /// Counts a `$select=keyCredentials` read against the tenant's 150 per minute.
    pub(crate) fn charge_key_select(&self, now_ms: i64) -> Result<(), u64> {
        let mut window = self.key_selects.lock().unwrap_or_else(|p| p.into_inner());
        window.retain(|t| now_ms - *t < 60_000);
        if window.len() >= KEY_SELECT_PER_MINUTE {
            let oldest = window.first().copied().unwrap_or(now_ms);
            let wait = (60_000 - (now_ms - oldest)).max(0) as u64;
            return Err(wait.div_ceil(1000).max(1));
        }
        window.push(now_ms);
        Ok(())
    }
}

/// Resource units a request costs (graph-contract.md, "Throttling and faults in detail").
pub(crate) fn cost(
    method: &str,
    path: &str,
    select: bool,
    expand: bool,
    top: Option<usize>,
) -> u32 {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if method != "GET" {
        return 1;
    }
    let base: i32 = match segments.as_slice() {
        [first, ..] if first.starts_with("applications") => 2,
        ["servicePrincipals", _, "appRoleAssignments"] => 2,
        _ => 1,
    };
    let mut c = base;
    if select {
        c -= 1;
    }
    if expand {
        c += 1;
    }
    if top.is_some_and(|t| t < 20) {
        c -= 1;
    }
    c.max(1) as u32
}

/// A 5xx the way Graph (and Microsoft's own fault injectors) send it.
pub(crate) fn service_error(code: u16) -> GraphError {
    let (c, m) = match code {
        502 => (
            "BadGateway",
            "The server, while acting as a gateway or proxy, received an invalid response from the upstream server it accessed in attempting to fulfill the request.",
        ),
        503 => (
            "serviceNotAvailable",
            "The service is temporarily unavailable for maintenance or is overloaded. You may repeat the request after a delay, which may be specified in a Retry-After header.",
        ),
        504 => (
            "GatewayTimeout",
            "The server, while acting as a proxy, did not receive a timely response from the upstream server it accessed in attempting to complete the request.",
        ),
        507 => (
            "quotaLimitReached",
            "The user has reached their quota limit.",
        ),
        _ => ("generalException", "An unspecified error has occurred."),
    };
    let mut e = GraphError::new(code, c, m);
    if code == 503 {
        e.headers.push(("Retry-After".into(), "2".into()));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_table_matches_the_contract() {
        assert_eq!(cost("GET", "/applications", false, false, None), 2);
        assert_eq!(cost("GET", "/applications", true, false, None), 1);
        assert_eq!(cost("GET", "/applications", false, true, None), 3);
        assert_eq!(cost("GET", "/applications", true, false, Some(5)), 1);
        assert_eq!(
            cost(
                "GET",
                "/servicePrincipals/x/appRoleAssignments",
                false,
                false,
                None
            ),
            2
        );
        assert_eq!(cost("GET", "/users", false, false, None), 1);
        assert_eq!(cost("POST", "/applications", false, false, None), 1);
    }

    #[test]
    fn a_bucket_refuses_past_its_limit_and_says_when_to_come_back() {
        let f = FaultState::new(1);
        for _ in 0..10 {
            assert!(matches!(f.charge("app", 1, 10, 0), Charge::Ok { .. }));
        }
        match f.charge("app", 1, 10, 0) {
            Charge::Throttled { retry_after_s } => assert_eq!(retry_after_s, 1),
            other => panic!("{other:?}"),
        }
        // Another caller has its own bucket.
        assert!(matches!(f.charge("other", 1, 10, 0), Charge::Ok { .. }));
        // Refilled after a full window.
        assert!(matches!(f.charge("app", 10, 10, 10_000), Charge::Ok { .. }));
    }

    #[test]
    fn the_same_seed_gives_the_same_failures() {
        let pick = |seed| {
            let f = FaultState::new(seed);
            (0..50).map(|_| f.failure(0.5, true)).collect::<Vec<_>>()
        };
        assert_eq!(pick(7), pick(7));
        assert!(pick(7).iter().any(Option::is_some));
        assert!(pick(7).iter().any(Option::is_none));
    }
}
