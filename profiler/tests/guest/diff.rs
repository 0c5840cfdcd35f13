//! `rtnlprof diff` on recordings made here: the same workload twice passes, the workload with a
//! competing RTNL holder fails, naming the regressing types first.

use std::process::{Child, Command};

use serde_json::Value;

use crate::support::{rtnlprof, RTNLPROF, WORKLOAD};

const PAIRS: usize = 10;
const STEPS: &str = "links:25 up:25 addrs:25 routes:25 neighs:25 getlinks:100 delneighs:25 delroutes:25 deladdrs:25 dellinks:25";

fn record(path: &str) {
    let out = Command::new(RTNLPROF)
        .args(["record", "-o", path, "--", "sh", "-c"])
        .arg(format!("{WORKLOAD} {STEPS} >/dev/null"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Another writer: creates and deletes links in a loop, holding RTNL across grace periods.
fn competitor() -> Child {
    use std::os::unix::process::CommandExt;
    // One process adding and deleting links back to back (no process start between them).
    let mut args = vec!["prefix=cmp".to_owned()];
    for _ in 0..2000 {
        args.extend(["links:4".to_owned(), "dellinks:4".to_owned()]);
    }
    Command::new(WORKLOAD)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap()
}

/// Removes whatever links a killed competitor left behind.
fn clean_competitor() {
    let _ = Command::new("sh")
        .arg("-c")
        .arg("for i in 0 1 2 3; do /usr/sbin/ip link del cmp$i 2>/dev/null; done; true")
        .status();
}

fn diff(base: &str, new: &str) -> (i32, Value) {
    let out = rtnlprof(&["diff", "--format", "json", base, new]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("diff output: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

/// IPv6 duplicate address detection runs from a kworker a second or so after a link comes up,
/// and lands in whichever recording is running then: background noise, not what these pairs test.
fn quiet_ipv6_dad() {
    for f in ["default", "all"] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{f}/accept_dad"), "0");
    }
}

#[test]
fn same_workload_passes_and_a_competing_holder_fails_ten_times_each() {
    quiet_ipv6_dad();
    let mut false_alarms = Vec::new();
    let mut missed = Vec::new();
    for i in 0..PAIRS {
        let (base, same, comp) = (
            format!("/tmp/d{i}-base.rtnl"),
            format!("/tmp/d{i}-same.rtnl"),
            format!("/tmp/d{i}-comp.rtnl"),
        );
        record(&base);
        record(&same);
        let mut c = competitor();
        std::thread::sleep(std::time::Duration::from_millis(300));
        record(&comp);
        // The whole group: the loop and the workload it is running.
        // SAFETY: signalling our own child's process group.
        unsafe { libc::kill(-(c.id() as i32), libc::SIGKILL) };
        let _ = c.wait();
        std::thread::sleep(std::time::Duration::from_millis(300));
        clean_competitor();
        // Let the kernel's deferred work for the deleted links finish before the next pair.
        std::thread::sleep(std::time::Duration::from_secs(1));

        let (code, v) = diff(&base, &same);
        if code != 0 {
            false_alarms.push(format!("pair {i}: {}", v["verdict"]));
        }
        let (code, v) = diff(&base, &comp);
        let first = &v["checks"][0];
        let named_first =
            first["regression"] == true && v["rows"][0]["regressions"].as_u64().unwrap_or(0) > 0;
        if code != 1 || !named_first {
            missed.push(format!("pair {i}: exit {code}: {}", v["verdict"]));
        }
        for p in [&base, &same, &comp] {
            let _ = std::fs::remove_file(p);
        }
    }
    assert!(false_alarms.is_empty(), "false alarms: {false_alarms:#?}");
    assert!(missed.is_empty(), "missed regressions: {missed:#?}");
}

#[test]
fn mismatched_inputs_are_reported() {
    record("/tmp/m-base.rtnl");
    // A truncated recording still compares, with a warning naming it.
    let bytes = std::fs::read("/tmp/m-base.rtnl").unwrap();
    std::fs::write("/tmp/m-cut.rtnl", &bytes[..bytes.len() - 3]).unwrap();
    let out = rtnlprof(&["diff", "/tmp/m-base.rtnl", "/tmp/m-cut.rtnl"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("m-cut.rtnl") && err.contains("cut short"),
        "{err}"
    );
    assert!(matches!(out.status.code(), Some(0 | 1)));
    // Not a recording at all: exit 2, one line.
    std::fs::write("/tmp/m-junk.rtnl", b"junk").unwrap();
    let out = rtnlprof(&["diff", "/tmp/m-base.rtnl", "/tmp/m-junk.rtnl"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim().lines().count(),
        1
    );
}
