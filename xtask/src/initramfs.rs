//! The guest's initramfs, written in-process as a newc cpio archive: busybox, iproute2, rtnlprof,
//! test binaries with the shared libraries they link, kernel modules, and an /init that mounts
//! the kernel filesystems, runs one command as root on the second serial port and powers off.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result};

use crate::util;

/// A guest exports a file by printing `<EXPORT_MARK><name> <base64 chunk>` lines on its output.
pub const EXPORT_MARK: &str = "@@rtnlprof-export ";

/// Marker the init script prints after the command: `<MARK><status>`.
pub const EXIT_MARK: &str = "@@rtnlprof-guest-exit=";

#[derive(Default)]
pub struct Initramfs {
    /// path in the guest -> (mode, contents)
    files: BTreeMap<String, (u32, Vec<u8>)>,
    dirs: Vec<String>,
    symlinks: BTreeMap<String, String>,
}

fn parents(path: &str) -> impl Iterator<Item = String> + '_ {
    path.match_indices('/')
        .filter(|(i, _)| *i > 0)
        .map(move |(i, _)| path[..i].to_owned())
}

impl Initramfs {
    pub fn new() -> Self {
        let mut s = Self::default();
        for d in [
            "/bin",
            "/sbin",
            "/usr/bin",
            "/usr/sbin",
            "/proc",
            "/sys",
            "/dev",
            "/tmp",
            "/root",
            "/run",
            "/var",
            "/etc",
            "/lib/modules",
        ] {
            s.dir(d);
        }
        s
    }

    pub fn dir(&mut self, path: &str) {
        for p in parents(path).chain(std::iter::once(path.to_owned())) {
            if !self.dirs.contains(&p) {
                self.dirs.push(p);
            }
        }
    }

    pub fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) {
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !parent.is_empty() {
                self.dir(parent);
            }
        }
        self.files.insert(path.to_owned(), (mode, data));
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.symlinks.insert(path.to_owned(), target.to_owned());
    }

    /// A host executable (stripped) and every shared library `ldd` says it needs.
    pub fn binary(&mut self, host: &Path, guest: &str) -> Result<()> {
        let stripped = util::work_dir()
            .join("strip")
            .join(guest.trim_start_matches('/'));
        fs::create_dir_all(stripped.parent().unwrap())?;
        util::output(
            Command::new("strip")
                .arg("--strip-debug")
                .arg("-o")
                .arg(&stripped)
                .arg(host),
        )
        .with_context(|| format!("stripping {}", host.display()))?;
        self.file(guest, 0o755, fs::read(&stripped)?);
        for lib in shared_libraries(host)? {
            let guest_path = lib.to_string_lossy().into_owned();
            if !self.files.contains_key(&guest_path) {
                let data = fs::read(&lib).with_context(|| format!("reading {}", lib.display()))?;
                self.file(&guest_path, 0o755, data);
            }
        }
        Ok(())
    }

    /// The archive in newc format.
    pub fn to_cpio(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut ino = 1u32;
        let mut entry = |out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]| {
            let name = name.trim_start_matches('/');
            let header = format!(
                "070701{ino:08X}{mode:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
                0, 0, 1, 0, data.len(), 0, 0, 0, 0, name.len() + 1, 0
            );
            ino += 1;
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            while !out.len().is_multiple_of(4) {
                out.push(0);
            }
            out.extend_from_slice(data);
            while !out.len().is_multiple_of(4) {
                out.push(0);
            }
        };
        let mut dirs = self.dirs.clone();
        dirs.sort();
        for d in &dirs {
            entry(&mut out, d, 0o040755, &[]);
        }
        for (path, (mode, data)) in &self.files {
            entry(&mut out, path, 0o100000 | mode, data);
        }
        for (path, target) in &self.symlinks {
            entry(&mut out, path, 0o120777, target.as_bytes());
        }
        entry(&mut out, "TRAILER!!!", 0, &[]);
        out
    }
}

/// Libraries from `ldd`, with the dynamic loader.
fn shared_libraries(bin: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd").arg(bin).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, rhs)) => rhs.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

/// /init: mounts, modules, loopback, then the command on ttyS1, its status, power off.
pub fn init_script(modules: &[String]) -> String {
    let insmod: String = modules
        .iter()
        .map(|m| format!("insmod /lib/modules/{m}.ko || echo 'init: insmod {m} failed'\n"))
        .collect();
    format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
{insmod}/usr/sbin/ip link set lo up
cd /root
exec </dev/null >/dev/ttyS1 2>&1
sh /cmd.sh
echo "{EXIT_MARK}$?"
poweroff -f
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_entries_are_aligned_and_terminated() {
        let mut i = Initramfs::default();
        i.file("/a/b", 0o644, b"hello".to_vec());
        i.symlink("/bin/sh", "busybox");
        let c = i.to_cpio();
        assert!(c.starts_with(b"070701"));
        assert_eq!(c.len() % 4, 0);
        let text = String::from_utf8_lossy(&c);
        assert!(text.contains("a/b\0"));
        assert!(text.contains("TRAILER!!!"));
        // Parent directory created implicitly, before the file.
        assert!(text.find("070701").unwrap() < text.find("a/b").unwrap());
        assert!(i.dirs.contains(&"/a".to_owned()));
    }
}
