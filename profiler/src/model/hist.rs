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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
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

impl Hist {
    /// How many values were at most each bound (bounds ascending), to the histogram's precision:
    /// a value counts under a bound when the lowest value it cannot be told from is under it.
    pub fn cumulative_le(&self, bounds_ns: &[u64]) -> Vec<u64> {
        let mut out = vec![0u64; bounds_ns.len()];
        for v in self.h.iter_recorded() {
            let low = self.h.lowest_equivalent(v.value_iterated_to());
            if let Some(i) = bounds_ns.iter().position(|&b| low <= b) {
                out[i] += v.count_at_value();
            }
        }
        for i in 1..out.len() {
            out[i] += out[i - 1];
        }
        out
    }
}

impl Hist {
    /// Standard deviation of the recorded values.
    pub fn stdev(&self) -> f64 {
        if self.count() == 0 {
            0.0
        } else {
            self.h.stdev()
        }
    }

    /// A confidence interval of quantile q from the ranks of the order statistics: the values at
    /// q ∓ z·sqrt(q(1−q)/n).
    pub fn quantile_ci(&self, q: f64, z: f64) -> (u64, u64) {
        let n = self.count().max(1) as f64;
        let d = z * (q * (1.0 - q) / n).sqrt();
        (
            self.quantile((q - d).max(0.0)),
            self.quantile((q + d).min(1.0)),
        )
    }

    /// V2 + DEFLATE, base64: the histogram in the form HdrHistogram tools exchange.
    pub fn to_base64(&self) -> String {
        use base64::Engine;
        use hdrhistogram::serialization::Serializer;
        let mut buf = Vec::new();
        hdrhistogram::serialization::V2DeflateSerializer::new()
            .serialize(&self.h, &mut buf)
            .expect("serializing to memory");
        base64::engine::general_purpose::STANDARD.encode(buf)
    }

    /// Reads `to_base64`'s output; the exact total and maximum come from the caller (the report
    /// has them).
    pub fn from_base64(s: &str, total_ns: u64, max_ns: u64) -> Result<Hist, String> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("histogram: {e}"))?;
        let h: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| format!("histogram: {e:?}"))?;
        let mut out = Hist::default();
        out.h.add(&h).map_err(|e| format!("histogram: {e:?}"))?;
        out.total_ns = total_ns;
        out.max_ns = max_ns;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_base64_and_knows_its_spread() {
        let mut h = Hist::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let back = Hist::from_base64(&h.to_base64(), h.total_ns(), h.max_ns()).unwrap();
        assert_eq!(back.summary(), h.summary());
        let (lo, hi) = h.quantile_ci(0.5, 1.96);
        assert!(lo < h.quantile(0.5) && h.quantile(0.5) < hi);
        assert!((h.stdev() - 288_675.0).abs() < 1_000.0);
    }
}
