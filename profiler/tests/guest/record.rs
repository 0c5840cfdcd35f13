//! Recording in the guest: the file is complete however the recording ends, and reports back the
//! workload's counts. The recording is exported to the host, which reports on it again.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use serde_json::Value;

use crate::support::{export, rtnlprof, Stat, Workload, RTNLPROF, WORKLOAD};

/// The workload the round trip and the report fixtures are made of.
pub const STEPS: &[&str] = &[
    "links:30",
    "up:30",
    "addrs:30",
    "routes:30",
    "getroutes:30",
    "neighs:30",
    "dumplinks:5",
    "getlinks:20",
    "delneighs:30",
    "delroutes:30",
    "deladdrs:30",
    "dellinks:30",
];

fn report_json(path: &str) -> Stat {
    let out = rtnlprof(&["report", "--format", "json", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Stat(serde_json::from_slice(&out.stdout).expect("report JSON"))
}

#[test]
fn record_then_report_gives_the_workloads_counts_and_exports_it() {
    let path = "/tmp/roundtrip.rtnl";
    let out = Command::new(RTNLPROF)
        .args(["record", "-o", path, "--", "sh", "-c"])
        .arg(format!(
            "{WORKLOAD} {} && ifconfig lo up && echo 65536 > /sys/class/net/lo/mtu",
            STEPS.join(" ")
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("wrote "), "{stderr}");
    let sent: Workload = serde_json::from_slice(&out.stdout).expect("workload JSON");
    let report = report_json(path);
    for s in &sent.sent {
        let h = report.handler(s.family, s.r#type, s.dump);
        assert_eq!(Stat::u(&h, "requests"), s.count, "{}: {h}", report.kernel());
    }
    assert!(report.0["warnings"].as_array().unwrap().is_empty());
    assert_eq!(report.kstat("lost_events"), 0);
    export("roundtrip.rtnl", &std::fs::read(path).unwrap());
    export("roundtrip.sent.json", &out.stdout);
}

#[test]
fn record_exits_with_the_commands_status() {
    let out = rtnlprof(&[
        "record",
        "-o",
        "/tmp/status.rtnl",
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let r = report_json("/tmp/status.rtnl");
    assert_eq!(r.0["warnings"], Value::Array(vec![]));
}

#[test]
fn sigterm_and_ctrl_c_finish_the_file() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let path = format!("/tmp/signal-{sig}.rtnl");
        let mut child = Command::new(RTNLPROF)
            .args(["record", "-o", &path, "--duration", "120"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        err.read_line(&mut line).unwrap();
        assert!(line.contains("profiling RTNL"), "{line}");
        let w = Command::new(WORKLOAD)
            .args(["getlinks:50"])
            .output()
            .unwrap();
        assert!(w.status.success());
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        assert!(child.wait().unwrap().success(), "signal {sig}");
        let r = report_json(&path);
        assert_eq!(
            r.0["warnings"],
            Value::Array(vec![]),
            "a footer was written"
        );
        assert_eq!(Stat::u(&r.handler(0, 18, false), "requests"), 50);
    }
}
