//! The errors every layer may raise and `cmd` turns into exit codes, and how they are printed.

/// A file rtnlprof cannot use (not a recording, corrupt, not a report): exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {cause}")]
pub struct BadInput {
    pub path: String,
    pub cause: String,
}

/// A setting or a situation rtnlprof refuses to run with (a port in use, an address off the host,
/// no capture): exit status 2, as bad input.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

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
