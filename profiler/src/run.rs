//! What is known about a run besides its records: the capture mode, the kernel's counters, the
//! hooks that could not be attached, the host. The bottom layer: every other module may use it,
//! it uses none of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The mode a capture runs in, as recordings spell it (`capture_mode`: `"fentry"` or
/// `"tracepoint"`; a recording or report that names another is refused).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum CaptureMode {
    /// fentry/fexit on the mutex and rtnetlink functions: every hold and wait.
    #[default]
    Full,
    /// Tracepoints only: contended waits, never a hold.
    Tracepoint,
}

impl CaptureMode {
    pub const FULL: &'static str = "fentry";
    pub const TRACEPOINT: &'static str = "tracepoint";

    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMode::Full => Self::FULL,
            CaptureMode::Tracepoint => Self::TRACEPOINT,
        }
    }

    /// The mode a recording or a report names.
    pub fn of(recorded: &str) -> Option<Self> {
        match recorded {
            Self::FULL => Some(CaptureMode::Full),
            Self::TRACEPOINT => Some(CaptureMode::Tracepoint),
            _ => None,
        }
    }

    /// Whether holds (and all that follows from them) were measured.
    pub const fn measures_holds(self) -> bool {
        matches!(self, CaptureMode::Full)
    }

    /// Words for what this mode cannot measure, when it cannot.
    pub const fn unmeasured(self) -> Option<&'static str> {
        match self {
            CaptureMode::Full => None,
            CaptureMode::Tracepoint => Some(
                "hold times, uncontended acquisitions, RCU grace periods under RTNL, failed \
                 trylocks, who waited behind whom, utilization and the candidates (they need \
                 hold times)",
            ),
        }
    }
}

impl TryFrom<String> for CaptureMode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        CaptureMode::of(&s).ok_or_else(|| {
            format!(
                "unknown capture mode {s:?} (this rtnlprof knows {:?} and {:?})",
                Self::FULL,
                Self::TRACEPOINT
            )
        })
    }
}

impl From<CaptureMode> for &'static str {
    fn from(m: CaptureMode) -> &'static str {
        m.as_str()
    }
}

impl std::fmt::Display for CaptureMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters kept in the kernel, summed over CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KernelStats {
    pub lost_events: u64,
    pub contention_begin: u64,
    pub contention_end: u64,
    pub unmatched_release: u64,
    pub requests_entered: u64,
    pub acquisitions: u64,
    pub trylock_failed: u64,
    /// Program runs the kernel skipped because a BPF program was already running on that CPU
    /// (`recursion_misses` of every program, summed).
    pub recursion_misses: u64,
    /// Tracepoint mode: waits on other mutexes read before rtnl_mutex was recognised (dropped).
    pub unrelated_waits: u64,
    /// Tracepoint mode: the address of rtnl_mutex learned from the stack of a wait (0: not yet).
    pub learned_rtnl_mutex: u64,
}

/// A hook the capture could not attach, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SkippedHook {
    pub target: String,
    pub cause: String,
}

/// What is known about the run besides the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunInfo {
    pub kernel: String,
    pub hostname: String,
    pub boot_id: String,
    pub capture_mode: CaptureMode,
    /// Why the full capture did not run (`--mode auto` fell back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_fallback: Option<String>,
    pub start_unix_ns: u64,
    pub wall_ns: u64,
    pub rtnlprof_version: String,
    #[serde(default)]
    pub kernel_stats: KernelStats,
    #[serde(default)]
    pub decode_errors: u64,
    #[serde(default)]
    pub skipped_hooks: Vec<SkippedHook>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Network namespace names (inode number -> `ip netns` name, or `host`).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "inode_keys"
    )]
    pub netns_names: BTreeMap<u32, String>,
}

/// A map keyed by inode numbers, as JSON writes them (strings): read back also where the run
/// fields are flattened into a report, where serde hands the keys over as strings.
fn inode_keys<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<u32, String>, D::Error> {
    let m: BTreeMap<String, String> = Deserialize::deserialize(d)?;
    m.into_iter()
        .map(|(k, v)| {
            k.parse()
                .map(|k| (k, v))
                .map_err(|_| serde::de::Error::custom(format!("{k:?} is not an inode number")))
        })
        .collect()
}

impl RunInfo {
    pub fn mode(&self) -> CaptureMode {
        self.capture_mode
    }

    /// A namespace as the reports name it: its `ip netns` name with the inode, or the inode.
    pub fn netns_name(&self, inode: u32) -> String {
        match (inode, self.netns_names.get(&inode)) {
            (0, _) => "unknown".into(),
            (_, Some(n)) => format!("{n} ({inode})"),
            (_, None) => inode.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_modes_are_spelled_as_recordings_spell_them_and_others_are_refused() {
        for m in [CaptureMode::Full, CaptureMode::Tracepoint] {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(serde_json::from_str::<CaptureMode>(&json).unwrap(), m);
        }
        let e = serde_json::from_str::<RunInfo>(r#"{"capture_mode": "light"}"#).unwrap_err();
        assert!(
            e.to_string().contains("unknown capture mode \"light\""),
            "{e}"
        );
        let r: RunInfo = serde_json::from_str(r#"{"capture_mode": "tracepoint"}"#).unwrap();
        assert!(!r.mode().measures_holds());
    }
}
