//! `cargo xtask fixtures`: records the report fixtures in the guests (the same guest test as the
//! round trip) and copies them to profiler/tests/fixtures/SERIES.rtnl (+ SERIES.sent.json, what
//! the workload sent). The report snapshots are then updated with `INSTA_UPDATE=always cargo test`.

use std::fs;

use anyhow::{bail, Result};

use crate::{build, setup, test::ROUNDTRIP_TEST, util, vm};

#[derive(clap::Args)]
pub struct Options {
    /// Kernel series: 6.1, 6.12 or all.
    #[arg(long, default_value = "all")]
    pub kernel: String,
}

pub fn run(o: &Options) -> Result<i32> {
    setup::ensure()?;
    let bins = build::guest_binaries(true)?;
    let cmd = format!("/usr/bin/rtnlprof-guest-tests --test-threads=1 --exact {ROUNDTRIP_TEST}");
    let dest = util::root().join("profiler/tests/fixtures");
    fs::create_dir_all(&dest)?;
    for k in vm::kernels(&o.kernel)? {
        let code = vm::boot(&k, &bins, &cmd, 900, &vm::Machine::default(), &mut |l| {
            println!("[{}] {l}", k.series)
        })?;
        if code != 0 {
            bail!("the recording test failed on {}", k.release);
        }
        let dir = vm::exports_dir(&k);
        for (from, to) in [
            ("roundtrip.rtnl", "rtnl"),
            ("roundtrip.sent.json", "sent.json"),
        ] {
            let target = dest.join(format!("{}.{to}", k.series));
            fs::copy(dir.join(from), &target)?;
            println!("fixtures: {}", target.display());
        }
    }
    Ok(0)
}
