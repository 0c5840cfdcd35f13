//! Integration tests that run inside the QEMU guests on stock Debian kernels (6.1 and 6.12):
//! `cargo xtask test` builds this binary, boots each kernel with it and runs it as root.
//! They need BPF trampolines and `rtnl_mutex` in kallsyms, which the host does not offer; the
//! tracepoint mode runs here too, beside the full one.

mod blame;
mod capture;
mod diff;
#[path = "../common/http.rs"]
mod http;
mod netns;
mod record;
mod serve;
mod support;
#[path = "../common/tmux.rs"]
mod tmux;
mod top;
mod tracepoint;

use support::{rtnlprof, stat_with_workload, Sent};

/// The first end-to-end probe: every request the workload put on the wire is counted, per type.
#[test]
fn counts_every_request_per_message_type() {
    let n = 25;
    let (sent, stat) = stat_with_workload(&[&format!("links:{n}"), &format!("dellinks:{n}")]);
    assert_eq!(sent.count(0, 16), n, "the workload sent {n} RTM_NEWLINK");
    for Sent {
        family,
        r#type,
        count,
        ..
    } in &sent.sent
    {
        let h = stat.handler(*family, *r#type, false);
        assert_eq!(
            h["requests"].as_u64(),
            Some(*count),
            "requests of family {family} type {} ({}): {h}",
            r#type,
            stat.kernel()
        );
    }
}

#[test]
fn check_finds_everything_the_capture_needs() {
    let out = rtnlprof(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "rtnlprof check failed:\n{text}");
    assert!(text.contains("rtnl_mutex"), "{text}");
}

#[test]
fn refuses_to_run_without_privileges_in_one_line() {
    use std::os::unix::process::CommandExt;
    let out = std::process::Command::new(support::RTNLPROF)
        .args(["stat", "--", "true"])
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run rtnlprof as nobody");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("needs root"), "{err}");
}
