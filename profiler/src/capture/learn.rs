//! The tracepoint mode's policy for telling RTNL's waits from other mutexes' waits.
//!
//! `lock:contention_begin` fires for every contended lock in the kernel. When kallsyms does not
//! list `rtnl_mutex` (no CONFIG_KALLSYMS_ALL), the kernel side cannot filter on its address, so it
//! emits every mutex wait with the kernel stack. The first wait whose stack is an RTNL taker's
//! gives the address: from then on the kernel filters on it, and userspace drops the waits on
//! other mutexes that were already in the ring buffer. Only the tracepoint mode has one of these.

use aya::maps::{Array, MapData, StackTraceMap};
use profiler_common::{Event, EventKind, Origin};

use super::{kallsyms::Kallsyms, stack_frames};

pub(super) struct LockLearner {
    /// Where the kernel side reads the address of rtnl_mutex (0: not known yet).
    map: Array<MapData, u64>,
    /// The address of rtnl_mutex, known or learned (0: not yet).
    learned: u64,
    /// Waits read that were on other mutexes (dropped).
    unrelated: u64,
    /// `RTNLPROF_DEBUG_STACKS`: print the stacks of the waits that were not RTNL's.
    debug: bool,
}

impl LockLearner {
    /// `known`: the address from kallsyms, already in `map` (0 when it must be learned).
    pub(super) fn new(map: Array<MapData, u64>, known: u64, debug: bool) -> Self {
        LockLearner {
            map,
            learned: known,
            unrelated: 0,
            debug,
        }
    }

    /// Whether a record is one of RTNL's; learns the address from the first wait that is.
    /// Records other than waits always are.
    pub(super) fn admit(
        &mut self,
        ev: &Event,
        stacks: &StackTraceMap<MapData>,
        kallsyms: &Kallsyms,
    ) -> bool {
        if ev.kind != EventKind::Hold as u8 {
            return true;
        }
        if self.learned != 0 {
            // A different address was emitted before the kernel side saw the learned one.
            let ours = ev.lock == self.learned;
            self.unrelated += u64::from(!ours);
            return ours;
        }
        let frames = stack_frames(stacks, ev.stack_id);
        let in_request = ev.origin != Origin::Other as u8;
        if !kallsyms.waits_for_rtnl(&frames, in_request) {
            if self.debug {
                let names: Vec<_> = frames.iter().map(|&ip| kallsyms.function_at(ip)).collect();
                eprintln!("not RTNL: {:#x} {names:?}", ev.lock);
            }
            self.unrelated += 1;
            return false;
        }
        self.learned = ev.lock;
        // If the write fails the kernel keeps sending every wait; they are still dropped here.
        let _ = self.map.set(0, ev.lock, 0);
        true
    }

    pub(super) fn learned(&self) -> u64 {
        self.learned
    }

    pub(super) fn unrelated(&self) -> u64 {
        self.unrelated
    }
}
