//! The report: the model rendered as text, markdown or JSON. Pure: (model, run info, options) in,
//! a string out. `rtnlprof stat` (live) and `rtnlprof report FILE` print the same thing.
//!
//! JSON (`--format json`), `"format": "rtnlprof-report"`, `"version": 1`. Stable: fields are only
//! ever added within a version. Times are nanoseconds.
//! * run fields at the top level: `kernel`, `hostname`, `boot_id`, `capture_mode`, `start_unix_ns`,
//!   `wall_ns`, `rtnlprof_version`, `kernel_stats` {lost_events, contention_begin, contention_end,
//!   unmatched_release, requests_entered, acquisitions, trylock_failed, recursion_misses},
//!   `decode_errors`, `skipped_hooks` [{target, cause}], `warnings` [string];
//! * `totals`: the handler fields below summed over all handlers;
//! * `handlers` [ranked by hold time]: `handler` (name), `kind` ("msg" | "caller"), for "msg"
//!   `family`, `nlmsg_type`, `type_name`, `dump`; then `requests`, `requests_locked`, `request_ns`,
//!   `holds`, `continuation_holds`, `hold_ns`, `wait_ns`, `max_hold_ns`, `max_wait_ns`,
//!   `contended_waits`, `gp_ns`, `gp_count`, `trylock_failed`, `blamed_ns` (wait others spent
//!   behind this handler's holds), `behind_ns` (the part of its own `wait_ns` spent while others
//!   held RTNL) and `handoff_ns` (the rest: from a release to the waiter running; `wait_ns =
//!   behind_ns + handoff_ns`), `hold` {count, total_ns, p50_ns, p90_ns, p99_ns, max_ns} of all
//!   holds and `wait` (the same figures of the waits that waited: fast-path acquisitions have no
//!   wait and are not in it), and `hold_hist` / `wait_hist`: the histograms themselves
//!   (HdrHistogram V2+DEFLATE, base64);
//! * `tasks` [by hold time]: {tid, tgid, comm, requests, holds, hold_ns, wait_ns, gp_ns};
//! * `blame` [by time]: {waiter, holder, wait_ns}: time `waiter`'s acquisitions waited while
//!   `holder` held RTNL, the same whatever order the records arrived in;
//! * `blame_late` {records, wait_ns}: records that reached further back than the blame keeps
//!   (`model::blame::LAG_NS`, or its caps), and the part of their waits whose holders may be
//!   missing from `blame`;
//! * `utilization`: fraction of each second RTNL was held, from the start of the run;
//! * `candidates` [by score]: {handler, score, unlocked, reasons};
//! * `unavailable` [string]: what the capture mode could not measure. A recording of the
//!   tracepoint mode (`capture_mode` "tracepoint") sees contended waits only: its rows have no
//!   hold fields (`model::doc::HELD_FIELDS`), and `blame`, `utilization` and `candidates` are
//!   absent; `holds`-free rows count waits in `contended_waits` and `wait`.

use crate::model::{
    candidates::{self, human_ns, Candidate},
    doc::{blame_ranked, netns_rows, tasks_ranked, ReportDoc},
    hist::Summary,
    Handler, HandlerStats, Model,
};
pub use crate::run::{KernelStats, RunInfo, SkippedHook};

/// What the tracepoint mode cannot measure, in words.
pub const TP_UNMEASURED: &str = match crate::run::CaptureMode::Tracepoint.unmeasured() {
    Some(w) => w,
    None => "",
};
/// Table columns that show "n/a" in the tracepoint mode.
const TP_UNMEASURED_COLUMNS: &[&str] = &[
    "LOCKED",
    "HOLDS",
    "HELD",
    "HOLD p50",
    "HOLD p99",
    "HOLD max",
    "IN GP",
    "MADE WAIT",
    "BEHIND OTHER NS",
    "SHARE",
];

/// Whether a run was captured in the tracepoint mode (contended waits only).
pub fn tracepoint_mode(mode: &str) -> bool {
    !crate::run::CaptureMode::of(mode).measures_holds()
}

/// Marks the columns the tracepoint mode cannot measure "n/a" instead of showing zeros.
fn mark_unmeasured(mut t: Table) -> Table {
    let cols: Vec<usize> = t
        .head
        .iter()
        .enumerate()
        .filter(|(_, h)| TP_UNMEASURED_COLUMNS.contains(h))
        .map(|(i, _)| i)
        .collect();
    for row in &mut t.rows {
        for &i in &cols {
            if let Some(c) = row.get_mut(i) {
                *c = "n/a".into();
            }
        }
    }
    t
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// Message types and kernel callers.
    Type,
    /// Only holders outside rtnetlink, by kernel caller.
    Caller,
    /// Threads.
    Task,
    /// Network namespaces, and what per-netns RTNL would save per handler.
    Netns,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub top: usize,
    pub by: By,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            top: 20,
            by: By::Type,
        }
    }
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
                let (holds, hold_ns) = r.held.map_or((0, 0), |h| (h.holds, h.hold_ns));
                vec![
                    run.netns_name(r.inode),
                    r.requests.to_string(),
                    holds.to_string(),
                    human_ns(hold_ns),
                    human_ns(r.wait_ns),
                    human_ns(r.cross_wait_ns),
                    pct(r.cross_wait_ns, r.wait_ns),
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
fn netns_savings_table(model: &Model, opts: &Options) -> Table {
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
                vec![
                    h.name(),
                    s.by_netns.keys().filter(|&&n| n != 0).count().to_string(),
                    human_ns(s.wait_ns()),
                    human_ns(s.cross_wait_ns()),
                    pct(s.cross_wait_ns(), s.wait_ns()),
                ]
            })
            .collect(),
    }
}

/// The JSON document (complete: `--top` and `--by` shape only text and markdown).
pub fn json(model: &Model, run: &RunInfo) -> String {
    serde_json::to_string_pretty(&ReportDoc::new(model, run)).expect("serializable")
}

/// A table both text and markdown can print (the first column left-aligned, the others right).
pub(crate) struct Table {
    pub head: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn text(&self) -> String {
        let widths: Vec<usize> = (0..self.head.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.head[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| -> String {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i] - c.chars().count();
                if i == 0 {
                    s += c;
                    s += &" ".repeat(pad);
                } else {
                    s += "  ";
                    s += &" ".repeat(pad);
                    s += c;
                }
            }
            s.trim_end().to_owned() + "\n"
        };
        let mut out = line(self.head.clone());
        for r in &self.rows {
            out += &line(r.iter().map(String::as_str).collect());
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.head.join(" | "));
        out += &format!(
            "|{}|\n",
            self.head
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { " :--- " } else { " ---: " })
                .collect::<Vec<_>>()
                .join("|")
        );
        for r in &self.rows {
            out += &format!("| {} |\n", r.join(" | "));
        }
        out
    }
}

fn handler_table(model: &Model, opts: &Options) -> Table {
    let rows = model
        .ranked()
        .into_iter()
        .filter(|(h, _)| opts.by != By::Caller || matches!(h, Handler::Caller(_)))
        .take(opts.top)
        .map(|(h, s)| {
            let hold = s.hold.summary();
            let wait = s.wait.summary();
            vec![
                h.name(),
                s.requests.to_string(),
                s.requests_locked.to_string(),
                s.holds.to_string(),
                human_ns(hold.total_ns),
                human_ns(hold.p50_ns),
                human_ns(hold.p99_ns),
                human_ns(hold.max_ns),
                human_ns(wait.total_ns),
                p99_of_waits(&wait),
                s.contended_waits.to_string(),
                human_ns(s.gp_ns),
                human_ns(s.blamed_ns),
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

/// The p99 of the waits that waited, or "-" when none did.
fn p99_of_waits(wait: &Summary) -> String {
    if wait.count == 0 {
        "-".into()
    } else {
        human_ns(wait.p99_ns)
    }
}

fn task_table(model: &Model, opts: &Options) -> Table {
    Table {
        head: vec![
            "TASK", "TID", "PID", "REQS", "HOLDS", "HELD", "WAITED", "IN GP",
        ],
        rows: tasks_ranked(model)
            .into_iter()
            .take(opts.top)
            .map(|t| {
                vec![
                    t.comm.clone(),
                    t.tid.to_string(),
                    t.tgid.to_string(),
                    t.requests.to_string(),
                    t.holds.to_string(),
                    human_ns(t.hold_ns),
                    human_ns(t.wait_ns),
                    human_ns(t.gp_ns),
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

fn sparkline(values: &[f64]) -> String {
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

struct Sections {
    summary: Vec<String>,
    warnings: Vec<String>,
    main: (String, Table),
    /// A second table for the main view (--by netns: savings per handler).
    extra: Option<(String, Table)>,
    histogram: Vec<String>,
    blame: Table,
    candidates: Vec<Candidate>,
    utilization: String,
    notes: Vec<String>,
    /// The histogram is of contended waits (tracepoint mode), not of holds.
    tracepoint: bool,
}

fn sections(model: &Model, run: &RunInfo, opts: &Options) -> Sections {
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
    let tp = tracepoint_mode(&run.capture_mode);
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
            handler_table(model, opts),
        ),
        By::Caller => (
            "Holders outside rtnetlink, by kernel caller".to_owned(),
            handler_table(model, opts),
        ),
        By::Task => ("Holders by thread".to_owned(), task_table(model, opts)),
        By::Netns => (
            "Holds and waits by network namespace".to_owned(),
            netns_table(model, run, opts),
        ),
    };
    let extra = (opts.by == By::Netns).then(|| {
        (
            "Wait behind other namespaces, by handler (what per-netns RTNL would save)".to_owned(),
            netns_savings_table(model, opts),
        )
    });
    let main = if tp {
        (main.0, mark_unmeasured(main.1))
    } else {
        main
    };
    let extra = if tp {
        extra.map(|(title, t)| (title, mark_unmeasured(t)))
    } else {
        extra
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

pub fn text(model: &Model, run: &RunInfo, opts: &Options) -> String {
    let s = sections(model, run, opts);
    let mut out = s.summary.join("\n") + "\n";
    for w in &s.warnings {
        out += &format!("WARNING: {w}\n");
    }
    out += &format!("\n{}\n", s.main.0);
    out += &s.main.1.text();
    if let Some((title, table)) = &s.extra {
        out += &format!("\n{title}\n");
        out += &table.text();
    }
    if !s.histogram.is_empty() {
        out += if s.tracepoint {
            "\nWait times (contended waits)\n"
        } else {
            "\nHold times (all holds)\n"
        };
        for l in &s.histogram {
            out += l.trim_end();
            out += "\n";
        }
    }
    if !s.blame.rows.is_empty() {
        out += "\nWho waited behind whom\n";
        out += &s.blame.text();
    }
    if !s.candidates.is_empty() {
        out += "\nCandidates for running without RTNL\n";
        for (i, c) in s.candidates.iter().enumerate() {
            out += &format!("{:>2}. {} (score {:.1})\n", i + 1, c.handler, c.score);
            for r in &c.reasons {
                out += &format!("      - {r}\n");
            }
        }
    }
    if !s.utilization.is_empty() {
        out += &format!("\n{}\n", s.utilization);
    }
    for n in &s.notes {
        out += &format!("note: {n}\n");
    }
    out
}

pub fn markdown(model: &Model, run: &RunInfo, opts: &Options) -> String {
    let s = sections(model, run, opts);
    let mut out = "# RTNL report\n\n".to_owned();
    for l in &s.summary {
        out += &format!("{l}  \n");
    }
    for w in &s.warnings {
        out += &format!("\n> **Warning:** {w}\n");
    }
    out += &format!("\n## {}\n\n", s.main.0);
    out += &s.main.1.markdown();
    if let Some((title, table)) = &s.extra {
        out += &format!("\n## {title}\n\n");
        out += &table.markdown();
    }
    if !s.histogram.is_empty() {
        out += if s.tracepoint {
            "\n## Wait times (contended waits)\n\n```\n"
        } else {
            "\n## Hold times (all holds)\n\n```\n"
        };
        for l in &s.histogram {
            out += l.trim_end();
            out += "\n";
        }
        out += "```\n";
    }
    if !s.blame.rows.is_empty() {
        out += "\n## Who waited behind whom\n\n";
        out += &s.blame.markdown();
    }
    if !s.candidates.is_empty() {
        out += "\n## Candidates for running without RTNL\n\n";
        for (i, c) in s.candidates.iter().enumerate() {
            out += &format!("{}. **{}** (score {:.1})\n", i + 1, c.handler, c.score);
            for r in &c.reasons {
                out += &format!("   - {r}\n");
            }
        }
    }
    if !s.utilization.is_empty() {
        out += &format!("\n{}\n", s.utilization);
    }
    for n in &s.notes {
        out += &format!("\n*note: {n}*\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{MsgType, Record, Request, Task};

    fn model() -> Model {
        let mut m = Model::new();
        m.add(&Record::Request(Request {
            msg: MsgType::from_wire(2, 20, 0),
            nlmsg_flags: 0,
            task: Task {
                tid: 1,
                tgid: 1,
                comm: "ip".into(),
            },
            start_ns: 0,
            end_ns: 1000,
            ret: 0,
            netns: 0,
        }));
        m
    }

    #[test]
    fn json_names_handlers_and_keeps_counts() {
        let run = RunInfo {
            kernel: "6.12.0".into(),
            wall_ns: 5000,
            ..Default::default()
        };
        let v: serde_json::Value = serde_json::from_str(&json(&model(), &run)).unwrap();
        assert_eq!(v["format"], "rtnlprof-report");
        assert_eq!(v["version"], 1);
        assert_eq!(v["kernel"], "6.12.0");
        assert_eq!(v["handlers"][0]["handler"], "AF_INET RTM_NEWADDR");
        assert_eq!(v["handlers"][0]["requests"], 1);
        assert_eq!(v["handlers"][0]["type_name"], "RTM_NEWADDR");
        assert_eq!(v["totals"]["requests"], 1);
        assert_eq!(v["candidates"][0]["unlocked"], true);
    }

    #[test]
    fn text_warns_about_lost_events() {
        let mut run = RunInfo::default();
        let o = Options::default();
        assert!(!text(&model(), &run, &o).contains("WARNING"));
        run.kernel_stats.lost_events = 3;
        assert!(text(&model(), &run, &o).contains("WARNING: 3 events were lost"));
        assert!(markdown(&model(), &run, &o).contains("**Warning:** 3 events were lost"));
    }

    #[test]
    fn sparkline_spans_empty_to_full() {
        assert_eq!(sparkline(&[0.0, 0.5, 1.0, 2.0]), "▁▅██");
    }

    #[test]
    fn by_netns_names_namespaces_and_adds_up() {
        use crate::trace::synthetic::caller_hold;
        let mut m = Model::new();
        for (i, ns) in [7u32, 8, 7].into_iter().enumerate() {
            let t = i as u64 * 1_000;
            let mut r = caller_hold("c", i as u32 + 1, t, t + 500, t + 1_500);
            if let Record::Hold(h) = &mut r {
                h.netns = ns;
            }
            m.add(&r);
        }
        let mut run = RunInfo {
            kernel: "6.12.0".into(),
            wall_ns: 5000,
            ..Default::default()
        };
        run.netns_names.insert(7, "seven".into());
        let opts = Options {
            top: 10,
            by: By::Netns,
        };
        let t = text(&m, &run, &opts);
        assert!(t.contains("Holds and waits by network namespace"), "{t}");
        assert!(t.contains("seven (7)"), "{t}");
        assert!(t.contains("network namespaces 2:"), "{t}");
        assert!(t.contains("what per-netns RTNL would save"), "{t}");
        let v: serde_json::Value = serde_json::from_str(&json(&m, &run)).unwrap();
        let rows = v["netns"].as_array().unwrap();
        let sum = |k: &str| rows.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
        assert_eq!(sum("holds"), v["totals"]["holds"].as_u64().unwrap());
        assert_eq!(sum("wait_ns"), v["totals"]["wait_ns"].as_u64().unwrap());
        assert_eq!(sum("hold_ns"), v["totals"]["hold_ns"].as_u64().unwrap());
        assert!(sum("cross_wait_ns") > 0);
    }
}
