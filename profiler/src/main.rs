use clap::Parser;

fn main() {
    let cli = rtnlprof::cli::Cli::parse();
    std::process::exit(rtnlprof::run(cli));
}
