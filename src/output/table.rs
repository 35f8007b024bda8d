//! kubectl-style tables: ALL-CAPS headers, no borders, columns padded with
//! spaces, optional red for failed cells on a colour terminal.
//!
//! Every cell goes through [`text::cell`]: control characters escaped, and
//! elided past [`text::MAX_CELL_CHARS`].

use std::io::{self, Write};

use comfy_table::{presets, Cell, CellAlignment, Color, ContentArrangement};

use super::text;

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
    /// Columns never elided: commands the operator copies (still escaped).
    pub whole: Vec<usize>,
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

    /// Cells of these columns are shown whole, past
    /// [`text::MAX_CELL_CHARS`]: a command cut in the middle cannot be run.
    pub fn keep_whole(mut self, cols: &[usize]) -> Table {
        self.whole = cols.to_vec();
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
            writeln!(w, "{}", text::escape_lines(title))?;
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
            t.add_row(row.iter().enumerate().map(|(i, (content, mark))| {
                let cell = Cell::new(if self.whole.contains(&i) {
                    text::escape(content)
                } else {
                    text::cell(content)
                });
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
    fn commands_stay_whole_where_other_long_cells_are_elided() {
        let long = format!("etcdutl snapshot restore {}", "x".repeat(300));
        let mut t = Table::new(&["key", "command"]).keep_whole(&[1]);
        t.row([long.clone(), long.clone()]);
        let mut out = Vec::new();
        t.write(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert!(row.ends_with(&long), "{row}");
        assert!(row.starts_with("etcdutl snapshot restore xxx"), "{row}");
        assert!(row.contains('…'), "the first column is elided: {row}");
    }

    #[test]
    fn renders_like_kubectl_without_borders_or_trailing_space() {
        let mut t = Table::new(&["name", "db size"]);
        t.row(["etcd-0", "1.5 MiB"]);
        t.row(["etcd-1", "20 KiB"]);
        let mut out = Vec::new();
        t.write(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "NAME    DB SIZE");
        assert_eq!(lines[1], "etcd-0  1.5 MiB");
        assert!(lines.iter().all(|l| !l.ends_with(' ')));
    }
}

/// A table printed page by page, for listings too big to hold; memory holds
/// one page. Column widths are measured on the first page. A later page
/// with a wider cell widens its column from then on and prints the header
/// again, at the new widths, before its rows: every row is aligned with the
/// header right above it, and no line is pushed out of its columns.
pub struct StreamingTable {
    headers: Vec<String>,
    widths: Option<Vec<usize>>,
}

impl StreamingTable {
    pub fn new(headers: &[&str]) -> StreamingTable {
        StreamingTable {
            headers: headers.iter().map(|h| h.to_ascii_uppercase()).collect(),
            widths: None,
        }
    }

    pub fn write_page(&mut self, w: &mut dyn Write, rows: &[Vec<String>]) -> io::Result<()> {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|c| text::cell(c).into_owned()).collect())
            .collect();
        let last = self.headers.len().saturating_sub(1);
        let mut widths = self
            .widths
            .clone()
            .unwrap_or_else(|| self.headers.iter().map(|h| h.chars().count()).collect());
        for row in &rows {
            // The last column is not padded: its width never matters.
            for (i, cell) in row.iter().enumerate().take(last) {
                if let Some(wd) = widths.get_mut(i) {
                    *wd = (*wd).max(cell.chars().count());
                }
            }
        }
        if self.widths.as_ref() != Some(&widths) {
            let header = self.headers.clone();
            self.widths = Some(widths);
            self.write_line(w, &header)?;
        }
        for row in &rows {
            self.write_line(w, row)?;
        }
        Ok(())
    }

    fn write_line(&self, w: &mut dyn Write, cells: &[String]) -> io::Result<()> {
        let widths = self.widths.as_deref().unwrap_or_default();
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(w, "{}", line.trim_end())
    }
}

#[cfg(test)]
mod streaming_tests {
    use super::*;

    #[test]
    fn a_wider_page_widens_its_column_under_a_new_header() {
        let mut t = StreamingTable::new(&["name", "size", "key"]);
        let mut out = Vec::new();
        let row = |a: &str, b: &str, c: &str| vec![a.to_string(), b.to_string(), c.to_string()];
        t.write_page(&mut out, &[row("a", "1", "/a")]).unwrap();
        // Same widths: no new header.
        t.write_page(&mut out, &[row("b", "2", "/b-longer-key")])
            .unwrap();
        t.write_page(&mut out, &[row("cccccc", "3", "/c")]).unwrap();
        // Narrower again: the wider widths stay.
        t.write_page(&mut out, &[row("d", "4", "/d")]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "NAME  SIZE  KEY\n\
             a     1     /a\n\
             b     2     /b-longer-key\n\
             NAME    SIZE  KEY\n\
             cccccc  3     /c\n\
             d       4     /d\n"
        );
    }
}

/// A streamed listing: JSON lines with `-o json`, else a [`StreamingTable`]
/// printed page by page. Commands push one entry per key and flush at the
/// end of each page, so memory holds a page of rows at most.
pub struct Listing {
    table: StreamingTable,
    json: bool,
    rows: Vec<Vec<String>>,
    /// Entries pushed so far.
    pub shown: u64,
}

impl Listing {
    /// A listing for `format`; YAML and raw make no sense for a stream of
    /// rows, so `what` (the command) refuses them.
    pub fn new(
        format: crate::cli::OutputFormat,
        what: &str,
        headers: &[&str],
    ) -> crate::error::Result<Listing> {
        use crate::cli::OutputFormat;
        if matches!(format, OutputFormat::Yaml | OutputFormat::Raw) {
            return Err(crate::error::Error::usage(format!(
                "`{what}` prints a table or JSON lines"
            ))
            .with_hint("use -o table or -o json"));
        }
        Ok(Listing {
            table: StreamingTable::new(headers),
            json: format == OutputFormat::Json,
            rows: Vec::new(),
            shown: 0,
        })
    }

    /// One entry: written at once as a JSON line, or kept as a table row
    /// (built only for tables) until [`flush`](Self::flush).
    pub fn push<T: serde::Serialize>(
        &mut self,
        shell: &mut super::Shell,
        entry: &T,
        row: impl FnOnce() -> Vec<String>,
    ) -> crate::error::Result<()> {
        self.shown += 1;
        if self.json {
            shell.json_line(entry)
        } else {
            self.rows.push(row());
            Ok(())
        }
    }

    /// Print the rows kept since the last flush.
    pub fn flush(&mut self, shell: &mut super::Shell) -> crate::error::Result<()> {
        if !self.rows.is_empty() {
            self.table.write_page(shell.out(), &self.rows)?;
            self.rows.clear();
        }
        Ok(())
    }
}
