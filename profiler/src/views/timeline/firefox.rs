//! The Firefox profiler's processed format (fxprof-processed-profile): RTNL hold time as weighted
//! stacks, so the call tree and the flame graph show where RTNL time goes.
//!
//! Stacks, caller first: `rtnl_mutex` → `rtnetlink` → family → message type (→ `dump`), or
//! `rtnl_mutex` → `kernel` → the holder's kernel caller; the part of a hold spent in RCU grace
//! periods has one more frame, `RCU grace periods`. A thread's holds are summed per stack over
//! BUCKET_NS into one sample (bounded memory). Sample weights are microseconds of hold time with
//! the sampling interval 1 µs, so the profiler's times read in real units; weights are cut from
//! a running total in nanoseconds, so they sum to exactly the total hold time in whole
//! microseconds.

use std::{collections::HashMap, io::Write};

use fxprof_processed_profile::{
    CategoryColor, CategoryPairHandle, CpuDelta, Frame, FrameFlags, FrameInfo, ProcessHandle,
    Profile, ReferenceTimestamp, SamplingInterval, StackHandle, ThreadHandle, Timestamp,
};

use super::{hold_handler, Filter};
use crate::{
    events::{Hold, Record},
    model::{names, Handler},
    trace::Header,
};

/// Holds of one thread and stack within this span become one sample.
pub const BUCKET_NS: u64 = 10_000_000;

struct Pending {
    bucket: u64,
    first_ns: u64,
    /// stack -> hold ns in this bucket.
    ns: Vec<(StackHandle, u64)>,
}

pub struct FirefoxBuilder {
    profile: Profile,
    origin_ns: u64,
    filter: Filter,
    category: CategoryPairHandle,
    gp_category: CategoryPairHandle,
    processes: HashMap<u32, ProcessHandle>,
    threads: HashMap<u32, (ThreadHandle, Pending)>,
    stacks: HashMap<(u32, Handler, bool), StackHandle>,
    /// Running total of hold ns and of the weight (µs) handed out.
    total_ns: u128,
    total_weight: i64,
    pub holds: u64,
}

impl FirefoxBuilder {
    pub fn new(header: &Header, filter: Filter) -> Self {
        let mut profile = Profile::new(
            &format!("RTNL holds on {} (rtnlprof)", header.kernel),
            ReferenceTimestamp::from_millis_since_unix_epoch(header.start_unix_ns as f64 / 1e6),
            SamplingInterval::from_nanos(1_000),
        );
        profile.set_os_name(&format!("Linux {}", header.kernel));
        let category = profile.add_category("RTNL", CategoryColor::Orange).into();
        let gp_category = profile
            .add_category("RCU grace period", CategoryColor::Blue)
            .into();
        FirefoxBuilder {
            profile,
            origin_ns: header.start_mono_ns,
            filter,
            category,
            gp_category,
            processes: HashMap::new(),
            threads: HashMap::new(),
            stacks: HashMap::new(),
            total_ns: 0,
            total_weight: 0,
            holds: 0,
        }
    }

    fn ts(&self, ns: u64) -> Timestamp {
        Timestamp::from_nanos_since_reference(ns.saturating_sub(self.origin_ns))
    }

    fn thread(&mut self, h: &Hold) -> ThreadHandle {
        if let Some((t, _)) = self.threads.get(&h.task.tid) {
            return *t;
        }
        let start = self.ts(h.wait_start_ns);
        let tgid = h.task.tgid;
        let profile = &mut self.profile;
        let process = *self.processes.entry(tgid).or_insert_with(|| {
            profile.add_process(&format!("{} ({tgid})", h.task.comm), tgid, start)
        });
        let t = self
            .profile
            .add_thread(process, h.task.tid, start, h.task.tid == tgid);
        self.profile
            .set_thread_name(t, &format!("{} ({})", h.task.comm, h.task.tid));
        self.threads.insert(
            h.task.tid,
            (
                t,
                Pending {
                    bucket: 0,
                    first_ns: 0,
                    ns: Vec::new(),
                },
            ),
        );
        t
    }

    fn label(&mut self, s: &str, cat: CategoryPairHandle) -> FrameInfo {
        FrameInfo {
            frame: Frame::Label(self.profile.intern_string(s)),
            category_pair: cat,
            flags: FrameFlags::empty(),
        }
    }

    fn stack(&mut self, tid: u32, t: ThreadHandle, handler: &Handler, gp: bool) -> StackHandle {
        let key = (tid, handler.clone(), gp);
        if let Some(s) = self.stacks.get(&key) {
            return *s;
        }
        let cat = self.category;
        let mut frames = vec![self.label("rtnl_mutex", cat)];
        match handler {
            Handler::Msg(m) => {
                frames.push(self.label("rtnetlink", cat));
                frames.push(self.label(&names::family_name(m.family), cat));
                frames.push(self.label(&names::rtm_display(m.nlmsg_type), cat));
                if m.dump {
                    frames.push(self.label("dump", cat));
                }
            }
            Handler::Caller(c) => {
                frames.push(self.label("kernel", cat));
                frames.push(self.label(c, cat));
            }
        }
        if gp {
            let g = self.gp_category;
            frames.push(self.label("RCU grace periods", g));
        }
        let s = self
            .profile
            .intern_stack_frames(t, frames.into_iter())
            .expect("at least one frame");
        self.stacks.insert(key, s);
        s
    }

    pub fn record(&mut self, r: &Record) {
        let Record::Hold(h) = r else { return };
        if !self.filter.keeps(r) {
            return;
        }
        self.holds += 1;
        let t = self.thread(h);
        let handler = hold_handler(&h.context);
        let gp = h.gp_ns.min(h.hold_ns());
        let parts = [
            (self.stack(h.task.tid, t, &handler, false), h.hold_ns() - gp),
            (self.stack(h.task.tid, t, &handler, true), gp),
        ];
        let bucket = h.acquired_ns / BUCKET_NS;
        let first = {
            let (_, p) = self.threads.get(&h.task.tid).expect("thread added");
            p.ns.is_empty() || p.bucket != bucket
        };
        if first {
            self.flush_thread(h.task.tid);
            let (_, p) = self.threads.get_mut(&h.task.tid).expect("thread added");
            p.bucket = bucket;
            p.first_ns = h.acquired_ns;
        }
        let (_, p) = self.threads.get_mut(&h.task.tid).expect("thread added");
        for (stack, ns) in parts {
            if ns == 0 {
                continue;
            }
            match p.ns.iter_mut().find(|(s, _)| *s == stack) {
                Some((_, n)) => *n += ns,
                None => p.ns.push((stack, ns)),
            }
        }
    }

    /// Turns a thread's pending bucket into samples.
    fn flush_thread(&mut self, tid: u32) {
        let Some((t, p)) = self.threads.get_mut(&tid) else {
            return;
        };
        let t = *t;
        let parts = std::mem::take(&mut p.ns);
        let at = p.first_ns;
        let ts = self.ts(at);
        for (stack, ns) in parts {
            // The weight is what the running total in µs grew by: no rounding is lost.
            self.total_ns += u128::from(ns);
            let target = (self.total_ns / 1000) as i64;
            let mut w = target - self.total_weight;
            self.total_weight = target;
            while w > 0 {
                let chunk = w.min(i32::MAX as i64);
                self.profile
                    .add_sample(t, ts, Some(stack), CpuDelta::ZERO, chunk as i32);
                w -= chunk;
            }
        }
    }

    /// The profile as JSON.
    pub fn finish<W: Write>(mut self, out: W) -> std::io::Result<(u64, u64)> {
        let tids: Vec<u32> = self.threads.keys().copied().collect();
        for tid in tids {
            self.flush_thread(tid);
        }
        serde_json::to_writer(out, &self.profile)?;
        Ok((self.holds, self.total_weight as u64))
    }
}
