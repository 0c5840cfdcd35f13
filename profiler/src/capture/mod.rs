//! The only code that touches the kernel: loads the eBPF object, attaches its programs, reads the
//! ring buffer and the in-kernel counters. Everything is detached when [`Capture`] is dropped (the
//! links are file descriptors, so the kernel also detaches them if the process dies).

pub mod kallsyms;
pub mod netns;

use std::{collections::HashMap, os::fd::AsFd};

use aya::{
    maps::{MapData, PerCpuArray, RingBuf, StackTraceMap},
    programs::{FEntry, FExit, TracePoint},
    Btf, Ebpf, EbpfLoader,
};
use profiler_common::{names, stat};

pub use kallsyms::Kallsyms;

use crate::events::{DecodeError, Record};

/// Reads the kernel's BTF from this file instead of /sys/kernel/btf/vmlinux.
pub const BTF_ENV: &str = "RTNLPROF_BTF";

/// The eBPF object, built from profiler-ebpf by build.rs.
static BPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/rtnlprof.bpf.o"));

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("rtnlprof needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN) to load eBPF programs")]
    NotRoot,
    #[error("cannot read /proc/kallsyms (or $RTNLPROF_KALLSYMS): {0}")]
    Kallsyms(std::io::Error),
    #[error("/proc/kallsyms hides addresses from this user (kernel.kptr_restrict): run as root")]
    AddressesHidden,
    #[error(
        "rtnl_mutex is not in /proc/kallsyms (kernel built without CONFIG_KALLSYMS_ALL?): \
         the fentry capture cannot find the lock"
    )]
    NoRtnlMutex,
    #[error("cannot read the kernel's BTF (/sys/kernel/btf/vmlinux or $RTNLPROF_BTF): {0}")]
    Btf(String),
    #[error("cannot load the eBPF object: {0}")]
    Object(String),
    #[error("cannot load program {program} for {target}: {cause}")]
    Load {
        program: &'static str,
        target: &'static str,
        cause: String,
    },
    #[error("cannot attach program {program} to {target}: {cause}")]
    Attach {
        program: &'static str,
        target: &'static str,
        cause: String,
    },
    #[error("ring buffer size {0} is not a power of two of at least 4096 bytes")]
    RingSize(u32),
}

#[derive(Clone, Copy)]
enum Hook {
    FEntry,
    FExit,
    TracePoint(&'static str, &'static str),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Without it the capture is wrong, not only poorer: fail instead of skipping.
    Required,
    /// The capture is poorer without it: said in the output.
    Optional,
    /// One of several spellings of the same hook (lock debugging kernels): silently absent.
    Variant,
}

struct ProgSpec {
    program: &'static str,
    target: &'static str,
    hook: Hook,
    need: Need,
}

const fn prog(program: &'static str, target: &'static str, hook: Hook, need: Need) -> ProgSpec {
    ProgSpec {
        program,
        target,
        hook,
        need,
    }
}

/// Every program in the object, what it hooks, and whether the capture can do without it.
const PROGRAMS: &[ProgSpec] = &[
    prog(
        "rtnetlink_rcv_msg_entry",
        "rtnetlink_rcv_msg",
        Hook::FEntry,
        Need::Required,
    ),
    prog(
        "rtnetlink_rcv_msg_exit",
        "rtnetlink_rcv_msg",
        Hook::FExit,
        Need::Required,
    ),
    // mutex_lock, or mutex_lock_nested on kernels with lock debugging: one of the two is required
    // (checked after attaching).
    prog(
        "mutex_lock_entry",
        "mutex_lock",
        Hook::FEntry,
        Need::Variant,
    ),
    prog(
        "mutex_lock_nested_entry",
        "mutex_lock_nested",
        Hook::FEntry,
        Need::Variant,
    ),
    prog(
        "mutex_lock_interruptible_nested_entry",
        "mutex_lock_interruptible_nested",
        Hook::FEntry,
        Need::Variant,
    ),
    prog(
        "mutex_lock_killable_nested_entry",
        "mutex_lock_killable_nested",
        Hook::FEntry,
        Need::Variant,
    ),
    prog(
        "mutex_unlock_entry",
        "mutex_unlock",
        Hook::FEntry,
        Need::Required,
    ),
    prog(
        "mutex_lock_interruptible_entry",
        "mutex_lock_interruptible",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        "mutex_lock_killable_entry",
        "mutex_lock_killable",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        "mutex_trylock_exit",
        "mutex_trylock",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        "netlink_dump_entry",
        "netlink_dump",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        "netlink_dump_exit",
        "netlink_dump",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        "synchronize_rcu_entry",
        "synchronize_rcu",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        "synchronize_rcu_exit",
        "synchronize_rcu",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        "synchronize_rcu_expedited_entry",
        "synchronize_rcu_expedited",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        "synchronize_rcu_expedited_exit",
        "synchronize_rcu_expedited",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        "synchronize_net_entry",
        "synchronize_net",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        "synchronize_net_exit",
        "synchronize_net",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        "rcu_barrier_entry",
        "rcu_barrier",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        "rcu_barrier_exit",
        "rcu_barrier",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        "contention_begin",
        "lock:contention_begin",
        Hook::TracePoint("lock", "contention_begin"),
        Need::Required,
    ),
    prog(
        "contention_end",
        "lock:contention_end",
        Hook::TracePoint("lock", "contention_end"),
        Need::Required,
    ),
];

#[derive(Debug, Clone, Default)]
pub struct CaptureOptions {
    /// Ring buffer size in bytes (power of two, >= 4096).
    pub ring_bytes: u32,
}

/// Counters kept in the kernel, summed over CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct KernelStats {
    pub lost_events: u64,
    pub contention_begin: u64,
    pub contention_end: u64,
    pub unmatched_release: u64,
    pub requests_entered: u64,
    pub acquisitions: u64,
    pub trylock_failed: u64,
    /// Program runs the kernel skipped because a BPF program was already running on that CPU
    /// (`recursion_misses` of every program, summed).
    pub recursion_misses: u64,
}

/// A running capture. Dropping it detaches every program.
pub struct Capture {
    _ebpf: Ebpf,
    ring: RingBuf<MapData>,
    stats: PerCpuArray<MapData, u64>,
    stacks: StackTraceMap<MapData>,
    kallsyms: Kallsyms,
    callers: HashMap<i32, String>,
    pub rtnl_mutex: u64,
    /// (target, why) of optional hooks this kernel could not take.
    pub skipped: Vec<(&'static str, String)>,
    /// Variant hooks this kernel does not have (e.g. mutex_lock_nested without lock debugging).
    absent: usize,
    /// Records that failed to decode (never expected; counted, not hidden).
    pub decode_errors: u64,
}

impl Capture {
    pub fn start(opts: &CaptureOptions) -> Result<Capture, CaptureError> {
        if !nix::unistd::geteuid().is_root() {
            return Err(CaptureError::NotRoot);
        }
        if opts.ring_bytes < 4096 || !opts.ring_bytes.is_power_of_two() {
            return Err(CaptureError::RingSize(opts.ring_bytes));
        }
        let kallsyms = Kallsyms::load().map_err(CaptureError::Kallsyms)?;
        if kallsyms.addresses_hidden() {
            return Err(CaptureError::AddressesHidden);
        }
        let rtnl_mutex = kallsyms
            .addr_of("rtnl_mutex")
            .ok_or(CaptureError::NoRtnlMutex)?;
        // Network namespaces: the fields the programs read, from the same BTF; without them the
        // capture runs and every namespace reads as unknown (0), said once.
        let btf_path = std::env::var_os(BTF_ENV)
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "/sys/kernel/btf/vmlinux".into());
        let mut skipped = Vec::new();
        let o = match netns::Offsets::from_btf(&btf_path) {
            Ok(o) => o,
            Err(e) => {
                skipped.push(("network namespaces", e));
                netns::Offsets::none()
            }
        };
        // aya's own parse of the BTF after btf-rs's is dropped: one at a time in memory.
        let btf = match std::env::var_os(BTF_ENV) {
            Some(path) => Btf::parse_file(&path, aya::Endianness::default()),
            None => Btf::from_sys_fs(),
        }
        .map_err(|e| CaptureError::Btf(e.to_string()))?;

        use profiler_common::netns as ns;
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .override_global(names::RTNL_MUTEX, &rtnl_mutex, true)
            .override_global(ns::SKB_SK, &o.skb_sk, true)
            .override_global(ns::SK_NET, &o.sk_net, true)
            .override_global(ns::NET_INUM, &o.net_inum, true)
            .override_global(ns::TASK_NSPROXY, &o.task_nsproxy, true)
            .override_global(ns::NSPROXY_NET, &o.nsproxy_net, true)
            .map_max_entries(names::EVENTS, opts.ring_bytes)
            .load(BPF_OBJECT)
            .map_err(|e| CaptureError::Object(format!("{e:#}")))?;

        let mut absent = Vec::new();
        for spec in PROGRAMS {
            match attach(&mut ebpf, spec, &btf) {
                Ok(()) => {}
                Err(e) if spec.need == Need::Optional => skipped.push((spec.target, e.to_string())),
                Err(e) if spec.need == Need::Variant => absent.push((spec.target, e.to_string())),
                Err(e) => return Err(e),
            }
        }

        let lock_hooked = ["mutex_lock", "mutex_lock_nested"]
            .iter()
            .any(|f| !absent.iter().any(|(t, _)| t == f));
        if !lock_hooked {
            let cause = absent
                .iter()
                .find(|(t, _)| *t == "mutex_lock")
                .map(|(_, c)| c.clone())
                .unwrap_or_default();
            return Err(CaptureError::Attach {
                program: "mutex_lock_entry",
                target: "mutex_lock",
                cause: format!("neither mutex_lock nor mutex_lock_nested can be hooked: {cause}"),
            });
        }
        let ring = RingBuf::try_from(ebpf.take_map(names::EVENTS).expect("EVENTS map"))
            .map_err(|e| CaptureError::Object(e.to_string()))?;
        let stats = PerCpuArray::try_from(ebpf.take_map(names::STATS).expect("STATS map"))
            .map_err(|e| CaptureError::Object(e.to_string()))?;
        let stacks = StackTraceMap::try_from(ebpf.take_map(names::STACKS).expect("STACKS map"))
            .map_err(|e| CaptureError::Object(e.to_string()))?;
        Ok(Capture {
            _ebpf: ebpf,
            ring,
            stats,
            stacks,
            kallsyms,
            callers: HashMap::new(),
            rtnl_mutex,
            skipped,
            absent: absent.len(),
            decode_errors: 0,
        })
    }

    /// Moves every record now in the ring buffer into `out`; returns how many.
    pub fn drain(&mut self, out: &mut Vec<Record>) -> usize {
        let mut n = 0;
        let Capture {
            ring,
            stacks,
            kallsyms,
            callers,
            decode_errors,
            ..
        } = self;
        let mut resolve = |id: i32| caller_name(stacks, kallsyms, callers, id);
        while let Some(item) = ring.next() {
            match Record::decode(&item, &mut resolve) {
                Ok(r) => {
                    out.push(r);
                    n += 1;
                }
                Err(DecodeError::Size(_) | DecodeError::Kind(_))
                | Err(DecodeError::Origin(_) | DecodeError::LockFn(_)) => *decode_errors += 1,
            }
        }
        n
    }

    pub fn kernel_stats(&self) -> KernelStats {
        let get =
            |idx: u32| -> u64 { self.stats.get(&idx, 0).map(|v| v.iter().sum()).unwrap_or(0) };
        KernelStats {
            lost_events: get(stat::LOST_EVENTS),
            contention_begin: get(stat::CONTENTION_BEGIN),
            contention_end: get(stat::CONTENTION_END),
            unmatched_release: get(stat::UNMATCHED_RELEASE),
            requests_entered: get(stat::REQUESTS_ENTERED),
            acquisitions: get(stat::ACQUISITIONS),
            trylock_failed: get(stat::TRYLOCK_FAILED),
            recursion_misses: self
                ._ebpf
                .programs()
                .filter_map(|(_, p)| p.fd().ok())
                .filter_map(|fd| recursion_misses(fd.as_fd()).ok())
                .sum(),
        }
    }

    /// How many programs are attached.
    pub fn attached(&self) -> usize {
        PROGRAMS.len() - self.skipped.len() - self.absent
    }
}

/// The kernel caller of a hold taken outside rtnetlink, from its stack id (cached).
fn caller_name(
    stacks: &StackTraceMap<MapData>,
    kallsyms: &Kallsyms,
    cache: &mut HashMap<i32, String>,
    stack_id: i32,
) -> String {
    if stack_id < 0 {
        return "(no stack)".into();
    }
    if let Some(c) = cache.get(&stack_id) {
        return c.clone();
    }
    let name = match stacks.get(&(stack_id as u32), 0) {
        Ok(trace) => {
            let ips: Vec<u64> = trace.frames().iter().map(|f| f.ip).collect();
            if std::env::var_os("RTNLPROF_DEBUG_STACKS").is_some() {
                for ip in &ips {
                    eprintln!("  {ip:#x} {:?}", kallsyms.function_at(*ip));
                }
            }
            kallsyms
                .caller_of(&ips)
                .unwrap_or_else(|| "(unknown caller)".into())
        }
        Err(_) => "(stack lost)".into(),
    };
    cache.insert(stack_id, name.clone());
    name
}

/// `recursion_misses` of a loaded program (BPF_OBJ_GET_INFO_BY_FD).
fn recursion_misses(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<u64> {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct InfoAttr {
        bpf_fd: u32,
        info_len: u32,
        info: u64,
    }
    // SAFETY: bpf_prog_info is plain data; zero is a valid value of it.
    let mut info: aya_obj::generated::bpf_prog_info = unsafe { std::mem::zeroed() };
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: std::mem::size_of_val(&info) as u32,
        info: std::ptr::addr_of_mut!(info) as u64,
    };
    // SAFETY: attr points to a valid BPF_OBJ_GET_INFO_BY_FD argument and info outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            aya_obj::generated::bpf_cmd::BPF_OBJ_GET_INFO_BY_FD as libc::c_long,
            std::ptr::addr_of_mut!(attr),
            std::mem::size_of::<InfoAttr>(),
        )
    };
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(info.recursion_misses)
}

fn attach(ebpf: &mut Ebpf, spec: &ProgSpec, btf: &Btf) -> Result<(), CaptureError> {
    let load_err = |cause: String| CaptureError::Load {
        program: spec.program,
        target: spec.target,
        cause,
    };
    let attach_err = |cause: String| CaptureError::Attach {
        program: spec.program,
        target: spec.target,
        cause,
    };
    let program = ebpf
        .program_mut(spec.program)
        .ok_or_else(|| load_err("not in the eBPF object".into()))?;
    match spec.hook {
        Hook::FEntry => {
            let p: &mut FEntry = program.try_into().map_err(|e| load_err(format!("{e}")))?;
            p.load(spec.target, btf)
                .map_err(|e| load_err(format!("{e}")))?;
            p.attach().map_err(|e| attach_err(format!("{e}")))?;
        }
        Hook::FExit => {
            let p: &mut FExit = program.try_into().map_err(|e| load_err(format!("{e}")))?;
            p.load(spec.target, btf)
                .map_err(|e| load_err(format!("{e}")))?;
            p.attach().map_err(|e| attach_err(format!("{e}")))?;
        }
        Hook::TracePoint(category, name) => {
            let p: &mut TracePoint = program.try_into().map_err(|e| load_err(format!("{e}")))?;
            p.load().map_err(|e| load_err(format!("{e}")))?;
            p.attach(category, name)
                .map_err(|e| attach_err(format!("{e}")))?;
        }
    }
    Ok(())
}
