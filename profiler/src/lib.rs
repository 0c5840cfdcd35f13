//! rtnlprof: an eBPF contention profiler for the Linux kernel's RTNL mutex.
//!
//! One module a stage, each importing only those before it (`tests/layers.rs` checks the rules):
//! `run` and `error` (run metadata and errors: the bottom layer) → `events` (typed records) →
//! `trace` (the recording format) → `capture` (the only code that touches the kernel: load,
//! attach, ring buffer; the capture session and the live/replay sources) → `model` (pure
//! aggregation: per-handler holds, waits, blame; the report document) → `diff` (two runs
//! compared) → `views` (pure renders: text, markdown, JSON, metrics, timelines) → `tui` (`top`'s
//! live one) → `cli` (the command line's types) → `cmd` (one module per verb, the error edge).

pub mod capture;
pub mod cli;
pub mod cmd;
pub mod diff;
pub mod error;
pub mod events;
pub mod model;
pub mod run;
pub mod trace;
pub mod tui;
pub mod views;

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: cli::Cli) -> i32 {
    match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rtnlprof: {}", one_line(&format!("{err:#}")));
            cmd::exit_code_for(&err)
        }
    }
}

pub use error::one_line;
