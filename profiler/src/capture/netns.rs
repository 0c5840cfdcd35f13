//! Network namespaces: where the programs find them (field offsets from the running kernel's BTF)
//! and what they are called (`/run/netns/*`, as `ip netns` names them).

use std::{collections::BTreeMap, os::unix::fs::MetadataExt, path::Path};

use btf_rs::{Btf, Type};

/// Byte offsets of the fields read to find a namespace (see profiler_common::netns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    pub skb_sk: u32,
    pub sk_net: u32,
    pub net_inum: u32,
    pub task_nsproxy: u32,
    pub nsproxy_net: u32,
}

/// The type behind typedefs and qualifiers.
fn resolve(btf: &Btf, mut t: Type) -> Result<Type, String> {
    loop {
        match &t {
            Type::Typedef(_)
            | Type::Const(_)
            | Type::Volatile(_)
            | Type::Restrict(_)
            | Type::TypeTag(_) => {
                t = btf
                    .resolve_chained_type(t.as_btf_type().expect("chained"))
                    .map_err(|e| e.to_string())?;
            }
            _ => return Ok(t),
        }
    }
}

/// Bit offset of member `name` in a struct or union, looking into anonymous members.
fn member(btf: &Btf, s: &btf_rs::Struct, name: &str) -> Result<Option<(u32, Type)>, String> {
    for m in &s.members {
        let n = btf.resolve_name(m).unwrap_or_default();
        let ty = btf.resolve_chained_type(m).map_err(|e| e.to_string())?;
        if n == name {
            return Ok(Some((m.bit_offset(), ty)));
        }
        if n.is_empty() {
            if let Type::Struct(inner) | Type::Union(inner) = resolve(btf, ty)? {
                if let Some((off, t)) = member(btf, &inner, name)? {
                    return Ok(Some((m.bit_offset() + off, t)));
                }
            }
        }
    }
    Ok(None)
}

/// Byte offset of `path` (e.g. `["__sk_common", "skc_net"]`) in `struct NAME`.
pub fn offset_of(btf: &Btf, name: &str, path: &[&str]) -> Result<u32, String> {
    let mut t = btf
        .resolve_types_by_name(name)
        .map_err(|e| format!("struct {name}: {e}"))?
        .into_iter()
        .find(|t| matches!(t, Type::Struct(_)))
        .ok_or_else(|| format!("no struct {name} in the kernel's BTF"))?;
    let mut bits = 0;
    for field in path {
        let s = match resolve(btf, t)? {
            Type::Struct(s) | Type::Union(s) => s,
            other => {
                return Err(format!(
                    "{name}.{field}: not in a struct ({})",
                    other.name()
                ))
            }
        };
        let (off, ty) =
            member(btf, &s, field)?.ok_or_else(|| format!("struct {name} has no {field}"))?;
        bits += off;
        t = ty;
    }
    if bits % 8 != 0 {
        return Err(format!("{name}.{}: a bit field", path.join(".")));
    }
    Ok(bits / 8)
}

impl Offsets {
    /// Offsets that turn the reading off: every namespace reads as unknown (0).
    pub fn none() -> Offsets {
        let n = profiler_common::netns::NO_OFFSET;
        Offsets {
            skb_sk: n,
            sk_net: n,
            net_inum: n,
            task_nsproxy: n,
            nsproxy_net: n,
        }
    }

    /// From the BTF at `path` (/sys/kernel/btf/vmlinux).
    pub fn from_btf(path: &Path) -> Result<Offsets, String> {
        let btf = Btf::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Offsets {
            skb_sk: offset_of(&btf, "sk_buff", &["sk"])?,
            // possible_net_t's only field is the pointer: its offset is the struct's.
            sk_net: offset_of(&btf, "sock", &["__sk_common", "skc_net"])?,
            net_inum: offset_of(&btf, "net", &["ns", "inum"])?,
            task_nsproxy: offset_of(&btf, "task_struct", &["nsproxy"])?,
            nsproxy_net: offset_of(&btf, "nsproxy", &["net_ns"])?,
        })
    }
}

/// Byte offsets from a task's file descriptor to its socket (see profiler_common::sockfd).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockOffsets {
    pub task_files: u32,
    pub files_fdt: u32,
    pub fdt_max_fds: u32,
    pub fdt_fd: u32,
    pub file_inode: u32,
    pub inode_mode: u32,
    pub file_private: u32,
    pub socket_sk: u32,
    pub sk_family: u32,
    /// NO_OFFSET where `sk_protocol` is a bit field (before Linux 5.6): not checked then.
    pub sk_protocol: u32,
}

impl SockOffsets {
    pub fn none() -> SockOffsets {
        let n = profiler_common::netns::NO_OFFSET;
        SockOffsets {
            task_files: n,
            files_fdt: n,
            fdt_max_fds: n,
            fdt_fd: n,
            file_inode: n,
            inode_mode: n,
            file_private: n,
            socket_sk: n,
            sk_family: n,
            sk_protocol: n,
        }
    }

    pub fn from_btf(path: &Path) -> Result<SockOffsets, String> {
        let btf = Btf::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(SockOffsets {
            task_files: offset_of(&btf, "task_struct", &["files"])?,
            files_fdt: offset_of(&btf, "files_struct", &["fdt"])?,
            fdt_max_fds: offset_of(&btf, "fdtable", &["max_fds"])?,
            fdt_fd: offset_of(&btf, "fdtable", &["fd"])?,
            file_inode: offset_of(&btf, "file", &["f_inode"])?,
            inode_mode: offset_of(&btf, "inode", &["i_mode"])?,
            file_private: offset_of(&btf, "file", &["private_data"])?,
            socket_sk: offset_of(&btf, "socket", &["sk"])?,
            sk_family: offset_of(&btf, "sock", &["__sk_common", "skc_family"])?,
            sk_protocol: offset_of(&btf, "sock", &["sk_protocol"])
                .unwrap_or(profiler_common::netns::NO_OFFSET),
        })
    }
}

/// Names of the network namespaces this host can name: `ip netns` names (bind mounts in
/// /run/netns), and `host` for the initial namespace (that of PID 1).
pub fn names() -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for e in dir.flatten() {
            if let Ok(m) = std::fs::metadata(e.path()) {
                out.insert(m.ino() as u32, e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    if let Ok(m) = std::fs::metadata("/proc/1/ns/net") {
        out.entry(m.ino() as u32).or_insert_with(|| "host".into());
    }
    // Where PID 1's is not readable (a sandbox), rtnlprof's own still has a name.
    if let Ok(m) = std::fs::metadata("/proc/self/ns/net") {
        out.entry(m.ino() as u32)
            .or_insert_with(|| "rtnlprof's".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_from_this_kernels_btf() {
        // The host's BTF has these structs whatever else it refuses.
        let o = Offsets::from_btf(Path::new("/sys/kernel/btf/vmlinux")).expect("offsets");
        // possible_net_t and ns_common's inum are small, aligned offsets; nothing is 0 but
        // sk_net can be (it is not, on any kernel with sock_common first).
        assert!(o.skb_sk > 0 && o.skb_sk.is_multiple_of(8), "{o:?}");
        assert!(
            o.sk_net.is_multiple_of(8) && o.net_inum.is_multiple_of(4),
            "{o:?}"
        );
        assert!(
            o.task_nsproxy > 0 && o.task_nsproxy.is_multiple_of(8),
            "{o:?}"
        );
        assert!(o.nsproxy_net.is_multiple_of(8), "{o:?}");
    }

    #[test]
    fn socket_offsets_from_this_kernels_btf() {
        let o = SockOffsets::from_btf(Path::new("/sys/kernel/btf/vmlinux")).expect("offsets");
        for (name, off, align) in [
            ("task_struct.files", o.task_files, 8),
            ("files_struct.fdt", o.files_fdt, 8),
            ("fdtable.fd", o.fdt_fd, 8),
            ("file.f_inode", o.file_inode, 8),
            ("file.private_data", o.file_private, 8),
            ("socket.sk", o.socket_sk, 8),
            ("sock.skc_family", o.sk_family, 2),
            ("sock.sk_protocol", o.sk_protocol, 2),
            ("inode.i_mode", o.inode_mode, 2),
        ] {
            assert!(
                off != profiler_common::netns::NO_OFFSET && off.is_multiple_of(align),
                "{name}: {o:?}"
            );
        }
        assert!(o.task_files > 0 && o.fdt_fd > 0 && o.socket_sk > 0, "{o:?}");
    }

    #[test]
    fn the_initial_namespace_is_named_host_and_ours_has_a_name() {
        let names = names();
        if let Ok(m) = std::fs::metadata("/proc/1/ns/net") {
            assert_eq!(
                names.get(&(m.ino() as u32)).map(String::as_str),
                Some("host")
            );
        }
        let ours = std::fs::metadata("/proc/self/ns/net").unwrap().ino() as u32;
        assert!(names.contains_key(&ours), "{names:?}");
    }
}
