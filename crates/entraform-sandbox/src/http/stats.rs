//! Request statistics (`GET /_sandbox/stats`), counted by route template and status.

use super::Server;
use crate::Stats;

impl Server {
    pub(crate) fn stats(&self) -> Stats {
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
        stats.state_bytes_written = self.store.bytes_written();
        stats
    }

    /// Records the time one request (`top`) or one `$batch` part took to serve.
    pub(super) fn time(&self, route: &str, elapsed: std::time::Duration, top: bool) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        if top {
            s.server_time.total.add(elapsed);
        }
        s.server_time
            .routes
            .entry(route.to_string())
            .or_default()
            .add(elapsed);
    }

    pub(super) fn count(&self, route: &str, status: &str) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        s.total += 1;
        *s.routes
            .entry(route.to_string())
            .or_default()
            .entry(status.to_string())
            .or_default() += 1;
        *s.statuses.entry(status.to_string()).or_default() += 1;
    }
}

const STATIC_SEGMENTS: &[&str] = &[
    "applications",
    "servicePrincipals",
    "addKey",
    "removeKey",
    "addPassword",
    "removePassword",
    "federatedIdentityCredentials",
    "owners",
    "ownedObjects",
    "$ref",
    "appRoleAssignedTo",
    "appRoleAssignments",
    "oauth2PermissionGrants",
    "roleManagement",
    "directory",
    "roleDefinitions",
    "roleAssignments",
    "users",
    "$count",
    "$batch",
    "organization",
    "directoryObjects",
    "deletedItems",
    "microsoft.graph.application",
    "microsoft.graph.servicePrincipal",
    "restore",
];

/// `/applications/3f…/owners` → `/applications/{id}/owners`; keys keep their name.
pub(crate) fn route_template(path: &str) -> String {
    let mut out = String::new();
    for seg in path.trim_matches('/').split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        let seg = crate::odata::decode_component(seg, false);
        if let Some(open) = seg.find('(') {
            let name = &seg[..open];
            let key = seg[open + 1..]
                .split('=')
                .next()
                .unwrap_or("key")
                .trim_end_matches(')');
            if STATIC_SEGMENTS.contains(&name) {
                out.push_str(&format!("{name}({key}={{{key}}})"));
            } else {
                out.push_str(&format!("({key}={{{key}}})"));
            }
        } else if STATIC_SEGMENTS.contains(&seg.as_str()) {
            out.push_str(&seg);
        } else {
            out.push_str("{id}");
        }
    }
    if out.is_empty() { "/".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::route_template;

    #[test]
    fn routes_are_counted_by_template() {
        assert_eq!(route_template("/applications"), "/applications");
        assert_eq!(
            route_template("/applications/0b8f2a4e-1111-2222-3333-444455556666/owners/$ref"),
            "/applications/{id}/owners/$ref"
        );
        assert_eq!(
            route_template("/applications(uniqueName='x')"),
            "/applications(uniqueName={uniqueName})"
        );
        assert_eq!(
            route_template("/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')"),
            "/servicePrincipals(appId={appId})"
        );
    }
}
