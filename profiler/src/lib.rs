//! rtnlprof: an eBPF contention profiler for the Linux kernel's RTNL mutex.
//!
//! The flow, one module a stage:
//! `capture` (the only code that touches the kernel: load, attach, ring buffer) →
//! `events` (typed records decoded from the ring buffer) →
//! `model` (pure aggregation: per-handler holds, waits, grace periods) →
//! `views` (pure renders of the model: text, JSON; `tui` is the live one, for `top`) →
//! `cmd` (one module per subcommand, the error edge) behind `cli`.

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
