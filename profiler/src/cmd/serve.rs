//! `rtnlprof serve`: the model as Prometheus metrics on `/metrics` (and `/healthz`), from the live
//! capture or a replayed recording.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::IntoResponse,
    routing::get,
    Router,
};

use super::Refused;
use crate::{
    capture::{
        session,
        source::{self, Msg},
    },
    cli::ServeArgs,
    events::Record,
    model::Model,
    run::KernelStats,
    views::metrics::{self, CallerLabels, Info, NetnsLabels},
};

/// What `serve` keeps: the totals since the start, and where the source's clock is. No history
/// and no per-namespace models (the TUI's feed keeps those for its window and its filter).
struct Totals {
    model: Model,
    now_ns: u64,
    records: u64,
    kernel_stats: KernelStats,
}

impl Totals {
    fn new(origin_ns: u64) -> Self {
        Totals {
            model: Model::with_origin(origin_ns),
            now_ns: origin_ns,
            records: 0,
            kernel_stats: KernelStats::default(),
        }
    }

    fn add(&mut self, batch: &[Record], now_ns: u64) {
        for r in batch {
            self.model.add(r);
        }
        self.records += batch.len() as u64;
        self.now_ns = self.now_ns.max(now_ns);
    }

    /// RTNL utilization in the last complete second (the current one while the first runs).
    fn utilization_now(&self) -> f64 {
        let Some(origin) = self.model.origin_ns() else {
            return 0.0;
        };
        let i = (self.now_ns.saturating_sub(origin) / crate::model::BUCKET_NS) as usize;
        let u = self.model.utilization();
        u.get(i.saturating_sub(1)).copied().unwrap_or(0.0)
    }
}

struct Shared {
    feed: Totals,
    labels: CallerLabels,
    netns: Option<NetnsLabels>,
    info: Info,
    /// Why the source ended, if it did.
    ended: Option<String>,
    live: bool,
}

type AppState = Arc<Mutex<Shared>>;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn metrics_handler(State(state): State<AppState>) -> impl IntoResponse {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    if s.live && s.ended.is_none() {
        s.feed.now_ns = s.feed.now_ns.max(super::monotonic_ns());
    }
    let Shared {
        feed,
        labels,
        netns,
        info,
        live,
        ..
    } = &mut *s;
    labels.update(&feed.model);
    if let Some(n) = netns.as_mut() {
        if *live {
            n.names.extend(crate::capture::netns::names());
        }
        n.update(&feed.model);
    }
    info.kernel_stats = feed.kernel_stats;
    info.utilization_now = feed.utilization_now();
    info.records = feed.records;
    let snapshot = metrics::snapshot(&feed.model, labels, netns.as_ref(), info);
    // Encoding needs the model no more: the feeder goes on meanwhile.
    drop(s);
    ([(header::CONTENT_TYPE, OPENMETRICS)], snapshot.encode())
}

async fn health_handler(State(state): State<AppState>) -> impl IntoResponse {
    let s = state.lock().unwrap_or_else(|e| e.into_inner());
    match (&s.ended, s.live) {
        // A live capture that ended no longer measures anything.
        (Some(why), true) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
        (Some(why), false) => (StatusCode::OK, format!("ok ({why})\n")),
        (None, _) => (StatusCode::OK, "ok\n".to_owned()),
    }
}

/// The address to listen on, refusing one off this host unless `--expose` says so.
fn listen_addr(args: &ServeArgs) -> Result<SocketAddr, Refused> {
    let addr: SocketAddr = args.listen.parse().map_err(|_| {
        Refused(format!(
            "--listen {:?} is not an address: IP:PORT, e.g. 127.0.0.1:9464 or [::1]:9464",
            args.listen
        ))
    })?;
    if !addr.ip().is_loopback() && !args.expose {
        return Err(Refused(format!(
            "--listen {addr} would serve the metrics beyond this host; add --expose to mean it"
        )));
    }
    Ok(addr)
}

pub fn run(args: &ServeArgs) -> anyhow::Result<i32> {
    let addr = listen_addr(args)?;
    if args.source.replay.is_some() && !args.capture.cmd.is_empty() {
        return Err(Refused("--replay shows a recording; it runs no command".into()).into());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    // Bind before the capture starts, so a port in use costs nothing.
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| Refused(format!("cannot listen on {addr}: {e}")))?;
    session::install_stop_handlers()?;
    let (source, label) = match &args.source.replay {
        Some(path) => (
            source::replay(source::open_replay(path)?, path.clone(), args.source.speed),
            "replay",
        ),
        None => (source::live(args.capture.session()), "live"),
    };
    let header = match source.rx.recv() {
        Ok(Msg::Started(h)) => h,
        Ok(Msg::Ended(why)) => {
            source.stop();
            return Err(Refused(why).into());
        }
        _ => {
            source.stop();
            return Err(Refused("the capture ended before it started".into()).into());
        }
    };
    let state: AppState = Arc::new(Mutex::new(Shared {
        feed: Totals::new(header.start_mono_ns),
        labels: CallerLabels::new(args.top_callers),
        netns: args.netns_labels.map(|n| {
            let mut l = NetnsLabels::new(n);
            l.names = header.netns_names.clone();
            l
        }),
        info: Info {
            version: env!("CARGO_PKG_VERSION").into(),
            kernel: header.kernel.clone(),
            capture_mode: header.capture_mode,
            source: label.into(),
            ..Default::default()
        },
        ended: None,
        live: args.source.replay.is_none(),
    }));
    eprintln!(
        "rtnlprof: serving RTNL metrics of {} ({label}) on http://{addr}/metrics",
        header.kernel
    );
    // The source's records go into the model on their own thread.
    let (rx, stopper) = source.into_parts();
    let feeder = {
        let state = state.clone();
        std::thread::spawn(move || {
            for msg in rx.iter() {
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                match msg {
                    Msg::Batch(records, now) => s.feed.add(&records, now),
                    Msg::KernelStats(k) => s.feed.kernel_stats = k,
                    Msg::Ended(why) => {
                        if s.live {
                            eprintln!("rtnlprof: {why}");
                        }
                        s.ended = Some(why);
                    }
                    Msg::Started(_) => {}
                }
            }
        })
    };
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(health_handler))
        .with_state(state.clone());
    let stop_on_live_end = state.clone();
    let served = rt.block_on(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    // A live capture that ended (--duration, CMD, an error) ends the serving;
                    // a replay's figures stay up until a signal.
                    let ended_live = {
                        let s = stop_on_live_end.lock().unwrap_or_else(|e| e.into_inner());
                        s.live && s.ended.is_some()
                    };
                    if session::signalled() || ended_live {
                        break;
                    }
                }
            })
            .await
    });
    stopper.stop();
    let _ = feeder.join();
    served?;
    Ok(0)
}
