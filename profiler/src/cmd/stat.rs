//! `rtnlprof stat [-- CMD]`: profile RTNL while CMD runs (or for --duration, or until Ctrl-C) and
//! print the report.

use crate::{
    cli::{Format, StatArgs},
    model::Model,
    views::report,
};

use super::live::{self, LiveArgs, Sink};

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
    let end = live::run(
        &LiveArgs {
            duration: args.duration,
            ring_bytes: args.ring_bytes,
            cmd: &args.cmd,
        },
        &mut sink,
    )?;
    let model = sink.0;
    let run = end.run_info();
    let opts = report::Options {
        top: args.top,
        by: args.by,
    };
    let out = match args.format {
        Format::Text => report::text(&model, &run, &opts),
        Format::Markdown => report::markdown(&model, &run, &opts),
        Format::Json => report::json(&model, &run),
    };
    super::print_out(&out)?;
    Ok(end.code)
}
