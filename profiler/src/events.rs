//! Typed events, decoded from the fixed-size records the eBPF programs write.

use compact_str::CompactString;
use profiler_common::{nl, Event, EventKind, LockFn, Origin, EVENT_SIZE};
use serde::{Deserialize, Serialize};

/// The handler the kernel dispatches an rtnetlink message to: (family, type), dump or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MsgType {
    pub family: u8,
    pub nlmsg_type: u16,
    pub dump: bool,
}

impl MsgType {
    pub fn from_wire(family: u8, nlmsg_type: u16, nlmsg_flags: u16) -> Self {
        // rtnetlink_rcv_msg treats GET requests (type % 4 == 2) with NLM_F_DUMP as dumps.
        let dump = nlmsg_type % 4 == 2 && nlmsg_flags & nl::NLM_F_DUMP == nl::NLM_F_DUMP;
        MsgType {
            family,
            nlmsg_type,
            dump,
        }
    }
}

/// The request a hold belongs to: the thread that sent it and when it entered rtnetlink_rcv_msg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId {
    pub tid: u32,
    pub start_ns: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Task {
    pub tid: u32,
    pub tgid: u32,
    /// A kernel task name fits in 15 bytes: kept inline, without an allocation per record.
    pub comm: CompactString,
}

/// One call of `rtnetlink_rcv_msg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub msg: MsgType,
    pub nlmsg_flags: u16,
    pub task: Task,
    pub start_ns: u64,
    pub end_ns: u64,
    pub ret: i32,
    /// Inode number of the request socket's network namespace (0: unknown).
    #[serde(default)]
    pub netns: u32,
}

/// What a hold is attributed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldContext {
    /// Taken inside rtnetlink_rcv_msg (doit, or the first part of a dump).
    Request { msg: MsgType, id: RequestId },
    /// Taken while a dump is continued from recvmsg.
    DumpContinue { msg: MsgType, id: RequestId },
    /// Any other holder, named by its kernel caller (resolved from the stack at the lock call).
    Other { caller: String },
}

/// One hold of `rtnl_mutex`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub context: HoldContext,
    pub task: Task,
    pub lock_fn: LockFnName,
    /// Entry of the lock call.
    pub wait_start_ns: u64,
    pub acquired_ns: u64,
    pub released_ns: u64,
    /// `lock:contention_begin` events during the wait (0: uncontended).
    pub contention_begins: u8,
    pub gp_ns: u64,
    pub gp_count: u32,
    /// Inode number of the network namespace the hold acts in (0: unknown): the request's
    /// socket's, the continued dump's socket's, or the holder task's.
    #[serde(default)]
    pub netns: u32,
}

impl Hold {
    pub fn wait_ns(&self) -> u64 {
        self.acquired_ns.saturating_sub(self.wait_start_ns)
    }
    pub fn hold_ns(&self) -> u64 {
        self.released_ns.saturating_sub(self.acquired_ns)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockFnName {
    MutexLock,
    MutexLockInterruptible,
    MutexLockKillable,
    MutexTrylock,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    Request(Request),
    Hold(Hold),
    TrylockFailed { task: Task, at_ns: u64 },
}

impl Record {
    /// When the record was complete (request exit, release, failed trylock): what windows use.
    pub fn end_ns(&self) -> u64 {
        match self {
            Record::Request(r) => r.end_ns,
            Record::Hold(h) => h.released_ns,
            Record::TrylockFailed { at_ns, .. } => *at_ns,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("record of {0} bytes, expected {EVENT_SIZE}")]
    Size(usize),
    #[error("unknown record kind {0}")]
    Kind(u8),
    #[error("unknown hold origin {0}")]
    Origin(u8),
    #[error("unknown lock function {0}")]
    LockFn(u8),
}

fn comm(raw: &[u8; 16]) -> CompactString {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    match std::str::from_utf8(&raw[..end]) {
        Ok(s) => CompactString::new(s),
        Err(_) => CompactString::from_utf8_lossy(&raw[..end]),
    }
}

impl Record {
    /// Decodes one ring-buffer record; `caller` names the kernel caller of a stack id.
    pub fn decode(
        bytes: &[u8],
        caller: &mut dyn FnMut(i32) -> String,
    ) -> Result<Record, DecodeError> {
        if bytes.len() < EVENT_SIZE {
            return Err(DecodeError::Size(bytes.len()));
        }
        // SAFETY: Event is #[repr(C)] plain data valid for any bit pattern; the length is checked.
        let ev: Event = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        Self::from_event(&ev, caller)
    }

    /// Decodes one ring-buffer record into `out`: one record, or two for a RequestHold (the
    /// hold, then its request). Returns how many.
    pub fn decode_into(
        ev: &Event,
        caller: &mut dyn FnMut(i32) -> String,
        out: &mut Vec<Record>,
    ) -> Result<usize, DecodeError> {
        if ev.kind != EventKind::RequestHold as u8 {
            out.push(Self::from_event(ev, caller)?);
            return Ok(1);
        }
        let mut hold = *ev;
        hold.kind = EventKind::Hold as u8;
        let hold = Self::from_event(&hold, caller)?;
        let mut req = *ev;
        req.kind = EventKind::Request as u8;
        req.t_start = ev.msg.req_start;
        req.t_acquired = ev.msg.req_start;
        req.t_end = ev.req_end;
        out.push(hold);
        out.push(Self::from_event(&req, caller)?);
        Ok(2)
    }

    /// Decodes a record of one kind (not RequestHold: see [`Record::decode_into`]).
    pub fn from_event(
        ev: &Event,
        caller: &mut dyn FnMut(i32) -> String,
    ) -> Result<Record, DecodeError> {
        let task = Task {
            tid: ev.tid,
            tgid: ev.tgid,
            comm: comm(&ev.comm),
        };
        let msg = MsgType::from_wire(ev.msg.family, ev.msg.nlmsg_type, ev.msg.nlmsg_flags);
        let id = RequestId {
            tid: ev.msg.req_tid,
            start_ns: ev.msg.req_start,
        };
        match EventKind::from_u8(ev.kind).ok_or(DecodeError::Kind(ev.kind))? {
            EventKind::RequestHold => Err(DecodeError::Kind(ev.kind)),
            EventKind::Request => Ok(Record::Request(Request {
                msg,
                nlmsg_flags: ev.msg.nlmsg_flags,
                task,
                start_ns: ev.t_start,
                end_ns: ev.t_end,
                ret: ev.ret,
                netns: ev.netns,
            })),
            EventKind::TrylockFailed => Ok(Record::TrylockFailed {
                task,
                at_ns: ev.t_end,
            }),
            EventKind::Hold => {
                let context =
                    match Origin::from_u8(ev.origin).ok_or(DecodeError::Origin(ev.origin))? {
                        Origin::Doit | Origin::DumpStart => HoldContext::Request { msg, id },
                        Origin::DumpContinue => HoldContext::DumpContinue { msg, id },
                        Origin::Other | Origin::None => HoldContext::Other {
                            caller: caller(ev.stack_id),
                        },
                    };
                let lock_fn =
                    match LockFn::from_u8(ev.lock_fn).ok_or(DecodeError::LockFn(ev.lock_fn))? {
                        LockFn::Lock | LockFn::None => LockFnName::MutexLock,
                        LockFn::Interruptible => LockFnName::MutexLockInterruptible,
                        LockFn::Killable => LockFnName::MutexLockKillable,
                        LockFn::Trylock => LockFnName::MutexTrylock,
                    };
                Ok(Record::Hold(Hold {
                    context,
                    task,
                    lock_fn,
                    wait_start_ns: ev.t_start,
                    acquired_ns: ev.t_acquired,
                    released_ns: ev.t_end,
                    contention_begins: ev.contention_begins,
                    gp_ns: ev.gp_ns,
                    gp_count: ev.gp_count,
                    netns: ev.netns,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use profiler_common::MsgKey;

    fn bytes(ev: &Event) -> Vec<u8> {
        // SAFETY: Event has no padding (checked by the size assertion below).
        unsafe { std::slice::from_raw_parts((ev as *const Event).cast::<u8>(), EVENT_SIZE) }
            .to_vec()
    }

    #[test]
    fn event_has_no_padding() {
        // kind..ret (16) + MsgKey (2+2+1+3+4+8) + 4 × u64 + u32 + i32 + comm 16 + netns, pad
        // + lock + req_end
        assert_eq!(std::mem::size_of::<profiler_common::MsgKey>(), 24);
        assert_eq!(EVENT_SIZE, 16 + 24 + 32 + 8 + 16 + 8 + 8 + 8);
    }

    #[test]
    fn decodes_a_dump_request() {
        let mut ev = Event::zeroed();
        ev.kind = EventKind::Request as u8;
        ev.tid = 7;
        ev.msg = MsgKey {
            nlmsg_type: 18,
            nlmsg_flags: 0x301,
            family: 0,
            _pad: [0; 3],
            req_tid: 7,
            req_start: 100,
        };
        ev.t_start = 100;
        ev.t_end = 250;
        ev.comm[..2].copy_from_slice(b"ip");
        let Record::Request(r) = Record::decode(&bytes(&ev), &mut |_| String::new()).unwrap()
        else {
            panic!("not a request")
        };
        assert!(r.msg.dump);
        assert_eq!(r.task.comm, "ip");
        assert_eq!(r.end_ns - r.start_ns, 150);
    }

    #[test]
    fn a_request_hold_is_its_hold_then_its_request() {
        let mut ev = Event::zeroed();
        ev.kind = EventKind::RequestHold as u8;
        ev.origin = Origin::Doit as u8;
        ev.lock_fn = LockFn::Lock as u8;
        ev.tid = 7;
        ev.tgid = 7;
        ev.ret = -17;
        ev.msg = MsgKey {
            nlmsg_type: 16,
            nlmsg_flags: 0x605,
            family: 0,
            _pad: [0; 3],
            req_tid: 7,
            req_start: 100,
        };
        ev.t_start = 110;
        ev.t_acquired = 120;
        ev.t_end = 200;
        ev.req_end = 230;
        ev.gp_ns = 30;
        ev.gp_count = 1;
        ev.netns = 4026531840;
        ev.comm[..2].copy_from_slice(b"ip");
        let mut out = Vec::new();
        assert_eq!(
            Record::decode_into(&ev, &mut |_| String::new(), &mut out),
            Ok(2)
        );
        let [Record::Hold(h), Record::Request(r)] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(
            (h.wait_start_ns, h.acquired_ns, h.released_ns, h.gp_ns),
            (110, 120, 200, 30)
        );
        assert_eq!(
            h.context,
            HoldContext::Request {
                msg: MsgType::from_wire(0, 16, 0x605),
                id: RequestId {
                    tid: 7,
                    start_ns: 100
                }
            }
        );
        assert_eq!((r.start_ns, r.end_ns, r.ret), (100, 230, -17));
        assert_eq!(
            (r.task.comm.as_str(), r.netns, h.netns),
            ("ip", 4026531840, 4026531840)
        );
        // A single-kind record decodes alone; a RequestHold is never taken for one.
        assert_eq!(
            Record::from_event(&ev, &mut |_| String::new()),
            Err(DecodeError::Kind(4))
        );
    }

    #[test]
    fn a_get_without_dump_flag_is_a_doit() {
        assert!(!MsgType::from_wire(2, 26, 0x1).dump);
        assert!(
            !MsgType::from_wire(0, 16, 0x300).dump,
            "NEWLINK is never a dump"
        );
    }

    #[test]
    fn rejects_garbage() {
        let mut ev = Event::zeroed();
        ev.kind = 9;
        assert_eq!(
            Record::decode(&bytes(&ev), &mut |_| String::new()),
            Err(DecodeError::Kind(9))
        );
        assert_eq!(
            Record::decode(&[0u8; 10], &mut |_| String::new()),
            Err(DecodeError::Size(10))
        );
        ev.kind = EventKind::Hold as u8;
        ev.origin = 77;
        assert_eq!(
            Record::decode(&bytes(&ev), &mut |_| String::new()),
            Err(DecodeError::Origin(77))
        );
    }

    #[test]
    fn task_names_decode_without_losing_bytes() {
        let mut raw = [0u8; 16];
        raw[..2].copy_from_slice(b"ip");
        assert_eq!(comm(&raw), "ip");
        // A name of the full 15 bytes and its NUL, and one the kernel left without a NUL.
        raw = *b"kworker/u8:12+n\0";
        assert_eq!(comm(&raw), "kworker/u8:12+n");
        raw = *b"0123456789abcdef";
        assert_eq!(comm(&raw), "0123456789abcdef");
        // A task may name itself with any bytes: what is not UTF-8 is marked, not dropped.
        raw = [0; 16];
        raw[..3].copy_from_slice(&[b'a', 0xff, b'b']);
        assert_eq!(comm(&raw), "a\u{fffd}b");
    }
}
