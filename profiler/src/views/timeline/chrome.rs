//! Chrome trace-event JSON (opens in Perfetto's UI and chrome://tracing), written as records come:
//! * one track per thread (pid = thread group, tid = thread), named by its command;
//! * a slice per hold named by its handler, with the wait, grace periods and request as arguments;
//!   a slice per wait before it ("wait: HANDLER"), and per rtnetlink request ("request: HANDLER");
//!   a slice that would overlap another on its track without nesting goes on an async track;
//! * flow arrows from each holder a wait waited behind to the wait, the overlap in the start's
//!   `overlap_us`: the model's blame pairs (`model::blame`), found whatever order records came in;
//! * counters on the "RTNL" process: held (0/1), waiters, and utilization per 100 ms;
//! * a "network namespaces" process with a track per namespace: every hold acting in it.
//!
//! Times are microseconds from the recording's start with nanosecond digits.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque},
    io::{self, Write},
};

use serde_json::{json, Value};

use super::{hold_handler, Filter};
use crate::{
    events::{Hold, HoldContext, Record},
    model::blame::BlameIndex,
    model::names,
    trace::Header,
};

/// The pseudo-process the counters live on.
const RTNL_PID: u32 = 0;
/// The pseudo-process with a track per network namespace (all holds acting in it).
const NETNS_PID: u32 = u32::MAX - 1;
/// Slices kept per thread to check that a new one nests.
const GUARD_SLICES: usize = 64;
/// Records arrive in completion order; a hold's wait can start this long before the latest record
/// seen and still be counted exactly in the counters.
pub const LATENESS_NS: u64 = 30_000_000_000;
const UTIL_BUCKET_NS: u64 = 100_000_000;

/// What an export wrote, for the summary line and the tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub holds: u64,
    pub waits: u64,
    pub requests: u64,
    pub flows: u64,
    pub async_slices: u64,
    /// Holds whose wait started before the counters had already been written up to.
    pub late_for_counters: u64,
}

pub struct ChromeWriter<W: Write> {
    out: W,
    first: bool,
    origin_ns: u64,
    filter: Filter,
    named: HashSet<u32>,
    named_pids: HashSet<u32>,
    /// Recent exported waits and holds (of (tgid, tid)), matched as the model's blame is.
    blame: BlameIndex<(u32, u32)>,
    guard: HashMap<u32, VecDeque<(u64, u64)>>,
    next_id: u64,
    /// Counter change points: (ts, held delta, waiters delta), earliest first.
    changes: BinaryHeap<Reverse<(u64, i64, i64)>>,
    held: i64,
    waiters: i64,
    counted_up_to: u64,
    last_counter: Option<(i64, i64)>,
    util: BTreeMap<u64, u64>,
    last_util_bucket: Option<u64>,
    latest_ns: u64,
    /// Network namespace inode -> its track number, in order of appearance.
    netns_tracks: BTreeMap<u32, u32>,
    netns_names: BTreeMap<u32, String>,
    pub stats: Stats,
}

fn us(ns: u64, origin: u64) -> Value {
    // Exact: microseconds with three decimals, from integer nanoseconds.
    let d = ns.saturating_sub(origin);
    let s = format!("{}.{:03}", d / 1000, d % 1000);
    serde_json::from_str(&s).unwrap_or(Value::Null)
}

fn dur(ns: u64) -> Value {
    us(ns, 0)
}

impl<W: Write> ChromeWriter<W> {
    pub fn new(mut out: W, header: &Header, filter: Filter) -> io::Result<Self> {
        out.write_all(b"{\"displayTimeUnit\":\"ns\",\"otherData\":")?;
        serde_json::to_writer(
            &mut out,
            &json!({
                "producer": format!("rtnlprof {}", env!("CARGO_PKG_VERSION")),
                "kernel": header.kernel,
                "hostname": header.hostname,
                "capture_mode": header.capture_mode,
                "clock": header.clock,
                "start_mono_ns": header.start_mono_ns,
                "start_unix_ns": header.start_unix_ns,
            }),
        )?;
        out.write_all(b",\"traceEvents\":[\n")?;
        let mut w = ChromeWriter {
            out,
            first: true,
            origin_ns: header.start_mono_ns,
            filter,
            named: HashSet::new(),
            named_pids: HashSet::new(),
            blame: BlameIndex::default(),
            guard: HashMap::new(),
            next_id: 1,
            changes: BinaryHeap::new(),
            held: 0,
            waiters: 0,
            counted_up_to: 0,
            last_counter: None,
            util: BTreeMap::new(),
            last_util_bucket: None,
            latest_ns: 0,
            netns_tracks: BTreeMap::new(),
            netns_names: header.netns_names.clone(),
            stats: Stats::default(),
        };
        w.event(&json!({"ph": "M", "name": "process_name", "pid": RTNL_PID,
            "args": {"name": format!("RTNL ({})", header.kernel)}}))?;
        w.event(
            &json!({"ph": "M", "name": "process_sort_index", "pid": RTNL_PID,
            "args": {"sort_index": -1}}),
        )?;
        Ok(w)
    }

    fn event(&mut self, v: &Value) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.out, v)?;
        Ok(())
    }

    fn name_thread(&mut self, tid: u32, tgid: u32, comm: &str) -> io::Result<()> {
        if self.named_pids.insert(tgid) {
            self.event(&json!({"ph": "M", "name": "process_name", "pid": tgid,
                "args": {"name": format!("{comm} ({tgid})")}}))?;
        }
        if self.named.insert(tid) {
            self.event(
                &json!({"ph": "M", "name": "thread_name", "pid": tgid, "tid": tid,
                "args": {"name": format!("{comm} ({tid})")}}),
            )?;
        }
        Ok(())
    }

    /// A complete slice, or an async pair when it would not nest on its thread's track.
    fn slice(
        &mut self,
        tgid: u32,
        tid: u32,
        (start, end): (u64, u64),
        name: &str,
        cat: &str,
        args: Value,
    ) -> io::Result<()> {
        let g = self.guard.entry(tid).or_default();
        let nests = g.iter().all(|&(s, e)| {
            e <= start || end <= s || (start <= s && e <= end) || (s <= start && end <= e)
        });
        if nests {
            g.push_back((start, end));
            if g.len() > GUARD_SLICES {
                g.pop_front();
            }
            self.event(
                &json!({"ph": "X", "name": name, "cat": cat, "pid": tgid, "tid": tid,
                "ts": us(start, self.origin_ns), "dur": dur(end - start), "args": args}),
            )
        } else {
            self.stats.async_slices += 1;
            let id = self.next_id;
            self.next_id += 1;
            self.event(
                &json!({"ph": "b", "name": name, "cat": cat, "pid": tgid, "tid": tid,
                "id": id, "ts": us(start, self.origin_ns), "args": args}),
            )?;
            self.event(
                &json!({"ph": "e", "name": name, "cat": cat, "pid": tgid, "tid": tid,
                "id": id, "ts": us(end, self.origin_ns)}),
            )
        }
    }

    pub fn record(&mut self, r: &Record) -> io::Result<()> {
        let (_, end) = super::span(r);
        self.latest_ns = self.latest_ns.max(end);
        if let Record::Hold(h) = r {
            if self.filter.counts(r) {
                self.count(h);
            }
        }
        if self.filter.keeps(r) {
            match r {
                Record::Hold(h) => self.hold(h)?,
                Record::Request(q) => {
                    self.name_thread(q.task.tid, q.task.tgid, &q.task.comm)?;
                    let name = format!("request: {}", crate::model::Handler::Msg(q.msg).name());
                    self.slice(
                        q.task.tgid,
                        q.task.tid,
                        (q.start_ns, q.end_ns),
                        &name,
                        "request",
                        json!({"nlmsg_type": q.msg.nlmsg_type,
                            "type": names::rtm_display(q.msg.nlmsg_type),
                            "family": names::family_name(q.msg.family),
                            "nlmsg_flags": format!("{:#x}", q.nlmsg_flags),
                            "dump": q.msg.dump, "ret": q.ret}),
                    )?;
                    self.stats.requests += 1;
                }
                Record::TrylockFailed { task, at_ns } => {
                    self.name_thread(task.tid, task.tgid, &task.comm)?;
                    self.event(&json!({"ph": "i", "s": "t", "name": "failed trylock",
                        "cat": "trylock", "pid": task.tgid, "tid": task.tid,
                        "ts": us(*at_ns, self.origin_ns)}))?;
                }
            }
        }
        self.flush_counters(self.latest_ns.saturating_sub(LATENESS_NS))
    }

    fn hold(&mut self, h: &Hold) -> io::Result<()> {
        let (tid, tgid) = (h.task.tid, h.task.tgid);
        self.name_thread(tid, tgid, &h.task.comm)?;
        let handler = hold_handler(&h.context).name();
        let mut args = json!({
            "wait_us": dur(h.wait_ns()),
            "hold_us": dur(h.hold_ns()),
            "gp_us": dur(h.gp_ns),
            "gp_count": h.gp_count,
            "contention_begins": h.contention_begins,
            "lock_fn": format!("{:?}", h.lock_fn),
        });
        if h.netns != 0 {
            args["netns"] = json!(h.netns);
        }
        match &h.context {
            HoldContext::Request { id, .. } => {
                args["request_start_us"] = us(id.start_ns, self.origin_ns);
            }
            HoldContext::DumpContinue { id, .. } => {
                args["dump_continuation"] = json!(true);
                args["request_start_us"] = us(id.start_ns, self.origin_ns);
            }
            HoldContext::Other { caller } => args["caller"] = json!(caller),
        }
        let wait_ns = h.wait_ns();
        if wait_ns > 0 {
            self.slice(
                tgid,
                tid,
                (h.wait_start_ns, h.acquired_ns),
                &format!("wait: {handler}"),
                "wait",
                json!({"wait_us": dur(wait_ns), "contention_begins": h.contention_begins}),
            )?;
            self.stats.waits += 1;
        }
        self.flows(h)?;
        self.slice(
            tgid,
            tid,
            (h.acquired_ns, h.released_ns),
            &handler,
            "hold",
            args,
        )?;
        self.stats.holds += 1;
        if h.netns != 0 {
            // The namespace's track: RTNL serialises holds, so its slices never overlap.
            let next = self.netns_tracks.len() as u32 + 1;
            let track = *self.netns_tracks.entry(h.netns).or_insert(next);
            self.event(
                &json!({"ph": "X", "name": handler, "cat": "netns", "pid": NETNS_PID,
                "tid": track, "ts": us(h.acquired_ns, self.origin_ns),
                "dur": dur(h.hold_ns()),
                "args": {"netns": h.netns, "tid": tid, "comm": h.task.comm}}),
            )?;
        }
        Ok(())
    }

    /// Arrows from holders to the waits that waited behind them: this hold's wait behind the
    /// holds already seen, and the waits already seen behind this hold (a request's holds come
    /// when it returns, after the waits that queued behind them).
    fn flows(&mut self, h: &Hold) -> io::Result<()> {
        let mut pairs = Vec::new();
        self.blame.add(
            (h.task.tgid, h.task.tid),
            h.wait_start_ns,
            h.acquired_ns,
            h.released_ns,
            |o| pairs.push(o),
        );
        for o in pairs {
            let ((wpid, wtid), (hpid, htid)) = (o.waiter, o.holder);
            if wtid == htid {
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            // Start inside the holder's slice, end inside the wait's (before its hold begins).
            let (s, f) = (o.from, o.from + o.ns - 1);
            self.event(
                &json!({"ph": "s", "id": id, "name": "waited behind", "cat": "blame",
                "pid": hpid, "tid": htid, "ts": us(s, self.origin_ns),
                "args": {"overlap_us": dur(o.ns)}}),
            )?;
            self.event(
                &json!({"ph": "f", "bp": "e", "id": id, "name": "waited behind",
                "cat": "blame", "pid": wpid, "tid": wtid, "ts": us(f, self.origin_ns)}),
            )?;
            self.stats.flows += 1;
        }
        Ok(())
    }

    fn count(&mut self, h: &Hold) {
        if h.wait_start_ns < self.counted_up_to {
            self.stats.late_for_counters += 1;
        }
        if h.acquired_ns > h.wait_start_ns {
            self.changes.push(Reverse((h.wait_start_ns, 0, 1)));
            self.changes.push(Reverse((h.acquired_ns, 0, -1)));
        }
        self.changes.push(Reverse((h.acquired_ns, 1, 0)));
        self.changes.push(Reverse((h.released_ns, -1, 0)));
        // Utilization per bucket.
        let mut t = h.acquired_ns;
        while t < h.released_ns {
            let b = t / UTIL_BUCKET_NS;
            let e = h.released_ns.min((b + 1) * UTIL_BUCKET_NS);
            *self.util.entry(b).or_default() += e - t;
            t = e;
        }
    }

    /// Writes the counters for every change point before `upto`.
    fn flush_counters(&mut self, upto: u64) -> io::Result<()> {
        while let Some(&Reverse((ts, _, _))) = self.changes.peek() {
            if ts >= upto {
                break;
            }
            // All changes at this instant, then one value.
            while let Some(&Reverse((t, dh, dw))) = self.changes.peek() {
                if t != ts {
                    break;
                }
                self.changes.pop();
                self.held += dh;
                self.waiters += dw;
            }
            let now = (self.held, self.waiters);
            if self.last_counter != Some(now) {
                self.last_counter = Some(now);
                self.event(&json!({"ph": "C", "name": "RTNL", "pid": RTNL_PID,
                    "ts": us(ts, self.origin_ns),
                    "args": {"held": now.0, "waiters": now.1}}))?;
            }
            self.counted_up_to = ts;
        }
        let done: Vec<u64> = self
            .util
            .range(..upto / UTIL_BUCKET_NS)
            .map(|(b, _)| *b)
            .collect();
        for b in done {
            // Back to zero after an idle stretch, so the graph does not hold the last value.
            if let Some(last) = self.last_util_bucket {
                if last + 1 < b {
                    self.util_event(last + 1, 0)?;
                }
            }
            let ns = self.util.remove(&b).unwrap_or(0);
            self.util_event(b, ns)?;
            self.last_util_bucket = Some(b);
        }
        Ok(())
    }

    fn util_event(&mut self, bucket: u64, held_ns: u64) -> io::Result<()> {
        let percent = (held_ns as f64 / UTIL_BUCKET_NS as f64 * 1000.0).round() / 10.0;
        self.event(
            &json!({"ph": "C", "name": "RTNL utilization", "pid": RTNL_PID,
            "ts": us(bucket * UTIL_BUCKET_NS, self.origin_ns), "args": {"percent": percent}}),
        )
    }

    /// Names of network namespaces learnt after the start (the recording's footer).
    pub fn add_netns_names(&mut self, names: &BTreeMap<u32, String>) {
        self.netns_names.extend(names.clone());
    }

    /// Writes what is left and closes the JSON.
    pub fn finish(mut self) -> io::Result<(W, Stats)> {
        if !self.netns_tracks.is_empty() {
            self.event(&json!({"ph": "M", "name": "process_name", "pid": NETNS_PID,
                "args": {"name": "network namespaces"}}))?;
            let tracks: Vec<(u32, u32)> = self.netns_tracks.iter().map(|(a, b)| (*a, *b)).collect();
            for (inode, track) in tracks {
                let name = match self.netns_names.get(&inode) {
                    Some(n) => format!("netns {n} ({inode})"),
                    None => format!("netns {inode}"),
                };
                self.event(&json!({"ph": "M", "name": "thread_name", "pid": NETNS_PID,
                    "tid": track, "args": {"name": name}}))?;
            }
        }
        self.flush_counters(u64::MAX)?;
        if let Some(last) = self.last_util_bucket {
            self.util_event(last + 1, 0)?;
        }
        self.out.write_all(b"\n]}\n")?;
        self.out.flush()?;
        Ok((self.out, self.stats))
    }
}
