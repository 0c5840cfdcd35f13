//! Figures behind `cargo xtask bench tui` measured in-process: the time to draw one frame of
//! `top` with ROWS rows (TestBackend, 160×48, as ratatui draws into a real terminal minus the
//! write), and the time to rebuild the snapshot behind it (done twice a second). The CPU share of
//! a real `top --replay` is measured by xtask from outside.
//!
//! Usage: bench-tui ROWS, or bench-tui ROWS FILE N to write a synthetic recording of N records
//! for xtask to replay.

use std::{hint::black_box, time::Instant};

use ratatui::{backend::TestBackend, Terminal};
use rtnlprof::{
    model::Model,
    tui::{app::App, render, view::HeaderInfo, view::Snapshot},
};

/// A model with `rows` handlers: half message types, half kernel callers, 200 holds each.
fn model(rows: usize) -> Model {
    let mut m = Model::new();
    for r in rtnlprof::trace::synthetic::many_handlers(rows, 200) {
        m.add(&r);
    }
    m
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q) as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args.get(1).map_or(200, |s| s.parse().expect("ROWS"));
    if let (Some(file), Some(n)) = (args.get(2), args.get(3)) {
        let n: usize = n.parse().expect("N");
        let span = rtnlprof::trace::synthetic::write_recording(file.as_ref(), n).expect("write");
        println!("recording: {n} records over {:.1} s", span as f64 / 1e9);
        return;
    }
    let m = model(rows);

    let mut builds = Vec::new();
    let mut snap = None;
    for _ in 0..20 {
        let t = Instant::now();
        snap = Some(black_box(Snapshot::new(
            &m,
            HeaderInfo {
                kernel: "bench".into(),
                mode: rtnlprof::run::CaptureMode::Full,
                source: "live".into(),
                utilization_history: (0..60).map(|i| i * 16).collect(),
                ..Default::default()
            },
            "since start".into(),
        )));
        builds.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut app = App::default();
    app.set_snapshot(snap.expect("built"));
    assert_eq!(app.snapshot.rows.len(), rows, "distinct handlers");

    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("test terminal");
    let mut frames = Vec::new();
    for i in 0..2_000 {
        // Move the selection so every frame differs, as when a user scrolls.
        app.update(if (i / rows).is_multiple_of(2) {
            rtnlprof::tui::app::Action::Down
        } else {
            rtnlprof::tui::app::Action::Up
        });
        let t = Instant::now();
        term.draw(|f| render::draw(f, &app)).expect("draw");
        frames.push(t.elapsed().as_secs_f64() * 1e3);
    }
    app.update(rtnlprof::tui::app::Action::ToggleDetail);
    let mut detail = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        term.draw(|f| render::draw(f, &app)).expect("draw");
        detail.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "frame ({rows} rows, 160x48): median {:.3} ms, p99 {:.3} ms over {} draws; with the detail pane median {:.3} ms",
        percentile(&mut frames, 0.5),
        percentile(&mut frames, 0.99),
        frames.len(),
        percentile(&mut detail, 0.5),
    );
    println!(
        "snapshot rebuild ({rows} rows, every 500 ms): median {:.2} ms over {} builds",
        percentile(&mut builds, 0.5),
        builds.len()
    );
}
