//! The UI state and the one `Action` enum that changes it. Keys become actions, actions update
//! the state; nothing here draws or reads the kernel.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::view::{sort_rows, Column, Snapshot};
use crate::model::Handler;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    /// Enter: show (or hide) the selected row's detail pane.
    ToggleDetail,
    /// Esc: close help or detail.
    Back,
    /// Tab: move focus between the table and the lower pane.
    NextPane,
    /// s: sort by the next column.
    NextSortColumn,
    /// S: reverse the sort direction.
    ReverseSort,
    /// w: last 10 s / since start.
    ToggleWindow,
    /// p: freeze the screen (the capture goes on).
    TogglePause,
    /// r: start the figures over.
    Reset,
    /// n: show one network namespace (the next), or all again.
    NextNetns,
    ToggleHelp,
    Quit,
    /// Any other key (it closes the help).
    Other,
}

/// Which pane the arrow keys move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Table,
    Lower,
}

/// What the window key selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    SinceStart,
    Last10s,
}

impl Window {
    pub fn label(self) -> &'static str {
        match self {
            Window::SinceStart => "since start",
            Window::Last10s => "last 10 s",
        }
    }
}

/// What the event loop must do after an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    /// The data behind the screen changed its scope: rebuild the snapshot now.
    Refresh,
    /// Start the figures over.
    Reset,
    Quit,
}

#[derive(Debug, Clone)]
pub struct App {
    pub snapshot: Snapshot,
    pub sort: Column,
    pub ascending: bool,
    /// The selected row, by handler, so it stays selected when rows move.
    pub selected: Option<Handler>,
    pub focus: Focus,
    pub detail: bool,
    pub help: bool,
    pub paused: bool,
    pub window: Window,
    /// Selected candidate in the candidates pane.
    pub candidate: usize,
    /// Detail pane scroll (lines).
    pub detail_scroll: u16,
    /// Only this network namespace (inode), or all.
    pub netns: Option<u32>,
}

impl Default for App {
    fn default() -> Self {
        App {
            snapshot: Snapshot::default(),
            sort: Column::HoldTotal,
            ascending: false,
            selected: None,
            focus: Focus::Table,
            detail: false,
            help: false,
            paused: false,
            window: Window::SinceStart,
            candidate: 0,
            detail_scroll: 0,
            netns: None,
        }
    }
}

/// The action a key stands for, if any.
pub fn action_for(key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::First,
        KeyCode::End | KeyCode::Char('G') => Action::Last,
        KeyCode::Enter => Action::ToggleDetail,
        KeyCode::Esc => Action::Back,
        KeyCode::Tab | KeyCode::BackTab => Action::NextPane,
        KeyCode::Char('s') => Action::NextSortColumn,
        KeyCode::Char('S') => Action::ReverseSort,
        KeyCode::Char('w') => Action::ToggleWindow,
        KeyCode::Char('p') | KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Char('r') => Action::Reset,
        KeyCode::Char('n') => Action::NextNetns,
        KeyCode::Char('?') | KeyCode::F(1) => Action::ToggleHelp,
        _ => Action::Other,
    })
}

const PAGE: usize = 10;

impl App {
    /// Index of the selected row in the (sorted) rows: the remembered handler, else the first.
    pub fn selected_index(&self) -> Option<usize> {
        if self.snapshot.rows.is_empty() {
            return None;
        }
        Some(
            self.selected
                .as_ref()
                .and_then(|h| self.snapshot.rows.iter().position(|r| &r.handler == h))
                .unwrap_or(0),
        )
    }

    /// Takes new data (unless paused), keeping the sort and the selected row.
    pub fn set_snapshot(&mut self, mut snapshot: Snapshot) {
        sort_rows(&mut snapshot.rows, self.sort, self.ascending);
        self.snapshot = snapshot;
        if self.selected_index().is_none() || self.selected.is_none() {
            self.selected = self.snapshot.rows.first().map(|r| r.handler.clone());
        } else if !self
            .snapshot
            .rows
            .iter()
            .any(|r| Some(&r.handler) == self.selected.as_ref())
        {
            // The selected handler is gone (reset, or out of the window): keep the position.
            self.selected = self.snapshot.rows.first().map(|r| r.handler.clone());
        }
        self.candidate = self
            .candidate
            .min(self.snapshot.candidates.len().saturating_sub(1));
    }

    fn move_selection(&mut self, delta: isize) {
        match self.focus {
            Focus::Table => {
                let Some(i) = self.selected_index() else {
                    return;
                };
                let n = self.snapshot.rows.len() as isize;
                let j = (i as isize + delta).clamp(0, n - 1) as usize;
                self.selected = Some(self.snapshot.rows[j].handler.clone());
                self.detail_scroll = 0;
            }
            Focus::Lower if self.detail => {
                self.detail_scroll = (self.detail_scroll as isize + delta).clamp(0, 200) as u16;
            }
            Focus::Lower => {
                let n = self.snapshot.candidates.len() as isize;
                if n > 0 {
                    self.candidate = (self.candidate as isize + delta).clamp(0, n - 1) as usize;
                }
            }
        }
    }

    pub fn update(&mut self, action: Action) -> Effect {
        if self.help && !matches!(action, Action::Quit | Action::ToggleHelp | Action::Back) {
            // Any other key closes the help first.
            self.help = false;
            return Effect::None;
        }
        match action {
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-(PAGE as isize)),
            Action::PageDown => self.move_selection(PAGE as isize),
            Action::First => self.move_selection(-(isize::MAX / 2)),
            Action::Last => self.move_selection(isize::MAX / 2),
            Action::ToggleDetail => {
                self.detail = !self.detail;
                self.detail_scroll = 0;
            }
            Action::Back => {
                if self.help {
                    self.help = false;
                } else {
                    self.detail = false;
                }
            }
            Action::NextPane => {
                self.focus = match self.focus {
                    Focus::Table => Focus::Lower,
                    Focus::Lower => Focus::Table,
                }
            }
            Action::NextSortColumn => {
                self.sort = self.sort.next();
                // Names read best A to Z, figures largest first.
                self.ascending = self.sort == Column::Handler;
                sort_rows(&mut self.snapshot.rows, self.sort, self.ascending);
            }
            Action::ReverseSort => {
                self.ascending = !self.ascending;
                sort_rows(&mut self.snapshot.rows, self.sort, self.ascending);
            }
            Action::ToggleWindow => {
                self.window = match self.window {
                    Window::SinceStart => Window::Last10s,
                    Window::Last10s => Window::SinceStart,
                };
                return Effect::Refresh;
            }
            Action::TogglePause => {
                self.paused = !self.paused;
                return if self.paused {
                    Effect::None
                } else {
                    Effect::Refresh
                };
            }
            Action::Reset => return Effect::Reset,
            Action::NextNetns => {
                let list = &self.snapshot.netns;
                self.netns = match self.netns {
                    None => list.first().map(|n| n.0),
                    Some(cur) => list
                        .iter()
                        .position(|n| n.0 == cur)
                        .and_then(|i| list.get(i + 1))
                        .map(|n| n.0),
                };
                return Effect::Refresh;
            }
            Action::ToggleHelp => self.help = !self.help,
            Action::Quit => return Effect::Quit,
            Action::Other => {}
        }
        Effect::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{model::Model, trace::synthetic::Realistic, tui::view::HeaderInfo};

    fn app() -> App {
        let mut m = Model::new();
        Realistic::new().take(5000).for_each(|r| m.add(&r));
        let mut a = App::default();
        a.set_snapshot(Snapshot::new(
            &m,
            HeaderInfo::default(),
            "since start".into(),
        ));
        a
    }

    #[test]
    fn the_selected_row_stays_selected_when_the_order_changes() {
        let mut a = app();
        a.update(Action::Down);
        a.update(Action::Down);
        let chosen = a.selected.clone().unwrap();
        assert_eq!(a.selected_index(), Some(2));
        a.update(Action::NextSortColumn); // by name, A to Z
        let i = a.selected_index().unwrap();
        assert_eq!(a.snapshot.rows[i].handler, chosen);
        let snap = a.snapshot.clone();
        a.set_snapshot(snap);
        assert_eq!(a.selected.as_ref(), Some(&chosen));
    }

    #[test]
    fn sorting_orders_rows_by_the_column_both_ways() {
        let mut a = app();
        while a.sort != Column::Requests {
            a.update(Action::NextSortColumn);
        }
        let reqs: Vec<u64> = a.snapshot.rows.iter().map(|r| r.requests).collect();
        assert!(reqs.windows(2).all(|w| w[0] >= w[1]), "{reqs:?}");
        a.update(Action::ReverseSort);
        let reqs: Vec<u64> = a.snapshot.rows.iter().map(|r| r.requests).collect();
        assert!(reqs.windows(2).all(|w| w[0] <= w[1]), "{reqs:?}");
    }

    #[test]
    fn keys_map_to_actions_and_help_swallows_the_next_key() {
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        assert_eq!(action_for(key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(action_for(key(KeyCode::Char('j'))), Some(Action::Down));
        assert_eq!(action_for(key(KeyCode::Char('x'))), Some(Action::Other));
        let mut a = app();
        a.update(Action::ToggleHelp);
        assert!(a.help);
        assert_eq!(a.update(Action::Down), Effect::None);
        assert!(!a.help);
        assert_eq!(a.selected_index(), Some(0));
        assert_eq!(a.update(Action::Quit), Effect::Quit);
        assert_eq!(a.update(Action::Reset), Effect::Reset);
        assert_eq!(a.update(Action::ToggleWindow), Effect::Refresh);
        assert_eq!(a.window, Window::Last10s);
    }

    #[test]
    fn arrows_move_in_the_focused_pane() {
        let mut a = app();
        a.update(Action::NextPane);
        a.update(Action::Down);
        assert_eq!(a.candidate, 1);
        assert_eq!(a.selected_index(), Some(0));
        a.update(Action::Last);
        assert_eq!(a.candidate, a.snapshot.candidates.len() - 1);
        a.update(Action::NextPane);
        a.update(Action::Last);
        assert_eq!(a.selected_index(), Some(a.snapshot.rows.len() - 1));
    }
}
