//! rtnlprof's eBPF programs. The full mode (fentry/fexit, for kernels that allow BPF trampolines)
//! is described here; the tracepoint mode (`tp_*`, for kernels that refuse them) at its section.
//!
//! * `rtnetlink_rcv_msg` entry/exit: one Request event per netlink message, and the per-task
//!   "current request" every RTNL hold taken meanwhile is attributed to. A request's last hold
//!   waits in the task's state for the request's return and leaves with it in one RequestHold
//!   record (one ring-buffer record per request in the common case instead of two).
//! * fentry `mutex_lock*` / fexit `mutex_trylock` / fentry `mutex_unlock` filtered on `&rtnl_mutex` (RTNL_MUTEX, set by
//!   the loader from /proc/kallsyms): `rtnl_lock()` is inlined into its callers on distro kernels, so
//!   the mutex entry points are the only hooks that see every acquisition.
//! * `lock:contention_begin/end`: whether (and how often) a waiter had to sleep or spin, and
//!   when a contended acquisition took the lock.
//! * `synchronize_rcu*`, `synchronize_net`, `rcu_barrier`: grace-period waits inside a hold.
//! * `netlink_dump`: dump continuations read from `recvmsg`, attributed to the dump's request.
#![no_std]
#![no_main]

use aya_ebpf::bindings::BPF_RB_NO_WAKEUP;
use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_task, bpf_ktime_get_ns,
        bpf_probe_read_kernel,
    },
    macros::{fentry, fexit, map, tracepoint},
    maps::{Array, LruHashMap, PerCpuArray, RingBuf, StackTrace},
    programs::{tracing::StackIdContext, FEntryContext, FExitContext, TracePointContext},
    Global,
};
use profiler_common::{nl, stat, Event, EventKind, LockFn, MsgKey, Origin};

/// Address of `rtnl_mutex`, from /proc/kallsyms; set by the loader.
#[unsafe(no_mangle)]
static RTNL_MUTEX: Global<u64> = Global::new(0);

// Offsets for the network namespace (profiler_common::netns), from the kernel's BTF.
#[unsafe(no_mangle)]
static OFF_SKB_SK: Global<u32> = Global::new(u32::MAX);
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
static OFF_TASK_FILES: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_FILES_FDT: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_FDT_MAX_FDS: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_FDT_FD: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_FILE_INODE: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_INODE_MODE: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_FILE_PRIVATE: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_SOCKET_SK: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_SK_FAMILY: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static OFF_SK_PROTOCOL: Global<u32> = Global::new(u32::MAX);

#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 20, 0);

#[map(name = "STATS")]
static STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(stat::COUNT, 0);

#[map(name = "STACKS")]
static STACKS: StackTrace = StackTrace::with_max_entries(4096, 0);

/// Per-thread state.
#[repr(C)]
#[derive(Copy, Clone)]
struct Task {
    /// The rtnetlink request this thread is inside (valid when `in_req` != 0).
    req: MsgKey,
    /// The dump this thread is continuing from recvmsg (valid when `in_dump` != 0).
    dump: MsgKey,
    in_req: u8,
    in_dump: u8,
    _pad: [u8; 2],
    gp_depth: u32,
    gp_start: u64,
    /// Network namespace of the request's socket (valid with `in_req`).
    req_netns: u32,
    /// Network namespace of the socket whose dump is continued (valid with `in_dump`).
    dump_netns: u32,
    /// Tracepoint mode: the route socket the request was sent on (valid with `in_req`).
    req_sk: u64,
    /// The task's name when the request entered (valid with `in_req`).
    req_comm: [u8; 16],
    /// The RTNL hold this thread is waiting for or holding (`kind` Hold), built from the lock
    /// call's entry and emitted at its `mutex_unlock`; `kind` 0: none.
    hold: Event,
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

#[map(name = "TASKS")]
static TASKS: LruHashMap<u32, Task> = LruHashMap::with_max_entries(16384, 0);

/// Netlink socket (`struct sock *`) -> the rtnetlink dump request it is serving.
#[map(name = "DUMPS")]
static DUMPS: LruHashMap<u64, MsgKey> = LruHashMap::with_max_entries(4096, 0);

#[inline(always)]
fn bump(idx: u32) {
    if let Some(p) = STATS.get_ptr_mut(idx) {
        unsafe { *p += 1 };
    }
}

#[inline(always)]
fn tid() -> u32 {
    bpf_get_current_pid_tgid() as u32
}

#[inline(always)]
fn task_mut(tid: u32) -> Option<*mut Task> {
    if let Some(t) = TASKS.get_ptr_mut(tid) {
        return Some(t);
    }
    TASKS.insert(tid, TASK_ZERO, 0).ok()?;
    TASKS.get_ptr_mut(tid)
}

#[inline(always)]
fn is_rtnl(lock: u64) -> bool {
    let want = RTNL_MUTEX.load();
    want != 0 && lock == want
}

#[inline(always)]
fn is_dump(key: &MsgKey) -> bool {
    // Dumps are GET requests (type % 4 == 2) with NLM_F_DUMP set, as rtnetlink_rcv_msg decides.
    key.nlmsg_type % 4 == 2 && (key.nlmsg_flags & nl::NLM_F_DUMP) == nl::NLM_F_DUMP
}

/// `*(u64 *)(base + off)`, or 0.
#[inline(always)]
fn read_ptr(base: u64, off: u32) -> u64 {
    if base == 0 || off == u32::MAX {
        return 0;
    }
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const u64) }.unwrap_or(0)
}

/// `net->ns.inum`, or 0.
#[inline(always)]
fn net_inum(net: u64) -> u32 {
    let off = OFF_NET_INUM.load();
    if net == 0 || off == u32::MAX {
        return 0;
    }
    unsafe { bpf_probe_read_kernel((net + off as u64) as *const u32) }.unwrap_or(0)
}

/// The network namespace of a socket (`sock_net(sk)`), as its inode number.
#[inline(always)]
fn sock_netns(sk: u64) -> u32 {
    net_inum(read_ptr(sk, OFF_SK_NET.load()))
}

/// The network namespace of the current task (`current->nsproxy->net_ns`).
#[inline(always)]
fn task_netns() -> u32 {
    let task = unsafe { bpf_get_current_task() };
    let nsproxy = read_ptr(task, OFF_TASK_NSPROXY.load());
    net_inum(read_ptr(nsproxy, OFF_NSPROXY_NET.load()))
}

/// Zeroes an event with word stores (`stack_id` -1, as [`Event::zeroed`]): a plain
/// `*ev = Event::zeroed()` compiles to a call of a byte-at-a-time memset in BPF.
#[inline(always)]
fn zero(ev: *mut Event) {
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
fn emit(ev: &Event) {
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

// ---- requests -------------------------------------------------------------------------------

#[fentry(function = "rtnetlink_rcv_msg")]
pub fn rtnetlink_rcv_msg_entry(ctx: FEntryContext) -> u32 {
    let _ = try_req_entry(&ctx);
    0
}

/// `struct nlmsghdr` and the first byte after it (the family of every rtnetlink message).
#[repr(C, packed)]
#[derive(Copy, Clone)]
struct NlHead {
    len: u32,
    ty: u16,
    flags: u16,
    _seq: u32,
    _pid: u32,
    family: u8,
}
const _: () = assert!(core::mem::size_of::<NlHead>() == nl::FAMILY_OFFSET + 1);

fn try_req_entry(ctx: &FEntryContext) -> Result<(), i64> {
    let nlh: *const u8 = ctx.arg(1);
    // The header and the family byte in one read (the message sits in an skb with room after
    // it, so 17 bytes are there even for a bare header).
    // Read as a struct, not into a zeroed array: zeroing costs a memset call in BPF.
    let hdr: NlHead = unsafe { bpf_probe_read_kernel(nlh.cast()) }?;
    let (len, nlmsg_type, nlmsg_flags) = (hdr.len, hdr.ty, hdr.flags);
    let family: u8 = if len as usize > nl::FAMILY_OFFSET {
        hdr.family
    } else {
        nl::NO_FAMILY
    };
    let tid = tid();
    bump(stat::REQUESTS_ENTERED);
    let skb: u64 = ctx.arg(0);
    let netns = sock_netns(read_ptr(skb, OFF_SKB_SK.load()));
    let t = task_mut(tid).ok_or(0)?;
    unsafe {
        (*t).req_netns = netns;
        // Read once per request: its holds and its exit take it from here.
        (*t).req_comm = bpf_get_current_comm().unwrap_or([0; 16]);
        (*t).req = MsgKey {
            nlmsg_type,
            nlmsg_flags,
            family,
            _pad: [0; 3],
            req_tid: tid,
            req_start: bpf_ktime_get_ns(),
        };
        (*t).in_req = 1;
    }
    Ok(())
}

#[fexit(function = "rtnetlink_rcv_msg")]
pub fn rtnetlink_rcv_msg_exit(ctx: FExitContext) -> u32 {
    let now = unsafe { bpf_ktime_get_ns() };
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    let Some(t) = TASKS.get_ptr_mut(tid) else {
        return 0;
    };
    let t = unsafe { &mut *t };
    if t.in_req == 0 {
        return 0;
    }
    t.in_req = 0;
    let ret: i32 = ctx.arg::<i64>(3) as i32;
    if t.hold.kind == EventKind::RequestHold as u8 {
        // The request's last hold, released and kept for this moment: one record for both.
        let ev = &mut t.hold;
        ev.ret = ret;
        ev.req_end = now;
        emit(ev);
        ev.kind = 0;
        return 0;
    }
    let mut ev = stack_event();
    ev.kind = EventKind::Request as u8;
    ev.tid = tid;
    ev.tgid = (pid_tgid >> 32) as u32;
    ev.ret = ret;
    ev.msg = t.req;
    ev.t_start = t.req.req_start;
    ev.t_acquired = t.req.req_start;
    ev.t_end = now;
    ev.comm = t.req_comm;
    ev.netns = t.req_netns;
    emit(&ev);
    0
}

// ---- dumps continued from recvmsg -----------------------------------------------------------

#[fentry(function = "netlink_dump")]
pub fn netlink_dump_entry(ctx: FEntryContext) -> u32 {
    let sk: u64 = ctx.arg(0);
    let Some(t) = task_mut(tid()) else {
        return 0;
    };
    let t = unsafe { &mut *t };
    if t.in_req != 0 {
        // First part of a dump, inside rtnetlink_rcv_msg: remember which request this socket serves.
        if is_dump(&t.req) {
            let _ = DUMPS.insert(sk, t.req, 0);
        }
    } else if let Some(k) = unsafe { DUMPS.get(sk) } {
        t.dump = *k;
        t.in_dump = 1;
        t.dump_netns = sock_netns(sk);
    }
    0
}

#[fexit(function = "netlink_dump")]
pub fn netlink_dump_exit(_ctx: FExitContext) -> u32 {
    if let Some(t) = TASKS.get_ptr_mut(tid()) {
        unsafe { (*t).in_dump = 0 };
    }
    0
}

// ---- rtnl_mutex -----------------------------------------------------------------------------
//
// No fexit on the lock calls: an fexit trampoline on `mutex_lock` runs for every mutex in the
// kernel and costs far more than an fentry. The acquisition time comes from the fentry when the
// fast path takes the lock (no contention tracepoint fires), else from `lock:contention_end`,
// which every slow path fires once, with the call's result. The hold being built lives in the
// task's own state until its `mutex_unlock`.

#[inline(always)]
fn lock_entry<C: StackIdContext>(ctx: &C, lock: u64, f: LockFn) {
    if !is_rtnl(lock) {
        return;
    }
    let now = unsafe { bpf_ktime_get_ns() };
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    let Some(t) = task_mut(tid) else {
        return;
    };
    let t = unsafe { &mut *t };
    let ev = &mut t.hold;
    if ev.kind == EventKind::RequestHold as u8 {
        // A second hold in the same request: the first goes out on its own.
        ev.kind = EventKind::Hold as u8;
        emit(ev);
    }
    zero(ev);
    ev.kind = EventKind::Hold as u8;
    ev.tid = tid;
    ev.tgid = (pid_tgid >> 32) as u32;
    ev.lock_fn = f as u8;
    ev.t_start = now;
    ev.t_acquired = now;
    if t.in_req != 0 {
        ev.comm = t.req_comm;
        ev.msg = t.req;
        ev.netns = t.req_netns;
        ev.origin = if is_dump(&t.req) {
            Origin::DumpStart as u8
        } else {
            Origin::Doit as u8
        };
    } else if t.in_dump != 0 {
        ev.comm = bpf_get_current_comm().unwrap_or([0; 16]);
        ev.msg = t.dump;
        ev.netns = t.dump_netns;
        ev.origin = Origin::DumpContinue as u8;
    } else {
        ev.comm = bpf_get_current_comm().unwrap_or([0; 16]);
        ev.netns = task_netns();
        ev.origin = Origin::Other as u8;
        ev.stack_id = ctx
            .get_stackid(&STACKS, 0)
            .map(|id| id as i32)
            .unwrap_or(-1);
    }
}

macro_rules! lock_probe {
    ($func:literal, $entry:ident, $lock_fn:expr) => {
        #[fentry(function = $func)]
        pub fn $entry(ctx: FEntryContext) -> u32 {
            lock_entry(&ctx, ctx.arg(0), $lock_fn);
            0
        }
    };
}

lock_probe!("mutex_lock", mutex_lock_entry, LockFn::Lock);
lock_probe!(
    "mutex_lock_interruptible",
    mutex_lock_interruptible_entry,
    LockFn::Interruptible
);
lock_probe!(
    "mutex_lock_killable",
    mutex_lock_killable_entry,
    LockFn::Killable
);
// Kernels with lock debugging (CONFIG_DEBUG_LOCK_ALLOC) route the plain calls through these.
lock_probe!("mutex_lock_nested", mutex_lock_nested_entry, LockFn::Lock);
lock_probe!(
    "mutex_lock_interruptible_nested",
    mutex_lock_interruptible_nested_entry,
    LockFn::Interruptible
);
lock_probe!(
    "mutex_lock_killable_nested",
    mutex_lock_killable_nested_entry,
    LockFn::Killable
);

/// A trylock never waits: its result (after the arguments) is all there is to know, so it is
/// seen at return only.
#[fexit(function = "mutex_trylock")]
pub fn mutex_trylock_exit(ctx: FExitContext) -> u32 {
    let lock: u64 = ctx.arg(0);
    if !is_rtnl(lock) {
        return 0;
    }
    let taken = ctx.arg::<i64>(1) as i32 == 1;
    lock_entry(&ctx, lock, LockFn::Trylock);
    if taken {
        return 0;
    }
    bump(stat::TRYLOCK_FAILED);
    if let Some(t) = TASKS.get_ptr_mut(tid()) {
        let ev = unsafe { &mut (*t).hold };
        ev.kind = EventKind::TrylockFailed as u8;
        ev.t_end = ev.t_start;
        emit(ev);
        ev.kind = 0;
    }
    0
}

#[fentry(function = "mutex_unlock")]
pub fn mutex_unlock_entry(ctx: FEntryContext) -> u32 {
    let lock: u64 = ctx.arg(0);
    if !is_rtnl(lock) {
        return 0;
    }
    let now = unsafe { bpf_ktime_get_ns() };
    let t = match TASKS.get_ptr_mut(tid()) {
        Some(t) => unsafe { &mut *t },
        None => {
            bump(stat::UNMATCHED_RELEASE);
            return 0;
        }
    };
    let held = &mut t.hold;
    if held.kind != EventKind::Hold as u8 {
        bump(stat::UNMATCHED_RELEASE);
        return 0;
    }
    held.t_end = now;
    bump(stat::ACQUISITIONS);
    let in_request = held.origin == Origin::Doit as u8 || held.origin == Origin::DumpStart as u8;
    if in_request && t.in_req != 0 && held.msg.req_start == t.req.req_start {
        // Taken inside the request this thread is still in: it goes out with the request at
        // its return, in one record (see rtnetlink_rcv_msg_exit).
        held.kind = EventKind::RequestHold as u8;
        return 0;
    }
    emit(held);
    held.kind = 0;
    0
}

// ---- contention -----------------------------------------------------------------------------

/// `lock:contention_begin`: `void *lock_addr` at offset 8, `unsigned int flags` at 16.
#[tracepoint(category = "lock", name = "contention_begin")]
pub fn contention_begin(ctx: TracePointContext) -> u32 {
    let lock: u64 = unsafe { ctx.read_at(8) }.unwrap_or(0);
    if !is_rtnl(lock) {
        return 0;
    }
    bump(stat::CONTENTION_BEGIN);
    if let Some(t) = TASKS.get_ptr_mut(tid()) {
        let ev = unsafe { &mut (*t).hold };
        if ev.kind == EventKind::Hold as u8 && ev.contention_begins < u8::MAX {
            ev.contention_begins += 1;
        }
    }
    0
}

/// `lock:contention_end`: `void *lock_addr` at offset 8, `int ret` at 16. Fires once at the end
/// of every slow path: the lock is taken now (ret 0) or the call gave up (signal: no hold).
#[tracepoint(category = "lock", name = "contention_end")]
pub fn contention_end(ctx: TracePointContext) -> u32 {
    let lock: u64 = unsafe { ctx.read_at(8) }.unwrap_or(0);
    if !is_rtnl(lock) {
        return 0;
    }
    let now = unsafe { bpf_ktime_get_ns() };
    bump(stat::CONTENTION_END);
    let ret: i32 = unsafe { ctx.read_at(16) }.unwrap_or(0);
    if let Some(t) = TASKS.get_ptr_mut(tid()) {
        let ev = unsafe { &mut (*t).hold };
        if ev.kind == EventKind::Hold as u8 {
            if ret == 0 {
                ev.t_acquired = now;
            } else {
                ev.kind = 0;
            }
        }
    }
    0
}

// ---- RCU grace periods under RTNL -----------------------------------------------------------

#[inline(always)]
fn gp_entry() {
    let Some(t) = TASKS.get_ptr_mut(tid()) else {
        return;
    };
    let t = unsafe { &mut *t };
    if t.hold.kind != EventKind::Hold as u8 {
        return;
    }
    if t.gp_depth == 0 {
        t.gp_start = unsafe { bpf_ktime_get_ns() };
    }
    t.gp_depth += 1;
}

#[inline(always)]
fn gp_exit() {
    let now = unsafe { bpf_ktime_get_ns() };
    let Some(t) = TASKS.get_ptr_mut(tid()) else {
        return;
    };
    let t = unsafe { &mut *t };
    if t.gp_depth == 0 {
        return;
    }
    t.gp_depth -= 1;
    if t.gp_depth != 0 {
        return;
    }
    if t.hold.kind == EventKind::Hold as u8 {
        t.hold.gp_ns += now - t.gp_start;
        t.hold.gp_count += 1;
    }
}

macro_rules! gp_probe {
    ($func:literal, $entry:ident, $exit:ident) => {
        #[fentry(function = $func)]
        pub fn $entry(_ctx: FEntryContext) -> u32 {
            gp_entry();
            0
        }
        #[fexit(function = $func)]
        pub fn $exit(_ctx: FExitContext) -> u32 {
            gp_exit();
            0
        }
    };
}

gp_probe!(
    "synchronize_rcu",
    synchronize_rcu_entry,
    synchronize_rcu_exit
);
gp_probe!(
    "synchronize_rcu_expedited",
    synchronize_rcu_expedited_entry,
    synchronize_rcu_expedited_exit
);
gp_probe!(
    "synchronize_net",
    synchronize_net_entry,
    synchronize_net_exit
);
gp_probe!("rcu_barrier", rcu_barrier_entry, rcu_barrier_exit);

// ---- tracepoint mode ------------------------------------------------------------------------
//
// For kernels that refuse BPF trampolines (and kprobes): only tracepoints. RTNL is seen only when
// it is contended: `lock:contention_begin` opens a wait, `lock:contention_end` closes it and emits
// it as a Hold whose hold part is unknown (released = acquired). Until userspace has learned the
// address of rtnl_mutex (from the kernel stack of a wait, TP_LOCK[0]), every mutex wait is
// emitted with its stack and lock address; after, only waits on that address. A request is a
// sendmsg/sendto on a NETLINK_ROUTE socket (the netlink header read from the user's buffer): the
// kernel runs rtnetlink_rcv_msg inside that syscall, in the sender's thread.

/// The learned address of rtnl_mutex (0: not yet), written by userspace.
#[map(name = "TP_LOCK")]
static TP_LOCK: Array<u64> = Array::with_max_entries(1, 0);

const LCB_F_MUTEX: u32 = 32;

#[inline(always)]
fn tp_lock() -> u64 {
    TP_LOCK.get(0).copied().unwrap_or(0)
}

#[tracepoint(category = "lock", name = "contention_begin")]
pub fn tp_contention_begin(ctx: TracePointContext) -> u32 {
    let lock: u64 = unsafe { ctx.read_at(8) }.unwrap_or(0);
    let flags: u32 = unsafe { ctx.read_at(16) }.unwrap_or(0);
    if flags & LCB_F_MUTEX == 0 {
        return 0;
    }
    let learned = tp_lock();
    if learned != 0 && lock != learned {
        return 0;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    let Some(t) = task_mut(tid) else {
        return 0;
    };
    let t = unsafe { &mut *t };
    if t.hold.kind == EventKind::Hold as u8 {
        // The same wait going on: spinning, then sleeping, or woken without the lock.
        if t.hold.lock == lock && t.hold.contention_begins < u8::MAX {
            t.hold.contention_begins += 1;
        }
        return 0;
    }
    if learned != 0 {
        bump(stat::CONTENTION_BEGIN);
    }
    let now = unsafe { bpf_ktime_get_ns() };
    let ev = &mut t.hold;
    zero(ev);
    ev.kind = EventKind::Hold as u8;
    ev.tid = tid;
    ev.tgid = (pid_tgid >> 32) as u32;
    ev.lock_fn = LockFn::None as u8;
    ev.contention_begins = 1;
    ev.lock = lock;
    ev.t_start = now;
    ev.comm = bpf_get_current_comm().unwrap_or([0; 16]);
    let mut stack = learned == 0;
    if t.in_req != 0 {
        ev.msg = t.req;
        ev.netns = t.req_netns;
        ev.origin = if is_dump(&t.req) {
            Origin::DumpStart as u8
        } else {
            Origin::Doit as u8
        };
    } else if t.in_dump != 0 {
        ev.msg = t.dump;
        ev.netns = t.dump_netns;
        ev.origin = Origin::DumpContinue as u8;
    } else {
        ev.netns = task_netns();
        ev.origin = Origin::Other as u8;
        stack = true;
    }
    if stack {
        ev.stack_id = ctx
            .get_stackid(&STACKS, 0)
            .map(|id| id as i32)
            .unwrap_or(-1);
    }
    0
}

#[tracepoint(category = "lock", name = "contention_end")]
pub fn tp_contention_end(ctx: TracePointContext) -> u32 {
    let lock: u64 = unsafe { ctx.read_at(8) }.unwrap_or(0);
    let Some(t) = TASKS.get_ptr_mut(tid()) else {
        return 0;
    };
    let ev = unsafe { &mut (*t).hold };
    if ev.kind != EventKind::Hold as u8 || ev.lock != lock {
        return 0;
    }
    let now = unsafe { bpf_ktime_get_ns() };
    let ret: i32 = unsafe { ctx.read_at(16) }.unwrap_or(0);
    let learned = tp_lock() != 0;
    if learned {
        bump(stat::CONTENTION_END);
    }
    if ret == 0 {
        ev.t_acquired = now;
        ev.t_end = now;
        // Every wait emitted; userspace subtracts those it finds on other mutexes.
        bump(stat::ACQUISITIONS);
        emit(ev);
    }
    ev.kind = 0;
    0
}

/// `*(T *)(base + off)` in kernel memory, or None.
#[inline(always)]
fn read_at<T: Copy>(base: u64, off: u32) -> Option<T> {
    if base == 0 || off == u32::MAX {
        return None;
    }
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const T) }.ok()
}

const AF_NETLINK: u16 = 16;
const NETLINK_ROUTE: u16 = 0;
const S_IFMT: u16 = 0o170000;
const S_IFSOCK: u16 = 0o140000;

/// The `struct sock *` behind the current task's descriptor `fd` if it is a NETLINK_ROUTE
/// socket, else 0.
#[inline(always)]
fn route_sock(fd: u64) -> u64 {
    let task = unsafe { bpf_get_current_task() };
    let files = read_ptr(task, OFF_TASK_FILES.load());
    let fdt = read_ptr(files, OFF_FILES_FDT.load());
    let max: u32 = read_at(fdt, OFF_FDT_MAX_FDS.load()).unwrap_or(0);
    if fd >= max as u64 {
        return 0;
    }
    let fds = read_ptr(fdt, OFF_FDT_FD.load());
    if fds == 0 {
        return 0;
    }
    let file = read_ptr(fds + fd * 8, 0);
    let inode = read_ptr(file, OFF_FILE_INODE.load());
    let mode: u16 = read_at(inode, OFF_INODE_MODE.load()).unwrap_or(0);
    if mode & S_IFMT != S_IFSOCK {
        return 0;
    }
    let socket = read_ptr(file, OFF_FILE_PRIVATE.load());
    let sk = read_ptr(socket, OFF_SOCKET_SK.load());
    let family: u16 = read_at(sk, OFF_SK_FAMILY.load()).unwrap_or(0);
    let proto: u16 = read_at(sk, OFF_SK_PROTOCOL.load()).unwrap_or(u16::MAX);
    if family != AF_NETLINK || proto != NETLINK_ROUTE {
        return 0;
    }
    sk
}

/// A netlink message sent from `buf` (user memory) on route socket `sk`: the thread is inside
/// that request until the syscall returns.
#[inline(always)]
fn tp_send(sk: u64, buf: u64) {
    if buf == 0 {
        return;
    }
    let mut hdr = [0u8; 17];
    if unsafe { aya_ebpf::helpers::bpf_probe_read_user_buf(buf as *const u8, &mut hdr) }.is_err() {
        return;
    }
    let len = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
    if len < 16 {
        return;
    }
    let tid = tid();
    let Some(t) = task_mut(tid) else { return };
    let t = unsafe { &mut *t };
    bump(stat::REQUESTS_ENTERED);
    t.req = MsgKey {
        nlmsg_type: u16::from_ne_bytes([hdr[4], hdr[5]]),
        nlmsg_flags: u16::from_ne_bytes([hdr[6], hdr[7]]),
        family: if len as usize > nl::FAMILY_OFFSET {
            hdr[nl::FAMILY_OFFSET]
        } else {
            nl::NO_FAMILY
        },
        _pad: [0; 3],
        req_tid: tid,
        req_start: unsafe { bpf_ktime_get_ns() },
    };
    t.req_netns = sock_netns(sk);
    t.req_sk = sk;
    t.in_req = 1;
}

/// `syscalls:sys_enter_sendmsg`: fd at 16, `struct user_msghdr *msg` at 24.
#[tracepoint(category = "syscalls", name = "sys_enter_sendmsg")]
pub fn tp_sendmsg_enter(ctx: TracePointContext) -> u32 {
    let fd: u64 = unsafe { ctx.read_at(16) }.unwrap_or(u64::MAX);
    let sk = route_sock(fd);
    if sk == 0 {
        return 0;
    }
    let msg: u64 = unsafe { ctx.read_at(24) }.unwrap_or(0);
    if msg == 0 {
        return 0;
    }
    // msghdr.msg_iov at 16; iovec.iov_base at 0: the first message of the first buffer.
    let iov: u64 =
        unsafe { aya_ebpf::helpers::bpf_probe_read_user((msg + 16) as *const u64) }.unwrap_or(0);
    if iov == 0 {
        return 0;
    }
    let base: u64 =
        unsafe { aya_ebpf::helpers::bpf_probe_read_user(iov as *const u64) }.unwrap_or(0);
    tp_send(sk, base);
    0
}

/// `syscalls:sys_enter_sendto`: fd at 16, `void *buff` at 24.
#[tracepoint(category = "syscalls", name = "sys_enter_sendto")]
pub fn tp_sendto_enter(ctx: TracePointContext) -> u32 {
    let fd: u64 = unsafe { ctx.read_at(16) }.unwrap_or(u64::MAX);
    let sk = route_sock(fd);
    if sk == 0 {
        return 0;
    }
    let buf: u64 = unsafe { ctx.read_at(24) }.unwrap_or(0);
    tp_send(sk, buf);
    0
}

/// Exit of a send: the request event (the syscall's time), and the socket remembered as serving
/// a dump if the request was one.
#[inline(always)]
fn tp_send_exit(ctx: &TracePointContext) {
    let now = unsafe { bpf_ktime_get_ns() };
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    let Some(t) = TASKS.get_ptr_mut(tid) else {
        return;
    };
    let t = unsafe { &mut *t };
    if t.in_req == 0 {
        return;
    }
    t.in_req = 0;
    let ret: i64 = unsafe { ctx.read_at(16) }.unwrap_or(0);
    if is_dump(&t.req) {
        let _ = DUMPS.insert(t.req_sk, t.req, 0);
    } else {
        let _ = DUMPS.remove(t.req_sk);
    }
    let mut ev = stack_event();
    ev.kind = EventKind::Request as u8;
    ev.tid = tid;
    ev.tgid = (pid_tgid >> 32) as u32;
    ev.ret = if ret < 0 { ret as i32 } else { 0 };
    ev.msg = t.req;
    ev.t_start = t.req.req_start;
    ev.t_acquired = t.req.req_start;
    ev.t_end = now;
    ev.comm = bpf_get_current_comm().unwrap_or([0; 16]);
    ev.netns = t.req_netns;
    emit(&ev);
}

#[tracepoint(category = "syscalls", name = "sys_exit_sendmsg")]
pub fn tp_sendmsg_exit(ctx: TracePointContext) -> u32 {
    tp_send_exit(&ctx);
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_sendto")]
pub fn tp_sendto_exit(ctx: TracePointContext) -> u32 {
    tp_send_exit(&ctx);
    0
}

/// A receive on a route socket that serves a dump continues the dump (netlink_dump runs in it).
#[inline(always)]
fn tp_recv_enter(ctx: &TracePointContext) {
    let fd: u64 = unsafe { ctx.read_at(16) }.unwrap_or(u64::MAX);
    let sk = route_sock(fd);
    if sk == 0 {
        return;
    }
    let Some(k) = (unsafe { DUMPS.get(sk) }) else {
        return;
    };
    let k = *k;
    let Some(t) = task_mut(tid()) else { return };
    let t = unsafe { &mut *t };
    t.dump = k;
    t.in_dump = 1;
    t.dump_netns = sock_netns(sk);
}

#[inline(always)]
fn tp_recv_exit() {
    if let Some(t) = TASKS.get_ptr_mut(tid()) {
        unsafe { (*t).in_dump = 0 };
    }
}

#[tracepoint(category = "syscalls", name = "sys_enter_recvmsg")]
pub fn tp_recvmsg_enter(ctx: TracePointContext) -> u32 {
    tp_recv_enter(&ctx);
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_recvmsg")]
pub fn tp_recvmsg_exit(_ctx: TracePointContext) -> u32 {
    tp_recv_exit();
    0
}

#[tracepoint(category = "syscalls", name = "sys_enter_recvfrom")]
pub fn tp_recvfrom_enter(ctx: TracePointContext) -> u32 {
    tp_recv_enter(&ctx);
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_recvfrom")]
pub fn tp_recvfrom_exit(_ctx: TracePointContext) -> u32 {
    tp_recv_exit();
    0
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
