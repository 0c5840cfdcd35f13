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

/// Runs `rtnlprof stat --format json -- rtnl-workload STEPS...`; both print one JSON document,
/// the workload's first.
pub fn stat_with_workload(steps: &[&str]) -> (Workload, Stat) {
    let mut args = vec!["stat", "--format", "json", "--", WORKLOAD];
    args.extend_from_slice(steps);
    let out = rtnlprof(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rtnlprof stat failed ({}): {}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut docs = serde_json::Deserializer::from_str(&stdout).into_iter::<Value>();
    let workload: Workload =
        serde_json::from_value(docs.next().expect("workload output").expect("json"))
            .expect("workload document");
    let stat = Stat(docs.next().expect("rtnlprof output").expect("json"));
    (workload, stat)
}
