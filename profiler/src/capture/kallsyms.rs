//! /proc/kallsyms: the address of `rtnl_mutex`, and kernel addresses to function names.

use std::io::BufRead;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub addr: u64,
    pub kind: char,
    pub name: String,
}

/// Kernel symbols sorted by address.
#[derive(Debug, Default, Clone)]
pub struct Kallsyms {
    syms: Vec<Symbol>,
    /// End of the kernel's own text (`_etext`): modules and BPF JIT-ed code lie past it.
    etext: u64,
}

impl Kallsyms {
    /// Parses kallsyms text: `ffffffff81000000 T _stext [module]` per line. Lines that do not
    /// parse are skipped.
    pub fn parse(reader: impl BufRead) -> std::io::Result<Self> {
        let mut syms = Vec::new();
        for line in reader.lines() {
            let line = line?;
            let mut it = line.split_whitespace();
            let (Some(addr), Some(kind), Some(name)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            let Some(kind) = kind.chars().next() else {
                continue;
            };
            syms.push(Symbol {
                addr,
                kind,
                name: name.to_owned(),
            });
        }
        syms.sort_by_key(|s| s.addr);
        let etext = syms
            .iter()
            .find(|s| s.name == "_etext")
            .map_or(u64::MAX, |s| s.addr);
        Ok(Kallsyms { syms, etext })
    }

    /// /proc/kallsyms, or the file $RTNLPROF_KALLSYMS names (a saved copy, for another kernel's
    /// symbols or for tests).
    pub fn load() -> std::io::Result<Self> {
        let path = std::env::var_os("RTNLPROF_KALLSYMS").unwrap_or_else(|| "/proc/kallsyms".into());
        let f = std::fs::File::open(path)?;
        Self::parse(std::io::BufReader::new(f))
    }

    /// The address of a symbol by name (0 when kallsyms hides addresses from this user).
    pub fn addr_of(&self, name: &str) -> Option<u64> {
        self.syms.iter().find(|s| s.name == name).map(|s| s.addr)
    }

    /// Every address reads as 0 when kptr_restrict hides them from this user.
    pub fn addresses_hidden(&self) -> bool {
        !self.syms.is_empty() && self.syms.iter().all(|s| s.addr == 0)
    }

    /// The function containing `addr`.
    pub fn function_at(&self, addr: u64) -> Option<&str> {
        self.symbol_at(addr).map(|s| s.name.as_str())
    }

    /// The function symbol an address falls in (the last one at or before it).
    fn symbol_at(&self, addr: u64) -> Option<&Symbol> {
        let idx = self.syms.partition_point(|s| s.addr <= addr);
        self.syms[..idx]
            .iter()
            .rev()
            .find(|s| matches!(s.kind, 't' | 'T' | 'w' | 'W'))
    }

    /// The caller that a hold outside rtnetlink is attributed to: the first frame after the mutex
    /// and RTNL helpers. Frames before the first helper (the BPF program and its trampoline) are
    /// skipped whatever they resolve to: JIT-ed code has no kallsyms entry of its own unless
    /// net.core.bpf_jit_kallsyms is set, so it would borrow the name of the last module symbol.
    pub fn caller_of(&self, frames: &[u64]) -> Option<String> {
        let syms: Vec<Option<&Symbol>> = frames.iter().map(|&ip| self.symbol_at(ip)).collect();
        // Without a helper frame, the leading frames past the kernel's text are the BPF
        // program's (a module's own caller then goes unnamed rather than misnamed).
        let start = syms
            .iter()
            .position(|s| s.is_some_and(|s| is_lock_helper(&s.name)))
            .or_else(|| {
                frames
                    .iter()
                    .zip(&syms)
                    .position(|(&ip, s)| ip < self.etext && s.is_some())
            })?;
        syms[start..]
            .iter()
            .flatten()
            .find(|s| !is_lock_helper(&s.name))
            .map(|s| s.name.clone())
    }
}

/// Functions that take rtnl_mutex themselves: `rtnl_lock()` and its variants, and
/// `rtnetlink_rcv_msg`, into which distro kernels inline `rtnl_lock()`.
pub const RTNL_TAKERS: &[&str] = &[
    "rtnl_lock",
    "rtnl_lock_interruptible",
    "rtnl_lock_killable",
    "rtnetlink_rcv_msg",
];

impl Kallsyms {
    /// Whether a mutex wait's kernel stack is one on rtnl_mutex. The first frame above the mutex
    /// functions is an RTNL taker ([`RTNL_TAKERS`]); or, because `rtnl_lock()` and `mutex_lock()`
    /// end in tail calls that leave no frame, inside a request on a NETLINK_ROUTE socket
    /// (`in_request`), an rtnetlink function: `rtnl_*`, `rtnetlink_*` or a `*_rtm_*` handler.
    pub fn waits_for_rtnl(&self, frames: &[u64], in_request: bool) -> bool {
        let is_mutex = |n: &str| n.starts_with("mutex_") || n.starts_with("__mutex_");
        let names: Vec<Option<&str>> = frames.iter().map(|&ip| self.function_at(ip)).collect();
        let Some(start) = names.iter().position(|n| n.is_some_and(is_mutex)) else {
            return false;
        };
        let Some(first) = names[start..].iter().flatten().find(|n| !is_mutex(n)) else {
            return false;
        };
        // Inside an rtnetlink request or dump, netlink's own dump code takes the socket's
        // cb_mutex, which for NETLINK_ROUTE is rtnl_mutex on kernels before rtnl_dumpit took
        // RTNL itself (6.1: `__netlink_dump_start` under rtnetlink_rcv_msg, `netlink_dump` under
        // recvmsg).
        RTNL_TAKERS.contains(first)
            || (in_request
                && (first.starts_with("rtnl_")
                    || first.starts_with("rtnetlink_")
                    || first.contains("_rtm_")
                    || *first == "netlink_dump"
                    || *first == "__netlink_dump_start"))
    }

    /// The RTNL takers this kernel has as functions (the tracepoint mode needs one).
    pub fn rtnl_takers(&self) -> Vec<&'static str> {
        RTNL_TAKERS
            .iter()
            .copied()
            .filter(|n| self.addr_of(n).is_some())
            .collect()
    }
}

/// Frames skipped when naming the caller of a hold.
fn is_lock_helper(name: &str) -> bool {
    name.starts_with("mutex_")
        || name.starts_with("__mutex_")
        || name.starts_with("rtnl_lock")
        || name.starts_with("rtnl_trylock")
        || name.starts_with("rtnl_net_lock")
        || name.starts_with("__rtnl_lock")
        || name.starts_with("bpf_")
        || name.starts_with("__bpf_")
        || name.starts_with("bpf_trampoline")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
ffffffff81000000 T _stext
ffffffff81100000 T mutex_lock
ffffffff81100100 T rtnl_lock
ffffffff81200000 t dev_ioctl
ffffffff81200400 T devinet_ioctl
ffffffff82000000 b rtnl_mutex
ffffffff82000020 T _etext
ffffffffc0000000 t bpf_trampoline_6442 [bpf]
ffffffffc0000100 t handshake_exit [handshake]
garbage line
";

    fn syms() -> Kallsyms {
        Kallsyms::parse(TEXT.as_bytes()).unwrap()
    }

    #[test]
    fn finds_data_and_functions() {
        let k = syms();
        assert_eq!(k.addr_of("rtnl_mutex"), Some(0xffffffff82000000));
        assert_eq!(k.function_at(0xffffffff81200010), Some("dev_ioctl"));
        // rtnl_mutex is data: an address after it still belongs to the last function before.
        assert_eq!(k.function_at(0xffffffff82000010), Some("devinet_ioctl"));
        assert_eq!(k.function_at(0x10), None);
        assert!(!k.addresses_hidden());
    }

    #[test]
    fn caller_skips_lock_and_bpf_frames() {
        let k = syms();
        // The BPF program's own frame resolves to a module symbol far away: it must not win.
        let frames = [
            0xffffffffc0100010,
            0xffffffff81100010,
            0xffffffff81100110,
            0xffffffff81200410,
        ];
        assert_eq!(k.caller_of(&frames).as_deref(), Some("devinet_ioctl"));
        assert_eq!(k.function_at(0xffffffffc0100010), Some("handshake_exit"));
        // Without any helper frame, the first frame that is not BPF machinery.
        assert_eq!(
            k.caller_of(&[0xffffffff81200010]).as_deref(),
            Some("dev_ioctl")
        );
        assert_eq!(
            k.caller_of(&[0xffffffffc0100010, 0xffffffff81200010])
                .as_deref(),
            Some("dev_ioctl")
        );
        // Only frames in the module area and no helper: no name rather than a borrowed one.
        assert_eq!(k.caller_of(&[0xffffffffc0100010]), None);
        // Past the kernel's text, even where the symbol before is not a module's.
        assert_eq!(
            k.caller_of(&[0xffffffff82000030, 0xffffffff81200010])
                .as_deref(),
            Some("dev_ioctl")
        );
    }

    #[test]
    fn a_wait_is_on_rtnl_when_the_frame_above_the_mutex_is_an_rtnl_taker() {
        let k = syms();
        // tracepoint frame (module), mutex_lock, rtnl_lock, devinet_ioctl: RTNL.
        let rtnl = [
            0xffffffffc0100010,
            0xffffffff81100010,
            0xffffffff81100110,
            0xffffffff81200410,
        ];
        assert!(k.waits_for_rtnl(&rtnl, false));
        // mutex_lock called by dev_ioctl itself: another mutex.
        assert!(!k.waits_for_rtnl(&[0xffffffff81100010, 0xffffffff81200010], false));
        // No mutex frame at all, or nothing above it.
        assert!(!k.waits_for_rtnl(&[0xffffffff81100110, 0xffffffff81200410], true));
        assert!(!k.waits_for_rtnl(&[0xffffffff81100010], true));
        assert_eq!(k.rtnl_takers(), vec!["rtnl_lock"]);
    }

    #[test]
    fn without_the_takers_frame_an_rtnetlink_handler_inside_a_request_is_rtnl() {
        // Linux 6.18 on this project's hosts: __mutex_lock right under the handler (the tail
        // calls of rtnl_lock and mutex_lock leave no frame).
        let k = Kallsyms::parse(
            "ffffffff81000000 T __mutex_lock.constprop.0\n\
             ffffffff81000100 t rtnl_newlink\n\
             ffffffff81000200 t inet_rtm_newaddr\n\
             ffffffff81000300 t anon_pipe_write\n\
             ffffffff81000400 t rtnl_dumpit\n\
             ffffffff81000500 t netlink_dump\n\
             ffffffff81000600 t __netlink_dump_start\n"
                .as_bytes(),
        )
        .unwrap();
        let under = |caller: u64| [0xffffffff81000010, caller];
        assert!(k.waits_for_rtnl(&under(0xffffffff81000110), true));
        assert!(k.waits_for_rtnl(&under(0xffffffff81000210), true));
        assert!(k.waits_for_rtnl(&under(0xffffffff81000410), true));
        // 6.1's dumps: netlink takes the NETLINK_ROUTE socket's cb_mutex, rtnl_mutex, when a
        // dump starts and when recvmsg continues it (seen in the 6.1.0-57 guest).
        assert!(k.waits_for_rtnl(&under(0xffffffff81000510), true));
        assert!(k.waits_for_rtnl(&under(0xffffffff81000610), true));
        assert!(!k.waits_for_rtnl(&under(0xffffffff81000510), false));
        // Outside a request, only the takers themselves say so; a pipe never does.
        assert!(!k.waits_for_rtnl(&under(0xffffffff81000110), false));
        assert!(!k.waits_for_rtnl(&under(0xffffffff81000310), true));
    }

    #[test]
    fn hidden_addresses_are_detected() {
        let k = Kallsyms::parse("0000000000000000 T a\n0000000000000000 b rtnl_mutex\n".as_bytes())
            .unwrap();
        assert!(k.addresses_hidden());
    }
}
