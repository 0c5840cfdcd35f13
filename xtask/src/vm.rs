//! `cargo xtask vm --kernel 6.1|6.12|all -- CMD...`: boots a stock Debian kernel under QEMU (TCG)
//! with an initramfs carrying rtnlprof, iproute2, the workloads and the modules dummy/veth/bridge,
//! runs CMD as root, streams its output and exits with its status.
//!
//! The guest's console (kernel messages) goes to the first serial port, a log file; the command's
//! output to the second, which is streamed. A kernel panic, a soft lockup or an RCU stall on the
//! console, QEMU dying, or the timeout ends the run with a one-line cause.

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};

use crate::{
    build::{self, GuestBinaries},
    initramfs::{self, Initramfs},
    kernel::{self, Kernel},
    setup, util,
};

#[derive(clap::Args)]
pub struct Options {
    /// Kernel series: 6.1, 6.12 or all.
    #[arg(long, default_value = "6.12")]
    pub kernel: String,
    /// Seconds before a guest that has not finished is killed.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    /// Boot this kernel image instead of the Debian package's (for trying a kernel of your own).
    #[arg(long, value_name = "PATH")]
    pub vmlinuz: Option<PathBuf>,
    /// Also copy this program of the host (with the libraries it links) to the same path in the
    /// guest, e.g. `--with /usr/bin/perf`. Repeatable.
    #[arg(long = "with", value_name = "PATH")]
    pub with: Vec<PathBuf>,
    /// The guest's clock counts instructions (QEMU's icount: 1 ns per instruction, idle time
    /// skipped): timings inside the guest no longer follow the host's clock.
    #[arg(long)]
    pub icount: bool,
    /// vCPUs of the guest.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub cpus: u32,
    /// The command to run in the guest, as root, with tracefs, debugfs and bpffs mounted. A single
    /// argument is run as a shell command line.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

/// How a guest is started, beyond its kernel and command.
pub struct Machine<'a> {
    /// A kernel image of one's own instead of the Debian package's.
    pub vmlinuz: Option<&'a Path>,
    /// QEMU's instruction-counted clock (`-icount shift=0,sleep=off`): the guest's time advances
    /// 1 ns per instruction executed and jumps over idle time, so what a guest times is the work
    /// it did (and the timed sleeps it waited out), not how fast the host ran it.
    pub icount: bool,
    /// vCPUs (all on one TCG thread).
    pub cpus: u32,
}

impl Default for Machine<'_> {
    fn default() -> Self {
        Machine {
            vmlinuz: None,
            icount: false,
            cpus: 2,
        }
    }
}

/// Modules every guest loads (with their dependencies).
pub const MODULES: &[&str] = &["dummy", "veth", "bridge"];

pub fn kernels(spec: &str) -> Result<Vec<Kernel>> {
    let series: Vec<&str> = if spec == "all" {
        kernel::SERIES.to_vec()
    } else {
        vec![spec]
    };
    series.into_iter().map(kernel::ensure).collect()
}

pub fn run(o: &Options) -> Result<i32> {
    setup::ensure()?;
    let kernels = kernels(&o.kernel)?;
    let mut bins = build::guest_binaries(false)?;
    for p in &o.with {
        anyhow::ensure!(p.is_file(), "--with {}: no such program", p.display());
        bins.extra
            .push((p.clone(), p.to_string_lossy().into_owned()));
    }
    // One argument is a shell command line (like ssh's); several are quoted word by word.
    let cmd = match o.cmd.as_slice() {
        [one] => one.clone(),
        many => shell_join(many),
    };
    let mut worst = 0;
    for k in &kernels {
        eprintln!("vm: {} ({})", k.series, k.package);
        let code = boot(
            k,
            &bins,
            &cmd,
            o.timeout,
            &Machine {
                vmlinuz: o.vmlinuz.as_deref(),
                icount: o.icount,
                cpus: o.cpus,
            },
            &mut |line| println!("{line}"),
        )?;
        if code != 0 {
            eprintln!("vm: the command exited with status {code} on {}", k.release);
            if worst == 0 {
                worst = code;
            }
        }
    }
    Ok(worst)
}

/// Quotes arguments for the guest's sh.
pub fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn workloads_dir() -> PathBuf {
    util::root().join("xtask/workloads")
}

/// Terminal descriptions copied into the guests, where they exist on the host.
const TERMINFO: &[&str] = &[
    "/usr/share/terminfo/x/xterm-256color",
    "/usr/share/terminfo/t/tmux-256color",
    "/usr/share/terminfo/s/screen",
    "/lib/terminfo/x/xterm-256color",
    "/lib/terminfo/s/screen",
    "/lib/terminfo/t/tmux-256color",
];

/// The initramfs for one kernel and one command.
fn build_initramfs(k: &Kernel, bins: &GuestBinaries, cmd: &str) -> Result<Vec<u8>> {
    let mut i = Initramfs::new();
    i.file(
        "/bin/busybox",
        0o755,
        fs::read("/bin/busybox").context("reading /bin/busybox")?,
    );
    i.symlink("/bin/sh", "busybox");
    i.binary(Path::new("/usr/sbin/ip"), "/usr/sbin/ip")?;
    i.binary(Path::new("/usr/sbin/bpftool"), "/usr/sbin/bpftool")?;
    // tmux drives `rtnlprof top` in a terminal; it needs its terminal descriptions.
    i.binary(Path::new("/usr/bin/tmux"), "/usr/bin/tmux")?;
    for t in TERMINFO {
        if let Ok(data) = fs::read(t) {
            i.file(t, 0o644, data);
        }
    }
    // tmux wants a UTF-8 LC_CTYPE: glibc's C.UTF-8 (part of libc-bin).
    i.file(
        "/usr/lib/locale/C.utf8/LC_CTYPE",
        0o644,
        fs::read("/usr/lib/locale/C.utf8/LC_CTYPE").context("reading the C.UTF-8 locale")?,
    );
    i.binary(&bins.rtnlprof, "/usr/bin/rtnlprof")?;
    i.binary(&bins.workload, "/usr/bin/rtnl-workload")?;
    if let Some(t) = &bins.guest_tests {
        i.binary(t, "/usr/bin/rtnlprof-guest-tests")?;
    }
    for (host, guest) in &bins.extra {
        i.binary(host, guest)?;
    }
    for e in fs::read_dir(workloads_dir())? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        i.file(
            &format!("/usr/share/rtnlprof/workloads/{name}"),
            0o755,
            fs::read(e.path())?,
        );
    }
    let mods = kernel::modules(k, MODULES)?;
    let names: Vec<String> = mods.iter().map(|(n, _)| n.clone()).collect();
    for (name, bytes) in mods {
        i.file(&format!("/lib/modules/{name}.ko"), 0o644, bytes);
    }
    i.file("/init", 0o755, initramfs::init_script(&names).into_bytes());
    i.file("/cmd.sh", 0o644, format!("{cmd}\n").into_bytes());
    i.file("/etc/hostname", 0o644, b"rtnlprof-guest\n".to_vec());
    Ok(i.to_cpio())
}

fn tail_lines(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "(the console was silent)".into();
    }
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Where the files a guest exported land: target/xtask/vm-SERIES/exports.
pub fn exports_dir(k: &Kernel) -> PathBuf {
    util::work_dir()
        .join(format!("vm-{}", k.series))
        .join("exports")
}

/// Appends one exported chunk (`NAME BASE64`) to its file.
fn export_chunk(dir: &Path, rest: &str) -> Result<()> {
    use base64::Engine;
    use std::io::Write;
    let (name, data) = rest
        .split_once(' ')
        .ok_or_else(|| anyhow!("malformed export line"))?;
    if name.contains('/') || name.starts_with('.') {
        bail!("refusing exported file name {name:?}");
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .with_context(|| format!("exported chunk of {name}"))?;
    fs::create_dir_all(dir)?;
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))?
        .write_all(&bytes)?;
    Ok(())
}

/// The first console line that says the kernel is dead or stuck.
fn fatal_line(console: &Path) -> Option<String> {
    let text = fs::read_to_string(console).ok()?;
    text.lines()
        .find(|l| FATAL.iter().any(|f| l.contains(f)))
        .map(|l| l.trim().to_owned())
}

const FATAL: &[&str] = &[
    "Kernel panic",
    "Oops: ",
    "soft lockup",
    "rcu_sched detected stalls",
    "rcu_preempt detected stalls",
    "self-detected stall",
];

/// Boots `k`, runs `cmd`, feeds each output line to `sink`; returns the command's exit status.
/// A kernel that crashes while booting, before the command has printed anything, is booted again
/// (twice at most), said on stderr; a crash after the command started ends the run.
pub fn boot(
    k: &Kernel,
    bins: &GuestBinaries,
    cmd: &str,
    timeout: u64,
    machine: &Machine,
    sink: &mut dyn FnMut(&str),
) -> Result<i32> {
    let mut attempt = 1;
    loop {
        // The kernel crashing before the command printed anything is a boot failure: TCG's
        // cross-modifying code occasionally trips the kernel's text patching (an int3 oops in
        // early boot, seen on 6.12). Only that is retried.
        let mut output_seen = false;
        match boot_once(k, bins, cmd, timeout, machine, sink, &mut output_seen) {
            Err(e) if !output_seen && attempt < 3 && e.downcast_ref::<Crashed>().is_some() => {
                eprintln!("vm: {e:#}; booting again (attempt {})", attempt + 1);
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// The guest's kernel died (panic, oops, lockup, stall): the console line that says so.
#[derive(Debug)]
struct Crashed(String);

impl std::fmt::Display for Crashed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Crashed {}

fn crashed(k: &Kernel, line: &str, console: &Path) -> anyhow::Error {
    anyhow::Error::new(Crashed(format!(
        "guest on {} crashed: {line} (console: {})",
        k.release,
        console.display()
    )))
}

fn boot_once(
    k: &Kernel,
    bins: &GuestBinaries,
    cmd: &str,
    timeout: u64,
    machine: &Machine,
    sink: &mut dyn FnMut(&str),
    output_seen: &mut bool,
) -> Result<i32> {
    let dir = util::work_dir().join(format!("vm-{}", k.series));
    fs::create_dir_all(&dir)?;
    let cpio = dir.join("initramfs.cpio");
    fs::write(&cpio, build_initramfs(k, bins, cmd)?)?;
    let _ = fs::remove_dir_all(exports_dir(k));
    let console = dir.join("console.log");
    let out = dir.join("output.log");
    fs::write(&console, b"")?;
    fs::write(&out, b"")?;
    let image = machine
        .vmlinuz
        .map(Path::to_path_buf)
        .unwrap_or_else(|| k.vmlinuz());
    let mut qemu = Command::new("qemu-system-x86_64")
        .args([
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
            "-machine",
            "q35",
        ])
        // Two vCPUs on one TCG thread: multi-threaded TCG races the kernel's live text patching
        // (attaching or detaching a trampoline on mutex_lock while the other vCPU runs it ends in
        // an int3 oops, seen on 6.12); one thread keeps SMP semantics without the race.
        .args(["-accel", "tcg,thread=single"])
        .args(["-cpu", "max", "-m", "2048", "-smp"])
        .arg(machine.cpus.to_string())
        .args(if machine.icount {
            &["-icount", "shift=0,sleep=off"][..]
        } else {
            &[]
        })
        .arg("-kernel")
        .arg(&image)
        .arg("-initrd")
        .arg(&cpio)
        .args(["-append", "console=ttyS0 quiet panic=-1 rdinit=/init"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-serial")
        .arg(format!("file:{}", out.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start qemu-system-x86_64")?;

    let started = Instant::now();
    let mut reader = fs::File::open(&out)?;
    let mut pending = String::new();
    let mut status: Option<i32> = None;
    let mut buf = Vec::new();
    let exited = loop {
        let finished = qemu.try_wait()?;
        buf.clear();
        reader.read_to_end(&mut buf)?;
        pending.push_str(&String::from_utf8_lossy(&buf));
        while let Some(nl) = pending.find('\n') {
            let line: String = pending.drain(..=nl).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            *output_seen = true;
            if let Some(code) = line.strip_prefix(initramfs::EXIT_MARK) {
                status = code.trim().parse().ok();
            } else if let Some(at) = line.find(initramfs::EXPORT_MARK) {
                // libtest may have printed "test x ... " on the same line, before the export.
                if !line[..at].trim().is_empty() {
                    sink(line[..at].trim_end());
                }
                export_chunk(&exports_dir(k), &line[at + initramfs::EXPORT_MARK.len()..])?;
            } else {
                sink(line);
            }
        }
        if let Some(s) = finished {
            break s;
        }
        if status.is_none() {
            if let Some(f) = fatal_line(&console) {
                let _ = qemu.kill();
                let _ = qemu.wait();
                return Err(crashed(k, &f, &console));
            }
        }
        if started.elapsed() > Duration::from_secs(timeout) {
            let _ = qemu.kill();
            let _ = qemu.wait();
            bail!(
                "guest on {} timed out after {timeout} s; last console lines: {}",
                k.release,
                tail_lines(&console, 3)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !pending.is_empty() {
        sink(pending.trim_end());
    }
    if let (None, Some(f)) = (status, fatal_line(&console)) {
        return Err(crashed(k, &f, &console));
    }
    match status {
        Some(code) => Ok(code),
        None => {
            let mut err = String::new();
            if let Some(mut e) = qemu.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let err = err.lines().next().unwrap_or("");
            let err = err
                .trim_start_matches("qemu-system-x86_64: ")
                .trim_start_matches("qemu: ")
                .to_owned();
            Err(anyhow!(
                "guest on {} ended ({exited}) before the command finished: {}",
                k.release,
                if err.is_empty() {
                    format!("last console lines: {}", tail_lines(&console, 3))
                } else {
                    format!("qemu: {err}")
                }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_the_shell_would_split() {
        let args = ["uname", "-r", "a b", "it's", ""].map(String::from);
        assert_eq!(shell_join(&args), r#"uname -r 'a b' 'it'\''s' ''"#);
    }
}
