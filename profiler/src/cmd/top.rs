//! `rtnlprof top`: the live terminal UI (or a recording replayed in it).

use std::{
    io::IsTerminal,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use ratatui::crossterm::event::{self, Event};

use crate::{
    capture::{
        session,
        source::{self, Msg, Source},
    },
    cli::TopArgs,
    tui::{
        self,
        app::{action_for, App, Effect},
        feed::Feed,
        render,
        view::HeaderInfo,
    },
};

/// How often the figures are recomputed (keys redraw at once).
const REFRESH: Duration = Duration::from_millis(500);
/// The longest the loop spends taking in records before it looks at the keyboard again.
const INTAKE_BUDGET: Duration = Duration::from_millis(50);

pub fn run(args: &TopArgs) -> anyhow::Result<i32> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!(
            "rtnlprof top needs a terminal; `rtnlprof stat` and `rtnlprof record` run without one"
        );
    }
    if args.source.replay.is_some() && !args.capture.cmd.is_empty() {
        bail!("--replay shows a recording; it runs no command");
    }
    session::install_stop_handlers()?;
    let (source, label) = match &args.source.replay {
        Some(path) => {
            let reader = source::open_replay(path)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (
                source::replay(reader, path.clone(), args.source.speed),
                format!("replay {name} {}", args.source.speed),
            )
        }
        None => (source::live(args.capture.session()), "live".to_owned()),
    };
    // Nothing takes the screen before the source runs: its failure is a plain line.
    let header = match source.rx.recv() {
        Ok(Msg::Started(h)) => h,
        Ok(Msg::Ended(why)) => {
            source.stop();
            bail!(
                "{why}; `rtnlprof top --replay FILE` shows a recording (made where capture runs) without capturing"
            );
        }
        _ => {
            source.stop();
            bail!("the capture ended before it started");
        }
    };
    let info = HeaderInfo {
        kernel: header.kernel.clone(),
        mode: header.capture_mode,
        source: label,
        ..Default::default()
    };
    let live = args.source.replay.is_none();
    let mut terminal = ratatui::init();
    let result = ui_loop(
        &mut terminal,
        &source,
        header.start_mono_ns,
        info,
        live,
        header.netns_names.clone(),
    );
    ratatui::restore();
    source.stop();
    result.context("terminal")?;
    Ok(0)
}

fn ui_loop(
    terminal: &mut ratatui::DefaultTerminal,
    source: &Source,
    start_ns: u64,
    mut info: HeaderInfo,
    live: bool,
    netns_names: std::collections::BTreeMap<u32, String>,
) -> std::io::Result<()> {
    let mut feed = Feed::new(start_ns);
    let mut names = netns_names;
    let mut app = App::default();
    let mut refreshed: Option<Instant> = None;
    let mut force = true;
    // Draw only when something on screen may have changed.
    let mut dirty = true;
    let mut built_for: Option<(u64, u64)> = None;
    loop {
        let intake = Instant::now();
        while intake.elapsed() < INTAKE_BUDGET {
            match source.rx.try_recv() {
                Ok(Msg::Batch(records, now)) => feed.add(&records, now),
                Ok(Msg::KernelStats(k)) => feed.kernel_stats = k,
                Ok(Msg::Ended(why)) => info.ended = Some(why),
                Ok(Msg::Started(_)) => {}
                Err(_) => break,
            }
        }
        if live && info.ended.is_none() {
            feed.now_ns = feed.now_ns.max(super::monotonic_ns());
        }
        if force || (refreshed.is_none_or(|t| t.elapsed() >= REFRESH) && !app.paused) {
            info.elapsed_ns = feed.now_ns.saturating_sub(start_ns);
            info.events_per_second = feed.events_per_second();
            info.records = feed.records;
            info.lost = feed.kernel_stats.lost_events;
            info.utilization_now = feed.utilization_now();
            info.utilization_history = feed.utilization_history(60);
            // Rows are rebuilt when records came in (or the window moved); the header always.
            let key = (feed.total.records, feed.now_ns / 1_000_000_000);
            let window = app.window == tui::app::Window::Last10s;
            if built_for != Some(key) || window || force {
                if live {
                    // Namespaces made since the start have names now.
                    names.extend(crate::capture::netns::names());
                }
                app.set_snapshot(tui::snapshot(&feed, &app, info.clone(), &names));
                built_for = Some(key);
            } else {
                app.snapshot.header = info.clone();
            }
            refreshed = Some(Instant::now());
            force = false;
            dirty = true;
        }
        if dirty {
            terminal.draw(|f| render::draw(f, &app))?;
            dirty = false;
        }
        if session::signalled() {
            return Ok(());
        }
        let wait = REFRESH
            .saturating_sub(refreshed.map_or(Duration::ZERO, |t| t.elapsed()))
            .min(Duration::from_millis(100));
        if event::poll(wait)? {
            let ev = event::read()?;
            dirty = true;
            if let Event::Key(k) = ev {
                if let Some(a) = action_for(k) {
                    match app.update(a) {
                        Effect::Quit => return Ok(()),
                        Effect::Reset => {
                            feed.reset();
                            force = true;
                        }
                        Effect::Refresh => force = true,
                        Effect::None => {}
                    }
                }
            }
        }
    }
}
