//! A synthetic, realistic stream of records for tests and benchmarks: requests of five types from
//! five threads with their holds, dump continuations, a kworker, and a failed trylock now and
//! then, with timings that vary like real ones.

use crate::events::{Hold, HoldContext, LockFnName, MsgType, Record, Request, RequestId, Task};

fn task(tid: u32) -> Task {
    Task {
        tid,
        tgid: 100 + tid,
        comm: format!("w{tid}").into(),
    }
}

/// An uncontended `mutex_lock` hold without grace periods.
fn hold(
    context: HoldContext,
    task: Task,
    wait_start_ns: u64,
    acquired_ns: u64,
    released_ns: u64,
) -> Record {
    Record::Hold(Hold {
        context,
        task,
        lock_fn: LockFnName::MutexLock,
        wait_start_ns,
        acquired_ns,
        released_ns,
        contention_begins: 0,
        gp_ns: 0,
        gp_count: 0,
        netns: 0,
    })
}

/// A hold by a kernel caller outside rtnetlink, `synthetic_caller`, from thread `tid`.
pub fn plain_hold(tid: u32, wait_start_ns: u64, acquired_ns: u64, released_ns: u64) -> Record {
    caller_hold(
        "synthetic_caller",
        tid,
        wait_start_ns,
        acquired_ns,
        released_ns,
    )
}

/// A hold by the kernel caller `caller` from thread `tid`.
pub fn caller_hold(
    caller: &str,
    tid: u32,
    wait_start_ns: u64,
    acquired_ns: u64,
    released_ns: u64,
) -> Record {
    hold(
        HoldContext::Other {
            caller: caller.into(),
        },
        task(tid),
        wait_start_ns,
        acquired_ns,
        released_ns,
    )
}

pub struct Realistic {
    t: u64,
    i: u64,
    queue: std::collections::VecDeque<Record>,
}

impl Realistic {
    pub fn new() -> Self {
        Realistic {
            t: 1_000_000_000,
            i: 0,
            queue: Default::default(),
        }
    }

    fn step(&mut self) {
        self.i += 1;
        let i = self.i;
        let out = &mut self.queue;
        let tid = (i % 5) as u32 + 1;
        let ty = [16u16, 17, 20, 24, 18][(i % 5) as usize];
        let dump = ty == 18 && i.is_multiple_of(2);
        let msg = MsgType::from_wire(
            if ty == 20 { 2 } else { 0 },
            ty,
            if dump { 0x301 } else { 0x5 },
        );
        let start = self.t;
        let id = RequestId {
            tid,
            start_ns: start,
        };
        let wait = 200 + (i * 7919) % 3000;
        let held = 20_000 + (i * 104_729) % 400_000;
        let acq = start + 1_000 + wait;
        out.push_back(Record::Hold(Hold {
            context: HoldContext::Request { msg, id },
            task: task(tid),
            lock_fn: LockFnName::MutexLock,
            wait_start_ns: start + 1_000,
            acquired_ns: acq,
            released_ns: acq + held,
            contention_begins: u8::from(wait > 2000),
            gp_ns: if ty == 17 { held / 3 } else { 0 },
            gp_count: u32::from(ty == 17),
            netns: 0,
        }));
        if dump {
            out.push_back(hold(
                HoldContext::DumpContinue { msg, id },
                task(tid),
                acq + held + 5_000,
                acq + held + 5_300,
                acq + held + 60_000,
            ));
        }
        out.push_back(Record::Request(Request {
            msg,
            nlmsg_flags: if dump { 0x301 } else { 0x5 },
            task: task(tid),
            start_ns: start,
            end_ns: acq + held + 2_000,
            ret: 0,
            netns: 0,
        }));
        if i.is_multiple_of(17) {
            out.push_back(hold(
                HoldContext::Other {
                    caller: "addrconf_dad_work".into(),
                },
                task(9),
                acq + held + 100_000,
                acq + held + 100_400,
                acq + held + 150_000,
            ));
        }
        if i.is_multiple_of(101) {
            out.push_back(Record::TrylockFailed {
                task: task(7),
                at_ns: acq + 10,
            });
        }
        self.t = acq + held + 200_000;
    }
}

impl Default for Realistic {
    fn default() -> Self {
        Self::new()
    }
}

impl Iterator for Realistic {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        if self.queue.is_empty() {
            self.step();
        }
        self.queue.pop_front()
    }
}

/// Writes `n` records of [`Realistic`] as a finished recording (kernel "synthetic"); returns the
/// span of time they cover, in ns. For tests and benchmarks of the readers and of `top --replay`.
pub fn write_recording(path: &std::path::Path, n: usize) -> std::io::Result<u64> {
    let records: Vec<Record> = Realistic::new().take(n).collect();
    let start = records.iter().map(|r| r.end_ns()).min().unwrap_or(0);
    let end = records.iter().map(|r| r.end_ns()).max().unwrap_or(0);
    write_records(path, &records)?;
    Ok(end - start)
}

/// Holds of `rows` distinct handlers (half message types of 40 families, half kernel callers),
/// `each` holds apiece, one after another: for benchmarks of views with many rows or series.
pub fn many_handlers(rows: usize, each: u64) -> Vec<Record> {
    let mut out = Vec::with_capacity(rows * each as usize);
    let mut t = 1_000_000u64;
    for k in 0..rows {
        for i in 0..each {
            let context = if k % 2 == 0 {
                let msg = MsgType::from_wire((k / 2 % 40) as u8, 16 + (k / 80) as u16 * 4, 5);
                HoldContext::Request {
                    msg,
                    id: RequestId {
                        tid: 1,
                        start_ns: t,
                    },
                }
            } else {
                HoldContext::Other {
                    caller: format!("kernel_caller_{k:03}"),
                }
            };
            let held = 1_000 + (i * 7919 + k as u64 * 104_729) % 500_000;
            let wait = (i * 31) % 5_000;
            out.push(Record::Hold(Hold {
                context,
                task: task((i % 7) as u32 + 1),
                lock_fn: LockFnName::MutexLock,
                wait_start_ns: t,
                acquired_ns: t + wait,
                released_ns: t + wait + held,
                contention_begins: u8::from(wait > 2_500),
                gp_ns: 0,
                gp_count: 0,
                netns: 0,
            }));
            t += wait + held + 1_000;
        }
    }
    out
}

/// Writes records as a finished recording (kernel "synthetic").
pub fn write_records(path: &std::path::Path, records: &[Record]) -> std::io::Result<()> {
    let start = records.iter().map(|r| r.end_ns()).min().unwrap_or(0);
    let end = records.iter().map(|r| r.end_ns()).max().unwrap_or(0);
    let header = super::Header {
        rtnlprof_version: env!("CARGO_PKG_VERSION").into(),
        kernel: "synthetic".into(),
        clock: "CLOCK_MONOTONIC".into(),
        start_mono_ns: start.saturating_sub(1_000),
        capture_mode: crate::run::CaptureMode::Full,
        ..Default::default()
    };
    let out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut w = super::writer::Writer::new(out, &header)?;
    for r in records {
        w.push(r)?;
    }
    w.finish(super::Footer {
        end_mono_ns: end,
        ..Default::default()
    })?;
    Ok(())
}
