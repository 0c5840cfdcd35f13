//! rtnl-workload: sends an exact, known set of rtnetlink requests and prints what it sent, so
//! tests can hold rtnlprof's counts against the wire. (iproute2 adds probes and name lookups of
//! its own; this client sends nothing it does not count.)
//!
//! Usage: rtnl-workload STEP...   where STEP is one of
//!   links:N     create N dummy links rwl0.. (RTM_NEWLINK), then nothing else
//!   dellinks:N  delete rwl0..rwl{N-1} (RTM_DELLINK)
//! Prints one JSON object: {"sent":[{"family":F,"type":T,"dump":D,"count":N},...]}.

use std::{collections::BTreeMap, io, mem, os::fd::RawFd};

const NETLINK_ROUTE: i32 = 0;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const IFLA_IFNAME: u16 = 3;
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

/// struct ifinfomsg: family, pad, type, index, flags, change.
fn ifinfomsg() -> Vec<u8> {
    let mut b = vec![AF_UNSPEC, 0];
    b.extend_from_slice(&[0u8; 14]);
    b
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

fn link_name(i: u64) -> String {
    format!("rwl{i}")
}

fn run() -> io::Result<()> {
    let mut nl = Netlink::open()?;
    let steps: Vec<String> = std::env::args().skip(1).collect();
    if steps.is_empty() {
        return Err(io::Error::other(
            "usage: rtnl-workload links:N | dellinks:N ...",
        ));
    }
    for step in &steps {
        let (what, n) = step
            .split_once(':')
            .and_then(|(w, n)| Some((w, n.parse::<u64>().ok()?)))
            .ok_or_else(|| io::Error::other(format!("bad step {step:?}")))?;
        for i in 0..n {
            let msg = match what {
                "links" => Msg::new(
                    RTM_NEWLINK,
                    NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                    &ifinfomsg(),
                )
                .attr(IFLA_IFNAME, &cstr(&link_name(i)))
                .nested(IFLA_LINKINFO, |m| m.attr(IFLA_INFO_KIND, b"dummy")),
                "dellinks" => Msg::new(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, &ifinfomsg())
                    .attr(IFLA_IFNAME, &cstr(&link_name(i))),
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
