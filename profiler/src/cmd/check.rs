//! `rtnlprof check`: what this kernel offers rtnlprof, one line a need.

use std::path::Path;

use serde::Serialize;

use crate::{
    capture::Kallsyms,
    cli::{CheckArgs, Format},
};

#[derive(Debug, Serialize)]
pub struct Item {
    pub need: &'static str,
    pub ok: bool,
    pub detail: String,
}

pub fn items() -> Vec<Item> {
    let mut v = Vec::new();
    let root = nix::unistd::geteuid().is_root();
    v.push(Item {
        need: "root",
        ok: root,
        detail: if root {
            "running as root".into()
        } else {
            "not root: loading eBPF needs CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN".into()
        },
    });
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    v.push(Item {
        need: "kernel BTF",
        ok: btf,
        detail: if btf {
            "/sys/kernel/btf/vmlinux".into()
        } else {
            "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF off)".into()
        },
    });
    match Kallsyms::load() {
        Ok(k) if k.addresses_hidden() => v.push(Item {
            need: "rtnl_mutex address",
            ok: false,
            detail: "/proc/kallsyms hides addresses (kptr_restrict)".into(),
        }),
        Ok(k) => {
            let m = k.addr_of("rtnl_mutex");
            v.push(Item {
                need: "rtnl_mutex address",
                ok: m.is_some(),
                detail: m.map_or_else(
                    || "rtnl_mutex not in /proc/kallsyms (CONFIG_KALLSYMS_ALL off)".into(),
                    |a| format!("{a:#x}"),
                ),
            });
            for f in [
                "rtnetlink_rcv_msg",
                "mutex_lock",
                "mutex_unlock",
                "netlink_dump",
                "synchronize_rcu",
            ] {
                let a = k.addr_of(f);
                v.push(Item {
                    need: f,
                    ok: a.is_some(),
                    detail: a.map_or_else(
                        || "not in /proc/kallsyms (inlined?)".into(),
                        |a| format!("{a:#x}"),
                    ),
                });
            }
        }
        Err(e) => v.push(Item {
            need: "rtnl_mutex address",
            ok: false,
            detail: format!("cannot read /proc/kallsyms: {e}"),
        }),
    }
    v
}

pub fn run(args: &CheckArgs) -> anyhow::Result<i32> {
    let items = items();
    match args.format {
        Format::Json => super::print_out(&serde_json::to_string_pretty(&items)?)?,
        Format::Text | Format::Markdown => {
            let mut out = format!("kernel {}", super::kernel_release());
            for i in &items {
                out += "\n";
                out += &format!(
                    "{:<4} {:<20} {}",
                    if i.ok { "ok" } else { "MISS" },
                    i.need,
                    i.detail
                );
            }
            super::print_out(&out)?;
        }
    }
    Ok(if items.iter().all(|i| i.ok) { 0 } else { 1 })
}
