use super::sections::sparkline;
use super::*;
use crate::events::{MsgType, Record, Request, Task};

fn model() -> Model {
    let mut m = Model::new();
    m.add(&Record::Request(Request {
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
        netns: 0,
    }));
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
    assert_eq!(v["format"], "rtnlprof-report");
    assert_eq!(v["version"], 1);
    assert_eq!(v["kernel"], "6.12.0");
    assert_eq!(v["handlers"][0]["handler"], "AF_INET RTM_NEWADDR");
    assert_eq!(v["handlers"][0]["requests"], 1);
    assert_eq!(v["handlers"][0]["type_name"], "RTM_NEWADDR");
    assert_eq!(v["totals"]["requests"], 1);
    assert_eq!(v["candidates"][0]["unlocked"], true);
}

#[test]
fn text_warns_about_lost_events() {
    let mut run = RunInfo::default();
    let o = Options::default();
    assert!(!text(&model(), &run, &o).contains("WARNING"));
    run.kernel_stats.lost_events = 3;
    assert!(text(&model(), &run, &o).contains("WARNING: 3 events were lost"));
    assert!(markdown(&model(), &run, &o).contains("**Warning:** 3 events were lost"));
}

#[test]
fn sparkline_spans_empty_to_full() {
    assert_eq!(sparkline(&[0.0, 0.5, 1.0, 2.0]), "▁▅██");
}

#[test]
fn by_netns_names_namespaces_and_adds_up() {
    use crate::trace::synthetic::caller_hold;
    let mut m = Model::new();
    for (i, ns) in [7u32, 8, 7].into_iter().enumerate() {
        let t = i as u64 * 1_000;
        let mut r = caller_hold("c", i as u32 + 1, t, t + 500, t + 1_500);
        if let Record::Hold(h) = &mut r {
            h.netns = ns;
        }
        m.add(&r);
    }
    let mut run = RunInfo {
        kernel: "6.12.0".into(),
        wall_ns: 5000,
        ..Default::default()
    };
    run.netns_names.insert(7, "seven".into());
    let opts = Options {
        top: 10,
        by: By::Netns,
    };
    let t = text(&m, &run, &opts);
    assert!(t.contains("Holds and waits by network namespace"), "{t}");
    assert!(t.contains("seven (7)"), "{t}");
    assert!(t.contains("network namespaces 2:"), "{t}");
    assert!(t.contains("what per-netns RTNL would save"), "{t}");
    let v: serde_json::Value = serde_json::from_str(&json(&m, &run)).unwrap();
    let rows = v["netns"].as_array().unwrap();
    let sum = |k: &str| rows.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("holds"), v["totals"]["holds"].as_u64().unwrap());
    assert_eq!(sum("wait_ns"), v["totals"]["wait_ns"].as_u64().unwrap());
    assert_eq!(sum("hold_ns"), v["totals"]["hold_ns"].as_u64().unwrap());
    assert!(sum("cross_wait_ns") > 0);
}

/// The hold columns of a capture without holds say n/a (from the rows' type, whatever the
/// table); a full capture's never do.
#[test]
fn hold_columns_say_na_exactly_when_the_mode_measured_no_holds() {
    for by in [By::Type, By::Caller, By::Task] {
        let opts = Options { top: 20, by };
        for (mode, na) in [
            (crate::run::CaptureMode::Tracepoint, true),
            (crate::run::CaptureMode::Full, false),
        ] {
            let run = RunInfo {
                capture_mode: mode,
                ..Default::default()
            };
            let t = text(&model(), &run, &opts);
            let row = t
                .lines()
                .find(|l| l.starts_with("AF_INET RTM_NEWADDR") || l.starts_with("ip "));
            if by == By::Caller {
                assert!(row.is_none(), "{t}");
                continue;
            }
            let row = row.unwrap_or_else(|| panic!("{by:?} {mode:?}: no row in\n{t}"));
            let cells = row.matches("n/a").count();
            let want = match (by, na) {
                (_, false) => 0,
                (By::Type, true) => 8,
                (_, true) => 3,
            };
            assert_eq!(cells, want, "{by:?} {mode:?}: {row}");
        }
    }
}
