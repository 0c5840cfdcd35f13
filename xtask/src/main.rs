//! `cargo xtask ...`: setup, build, the QEMU kernel test bed, tests and the demo.

mod bench;
mod build;
mod demo;
mod fixtures;
mod initramfs;
mod kernel;
mod setup;
mod test;
mod util;
mod vm;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "rtnlprof's development tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install everything the project needs (apt packages, bpf-linker, Debian kernels). Idempotent.
    Setup(setup::Options),
    /// Boot a stock Debian kernel under QEMU and run a command in it as root.
    Vm(vm::Options),
    /// fmt, clippy, unit tests, then the integration tests inside the VMs on both kernels.
    Test(test::Options),
    /// Boot the 6.12 guest, run a built-in rtnetlink workload under rtnlprof, show the result.
    Demo(demo::Options),
    /// Benchmarks that print figures: `cargo xtask bench report`.
    Bench(bench::Options),
    /// Record the report fixtures (profiler/tests/fixtures) in the guests.
    Fixtures(fixtures::Options),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup(o) => setup::run(&o),
        Command::Vm(o) => vm::run(&o),
        Command::Test(o) => test::run(&o),
        Command::Demo(o) => demo::run(&o),
        Command::Fixtures(o) => fixtures::run(&o),
        Command::Bench(o) => bench::run(&o),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("xtask: {e:#}");
            std::process::exit(1);
        }
    }
}
