//! The one layout of the text and markdown reports, and how each spells its parts.

use super::{sections::Sections, Table};

/// How text and markdown spell the parts of the one layout both share.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Text,
    Markdown,
}

impl Style {
    fn title(self, out: &mut String, t: &str) {
        match self {
            Style::Text => *out += &format!("\n{t}\n"),
            Style::Markdown => *out += &format!("\n## {t}\n\n"),
        }
    }

    fn table(self, t: &Table) -> String {
        match self {
            Style::Text => t.text(),
            Style::Markdown => t.markdown(),
        }
    }
}

/// The one layout of the text and markdown reports.
pub(super) fn layout(s: &Sections, style: Style) -> String {
    let md = style == Style::Markdown;
    let mut out = String::new();
    if md {
        out += "# RTNL report\n\n";
        for l in &s.summary {
            out += &format!("{l}  \n");
        }
    } else {
        out += &(s.summary.join("\n") + "\n");
    }
    for w in &s.warnings {
        out += &if md {
            format!("\n> **Warning:** {w}\n")
        } else {
            format!("WARNING: {w}\n")
        };
    }
    style.title(&mut out, &s.main.0);
    out += &style.table(&s.main.1);
    if let Some((title, table)) = &s.extra {
        style.title(&mut out, title);
        out += &style.table(table);
    }
    if !s.histogram.is_empty() {
        style.title(
            &mut out,
            if s.tracepoint {
                "Wait times (contended waits)"
            } else {
                "Hold times (all holds)"
            },
        );
        if md {
            out += "```\n";
        }
        for l in &s.histogram {
            out += l.trim_end();
            out += "\n";
        }
        if md {
            out += "```\n";
        }
    }
    if !s.blame.rows.is_empty() {
        style.title(&mut out, "Who waited behind whom");
        out += &style.table(&s.blame);
    }
    if !s.candidates.is_empty() {
        style.title(&mut out, "Candidates for running without RTNL");
        for (i, c) in s.candidates.iter().enumerate() {
            out += &if md {
                format!("{}. **{}** (score {:.1})\n", i + 1, c.handler, c.score)
            } else {
                format!("{:>2}. {} (score {:.1})\n", i + 1, c.handler, c.score)
            };
            for r in &c.reasons {
                out += &if md {
                    format!("   - {r}\n")
                } else {
                    format!("      - {r}\n")
                };
            }
        }
    }
    if !s.utilization.is_empty() {
        out += &format!("\n{}\n", s.utilization);
    }
    for n in &s.notes {
        out += &if md {
            format!("\n*note: {n}*\n")
        } else {
            format!("note: {n}\n")
        };
    }
    out
}
