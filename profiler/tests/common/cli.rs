//! The recorded fixtures and the rtnlprof binary, for the command-line tests on the host.

use std::{path::PathBuf, process::Command};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn rtnlprof(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rtnlprof"))
        .args(args)
        .output()
        .expect("run rtnlprof")
}
