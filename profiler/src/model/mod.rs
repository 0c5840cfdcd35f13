//! The model: pure aggregation of decoded events into RTNL statistics. No I/O.
//!
//! A *handler* is what a hold is attributed to: an rtnetlink message type as the kernel dispatches
//! it (family, type, dump or not), or, for holders outside rtnetlink, their kernel caller. The
//! model keeps per handler hold and wait histograms, grace-period time and contention; per task
//! totals; RTNL utilization per second; and the blame matrix: how much of each waiter's wait was
//! spent behind each holder.

pub mod blame;
pub mod candidates;
pub mod doc;
pub mod handlers;
pub mod hist;
pub mod names;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::events::{Hold, HoldContext, MsgType, Record, Request, RequestId, Task};
use hist::Hist;

/// What a hold or a request is attributed to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Handler {
    Msg(MsgType),
    /// A kernel function that took RTNL outside rtnetlink (ioctl, sysfs, workqueue ...).
    Caller(String),
}

impl Handler {
    /// "AF_INET RTM_NEWADDR", "AF_UNSPEC RTM_GETLINK dump", or the caller's symbol.
    pub fn name(&self) -> String {
        match self {
            Handler::Msg(m) => format!(
                "{} {}{}",
                names::family_name(m.family),
                names::rtm_display(m.nlmsg_type),
                if m.dump { " dump" } else { "" }
            ),
            Handler::Caller(c) => c.clone(),
        }
    }

    /// GET requests (doit or dump) only read state.
    pub fn is_read_only(&self) -> bool {
        matches!(self, Handler::Msg(m) if m.nlmsg_type % 4 == 2)
    }
}

/// Totals for one handler.
#[derive(Debug, Clone, Default)]
pub struct HandlerStats {
    /// rtnetlink_rcv_msg calls (messages) of this type.
    pub requests: u64,
    /// Of those, requests during which RTNL was taken at least once.
    pub requests_locked: u64,
    /// Time from entry to return of rtnetlink_rcv_msg, summed.
    pub request_ns: u64,
    /// Of the locked requests: time from entry of rtnetlink_rcv_msg to the first lock call
    /// (work done before RTNL: parsing, allocation, what a PERNET handler does before taking
    /// it), summed.
    pub pre_lock_ns: u64,
    /// Of the locked requests: time from the last release to the return (`netdev_run_todo`
    /// after the unlock, replies), summed.
    pub post_release_ns: u64,
    /// Holds attributed to this handler (including dump continuations).
    pub holds: u64,
    /// Holds taken while a dump of this type was continued from recvmsg.
    pub continuation_holds: u64,
    pub hold: Hist,
    pub wait: Hist,
    /// Waits during which lock:contention_begin fired at least once.
    pub contended_waits: u64,
    /// Time in RCU grace-period waits while holding RTNL, and how many.
    pub gp_ns: u64,
    pub gp_count: u64,
    /// Failed mutex_trylock(&rtnl_mutex) calls.
    pub trylock_failed: u64,
    /// Wait time other acquisitions spent behind this handler's holds ("made others wait").
    pub blamed_ns: u64,
    /// The part of this handler's own wait spent behind other holders' holds; the rest of its
    /// wait is hand-off (between a release and this waiter running).
    pub behind_ns: u64,
    /// Holds of this handler per thread.
    pub by_task: FxHashMap<u32, TaskShare>,
    /// This handler's requests, holds and waits per network namespace (inode number; 0 unknown).
    pub by_netns: FxHashMap<u32, NsShare>,
}

/// What happened in one network namespace (of one handler, or of all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NsShare {
    pub requests: u64,
    pub holds: u64,
    pub hold_ns: u64,
    pub wait_ns: u64,
    /// Wait spent behind holders acting in another (known) namespace: what per-netns RTNL would
    /// have saved.
    pub cross_wait_ns: u64,
}

impl NsShare {
    pub fn add(&mut self, o: &NsShare) {
        self.requests += o.requests;
        self.holds += o.holds;
        self.hold_ns += o.hold_ns;
        self.wait_ns += o.wait_ns;
        self.cross_wait_ns += o.cross_wait_ns;
    }
}

/// One thread's part of a handler's holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskShare {
    pub holds: u64,
    pub hold_ns: u64,
    pub wait_ns: u64,
}

impl HandlerStats {
    pub fn hold_ns(&self) -> u64 {
        self.hold.total_ns()
    }
    pub fn wait_ns(&self) -> u64 {
        self.wait.total_ns()
    }
    /// Wait not spent behind a holder: from a release to the waiter running (and any wait whose
    /// holder was not seen).
    pub fn handoff_ns(&self) -> u64 {
        self.wait_ns().saturating_sub(self.behind_ns)
    }
    /// Wait spent behind holders in other network namespaces.
    pub fn cross_wait_ns(&self) -> u64 {
        self.by_netns.values().map(|n| n.cross_wait_ns).sum()
    }

    pub fn merge(&mut self, o: &HandlerStats) {
        self.requests += o.requests;
        self.requests_locked += o.requests_locked;
        self.request_ns += o.request_ns;
        self.pre_lock_ns += o.pre_lock_ns;
        self.post_release_ns += o.post_release_ns;
        self.holds += o.holds;
        self.continuation_holds += o.continuation_holds;
        self.hold.merge(&o.hold);
        self.wait.merge(&o.wait);
        self.contended_waits += o.contended_waits;
        self.gp_ns += o.gp_ns;
        self.gp_count += o.gp_count;
        self.trylock_failed += o.trylock_failed;
        self.blamed_ns += o.blamed_ns;
        self.behind_ns += o.behind_ns;
        for (ns, n) in &o.by_netns {
            self.by_netns.entry(*ns).or_default().add(n);
        }
        for (tid, t) in &o.by_task {
            let m = self.by_task.entry(*tid).or_default();
            m.holds += t.holds;
            m.hold_ns += t.hold_ns;
            m.wait_ns += t.wait_ns;
        }
    }
}

/// Totals for one thread.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TaskStats {
    pub tid: u32,
    pub tgid: u32,
    pub comm: String,
    pub requests: u64,
    pub holds: u64,
    pub hold_ns: u64,
    pub wait_ns: u64,
    pub gp_ns: u64,
}

pub const BUCKET_NS: u64 = 1_000_000_000;

#[derive(Debug, Default, Clone)]
pub struct Model {
    pub handlers: handlers::Handlers,
    pub tasks: FxHashMap<u32, TaskStats>,
    /// (waiter, holder) by blame id -> time the waiter's acquisitions spent behind the holder's
    /// holds ([`Model::blame`] names them).
    blame_ids: FxHashMap<(u32, u32), u64>,
    /// The part of it where the holder acted in another network namespace than the waiter.
    blame_cross_ids: FxHashMap<(u32, u32), u64>,
    /// Per network namespace (inode number; 0: unknown) totals.
    pub netns: BTreeMap<u32, NsShare>,
    /// Time RTNL was held in each second since `origin_ns`.
    pub held_per_second: Vec<u64>,
    origin_ns: Option<u64>,
    /// Recent waits and holds, matched pairwise in any order of arrival (keys: handler number in
    /// `handlers`, network namespace).
    blame_index: blame::BlameIndex<(u32, u32)>,
    overlaps: Vec<blame::Overlap<(u32, u32)>>,
    /// Holds seen per request still in flight (holds arrive before their request's exit).
    pending: FxHashMap<RequestId, Pending>,
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
    pub records: u64,
}

/// The holds of a request whose exit has not been seen yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    holds: u64,
    /// Earliest lock call and latest release among them.
    first_lock_ns: u64,
    last_release_ns: u64,
}

impl Model {
    pub fn new() -> Self {
        Self::default()
    }

    /// A model whose utilization timeline starts at `origin_ns` (the recording's start).
    pub fn with_origin(origin_ns: u64) -> Self {
        Model {
            origin_ns: Some(origin_ns),
            ..Self::default()
        }
    }

    fn seen(&mut self, start: u64, end: u64) {
        self.first_ns = Some(self.first_ns.map_or(start, |f| f.min(start)));
        self.last_ns = Some(self.last_ns.map_or(end, |l| l.max(end)));
        if self.origin_ns.is_none() {
            self.origin_ns = Some(start);
        }
    }

    pub fn origin_ns(&self) -> Option<u64> {
        self.origin_ns
    }

    pub fn add(&mut self, record: &Record) {
        self.records += 1;
        match record {
            Record::Request(r) => self.add_request(r),
            Record::Hold(h) => self.add_hold(h),
            Record::TrylockFailed { task, at_ns } => {
                self.seen(*at_ns, *at_ns);
                self.task(task);
                // A failed trylock has no stack of its own here: count it under its own name.
                let id = self.handlers.caller_id("(failed trylock)");
                self.handlers.stats_mut(id).trylock_failed += 1;
            }
        }
    }

    fn task(&mut self, t: &Task) -> &mut TaskStats {
        let s = self.tasks.entry(t.tid).or_default();
        // Same thread, same name: the common case, no allocation.
        if s.comm != t.comm {
            *s = TaskStats {
                tid: t.tid,
                tgid: t.tgid,
                comm: t.comm.to_string(),
                ..s.clone()
            };
        }
        s
    }

    fn add_request(&mut self, r: &Request) {
        self.seen(r.start_ns, r.end_ns);
        self.task(&r.task).requests += 1;
        let id = RequestId {
            tid: r.task.tid,
            start_ns: r.start_ns,
        };
        let pending = self.pending.remove(&id);
        self.netns.entry(r.netns).or_default().requests += 1;
        let id = self.handlers.msg_id(r.msg);
        let s = self.handlers.stats_mut(id);
        s.by_netns.entry(r.netns).or_default().requests += 1;
        s.requests += 1;
        s.request_ns += r.end_ns.saturating_sub(r.start_ns);
        if let Some(p) = pending.filter(|p| p.holds > 0) {
            s.requests_locked += 1;
            s.pre_lock_ns += p.first_lock_ns.saturating_sub(r.start_ns);
            s.post_release_ns += r.end_ns.saturating_sub(p.last_release_ns);
        }
    }

    fn add_hold(&mut self, h: &Hold) {
        self.seen(h.wait_start_ns, h.released_ns);
        let (id, continuation) = match &h.context {
            HoldContext::Request { msg, id } => {
                let p = self.pending.entry(*id).or_insert(Pending {
                    holds: 0,
                    first_lock_ns: h.wait_start_ns,
                    last_release_ns: h.released_ns,
                });
                p.holds += 1;
                p.first_lock_ns = p.first_lock_ns.min(h.wait_start_ns);
                p.last_release_ns = p.last_release_ns.max(h.released_ns);
                (self.handlers.msg_id(*msg), false)
            }
            HoldContext::DumpContinue { msg, .. } => (self.handlers.msg_id(*msg), true),
            HoldContext::Other { caller } => (self.handlers.caller_id(caller), false),
        };
        let t = self.task(&h.task);
        t.holds += 1;
        t.hold_ns += h.hold_ns();
        t.wait_ns += h.wait_ns();
        t.gp_ns += h.gp_ns;

        let n = self.netns.entry(h.netns).or_default();
        n.holds += 1;
        n.hold_ns += h.hold_ns();
        n.wait_ns += h.wait_ns();
        self.add_held(h.acquired_ns, h.released_ns);

        let s = self.handlers.stats_mut(id);
        s.holds += 1;
        s.continuation_holds += u64::from(continuation);
        s.hold.record(h.hold_ns());
        // Percentiles of the waits that waited: a fast-path acquisition has none.
        if h.wait_ns() > 0 {
            s.wait.record(h.wait_ns());
        }
        s.contended_waits += u64::from(h.contention_begins > 0);
        s.gp_ns += h.gp_ns;
        s.gp_count += u64::from(h.gp_count);
        let t = s.by_task.entry(h.task.tid).or_default();
        t.holds += 1;
        t.hold_ns += h.hold_ns();
        t.wait_ns += h.wait_ns();
        let n = s.by_netns.entry(h.netns).or_default();
        n.holds += 1;
        n.hold_ns += h.hold_ns();
        n.wait_ns += h.wait_ns();

        let mut overlaps = std::mem::take(&mut self.overlaps);
        self.blame_index.add(
            (id, h.netns),
            h.wait_start_ns,
            h.acquired_ns,
            h.released_ns,
            |o| overlaps.push(o),
        );
        for o in overlaps.drain(..) {
            self.blame_overlap(o);
        }
        self.overlaps = overlaps;
    }

    fn named(&self, ids: &FxHashMap<(u32, u32), u64>) -> BTreeMap<(Handler, Handler), u64> {
        ids.iter()
            .map(|(&(w, h), &ns)| {
                (
                    (
                        self.handlers.by_id(w).0.clone(),
                        self.handlers.by_id(h).0.clone(),
                    ),
                    ns,
                )
            })
            .collect()
    }

    /// Who waited behind whom: (waiter, holder) -> time the waiter's acquisitions spent while the
    /// holder held RTNL.
    pub fn blame(&self) -> BTreeMap<(Handler, Handler), u64> {
        self.named(&self.blame_ids)
    }

    /// The part of [`Model::blame`] where the holder acted in another network namespace than the
    /// waiter (both known).
    pub fn blame_cross_netns(&self) -> BTreeMap<(Handler, Handler), u64> {
        self.named(&self.blame_cross_ids)
    }

    /// Records that reached behind the blame window (their pairs with dropped intervals are
    /// missing from the blame figures).
    pub fn blame_late(&self) -> blame::Late {
        self.blame_index.late
    }

    /// Adds one (wait, hold) overlap to the blame figures of both sides.
    fn blame_overlap(&mut self, o: blame::Overlap<(u32, u32)>) {
        let ((w, waiter_ns), (h, holder_ns)) = (o.waiter, o.holder);
        let cross = waiter_ns != 0 && holder_ns != 0 && waiter_ns != holder_ns;
        *self.blame_ids.entry((w, h)).or_default() += o.ns;
        let ws = self.handlers.stats_mut(w);
        ws.behind_ns += o.ns;
        if cross {
            ws.by_netns.entry(waiter_ns).or_default().cross_wait_ns += o.ns;
        }
        self.handlers.stats_mut(h).blamed_ns += o.ns;
        if cross {
            self.netns.entry(waiter_ns).or_default().cross_wait_ns += o.ns;
            *self.blame_cross_ids.entry((w, h)).or_default() += o.ns;
        }
    }

    /// Whether any record carried a known network namespace.
    pub fn knows_netns(&self) -> bool {
        self.netns.keys().any(|&n| n != 0)
    }

    /// Adds a held interval to the per-second utilization timeline.
    fn add_held(&mut self, from: u64, to: u64) {
        let origin = self.origin_ns.unwrap_or(from);
        let mut t = from.max(origin);
        while t < to {
            let idx = ((t - origin) / BUCKET_NS) as usize;
            let bucket_end = origin + (idx as u64 + 1) * BUCKET_NS;
            let end = to.min(bucket_end);
            if self.held_per_second.len() <= idx {
                self.held_per_second.resize(idx + 1, 0);
            }
            self.held_per_second[idx] += end - t;
            t = end;
        }
    }

    /// Adds another model's figures to this one (both with the same origin).
    pub fn merge(&mut self, o: &Model) {
        for (h, s) in &o.handlers {
            let id = self.handlers.id(h);
            self.handlers.stats_mut(id).merge(s);
        }
        for (tid, t) in &o.tasks {
            let m = self.tasks.entry(*tid).or_insert_with(|| TaskStats {
                tid: t.tid,
                tgid: t.tgid,
                comm: t.comm.clone(),
                ..Default::default()
            });
            m.requests += t.requests;
            m.holds += t.holds;
            m.hold_ns += t.hold_ns;
            m.wait_ns += t.wait_ns;
            m.gp_ns += t.gp_ns;
        }
        for (theirs, mine) in [(&o.blame_ids, false), (&o.blame_cross_ids, true)] {
            for (&(w, h), &ns) in theirs {
                let w = self.handlers.id(o.handlers.by_id(w).0);
                let h = self.handlers.id(o.handlers.by_id(h).0);
                let to = if mine {
                    &mut self.blame_cross_ids
                } else {
                    &mut self.blame_ids
                };
                *to.entry((w, h)).or_default() += ns;
            }
        }
        for (k, v) in &o.netns {
            self.netns.entry(*k).or_default().add(v);
        }
        if self.held_per_second.len() < o.held_per_second.len() {
            self.held_per_second.resize(o.held_per_second.len(), 0);
        }
        for (a, b) in self.held_per_second.iter_mut().zip(&o.held_per_second) {
            *a += b;
        }
        self.first_ns = [self.first_ns, o.first_ns].into_iter().flatten().min();
        self.last_ns = [self.last_ns, o.last_ns].into_iter().flatten().max();
        self.origin_ns = self.origin_ns.or(o.origin_ns);
        self.records += o.records;
    }

    /// Sum over all handlers.
    pub fn totals(&self) -> HandlerStats {
        let mut t = HandlerStats::default();
        for s in self.handlers.values() {
            t.merge(s);
        }
        t
    }

    /// Total hold and wait time over all handlers, without merging their histograms.
    pub fn hold_wait_ns(&self) -> (u64, u64) {
        self.handlers
            .values()
            .fold((0, 0), |(h, w), s| (h + s.hold_ns(), w + s.wait_ns()))
    }

    /// Handlers ranked by total hold time, then by requests.
    pub fn ranked(&self) -> Vec<(&Handler, &HandlerStats)> {
        let mut v: Vec<_> = self.handlers.iter().collect();
        v.sort_by(|a, b| {
            (b.1.hold_ns(), b.1.requests)
                .cmp(&(a.1.hold_ns(), a.1.requests))
                .then_with(|| a.0.cmp(b.0))
        });
        v
    }

    /// Fraction of each second RTNL was held.
    pub fn utilization(&self) -> Vec<f64> {
        self.held_per_second
            .iter()
            .map(|&ns| ns as f64 / BUCKET_NS as f64)
            .collect()
    }
}

#[cfg(test)]
mod tests;
