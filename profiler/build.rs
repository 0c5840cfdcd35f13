//! Builds the eBPF programs (profiler-ebpf) for `bpfel-unknown-none` and leaves the object in
//! OUT_DIR, where `capture` embeds it.
//!
//! The eBPF build needs a compiler that ships a precompiled `core` for the BPF target: Debian's
//! rustc (`rustc-web` + `libstd-rust-web-dev-bpf`, installed by `cargo xtask setup`). It is named
//! explicitly (RTNLPROF_BPF_RUSTC / RTNLPROF_BPF_CARGO, default /usr/bin/rustc and /usr/bin/cargo)
//! instead of trusting PATH, where rustup's shims come first.

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    for dir in ["profiler-ebpf/src", "profiler-common/src"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    for file in [
        "profiler-ebpf/Cargo.toml",
        "profiler-common/Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    println!("cargo:rerun-if-env-changed=RTNLPROF_BPF_RUSTC");
    println!("cargo:rerun-if-env-changed=RTNLPROF_BPF_CARGO");

    let rustc = env::var("RTNLPROF_BPF_RUSTC").unwrap_or_else(|_| "/usr/bin/rustc".into());
    let cargo = env::var("RTNLPROF_BPF_CARGO").unwrap_or_else(|_| "/usr/bin/cargo".into());
    for tool in [&rustc, &cargo] {
        if !Path::new(tool).exists() {
            panic!(
                "{tool} not found: the eBPF programs need Debian's rustc with the BPF core library; \
                 run `cargo xtask setup` (or set RTNLPROF_BPF_RUSTC / RTNLPROF_BPF_CARGO)"
            );
        }
    }

    let target_dir = out_dir.join("ebpf-target");
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(root.join("profiler-ebpf"))
        .args(["build", "--release", "--target", "bpfel-unknown-none"])
        .arg("--target-dir")
        .arg(&target_dir);
    // Start from a clean slate: the outer build's variables describe the host build.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_") || key.starts_with("RUSTC") || key == "RUSTFLAGS" {
            cmd.env_remove(&key);
        }
    }
    // bpf-linker is installed by cargo install into ~/.cargo/bin.
    let mut path = env::var("PATH").unwrap_or_default();
    if let Some(home) = env::var_os("HOME") {
        path = format!("{}:{path}", Path::new(&home).join(".cargo/bin").display());
    }
    cmd.env("PATH", path)
        .env("RUSTC", &rustc)
        .env("RUSTC_BOOTSTRAP", "1")
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            ["-Cdebuginfo=2", "-Clink-arg=--btf"].join("\x1f"),
        );
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
    if !status.success() {
        panic!("building the eBPF programs failed ({status})");
    }
    let obj = target_dir.join("bpfel-unknown-none/release/rtnlprof");
    std::fs::copy(&obj, out_dir.join("rtnlprof.bpf.o"))
        .unwrap_or_else(|e| panic!("copying {}: {e}", obj.display()));
}
