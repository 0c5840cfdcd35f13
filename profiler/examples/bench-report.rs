//! Figures behind `cargo xtask bench report`: events per second through the model (one core) and
//! bytes per event on disk of a realistic synthetic file, which it leaves at FILE for xtask to
//! time `rtnlprof report` on (measured from xtask, a small process: a child forked from this one
//! would count this process's memory in its peak).
//!
//! Usage: bench-report EVENTS FILE
//!        bench-report model-pass EVENTS [contended]   (one pass through the model, for callgrind)

use std::{hint::black_box, time::Instant};

use rtnlprof::{
    events::Record,
    model::Model,
    trace::{synthetic::Realistic, writer::Writer, Footer, Header},
};

/// Every third acquisition starts waiting 300 µs before it gets RTNL, behind the holds before
/// it, so the blame matching has pairs to find.
fn contend(sample: &[Record]) -> Vec<Record> {
    sample
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            Record::Hold(h) if i % 3 == 0 => {
                let mut h = h.clone();
                h.wait_start_ns = h.wait_start_ns.saturating_sub(300_000);
                Record::Hold(h)
            }
            other => other.clone(),
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("model-pass") {
        // xtask counts the instructions of Model::add in this pass with callgrind.
        let n: usize = args.get(2).and_then(|a| a.parse().ok()).expect("EVENTS");
        let mut sample: Vec<Record> = Realistic::new().take(n).collect();
        if args.get(3).is_some() {
            sample = contend(&sample);
        }
        let mut m = Model::new();
        for r in &sample {
            m.add(r);
        }
        black_box(&m);
        return;
    }
    let (Some(events), Some(path)) = (args.get(1), args.get(2)) else {
        panic!("usage: bench-report EVENTS FILE");
    };
    let events: usize = events.parse().expect("EVENTS");

    // 1. The model alone, on records already in memory.
    let sample: Vec<Record> = Realistic::new().take(2_000_000).collect();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut m = Model::new();
        for r in &sample {
            m.add(r);
        }
        black_box(&m);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "model:  {:.1} M events/s on one core (best of 5 passes over {} events)",
        sample.len() as f64 / best / 1e6,
        sample.len()
    );
    // 1b. The same with contention.
    let contended = contend(&sample);
    drop(sample);
    let mut best = f64::MAX;
    let mut blamed = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let mut m = Model::new();
        for r in &contended {
            m.add(r);
        }
        blamed = m.handlers.values().map(|s| s.blamed_ns).sum::<u64>();
        black_box(&m);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "model:  {:.1} M events/s on one core with contention (every third wait behind earlier holds; {:.1} ms of blame; best of 5)",
        contended.len() as f64 / best / 1e6,
        blamed as f64 / 1e6
    );
    drop(contended);

    // 2. A file of `events` realistic events.
    let t = Instant::now();
    let f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut w = Writer::new(
        f,
        &Header {
            kernel: "synthetic".into(),
            clock: "CLOCK_MONOTONIC".into(),
            capture_mode: rtnlprof::run::CaptureMode::Full,
            start_mono_ns: 1_000_000_000,
            ..Header::default()
        },
    )
    .expect("header");
    for r in Realistic::new().take(events) {
        w.push(&r).expect("write");
    }
    w.finish(Footer::default()).expect("finish");
    let size = std::fs::metadata(path).expect("stat").len();
    println!(
        "disk:   {:.2} bytes/event ({} events, {} bytes, written in {:.1} s)",
        size as f64 / events as f64,
        events,
        size,
        t.elapsed().as_secs_f64()
    );
}
