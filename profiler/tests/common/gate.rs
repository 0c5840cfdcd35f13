//! Host tests that need root or a tool skip, saying why, when it is absent (CI has them all).

/// Whether this process runs as root; prints why the test is skipped when not.
pub fn root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped {test}: needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN) to load eBPF programs");
    }
    root
}

/// Whether `tool` is on PATH; prints why the test is skipped when not.
pub fn tool(test: &str, tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    if !found {
        eprintln!("skipped {test}: needs {tool} on PATH (cargo xtask setup installs it)");
    }
    found
}
