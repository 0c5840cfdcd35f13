//! The only code that touches the kernel: loads the eBPF object, attaches its programs, reads the
//! ring buffer and the in-kernel counters. Everything is detached when [`Capture`] is dropped (the
//! links are file descriptors, so the kernel also detaches them if the process dies).

pub mod kallsyms;
mod learn;
pub mod netns;
#[cfg(test)]
mod object_tests;
pub mod session;
pub mod source;

use std::{collections::HashMap, os::fd::AsFd};

use aya::{
    maps::{MapData, PerCpuArray, RingBuf, StackTraceMap},
    programs::{FEntry, FExit, TracePoint},
    Btf, Ebpf, EbpfLoader,
};
use profiler_common::{names, stat, Event, EVENT_SIZE};

pub use kallsyms::Kallsyms;

use crate::events::{DecodeError, Record};
pub use crate::run::{CaptureMode, KernelStats};

/// The running kernel's release (`uname -r`).
pub fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// CLOCK_MONOTONIC in nanoseconds: the clock bpf_ktime_get_ns() reads.
pub fn monotonic_ns() -> u64 {
    let ts =
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("monotonic clock");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

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
    #[error("cannot mount tracefs on /sys/kernel/tracing: {0}")]
    Tracefs(String),
    #[error(
        "none of {0} is in /proc/kallsyms: the tracepoint capture cannot recognise RTNL waits"
    )]
    NoRtnlTakers(String),
    #[error("no capture mode runs on this kernel: full: {full}; tracepoint: {tracepoint}")]
    NoMode { full: String, tracepoint: String },
}

impl CaptureError {
    /// Whether the kernel (not the user, nor the settings) refused the capture: what makes
    /// `--mode auto` try the next mode.
    pub fn kernel_refused(&self) -> bool {
        matches!(
            self,
            CaptureError::NoRtnlMutex
                | CaptureError::Btf(_)
                | CaptureError::Load { .. }
                | CaptureError::Attach { .. }
                | CaptureError::Tracefs(_)
                | CaptureError::NoRtnlTakers(_)
        )
    }
}

/// How rtnlprof captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeChoice {
    /// Full, and the tracepoint mode if the kernel refuses it.
    Auto,
    /// fentry/fexit on the mutex and rtnetlink functions: every hold and wait.
    Full,
    /// Tracepoints only (kernels without BPF trampolines): contended waits only.
    Tracepoint,
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
        names::prog::RTNETLINK_RCV_MSG_ENTRY,
        "rtnetlink_rcv_msg",
        Hook::FEntry,
        Need::Required,
    ),
    prog(
        names::prog::RTNETLINK_RCV_MSG_EXIT,
        "rtnetlink_rcv_msg",
        Hook::FExit,
        Need::Required,
    ),
    // mutex_lock, or mutex_lock_nested on kernels with lock debugging: one of the two is required
    // (checked after attaching).
    prog(
        names::prog::MUTEX_LOCK_ENTRY,
        "mutex_lock",
        Hook::FEntry,
        Need::Variant,
    ),
    prog(
        names::prog::MUTEX_LOCK_NESTED_ENTRY,
        "mutex_lock_nested",
        Hook::FEntry,
        Need::Variant,
    ),
    prog(
        names::prog::MUTEX_LOCK_INTERRUPTIBLE_NESTED_ENTRY,
        "mutex_lock_interruptible_nested",
        Hook::FEntry,
        Need::Variant,
    ),
    prog(
        names::prog::MUTEX_LOCK_KILLABLE_NESTED_ENTRY,
        "mutex_lock_killable_nested",
        Hook::FEntry,
        Need::Variant,
    ),
    prog(
        names::prog::MUTEX_UNLOCK_ENTRY,
        "mutex_unlock",
        Hook::FEntry,
        Need::Required,
    ),
    prog(
        names::prog::MUTEX_LOCK_INTERRUPTIBLE_ENTRY,
        "mutex_lock_interruptible",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        names::prog::MUTEX_LOCK_KILLABLE_ENTRY,
        "mutex_lock_killable",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        names::prog::MUTEX_TRYLOCK_EXIT,
        "mutex_trylock",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        names::prog::NETLINK_DUMP_ENTRY,
        "netlink_dump",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        names::prog::NETLINK_DUMP_EXIT,
        "netlink_dump",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        names::prog::SYNCHRONIZE_RCU_ENTRY,
        "synchronize_rcu",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        names::prog::SYNCHRONIZE_RCU_EXIT,
        "synchronize_rcu",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        names::prog::SYNCHRONIZE_RCU_EXPEDITED_ENTRY,
        "synchronize_rcu_expedited",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        names::prog::SYNCHRONIZE_RCU_EXPEDITED_EXIT,
        "synchronize_rcu_expedited",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        names::prog::SYNCHRONIZE_NET_ENTRY,
        "synchronize_net",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        names::prog::SYNCHRONIZE_NET_EXIT,
        "synchronize_net",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        names::prog::RCU_BARRIER_ENTRY,
        "rcu_barrier",
        Hook::FEntry,
        Need::Optional,
    ),
    prog(
        names::prog::RCU_BARRIER_EXIT,
        "rcu_barrier",
        Hook::FExit,
        Need::Optional,
    ),
    prog(
        names::prog::CONTENTION_BEGIN,
        "lock:contention_begin",
        Hook::TracePoint("lock", "contention_begin"),
        Need::Required,
    ),
    prog(
        names::prog::CONTENTION_END,
        "lock:contention_end",
        Hook::TracePoint("lock", "contention_end"),
        Need::Required,
    ),
];

const fn tp(
    program: &'static str,
    category: &'static str,
    name: &'static str,
    need: Need,
) -> ProgSpec {
    prog(program, name, Hook::TracePoint(category, name), need)
}

/// The tracepoint mode's programs: contention from the lock tracepoints, requests from the
/// syscalls that send and receive on NETLINK_ROUTE sockets.
const TP_PROGRAMS: &[ProgSpec] = &[
    tp(
        names::prog::TP_CONTENTION_BEGIN,
        "lock",
        "contention_begin",
        Need::Required,
    ),
    tp(
        names::prog::TP_CONTENTION_END,
        "lock",
        "contention_end",
        Need::Required,
    ),
    tp(
        names::prog::TP_SENDMSG_ENTER,
        "syscalls",
        "sys_enter_sendmsg",
        Need::Optional,
    ),
    tp(
        names::prog::TP_SENDMSG_EXIT,
        "syscalls",
        "sys_exit_sendmsg",
        Need::Optional,
    ),
    tp(
        names::prog::TP_SENDTO_ENTER,
        "syscalls",
        "sys_enter_sendto",
        Need::Optional,
    ),
    tp(
        names::prog::TP_SENDTO_EXIT,
        "syscalls",
        "sys_exit_sendto",
        Need::Optional,
    ),
    tp(
        names::prog::TP_RECVMSG_ENTER,
        "syscalls",
        "sys_enter_recvmsg",
        Need::Optional,
    ),
    tp(
        names::prog::TP_RECVMSG_EXIT,
        "syscalls",
        "sys_exit_recvmsg",
        Need::Optional,
    ),
    tp(
        names::prog::TP_RECVFROM_ENTER,
        "syscalls",
        "sys_enter_recvfrom",
        Need::Optional,
    ),
    tp(
        names::prog::TP_RECVFROM_EXIT,
        "syscalls",
        "sys_exit_recvfrom",
        Need::Optional,
    ),
];

#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Ring buffer size in bytes (power of two, >= 4096).
    pub ring_bytes: u32,
    pub mode: ModeChoice,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            ring_bytes: 1 << 22,
            mode: ModeChoice::Auto,
        }
    }
}

/// A running capture. Dropping it detaches every program.
pub struct Capture {
    pub mode: CaptureMode,
    /// Why the full mode did not run, when `--mode auto` fell back.
    pub fallback: Option<String>,
    _ebpf: Ebpf,
    /// Tracepoint mode: which waits are RTNL's.
    learner: Option<learn::LockLearner>,
    /// `RTNLPROF_DEBUG_STACKS`: print the stacks the capture symbolizes.
    debug_stacks: bool,
    ring: RingBuf<MapData>,
    stats: PerCpuArray<MapData, u64>,
    stacks: StackTraceMap<MapData>,
    kallsyms: Kallsyms,
    callers: HashMap<i32, String>,
    pub rtnl_mutex: u64,
    /// (target, why) of optional hooks this kernel could not take.
    pub skipped: Vec<(&'static str, String)>,
    /// How many programs are attached.
    programs: usize,
    /// Records that failed to decode (never expected; counted, not hidden).
    pub decode_errors: u64,
}

impl Capture {
    /// Starts the capture in the mode asked for; `auto` falls back to the tracepoint mode when
    /// the kernel refuses the full one.
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
        match opts.mode {
            ModeChoice::Full => Self::start_full(opts, kallsyms),
            ModeChoice::Tracepoint => Self::start_tracepoint(opts, kallsyms),
            ModeChoice::Auto => match Self::start_full(opts, kallsyms) {
                Err(full) if full.kernel_refused() => {
                    // Read again rather than kept aside: a copy would double the peak memory
                    // of every capture for the sake of the fallback.
                    let kallsyms = Kallsyms::load().map_err(CaptureError::Kallsyms)?;
                    let mut c = Self::start_tracepoint(opts, kallsyms).map_err(|tp| {
                        if tp.kernel_refused() {
                            CaptureError::NoMode {
                                full: full.to_string(),
                                tracepoint: tp.to_string(),
                            }
                        } else {
                            tp
                        }
                    })?;
                    c.fallback = Some(full.to_string());
                    Ok(c)
                }
                other => other,
            },
        }
    }

    /// Whether this kernel runs BPF trampolines: loads and attaches one fentry program (on
    /// `mutex_unlock`, with no lock to look for, so it does nothing), then detaches it.
    pub fn probe_fentry() -> Result<(), CaptureError> {
        if !nix::unistd::geteuid().is_root() {
            return Err(CaptureError::NotRoot);
        }
        let btf = match std::env::var_os(BTF_ENV) {
            Some(path) => Btf::parse_file(&path, aya::Endianness::default()),
            None => Btf::from_sys_fs(),
        }
        .map_err(|e| CaptureError::Btf(e.to_string()))?;
        let opts = CaptureOptions {
            ring_bytes: 1 << 16,
            mode: ModeChoice::Full,
        };
        let mut ebpf = load_object(
            &opts,
            &netns::Offsets::none(),
            &netns::SockOffsets::none(),
            0,
            Some(&btf),
        )?;
        let spec = PROGRAMS
            .iter()
            .find(|p| p.program == names::prog::MUTEX_UNLOCK_ENTRY)
            .expect("in the list");
        attach(&mut ebpf, spec, Some(&btf))
    }

    fn btf_path() -> std::path::PathBuf {
        std::env::var_os(BTF_ENV)
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "/sys/kernel/btf/vmlinux".into())
    }

    fn start_full(opts: &CaptureOptions, kallsyms: Kallsyms) -> Result<Capture, CaptureError> {
        let rtnl_mutex = kallsyms
            .addr_of("rtnl_mutex")
            .ok_or(CaptureError::NoRtnlMutex)?;
        // Network namespaces: the fields the programs read, from the same BTF; without them the
        // capture runs and every namespace reads as unknown (0), said once.
        let btf_path = Self::btf_path();
        let mut skipped = Vec::new();
        let o = match netns::Offsets::from_btf(&btf_path) {
            Ok(o) => o,
            Err(e) => {
                skipped.push(("network namespaces", e));
                netns::Offsets::none()
            }
        };
        // aya's own parse of the BTF after btf-rs's is dropped: one at a time in memory, and
        // what btf-rs freed handed back first, or the two parses would add up in the peak.
        trim_heap();
        let btf = match std::env::var_os(BTF_ENV) {
            Some(path) => Btf::parse_file(&path, aya::Endianness::default()),
            None => Btf::from_sys_fs(),
        }
        .map_err(|e| CaptureError::Btf(e.to_string()))?;

        let mut ebpf = load_object(
            opts,
            &o,
            &netns::SockOffsets::none(),
            rtnl_mutex,
            Some(&btf),
        )?;
        let mut absent = Vec::new();
        for spec in PROGRAMS {
            match attach(&mut ebpf, spec, Some(&btf)) {
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
                program: names::prog::MUTEX_LOCK_ENTRY,
                target: "mutex_lock",
                cause: format!("neither mutex_lock nor mutex_lock_nested can be hooked: {cause}"),
            });
        }
        let programs = PROGRAMS.len() - skipped.len() - absent.len();
        Self::finish(
            ebpf,
            CaptureMode::Full,
            kallsyms,
            rtnl_mutex,
            skipped,
            programs,
            None,
        )
    }

    fn start_tracepoint(
        opts: &CaptureOptions,
        kallsyms: Kallsyms,
    ) -> Result<Capture, CaptureError> {
        if kallsyms.rtnl_takers().is_empty() {
            return Err(CaptureError::NoRtnlTakers(kallsyms::RTNL_TAKERS.join(", ")));
        }
        mount_tracefs()?;
        let mut skipped = Vec::new();
        let btf_path = Self::btf_path();
        let o = netns::Offsets::from_btf(&btf_path).unwrap_or_else(|e| {
            skipped.push(("network namespaces", e));
            netns::Offsets::none()
        });
        let so = netns::SockOffsets::from_btf(&btf_path).unwrap_or_else(|e| {
            skipped.push(("netlink sockets (requests)", e));
            netns::SockOffsets::none()
        });
        // Known when kallsyms lists variables; else learned from the first wait's stack.
        // RTNLPROF_LEARN_LOCK=1 learns it anyway (tests compare the two).
        let known = if std::env::var_os("RTNLPROF_LEARN_LOCK").is_some() {
            0
        } else {
            kallsyms.addr_of("rtnl_mutex").unwrap_or(0)
        };
        let mut ebpf = load_object(opts, &o, &so, known, None)?;
        for spec in TP_PROGRAMS {
            match attach(&mut ebpf, spec, None) {
                Ok(()) => {}
                Err(e) if spec.need == Need::Optional => skipped.push((spec.target, e.to_string())),
                Err(e) => return Err(e),
            }
        }
        let mut tp_lock: aya::maps::Array<MapData, u64> =
            aya::maps::Array::try_from(ebpf.take_map(names::TP_LOCK).expect("TP_LOCK map"))
                .map_err(|e| CaptureError::Object(e.to_string()))?;
        if known != 0 {
            tp_lock
                .set(0, known, 0)
                .map_err(|e| CaptureError::Object(e.to_string()))?;
        }
        let learner = learn::LockLearner::new(tp_lock, known, debug_stacks());
        let programs = TP_PROGRAMS.len()
            - skipped
                .iter()
                .filter(|(t, _)| t.starts_with("sys_"))
                .count();
        Self::finish(
            ebpf,
            CaptureMode::Tracepoint,
            kallsyms,
            known,
            skipped,
            programs,
            Some(learner),
        )
    }

    fn finish(
        mut ebpf: Ebpf,
        mode: CaptureMode,
        kallsyms: Kallsyms,
        rtnl_mutex: u64,
        skipped: Vec<(&'static str, String)>,
        programs: usize,
        learner: Option<learn::LockLearner>,
    ) -> Result<Capture, CaptureError> {
        let ring = RingBuf::try_from(ebpf.take_map(names::EVENTS).expect("EVENTS map"))
            .map_err(|e| CaptureError::Object(e.to_string()))?;
        let stats = PerCpuArray::try_from(ebpf.take_map(names::STATS).expect("STATS map"))
            .map_err(|e| CaptureError::Object(e.to_string()))?;
        let stacks = StackTraceMap::try_from(ebpf.take_map(names::STACKS).expect("STACKS map"))
            .map_err(|e| CaptureError::Object(e.to_string()))?;
        Ok(Capture {
            mode,
            fallback: None,
            _ebpf: ebpf,
            learner,
            debug_stacks: debug_stacks(),
            ring,
            stats,
            stacks,
            kallsyms,
            callers: HashMap::new(),
            rtnl_mutex,
            skipped,
            programs,
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
            learner,
            debug_stacks,
            ..
        } = self;
        while let Some(item) = ring.next() {
            if item.len() < EVENT_SIZE {
                *decode_errors += 1;
                continue;
            }
            // SAFETY: Event is #[repr(C)] plain data valid for any bit pattern; the length is checked.
            let ev: Event = unsafe { std::ptr::read_unaligned(item.as_ptr().cast()) };
            if let Some(l) = learner.as_mut() {
                if !l.admit(&ev, stacks, kallsyms) {
                    continue;
                }
            }
            let mut resolve = |id: i32| caller_name(stacks, kallsyms, callers, *debug_stacks, id);
            match Record::decode_into(&ev, &mut resolve, out) {
                Ok(k) => n += k,
                Err(DecodeError::Size(_) | DecodeError::Kind(_))
                | Err(DecodeError::Origin(_) | DecodeError::LockFn(_)) => *decode_errors += 1,
            }
        }
        n
    }

    pub fn kernel_stats(&self) -> KernelStats {
        let unrelated = self.learner.as_ref().map_or(0, |l| l.unrelated());
        let get =
            |idx: u32| -> u64 { self.stats.get(&idx, 0).map(|v| v.iter().sum()).unwrap_or(0) };
        KernelStats {
            lost_events: get(stat::LOST_EVENTS),
            contention_begin: get(stat::CONTENTION_BEGIN),
            contention_end: get(stat::CONTENTION_END),
            unmatched_release: get(stat::UNMATCHED_RELEASE),
            requests_entered: get(stat::REQUESTS_ENTERED),
            // Tracepoint mode: the kernel counts every mutex wait it emitted; those that were
            // not on RTNL are not acquisitions of it.
            acquisitions: get(stat::ACQUISITIONS).saturating_sub(unrelated),
            trylock_failed: get(stat::TRYLOCK_FAILED),
            unrelated_waits: unrelated,
            learned_rtnl_mutex: self.learner.as_ref().map_or(0, |l| l.learned()),
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
        self.programs
    }
}

/// The kernel caller of a hold taken outside rtnetlink, from its stack id (cached).
fn caller_name(
    stacks: &StackTraceMap<MapData>,
    kallsyms: &Kallsyms,
    cache: &mut HashMap<i32, String>,
    debug: bool,
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
            if ips.is_empty() {
                return "(stack lost)".into();
            }
            if debug {
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

fn debug_stacks() -> bool {
    std::env::var_os("RTNLPROF_DEBUG_STACKS").is_some()
}

/// The return addresses of a stack id (none if it is gone or was not taken).
fn stack_frames(stacks: &StackTraceMap<MapData>, stack_id: i32) -> Vec<u64> {
    if stack_id < 0 {
        return Vec::new();
    }
    stacks
        .get(&(stack_id as u32), 0)
        .map(|t| t.frames().iter().map(|f| f.ip).collect())
        .unwrap_or_default()
}

/// Mounts tracefs where tracepoints are looked up, unless it (or debugfs's copy) is there.
fn mount_tracefs() -> Result<(), CaptureError> {
    let have = [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).is_dir());
    if have {
        return Ok(());
    }
    nix::mount::mount(
        Some("nodev"),
        "/sys/kernel/tracing",
        Some("tracefs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| CaptureError::Tracefs(e.to_string()))
}

/// Returns the heap's free memory to the kernel (glibc keeps it otherwise).
fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory; no pointer is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Loads the eBPF object with this kernel's addresses and offsets.
fn load_object(
    opts: &CaptureOptions,
    o: &netns::Offsets,
    so: &netns::SockOffsets,
    rtnl_mutex: u64,
    btf: Option<&Btf>,
) -> Result<Ebpf, CaptureError> {
    use profiler_common::{netns as ns, sockfd as sf};
    EbpfLoader::new()
        .btf(btf)
        .override_global(names::RTNL_MUTEX, &rtnl_mutex, true)
        .override_global(ns::SKB_SK, &o.skb_sk, true)
        .override_global(ns::SK_NET, &o.sk_net, true)
        .override_global(ns::NET_INUM, &o.net_inum, true)
        .override_global(ns::TASK_NSPROXY, &o.task_nsproxy, true)
        .override_global(ns::NSPROXY_NET, &o.nsproxy_net, true)
        .override_global(sf::TASK_FILES, &so.task_files, true)
        .override_global(sf::FILES_FDT, &so.files_fdt, true)
        .override_global(sf::FDT_MAX_FDS, &so.fdt_max_fds, true)
        .override_global(sf::FDT_FD, &so.fdt_fd, true)
        .override_global(sf::FILE_INODE, &so.file_inode, true)
        .override_global(sf::INODE_MODE, &so.inode_mode, true)
        .override_global(sf::FILE_PRIVATE, &so.file_private, true)
        .override_global(sf::SOCKET_SK, &so.socket_sk, true)
        .override_global(sf::SK_FAMILY, &so.sk_family, true)
        .override_global(sf::SK_PROTOCOL, &so.sk_protocol, true)
        .map_max_entries(names::EVENTS, opts.ring_bytes)
        .load(BPF_OBJECT)
        .map_err(|e| CaptureError::Object(format!("{e:#}")))
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

fn attach(ebpf: &mut Ebpf, spec: &ProgSpec, btf: Option<&Btf>) -> Result<(), CaptureError> {
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
        Hook::FEntry | Hook::FExit if btf.is_none() => {
            return Err(load_err("no kernel BTF".into()));
        }
        Hook::FEntry => {
            let btf = btf.expect("checked");
            let p: &mut FEntry = program.try_into().map_err(|e| load_err(format!("{e}")))?;
            p.load(spec.target, btf)
                .map_err(|e| load_err(format!("{e}")))?;
            p.attach().map_err(|e| attach_err(format!("{e}")))?;
        }
        Hook::FExit => {
            let btf = btf.expect("checked");
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
