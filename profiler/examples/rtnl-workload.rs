//! rtnl-workload: sends an exact, known set of rtnetlink requests and prints what it sent, so
//! tests can hold rtnlprof's counts against the wire. (iproute2 adds probes and name lookups of
//! its own; this client sends nothing it does not count.)
//!
//! Usage: rtnl-workload STEP...   where STEP is one of
//!   links:N      create N dummy links rwl0.. (RTM_NEWLINK)
//!   up:N         set rwl0..rwl{N-1} up (RTM_NEWLINK on an existing link)
//!   addrs:N      add 10.1.i.1/24 to rwl{i} (RTM_NEWADDR), deladdrs:N removes them
//!   routes:N     add 10.2.i.0/24 dev rwl{i} (RTM_NEWROUTE), delroutes:N removes them
//!   getroutes:N  look up 10.2.i.5 (RTM_GETROUTE, not a dump)
//!   neighs:N     add 10.1.i.2 lladdr 02:00:00:00:00:i on rwl{i} (RTM_NEWNEIGH), delneighs:N
//!   getlinks:N   N lookups of `lo` by index (RTM_GETLINK, not a dump)
//!   dumplinks:N  N dumps of all links (RTM_GETLINK with NLM_F_DUMP), every part read
//!   dellinks:N   delete rwl0..rwl{N-1} (RTM_DELLINK)
//!   prefix=NAME  name the links of the following steps NAME0, NAME1... (default rwl)
//!   net=K        addresses and neighbours of the following steps in 10.K.i.0/24, routes to
//!                10.{K+1}.i.0/24 (default 1): writers running side by side each take their own
//! Links, addresses, routes and neighbours are indexed 0..=255.
//! Prints one JSON object: {"sent":[{"family":F,"type":T,"dump":D,"count":N},...]}.

use std::{collections::BTreeMap, io, mem, os::fd::RawFd};

const NETLINK_ROUTE: i32 = 0;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWNEIGH: u16 = 28;
const RTM_DELNEIGH: u16 = 29;
const IFLA_IFNAME: u16 = 3;
const IFA_LOCAL: u16 = 2;
const IFA_ADDRESS: u16 = 1;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const AF_INET: u8 = 2;
const IFF_UP: u32 = 1;
const NUD_PERMANENT: u16 = 0x80;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const AF_UNSPEC: u8 = 0;

/// A netlink message under construction: header, fixed body, attributes.
struct Msg {
    buf: Vec<u8>,
    family: u8,
    ty: u16,
    flags: u16,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

impl Msg {
    fn new(ty: u16, flags: u16, body: &[u8]) -> Msg {
        let mut buf = vec![0u8; 16];
        buf.extend_from_slice(body);
        buf.resize(align4(buf.len()), 0);
        Msg {
            buf,
            family: body.first().copied().unwrap_or(0),
            ty,
            flags,
        }
    }

    fn attr(mut self, ty: u16, data: &[u8]) -> Msg {
        self.buf
            .extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    fn nested(mut self, ty: u16, inner: impl FnOnce(Msg) -> Msg) -> Msg {
        let start = self.buf.len();
        self = self.attr(ty, &[]);
        self = inner(self);
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[4..6].copy_from_slice(&self.ty.to_ne_bytes());
        self.buf[6..8].copy_from_slice(&self.flags.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// struct ifinfomsg: family, pad, type (u16), index (i32), flags, change (u32).
fn ifinfomsg(index: i32, flags: u32, change: u32) -> Vec<u8> {
    let mut b = vec![AF_UNSPEC, 0, 0, 0];
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&change.to_ne_bytes());
    b
}

/// struct ifaddrmsg: family, prefixlen, flags, scope, index (u32).
fn ifaddrmsg(prefixlen: u8, index: u32) -> Vec<u8> {
    let mut b = vec![AF_INET, prefixlen, 0, 0];
    b.extend_from_slice(&index.to_ne_bytes());
    b
}

/// struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32).
fn rtmsg(dst_len: u8, table: u8, protocol: u8, scope: u8, ty: u8) -> Vec<u8> {
    let mut b = vec![AF_INET, dst_len, 0, 0, table, protocol, scope, ty];
    b.extend_from_slice(&0u32.to_ne_bytes());
    b
}

/// struct ndmsg: family, pad1, pad2 (u16), ifindex (i32), state (u16), flags, type.
fn ndmsg(index: i32, state: u16) -> Vec<u8> {
    let mut b = vec![AF_INET, 0, 0, 0];
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&state.to_ne_bytes());
    b.extend_from_slice(&[0, 0]);
    b
}

/// Index of link `rwl{i}`, through the SIOCGIFINDEX ioctl (which does not take RTNL).
fn ifindex(prefix: &str, i: u64) -> io::Result<i32> {
    let name = std::ffi::CString::new(link_name(prefix, i)).unwrap();
    // SAFETY: a valid C string.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(io::Error::other(format!(
            "no link {}",
            link_name(prefix, i)
        ))),
        n => Ok(n as i32),
    }
}

/// 10.K.i.1/24 on rwl{i}; routes to 10.{K+1}.i.0/24 through it; neighbour 10.K.i.2 (K: `net=`).
fn v4(a: u8, i: u64, d: u8) -> [u8; 4] {
    [10, a, i as u8, d]
}

struct Netlink {
    fd: RawFd,
    seq: u32,
    sent: BTreeMap<(u8, u16, bool), u64>,
}

impl Netlink {
    fn open() -> io::Result<Netlink> {
        // SAFETY: plain socket(2) call.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Netlink {
            fd,
            seq: 0,
            sent: BTreeMap::new(),
        })
    }

    /// Sends one request and reads replies until its ack (or the end of its dump).
    fn request(&mut self, msg: Msg) -> io::Result<()> {
        self.seq += 1;
        let dump = msg.ty % 4 == 2 && msg.flags & 0x300 == 0x300;
        *self.sent.entry((msg.family, msg.ty, dump)).or_default() += 1;
        let bytes = msg.finish(self.seq);
        // SAFETY: sockaddr_nl zeroed is the kernel's address; buffers are valid for their lengths.
        let mut addr: libc::sockaddr_nl = unsafe { mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        let n = unsafe {
            libc::sendto(
                self.fd,
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; 1 << 16];
        loop {
            // SAFETY: buf is valid for its length.
            let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut off = 0usize;
            let n = n as usize;
            while off + 16 <= n {
                let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
                let ty = u16::from_ne_bytes(buf[off + 4..off + 6].try_into().unwrap());
                let seq = u32::from_ne_bytes(buf[off + 8..off + 12].try_into().unwrap());
                if len < 16 {
                    return Err(io::Error::other("short netlink message"));
                }
                if seq == self.seq {
                    if ty == NLMSG_DONE {
                        return Ok(());
                    }
                    if ty == NLMSG_ERROR {
                        let err = i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap());
                        return if err == 0 {
                            Ok(())
                        } else {
                            Err(io::Error::from_raw_os_error(-err))
                        };
                    }
                }
                off += align4(len);
            }
        }
    }
}

fn link_name(prefix: &str, i: u64) -> String {
    format!("{prefix}{i}")
}

fn run() -> io::Result<()> {
    let mut nl = Netlink::open()?;
    let steps: Vec<String> = std::env::args().skip(1).collect();
    if steps.is_empty() {
        return Err(io::Error::other(
            "usage: rtnl-workload links:N | dellinks:N ...",
        ));
    }
    let mut prefix = "rwl".to_owned();
    let mut net: u8 = 1;
    for step in &steps {
        if let Some(p) = step.strip_prefix("prefix=") {
            prefix = p.to_owned();
            continue;
        }
        if let Some(k) = step.strip_prefix("net=") {
            net = k
                .parse()
                .ok()
                .filter(|k| *k < 255)
                .ok_or_else(|| io::Error::other(format!("bad step {step:?}")))?;
            continue;
        }
        let (what, n) = step
            .split_once(':')
            .and_then(|(w, n)| Some((w, n.parse::<u64>().ok()?)))
            .ok_or_else(|| io::Error::other(format!("bad step {step:?}")))?;
        for i in 0..n {
            let req = NLM_F_REQUEST | NLM_F_ACK;
            let new = req | NLM_F_CREATE | NLM_F_EXCL;
            let msg = match what {
                "links" => Msg::new(RTM_NEWLINK, new, &ifinfomsg(0, 0, 0))
                    .attr(IFLA_IFNAME, &cstr(&link_name(&prefix, i)))
                    .nested(IFLA_LINKINFO, |m| m.attr(IFLA_INFO_KIND, b"dummy")),
                "up" => Msg::new(
                    RTM_NEWLINK,
                    req,
                    &ifinfomsg(ifindex(&prefix, i)?, IFF_UP, IFF_UP),
                ),
                "dellinks" => Msg::new(RTM_DELLINK, req, &ifinfomsg(0, 0, 0))
                    .attr(IFLA_IFNAME, &cstr(&link_name(&prefix, i))),
                "getlinks" => Msg::new(RTM_GETLINK, req, &ifinfomsg(1, 0, 0)),
                "dumplinks" => {
                    Msg::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifinfomsg(0, 0, 0))
                }
                "addrs" | "deladdrs" => {
                    let ty = if what == "addrs" {
                        RTM_NEWADDR
                    } else {
                        RTM_DELADDR
                    };
                    let flags = if what == "addrs" { new } else { req };
                    Msg::new(ty, flags, &ifaddrmsg(24, ifindex(&prefix, i)? as u32))
                        .attr(IFA_LOCAL, &v4(net, i, 1))
                        .attr(IFA_ADDRESS, &v4(net, i, 1))
                }
                "routes" | "delroutes" => {
                    let ty = if what == "routes" {
                        RTM_NEWROUTE
                    } else {
                        RTM_DELROUTE
                    };
                    let flags = if what == "routes" { new } else { req };
                    // main table, proto boot, scope link, unicast
                    Msg::new(ty, flags, &rtmsg(24, 254, 3, 253, 1))
                        .attr(RTA_DST, &v4(net + 1, i, 0))
                        .attr(RTA_OIF, &ifindex(&prefix, i)?.to_ne_bytes())
                }
                "getroutes" => Msg::new(RTM_GETROUTE, req, &rtmsg(32, 0, 0, 0, 0))
                    .attr(RTA_DST, &v4(net + 1, i, 5)),
                "neighs" | "delneighs" => {
                    let ty = if what == "neighs" {
                        RTM_NEWNEIGH
                    } else {
                        RTM_DELNEIGH
                    };
                    let flags = if what == "neighs" { new } else { req };
                    Msg::new(ty, flags, &ndmsg(ifindex(&prefix, i)?, NUD_PERMANENT))
                        .attr(NDA_DST, &v4(net, i, 2))
                        .attr(NDA_LLADDR, &[2, 0, 0, 0, 0, i as u8])
                }
                _ => return Err(io::Error::other(format!("unknown step {what:?}"))),
            };
            nl.request(msg)
                .map_err(|e| io::Error::other(format!("{step} #{i}: {e}")))?;
        }
    }
    let sent: Vec<String> = nl
        .sent
        .iter()
        .map(|((f, t, d), c)| format!(r#"{{"family":{f},"type":{t},"dump":{d},"count":{c}}}"#))
        .collect();
    println!(r#"{{"sent":[{}]}}"#, sent.join(","));
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("rtnl-workload: {e}");
        std::process::exit(1);
    }
}
