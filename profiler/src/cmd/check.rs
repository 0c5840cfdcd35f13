//! `rtnlprof check`: what this kernel offers rtnlprof, one line a need, and which capture mode
//! will run. The capabilities are probed by doing what the capture does (loading and attaching
//! its programs), not guessed from config files: what `check` says is what `record` will meet.

use std::path::Path;

use serde::Serialize;

use crate::{
    capture::{Capture, CaptureMode as Mode, CaptureOptions, Kallsyms, ModeChoice},
    cli::{CheckArgs, Format},
};

#[derive(Debug, Serialize)]
pub struct Item {
    pub need: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Whether one capture mode starts here, and why not.
#[derive(Debug, Serialize)]
pub struct ModeProbe {
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub kernel: String,
    pub items: Vec<Item>,
    /// `full` and `tracepoint`: what starting each did.
    pub full: ModeProbe,
    pub tracepoint: ModeProbe,
    /// The mode `--mode auto` runs ("fentry" or "tracepoint"), or none.
    pub mode: Option<&'static str>,
}

fn item(need: &'static str, ok: bool, detail: impl Into<String>) -> Item {
    Item {
        need,
        ok,
        detail: detail.into(),
    }
}

/// Starts a capture in `mode` and stops it at once.
fn probe(mode: ModeChoice) -> ModeProbe {
    match Capture::start(&CaptureOptions {
        ring_bytes: 1 << 16,
        mode,
    }) {
        Ok(c) => ModeProbe {
            ok: true,
            detail: format!(
                "{} programs attached{}",
                c.attached(),
                if c.skipped.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; without {}",
                        c.skipped
                            .iter()
                            .map(|(t, _)| *t)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
        },
        Err(e) => ModeProbe {
            ok: false,
            detail: e.to_string(),
        },
    }
}

fn tracepoint_exists(category: &str, name: &str) -> Option<bool> {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .find(|d| Path::new(d).join("events").is_dir())
        .map(|d| {
            Path::new(d)
                .join("events")
                .join(category)
                .join(name)
                .is_dir()
        })
}

pub fn report() -> Report {
    let mut v = Vec::new();
    let root = nix::unistd::geteuid().is_root();
    v.push(item(
        "root",
        root,
        if root {
            "running as root"
        } else {
            "not root: loading eBPF needs CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN"
        },
    ));
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    v.push(item(
        "kernel BTF",
        btf,
        if btf {
            "/sys/kernel/btf/vmlinux"
        } else {
            "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF off): no fentry"
        },
    ));
    match Kallsyms::load() {
        Ok(k) if k.addresses_hidden() => v.push(item(
            "rtnl_mutex address",
            false,
            "/proc/kallsyms hides addresses (kptr_restrict): run as root",
        )),
        Ok(k) => {
            let m = k.addr_of("rtnl_mutex");
            v.push(item(
                "rtnl_mutex address",
                m.is_some(),
                m.map_or_else(
                    || {
                        "not in /proc/kallsyms (CONFIG_KALLSYMS_ALL off): the full mode cannot \
                         find the lock; the tracepoint mode learns it from a wait's stack"
                            .into()
                    },
                    |a| format!("{a:#x}"),
                ),
            ));
            for f in [
                "rtnetlink_rcv_msg",
                "mutex_lock",
                "mutex_unlock",
                "netlink_dump",
                "synchronize_rcu",
                "rtnl_lock",
            ] {
                let a = k.addr_of(f);
                v.push(item(
                    f,
                    a.is_some(),
                    a.map_or_else(
                        || "not in /proc/kallsyms: inlined or absent, cannot be hooked".into(),
                        |a| format!("{a:#x} (a function: can be hooked where fentry works)"),
                    ),
                ));
            }
            let takers = k.rtnl_takers();
            v.push(item(
                "RTNL takers",
                !takers.is_empty(),
                if takers.is_empty() {
                    "none in /proc/kallsyms: the tracepoint mode cannot recognise RTNL".into()
                } else {
                    format!(
                        "{} (what a wait's stack is matched against)",
                        takers.join(", ")
                    )
                },
            ));
        }
        Err(e) => v.push(item(
            "rtnl_mutex address",
            false,
            format!("cannot read /proc/kallsyms: {e}"),
        )),
    }
    // Probing mounts tracefs if needed, as the capture would: look after it.
    let full = probe(ModeChoice::Full);
    let tracepoint = probe(ModeChoice::Tracepoint);
    for (need, cat, name) in [
        ("lock tracepoints", "lock", "contention_begin"),
        ("syscall tracepoints", "syscalls", "sys_enter_sendmsg"),
    ] {
        let (ok, detail) = match tracepoint_exists(cat, name) {
            Some(true) => (true, format!("{cat}:{name}")),
            Some(false) => (false, format!("no {cat}:{name} in tracefs")),
            None => (false, "tracefs is not mounted (and could not be)".into()),
        };
        v.push(item(need, ok, detail));
    }
    let fentry = Capture::probe_fentry();
    v.push(item(
        "fentry",
        fentry.is_ok(),
        match &fentry {
            Ok(()) => "an fentry program loads and attaches".to_owned(),
            Err(e) => e
                .to_string()
                .trim_end()
                .trim_end_matches("Verifier output:")
                .trim_end()
                .to_owned(),
        },
    ));
    v.push(item("full mode", full.ok, full.detail.clone()));
    v.push(item(
        "tracepoint mode",
        tracepoint.ok,
        tracepoint.detail.clone(),
    ));
    let mode = if full.ok {
        Some(Mode::FULL)
    } else if tracepoint.ok {
        Some(Mode::TRACEPOINT)
    } else {
        None
    };
    Report {
        kernel: super::kernel_release(),
        items: v,
        full,
        tracepoint,
        mode,
    }
}

pub fn run(args: &CheckArgs) -> anyhow::Result<i32> {
    let r = report();
    match args.format {
        Format::Json => super::print_out(&serde_json::to_string_pretty(&r)?)?,
        Format::Text | Format::Markdown => {
            let mut out = format!("kernel {}", r.kernel);
            for i in &r.items {
                out += "\n";
                out += &format!(
                    "{:<4} {:<20} {}",
                    if i.ok { "ok" } else { "MISS" },
                    i.need,
                    i.detail
                );
            }
            out += "\n";
            out += &match r.mode {
                Some(m) if m == Mode::FULL => {
                    "capture mode: full (fentry): every hold and wait".to_owned()
                }
                Some(_) => "capture mode: tracepoint: contended waits only, no hold times \
                            (the full mode is refused here)"
                    .to_owned(),
                None => "capture mode: none runs on this kernel".to_owned(),
            };
            super::print_out(&out)?;
        }
    }
    // 0 when some mode runs; 2 as for a capture that cannot start in any mode.
    Ok(if r.mode.is_some() {
        0
    } else {
        super::EXIT_BAD_INPUT
    })
}
