//! Where `top`'s and `serve`'s records come from, each on its own thread: the live capture, or a
//! recording replayed at a given speed. Both speak the same messages over a channel.

use std::{
    fs::File,
    io::BufReader,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc::{Receiver, Sender},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use super::{
    session::{self, SessionOptions, Sink, StopToken},
    KernelStats,
};
use crate::{
    error::BadInput,
    events::Record,
    trace::{reader::Reader, Header},
};

pub enum Msg {
    /// The source is running; its header says what it is.
    Started(Box<Header>),
    /// Records, and where the source's clock is now.
    Batch(Vec<Record>, u64),
    KernelStats(KernelStats),
    /// The source has ended (normally or not): why, in words.
    Ended(String),
}

pub struct Source {
    pub rx: Receiver<Msg>,
    stopper: Stopper,
}

/// Ends a source's thread.
pub struct Stopper {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The live capture's session, when the source is one.
    session: Option<StopToken>,
}

impl Stopper {
    /// Asks the source to end and waits for it (the live capture detaches its programs).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(s) = &self.session {
            s.stop();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Source {
    /// Asks the source to end and waits for it (the live capture detaches its programs).
    pub fn stop(self) {
        self.stopper.stop();
    }

    /// The records' channel, and what ends the source (for a reader on another thread).
    pub fn into_parts(self) -> (Receiver<Msg>, Stopper) {
        (self.rx, self.stopper)
    }
}

struct ChannelSink(Sender<Msg>);

impl Sink for ChannelSink {
    fn start(&mut self, header: &Header) -> anyhow::Result<()> {
        self.0
            .send(Msg::Started(Box::new(header.clone())))
            .map_err(|_| anyhow::anyhow!("the UI went away"))
    }
    fn records(&mut self, batch: &[Record]) -> anyhow::Result<()> {
        self.0
            .send(Msg::Batch(batch.to_vec(), super::monotonic_ns()))
            .map_err(|_| anyhow::anyhow!("the UI went away"))
    }
    fn kernel_stats(&mut self, stats: &KernelStats) -> anyhow::Result<()> {
        self.0
            .send(Msg::KernelStats(*stats))
            .map_err(|_| anyhow::anyhow!("the UI went away"))
    }
    fn banner(&self) -> bool {
        false
    }
    /// A live screen: fresher than a recording needs.
    fn poll_every(&self) -> std::time::Duration {
        std::time::Duration::from_millis(50)
    }
}

/// The live capture (with CMD, if given).
pub fn live(args: SessionOptions) -> Source {
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let token = StopToken::new();
    let session_stop = token.clone();
    let thread = std::thread::Builder::new()
        .name("capture".into())
        .spawn(move || {
            let mut sink = ChannelSink(tx.clone());
            let end = match session::run(&args, &session_stop, &mut sink) {
                Ok(end) => {
                    let _ = tx.send(Msg::KernelStats(end.kernel_stats));
                    if args.cmd.is_empty() {
                        "capture ended".to_owned()
                    } else {
                        format!("command exited with status {}", end.code)
                    }
                }
                Err(e) => crate::error::one_line(&format!("{e:#}")),
            };
            let _ = tx.send(Msg::Ended(end));
        })
        .expect("spawning the capture thread");
    Source {
        rx,
        stopper: Stopper {
            stop,
            thread: Some(thread),
            session: Some(token),
        },
    }
}

/// How fast a recording is replayed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Times the recording's pace.
    Times(f64),
    /// As fast as the records can be read.
    Max,
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(x) if x > 0.0 && x.is_finite() => Ok(Speed::Times(x)),
            _ => Err(format!(
                "{s:?} is not a speed: a positive factor (1 = real time, 10 = ten times faster) or `max`"
            )),
        }
    }
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Speed::Max => write!(f, "max"),
            Speed::Times(x) => write!(f, "×{x}"),
        }
    }
}

/// Opens a recording for replay: fails (before any screen is drawn) if it is not one.
pub fn open_replay(path: &std::path::Path) -> anyhow::Result<Reader<BufReader<File>>> {
    let bad = |e: &dyn std::fmt::Display| BadInput {
        path: path.display().to_string(),
        cause: e.to_string(),
    };
    if path.is_dir() {
        return Err(bad(&"is a directory").into());
    }
    let f = File::open(path).map_err(|e| bad(&e))?;
    Ok(Reader::new(BufReader::with_capacity(1 << 20, f)).map_err(|e| bad(&e))?)
}

/// A recording, replayed at `speed` from its start.
pub fn replay(mut reader: Reader<BufReader<File>>, path: PathBuf, speed: Speed) -> Source {
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("replay".into())
        .spawn(move || {
            let start_ns = reader.header.start_mono_ns;
            if tx
                .send(Msg::Started(Box::new(reader.header.clone())))
                .is_err()
            {
                return;
            }
            let began = Instant::now();
            // The recording's clock at this wall time.
            let clock = |speed: Speed| match speed {
                Speed::Max => u64::MAX,
                Speed::Times(x) => start_ns + (began.elapsed().as_secs_f64() * x * 1e9) as u64,
            };
            // Records are handed over in ticks of TICK: all those due by then in one batch, so
            // the replay wakes 50 times a second whatever the rate.
            const TICK: Duration = Duration::from_millis(20);
            let mut frame = Vec::new();
            let mut pending = Vec::new();
            let mut last_ns = start_ns;
            let ended = 'replay: loop {
                frame.clear();
                let more = match reader.next_frame(&mut frame) {
                    Ok(more) => more,
                    Err(e) => break format!("{}: {e}", path.display()),
                };
                for r in frame.drain(..) {
                    let due = r.end_ns();
                    while clock(speed) < due {
                        if stop2.load(Ordering::SeqCst) {
                            break 'replay String::new();
                        }
                        let now = clock(speed).min(due);
                        if tx
                            .send(Msg::Batch(std::mem::take(&mut pending), now))
                            .is_err()
                        {
                            return;
                        }
                        std::thread::sleep(TICK);
                    }
                    last_ns = last_ns.max(due);
                    pending.push(r);
                    if pending.len() >= 4096 {
                        let now = clock(speed).min(last_ns);
                        if tx
                            .send(Msg::Batch(std::mem::take(&mut pending), now))
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                if !more {
                    break match &reader.truncated {
                        Some(t) => format!("replay ended early: {t}"),
                        None => "replay finished".to_owned(),
                    };
                }
            };
            if stop2.load(Ordering::SeqCst) {
                return;
            }
            let end_ns = reader
                .footer
                .as_ref()
                .map_or(last_ns, |f| f.end_mono_ns.max(last_ns));
            let _ = tx.send(Msg::Batch(std::mem::take(&mut pending), end_ns));
            if let Some(f) = &reader.footer {
                let _ = tx.send(Msg::KernelStats(f.kernel_stats));
            }
            let _ = tx.send(Msg::Ended(ended));
        })
        .expect("spawning the replay thread");
    Source {
        rx,
        stopper: Stopper {
            stop,
            thread: Some(thread),
            session: None,
        },
    }
}
