//! Throttling: each request is charged its resource units against the caller's budget (and the
//! tenant-wide budget for reading `keyCredentials`); over budget is a 429 with Graph's headers.

use super::Server;
use crate::errors::GraphError;
use crate::faults::{self, Charge};
use crate::graph::Caller;
use crate::odata::Params;

impl Server {
    /// The headers every answer carries about its cost (`x-ms-resource-unit`, and
    /// `x-ms-throttle-limit-percentage` near the limit), or the 429 when over budget.
    pub(super) fn throttle(
        &self,
        method: &str,
        path: &str,
        params: &Params,
        caller: &Caller,
        now: i64,
    ) -> Result<Vec<(String, String)>, GraphError> {
        let select = params.get("$select");
        let cost = faults::cost(
            method,
            path,
            select.is_some(),
            params.get("$expand").is_some(),
            params.get("$top").and_then(|t| t.parse().ok()),
        );
        let mut extra = vec![("x-ms-resource-unit".to_string(), cost.to_string())];
        if let Some(limit) = self.faults.throttle {
            let tenant = self.store.read().tenant.id.clone();
            let kind = if method == "GET" { "Read" } else { "Write" };
            let throttled = |retry: u64, info: &str| {
                let mut e = GraphError::new(429, "TooManyRequests", "Please retry again later.");
                e.headers = vec![
                    ("Retry-After".into(), retry.to_string()),
                    (
                        "x-ms-throttle-scope".into(),
                        format!("Tenant_Application/{kind}/{}/{tenant}", caller.app_id),
                    ),
                    ("x-ms-throttle-information".into(), info.to_string()),
                    ("x-ms-resource-unit".into(), cost.to_string()),
                ];
                e
            };
            let key_select = method == "GET"
                && select.is_some_and(|s| {
                    s.split(',')
                        .any(|p| p.trim().eq_ignore_ascii_case("keyCredentials"))
                });
            if key_select && let Err(retry) = self.fault_state.charge_key_select(now) {
                return Err(throttled(retry, "ResourceUnitLimitExceeded"));
            }
            match self.fault_state.charge(&caller.app_id, cost, limit, now) {
                Charge::Throttled { retry_after_s } => {
                    return Err(throttled(retry_after_s, "ResourceUnitLimitExceeded"));
                }
                Charge::Ok { percent_used } if percent_used >= 80 => {
                    extra.push((
                        "x-ms-throttle-limit-percentage".into(),
                        format!("{:.1}", f64::from(percent_used) / 100.0),
                    ));
                }
                Charge::Ok { .. } => {}
            }
        }
        Ok(extra)
    }
}
