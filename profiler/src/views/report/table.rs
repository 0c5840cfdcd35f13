//! A table both report formats print.

/// A table both text and markdown can print (the first column left-aligned, the others right).
pub(crate) struct Table {
    pub head: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn text(&self) -> String {
        let widths: Vec<usize> = (0..self.head.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.head[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| -> String {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i] - c.chars().count();
                if i == 0 {
                    s += c;
                    s += &" ".repeat(pad);
                } else {
                    s += "  ";
                    s += &" ".repeat(pad);
                    s += c;
                }
            }
            s.trim_end().to_owned() + "\n"
        };
        let mut out = line(self.head.clone());
        for r in &self.rows {
            out += &line(r.iter().map(String::as_str).collect());
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.head.join(" | "));
        out += &format!(
            "|{}|\n",
            self.head
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { " :--- " } else { " ---: " })
                .collect::<Vec<_>>()
                .join("|")
        );
        for r in &self.rows {
            out += &format!("| {} |\n", r.join(" | "));
        }
        out
    }
}
