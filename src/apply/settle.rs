//! Proving that writes landed. Entra ID's reads are eventually consistent, for updates as for
//! creates: a read right after a write may show the state before it, and a replica that has it
//! may be followed by one that does not. So apply, like the Terraform azuread provider
//! (`internal/helpers/consistency`: 5 consecutive consistent reads after credential writes, 3
//! after role assignments), waits for several reads in a row that show what it wrote, and keeps
//! reading at least as long as the write took to show up at all, so a replica as slow as the
//! first one has had its chance to disagree.
//!
//! [`Streak`] is that rule, pure (the caller reads, sleeps and passes the clock);
//! [`pending_changes`] says which of the changes a run made a fresh plan still shows.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use super::{ActionOutcome, Report};
use crate::plan::{Action, Address, Plan};

/// How apply waits for Entra ID to show what it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settle {
    /// Consistent reads in a row after a write of an app's key credentials (Terraform: 5).
    pub key_reads: u32,
    /// Consistent plans in a row before apply reports success (Terraform waits 3 reads after
    /// role assignments, the slowest objects to show).
    pub final_reads: u32,
    /// The first wait between reads; it grows by half each time up to `max_interval`.
    pub interval: Duration,
    pub max_interval: Duration,
    /// Waiting stops (and says so) after this long.
    pub max_elapsed: Duration,
}

impl Default for Settle {
    fn default() -> Self {
        Settle {
            key_reads: 5,
            final_reads: 3,
            interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(120),
        }
    }
}

impl Settle {
    /// The wait before read `n + 1` (n ≥ 1).
    pub fn delay(&self, n: u32) -> Duration {
        let grown = self
            .interval
            .mul_f64(1.5f64.powi(n.saturating_sub(1).min(20) as i32));
        grown.min(self.max_interval)
    }
}

/// Consecutive consistent reads since a write made at `since`.
#[derive(Debug, Clone)]
pub struct Streak {
    need: u32,
    since: Instant,
    run: u32,
    first_ok: Option<Instant>,
}

impl Streak {
    pub fn new(need: u32, since: Instant) -> Self {
        Streak {
            need: need.max(1),
            since,
            run: 0,
            first_ok: None,
        }
    }

    /// Records a read made at `now`; true once `need` reads in a row were consistent and they
    /// span at least as long as the write took to show in the first of them.
    pub fn record(&mut self, consistent: bool, now: Instant) -> bool {
        if !consistent {
            self.run = 0;
            self.first_ok = None;
            return false;
        }
        self.run += 1;
        let first = *self.first_ok.get_or_insert(now);
        let lag = first.saturating_duration_since(self.since);
        self.run >= self.need && now.saturating_duration_since(first) >= lag
    }

    /// Consistent reads in a row so far.
    pub fn run(&self) -> u32 {
        self.run
    }
}

/// The addresses of changes this run completed that `fresh` (a plan made from a new read of the
/// tenant) still shows as to be done: Entra ID does not show them yet, or someone changed them.
pub fn pending_changes(plan: &Plan, report: &Report, fresh: &Plan) -> Vec<Address> {
    let done: BTreeSet<&Address> = plan
        .changes
        .iter()
        .filter(|c| {
            let mut records = report
                .records
                .iter()
                .filter(|r| r.address == c.address)
                .peekable();
            records.peek().is_some()
                && records.all(|r| matches!(r.outcome, ActionOutcome::Done { .. }))
        })
        .map(|c| &c.address)
        .collect();
    let mut pending: Vec<Address> = fresh
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp && done.contains(&c.address))
        .map(|c| c.address.clone())
        .collect();
    pending.sort();
    pending.dedup();
    pending
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_a_row_must_span_the_time_the_write_took_to_show() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        // Shown at once: three reads in a row are enough.
        let mut s = Streak::new(3, t0);
        assert!(!s.record(true, ms(1)));
        assert!(!s.record(true, ms(2)));
        assert!(s.record(true, ms(3)));
        // Shown after 2 s: the reads must go on until 2 s after the first consistent one.
        let mut s = Streak::new(3, t0);
        assert!(!s.record(false, ms(1_000)));
        assert!(!s.record(true, ms(2_000)));
        assert!(!s.record(true, ms(2_500)));
        assert!(!s.record(true, ms(3_000)));
        assert!(!s.record(true, ms(3_999)));
        assert!(s.record(true, ms(4_000)));
        // A stale read starts the count again.
        let mut s = Streak::new(2, t0);
        assert!(!s.record(true, ms(1)));
        assert!(!s.record(false, ms(2)));
        assert_eq!(s.run(), 0);
        assert!(!s.record(true, ms(3)));
        // ...and the span is measured from the new first consistent read.
        assert!(!s.record(true, ms(4)));
        assert!(s.record(true, ms(6)));
    }

    #[test]
    fn the_interval_grows_to_its_cap() {
        let s = Settle::default();
        assert_eq!(s.delay(1), Duration::from_millis(100));
        assert_eq!(s.delay(2), Duration::from_millis(150));
        assert_eq!(s.delay(30), Duration::from_secs(2));
    }
}
