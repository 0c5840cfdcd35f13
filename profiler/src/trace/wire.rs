//! Records as they are stored inside frames: numbered tables and time deltas.
//!
//! The encoder and decoder keep the same state (the previous anchor time and the tables), which
//! starts afresh in every frame, so each frame decodes on its own.

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};

use crate::events::{Hold, HoldContext, LockFnName, MsgType, Record, Request, RequestId, Task};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item {
    /// Defines task number `tasks.len()`.
    Task {
        tid: u32,
        tgid: u32,
        comm: compact_str::CompactString,
    },
    /// Defines caller number `callers.len()`.
    Caller(String),
    /// Defines message key number `keys.len()`: (family, type, flags).
    Key(u8, u16, u16),
    Request {
        /// end_ns minus the previous anchor.
        dt: i64,
        task: u32,
        key: u32,
        dur: u64,
        ret: i32,
    },
    Hold {
        /// released_ns minus the previous anchor.
        dt: i64,
        task: u32,
        ctx: Ctx,
        /// acquired - wait start, released - acquired.
        wait: u64,
        held: u64,
        lock_fn: u8,
        contention_begins: u8,
        gp_ns: u64,
        gp_count: u32,
    },
    TrylockFailed {
        dt: i64,
        task: u32,
    },
    /// The network namespace (inode number) of the requests and holds that follow, until the
    /// next `Netns`; 0 (unknown) at the start of a frame. Added in format version 2: version 1
    /// files have none, and their records read as namespace 0.
    Netns(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ctx {
    /// key, request start relative to the wait start, the request's thread if not the holder's.
    Request(u32, i64, Option<u32>),
    DumpContinue(u32, i64, Option<u32>),
    Other(u32),
}

fn lock_fn_code(f: LockFnName) -> u8 {
    match f {
        LockFnName::MutexLock => 0,
        LockFnName::MutexLockInterruptible => 1,
        LockFnName::MutexLockKillable => 2,
        LockFnName::MutexTrylock => 3,
    }
}

fn lock_fn_from(c: u8) -> Option<LockFnName> {
    Some(match c {
        0 => LockFnName::MutexLock,
        1 => LockFnName::MutexLockInterruptible,
        2 => LockFnName::MutexLockKillable,
        3 => LockFnName::MutexTrylock,
        _ => return None,
    })
}

#[derive(Default)]
pub struct Encoder {
    anchor: u64,
    // Fx: the keys are this process's own, and SipHash was a tenth of record's time per event.
    tasks: FxHashMap<Task, u32>,
    callers: FxHashMap<String, u32>,
    keys: FxHashMap<(u8, u16, u16), u32>,
    netns: u32,
    /// The task of the previous record and its number: a request and its hold share one, and a
    /// busy task sends many in a row.
    last_task: Option<(Task, u32)>,
}

impl Encoder {
    /// Starts a new frame: the tables and the anchor start afresh.
    pub fn reset(&mut self) {
        *self = Encoder::default();
    }

    fn task(&mut self, t: &Task, out: &mut Vec<Item>) -> u32 {
        if let Some((last, id)) = &self.last_task {
            if last == t {
                return *id;
            }
        }
        let id = match self.tasks.get(t) {
            Some(&id) => id,
            None => {
                let id = self.tasks.len() as u32;
                self.tasks.insert(t.clone(), id);
                out.push(Item::Task {
                    tid: t.tid,
                    tgid: t.tgid,
                    comm: t.comm.clone(),
                });
                id
            }
        };
        self.last_task = Some((t.clone(), id));
        id
    }

    fn key(&mut self, m: &MsgType, flags: u16, out: &mut Vec<Item>) -> u32 {
        let k = (m.family, m.nlmsg_type, flags);
        if let Some(&id) = self.keys.get(&k) {
            return id;
        }
        let id = self.keys.len() as u32;
        self.keys.insert(k, id);
        out.push(Item::Key(k.0, k.1, k.2));
        id
    }

    fn caller(&mut self, c: &str, out: &mut Vec<Item>) -> u32 {
        if let Some(&id) = self.callers.get(c) {
            return id;
        }
        let id = self.callers.len() as u32;
        self.callers.insert(c.to_owned(), id);
        out.push(Item::Caller(c.to_owned()));
        id
    }

    fn dt(&mut self, t: u64) -> i64 {
        let d = t.wrapping_sub(self.anchor) as i64;
        self.anchor = t;
        d
    }

    fn netns(&mut self, n: u32, out: &mut Vec<Item>) {
        if n != self.netns {
            self.netns = n;
            out.push(Item::Netns(n));
        }
    }

    pub fn encode(&mut self, r: &Record, out: &mut Vec<Item>) {
        match r {
            Record::Request(q) => {
                self.netns(q.netns, out);
                let task = self.task(&q.task, out);
                let key = self.key(&q.msg, q.nlmsg_flags, out);
                out.push(Item::Request {
                    dt: self.dt(q.end_ns),
                    task,
                    key,
                    dur: q.end_ns.saturating_sub(q.start_ns),
                    ret: q.ret,
                });
            }
            Record::Hold(h) => {
                self.netns(h.netns, out);
                let task = self.task(&h.task, out);
                let req = |id: &RequestId| {
                    (
                        id.start_ns.wrapping_sub(h.wait_start_ns) as i64,
                        (id.tid != h.task.tid).then_some(id.tid),
                    )
                };
                let ctx = match &h.context {
                    HoldContext::Request { msg, id } => {
                        // A hold's message flags only tell dump or not; keep them as a dump flag.
                        let key = self.key(msg, if msg.dump { 0x300 } else { 0 }, out);
                        let (s, t) = req(id);
                        Ctx::Request(key, s, t)
                    }
                    HoldContext::DumpContinue { msg, id } => {
                        let key = self.key(msg, if msg.dump { 0x300 } else { 0 }, out);
                        let (s, t) = req(id);
                        Ctx::DumpContinue(key, s, t)
                    }
                    HoldContext::Other { caller } => Ctx::Other(self.caller(caller, out)),
                };
                out.push(Item::Hold {
                    dt: self.dt(h.released_ns),
                    task,
                    ctx,
                    wait: h.acquired_ns.saturating_sub(h.wait_start_ns),
                    held: h.released_ns.saturating_sub(h.acquired_ns),
                    lock_fn: lock_fn_code(h.lock_fn),
                    contention_begins: h.contention_begins,
                    gp_ns: h.gp_ns,
                    gp_count: h.gp_count,
                });
            }
            Record::TrylockFailed { task, at_ns } => {
                let task = self.task(task, out);
                out.push(Item::TrylockFailed {
                    dt: self.dt(*at_ns),
                    task,
                });
            }
        }
    }
}

#[derive(Default)]
pub struct Decoder {
    anchor: u64,
    tasks: Vec<Task>,
    callers: Vec<String>,
    keys: Vec<(u8, u16, u16)>,
    netns: u32,
}

impl Decoder {
    pub fn reset(&mut self) {
        *self = Decoder::default();
    }

    fn at(&mut self, dt: i64) -> u64 {
        self.anchor = self.anchor.wrapping_add(dt as u64);
        self.anchor
    }

    fn task(&self, id: u32) -> Result<Task, String> {
        self.tasks
            .get(id as usize)
            .cloned()
            .ok_or_else(|| format!("undefined task {id}"))
    }

    fn key(&self, id: u32) -> Result<(MsgType, u16), String> {
        let &(f, t, flags) = self
            .keys
            .get(id as usize)
            .ok_or_else(|| format!("undefined message key {id}"))?;
        Ok((MsgType::from_wire(f, t, flags), flags))
    }

    /// The record an item stands for (None for table definitions).
    pub fn decode(&mut self, item: Item) -> Result<Option<Record>, String> {
        Ok(match item {
            Item::Task { tid, tgid, comm } => {
                self.tasks.push(Task { tid, tgid, comm });
                None
            }
            Item::Caller(c) => {
                self.callers.push(c);
                None
            }
            Item::Key(f, t, flags) => {
                self.keys.push((f, t, flags));
                None
            }
            Item::Netns(n) => {
                self.netns = n;
                None
            }
            Item::Request {
                dt,
                task,
                key,
                dur,
                ret,
            } => {
                let end_ns = self.at(dt);
                let (msg, nlmsg_flags) = self.key(key)?;
                Some(Record::Request(Request {
                    msg,
                    nlmsg_flags,
                    task: self.task(task)?,
                    start_ns: end_ns.wrapping_sub(dur),
                    end_ns,
                    ret,
                    netns: self.netns,
                }))
            }
            Item::Hold {
                dt,
                task,
                ctx,
                wait,
                held,
                lock_fn,
                contention_begins,
                gp_ns,
                gp_count,
            } => {
                let released_ns = self.at(dt);
                let acquired_ns = released_ns.wrapping_sub(held);
                let wait_start_ns = acquired_ns.wrapping_sub(wait);
                let task = self.task(task)?;
                let id = |s: i64, t: Option<u32>| RequestId {
                    tid: t.unwrap_or(task.tid),
                    start_ns: wait_start_ns.wrapping_add(s as u64),
                };
                let context = match ctx {
                    Ctx::Request(k, s, t) => HoldContext::Request {
                        msg: self.key(k)?.0,
                        id: id(s, t),
                    },
                    Ctx::DumpContinue(k, s, t) => HoldContext::DumpContinue {
                        msg: self.key(k)?.0,
                        id: id(s, t),
                    },
                    Ctx::Other(c) => HoldContext::Other {
                        caller: self
                            .callers
                            .get(c as usize)
                            .cloned()
                            .ok_or_else(|| format!("undefined caller {c}"))?,
                    },
                };
                Some(Record::Hold(Hold {
                    context,
                    task,
                    lock_fn: lock_fn_from(lock_fn)
                        .ok_or_else(|| format!("bad lock function {lock_fn}"))?,
                    wait_start_ns,
                    acquired_ns,
                    released_ns,
                    contention_begins,
                    gp_ns,
                    gp_count,
                    netns: self.netns,
                }))
            }
            Item::TrylockFailed { dt, task } => {
                let at_ns = self.at(dt);
                Some(Record::TrylockFailed {
                    task: self.task(task)?,
                    at_ns,
                })
            }
        })
    }
}
