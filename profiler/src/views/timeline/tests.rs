//! The timelines of the recordings the guests made (profiler/tests/fixtures): every hold once,
//! slices that nest, flows that pair, Firefox weights that add up to the hold time.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::{chrome::ChromeWriter, firefox::FirefoxBuilder, Filter};
use crate::{
    events::{Hold, HoldContext, Record},
    trace::{reader::Reader, Header},
};

fn fixture(series: &str) -> (Header, Vec<Record>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{series}.rtnl"));
    let mut reader = Reader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut all = Vec::new();
    let mut batch = Vec::new();
    loop {
        batch.clear();
        let more = reader.next_frame(&mut batch).unwrap();
        all.append(&mut batch);
        if !more {
            break;
        }
    }
    (reader.header.clone(), all)
}

fn chrome(header: &Header, records: &[Record], filter: Filter) -> (Value, super::chrome::Stats) {
    let mut w = ChromeWriter::new(Vec::new(), header, filter).unwrap();
    for r in records {
        w.record(r).unwrap();
    }
    let (bytes, stats) = w.finish().unwrap();
    (
        serde_json::from_slice(&bytes).expect("the export is JSON"),
        stats,
    )
}

fn ns(v: &Value) -> u64 {
    (v.as_f64().expect("a number") * 1000.0).round() as u64
}

fn holds(records: &[Record]) -> Vec<&Hold> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Hold(h) => Some(h),
            _ => None,
        })
        .collect()
}

/// (start, end, category) of a complete slice.
type Slice = (u64, u64, String);

/// (pid, tid) -> the complete slices on that track.
fn tracks(events: &[Value]) -> HashMap<(u64, u64), Vec<Slice>> {
    let mut t: HashMap<(u64, u64), Vec<Slice>> = HashMap::new();
    for e in events.iter().filter(|e| e["ph"] == "X") {
        let s = ns(&e["ts"]);
        t.entry((e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
            .or_default()
            .push((s, s + ns(&e["dur"]), e["cat"].as_str().unwrap().to_owned()));
    }
    t
}

#[test]
fn every_hold_once_slices_nest_and_flows_pair() {
    for series in ["6.1", "6.12"] {
        let (header, records) = fixture(series);
        let (json, stats) = chrome(&header, &records, Filter::default());
        let events = json["traceEvents"].as_array().unwrap();
        let origin = header.start_mono_ns;

        // 1. Every hold of the recording appears exactly once, as itself.
        let mut want: BTreeMap<(u64, u64, u64), u32> = BTreeMap::new();
        for h in holds(&records) {
            *want
                .entry((
                    u64::from(h.task.tid),
                    h.acquired_ns - origin,
                    h.released_ns - origin,
                ))
                .or_default() += 1;
        }
        let mut got: BTreeMap<(u64, u64, u64), u32> = BTreeMap::new();
        for e in events
            .iter()
            .filter(|e| e["cat"] == "hold" && e["ph"] == "X")
        {
            let s = ns(&e["ts"]);
            *got.entry((e["tid"].as_u64().unwrap(), s, s + ns(&e["dur"])))
                .or_default() += 1;
        }
        let async_holds = events
            .iter()
            .filter(|e| e["cat"] == "hold" && e["ph"] == "b")
            .count();
        assert_eq!(async_holds, 0, "{series}: holds nest on their tracks");
        assert_eq!(got, want, "{series}: holds in the export");
        assert!(want.values().all(|&n| n == 1));
        assert_eq!(stats.holds as usize, holds(&records).len());

        // 2. Slices on a track nest: sorted by start (longest first), each either ends before
        // the next starts or contains it.
        for (track, mut slices) in tracks(events) {
            slices.sort_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
            let mut stack: Vec<(u64, u64)> = Vec::new();
            for (s, e, cat) in slices {
                while stack.last().is_some_and(|&(_, pe)| pe <= s) {
                    stack.pop();
                }
                if let Some(&(ps, pe)) = stack.last() {
                    assert!(
                        ps <= s && e <= pe,
                        "{series}: {cat} [{s}, {e}] overlaps [{ps}, {pe}] on {track:?} without nesting"
                    );
                }
                stack.push((s, e));
            }
        }

        // 3. Flows pair up: one start and one finish per id, the start in a hold on the
        // holder's track, the finish in a wait on the waiter's, not before the start.
        let tr = tracks(events);
        let within = |pid: u64, tid: u64, t: u64, cat: &str| {
            tr.get(&(pid, tid))
                .is_some_and(|v| v.iter().any(|(s, e, c)| c == cat && *s <= t && t <= *e))
        };
        let mut flows: HashMap<u64, Vec<&Value>> = HashMap::new();
        for e in events.iter().filter(|e| e["ph"] == "s" || e["ph"] == "f") {
            flows.entry(e["id"].as_u64().unwrap()).or_default().push(e);
        }
        assert_eq!(flows.len() as u64, stats.flows, "{series}");
        for (id, pair) in &flows {
            let s = pair.iter().filter(|e| e["ph"] == "s").collect::<Vec<_>>();
            let f = pair.iter().filter(|e| e["ph"] == "f").collect::<Vec<_>>();
            assert!(
                s.len() == 1 && f.len() == 1,
                "{series}: flow {id}: {pair:?}"
            );
            let (s, f) = (s[0], f[0]);
            let (ts, tf) = (ns(&s["ts"]), ns(&f["ts"]));
            assert!(ts <= tf, "{series}: flow {id} goes back in time");
            let track = |e: &Value| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
            assert!(within(track(s).0, track(s).1, ts, "hold"), "{series}: {s}");
            assert!(within(track(f).0, track(f).1, tf, "wait"), "{series}: {f}");
        }
        // The recordings have contended waits: there are arrows to check.
        assert!(stats.flows > 0, "{series}: no flows");
        // The arrows are the model's blame: their overlaps add up to its wait behind holders.
        let overlap: u64 = events
            .iter()
            .filter(|e| e["ph"] == "s")
            .map(|e| ns(&e["args"]["overlap_us"]))
            .sum();
        let mut model = crate::model::Model::new();
        records.iter().for_each(|r| model.add(r));
        assert_eq!(
            overlap,
            model.totals().behind_ns,
            "{series}: arrows vs blame"
        );
        assert!(overlap > 0);

        // 4. Counters: RTNL is never held twice, never negative; waiters never negative.
        let counters: Vec<&Value> = events
            .iter()
            .filter(|e| e["ph"] == "C" && e["name"] == "RTNL")
            .collect();
        assert!(!counters.is_empty());
        for c in &counters {
            let held = c["args"]["held"].as_i64().unwrap();
            assert!((0..=1).contains(&held), "{series}: {c}");
            assert!(c["args"]["waiters"].as_i64().unwrap() >= 0, "{series}: {c}");
        }
        assert_eq!(counters.last().unwrap()["args"]["held"], 0);
        assert_eq!(stats.late_for_counters, 0);
    }
}

#[test]
fn firefox_weights_add_up_to_the_hold_time() {
    for series in ["6.1", "6.12"] {
        let (header, records) = fixture(series);
        let mut b = FirefoxBuilder::new(&header, Filter::default());
        records.iter().for_each(|r| b.record(r));
        let mut out = Vec::new();
        let (n, weight_us) = b.finish(&mut out).unwrap();
        let total_ns: u64 = holds(&records).iter().map(|h| h.hold_ns()).sum();
        assert_eq!(n as usize, holds(&records).len());
        // Loaded back: the weights of every thread's samples.
        let p: Value = serde_json::from_slice(&out).expect("the profile is JSON");
        let mut sum = 0i64;
        for t in p["threads"].as_array().unwrap() {
            let s = &t["samples"];
            assert_eq!(s["weightType"], "samples");
            sum += s["weight"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_i64().unwrap())
                .sum::<i64>();
        }
        assert_eq!(sum as u64, total_ns / 1000, "{series}: weights in µs");
        assert_eq!(weight_us, total_ns / 1000);
        assert_eq!(
            p["meta"]["interval"].as_f64(),
            Some(0.001),
            "1 µs per weight unit"
        );
        // The stacks name the handlers.
        let strings: String = p["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["stringArray"].to_string())
            .collect();
        for s in [
            "rtnl_mutex",
            "RTM_NEWLINK",
            "RTM_DELLINK",
            "RCU grace periods",
        ] {
            assert!(strings.contains(s), "{series}: {s} in {strings}");
        }
    }
}

#[test]
fn type_and_time_filters_cut_the_export() {
    let (header, records) = fixture("6.12");
    let newlink = holds(&records)
        .into_iter()
        .filter(|h| {
            matches!(&h.context, HoldContext::Request { msg, .. } | HoldContext::DumpContinue { msg, .. } if msg.nlmsg_type == 16)
        })
        .count() as u64;
    let (json, stats) = chrome(
        &header,
        &records,
        Filter {
            msg_type: Some(16),
            ..Default::default()
        },
    );
    assert_eq!(stats.holds, newlink);
    assert!(json["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cat"] == "hold")
        .all(|e| e["name"].as_str().unwrap().ends_with("RTM_NEWLINK")));

    let all = holds(&records);
    let mid = (all[0].wait_start_ns + all.last().unwrap().released_ns) / 2;
    let (from, to) = (mid - 50_000_000, mid + 50_000_000);
    let want = all
        .iter()
        .filter(|h| h.released_ns >= from && h.wait_start_ns <= to)
        .count() as u64;
    let (_, stats) = chrome(
        &header,
        &records,
        Filter {
            from_ns: Some(from),
            to_ns: Some(to),
            ..Default::default()
        },
    );
    assert_eq!(stats.holds, want);
    assert!(want > 0 && want < all.len() as u64, "{want}");
}

#[test]
fn a_slice_that_would_not_nest_goes_on_an_async_track() {
    use crate::trace::synthetic::plain_hold;
    let header = Header {
        start_mono_ns: 0,
        ..Default::default()
    };
    // Two holds of one thread that overlap (impossible for one mutex, but a corrupt or merged
    // recording may say so): the second cannot nest in the first.
    let a = plain_hold(1, 100, 100, 1_000);
    let b = plain_hold(1, 500, 500, 2_000);
    let (json, stats) = chrome(&header, &[a, b], Filter::default());
    assert_eq!(stats.async_slices, 1);
    let ev = json["traceEvents"].as_array().unwrap();
    assert_eq!(ev.iter().filter(|e| e["ph"] == "b").count(), 1);
    assert_eq!(ev.iter().filter(|e| e["ph"] == "e").count(), 1);
}

#[test]
fn holds_in_a_namespace_also_go_on_its_track() {
    use crate::trace::synthetic::plain_hold;
    let mut header = Header::default();
    header.netns_names.insert(7, "seven".into());
    let mut records = vec![
        plain_hold(1, 100, 100, 1_000),
        plain_hold(2, 1_500, 1_500, 2_000),
        plain_hold(3, 2_500, 2_500, 3_000),
    ];
    for (r, ns) in records.iter_mut().zip([7, 8, 0]) {
        if let Record::Hold(h) = r {
            h.netns = ns;
        }
    }
    let (json, _) = chrome(&header, &records, Filter::default());
    let ev = json["traceEvents"].as_array().unwrap();
    let on_tracks: Vec<&Value> = ev.iter().filter(|e| e["cat"] == "netns").collect();
    assert_eq!(
        on_tracks.len(),
        2,
        "the hold of an unknown namespace has no track"
    );
    let names: Vec<&str> = ev
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .filter(|n| n.starts_with("netns"))
        .collect();
    assert_eq!(names, vec!["netns seven (7)", "netns 8"]);
}
