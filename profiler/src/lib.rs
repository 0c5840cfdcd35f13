//! rtnlprof: an eBPF contention profiler for the Linux kernel's RTNL mutex.
//!
//! The flow, one module a stage:
//! `capture` (the only code that touches the kernel: load, attach, ring buffer) →
//! `events` (typed records decoded from the ring buffer) →
//! `model` (pure aggregation: per-handler holds, waits, grace periods) →
//! `views` (pure renders of the model: text, JSON; `tui` is the live one, for `top`) →
//! `cmd` (one module per subcommand, the error edge) behind `cli`.

pub mod capture;
pub mod cli;
pub mod cmd;
pub mod diff;
pub mod events;
pub mod model;
pub mod source;
pub mod trace;
pub mod tui;
pub mod views;

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: cli::Cli) -> i32 {
    match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rtnlprof: {}", one_line(&format!("{err:#}")));
            cmd::exit_code_for(&err)
        }
    }
}

/// An error on one line: a verifier log or another multi-line cause is cut to its first line,
/// unless RTNLPROF_VERBOSE is set.
pub fn one_line(msg: &str) -> String {
    let mut lines = msg.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("").trim_end().to_owned();
    let rest = lines.count();
    if rest == 0 {
        first
    } else if std::env::var_os("RTNLPROF_VERBOSE").is_some() {
        msg.to_owned()
    } else {
        format!("{first} [{rest} more lines with RTNLPROF_VERBOSE=1]")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_fit_on_one_line() {
        assert_eq!(super::one_line("a: b"), "a: b");
        assert_eq!(
            super::one_line("load failed: verifier says\n0: r1 = 0\n1: exit\n"),
            "load failed: verifier says [2 more lines with RTNLPROF_VERBOSE=1]"
        );
    }
}
