//! `rtnlprof top`'s terminal UI, shaped as ratatui's templates teach:
//! `crate::source` (capture or replay, on its own thread) → `feed` (the models it fills) →
//! `view` (a snapshot of rows and candidates, pure) → `app` (UI state, changed only by an
//! `Action`) → `render` (pure drawing of the state into a frame). `cmd::top` runs the loop.

pub mod app;
pub mod feed;
pub mod render;
pub mod view;

use app::{App, Window};
use feed::Feed;
use view::{HeaderInfo, Snapshot};

/// The snapshot of what `app` asks to see of `feed`.
pub fn snapshot(feed: &Feed, app: &App, header: HeaderInfo) -> Snapshot {
    match app.window {
        Window::SinceStart => Snapshot::new(&feed.total, header, app.window.label().into()),
        Window::Last10s => {
            let label = if feed.window_capped {
                format!("last 10 s (the newest {} records)", feed::WINDOW_CAP)
            } else {
                app.window.label().into()
            };
            Snapshot::new(&feed.window(), header, label)
        }
    }
}

#[cfg(test)]
mod tests;
