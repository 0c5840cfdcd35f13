//! `rtnlprof record -o FILE [--duration D] [-- CMD]`: stream every event into a recording.

use std::{fs::File, io::BufWriter, path::Path, time::Instant};

use anyhow::Context;

use crate::{
    cli::RecordArgs,
    events::Record,
    trace::{writer::Writer, Footer, Header},
};

use crate::capture::session::{self, Sink, StopToken};

struct FileSink<'a> {
    path: &'a Path,
    writer: Option<Writer<BufWriter<File>>>,
    last_flush: Instant,
}

impl FileSink<'_> {
    fn writer(&mut self) -> anyhow::Result<&mut Writer<BufWriter<File>>> {
        self.writer.as_mut().context("the capture did not start")
    }
}

impl Sink for FileSink<'_> {
    fn start(&mut self, header: &Header) -> anyhow::Result<()> {
        let path = self.path;
        let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        self.writer = Some(
            Writer::new(BufWriter::new(f), header)
                .with_context(|| format!("writing {}", path.display()))?,
        );
        Ok(())
    }

    fn records(&mut self, batch: &[Record]) -> anyhow::Result<()> {
        let path = self.path;
        let w = self.writer()?;
        for r in batch {
            w.push(r)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        // A frame at least every second: a crash loses at most that.
        if self.last_flush.elapsed().as_secs() >= 1 {
            self.writer()?
                .flush()
                .with_context(|| format!("writing {}", path.display()))?;
            self.last_flush = Instant::now();
        }
        Ok(())
    }
}

pub fn run(args: &RecordArgs) -> anyhow::Result<i32> {
    let path = args.output.as_path();
    let mut sink = FileSink {
        path,
        writer: None,
        last_flush: Instant::now(),
    };
    let end = session::run(&args.capture.session(), &StopToken::new(), &mut sink)?;
    let mut w = sink.writer.context("the capture did not start")?;
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    let (records, bytes) = (w.records, w.bytes);
    let lost = end.kernel_stats.lost_events;
    w.finish(Footer {
        end_mono_ns: end.end_mono_ns,
        kernel_stats: end.kernel_stats,
        decode_errors: end.decode_errors,
        netns_names: crate::capture::netns::names(),
        ..Footer::default()
    })
    .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "rtnlprof: wrote {records} events to {} ({bytes} bytes, {:.1} bytes/event){}",
        path.display(),
        bytes as f64 / records.max(1) as f64,
        if lost > 0 {
            format!("; WARNING: {lost} events were lost (ring buffer full): raise --ring-bytes")
        } else {
            String::new()
        }
    );
    Ok(end.code)
}
