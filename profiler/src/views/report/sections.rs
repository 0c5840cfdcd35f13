//! The parts of the text and markdown reports: tables, histograms, the summary, notes.

use super::{By, Options, RunInfo, Table, TP_UNMEASURED};
use crate::model::{
    candidates::{self, human_ns, Candidate},
    doc::{blame_ranked, netns_rows, tasks_ranked},
    hist::Summary,
    Handler, HandlerStats, Model,
};

/// A cell of a figure the capture mode did not measure.
const NA: &str = "n/a";

/// A cell that needs holds: `n/a` when the row has none.
fn held<T>(h: Option<&T>, f: impl FnOnce(&T) -> String) -> String {
    h.map_or_else(|| NA.to_owned(), f)
}

fn netns_table(model: &Model, run: &RunInfo, opts: &Options) -> Table {
    Table {
        head: vec![
            "NETNS",
            "REQS",
            "HOLDS",
            "HELD",
            "WAITED",
            "BEHIND OTHER NS",
            "SHARE",
        ],
        rows: netns_rows(model, run)
            .into_iter()
            .take(opts.top)
            .map(|r| {
                let h = r.held.as_ref();
                vec![
                    run.netns_name(r.inode),
                    r.requests.to_string(),
                    held(h, |h| h.holds.to_string()),
                    held(h, |h| human_ns(h.hold_ns)),
                    human_ns(r.wait_ns),
                    held(h, |h| human_ns(h.cross_wait_ns)),
                    held(h, |h| pct(h.cross_wait_ns, r.wait_ns)),
                ]
            })
            .collect(),
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.0}%", 100.0 * part as f64 / whole as f64)
    }
}

/// Per handler: the wait behind other namespaces, what per-netns RTNL would save.
fn netns_savings_table(model: &Model, measured: bool, opts: &Options) -> Table {
    let mut v: Vec<(&Handler, &HandlerStats)> = model
        .handlers
        .iter()
        .filter(|(_, s)| s.wait_ns() > 0)
        .collect();
    v.sort_by(|a, b| {
        (b.1.cross_wait_ns(), b.1.wait_ns())
            .cmp(&(a.1.cross_wait_ns(), a.1.wait_ns()))
            .then_with(|| a.0.cmp(b.0))
    });
    Table {
        head: vec![
            "HANDLER",
            "NAMESPACES",
            "WAITED",
            "BEHIND OTHER NS",
            "SHARE",
        ],
        rows: v
            .into_iter()
            .take(opts.top)
            .map(|(h, s)| {
                let m = measured.then_some(s);
                vec![
                    h.name(),
                    s.by_netns.keys().filter(|&&n| n != 0).count().to_string(),
                    human_ns(s.wait_ns()),
                    held(m, |s| human_ns(s.cross_wait_ns())),
                    held(m, |s| pct(s.cross_wait_ns(), s.wait_ns())),
                ]
            })
            .collect(),
    }
}

/// `measured`: whether the capture measured holds (else their columns say n/a).
fn handler_table(model: &Model, measured: bool, opts: &Options) -> Table {
    let rows = model
        .ranked()
        .into_iter()
        .filter(|(h, _)| opts.by != By::Caller || matches!(h, Handler::Caller(_)))
        .take(opts.top)
        .map(|(h, s)| {
            let m = measured.then_some(s);
            let hold = m.map(|s| s.hold.summary());
            let hold = hold.as_ref();
            let wait = s.wait.summary();
            vec![
                h.name(),
                s.requests.to_string(),
                held(m, |s| s.requests_locked.to_string()),
                held(m, |s| s.holds.to_string()),
                held(hold, |h| human_ns(h.total_ns)),
                held(hold, |h| human_ns(h.p50_ns)),
                held(hold, |h| human_ns(h.p99_ns)),
                held(hold, |h| human_ns(h.max_ns)),
                human_ns(wait.total_ns),
                p99_of_waits(&wait),
                s.contended_waits.to_string(),
                held(m, |s| human_ns(s.gp_ns)),
                held(m, |s| human_ns(s.blamed_ns)),
            ]
        })
        .collect();
    Table {
        head: vec![
            "HANDLER",
            "REQS",
            "LOCKED",
            "HOLDS",
            "HELD",
            "HOLD p50",
            "HOLD p99",
            "HOLD max",
            "WAITED",
            "WAIT>0 p99",
            "CONTENDED",
            "IN GP",
            "MADE WAIT",
        ],
        rows,
    }
}

/// Per request type that took RTNL: how its locked requests split into work before the lock,
/// the hold, and work after the release (what a conversion to PERNET moves out from under it).
fn outside_table(model: &Model, opts: &Options) -> Table {
    let mut v: Vec<(&Handler, &HandlerStats)> = model
        .handlers
        .iter()
        .filter(|(h, s)| matches!(h, Handler::Msg(m) if !m.dump) && s.requests_locked > 0)
        .collect();
    v.sort_by(|a, b| {
        (b.1.pre_lock_ns / b.1.requests_locked)
            .cmp(&(a.1.pre_lock_ns / a.1.requests_locked))
            .then_with(|| a.0.cmp(b.0))
    });
    Table {
        head: vec!["HANDLER", "LOCKED", "BEFORE LOCK", "HELD", "AFTER RELEASE"],
        rows: v
            .into_iter()
            .take(opts.top)
            .map(|(h, s)| {
                let n = s.requests_locked;
                vec![
                    h.name(),
                    format!("{n} of {}", s.requests),
                    human_ns(s.pre_lock_ns / n),
                    human_ns(s.hold_ns() / n),
                    human_ns(s.post_release_ns / n),
                ]
            })
            .collect(),
    }
}

/// The p99 of the waits that waited, or "-" when none did.
fn p99_of_waits(wait: &Summary) -> String {
    if wait.count == 0 {
        "-".into()
    } else {
        human_ns(wait.p99_ns)
    }
}

fn task_table(model: &Model, measured: bool, opts: &Options) -> Table {
    Table {
        head: vec![
            "TASK", "TID", "PID", "REQS", "HOLDS", "HELD", "WAITED", "IN GP",
        ],
        rows: tasks_ranked(model)
            .into_iter()
            .take(opts.top)
            .map(|t| {
                let m = measured.then_some(t);
                vec![
                    t.comm.clone(),
                    t.tid.to_string(),
                    t.tgid.to_string(),
                    t.requests.to_string(),
                    held(m, |t| t.holds.to_string()),
                    held(m, |t| human_ns(t.hold_ns)),
                    human_ns(t.wait_ns),
                    held(m, |t| human_ns(t.gp_ns)),
                ]
            })
            .collect(),
    }
}

fn blame_table(model: &Model, opts: &Options) -> Table {
    Table {
        head: vec!["WAITER", "WAITED BEHIND", "TIME"],
        rows: blame_ranked(model)
            .into_iter()
            .take(opts.top)
            .map(|b| vec![b.waiter, b.holder, human_ns(b.wait_ns)])
            .collect(),
    }
}

const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub(super) fn sparkline(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| SPARK[((v.clamp(0.0, 1.0) * 7.0).round()) as usize])
        .collect()
}

/// Hold-time distribution of all holds (wait times of the contended waits in the tracepoint
/// mode), in power-of-two buckets.
fn histogram_lines(model: &Model, waits: bool) -> Vec<String> {
    let mut all = crate::model::hist::Hist::default();
    for s in model.handlers.values() {
        all.merge(if waits { &s.wait } else { &s.hold });
    }
    let buckets = all.log2_buckets();
    let max = buckets.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    // The first bucket is empty (log2_buckets keeps it as the lower bound of the second).
    buckets
        .windows(2)
        .map(|w| {
            let (lo, (hi, n)) = (w[0].0, w[1]);
            let bar = "#".repeat(((n * 40).div_ceil(max)) as usize);
            format!("{:>9} .. {:<9} {:>7} {bar}", human_ns(lo), human_ns(hi), n)
        })
        .collect()
}

pub(super) struct Sections {
    pub(super) summary: Vec<String>,
    pub(super) warnings: Vec<String>,
    pub(super) main: (String, Table),
    /// A second table for the main view (--by netns: savings per handler).
    pub(super) extra: Option<(String, Table)>,
    pub(super) histogram: Vec<String>,
    pub(super) blame: Table,
    pub(super) candidates: Vec<Candidate>,
    pub(super) utilization: String,
    pub(super) notes: Vec<String>,
    /// The histogram is of contended waits (tracepoint mode), not of holds.
    pub(super) tracepoint: bool,
}

pub(super) fn sections(model: &Model, run: &RunInfo, opts: &Options) -> Sections {
    let t = model.totals();
    let util = if run.wall_ns > 0 {
        100.0 * t.hold_ns() as f64 / run.wall_ns as f64
    } else {
        0.0
    };
    let k = &run.kernel_stats;
    // A host without a name says "(none)" (the guests).
    let host = if run.hostname.is_empty() || run.hostname == "(none)" {
        String::new()
    } else {
        format!(" ({})", run.hostname)
    };
    let tp = !run.mode().measures_holds();
    let mut summary = if tp {
        let mut v = vec![
            format!(
                "RTNL on {}{host} in tracepoint mode: {} requests, {} contended waits in {}; waited {}",
                run.kernel,
                t.requests,
                t.contended_waits,
                human_ns(run.wall_ns),
                human_ns(t.wait_ns())
            ),
            format!(
                "not measured in this mode (contended waits only; record in full mode for them): {TP_UNMEASURED}"
            ),
        ];
        if let Some(why) = &run.capture_fallback {
            v.push(format!("full mode refused by this kernel: {why}"));
        }
        if k.learned_rtnl_mutex != 0 {
            v.push(format!(
                "rtnl_mutex at {:#x}, learned from the kernel stack of a wait; {} waits on other mutexes before that were dropped",
                k.learned_rtnl_mutex, k.unrelated_waits
            ));
        }
        v
    } else {
        Vec::new()
    };
    summary.extend(if tp { vec![] } else { vec![
        format!(
            "RTNL on {}{host}: {} requests, {} holds in {}; held {} ({util:.1}% of the time), waited {} = {} behind holders + {} hand-off",
            run.kernel,
            t.requests,
            t.holds,
            human_ns(run.wall_ns),
            human_ns(t.hold_ns()),
            human_ns(t.wait_ns()),
            human_ns(t.behind_ns),
            human_ns(t.handoff_ns())
        )]});
    summary.push(
        format!(
            "contended waits {} (contention_begin {}, contention_end {}), grace periods under RTNL {} ({}), lost events {}, skipped program runs {}",
            t.contended_waits,
            k.contention_begin,
            k.contention_end,
            t.gp_count,
            human_ns(t.gp_ns),
            k.lost_events,
            k.recursion_misses
        ),
    );
    if model.knows_netns() && !tp {
        let known = model.netns.keys().filter(|&&n| n != 0).count();
        let cross: u64 = model.netns.values().map(|n| n.cross_wait_ns).sum();
        summary.push(format!(
            "network namespaces {known}: {} of the {} waited was behind holders in another namespace ({}), what per-netns RTNL would save",
            human_ns(cross),
            human_ns(t.wait_ns()),
            pct(cross, t.wait_ns())
        ));
    }
    let mut warnings = run.warnings.clone();
    if k.lost_events > 0 {
        warnings.push(format!(
            "{} events were lost (ring buffer full): counts are short; raise --ring-bytes",
            k.lost_events
        ));
    }
    let late = model.blame_late();
    if late.records > 0 && !tp {
        warnings.push(format!(
            "{} records reached further back than who-waited-behind-whom keeps ({} s, or {} holds and {} waits): up to {} of wait may be missing from the blame",
            late.records,
            crate::model::blame::LAG_NS / 1_000_000_000,
            crate::model::blame::HOLDS_CAP,
            crate::model::blame::WAITS_CAP,
            human_ns(late.wait_ns)
        ));
    }
    if run.decode_errors > 0 {
        warnings.push(format!(
            "{} records could not be decoded",
            run.decode_errors
        ));
    }
    let main = match opts.by {
        By::Type => (
            "Holders by message type and kernel caller".to_owned(),
            handler_table(model, !tp, opts),
        ),
        By::Caller => (
            "Holders outside rtnetlink, by kernel caller".to_owned(),
            handler_table(model, !tp, opts),
        ),
        By::Task => ("Holders by thread".to_owned(), task_table(model, !tp, opts)),
        By::Netns => (
            "Holds and waits by network namespace".to_owned(),
            netns_table(model, run, opts),
        ),
    };
    let extra = match opts.by {
        By::Netns => Some((
            "Wait behind other namespaces, by handler (what per-netns RTNL would save)".to_owned(),
            netns_savings_table(model, !tp, opts),
        )),
        By::Type if !tp => Some((
            "Locked requests, per request: work before the first lock call, RTNL held, work after the last release"
                .to_owned(),
            outside_table(model, opts),
        ))
        .filter(|(_, t)| !t.rows.is_empty()),
        _ => None,
    };
    let util_v = if tp { Vec::new() } else { model.utilization() };
    let utilization = if util_v.is_empty() {
        String::new()
    } else {
        let max = util_v.iter().cloned().fold(0.0, f64::max);
        format!(
            "RTNL utilization per second (max {:.0}%): {}",
            max * 100.0,
            sparkline(&util_v)
        )
    };
    Sections {
        summary,
        warnings,
        main,
        extra,
        histogram: histogram_lines(model, tp),
        blame: if tp {
            Table {
                head: Vec::new(),
                rows: Vec::new(),
            }
        } else {
            blame_table(model, opts)
        },
        candidates: if tp {
            Vec::new()
        } else {
            candidates::rank(model).into_iter().take(opts.top).collect()
        },
        tracepoint: tp,
        utilization,
        notes: run
            .skipped_hooks
            .iter()
            .map(|s| format!("{} not hooked: {}", s.target, s.cause))
            .collect(),
    }
}
