//! `rtnlprof diff BASE NEW`: compare two recordings (or `report --format json` outputs).
//! Exit status: 0 no regression, 1 regression, 2 bad input or usage.

use std::{io::Read, path::Path};

use crate::{
    cli::{DiffArgs, DiffFormat},
    diff::{self, Config, Side},
    trace::{TraceError, MAGIC},
    views,
};

use super::report::BadInput;

fn bad(path: &Path, cause: impl ToString) -> BadInput {
    BadInput {
        path: path.display().to_string(),
        cause: cause.to_string(),
    }
}

/// A recording or a report's JSON, told apart by the first bytes.
pub fn load_side(path: &Path) -> Result<Side, BadInput> {
    let mut head = [0u8; 8];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| bad(path, e))?;
    let name = path.display().to_string();
    if n == MAGIC.len() && &head == MAGIC || path.is_dir() {
        let (model, run) = super::report::load(path, false)?;
        return Ok(Side::from_model(&name, &model, &run));
    }
    if n == 0 {
        return Err(bad(path, TraceError::Empty));
    }
    let text = std::fs::read(path).map_err(|e| bad(path, e))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|_| bad(path, "neither an rtnlprof recording nor a report's JSON"))?;
    Side::from_report_json(&name, &v).map_err(|e| bad(path, e))
}

fn config(args: &DiffArgs) -> Result<Config, BadInput> {
    let mut cfg = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| bad(p, e))?;
            toml::from_str(&text)
                .map_err(|e| bad(p, e.to_string().lines().next().unwrap_or("").to_owned()))?
        }
        None => Config::default(),
    };
    if !args.fail_on.is_empty() {
        cfg.fail_on = args.fail_on.clone();
    }
    Ok(cfg)
}

pub fn run(args: &DiffArgs) -> anyhow::Result<i32> {
    let cfg = config(args)?;
    for r in &cfg.fail_on {
        diff::Rule::parse(r).map_err(|e| bad(Path::new("--fail-on"), e))?;
    }
    let base = load_side(&args.base)?;
    let new = load_side(&args.new)?;
    if base.capture_mode != new.capture_mode && args.force {
        eprintln!(
            "rtnlprof: warning: comparing a {:?} capture with a {:?} one (--force): only requests, contended waits and wait times compare",
            base.capture_mode.as_str(),
            new.capture_mode.as_str()
        );
    } else if base.capture_mode != new.capture_mode {
        return Err(bad(
            &args.new,
            format!(
                "captured in mode {:?}, {} in {:?}: the figures do not compare (--force compares them anyway)",
                new.capture_mode.as_str(),
                args.base.display(),
                base.capture_mode.as_str()
            ),
        )
        .into());
    }
    let d = diff::diff(&base, &new, &cfg).map_err(|e| bad(Path::new("--fail-on"), e))?;
    for w in &d.warnings {
        eprintln!("rtnlprof: warning: {w}");
    }
    let out = match args.format {
        DiffFormat::Text => views::diff::text(&d),
        DiffFormat::Markdown => views::diff::markdown(&d),
        DiffFormat::Json => views::diff::json(&d),
        DiffFormat::Junit => views::diff::junit(&d),
    };
    super::print_out(out.trim_end())?;
    Ok(if d.regressions > 0 { 1 } else { 0 })
}
