//! `rtnlprof report FILE`: the model of a recording, rendered.

use std::{
    fs::File,
    io::{BufReader, IsTerminal},
    path::Path,
};

use crate::{
    cli::{Format, OutputArgs, ReportArgs},
    model::Model,
    trace::{reader::Reader, TraceError},
    views::report::{self, RunInfo},
};

pub use crate::error::BadInput;

fn bad(path: &Path, cause: impl ToString) -> BadInput {
    BadInput {
        path: path.display().to_string(),
        cause: cause.to_string(),
    }
}

/// Reads a recording into a model. A file cut short reads up to its last whole frame, with a
/// warning in the returned RunInfo.
pub fn load(path: &Path, progress: bool) -> Result<(Model, RunInfo), BadInput> {
    load_window(path, progress, None)
}

/// The end of a recording: its footer's end time, or its last record's.
fn end_of(path: &Path) -> Result<u64, BadInput> {
    let f = File::open(path).map_err(|e| bad(path, e))?;
    let mut reader = Reader::new(BufReader::with_capacity(1 << 20, f)).map_err(|e| bad(path, e))?;
    let mut last = reader.header.start_mono_ns;
    let mut batch = Vec::new();
    loop {
        batch.clear();
        let more = reader.next_frame(&mut batch).map_err(|e| bad(path, e))?;
        last = batch.iter().map(|r| r.end_ns()).fold(last, u64::max);
        if !more {
            break;
        }
    }
    Ok(reader.footer.map_or(last, |f| f.end_mono_ns.max(last)))
}

/// Like [`load`], keeping only the records completed in the last `last_ns` of the recording
/// (None: all of it).
pub fn load_window(
    path: &Path,
    progress: bool,
    last_ns: Option<u64>,
) -> Result<(Model, RunInfo), BadInput> {
    let from_ns = match last_ns {
        Some(n) => end_of(path)?.saturating_sub(n),
        None => 0,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(path, e))?;
    if meta.is_dir() {
        return Err(bad(path, "is a directory"));
    }
    let f = File::open(path).map_err(|e| bad(path, e))?;
    let mut reader = Reader::new(BufReader::with_capacity(1 << 20, f)).map_err(|e| bad(path, e))?;
    let mut model = Model::with_origin(reader.header.start_mono_ns.max(from_ns));
    let bar = (progress && meta.len() > 8 << 20 && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(meta.len());
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut batch = Vec::new();
    let mut last_ns = reader.header.start_mono_ns;
    loop {
        batch.clear();
        let more = reader
            .next_frame(&mut batch)
            .map_err(|e: TraceError| bad(path, e))?;
        for r in batch.iter().filter(|r| r.end_ns() >= from_ns) {
            model.add(r);
        }
        if let Some(l) = model.last_ns {
            last_ns = last_ns.max(l);
        }
        if let Some(b) = &bar {
            b.set_position(reader.offset());
        }
        if !more {
            break;
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (end_ns, kstats, decode_errors) = match &reader.footer {
        Some(f) => (f.end_mono_ns, f.kernel_stats, f.decode_errors),
        None => (last_ns, Default::default(), 0),
    };
    let mut run = reader.header.run_info(end_ns, kstats, decode_errors);
    if let Some(f) = &reader.footer {
        run.netns_names.extend(f.netns_names.clone());
    }
    if from_ns > reader.header.start_mono_ns {
        run.wall_ns = end_ns.saturating_sub(from_ns);
        run.warnings.push(format!(
            "window: the last {} of the recording; in-kernel counters cover all of it",
            crate::model::candidates::human_ns(run.wall_ns)
        ));
    }
    if let Some(t) = &reader.truncated {
        let w = format!("{}: {t}", path.display());
        eprintln!("rtnlprof: warning: {w}");
        run.warnings.push(w);
    }
    Ok((model, run))
}

/// The report in the asked format (`stat` prints the same).
pub fn render(model: &Model, run: &RunInfo, out: &OutputArgs) -> String {
    let opts = report::Options {
        top: out.top,
        by: out.by.into(),
    };
    match out.format {
        Format::Text => report::text(model, run, &opts),
        Format::Markdown => report::markdown(model, run, &opts),
        Format::Json => report::json(model, run),
    }
}

pub fn run(args: &ReportArgs) -> anyhow::Result<i32> {
    let last_ns = args.last.map(|s| (s * 1e9) as u64);
    let (model, run) = load_window(&args.file, true, last_ns)?;
    super::print_out(&render(&model, &run, &args.output))?;
    Ok(0)
}
