//! The command line: perf-style verbs.

use std::{ffi::OsString, path::PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::{capture::ModeChoice, views::report::By};

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
    /// Profile RTNL while a command runs (or for a duration) and print the report.
    Stat(StatArgs),
    /// Live terminal UI: who holds RTNL, who waits, and the candidates for running without it.
    Top(TopArgs),
    /// Record every RTNL hold and request into a file.
    Record(RecordArgs),
    /// Report on a recording.
    Report(ReportArgs),
    /// Export a recording as a timeline: Chrome trace-event JSON (Perfetto) or the Firefox profiler's format.
    Export(ExportArgs),
    /// Serve RTNL metrics for Prometheus on /metrics (OpenMetrics text), and /healthz.
    Serve(ServeArgs),
    /// Compare two recordings (or reports' JSON); exit 1 on an RTNL regression, 2 on bad input.
    Diff(DiffArgs),
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The baseline: a recording or `rtnlprof report --format json` output.
    pub base: PathBuf,
    /// The run to judge.
    pub new: PathBuf,
    /// A rule that fails the comparison, e.g. `hold.p99>+20%`, `RTM_NEWLINK:wait.total>+50ms`,
    /// `utilization>+5pp` (repeatable; replaces the defaults and the config file's rules).
    #[arg(long = "fail-on", value_name = "RULE")]
    pub fail_on: Vec<String>,
    /// TOML: fail_on = [...], min_samples, confidence, min_abs_ns, min_abs_total_ns.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Compare runs captured in different modes (full and tracepoint) anyway: only the figures
    /// both measure (requests, contended waits, wait times) mean anything then.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A recording made by `rtnlprof record`.
    pub file: PathBuf,
    /// chrome-json: open in ui.perfetto.dev or chrome://tracing; firefox: open in the Firefox profiler.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The file to write (`-`: standard output).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Only from this many seconds after the recording's start.
    #[arg(long, value_name = "SECONDS")]
    pub from: Option<f64>,
    /// Only up to this many seconds after the recording's start.
    #[arg(long, value_name = "SECONDS")]
    pub to: Option<f64>,
    /// Only requests and holds of this message type (RTM_NEWLINK, NEWLINK or a number).
    #[arg(long = "type", value_name = "RTM_TYPE")]
    pub r#type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    ChromeJson,
    Firefox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
    Markdown,
    Junit,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Where live commands (top, serve) take their records from instead of the capture.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Show a recording instead of capturing (works anywhere, without root).
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Replay speed: 1 is the recording's pace, 10 ten times faster, `max` as fast as it reads.
    #[arg(long, default_value = "1", requires = "replay")]
    pub speed: crate::capture::source::Speed,
}

#[derive(Debug, clap::Args)]
pub struct TopArgs {
    #[command(flatten)]
    pub source: ReplayArgs,
    #[command(flatten)]
    pub capture: CaptureArgs,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback unless --expose).
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "IP:PORT")]
    pub listen: String,
    /// Allow an address reachable from other hosts.
    #[arg(long)]
    pub expose: bool,
    /// Kernel callers (outside rtnetlink) with series of their own; the rest are `other`.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top_callers: usize,
    /// Add per-network-namespace series (label `netns`) for the first N namespaces by hold time;
    /// the rest are `other`.
    #[arg(long, value_name = "N")]
    pub netns_labels: Option<usize>,
    #[command(flatten)]
    pub source: ReplayArgs,
    #[command(flatten)]
    pub capture: CaptureArgs,
}

/// What to capture and for how long (stat, record, top, serve).
#[derive(Debug, Clone, clap::Args)]
pub struct CaptureArgs {
    /// Stop after this many seconds (default: when CMD exits, or on Ctrl-C / SIGTERM).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Ring buffer size in bytes (a power of two, at least one page).
    #[arg(long, default_value_t = 1 << 22, value_name = "BYTES")]
    pub ring_bytes: u32,
    /// full: fentry on the mutex and rtnetlink functions, every hold and wait; tracepoint:
    /// tracepoints only, for kernels that refuse BPF trampolines (contended waits only, no hold
    /// times); auto: full, else tracepoint (said once).
    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    pub mode: ModeArg,
    /// Command to run under the profiler; rtnlprof exits with its status.
    #[arg(last = true, value_name = "CMD")]
    pub cmd: Vec<OsString>,
}

impl CaptureArgs {
    /// The capture session these arguments ask for.
    pub fn session(&self) -> crate::capture::session::SessionOptions {
        crate::capture::session::SessionOptions {
            duration: self.duration,
            ring_bytes: self.ring_bytes,
            mode: self.mode.into(),
            cmd: self.cmd.clone(),
        }
    }
}

/// How to show a report (stat, report).
#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    /// Output format (json is documented and versioned: see the README).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Rows per table.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Main table: by message type (and kernel caller), by caller only, or by thread.
    #[arg(long, value_enum, default_value_t = ByArg::Type)]
    pub by: ByArg,
}

/// `--mode` (the capture's [`ModeChoice`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Full, and the tracepoint mode if the kernel refuses it.
    Auto,
    /// fentry/fexit on the mutex and rtnetlink functions: every hold and wait.
    Full,
    /// Tracepoints only (kernels without BPF trampolines): contended waits only.
    Tracepoint,
}

impl From<ModeArg> for ModeChoice {
    fn from(m: ModeArg) -> ModeChoice {
        match m {
            ModeArg::Auto => ModeChoice::Auto,
            ModeArg::Full => ModeChoice::Full,
            ModeArg::Tracepoint => ModeChoice::Tracepoint,
        }
    }
}

/// `--by` (the report's [`By`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ByArg {
    /// Message types and kernel callers.
    Type,
    /// Only holders outside rtnetlink, by kernel caller.
    Caller,
    /// Threads.
    Task,
    /// Network namespaces, and what per-netns RTNL would save per handler.
    Netns,
}

impl From<ByArg> for By {
    fn from(b: ByArg) -> By {
        match b {
            ByArg::Type => By::Type,
            ByArg::Caller => By::Caller,
            ByArg::Task => By::Task,
            ByArg::Netns => By::Netns,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct StatArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub capture: CaptureArgs,
}

#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// The recording to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub capture: CaptureArgs,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A recording made by `rtnlprof record`.
    pub file: PathBuf,
    /// Only the last SECONDS of the recording (records completed in that window).
    #[arg(long, value_name = "SECONDS")]
    pub last: Option<f64>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}
