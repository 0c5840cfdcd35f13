//! `cargo xtask demo`: boots the 6.12 guest, runs the built-in rtnetlink workload under rtnlprof
//! and prints what rtnlprof measured.

use anyhow::Result;

use crate::{build, setup, vm};

#[derive(clap::Args)]
pub struct Options {
    /// Kernel series: 6.1, 6.12 or all.
    #[arg(long, default_value = "6.12")]
    pub kernel: String,
    /// Links the workload creates (each gets an address, a route and a neighbour).
    #[arg(long, default_value_t = 40)]
    pub links: u32,
}

pub fn run(o: &Options) -> Result<i32> {
    setup::ensure()?;
    let bins = build::guest_binaries(false)?;
    let cmd = format!(
        "rtnlprof check && echo && N={} rtnlprof stat -- sh /usr/share/rtnlprof/workloads/demo.sh",
        o.links
    );
    let mut worst = 0;
    for k in vm::kernels(&o.kernel)? {
        eprintln!("demo: booting {} ({}) under QEMU", k.series, k.package);
        let code = vm::boot(&k, &bins, &cmd, 900, &vm::Machine::default(), &mut |l| {
            println!("{l}")
        })?;
        if code != 0 && worst == 0 {
            worst = code;
        }
    }
    Ok(worst)
}
