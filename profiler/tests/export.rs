//! `rtnlprof export` on the command line: both formats from a guest recording, filters, and bad
//! input (one line, exit 2). The timelines' properties are tested in src/views/timeline/tests.rs.

#[path = "common/cli.rs"]
mod cli;

use std::path::PathBuf;

use cli::{fixture, rtnlprof};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rtnlprof-export-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn both_formats_from_a_guest_recording() {
    let rec = fixture("6.12.rtnl");
    let rec = rec.to_str().unwrap();
    let chrome = tmp("t.json");
    let out = rtnlprof(&[
        "export",
        rec,
        "--format",
        "chrome-json",
        "-o",
        chrome.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("332 holds"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&chrome).unwrap()).unwrap();
    let holds = v["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cat"] == "hold")
        .count();
    assert_eq!(holds, 332);

    let ff = tmp("t.profile.json");
    let out = rtnlprof(&[
        "export",
        rec,
        "--format",
        "firefox",
        "-o",
        ff.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // The report of the same recording says: held 216.49 ms.
    assert!(err.contains("216.49 ms of hold time"), "{err}");

    // To standard output, cut to one type.
    let out = rtnlprof(&[
        "export",
        rec,
        "--format",
        "chrome-json",
        "-o",
        "-",
        "--type",
        "RTM_DELLINK",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cat"] == "hold")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 30);
    assert!(names.iter().all(|n| *n == "AF_UNSPEC RTM_DELLINK"));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let out_path = tmp("bad.json");
    let o = out_path.to_str().unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![fixture("6.12.sent.json").display().to_string()],
            "not an rtnlprof recording",
        ),
        (vec!["/nonexistent.rtnl".into()], "/nonexistent.rtnl: "),
        (
            vec![std::env::temp_dir().display().to_string()],
            "is a directory",
        ),
        (
            vec![
                fixture("6.12.rtnl").display().to_string(),
                "--type".into(),
                "RTM_NOPE".into(),
            ],
            "not an rtnetlink message type",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["export".to_owned()];
        all.extend(args);
        all.extend(["--format", "chrome-json", "-o", o].map(String::from));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = rtnlprof(&refs);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(want), "{all:?}: {err}");
    }
    // A truncated recording exports what it holds, with a warning naming it.
    let whole = std::fs::read(fixture("6.12.rtnl")).unwrap();
    let cut = tmp("cut.rtnl");
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3]).unwrap();
    let out = rtnlprof(&[
        "export",
        cut.to_str().unwrap(),
        "--format",
        "firefox",
        "-o",
        o,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("warning") && err.contains("cut.rtnl"), "{err}");
}
