//! `rtnlprof export FILE --format chrome-json|firefox -o OUT`: a recording as a timeline for
//! trace viewers (Perfetto / chrome://tracing, the Firefox profiler).

use std::{
    fs::File,
    io::{BufReader, BufWriter, Write},
};

use crate::{
    cli::{ExportArgs, ExportFormat},
    trace::reader::Reader,
    views::timeline::{chrome::ChromeWriter, firefox::FirefoxBuilder, parse_type, Filter},
};

use super::report::BadInput;

fn bad(path: &std::path::Path, cause: impl ToString) -> BadInput {
    BadInput {
        path: path.display().to_string(),
        cause: cause.to_string(),
    }
}

pub fn run(args: &ExportArgs) -> anyhow::Result<i32> {
    let path = &args.file;
    if path.is_dir() {
        return Err(bad(path, "is a directory").into());
    }
    let f = File::open(path).map_err(|e| bad(path, e))?;
    let mut reader = Reader::new(BufReader::with_capacity(1 << 20, f)).map_err(|e| bad(path, e))?;
    let start = reader.header.start_mono_ns;
    let at = |s: Option<f64>| s.map(|s| start + (s.max(0.0) * 1e9) as u64);
    let filter = Filter {
        from_ns: at(args.from),
        to_ns: at(args.to),
        msg_type: match &args.r#type {
            Some(t) => Some(parse_type(t).map_err(|e| bad(std::path::Path::new("--type"), e))?),
            None => None,
        },
    };
    let out: Box<dyn Write> = if args.output.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(
            File::create(&args.output)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", args.output.display()))?,
        )
    };
    let out = BufWriter::with_capacity(1 << 20, out);
    let header = reader.header.clone();
    let mut batch = Vec::new();
    let mut read = |each: &mut dyn FnMut(&crate::events::Record) -> anyhow::Result<()>| {
        loop {
            batch.clear();
            let more = reader.next_frame(&mut batch).map_err(|e| bad(path, e))?;
            for r in &batch {
                each(r)?;
            }
            if !more {
                break;
            }
        }
        anyhow::Ok(())
    };
    let summary = match args.format {
        ExportFormat::ChromeJson => {
            let mut w = ChromeWriter::new(out, &header, filter)?;
            read(&mut |r| Ok(w.record(r)?))?;
            if let Some(f) = &reader.footer {
                w.add_netns_names(&f.netns_names);
            }
            let (_, s) = w.finish()?;
            if s.late_for_counters > 0 {
                eprintln!(
                    "rtnlprof: warning: {} holds waited from more than {} s before the newest record; the counter tracks around them are approximate",
                    s.late_for_counters,
                    crate::views::timeline::chrome::LATENESS_NS / 1_000_000_000
                );
            }
            format!(
                "{} holds, {} waits, {} requests, {} flow arrows{}",
                s.holds,
                s.waits,
                s.requests,
                s.flows,
                if s.async_slices > 0 {
                    format!(
                        ", {} slices on async tracks (they did not nest)",
                        s.async_slices
                    )
                } else {
                    String::new()
                }
            )
        }
        ExportFormat::Firefox => {
            let mut b = FirefoxBuilder::new(&header, filter);
            read(&mut |r| {
                b.record(r);
                Ok(())
            })?;
            let (holds, weight_us) = b.finish(out)?;
            format!(
                "{holds} holds, {} of hold time as weighted stacks",
                crate::model::candidates::human_ns(weight_us * 1000)
            )
        }
    };
    if let Some(t) = &reader.truncated {
        eprintln!("rtnlprof: warning: {}: {t}", path.display());
    }
    if args.output.as_os_str() != "-" {
        eprintln!("rtnlprof: wrote {}: {summary}", args.output.display());
    }
    Ok(0)
}
