//! Helpers for the guest tests: run rtnlprof and the workload, parse what they print.

use std::process::{Command, Output};

use serde::Deserialize;
use serde_json::Value;

pub const RTNLPROF: &str = "/usr/bin/rtnlprof";
pub const WORKLOAD: &str = "/usr/bin/rtnl-workload";

pub fn rtnlprof(args: &[&str]) -> Output {
    Command::new(RTNLPROF)
        .args(args)
        .output()
        .expect("run rtnlprof")
}

#[derive(Debug, Deserialize)]
pub struct Sent {
    pub family: u8,
    pub r#type: u16,
    #[allow(dead_code)]
    pub dump: bool,
    pub count: u64,
}

/// What rtnl-workload says it put on the wire.
#[derive(Debug, Deserialize)]
pub struct Workload {
    pub sent: Vec<Sent>,
}

impl Workload {
    pub fn count(&self, family: u8, ty: u16) -> u64 {
        self.sent
            .iter()
            .filter(|s| s.family == family && s.r#type == ty)
            .map(|s| s.count)
            .sum()
    }
}

/// `rtnlprof stat --format json` output.
pub struct Stat(pub Value);

impl Stat {
    pub fn kernel(&self) -> String {
        self.0["kernel"].as_str().unwrap_or("?").to_owned()
    }

    /// The row of a message-type handler (a null row if absent, so counts read as None).
    pub fn handler(&self, family: u8, ty: u16, dump: bool) -> Value {
        self.0["handlers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| {
                h["kind"] == "msg"
                    && h["family"] == u64::from(family)
                    && h["nlmsg_type"] == u64::from(ty)
                    && h["dump"] == dump
            })
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// Runs `rtnlprof stat --format json EXTRA... -- rtnl-workload STEPS...`; both print one JSON
/// document, the workload's first.
pub fn stat_with_workload(steps: &[&str]) -> (Workload, Stat) {
    let mut cmd = vec![WORKLOAD];
    cmd.extend_from_slice(steps);
    let (mut workloads, stat) = stat_json(&[], &cmd);
    assert_eq!(workloads.len(), 1, "one workload document");
    (workloads.remove(0), stat)
}

/// Runs `rtnlprof stat --format json EXTRA... -- CMD...` and parses every JSON document printed:
/// the workloads' (any number, in order) and rtnlprof's (the last).
pub fn stat_json(extra: &[&str], cmd: &[&str]) -> (Vec<Workload>, Stat) {
    let mut args = vec!["stat", "--format", "json"];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(cmd);
    let out = rtnlprof(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rtnlprof {args:?} failed ({}): {}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut docs: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("JSON documents");
    let stat = Stat(docs.pop().expect("rtnlprof's document"));
    let workloads = docs
        .into_iter()
        .map(|d| serde_json::from_value(d).expect("workload document"))
        .collect();
    (workloads, stat)
}

/// Runs a shell command line in the guest (outside rtnlprof); panics if it fails.
pub fn sh(script: &str) {
    let out = Command::new("sh")
        .args(["-c", script])
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "`{script}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sum of several workloads' counts of one (family, type).
pub fn sent(workloads: &[Workload], family: u8, ty: u16) -> u64 {
    workloads.iter().map(|w| w.count(family, ty)).sum()
}

impl Stat {
    pub fn totals(&self) -> &Value {
        &self.0["totals"]
    }
    pub fn kstat(&self, key: &str) -> u64 {
        self.0["kernel_stats"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("kernel_stats.{key}"))
    }
    pub fn callers(&self) -> Vec<Value> {
        self.0["handlers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h["kind"] == "caller")
            .cloned()
            .collect()
    }
    pub fn u(v: &Value, key: &str) -> u64 {
        v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
    }

    /// Every event the kernel emitted was either read or counted as lost.
    pub fn assert_conserved(&self) {
        let t = self.totals();
        let read = Self::u(t, "requests") + Self::u(t, "holds") + Self::u(t, "trylock_failed");
        let emitted_holds = self.kstat("acquisitions");
        let emitted_requests = self.kstat("requests_entered");
        assert_eq!(
            read + self.kstat("lost_events"),
            emitted_holds + emitted_requests + self.kstat("trylock_failed"),
            "events read + lost == events emitted: {}",
            self.0
        );
    }
}

/// Hands a file to the host: `cargo xtask` collects these lines from the guest's output into
/// target/xtask/vm-SERIES/exports/NAME. Written to stdout directly, past libtest's capture.
pub fn export(name: &str, bytes: &[u8]) {
    use base64::Engine;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // Start on a line of our own: libtest may be in the middle of "test name ... ".
    writeln!(out).unwrap();
    for chunk in bytes.chunks(3 * 1024) {
        let line = base64::engine::general_purpose::STANDARD.encode(chunk);
        writeln!(out, "@@rtnlprof-export {name} {line}").unwrap();
    }
    out.flush().unwrap();
}
