//! A latency histogram in nanoseconds (hdrhistogram, 3 significant digits, up to 100 s; longer
//! values are counted at the top but the exact maximum and total are kept beside).

use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Clone, Debug)]
pub struct Hist {
    h: Histogram<u64>,
    total_ns: u64,
    max_ns: u64,
}

/// The figures a report shows of a histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub total_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

pub const HIGHEST_NS: u64 = 100_000_000_000;

impl Default for Hist {
    fn default() -> Self {
        Hist {
            h: Histogram::new_with_bounds(1, HIGHEST_NS, 3).expect("valid bounds"),
            total_ns: 0,
            max_ns: 0,
        }
    }
}

impl Hist {
    pub fn record(&mut self, ns: u64) {
        // 0 ns cannot be told from 1 ns at this precision: count it in the lowest bucket.
        self.h.saturating_record(ns.max(1));
        self.total_ns += ns;
        self.max_ns = self.max_ns.max(ns);
    }

    pub fn count(&self) -> u64 {
        self.h.len()
    }

    pub fn total_ns(&self) -> u64 {
        self.total_ns
    }

    pub fn max_ns(&self) -> u64 {
        self.max_ns
    }

    /// Value at quantile q (0..=1), capped at the exact maximum.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count() == 0 {
            return 0;
        }
        self.h.value_at_quantile(q).min(self.max_ns)
    }

    pub fn merge(&mut self, other: &Hist) {
        self.h.add(&other.h).expect("same bounds");
        self.total_ns += other.total_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    pub fn summary(&self) -> Summary {
        Summary {
            count: self.count(),
            total_ns: self.total_ns,
            p50_ns: self.quantile(0.5),
            p90_ns: self.quantile(0.9),
            p99_ns: self.quantile(0.99),
            max_ns: self.max_ns,
        }
    }
}

impl Hist {
    /// Counts in power-of-two buckets from 1 µs: (upper bound in ns, count). Empty buckets at the
    /// end are cut; at the start all but one (whose bound is the next one's lower bound).
    pub fn log2_buckets(&self) -> Vec<(u64, u64)> {
        if self.count() == 0 {
            return Vec::new();
        }
        let mut out: Vec<(u64, u64)> = self
            .h
            .iter_log(1_000, 2.0)
            .map(|v| (v.value_iterated_to(), v.count_since_last_iteration()))
            .collect();
        while out.last().is_some_and(|b| b.1 == 0) {
            out.pop();
        }
        // Leading empty buckets say nothing either; keep the bound below the first count.
        let first = out.iter().position(|b| b.1 > 0).unwrap_or(0);
        if first == 0 {
            out.insert(0, (0, 0));
        } else {
            out.drain(..first - 1);
        }
        out
    }
}
