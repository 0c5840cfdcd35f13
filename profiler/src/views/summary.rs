//! The per-handler summary `rtnlprof stat` prints: a text table and a JSON document.
//!
//! JSON (`--format json`), version 1:
//! `{"format":"rtnlprof-stat","version":1,"kernel":..,"wall_ns":..,"kernel_stats":{..},
//!   "decode_errors":..,"skipped_hooks":[{"target":..,"cause":..}],"totals":{..},
//!   "handlers":[{"handler":"AF_INET RTM_NEWADDR","kind":"msg"|"caller","family":2,
//!                "nlmsg_type":20,"dump":false, <HandlerStats fields>}]}`
//! Times are nanoseconds.

use serde::Serialize;

use crate::capture::KernelStats;
use crate::model::{names, Handler, HandlerStats, Model};

/// What is known about the run besides the model.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunInfo {
    pub kernel: String,
    pub wall_ns: u64,
    pub kernel_stats: KernelStats,
    pub decode_errors: u64,
    pub skipped_hooks: Vec<SkippedHook>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkippedHook {
    pub target: String,
    pub cause: String,
}

#[derive(Serialize)]
struct HandlerRow<'a> {
    handler: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    family: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nlmsg_type: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    type_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dump: Option<bool>,
    #[serde(flatten)]
    stats: &'a HandlerStats,
}

#[derive(Serialize)]
struct Doc<'a> {
    format: &'static str,
    version: u32,
    #[serde(flatten)]
    run: &'a RunInfo,
    totals: HandlerStats,
    handlers: Vec<HandlerRow<'a>>,
}

pub fn json(model: &Model, run: &RunInfo) -> String {
    let handlers = model
        .ranked()
        .into_iter()
        .map(|(h, stats)| {
            let (kind, family, nlmsg_type, type_name, dump) = match h {
                Handler::Msg(m) => (
                    "msg",
                    Some(m.family),
                    Some(m.nlmsg_type),
                    Some(names::rtm_display(m.nlmsg_type)),
                    Some(m.dump),
                ),
                Handler::Caller(_) => ("caller", None, None, None, None),
            };
            HandlerRow {
                handler: h.name(),
                kind,
                family,
                nlmsg_type,
                type_name,
                dump,
                stats,
            }
        })
        .collect();
    let doc = Doc {
        format: "rtnlprof-stat",
        version: 1,
        run,
        totals: model.totals(),
        handlers,
    };
    serde_json::to_string_pretty(&doc).expect("serializable")
}

fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

pub fn text(model: &Model, run: &RunInfo) -> String {
    let mut out = String::new();
    let t = model.totals();
    let util = if run.wall_ns > 0 {
        100.0 * t.hold_ns as f64 / run.wall_ns as f64
    } else {
        0.0
    };
    out += &format!(
        "RTNL on {}: {} requests, {} holds over {} ms; held {} ms ({util:.1}% of the time), waited {} ms\n",
        run.kernel,
        t.requests,
        t.holds,
        ms(run.wall_ns),
        ms(t.hold_ns),
        ms(t.wait_ns)
    );
    let k = &run.kernel_stats;
    out += &format!(
        "contended waits {} (contention_begin {}, contention_end {}), grace periods under RTNL {} ({} ms), lost events {}, skipped program runs {}\n",
        t.contended_waits,
        k.contention_begin,
        k.contention_end,
        t.gp_count,
        ms(t.gp_ns),
        k.lost_events,
        k.recursion_misses
    );
    if k.lost_events > 0 {
        out += &format!(
            "WARNING: {} events were lost (ring buffer full): counts below are short; raise --ring-bytes\n",
            k.lost_events
        );
    }
    if run.decode_errors > 0 {
        out += &format!(
            "WARNING: {} records could not be decoded\n",
            run.decode_errors
        );
    }
    out += "\n";
    let name_w = model
        .handlers
        .keys()
        .map(|h| h.name().len())
        .max()
        .unwrap_or(7)
        .max(7);
    out += &format!(
        "{:<name_w$} {:>8} {:>8} {:>7} {:>12} {:>10} {:>12} {:>9} {:>10}\n",
        "HANDLER", "REQS", "LOCKED", "HOLDS", "HOLD ms", "MAX us", "WAIT ms", "CONTEND", "GP ms"
    );
    for (h, s) in model.ranked() {
        out += &format!(
            "{:<name_w$} {:>8} {:>8} {:>7} {:>12} {:>10} {:>12} {:>9} {:>10}\n",
            h.name(),
            s.requests,
            s.requests_locked,
            s.holds,
            ms(s.hold_ns),
            us(s.max_hold_ns),
            ms(s.wait_ns),
            s.contended_waits,
            ms(s.gp_ns)
        );
    }
    for s in &run.skipped_hooks {
        out += &format!("note: {} not hooked: {}\n", s.target, s.cause);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{MsgType, Record, Request, Task};

    fn model() -> Model {
        let mut m = Model::new();
        let mut r = |_: i32| String::new();
        m.add(
            &Record::Request(Request {
                msg: MsgType::from_wire(2, 20, 0),
                nlmsg_flags: 0,
                task: Task {
                    tid: 1,
                    tgid: 1,
                    comm: "ip".into(),
                },
                start_ns: 0,
                end_ns: 1000,
                ret: 0,
            }),
            &mut r,
        );
        m
    }

    #[test]
    fn json_names_handlers_and_keeps_counts() {
        let run = RunInfo {
            kernel: "6.12.0".into(),
            wall_ns: 5000,
            ..Default::default()
        };
        let v: serde_json::Value = serde_json::from_str(&json(&model(), &run)).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["kernel"], "6.12.0");
        assert_eq!(v["handlers"][0]["handler"], "AF_INET RTM_NEWADDR");
        assert_eq!(v["handlers"][0]["requests"], 1);
        assert_eq!(v["handlers"][0]["type_name"], "RTM_NEWADDR");
        assert_eq!(v["totals"]["requests"], 1);
    }

    #[test]
    fn text_warns_about_lost_events() {
        let mut run = RunInfo::default();
        assert!(!text(&model(), &run).contains("WARNING"));
        run.kernel_stats.lost_events = 3;
        assert!(text(&model(), &run).contains("3 events were lost"));
    }
}
