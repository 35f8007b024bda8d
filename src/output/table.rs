//! kubectl-style tables: ALL-CAPS headers, no borders, columns padded with
//! spaces, optional red for failed cells on a colour terminal.

use std::io::{self, Write};

use comfy_table::{presets, Cell, CellAlignment, Color, ContentArrangement};

/// How a cell should stand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Plain,
    Bad,
    Warn,
    Good,
}

/// A table built from rows of strings.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub title: Option<String>,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<(String, Mark)>>,
    /// Columns aligned right (numbers).
    pub right: Vec<usize>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_ascii_uppercase()).collect(),
            ..Table::default()
        }
    }

    pub fn title(mut self, title: impl Into<String>) -> Table {
        self.title = Some(title.into());
        self
    }

    pub fn right_align(mut self, cols: &[usize]) -> Table {
        self.right = cols.to_vec();
        self
    }

    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows
            .push(cells.into_iter().map(|c| (c.into(), Mark::Plain)).collect());
    }

    pub fn marked_row(&mut self, cells: Vec<(String, Mark)>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn write(&self, w: &mut dyn Write, color: bool) -> io::Result<()> {
        if let Some(title) = &self.title {
            writeln!(w, "{title}")?;
        }
        let mut t = comfy_table::Table::new();
        t.load_preset(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled);
        if !color {
            t.force_no_tty();
        } else {
            t.enforce_styling();
        }
        t.set_header(self.headers.iter().map(Cell::new));
        for row in &self.rows {
            t.add_row(row.iter().map(|(text, mark)| {
                let cell = Cell::new(text);
                match (color, mark) {
                    (true, Mark::Bad) => cell.fg(Color::Red),
                    (true, Mark::Warn) => cell.fg(Color::Yellow),
                    (true, Mark::Good) => cell.fg(Color::Green),
                    _ => cell,
                }
            }));
        }
        for &i in &self.right {
            if let Some(col) = t.column_mut(i) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
        // comfy-table pads every line to full width and indents by one
        // space; kubectl does neither.
        for line in t.to_string().lines() {
            let line = line.strip_prefix(' ').unwrap_or(line);
            writeln!(w, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_kubectl_without_borders_or_trailing_space() {
        let mut t = Table::new(&["name", "db size"]);
        t.row(["etcd-0", "1.5 MiB"]);
        t.row(["etcd-1", "20 KiB"]);
        let mut out = Vec::new();
        t.write(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "NAME     DB SIZE");
        assert_eq!(lines[1], "etcd-0   1.5 MiB");
        assert!(lines.iter().all(|l| !l.ends_with(' ')));
    }
}
