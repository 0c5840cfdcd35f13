//! Who waited behind whom, whatever order the records arrive in.
//!
//! Every hold record carries a wait, `[lock call entry, acquisition)`, and a hold,
//! `[acquisition, release)`. A wait was spent behind every hold of another acquisition that
//! overlapped it; the blame of a (wait, hold) pair is the length of their overlap. Records do not
//! arrive in time order: the eBPF programs emit a request's holds when `rtnetlink_rcv_msg`
//! returns, which for RTM_DELLINK is long after the release (`netdev_run_todo` runs after the
//! unlock), so the waiters that queued behind a DELLINK arrive before the DELLINK's hold.
//!
//! So neither side waits for the other: the index keeps recent waits and holds, and each new
//! record is matched against both (its wait against the stored holds, its hold against the stored
//! waits) before it is stored itself. A pair is counted once, by whichever of its two records
//! arrives second, so the sum over all pairs, and every figure derived from it, is the same for
//! any order of arrival, and nothing is delayed: a late holder's blame appears when it arrives.
//!
//! Memory is bounded: intervals that ended more than [`LAG_NS`] before the latest time seen are
//! dropped, and each side keeps at most [`HOLDS_CAP`] / [`WAITS_CAP`] intervals (the oldest go
//! first). Dropping moves a *horizon*; a record that reaches behind a horizon may have missed a
//! partner, and is counted in [`Late`] (with the part of its wait behind the holds' horizon), so
//! what fell outside the window is visible rather than silently lost.

use std::collections::VecDeque;

/// How far behind the latest time seen a record may reach and still be matched exactly.
pub const LAG_NS: u64 = 30_000_000_000;
/// At most this many holds are kept for matching.
pub const HOLDS_CAP: usize = 1 << 18;
/// At most this many waits (that waited: fast-path acquisitions have none) are kept.
pub const WAITS_CAP: usize = 1 << 16;

/// An interval with its owner's key, in a side sorted by `from`.
#[derive(Debug, Clone, Copy)]
struct Interval<K> {
    key: K,
    from: u64,
    to: u64,
    /// The latest `to` of this interval and of every one before it in the side: a backwards scan
    /// stops where `reach` no longer passes the start of what it looks for.
    reach: u64,
}

/// The stored waits or the stored holds.
#[derive(Debug, Clone)]
struct Side<K> {
    v: VecDeque<Interval<K>>,
    cap: usize,
    /// Intervals that ended at or before this may have been dropped.
    horizon: u64,
}

impl<K: Copy> Side<K> {
    fn new(cap: usize) -> Self {
        Side {
            v: VecDeque::new(),
            cap,
            horizon: 0,
        }
    }

    fn insert(&mut self, key: K, from: u64, to: u64) {
        // Records mostly arrive close to time order: the common case appends.
        let pos = match self.v.back() {
            // Late ones land close to the end: look there first.
            Some(b) if b.from > from => {
                let n = self.v.len();
                match (1..n.min(16)).find(|&k| self.v[n - 1 - k].from <= from) {
                    Some(k) => n - k,
                    None => self.v.partition_point(|x| x.from <= from),
                }
            }
            b => {
                let reach = b.map_or(to, |b| b.reach.max(to));
                self.v.push_back(Interval {
                    key,
                    from,
                    to,
                    reach,
                });
                return;
            }
        };
        let before = if pos == 0 { 0 } else { self.v[pos - 1].reach };
        self.v.insert(
            pos,
            Interval {
                key,
                from,
                to,
                reach: before.max(to),
            },
        );
        for x in self.v.range_mut(pos + 1..) {
            if x.reach >= to {
                break;
            }
            x.reach = to;
        }
    }

    /// Calls `f` with every stored interval overlapping `[from, to)` and the overlap.
    fn overlapping(&self, from: u64, to: u64, mut f: impl FnMut(&Interval<K>, u64)) {
        // The last interval's reach is the latest end of all: the common case, nothing to find.
        if self.v.back().is_none_or(|b| b.reach <= from) {
            return;
        }
        let end = match self.v.back() {
            Some(b) if b.from >= to => self.v.partition_point(|x| x.from < to),
            _ => self.v.len(),
        };
        for x in self.v.range(..end).rev() {
            if x.reach <= from {
                break;
            }
            let o = x.to.min(to).saturating_sub(x.from.max(from));
            if o > 0 {
                f(x, o);
            }
        }
    }

    /// Drops what ended at or before `before` (when `before` is given), and the oldest beyond
    /// the cap.
    fn trim(&mut self, before: Option<u64>) {
        if let Some(before) = before {
            self.horizon = self.horizon.max(before);
            while self.v.front().is_some_and(|x| x.to <= before) {
                self.v.pop_front();
            }
        }
        while self.v.len() > self.cap {
            let x = self.v.pop_front().expect("over the cap");
            self.horizon = self.horizon.max(x.to);
        }
    }
}

/// Records that reached behind a horizon: their pairs with dropped intervals were not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Late {
    pub records: u64,
    /// The part of their waits behind the holds' horizon (blame possibly missing there).
    pub wait_ns: u64,
}

/// One (wait, hold) pair that overlapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap<K> {
    pub waiter: K,
    pub holder: K,
    pub ns: u64,
    /// Where the overlap lies: `[from, from + ns)`.
    pub from: u64,
}

/// Recent waits and holds, matched pairwise as they arrive. `K` is what the caller wants to know
/// of each side's owner (a handler and a namespace; a thread for the timeline's arrows).
#[derive(Debug, Clone)]
pub struct BlameIndex<K> {
    holds: Side<K>,
    waits: Side<K>,
    latest_ns: u64,
    adds: u64,
    pub late: Late,
}

/// Records between two drops of what fell behind the lag.
const TRIM_EVERY: u64 = 256;

impl<K: Copy> Default for BlameIndex<K> {
    fn default() -> Self {
        Self::with_caps(HOLDS_CAP, WAITS_CAP)
    }
}

impl<K: Copy> BlameIndex<K> {
    pub fn with_caps(holds: usize, waits: usize) -> Self {
        BlameIndex {
            holds: Side::new(holds),
            waits: Side::new(waits),
            latest_ns: 0,
            adds: 0,
            late: Late::default(),
        }
    }

    /// Adds one acquisition: its wait `[wait_start, acquired)` and its hold `[acquired,
    /// released)`, owned by `key`; calls `f` for every pair it completes, with either side.
    pub fn add(
        &mut self,
        key: K,
        wait_start: u64,
        acquired: u64,
        released: u64,
        mut f: impl FnMut(Overlap<K>),
    ) {
        let waited = acquired > wait_start;
        let held = released > acquired;
        let mut late = false;
        if waited {
            if wait_start < self.holds.horizon {
                late = true;
                self.late.wait_ns += acquired.min(self.holds.horizon) - wait_start;
            }
            self.holds.overlapping(wait_start, acquired, |h, ns| {
                f(Overlap {
                    waiter: key,
                    holder: h.key,
                    ns,
                    from: h.from.max(wait_start),
                })
            });
        }
        if held {
            late |= acquired < self.waits.horizon;
            self.waits.overlapping(acquired, released, |w, ns| {
                f(Overlap {
                    waiter: w.key,
                    holder: key,
                    ns,
                    from: w.from.max(acquired),
                })
            });
        }
        self.late.records += u64::from(late);
        if held && released > self.holds.horizon {
            self.holds.insert(key, acquired, released);
        }
        if waited && acquired > self.waits.horizon {
            self.waits.insert(key, wait_start, acquired);
        }
        self.latest_ns = self.latest_ns.max(released).max(acquired);
        // What fell behind the lag goes every TRIM_EVERY records (the oldest intervals are far
        // from the newest in memory); the caps hold at every record.
        self.adds = self.adds.wrapping_add(1);
        let before = self
            .adds
            .is_multiple_of(TRIM_EVERY)
            .then(|| self.latest_ns.saturating_sub(LAG_NS));
        self.holds.trim(before);
        self.waits.trim(before);
    }

    /// Intervals kept (holds, waits): what the index costs in memory.
    pub fn sizes(&self) -> (usize, usize) {
        (self.holds.v.len(), self.waits.v.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (key, wait start, acquired, released) → every overlap, by brute force.
    fn brute(recs: &[(u32, u64, u64, u64)]) -> Vec<(u32, u32, u64)> {
        let mut out = Vec::new();
        for (i, w) in recs.iter().enumerate() {
            for (j, h) in recs.iter().enumerate() {
                if i == j {
                    continue;
                }
                let o = h.3.min(w.2).saturating_sub(h.2.max(w.1));
                if o > 0 {
                    out.push((w.0, h.0, o));
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn indexed(
        recs: &[(u32, u64, u64, u64)],
        caps: (usize, usize),
    ) -> (Vec<(u32, u32, u64)>, Late) {
        let mut ix = BlameIndex::with_caps(caps.0, caps.1);
        let mut out = Vec::new();
        for &(k, a, b, c) in recs {
            ix.add(k, a, b, c, |o| out.push((o.waiter, o.holder, o.ns)));
        }
        out.sort_unstable();
        (out, ix.late)
    }

    #[test]
    fn a_late_holder_is_matched_with_the_waits_that_came_before_it() {
        // A holds [100, 1000) but arrives last; B and C waited behind it.
        let recs = [
            (2, 150, 1000, 1100),
            (3, 200, 1100, 1200),
            (1, 100, 100, 1000),
        ];
        let (got, late) = indexed(&recs, (16, 16));
        assert_eq!(got, brute(&recs));
        assert_eq!(got, vec![(2, 1, 850), (3, 1, 800), (3, 2, 100)]);
        assert_eq!(late, Late::default());
    }

    #[test]
    fn holds_that_overlap_slightly_are_still_all_found() {
        // reach keeps the scan going past a short hold that ends before the wait starts.
        let recs = [(1, 0, 0, 500), (2, 0, 10, 20), (3, 100, 600, 700)];
        let (got, _) = indexed(&recs, (16, 16));
        assert_eq!(got, brute(&recs));
        assert_eq!(got, vec![(2, 1, 10), (3, 1, 400)]);
    }

    #[test]
    fn what_falls_out_of_the_caps_is_counted_late() {
        let recs: Vec<_> = (0..10u64)
            .map(|i| (i as u32, i * 100, i * 100, i * 100 + 100))
            .chain([(99, 50, 1000, 1001)])
            .collect();
        let (got, late) = indexed(&recs, (4, 4));
        // The wait [50, 1000) overlaps ten holds; only the four newest are still kept.
        assert_eq!(got.len(), 4);
        assert_eq!(late.records, 1);
        assert_eq!(late.wait_ns, 600 - 50);
    }

    #[test]
    fn old_intervals_go_after_the_lag() {
        let mut ix = BlameIndex::default();
        ix.add(1u32, 0, 10, 20, |_| {});
        // Fast-path holds far later; the lag is applied every TRIM_EVERY records.
        for i in 1..TRIM_EVERY {
            let t = LAG_NS + 100 + i * 10;
            ix.add(2, t, t, t + 5, |_| {});
        }
        assert_eq!(ix.sizes(), ((TRIM_EVERY - 1) as usize, 0));
        let mut n = 0;
        ix.add(3, 5, 15, 16, |_| n += 1);
        assert_eq!(n, 0, "the first hold was dropped");
        assert_eq!(ix.late.records, 1);
    }

    proptest::proptest! {
        #[test]
        fn any_order_gives_every_overlap_once(
            spec in proptest::collection::vec((0u64..2000, 0u64..3000, 0u64..3000), 1..60),
            seed in proptest::prelude::any::<u64>(),
        ) {
            let recs: Vec<(u32, u64, u64, u64)> = spec
                .iter()
                .enumerate()
                .map(|(i, &(s, w, h))| (i as u32, s, s + w, s + w + h))
                .collect();
            let mut shuffled = recs.clone();
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let (got, late) = indexed(&shuffled, (1 << 10, 1 << 10));
            proptest::prop_assert_eq!(got, brute(&recs));
            proptest::prop_assert_eq!(late, Late::default());
        }
    }
}
