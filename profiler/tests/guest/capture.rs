//! The capture's numbers against workloads whose requests are known exactly (issue: capture).

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use crate::support::{self, sent, sh, stat_json, Stat, RTNLPROF, WORKLOAD};

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_GETROUTE: u16 = 26;

/// Locked doit types hold RTNL exactly once per request; RTM_GETROUTE (IPv4) runs without it.
#[test]
fn doit_types_hold_rtnl_once_per_request_and_getroute_never() {
    let n = 20;
    let steps: Vec<String> = [
        "links",
        "up",
        "addrs",
        "routes",
        "getroutes",
        "neighs",
        "delneighs",
        "delroutes",
        "deladdrs",
        "dellinks",
    ]
    .iter()
    .map(|s| format!("{s}:{n}"))
    .collect();
    let mut cmd = vec![WORKLOAD];
    cmd.extend(steps.iter().map(String::as_str));
    let (w, stat) = stat_json(&[], &cmd);
    let kernel = stat.kernel();
    for s in &w[0].sent {
        let h = stat.handler(s.family, s.r#type, s.dump);
        let (requests, holds, locked) = (
            Stat::u(&h, "requests"),
            Stat::u(&h, "holds"),
            Stat::u(&h, "requests_locked"),
        );
        assert_eq!(requests, s.count, "{kernel}: requests of {}", h["handler"]);
        if s.r#type == RTM_GETROUTE {
            assert_eq!(
                (holds, locked),
                (0, 0),
                "{kernel}: RTM_GETROUTE took RTNL: {h}"
            );
        } else {
            assert_eq!(holds, s.count, "{kernel}: holds of {}", h["handler"]);
            assert_eq!(
                locked, s.count,
                "{kernel}: locked requests of {}",
                h["handler"]
            );
        }
    }
    // Nothing else sent rtnetlink requests in the guest.
    let sent_total: u64 = w[0].sent.iter().map(|s| s.count).sum();
    assert_eq!(Stat::u(stat.totals(), "requests"), sent_total);
    assert_eq!(stat.kstat("lost_events"), 0);
    assert_eq!(stat.kstat("recursion_misses"), 0);
    assert_eq!(stat.0["decode_errors"], 0);
    stat.assert_conserved();
    // Hold time is a part of the run's wall time.
    assert!(Stat::u(stat.totals(), "hold_ns") <= Stat::u(&stat.0, "wall_ns"));
}

/// Dumps over hundreds of links while writers run: continuations go to RTM_GETLINK, and every
/// contended wait is one the kernel's contention tracepoint saw.
#[test]
fn concurrent_dumps_continue_under_getlink_and_contention_is_counted() {
    let script = format!(
        "{WORKLOAD} links:250 up:250 && \
         ({WORKLOAD} dumplinks:6 & {WORKLOAD} dumplinks:6 & {WORKLOAD} dumplinks:6 & \
          {WORKLOAD} addrs:250 & /usr/sbin/ip -d link show >/dev/null; wait) && \
         {WORKLOAD} dellinks:250"
    );
    let (w, stat) = stat_json(&[], &["sh", "-c", &script]);
    let kernel = stat.kernel();
    let dumps = sent(&w, 0, RTM_GETLINK);
    assert_eq!(dumps, 18);
    let d = stat.handler(0, RTM_GETLINK, true);
    assert_eq!(
        Stat::u(&d, "requests"),
        dumps,
        "{kernel}: every dump request is seen: {d}"
    );
    assert!(
        Stat::u(&d, "continuation_holds") > 0,
        "{kernel}: dumps of 250 links continue from recvmsg: {d}"
    );
    assert!(Stat::u(&d, "holds") > dumps, "{kernel}: {d}");
    for ty in [RTM_NEWLINK, RTM_DELLINK] {
        assert_eq!(
            Stat::u(&stat.handler(0, ty, false), "requests"),
            sent(&w, 0, ty) + u64::from(ty == RTM_NEWLINK), // + iproute2's probe
            "{kernel}: type {ty}"
        );
    }
    let t = stat.totals();
    assert!(Stat::u(t, "wait_ns") > 0);
    assert!(
        Stat::u(t, "contended_waits") > 0,
        "{kernel}: no contention at all? {t}"
    );
    // contention_begin can fire twice per wait (spin, then sleep); contention_end once.
    assert_eq!(
        Stat::u(t, "contended_waits"),
        stat.kstat("contention_end"),
        "{kernel}: contended waits vs contention_end on rtnl_mutex"
    );
    assert!(stat.kstat("contention_begin") >= stat.kstat("contention_end"));
    assert_eq!(stat.kstat("lost_events"), 0);
    stat.assert_conserved();
    assert!(Stat::u(t, "hold_ns") <= Stat::u(&stat.0, "wall_ns"));
}

#[test]
fn deleting_links_waits_for_grace_periods_under_rtnl() {
    let (_, stat) = stat_json(
        &[],
        &[
            "sh",
            "-c",
            &format!("{WORKLOAD} links:8 && {WORKLOAD} dellinks:8"),
        ],
    );
    let d = stat.handler(0, RTM_DELLINK, false);
    assert_eq!(Stat::u(&d, "requests"), 8);
    assert!(Stat::u(&d, "gp_count") > 0, "{}: {d}", stat.kernel());
    assert!(Stat::u(&d, "gp_ns") > 0);
    assert!(Stat::u(&d, "gp_ns") <= Stat::u(&d, "hold_ns"));
}

#[test]
fn ioctl_and_sysfs_holders_go_to_their_kernel_callers() {
    sh(&format!("{WORKLOAD} links:1"));
    let (_, stat) = stat_json(
        &[],
        &[
            "sh",
            "-c",
            "ifconfig rwl0 up && echo 1400 > /sys/class/net/rwl0/mtu",
        ],
    );
    sh(&format!("{WORKLOAD} dellinks:1"));
    let kernel = stat.kernel();
    assert_eq!(
        Stat::u(stat.totals(), "requests"),
        0,
        "{kernel}: no netlink involved"
    );
    let callers = stat.callers();
    let named = |pat: &str| {
        callers
            .iter()
            .find(|c| c["handler"].as_str().unwrap_or("").contains(pat))
            .cloned()
    };
    let ioctl =
        named("ioctl").unwrap_or_else(|| panic!("{kernel}: no ioctl caller in {callers:?}"));
    assert!(Stat::u(&ioctl, "holds") >= 1);
    let sysfs =
        named("mtu_store").unwrap_or_else(|| panic!("{kernel}: no mtu_store in {callers:?}"));
    assert!(Stat::u(&sysfs, "holds") >= 1);
}

#[test]
fn a_small_ring_buffer_loses_events_and_says_so() {
    let (_, stat) = stat_json(&["--ring-bytes", "4096"], &[WORKLOAD, "getlinks:3000"]);
    assert!(
        stat.kstat("lost_events") > 0,
        "{}: nothing lost with a one-page ring",
        stat.kernel()
    );
    assert_eq!(stat.kstat("requests_entered"), 3000);
    stat.assert_conserved();
    let out = support::rtnlprof(&[
        "stat",
        "--ring-bytes",
        "4096",
        "--",
        WORKLOAD,
        "getlinks:3000",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("events were lost"), "{text}");
}

fn assert_one_line_failure(out: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{needle:?} in {err}");
}

#[test]
fn a_kernel_without_rtnl_mutex_in_kallsyms_is_one_line() {
    sh("grep -v ' rtnl_mutex$' /proc/kallsyms > /tmp/kallsyms-without-rtnl");
    let out = Command::new(RTNLPROF)
        .args(["stat", "--mode", "full", "--", "true"])
        .env("RTNLPROF_KALLSYMS", "/tmp/kallsyms-without-rtnl")
        .output()
        .unwrap();
    assert_one_line_failure(&out, "rtnl_mutex is not in /proc/kallsyms");
    // The default mode falls back to the tracepoints instead, and says so once.
    let out = Command::new(RTNLPROF)
        .args(["stat", "--", "true"])
        .env("RTNLPROF_KALLSYMS", "/tmp/kallsyms-without-rtnl")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("capturing from tracepoints").count(),
        1,
        "{err}"
    );
    assert!(err.contains("in tracepoint mode"), "{err}");
}

#[test]
fn a_program_the_kernel_refuses_is_one_line() {
    // The BTF of a module has none of the functions: loading the first program fails.
    let out = Command::new(RTNLPROF)
        .args(["stat", "--mode", "full", "--", "true"])
        .env("RTNLPROF_BTF", "/sys/kernel/btf/dummy")
        .output()
        .unwrap();
    assert_one_line_failure(&out, "cannot load program rtnetlink_rcv_msg_entry");
}

/// Our programs as bpftool lists them (names are cut to 15 characters by the kernel).
pub fn our_programs() -> usize {
    let out = Command::new("/usr/sbin/bpftool")
        .args(["prog", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| {
            [
                "rtnetlink_rcv_m",
                "mutex_lock_entr",
                "mutex_unlock_en",
                "contention_begi",
            ]
            .iter()
            .any(|p| l.contains(p))
        })
        .count()
}

#[test]
fn programs_are_detached_on_signals_and_errors() {
    assert_eq!(our_programs(), 0, "left over from an earlier test");
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let mut child = Command::new(RTNLPROF)
            .args(["stat", "--duration", "120"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("profiling RTNL"), "{line}");
        assert!(our_programs() >= 4, "attached while running");
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "signal {sig}: {:?}", out.status);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("RTNL on"),
            "summary printed"
        );
        assert_eq!(our_programs(), 0, "detached after signal {sig}");
    }
    // An error after the programs are attached: the command cannot be started.
    let out = support::rtnlprof(&["stat", "--", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(our_programs(), 0, "detached after an error");
}
