//! Live `rtnlprof top` in a terminal (tmux in the guest): the rows of a known workload appear.

use std::process::Command;

use crate::support::{Workload, WORKLOAD};
use crate::tmux::{table_rows, Tmux};

const RTM_NEWLINK: u16 = 16;

#[test]
fn live_top_shows_the_rows_of_a_known_workload_and_detaches_on_quit() {
    let t = Tmux::start("live", 160, 48, "/usr/bin/rtnlprof top");
    t.wait_for(90, "the live screen", |s| {
        s.contains("rtnlprof top") && s.contains("│ live │")
    });
    let n = 15;
    let out = Command::new(WORKLOAD)
        .args([
            "prefix=toprow",
            &format!("links:{n}"),
            &format!("addrs:{n}"),
            &format!("dellinks:{n}"),
        ])
        .output()
        .expect("run the workload");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w: Workload = serde_json::from_slice(&out.stdout).expect("workload JSON");
    assert_eq!(
        w.sent
            .iter()
            .find(|s| s.r#type == RTM_NEWLINK)
            .map(|s| s.count),
        Some(n)
    );
    let want = [
        ("AF_UNSPEC RTM_NEWLINK", n),
        ("AF_INET RTM_NEWADDR", n),
        ("AF_UNSPEC RTM_DELLINK", n),
    ];
    let requests = |s: &str, name: &str| -> Option<u64> {
        table_rows(s)
            .into_iter()
            .find(|r| r.1.first().map(String::as_str) == Some(name))
            .and_then(|r| r.1.get(1).and_then(|c| c.parse().ok()))
    };
    let s = t.wait_for(30, "the workload's rows with their request counts", |s| {
        want.iter().all(|(name, n)| requests(s, name) == Some(*n))
    });
    // The screen, for the record (target/xtask/vm-SERIES/exports/top-live.txt).
    crate::support::export("top-live.txt", s.as_bytes());
    assert!(s.contains("lost 0"), "{s}");
    assert!(s.contains("Candidates for running without RTNL"), "{s}");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(30), 0, "{}", t.screen());
    assert_eq!(crate::capture::our_programs(), 0, "programs left attached");
}

#[test]
fn top_without_root_says_why_and_names_the_mode_that_runs() {
    let t = Tmux::start_as(Some(65534), "nobody", 120, 30, "/usr/bin/rtnlprof top");
    assert_eq!(t.wait_exit(60), 1, "{}", t.screen());
    // The line as printed, unwrapped.
    let s: String = t.screen().lines().collect();
    assert!(s.contains("rtnlprof: rtnlprof needs root"), "{s}");
    assert!(s.contains("rtnlprof top --replay FILE"), "{s}");
}
