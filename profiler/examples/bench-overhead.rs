//! The guest side of `cargo xtask bench overhead`: times a workload untraced and under each
//! profiler, in rounds whose order rotates, and prints one `@@bench {json}` line per run.
//!
//! Usage (in the guest, as root): bench-overhead WORKLOADS ROUNDS [CONFIGS]
//!   WORKLOADS: comma-separated `micro` (ip -batch of `link show dev lo`, one RTNL acquisition
//!   each) and `realistic` (two writers, in addresses of their own, and a dumper, rtnl-workload).
//!
//! A profiler is started and ready (it says so, or a fixed settling time passes) before the
//! workload's clock starts, and stopped after it stops: only the cost to the workload is timed.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const CONFIGS: &[&str] = &[
    "untraced-a",
    "untraced-b",
    "rtnlprof-record",
    "rtnlprof-ring4k",
    "rtnlprof-top",
    "bpftrace",
    "klockstat",
    "perf-lock",
];

const MICRO_REQUESTS: usize = 20_000;
const REALISTIC_EACH: usize = 100;

fn sh(cmd: &str) -> std::process::Output {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .expect("sh runs")
}

fn rtnl_mutex() -> u64 {
    let text = std::fs::read_to_string("/proc/kallsyms").expect("kallsyms");
    text.lines()
        .find(|l| l.ends_with(" rtnl_mutex"))
        .and_then(|l| u64::from_str_radix(l.split(' ').next()?, 16).ok())
        .expect("rtnl_mutex in kallsyms")
}

const BPFTRACE: &str = r#"
kfunc:mutex_lock /(int64)args->lock == $1/ { @lock_start[tid] = nsecs; }
kretfunc:mutex_lock /@lock_start[tid]/ {
    @wait_ns = hist(nsecs - @lock_start[tid]); @held_since[tid] = nsecs; delete(@lock_start[tid]);
}
kretfunc:mutex_trylock /(int64)args->lock == $1 && retval/ { @held_since[tid] = nsecs; }
kfunc:mutex_unlock /(int64)args->lock == $1 && @held_since[tid]/ {
    @hold_ns[kstack(4)] = hist(nsecs - @held_since[tid]); delete(@held_since[tid]);
}
kfunc:rtnetlink_rcv_msg { @req_start[tid] = nsecs; }
kretfunc:rtnetlink_rcv_msg /@req_start[tid]/ {
    @request_ns = hist(nsecs - @req_start[tid]); delete(@req_start[tid]);
}
tracepoint:lock:contention_begin /(int64)args->lock_addr == $1/ { @contended = count(); }
"#;

fn workload(name: &str) -> Command {
    match name {
        "micro" => {
            let mut c = Command::new("/usr/sbin/ip");
            c.args(["-batch", "/tmp/micro.batch"]);
            c
        }
        "realistic" => {
            let n = REALISTIC_EACH;
            let steps = |p: &str, net: u8| {
                format!(
                    "rtnl-workload prefix={p} net={net} links:{n} up:{n} addrs:{n} routes:{n} \
                     getroutes:{n} neighs:{n} delneighs:{n} delroutes:{n} deladdrs:{n} dellinks:{n}"
                )
            };
            // Each part's status counts: a writer that stopped early would shrink the workload
            // without a word.
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!(
                "{} & a=$!; {} & b=$!; rtnl-workload dumplinks:{n} & c=$!; \
                 wait $a && wait $b && wait $c",
                steps("oa", 1),
                steps("ob", 3)
            ));
            c
        }
        other => panic!("unknown workload {other}"),
    }
}

/// Reads `child`'s stream until a line contains `mark` (or `secs` pass); the rest is drained on
/// a thread so the child never blocks on a full pipe.
fn wait_for_line<R: Read + Send + 'static>(stream: R, mark: &'static str, secs: u64) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = false;
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if !seen && line.contains(mark) {
                seen = true;
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(secs)).is_ok()
}

/// How many BPF programs are loaded (bpftool).
fn bpf_programs() -> usize {
    let out = Command::new("/usr/sbin/bpftool")
        .args(["prog", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .count()
}

/// Waits until more programs than `before` are loaded and their number has held for 2 s.
fn wait_for_programs(before: usize, secs: u64) -> bool {
    let t = Instant::now();
    let mut last = (before, Instant::now());
    while t.elapsed() < Duration::from_secs(secs) {
        let n = bpf_programs();
        if n != last.0 {
            last = (n, Instant::now());
        } else if n > before && last.1.elapsed() >= Duration::from_secs(2) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}

fn not_ready(ready: bool) -> String {
    if ready {
        String::new()
    } else {
        "not ready".into()
    }
}

fn interrupt(child: &Child) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
}

/// Waits for a child; (CPU seconds, peak RSS KiB).
fn reap(child: Child) -> (f64, u64) {
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    let cpu = ru.ru_utime.tv_sec as f64
        + ru.ru_utime.tv_usec as f64 / 1e6
        + ru.ru_stime.tv_sec as f64
        + ru.ru_stime.tv_usec as f64 / 1e6;
    (cpu, ru.ru_maxrss as u64)
}

fn proc_cpu_rss(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |r| r.1)
        .split_whitespace()
        .collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (ticks / hz.max(1.0), rss)
}

struct Run {
    secs: f64,
    /// CPU time all tasks ran in the run's window (see `timed`).
    busy_s: f64,
    ok: bool,
    note: String,
    /// The whole process (start included).
    cpu_s: Option<f64>,
    /// While the workload ran (and 300 ms (record) or 600 ms (top) after, to take in the rest).
    cpu_run_s: Option<f64>,
    rss_kib: Option<u64>,
    events: Option<u64>,
    /// Contended waits rtnlprof saw (what the workload contains).
    contended: Option<u64>,
    lost: Option<u64>,
}

/// CPU time all tasks on all CPUs have run (ns), from /proc/schedstat: each CPU's line carries
/// the time its tasks ran (the idle task not counted), kept by the scheduler's clock.
fn busy_ns() -> u64 {
    std::fs::read_to_string("/proc/schedstat")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("cpu"))
        .filter_map(|l| l.split_whitespace().nth(7)?.parse::<u64>().ok())
        .sum()
}

/// After the workload, the window of busy CPU time stays open this long: what a profiler does
/// with the records the workload left (and a tool's teardown does not start before it ends).
const AFTER: Duration = Duration::from_millis(500);

/// Before the workload, the machine settles this long: the previous run's teardown ends.
const SETTLE: Duration = Duration::from_millis(1000);

/// One timed run of a workload (after SETTLE): its wall time, whether it succeeded, and the CPU
/// time every task on the machine ran from its start until AFTER its end.
fn timed(name: &str) -> (f64, bool, f64) {
    let b0 = busy_ns();
    let t = Instant::now();
    let out = workload(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("workload runs");
    let secs = t.elapsed().as_secs_f64();
    std::thread::sleep(AFTER);
    (secs, out.success(), (busy_ns() - b0) as f64 / 1e9)
}

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("/usr/bin/tmux")
        .args(["-u", "-L", "bench", "-f", "/dev/null"])
        .args(args)
        .env("TERM", "xterm-256color")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("tmux")
}

/// The workload under a BPF tool: started, ready once its programs are loaded (its own "ready"
/// lines sit in a pipe's buffer until it exits), stopped with SIGINT after the workload.
fn under_tool(mut cmd: Command, name: &str, ready_secs: u64) -> Run {
    let before = bpf_programs();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tool starts");
    let err = child.stderr.take().unwrap();
    // Drained on a thread (the tool prints its maps at exit).
    wait_for_line(child.stdout.take().unwrap(), "never printed", 0);
    let ready = wait_for_programs(before, ready_secs);
    std::thread::sleep(SETTLE);
    let (secs, ok, busy_s) = timed(name);
    interrupt(&child);
    let mut msg = String::new();
    let _ = BufReader::new(err).read_to_string(&mut msg);
    reap(child);
    Run {
        secs,
        busy_s,
        ok: ok && ready,
        note: if ready {
            String::new()
        } else {
            format!("not ready: {}", msg.lines().next().unwrap_or(""))
        },
        cpu_s: None,
        cpu_run_s: None,
        rss_kib: None,
        events: None,
        contended: None,
        lost: None,
    }
}

fn run(config: &str, name: &str, lock: u64) -> Run {
    let plain = |(secs, ok, busy_s): (f64, bool, f64)| Run {
        secs,
        busy_s,
        ok,
        note: String::new(),
        cpu_s: None,
        cpu_run_s: None,
        rss_kib: None,
        events: None,
        contended: None,
        lost: None,
    };
    match config {
        "untraced-a" | "untraced-b" => {
            std::thread::sleep(SETTLE);
            plain(timed(name))
        }
        // rtnlprof-ring4k (a diagnostic, not in xtask's default list): a ring of one page takes
        // almost nothing, so userspace has almost nothing to do: the probes' cost alone.
        "rtnlprof-record" | "rtnlprof-ring4k" => {
            let ring: &[&str] = if config == "rtnlprof-ring4k" {
                &["--ring-bytes", "4096"]
            } else {
                &[]
            };
            let mut child = Command::new("/usr/bin/rtnlprof")
                .args(["record", "-o", "/tmp/bench.rtnl"])
                .args(ring)
                .stderr(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .expect("rtnlprof");
            let ready = wait_for_line(child.stderr.take().unwrap(), "profiling RTNL", 120);
            std::thread::sleep(SETTLE);
            // CPU time spent starting (BTF, loading, attaching), before the workload's clock.
            let (cpu_start, _) = proc_cpu_rss(child.id());
            let t = timed(name);
            let ok = t.1;
            // Its CPU time while the workload ran, and the reads of what it left in the ring
            // (read every 100 ms, within AFTER), before the teardown (detaching costs system
            // time, untimed).
            let (cpu_run, _) = proc_cpu_rss(child.id());
            interrupt(&child);
            let (cpu, rss) = reap(child);
            let report = Command::new("/usr/bin/rtnlprof")
                .args(["report", "--format", "json", "/tmp/bench.rtnl"])
                .output()
                .expect("report");
            let v: serde_json::Value =
                serde_json::from_slice(&report.stdout).unwrap_or(serde_json::Value::Null);
            let totals = &v["totals"];
            let events = totals["requests"].as_u64().unwrap_or(0)
                + totals["holds"].as_u64().unwrap_or(0)
                + totals["trylock_failed"].as_u64().unwrap_or(0);
            Run {
                ok: ok && ready,
                note: not_ready(ready),
                cpu_s: Some(cpu),
                cpu_run_s: Some(cpu_run - cpu_start),
                rss_kib: Some(rss),
                events: Some(events),
                contended: totals["contended_waits"].as_u64(),
                lost: v["kernel_stats"]["lost_events"].as_u64(),
                ..plain(t)
            }
        }
        "rtnlprof-top" => {
            tmux(&[
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "48",
                "-s",
                "b",
                "exec /usr/bin/rtnlprof top",
            ]);
            let pid: u32 = String::from_utf8_lossy(
                &tmux(&["display-message", "-p", "-t", "b", "#{pane_pid}"]).stdout,
            )
            .trim()
            .parse()
            .unwrap_or(0);
            let t0 = Instant::now();
            let mut ready = false;
            while t0.elapsed() < Duration::from_secs(120) {
                let screen =
                    String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "b"]).stdout)
                        .into_owned();
                if screen.contains("│ live │") {
                    ready = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            std::thread::sleep(SETTLE);
            let (cpu0, _) = proc_cpu_rss(pid);
            let t = timed(name);
            let ok = t.1;
            let (cpu1, rss) = proc_cpu_rss(pid);
            tmux(&["send-keys", "-t", "b", "q"]);
            let t1 = Instant::now();
            while tmux(&["has-session", "-t", "b"]).status.success()
                && t1.elapsed() < Duration::from_secs(30)
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            tmux(&["kill-server"]);
            Run {
                ok: ok && ready,
                note: not_ready(ready),
                cpu_s: None,
                cpu_run_s: Some(cpu1 - cpu0),
                rss_kib: Some(rss),
                ..plain(t)
            }
        }
        "bpftrace" => {
            std::fs::write("/tmp/rtnl.bt", BPFTRACE).expect("script");
            let mut c = Command::new("/usr/bin/bpftrace");
            // After `--`, so the negative number is not taken for an option; bpftrace 0.17 reads
            // positional numbers as signed 64-bit.
            c.args(["--", "/tmp/rtnl.bt"])
                .arg((lock as i64).to_string());
            under_tool(c, name, 240)
        }
        "klockstat" => {
            let mut c = Command::new("/usr/sbin/klockstat");
            c.args(["-L", "rtnl_mutex"]);
            under_tool(c, name, 120)
        }
        "perf-lock" => {
            let child = Command::new("/usr/bin/perf")
                .args(["lock", "record", "-a", "-o", "/tmp/perf.data"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("perf");
            // perf says nothing when it is ready: give it a fixed time.
            std::thread::sleep(Duration::from_secs(5));
            let t = timed(name);
            interrupt(&child);
            reap(child);
            Run {
                note: "settled 5 s".into(),
                ..plain(t)
            }
        }
        other => panic!("unknown configuration {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let workloads: Vec<&str> = args
        .get(1)
        .map_or("micro,realistic", |s| s)
        .split(',')
        .collect();
    let rounds: usize = args.get(2).map_or(7, |s| s.parse().expect("ROUNDS"));
    // A subset of the configurations (comma-separated), e.g. to measure one change quickly.
    let configs: Vec<&str> = match args.get(3) {
        Some(list) => list
            .split(',')
            .map(|c| {
                *CONFIGS
                    .iter()
                    .find(|k| **k == c)
                    .unwrap_or_else(|| panic!("unknown configuration {c} (known: {CONFIGS:?})"))
            })
            .collect(),
        None => CONFIGS.to_vec(),
    };
    let lock = rtnl_mutex();
    let batch: String = (0..MICRO_REQUESTS).map(|_| "link show dev lo\n").collect();
    std::fs::write("/tmp/micro.batch", batch).expect("batch file");
    let _ = sh("ip link set lo up");
    for w in workloads {
        // One warm-up run, untimed.
        let _ = timed(w);
        for round in 0..rounds {
            // Rotate the order so no configuration always runs first or after the same one.
            for k in 0..configs.len() {
                let config = configs[(k + round) % configs.len()];
                let r = run(config, w, lock);
                println!(
                    "@@bench {}",
                    serde_json::json!({
                        "workload": w, "config": config, "round": round, "secs": r.secs, "busy_s": r.busy_s,
                        "ok": r.ok, "note": r.note, "cpu_s": r.cpu_s, "cpu_run_s": r.cpu_run_s,
                        "rss_kib": r.rss_kib,
                        "events": r.events, "contended": r.contended, "lost": r.lost,
                    })
                );
            }
        }
    }
}
