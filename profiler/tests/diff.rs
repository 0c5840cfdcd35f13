//! `rtnlprof diff` on the recordings made in the guests: every output format, exit statuses,
//! and the JUnit output against the JUnit XML schema (xmllint, installed by `cargo xtask setup`).

#[path = "common/gate.rs"]
#[allow(dead_code)]
mod gate;

use std::{path::PathBuf, process::Command};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn rtnlprof(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rtnlprof"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run rtnlprof")
}

/// The 6.1 recording against the 6.12 one (same workload, different kernels), with hold rules.
fn kernels(format: &str) -> (i32, String, String) {
    let out = rtnlprof(&[
        "diff",
        "--format",
        format,
        "--fail-on",
        "hold.total>+50%",
        "--fail-on",
        "hold.p99>+30%",
        "--fail-on",
        "wait.total>+50%",
        "tests/fixtures/6.1.rtnl",
        "tests/fixtures/6.12.rtnl",
    ]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn every_format_of_a_diff_across_kernels() {
    for format in ["text", "markdown", "json", "junit"] {
        let (code, out, err) = kernels(format);
        assert_eq!(
            code, 1,
            "6.12 holds RTNL longer in RTM_DELLINK than 6.1: {err}"
        );
        assert!(err.contains("warning: different kernels"), "{err}");
        insta::assert_snapshot!(format!("diff_6.1_6.12_{format}"), out);
    }
}

#[test]
fn a_recording_against_itself_passes_in_every_input_form() {
    let rec = fixture("6.12.rtnl");
    let out = rtnlprof(&["report", "--format", "json", &rec]);
    let json = std::env::temp_dir().join(format!("rtnlprof-diff-{}.json", std::process::id()));
    std::fs::write(&json, &out.stdout).unwrap();
    for (a, b) in [
        (rec.clone(), rec.clone()),
        (json.display().to_string(), rec.clone()),
    ] {
        let out = rtnlprof(&["diff", &a, &b]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(
            text.trim_end()
                .lines()
                .last()
                .unwrap()
                .starts_with("OK: no RTNL regression"),
            "{text}"
        );
    }
}

#[test]
fn rules_from_the_command_line_and_a_config_file() {
    let (a, b) = (fixture("6.1.rtnl"), fixture("6.12.rtnl"));
    // Only NEWADDR's hold p50, which did not move much: passes.
    let out = rtnlprof(&["diff", "--fail-on", "RTM_NEWADDR:hold.p50>+50%", &a, &b]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let cfg = std::env::temp_dir().join(format!("rtnlprof-diff-{}.toml", std::process::id()));
    std::fs::write(
        &cfg,
        "fail_on = [\"RTM_DELLINK:hold.total>+50ms\"]\nmin_samples = 10\n",
    )
    .unwrap();
    let out = rtnlprof(&["diff", "--config", cfg.to_str().unwrap(), &a, &b]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("AF_UNSPEC RTM_DELLINK hold.total"), "{text}");
    // A rule that does not parse is a usage error: 2.
    let out = rtnlprof(&["diff", "--fail-on", "hold.p99>20%", &a, &b]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected METRIC>+N"));
}

#[test]
fn junit_output_is_valid_junit_xml() {
    if !gate::tool("junit_output_is_valid_junit_xml", "xmllint") {
        return;
    }
    let (_, xml, _) = kernels("junit");
    let path = std::env::temp_dir().join(format!("rtnlprof-junit-{}.xml", std::process::id()));
    std::fs::write(&path, &xml).unwrap();
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/junit.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&path)
        .output()
        .expect("xmllint (Debian libxml2-utils; `cargo xtask setup` installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(xml.contains("<failure message=\"hold.total"), "{xml}");
}

#[test]
fn recordings_of_different_capture_modes_do_not_compare() {
    let rec = fixture("6.12.rtnl");
    let out = rtnlprof(&["report", "--format", "json", &rec]);
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["capture_mode"] = "tracepoint".into();
    let json = std::env::temp_dir().join(format!("rtnlprof-mode-{}.json", std::process::id()));
    std::fs::write(&json, serde_json::to_vec(&v).unwrap()).unwrap();
    let out = rtnlprof(&["diff", &rec, json.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("captured in mode \"tracepoint\""), "{err}");
    // --force compares them, with a warning.
    let out = rtnlprof(&["diff", "--force", &rec, json.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("--force"), "{err}");
}
