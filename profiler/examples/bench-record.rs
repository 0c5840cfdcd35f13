//! Figures behind `cargo xtask bench record`: what `rtnlprof record` spends in userspace per event
//! (decoding a ring-buffer record, encoding it into the file, compressing a frame each second),
//! on one core. Under the guests' software emulation every microsecond here costs the profiled
//! workload tens of microseconds, so this is the part of the overhead rtnlprof controls.
//!
//! Usage: bench-record EVENTS

use std::{hint::black_box, time::Instant};

use profiler_common::{Event, EventKind, MsgKey, Origin};
use rtnlprof::{
    events::Record,
    trace::{writer::Writer, Footer, Header},
};

/// A ring-buffer record as the kernel writes it for `ip` in a doit: a request with its hold
/// (RequestHold), which userspace turns into two records.
fn event(i: u64) -> Event {
    let mut ev = Event::zeroed();
    ev.kind = EventKind::RequestHold as u8;
    ev.origin = Origin::Doit as u8;
    ev.lock_fn = 1;
    ev.tid = 1000 + (i % 4) as u32;
    ev.tgid = ev.tid;
    ev.msg = MsgKey {
        nlmsg_type: 18,
        nlmsg_flags: 1,
        family: 0,
        _pad: [0; 3],
        req_tid: ev.tid,
        req_start: 1_000_000_000 + i * 100_000,
    };
    ev.t_start = ev.msg.req_start + 5_000;
    ev.t_acquired = ev.t_start + 1_000;
    ev.t_end = ev.t_start + 20_000;
    ev.req_end = ev.t_end + 3_000;
    ev.comm = *b"ip\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    ev.netns = 4026531840;
    ev
}

fn main() {
    let events: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("usage: bench-record EVENTS");
    let raw: Vec<Event> = (0..events).map(event).collect();
    let mut caller = |_: i32| String::from("(none)");

    let t = Instant::now();
    let mut decoded = Vec::with_capacity(2 * raw.len());
    for ev in &raw {
        Record::decode_into(ev, &mut caller, &mut decoded).expect("decodes");
    }
    let decode = t.elapsed().as_secs_f64();

    // Frames as record cuts them: one per second of events at 15,000 events/s.
    let t = Instant::now();
    let mut w = Writer::new(
        std::io::sink(),
        &Header {
            capture_mode: rtnlprof::run::CaptureMode::Full,
            ..Header::default()
        },
    )
    .expect("header");
    for (i, r) in decoded.iter().enumerate() {
        w.push(r).expect("push");
        if (i + 1) % 15_000 == 0 {
            w.flush().expect("flush");
        }
    }
    w.finish(Footer::default()).expect("finish");
    let write = t.elapsed().as_secs_f64();
    black_box(&decoded);
    // Per event: a request or a hold (a ring-buffer record here carries one of each).
    let n = decoded.len() as f64;
    let per = |s: f64| s * 1e9 / n;
    println!(
        "record path, per event (request or hold; two per ring record): decode {:.0} ns, encode + compress + write {:.0} ns, total {:.0} ns ({:.2} M events/s on one core)",
        per(decode),
        per(write),
        per(decode + write),
        n / (decode + write) / 1e6
    );
}
