//! Comparing two runs: per handler figures side by side, rules, and a noise guard. Pure.
//!
//! A rule is `[HANDLER:]METRIC>+N(%|pp|ns|us|ms|s)` or a count `>+N`:
//! `hold.p99>+20%`, `wait.total>+50ms`, `RTM_NEWLINK:hold.p99>+15%`, `utilization>+5pp`.
//! Metrics: `hold.` / `wait.` + `p50 p90 p99 max total`, `gp.total`, `made_wait.total` (the wait
//! others spent behind the handler's holds), `holds`, `requests`, and the
//! run-wide `utilization` (percentage points). HANDLER matches a handler whose name contains it as
//! a word (`RTM_NEWLINK`, `AF_INET RTM_NEWADDR`, `addrconf_dad_work`).
//!
//! A change is a regression only when it also clears the noise guard:
//! * both sides have at least `min_samples` samples of the metric, and for a quantile q at least
//!   `min_tail` samples above it (n ≥ min_tail / (1 − q): p99 needs 500 samples by default); for
//!   a total, the new side (a total that grew from a few samples to many is the change itself:
//!   waits that were rare and are now common);
//! * quantiles: the confidence intervals of the two quantiles (order-statistic ranks
//!   q ∓ z·sqrt(q(1−q)/n), z for `confidence`) do not overlap;
//! * totals: the increase exceeds z·sqrt(n₁σ₁² + n₂σ₂²), the spread of a sum of n samples;
//! * times: the increase is at least `min_abs_ns` (quantiles, max) or `min_abs_total_ns` (totals):
//!   below that, TCG guests and busy hosts move by themselves;
//! * utilization: the increase in percentage points exceeds the totals' margin over the run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::run::CaptureMode;

use crate::model::{
    doc::{self, ReportDoc},
    hist::Hist,
    Handler, Model,
};

/// One side of the comparison: figures per handler name.
#[derive(Debug, Clone, Default)]
pub struct Side {
    pub name: String,
    pub kernel: String,
    pub capture_mode: CaptureMode,
    pub wall_ns: u64,
    pub lost_events: u64,
    pub warnings: Vec<String>,
    pub handlers: BTreeMap<String, Figures>,
}

#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub requests: u64,
    pub holds: u64,
    pub hold: Hist,
    pub wait: Hist,
    pub gp_ns: u64,
    /// Wait others spent behind this handler's holds (the report's MADE WAIT).
    pub blamed_ns: u64,
}

impl Side {
    /// From a recording's model. What a capture without holds did not measure is absent, as
    /// in its report's JSON (the same figures from either).
    pub fn from_model(name: &str, model: &Model, run: &crate::run::RunInfo) -> Side {
        let held = run.mode().measures_holds();
        Side {
            name: name.to_owned(),
            kernel: run.kernel.clone(),
            capture_mode: run.capture_mode,
            wall_ns: run.wall_ns,
            lost_events: run.kernel_stats.lost_events,
            warnings: run.warnings.clone(),
            handlers: model
                .handlers
                .iter()
                .map(|(h, s): (&Handler, _)| {
                    (
                        h.name(),
                        if held {
                            Figures {
                                requests: s.requests,
                                holds: s.holds,
                                hold: s.hold.clone(),
                                wait: s.wait.clone(),
                                gp_ns: s.gp_ns,
                                blamed_ns: s.blamed_ns,
                            }
                        } else {
                            Figures {
                                requests: s.requests,
                                wait: s.wait.clone(),
                                ..Figures::default()
                            }
                        },
                    )
                })
                .collect(),
        }
    }

    /// From `rtnlprof report --format json` output (version 1, with histograms). A report of
    /// a capture without holds (the tracepoint mode) has none of the hold figures: they read
    /// as none, as from its recording.
    pub fn from_report_json(name: &str, v: &serde_json::Value) -> Result<Side, String> {
        if v["format"] != doc::FORMAT {
            return Err("not an rtnlprof report (no \"format\": \"rtnlprof-report\")".into());
        }
        match v["version"].as_u64() {
            Some(n) if n == u64::from(doc::VERSION) => {}
            Some(n) => {
                return Err(format!(
                    "report version {n} is newer than this rtnlprof reads ({})",
                    doc::VERSION
                ))
            }
            None => return Err("report without a version".into()),
        }
        let d: ReportDoc = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        Self::from_report(name, &d)
    }

    /// From a report's document.
    pub fn from_report(name: &str, d: &ReportDoc) -> Result<Side, String> {
        let held = d.run.mode().measures_holds();
        let mut handlers = BTreeMap::new();
        for h in &d.handlers {
            let hname = h.handler.clone().ok_or("handler without a name")?;
            if held && h.held.is_none() {
                return Err(format!(
                    "{hname}: no hold figures (holds, hold_ns, hold, hold_hist, gp_ns) in a {} capture",
                    d.run.capture_mode
                ));
            }
            let hist = |b64: &str, s: &crate::model::hist::Summary| {
                Hist::from_base64(b64, s.total_ns, s.max_ns).map_err(|e| format!("{hname}: {e}"))
            };
            let (holds, hold, gp_ns, blamed_ns) = match &h.held {
                Some(x) => (x.holds, hist(&x.hold_hist, &x.hold)?, x.gp_ns, x.blamed_ns),
                None => (0, Hist::default(), 0, 0),
            };
            handlers.insert(
                hname.clone(),
                Figures {
                    requests: h.requests,
                    holds,
                    hold,
                    wait: hist(&h.wait_hist, &h.wait)?,
                    gp_ns,
                    blamed_ns,
                },
            );
        }
        Ok(Side {
            name: name.to_owned(),
            kernel: d.run.kernel.clone(),
            capture_mode: d.run.capture_mode,
            wall_ns: d.run.wall_ns,
            lost_events: d.run.kernel_stats.lost_events,
            warnings: d.run.warnings.clone(),
            handlers,
        })
    }

    pub fn hold_total(&self) -> u64 {
        self.handlers.values().map(|f| f.hold.total_ns()).sum()
    }

    pub fn utilization(&self) -> f64 {
        if self.wall_ns == 0 {
            0.0
        } else {
            self.hold_total() as f64 / self.wall_ns as f64
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    HoldQ(u8),
    HoldMax,
    HoldTotal,
    WaitQ(u8),
    WaitMax,
    WaitTotal,
    GpTotal,
    MadeWaitTotal,
    Holds,
    Requests,
    Utilization,
}

impl Metric {
    pub fn parse(s: &str) -> Option<Metric> {
        let q = |p: &str| -> Option<u8> {
            p.strip_prefix('p')?
                .parse()
                .ok()
                .filter(|&n: &u8| n > 0 && n < 100)
        };
        Some(match s {
            "hold.max" => Metric::HoldMax,
            "hold.total" => Metric::HoldTotal,
            "wait.max" => Metric::WaitMax,
            "wait.total" => Metric::WaitTotal,
            "gp.total" => Metric::GpTotal,
            "made_wait.total" => Metric::MadeWaitTotal,
            "holds" => Metric::Holds,
            "requests" => Metric::Requests,
            "utilization" => Metric::Utilization,
            _ => {
                if let Some(p) = s.strip_prefix("hold.") {
                    Metric::HoldQ(q(p)?)
                } else if let Some(p) = s.strip_prefix("wait.") {
                    Metric::WaitQ(q(p)?)
                } else {
                    return None;
                }
            }
        })
    }

    pub fn name(&self) -> String {
        match self {
            Metric::HoldQ(q) => format!("hold.p{q}"),
            Metric::HoldMax => "hold.max".into(),
            Metric::HoldTotal => "hold.total".into(),
            Metric::WaitQ(q) => format!("wait.p{q}"),
            Metric::WaitMax => "wait.max".into(),
            Metric::WaitTotal => "wait.total".into(),
            Metric::GpTotal => "gp.total".into(),
            Metric::MadeWaitTotal => "made_wait.total".into(),
            Metric::Holds => "holds".into(),
            Metric::Requests => "requests".into(),
            Metric::Utilization => "utilization".into(),
        }
    }

    fn is_time(&self) -> bool {
        !matches!(self, Metric::Holds | Metric::Requests | Metric::Utilization)
    }

    /// A sum over samples (its noise is the sums' spread, not the count of either side).
    fn is_total(&self) -> bool {
        matches!(
            self,
            Metric::HoldTotal | Metric::WaitTotal | Metric::GpTotal | Metric::MadeWaitTotal
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// Relative increase, percent.
    Percent(f64),
    /// Absolute increase in nanoseconds (times) or units (counts).
    Absolute(f64),
    /// Percentage points (utilization).
    Points(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub text: String,
    pub handler: Option<String>,
    pub metric: Metric,
    pub threshold: Threshold,
}

impl Rule {
    pub fn parse(text: &str) -> Result<Rule, String> {
        let bad = |why: &str| {
            format!("rule {text:?}: {why} (e.g. hold.p99>+20%, RTM_NEWLINK:wait.total>+50ms, utilization>+5pp)")
        };
        let (lhs, rhs) = text
            .split_once(">+")
            .ok_or_else(|| bad("expected METRIC>+N"))?;
        let (handler, metric) = match lhs.rsplit_once(':') {
            Some((h, m)) => (Some(h.trim().to_owned()), m.trim()),
            None => (None, lhs.trim()),
        };
        let metric = Metric::parse(metric).ok_or_else(|| bad("unknown metric"))?;
        let rhs = rhs.trim();
        let num_end = rhs
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rhs.len());
        let n: f64 = rhs[..num_end]
            .parse()
            .map_err(|_| bad("expected a number"))?;
        let threshold = match (&rhs[num_end..], metric.is_time(), metric) {
            ("%", _, _) => Threshold::Percent(n),
            ("pp", _, Metric::Utilization) => Threshold::Points(n),
            ("ns", true, _) => Threshold::Absolute(n),
            ("us" | "µs", true, _) => Threshold::Absolute(n * 1e3),
            ("ms", true, _) => Threshold::Absolute(n * 1e6),
            ("s", true, _) => Threshold::Absolute(n * 1e9),
            ("", false, m) if m != Metric::Utilization => Threshold::Absolute(n),
            _ => return Err(bad("unit does not fit the metric")),
        };
        if metric == Metric::Utilization && handler.is_some() {
            return Err(bad("utilization is run-wide"));
        }
        Ok(Rule {
            text: text.to_owned(),
            handler,
            metric,
            threshold,
        })
    }

    fn applies_to(&self, handler: &str) -> bool {
        match &self.handler {
            None => true,
            Some(h) => handler == h || handler.split(' ').any(|w| w == h),
        }
    }
}

/// Rules and the noise guard (also from a TOML file: `fail_on = [...]`, `min_samples`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub fail_on: Vec<String>,
    pub min_samples: u64,
    pub min_tail: u64,
    pub confidence: f64,
    pub min_abs_ns: u64,
    pub min_abs_total_ns: u64,
}

/// Holds, waits and utilization: what another RTNL holder inflates (a workload repeated makes the
/// same holds; another holder adds its own). Hold-time rules are opt-in: between
/// two runs of the same workload hold times move with the machine's speed (in the 6.12 guest the
/// same workload's hold.total varied by up to +144% over ten pairs), which no within-run margin sees.
pub const DEFAULT_RULES: &[&str] = &[
    "holds>+25%",
    "wait.p99>+50%",
    "wait.total>+50%",
    "utilization>+10pp",
];

impl Default for Config {
    fn default() -> Self {
        Config {
            fail_on: DEFAULT_RULES.iter().map(|s| s.to_string()).collect(),
            min_samples: 20,
            min_tail: 5,
            confidence: 0.95,
            min_abs_ns: 100_000,
            min_abs_total_ns: 1_000_000,
        }
    }
}

impl Config {
    fn z(&self) -> f64 {
        // Two-sided normal quantiles for the usual levels.
        match self.confidence {
            c if c >= 0.999 => 3.29,
            c if c >= 0.99 => 2.576,
            c if c >= 0.95 => 1.96,
            c if c >= 0.90 => 1.645,
            _ => 1.0,
        }
    }
}

/// One evaluated rule on one handler (or run-wide).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub handler: String,
    pub rule: String,
    pub metric: String,
    pub base: f64,
    pub new: f64,
    /// new - base, and relative change (None when base is 0).
    pub change: f64,
    pub relative: Option<f64>,
    /// Over the rule's threshold.
    pub exceeds: bool,
    /// Clears the noise guard (only meaningful when `exceeds`).
    pub significant: bool,
    pub regression: bool,
    /// Why a change over the threshold was not counted.
    pub note: Option<String>,
}

/// A handler's figures side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub handler: String,
    /// "both", "appeared" (only in NEW) or "vanished" (only in BASE).
    pub presence: &'static str,
    pub requests: (u64, u64),
    pub holds: (u64, u64),
    pub hold_p50: (u64, u64),
    pub hold_p99: (u64, u64),
    pub hold_max: (u64, u64),
    pub hold_total: (u64, u64),
    pub wait_p50: (u64, u64),
    pub wait_p99: (u64, u64),
    pub wait_max: (u64, u64),
    pub wait_total: (u64, u64),
    pub gp_total: (u64, u64),
    /// Wait others spent behind this handler's holds.
    pub made_wait: (u64, u64),
    pub regressions: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub base: String,
    pub new: String,
    pub rules: Vec<String>,
    pub rows: Vec<Row>,
    pub utilization: (f64, f64),
    pub checks: Vec<Check>,
    pub warnings: Vec<String>,
    pub regressions: usize,
}

impl Diff {
    pub fn verdict(&self) -> String {
        if self.regressions == 0 {
            let noise = self
                .checks
                .iter()
                .filter(|c| c.exceeds && !c.significant)
                .count();
            format!(
                "OK: no RTNL regression ({} checks of {} rules{})",
                self.checks.len(),
                self.rules.len(),
                if noise > 0 {
                    format!("; {noise} changes over a threshold were within noise")
                } else {
                    String::new()
                }
            )
        } else {
            let worst: Vec<String> = self
                .checks
                .iter()
                .filter(|c| c.regression)
                .take(3)
                .map(|c| format!("{} {} {}", c.handler, c.metric, change_text(c)))
                .collect();
            format!(
                "REGRESSION: {} check{} failed: {}",
                self.regressions,
                if self.regressions == 1 { "" } else { "s" },
                worst.join("; ")
            )
        }
    }
}

pub fn change_text(c: &Check) -> String {
    match c.relative {
        _ if c.metric == "utilization" => format!("{:+.1}pp", c.change * 100.0),
        Some(r) => format!("{:+.0}%", r * 100.0),
        None => format!("{:+}", c.change),
    }
}

fn pair(b: Option<&Figures>, n: Option<&Figures>, f: impl Fn(&Figures) -> u64) -> (u64, u64) {
    (b.map_or(0, &f), n.map_or(0, &f))
}

/// The value of a metric on one side, its sample count, and its noise (for quantiles the
/// interval, for totals the standard deviation of the sum).
struct Measure {
    value: f64,
    samples: u64,
    lo: f64,
    hi: f64,
    sum_sd: f64,
}

fn measure(f: Option<&Figures>, m: Metric, z: f64) -> Measure {
    let empty = Hist::default();
    let (hist, quantile) = match m {
        Metric::HoldQ(q) => (f.map_or(&empty, |f| &f.hold), Some(f64::from(q) / 100.0)),
        Metric::WaitQ(q) => (f.map_or(&empty, |f| &f.wait), Some(f64::from(q) / 100.0)),
        Metric::HoldMax | Metric::HoldTotal => (f.map_or(&empty, |f| &f.hold), None),
        Metric::WaitMax | Metric::WaitTotal => (f.map_or(&empty, |f| &f.wait), None),
        _ => (&empty, None),
    };
    let n = hist.count();
    let sum_sd = (n as f64).sqrt() * hist.stdev();
    let plain = |v: f64, samples: u64| Measure {
        value: v,
        samples,
        lo: v,
        hi: v,
        sum_sd: 0.0,
    };
    match m {
        Metric::HoldQ(_) | Metric::WaitQ(_) => {
            let q = quantile.unwrap_or(0.5);
            let (lo, hi) = hist.quantile_ci(q, z);
            Measure {
                value: hist.quantile(q) as f64,
                samples: n,
                lo: lo as f64,
                hi: hi as f64,
                sum_sd: 0.0,
            }
        }
        Metric::HoldMax | Metric::WaitMax => plain(hist.max_ns() as f64, n),
        Metric::HoldTotal | Metric::WaitTotal => Measure {
            sum_sd,
            ..plain(hist.total_ns() as f64, n)
        },
        Metric::GpTotal => plain(f.map_or(0, |f| f.gp_ns) as f64, f.map_or(0, |f| f.holds)),
        Metric::MadeWaitTotal => plain(
            f.map_or(0, |f| f.blamed_ns) as f64,
            f.map_or(0, |f| f.holds),
        ),
        Metric::Holds => plain(f.map_or(0, |f| f.holds) as f64, f.map_or(0, |f| f.holds)),
        Metric::Requests => plain(
            f.map_or(0, |f| f.requests) as f64,
            f.map_or(0, |f| f.requests),
        ),
        Metric::Utilization => plain(0.0, 0),
    }
}

/// Samples both sides need before a change of this metric can count.
fn min_samples(m: Metric, cfg: &Config) -> u64 {
    match m {
        Metric::HoldQ(q) | Metric::WaitQ(q) => {
            let tail = (cfg.min_tail as f64 / (1.0 - f64::from(q) / 100.0)).ceil() as u64;
            cfg.min_samples.max(tail)
        }
        _ => cfg.min_samples,
    }
}

fn check(rule: &Rule, handler: &str, b: Measure, n: Measure, cfg: &Config) -> Check {
    let z = cfg.z();
    let change = n.value - b.value;
    let relative = (b.value > 0.0).then(|| change / b.value);
    let exceeds = match rule.threshold {
        Threshold::Percent(p) => relative.map_or(change > 0.0, |r| r * 100.0 > p),
        Threshold::Absolute(a) => change > a,
        Threshold::Points(p) => change * 100.0 > p,
    };
    let mut note = None;
    let significant = if !exceeds {
        false
    } else if n.samples < min_samples(rule.metric, cfg)
        || (b.samples < min_samples(rule.metric, cfg) && !rule.metric.is_total())
    {
        note = Some(format!(
            "too few samples ({} and {}, at least {} needed)",
            b.samples,
            n.samples,
            min_samples(rule.metric, cfg)
        ));
        false
    } else {
        let floor = match rule.metric {
            Metric::HoldTotal | Metric::WaitTotal | Metric::GpTotal | Metric::MadeWaitTotal => {
                cfg.min_abs_total_ns as f64
            }
            m if m.is_time() => cfg.min_abs_ns as f64,
            _ => 0.0,
        };
        if change < floor {
            note = Some(format!(
                "change below the {} floor",
                crate::model::candidates::human_ns(floor as u64)
            ));
            false
        } else {
            match rule.metric {
                Metric::HoldQ(_) | Metric::WaitQ(_) if n.lo <= b.hi => {
                    note = Some("the quantiles' confidence intervals overlap".into());
                    false
                }
                Metric::HoldTotal | Metric::WaitTotal => {
                    let margin = z * (b.sum_sd.powi(2) + n.sum_sd.powi(2)).sqrt();
                    if change <= margin {
                        note = Some(format!(
                            "within the sums' spread ({})",
                            crate::model::candidates::human_ns(margin as u64)
                        ));
                        false
                    } else {
                        true
                    }
                }
                _ => true,
            }
        }
    };
    Check {
        handler: handler.to_owned(),
        rule: rule.text.clone(),
        metric: rule.metric.name(),
        base: b.value,
        new: n.value,
        change,
        relative,
        exceeds,
        significant: exceeds && significant,
        regression: exceeds && significant,
        note,
    }
}

pub fn diff(base: &Side, new: &Side, cfg: &Config) -> Result<Diff, String> {
    let rules: Vec<Rule> = cfg
        .fail_on
        .iter()
        .map(|r| Rule::parse(r))
        .collect::<Result<_, _>>()?;
    let z = cfg.z();
    let mut warnings = Vec::new();
    if base.kernel != new.kernel {
        warnings.push(format!(
            "different kernels: {} and {}",
            base.kernel, new.kernel
        ));
    }
    for s in [base, new] {
        if s.lost_events > 0 {
            warnings.push(format!(
                "{}: {} events were lost while recording",
                s.name, s.lost_events
            ));
        }
        for w in &s.warnings {
            warnings.push(format!("{}: {w}", s.name));
        }
    }
    let names: std::collections::BTreeSet<&String> =
        base.handlers.keys().chain(new.handlers.keys()).collect();
    let mut checks = Vec::new();
    let mut rows = Vec::new();
    for name in names {
        let (b, n) = (base.handlers.get(name), new.handlers.get(name));
        for rule in rules
            .iter()
            .filter(|r| r.metric != Metric::Utilization && r.applies_to(name))
        {
            checks.push(check(
                rule,
                name,
                measure(b, rule.metric, z),
                measure(n, rule.metric, z),
                cfg,
            ));
        }
        rows.push(Row {
            handler: name.clone(),
            presence: match (b, n) {
                (Some(_), Some(_)) => "both",
                (None, _) => "appeared",
                (_, None) => "vanished",
            },
            requests: pair(b, n, |f| f.requests),
            holds: pair(b, n, |f| f.holds),
            hold_p50: pair(b, n, |f| f.hold.quantile(0.5)),
            hold_p99: pair(b, n, |f| f.hold.quantile(0.99)),
            hold_max: pair(b, n, |f| f.hold.max_ns()),
            hold_total: pair(b, n, |f| f.hold.total_ns()),
            wait_p50: pair(b, n, |f| f.wait.quantile(0.5)),
            wait_p99: pair(b, n, |f| f.wait.quantile(0.99)),
            wait_max: pair(b, n, |f| f.wait.max_ns()),
            wait_total: pair(b, n, |f| f.wait.total_ns()),
            gp_total: pair(b, n, |f| f.gp_ns),
            made_wait: pair(b, n, |f| f.blamed_ns),
            regressions: 0,
        });
    }
    // Run-wide utilization: the margin is the hold totals' spread over the run.
    let (ub, un) = (base.utilization(), new.utilization());
    for rule in rules.iter().filter(|r| r.metric == Metric::Utilization) {
        let sd = |s: &Side| -> f64 {
            let var: f64 = s
                .handlers
                .values()
                .map(|f| f.hold.count() as f64 * f.hold.stdev().powi(2))
                .sum();
            var.sqrt() / s.wall_ns.max(1) as f64
        };
        let mut c = check(
            rule,
            "(run)",
            Measure {
                value: ub,
                samples: u64::MAX,
                lo: ub,
                hi: ub,
                sum_sd: 0.0,
            },
            Measure {
                value: un,
                samples: u64::MAX,
                lo: un,
                hi: un,
                sum_sd: 0.0,
            },
            cfg,
        );
        let margin = z * (sd(base).powi(2) + sd(new).powi(2)).sqrt();
        if c.exceeds && c.change <= margin {
            c.significant = false;
            c.regression = false;
            c.note = Some(format!(
                "within the hold totals' spread ({:.1}pp)",
                margin * 100.0
            ));
        }
        checks.push(c);
    }
    // Regressions first, handlers before the run-wide figure, the largest relative change first.
    checks.sort_by(|a, b| {
        b.regression
            .cmp(&a.regression)
            .then_with(|| (a.handler == "(run)").cmp(&(b.handler == "(run)")))
            .then_with(|| {
                b.relative
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&a.relative.unwrap_or(f64::INFINITY))
            })
            .then_with(|| a.handler.cmp(&b.handler))
    });
    for r in &mut rows {
        r.regressions = checks
            .iter()
            .filter(|c| c.regression && c.handler == r.handler)
            .count();
    }
    rows.sort_by(|a, b| {
        b.regressions
            .cmp(&a.regressions)
            .then_with(|| {
                (b.hold_total.1.max(b.hold_total.0)).cmp(&a.hold_total.1.max(a.hold_total.0))
            })
            .then_with(|| a.handler.cmp(&b.handler))
    });
    let regressions = checks.iter().filter(|c| c.regression).count();
    Ok(Diff {
        base: base.name.clone(),
        new: new.name.clone(),
        rules: cfg.fail_on.clone(),
        rows,
        utilization: (ub, un),
        checks,
        warnings,
        regressions,
    })
}

#[cfg(test)]
mod tests;
