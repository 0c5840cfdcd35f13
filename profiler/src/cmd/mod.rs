//! One module per subcommand; this is where errors become exit codes.

pub mod check;
pub mod diff;
pub mod export;
pub mod record;
pub mod report;
pub mod serve;
pub mod stat;
pub mod top;

use crate::cli::{Cli, Command};

/// Exit status of a failure; bad input (a file rtnlprof cannot use) is 2.
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;

pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Stat(args) => stat::run(&args),
        Command::Top(args) => top::run(&args),
        Command::Record(args) => record::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Serve(args) => serve::run(&args),
    }
}

pub use crate::error::Refused;

pub fn exit_code_for(err: &anyhow::Error) -> i32 {
    let no_mode = matches!(
        err.downcast_ref::<crate::capture::CaptureError>(),
        Some(crate::capture::CaptureError::NoMode { .. })
    );
    if no_mode
        || err.downcast_ref::<report::BadInput>().is_some()
        || err.downcast_ref::<Refused>().is_some()
    {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILURE
    }
}

/// Prints the output; a reader that went away (`| head`) is not an error.
pub fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

pub use crate::capture::{kernel_release, monotonic_ns};
