//! Everything the user sees: one [`Shell`] for stdout and stderr, and
//! table/json/yaml rendering of the data commands gather.
//!
//! Renderers take data and a writer; they never talk to etcd. Results go to
//! stdout; progress, warnings and errors go to stderr.

pub mod count;
pub mod diff;
pub mod doctor;
pub mod health;
pub mod history;
pub mod maintenance;
pub mod members;
pub mod objects;
pub mod progress;
pub mod recover;
pub mod resize;
pub mod restore;
pub mod search;
pub mod size;
pub mod snapshot;
pub mod status;
pub mod table;
pub mod text;
pub mod watch;

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

pub use table::Table;
pub use text::escape;

use crate::cli::OutputFormat;
use crate::error::{Error, Kind, Result};

/// The one place output goes through.
pub struct Shell {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    pub stderr_tty: bool,
    pub color: bool,
    pub verbose: bool,
}

impl Shell {
    /// stdout and stderr of the process, with colour only on a terminal and
    /// never when `NO_COLOR` is set.
    pub fn stdio(verbose: bool) -> Shell {
        let stderr_tty = io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Shell {
            out: Box::new(io::stdout()),
            err: Box::new(io::stderr()),
            stderr_tty,
            color: io::stdout().is_terminal() && !no_color,
            verbose,
        }
    }

    /// A shell writing into the given writers (tests, embedding).
    pub fn from_writers(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) -> Shell {
        Shell {
            out,
            err,
            stderr_tty: false,
            color: false,
            verbose: false,
        }
    }

    pub fn out(&mut self) -> &mut dyn Write {
        &mut self.out
    }

    pub fn err(&mut self) -> &mut dyn Write {
        &mut self.err
    }

    /// A `warning:` line on stderr; one line whatever it carries
    /// (control characters escaped).
    pub fn warn(&mut self, message: impl std::fmt::Display) {
        let _ = writeln!(self.err, "warning: {}", escape(&message.to_string()));
    }

    /// An informational line on stderr (never mixed into results); its own
    /// line breaks are kept, other control characters escaped.
    pub fn note(&mut self, message: impl std::fmt::Display) {
        let _ = writeln!(self.err, "{}", text::escape_lines(&message.to_string()));
    }

    /// Detail shown only with `--verbose`.
    pub fn verbose(&mut self, message: impl std::fmt::Display) {
        if self.verbose {
            let _ = writeln!(self.err, "{}", text::escape_lines(&message.to_string()));
        }
    }

    /// Print an error as `error: ...` and its `help:` line, each one line
    /// whatever stored bytes they carry.
    pub fn error(&mut self, err: &Error) {
        let _ = writeln!(self.err, "error: {}", escape(&err.message));
        if let Some(hint) = &err.hint {
            let _ = writeln!(self.err, "help: {}", escape(hint));
        }
    }

    /// Print `data` in the chosen format; `table` builds the table form from
    /// the same data, so every format shows the same facts.
    pub fn emit<T: Serialize>(
        &mut self,
        format: OutputFormat,
        data: &T,
        table: impl FnOnce(&T) -> Vec<Table>,
    ) -> Result<()> {
        match format {
            OutputFormat::Table | OutputFormat::Wide => {
                let color = self.color;
                let tables = table(data);
                let many = tables.len() > 1;
                for (i, t) in tables.into_iter().enumerate() {
                    if many && i > 0 {
                        writeln!(self.out)?;
                    }
                    t.write(&mut self.out, color)?;
                }
                Ok(())
            }
            OutputFormat::Json => self.json(data),
            OutputFormat::Yaml => self.yaml(data),
            OutputFormat::Raw => {
                Err(Error::usage("`-o raw` is only for `get`")
                    .with_hint("use -o table, json or yaml"))
            }
        }
    }

    pub fn json<T: Serialize + ?Sized>(&mut self, data: &T) -> Result<()> {
        serde_json::to_writer_pretty(&mut self.out, data).map_err(|e| Error::writing("json", e))?;
        writeln!(self.out)?;
        Ok(())
    }

    /// One compact JSON document per line (`ls`, `watch`, `get --all`).
    pub fn json_line<T: Serialize + ?Sized>(&mut self, data: &T) -> Result<()> {
        json_line(&mut self.out, data)
    }

    pub fn yaml<T: Serialize>(&mut self, data: &T) -> Result<()> {
        yaml(&mut self.out, data)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.err.flush()
    }
}

/// Human units for tables (`1.5 MiB`); JSON always carries bytes.
pub fn human_bytes(n: u64) -> String {
    bytesize::ByteSize(n).display().iec().to_string()
}

/// A percentage with one decimal, as tables show it.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        ((part as f64) * 1000.0 / (whole as f64)).round() / 10.0
    }
}

/// A share as a ten-cell bar and its percentage: `████████░░  41.2%`
/// (padded so that bars line up in a left-aligned column).
pub fn share_bar(percent: f64) -> String {
    let filled = ((percent / 10.0).round() as usize).min(10);
    format!(
        "{}{} {percent:>5.1}%",
        "█".repeat(filled),
        "░".repeat(10 - filled)
    )
}

/// A duration as a short human string (`1.2ms`, `3.4s`).
pub fn human_duration(d: std::time::Duration) -> String {
    let us = d.as_micros();
    if us < 1000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// One compact JSON document and a newline, into any writer: what
/// [`Shell::json_line`] prints, for work that renders off the shell (the
/// parallel decoder).
pub fn json_line<T: Serialize + ?Sized>(out: &mut dyn Write, data: &T) -> Result<()> {
    serde_json::to_writer(&mut *out, data).map_err(|e| Error::writing("json", e))?;
    writeln!(out)?;
    Ok(())
}

/// One YAML document ending in a newline, into any writer: what
/// [`Shell::yaml`] prints.
pub fn yaml<T: Serialize>(out: &mut dyn Write, data: &T) -> Result<()> {
    let text = serde_saphyr::to_string(data)
        .map_err(|e| Error::new(Kind::Io, format!("writing yaml: {e}")))?;
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_iec_and_percentages_have_one_decimal() {
        assert_eq!(human_bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(5, 0), 0.0);
        assert_eq!(
            human_duration(std::time::Duration::from_micros(1500)),
            "1.5ms"
        );
    }

    #[test]
    fn share_bars_have_ten_cells() {
        assert_eq!(share_bar(41.2), "████░░░░░░  41.2%");
        assert_eq!(share_bar(100.0), "██████████ 100.0%");
        assert_eq!(share_bar(0.0), "░░░░░░░░░░   0.0%");
    }

    #[test]
    fn raw_output_is_refused_for_tables() {
        let mut shell = Shell::from_writers(Box::new(Vec::new()), Box::new(Vec::new()));
        let err = shell.emit(OutputFormat::Raw, &1, |_| vec![]).unwrap_err();
        assert_eq!(err.kind, Kind::Usage);
    }
}
