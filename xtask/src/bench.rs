//! `cargo xtask bench report`: the report pipeline's figures, measured in one run (see
//! profiler/examples/bench-report.rs), plus the bytes per event of the recordings made in the
//! guests (profiler/tests/fixtures).

use std::process::Command;

use anyhow::{Context, Result};

use crate::util;

#[derive(clap::Args)]
pub struct Options {
    #[command(subcommand)]
    pub which: Which,
}

#[derive(clap::Subcommand)]
pub enum Which {
    /// Model throughput, bytes per event, reading throughput and peak memory of `rtnlprof report`.
    Report {
        /// Events in the synthetic file.
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
    },
}

pub fn run(o: &Options) -> Result<i32> {
    crate::setup::ensure()?;
    match o.which {
        Which::Report { events } => report(events),
    }
}

fn report(events: u64) -> Result<i32> {
    let root = util::root();
    util::exec(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "-p",
                "rtnlprof",
                "--bin",
                "rtnlprof",
                "--example",
                "bench-report",
            ]),
    )?;
    let bin = root.join("target/release/rtnlprof");
    println!(
        "bench report on {} ({} cores), {}",
        util::stdout_of(Command::new("uname").arg("-r"))?.trim(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        util::stdout_of(Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC"))?.trim()
    );
    let file = util::work_dir().join("bench-report.rtnl");
    std::fs::create_dir_all(util::work_dir())?;
    util::exec(
        Command::new(root.join("target/release/examples/bench-report"))
            .arg(events.to_string())
            .arg(&file),
    )
    .context("running bench-report")?;
    let (secs, peak) = time_and_peak(
        Command::new(&bin)
            .args(["report", "--format", "json"])
            .arg(&file),
    )?;
    println!(
        "report: {:.1} M events/s reading the file ({secs:.2} s for {events} events), peak memory {:.1} MiB",
        events as f64 / secs / 1e6,
        peak as f64 / (1 << 20) as f64
    );
    let _ = std::fs::remove_file(&file);
    for series in ["6.1", "6.12"] {
        let f = root.join(format!("profiler/tests/fixtures/{series}.rtnl"));
        let out = util::output(
            Command::new(&bin)
                .args(["report", "--format", "json"])
                .arg(&f),
        )?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let t = &v["totals"];
        let n = t["requests"].as_u64().unwrap_or(0)
            + t["holds"].as_u64().unwrap_or(0)
            + t["trylock_failed"].as_u64().unwrap_or(0);
        let size = std::fs::metadata(&f)?.len();
        println!(
            "guest recording {series}: {:.1} bytes/event ({n} events, {size} bytes with header and footer; one frame a second)",
            size as f64 / n.max(1) as f64
        );
    }
    Ok(0)
}

/// Wall time and peak resident memory (ru_maxrss of the child) of a command.
fn time_and_peak(cmd: &mut Command) -> Result<(f64, u64)> {
    let t = std::time::Instant::now();
    let child = cmd.stdout(std::process::Stdio::null()).spawn()?;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    anyhow::ensure!(
        pid > 0 && status == 0,
        "rtnlprof report failed (status {status})"
    );
    Ok((t.elapsed().as_secs_f64(), usage.ru_maxrss as u64 * 1024))
}
