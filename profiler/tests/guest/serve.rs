//! Live `rtnlprof serve` during a known workload: one scrape, counters equal to what was sent.

use std::{
    io::Read,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::http::get;
use crate::support::{Workload, RTNLPROF, WORKLOAD};

fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn serve_counts_a_known_workload_in_one_scrape() {
    let port = 9464;
    let mut serve = Command::new(RTNLPROF)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rtnlprof serve");
    let t = Instant::now();
    while !get(port, "/healthz").is_ok_and(|(s, _)| s == 200) {
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "serve did not come up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let n = 12;
    let out = Command::new(WORKLOAD)
        .args([
            "prefix=srv",
            &format!("links:{n}"),
            &format!("addrs:{n}"),
            &format!("dellinks:{n}"),
        ])
        .output()
        .expect("run the workload");
    assert!(out.status.success());
    let w: Workload = serde_json::from_slice(&out.stdout).unwrap();
    // The records reach the model within a few ring-buffer polls.
    std::thread::sleep(Duration::from_millis(500));
    let (status, metrics) = get(port, "/metrics").expect("scrape");
    assert_eq!(status, 200);
    crate::support::export("serve-metrics.txt", metrics.as_bytes());
    for s in &w.sent {
        let name = match (s.family, s.r#type) {
            (0, 16) => "AF_UNSPEC RTM_NEWLINK",
            (2, 20) => "AF_INET RTM_NEWADDR",
            (0, 17) => "AF_UNSPEC RTM_DELLINK",
            other => panic!("unexpected {other:?}"),
        };
        let l = format!("{{handler=\"{name}\",kind=\"rtnetlink\"}}");
        assert_eq!(
            value(&metrics, &format!("rtnl_requests_total{l}")),
            Some(s.count as f64),
            "{name}"
        );
        assert_eq!(
            value(&metrics, &format!("rtnl_acquisitions_total{l}")),
            Some(s.count as f64),
            "{name}"
        );
        assert_eq!(
            value(&metrics, &format!("rtnl_hold_seconds_count{l}")),
            Some(s.count as f64),
            "{name}"
        );
    }
    assert_eq!(value(&metrics, "rtnl_lost_events_total"), Some(0.0));
    assert!(value(&metrics, "rtnl_held_seconds_total").unwrap() > 0.0);
    // SIGTERM: a clean stop, programs detached.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(serve.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = serve.wait().unwrap();
    let mut err = String::new();
    serve
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status}: {err}");
    assert_eq!(crate::capture::our_programs(), 0, "programs left attached");
}
