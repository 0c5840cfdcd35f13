//! `cargo xtask setup`: installs what the project needs on Debian/Ubuntu, idempotently.
//! A fast no-op when everything is present; every other task runs it first.

use std::{path::PathBuf, process::Command};

use anyhow::{bail, Context, Result};

use crate::{kernel, util};

#[derive(clap::Args)]
pub struct Options {}

/// Debian packages: QEMU and busybox for the guests, Debian's rustc with the BPF core library
/// and LLVM 22 for the eBPF build and bpf-linker, Debian's clippy of that rustc for the eBPF
/// crate's lint, iproute2, bpftool and tmux for the guests (tmux also drives `top` in the host
/// tests); Prometheus (with promtool) scrapes `serve` in the host tests; bpftrace keeps the
/// guest tests' independent record of RTNL's holds and waits.
pub const APT_PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "busybox-static",
    "xz-utils",
    "iproute2",
    "bpftool",
    "libxml2-utils",
    "tmux",
    "prometheus",
    "bpftrace",
    "valgrind",
    "binutils",
    "rustc-web",
    "cargo-web",
    "libstd-rust-web-dev-bpf",
    "rust-web-clippy",
    "llvm-22-dev",
];

pub const BPF_LINKER_VERSION: &str = "0.13.0";

pub fn run(_: &Options) -> Result<i32> {
    ensure()?;
    println!("setup: everything is in place");
    Ok(0)
}

fn missing_packages() -> Vec<&'static str> {
    APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            let out = Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output();
            !matches!(out, Ok(o) if String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn bpf_linker_path() -> PathBuf {
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cargo/bin/bpf-linker"))
        .unwrap_or_else(|| PathBuf::from("bpf-linker"))
}

fn bpf_linker_ok() -> bool {
    Command::new(bpf_linker_path())
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(BPF_LINKER_VERSION))
        .unwrap_or(false)
}

/// Everything the build and the VM tests need; installs what is missing.
pub fn ensure() -> Result<()> {
    let missing = missing_packages();
    if !missing.is_empty() {
        if !is_root() {
            bail!("missing Debian packages {missing:?}; run `cargo xtask setup` as root");
        }
        eprintln!("setup: installing {}", missing.join(" "));
        util::exec(Command::new("apt-get").args(["update", "-q"]))?;
        util::exec(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    if !bpf_linker_ok() {
        eprintln!("setup: building bpf-linker {BPF_LINKER_VERSION} against Debian's LLVM 22");
        let path = format!(
            "/usr/lib/llvm-22/bin:{}",
            std::env::var("PATH").unwrap_or_default()
        );
        util::exec(
            Command::new("cargo")
                .args([
                    "install",
                    "bpf-linker",
                    "--locked",
                    "--version",
                    BPF_LINKER_VERSION,
                ])
                .args(["--no-default-features", "--features", "llvm-22"])
                .env("PATH", path)
                .env("LLVM_SYS_221_PREFIX", "/usr/lib/llvm-22"),
        )
        .context("installing bpf-linker")?;
    }
    for series in kernel::SERIES {
        kernel::ensure(series)?;
    }
    Ok(())
}
