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
    /// Model throughput, bytes per event, reading throughput and peak memory of `rtnlprof report`,
    /// and `record`'s userspace cost per event.
    Report {
        /// Events in the synthetic file.
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
    },
    /// Time, output size and peak memory of `rtnlprof export` (both formats) on a synthetic
    /// recording.
    Export {
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
    },
    /// Render time and size of `/metrics` with ROWS handlers, and the latency of real scrapes of
    /// `rtnlprof serve` over HTTP.
    Serve {
        #[arg(long, default_value_t = 200)]
        rows: usize,
        #[arg(long, default_value_t = 100)]
        scrapes: usize,
    },
    /// Cost to RTNL-heavy workloads of rtnlprof against bpftrace, klockstat and perf lock, in
    /// one guest boot per kernel, rounds alternating with the order rotated.
    Overhead {
        /// Kernel series: 6.1, 6.12 or all.
        #[arg(long, default_value = "6.12")]
        kernel: String,
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        /// micro, realistic, or both (comma-separated).
        #[arg(long, default_value = "micro,realistic")]
        workloads: String,
        /// Only these configurations (comma-separated; untraced-a is the base of the ratios).
        /// Also known: rtnlprof-ring4k, record with a one-page ring (the probes' cost alone).
        #[arg(
            long,
            default_value = "untraced-a,untraced-b,rtnlprof-record,rtnlprof-top,bpftrace,klockstat,perf-lock"
        )]
        configs: String,
        /// The guest's clock: `icount` counts instructions (1 ns each, idle time skipped), so a
        /// run's time is the work the guest did and the host's load does not move it; `host`
        /// follows the host's clock (what the guest took in real time under emulation, noisy).
        #[arg(long, default_value = "icount", value_parser = ["icount", "host"])]
        clock: String,
        /// vCPUs of the guest. With one, a run's instruction-counted time is the work the whole
        /// machine did plus its timed sleeps (grace periods), and repeats to within 1 %; with
        /// two on one TCG thread, the order the vCPUs run in varies the realistic workload's
        /// grace periods from run to run by ±10 %.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
        cpus: u32,
    },
    /// Frame render time of `top` with ROWS rows, and the CPU share and memory of `top` itself
    /// replaying a recording at RATE events/s in a real terminal (tmux).
    Tui {
        #[arg(long, default_value_t = 200)]
        rows: usize,
        #[arg(long, default_value_t = 10_000)]
        rate: u64,
        /// Seconds the CPU time is measured over.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
}

pub fn run(o: &Options) -> Result<i32> {
    crate::setup::ensure()?;
    match &o.which {
        Which::Report { events } => report(*events),
        Which::Export { events } => export(*events),
        Which::Serve { rows, scrapes } => serve(*rows, *scrapes),
        Which::Overhead {
            kernel,
            rounds,
            workloads,
            configs,
            clock,
            cpus,
        } => overhead(
            kernel,
            *rounds,
            workloads,
            configs,
            clock == "icount",
            *cpus,
        ),
        Which::Tui {
            rows,
            rate,
            seconds,
        } => tui(*rows, *rate, *seconds),
    }
}

fn build_release(example: &str) -> Result<()> {
    util::exec(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(util::root())
            .args([
                "build",
                "--release",
                "-p",
                "rtnlprof",
                "--bin",
                "rtnlprof",
                "--example",
                example,
            ]),
    )
}

fn export(events: u64) -> Result<i32> {
    let root = util::root();
    build_release("bench-tui")?;
    banner("export")?;
    std::fs::create_dir_all(util::work_dir())?;
    let file = util::work_dir().join("bench-export.rtnl");
    let out = util::stdout_of(
        Command::new(root.join("target/release/examples/bench-tui"))
            .arg("1")
            .arg(&file)
            .arg(events.to_string()),
    )?;
    println!("{}", out.trim());
    let bin = root.join("target/release/rtnlprof");
    for format in ["chrome-json", "firefox"] {
        let dest = util::work_dir().join(format!("bench-export.{format}"));
        let (secs, peak) = time_and_peak(
            Command::new(&bin)
                .args(["export", "--format", format, "-o"])
                .arg(&dest)
                .arg(&file)
                .stderr(std::process::Stdio::null()),
        )?;
        let size = std::fs::metadata(&dest)?.len();
        println!(
            "export {format}: {:.2} s for {events} events ({:.2} M events/s), {:.1} MiB written, peak memory {:.1} MiB",
            secs,
            events as f64 / secs / 1e6,
            size as f64 / (1 << 20) as f64,
            peak as f64 / (1 << 20) as f64
        );
        let _ = std::fs::remove_file(&dest);
    }
    let _ = std::fs::remove_file(&file);
    Ok(0)
}

/// The tools the overhead benchmark compares with (Debian packages, installed on demand).
const OVERHEAD_TOOLS: &[(&str, &str)] = &[
    ("/usr/bin/bpftrace", "bpftrace"),
    ("/usr/sbin/klockstat", "libbpf-tools"),
    ("/usr/bin/perf", "linux-perf"),
];

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn overhead(
    kernel: &str,
    rounds: usize,
    workloads: &str,
    configs: &str,
    icount: bool,
    cpus: u32,
) -> Result<i32> {
    anyhow::ensure!(
        configs.split(',').any(|c| c == "untraced-a"),
        "--configs must include untraced-a, the base of the ratios"
    );
    let missing: Vec<&str> = OVERHEAD_TOOLS
        .iter()
        .filter(|(p, _)| !std::path::Path::new(p).exists())
        .map(|(_, pkg)| *pkg)
        .collect();
    if !missing.is_empty() {
        util::exec(
            Command::new("apt-get")
                .args(["install", "-y", "-q"])
                .args(&missing),
        )
        .context("installing the tools to compare with")?;
    }
    let mut bins = crate::build::guest_binaries_release(&["bench-overhead"])?;
    for (p, _) in OVERHEAD_TOOLS {
        bins.extra.push((p.into(), (*p).to_owned()));
    }
    for k in crate::vm::kernels(kernel)? {
        println!(
            "bench overhead on {} (QEMU TCG, {cpus} vCPU{} on one host thread{}; host {}), {}, {rounds} rounds",
            k.release,
            if cpus == 1 { "" } else { "s" },
            if icount {
                ", guest clock counting instructions: 1 ns each, idle skipped"
            } else {
                ", guest clock following the host's"
            },
            util::stdout_of(Command::new("uname").arg("-r"))?.trim(),
            now()?
        );
        let mut runs: Vec<serde_json::Value> = Vec::new();
        let cmd = format!("/usr/bin/bench-overhead {workloads} {rounds} {configs}");
        let machine = crate::vm::Machine {
            icount,
            cpus,
            ..Default::default()
        };
        let code = crate::vm::boot(&k, &bins, &cmd, 7200, &machine, &mut |line| {
            if let Some(j) = line.strip_prefix("@@bench ") {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(j) {
                    eprintln!(
                        "  {} {} round {}: {:.3} s, busy CPU {:.3} s{}",
                        v["workload"].as_str().unwrap_or(""),
                        v["config"].as_str().unwrap_or(""),
                        v["round"],
                        v["secs"].as_f64().unwrap_or(0.0),
                        v["busy_s"].as_f64().unwrap_or(0.0),
                        if v["ok"] == true { "" } else { " (FAILED)" }
                    );
                    runs.push(v);
                }
            }
        })?;
        anyhow::ensure!(
            code == 0,
            "the benchmark exited with status {code} in the guest"
        );
        let table = overhead_table(&runs);
        println!("{table}");
        let failed = runs.iter().filter(|r| r["ok"] != true).count();
        let out = util::work_dir().join(format!("bench-overhead-{}.txt", k.series));
        std::fs::create_dir_all(util::work_dir())?;
        std::fs::write(&out, &table)?;
        println!("(written to {})", out.display());
        anyhow::ensure!(
            failed == 0,
            "{failed} of {} runs failed or their tool was not ready on {} (see OK and the notes)",
            runs.len(),
            k.release
        );
    }
    Ok(0)
}

fn overhead_table(runs: &[serde_json::Value]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut workloads: Vec<&str> = runs.iter().filter_map(|r| r["workload"].as_str()).collect();
    workloads.dedup();
    for w in workloads {
        let of = |config: &str| -> Vec<&serde_json::Value> {
            runs.iter()
                .filter(|r| r["workload"] == w && r["config"] == config)
                .collect()
        };
        let mut base: Vec<f64> = of("untraced-a")
            .iter()
            .filter_map(|r| r["secs"].as_f64())
            .collect();
        let base = median(&mut base);
        let mut base_busy: Vec<f64> = of("untraced-a")
            .iter()
            .filter_map(|r| r["busy_s"].as_f64())
            .collect();
        let base_busy = median(&mut base_busy);
        // Minimums are less noisy under emulation (a stall of the host only adds time).
        let mut base_min: Vec<f64> = of("untraced-a")
            .iter()
            .chain(of("untraced-b").iter())
            .filter_map(|r| r["secs"].as_f64())
            .collect();
        base_min.sort_by(f64::total_cmp);
        let base_min = base_min.first().copied().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "\n{w}: median and min of each configuration; RATIO: of medians to untraced-a's ({base:.3} s), MIN R: of minimums to the untraced minimum ({base_min:.3} s); BUSY: CPU time all tasks ran, from the start to 0.5 s after the end (median; with several vCPUs on one TCG thread, time both are busy counts twice), BUSY R: to untraced-a's ({base_busy:.3} s)"
        );
        let _ = writeln!(
            out,
            "{:<16} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7}  rtnlprof: events/s, lost, CPU s in the run (all), peak RSS",
            "CONFIG", "MEDIAN s", "MIN s", "RATIO", "MIN R", "BUSY s", "BUSY R", "OK"
        );
        let mut mins: Vec<(&str, f64, f64, f64)> = Vec::new();
        let mut configs: Vec<&str> = runs
            .iter()
            .filter(|r| r["workload"] == w)
            .filter_map(|r| r["config"].as_str())
            .collect();
        configs.sort();
        configs.dedup();
        let order = [
            "untraced-a",
            "untraced-b",
            "rtnlprof-record",
            "rtnlprof-ring4k",
            "rtnlprof-top",
            "bpftrace",
            "klockstat",
            "perf-lock",
        ];
        configs.sort_by_key(|c| order.iter().position(|o| o == c).unwrap_or(99));
        for c in configs {
            let rs = of(c);
            let mut secs: Vec<f64> = rs.iter().filter_map(|r| r["secs"].as_f64()).collect();
            let min = secs.iter().cloned().fold(f64::INFINITY, f64::min);
            let med = median(&mut secs);
            let ok = rs.iter().filter(|r| r["ok"] == true).count();
            let mut busy: Vec<f64> = rs.iter().filter_map(|r| r["busy_s"].as_f64()).collect();
            let busy = median(&mut busy);
            let mut extra = String::new();
            if c.starts_with("rtnlprof") {
                let mut cpu: Vec<f64> = rs.iter().filter_map(|r| r["cpu_s"].as_f64()).collect();
                let mut cpu_run: Vec<f64> =
                    rs.iter().filter_map(|r| r["cpu_run_s"].as_f64()).collect();
                let rss = rs
                    .iter()
                    .filter_map(|r| r["rss_kib"].as_u64())
                    .max()
                    .unwrap_or(0);
                let lost: u64 = rs.iter().filter_map(|r| r["lost"].as_u64()).sum();
                let eps: Vec<f64> = rs
                    .iter()
                    .filter_map(|r| Some(r["events"].as_u64()? as f64 / r["secs"].as_f64()?))
                    .collect();
                let eps = if eps.is_empty() {
                    "-".to_owned()
                } else {
                    let mut e = eps;
                    format!("{:.0} events/s", median(&mut e))
                };
                let mut contended: Vec<f64> = rs
                    .iter()
                    .filter_map(|r| Some(r["contended"].as_u64()? as f64))
                    .collect();
                let lost = if c == "rtnlprof-record" || c == "rtnlprof-ring4k" {
                    format!("{:.0} contended waits, {lost} lost", median(&mut contended))
                } else {
                    "lost: see header".into()
                };
                let all = if cpu.is_empty() {
                    String::new()
                } else {
                    format!(" ({:.2} s)", median(&mut cpu))
                };
                extra = format!(
                    "{eps}, {lost}, CPU median {:.2} s{all}, peak RSS {:.1} MiB",
                    median(&mut cpu_run),
                    rss as f64 / 1024.0
                );
            }
            let notes: Vec<&str> = rs
                .iter()
                .filter_map(|r| r["note"].as_str())
                .filter(|n| !n.is_empty())
                .collect();
            if let Some(n) = notes.first() {
                if extra.is_empty() {
                    extra = (*n).to_owned();
                }
            }
            let _ = writeln!(
                out,
                "{c:<16} {med:>9.3} {min:>9.3} {:>7.3} {:>7.3} {busy:>7.3} {:>7.3} {:>3}/{:<3}  {extra}",
                med / base,
                min / base_min,
                busy / base_busy,
                ok,
                rs.len()
            );
            mins.push((c, med, min, busy));
        }
        // The issue's yardstick: rtnlprof record's added time as a share of klockstat's.
        let find = |c: &str| mins.iter().find(|m| m.0 == c).map(|m| (m.1, m.2, m.3));
        if let (Some(r), Some(k)) = (find("rtnlprof-record"), find("klockstat")) {
            let share = |x: f64, k: f64, b: f64| 100.0 * (x - b) / (k - b);
            let _ = writeln!(
                out,
                "rtnlprof-record adds {:.0}% of klockstat's added time (medians), {:.0}% (minimums), {:.0}% of its added busy CPU time (medians)",
                share(r.0, k.0, base),
                share(r.1, k.1, base_min),
                share(r.2, k.2, base_busy)
            );
        }
    }
    out
}

/// One HTTP/1.0 GET on loopback: the body.
fn http_get(port: u16, path: &str) -> Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    Ok(buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default())
}

fn serve(rows: usize, scrapes: usize) -> Result<i32> {
    let root = util::root();
    build_release("bench-serve")?;
    banner("serve")?;
    let example = root.join("target/release/examples/bench-serve");
    util::exec(Command::new(&example).arg(rows.to_string()))?;
    std::fs::create_dir_all(util::work_dir())?;
    let file = util::work_dir().join("bench-serve.rtnl");
    util::exec(Command::new(&example).arg(rows.to_string()).arg(&file))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(root.join("target/release/rtnlprof"))
        .args(["serve", "--speed", "max", "--top-callers"])
        .arg(rows.to_string())
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--replay")
        .arg(&file)
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let result = (|| -> Result<()> {
        let t = std::time::Instant::now();
        while !http_get(port, "/healthz").is_ok_and(|b| b.contains("replay finished")) {
            anyhow::ensure!(t.elapsed().as_secs() < 30, "serve did not come up");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..scrapes {
            let t = std::time::Instant::now();
            let body = http_get(port, "/metrics")?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            size = body.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "scrape over HTTP ({rows} handlers, {} series lines): median {:.2} ms, p99 {:.2} ms over {scrapes} scrapes; {size} bytes",
            http_get(port, "/metrics")?.lines().filter(|l| !l.starts_with('#')).count(),
            times[times.len() / 2],
            times[(times.len() - 1) * 99 / 100],
        );
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&file);
    result?;
    Ok(0)
}

/// The first line of every benchmark: what, on which kernel and machine, when.
fn banner(what: &str) -> Result<()> {
    println!(
        "bench {what} on {} ({} cores), {}",
        util::stdout_of(Command::new("uname").arg("-r"))?.trim(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        now()?
    );
    Ok(())
}

fn now() -> Result<String> {
    Ok(
        util::stdout_of(Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC"))?
            .trim()
            .to_owned(),
    )
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("parsing /proc/PID/stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(ticks as f64 / hz)
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn tui(rows: usize, rate: u64, seconds: u64) -> Result<i32> {
    let root = util::root();
    build_release("bench-tui")?;
    banner("tui")?;
    util::exec(Command::new(root.join("target/release/examples/bench-tui")).arg(rows.to_string()))
        .context("running bench-tui")?;

    // A synthetic recording long enough for the measurement at `rate`, replayed at the speed
    // that gives that rate, in tmux (a real terminal), measured from /proc.
    std::fs::create_dir_all(util::work_dir())?;
    let file = util::work_dir().join("bench-tui.rtnl");
    let bin = root.join("target/release/rtnlprof");
    let n = (rate * (seconds + 10)) as usize;
    let out = util::stdout_of(
        Command::new(root.join("target/release/examples/bench-tui"))
            .arg(rows.to_string())
            .arg(&file)
            .arg(n.to_string()),
    )?;
    // "recording: N records over S s"
    let span_s: f64 = out
        .split(" over ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bench-tui said {out:?}"))?;
    let speed = rate as f64 / (n as f64 / span_s);
    let socket = format!("rtnlprof-bench-{}", std::process::id());
    let tmux = |args: &[&str]| -> Result<String> {
        let out = util::output(
            Command::new("tmux")
                .args(["-u", "-L", &socket, "-f", "/dev/null"])
                .args(args)
                .env("LC_ALL", "C.UTF-8")
                .env_remove("TMUX"),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let line = format!(
        "exec {} top --replay {} --speed {speed}",
        bin.display(),
        file.display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-x",
        "160",
        "-y",
        "48",
        "-s",
        "b",
        &line,
    ])?;
    let result = (|| -> Result<(f64, f64, u64, String)> {
        let pid: u32 = tmux(&["display-message", "-p", "-t", "b", "#{pane_pid}"])?.parse()?;
        // Past the start (reading the header, the first draws), then one measured stretch.
        std::thread::sleep(std::time::Duration::from_secs(3));
        let (c0, t0) = (cpu_seconds(pid)?, std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_secs(seconds));
        let (c1, wall) = (cpu_seconds(pid)?, t0.elapsed().as_secs_f64());
        let screen = tmux(&["capture-pane", "-p", "-t", "b"])?;
        let rss = status_kib(pid, "VmHWM:").unwrap_or(0);
        Ok((c1 - c0, wall, rss, screen))
    })();
    let _ = tmux(&["kill-server"]);
    let _ = std::fs::remove_file(&file);
    let (cpu, wall, rss_kib, screen) = result?;
    let header = screen.lines().nth(1).unwrap_or("").to_owned();
    println!(
        "top --replay at {rate} events/s (speed {speed:.2} of a synthetic recording, 160x48 tmux): {:.2}% of one core over {wall:.1} s ({cpu:.2} s CPU), peak RSS {:.1} MiB; its header said: {}",
        100.0 * cpu / wall,
        rss_kib as f64 / 1024.0,
        header.trim()
    );
    Ok(0)
}

fn report(events: u64) -> Result<i32> {
    let root = util::root();
    build_release("bench-report")?;
    let bin = root.join("target/release/rtnlprof");
    banner("report")?;
    let file = util::work_dir().join("bench-report.rtnl");
    std::fs::create_dir_all(util::work_dir())?;
    util::exec(
        Command::new(root.join("target/release/examples/bench-report"))
            .arg(events.to_string())
            .arg(&file),
    )
    .context("running bench-report")?;
    model_instructions(&root.join("target/release/examples/bench-report"))?;
    build_release("bench-record")?;
    util::exec(Command::new(root.join("target/release/examples/bench-record")).arg("1000000"))
        .context("running bench-record")?;
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

/// Instructions per event in `Model::add` (callgrind): the figure that does not move with the
/// machine's load, unlike events per second.
fn model_instructions(bench: &std::path::Path) -> Result<()> {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("valgrind").is_file()));
    if !on_path {
        println!("model:  instructions per event not counted (valgrind not installed; cargo xtask setup installs it)");
        return Ok(());
    }
    const EVENTS: u64 = 500_000;
    let mut figures = Vec::new();
    for contended in [false, true] {
        let out_file = util::work_dir().join("bench-report.callgrind");
        let mut cmd = Command::new("valgrind");
        cmd.args(["--tool=callgrind", "--toggle-collect=*Model::add*"])
            .arg(format!("--callgrind-out-file={}", out_file.display()))
            .arg(bench)
            .args(["model-pass", &EVENTS.to_string()]);
        if contended {
            cmd.arg("contended");
        }
        let out = util::output(&mut cmd)?;
        let _ = std::fs::remove_file(&out_file);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let collected: u64 = stderr
            .lines()
            .find_map(|l| l.split("Collected :").nth(1))
            .and_then(|n| n.trim().parse().ok())
            .with_context(|| format!("no instruction count from callgrind:\n{stderr}"))?;
        figures.push(collected as f64 / EVENTS as f64);
    }
    println!(
        "model:  {:.0} instructions/event in Model::add, {:.0} with contention (callgrind, {EVENTS} events each)",
        figures[0], figures[1]
    );
    Ok(())
}

/// Wall time and peak resident memory (ru_maxrss of the child) of a command.
fn time_and_peak(cmd: &mut Command) -> Result<(f64, u64)> {
    let t = std::time::Instant::now();
    let child = cmd.stdout(std::process::Stdio::null()).spawn()?;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    anyhow::ensure!(pid > 0 && status == 0, "{cmd:?} failed (status {status})");
    Ok((t.elapsed().as_secs_f64(), usage.ru_maxrss as u64 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: &str, round: usize, secs: f64, busy: f64) -> serde_json::Value {
        serde_json::json!({
            "workload": "micro", "config": config, "round": round, "secs": secs,
            "busy_s": busy, "ok": true, "note": "",
        })
    }

    #[test]
    fn the_table_gives_ratios_to_untraced_and_the_share_of_klockstat() {
        let mut runs = Vec::new();
        for round in 0..3 {
            let d = round as f64 * 0.01;
            runs.push(run("untraced-a", round, 1.00 + d, 0.50 + d));
            runs.push(run("untraced-b", round, 1.01 + d, 0.50 + d));
            runs.push(run("klockstat", round, 1.20 + d, 0.60 + d));
            let mut r = run("rtnlprof-record", round, 1.05 + d, 0.55 + d);
            r["events"] = 1000.into();
            r["contended"] = 7.into();
            r["lost"] = 0.into();
            r["cpu_run_s"] = 0.02.into();
            r["rss_kib"] = 2048.into();
            runs.push(r);
        }
        let t = overhead_table(&runs);
        let row = |c: &str| {
            t.lines()
                .find(|l| l.starts_with(c))
                .unwrap_or_else(|| panic!("no {c} row in\n{t}"))
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        // CONFIG MEDIAN MIN RATIO MIN-R BUSY BUSY-R OK
        assert_eq!(
            row("untraced-a")[1..7],
            ["1.010", "1.000", "1.000", "1.000", "0.510", "1.000"]
        );
        assert_eq!(
            row("rtnlprof-record")[3..7],
            ["1.050", "1.050", "0.560", "1.098"]
        );
        assert_eq!(row("klockstat")[3], "1.198");
        assert!(t.contains("7 contended waits, 0 lost"), "{t}");
        assert!(t.contains("peak RSS 2.0 MiB"), "{t}");
        // (1.06 - 1.01) / (1.21 - 1.01) of the medians; (1.05 - 1.00) / (1.20 - 1.00) of the
        // minimums; (0.56 - 0.51) / (0.61 - 0.51) of busy time.
        assert!(
            t.contains("adds 25% of klockstat's added time (medians), 25% (minimums), 50% of its added busy CPU time"),
            "{t}"
        );
        // Rows follow the fixed order, not the order of the runs.
        let order: Vec<usize> = ["untraced-a", "untraced-b", "rtnlprof-record", "klockstat"]
            .iter()
            .map(|c| t.find(&format!("\n{c} ")).expect(c))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{t}");
    }
}
