//! `rtnlprof report` on recordings made in the QEMU guests by the project's own test
//! (`cargo xtask fixtures`), and on bad input.

#[path = "common/cli.rs"]
mod cli;

use std::path::PathBuf;

use cli::{fixture, rtnlprof};

use proptest::prelude::*;
use rtnlprof::{
    model::Model,
    trace::reader::Reader,
    views::report::{self, Options},
};

const SERIES: &[&str] = &["6.1", "6.12"];

fn load(series: &str) -> (Model, report::RunInfo) {
    rtnlprof::cmd::report::load(&fixture(&format!("{series}.rtnl")), false).expect("fixture loads")
}

#[test]
fn text_and_markdown_reports_of_the_guest_recordings() {
    for s in SERIES {
        let (model, run) = load(s);
        let opts = Options::default();
        insta::assert_snapshot!(format!("text_{s}"), report::text(&model, &run, &opts));
        insta::assert_snapshot!(
            format!("markdown_{s}"),
            report::markdown(&model, &run, &opts)
        );
        let by_task = Options {
            top: 5,
            by: report::By::Task,
        };
        insta::assert_snapshot!(
            format!("text_by_task_{s}"),
            report::text(&model, &run, &by_task)
        );
    }
}

#[test]
fn the_reports_counts_are_what_the_workload_sent() {
    for s in SERIES {
        let out = rtnlprof(&[
            "report",
            "--format",
            "json",
            fixture(&format!("{s}.rtnl")).to_str().unwrap(),
        ]);
        assert!(out.status.success());
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["format"], "rtnlprof-report");
        assert_eq!(report["version"], 1);
        let sent: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixture(&format!("{s}.sent.json"))).unwrap())
                .unwrap();
        for w in sent["sent"].as_array().unwrap() {
            let row = report["handlers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| {
                    h["family"] == w["family"]
                        && h["nlmsg_type"] == w["type"]
                        && h["dump"] == w["dump"]
                })
                .unwrap_or_else(|| panic!("{s}: no row for {w}"));
            assert_eq!(row["requests"], w["count"], "{s}: {w}");
        }
    }
}

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rtnlprof-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn assert_bad_input(path: &str, cause: &str) {
    let out = rtnlprof(&["report", path]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{path}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(path), "names the file: {err}");
    assert!(err.contains(cause), "{cause:?} in {err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_input_is_one_line_and_exit_status_2() {
    let good = std::fs::read(fixture("6.12.rtnl")).unwrap();
    let header_end = 14 + u32::from_le_bytes(good[10..14].try_into().unwrap()) as usize;
    assert_bad_input(temp("empty.rtnl", b"").to_str().unwrap(), "empty file");
    assert_bad_input(
        temp("magic.rtnl", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0")
            .to_str()
            .unwrap(),
        "bad magic",
    );
    let mut newer = good.clone();
    newer[8] = 3;
    assert_bad_input(
        temp("newer.rtnl", &newer).to_str().unwrap(),
        "format version 3 is newer",
    );
    let mut corrupt = good.clone();
    corrupt[header_end + 40] ^= 0xff;
    assert_bad_input(
        temp("corrupt.rtnl", &corrupt).to_str().unwrap(),
        "corrupt frame 0",
    );
    let mut bad_len = good.clone();
    bad_len[header_end + 5..header_end + 9].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_bad_input(
        temp("badlen.rtnl", &bad_len).to_str().unwrap(),
        "implausible frame lengths",
    );
    let dir = std::env::temp_dir();
    assert_bad_input(dir.to_str().unwrap(), "is a directory");
    assert_bad_input("/nonexistent/x.rtnl", "No such file");
}

#[test]
fn a_recording_cut_short_reads_with_a_warning() {
    let good = std::fs::read(fixture("6.12.rtnl")).unwrap();
    // Cut inside the footer: every frame is whole.
    let path = temp("cut.rtnl", &good[..good.len() - 3]);
    let out = rtnlprof(&["report", "--format", "json", path.to_str().unwrap()]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("cut short"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["warnings"][0].as_str().unwrap().contains("cut short"));
    assert!(v["totals"]["requests"].as_u64().unwrap() > 0);
}

/// Reads and reports on arbitrary bytes; must never panic.
fn read_and_render(bytes: &[u8]) {
    let Ok(mut r) = Reader::new(bytes) else {
        return;
    };
    let mut model = Model::new();
    let mut batch = Vec::new();
    loop {
        batch.clear();
        match r.next_frame(&mut batch) {
            Ok(more) => {
                batch.iter().for_each(|rec| model.add(rec));
                if !more {
                    break;
                }
            }
            Err(_) => return,
        }
    }
    let run = report::RunInfo::default();
    let _ = report::text(&model, &run, &Options::default());
    let _ = report::json(&model, &run);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn flipped_and_truncated_recordings_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = std::fs::read(fixture("6.1.rtnl")).unwrap();
        for (at, x) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        let len = cut.index(bytes.len() + 1);
        read_and_render(&bytes[..len]);
    }
}

#[test]
fn the_last_seconds_are_a_window_of_the_whole() {
    let path = fixture("6.12.rtnl");
    let json = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["report", "--format", "json"];
        args.extend_from_slice(extra);
        args.push(path.to_str().unwrap());
        let out = rtnlprof(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let all = json(&[]);
    let huge = json(&["--last", "100000"]);
    assert_eq!(
        all["totals"], huge["totals"],
        "a window longer than the recording is all of it"
    );
    let short = json(&["--last", "0.2"]);
    let (a, s) = (&all["totals"]["holds"], &short["totals"]["holds"]);
    assert!(s.as_u64().unwrap() < a.as_u64().unwrap(), "{s} < {a}");
    assert!(short["wall_ns"].as_u64().unwrap() <= 200_000_000);
    assert!(short["warnings"][0]
        .as_str()
        .unwrap()
        .starts_with("window: the last"));
}
