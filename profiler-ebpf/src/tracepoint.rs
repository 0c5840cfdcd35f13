//! The tracepoint mode, for kernels that refuse BPF trampolines (and kprobes): only tracepoints.
//!
//! RTNL is seen only when it is contended: `lock:contention_begin` opens a wait,
//! `lock:contention_end` closes it and emits it as a Hold whose hold part is unknown (released =
//! acquired). Until userspace has learned the address of rtnl_mutex (from the kernel stack of a
//! wait, TP_LOCK[0]), every mutex wait is emitted with its stack and lock address; after, only
//! waits on that address. A request is a sendmsg/sendto on a NETLINK_ROUTE socket (the netlink
//! header read from the user's buffer): the kernel runs rtnetlink_rcv_msg inside that syscall, in
//! the sender's thread.

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_task, bpf_ktime_get_ns,
        bpf_probe_read_user,
    },
    macros::tracepoint,
    programs::{tracing::StackIdContext, TracePointContext},
};
use profiler_common::{stat, EventKind, LockFn, Origin};

use crate::state::{
    bump, emit, emit_request, is_dump, read_at, read_ptr, sock_netns, task_mut, task_netns, tid,
    zero, NlHead, DUMPS, OFF_FDT_FD, OFF_FDT_MAX_FDS, OFF_FILES_FDT, OFF_FILE_INODE,
    OFF_FILE_PRIVATE, OFF_INODE_MODE, OFF_SK_FAMILY, OFF_SK_PROTOCOL, OFF_SOCKET_SK,
    OFF_TASK_FILES, STACKS, TASKS, TP_LOCK,
};

/// `lock:contention_begin`'s flag for a mutex.
const LCB_F_MUTEX: u32 = 32;

/// The learned address of rtnl_mutex, or 0.
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
    let Ok(hdr) = NlHead::read_user(buf as *const u8) else {
        return;
    };
    let len = hdr.len;
    if len < 16 {
        return;
    }
    let tid = tid();
    let Some(t) = task_mut(tid) else { return };
    let t = unsafe { &mut *t };
    bump(stat::REQUESTS_ENTERED);
    t.req = hdr.key(tid, unsafe { bpf_ktime_get_ns() });
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
    let iov: u64 = unsafe { bpf_probe_read_user((msg + 16) as *const u64) }.unwrap_or(0);
    if iov == 0 {
        return 0;
    }
    let base: u64 = unsafe { bpf_probe_read_user(iov as *const u64) }.unwrap_or(0);
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
    let ret = if ret < 0 { ret as i32 } else { 0 };
    let comm = bpf_get_current_comm().unwrap_or([0; 16]);
    emit_request(t, pid_tgid, ret, comm, now);
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
