//! rtnlprof's eBPF programs, for two capture modes that share one object, its maps and the
//! per-task state:
//!
//! * [`full`]: fentry/fexit programs, for kernels that allow BPF trampolines. They see every
//!   request (`rtnetlink_rcv_msg`), every `rtnl_mutex` hold and the grace periods waited inside.
//! * [`tracepoint`]: tracepoints only, for kernels that refuse trampolines (and kprobes). They see
//!   RTNL only when it is contended, and requests from the sending syscalls.
//!
//! [`state`] holds what both use: the maps, the globals the loader sets, the per-task state and
//! the helpers that read kernel memory, decode the netlink header and emit records. Program
//! names are the functions' names (aya names a program after its function) and must be those of
//! `profiler_common::names::prog`; the loader's test checks the built object against them.
#![no_std]
#![no_main]

mod full;
mod state;
mod tracepoint;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
