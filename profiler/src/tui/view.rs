//! What the screen shows, computed from a model: the rows of the main table with their details,
//! the ranked candidates, and the header's figures. Pure; rebuilt a few times a second.

use std::cmp::Ordering;

use crate::model::{
    candidates::{self, Candidate},
    Handler, Model,
};
use crate::run::CaptureMode;

/// One row of the main table: a message type, or a kernel caller outside rtnetlink.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub handler: Handler,
    pub name: String,
    pub requests: u64,
    pub holds: u64,
    pub hold_p50: u64,
    pub hold_p99: u64,
    pub hold_max: u64,
    pub hold_total: u64,
    /// p99 of the waits that waited (0: none did).
    pub wait_p99: u64,
    pub wait_total: u64,
    /// Wait others spent behind this row's holds.
    pub made_wait: u64,
    /// Share of all RTNL hold time in view.
    pub share: f64,
    pub gp_ns: u64,
    /// Candidate score (message types only).
    pub score: Option<f64>,
    /// Wait behind holders in other network namespaces.
    pub cross_wait: u64,
    /// The known network namespaces its holds and requests acted in.
    pub netns_inodes: Vec<u32>,
    /// How the NETNS column shows them (set with the names).
    pub netns: String,
    pub detail: Detail,
}

/// The detail pane's data for one row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detail {
    /// Power-of-two buckets: (upper bound ns, count).
    pub hold_buckets: Vec<(u64, u64)>,
    pub wait_buckets: Vec<(u64, u64)>,
    /// (thread "comm[tid]", holds, hold ns), most hold time first.
    pub top_tasks: Vec<(String, u64, u64)>,
    /// (holder, wait ns behind it, share of this row's blamed wait), most first.
    pub waited_behind: Vec<(String, u64, f64)>,
    /// The rest of this row's wait: from a release to the waiter running.
    pub handoff_ns: u64,
    pub contended_waits: u64,
    pub continuation_holds: u64,
    pub gp_count: u64,
    pub trylock_failed: u64,
    pub requests_locked: u64,
    /// Of the locked requests: entry to the first lock call, last release to the return, summed.
    pub pre_lock_ns: u64,
    pub post_release_ns: u64,
}

/// Columns of the main table, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Handler,
    Requests,
    Holds,
    HoldP50,
    HoldP99,
    HoldMax,
    HoldTotal,
    WaitP99,
    WaitTotal,
    MadeWait,
    Share,
    Gp,
    Score,
    Netns,
    CrossNs,
}

impl Column {
    pub const ALL: [Column; 15] = [
        Column::Handler,
        Column::Requests,
        Column::Holds,
        Column::HoldP50,
        Column::HoldP99,
        Column::HoldMax,
        Column::HoldTotal,
        Column::WaitP99,
        Column::WaitTotal,
        Column::MadeWait,
        Column::Share,
        Column::Gp,
        Column::Score,
        Column::Netns,
        Column::CrossNs,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Handler => "HANDLER",
            Column::Requests => "REQS",
            Column::Holds => "HOLDS",
            Column::HoldP50 => "HOLD p50",
            Column::HoldP99 => "HOLD p99",
            Column::HoldMax => "HOLD max",
            Column::HoldTotal => "HELD",
            Column::WaitP99 => "WAIT>0 p99",
            Column::WaitTotal => "WAITED",
            Column::MadeWait => "MADE WAIT",
            Column::Share => "RTNL%",
            Column::Gp => "IN GP",
            Column::Score => "SCORE",
            Column::Netns => "NETNS",
            Column::CrossNs => "OTHER NS",
        }
    }

    /// Columns wide.
    pub fn width(self) -> u16 {
        match self {
            Column::Netns => 12,
            Column::WaitP99 => 10,
            _ => 9,
        }
    }

    /// Which columns give way first on a narrow terminal (higher: dropped earlier).
    pub fn drop_order(self) -> u8 {
        match self {
            Column::Handler | Column::HoldTotal => 0,
            Column::Share => 1,
            Column::HoldP99 => 2,
            Column::MadeWait => 3,
            Column::WaitTotal => 4,
            Column::Score => 5,
            Column::Requests => 6,
            Column::Holds => 7,
            Column::WaitP99 => 8,
            Column::Gp => 9,
            Column::HoldMax => 10,
            Column::HoldP50 => 11,
            Column::CrossNs => 12,
            Column::Netns => 13,
        }
    }

    pub fn next(self) -> Column {
        let i = Column::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Column::ALL[(i + 1) % Column::ALL.len()]
    }

    /// Ascending order of two rows by this column.
    pub fn cmp(self, a: &Row, b: &Row) -> Ordering {
        match self {
            Column::Handler => a.name.cmp(&b.name),
            Column::Requests => a.requests.cmp(&b.requests),
            Column::Holds => a.holds.cmp(&b.holds),
            Column::HoldP50 => a.hold_p50.cmp(&b.hold_p50),
            Column::HoldP99 => a.hold_p99.cmp(&b.hold_p99),
            Column::HoldMax => a.hold_max.cmp(&b.hold_max),
            Column::HoldTotal => a.hold_total.cmp(&b.hold_total),
            Column::WaitP99 => a.wait_p99.cmp(&b.wait_p99),
            Column::WaitTotal => a.wait_total.cmp(&b.wait_total),
            Column::MadeWait => a.made_wait.cmp(&b.made_wait),
            Column::Share => a.share.total_cmp(&b.share),
            Column::Gp => a.gp_ns.cmp(&b.gp_ns),
            Column::Score => a.score.unwrap_or(-1.0).total_cmp(&b.score.unwrap_or(-1.0)),
            Column::Netns => a.netns.cmp(&b.netns),
            Column::CrossNs => a.cross_wait.cmp(&b.cross_wait),
        }
    }
}

/// Sorts rows by `column` (descending unless `ascending`), ties by name, so the order is stable.
pub fn sort_rows(rows: &mut [Row], column: Column, ascending: bool) {
    rows.sort_by(|a, b| {
        let o = column.cmp(a, b);
        let o = if ascending { o } else { o.reverse() };
        o.then_with(|| a.name.cmp(&b.name))
    });
}

const DETAIL_TOP: usize = 5;

/// The rows of a model, unsorted.
pub fn rows(model: &Model, cands: &[Candidate]) -> Vec<Row> {
    let total_hold = model.hold_wait_ns().0;
    let mut blamed: std::collections::BTreeMap<&Handler, Vec<(&Handler, u64)>> = Default::default();
    let blame = model.blame();
    for ((waiter, holder), ns) in &blame {
        blamed.entry(waiter).or_default().push((holder, *ns));
    }
    model
        .handlers
        .iter()
        .map(|(h, s)| {
            let name = h.name();
            let score = match h {
                Handler::Msg(_) => cands.iter().find(|c| c.handler == name).map(|c| c.score),
                Handler::Caller(_) => None,
            };
            let mut top_tasks: Vec<(String, u64, u64)> = s
                .by_task
                .iter()
                .map(|(tid, t)| {
                    let comm = model.tasks.get(tid).map_or("?", |t| t.comm.as_str());
                    (format!("{comm}[{tid}]"), t.holds, t.hold_ns)
                })
                .collect();
            top_tasks.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
            top_tasks.truncate(DETAIL_TOP);
            let mut behind = blamed.get(h).cloned().unwrap_or_default();
            let behind_total: u64 = behind.iter().map(|b| b.1).sum();
            behind.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let waited_behind = behind
                .iter()
                .take(DETAIL_TOP)
                .map(|(holder, ns)| (holder.name(), *ns, *ns as f64 / behind_total.max(1) as f64))
                .collect();
            Row {
                handler: h.clone(),
                name,
                requests: s.requests,
                holds: s.holds,
                hold_p50: s.hold.quantile(0.5),
                hold_p99: s.hold.quantile(0.99),
                hold_max: s.hold.max_ns(),
                hold_total: s.hold_ns(),
                wait_p99: s.wait.quantile(0.99),
                wait_total: s.wait_ns(),
                made_wait: s.blamed_ns,
                share: if total_hold > 0 {
                    s.hold_ns() as f64 / total_hold as f64
                } else {
                    0.0
                },
                gp_ns: s.gp_ns,
                score,
                cross_wait: s.cross_wait_ns(),
                netns_inodes: {
                    let mut v: Vec<u32> = s.by_netns.keys().copied().filter(|&n| n != 0).collect();
                    v.sort_unstable();
                    v
                },
                netns: String::new(),
                detail: Detail {
                    hold_buckets: s.hold.log2_buckets(),
                    wait_buckets: s.wait.log2_buckets(),
                    top_tasks,
                    waited_behind,
                    handoff_ns: s.handoff_ns(),
                    contended_waits: s.contended_waits,
                    continuation_holds: s.continuation_holds,
                    gp_count: s.gp_count,
                    trylock_failed: s.trylock_failed,
                    requests_locked: s.requests_locked,
                    pre_lock_ns: s.pre_lock_ns,
                    post_release_ns: s.post_release_ns,
                },
            }
        })
        .collect()
}

/// The figures of the header line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeaderInfo {
    pub kernel: String,
    pub mode: CaptureMode,
    /// "live", or "replay FILE ×SPEED".
    pub source: String,
    /// Time covered so far (capture time, or the replay's position in the recording).
    pub elapsed_ns: u64,
    pub events_per_second: f64,
    pub records: u64,
    pub lost: u64,
    pub utilization_now: f64,
    /// Per mille, one per second, oldest first (the last minute).
    pub utilization_history: Vec<u64>,
    /// Set when the source has ended (replay finished, command exited, capture failed).
    pub ended: Option<String>,
}

/// Everything a frame shows of the data, frozen while paused.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub header: HeaderInfo,
    pub rows: Vec<Row>,
    pub candidates: Vec<Candidate>,
    /// What the table covers: "since start", "last 10 s".
    pub window: String,
    pub hold_total: u64,
    pub wait_total: u64,
    /// The network namespaces the `n` key cycles through: (inode, name).
    pub netns: Vec<(u32, String)>,
}

impl Snapshot {
    pub fn new(model: &Model, header: HeaderInfo, window: String) -> Self {
        let candidates = candidates::rank(model);
        let rows = rows(model, &candidates);
        let (hold_total, wait_total) = model.hold_wait_ns();
        Snapshot {
            header,
            rows,
            candidates,
            window,
            hold_total,
            wait_total,
            netns: Vec::new(),
        }
    }
}
