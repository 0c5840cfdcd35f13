//! `rtnlprof top`'s terminal UI, shaped as ratatui's templates teach:
//! `crate::capture::source` (capture or replay, on its own thread) → `feed` (the models it fills) →
//! `view` (a snapshot of rows and candidates, pure) → `app` (UI state, changed only by an
//! `Action`) → `render` (pure drawing of the state into a frame). `cmd::top` runs the loop.

pub mod app;
pub mod feed;
pub mod render;
pub mod view;

use app::{App, Window};
use feed::Feed;
use view::{HeaderInfo, Snapshot};

/// The snapshot of what `app` asks to see of `feed` (namespace names from `names`).
pub fn snapshot(
    feed: &Feed,
    app: &App,
    header: HeaderInfo,
    names: &std::collections::BTreeMap<u32, String>,
) -> Snapshot {
    let ns = app.netns;
    let owned;
    let (model, mut label) = match app.window {
        Window::SinceStart => match ns.map(|n| feed.by_netns.get(&n)) {
            None => (&feed.total, app.window.label().to_owned()),
            Some(Some(m)) => (m, app.window.label().to_owned()),
            Some(None) => {
                owned = crate::model::Model::new();
                (&owned, app.window.label().to_owned())
            }
        },
        Window::Last10s => {
            owned = feed.window_of(ns);
            let label = if feed.window_capped {
                format!("last 10 s (the newest {} records)", feed::WINDOW_CAP)
            } else {
                app.window.label().into()
            };
            (&owned, label)
        }
    };
    let name = |n: u32| match names.get(&n) {
        Some(s) => s.clone(),
        None => n.to_string(),
    };
    if let Some(n) = ns {
        label = format!("{label} · netns {}", name(n));
    }
    let mut snap = Snapshot::new(model, header, label);
    snap.netns = feed.by_netns.keys().map(|&n| (n, name(n))).collect();
    for r in &mut snap.rows {
        r.netns = match r.netns_inodes.as_slice() {
            [] => "-".into(),
            [one] => name(*one),
            many => format!("{} ns", many.len()),
        };
    }
    snap
}

#[cfg(test)]
mod tests;
