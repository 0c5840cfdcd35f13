use super::*;

fn side(name: &str, handlers: &[(&str, u64, u64, u64)], wall_ns: u64) -> Side {
    // (handler, samples, hold ns each (spread ±10%), wait ns each (spread ±10%))
    let mut s = Side {
        name: name.into(),
        kernel: "6.12".into(),
        capture_mode: crate::run::CaptureMode::Full,
        wall_ns,
        ..Side::default()
    };
    for &(h, n, hold, wait) in handlers {
        let mut f = Figures {
            requests: n,
            holds: n,
            ..Figures::default()
        };
        for i in 0..n {
            let k = 90 + (i * 37) % 21; // 90..110 %
            f.hold.record(hold * k / 100);
            f.wait.record(wait * k / 100);
        }
        s.handlers.insert(h.into(), f);
    }
    s
}

#[test]
fn rules_parse_with_units_and_handlers() {
    let r = Rule::parse("RTM_NEWLINK:hold.p99>+15%").unwrap();
    assert_eq!(r.handler.as_deref(), Some("RTM_NEWLINK"));
    assert_eq!(r.metric, Metric::HoldQ(99));
    assert_eq!(r.threshold, Threshold::Percent(15.0));
    assert_eq!(
        Rule::parse("wait.total>+50ms").unwrap().threshold,
        Threshold::Absolute(5e7)
    );
    assert_eq!(
        Rule::parse("utilization>+5pp").unwrap().threshold,
        Threshold::Points(5.0)
    );
    assert_eq!(
        Rule::parse("holds>+10").unwrap().threshold,
        Threshold::Absolute(10.0)
    );
    for bad in [
        "hold.p99>20%",
        "hold.p100>+1%",
        "holds>+5ms",
        "RTM_X:utilization>+1pp",
        "wait.total>+x",
    ] {
        assert!(Rule::parse(bad).is_err(), "{bad}");
    }
    assert!(Rule::parse("RTM_NEWLINK:hold.p99>+1%")
        .unwrap()
        .applies_to("AF_UNSPEC RTM_NEWLINK"));
    assert!(!Rule::parse("RTM_NEWLINK:hold.p99>+1%")
        .unwrap()
        .applies_to("AF_UNSPEC RTM_NEWLINKPROP"));
}

#[test]
fn the_same_run_twice_is_no_regression() {
    let a = side(
        "a",
        &[("AF_UNSPEC RTM_NEWLINK", 200, 500_000, 20_000)],
        1_000_000_000,
    );
    let d = diff(&a, &a, &Config::default()).unwrap();
    assert_eq!(d.regressions, 0, "{:?}", d.checks);
    assert!(d.verdict().starts_with("OK: no RTNL regression"));
}

#[test]
fn waits_inflated_by_a_competing_holder_are_a_regression_named_first() {
    let base = side(
        "base",
        &[
            ("AF_UNSPEC RTM_NEWLINK", 600, 500_000, 20_000),
            ("AF_INET RTM_NEWADDR", 600, 100_000, 10_000),
        ],
        3_000_000_000,
    );
    let new = side(
        "new",
        &[
            ("AF_UNSPEC RTM_NEWLINK", 600, 500_000, 2_000_000),
            ("AF_INET RTM_NEWADDR", 600, 100_000, 10_000),
            ("AF_UNSPEC RTM_SETLINK", 600, 900_000, 0),
        ],
        3_000_000_000,
    );
    let d = diff(&base, &new, &Config::default()).unwrap();
    assert!(d.regressions >= 2, "{:?}", d.checks);
    assert_eq!(d.checks[0].handler, "AF_UNSPEC RTM_NEWLINK");
    assert!(d.checks[0].regression);
    assert_eq!(d.rows[0].handler, "AF_UNSPEC RTM_NEWLINK");
    assert!(d
        .rows
        .iter()
        .any(|r| r.handler == "AF_UNSPEC RTM_SETLINK" && r.presence == "appeared"));
    // The new holder pushes utilization from 12% to 30%.
    assert!(d
        .checks
        .iter()
        .any(|c| c.metric == "utilization" && c.regression));
    assert!(d.verdict().starts_with("REGRESSION:"));
    assert!(!d
        .checks
        .iter()
        .any(|c| c.handler == "AF_INET RTM_NEWADDR" && c.regression));
}

#[test]
fn few_samples_or_tiny_changes_are_noise() {
    let base = side("b", &[("x", 5, 1_000, 1_000)], 1_000_000_000);
    let new = side("n", &[("x", 5, 1_000, 100_000)], 1_000_000_000);
    let d = diff(&base, &new, &Config::default()).unwrap();
    assert_eq!(d.regressions, 0);
    let c = d.checks.iter().find(|c| c.metric == "wait.p99").unwrap();
    assert!(c.exceeds && !c.significant);
    assert!(c.note.as_deref().unwrap().starts_with("too few samples"));
    // p99 needs 500 samples (5 above the quantile).
    let base = side("b", &[("x", 300, 1_000, 20_000)], 1_000_000_000);
    let new = side("n", &[("x", 300, 1_000, 2_000_000)], 1_000_000_000);
    let d = diff(&base, &new, &Config::default()).unwrap();
    let c = d.checks.iter().find(|c| c.metric == "wait.p99").unwrap();
    assert_eq!(
        c.note.as_deref(),
        Some("too few samples (300 and 300, at least 500 needed)")
    );
    assert!(d
        .checks
        .iter()
        .any(|c| c.metric == "wait.total" && c.regression));
    // Many samples, +100% but only 20 µs more: below the floor.
    let base = side("b", &[("x", 600, 1_000, 20_000)], 1_000_000_000);
    let new = side("n", &[("x", 600, 1_000, 40_000)], 1_000_000_000);
    let d = diff(&base, &new, &Config::default()).unwrap();
    let c = d.checks.iter().find(|c| c.metric == "wait.p99").unwrap();
    assert!(c.exceeds && !c.regression, "{c:?}");
    assert!(c.note.as_deref().unwrap().contains("floor"));
}

#[test]
fn a_wait_total_that_grew_from_rare_waits_to_many_is_a_regression() {
    // The base waited rarely (5 contended waits of 50 µs), the new run often (300 of 2 ms): the
    // count is the change, so a total needs enough samples on the new side only.
    let cfg = Config {
        fail_on: vec!["wait.total>+50%".into()],
        ..Config::default()
    };
    let base = side(
        "a",
        &[("AF_INET RTM_NEWADDR", 5, 1_000, 50_000)],
        1_000_000_000,
    );
    let new = side(
        "b",
        &[("AF_INET RTM_NEWADDR", 300, 1_000, 2_000_000)],
        1_000_000_000,
    );
    let d = diff(&base, &new, &cfg).unwrap();
    assert_eq!(d.regressions, 1, "{:#?}", d.checks);
    // Rare on both sides: too few samples to say.
    let few = side(
        "c",
        &[("AF_INET RTM_NEWADDR", 6, 1_000, 2_000_000)],
        1_000_000_000,
    );
    let d = diff(&base, &few, &cfg).unwrap();
    assert_eq!(d.regressions, 0, "{:#?}", d.checks);
    // Quantiles still need both sides.
    let cfg = Config {
        fail_on: vec!["wait.p50>+50%".into()],
        ..Config::default()
    };
    let d = diff(&base, &new, &cfg).unwrap();
    assert_eq!(d.regressions, 0, "{:#?}", d.checks);
}
