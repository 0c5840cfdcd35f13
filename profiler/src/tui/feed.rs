//! The data side of `top`: records from a source go into a model since the start (or the last
//! reset) and into a short history from which the "last 10 s" window is rebuilt on demand.

use std::{collections::VecDeque, time::Instant};

use crate::{events::Record, model::Model, run::KernelStats};

/// The short window `w` switches to.
pub const WINDOW_NS: u64 = 10_000_000_000;
/// At most this many records are kept for the window; beyond it the window is shorter and says so.
pub const WINDOW_CAP: usize = 1_000_000;

/// At most this many network namespaces get a model of their own (for the `n` filter).
pub const NETNS_MODELS: usize = 64;

/// The network namespace a record acts in (0: unknown).
pub fn netns_of(r: &Record) -> u32 {
    match r {
        Record::Request(q) => q.netns,
        Record::Hold(h) => h.netns,
        Record::TrylockFailed { .. } => 0,
    }
}

pub struct Feed {
    /// Everything since the start or the last reset.
    pub total: Model,
    /// The same, per network namespace (the first NETNS_MODELS seen).
    pub by_netns: std::collections::BTreeMap<u32, Model>,
    /// Records completed in the last WINDOW_NS (by their end time), oldest first.
    recent: VecDeque<Record>,
    /// Records dropped from `recent` because of WINDOW_CAP while still inside the window.
    pub window_capped: bool,
    /// Where the data's clock is: the capture's CLOCK_MONOTONIC, or the replay's position.
    pub now_ns: u64,
    /// Records since the start (not reset by `r`).
    pub records: u64,
    pub kernel_stats: KernelStats,
    rate: Rate,
}

/// Records per second, over the last second or two of wall time.
struct Rate {
    since: Instant,
    count: u64,
    last: f64,
}

impl Feed {
    pub fn new(origin_ns: u64) -> Self {
        Feed {
            total: Model::with_origin(origin_ns),
            by_netns: Default::default(),
            recent: VecDeque::new(),
            window_capped: false,
            now_ns: origin_ns,
            records: 0,
            kernel_stats: KernelStats::default(),
            rate: Rate {
                since: Instant::now(),
                count: 0,
                last: 0.0,
            },
        }
    }

    pub fn add(&mut self, batch: &[Record], now_ns: u64) {
        for r in batch {
            self.total.add(r);
            let ns = netns_of(r);
            if ns != 0 {
                let n = self.by_netns.len();
                let origin = self.total.origin_ns().unwrap_or(0);
                if let Some(m) = self.by_netns.get_mut(&ns) {
                    m.add(r);
                } else if n < NETNS_MODELS {
                    let mut m = Model::with_origin(origin);
                    m.add(r);
                    self.by_netns.insert(ns, m);
                }
            }
            self.recent.push_back(r.clone());
        }
        self.records += batch.len() as u64;
        self.rate.count += batch.len() as u64;
        self.now_ns = self.now_ns.max(now_ns);
        self.trim();
    }

    fn trim(&mut self) {
        let from = self.now_ns.saturating_sub(WINDOW_NS);
        while self.recent.front().is_some_and(|r| r.end_ns() < from) {
            self.recent.pop_front();
        }
        while self.recent.len() > WINDOW_CAP {
            self.recent.pop_front();
            self.window_capped = true;
        }
    }

    /// Starts the model over from `now_ns` (the `r` key); the window history goes too.
    pub fn reset(&mut self) {
        self.total = Model::with_origin(self.now_ns);
        self.by_netns.clear();
        self.recent.clear();
        self.window_capped = false;
    }

    /// The model of the last 10 s of records. A request whose holds fell before the window's start
    /// counts as not having taken RTNL; a wait is split only over holders inside the window.
    pub fn window(&self) -> Model {
        self.window_of(None)
    }

    /// The last 10 s, of one network namespace or of all.
    pub fn window_of(&self, netns: Option<u32>) -> Model {
        let from = self.now_ns.saturating_sub(WINDOW_NS);
        let mut m = Model::with_origin(from);
        for r in self
            .recent
            .iter()
            .filter(|r| r.end_ns() >= from && netns.is_none_or(|n| netns_of(r) == n))
        {
            m.add(r);
        }
        m
    }

    /// Records per second handled, measured over wall time (updated at most once a second).
    pub fn events_per_second(&mut self) -> f64 {
        let dt = self.rate.since.elapsed().as_secs_f64();
        if dt >= 1.0 {
            self.rate.last = self.rate.count as f64 / dt;
            self.rate.count = 0;
            self.rate.since = Instant::now();
        }
        self.rate.last
    }

    /// Seconds since the model's origin.
    fn second_index(&self) -> Option<usize> {
        let origin = self.total.origin_ns()?;
        Some((self.now_ns.saturating_sub(origin) / crate::model::BUCKET_NS) as usize)
    }

    /// RTNL utilization in the last complete second (the current one while the first runs).
    pub fn utilization_now(&self) -> f64 {
        let Some(i) = self.second_index() else {
            return 0.0;
        };
        let u = self.total.utilization();
        u.get(i.saturating_sub(1)).copied().unwrap_or(0.0)
    }

    /// Utilization of the last `n` complete seconds in per mille, oldest first (for a sparkline).
    pub fn utilization_history(&self, n: usize) -> Vec<u64> {
        let Some(i) = self.second_index() else {
            return Vec::new();
        };
        let u = self.total.utilization();
        let end = i.max(1).min(u.len().max(1));
        let start = end.saturating_sub(n);
        (start..end)
            .map(|k| (u.get(k).copied().unwrap_or(0.0) * 1000.0).round() as u64)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::synthetic::Realistic;

    #[test]
    fn the_window_keeps_the_last_ten_seconds_and_the_total_everything() {
        let records: Vec<Record> = Realistic::new().take(200_000).collect();
        let first = records[0].end_ns();
        let last = records.iter().map(|r| r.end_ns()).max().unwrap();
        assert!(
            last - first > 2 * WINDOW_NS,
            "synthetic data spans {} ns",
            last - first
        );
        let mut feed = Feed::new(first);
        for chunk in records.chunks(1000) {
            let now = chunk.iter().map(|r| r.end_ns()).max().unwrap();
            feed.add(chunk, now);
        }
        assert_eq!(feed.total.records, records.len() as u64);
        let window = feed.window();
        let expected = records
            .iter()
            .filter(|r| r.end_ns() >= last - WINDOW_NS)
            .count() as u64;
        assert_eq!(window.records, expected);
        assert!(expected > 0 && expected < records.len() as u64);
        feed.reset();
        assert_eq!(feed.total.records, 0);
        assert_eq!(feed.window().records, 0);
        assert_eq!(feed.records, records.len() as u64);
    }

    #[test]
    fn utilization_now_is_the_last_complete_second() {
        let mut m = crate::trace::synthetic::plain_hold(1, 0, 0, 1_250_000_000);
        let mut feed = Feed::new(0);
        feed.add(std::slice::from_ref(&m), 1_500_000_000);
        // Held all of second 0 and a quarter of second 1; now is in second 1.
        assert_eq!(feed.utilization_now(), 1.0);
        assert_eq!(feed.utilization_history(60), vec![1000]);
        m = crate::trace::synthetic::plain_hold(1, 2_000_000_000, 2_000_000_000, 2_500_000_000);
        feed.add(std::slice::from_ref(&m), 3_100_000_000);
        assert_eq!(feed.utilization_now(), 0.5);
        assert_eq!(feed.utilization_history(60), vec![1000, 250, 500]);
        assert_eq!(feed.utilization_history(2), vec![250, 500]);
    }
}
