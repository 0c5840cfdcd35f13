//! The capture session every capturing verb shares: start the capture, run CMD (or wait for
//! the duration, a signal or the stop token), hand every record to a sink, stop cleanly.

use std::{
    ffi::OsString,
    process::{Child, Command, ExitStatus},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use nix::sys::signal::{self, SigHandler, Signal};

use super::{Capture, CaptureOptions, KernelStats, ModeChoice};
use crate::{
    events::Record,
    run::{RunInfo, SkippedHook},
    trace::Header,
};

/// What to capture and for how long.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Stop after this many seconds (None: when CMD exits, or on a signal or the stop token).
    pub duration: Option<f64>,
    pub ring_bytes: u32,
    pub mode: ModeChoice,
    /// Command to run under the capture (empty: none).
    pub cmd: Vec<OsString>,
}

static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
}

/// Whether SIGINT or SIGTERM arrived (after [`install_stop_handlers`]).
pub fn signalled() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

/// Asks a session to end (the TUI's quit key, a server shutting down); SIGINT and SIGTERM do too.
#[derive(Debug, Clone, Default)]
pub struct StopToken(Arc<AtomicBool>);

impl StopToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the token or a signal asked to stop.
    pub fn stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst) || signalled()
    }
}

/// SIGINT and SIGTERM end the capture cleanly (the output is still written).
pub fn install_stop_handlers() -> anyhow::Result<()> {
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { signal::signal(sig, SigHandler::Handler(on_signal)) }
            .with_context(|| format!("installing a {sig} handler"))?;
    }
    Ok(())
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

pub struct LiveEnd {
    /// CMD's exit status (0 without CMD).
    pub code: i32,
    pub header: Header,
    pub end_mono_ns: u64,
    pub kernel_stats: KernelStats,
    pub decode_errors: u64,
}

impl LiveEnd {
    pub fn run_info(&self) -> RunInfo {
        self.header
            .run_info(self.end_mono_ns, self.kernel_stats, self.decode_errors)
    }
}

pub fn header(capture: &Capture, start_mono_ns: u64) -> Header {
    Header {
        rtnlprof_version: env!("CARGO_PKG_VERSION").into(),
        kernel: super::kernel_release(),
        boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
        hostname: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        clock: "CLOCK_MONOTONIC".into(),
        start_unix_ns: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
        start_mono_ns,
        capture_mode: capture.mode,
        capture_fallback: capture.fallback.clone(),
        rtnl_mutex: capture.rtnl_mutex,
        skipped_hooks: capture
            .skipped
            .iter()
            .map(|(t, c)| SkippedHook {
                target: t.to_string(),
                cause: c.clone(),
            })
            .collect(),
        netns_names: super::netns::names(),
    }
}

/// Where the records of a live capture go.
pub trait Sink {
    /// The capture is attached; `header` describes it.
    fn start(&mut self, header: &Header) -> anyhow::Result<()>;
    /// A batch of records, as read from the ring buffer (every [`Sink::poll_every`]).
    fn records(&mut self, batch: &[Record]) -> anyhow::Result<()>;
    /// The in-kernel counters, about twice a second (lost events show up here first).
    fn kernel_stats(&mut self, _stats: &KernelStats) -> anyhow::Result<()> {
        Ok(())
    }
    /// Whether the capture says on stderr what it attached (not under a full-screen UI).
    fn banner(&self) -> bool {
        true
    }
    /// How often the ring buffer is read. The programs never wake the reader: each read takes
    /// all that came since, so this bounds the latency, and the ring's size the rate.
    fn poll_every(&self) -> Duration {
        Duration::from_millis(100)
    }
}

/// Runs the capture, handing every batch of records to `sink`, until CMD exits, the duration
/// passes, a signal arrives or `stop` is stopped.
pub fn run(
    args: &SessionOptions,
    stop: &StopToken,
    sink: &mut dyn Sink,
) -> anyhow::Result<LiveEnd> {
    install_stop_handlers()?;
    let mut capture = Capture::start(&CaptureOptions {
        ring_bytes: args.ring_bytes,
        mode: args.mode,
    })?;
    let header = header(&capture, super::monotonic_ns());
    sink.start(&header)?;
    if sink.banner() {
        if let Some(why) = &capture.fallback {
            eprintln!(
                "rtnlprof: the full capture is refused here ({why}); capturing from tracepoints: \
                 contended waits only, hold times are not measured"
            );
        }
        eprintln!(
            "rtnlprof: profiling RTNL on {} in {} mode with {} programs{}",
            header.kernel,
            if capture.mode.measures_holds() {
                "full"
            } else {
                "tracepoint"
            },
            capture.attached(),
            if capture.skipped.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} hooks unavailable, listed at the end)",
                    capture.skipped.len()
                )
            }
        );
    }
    let started = Instant::now();
    let mut child: Option<Child> = match args.cmd.split_first() {
        Some((prog, rest)) => Some(
            Command::new(prog)
                .args(rest)
                .spawn()
                .with_context(|| format!("cannot run {}", prog.to_string_lossy()))?,
        ),
        None => None,
    };
    let deadline = args.duration.map(Duration::from_secs_f64);
    let mut batch = Vec::new();
    let mut code = 0;
    let mut stats_at = Instant::now();
    loop {
        let done = stop.stopped()
            || deadline.is_some_and(|d| started.elapsed() >= d)
            || match child.as_mut() {
                Some(c) => match c.try_wait()? {
                    Some(status) => {
                        code = exit_code(status);
                        true
                    }
                    None => false,
                },
                None => false,
            };
        // Drain after the stop condition so nothing the command caused is left in the ring.
        batch.clear();
        capture.drain(&mut batch);
        sink.records(&batch)?;
        if stats_at.elapsed() >= Duration::from_millis(500) {
            stats_at = Instant::now();
            sink.kernel_stats(&capture.kernel_stats())?;
        }
        if done {
            break;
        }
        std::thread::sleep(sink.poll_every());
    }
    if let Some(mut c) = child {
        if c.try_wait()?.is_none() {
            // Stopped by a signal or the duration: the command ends with the capture.
            let _ = c.kill();
            code = exit_code(c.wait()?);
        }
    }
    Ok(LiveEnd {
        code,
        header,
        end_mono_ns: super::monotonic_ns(),
        kernel_stats: capture.kernel_stats(),
        decode_errors: capture.decode_errors,
    })
}
