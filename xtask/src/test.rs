//! `cargo xtask test`: fmt, clippy, the host's unit tests, then the integration tests inside the
//! QEMU guests on every kernel series. Ends with one line: `test: N passed, N failed`.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result};

use crate::{build, setup, util, vm};

#[derive(clap::Args)]
pub struct Options {
    /// Kernel series for the guest tests: 6.1, 6.12 or all.
    #[arg(long, default_value = "all")]
    pub kernel: String,
    /// Only guest tests whose name contains this.
    #[arg(long)]
    pub filter: Option<String>,
    /// Seconds before a guest that has not finished is killed.
    #[arg(long, default_value_t = 1200)]
    pub timeout: u64,
}

#[derive(Default, Debug, PartialEq, Eq)]
struct Tally {
    passed: u64,
    failed: u64,
    runs: u64,
}

impl Tally {
    /// Adds a libtest summary line: `test result: ok. 5 passed; 0 failed; ...`.
    fn line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        let num = |word: &str| -> u64 {
            rest.split(';')
                .find_map(|part| {
                    let part = part
                        .trim()
                        .trim_start_matches("ok. ")
                        .trim_start_matches("FAILED. ");
                    part.strip_suffix(word)?.trim().parse().ok()
                })
                .unwrap_or(0)
        };
        self.passed += num("passed");
        self.failed += num("failed");
        self.runs += 1;
    }
}

/// Runs a command, echoing its stdout and tallying libtest summaries; returns its success.
fn run_tallied(cmd: &mut Command, prefix: &str, tally: &mut Tally) -> Result<bool> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("spawning cargo")?;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line?;
        println!("{prefix}{line}");
        tally.line(&line);
    }
    Ok(child.wait()?.success())
}

/// The guest test that records ten pairs of runs for `rtnlprof diff` (run on 6.12 only).
pub const DIFF_PAIRS_TEST: &str =
    "diff::same_workload_passes_and_a_competing_holder_fails_ten_times_each";

/// The guest test that records a workload and exports the recording with what it sent.
pub const ROUNDTRIP_TEST: &str =
    "record::record_then_report_gives_the_workloads_counts_and_exports_it";

/// Reports on the host on the recording the guest exported: per message type, the requests must
/// be what the workload sent.
fn roundtrip(k: &crate::kernel::Kernel, rtnlprof: &std::path::Path) -> Result<()> {
    let dir = vm::exports_dir(k);
    let (rec, sent) = (dir.join("roundtrip.rtnl"), dir.join("roundtrip.sent.json"));
    let sent: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&sent)
            .with_context(|| format!("the guest exported no {}", sent.display()))?,
    )?;
    let out = util::output(
        Command::new(rtnlprof)
            .args(["report", "--format", "json"])
            .arg(&rec),
    )?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let handlers = report["handlers"].as_array().cloned().unwrap_or_default();
    let mut checked = 0;
    for s in sent["sent"].as_array().cloned().unwrap_or_default() {
        let row = handlers.iter().find(|h| {
            h["kind"] == "msg"
                && h["family"] == s["family"]
                && h["nlmsg_type"] == s["type"]
                && h["dump"] == s["dump"]
        });
        let got = row.and_then(|r| r["requests"].as_u64());
        anyhow::ensure!(
            got == s["count"].as_u64(),
            "{s}: the host's report says {got:?} requests"
        );
        checked += 1;
    }
    anyhow::ensure!(checked > 0, "the workload sent nothing");
    Ok(())
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(util::root());
    c
}

/// Clippy on the eBPF crate for `bpfel-unknown-none`, with the toolchain and flags
/// profiler/build.rs builds it with: Debian's rustc (RTNLPROF_BPF_RUSTC), whose precompiled BPF
/// `core` needs RUSTC_BOOTSTRAP, Debian's cargo (RTNLPROF_BPF_CARGO) and Debian's clippy of the
/// same release (RTNLPROF_BPF_CLIPPY, package rust-web-clippy). Its `cargo-clippy` is run
/// directly: `cargo clippy` would find rustup's in ~/.cargo/bin first, whose compiler has no BPF
/// `core`.
fn bpf_clippy() -> Command {
    let tool = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.into());
    let mut c = Command::new(tool("RTNLPROF_BPF_CLIPPY", "/usr/bin/cargo-clippy"));
    c.current_dir(util::root().join("profiler-ebpf"));
    // The outer cargo's variables describe the host build (as in build.rs).
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_") || key.starts_with("RUSTC") || key == "RUSTFLAGS" {
            c.env_remove(&key);
        }
    }
    c.args(["clippy", "--release", "--target", "bpfel-unknown-none"])
        .arg("--target-dir")
        .arg(util::root().join("target/bpf-clippy"))
        .args(["--", "-D", "warnings"])
        .env("CARGO", tool("RTNLPROF_BPF_CARGO", "/usr/bin/cargo"))
        .env("RUSTC", tool("RTNLPROF_BPF_RUSTC", "/usr/bin/rustc"))
        .env("RUSTC_BOOTSTRAP", "1")
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            ["-Cdebuginfo=2", "-Clink-arg=--btf"].join("\x1f"),
        );
    c
}

pub fn run(o: &Options) -> Result<i32> {
    let t0 = Instant::now();
    setup::ensure()?;
    let step = |name: &str| eprintln!("== {name} ({:.0} s)", t0.elapsed().as_secs_f64());

    // --all: every workspace member, the eBPF crate too (not a default member).
    step("cargo fmt --check");
    util::exec(cargo().args(["fmt", "--all", "--check"]))?;
    step("cargo clippy --all-targets -- -D warnings");
    util::exec(cargo().args(["clippy", "--all-targets", "--", "-D", "warnings"]))?;
    util::exec(cargo().args([
        "clippy",
        "--package",
        "rtnlprof",
        "--test",
        "guest",
        "--",
        "-D",
        "warnings",
    ]))?;
    step("cargo clippy on the eBPF crate (bpfel-unknown-none) -- -D warnings");
    util::exec(&mut bpf_clippy())?;

    let mut total = Tally::default();
    let mut broken: Vec<String> = Vec::new();
    step("unit tests (host)");
    if !run_tallied(cargo().arg("test"), "", &mut total)? {
        broken.push("host unit tests".into());
    }

    step("building the guest binaries");
    let mut bins = build::guest_binaries(true)?;
    // The blame test's independent record of every hold and wait (with its ldd libraries).
    bins.extra
        .push(("/usr/bin/bpftrace".into(), "/usr/bin/bpftrace".into()));
    let mut cmd = vec![
        "/usr/bin/rtnlprof-guest-tests".to_owned(),
        "--test-threads=1".to_owned(),
    ];
    if let Some(f) = &o.filter {
        cmd.push(f.clone());
    }
    for k in vm::kernels(&o.kernel)? {
        // The ten-pairs diff test records 30 runs: once, on 6.12, keeps CI short.
        let mut cmd = cmd.clone();
        if k.series != "6.12" {
            cmd.extend(["--skip".to_owned(), DIFF_PAIRS_TEST.to_owned()]);
        }
        let cmd = vm::shell_join(&cmd);
        step(&format!(
            "integration tests in the {} guest ({})",
            k.series, k.release
        ));
        let mut tally = Tally::default();
        let prefix = format!("[{}] ", k.series);
        let result = vm::boot(
            &k,
            &bins,
            &cmd,
            o.timeout,
            &vm::Machine::default(),
            &mut |line| {
                println!("{prefix}{line}");
                tally.line(line);
            },
        );
        match result {
            Ok(0) if tally.runs > 0 => {}
            Ok(0) => broken.push(format!("{}: the guest tests printed no summary", k.series)),
            Ok(code) => broken.push(format!("{}: guest tests exited with {code}", k.series)),
            Err(e) => broken.push(format!("{}: {e:#}", k.series)),
        }
        total.passed += tally.passed;
        total.failed += tally.failed;
        if o.filter
            .as_deref()
            .is_none_or(|f| ROUNDTRIP_TEST.contains(f))
        {
            match roundtrip(&k, &bins.rtnlprof) {
                Ok(()) => {
                    println!(
                        "test roundtrip::{} (recorded in the guest, reported on the host) ... ok",
                        k.series
                    );
                    total.passed += 1;
                }
                Err(e) => {
                    println!("test roundtrip::{} ... FAILED: {e:#}", k.series);
                    total.failed += 1;
                }
            }
        }
    }
    eprintln!("== done in {:.0} s", t0.elapsed().as_secs_f64());
    for b in &broken {
        eprintln!("FAILED: {b}");
    }
    println!("test: {} passed, {} failed", total.passed, total.failed);
    Ok(if broken.is_empty() && total.failed == 0 {
        0
    } else {
        1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_libtest_summaries() {
        let mut t = Tally::default();
        t.line("test result: ok. 5 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s");
        t.line("[6.1] not a summary");
        t.line("test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        assert_eq!(
            t,
            Tally {
                passed: 7,
                failed: 1,
                runs: 2
            }
        );
    }
}
