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

/// Base resource-unit costs other than 1, as Microsoft Graph's throttling reference lists them
/// ("Identity and access service limits",
/// <https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits>):
/// method, path (`{id}` is any one segment), units. Any other identity path costs 1.
const BASE_COSTS: &[(&str, &str, i32)] = &[
    ("GET", "applications", 2),
    ("GET", "applications/{id}/extensionProperties", 2),
    ("GET", "contracts", 3),
    ("POST", "directoryObjects/getByIds", 5),
    ("GET", "domains/{id}/domainNameReferences", 4),
    ("POST", "getObjectsById", 5),
    ("GET", "groups/{id}/members", 3),
    ("GET", "groups/{id}/transitiveMembers", 5),
    ("POST", "isMemberOf", 4),
    ("POST", "me/checkMemberGroups", 4),
    ("POST", "me/checkMemberObjects", 4),
    ("POST", "me/getMemberGroups", 2),
    ("POST", "me/getMemberObjects", 2),
    ("GET", "me/licenseDetails", 2),
    ("GET", "me/memberOf", 2),
    ("GET", "me/ownedObjects", 2),
    ("GET", "me/transitiveMemberOf", 2),
    ("GET", "oauth2PermissionGrants", 2),
    ("GET", "oauth2PermissionGrants/{id}", 2),
    ("GET", "servicePrincipals/{id}/appRoleAssignments", 2),
    ("GET", "subscribedSkus", 3),
    ("GET", "users", 2),
];

/// Whether `segments` is the path `pattern`; a `me/` path also stands for `users/{id}/`, as the
/// reference says.
fn path_is(segments: &[&str], pattern: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let same = |segments: &[&str], pattern: &[&str]| {
        segments.len() == pattern.len()
            && segments
                .iter()
                .zip(pattern)
                .all(|(s, p)| *p == "{id}" || s.eq_ignore_ascii_case(p))
    };
    match (pattern.split_first(), segments) {
        (Some((&"me", rest)), [users, _, tail @ ..]) if users.eq_ignore_ascii_case("users") => {
            same(tail, rest) || same(segments, &pattern)
        }
        _ => same(segments, &pattern),
    }
}

/// Resource units a request costs: the base cost of its path ([`BASE_COSTS`]), `$select` −1,
/// `$expand` +1, `$top` under 20 −1, never under 1 (`$select` on `directoryObjects/getByIds`
/// or `getObjectsById`: 2).
pub(crate) fn cost(
    method: &str,
    path: &str,
    select: bool,
    expand: bool,
    top: Option<usize>,
) -> u32 {
    // A key segment (`applications(uniqueName='x')`) addresses one object, as `{id}` does.
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .flat_map(|s| match s.split_once('(') {
            Some((name, _)) => vec![name, "{id}"],
            None => vec![s],
        })
        .collect();
    let listed = |pattern: &str| path_is(&segments, pattern);
    if select
        && method == "POST"
        && (listed("directoryObjects/getByIds") || listed("getObjectsById"))
    {
        return 2;
    }
    let base = BASE_COSTS
        .iter()
        .find(|(m, pattern, _)| *m == method && listed(pattern))
        .map_or(1, |(_, _, units)| *units);
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

    /// The reference's table and modifiers, as it states them.
    #[test]
    fn the_cost_table_is_the_references() {
        let get = |path| cost("GET", path, false, false, None);
        assert_eq!(get("/applications"), 2);
        assert_eq!(cost("GET", "/applications", true, false, None), 1);
        assert_eq!(cost("GET", "/applications", false, true, None), 3);
        assert_eq!(cost("GET", "/applications", true, false, Some(5)), 1);
        assert_eq!(get("/applications/x/extensionProperties"), 2);
        // Not listed: any other identity path costs 1.
        assert_eq!(get("/applications/x"), 1);
        assert_eq!(get("/applications(uniqueName='x')"), 1);
        assert_eq!(get("/applications/x/federatedIdentityCredentials"), 1);
        assert_eq!(get("/servicePrincipals"), 1);
        assert_eq!(get("/servicePrincipals/x/appRoleAssignments"), 2);
        assert_eq!(get("/servicePrincipals(appId='x')/appRoleAssignments"), 2);
        assert_eq!(get("/oauth2PermissionGrants"), 2);
        assert_eq!(cost("GET", "/oauth2PermissionGrants", true, false, None), 1);
        assert_eq!(get("/oauth2PermissionGrants/x"), 2);
        assert_eq!(get("/users"), 2);
        assert_eq!(cost("GET", "/users", true, false, None), 1);
        assert_eq!(get("/users/x"), 1);
        // `me/` costs apply to `users/{id}/` too.
        assert_eq!(get("/me/memberOf"), 2);
        assert_eq!(get("/users/x/memberOf"), 2);
        assert_eq!(get("/groups/x/transitiveMembers"), 5);
        assert_eq!(
            cost("POST", "/directoryObjects/getByIds", false, false, None),
            5
        );
        assert_eq!(
            cost("POST", "/directoryObjects/getByIds", true, false, None),
            2
        );
        assert_eq!(cost("POST", "/applications", false, false, None), 1);
        assert_eq!(cost("PATCH", "/applications/x", false, false, None), 1);
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
