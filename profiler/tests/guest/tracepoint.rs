//! The tracepoint mode in the guests, side by side with the full mode on one workload: the two
//! captures run at once, and what both can see must agree.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use serde_json::Value;

use crate::support::{rtnlprof, RTNLPROF, WORKLOAD};

/// `record --mode tracepoint` in the background, returned once its programs are attached.
fn start_tracepoint_record(out: &str) -> Child {
    let mut child = Command::new(RTNLPROF)
        .args(["record", "--mode", "tracepoint", "-o", out])
        // Learn rtnl_mutex from a wait's stack, as on kernels without the symbol.
        .env("RTNLPROF_LEARN_LOCK", "1")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rtnlprof record --mode tracepoint");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n = err.read_line(&mut line).unwrap();
        assert!(n > 0, "record --mode tracepoint ended before attaching");
        if line.contains("profiling RTNL") {
            assert!(line.contains("in tracepoint mode"), "{line}");
            break;
        }
    }
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    child
}

fn report(path: &str) -> Value {
    let out = rtnlprof(&["report", "--format", "json", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn msg_handlers(r: &Value) -> Vec<&Value> {
    r["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "msg")
        .collect()
}

pub fn kallsyms_rtnl_mutex() -> u64 {
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let line = text
        .lines()
        .find(|l| l.ends_with(" rtnl_mutex"))
        .expect("rtnl_mutex in the guest's kallsyms");
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

#[test]
fn tracepoint_mode_agrees_with_full_mode_on_contended_waits() {
    let (tp_file, full_file) = ("/tmp/side-tp.rtnl", "/tmp/side-full.rtnl");
    let mut tp = start_tracepoint_record(tp_file);
    // Concurrent dumpers and writers: contention on RTNL in requests and dump continuations.
    let script = format!(
        "{WORKLOAD} links:150 up:150 && \
         ({WORKLOAD} dumplinks:5 & {WORKLOAD} dumplinks:5 & {WORKLOAD} dumplinks:5 & \
          {WORKLOAD} addrs:150 & /usr/sbin/ip -d link show >/dev/null; wait) && \
         {WORKLOAD} dellinks:150"
    );
    let out = rtnlprof(&[
        "record", "--mode", "full", "-o", full_file, "--", "sh", "-c", &script,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(tp.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(tp.wait().unwrap().success());

    let full = report(full_file);
    let tp = report(tp_file);
    let kernel = full["kernel"].as_str().unwrap().to_owned();
    assert_eq!(full["capture_mode"], "fentry");
    assert_eq!(tp["capture_mode"], "tracepoint");
    // The address learned from a wait's stack is the one kallsyms has.
    assert_eq!(
        tp["kernel_stats"]["learned_rtnl_mutex"].as_u64(),
        Some(kallsyms_rtnl_mutex()),
        "{kernel}: {}",
        tp["kernel_stats"]
    );
    assert_eq!(tp["kernel_stats"]["lost_events"], 0);
    assert_eq!(full["kernel_stats"]["lost_events"], 0);
    // Every message type: the same requests and the same contended waits.
    let mut waits = 0;
    for f in msg_handlers(&full) {
        let name = f["handler"].as_str().unwrap();
        let t = msg_handlers(&tp)
            .into_iter()
            .find(|t| t["handler"] == name)
            .unwrap_or_else(|| panic!("{kernel}: {name} missing in tracepoint mode: {tp:#}"));
        assert_eq!(t["requests"], f["requests"], "{kernel}: {name} requests");
        assert_eq!(
            t["contended_waits"], f["contended_waits"],
            "{kernel}: {name} contended waits\nfull: {f}\ntracepoint: {t}"
        );
        waits += f["contended_waits"].as_u64().unwrap();
    }
    assert!(waits > 0, "{kernel}: no contention in the workload");
    // The tracepoint mode does not report what it cannot see.
    assert!(tp["handlers"][0].get("hold_ns").is_none());
    assert!(tp["unavailable"].as_array().unwrap().len() > 5);
    eprintln!("{kernel}: {waits} contended waits on message types, equal in both modes");
}

/// `check` in the guest: both modes start, and it says so; it is compared with starting them.
#[test]
fn check_says_both_modes_run_and_loading_agrees() {
    let out = rtnlprof(&["check", "--format", "json"]);
    assert!(out.status.success());
    let check: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check["mode"], "fentry", "{check:#}");
    for mode in ["full", "tracepoint"] {
        assert_eq!(check[mode]["ok"], true, "{mode}: {check:#}");
        let out = rtnlprof(&["record", "--mode", mode, "-o", "/dev/null", "--", "true"]);
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let items = check["items"].as_array().unwrap();
    for need in [
        "fentry",
        "rtnl_mutex address",
        "lock tracepoints",
        "kernel BTF",
    ] {
        let i = items.iter().find(|i| i["need"] == need).unwrap();
        assert_eq!(i["ok"], true, "{need}: {i}");
    }
}
