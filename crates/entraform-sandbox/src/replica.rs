//! Eventual consistency: with `--replication-delay-ms N`, reads (Graph GETs and the token
//! endpoint's view of keys, secrets, federated credentials and role grants) are served by a
//! replica that shows the tenant as it was N ms ago. Writes go to the primary and see every
//! earlier write, as on Entra ID, where a read right after a PATCH of `keyCredentials` can return
//! the old set and a new key can fail sign-in with AADSTS700027 for a while (graph-contract.md,
//! corrections; the Terraform azuread provider waits for consecutive consistent reads after
//! every credential write for this reason).
//!
//! The replica is a log of snapshots of the document, one per write, each kept until a newer one
//! is old enough to be the replica's state. With no delay, or no write within the delay, the
//! primary is read directly. A snapshot is cheap: the collections are persistent maps, so it
//! shares every unchanged entry and index node with the primary and the other snapshots (see
//! [`crate::collection`]), and a write costs O(log n) more, not a copy of the tenant.

use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, RwLockReadGuard};

use super::state::Document;

/// Snapshots of the document by the time they were taken.
pub(crate) struct Replica {
    delay_ms: i64,
    /// Oldest first; the first entry is the replica's current state once pruned.
    log: Mutex<VecDeque<(i64, Arc<Document>)>>,
}

/// The document a read sees: the primary (under its lock) or a past snapshot.
pub(crate) enum View<'a> {
    Primary(RwLockReadGuard<'a, Document>),
    Replica(Arc<Document>),
}

impl Deref for View<'_> {
    type Target = Document;

    fn deref(&self) -> &Document {
        match self {
            View::Primary(guard) => guard,
            View::Replica(doc) => doc,
        }
    }
}

impl Replica {
    /// `initial` is the document as the server loaded or seeded it.
    pub(crate) fn new(delay_ms: u64, initial: &Document) -> Self {
        let delay_ms = i64::try_from(delay_ms).unwrap_or(i64::MAX);
        let mut log = VecDeque::new();
        if delay_ms > 0 {
            log.push_back((i64::MIN, Arc::new(initial.clone())));
        }
        Replica {
            delay_ms,
            log: Mutex::new(log),
        }
    }

    pub(crate) fn delay_ms(&self) -> i64 {
        self.delay_ms
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<(i64, Arc<Document>)>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the primary after a write at `now` (call with the primary's lock held, so the
    /// log's order is the writes' order).
    pub(crate) fn record(&self, doc: &Document, now: i64) {
        if self.delay_ms == 0 {
            return;
        }
        let mut log = self.lock();
        log.push_back((now, Arc::new(doc.clone())));
        prune(&mut log, now - self.delay_ms);
    }

    /// The snapshot a read at `now` sees, or `None` when that is the primary as it is now (no
    /// delay, or no write since the replica's state was taken).
    pub(crate) fn snapshot(&self, now: i64) -> Option<Arc<Document>> {
        if self.delay_ms == 0 {
            return None;
        }
        let mut log = self.lock();
        prune(&mut log, now - self.delay_ms);
        if log.len() <= 1 {
            return None;
        }
        log.front().map(|(_, doc)| doc.clone())
    }
}

/// Drops snapshots that a newer one, taken at or before `cutoff`, supersedes.
fn prune(log: &mut VecDeque<(i64, Arc<Document>)>, cutoff: i64) {
    while log.len() > 1 && log.get(1).is_some_and(|(t, _)| *t <= cutoff) {
        log.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str) -> Document {
        let mut d = crate::seed::new_tenant().expect("a tenant");
        d.tenant.display_name = name.to_owned();
        d
    }

    #[test]
    fn a_read_sees_the_tenant_as_it_was_one_delay_ago() {
        let base = doc("v0");
        let r = Replica::new(100, &base);
        assert!(r.snapshot(1_000).is_none(), "no write yet: the primary");
        r.record(&doc("v1"), 1_000);
        r.record(&doc("v2"), 1_050);
        let seen = |now| {
            r.snapshot(now)
                .map_or("primary".to_owned(), |d| d.tenant.display_name.clone())
        };
        assert_eq!(seen(1_010), "v0");
        assert_eq!(seen(1_099), "v0");
        assert_eq!(seen(1_100), "v1");
        assert_eq!(seen(1_149), "v1");
        assert_eq!(seen(1_150), "primary");
    }

    #[test]
    fn without_a_delay_nothing_is_kept() {
        let r = Replica::new(0, &doc("v0"));
        r.record(&doc("v1"), 1_000);
        assert!(r.snapshot(1_000).is_none());
        assert!(r.lock().is_empty());
    }
}
