//! Builds what goes into the guests: rtnlprof, the rtnetlink workload generator and, for tests,
//! the guest integration-test binary.

use std::{path::PathBuf, process::Command};

use anyhow::{bail, Context, Result};

use crate::util;

pub struct GuestBinaries {
    pub rtnlprof: PathBuf,
    pub workload: PathBuf,
    pub guest_tests: Option<PathBuf>,
    /// More executables for the guest: (host path, guest path).
    pub extra: Vec<(PathBuf, String)>,
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(util::root());
    c
}

/// Executables a cargo invocation with --message-format=json produced.
fn executables(json: &str) -> Vec<(String, PathBuf)> {
    json.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact")
        .filter_map(|v| {
            let exe = v["executable"].as_str()?;
            let name = v["target"]["name"].as_str()?;
            Some((name.to_owned(), PathBuf::from(exe)))
        })
        .collect()
}

fn find(list: &[(String, PathBuf)], name: &str) -> Result<PathBuf> {
    match list.iter().find(|(n, _)| n == name) {
        Some((_, p)) => Ok(p.clone()),
        None => bail!("cargo produced no executable named {name}"),
    }
}

pub fn guest_binaries(with_tests: bool) -> Result<GuestBinaries> {
    let out = util::output(
        cargo()
            .args(["build", "--package", "rtnlprof", "--bin", "rtnlprof"])
            .args([
                "--example",
                "rtnl-workload",
                "--message-format=json-render-diagnostics",
            ]),
    )
    .context("building rtnlprof")?;
    let built = executables(&String::from_utf8_lossy(&out.stdout));
    let rtnlprof = find(&built, "rtnlprof")?;
    let workload = find(&built, "rtnl-workload")?;
    let guest_tests = if with_tests {
        let out = util::output(
            cargo()
                .args([
                    "test",
                    "--package",
                    "rtnlprof",
                    "--test",
                    "guest",
                    "--no-run",
                ])
                .arg("--message-format=json-render-diagnostics"),
        )
        .context("building the guest tests")?;
        Some(find(
            &executables(&String::from_utf8_lossy(&out.stdout)),
            "guest",
        )?)
    } else {
        None
    };
    Ok(GuestBinaries {
        rtnlprof,
        workload,
        guest_tests,
        extra: Vec::new(),
    })
}

/// Release builds of rtnlprof, the workload and the examples `examples` (guest path
/// /usr/bin/NAME), for benchmarks.
pub fn guest_binaries_release(examples: &[&str]) -> Result<GuestBinaries> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "--package",
        "rtnlprof",
        "--bin",
        "rtnlprof",
    ])
    .args(["--example", "rtnl-workload"]);
    for e in examples {
        cmd.args(["--example", e]);
    }
    let out = util::output(cmd.arg("--message-format=json-render-diagnostics"))
        .context("building rtnlprof (release)")?;
    let built = executables(&String::from_utf8_lossy(&out.stdout));
    let mut extra = Vec::new();
    for e in examples {
        extra.push((find(&built, e)?, format!("/usr/bin/{e}")));
    }
    Ok(GuestBinaries {
        rtnlprof: find(&built, "rtnlprof")?,
        workload: find(&built, "rtnl-workload")?,
        guest_tests: None,
        extra,
    })
}
