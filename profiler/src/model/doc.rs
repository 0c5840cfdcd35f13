//! The report's document: the model's figures as `rtnlprof report --format json` writes them and
//! `rtnlprof diff` reads them back, one type for both (the fields are listed in
//! `views::report`'s documentation).
//!
//! What a capture mode cannot measure is absent by type: every figure that needs holds sits in a
//! `held` part that is `None` when the mode measured none (the tracepoint mode), so the JSON
//! leaves those fields out and a reader finds them absent, never zero.

use serde::{Deserialize, Serialize};

use super::{
    blame::Late,
    candidates::{self, Candidate},
    hist::Summary,
    names, Handler, HandlerStats, Model, TaskStats,
};
use crate::run::RunInfo;

pub const FORMAT: &str = "rtnlprof-report";
pub const VERSION: u32 = 1;

/// Row fields a capture without holds cannot measure: the fields of [`HeldFigures`].
pub const HELD_FIELDS: &[&str] = &[
    "requests_locked",
    "pre_lock_ns",
    "post_release_ns",
    "holds",
    "continuation_holds",
    "hold_ns",
    "max_hold_ns",
    "gp_ns",
    "gp_count",
    "trylock_failed",
    "blamed_ns",
    "behind_ns",
    "handoff_ns",
    "cross_netns_wait_ns",
    "hold",
    "hold_hist",
];
/// Sections a capture without holds cannot fill.
pub const HELD_SECTIONS: &[&str] = &["blame", "blame_late", "utilization", "candidates"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDoc {
    pub format: String,
    pub version: u32,
    #[serde(flatten)]
    pub run: RunInfo,
    pub totals: Row,
    pub handlers: Vec<Row>,
    pub tasks: Vec<TaskRow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blame: Option<Vec<BlameRow>>,
    /// Records that reached behind the blame window: their pairs with dropped intervals are
    /// missing from `blame`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blame_late: Option<Late>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<Candidate>>,
    /// Per network namespace, when the recording knows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub netns: Vec<NetnsRow>,
    /// What the capture mode could not measure (field and section names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
}

/// One handler's figures (or the totals, without the handler fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nlmsg_type: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump: Option<bool>,
    pub requests: u64,
    #[serde(default)]
    pub request_ns: u64,
    pub wait_ns: u64,
    #[serde(default)]
    pub max_wait_ns: u64,
    #[serde(default)]
    pub contended_waits: u64,
    pub wait: Summary,
    /// The wait histogram, HdrHistogram V2+DEFLATE in base64 (what `rtnlprof diff` compares).
    pub wait_hist: String,
    /// What needs holds; absent when the capture measured none.
    #[serde(flatten)]
    pub held: Option<HeldFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldFigures {
    #[serde(default)]
    pub requests_locked: u64,
    /// Of the locked requests: entry to first lock call, and last release to return, summed.
    #[serde(default)]
    pub pre_lock_ns: u64,
    #[serde(default)]
    pub post_release_ns: u64,
    pub holds: u64,
    #[serde(default)]
    pub continuation_holds: u64,
    pub hold_ns: u64,
    #[serde(default)]
    pub max_hold_ns: u64,
    pub gp_ns: u64,
    #[serde(default)]
    pub gp_count: u64,
    #[serde(default)]
    pub trylock_failed: u64,
    #[serde(default)]
    pub blamed_ns: u64,
    /// Of `wait_ns`, the part spent while other acquisitions held RTNL, and the rest (hand-off).
    #[serde(default)]
    pub behind_ns: u64,
    #[serde(default)]
    pub handoff_ns: u64,
    /// Wait behind holders in other network namespaces (present when namespaces are known).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cross_netns_wait_ns: u64,
    pub hold: Summary,
    pub hold_hist: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRow {
    pub tid: u32,
    pub tgid: u32,
    pub comm: String,
    pub requests: u64,
    pub wait_ns: u64,
    #[serde(flatten)]
    pub held: Option<TaskHeld>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskHeld {
    pub holds: u64,
    pub hold_ns: u64,
    pub gp_ns: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlameRow {
    pub waiter: String,
    pub holder: String,
    pub wait_ns: u64,
}

/// One network namespace's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsRow {
    pub inode: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub requests: u64,
    pub wait_ns: u64,
    #[serde(flatten)]
    pub held: Option<NsHeld>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsHeld {
    pub holds: u64,
    pub hold_ns: u64,
    /// Wait spent behind holders acting in another (known) namespace (needs the holds).
    pub cross_wait_ns: u64,
}

/// A handler's row; `held` says whether the capture measured holds.
pub fn row(h: Option<&Handler>, s: &HandlerStats, held: bool) -> Row {
    let (kind, family, nlmsg_type, type_name, dump) = match h {
        Some(Handler::Msg(m)) => (
            Some("msg".to_owned()),
            Some(m.family),
            Some(m.nlmsg_type),
            Some(names::rtm_display(m.nlmsg_type)),
            Some(m.dump),
        ),
        Some(Handler::Caller(_)) => (Some("caller".to_owned()), None, None, None, None),
        None => (None, None, None, None, None),
    };
    Row {
        handler: h.map(Handler::name),
        kind,
        family,
        nlmsg_type,
        type_name,
        dump,
        requests: s.requests,
        request_ns: s.request_ns,
        wait_ns: s.wait_ns(),
        max_wait_ns: s.wait.max_ns(),
        contended_waits: s.contended_waits,
        wait: s.wait.summary(),
        wait_hist: s.wait.to_base64(),
        held: held.then(|| HeldFigures {
            requests_locked: s.requests_locked,
            pre_lock_ns: s.pre_lock_ns,
            post_release_ns: s.post_release_ns,
            holds: s.holds,
            continuation_holds: s.continuation_holds,
            hold_ns: s.hold_ns(),
            max_hold_ns: s.hold.max_ns(),
            gp_ns: s.gp_ns,
            gp_count: s.gp_count,
            trylock_failed: s.trylock_failed,
            blamed_ns: s.blamed_ns,
            behind_ns: s.behind_ns,
            handoff_ns: s.handoff_ns(),
            cross_netns_wait_ns: s.cross_wait_ns(),
            hold: s.hold.summary(),
            hold_hist: s.hold.to_base64(),
        }),
    }
}

/// Threads by hold time, then requests.
pub fn tasks_ranked(model: &Model) -> Vec<&TaskStats> {
    let mut t: Vec<&TaskStats> = model.tasks.values().collect();
    t.sort_by(|a, b| (b.hold_ns, b.requests, a.tid).cmp(&(a.hold_ns, a.requests, b.tid)));
    t
}

/// Who waited behind whom, most first.
pub fn blame_ranked(model: &Model) -> Vec<BlameRow> {
    let mut b: Vec<BlameRow> = model
        .blame()
        .iter()
        .map(|((w, h), ns)| BlameRow {
            waiter: w.name(),
            holder: h.name(),
            wait_ns: *ns,
        })
        .collect();
    b.sort_by(|x, y| {
        y.wait_ns
            .cmp(&x.wait_ns)
            .then_with(|| (&x.waiter, &x.holder).cmp(&(&y.waiter, &y.holder)))
    });
    b
}

/// The namespaces by hold time (none when the recording knows no namespace).
pub fn netns_rows(model: &Model, run: &RunInfo) -> Vec<NetnsRow> {
    if !model.knows_netns() {
        return Vec::new();
    }
    let held = run.mode().measures_holds();
    let mut v: Vec<NetnsRow> = model
        .netns
        .iter()
        .map(|(inode, n)| NetnsRow {
            inode: *inode,
            name: run.netns_names.get(inode).cloned(),
            requests: n.requests,
            wait_ns: n.wait_ns,
            held: held.then_some(NsHeld {
                holds: n.holds,
                hold_ns: n.hold_ns,
                cross_wait_ns: n.cross_wait_ns,
            }),
        })
        .collect();
    v.sort_by(|a, b| {
        let hold = |r: &NetnsRow| r.held.as_ref().map_or(0, |h| h.hold_ns);
        (hold(b), b.requests, a.inode).cmp(&(hold(a), a.requests, b.inode))
    });
    v
}

impl ReportDoc {
    /// The whole document of a run (`--top` and `--by` shape only text and markdown).
    pub fn new(model: &Model, run: &RunInfo) -> ReportDoc {
        let held = run.mode().measures_holds();
        ReportDoc {
            format: FORMAT.into(),
            version: VERSION,
            run: run.clone(),
            totals: row(None, &model.totals(), held),
            handlers: model
                .ranked()
                .into_iter()
                .map(|(h, s)| row(Some(h), s, held))
                .collect(),
            tasks: tasks_ranked(model)
                .into_iter()
                .map(|t| TaskRow {
                    tid: t.tid,
                    tgid: t.tgid,
                    comm: t.comm.clone(),
                    requests: t.requests,
                    wait_ns: t.wait_ns,
                    held: held.then_some(TaskHeld {
                        holds: t.holds,
                        hold_ns: t.hold_ns,
                        gp_ns: t.gp_ns,
                    }),
                })
                .collect(),
            blame: held.then(|| blame_ranked(model)),
            blame_late: held.then(|| model.blame_late()),
            utilization: held.then(|| {
                model
                    .utilization()
                    .into_iter()
                    .map(|u| (u * 1e4).round() / 1e4)
                    .collect()
            }),
            candidates: held.then(|| candidates::rank(model)),
            netns: netns_rows(model, run),
            unavailable: if held {
                Vec::new()
            } else {
                HELD_FIELDS
                    .iter()
                    .chain(HELD_SECTIONS)
                    .map(|s| s.to_string())
                    .collect()
            },
        }
    }
}
