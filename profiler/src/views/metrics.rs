//! The model as Prometheus / OpenMetrics text (prometheus-client): what `rtnlprof serve` answers
//! on `/metrics`. Pure: a model and its labels in, text out.
//!
//! Series (counters get `_total` from the encoder; label `handler` as in the reports, `kind`
//! `rtnetlink` or `kernel`):
//! * `rtnl_hold_seconds`, `rtnl_wait_seconds` — histograms per handler (HOLD_BUCKETS);
//! * `rtnl_acquisitions`, `rtnl_contended_waits`, `rtnl_grace_period_seconds`,
//!   `rtnl_grace_periods`, `rtnl_made_others_wait_seconds` (wait others spent behind the
//!   handler's holds: the blame, whatever order records arrived in), `rtnl_waited_behind_seconds`
//!   (the part of the handler's own wait spent behind holders; the rest of `rtnl_wait_seconds` is
//!   hand-off) — counters per handler; `rtnl_requests`, `rtnl_requests_locked`,
//!   `rtnl_request_before_lock_seconds`, `rtnl_request_after_release_seconds` (of the locked
//!   requests: entry to the first lock call, last release to the return) — per message type;
//! * `rtnl_wait_seconds` counts the waits that waited (a fast-path acquisition has none);
//! * `rtnl_held_seconds` (rate() of it is RTNL utilization over any window),
//!   `rtnl_utilization_ratio` (gauge: the last complete second), `rtnl_trylock_failures`,
//!   `rtnl_lost_events`, `rtnl_blame_late_records` (records that reached further back than the
//!   blame keeps), `rtnlprof_records`, and `rtnlprof_build_info`.
//!
//! Label sets stay bounded: message types come from the kernel's fixed table; kernel callers
//! other than the first `limit` (by hold time when they appeared) are summed under
//! `handler="other"`. A caller keeps its series once it has one, so counters never go back.

use std::collections::{BTreeMap, BTreeSet};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{counter::ConstCounter, gauge::ConstGauge, MetricType},
    registry::{Registry, Unit},
};

use crate::{
    model::{Handler, HandlerStats, Model},
    run::CaptureMode,
    run::KernelStats,
};

/// Histogram bucket bounds (seconds): 1-2.5-5 steps from 1 µs to 10 s.
pub const HOLD_BUCKETS: [f64; 22] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
    5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Which kernel callers have series of their own.
#[derive(Debug, Clone, Default)]
pub struct CallerLabels {
    pub limit: usize,
    chosen: BTreeSet<String>,
}

impl CallerLabels {
    pub fn new(limit: usize) -> Self {
        CallerLabels {
            limit,
            chosen: BTreeSet::new(),
        }
    }

    /// Gives series to new callers, most hold time first, while there is room.
    pub fn update(&mut self, model: &Model) {
        if self.chosen.len() >= self.limit {
            return;
        }
        let mut new: Vec<(&String, u64)> = model
            .handlers
            .iter()
            .filter_map(|(h, s)| match h {
                Handler::Caller(c) if !self.chosen.contains(c) => Some((c, s.hold_ns())),
                _ => None,
            })
            .collect();
        new.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        for (c, _) in new.into_iter().take(self.limit - self.chosen.len()) {
            self.chosen.insert(c.clone());
        }
    }

    fn label(&self, h: &Handler) -> (String, &'static str) {
        match h {
            Handler::Msg(_) => (h.name(), "rtnetlink"),
            Handler::Caller(c) if self.chosen.contains(c) => (c.clone(), "kernel"),
            Handler::Caller(_) => ("other".into(), "kernel"),
        }
    }
}

/// Which network namespaces have series of their own (`serve --netns-labels N`): the first `limit`
/// by hold time when they appear, the rest summed as `other`; names from `names`.
#[derive(Debug, Clone, Default)]
pub struct NetnsLabels {
    pub limit: usize,
    chosen: BTreeSet<u32>,
    pub names: BTreeMap<u32, String>,
}

impl NetnsLabels {
    pub fn new(limit: usize) -> Self {
        NetnsLabels {
            limit,
            ..Default::default()
        }
    }

    pub fn update(&mut self, model: &Model) {
        let mut new: Vec<(u32, u64)> = model
            .netns
            .iter()
            .filter(|(n, _)| **n != 0 && !self.chosen.contains(n))
            .map(|(n, s)| (*n, s.hold_ns))
            .collect();
        new.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let room = self.limit.saturating_sub(self.chosen.len());
        self.chosen.extend(new.into_iter().take(room).map(|n| n.0));
    }

    fn label(&self, n: u32) -> String {
        if n == 0 {
            "unknown".into()
        } else if self.chosen.contains(&n) {
            self.names.get(&n).cloned().unwrap_or_else(|| n.to_string())
        } else {
            "other".into()
        }
    }
}

/// What the metrics say besides the model.
#[derive(Debug, Clone, Default)]
pub struct Info {
    pub version: String,
    pub kernel: String,
    pub capture_mode: CaptureMode,
    /// "live" or "replay".
    pub source: String,
    pub kernel_stats: KernelStats,
    pub utilization_now: f64,
    pub records: u64,
}

type Labels = Vec<(String, String)>;

/// A histogram's figures as Prometheus wants them.
#[derive(Debug, Clone, Default)]
struct HistNums {
    sum_ns: u64,
    count: u64,
    /// Cumulative counts at HOLD_BUCKETS.
    le: Vec<u64>,
}

impl HistNums {
    fn of(h: &crate::model::hist::Hist, bounds_ns: &[u64]) -> Self {
        HistNums {
            sum_ns: h.total_ns(),
            count: h.count(),
            le: h.cumulative_le(bounds_ns),
        }
    }
    fn add(&mut self, o: &HistNums) {
        self.sum_ns += o.sum_ns;
        self.count += o.count;
        if self.le.len() < o.le.len() {
            self.le.resize(o.le.len(), 0);
        }
        for (a, b) in self.le.iter_mut().zip(&o.le) {
            *a += b;
        }
    }
}

/// One label set's figures.
#[derive(Debug, Clone, Default)]
struct Series {
    wait: HistNums,
    contended_waits: u64,
    requests: u64,
    /// What needs holds: absent when the capture measured none (those families are left out).
    held: Option<HeldSeries>,
}

#[derive(Debug, Clone, Default)]
struct HeldSeries {
    hold: HistNums,
    holds: u64,
    gp_ns: u64,
    gp_count: u64,
    requests_locked: u64,
    pre_lock_ns: u64,
    post_release_ns: u64,
    trylock_failed: u64,
    blamed_ns: u64,
    behind_ns: u64,
}

impl Series {
    /// A series with nothing in it, of a capture that did (or did not) measure holds.
    fn empty(measured: bool) -> Self {
        Series {
            held: measured.then(HeldSeries::default),
            ..Default::default()
        }
    }
    fn of(s: &HandlerStats, measured: bool, bounds_ns: &[u64]) -> Self {
        Series {
            wait: HistNums::of(&s.wait, bounds_ns),
            contended_waits: s.contended_waits,
            requests: s.requests,
            held: measured.then(|| HeldSeries {
                hold: HistNums::of(&s.hold, bounds_ns),
                holds: s.holds,
                gp_ns: s.gp_ns,
                gp_count: s.gp_count,
                requests_locked: s.requests_locked,
                pre_lock_ns: s.pre_lock_ns,
                post_release_ns: s.post_release_ns,
                trylock_failed: s.trylock_failed,
                blamed_ns: s.blamed_ns,
                behind_ns: s.behind_ns,
            }),
        }
    }
    fn add(&mut self, o: &Series) {
        self.wait.add(&o.wait);
        self.contended_waits += o.contended_waits;
        self.requests += o.requests;
        if let (Some(a), Some(b)) = (self.held.as_mut(), o.held.as_ref()) {
            a.hold.add(&b.hold);
            a.holds += b.holds;
            a.gp_ns += b.gp_ns;
            a.gp_count += b.gp_count;
            a.requests_locked += b.requests_locked;
            a.pre_lock_ns += b.pre_lock_ns;
            a.post_release_ns += b.post_release_ns;
            a.trylock_failed += b.trylock_failed;
            a.blamed_ns += b.blamed_ns;
            a.behind_ns += b.behind_ns;
        }
    }
}

/// One namespace label's figures.
#[derive(Debug, Clone, Default)]
struct NsSeries {
    requests: u64,
    wait_ns: u64,
    /// (holds, hold_ns, cross_wait_ns): absent when the capture measured no holds.
    held: Option<(u64, u64, u64)>,
}

/// Figures of the whole run that need holds.
#[derive(Debug, Clone, Default)]
struct HeldTotals {
    held_ns: u64,
    blame_late: u64,
    utilization_now: f64,
}

/// Everything one scrape encodes, computed from the model.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// (handler, kind) -> figures, "other" callers summed.
    handlers: BTreeMap<(String, &'static str), Series>,
    /// Absent when the capture measured no holds.
    held: Option<HeldTotals>,
    info: Info,
    /// Per namespace label (with --netns-labels).
    netns: Option<BTreeMap<String, NsSeries>>,
}

impl Snapshot {
    fn measured(&self) -> bool {
        self.held.is_some()
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let labels = |(h, k): &(String, &'static str)| -> Labels {
            vec![("handler".into(), h.clone()), ("kind".into(), (*k).into())]
        };
        let empty = Series::empty(self.measured());
        type GetHist = fn(&Series) -> Option<&HistNums>;
        let hists: [(&str, &str, GetHist); 2] = [
            (
                "rtnl_hold",
                "How long rtnl_mutex was held, per handler (message type or kernel caller).",
                |s| s.held.as_ref().map(|h| &h.hold),
            ),
            (
                "rtnl_wait",
                "How long acquisitions of rtnl_mutex waited (lock call to acquisition), per handler.",
                |s| Some(&s.wait),
            ),
        ];
        for (name, help, get) in hists {
            if get(&empty).is_none() {
                continue;
            }
            let mut m =
                enc.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
            for (key, s) in &self.handlers {
                let Some(h) = get(s) else { continue };
                // The encoder sums the buckets itself: hand it each bucket's own count.
                let mut cum = h.le.clone();
                cum.push(h.count);
                let own = cum
                    .iter()
                    .scan(0, |prev, &c| Some(c - std::mem::replace(prev, c)));
                let buckets: Vec<(f64, u64)> = HOLD_BUCKETS
                    .iter()
                    .copied()
                    .chain(std::iter::once(f64::INFINITY))
                    .zip(own)
                    .collect();
                let l = labels(key);
                m.encode_family(&l)?.encode_histogram::<Labels>(
                    h.sum_ns as f64 / 1e9,
                    h.count,
                    &buckets,
                    None,
                )?;
            }
        }
        type Get = fn(&Series) -> Option<f64>;
        let per_handler: [(&str, &str, Option<Unit>, Get, bool); 10] = [
            (
                "rtnl_acquisitions",
                "Acquisitions (holds) of rtnl_mutex, per handler.",
                None,
                |s| s.held.as_ref().map(|h| h.holds as f64),
                false,
            ),
            (
                "rtnl_contended_waits",
                "Acquisitions during which lock:contention_begin fired, per handler.",
                None,
                |s| Some(s.contended_waits as f64),
                false,
            ),
            (
                "rtnl_grace_period",
                "Time spent in RCU grace-period waits while holding rtnl_mutex, per handler.",
                Some(Unit::Seconds),
                |s| s.held.as_ref().map(|h| h.gp_ns as f64 / 1e9),
                false,
            ),
            (
                "rtnl_grace_periods",
                "RCU grace-period waits while holding rtnl_mutex, per handler.",
                None,
                |s| s.held.as_ref().map(|h| h.gp_count as f64),
                false,
            ),
            (
                "rtnl_made_others_wait",
                "Wait other acquisitions spent behind this handler's holds of rtnl_mutex.",
                Some(Unit::Seconds),
                |s| s.held.as_ref().map(|h| h.blamed_ns as f64 / 1e9),
                false,
            ),
            (
                "rtnl_waited_behind",
                "The part of this handler's wait spent while others held rtnl_mutex (the rest is hand-off).",
                Some(Unit::Seconds),
                |s| s.held.as_ref().map(|h| h.behind_ns as f64 / 1e9),
                false,
            ),
            (
                "rtnl_requests",
                "rtnetlink requests (rtnetlink_rcv_msg calls), per message type.",
                None,
                |s| Some(s.requests as f64),
                true,
            ),
            (
                "rtnl_requests_locked",
                "rtnetlink requests during which rtnl_mutex was taken, per message type.",
                None,
                |s| s.held.as_ref().map(|h| h.requests_locked as f64),
                true,
            ),
            (
                "rtnl_request_before_lock",
                "Of the locked requests: time from rtnetlink_rcv_msg's entry to the first lock call (work done outside RTNL), per message type.",
                Some(Unit::Seconds),
                |s| s.held.as_ref().map(|h| h.pre_lock_ns as f64 / 1e9),
                true,
            ),
            (
                "rtnl_request_after_release",
                "Of the locked requests: time from the last release of rtnl_mutex to rtnetlink_rcv_msg's return, per message type.",
                Some(Unit::Seconds),
                |s| s.held.as_ref().map(|h| h.post_release_ns as f64 / 1e9),
                true,
            ),
        ];
        for (name, help, unit, get, msg_only) in per_handler {
            if get(&empty).is_none() {
                continue;
            }
            let mut m = enc.encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
            for (key, s) in &self.handlers {
                if msg_only && key.1 != "rtnetlink" {
                    continue;
                }
                let Some(v) = get(s) else { continue };
                let l = labels(key);
                if v.fract() == 0.0 {
                    ConstCounter::new(v as u64).encode(m.encode_family(&l)?)?;
                } else {
                    ConstCounter::new(v).encode(m.encode_family(&l)?)?;
                }
            }
        }
        let held = self.held.as_ref();
        let trylock: u64 = self
            .handlers
            .values()
            .filter_map(|s| s.held.as_ref())
            .map(|h| h.trylock_failed)
            .sum();
        let i = &self.info;
        let k = &i.kernel_stats;
        let counters: [(&str, &str, Option<Unit>, Option<f64>); 5] = [
            (
                "rtnl_held",
                "Time rtnl_mutex was held; rate() of it is RTNL utilization.",
                Some(Unit::Seconds),
                held.map(|h| h.held_ns as f64 / 1e9),
            ),
            (
                "rtnl_trylock_failures",
                "Failed mutex_trylock(&rtnl_mutex) calls.",
                None,
                held.map(|_| trylock as f64),
            ),
            (
                "rtnl_lost_events",
                "Events the ring buffer could not take (figures are low by them).",
                None,
                Some(k.lost_events as f64),
            ),
            (
                "rtnl_blame_late_records",
                "Records that reached further back than who-waited-behind-whom keeps (their blame may be short).",
                None,
                held.map(|h| h.blame_late as f64),
            ),
            (
                "rtnlprof_records",
                "Records rtnlprof has taken in.",
                None,
                Some(i.records as f64),
            ),
        ];
        for (name, help, unit, v) in counters {
            let Some(v) = v else { continue };
            let m = enc.encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
            if v.fract() == 0.0 {
                ConstCounter::new(v as u64).encode(m)?;
            } else {
                ConstCounter::new(v).encode(m)?;
            }
        }
        if let Some(netns) = &self.netns {
            type GetNs = fn(&NsSeries) -> Option<f64>;
            let families: [(&str, &str, Option<Unit>, GetNs); 5] = [
                (
                    "rtnl_netns_requests",
                    "rtnetlink requests per network namespace (of the request's socket).",
                    None,
                    |n| Some(n.requests as f64),
                ),
                (
                    "rtnl_netns_acquisitions",
                    "Acquisitions of rtnl_mutex per network namespace acted in.",
                    None,
                    |n| n.held.map(|h| h.0 as f64),
                ),
                (
                    "rtnl_netns_hold",
                    "Time rtnl_mutex was held, per network namespace acted in.",
                    Some(Unit::Seconds),
                    |n| n.held.map(|h| h.1 as f64 / 1e9),
                ),
                (
                    "rtnl_netns_wait",
                    "Time acquisitions waited for rtnl_mutex, per network namespace.",
                    Some(Unit::Seconds),
                    |n| Some(n.wait_ns as f64 / 1e9),
                ),
                (
                    "rtnl_netns_cross_wait",
                    "Wait behind holders in other network namespaces: what per-netns RTNL would save.",
                    Some(Unit::Seconds),
                    |n| n.held.map(|h| h.2 as f64 / 1e9),
                ),
            ];
            let empty = NsSeries {
                held: self.measured().then_some((0, 0, 0)),
                ..Default::default()
            };
            for (name, help, unit, get) in families {
                if get(&empty).is_none() {
                    continue;
                }
                let mut m =
                    enc.encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
                for (label, n) in netns {
                    let l: Labels = vec![("netns".into(), label.clone())];
                    if let Some(v) = get(n) {
                        ConstCounter::new(v).encode(m.encode_family(&l)?)?;
                    }
                }
            }
        }
        if let Some(h) = held {
            ConstGauge::new(h.utilization_now).encode(enc.encode_descriptor(
                "rtnl_utilization_ratio",
                "Fraction of the last complete second rtnl_mutex was held.",
                None,
                MetricType::Gauge,
            )?)?;
        }
        let build: Labels = vec![
            ("version".into(), i.version.clone()),
            ("kernel".into(), i.kernel.clone()),
            ("capture_mode".into(), i.capture_mode.as_str().into()),
            ("source".into(), i.source.clone()),
        ];
        enc.encode_descriptor(
            "rtnlprof_build",
            "rtnlprof's version, the kernel and how RTNL is captured.",
            None,
            MetricType::Info,
        )?
        .encode_info(&build)?;
        Ok(())
    }
}

/// The OpenMetrics text of a model (per-namespace series when `netns` is given).
pub fn render(
    model: &Model,
    labels: &CallerLabels,
    netns: Option<&NetnsLabels>,
    info: &Info,
) -> String {
    snapshot(model, labels, netns, info).encode()
}

/// What one scrape shows, taken from the model (small: a few figures per label); encoding it is
/// the costly part, and needs the model no more.
pub fn snapshot(
    model: &Model,
    labels: &CallerLabels,
    netns: Option<&NetnsLabels>,
    info: &Info,
) -> Snapshot {
    let measured = info.capture_mode.measures_holds();
    let bounds_ns: Vec<u64> = HOLD_BUCKETS.iter().map(|s| (s * 1e9) as u64).collect();
    let mut handlers: BTreeMap<(String, &'static str), Series> = BTreeMap::new();
    for (h, s) in &model.handlers {
        handlers
            .entry(labels.label(h))
            .or_insert_with(|| Series::empty(measured))
            .add(&Series::of(s, measured, &bounds_ns));
    }
    let netns = netns.map(|nl| {
        let mut out: BTreeMap<String, crate::model::NsShare> = BTreeMap::new();
        for (n, share) in &model.netns {
            out.entry(nl.label(*n)).or_default().add(share);
        }
        out.into_iter()
            .map(|(label, n)| {
                let s = NsSeries {
                    requests: n.requests,
                    wait_ns: n.wait_ns,
                    held: measured.then_some((n.holds, n.hold_ns, n.cross_wait_ns)),
                };
                (label, s)
            })
            .collect()
    });
    Snapshot {
        handlers,
        held: measured.then(|| HeldTotals {
            held_ns: model.held_per_second.iter().sum(),
            blame_late: model.blame_late().records,
            utilization_now: info.utilization_now,
        }),
        info: info.clone(),
        netns,
    }
}

impl Snapshot {
    /// The OpenMetrics text.
    pub fn encode(self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .expect("writing to a String");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::synthetic::{caller_hold, Realistic};

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn figures_of_the_model_in_openmetrics() {
        let mut m = Model::new();
        Realistic::new().take(20_000).for_each(|r| m.add(&r));
        let mut labels = CallerLabels::new(10);
        labels.update(&m);
        let text = render(&m, &labels, None, &Info::default());
        assert!(text.ends_with("# EOF\n"), "{text}");
        let newlink = &m.handlers[&Handler::Msg(crate::events::MsgType::from_wire(0, 16, 5))];
        let l = r#"{handler="AF_UNSPEC RTM_NEWLINK",kind="rtnetlink"}"#;
        assert_eq!(
            value(&text, &format!("rtnl_requests_total{l}")),
            Some(newlink.requests as f64)
        );
        assert_eq!(
            value(&text, &format!("rtnl_hold_seconds_count{l}")),
            Some(newlink.holds as f64)
        );
        let inf = value(
            &text,
            r#"rtnl_hold_seconds_bucket{le="+Inf",handler="AF_UNSPEC RTM_NEWLINK",kind="rtnetlink"}"#,
        );
        assert_eq!(inf, Some(newlink.holds as f64));
        let sum = value(&text, &format!("rtnl_hold_seconds_sum{l}")).unwrap();
        assert!((sum - newlink.hold_ns() as f64 / 1e9).abs() < 1e-9);
        // Buckets never decrease.
        let buckets: Vec<f64> = text
            .lines()
            .filter(|line| {
                line.starts_with("rtnl_hold_seconds_bucket{")
                    && line.contains(r#"handler="AF_UNSPEC RTM_NEWLINK""#)
            })
            .map(|line| line.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(buckets.len(), HOLD_BUCKETS.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
        let held: u64 = m.held_per_second.iter().sum();
        assert!(
            (value(&text, "rtnl_held_seconds_total").unwrap() - held as f64 / 1e9).abs() < 1e-9
        );
        let trylock = m.totals().trylock_failed;
        assert!(trylock > 0);
        assert_eq!(
            value(&text, "rtnl_trylock_failures_total"),
            Some(trylock as f64)
        );
    }

    /// The families a capture without holds exports are exactly those it measured; a full
    /// capture exports those and every family that needs holds.
    #[test]
    fn families_follow_from_whether_the_mode_measured_holds() {
        let mut m = Model::new();
        Realistic::new().take(5_000).for_each(|r| m.add(&r));
        for ns in 1..=3u32 {
            let t = u64::from(ns) * 1_000_000_000;
            let mut r = caller_hold("c", 1, t, t + 10, t + 1_000);
            if let crate::events::Record::Hold(h) = &mut r {
                h.netns = ns;
            }
            m.add(&r);
        }
        let labels = CallerLabels::new(10);
        let mut nl = NetnsLabels::new(5);
        nl.update(&m);
        let families = |mode| -> BTreeSet<String> {
            let info = Info {
                capture_mode: mode,
                ..Default::default()
            };
            render(&m, &labels, Some(&nl), &info)
                .lines()
                .filter_map(|l| l.strip_prefix("# TYPE "))
                .map(|l| l.split(' ').next().unwrap().to_owned())
                .collect()
        };
        let without: BTreeSet<String> = [
            "rtnl_wait_seconds",
            "rtnl_contended_waits",
            "rtnl_requests",
            "rtnl_lost_events",
            "rtnlprof_records",
            "rtnl_netns_requests",
            "rtnl_netns_wait_seconds",
            "rtnlprof_build",
        ]
        .map(String::from)
        .into();
        let tp = families(CaptureMode::Tracepoint);
        assert_eq!(tp, without);
        let full = families(CaptureMode::Full);
        let held: BTreeSet<String> = full.difference(&without).cloned().collect();
        let want: BTreeSet<String> = [
            "rtnl_hold_seconds",
            "rtnl_acquisitions",
            "rtnl_grace_period_seconds",
            "rtnl_grace_periods",
            "rtnl_made_others_wait_seconds",
            "rtnl_waited_behind_seconds",
            "rtnl_requests_locked",
            "rtnl_request_before_lock_seconds",
            "rtnl_request_after_release_seconds",
            "rtnl_held_seconds",
            "rtnl_trylock_failures",
            "rtnl_blame_late_records",
            "rtnl_netns_acquisitions",
            "rtnl_netns_hold_seconds",
            "rtnl_netns_cross_wait_seconds",
            "rtnl_utilization_ratio",
        ]
        .map(String::from)
        .into();
        assert!(full.is_superset(&without), "{full:?}");
        assert_eq!(held, want);
    }

    #[test]
    fn netns_labels_only_when_asked_and_bounded() {
        let mut m = Model::new();
        for ns in 1..=5u32 {
            let t = u64::from(ns) * 1_000_000;
            let mut r = caller_hold("c", 1, t, t + 10, t + 1_000 * u64::from(ns));
            if let crate::events::Record::Hold(h) = &mut r {
                h.netns = ns;
            }
            m.add(&r);
        }
        let labels = CallerLabels::new(5);
        let plain = render(&m, &labels, None, &Info::default());
        assert!(!plain.contains("netns"), "{plain}");
        let mut nl = NetnsLabels::new(2);
        nl.names.insert(5, "five".into());
        nl.update(&m);
        let text = render(&m, &labels, Some(&nl), &Info::default());
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("rtnl_netns_acquisitions_total{"))
            .collect();
        // The two longest holders (5 and 4), and the rest as other.
        assert_eq!(series.len(), 3, "{series:?}");
        assert_eq!(
            value(&text, r#"rtnl_netns_acquisitions_total{netns="five"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(&text, r#"rtnl_netns_acquisitions_total{netns="4"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(&text, r#"rtnl_netns_acquisitions_total{netns="other"}"#),
            Some(3.0)
        );
    }

    #[test]
    fn callers_beyond_the_limit_are_summed_as_other_and_keep_their_series() {
        let mut m = Model::new();
        for i in 0..30u64 {
            let t = i * 1_000_000;
            m.add(&caller_hold(&format!("c{i:02}"), 1, t, t, t + 1_000 + i));
        }
        let mut labels = CallerLabels::new(5);
        labels.update(&m);
        let text = render(&m, &labels, None, &Info::default());
        let series = text
            .lines()
            .filter(|l| l.starts_with("rtnl_acquisitions_total{"))
            .count();
        assert_eq!(series, 6, "5 callers and other:\n{text}");
        assert_eq!(
            value(
                &text,
                r#"rtnl_acquisitions_total{handler="other",kind="kernel"}"#
            ),
            Some(25.0)
        );
        // The five longest holders got series; a later, longer one goes to other.
        assert!(text.contains(r#"handler="c29""#));
        let t = 100_000_000;
        m.add(&caller_hold("new_big_caller", 1, t, t, t + 10_000_000));
        labels.update(&m);
        let text = render(&m, &labels, None, &Info::default());
        assert!(!text.contains("new_big_caller"));
        assert!(text.contains(r#"handler="c29""#));
        assert_eq!(
            value(
                &text,
                r#"rtnl_acquisitions_total{handler="other",kind="kernel"}"#
            ),
            Some(26.0)
        );
    }
}
