//! Figures behind `cargo xtask bench serve` measured in-process: the time to render `/metrics`
//! for a model with ROWS handlers (half message types, half kernel callers, all with series of
//! their own), and its size. With FILE, it writes that model's records as a recording for xtask
//! to serve and scrape over HTTP.
//!
//! Usage: bench-serve ROWS [FILE]

use std::time::Instant;

use rtnlprof::{
    model::Model,
    trace::synthetic::{many_handlers, write_records},
    views::metrics::{render, CallerLabels, Info},
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args.get(1).map_or(200, |s| s.parse().expect("ROWS"));
    let records = many_handlers(rows, 200);
    if let Some(file) = args.get(2) {
        write_records(file.as_ref(), &records).expect("write the recording");
        return;
    }
    let mut m = Model::new();
    records.iter().for_each(|r| m.add(r));
    let mut labels = CallerLabels::new(rows);
    labels.update(&m);
    let info = Info::default();
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..50 {
        let t = Instant::now();
        let text = render(&m, &labels, None, &info);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        size = text.len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "render /metrics ({rows} handlers): median {:.2} ms, max {:.2} ms over {} renders; {} bytes, {} lines",
        times[times.len() / 2],
        times[times.len() - 1],
        times.len(),
        size,
        render(&m, &labels, None, &info).lines().count()
    );
}
