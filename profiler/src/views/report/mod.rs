//! The report: the model rendered as text, markdown or JSON. Pure: (model, run info, options) in,
//! a string out. `rtnlprof stat` (live) and `rtnlprof report FILE` print the same thing.
//!
//! JSON (`--format json`), `"format": "rtnlprof-report"`, `"version": 1`. Stable: fields are only
//! ever added within a version. Times are nanoseconds.
//! * run fields at the top level: `kernel`, `hostname`, `boot_id`, `capture_mode`, `start_unix_ns`,
//!   `wall_ns`, `rtnlprof_version`, `kernel_stats` {lost_events, contention_begin, contention_end,
//!   unmatched_release, requests_entered, acquisitions, trylock_failed, recursion_misses},
//!   `decode_errors`, `skipped_hooks` [{target, cause}], `warnings` [string];
//! * `totals`: the handler fields below summed over all handlers;
//! * `handlers` [ranked by hold time]: `handler` (name), `kind` ("msg" | "caller"), for "msg"
//!   `family`, `nlmsg_type`, `type_name`, `dump`; then `requests`, `requests_locked`, `request_ns`,
//!   `pre_lock_ns` / `post_release_ns` (of the locked requests: from `rtnetlink_rcv_msg`'s entry
//!   to the first lock call, and from the last release to its return, summed),
//!   `holds`, `continuation_holds`, `hold_ns`, `wait_ns`, `max_hold_ns`, `max_wait_ns`,
//!   `contended_waits`, `gp_ns`, `gp_count`, `trylock_failed`, `blamed_ns` (wait others spent
//!   behind this handler's holds), `behind_ns` (the part of its own `wait_ns` spent while others
//!   held RTNL) and `handoff_ns` (the rest: from a release to the waiter running; `wait_ns =
//!   behind_ns + handoff_ns`), `hold` {count, total_ns, p50_ns, p90_ns, p99_ns, max_ns} of all
//!   holds and `wait` (the same figures of the waits that waited: fast-path acquisitions have no
//!   wait and are not in it), and `hold_hist` / `wait_hist`: the histograms themselves
//!   (HdrHistogram V2+DEFLATE, base64);
//! * `tasks` [by hold time]: {tid, tgid, comm, requests, holds, hold_ns, wait_ns, gp_ns};
//! * `blame` [by time]: {waiter, holder, wait_ns}: time `waiter`'s acquisitions waited while
//!   `holder` held RTNL, the same whatever order the records arrived in;
//! * `blame_late` {records, wait_ns}: records that reached further back than the blame keeps
//!   (`model::blame::LAG_NS`, or its caps), and the part of their waits whose holders may be
//!   missing from `blame`;
//! * `utilization`: fraction of each second RTNL was held, from the start of the run;
//! * `candidates` [by score]: {handler, score, unlocked, reasons};
//! * `netns` [by hold time, when the recording knows namespaces]: {inode, name, requests,
//!   wait_ns, holds, hold_ns, cross_wait_ns} (the wait behind holders in other namespaces);
//! * `unavailable` [string]: what the capture mode could not measure. A recording of the
//!   tracepoint mode (`capture_mode` "tracepoint") sees contended waits only: its rows have no
//!   hold fields (`model::doc::HELD_FIELDS`; in `netns` rows neither `holds`, `hold_ns` nor
//!   `cross_wait_ns`), and `blame`, `utilization` and `candidates` are absent; `holds`-free rows count waits in `contended_waits` and `wait`.

mod layout;
mod sections;
mod table;
#[cfg(test)]
mod tests;

use crate::model::{doc::ReportDoc, Model};
pub use crate::run::{KernelStats, RunInfo, SkippedHook};
use layout::{layout, Style};
use sections::sections;
pub(crate) use table::Table;

/// What the tracepoint mode cannot measure, in words.
pub const TP_UNMEASURED: &str = match crate::run::CaptureMode::Tracepoint.unmeasured() {
    Some(w) => w,
    None => "",
};
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// Message types and kernel callers.
    Type,
    /// Only holders outside rtnetlink, by kernel caller.
    Caller,
    /// Threads.
    Task,
    /// Network namespaces, and what per-netns RTNL would save per handler.
    Netns,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub top: usize,
    pub by: By,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            top: 20,
            by: By::Type,
        }
    }
}

/// The JSON document (complete: `--top` and `--by` shape only text and markdown).
pub fn json(model: &Model, run: &RunInfo) -> String {
    serde_json::to_string_pretty(&ReportDoc::new(model, run)).expect("serializable")
}

pub fn text(model: &Model, run: &RunInfo, opts: &Options) -> String {
    layout(&sections(model, run, opts), Style::Text)
}

pub fn markdown(model: &Model, run: &RunInfo, opts: &Options) -> String {
    layout(&sections(model, run, opts), Style::Markdown)
}
