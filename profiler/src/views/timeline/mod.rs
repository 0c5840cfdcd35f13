//! Timelines of a recording, for trace viewers: every hold as a slice on its thread's track, waits
//! linked to the holders they waited behind, RTNL state as counters (`chrome`), and hold time as
//! weighted stacks for the Firefox profiler (`firefox`). Both stream: records go in one at a time
//! in recording order, with bounded state.

pub mod chrome;
pub mod firefox;

use crate::{
    events::{HoldContext, Record},
    model::{names, Handler},
};

/// Which records an export keeps.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep records overlapping [from_ns, to_ns] (CLOCK_MONOTONIC, as in the recording).
    pub from_ns: Option<u64>,
    pub to_ns: Option<u64>,
    /// Keep only requests and holds of this rtnetlink message type (any family, doit or dump).
    pub msg_type: Option<u16>,
}

impl Filter {
    fn in_range(&self, start: u64, end: u64) -> bool {
        self.from_ns.is_none_or(|f| end >= f) && self.to_ns.is_none_or(|t| start <= t)
    }

    /// Whether the record is exported (its slices; counters follow the time range only).
    pub fn keeps(&self, r: &Record) -> bool {
        let (start, end) = span(r);
        if !self.in_range(start, end) {
            return false;
        }
        match self.msg_type {
            None => true,
            Some(t) => match r {
                Record::Request(q) => q.msg.nlmsg_type == t,
                Record::Hold(h) => match &h.context {
                    HoldContext::Request { msg, .. } | HoldContext::DumpContinue { msg, .. } => {
                        msg.nlmsg_type == t
                    }
                    HoldContext::Other { .. } => false,
                },
                Record::TrylockFailed { .. } => false,
            },
        }
    }

    /// Whether the record counts in the counters (RTNL state is global: the type does not apply).
    pub fn counts(&self, r: &Record) -> bool {
        let (start, end) = span(r);
        self.in_range(start, end)
    }
}

/// Start and end of a record: a hold from its wait's start to its release.
pub fn span(r: &Record) -> (u64, u64) {
    match r {
        Record::Request(q) => (q.start_ns, q.end_ns),
        Record::Hold(h) => (h.wait_start_ns, h.released_ns),
        Record::TrylockFailed { at_ns, .. } => (*at_ns, *at_ns),
    }
}

/// The handler a hold is attributed to, as the reports name it.
pub fn hold_handler(ctx: &HoldContext) -> Handler {
    match ctx {
        HoldContext::Request { msg, .. } | HoldContext::DumpContinue { msg, .. } => {
            Handler::Msg(*msg)
        }
        HoldContext::Other { caller } => Handler::Caller(caller.clone()),
    }
}

/// Parses `--type`: an RTM_ name (RTM_NEWLINK) or a number.
pub fn parse_type(s: &str) -> Result<u16, String> {
    names::parse_rtm(s).ok_or_else(|| {
        format!("{s:?} is not an rtnetlink message type (e.g. RTM_NEWLINK, or a number)")
    })
}

#[cfg(test)]
mod tests;
