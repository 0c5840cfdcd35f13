//! The model: pure aggregation of decoded events into per-handler RTNL statistics. No I/O.
//!
//! A *handler* is what a hold is attributed to: an rtnetlink message type as the kernel dispatches
//! it (family, type, dump or not), or, for holders outside rtnetlink, their kernel caller.

pub mod names;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::events::{Hold, HoldContext, MsgType, Record, Request, RequestId};

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
}

/// Totals for one handler.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HandlerStats {
    /// rtnetlink_rcv_msg calls (messages) of this type.
    pub requests: u64,
    /// Of those, requests during which RTNL was taken at least once.
    pub requests_locked: u64,
    /// Time from entry to return of rtnetlink_rcv_msg, summed.
    pub request_ns: u64,
    /// All holds attributed to this handler (including dump continuations).
    pub holds: u64,
    /// Holds taken while a dump of this type was continued from recvmsg.
    pub continuation_holds: u64,
    pub hold_ns: u64,
    pub max_hold_ns: u64,
    pub wait_ns: u64,
    pub max_wait_ns: u64,
    /// Waits during which lock:contention_begin fired at least once.
    pub contended_waits: u64,
    /// Time in RCU grace-period waits while holding RTNL, and how many.
    pub gp_ns: u64,
    pub gp_count: u64,
    /// Failed mutex_trylock(&rtnl_mutex) calls.
    pub trylock_failed: u64,
}

/// Resolves the kernel stack of a hold taken outside rtnetlink to its caller's name.
pub trait CallerResolver {
    fn caller(&mut self, stack_id: i32) -> String;
}

impl<F: FnMut(i32) -> String> CallerResolver for F {
    fn caller(&mut self, stack_id: i32) -> String {
        self(stack_id)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Model {
    pub handlers: BTreeMap<Handler, HandlerStats>,
    /// Holds seen per request still in flight (holds arrive before their request's exit).
    pending: HashMap<RequestId, u64>,
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
}

impl Model {
    pub fn new() -> Self {
        Self::default()
    }

    fn seen(&mut self, start: u64, end: u64) {
        self.first_ns = Some(self.first_ns.map_or(start, |f| f.min(start)));
        self.last_ns = Some(self.last_ns.map_or(end, |l| l.max(end)));
    }

    pub fn add(&mut self, record: &Record, resolver: &mut dyn CallerResolver) {
        match record {
            Record::Request(r) => self.add_request(r),
            Record::Hold(h) => self.add_hold(h, resolver),
            Record::TrylockFailed { at_ns, .. } => {
                self.seen(*at_ns, *at_ns);
                // A failed trylock has no stack of its own here: count it under its own name.
                self.handlers
                    .entry(Handler::Caller("(failed trylock)".into()))
                    .or_default()
                    .trylock_failed += 1;
            }
        }
    }

    fn add_request(&mut self, r: &Request) {
        self.seen(r.start_ns, r.end_ns);
        let id = RequestId {
            tid: r.task.tid,
            start_ns: r.start_ns,
        };
        let holds = self.pending.remove(&id).unwrap_or(0);
        let s = self.handlers.entry(Handler::Msg(r.msg)).or_default();
        s.requests += 1;
        s.requests_locked += u64::from(holds > 0);
        s.request_ns += r.end_ns.saturating_sub(r.start_ns);
    }

    fn add_hold(&mut self, h: &Hold, resolver: &mut dyn CallerResolver) {
        self.seen(h.wait_start_ns, h.released_ns);
        let (handler, continuation) = match &h.context {
            HoldContext::Request { msg, id } => {
                *self.pending.entry(*id).or_default() += 1;
                (Handler::Msg(*msg), false)
            }
            HoldContext::DumpContinue { msg, .. } => (Handler::Msg(*msg), true),
            HoldContext::Other { stack_id } => (Handler::Caller(resolver.caller(*stack_id)), false),
        };
        let s = self.handlers.entry(handler).or_default();
        s.holds += 1;
        s.continuation_holds += u64::from(continuation);
        s.hold_ns += h.hold_ns();
        s.max_hold_ns = s.max_hold_ns.max(h.hold_ns());
        s.wait_ns += h.wait_ns();
        s.max_wait_ns = s.max_wait_ns.max(h.wait_ns());
        s.contended_waits += u64::from(h.contention_begins > 0);
        s.gp_ns += h.gp_ns;
        s.gp_count += u64::from(h.gp_count);
    }

    /// Sum over all handlers.
    pub fn totals(&self) -> HandlerStats {
        let mut t = HandlerStats::default();
        for s in self.handlers.values() {
            t.requests += s.requests;
            t.requests_locked += s.requests_locked;
            t.request_ns += s.request_ns;
            t.holds += s.holds;
            t.continuation_holds += s.continuation_holds;
            t.hold_ns += s.hold_ns;
            t.max_hold_ns = t.max_hold_ns.max(s.max_hold_ns);
            t.wait_ns += s.wait_ns;
            t.max_wait_ns = t.max_wait_ns.max(s.max_wait_ns);
            t.contended_waits += s.contended_waits;
            t.gp_ns += s.gp_ns;
            t.gp_count += s.gp_count;
            t.trylock_failed += s.trylock_failed;
        }
        t
    }

    /// Handlers ranked by total hold time, then by requests.
    pub fn ranked(&self) -> Vec<(&Handler, &HandlerStats)> {
        let mut v: Vec<_> = self.handlers.iter().collect();
        v.sort_by(|a, b| {
            (b.1.hold_ns, b.1.requests)
                .cmp(&(a.1.hold_ns, a.1.requests))
                .then_with(|| a.0.cmp(b.0))
        });
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{LockFnName, Task};

    fn task(tid: u32) -> Task {
        Task {
            tid,
            tgid: tid,
            comm: "ip".into(),
        }
    }

    fn msg(t: u16) -> MsgType {
        MsgType::from_wire(0, t, 0)
    }

    fn hold(ctx: HoldContext, tid: u32, wait: (u64, u64), release: u64) -> Record {
        Record::Hold(Hold {
            context: ctx,
            task: task(tid),
            lock_fn: LockFnName::MutexLock,
            wait_start_ns: wait.0,
            acquired_ns: wait.1,
            released_ns: release,
            contention_begins: u8::from(wait.1 > wait.0),
            gp_ns: 0,
            gp_count: 0,
        })
    }

    fn request(t: u16, tid: u32, start: u64, end: u64) -> Record {
        Record::Request(Request {
            msg: msg(t),
            nlmsg_flags: 0,
            task: task(tid),
            start_ns: start,
            end_ns: end,
            ret: 0,
        })
    }

    #[test]
    fn holds_inside_a_request_count_for_its_type_and_mark_it_locked() {
        let mut m = Model::new();
        let id = RequestId {
            tid: 1,
            start_ns: 10,
        };
        let mut r = |_: i32| "x".to_string();
        m.add(
            &hold(HoldContext::Request { msg: msg(16), id }, 1, (11, 15), 40),
            &mut r,
        );
        // netdev_run_todo took RTNL again for the same request.
        m.add(
            &hold(HoldContext::Request { msg: msg(16), id }, 1, (41, 41), 45),
            &mut r,
        );
        m.add(&request(16, 1, 10, 50), &mut r);
        // A request that never took RTNL.
        m.add(&request(26, 2, 60, 70), &mut r);
        let s = &m.handlers[&Handler::Msg(msg(16))];
        assert_eq!((s.requests, s.requests_locked, s.holds), (1, 1, 2));
        assert_eq!((s.hold_ns, s.max_hold_ns, s.wait_ns), (25 + 4, 25, 4));
        assert_eq!(s.contended_waits, 1);
        let g = &m.handlers[&Handler::Msg(msg(26))];
        assert_eq!((g.requests, g.requests_locked, g.holds), (1, 0, 0));
        assert_eq!((m.first_ns, m.last_ns), (Some(10), Some(70)));
    }

    #[test]
    fn continuations_go_to_the_dump_and_others_to_their_caller() {
        let mut m = Model::new();
        let dump = MsgType::from_wire(0, 18, 0x300);
        let id = RequestId {
            tid: 3,
            start_ns: 1,
        };
        let mut r = |id: i32| format!("caller{id}");
        m.add(
            &hold(HoldContext::DumpContinue { msg: dump, id }, 3, (5, 6), 9),
            &mut r,
        );
        m.add(
            &hold(HoldContext::Other { stack_id: 4 }, 9, (20, 20), 30),
            &mut r,
        );
        let d = &m.handlers[&Handler::Msg(dump)];
        assert_eq!((d.holds, d.continuation_holds, d.requests), (1, 1, 0));
        assert_eq!(m.handlers[&Handler::Caller("caller4".into())].hold_ns, 10);
        assert_eq!(Handler::Msg(dump).name(), "AF_UNSPEC RTM_GETLINK dump");
        let t = m.totals();
        assert_eq!((t.holds, t.hold_ns), (2, 13));
        assert_eq!(m.ranked()[0].0, &Handler::Caller("caller4".into()));
    }
}
