//! Snapshots of every screen and pane of `top`, at 80×24 and 160×48, from the recorded fixtures.

use std::path::Path;

use ratatui::{backend::TestBackend, Terminal};

use super::{
    app::{Action, App},
    feed::Feed,
    render,
    view::HeaderInfo,
};
use crate::trace::reader::Reader;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

/// A feed filled from a fixture recording, as a replay that reached its end leaves it.
fn feed(fixture: &str) -> (Feed, HeaderInfo) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let mut reader = Reader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut feed = Feed::new(reader.header.start_mono_ns);
    let mut batch = Vec::new();
    loop {
        batch.clear();
        let more = reader.next_frame(&mut batch).unwrap();
        let now = batch.iter().map(|r| r.end_ns()).max().unwrap_or(0);
        feed.add(&batch, now);
        if !more {
            break;
        }
    }
    let footer = reader.footer.clone().unwrap();
    feed.add(&[], footer.end_mono_ns);
    feed.kernel_stats = footer.kernel_stats;
    let info = HeaderInfo {
        kernel: reader.header.kernel.clone(),
        mode: reader.header.capture_mode,
        source: format!("replay {fixture} max"),
        elapsed_ns: feed.now_ns - reader.header.start_mono_ns,
        events_per_second: 1234.0,
        records: feed.records,
        lost: feed.kernel_stats.lost_events,
        utilization_now: feed.utilization_now(),
        utilization_history: feed.utilization_history(60),
        ended: Some("replay finished".into()),
    };
    (feed, info)
}

fn app_for(fixture: &str, actions: &[Action]) -> App {
    let (feed, info) = feed(fixture);
    let mut app = App::default();
    app.set_snapshot(super::snapshot(
        &feed,
        &app,
        info.clone(),
        &Default::default(),
    ));
    for a in actions {
        if app.update(*a) == super::app::Effect::Refresh {
            app.set_snapshot(super::snapshot(
                &feed,
                &app,
                info.clone(),
                &Default::default(),
            ));
        }
    }
    app
}

fn screen(app: &App, (w, h): (u16, u16)) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render::draw(f, app)).unwrap();
    t.backend().to_string()
}

fn check(name: &str, fixture: &str, actions: &[Action]) {
    let app = app_for(fixture, actions);
    for size in SIZES {
        insta::assert_snapshot!(
            format!(
                "{name}_{}_{}x{}",
                fixture.trim_end_matches(".rtnl"),
                size.0,
                size.1
            ),
            screen(&app, size)
        );
    }
}

#[test]
fn main_screen_with_the_candidates_pane() {
    check("main", "6.12.rtnl", &[]);
    check("main", "6.1.rtnl", &[]);
}

#[test]
fn detail_pane_of_the_selected_row() {
    // The second row by hold time: RTM_NEWLINK, which waited behind addrconf_dad_work.
    check("detail", "6.12.rtnl", &[Action::Down, Action::ToggleDetail]);
}

#[test]
fn candidates_pane_focused_and_scrolled() {
    check(
        "candidates",
        "6.12.rtnl",
        &[Action::NextPane, Action::Down, Action::Down],
    );
}

#[test]
fn sorted_by_requests_ascending() {
    check(
        "sorted",
        "6.1.rtnl",
        &[
            Action::NextSortColumn,
            Action::NextSortColumn,
            Action::ReverseSort,
        ],
    );
}

#[test]
fn help_over_the_main_screen() {
    check("help", "6.12.rtnl", &[Action::ToggleHelp]);
}

#[test]
fn paused_and_the_last_ten_seconds() {
    check(
        "window",
        "6.12.rtnl",
        &[Action::ToggleWindow, Action::TogglePause],
    );
}

#[test]
fn lost_events_are_highlighted_and_an_empty_screen_says_so() {
    let mut app = App::default();
    app.set_snapshot(super::view::Snapshot::new(
        &crate::model::Model::new(),
        HeaderInfo {
            kernel: "6.12.0-test".into(),
            mode: crate::run::CaptureMode::Full,
            source: "live".into(),
            lost: 17,
            ..Default::default()
        },
        "since start".into(),
    ));
    for size in SIZES {
        insta::assert_snapshot!(
            format!("empty_lost_{}x{}", size.0, size.1),
            screen(&app, size)
        );
    }
    // The lost count is drawn white on red.
    let mut t = Terminal::new(TestBackend::new(160, 48)).unwrap();
    t.draw(|f| render::draw(f, &app)).unwrap();
    let buf = t.backend().buffer();
    let line: String = (0..160).map(|x| buf[(x, 1)].symbol().to_owned()).collect();
    let x = line.find("lost 17").expect("lost count in the header");
    let x = line[..x].chars().count() as u16;
    assert_eq!(buf[(x, 1)].bg, ratatui::style::Color::Red);
}

#[test]
fn a_terminal_too_small_gets_a_message() {
    let app = app_for("6.12.rtnl", &[]);
    let s = screen(&app, (50, 12));
    assert!(s.contains("terminal too small (50×12)"), "{s}");
    insta::assert_snapshot!("too_small_50x12", s);
}

#[test]
fn two_hundred_rows_render_and_scroll_to_the_selection() {
    let mut m = crate::model::Model::new();
    for i in 0..200u64 {
        let t = i * 1_000_000;
        m.add(&crate::trace::synthetic::caller_hold(
            &format!("caller_{i:03}"),
            1,
            t,
            t + 10,
            t + 1000 + i,
        ));
    }
    let mut app = App::default();
    app.set_snapshot(super::view::Snapshot::new(
        &m,
        HeaderInfo::default(),
        "since start".into(),
    ));
    assert_eq!(app.snapshot.rows.len(), 200);
    app.update(Action::Last);
    let s = screen(&app, (160, 48));
    // Sorted by hold time, the last row is the shortest hold: caller_000, and it is on screen.
    assert!(s.contains("▶ caller_000"), "{s}");
}

#[test]
fn the_netns_key_shows_one_namespace_at_a_time() {
    use crate::trace::synthetic::caller_hold;
    let mut feed = Feed::new(0);
    let mut records = Vec::new();
    for (i, (caller, ns)) in [("in_seven", 7u32), ("in_eight", 8), ("in_seven", 7)]
        .into_iter()
        .enumerate()
    {
        let t = i as u64 * 1_000_000;
        let mut r = caller_hold(caller, 1, t, t + 100, t + 1_000);
        if let crate::events::Record::Hold(h) = &mut r {
            h.netns = ns;
        }
        records.push(r);
    }
    feed.add(&records, 3_000_000);
    let names: std::collections::BTreeMap<u32, String> = [(7, "seven".to_owned())].into();
    let mut app = App::default();
    let snap = |app: &App| super::snapshot(&feed, app, HeaderInfo::default(), &names);
    app.set_snapshot(snap(&app));
    assert_eq!(app.snapshot.rows.len(), 2);
    assert_eq!(
        app.snapshot.netns,
        vec![(7, "seven".into()), (8, "8".into())]
    );
    let netns_of = |app: &App, name: &str| {
        app.snapshot
            .rows
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.netns.clone())
    };
    assert_eq!(netns_of(&app, "in_seven").as_deref(), Some("seven"));
    assert_eq!(app.update(Action::NextNetns), super::app::Effect::Refresh);
    app.set_snapshot(snap(&app));
    assert_eq!(app.netns, Some(7));
    assert_eq!(app.snapshot.rows.len(), 1);
    assert_eq!(app.snapshot.rows[0].holds, 2);
    assert!(
        app.snapshot.window.ends_with("netns seven"),
        "{}",
        app.snapshot.window
    );
    app.update(Action::NextNetns);
    app.set_snapshot(snap(&app));
    assert_eq!(app.netns, Some(8));
    assert_eq!(app.snapshot.rows[0].name, "in_eight");
    app.update(Action::NextNetns);
    app.set_snapshot(snap(&app));
    assert_eq!(app.netns, None);
    assert_eq!(app.snapshot.rows.len(), 2);
    let s = screen(&app, (160, 48));
    assert!(s.contains("NETNS") && s.contains("OTHER NS"), "{s}");
}

#[test]
fn sorted_by_made_wait_shows_the_whole_title_and_the_biggest_culprit_first() {
    // HELD, then WAIT>0 p99, WAITED, MADE WAIT.
    let app = app_for("6.12.rtnl", &[Action::NextSortColumn; 3]);
    assert_eq!(app.sort, super::view::Column::MadeWait);
    for size in SIZES {
        let s = screen(&app, size);
        assert!(s.contains("MADE WAIT ▼"), "{s}");
    }
    // In the 6.12 recording addrconf_dad_work made the others wait most (3.79 ms).
    assert_eq!(app.snapshot.rows[0].name, "addrconf_dad_work");
}
