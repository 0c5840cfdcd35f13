use proptest::prelude::*;

use super::*;
use crate::events::{LockFnName, Task};

fn task(tid: u32) -> Task {
    Task {
        tid,
        tgid: tid,
        comm: format!("t{tid}").into(),
    }
}

fn msg(t: u16) -> MsgType {
    MsgType::from_wire(0, t, 0)
}

fn hold(ctx: HoldContext, tid: u32, wait: (u64, u64), release: u64) -> Record {
    Record::Hold(Hold {
        context: ctx,
        task: task(tid),
        lock_fn: LockFnName::MutexLock,
        wait_start_ns: wait.0,
        acquired_ns: wait.1,
        released_ns: release,
        contention_begins: u8::from(wait.1 > wait.0),
        gp_ns: 0,
        gp_count: 0,
        netns: 0,
    })
}

fn request(t: u16, tid: u32, start: u64, end: u64) -> Record {
    Record::Request(Request {
        msg: msg(t),
        nlmsg_flags: 0,
        task: task(tid),
        start_ns: start,
        end_ns: end,
        ret: 0,
        netns: 0,
    })
}

fn other(caller: &str) -> HoldContext {
    HoldContext::Other {
        caller: caller.into(),
    }
}

#[test]
fn holds_inside_a_request_count_for_its_type_and_mark_it_locked() {
    let mut m = Model::new();
    let id = RequestId {
        tid: 1,
        start_ns: 10,
    };
    m.add(&hold(
        HoldContext::Request { msg: msg(16), id },
        1,
        (11, 15),
        40,
    ));
    // netdev_run_todo took RTNL again for the same request.
    m.add(&hold(
        HoldContext::Request { msg: msg(16), id },
        1,
        (41, 41),
        45,
    ));
    m.add(&request(16, 1, 10, 50));
    // A request that never took RTNL.
    m.add(&request(26, 2, 60, 70));
    let s = &m.handlers[&Handler::Msg(msg(16))];
    assert_eq!((s.requests, s.requests_locked, s.holds), (1, 1, 2));
    assert_eq!((s.hold_ns(), s.hold.max_ns(), s.wait_ns()), (25 + 4, 25, 4));
    assert_eq!(s.contended_waits, 1);
    let g = &m.handlers[&Handler::Msg(msg(26))];
    assert_eq!((g.requests, g.requests_locked, g.holds), (1, 0, 0));
    assert_eq!((m.first_ns, m.last_ns), (Some(10), Some(70)));
    assert_eq!(m.tasks[&1].holds, 2);
    assert_eq!(m.tasks[&2].requests, 1);
}

/// Of a locked request: the work before its first lock call and after its last release (a
/// PERNET handler parses before it takes RTNL; rtnl_unlock's netdev_run_todo and the reply run
/// after), whatever order its holds arrive in; requests that never locked add nothing.
#[test]
fn a_locked_request_splits_into_before_the_lock_holds_and_after_the_release() {
    let id = RequestId {
        tid: 1,
        start_ns: 1_000,
    };
    let ctx = || HoldContext::Request { msg: msg(16), id };
    let first = hold(ctx(), 1, (1_300, 1_350), 2_000);
    let again = hold(ctx(), 1, (2_100, 2_100), 2_600);
    for holds in [[&first, &again], [&again, &first]] {
        let mut m = Model::new();
        for h in holds {
            m.add(h);
        }
        m.add(&request(16, 1, 1_000, 5_000));
        m.add(&request(16, 2, 6_000, 6_500));
        let s = &m.handlers[&Handler::Msg(msg(16))];
        assert_eq!((s.requests, s.requests_locked), (2, 1));
        assert_eq!(s.pre_lock_ns, 300);
        assert_eq!(s.post_release_ns, 2_400);
        assert_eq!(s.request_ns, 4_000 + 500);
    }
}

#[test]
fn candidates_say_how_much_a_handler_does_before_it_takes_rtnl() {
    let mut m = Model::new();
    for (i, pre) in [(0u64, 180_000u64), (1, 20)] {
        let (t, start) = (16 + 4 * i as u16, 10_000_000 * i);
        let id = RequestId {
            tid: 1,
            start_ns: start,
        };
        let lock = start + pre;
        m.add(&hold(
            HoldContext::Request { msg: msg(t), id },
            1,
            (lock, lock),
            lock + 1_200_000,
        ));
        m.add(&request(t, 1, start, lock + 1_300_000));
    }
    let c = candidates::rank(&m);
    let reason = |t: u16| {
        let name = Handler::Msg(msg(t)).name();
        c.iter()
            .find(|c| c.handler == name)
            .unwrap()
            .reasons
            .iter()
            .find(|r| r.contains("before it takes RTNL"))
            .cloned()
    };
    assert_eq!(
        reason(16).as_deref(),
        Some("works 180.0 µs per request before it takes RTNL (outside the lock), then holds it 1.20 ms")
    );
    // 20 ns of 1.3 ms is not worth a line.
    assert_eq!(reason(20), None);
}

#[test]
fn continuations_go_to_the_dump_and_others_to_their_caller() {
    let mut m = Model::new();
    let dump = MsgType::from_wire(0, 18, 0x300);
    let id = RequestId {
        tid: 3,
        start_ns: 1,
    };
    m.add(&hold(
        HoldContext::DumpContinue { msg: dump, id },
        3,
        (5, 6),
        9,
    ));
    m.add(&hold(other("dev_ioctl"), 9, (20, 20), 30));
    let d = &m.handlers[&Handler::Msg(dump)];
    assert_eq!((d.holds, d.continuation_holds, d.requests), (1, 1, 0));
    assert_eq!(
        m.handlers[&Handler::Caller("dev_ioctl".into())].hold_ns(),
        10
    );
    assert_eq!(Handler::Msg(dump).name(), "AF_UNSPEC RTM_GETLINK dump");
    let t = m.totals();
    assert_eq!((t.holds, t.hold_ns()), (2, 13));
    assert_eq!(m.ranked()[0].0, &Handler::Caller("dev_ioctl".into()));
}

#[test]
fn blame_splits_a_wait_over_the_holders_it_waited_behind() {
    let mut m = Model::new();
    let a = Handler::Caller("a".into());
    let b = Handler::Caller("b".into());
    let c = Handler::Caller("c".into());
    // a holds 10..50, b holds 50..80; c starts waiting at 20 and gets the lock at 80.
    m.add(&hold(other("a"), 1, (10, 10), 50));
    m.add(&hold(other("b"), 2, (40, 50), 80));
    m.add(&hold(other("c"), 3, (20, 80), 90));
    assert_eq!(m.blame()[&(b.clone(), a.clone())], 10);
    assert_eq!(m.blame()[&(c.clone(), a.clone())], 30);
    assert_eq!(m.blame()[&(c.clone(), b.clone())], 30);
    assert_eq!(m.handlers[&a].blamed_ns, 40);
    assert_eq!(m.handlers[&b].blamed_ns, 30);
    assert!(!m.blame().contains_key(&(a, c)));
}

#[test]
fn utilization_splits_holds_over_seconds() {
    let s = BUCKET_NS;
    let mut m = Model::with_origin(0);
    m.add(&hold(other("a"), 1, (s / 2, s / 2), 2 * s + s / 2));
    assert_eq!(m.held_per_second, vec![s / 2, s, s / 2]);
    assert_eq!(m.utilization(), vec![0.5, 1.0, 0.5]);
}

#[test]
fn candidates_rank_read_only_lockers_and_name_unlocked_handlers() {
    let mut m = Model::new();
    let getlink = msg(18);
    let newlink = msg(16);
    for i in 0..10u64 {
        let t0 = i * 1000;
        let id = RequestId {
            tid: 1,
            start_ns: t0,
        };
        m.add(&hold(
            HoldContext::Request { msg: getlink, id },
            1,
            (t0, t0),
            t0 + 300,
        ));
        m.add(&request(18, 1, t0, t0 + 310));
        let id = RequestId {
            tid: 2,
            start_ns: t0 + 1,
        };
        m.add(&hold(
            HoldContext::Request { msg: newlink, id },
            2,
            (t0 + 1, t0 + 300),
            t0 + 600,
        ));
        m.add(&request(16, 2, t0 + 1, t0 + 610));
    }
    m.add(&request(26, 3, 20_000, 20_100));
    let c = candidates::rank(&m);
    assert_eq!(m.handlers[&Handler::Msg(getlink)].blamed_ns, 2990);
    assert_eq!(c[0].handler, "AF_UNSPEC RTM_GETLINK");
    assert!(c[0].reasons[0]
        .starts_with("read-only request that still takes RTNL: 50% of all hold time"));
    assert!(
        c[0].reasons
            .iter()
            .any(|r| r.starts_with("made others wait 3.0 µs (100%")),
        "{:?}",
        c[0].reasons
    );
    assert_eq!(c[1].handler, "AF_UNSPEC RTM_NEWLINK");
    assert!(c[0].score > c[1].score);
    let last = c.last().unwrap();
    assert!(last.unlocked && last.handler == "AF_UNSPEC RTM_GETROUTE");
    assert_eq!(last.score, 0.0);
}

#[test]
fn candidates_name_grace_periods_under_rtnl() {
    let mut m = Model::new();
    let id = RequestId {
        tid: 1,
        start_ns: 0,
    };
    let mut h = hold(HoldContext::Request { msg: msg(17), id }, 1, (0, 0), 1000);
    if let Record::Hold(h) = &mut h {
        h.gp_ns = 740;
        h.gp_count = 2;
    }
    m.add(&h);
    m.add(&request(17, 1, 0, 1000));
    let c = candidates::rank(&m);
    assert!(
        c[0].reasons
            .iter()
            .any(|r| r
                == "holds RTNL across RCU grace periods: 74% of its hold time (2 waits, 740 ns)"),
        "{:?}",
        c[0].reasons
    );
    // 100% of hold time, no blame, weight 1.25: (100 + 0) / 2 × 1.25
    assert!((c[0].score - 62.5).abs() < 1e-9);
}

/// A random hold: (handler 0..4, wait, hold, gp) in ns.
fn holds_strategy() -> impl Strategy<Value = Vec<(u8, u64, u64, u64)>> {
    prop::collection::vec(
        (0u8..4, 0u64..5_000_000, 1u64..50_000_000, 0u64..1_000_000),
        1..200,
    )
}

fn records(spec: &[(u8, u64, u64, u64)]) -> Vec<Record> {
    let mut t = 1_000u64;
    spec.iter()
        .enumerate()
        .map(|(i, &(h, wait, held, gp))| {
            let ctx = if h == 3 {
                other("kworker")
            } else {
                HoldContext::Request {
                    msg: msg(16 + u16::from(h)),
                    id: RequestId {
                        tid: i as u32,
                        start_ns: t,
                    },
                }
            };
            let mut r = hold(ctx, i as u32 % 7, (t, t + wait), t + wait + held);
            if let Record::Hold(h) = &mut r {
                h.gp_ns = gp.min(held);
            }
            t += wait + held;
            r
        })
        .collect()
}

fn key_figures(m: &Model) -> Vec<(String, u64, u64, u64, u64, u64)> {
    m.handlers
        .iter()
        .map(|(h, s)| {
            (
                h.name(),
                s.holds,
                s.hold_ns(),
                s.wait_ns(),
                s.gp_ns,
                s.hold.count(),
            )
        })
        .collect()
}

proptest! {
    #[test]
    fn totals_do_not_depend_on_order(spec in holds_strategy(), seed in any::<u64>()) {
        let recs = records(&spec);
        let mut a = Model::new();
        recs.iter().for_each(|r| a.add(r));
        // A deterministic shuffle.
        let mut shuffled = recs.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let mut b = Model::new();
        shuffled.iter().for_each(|r| b.add(r));
        prop_assert_eq!(key_figures(&a), key_figures(&b));
        let sum_hold: u64 = spec.iter().map(|s| s.2).sum();
        prop_assert_eq!(a.totals().hold_ns(), sum_hold);
        prop_assert_eq!(a.totals().holds, spec.len() as u64);
        let tasks_hold: u64 = a.tasks.values().map(|t| t.hold_ns).sum();
        prop_assert_eq!(tasks_hold, sum_hold);
    }

    #[test]
    fn windows_merge_back_to_the_whole(spec in holds_strategy(), cut in any::<prop::sample::Index>()) {
        let recs = records(&spec);
        let at = cut.index(recs.len() + 1);
        let mut whole = Model::with_origin(0);
        recs.iter().for_each(|r| whole.add(r));
        let mut first = Model::with_origin(0);
        let mut second = Model::with_origin(0);
        recs[..at].iter().for_each(|r| first.add(r));
        recs[at..].iter().for_each(|r| second.add(r));
        first.merge(&second);
        prop_assert_eq!(key_figures(&first), key_figures(&whole));
        prop_assert_eq!(&first.held_per_second, &whole.held_per_second);
        let held: u64 = whole.held_per_second.iter().sum();
        prop_assert_eq!(held, whole.totals().hold_ns());
    }

    #[test]
    fn percentiles_match_a_sort_within_the_histograms_precision(
        values in prop::collection::vec(1u64..10_000_000_000, 1..2000)
    ) {
        let mut h = hist::Hist::default();
        values.iter().for_each(|&v| h.record(v));
        let mut sorted = values.clone();
        sorted.sort_unstable();
        for q in [0.5, 0.9, 0.99, 1.0] {
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            let exact = sorted[rank - 1];
            let got = h.quantile(q);
            // 3 significant digits: within 1/1000 of the value (one bucket).
            let tol = exact / 1000 + 1;
            prop_assert!(got.abs_diff(exact) <= tol, "q {q}: {got} vs {exact}");
        }
        prop_assert_eq!(h.max_ns(), *sorted.last().unwrap());
        prop_assert_eq!(h.total_ns(), values.iter().sum::<u64>());
    }
}

fn in_netns(mut r: Record, ns: u32) -> Record {
    match &mut r {
        Record::Hold(h) => h.netns = ns,
        Record::Request(q) => q.netns = ns,
        Record::TrylockFailed { .. } => {}
    }
    r
}

#[test]
fn waits_behind_other_namespaces_are_what_per_netns_rtnl_would_save() {
    let mut m = Model::new();
    // ns 7 holds [0, 100); ns 8 waits from 10 to 100 behind it, then holds to 150;
    // ns 7 waits from 120 to 150 behind ns 8; ns 8 waits from 140 to 170 behind ns 7's second hold
    // [150, 170) — and also behind its own namespace's [100, 150) for 10.
    m.add(&in_netns(hold(other("a"), 1, (0, 0), 100), 7));
    m.add(&in_netns(hold(other("b"), 2, (10, 100), 150), 8));
    m.add(&in_netns(hold(other("a"), 1, (120, 150), 170), 7));
    m.add(&in_netns(hold(other("b"), 3, (140, 170), 180), 8));
    m.add(&in_netns(request(16, 4, 0, 5), 7));
    let ns7 = m.netns[&7];
    let ns8 = m.netns[&8];
    assert_eq!((ns7.holds, ns7.requests, ns8.holds), (2, 1, 2));
    assert_eq!(ns8.wait_ns, 90 + 30);
    // ns 8: 90 behind ns 7's first hold, 20 behind its second; 10 behind its own: not cross.
    assert_eq!(ns8.cross_wait_ns, 90 + 20);
    assert_eq!(ns7.cross_wait_ns, 30);
    let b = &m.handlers[&Handler::Caller("b".into())];
    assert_eq!(b.cross_wait_ns(), 110);
    assert_eq!(
        m.blame_cross_netns()[&(Handler::Caller("b".into()), Handler::Caller("a".into()))],
        110
    );
    // Per-namespace totals add up to the totals.
    let t = m.totals();
    let sum = m.netns.values().fold(NsShare::default(), |mut a, n| {
        a.add(n);
        a
    });
    assert_eq!(
        (sum.holds, sum.requests, sum.hold_ns, sum.wait_ns),
        (t.holds, t.requests, t.hold_ns(), t.wait_ns())
    );
    // Unknown namespaces (0) are never counted as another namespace.
    let mut u = Model::new();
    u.add(&hold(other("a"), 1, (0, 0), 100));
    u.add(&in_netns(hold(other("b"), 2, (10, 100), 150), 8));
    assert_eq!(u.netns[&8].cross_wait_ns, 0);
    assert!(u.knows_netns() && !Model::new().knows_netns());
}

/// One step of a simulated contended run: (task 0..4, handler 0..4 (3: RTM_DELLINK, 4: a kworker),
/// hold ns, hand-off gap ns, how long before the previous release the task started waiting).
type Step = (u8, u8, u64, u64, u64);

fn contended_strategy() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            0u8..5,
            0u8..5,
            1u64..2_000_000,
            0u64..20_000,
            0u64..3_000_000,
        ),
        1..120,
    )
}

/// A run of RTNL as the mutex serialises it: holds back to back in acquisition order, each task
/// waiting from some time after its previous request ended. RTM_DELLINK requests go on for
/// 4× their hold after the release (netdev_run_todo); other requests end 10 µs after it. Returns
/// the records in the order the kernel emits them: a request's holds and the request leave
/// together at the request's end (RequestHold), a kworker's hold at its release.
fn contended_run(steps: &[Step]) -> Vec<Record> {
    let mut free_at = [0u64; 5];
    let mut last_rel = 1_000_000u64;
    let mut out: Vec<(u64, usize, Record)> = Vec::new();
    for (i, &(t, h, held, gap, lookback)) in steps.iter().enumerate() {
        let task = u32::from(t) + 1;
        let mut acq = last_rel + gap;
        let ws = free_at[t as usize].max(last_rel.saturating_sub(lookback));
        if ws > acq {
            acq = ws; // the lock was free before the task asked: the fast path, no wait
        }
        let rel = acq + held;
        let (ctx, end) = if h == 4 {
            (other("addrconf_dad_work"), rel)
        } else {
            let ty = [16, 18, 20, 17][h as usize];
            let id = RequestId {
                tid: task,
                start_ns: ws.saturating_sub(500),
            };
            let tail = if ty == 17 { 4 * held } else { 10_000 };
            (HoldContext::Request { msg: msg(ty), id }, rel + tail)
        };
        let is_request = matches!(ctx, HoldContext::Request { .. });
        let ty = match &ctx {
            HoldContext::Request { msg, .. } => msg.nlmsg_type,
            _ => 0,
        };
        let start = ws.saturating_sub(500);
        out.push((end, 2 * i, hold(ctx, task, (ws, acq), rel)));
        if is_request {
            out.push((end, 2 * i + 1, request(ty, task, start, end)));
        }
        free_at[t as usize] = end + 1_000;
        last_rel = rel;
    }
    out.sort_by_key(|(at, seq, _)| (*at, *seq));
    out.into_iter().map(|(_, _, r)| r).collect()
}

/// Blame by brute force over every (wait, hold) pair of the records.
fn exact_blame(recs: &[Record]) -> BTreeMap<(Handler, Handler), u64> {
    let holds: Vec<(Handler, &Hold)> =
        recs.iter()
            .filter_map(|r| match r {
                Record::Hold(h) => Some((
                    match &h.context {
                        HoldContext::Request { msg, .. }
                        | HoldContext::DumpContinue { msg, .. } => Handler::Msg(*msg),
                        HoldContext::Other { caller } => Handler::Caller(caller.clone()),
                    },
                    h,
                )),
                _ => None,
            })
            .collect();
    let mut out = BTreeMap::new();
    for (i, (wh, w)) in holds.iter().enumerate() {
        for (j, (hh, h)) in holds.iter().enumerate() {
            let o = h
                .released_ns
                .min(w.acquired_ns)
                .saturating_sub(h.acquired_ns.max(w.wait_start_ns));
            if i != j && o > 0 {
                *out.entry((wh.clone(), hh.clone())).or_default() += o;
            }
        }
    }
    out
}

/// What the blame drives: the matrix, each handler's MADE WAIT and waited-behind, the ranking.
type BlameFigures = (
    BTreeMap<(Handler, Handler), u64>,
    Vec<(String, u64, u64)>,
    Vec<(String, u64)>,
);

fn blame_figures(m: &Model) -> BlameFigures {
    (
        m.blame(),
        m.handlers
            .iter()
            .map(|(h, s)| (h.name(), s.blamed_ns, s.behind_ns))
            .collect(),
        candidates::rank(m)
            .into_iter()
            .map(|c| (c.handler, c.score.to_bits()))
            .collect(),
    )
}

fn model_of<'a>(recs: impl IntoIterator<Item = &'a Record>) -> Model {
    let mut m = Model::new();
    recs.into_iter().for_each(|r| m.add(r));
    m
}

#[test]
fn a_dellink_whose_hold_arrives_after_its_waiters_is_blamed_for_them() {
    // DELLINK holds [1000, 5000) and its request returns at 20000 (netdev_run_todo); a GETLINK
    // waits from 1500 to 5000 behind it and is emitted at 5100, long before the DELLINK.
    let del = HoldContext::Request {
        msg: msg(17),
        id: RequestId {
            tid: 1,
            start_ns: 900,
        },
    };
    let get = HoldContext::Request {
        msg: msg(18),
        id: RequestId {
            tid: 2,
            start_ns: 1400,
        },
    };
    let emitted = [
        hold(get, 2, (1500, 5000), 5050),
        request(18, 2, 1400, 5100),
        hold(del, 1, (1000, 1000), 5000),
        request(17, 1, 900, 20_000),
    ];
    let m = model_of(&emitted);
    let (dellink, getlink) = (Handler::Msg(msg(17)), Handler::Msg(msg(18)));
    assert_eq!(
        m.blame().get(&(getlink.clone(), dellink.clone())),
        Some(&3500)
    );
    assert_eq!(m.handlers[&dellink].blamed_ns, 3500);
    assert_eq!(m.handlers[&getlink].behind_ns, 3500);
    assert_eq!(m.handlers[&getlink].handoff_ns(), 0);
    assert_eq!(m.blame(), exact_blame(&emitted));
    let c = candidates::rank(&m);
    assert_eq!(c[0].handler, "AF_UNSPEC RTM_DELLINK");
    assert!(
        c[0].reasons
            .iter()
            .any(|r| r.contains("made others wait 3.5 µs")),
        "{:?}",
        c[0].reasons
    );
}

#[test]
fn waits_split_into_behind_holders_and_hand_off() {
    // a holds [0, 100); b waits [10, 130) and gets RTNL 30 ns after a's release.
    let m = model_of(&[
        hold(other("b"), 2, (10, 130), 140),
        hold(other("a"), 1, (0, 0), 100),
    ]);
    let b = &m.handlers[&Handler::Caller("b".into())];
    assert_eq!((b.wait_ns(), b.behind_ns, b.handoff_ns()), (120, 90, 30));
    let t = m.totals();
    assert_eq!(t.behind_ns + t.handoff_ns(), t.wait_ns());
    // The fast path's acquisition waited 0 ns: it is not in the wait percentiles.
    let a = &m.handlers[&Handler::Caller("a".into())];
    assert_eq!((a.wait.count(), a.wait.quantile(0.99)), (0, 0));
    assert_eq!((b.wait.count(), b.wait.quantile(0.99)), (1, 120));
}

proptest! {
    #[test]
    fn blame_is_exact_in_the_kernels_order_and_in_any_other(
        steps in contended_strategy(),
        seed in any::<u64>(),
    ) {
        let emitted = contended_run(&steps);
        let exact = exact_blame(&emitted);
        let kernel_order = model_of(&emitted);
        prop_assert_eq!(&kernel_order.blame(), &exact);
        prop_assert_eq!(kernel_order.blame_late(), blame::Late::default());
        // In time order (by release) and shuffled, with each request after its holds (the kernel
        // emits a request when it returns, after every hold it took).
        let mut by_release = emitted.clone();
        by_release.sort_by_key(|r| r.end_ns());
        let mut shuffled = emitted.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let holds_first = shuffled
            .iter()
            .filter(|r| matches!(r, Record::Hold(_)))
            .chain(shuffled.iter().filter(|r| !matches!(r, Record::Hold(_))));
        let want = blame_figures(&kernel_order);
        prop_assert_eq!(&blame_figures(&model_of(&by_release)), &want);
        prop_assert_eq!(&blame_figures(&model_of(holds_first)), &want);
        // What the summary says adds up.
        let t = kernel_order.totals();
        prop_assert_eq!(t.behind_ns + t.handoff_ns(), t.wait_ns());
        prop_assert_eq!(t.behind_ns, exact.values().sum::<u64>());
        prop_assert_eq!(t.blamed_ns, t.behind_ns);
    }
}
