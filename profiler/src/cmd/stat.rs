//! `rtnlprof stat [-- CMD]`: profile RTNL while CMD runs (or for --duration, or until Ctrl-C) and
//! print the report.

use crate::{cli::StatArgs, model::Model};

use crate::capture::session::{self, Sink, StopToken};

struct ModelSink(Model);

impl Sink for ModelSink {
    fn start(&mut self, header: &crate::trace::Header) -> anyhow::Result<()> {
        self.0 = Model::with_origin(header.start_mono_ns);
        Ok(())
    }
    fn records(&mut self, batch: &[crate::events::Record]) -> anyhow::Result<()> {
        batch.iter().for_each(|r| self.0.add(r));
        Ok(())
    }
}

pub fn run(args: &StatArgs) -> anyhow::Result<i32> {
    let mut sink = ModelSink(Model::new());
    let end = session::run(&args.capture.session(), &StopToken::new(), &mut sink)?;
    let mut run = end.run_info();
    // Namespaces made while the command ran have names now.
    run.netns_names.extend(crate::capture::netns::names());
    let out = super::report::render(&sink.0, &run, &args.output);
    super::print_out(&out)?;
    Ok(end.code)
}
