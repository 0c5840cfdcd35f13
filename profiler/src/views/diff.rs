//! Renders of a diff: text, markdown (for a CI comment), JSON, JUnit XML (for CI test reports).

use serde::Serialize;

use crate::diff::{change_text, Check, Diff, Row};
use crate::model::candidates::human_ns;
use crate::views::report::Table;

fn t(p: (u64, u64)) -> String {
    format!("{} → {}", human_ns(p.0), human_ns(p.1))
}

fn n(p: (u64, u64)) -> String {
    format!("{} → {}", p.0, p.1)
}

fn row_cells(r: &Row) -> Vec<String> {
    let name = match r.presence {
        "appeared" => format!("{} (new)", r.handler),
        "vanished" => format!("{} (gone)", r.handler),
        _ => r.handler.clone(),
    };
    vec![
        name,
        n(r.requests),
        n(r.holds),
        t(r.hold_p50),
        t(r.hold_p99),
        t(r.hold_total),
        t(r.wait_p99),
        t(r.wait_total),
        t(r.gp_total),
        t(r.made_wait),
        if r.regressions > 0 {
            format!("{} REGRESSED", r.regressions)
        } else {
            String::new()
        },
    ]
}

const HEAD: [&str; 11] = [
    "HANDLER",
    "REQS",
    "HOLDS",
    "HOLD p50",
    "HOLD p99",
    "HELD",
    "WAIT>0 p99",
    "WAITED",
    "IN GP",
    "MADE WAIT",
    "",
];

fn check_line(c: &Check) -> String {
    let v = |x: f64| {
        if c.metric == "utilization" {
            format!("{:.1}%", x * 100.0)
        } else if c.metric == "holds" || c.metric == "requests" {
            format!("{x}")
        } else {
            human_ns(x as u64)
        }
    };
    format!(
        "{} {}: {} → {} ({}) [{}]{}",
        c.handler,
        c.metric,
        v(c.base),
        v(c.new),
        change_text(c),
        c.rule,
        c.note
            .as_ref()
            .map(|n| format!(" — not counted: {n}"))
            .unwrap_or_default()
    )
}

/// The regressions, then the changes over a threshold that stayed within noise (non-empty lists).
fn check_lists(d: &Diff) -> Vec<(&'static str, Vec<&Check>)> {
    let failed: Vec<&Check> = d.checks.iter().filter(|c| c.regression).collect();
    let noise: Vec<&Check> = d
        .checks
        .iter()
        .filter(|c| c.exceeds && !c.regression)
        .collect();
    [
        ("Regressions", failed),
        ("Over a threshold but within noise", noise),
    ]
    .into_iter()
    .filter(|(_, l)| !l.is_empty())
    .collect()
}

pub fn text(d: &Diff) -> String {
    let table = Table {
        head: HEAD.to_vec(),
        rows: d.rows.iter().map(row_cells).collect(),
    };
    let mut out = format!("rtnlprof diff: {} → {}\n", d.base, d.new);
    for w in &d.warnings {
        out += &format!("WARNING: {w}\n");
    }
    out += &format!(
        "RTNL utilization {:.1}% → {:.1}%\n\n",
        d.utilization.0 * 100.0,
        d.utilization.1 * 100.0
    );
    out += &table.text();
    for (title, checks) in check_lists(d) {
        out += &format!("\n{title}\n");
        for c in checks {
            out += &format!("  {}\n", check_line(c));
        }
    }
    out += &format!("\n{}\n", d.verdict());
    out
}

pub fn markdown(d: &Diff) -> String {
    let mut out = format!(
        "## rtnlprof diff: `{}` → `{}`\n\n**{}**\n\n",
        d.base,
        d.new,
        d.verdict()
    );
    for w in &d.warnings {
        out += &format!("> **Warning:** {w}\n\n");
    }
    out += &format!(
        "RTNL utilization {:.1}% → {:.1}%\n\n| {} |\n|{}|\n",
        d.utilization.0 * 100.0,
        d.utilization.1 * 100.0,
        HEAD[..10].join(" | "),
        [" :--- "]
            .into_iter()
            .chain([" ---: "; 9])
            .collect::<Vec<_>>()
            .join("|")
    );
    for r in &d.rows {
        let mut c = row_cells(r);
        if r.regressions > 0 {
            c[0] = format!("**{}**", c[0]);
        }
        c.truncate(10);
        out += &format!("| {} |\n", c.join(" | "));
    }
    for (title, checks) in check_lists(d) {
        out += &format!("\n### {title}\n\n");
        for c in checks {
            out += &format!("- {}\n", check_line(c));
        }
    }
    out
}

#[derive(Serialize)]
struct Doc<'a> {
    format: &'static str,
    version: u32,
    verdict: String,
    #[serde(flatten)]
    diff: &'a Diff,
}

/// `{"format":"rtnlprof-diff","version":1,"verdict":..,"base":..,"new":..,"rules":[..],
/// "rows":[{handler,presence,requests:[base,new],holds,hold_p50,...,regressions}],
/// "utilization":[base,new],"checks":[{handler,rule,metric,base,new,change,relative,exceeds,
/// significant,regression,note}],"warnings":[..],"regressions":N}`
pub fn json(d: &Diff) -> String {
    serde_json::to_string_pretty(&Doc {
        format: "rtnlprof-diff",
        version: 1,
        verdict: d.verdict(),
        diff: d,
    })
    .expect("serializable")
}

fn xml(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&apos;".into(),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => " ".into(),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML: one test case per rule checked on a handler; regressions are failures.
pub fn junit(d: &Diff) -> String {
    let failures = d.checks.iter().filter(|c| c.regression).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out += &format!(
        "<testsuites name=\"rtnlprof diff\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">\n",
        d.checks.len()
    );
    out += &format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"0\">\n",
        xml(&format!("rtnlprof diff {} -> {}", d.base, d.new)),
        d.checks.len()
    );
    for c in &d.checks {
        out += &format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            xml(&format!("rtnl.{}", c.handler)),
            xml(&c.rule)
        );
        if c.regression {
            out += &format!(
                ">\n      <failure message=\"{}\" type=\"regression\">{}</failure>\n    </testcase>\n",
                xml(&format!("{} {}", c.metric, change_text(c))),
                xml(&check_line(c))
            );
        } else {
            out += " />\n";
        }
    }
    if !d.warnings.is_empty() {
        out += &format!(
            "    <system-err>{}</system-err>\n",
            xml(&d.warnings.join("\n"))
        );
    }
    out += "  </testsuite>\n</testsuites>\n";
    out
}
