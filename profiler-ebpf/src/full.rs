//! The full mode: fentry/fexit programs, for kernels that allow BPF trampolines.
//!
//! * `rtnetlink_rcv_msg` entry/exit: one Request event per netlink message, and the per-task
//!   "current request" every RTNL hold taken meanwhile is attributed to. A request's last hold
//!   waits in the task's state for the request's return and leaves with it in one RequestHold
//!   record (one ring-buffer record per request in the common case instead of two).
//! * fentry `mutex_lock*` / fexit `mutex_trylock` / fentry `mutex_unlock` filtered on
//!   `&rtnl_mutex` (RTNL_MUTEX, set by the loader from /proc/kallsyms): `rtnl_lock()` is inlined
//!   into its callers on distro kernels, so the mutex entry points are the only hooks that see
//!   every acquisition.
//! * `lock:contention_begin/end`: whether (and how often) a waiter had to sleep or spin, and
//!   when a contended acquisition took the lock.
//! * `synchronize_rcu*`, `synchronize_net`, `rcu_barrier`: grace-period waits inside a hold.
//! * `netlink_dump`: dump continuations read from `recvmsg`, attributed to the dump's request.

use aya_ebpf::{
    helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::{fentry, fexit, tracepoint},
    programs::{tracing::StackIdContext, FEntryContext, FExitContext, TracePointContext},
};
use profiler_common::{stat, EventKind, LockFn, Origin};

use crate::state::{
    bump, emit, emit_request, is_dump, read_ptr, sock_netns, task_mut, task_netns, tid, zero,
    NlHead, DUMPS, OFF_SKB_SK, RTNL_MUTEX, STACKS, TASKS,
};

#[inline(always)]
fn is_rtnl(lock: u64) -> bool {
    let want = RTNL_MUTEX.load();
    want != 0 && lock == want
}

// ---- requests -------------------------------------------------------------------------------

#[fentry(function = "rtnetlink_rcv_msg")]
pub fn rtnetlink_rcv_msg_entry(ctx: FEntryContext) -> u32 {
    let _ = try_req_entry(&ctx);
    0
}

fn try_req_entry(ctx: &FEntryContext) -> Result<(), i64> {
    let nlh: *const u8 = ctx.arg(1);
    let hdr = NlHead::read_kernel(nlh)?;
    let tid = tid();
    bump(stat::REQUESTS_ENTERED);
    let skb: u64 = ctx.arg(0);
    let netns = sock_netns(read_ptr(skb, OFF_SKB_SK.load()));
    let t = task_mut(tid).ok_or(0)?;
    unsafe {
        (*t).req_netns = netns;
        // Read once per request: its holds and its exit take it from here.
        (*t).req_comm = bpf_get_current_comm().unwrap_or([0; 16]);
        (*t).req = hdr.key(tid, bpf_ktime_get_ns());
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
    emit_request(t, pid_tgid, ret, t.req_comm, now);
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
