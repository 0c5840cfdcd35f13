//! The recording file format (version 2; version 1, without network namespaces, still reads).
//!
//! ```text
//! "RTNLPROF"  magic, 8 bytes
//! u16 LE      format version (2)
//! u32 LE      header length, then the header: JSON (see [`Header`])
//! frames      'F', u32 LE raw length, u32 LE compressed length, u32 LE record count, then a
//!             zstd frame (with its content checksum) of postcard-encoded [`wire::Item`]s
//! footer      'E', u32 LE length, then JSON (see [`Footer`])
//! ```
//! Frames are written at least once a second, so a file cut short by a crash reads up to its last
//! whole frame (the reader says so). Inside a frame, times are deltas (zigzag varints) from the
//! previous record and tasks, callers and message keys are numbered on first use, so a realistic
//! recording takes a few bytes per event.

pub mod reader;
pub mod synthetic;
pub mod wire;
pub mod writer;

use serde::{Deserialize, Serialize};

use crate::run::{CaptureMode, KernelStats, RunInfo, SkippedHook};

pub const MAGIC: &[u8; 8] = b"RTNLPROF";
pub const VERSION: u16 = 2;
pub const FRAME_TAG: u8 = b'F';
pub const FOOTER_TAG: u8 = b'E';
/// Sanity bounds for lengths read from a file.
pub const MAX_HEADER: u32 = 1 << 20;
pub const MAX_FRAME: u32 = 1 << 28;

/// Written once, at the start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub rtnlprof_version: String,
    pub kernel: String,
    pub boot_id: String,
    pub hostname: String,
    /// The clock of every timestamp in the file.
    pub clock: String,
    /// Wall-clock time and CLOCK_MONOTONIC at the start of the capture.
    pub start_unix_ns: u64,
    pub start_mono_ns: u64,
    /// "fentry" (the full capture) or "tracepoint" (contended waits only).
    pub capture_mode: CaptureMode,
    /// Why the full capture did not run, when `--mode auto` fell back to the tracepoint mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_fallback: Option<String>,
    pub rtnl_mutex: u64,
    pub skipped_hooks: Vec<SkippedHook>,
    /// Names of network namespaces (inode number -> `ip netns` name, or `host`) known at the start.
    #[serde(default)]
    pub netns_names: std::collections::BTreeMap<u32, String>,
}

impl Header {
    /// What the reports say of the run this header began, given its end.
    pub fn run_info(
        &self,
        end_mono_ns: u64,
        kernel_stats: KernelStats,
        decode_errors: u64,
    ) -> RunInfo {
        RunInfo {
            kernel: self.kernel.clone(),
            hostname: self.hostname.clone(),
            boot_id: self.boot_id.clone(),
            capture_mode: self.capture_mode,
            capture_fallback: self.capture_fallback.clone(),
            start_unix_ns: self.start_unix_ns,
            wall_ns: end_mono_ns.saturating_sub(self.start_mono_ns),
            rtnlprof_version: self.rtnlprof_version.clone(),
            kernel_stats,
            decode_errors,
            skipped_hooks: self.skipped_hooks.clone(),
            warnings: Vec::new(),
            netns_names: self.netns_names.clone(),
        }
    }
}

/// Written once, at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Footer {
    pub records: u64,
    pub frames: u64,
    pub end_mono_ns: u64,
    pub kernel_stats: KernelStats,
    pub decode_errors: u64,
    /// Names of network namespaces known at the end (those made during the recording too).
    #[serde(default)]
    pub netns_names: std::collections::BTreeMap<u32, String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TraceError {
    #[error("empty file")]
    Empty,
    #[error("not an rtnlprof recording (bad magic)")]
    Magic,
    #[error("format version {0} is newer than this rtnlprof reads ({VERSION}); upgrade rtnlprof")]
    NewerVersion(u16),
    #[error("corrupt header: {0}")]
    Header(String),
    #[error("corrupt frame {frame} at byte {offset}: {cause}")]
    Frame {
        frame: u64,
        offset: u64,
        cause: String,
    },
    #[error("corrupt footer: {0}")]
    Footer(String),
    #[error("{0}")]
    Io(String),
}

#[cfg(test)]
mod tests;
