//! The handlers' statistics, found by number on the hot path.
//!
//! Every hold and request looks its handler up, and every blame pair updates two handlers: a
//! sorted map compared whole `Handler`s at each level of its tree. Here each handler gets a
//! number at first sight (a hash lookup on the message type, or on the caller's name without
//! copying it), its statistics live in a vector at that number, and the blame index keys its
//! intervals by the same number. Readers see the handlers in `Handler` order, as before.

use std::ops::Index;

use rustc_hash::FxHashMap;

use super::{Handler, HandlerStats};
use crate::events::MsgType;

#[derive(Debug, Clone, Default)]
pub struct Handlers {
    msgs: FxHashMap<MsgType, u32>,
    callers: FxHashMap<String, u32>,
    list: Vec<(Handler, HandlerStats)>,
}

impl Handlers {
    /// The number of a message type's handler, given now if it has none.
    pub(super) fn msg_id(&mut self, m: MsgType) -> u32 {
        match self.msgs.get(&m) {
            Some(&id) => id,
            None => {
                let id = self.push(Handler::Msg(m));
                self.msgs.insert(m, id);
                id
            }
        }
    }

    /// The number of a kernel caller's handler, given now if it has none.
    pub(super) fn caller_id(&mut self, c: &str) -> u32 {
        match self.callers.get(c) {
            Some(&id) => id,
            None => {
                let id = self.push(Handler::Caller(c.to_string()));
                self.callers.insert(c.to_string(), id);
                id
            }
        }
    }

    pub(super) fn id(&mut self, h: &Handler) -> u32 {
        match h {
            Handler::Msg(m) => self.msg_id(*m),
            Handler::Caller(c) => self.caller_id(c),
        }
    }

    fn push(&mut self, h: Handler) -> u32 {
        let id = u32::try_from(self.list.len()).expect("fewer than 2^32 handlers");
        self.list.push((h, HandlerStats::default()));
        id
    }

    pub(super) fn by_id(&self, id: u32) -> (&Handler, &HandlerStats) {
        let (h, s) = &self.list[id as usize];
        (h, s)
    }

    pub(super) fn stats_mut(&mut self, id: u32) -> &mut HandlerStats {
        &mut self.list[id as usize].1
    }

    /// A handler's statistics, once it was seen.
    pub fn get(&self, h: &Handler) -> Option<&HandlerStats> {
        let id = match h {
            Handler::Msg(m) => self.msgs.get(m),
            Handler::Caller(c) => self.callers.get(c.as_str()),
        }?;
        Some(&self.list[*id as usize].1)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every handler, in `Handler` order.
    pub fn iter(&self) -> impl Iterator<Item = (&Handler, &HandlerStats)> {
        let mut v: Vec<&(Handler, HandlerStats)> = self.list.iter().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().map(|(h, s)| (h, s))
    }

    /// Every handler's statistics, in `Handler` order.
    pub fn values(&self) -> impl Iterator<Item = &HandlerStats> {
        self.iter().map(|(_, s)| s)
    }

    pub fn keys(&self) -> impl Iterator<Item = &Handler> {
        self.iter().map(|(h, _)| h)
    }
}

impl Index<&Handler> for Handlers {
    type Output = HandlerStats;

    fn index(&self, h: &Handler) -> &HandlerStats {
        self.get(h).expect("no such handler")
    }
}

impl<'a> IntoIterator for &'a Handlers {
    type Item = (&'a Handler, &'a HandlerStats);
    type IntoIter = Box<dyn Iterator<Item = (&'a Handler, &'a HandlerStats)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}
