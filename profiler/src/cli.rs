//! The command line: perf-style verbs.

use clap::{Parser, Subcommand, ValueEnum};
use std::ffi::OsString;

#[derive(Debug, Parser)]
#[command(
    name = "rtnlprof",
    version,
    about = "eBPF contention profiler for the Linux kernel's RTNL mutex (rtnl_mutex)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tell whether this kernel offers what rtnlprof needs (BTF, trampolines, rtnl_mutex, tracepoints).
    Check(CheckArgs),
    /// Profile RTNL while a command runs (or for a duration) and print a per-handler summary.
    Stat(StatArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct StatArgs {
    /// Stop after this many seconds (default: when CMD exits, or on Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Ring buffer size in bytes (a power of two, at least one page).
    #[arg(long, default_value_t = 1 << 22, value_name = "BYTES")]
    pub ring_bytes: u32,
    /// Command to run under the profiler; rtnlprof exits with its status.
    #[arg(last = true, value_name = "CMD")]
    pub cmd: Vec<OsString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}
