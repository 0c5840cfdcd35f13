//! Network namespaces (issue: per-netns RTNL): requests and holds carry the namespace they act
//! in, and waits behind holders of another namespace are what per-netns RTNL would save.

use std::os::unix::fs::MetadataExt;

use serde_json::Value;

use crate::support::{sh, stat_json, Stat, Workload};

fn inode(ns: &str) -> u64 {
    std::fs::metadata(format!("/run/netns/{ns}"))
        .unwrap_or_else(|e| panic!("/run/netns/{ns}: {e}"))
        .ino()
}

fn netns_rows(stat: &Stat) -> Vec<Value> {
    stat.0["netns"].as_array().cloned().unwrap_or_default()
}

fn row(stat: &Stat, ns: &str) -> Value {
    let ino = inode(ns);
    netns_rows(stat)
        .into_iter()
        .find(|r| r["inode"] == ino)
        .unwrap_or_else(|| panic!("no row for {ns} ({ino}) in {}", stat.0["netns"]))
}

fn total(w: &Workload) -> u64 {
    w.sent.iter().map(|s| s.count).sum()
}

/// The per-namespace rows add up to the totals.
fn assert_rows_add_up(stat: &Stat) {
    let t = stat.totals();
    for (key, row_key) in [
        ("requests", "requests"),
        ("holds", "holds"),
        ("hold_ns", "hold_ns"),
        ("wait_ns", "wait_ns"),
    ] {
        let sum: u64 = netns_rows(stat).iter().map(|r| Stat::u(r, row_key)).sum();
        assert_eq!(
            sum,
            Stat::u(t, key),
            "{key}: per-netns rows against the totals"
        );
    }
}

const N: u64 = 40;

fn writers_and_dumpers(writer_ns: [&str; 2], dump_ns: &str) -> (Vec<Workload>, Stat) {
    let script = format!(
        "/usr/sbin/ip netns exec {w1} rtnl-workload prefix=a links:{N} addrs:{N} deladdrs:{N} dellinks:{N} & \
         /usr/sbin/ip netns exec {w2} rtnl-workload prefix=b links:{N} addrs:{N} deladdrs:{N} dellinks:{N} & \
         /usr/sbin/ip netns exec {d} rtnl-workload dumplinks:{N} & wait",
        w1 = writer_ns[0],
        w2 = writer_ns[1],
        d = dump_ns
    );
    stat_json(&["--by", "netns"], &["sh", "-c", &script])
}

#[test]
fn three_namespaces_exact_counts_and_cross_namespace_wait() {
    sh("/usr/sbin/ip netns add nsw1 && /usr/sbin/ip netns add nsw2 && /usr/sbin/ip netns add nsd3");
    // Something to dump in the dumpers' namespace (made before the capture).
    sh("for i in $(seq 60); do /usr/sbin/ip -n nsd3 link add dd$i type dummy || exit 1; done");
    let (w, stat) = writers_and_dumpers(["nsw1", "nsw2"], "nsd3");
    assert_eq!(w.len(), 3, "three workload documents");
    let (writers, dumper): (Vec<&Workload>, Vec<&Workload>) =
        w.iter().partition(|w| w.count(0, 16) > 0);
    let per_writer = total(writers[0]);
    assert_eq!(per_writer, total(writers[1]));
    for ns in ["nsw1", "nsw2"] {
        let r = row(&stat, ns);
        assert_eq!(Stat::u(&r, "requests"), per_writer, "{ns}: {r}");
        assert_eq!(r["name"], ns);
    }
    let d = row(&stat, "nsd3");
    assert_eq!(Stat::u(&d, "requests"), total(dumper[0]), "nsd3: {d}");
    assert_rows_add_up(&stat);
    crate::support::export("netns-stat.json", stat.0.to_string().as_bytes());
    // Writers in two namespaces wait behind each other, and the dumpers behind both.
    let cross: u64 = netns_rows(&stat)
        .iter()
        .map(|r| Stat::u(r, "cross_wait_ns"))
        .sum();
    assert!(cross > 0, "cross-namespace wait: {}", stat.0["netns"]);
    let handlers_cross: u64 = stat.0["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["cross_netns_wait_ns"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(handlers_cross, cross, "per handler and per namespace agree");
    sh("/usr/sbin/ip netns del nsw1; /usr/sbin/ip netns del nsw2; /usr/sbin/ip netns del nsd3");
}

#[test]
fn one_namespace_has_no_cross_namespace_wait() {
    sh("/usr/sbin/ip netns add nsone");
    sh("for i in $(seq 60); do /usr/sbin/ip -n nsone link add dd$i type dummy || exit 1; done");
    let (w, stat) = writers_and_dumpers(["nsone", "nsone"], "nsone");
    let r = row(&stat, "nsone");
    assert_eq!(
        Stat::u(&r, "requests"),
        w.iter().map(total).sum::<u64>(),
        "{r}"
    );
    assert_eq!(Stat::u(&r, "cross_wait_ns"), 0, "{}", stat.0["netns"]);
    assert!(Stat::u(&r, "wait_ns") > 0);
    assert_rows_add_up(&stat);
    sh("/usr/sbin/ip netns del nsone");
}

#[test]
fn an_ioctl_in_a_namespace_carries_it() {
    sh("/usr/sbin/ip netns add nsio");
    let (_, stat) = stat_json(
        &["--by", "netns"],
        &[
            "/usr/sbin/ip",
            "netns",
            "exec",
            "nsio",
            "/bin/busybox",
            "ifconfig",
            "lo",
            "127.0.0.1",
            "up",
        ],
    );
    let r = row(&stat, "nsio");
    assert!(Stat::u(&r, "holds") >= 1, "{r}");
    assert_eq!(Stat::u(&r, "requests"), 0, "no rtnetlink requests: {r}");
    let callers: Vec<String> = stat
        .callers()
        .iter()
        .map(|c| c["handler"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        callers.iter().any(|c| c.contains("ioctl")),
        "an ioctl holder: {callers:?}"
    );
    sh("/usr/sbin/ip netns del nsio");
}
