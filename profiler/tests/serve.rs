//! `rtnlprof serve` scraped by a real Prometheus (Debian's, installed by `cargo xtask setup`):
//! the series a replayed guest recording yields, and every PromQL expression of the dashboards
//! and rules in `dashboards/`, run against it.

#[path = "common/gate.rs"]
#[allow(dead_code)]
mod gate;

#[path = "common/http.rs"]
mod http;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use http::get;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_rtnlprof");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until(secs: u64, what: &str, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "waited {secs} s for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Prom {
    port: u16,
}

impl Prom {
    /// The result vector of an instant query; panics if Prometheus refuses the expression.
    fn query(&self, expr: &str) -> Vec<Value> {
        let (status, body) = get(self.port, &format!("/api/v1/query?query={}", encode(expr)))
            .expect("Prometheus answers");
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert!(
            status == 200 && v["status"] == "success",
            "Prometheus refused {expr:?}: {status} {body}"
        );
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// handler label -> value, of a vector of series with a `handler` label.
    fn by_handler(&self, expr: &str) -> std::collections::BTreeMap<String, f64> {
        self.query(expr)
            .iter()
            .map(|s| {
                (
                    s["metric"]["handler"].as_str().unwrap_or("").to_owned(),
                    s["value"][1].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }
}

/// Grafana's variables, as a dashboard would expand them.
fn expand(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "5m")
        .replace("$__interval", "15s")
        .replace("\"$instance\"", "\".*\"")
}

fn exprs_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    // A templating query: label_values(METRIC, LABEL) asks for METRIC's series.
                    ("query", Value::String(q)) if q.starts_with("label_values(") => {
                        let inner = &q["label_values(".len()..];
                        out.push(inner.split(',').next().unwrap().trim().to_owned());
                    }
                    _ => exprs_of(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| exprs_of(x, out)),
        _ => {}
    }
}

#[test]
fn prometheus_scrapes_serve_and_every_dashboard_and_rule_expression_returns_data() {
    if !gate::tool("prometheus_scrapes_serve", "prometheus")
        || !gate::tool("prometheus_scrapes_serve", "promtool")
    {
        return;
    }
    let fixture = root().join("profiler/tests/fixtures/6.12.rtnl");
    let dir = std::env::temp_dir().join(format!("rtnlprof-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // rtnlprof serve, replaying a guest recording.
    let serve_port = free_port();
    let _serve = Killed(
        Command::new(BIN)
            .args(["serve", "--speed", "max", "--listen"])
            .arg(format!("127.0.0.1:{serve_port}"))
            .arg("--replay")
            .arg(&fixture)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(20, "rtnlprof serve", || {
        get(serve_port, "/healthz").is_ok_and(|(s, b)| s == 200 && b.contains("replay finished"))
    });

    // A real Prometheus scraping it every second, with the project's rules.
    let rules = root().join("dashboards/prometheus/rtnl-rules.yml");
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool (cargo xtask setup installs Debian's prometheus)");
    assert!(
        check.status.success(),
        "promtool check rules: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    let prom_port = free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: rtnlprof\n    static_configs:\n      - targets: ['127.0.0.1:{serve_port}']\n",
            rules.display()
        ),
    )
    .unwrap();
    let _prom = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (cargo xtask setup installs Debian's)"),
    );
    let prom = Prom { port: prom_port };
    wait_until(
        60,
        "Prometheus to scrape serve 3 times and evaluate the rules",
        || {
            get(prom_port, "/-/ready").is_ok_and(|(s, _)| s == 200)
                && prom
                    .query(r#"count_over_time(up{job="rtnlprof"}[1m]) >= 3"#)
                    .len()
                    == 1
                && !prom.query("instance:rtnl_utilization:rate5m").is_empty()
        },
    );

    // The series hold the recording's figures.
    let (model, _) = rtnlprof::cmd::report::load(&fixture, false).unwrap();
    let acquisitions = prom.by_handler("rtnl_acquisitions_total");
    let requests = prom.by_handler("rtnl_requests_total");
    let hold_counts = prom.by_handler("rtnl_hold_seconds_count");
    let hold_sums = prom.by_handler("rtnl_hold_seconds_sum");
    let gp = prom.by_handler("rtnl_grace_period_seconds_total");
    for (h, s) in &model.handlers {
        let name = h.name();
        assert_eq!(acquisitions.get(&name), Some(&(s.holds as f64)), "{name}");
        assert_eq!(hold_counts.get(&name), Some(&(s.holds as f64)), "{name}");
        let sum = hold_sums[&name];
        assert!(
            (sum - s.hold_ns() as f64 / 1e9).abs() < 1e-9,
            "{name}: {sum}"
        );
        assert!((gp[&name] - s.gp_ns as f64 / 1e9).abs() < 1e-9, "{name}");
        if let rtnlprof::model::Handler::Msg(_) = h {
            assert_eq!(requests.get(&name), Some(&(s.requests as f64)), "{name}");
        }
    }
    assert_eq!(acquisitions.len(), model.handlers.len());
    let held: u64 = model.held_per_second.iter().sum();
    let v = prom.query("rtnl_held_seconds_total");
    let got: f64 = v[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((got - held as f64 / 1e9).abs() < 1e-9, "{got}");
    let build = prom.query("rtnlprof_build_info");
    assert_eq!(build[0]["metric"]["kernel"], "6.12.117+deb12-cloud-amd64");

    // Every expression of the dashboards returns data.
    let mut checked = 0;
    for d in ["rtnl-host.json", "rtnl-fleet.json"] {
        let v: Value = serde_json::from_slice(
            &std::fs::read(root().join("dashboards/grafana").join(d)).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{d}: {e}"));
        let mut exprs = Vec::new();
        exprs_of(&v, &mut exprs);
        assert!(exprs.len() >= 8, "{d}: {exprs:?}");
        for e in exprs {
            let q = expand(&e);
            assert!(!prom.query(&q).is_empty(), "{d}: {q} returned no data");
            checked += 1;
        }
    }
    // And every rule: recording rules by what they record; an alert by its expression without
    // the threshold (the alerts do not fire on this recording, which is the right answer).
    let text = std::fs::read_to_string(&rules).unwrap();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("- record:") {
            assert!(!prom.query(name.trim()).is_empty(), "recorded {name}");
            checked += 1;
        } else if let Some(e) = line.strip_prefix("expr:") {
            let lhs = [" > ", " == ", " < "]
                .iter()
                .find_map(|op| e.rsplit_once(op).map(|(l, _)| l))
                .unwrap_or(e)
                .trim();
            assert!(
                !prom.query(lhs).is_empty(),
                "rule {e}: {lhs} returned no data"
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "{checked} expressions");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refusals_are_one_line_with_exit_2() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let fixture = root().join("profiler/tests/fixtures/6.12.rtnl");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--listen".into(),
                format!("127.0.0.1:{port}"),
                "--replay".into(),
                fixture.display().to_string(),
            ],
            "Address already in use",
        ),
        (
            vec!["--listen".into(), "nowhere".into()],
            "is not an address",
        ),
        (vec!["--listen".into(), "0.0.0.0:0".into()], "add --expose"),
        (
            vec![
                "--listen".into(),
                "127.0.0.1:0".into(),
                "--replay".into(),
                "/nonexistent.rtnl".into(),
            ],
            "/nonexistent.rtnl",
        ),
        // This host refuses the full capture (no trampolines, no rtnl_mutex symbol).
        (
            vec![
                "--listen".into(),
                "127.0.0.1:0".into(),
                "--mode".into(),
                "full".into(),
            ],
            "rtnl_mutex",
        ),
    ];
    for (args, want) in cases {
        let out = Command::new(BIN).arg("serve").args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// Live on this host, `serve` falls back to the tracepoint mode: it says so in
/// `rtnlprof_build_info` and leaves out the families that mode cannot measure.
#[test]
fn live_on_this_host_serves_the_tracepoint_mode_without_hold_families() {
    if !gate::root("live_on_this_host_serves_the_tracepoint_mode") {
        return;
    }
    let port = free_port();
    let _serve = Killed(
        Command::new(BIN)
            .args(["serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(60, "serve to answer", || {
        http::get(port, "/healthz").is_ok()
    });
    let mut text = String::new();
    wait_until(30, "rtnetlink requests in /metrics", || {
        let _ = Command::new("ip").args(["-d", "link", "show"]).output();
        text = http::get(port, "/metrics").map(|r| r.1).unwrap_or_default();
        text.contains("rtnl_requests_total{")
    });
    assert!(
        text.contains(r#"capture_mode="tracepoint""#),
        "{}",
        &text[..text.len().min(3000)]
    );
    for family in [
        "rtnl_hold_seconds",
        "rtnl_held_seconds",
        "rtnl_utilization_ratio",
    ] {
        assert!(
            !text.lines().any(|l| l.starts_with(family)),
            "{family} in tracepoint mode"
        );
    }
    assert!(text.contains("rtnl_wait_seconds"), "wait histograms stay");
}
