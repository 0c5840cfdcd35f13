//! Which rtnetlink handlers are the best candidates for running without RTNL
//! (RTNL_FLAG_DOIT_UNLOCKED / RTNL_FLAG_DUMP_UNLOCKED, per-netns RTNL), and why.
//!
//! Scoring (documented in the README; only message-type handlers are ranked, kernel callers are
//! not requests one can flag):
//! * `hold share`  = the handler's hold time / all hold time;
//! * `blame share` = wait others spent behind its holds / all wait spent behind any hold;
//! * `score = 100 × (hold share + blame share) / 2 × weight`, where the weight is 1.5 for
//!   read-only requests (GET doit or dump: they usually need only RCU or a per-object lock),
//!   plus 0.25 when at least a quarter of its hold time is RCU grace-period waiting (work that
//!   can move after the unlock), else 1.0. Scores run from 0 to 175.
//! * A handler that had requests but took RTNL for none of them scores 0 and is listed last as
//!   "already runs without RTNL on this kernel".

use serde::Serialize;

use super::{Handler, Model};

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Candidate {
    pub handler: String,
    pub score: f64,
    /// True when the handler already runs without RTNL on this kernel.
    pub unlocked: bool,
    pub reasons: Vec<String>,
}

/// Human-readable duration: "850 ns", "12.3 µs", "4.56 ms", "2.10 s".
pub fn human_ns(ns: u64) -> String {
    let f = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", f / 1e6)
    } else {
        format!("{:.2} s", f / 1e9)
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

pub fn rank(model: &Model) -> Vec<Candidate> {
    let total_hold = model.hold_wait_ns().0.max(1) as f64;
    let total_blame: u64 = model.handlers.values().map(|s| s.blamed_ns).sum();
    let mut out = Vec::new();
    for (h, s) in &model.handlers {
        let Handler::Msg(m) = h else { continue };
        if s.holds == 0 {
            if s.requests > 0 {
                out.push(Candidate {
                    handler: h.name(),
                    score: 0.0,
                    unlocked: true,
                    reasons: vec![format!(
                        "already runs without RTNL on this kernel: {} requests, no hold",
                        s.requests
                    )],
                });
            }
            continue;
        }
        let hold_share = s.hold_ns() as f64 / total_hold;
        let blame_share = if total_blame > 0 {
            s.blamed_ns as f64 / total_blame as f64
        } else {
            0.0
        };
        let gp_share = if s.hold_ns() > 0 {
            s.gp_ns as f64 / s.hold_ns() as f64
        } else {
            0.0
        };
        let read_only = h.is_read_only();
        let mut weight = if read_only { 1.5 } else { 1.0 };
        if gp_share >= 0.25 {
            weight += 0.25;
        }
        let score = 100.0 * (hold_share + blame_share) / 2.0 * weight;

        let mut reasons = Vec::new();
        let (hold_total, hold_p99) = (s.hold.total_ns(), s.hold.quantile(0.99));
        if read_only {
            reasons.push(format!(
                "read-only request that still takes RTNL: {} of all hold time ({} in {} holds, p99 {})",
                pct(hold_share),
                human_ns(hold_total),
                s.holds,
                human_ns(hold_p99)
            ));
        } else {
            reasons.push(format!(
                "holds RTNL {} of all hold time ({} in {} holds, p99 {})",
                pct(hold_share),
                human_ns(hold_total),
                s.holds,
                human_ns(hold_p99)
            ));
        }
        if s.blamed_ns > 0 {
            reasons.push(format!(
                "made others wait {} ({} of all waiting behind RTNL holders)",
                human_ns(s.blamed_ns),
                pct(blame_share)
            ));
        }
        let (cross, wait) = (s.cross_wait_ns(), s.wait_ns());
        if cross > 0 && cross * 10 >= wait {
            reasons.push(format!(
                "{} of its wait was behind holders in other network namespaces: per-netns RTNL would save {}",
                pct(cross as f64 / wait as f64),
                human_ns(cross)
            ));
        }
        if !m.dump && s.requests_locked > 0 && s.pre_lock_ns * 10 >= s.request_ns {
            // Work done before the lock: a PERNET handler parses and allocates unlocked.
            let n = s.requests_locked;
            reasons.push(format!(
                "works {} per request before it takes RTNL (outside the lock), then holds it {}",
                human_ns(s.pre_lock_ns / n),
                human_ns(s.hold_ns() / n.max(1))
            ));
        }
        if gp_share >= 0.1 {
            reasons.push(format!(
                "holds RTNL across RCU grace periods: {} of its hold time ({} waits, {})",
                pct(gp_share),
                s.gp_count,
                human_ns(s.gp_ns)
            ));
        }
        if m.dump && s.continuation_holds > 0 && s.requests > 0 {
            reasons.push(format!(
                "each dump takes RTNL again for every part read from recvmsg: {:.1} holds per dump",
                s.holds as f64 / s.requests as f64
            ));
        } else if !m.dump && s.requests > 0 && s.holds > s.requests {
            reasons.push(format!(
                "takes RTNL {:.1} times per request",
                s.holds as f64 / s.requests as f64
            ));
        }
        out.push(Candidate {
            handler: h.name(),
            score,
            unlocked: false,
            reasons,
        });
    }
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.handler.cmp(&b.handler))
    });
    out
}
