//! The blame matrix against an independent record of the same run: bpftrace prints every
//! `rtnl_mutex` wait and hold as an interval ([`BPFTRACE`]), [`blame`] computes the exact matrix
//! from those intervals, and rtnlprof's report of the run must agree with it.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::support::{export, rtnlprof, Workload, RTNLPROF, WORKLOAD};

/// Every hold and wait of `rtnl_mutex` (`$1`: its address, as a signed decimal) as an interval,
/// one line each (bpftrace 0.17: `kfunc` is fentry, `kretfunc` fexit):
///
/// * `W tid family type dump start_ns acquired_ns return_ns slow`: a `mutex_lock`,
///   `mutex_lock_killable` or `mutex_lock_interruptible` call on `&rtnl_mutex`, from its entry to
///   the acquisition, then its return; `slow` 1 if it took the slow path (`lock:contention_end`
///   fired), 0 if the fast path took the mutex;
/// * `F tid family type dump start_ns return_ns`: a killable/interruptible call that gave up;
/// * `H tid family type dump acquired_ns released_ns`: a hold, from the acquisition to the entry
///   of `mutex_unlock`.
///
/// The acquisition is the lock call's return (or a successful `mutex_trylock`'s), except after a
/// slow path: there the thread owns the mutex from `lock:contention_end` (ret 0) on, and may wait
/// long (woken, not yet running) before the call returns; that time is neither a wait nor
/// another's hold, so it is the hold's.
///
/// A fast-path call found the mutex free: it waited behind nobody, however long it took from
/// entry to return. (Under TCG a vCPU can stand still for milliseconds between the two while the
/// other runs holders; [`parse`] keeps such calls apart, not as waits.)
/// * `U tid now_ns`: a `mutex_unlock` of a hold whose acquisition was not seen.
///
/// `family type dump` is the rtnetlink message the thread is handling (`rtnetlink_rcv_msg`'s
/// `nlh`: type at offset 4, flags at 6, the family is the payload's first byte, offset 16; dump 1
/// for a GET with NLM_F_DUMP); a dump continued from `recvmsg` (`netlink_dump` outside
/// `rtnetlink_rcv_msg`) counts as the dump's own message; `255 65535 0` is a holder outside
/// rtnetlink (a kernel caller). Times are `nsecs`, `bpf_ktime_get_ns()`, the clock of rtnlprof's
/// records. A thread's context is kept as one u64, `1 << 40 | family << 24 | type << 8 | dump`.
pub const BPFTRACE: &str = r#"
kfunc:rtnetlink_rcv_msg {
  $h = (uint64)args->nlh;
  $len = *(uint32 *)$h;
  $ty = (uint64)*(uint16 *)($h + 4);
  $fl = (uint64)*(uint16 *)($h + 6);
  $fam = (uint64)255;
  if ($len > 16) { $fam = (uint64)*(uint8 *)($h + 16); }
  $dump = (uint64)0;
  if ($ty % 4 == 2 && ($fl & 0x300) == 0x300) { $dump = 1; }
  @req[tid] = (1 << 40) | ($fam << 24) | ($ty << 8) | $dump;
}
kretfunc:rtnetlink_rcv_msg { delete(@req[tid]); }
kfunc:netlink_dump {
  $k = @req[tid];
  if ($k != 0) {
    if ($k & 1) { @dumpsk[(uint64)args->sk] = $k; }
  } else {
    $d = @dumpsk[(uint64)args->sk];
    if ($d != 0) { @cont[tid] = $d; }
  }
}
kretfunc:netlink_dump { delete(@cont[tid]); }
kfunc:mutex_lock, kfunc:mutex_lock_killable, kfunc:mutex_lock_interruptible
/(int64)args->lock == $1/ { @ws[tid] = nsecs; delete(@acq[tid]); }
tracepoint:lock:contention_end /(int64)args->lock_addr == $1 && args->ret == 0/ {
  @acq[tid] = nsecs;
}
kretfunc:mutex_lock /(int64)args->lock == $1/ {
  $now = nsecs;
  $acq = @acq[tid];
  if ($acq == 0) { $acq = $now; }
  $k = @req[tid];
  if ($k == 0) { $k = @cont[tid]; }
  if ($k == 0) { $k = (uint64)0xffffff00; }
  printf("W %d %d %d %d %llu %llu %llu %d\n", tid, ($k >> 24) & 0xff, ($k >> 8) & 0xffff,
         $k & 1, @ws[tid], $acq, $now, $acq != $now);
  delete(@ws[tid]);
  delete(@acq[tid]);
  @hs[tid] = $acq;
  @hk[tid] = $k;
}
kretfunc:mutex_lock_killable, kretfunc:mutex_lock_interruptible /(int64)args->lock == $1/ {
  $now = nsecs;
  $k = @req[tid];
  if ($k == 0) { $k = @cont[tid]; }
  if ($k == 0) { $k = (uint64)0xffffff00; }
  if (retval == 0) {
    $acq = @acq[tid];
    if ($acq == 0) { $acq = $now; }
    printf("W %d %d %d %d %llu %llu %llu %d\n", tid, ($k >> 24) & 0xff, ($k >> 8) & 0xffff,
           $k & 1, @ws[tid], $acq, $now, $acq != $now);
    @hs[tid] = $acq;
    @hk[tid] = $k;
  } else {
    printf("F %d %d %d %d %llu %llu\n", tid, ($k >> 24) & 0xff, ($k >> 8) & 0xffff, $k & 1,
           @ws[tid], $now);
  }
  delete(@ws[tid]);
  delete(@acq[tid]);
}
kretfunc:mutex_trylock /(int64)args->lock == $1 && retval != 0/ {
  $k = @req[tid];
  if ($k == 0) { $k = @cont[tid]; }
  if ($k == 0) { $k = (uint64)0xffffff00; }
  @hs[tid] = nsecs;
  @hk[tid] = $k;
}
kfunc:mutex_unlock /(int64)args->lock == $1/ {
  $now = nsecs;
  if (@hs[tid] != 0) {
    $k = @hk[tid];
    printf("H %d %d %d %d %llu %llu\n", tid, ($k >> 24) & 0xff, ($k >> 8) & 0xffff, $k & 1,
           @hs[tid], $now);
    delete(@hs[tid]);
    delete(@hk[tid]);
  } else {
    printf("U %d %llu\n", tid, $now);
  }
}
END { clear(@req); clear(@cont); clear(@dumpsk); clear(@ws); clear(@acq); clear(@hs); clear(@hk); }
"#;

/// The handler a wait or hold belongs to: an rtnetlink message type, or (255, 65535) for a holder
/// outside rtnetlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub family: u8,
    pub ty: u16,
    pub dump: bool,
}

impl Key {
    pub const KERNEL: Key = Key {
        family: 0xff,
        ty: 0xffff,
        dump: false,
    };

    pub fn is_kernel(&self) -> bool {
        *self == Key::KERNEL
    }

    /// rtnlprof's name of the handler, for the message types the test compares pair by pair
    /// (None: a kernel caller or another type, compared in the totals only).
    pub fn rtnlprof_name(&self) -> Option<String> {
        let family = match self.family {
            0 => "AF_UNSPEC",
            2 => "AF_INET",
            _ => return None,
        };
        let ty = match self.ty {
            16 => "RTM_NEWLINK",
            17 => "RTM_DELLINK",
            18 => "RTM_GETLINK",
            20 => "RTM_NEWADDR",
            21 => "RTM_DELADDR",
            _ => return None,
        };
        Some(format!(
            "{family} {ty}{}",
            if self.dump { " dump" } else { "" }
        ))
    }

    /// A name for printing: rtnlprof's where the test compares it.
    pub fn label(&self) -> String {
        if self.is_kernel() {
            return "(kernel)".into();
        }
        self.rtnlprof_name().unwrap_or_else(|| {
            format!(
                "family {} type {}{}",
                self.family,
                self.ty,
                if self.dump { " dump" } else { "" }
            )
        })
    }
}

/// A wait [lock call, acquisition) or a hold [acquisition, release) of one thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub tid: u32,
    pub key: Key,
    pub from: u64,
    pub to: u64,
}

/// What the script printed.
#[derive(Debug, Default)]
pub struct Trace {
    /// Lock calls that took the slow path: entry to acquisition.
    pub waits: Vec<Interval>,
    /// Lock calls the fast path served (entry to return): no wait.
    pub fast: Vec<Interval>,
    pub holds: Vec<Interval>,
    /// Killable/interruptible lock calls that gave up (`F`): no hold, no blame.
    pub gave_up: u64,
    /// Releases of holds whose acquisition was not seen (`U`).
    pub unmatched: u64,
    /// Events bpftrace said it lost (`Lost N events`).
    pub lost: u64,
    /// N of bpftrace's `Attaching N probes...`.
    pub probes: Option<u64>,
    /// Interval lines that did not parse.
    pub malformed: Vec<String>,
}

fn interval(f: &[&str]) -> Option<Interval> {
    if f.len() != 6 {
        return None;
    }
    let (from, to): (u64, u64) = (f[4].parse().ok()?, f[5].parse().ok()?);
    if to < from {
        return None;
    }
    Some(Interval {
        tid: f[0].parse().ok()?,
        key: Key {
            family: f[1].parse().ok()?,
            ty: f[2].parse().ok()?,
            dump: f[3] == "1",
        },
        from,
        to,
    })
}

/// Parses the script's output (other lines are ignored).
pub fn parse(text: &str) -> Trace {
    let mut t = Trace::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.first().copied() {
            // The return is for the eye: the wait ends at the acquisition.
            Some("W") if f.len() == 9 => match (interval(&f[1..7]), f[8]) {
                (Some(i), "1") => t.waits.push(i),
                (Some(mut i), "0") => {
                    i.to = f[7].parse().unwrap_or(i.to);
                    t.fast.push(i);
                }
                _ => t.malformed.push(line.to_owned()),
            },
            Some("W") => t.malformed.push(line.to_owned()),
            Some("H") => match interval(&f[1..]) {
                Some(i) => t.holds.push(i),
                None => t.malformed.push(line.to_owned()),
            },
            Some("F") => t.gave_up += 1,
            Some("U") => t.unmatched += 1,
            Some("Lost") => match f.get(1).and_then(|n| n.parse::<u64>().ok()) {
                Some(n) => t.lost += n,
                None => t.malformed.push(line.to_owned()),
            },
            Some("Attaching") => t.probes = f.get(1).and_then(|n| n.parse().ok()),
            _ => {}
        }
    }
    t
}

/// The exact blame matrix of a trace.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Blame {
    /// (waiter, holder) → time the waiter's waits overlapped the holder's holds (other threads').
    pub pairs: BTreeMap<(Key, Key), u64>,
    /// holder → the wait it caused ("made others wait").
    pub by_holder: BTreeMap<Key, u64>,
    /// All wait time.
    pub wait_ns: u64,
    /// The part of it behind holders.
    pub behind_ns: u64,
    /// The rest: the lock was free (hand-off, wake-up, the lock call itself).
    pub handoff_ns: u64,
    /// Holds that overlap the next one in time (a mutex allows none: a broken record).
    pub overlapping_holds: u64,
}

/// For each wait and each hold of another thread, their overlap, summed by (waiter, holder).
pub fn blame(t: &Trace) -> Blame {
    let mut holds = t.holds.clone();
    holds.sort_by_key(|h| (h.from, h.to));
    let mut b = Blame {
        overlapping_holds: holds.windows(2).filter(|w| w[1].from < w[0].to).count() as u64,
        ..Blame::default()
    };
    for w in &t.waits {
        b.wait_ns += w.to - w.from;
        // The holds of a mutex are disjoint, so sorted by start they are sorted by end too:
        // skip those that ended before the wait began, stop at the first that began after it.
        let first = holds.partition_point(|h| h.to <= w.from);
        for h in holds[first..].iter().take_while(|h| h.from < w.to) {
            if h.tid == w.tid {
                continue;
            }
            let overlap = h.to.min(w.to).saturating_sub(h.from.max(w.from));
            if overlap > 0 {
                *b.pairs.entry((w.key, h.key)).or_default() += overlap;
                *b.by_holder.entry(h.key).or_default() += overlap;
                b.behind_ns += overlap;
            }
        }
    }
    b.handoff_ns = b.wait_ns.saturating_sub(b.behind_ns);
    b
}

// ---- the run ----------------------------------------------------------------------------------

const SLOW_LINKS: u64 = 60;
const ADDR_LINKS: u64 = 16;
const CHEAP_BATCH: u64 = 40;

/// Both writers create their links first, one after the other; then one slow holder deletes its
/// links (RTM_DELLINK holds RTNL across RCU grace periods) while two senders of cheap
/// RTM_GETLINK lookups of `lo` and an address writer (adding and deleting addresses on its own
/// links) run. The slow holder starts deleting only once the three others are running, and they
/// go on until it has finished (the cheap senders one batch more), so they span its whole phase.
/// Exits non-zero if any of them failed.
fn workload_script() -> String {
    format!(
        "W={WORKLOAD}; D=/tmp/blame.done; rm -f $D /tmp/blame.ready* /tmp/blame.*.json
$W prefix=baddr net=7 links:{ADDR_LINKS} > /tmp/blame.addr.json || exit 1
$W prefix=bslow links:{SLOW_LINKS} > /tmp/blame.slow.json || exit 1
( until [ -e /tmp/blame.ready1 ] && [ -e /tmp/blame.ready2 ] && [ -e /tmp/blame.ready3 ]; do
    sleep 0.02; done
  $W prefix=bslow dellinks:{SLOW_LINKS} >> /tmp/blame.slow.json; echo $? > $D ) &
cheap() {{
  $W getlinks:{CHEAP_BATCH} >> /tmp/blame.cheap$1.json || {{ echo 1 > $D; return 1; }}
  touch /tmp/blame.ready$1
  until [ -e $D ]; do $W getlinks:{CHEAP_BATCH} >> /tmp/blame.cheap$1.json || return 1; done
  $W getlinks:{CHEAP_BATCH} >> /tmp/blame.cheap$1.json
}}
cheap 1 & a=$!
cheap 2 & b=$!
( $W prefix=baddr net=7 addrs:{ADDR_LINKS} deladdrs:{ADDR_LINKS} >> /tmp/blame.addr.json \
    || {{ echo 1 > $D; exit 1; }}
  touch /tmp/blame.ready3
  until [ -e $D ]; do
    $W prefix=baddr net=7 addrs:{ADDR_LINKS} deladdrs:{ADDR_LINKS} >> /tmp/blame.addr.json || exit 1
  done ) & c=$!
wait $a; ra=$?; wait $b; rb=$?; wait $c; rc=$?; wait
echo \"slow $(cat $D) cheap $ra $rb addr $rc\" >&2
[ \"$(cat $D)\" = 0 ] && [ $ra = 0 ] && [ $rb = 0 ] && [ $rc = 0 ]"
    )
}

/// A stream read to its end on a thread; `mark` is said on `tx` when a line contains it.
pub fn collect<R: Read + Send + 'static>(
    stream: R,
    mark: Option<(&'static str, mpsc::Sender<()>)>,
) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut all = String::new();
        let mut mark = mark;
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if mark.as_ref().is_some_and(|(m, _)| line.contains(m)) {
                let _ = mark.take().unwrap().1.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    })
}

/// Recursion misses of the loaded tracing programs (runs the kernel skipped), from bpftool.
fn recursion_misses() -> u64 {
    let out = Command::new("/usr/sbin/bpftool")
        .args(["-j", "prog", "show"])
        .output()
        .expect("bpftool");
    let progs: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    progs
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["recursion_misses"].as_u64())
        .sum()
}

fn read_workloads(path: &str) -> Vec<Workload> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}: {l}")))
        .collect()
}

fn ms(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

/// Within `tol` of the reference (relative).
fn close(got: u64, want: u64, tol: f64) -> bool {
    (got as f64 - want as f64).abs() <= tol * want as f64
}

/// Both matrices side by side: every pair either names, the holders' "made others wait" and the
/// totals.
fn side_by_side(r: &Blame, report: &Value) -> String {
    let mut rows: BTreeMap<(String, String), (Option<u64>, Option<u64>)> = BTreeMap::new();
    for ((w, h), ns) in &r.pairs {
        let e = rows.entry((w.label(), h.label())).or_default();
        e.0 = Some(e.0.unwrap_or(0) + ns);
    }
    for b in report["blame"].as_array().into_iter().flatten() {
        let key = (
            b["waiter"].as_str().unwrap_or("?").to_owned(),
            b["holder"].as_str().unwrap_or("?").to_owned(),
        );
        let e = rows.entry(key).or_default();
        e.1 = Some(e.1.unwrap_or(0) + b["wait_ns"].as_u64().unwrap_or(0));
    }
    let mut out = format!(
        "{:<28} {:<28} {:>14} {:>14}\n",
        "WAITER", "HOLDER", "REFERENCE", "RTNLPROF"
    );
    let mut sorted: Vec<_> = rows.into_iter().collect();
    sorted.sort_by_key(|(_, (a, b))| std::cmp::Reverse(a.unwrap_or(0).max(b.unwrap_or(0))));
    let cell = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), ms);
    for ((w, h), (a, b)) in sorted {
        out += &format!("{w:<28} {h:<28} {:>14} {:>14}\n", cell(a), cell(b));
    }
    out += "\nmade others wait (blamed_ns)\n";
    let mut holders: BTreeMap<String, (Option<u64>, Option<u64>)> = BTreeMap::new();
    for (h, ns) in &r.by_holder {
        let e = holders.entry(h.label()).or_default();
        e.0 = Some(e.0.unwrap_or(0) + ns);
    }
    for row in report["handlers"].as_array().into_iter().flatten() {
        let ns = row["blamed_ns"].as_u64().unwrap_or(0);
        if ns > 0 {
            holders
                .entry(row["handler"].as_str().unwrap_or("?").to_owned())
                .or_default()
                .1 = Some(ns);
        }
    }
    for (h, (a, b)) in holders {
        out += &format!("{h:<57} {:>14} {:>14}\n", cell(a), cell(b));
    }
    out += &format!(
        "\n{:<57} {:>14} {:>14}\n",
        "total blamed wait",
        ms(r.behind_ns),
        ms(rtnlprof_total(report))
    );
    out += &format!(
        "reference: all wait {}, behind holders {}, hand-off {}; rtnlprof: all wait {}\n",
        ms(r.wait_ns),
        ms(r.behind_ns),
        ms(r.handoff_ns),
        ms(report["totals"]["wait_ns"].as_u64().unwrap_or(0))
    );
    out
}

fn rtnlprof_total(report: &Value) -> u64 {
    report["blame"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| b["wait_ns"].as_u64().unwrap_or(0))
        .sum()
}

fn rtnlprof_pairs(report: &Value) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for b in report["blame"].as_array().into_iter().flatten() {
        let key = (
            b["waiter"].as_str().unwrap_or("?").to_owned(),
            b["holder"].as_str().unwrap_or("?").to_owned(),
        );
        *m.entry(key).or_default() += b["wait_ns"].as_u64().unwrap_or(0);
    }
    m
}

fn row<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["handlers"]
        .as_array()?
        .iter()
        .find(|h| h["handler"] == name)
}

#[test]
fn blame_matches_an_independent_interval_record() {
    let t0 = Instant::now();
    let lock = crate::tracepoint::kallsyms_rtnl_mutex();
    std::fs::write("/tmp/blame.bt", BPFTRACE).unwrap();
    let _ = std::fs::remove_file("/tmp/blame.rtnl");

    // bpftrace first, attached and settled before rtnlprof starts; stopped after it ends.
    let mut bt: Child = Command::new("/usr/bin/bpftrace")
        // 1024 pages (4 MiB) per CPU for the perf buffer the lines go through.
        .env("BPFTRACE_PERF_RB_PAGES", "1024")
        .args(["-B", "full", "--", "/tmp/blame.bt"])
        // After `--` so the negative number is not an option; bpftrace reads it as an i64.
        .arg((lock as i64).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bpftrace");
    let (tx, rx) = mpsc::channel();
    let out = collect(bt.stdout.take().unwrap(), Some(("Attaching", tx)));
    let err = collect(bt.stderr.take().unwrap(), None);
    if rx.recv_timeout(Duration::from_secs(240)).is_err() {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(bt.id() as i32, libc::SIGKILL) };
        let _ = bt.wait();
        panic!(
            "bpftrace did not attach: {}\n{}",
            err.join().unwrap(),
            out.join().unwrap()
        );
    }
    let attached_s = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));

    let t_run = Instant::now();
    let rec = Command::new(RTNLPROF)
        .args(["record", "-o", "/tmp/blame.rtnl", "--", "sh", "-c"])
        .arg(workload_script())
        .output()
        .expect("rtnlprof record");
    let run_s = t_run.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(1));
    let misses = recursion_misses();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(bt.id() as i32, libc::SIGINT) };
    let status = bt.wait().expect("bpftrace");
    let (text, bt_err) = (out.join().unwrap(), err.join().unwrap());
    // The address writer's links go outside both records.
    let _ = Command::new(WORKLOAD)
        .args(["prefix=baddr", &format!("dellinks:{ADDR_LINKS}")])
        .output();

    let rec_err = String::from_utf8_lossy(&rec.stderr);
    assert!(
        rec.status.success(),
        "rtnlprof record or the workload failed ({}): {rec_err}",
        rec.status
    );
    assert!(
        status.success() || status.code().is_none(),
        "bpftrace: {status}: {bt_err}"
    );

    let trace = parse(&text);
    let r = blame(&trace);
    eprintln!(
        "blame: bpftrace attached {:?} probes in {attached_s:.1} s; run {run_s:.1} s; {} lines: \
         {} waits (slow path), {} fast-path lock calls (entry to return {}, not waits), {} holds, \
         {} gave up, {} unmatched releases, lost {}, recursion misses {misses}",
        trace.probes,
        text.lines().count(),
        trace.waits.len(),
        trace.fast.len(),
        ms(trace.fast.iter().map(|i| i.to - i.from).sum()),
        trace.holds.len(),
        trace.gave_up,
        trace.unmatched,
        trace.lost
    );

    let rep = rtnlprof(&["report", "--format", "json", "/tmp/blame.rtnl"]);
    assert!(
        rep.status.success(),
        "{}",
        String::from_utf8_lossy(&rep.stderr)
    );
    let report: Value = serde_json::from_slice(&rep.stdout).expect("report JSON");
    let table = side_by_side(&r, &report);
    eprintln!("blame on {}:\n{table}", report["kernel"]);
    export("blame.table.txt", table.as_bytes());
    export("blame.rtnl", &std::fs::read("/tmp/blame.rtnl").unwrap());
    export("blame.ref.txt", text.as_bytes());

    // The reference is complete, and both saw the same run.
    assert!(trace.probes.is_some(), "no Attaching line: {text:.2000}");
    assert_eq!(trace.lost, 0, "bpftrace lost events");
    assert_eq!(misses, 0, "the kernel skipped BPF program runs");
    assert!(trace.malformed.is_empty(), "{:?}", trace.malformed);
    assert_eq!(r.overlapping_holds, 0, "holds of a mutex overlap");
    assert_eq!(
        report["kernel_stats"]["lost_events"], 0,
        "rtnlprof lost events"
    );
    let sent_getlink: u64 = ["/tmp/blame.cheap1.json", "/tmp/blame.cheap2.json"]
        .iter()
        .flat_map(|p| read_workloads(p))
        .map(|w| w.count(0, 18))
        .sum();
    let count = |key: Key| trace.holds.iter().filter(|h| h.key == key).count() as u64;
    let msg = |ty| Key {
        family: 0,
        ty,
        dump: false,
    };
    assert_eq!(
        count(msg(18)),
        sent_getlink,
        "the reference holds one RTNL per RTM_GETLINK sent"
    );
    let slow: Vec<Workload> = read_workloads("/tmp/blame.slow.json");
    assert_eq!(
        slow.iter().map(|w| w.count(0, 17)).sum::<u64>(),
        SLOW_LINKS,
        "RTM_DELLINK sent"
    );
    assert!(count(msg(17)) >= SLOW_LINKS, "RTM_DELLINK holds");
    let keys: BTreeSet<Key> = trace.holds.iter().map(|h| h.key).collect();
    for k in keys {
        if let Some(name) = k.rtnlprof_name() {
            let holds = row(&report, &name).and_then(|h| h["holds"].as_u64());
            assert_eq!(
                holds,
                Some(count(k)),
                "holds of {name}: rtnlprof vs reference"
            );
        }
    }
    // The cheap requests span the whole RTM_DELLINK phase.
    let of = |key: Key| -> Vec<&Interval> { trace.holds.iter().filter(|h| h.key == key).collect() };
    let (del, get) = (of(msg(17)), of(msg(18)));
    let del_span = (
        del.iter().map(|h| h.from).min().unwrap(),
        del.iter().map(|h| h.to).max().unwrap(),
    );
    let get_span = (
        get.iter().map(|h| h.from).min().unwrap(),
        get.iter().map(|h| h.to).max().unwrap(),
    );
    eprintln!(
        "blame: RTM_DELLINK holds over {}, RTM_GETLINK ({sent_getlink} sent) over {} from {} \
         before to {} after",
        ms(del_span.1 - del_span.0),
        ms(get_span.1 - get_span.0),
        ms(del_span.0.saturating_sub(get_span.0)),
        ms(get_span.1.saturating_sub(del_span.1))
    );
    assert!(
        get_span.0 < del_span.0 && get_span.1 > del_span.1,
        "the RTM_GETLINK senders did not span the RTM_DELLINK phase"
    );
    assert!(r.behind_ns > 0, "nobody waited behind anybody: {table}");

    // The workload is what the test says: RTM_DELLINK made others wait the most.
    let top_ref = r
        .by_holder
        .iter()
        .max_by_key(|(_, ns)| **ns)
        .map(|(k, _)| *k);
    assert_eq!(
        top_ref,
        Some(msg(17)),
        "the reference's top holder\n{table}"
    );

    // rtnlprof against the reference; every criterion that fails is said.
    let mut wrong = Vec::new();
    // (a) The total blamed wait.
    let total = rtnlprof_total(&report);
    if !close(total, r.behind_ns, 0.10) {
        wrong.push(format!(
            "(a) total blamed wait: rtnlprof {} vs reference {}",
            ms(total),
            ms(r.behind_ns)
        ));
    }
    // (b) Each pair of rtnetlink handlers above 5% of the reference's total, in either matrix,
    // and each rtnetlink holder's "made others wait" above 5%.
    let ours = rtnlprof_pairs(&report);
    let mut reference: BTreeMap<(String, String), u64> = BTreeMap::new();
    for ((w, h), ns) in &r.pairs {
        if let (Some(w), Some(h)) = (w.rtnlprof_name(), h.rtnlprof_name()) {
            *reference.entry((w, h)).or_default() += ns;
        }
    }
    let names: BTreeSet<String> = trace
        .waits
        .iter()
        .chain(&trace.holds)
        .filter_map(|i| i.key.rtnlprof_name())
        .collect();
    let big = r.behind_ns / 20;
    for (pair, ns) in &ours {
        if names.contains(&pair.0) && names.contains(&pair.1) && *ns > big {
            reference.entry(pair.clone()).or_default();
        }
    }
    for (pair, want) in &reference {
        let got = ours.get(pair).copied().unwrap_or(0);
        if (*want > big || got > big) && !close(got, *want, 0.10) {
            wrong.push(format!(
                "(b) {} behind {}: rtnlprof {} vs reference {}",
                pair.0,
                pair.1,
                ms(got),
                ms(*want)
            ));
        }
    }
    for (h, want) in &r.by_holder {
        let Some(name) = h.rtnlprof_name() else {
            continue;
        };
        let got = row(&report, &name)
            .and_then(|v| v["blamed_ns"].as_u64())
            .unwrap_or(0);
        if (*want > big || got > big) && !close(got, *want, 0.10) {
            wrong.push(format!(
                "(b) {name} made others wait: rtnlprof {} vs reference {}",
                ms(got),
                ms(*want)
            ));
        }
    }
    // (e) The summary's split: all wait and its hand-off part (wait not behind any holder).
    let t = &report["totals"];
    let (wait, handoff) = (
        t["wait_ns"].as_u64().unwrap_or(0),
        t["handoff_ns"].as_u64().unwrap_or(0),
    );
    if !close(wait, r.wait_ns, 0.10) || !close(handoff, r.handoff_ns, 0.10) {
        wrong.push(format!(
            "(e) waited {} = behind + hand-off {}: reference {} and {}",
            ms(wait),
            ms(handoff),
            ms(r.wait_ns),
            ms(r.handoff_ns)
        ));
    }
    // (c) RTM_DELLINK made others wait the most in rtnlprof's report too.
    let top_ours = report["handlers"]
        .as_array()
        .into_iter()
        .flatten()
        .max_by_key(|h| h["blamed_ns"].as_u64().unwrap_or(0))
        .and_then(|h| h["handler"].as_str());
    if top_ours != Some("AF_UNSPEC RTM_DELLINK") {
        wrong.push(format!(
            "(c) rtnlprof's handler with the largest blamed_ns is {top_ours:?}, not AF_UNSPEC \
             RTM_DELLINK"
        ));
    }
    // (d) The same culprit in `serve` and `top`, replaying the same recording.
    wrong.extend(serve_culprit(&report));
    wrong.extend(top_culprit());
    eprintln!("blame: done in {:.1} s", t0.elapsed().as_secs_f64());
    assert!(wrong.is_empty(), "{}\n{table}", wrong.join("\n"));
}

/// `rtnlprof serve --replay` of the recording: the handler with the most
/// `rtnl_made_others_wait_seconds_total` is RTM_DELLINK, with the report's figure.
fn serve_culprit(report: &Value) -> Vec<String> {
    let port = 9471;
    let mut serve = Command::new(RTNLPROF)
        .args([
            "serve",
            "--speed",
            "max",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--replay", "/tmp/blame.rtnl"])
        .stderr(Stdio::null())
        .spawn()
        .expect("start rtnlprof serve");
    let t = Instant::now();
    while !crate::http::get(port, "/healthz")
        .is_ok_and(|(s, b)| s == 200 && b.contains("replay finished"))
    {
        if t.elapsed() > Duration::from_secs(60) {
            let _ = serve.kill();
            let _ = serve.wait();
            return vec!["(d) serve --replay did not finish its replay in 60 s".into()];
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = crate::http::get(port, "/metrics")
        .map(|(_, m)| m)
        .unwrap_or_default();
    let _ = serve.kill();
    let _ = serve.wait();
    export("blame.metrics.txt", metrics.as_bytes());
    let made: Vec<(String, f64)> = metrics
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("rtnl_made_others_wait_seconds_total{")?;
            let handler = rest.split("handler=\"").nth(1)?.split('"').next()?;
            Some((handler.to_owned(), l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect();
    let top = made.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    let mut wrong = Vec::new();
    let want = row(report, "AF_UNSPEC RTM_DELLINK")
        .and_then(|r| r["blamed_ns"].as_u64())
        .unwrap_or(0) as f64
        / 1e9;
    match top {
        Some((h, v)) if h == "AF_UNSPEC RTM_DELLINK" && (v - want).abs() <= want * 1e-6 => {
            eprintln!("blame: serve's top rtnl_made_others_wait_seconds_total: {h} {v} s");
        }
        other => wrong.push(format!(
            "(d) serve's largest rtnl_made_others_wait_seconds_total is {other:?}, not \
             AF_UNSPEC RTM_DELLINK with the report's {want} s"
        )),
    }
    wrong
}

/// `rtnlprof top --replay` of the recording, sorted by MADE WAIT: RTM_DELLINK is the first row.
fn top_culprit() -> Vec<String> {
    let t = crate::tmux::Tmux::start(
        "blame",
        200,
        50,
        "/usr/bin/rtnlprof top --replay /tmp/blame.rtnl --speed max",
    );
    t.wait_for(60, "the replay's end", |s| s.contains("replay finished"));
    // The sort starts at HELD; s moves it on: WAIT>0 p99, WAITED, MADE WAIT.
    t.keys(&["s", "s", "s"]);
    let s = t.wait_for(30, "the table sorted by MADE WAIT", |s| {
        s.contains("sorted by MADE WAIT")
    });
    export("blame.top.txt", s.as_bytes());
    t.keys(&["q"]);
    let first = crate::tmux::table_rows(&s)
        .into_iter()
        .next()
        .and_then(|r| r.1.first().cloned());
    if first.as_deref() == Some("AF_UNSPEC RTM_DELLINK") {
        eprintln!("blame: top sorted by MADE WAIT starts with AF_UNSPEC RTM_DELLINK");
        Vec::new()
    } else {
        vec![format!(
            "(d) top sorted by MADE WAIT starts with {first:?}, not AF_UNSPEC RTM_DELLINK:\n{s}"
        )]
    }
}

#[test]
fn blame_reference_splits_waits_over_other_threads_holds() {
    let text = "Attaching 13 probes...
H 10 0 17 0 100 1000
W 10 0 17 0 50 100 100 1
W 11 0 18 0 200 1010 1030 1
H 11 0 18 0 1010 1100
W 12 2 20 0 900 1150 1150 1
H 12 2 20 0 1150 1200
W 13 255 65535 0 1120 1210 1215 1
W 15 0 18 0 300 900 900 0
W 14 0 18 0 1000
H 13 255 65535 0 1210 1300
F 14 0 18 0 1000 1300
U 15 1400
Lost 3 events
";
    let k = |family, ty| Key {
        family,
        ty,
        dump: false,
    };
    let t = parse(text);
    assert_eq!(
        (t.waits.len(), t.holds.len(), t.gave_up, t.unmatched, t.lost),
        (4, 4, 1, 1, 3)
    );
    assert_eq!(
        t.fast,
        [Interval {
            tid: 15,
            key: k(0, 18),
            from: 300,
            to: 900
        }]
    );
    assert_eq!(t.probes, Some(13));
    assert_eq!(t.malformed, ["W 14 0 18 0 1000"]);
    let b = blame(&t);
    let (del, get, newaddr) = (k(0, 17), k(0, 18), k(2, 20));
    let want: BTreeMap<(Key, Key), u64> = [
        ((get, del), 800),
        ((newaddr, del), 100),
        ((newaddr, get), 90),
        ((Key::KERNEL, newaddr), 50),
    ]
    .into_iter()
    .collect();
    assert_eq!(b.pairs, want);
    assert_eq!(b.by_holder.get(&del), Some(&900));
    assert_eq!(b.wait_ns, 50 + 810 + 250 + 90);
    assert_eq!(b.behind_ns, 800 + 190 + 50);
    assert_eq!(b.handoff_ns, b.wait_ns - b.behind_ns);
    assert_eq!(b.overlapping_holds, 0);
    assert_eq!(
        get.rtnlprof_name().as_deref(),
        Some("AF_UNSPEC RTM_GETLINK")
    );
    assert_eq!(Key::KERNEL.rtnlprof_name(), None);
}
