//! Records shared by rtnlprof's eBPF programs and its userspace.
//!
//! Everything here is `#[repr(C)]` and plain old data: the eBPF side writes [`Event`]s into a BPF
//! ring buffer and userspace reads them back byte for byte. Program and map names live here too,
//! so both sides spell them once.
#![no_std]

/// What an [`Event`] describes.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// One call of `rtnetlink_rcv_msg` (one netlink message), from entry to return.
    Request = 1,
    /// One hold of `rtnl_mutex`: from the entry of the lock call (wait start) through the
    /// acquisition to the release.
    Hold = 2,
    /// A `mutex_trylock(&rtnl_mutex)` that failed.
    TrylockFailed = 3,
    /// A request and the last hold it took, in one record (the common case: one hold per
    /// request, so one ring-buffer record instead of two). The hold's fields are a Hold's; the
    /// request's start is `msg.req_start`, its end `req_end`, its return value `ret`. Inside the
    /// programs this kind also marks a released hold waiting for its request's return.
    RequestHold = 4,
}

impl EventKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Request),
            2 => Some(Self::Hold),
            3 => Some(Self::TrylockFailed),
            4 => Some(Self::RequestHold),
            _ => None,
        }
    }
}

/// In which context a hold was taken (what it is attributed to).
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Not a hold (requests).
    None = 0,
    /// Inside `rtnetlink_rcv_msg` for a non-dump request.
    Doit = 1,
    /// Inside `rtnetlink_rcv_msg` for a dump request (its first part).
    DumpStart = 2,
    /// A dump continued from `recvmsg` (`netlink_dump`), outside `rtnetlink_rcv_msg`.
    DumpContinue = 3,
    /// Any other holder: ioctl, sysfs, workqueues... attributed by its kernel stack.
    Other = 4,
}

impl Origin {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::None),
            1 => Some(Self::Doit),
            2 => Some(Self::DumpStart),
            3 => Some(Self::DumpContinue),
            4 => Some(Self::Other),
            _ => None,
        }
    }
}

/// Which mutex entry point took RTNL.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LockFn {
    None = 0,
    Lock = 1,
    Interruptible = 2,
    Killable = 3,
    Trylock = 4,
}

impl LockFn {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::None),
            1 => Some(Self::Lock),
            2 => Some(Self::Interruptible),
            3 => Some(Self::Killable),
            4 => Some(Self::Trylock),
            _ => None,
        }
    }
}

/// The request a hold or a request event belongs to: what the kernel dispatches on.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct MsgKey {
    /// `nlmsg_type` (RTM_NEWLINK ...).
    pub nlmsg_type: u16,
    /// `nlmsg_flags` (NLM_F_DUMP ...).
    pub nlmsg_flags: u16,
    /// Address family: the first byte after the 16-byte netlink header (0xff: message too short).
    pub family: u8,
    pub _pad: [u8; 3],
    /// Thread id that sent the request, with `req_start`: identifies the request.
    pub req_tid: u32,
    /// `bpf_ktime_get_ns` at the entry of `rtnetlink_rcv_msg` for that request.
    pub req_start: u64,
}

impl MsgKey {
    pub const ZERO: MsgKey = MsgKey {
        nlmsg_type: 0,
        nlmsg_flags: 0,
        family: 0,
        _pad: [0; 3],
        req_tid: 0,
        req_start: 0,
    };
}

/// One record in the ring buffer. Fixed size, the same for every kind.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct Event {
    /// [`EventKind`] as u8.
    pub kind: u8,
    /// [`Origin`] as u8 (holds).
    pub origin: u8,
    /// [`LockFn`] as u8 (holds).
    pub lock_fn: u8,
    /// How many `lock:contention_begin` fired on `rtnl_mutex` for this task during its wait.
    pub contention_begins: u8,
    /// Kernel thread id (`pid` in kernel terms).
    pub tid: u32,
    /// Process id (`tgid`).
    pub tgid: u32,
    /// Requests: return value of `rtnetlink_rcv_msg`.
    pub ret: i32,
    pub msg: MsgKey,
    /// Requests: entry of `rtnetlink_rcv_msg`. Holds: entry of the lock call (wait start).
    pub t_start: u64,
    /// Holds: the lock call returned with the lock taken. Requests: same as `t_start`.
    pub t_acquired: u64,
    /// Requests: return of `rtnetlink_rcv_msg`. Holds: entry of `mutex_unlock`.
    pub t_end: u64,
    /// Holds: time spent in RCU grace-period waits while holding RTNL.
    pub gp_ns: u64,
    /// Holds: number of grace-period waits.
    pub gp_count: u32,
    /// Holds with origin Other: id in the STACKS map, or negative (no stack).
    pub stack_id: i32,
    pub comm: [u8; 16],
    /// Inode number of the network namespace acted in (0: unknown): a request's socket's, a
    /// dump continuation's socket's, else the task's.
    pub netns: u32,
    pub _pad: u32,
    /// Tracepoint mode: the address of the mutex waited for (userspace keeps those of rtnl_mutex).
    pub lock: u64,
    /// RequestHold: return of `rtnetlink_rcv_msg`.
    pub req_end: u64,
}

impl Event {
    pub const fn zeroed() -> Self {
        Event {
            kind: 0,
            origin: 0,
            lock_fn: 0,
            contention_begins: 0,
            tid: 0,
            tgid: 0,
            ret: 0,
            msg: MsgKey::ZERO,
            t_start: 0,
            t_acquired: 0,
            t_end: 0,
            gp_ns: 0,
            gp_count: 0,
            stack_id: -1,
            comm: [0; 16],
            netns: 0,
            _pad: 0,
            lock: 0,
            req_end: 0,
        }
    }
}

/// Byte offsets of the kernel fields the programs read to find a network namespace, set by the
/// loader from the running kernel's BTF (globals of these names); NO_OFFSET turns the reading off.
pub mod netns {
    pub const NO_OFFSET: u32 = u32::MAX;
    /// `struct sk_buff` → `sk`.
    pub const SKB_SK: &str = "OFF_SKB_SK";
    /// `struct sock` → `__sk_common.skc_net` (a `possible_net_t`, whose first field is the pointer).
    pub const SK_NET: &str = "OFF_SK_NET";
    /// `struct net` → `ns.inum`.
    pub const NET_INUM: &str = "OFF_NET_INUM";
    /// `struct task_struct` → `nsproxy`.
    pub const TASK_NSPROXY: &str = "OFF_TASK_NSPROXY";
    /// `struct nsproxy` → `net_ns`.
    pub const NSPROXY_NET: &str = "OFF_NSPROXY_NET";
}

/// Size of one ring-buffer record.
pub const EVENT_SIZE: usize = core::mem::size_of::<Event>();

/// Byte offsets from a task's file descriptor to its socket (tracepoint mode), set by the loader
/// from the kernel's BTF like [`netns`]'s.
pub mod sockfd {
    /// `task_struct` → `files`.
    pub const TASK_FILES: &str = "OFF_TASK_FILES";
    /// `files_struct` → `fdt`.
    pub const FILES_FDT: &str = "OFF_FILES_FDT";
    /// `fdtable` → `max_fds`.
    pub const FDT_MAX_FDS: &str = "OFF_FDT_MAX_FDS";
    /// `fdtable` → `fd`.
    pub const FDT_FD: &str = "OFF_FDT_FD";
    /// `file` → `f_inode`.
    pub const FILE_INODE: &str = "OFF_FILE_INODE";
    /// `inode` → `i_mode`.
    pub const INODE_MODE: &str = "OFF_INODE_MODE";
    /// `file` → `private_data` (the `struct socket` of a socket's file).
    pub const FILE_PRIVATE: &str = "OFF_FILE_PRIVATE";
    /// `socket` → `sk`.
    pub const SOCKET_SK: &str = "OFF_SOCKET_SK";
    /// `sock` → `__sk_common.skc_family`.
    pub const SK_FAMILY: &str = "OFF_SK_FAMILY";
    /// `sock` → `sk_protocol` (a u16 since Linux 5.6).
    pub const SK_PROTOCOL: &str = "OFF_SK_PROTOCOL";
}

/// Indexes into the per-CPU `STATS` array (counters kept in the kernel).
pub mod stat {
    /// Events that could not be reserved in the ring buffer (lost); a lost RequestHold counts
    /// as the two events (request and hold) it stands for.
    pub const LOST_EVENTS: u32 = 0;
    /// `lock:contention_begin` on `rtnl_mutex`.
    pub const CONTENTION_BEGIN: u32 = 1;
    /// `lock:contention_end` on `rtnl_mutex`.
    pub const CONTENTION_END: u32 = 2;
    /// Releases seen without a matching acquisition (capture started while RTNL was held).
    pub const UNMATCHED_RELEASE: u32 = 3;
    /// Calls of `rtnetlink_rcv_msg` seen at entry.
    pub const REQUESTS_ENTERED: u32 = 4;
    /// Acquisitions of `rtnl_mutex` seen.
    pub const ACQUISITIONS: u32 = 5;
    /// Failed `mutex_trylock(&rtnl_mutex)` calls.
    pub const TRYLOCK_FAILED: u32 = 6;
    pub const COUNT: u32 = 8;
}

/// Names of maps, globals and programs, as the eBPF object spells them.
pub mod names {
    pub const EVENTS: &str = "EVENTS";
    pub const STATS: &str = "STATS";
    pub const STACKS: &str = "STACKS";
    pub const RTNL_MUTEX: &str = "RTNL_MUTEX";
    /// Tracepoint mode: the learned address of rtnl_mutex (an array of one u64).
    pub const TP_LOCK: &str = "TP_LOCK";

    /// Program names. aya names a program after its function, so these are the eBPF crate's
    /// function names; the loader's test checks that the built object has exactly these.
    pub mod prog {
        // Full mode (fentry/fexit, and the lock tracepoints).
        pub const RTNETLINK_RCV_MSG_ENTRY: &str = "rtnetlink_rcv_msg_entry";
        pub const RTNETLINK_RCV_MSG_EXIT: &str = "rtnetlink_rcv_msg_exit";
        pub const NETLINK_DUMP_ENTRY: &str = "netlink_dump_entry";
        pub const NETLINK_DUMP_EXIT: &str = "netlink_dump_exit";
        pub const MUTEX_LOCK_ENTRY: &str = "mutex_lock_entry";
        pub const MUTEX_LOCK_INTERRUPTIBLE_ENTRY: &str = "mutex_lock_interruptible_entry";
        pub const MUTEX_LOCK_KILLABLE_ENTRY: &str = "mutex_lock_killable_entry";
        pub const MUTEX_LOCK_NESTED_ENTRY: &str = "mutex_lock_nested_entry";
        pub const MUTEX_LOCK_INTERRUPTIBLE_NESTED_ENTRY: &str =
            "mutex_lock_interruptible_nested_entry";
        pub const MUTEX_LOCK_KILLABLE_NESTED_ENTRY: &str = "mutex_lock_killable_nested_entry";
        pub const MUTEX_TRYLOCK_EXIT: &str = "mutex_trylock_exit";
        pub const MUTEX_UNLOCK_ENTRY: &str = "mutex_unlock_entry";
        pub const CONTENTION_BEGIN: &str = "contention_begin";
        pub const CONTENTION_END: &str = "contention_end";
        pub const SYNCHRONIZE_RCU_ENTRY: &str = "synchronize_rcu_entry";
        pub const SYNCHRONIZE_RCU_EXIT: &str = "synchronize_rcu_exit";
        pub const SYNCHRONIZE_RCU_EXPEDITED_ENTRY: &str = "synchronize_rcu_expedited_entry";
        pub const SYNCHRONIZE_RCU_EXPEDITED_EXIT: &str = "synchronize_rcu_expedited_exit";
        pub const SYNCHRONIZE_NET_ENTRY: &str = "synchronize_net_entry";
        pub const SYNCHRONIZE_NET_EXIT: &str = "synchronize_net_exit";
        pub const RCU_BARRIER_ENTRY: &str = "rcu_barrier_entry";
        pub const RCU_BARRIER_EXIT: &str = "rcu_barrier_exit";

        // Tracepoint mode.
        pub const TP_CONTENTION_BEGIN: &str = "tp_contention_begin";
        pub const TP_CONTENTION_END: &str = "tp_contention_end";
        pub const TP_SENDMSG_ENTER: &str = "tp_sendmsg_enter";
        pub const TP_SENDMSG_EXIT: &str = "tp_sendmsg_exit";
        pub const TP_SENDTO_ENTER: &str = "tp_sendto_enter";
        pub const TP_SENDTO_EXIT: &str = "tp_sendto_exit";
        pub const TP_RECVMSG_ENTER: &str = "tp_recvmsg_enter";
        pub const TP_RECVMSG_EXIT: &str = "tp_recvmsg_exit";
        pub const TP_RECVFROM_ENTER: &str = "tp_recvfrom_enter";
        pub const TP_RECVFROM_EXIT: &str = "tp_recvfrom_exit";

        /// The full mode's programs.
        pub const FULL: &[&str] = &[
            RTNETLINK_RCV_MSG_ENTRY,
            RTNETLINK_RCV_MSG_EXIT,
            NETLINK_DUMP_ENTRY,
            NETLINK_DUMP_EXIT,
            MUTEX_LOCK_ENTRY,
            MUTEX_LOCK_INTERRUPTIBLE_ENTRY,
            MUTEX_LOCK_KILLABLE_ENTRY,
            MUTEX_LOCK_NESTED_ENTRY,
            MUTEX_LOCK_INTERRUPTIBLE_NESTED_ENTRY,
            MUTEX_LOCK_KILLABLE_NESTED_ENTRY,
            MUTEX_TRYLOCK_EXIT,
            MUTEX_UNLOCK_ENTRY,
            CONTENTION_BEGIN,
            CONTENTION_END,
            SYNCHRONIZE_RCU_ENTRY,
            SYNCHRONIZE_RCU_EXIT,
            SYNCHRONIZE_RCU_EXPEDITED_ENTRY,
            SYNCHRONIZE_RCU_EXPEDITED_EXIT,
            SYNCHRONIZE_NET_ENTRY,
            SYNCHRONIZE_NET_EXIT,
            RCU_BARRIER_ENTRY,
            RCU_BARRIER_EXIT,
        ];

        /// The tracepoint mode's programs.
        pub const TRACEPOINT: &[&str] = &[
            TP_CONTENTION_BEGIN,
            TP_CONTENTION_END,
            TP_SENDMSG_ENTER,
            TP_SENDMSG_EXIT,
            TP_SENDTO_ENTER,
            TP_SENDTO_EXIT,
            TP_RECVMSG_ENTER,
            TP_RECVMSG_EXIT,
            TP_RECVFROM_ENTER,
            TP_RECVFROM_EXIT,
        ];
    }
}

/// Netlink constants the programs and the model need.
pub mod nl {
    pub const NLM_F_ROOT: u16 = 0x100;
    pub const NLM_F_MATCH: u16 = 0x200;
    pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
    /// The first byte after `struct nlmsghdr` (16 bytes) is the family of every rtnetlink message.
    pub const FAMILY_OFFSET: usize = 16;
    /// `family` when the message is too short to carry one.
    pub const NO_FAMILY: u8 = 0xff;
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: plain #[repr(C)] data made of integers and byte arrays, valid for any bit pattern.
    unsafe impl aya::Pod for super::Event {}
    unsafe impl aya::Pod for super::MsgKey {}
}
