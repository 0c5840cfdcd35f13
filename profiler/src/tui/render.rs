//! Drawing: pure functions of the UI state (and the snapshot inside it) into a frame.

use ratatui::{
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style, Stylize},
    text::{Line, Span, Text},
    widgets::{
        Block, BorderType, Cell, Clear, List, ListItem, ListState, Paragraph, Row as TRow,
        Sparkline, Table, TableState, Wrap,
    },
    Frame,
};

use super::{
    app::{App, Focus},
    view::{Column, Row},
};
use crate::model::candidates::human_ns;

/// Smaller than this, the screen says so instead of drawing a broken layout.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

const NAME_MIN: u16 = 22;

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "terminal too small ({}×{}): rtnlprof top needs at least {MIN_WIDTH}×{MIN_HEIGHT}; q quits",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let lower = (area.height * 2 / 5).clamp(8, 22);
    let [header, table, pane, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(4),
        Constraint::Length(lower),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, app, header);
    draw_table(frame, app, table);
    if app.detail {
        draw_detail(frame, app, pane);
    } else {
        draw_candidates(frame, app, pane);
    }
    draw_footer(frame, app, footer);
    if app.help {
        draw_help(frame, area);
    }
}

fn duration(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", ns as f64 / 1e9)
    }
}

fn draw_header(frame: &mut Frame, app: &App, area: Rect) {
    let h = &app.snapshot.header;
    let sep = || Span::raw(" │ ").dark_gray();
    // Line 1: what is shown, with the state badges first so a narrow screen keeps them.
    let mut first = vec![Span::raw("rtnlprof top").bold()];
    if app.paused {
        first.push(Span::raw(" "));
        first.push(Span::raw(" PAUSED ").black().on_yellow().bold());
    }
    if let Some(end) = &h.ended {
        first.push(Span::raw(" "));
        first.push(Span::raw(format!(" {end} ")).black().on_cyan());
    }
    for part in [h.kernel.as_str(), h.mode.as_str(), h.source.as_str()] {
        first.push(sep());
        first.push(Span::raw(part.to_owned()));
    }
    first.push(sep());
    first.push(Span::raw(duration(h.elapsed_ns)));
    let [line1, line2] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(first)), line1);

    // Line 2: rates, lost events, utilization now and over the last minute.
    let lost = Span::raw(format!("lost {}", h.lost));
    let tp = !h.mode.measures_holds();
    let util = Span::raw(if tp {
        "RTNL held n/a (contended waits only)".to_owned()
    } else {
        format!("RTNL held {:>5.1}% now", 100.0 * h.utilization_now)
    });
    let second = Line::from(vec![
        Span::raw(format!("{:.0} ev/s", h.events_per_second)),
        sep(),
        Span::raw(format!("{} events", h.records)),
        sep(),
        if h.lost > 0 {
            lost.white().on_red().bold()
        } else {
            lost
        },
        sep(),
        if h.utilization_now >= 0.5 {
            util.red().bold()
        } else {
            util
        },
        sep(),
        Span::raw("last min "),
    ]);
    let [l, spark] = Layout::horizontal([
        Constraint::Length(second.width() as u16),
        Constraint::Fill(1),
    ])
    .areas(line2);
    frame.render_widget(Paragraph::new(second), l);
    // The newest second at the right edge.
    let n = spark.width as usize;
    let data = &h.utilization_history[h.utilization_history.len().saturating_sub(n)..];
    frame.render_widget(
        Sparkline::default()
            .data(data)
            .max(1000)
            .style(Style::default().fg(Color::Green)),
        spark,
    );
}

fn num(n: u64) -> String {
    n.to_string()
}

/// Columns the tracepoint mode cannot measure (it sees contended waits, never a hold).
fn unmeasured(c: Column) -> bool {
    matches!(
        c,
        Column::Holds
            | Column::HoldP50
            | Column::HoldP99
            | Column::HoldMax
            | Column::HoldTotal
            | Column::Share
            | Column::Gp
            | Column::Score
            | Column::CrossNs
            | Column::MadeWait
    )
}

fn cell_text(c: Column, r: &Row, tracepoint: bool) -> String {
    if tracepoint && unmeasured(c) {
        return "n/a".into();
    }
    let timing = !matches!(
        c,
        Column::Handler | Column::Requests | Column::Holds | Column::Score | Column::Netns
    );
    if timing && r.holds == 0 {
        // Nothing held: no figures, rather than zeros that read as measured.
        return "-".into();
    }
    match c {
        Column::Handler => r.name.clone(),
        Column::Requests => num(r.requests),
        Column::Holds => num(r.holds),
        Column::HoldP50 => human_ns(r.hold_p50),
        Column::HoldP99 => human_ns(r.hold_p99),
        Column::HoldMax => human_ns(r.hold_max),
        Column::HoldTotal => human_ns(r.hold_total),
        Column::WaitP99 if r.wait_p99 == 0 => "-".into(),
        Column::WaitP99 => human_ns(r.wait_p99),
        Column::WaitTotal => human_ns(r.wait_total),
        Column::MadeWait => human_ns(r.made_wait),
        Column::Share => format!("{:.1}%", 100.0 * r.share),
        Column::Gp => human_ns(r.gp_ns),
        Column::Score => r.score.map_or("-".into(), |s| format!("{s:.1}")),
        Column::Netns => r.netns.clone(),
        Column::CrossNs if r.netns_inodes.is_empty() => "-".into(),
        Column::CrossNs => human_ns(r.cross_wait),
    }
}

/// A column's width on screen: the sort column's title carries the arrow too, when it is wider
/// than the column.
fn shown_width(c: Column, sort: Column) -> u16 {
    let title = c.title().chars().count() as u16;
    if c == sort {
        c.width().max(title + 2)
    } else {
        c.width()
    }
}

/// The columns that fit in `width`, in display order: the handler, the sort column, then the rest
/// by importance. The namespace columns come before the least important timings when any row
/// knows its namespaces, and not at all when none does (they would only say "-").
pub fn visible_columns(width: u16, sort: Column, netns: bool) -> Vec<Column> {
    let mut by_importance: Vec<Column> = Column::ALL
        .into_iter()
        .filter(|c| netns || c == &sort || !matches!(c, Column::Netns | Column::CrossNs))
        .collect();
    let order = |c: &Column| match c {
        Column::Netns | Column::CrossNs if netns => Column::HoldMax.drop_order(),
        _ => c.drop_order(),
    };
    by_importance.sort_by_key(|c| (*c != Column::Handler, *c != sort, order(c)));
    let mut used = NAME_MIN;
    let mut keep = vec![Column::Handler];
    for c in by_importance.into_iter().skip(1) {
        if used + 1 + shown_width(c, sort) <= width {
            used += 1 + shown_width(c, sort);
            keep.push(c);
        }
    }
    Column::ALL
        .into_iter()
        .filter(|c| keep.contains(c))
        .collect()
}

fn focused_block(title: Line<'static>, focused: bool) -> Block<'static> {
    let b = Block::bordered().title(title);
    if focused {
        b.border_type(BorderType::Thick)
            .border_style(Style::default().fg(Color::Cyan))
    } else {
        b.border_style(Style::default().fg(Color::DarkGray))
    }
}

fn draw_table(frame: &mut Frame, app: &App, area: Rect) {
    let s = &app.snapshot;
    let tp = !s.header.mode.measures_holds();
    let arrow = if app.ascending { "▲" } else { "▼" };
    let title = Line::from(vec![
        Span::raw(" RTNL holders ").bold(),
        Span::raw(format!(
            "· {} · {} rows · held {} · waited {} · sorted by {} {arrow} ",
            s.window,
            s.rows.len(),
            if tp {
                "n/a".into()
            } else {
                human_ns(s.hold_total)
            },
            human_ns(s.wait_total),
            app.sort.title()
        )),
    ]);
    let block = focused_block(title, app.focus == Focus::Table);
    let inner_width = area.width.saturating_sub(2 + 2);
    let netns = s.rows.iter().any(|r| !r.netns_inodes.is_empty());
    let cols = visible_columns(inner_width, app.sort, netns);
    let header = TRow::new(cols.iter().map(|c| {
        let t = if *c == app.sort {
            format!("{} {arrow}", c.title())
        } else {
            c.title().to_owned()
        };
        let cell = Cell::from(if *c == Column::Handler {
            Line::from(t)
        } else {
            Line::from(t).right_aligned()
        });
        if *c == app.sort {
            cell.style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
        } else {
            cell.style(Style::default().add_modifier(Modifier::BOLD))
        }
    }));
    let rows = s.rows.iter().map(|r| {
        TRow::new(cols.iter().map(|c| {
            let t = cell_text(*c, r, tp);
            Cell::from(if *c == Column::Handler {
                Line::from(t)
            } else {
                Line::from(t).right_aligned()
            })
        }))
    });
    let widths = cols.iter().map(|c| match c {
        Column::Handler => Constraint::Min(NAME_MIN),
        c => Constraint::Length(shown_width(*c, app.sort)),
    });
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .highlight_symbol("▶ ");
    let mut state = TableState::default().with_selected(app.selected_index());
    if s.rows.is_empty() {
        frame.render_widget(table, area);
        let msg = Paragraph::new("no RTNL activity yet")
            .dark_gray()
            .centered();
        let inner = area.inner(ratatui::layout::Margin::new(1, 2));
        frame.render_widget(msg, inner);
    } else {
        frame.render_stateful_widget(table, area, &mut state);
    }
}

/// A histogram as labelled horizontal bars, `width` columns wide.
fn histogram_lines(buckets: &[(u64, u64)], width: u16, height: usize) -> Vec<Line<'static>> {
    if buckets.is_empty() {
        return vec![Line::from("no samples").dark_gray()];
    }
    // From the first bucket with samples to the last; when they do not all fit, the ends with
    // fewer samples give way.
    let first = buckets.iter().position(|b| b.1 > 0).unwrap_or(0);
    let last = buckets.iter().rposition(|b| b.1 > 0).unwrap_or(0);
    let mut idx: Vec<usize> = (first..=last).collect();
    {
        while idx.len() > height.max(1) {
            // Drop the smaller of the two ends.
            if buckets[idx[0]].1 <= buckets[*idx.last().unwrap()].1 {
                idx.remove(0);
            } else {
                idx.pop();
            }
        }
    }
    let max = idx.iter().map(|&i| buckets[i].1).max().unwrap_or(1).max(1);
    let count_w = max.to_string().len();
    let bar_w = (width as usize).saturating_sub(10 + 1 + count_w + 1).max(1);
    idx.iter()
        .map(|&i| {
            let (bound, count) = buckets[i];
            let eighths = (count as u128 * bar_w as u128 * 8 / max as u128) as usize;
            let mut bar = "█".repeat(eighths / 8);
            if !eighths.is_multiple_of(8) {
                bar.push([' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'][eighths % 8]);
            }
            Line::from(vec![
                Span::raw(format!("≤{:>9}", human_ns(bound))).dark_gray(),
                Span::raw(" "),
                Span::raw(format!("{bar:<bar_w$}")).cyan(),
                Span::raw(format!(" {count:>count_w$}")),
            ])
        })
        .collect()
}

fn draw_detail(frame: &mut Frame, app: &App, area: Rect) {
    let Some(row) = app.selected_index().map(|i| &app.snapshot.rows[i]) else {
        let block = focused_block(Line::from(" Detail "), app.focus == Focus::Lower);
        frame.render_widget(Paragraph::new("no row selected").block(block), area);
        return;
    };
    let d = &row.detail;
    let title = Line::from(vec![
        Span::raw(" Detail: ").bold(),
        Span::raw(format!("{} ", row.name)).bold().cyan(),
    ]);
    let block = focused_block(title, app.focus == Focus::Lower);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Two lines: the facts wrap on a narrow screen.
    let [summary, body] =
        Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(inner);
    let mut facts = format!(
        "requests {} ({} took RTNL) · holds {}",
        row.requests, d.requests_locked, row.holds
    );
    if d.continuation_holds > 0 {
        facts += &format!(" ({} in dump continuations)", d.continuation_holds);
    }
    facts += &format!(" · contended waits {}", d.contended_waits);
    if d.gp_count > 0 {
        facts += &format!(" · grace periods {} ({})", d.gp_count, human_ns(row.gp_ns));
    }
    if d.trylock_failed > 0 {
        facts += &format!(" · failed trylocks {}", d.trylock_failed);
    }
    if let Some(n) = std::num::NonZeroU64::new(d.requests_locked) {
        facts += &format!(
            " · per locked request {} before the lock, {} after the release",
            human_ns(d.pre_lock_ns / n),
            human_ns(d.post_release_ns / n)
        );
    }
    frame.render_widget(Paragraph::new(facts).wrap(Wrap { trim: true }), summary);

    let sections: Vec<(String, Vec<Line<'static>>)> = {
        let tasks = if d.top_tasks.is_empty() {
            vec![Line::from("no holds").dark_gray()]
        } else {
            d.top_tasks
                .iter()
                .map(|(t, holds, ns)| Line::from(format!("{t}  {holds} holds, {}", human_ns(*ns))))
                .collect()
        };
        let mut behind: Vec<Line<'static>> = if d.waited_behind.is_empty() {
            vec![Line::from("waited behind nobody").dark_gray()]
        } else {
            d.waited_behind
                .iter()
                .map(|(h, ns, share)| {
                    Line::from(format!("{:>4.0}% {}  {h}", 100.0 * share, human_ns(*ns)))
                })
                .collect()
        };
        if d.handoff_ns > 0 {
            behind.push(
                Line::from(format!(
                    "hand-off {} (release to running)",
                    human_ns(d.handoff_ns)
                ))
                .dark_gray(),
            );
        }
        vec![
            ("hold time".into(), Vec::new()),
            ("wait time".into(), Vec::new()),
            ("top threads".into(), tasks),
            ("waited behind".into(), behind),
        ]
    };
    // Four columns on a wide screen, two by two otherwise.
    let cells: Vec<Rect> = if body.width >= 140 {
        Layout::horizontal([Constraint::Ratio(1, 4); 4])
            .spacing(1)
            .split(body)
            .to_vec()
    } else {
        let [top, bottom] = Layout::vertical([Constraint::Ratio(1, 2); 2]).areas(body);
        let [a, b] = Layout::horizontal([Constraint::Ratio(1, 2); 2])
            .spacing(1)
            .areas(top);
        let [c, e] = Layout::horizontal([Constraint::Ratio(1, 2); 2])
            .spacing(1)
            .areas(bottom);
        vec![a, b, c, e]
    };
    for (k, ((title, lines), cell)) in sections.into_iter().zip(cells).enumerate() {
        let height = cell.height.saturating_sub(1) as usize;
        let lines = match k {
            0 => histogram_lines(&d.hold_buckets, cell.width, height),
            1 => histogram_lines(&d.wait_buckets, cell.width, height),
            _ => lines,
        };
        let mut text = vec![Line::from(title).bold().underlined()];
        text.extend(lines);
        let scroll = if k >= 2 { app.detail_scroll } else { 0 };
        frame.render_widget(Paragraph::new(Text::from(text)).scroll((scroll, 0)), cell);
    }
}

fn draw_candidates(frame: &mut Frame, app: &App, area: Rect) {
    let cands = &app.snapshot.candidates;
    let title = Line::from(vec![
        Span::raw(" Candidates for running without RTNL ").bold(),
        Span::raw("(score 0–175: share of hold time and of others' wait; read-only and grace periods weigh more) "),
    ]);
    let block = focused_block(title, app.focus == Focus::Lower);
    if !app.snapshot.header.mode.measures_holds() {
        frame.render_widget(
            Paragraph::new(
                "not measured in tracepoint mode: the candidates need hold times (this kernel \
                 refuses the full capture; record where it runs)",
            )
            .dark_gray()
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(block),
            area,
        );
        return;
    }
    if cands.is_empty() {
        frame.render_widget(
            Paragraph::new("no rtnetlink requests yet")
                .dark_gray()
                .block(block),
            area,
        );
        return;
    }
    let width = area.width.saturating_sub(4) as usize;
    let items: Vec<ListItem> = cands
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let head = if c.unlocked {
                Line::from(vec![
                    Span::raw(format!("{:>2}. ", i + 1)),
                    Span::raw("  -   ").dark_gray(),
                    Span::raw(c.handler.clone()).dark_gray(),
                ])
            } else {
                Line::from(vec![
                    Span::raw(format!("{:>2}. ", i + 1)),
                    Span::raw(format!("{:>5.1} ", c.score)).yellow().bold(),
                    Span::raw(c.handler.clone()).bold(),
                ])
            };
            let mut lines = vec![head];
            for r in &c.reasons {
                let mut s = format!("          · {r}");
                if s.chars().count() > width {
                    s = s.chars().take(width.saturating_sub(1)).collect::<String>() + "…";
                }
                lines.push(Line::from(s));
            }
            ListItem::new(Text::from(lines))
        })
        .collect();
    let list = List::new(items)
        .block(block)
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default().with_selected(if app.focus == Focus::Lower {
        Some(app.candidate)
    } else {
        None
    });
    if app.focus != Focus::Lower {
        // Scrolled to the selected candidate even when not highlighted.
        *state.offset_mut() = 0;
    }
    frame.render_stateful_widget(list, area, &mut state);
}

fn draw_footer(frame: &mut Frame, app: &App, area: Rect) {
    let key = |k: &'static str| Span::raw(k).black().on_gray();
    let mut spans = Vec::new();
    for (k, what) in [
        ("q", "quit"),
        ("?", "help"),
        ("↑↓", "select"),
        ("⏎", if app.detail { "candidates" } else { "detail" }),
        ("Tab", "pane"),
        ("s/S", "sort"),
        ("w", "window"),
        ("p", if app.paused { "resume" } else { "pause" }),
        ("r", "reset"),
        ("n", "netns"),
    ] {
        spans.push(key(k));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub const HELP: &[(&str, &str)] = &[
    ("↑ ↓  j k", "select a row (a candidate in the lower pane)"),
    ("PgUp PgDn g G", "a page up, down, the first, the last"),
    ("Enter", "detail of the row / back to the candidates"),
    ("Tab", "between the table and the lower pane"),
    ("s", "sort by the next column"),
    ("S", "reverse the sort direction"),
    ("w", "window: since start / last 10 s"),
    ("p  Space", "pause the screen (capture goes on)"),
    ("r", "reset: start the figures over"),
    ("n", "one network namespace at a time, then all"),
    ("Esc", "close help or detail"),
    ("?  F1", "this help"),
    ("q  Ctrl-C", "quit"),
];

/// What the live blame figures lag by, said where the keys are explained.
pub const BLAME_NOTE: &[&str] = &[
    "MADE WAIT and \"waited behind\" count a wait once its holder's",
    "record is in: a request's holds come when it returns.",
];

fn draw_help(frame: &mut Frame, area: Rect) {
    let w = 66.min(area.width);
    let h = (HELP.len() as u16 + 7).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, popup);
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::raw(format!("{k:>14}  ")).bold().cyan(),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    for l in BLAME_NOTE {
        lines.push(Line::from(*l).dark_gray());
    }
    lines.push(Line::from(""));
    lines.push(
        Line::from("any key closes this help")
            .dark_gray()
            .centered(),
    );
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(" Keys ")
                .border_type(BorderType::Rounded),
        ),
        popup,
    );
}
