//! `rtnlprof top` end to end in a real terminal (tmux): a replayed recording, keys in, screen out.
//! Live capture in the UI is tested in the guests (tests/guest/top.rs).

#[path = "common/gate.rs"]
#[allow(dead_code)]
mod gate;

#[path = "common/tmux.rs"]
mod tmux;

use std::path::PathBuf;

use rtnlprof::tui::view::Column;
use tmux::{table_rows, Tmux};

const BIN: &str = env!("CARGO_BIN_EXE_rtnlprof");

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn selected(screen: &str) -> String {
    table_rows(screen)
        .into_iter()
        .find(|r| r.0)
        .map(|r| r.1[0].clone())
        .unwrap_or_else(|| panic!("no selected row:\n{screen}"))
}

fn requests_column(screen: &str) -> Vec<u64> {
    table_rows(screen)
        .iter()
        .map(|(_, c)| c[1].parse().unwrap_or_else(|_| panic!("REQS of {c:?}")))
        .collect()
}

#[test]
fn replay_sorts_shows_detail_and_quits_restoring_the_terminal() {
    if !gate::tool(
        "replay_sorts_shows_detail_and_quits_restoring_the_terminal",
        "tmux",
    ) {
        return;
    }
    let file = fixture("6.12.rtnl");
    let t = Tmux::start(
        "replay",
        160,
        48,
        &format!("{BIN} top --replay {} --speed max", file.display()),
    );
    let s = t.wait_for(20, "the replay to finish", |s| {
        s.contains("replay finished")
    });
    assert!(s.contains("6.12.117+deb12-cloud-amd64"), "{s}");
    assert_eq!(
        t.pane("#{alternate_on}"),
        "1",
        "the UI is on the alternate screen"
    );
    let rows = table_rows(&s);
    assert_eq!(rows.len(), 14, "{s}");
    assert_eq!(
        rows[0].1[0], "AF_UNSPEC RTM_DELLINK",
        "the longest holder first:\n{s}"
    );
    assert!(s.contains("HELD ▼"), "{s}");

    // The selection follows the row, not the position, when the order changes.
    t.keys(&["j", "j"]);
    let s = t.wait_for(5, "the third row selected", |s| {
        table_rows(s).get(2).is_some_and(|r| r.0)
    });
    let chosen = selected(&s);
    // s: from HELD through the later columns and HANDLER to REQS, a column a key.
    let mut presses = 0;
    while !t.screen().contains("REQS ▼") {
        assert!(
            presses < Column::ALL.len(),
            "s never sorted by REQS:\n{}",
            t.screen()
        );
        t.keys(&["s"]);
        presses += 1;
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    let s = t.wait_for(5, "sorted by REQS", |s| s.contains("REQS ▼"));
    let reqs = requests_column(&s);
    assert!(
        reqs.windows(2).all(|w| w[0] >= w[1]),
        "descending: {reqs:?}\n{s}"
    );
    assert!(reqs[0] > *reqs.last().unwrap(), "{reqs:?}");
    assert_eq!(
        selected(&s),
        chosen,
        "the selected row stays selected:\n{s}"
    );
    t.keys(&["S"]);
    let s = t.wait_for(5, "ascending", |s| s.contains("REQS ▲"));
    let reqs = requests_column(&s);
    assert!(
        reqs.windows(2).all(|w| w[0] <= w[1]),
        "ascending: {reqs:?}\n{s}"
    );

    // Detail of the selected row, and back.
    t.keys(&["Enter"]);
    let s = t.wait_for(5, "the detail pane", |s| s.contains("Detail: "));
    assert!(s.contains(&format!("Detail: {chosen}")), "{s}");
    for part in ["hold time", "wait time", "top threads", "waited behind"] {
        assert!(s.contains(part), "{part}:\n{s}");
    }
    t.keys(&["Escape"]);
    t.wait_for(5, "the candidates pane", |s| {
        s.contains("Candidates for running")
    });
    t.keys(&["?"]);
    t.wait_for(5, "the help", |s| s.contains("any key closes this help"));
    t.keys(&["x"]);
    t.wait_for(5, "the help closed", |s| {
        !s.contains("any key closes this help")
    });

    t.keys(&["q"]);
    assert_eq!(t.wait_exit(10), 0, "q exits 0");
    assert_eq!(t.pane("#{alternate_on}"), "0", "the terminal is restored");
}

#[test]
fn pause_freezes_the_screen_while_the_replay_goes_on() {
    if !gate::tool("pause_freezes_the_screen_while_the_replay_goes_on", "tmux") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("rtnlprof-top-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("paced.rtnl");
    let span = rtnlprof::trace::synthetic::write_recording(&file, 200_000).unwrap();
    assert!(span > 30_000_000_000, "{span}");
    let t = Tmux::start(
        "pause",
        120,
        30,
        &format!("{BIN} top --replay {} --speed 1", file.display()),
    );
    let events = |s: &str| -> u64 {
        let line = s.lines().nth(1).unwrap_or("");
        line.split(" events")
            .next()
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no event count in {line:?}"))
    };
    let s = t.wait_for(10, "records", |s| s.contains(" events") && events(s) > 0);
    let before = events(&s);
    t.keys(&["p"]);
    let paused = t.wait_for(5, "PAUSED", |s| s.contains("PAUSED"));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let still = t.screen();
    assert_eq!(paused, still, "nothing moves while paused");
    t.keys(&["p"]);
    let s = t.wait_for(5, "resumed", |s| !s.contains("PAUSED"));
    let after = t.wait_for(5, "more records", |s| events(s) > events(&still));
    assert!(events(&after) > events(&still) && events(&still) >= before);
    drop(s);
    // Ctrl-C quits too.
    t.keys(&["C-c"]);
    assert_eq!(t.wait_exit(10), 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn without_capture_it_says_why_and_points_to_replay() {
    if !gate::tool("without_capture_it_says_why_and_points_to_replay", "tmux") {
        return;
    }
    // This host refuses the full capture (no BPF trampolines, no rtnl_mutex symbol): asked for
    // it, the message says why, in one line, before any screen is drawn, and names the mode
    // that can run.
    let t = Tmux::start("nolive", 120, 30, &format!("{BIN} top --mode full"));
    let code = t.wait_exit(60);
    let s = t.screen();
    assert_eq!(code, 1, "{s}");
    let msg: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(msg.iter().any(|l| l.starts_with("rtnlprof: ")), "{s}");
    assert!(s.contains("--replay FILE"), "{s}");
    assert_eq!(t.pane("#{alternate_on}"), "0");
}

/// Without `--mode`, on this host, `top` runs live from tracepoints: the header says the mode
/// and the hold columns say n/a rather than zeros.
#[test]
fn live_on_this_host_falls_back_to_tracepoints_and_marks_what_it_cannot_see() {
    if !gate::root("live_on_this_host_falls_back_to_tracepoints")
        || !gate::tool("live_on_this_host_falls_back_to_tracepoints", "tmux")
    {
        return;
    }
    let t = Tmux::start("tplive", 160, 40, &format!("{BIN} top"));
    let s = t.wait_for(60, "the live screen", |s| s.contains("│ live │"));
    assert!(s.contains("│ tracepoint │"), "{s}");
    assert!(s.contains("RTNL held n/a"), "{s}");
    assert!(s.contains("not measured in tracepoint mode"), "{s}");
    // Some rtnetlink traffic of our own, so there are rows.
    for _ in 0..5 {
        let _ = std::process::Command::new("ip")
            .args(["-d", "link", "show"])
            .output();
    }
    let s = t.wait_for(30, "a row with n/a", |s| {
        table_rows(s)
            .iter()
            .any(|(_, cells)| cells.iter().any(|c| c == "n/a"))
    });
    assert!(s.contains("RTM_GETLINK"), "{s}");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(20), 0, "{}", t.screen());
}

#[test]
fn bad_replay_input_and_no_terminal_are_one_line_errors() {
    if !gate::tool(
        "bad_replay_input_and_no_terminal_are_one_line_errors",
        "tmux",
    ) {
        return;
    }
    let out = std::process::Command::new(BIN)
        .args(["top", "--replay", "/nonexistent.rtnl"])
        .output()
        .unwrap();
    // Without a terminal first: that is what stops it here.
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("needs a terminal"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let t = Tmux::start(
        "bad",
        100,
        20,
        &format!("{BIN} top --replay {}", fixture("6.12.sent.json").display()),
    );
    assert_eq!(t.wait_exit(10), 2, "{}", t.screen());
    let s = t.screen();
    assert!(s.contains("6.12.sent.json: "), "{s}");
}
