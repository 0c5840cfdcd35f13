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
mod prelock;
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

/// `check`, line by line, against what the test finds itself: kallsyms, BTF, tracefs, root;
/// the text and the JSON say the same.
#[test]
fn check_finds_everything_the_capture_needs() {
    let out = rtnlprof(&["check", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let has_function = |f: &str| {
        kallsyms.lines().any(|l| {
            let mut it = l.split_whitespace();
            let (_, ty, name) = (it.next(), it.next().unwrap_or(""), it.next());
            name == Some(f) && it.next().is_none() && ty.eq_ignore_ascii_case("t")
        })
    };
    let items = v["items"].as_array().unwrap();
    let item = |need: &str| {
        items
            .iter()
            .find(|i| i["need"] == need)
            .unwrap_or_else(|| panic!("no {need:?} line in {v:#}"))
    };
    let ok = |need: &str| item(need)["ok"].as_bool().unwrap();
    assert!(ok("root"));
    assert_eq!(
        ok("kernel BTF"),
        std::path::Path::new("/sys/kernel/btf/vmlinux").exists()
    );
    assert!(ok("rtnl_mutex address"));
    assert_eq!(
        item("rtnl_mutex address")["detail"],
        format!("{:#x}", crate::tracepoint::kallsyms_rtnl_mutex())
    );
    for f in [
        "rtnetlink_rcv_msg",
        "mutex_lock",
        "mutex_unlock",
        "netlink_dump",
        "synchronize_rcu",
        "rtnl_lock",
    ] {
        assert_eq!(ok(f), has_function(f), "{f}: {:#}", item(f));
    }
    for (need, dir) in [
        ("lock tracepoints", "lock/contention_begin"),
        ("syscall tracepoints", "syscalls/sys_enter_sendmsg"),
    ] {
        let there = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .iter()
            .any(|t| std::path::Path::new(t).join("events").join(dir).is_dir());
        assert_eq!(ok(need), there, "{need}");
    }
    // The guests run BPF trampolines: everything starts, and auto picks the full mode.
    for need in ["fentry", "full mode", "tracepoint mode", "RTNL takers"] {
        assert!(ok(need), "{need}: {:#}", item(need));
    }
    assert_eq!(v["mode"], "fentry");
    assert_eq!(v["full"]["ok"], true);
    // The text says the same, a line an item.
    let text = rtnlprof(&["check"]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    for i in items {
        let line = format!(
            "{:<4} {:<20} {}",
            if i["ok"].as_bool().unwrap() {
                "ok"
            } else {
                "MISS"
            },
            i["need"].as_str().unwrap(),
            i["detail"].as_str().unwrap()
        );
        assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
    }
    assert!(text.contains("capture mode: full (fentry)"), "{text}");
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
