//! What both capture modes share: the maps, the globals the loader sets, the per-task state and
//! the helpers that read kernel memory, decode a netlink header and emit records.

use aya_ebpf::bindings::BPF_RB_NO_WAKEUP;
use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid, bpf_get_current_task, bpf_probe_read_kernel, bpf_probe_read_user,
    },
    macros::map,
    maps::{Array, LruHashMap, PerCpuArray, RingBuf, StackTrace},
    Global,
};
use profiler_common::{nl, stat, Event, EventKind, MsgKey};

// ---- globals, set by the loader (names: profiler_common::names, ::netns, ::sockfd) ----------

/// Full mode: address of `rtnl_mutex`, from /proc/kallsyms.
#[unsafe(no_mangle)]
pub(crate) static RTNL_MUTEX: Global<u64> = Global::new(0);

// Offsets for the network namespace (profiler_common::netns), from the kernel's BTF.
#[unsafe(no_mangle)]
pub(crate) static OFF_SKB_SK: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_SK_NET: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_NET_INUM: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_TASK_NSPROXY: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_NSPROXY_NET: Global<u32> = Global::new(u32::MAX);

// Offsets to go from a file descriptor to its socket (tracepoint mode: profiler_common::sockfd).
#[unsafe(no_mangle)]
pub(crate) static OFF_TASK_FILES: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
pub(crate) static OFF_FILES_FDT: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
pub(crate) static OFF_FDT_MAX_FDS: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
pub(crate) static OFF_FDT_FD: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
pub(crate) static OFF_FILE_INODE: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
pub(crate) static OFF_INODE_MODE: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
pub(crate) static OFF_FILE_PRIVATE: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
pub(crate) static OFF_SOCKET_SK: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
pub(crate) static OFF_SK_FAMILY: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
pub(crate) static OFF_SK_PROTOCOL: Global<u32> = Global::new(u32::MAX);

// ---- maps -----------------------------------------------------------------------------------

#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 20, 0);

#[map(name = "STATS")]
static STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(stat::COUNT, 0);

#[map(name = "STACKS")]
pub(crate) static STACKS: StackTrace = StackTrace::with_max_entries(4096, 0);

#[map(name = "TASKS")]
pub(crate) static TASKS: LruHashMap<u32, Task> = LruHashMap::with_max_entries(16384, 0);

/// Netlink socket (`struct sock *`) -> the rtnetlink dump request it is serving.
#[map(name = "DUMPS")]
pub(crate) static DUMPS: LruHashMap<u64, MsgKey> = LruHashMap::with_max_entries(4096, 0);

/// Tracepoint mode: the learned address of rtnl_mutex (0: not yet), written by userspace.
#[map(name = "TP_LOCK")]
pub(crate) static TP_LOCK: Array<u64> = Array::with_max_entries(1, 0);

// ---- per-task state -------------------------------------------------------------------------

/// Per-thread state.
#[repr(C)]
#[derive(Copy, Clone)]
pub(crate) struct Task {
    /// The rtnetlink request this thread is inside (valid when `in_req` != 0).
    pub(crate) req: MsgKey,
    /// The dump this thread is continuing from recvmsg (valid when `in_dump` != 0).
    pub(crate) dump: MsgKey,
    pub(crate) in_req: u8,
    pub(crate) in_dump: u8,
    _pad: [u8; 2],
    pub(crate) gp_depth: u32,
    pub(crate) gp_start: u64,
    /// Network namespace of the request's socket (valid with `in_req`).
    pub(crate) req_netns: u32,
    /// Network namespace of the socket whose dump is continued (valid with `in_dump`).
    pub(crate) dump_netns: u32,
    /// Tracepoint mode: the route socket the request was sent on (valid with `in_req`).
    pub(crate) req_sk: u64,
    /// The task's name when the request entered (valid with `in_req`).
    pub(crate) req_comm: [u8; 16],
    /// The RTNL hold this thread is waiting for or holding (`kind` Hold), built from the lock
    /// call's entry and emitted at its `mutex_unlock`; `kind` 0: none.
    pub(crate) hold: Event,
}

const TASK_ZERO: Task = Task {
    req: MsgKey::ZERO,
    dump: MsgKey::ZERO,
    in_req: 0,
    in_dump: 0,
    _pad: [0; 2],
    gp_depth: 0,
    gp_start: 0,
    req_netns: 0,
    dump_netns: 0,
    req_sk: 0,
    req_comm: [0; 16],
    hold: Event::zeroed(),
};

#[inline(always)]
pub(crate) fn tid() -> u32 {
    bpf_get_current_pid_tgid() as u32
}

/// The state of thread `tid`, created (zeroed) if it has none.
#[inline(always)]
pub(crate) fn task_mut(tid: u32) -> Option<*mut Task> {
    if let Some(t) = TASKS.get_ptr_mut(tid) {
        return Some(t);
    }
    TASKS.insert(tid, TASK_ZERO, 0).ok()?;
    TASKS.get_ptr_mut(tid)
}

// ---- kernel memory --------------------------------------------------------------------------

/// `*(T *)(base + off)` in kernel memory; None when `base` is null, the offset is unknown
/// (`profiler_common::netns::NO_OFFSET`) or the read faults.
#[inline(always)]
pub(crate) fn read_at<T: Copy>(base: u64, off: u32) -> Option<T> {
    if base == 0 || off == u32::MAX {
        return None;
    }
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const T) }.ok()
}

/// A pointer field, `*(u64 *)(base + off)`, or 0.
#[inline(always)]
pub(crate) fn read_ptr(base: u64, off: u32) -> u64 {
    read_at(base, off).unwrap_or(0)
}

/// `net->ns.inum`, or 0.
#[inline(always)]
fn net_inum(net: u64) -> u32 {
    read_at(net, OFF_NET_INUM.load()).unwrap_or(0)
}

/// The network namespace of a socket (`sock_net(sk)`), as its inode number.
#[inline(always)]
pub(crate) fn sock_netns(sk: u64) -> u32 {
    net_inum(read_ptr(sk, OFF_SK_NET.load()))
}

/// The network namespace of the current task (`current->nsproxy->net_ns`).
#[inline(always)]
pub(crate) fn task_netns() -> u32 {
    let task = unsafe { bpf_get_current_task() };
    let nsproxy = read_ptr(task, OFF_TASK_NSPROXY.load());
    net_inum(read_ptr(nsproxy, OFF_NSPROXY_NET.load()))
}

// ---- netlink --------------------------------------------------------------------------------

/// `struct nlmsghdr` and the first byte after it (the family of every rtnetlink message), read
/// in one go: a message sits in a buffer with room after it, so the 17 bytes are there even for
/// a bare header. Read as a struct, not into a zeroed array: zeroing costs a memset call in BPF.
#[repr(C, packed)]
#[derive(Copy, Clone)]
pub(crate) struct NlHead {
    pub(crate) len: u32,
    ty: u16,
    flags: u16,
    _seq: u32,
    _pid: u32,
    family: u8,
}
const _: () = assert!(core::mem::size_of::<NlHead>() == nl::FAMILY_OFFSET + 1);

impl NlHead {
    /// The header of a message in kernel memory (the full mode's `rtnetlink_rcv_msg`).
    #[inline(always)]
    pub(crate) fn read_kernel(msg: *const u8) -> Result<Self, i32> {
        unsafe { bpf_probe_read_kernel(msg.cast()) }
    }

    /// The header of a message in user memory (the tracepoint mode's send buffers).
    #[inline(always)]
    pub(crate) fn read_user(msg: *const u8) -> Result<Self, i32> {
        unsafe { bpf_probe_read_user(msg.cast()) }
    }

    /// The request this message is, sent by thread `tid` and entered at `start`.
    #[inline(always)]
    pub(crate) fn key(&self, tid: u32, start: u64) -> MsgKey {
        let (len, nlmsg_type, nlmsg_flags) = (self.len, self.ty, self.flags);
        MsgKey {
            nlmsg_type,
            nlmsg_flags,
            family: if len as usize > nl::FAMILY_OFFSET {
                self.family
            } else {
                nl::NO_FAMILY
            },
            _pad: [0; 3],
            req_tid: tid,
            req_start: start,
        }
    }
}

#[inline(always)]
pub(crate) fn is_dump(key: &MsgKey) -> bool {
    // Dumps are GET requests (type % 4 == 2) with NLM_F_DUMP set, as rtnetlink_rcv_msg decides.
    key.nlmsg_type % 4 == 2 && (key.nlmsg_flags & nl::NLM_F_DUMP) == nl::NLM_F_DUMP
}

// ---- records and counters -------------------------------------------------------------------

#[inline(always)]
pub(crate) fn bump(idx: u32) {
    if let Some(p) = STATS.get_ptr_mut(idx) {
        unsafe { *p += 1 };
    }
}

/// Zeroes an event with word stores (`stack_id` -1, as [`Event::zeroed`]): a plain
/// `*ev = Event::zeroed()` compiles to a call of a byte-at-a-time memset in BPF.
#[inline(always)]
pub(crate) fn zero(ev: *mut Event) {
    const WORDS: usize = core::mem::size_of::<Event>() / 8;
    let p = ev.cast::<u64>();
    for i in 0..WORDS {
        // Volatile: LLVM would turn the loop back into a memset call.
        unsafe { core::ptr::write_volatile(p.add(i), 0) };
    }
    unsafe { (*ev).stack_id = -1 };
}

/// A zeroed event on the stack.
#[inline(always)]
fn stack_event() -> Event {
    let mut slot = core::mem::MaybeUninit::<Event>::uninit();
    zero(slot.as_mut_ptr());
    // SAFETY: every byte was written by zero().
    unsafe { slot.assume_init() }
}

#[inline(always)]
pub(crate) fn emit(ev: &Event) {
    // bpf_ringbuf_output copies in the kernel; writing into a reserved slot from BPF would copy
    // byte by byte (memmove).
    // No wake-up: the reader polls the ring instead of waiting on it.
    if EVENTS.output::<Event>(ev, BPF_RB_NO_WAKEUP as u64).is_err() {
        // Lost events are counted as userspace would have counted them: a RequestHold is two.
        bump(stat::LOST_EVENTS);
        if ev.kind == EventKind::RequestHold as u8 {
            bump(stat::LOST_EVENTS);
        }
    }
}

/// Emits the Request record of the request `t` is leaving: from its entry to `now`, with the
/// request's return value `ret` and the task's name `comm`.
#[inline(always)]
pub(crate) fn emit_request(t: &Task, pid_tgid: u64, ret: i32, comm: [u8; 16], now: u64) {
    let mut ev = stack_event();
    ev.kind = EventKind::Request as u8;
    ev.tid = pid_tgid as u32;
    ev.tgid = (pid_tgid >> 32) as u32;
    ev.ret = ret;
    ev.msg = t.req;
    ev.t_start = t.req.req_start;
    ev.t_acquired = t.req.req_start;
    ev.t_end = now;
    ev.comm = comm;
    ev.netns = t.req_netns;
    emit(&ev);
}
