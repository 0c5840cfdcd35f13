//! `rtnlprof stat [-- CMD]`: profile RTNL while CMD runs (or for --duration, or until Ctrl-C) and
//! print the per-handler summary.

use std::{
    process::{Child, Command, ExitStatus},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use anyhow::Context;
use nix::sys::signal::{self, SigHandler, Signal};

use crate::{
    capture::{Capture, CaptureOptions},
    cli::{Format, StatArgs},
    model::Model,
    views::summary::{self, RunInfo, SkippedHook},
};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM end the capture cleanly (the summary is still printed).
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

pub fn run(args: &StatArgs) -> anyhow::Result<i32> {
    install_stop_handlers()?;
    let mut capture = Capture::start(&CaptureOptions {
        ring_bytes: args.ring_bytes,
    })?;
    eprintln!(
        "rtnlprof: profiling RTNL on {} with {} programs{}",
        super::kernel_release(),
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
    let t0 = super::monotonic_ns();
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

    let mut model = Model::new();
    let mut batch = Vec::new();
    let mut code = 0;
    loop {
        let done = STOP.load(Ordering::SeqCst)
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
        for r in &batch {
            model.add(r, &mut |id| capture.caller(id));
        }
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(mut c) = child {
        if c.try_wait()?.is_none() {
            // Stopped by a signal or the duration: the command ends with the capture.
            let _ = c.kill();
            code = exit_code(c.wait()?);
        }
    }
    let run = RunInfo {
        kernel: super::kernel_release(),
        wall_ns: super::monotonic_ns() - t0,
        kernel_stats: capture.kernel_stats(),
        decode_errors: capture.decode_errors,
        skipped_hooks: capture
            .skipped
            .iter()
            .map(|(t, c)| SkippedHook {
                target: t.to_string(),
                cause: c.clone(),
            })
            .collect(),
    };
    drop(capture);
    let out = match args.format {
        Format::Text => summary::text(&model, &run),
        Format::Json => summary::json(&model, &run),
    };
    println!("{out}");
    Ok(code)
}
