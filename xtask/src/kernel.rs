//! Stock Debian cloud kernels: resolved to the newest package at run time, downloaded once into
//! the cache, unpacked; their modules with dependencies for the initramfs.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{anyhow, bail, Context, Result};

use crate::util;

pub const SERIES: &[&str] = &["6.1", "6.12"];

#[derive(Debug, Clone)]
pub struct Kernel {
    pub series: String,
    pub package: String,
    /// `uname -r` of the kernel (the directory under lib/modules).
    pub release: String,
    pub root: PathBuf,
}

impl Kernel {
    pub fn vmlinuz(&self) -> PathBuf {
        self.root.join(format!("boot/vmlinuz-{}", self.release))
    }
    pub fn modules_dir(&self) -> PathBuf {
        self.root.join(format!("lib/modules/{}", self.release))
    }
}

/// Does this package name belong to the series? 6.12: linux-image-6.12.N+deb12-cloud-amd64,
/// 6.1: linux-image-6.1.0-N-cloud-amd64. Returns the sort key (the varying number).
fn package_number(series: &str, name: &str) -> Option<u64> {
    let rest = name
        .strip_prefix("linux-image-")?
        .strip_suffix("-cloud-amd64")?;
    match series {
        "6.1" => rest.strip_prefix("6.1.0-")?.parse().ok(),
        "6.12" => rest
            .strip_prefix("6.12.")?
            .strip_suffix("+deb12")?
            .parse()
            .ok(),
        _ => None,
    }
}

fn newest_in(series: &str, names: impl Iterator<Item = String>) -> Option<String> {
    names
        .filter_map(|n| package_number(series, &n).map(|k| (k, n)))
        .max()
        .map(|(_, n)| n)
}

fn apt_candidates(series: &str) -> Result<Option<String>> {
    let pattern = format!(
        r"^linux-image-{}.*-cloud-amd64$",
        series.replace('.', r"\.")
    );
    let out =
        util::stdout_of(Command::new("apt-cache").args(["search", "--names-only", &pattern]))?;
    Ok(newest_in(
        series,
        out.lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned)),
    ))
}

fn cached(series: &str) -> Option<String> {
    let dir = util::cache_dir().join("kernels");
    let names = fs::read_dir(dir).ok()?.filter_map(|e| {
        let e = e.ok()?;
        e.path()
            .join(".complete")
            .exists()
            .then(|| e.file_name().to_string_lossy().into_owned())
    });
    newest_in(series, names)
}

/// The newest kernel of a series, downloaded and unpacked (a no-op when it already is).
pub fn ensure(series: &str) -> Result<Kernel> {
    if !SERIES.contains(&series) {
        bail!(
            "unknown kernel series {series:?} (known: {})",
            SERIES.join(", ")
        );
    }
    let mut package = apt_candidates(series).ok().flatten();
    if package.is_none() {
        // Package lists may be missing on a new machine.
        let _ = util::output(Command::new("apt-get").args(["update", "-q"]));
        package = apt_candidates(series).ok().flatten();
    }
    let package = match (package, cached(series)) {
        (Some(p), _) => p,
        (None, Some(c)) => c,
        (None, None) => bail!(
            "no Debian kernel package for series {series}: `apt-cache search linux-image-{series}...-cloud-amd64` found none and none is cached"
        ),
    };
    let dir = util::cache_dir().join("kernels").join(&package);
    if !dir.join(".complete").exists() {
        let dl = util::cache_dir().join("downloads");
        fs::create_dir_all(&dl)?;
        eprintln!("setup: downloading {package}");
        util::output(
            Command::new("apt-get")
                .args(["download", &package])
                .current_dir(&dl),
        )
        .with_context(|| format!("downloading kernel package {package}"))?;
        let deb = fs::read_dir(&dl)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_")))
            })
            .ok_or_else(|| anyhow!("apt-get download left no .deb for {package}"))?;
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        util::output(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&dir))
            .with_context(|| format!("unpacking {}", deb.display()))?;
        fs::write(dir.join(".complete"), &package)?;
        let _ = fs::remove_file(&deb);
    }
    let release = fs::read_dir(dir.join("lib/modules"))
        .with_context(|| format!("{package} has no lib/modules"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .ok_or_else(|| anyhow!("{package} has no kernel release under lib/modules"))?;
    let k = Kernel {
        series: series.to_owned(),
        package,
        release,
        root: dir,
    };
    if !k.vmlinuz().exists() {
        bail!("{} has no {}", k.package, k.vmlinuz().display());
    }
    Ok(k)
}

/// Reads the `depends=` entry of a module's .modinfo.
fn depends(ko: &[u8]) -> Vec<String> {
    let key = b"depends=";
    ko.windows(key.len())
        .position(|w| w == key)
        .map(|i| {
            let rest = &ko[i + key.len()..];
            let end = rest.iter().position(|&b| b == 0).unwrap_or(0);
            String::from_utf8_lossy(&rest[..end])
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn find_module(dir: &Path, name: &str) -> Option<PathBuf> {
    let want = [
        format!("{name}.ko"),
        format!("{name}.ko.xz"),
        format!("{name}.ko.zst"),
    ];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if want.iter().any(|w| e.file_name().to_string_lossy() == *w) {
                return Some(p);
            }
        }
    }
    None
}

fn read_module(path: &Path) -> Result<Vec<u8>> {
    let name = path.to_string_lossy();
    if name.ends_with(".xz") {
        Ok(util::output(Command::new("xz").arg("-dc").arg(path))?.stdout)
    } else if name.ends_with(".zst") {
        Ok(util::output(Command::new("zstd").arg("-dc").arg(path))?.stdout)
    } else {
        Ok(fs::read(path)?)
    }
}

/// The named modules and their dependencies, uncompressed, in load order: (name, bytes).
pub fn modules(k: &Kernel, names: &[&str]) -> Result<Vec<(String, Vec<u8>)>> {
    let dir = k.modules_dir();
    let mut order: Vec<(String, Vec<u8>)> = Vec::new();
    fn visit(dir: &Path, name: &str, order: &mut Vec<(String, Vec<u8>)>, k: &Kernel) -> Result<()> {
        if order.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        let Some(path) = find_module(dir, name) else {
            // Built into this kernel: nothing to load.
            if k.root.join(format!("boot/config-{}", k.release)).exists() {
                return Ok(());
            }
            bail!("module {name} not found in {}", dir.display());
        };
        let bytes = read_module(&path)?;
        for dep in depends(&bytes) {
            visit(dir, &dep, order, k)?;
        }
        order.push((name.to_owned(), bytes));
        Ok(())
    }
    for n in names {
        visit(&dir, n, &mut order, k)?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_newest_package_of_a_series() {
        let names = [
            "linux-image-6.12.111+deb12-cloud-amd64",
            "linux-image-6.12.117+deb12-cloud-amd64",
            "linux-image-6.12.99+deb12-cloud-amd64",
            "linux-image-6.1.0-56-cloud-amd64",
            "linux-image-6.1.0-9-cloud-amd64",
        ]
        .map(String::from);
        assert_eq!(
            newest_in("6.12", names.clone().into_iter()).as_deref(),
            Some("linux-image-6.12.117+deb12-cloud-amd64")
        );
        assert_eq!(
            newest_in("6.1", names.into_iter()).as_deref(),
            Some("linux-image-6.1.0-56-cloud-amd64")
        );
    }

    #[test]
    fn reads_module_dependencies() {
        let modinfo = b"\0license=GPL\0depends=stp,llc\0intree=Y\0";
        assert_eq!(depends(modinfo), vec!["stp", "llc"]);
        assert!(depends(b"\0depends=\0").is_empty());
    }
}
