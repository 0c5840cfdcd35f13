//! The tracepoint capture mode on this project's host kernel, which refuses fentry and has no
//! `rtnl_mutex` in /proc/kallsyms: `record --mode auto` falls back to it, RTNL is recognised from
//! the stack of a wait, contended waits are attributed to message types and tasks, and the
//! report says what it cannot measure. `check` is compared with what starting each mode does.
//! These tests need root (as CI runs them); the guests run the same mode beside the full one.

#[path = "common/cli.rs"]
#[allow(dead_code)]
mod cli;
#[path = "common/gate.rs"]
#[allow(dead_code)]
mod gate;

use std::process::Command;

use cli::rtnlprof;
use serde_json::Value;

const WRITERS: usize = 4;
/// The captures here are host-wide: tests that count what their workload sent run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
const ROUNDS: usize = 100;
const DUMPERS: usize = 3;

/// Concurrent rtnetlink writers (address add/del on bridges) and dumpers (link and address
/// dumps), in a network namespace of the script's own. Bridges are what this host can create.
fn workload() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("rtnlprof-tp-load-{}.sh", std::process::id()));
    let script = format!(
        r#"#!/bin/bash
set -e
ns=rtnlprof-tp-$$
ip netns add $ns
trap 'ip netns del $ns' EXIT
for w in $(seq 1 {WRITERS}); do ip -n $ns link add br$w type bridge; ip -n $ns link set br$w up; done
for w in $(seq 1 {WRITERS}); do
  ( for i in $(seq 1 {ROUNDS}); do
      ip -n $ns addr add 10.$w.$((i % 250)).1/24 dev br$w
      ip -n $ns addr del 10.$w.$((i % 250)).1/24 dev br$w
    done ) &
done
for d in $(seq 1 {DUMPERS}); do
  ( for i in $(seq 1 {ROUNDS}); do ip -n $ns -d link show >/dev/null; ip -n $ns addr show >/dev/null; done ) &
done
wait
"#
    );
    std::fs::write(&path, script).unwrap();
    path
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn check() -> Value {
    let out = rtnlprof(&["check", "--format", "json"]);
    json(&out)
}

fn handler<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["handler"] == name)
}

#[test]
fn auto_falls_back_to_tracepoints_and_attributes_contended_waits() {
    if !gate::root("auto_falls_back_to_tracepoints_and_attributes_contended_waits") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let check = check();
    let full_runs = check["full"]["ok"].as_bool().unwrap();
    assert!(
        check["tracepoint"]["ok"].as_bool().unwrap(),
        "the tracepoint mode must run on this host: {check:#}"
    );
    let load = workload();
    let rec = std::env::temp_dir().join(format!("rtnlprof-tp-{}.rtnl", std::process::id()));
    let rec = rec.to_str().unwrap();
    // auto on this host; where the full mode runs, ask for the tracepoint mode by name.
    let mode = if full_runs { "tracepoint" } else { "auto" };
    let out = Command::new(env!("CARGO_BIN_EXE_rtnlprof"))
        .args(["record", "--mode", mode, "-o", rec, "--", "bash"])
        .arg(&load)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    if !full_runs {
        // Said once, with the kernel's reason: the same one check gave.
        assert_eq!(
            err.matches("capturing from tracepoints").count(),
            1,
            "{err}"
        );
        let why = check["full"]["detail"].as_str().unwrap();
        assert!(err.contains(why), "{err} / {why}");
    }
    assert!(err.contains("in tracepoint mode"), "{err}");

    let report = json(&rtnlprof(&["report", "--format", "json", rec]));
    assert_eq!(report["capture_mode"], "tracepoint", "{report:#}");
    if !full_runs {
        assert!(report["capture_fallback"].is_string(), "{report:#}");
    }
    let k = &report["kernel_stats"];
    assert_ne!(k["learned_rtnl_mutex"], 0, "rtnl_mutex learned: {k}");
    assert_eq!(k["lost_events"], 0, "{k}");
    // Requests, exactly: one RTM_NEWADDR and one RTM_DELADDR per round and writer.
    let n = (WRITERS * ROUNDS) as u64;
    for ty in ["AF_INET RTM_NEWADDR", "AF_INET RTM_DELADDR"] {
        let h = handler(&report, ty).unwrap_or_else(|| panic!("no {ty}: {report:#}"));
        assert_eq!(h["requests"], n, "{ty}: {h:#}");
    }
    for ty in ["AF_PACKET RTM_GETLINK dump", "AF_UNSPEC RTM_GETADDR dump"] {
        let h = handler(&report, ty).unwrap_or_else(|| panic!("no {ty}: {report:#}"));
        assert_eq!(h["requests"], (DUMPERS * ROUNDS) as u64, "{ty}: {h:#}");
    }
    // Contended waits, attributed to message types (not only to kernel callers) and to tasks.
    let total = report["totals"]["contended_waits"].as_u64().unwrap();
    assert!(total > 0, "no contended wait seen: {report:#}");
    let by_msg: u64 = report["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "msg")
        .map(|h| h["contended_waits"].as_u64().unwrap())
        .sum();
    assert!(
        by_msg > 0,
        "no wait attributed to a message type: {report:#}"
    );
    let ip_waited = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["comm"] == "ip" && t["wait_ns"].as_u64().unwrap() > 0);
    assert!(ip_waited, "no ip task waited: {:#}", report["tasks"]);
    // Every wait the kernel emitted on RTNL was read.
    assert_eq!(k["acquisitions"], total, "{k}");
    // What the mode cannot measure is listed, not shown as zeros.
    let unavailable: Vec<&str> = report["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for f in [
        "hold",
        "hold_ns",
        "holds",
        "candidates",
        "utilization",
        "blame",
    ] {
        assert!(unavailable.contains(&f), "{f} in {unavailable:?}");
    }
    let h = handler(&report, "AF_INET RTM_NEWADDR").unwrap();
    assert!(
        h.get("hold_ns").is_none() && h.get("hold").is_none(),
        "{h:#}"
    );
    assert!(report.get("candidates").is_none());

    let text = rtnlprof(&["report", rec]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("in tracepoint mode"), "{text}");
    assert!(text.contains("not measured in this mode"), "{text}");
    assert!(text.contains("Wait times (contended waits)"), "{text}");
    let newaddr = text
        .lines()
        .find(|l| l.starts_with("AF_INET RTM_NEWADDR"))
        .unwrap();
    assert!(newaddr.contains("n/a"), "{newaddr}");
    assert!(
        !text.contains("Candidates for running without RTNL"),
        "{text}"
    );
    let _ = std::fs::remove_file(rec);
    let _ = std::fs::remove_file(&load);
}

/// `check` says what starting each mode does: compared with starting it.
#[test]
fn check_tells_the_truth_about_each_mode() {
    if !gate::root("check_tells_the_truth_about_each_mode") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let check = check();
    for (mode, key) in [("full", "full"), ("tracepoint", "tracepoint")] {
        let out = rtnlprof(&["record", "--mode", mode, "-o", "/dev/null", "--", "true"]);
        let err = String::from_utf8_lossy(&out.stderr);
        let ok = check[key]["ok"].as_bool().unwrap();
        assert_eq!(
            out.status.success(),
            ok,
            "{mode}: check says {check:#}, record says {err}"
        );
        if !ok {
            let why = check[key]["detail"].as_str().unwrap();
            assert!(err.contains(why), "{mode}: {err} / {why}");
        }
    }
    let mode = &check["mode"];
    if check["full"]["ok"] == true {
        assert_eq!(mode, "fentry");
    } else {
        assert_eq!(mode, "tracepoint");
    }
    // What this host is: trampolines refused, no rtnl_mutex symbol, tracepoints there.
    let items = check["items"].as_array().unwrap();
    let item = |need: &str| {
        items
            .iter()
            .find(|i| i["need"] == need)
            .unwrap_or_else(|| panic!("no {need}: {check:#}"))
    };
    for need in ["lock tracepoints", "syscall tracepoints", "root"] {
        assert_eq!(item(need)["ok"], true, "{need}: {check:#}");
    }
    assert_eq!(item("fentry")["ok"], check["full"]["ok"], "{check:#}");
}

/// Neither mode: kallsyms without rtnl_mutex nor any RTNL taker (a copy standing in for such a
/// kernel) — one line, exit 2, from `record` and `check` alike.
#[test]
fn a_kernel_with_neither_mode_is_one_line_and_exit_2() {
    if !gate::root("a_kernel_with_neither_mode_is_one_line_and_exit_2") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("rtnlprof-neither-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let syms = dir.join("kallsyms");
    let all = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let kept: String = all
        .lines()
        .filter(|l| !l.contains("rtnl") && !l.contains("rtnetlink"))
        .flat_map(|l| [l, "\n"])
        .collect();
    std::fs::write(&syms, kept).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rtnlprof"))
            .args(args)
            .env("RTNLPROF_KALLSYMS", &syms)
            .output()
            .unwrap()
    };
    let out = run(&["record", "-o", "/dev/null", "--", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no capture mode runs on this kernel"), "{err}");
    assert!(
        err.contains("rtnl_mutex") && err.contains("rtnl_lock"),
        "{err}"
    );
    let out = run(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("capture mode: none"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Address writers and link dumpers in a namespace of their own (as [`workload`]); with `holder`, a task
/// beside them that creates and deletes bridges (RTNL held across grace periods) all along.
fn diff_workload(tag: &str, holder: bool) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("rtnlprof-tp-diff-{tag}-{}.sh", std::process::id()));
    let competitor = if holder {
        "( while [ ! -e $done ]; do ip -n $ns link add brx type bridge; ip -n $ns link del brx; done ) &"
    } else {
        ""
    };
    let script = format!(
        r#"#!/bin/bash
set -e
ns=rtnlprof-tpd-$$
done=/tmp/rtnlprof-tpd-done-$$
ip netns add $ns
trap 'ip netns del $ns; rm -f $done' EXIT
for w in $(seq 1 {WRITERS}); do ip -n $ns link add br$w type bridge; ip -n $ns link set br$w up; done
{competitor}
pids=
for d in $(seq 1 {DUMPERS}); do
  ( for i in $(seq 1 {ROUNDS}); do ip -n $ns -d link show >/dev/null; done ) &
  pids="$pids $!"
done
for w in $(seq 1 {WRITERS}); do
  ( for i in $(seq 1 {ROUNDS}); do
      ip -n $ns addr add 10.$w.$((i % 250)).1/24 dev br$w
      ip -n $ns addr del 10.$w.$((i % 250)).1/24 dev br$w
    done ) &
  pids="$pids $!"
done
wait $pids
touch $done
wait
"#
    );
    std::fs::write(&path, script).unwrap();
    path
}

/// Records `workload` in the tracepoint mode; returns the recording and its JSON report.
fn tp_record(tag: &str, workload: &std::path::Path) -> (String, String) {
    let dir = std::env::temp_dir();
    let rec = dir.join(format!("rtnlprof-tpd-{tag}-{}.rtnl", std::process::id()));
    let rec = rec.to_str().unwrap().to_owned();
    let out = Command::new(env!("CARGO_BIN_EXE_rtnlprof"))
        .args(["record", "--mode", "tracepoint", "-o", &rec, "--", "bash"])
        .arg(workload)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = rtnlprof(&["report", "--format", "json", &rec]);
    assert!(report.status.success());
    let json = dir.join(format!("rtnlprof-tpd-{tag}-{}.json", std::process::id()));
    std::fs::write(&json, &report.stdout).unwrap();
    (rec, json.to_str().unwrap().to_owned())
}

/// `diff` of real tracepoint-mode recordings, and of their JSON reports (which have no hold
/// figures): the same workload twice passes, a competing RTNL holder is a regression.
#[test]
fn diff_of_tracepoint_recordings_and_of_their_reports() {
    if !gate::root("diff_of_tracepoint_recordings_and_of_their_reports") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (quiet, busy) = (diff_workload("quiet", false), diff_workload("busy", true));
    let a = tp_record("a", &quiet);
    let b = tp_record("b", &quiet);
    let c = tp_record("c", &busy);
    let diff = |x: &str, y: &str| {
        let out = rtnlprof(&["diff", x, y]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "diff {x} {y}: exit {:?}; {}",
            out.status.code(),
            text.lines()
                .filter(|l| l.contains("REGRESSION") || l.starts_with("OK"))
                .collect::<Vec<_>>()
                .join(" / ")
        );
        (out.status.code(), text)
    };
    for (x, y) in [(&a.0, &b.0), (&a.1, &b.1), (&a.0, &b.1), (&a.1, &b.0)] {
        let (code, text) = diff(x, y);
        assert_eq!(code, Some(0), "{x} vs {y}:\n{text}");
    }
    for (x, y) in [(&a.0, &c.0), (&a.1, &c.1)] {
        let (code, text) = diff(x, y);
        assert_eq!(code, Some(1), "{x} vs {y} (a competing holder):\n{text}");
        assert!(text.contains("wait."), "{text}");
    }
    for f in [&a.0, &a.1, &b.0, &b.1, &c.0, &c.1] {
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_file(&quiet);
    let _ = std::fs::remove_file(&busy);
}
