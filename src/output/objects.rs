//! Whole objects as `get --all` streams them: each job of values decoded
//! and rendered off the printing thread (JSON written straight from the
//! decoder's text), then printed in key order with its warnings and
//! failures on stderr at their positions.

use etcd_client::KeyValue;

use crate::cli::OutputFormat;
use crate::error::{Error, Result};
use crate::keyspace::decode::Decoder;
use crate::output::Shell;

/// A job of `get --all`, decoded and rendered off the printing thread: the
/// objects' text in order, and what to say on stderr between them.
#[derive(Default)]
pub struct Rendered {
    text: Vec<u8>,
    /// Objects in `text`.
    shown: usize,
    notes: Vec<Note>,
}

/// Warnings about an object, or why it could not be shown: said before the
/// text from `at` on.
struct Note {
    at: usize,
    key: Vec<u8>,
    what: NoteKind,
}

enum NoteKind {
    Warnings(Vec<String>),
    Failed(Error),
}

impl Rendered {
    /// Decode and render one value as `get --all` prints it: JSON written
    /// straight from the decoder's text; YAML through the object, each
    /// document after the first of the job preceded by `---`.
    pub fn push(&mut self, decoder: &Decoder, format: OutputFormat, kv: &KeyValue) {
        let at = self.text.len();
        let outcome = if format == OutputFormat::Json {
            decoder
                .write_json_line(kv.key(), kv.value(), kv.mod_revision(), &mut self.text)
                .map_err(Error::from)
        } else {
            decoder
                .decode_at(kv.key(), kv.value(), Some(kv.mod_revision()))
                .map_err(Error::from)
                .and_then(|obj| {
                    if self.shown > 0 {
                        self.text.extend_from_slice(b"---\n");
                    }
                    super::yaml(&mut self.text, &obj.value)?;
                    Ok(obj.warnings)
                })
        };
        let what = match outcome {
            Ok(warnings) => {
                self.shown += 1;
                if warnings.is_empty() {
                    return;
                }
                NoteKind::Warnings(warnings)
            }
            Err(error) => {
                self.text.truncate(at);
                NoteKind::Failed(error)
            }
        };
        self.notes.push(Note {
            at,
            key: kv.key().to_vec(),
            what,
        });
    }
}

/// Prints rendered jobs in the order given: YAML documents separated by
/// `---`, JSON one per line; failures on stderr, counted.
pub struct Printer {
    format: OutputFormat,
    first: bool,
    /// Values that failed to decode, so far.
    pub failed: u64,
}

impl Printer {
    pub fn new(format: OutputFormat) -> Printer {
        Printer {
            format,
            first: true,
            failed: 0,
        }
    }

    pub fn print(&mut self, shell: &mut Shell, job: Rendered) -> Result<()> {
        // A few writes per job rather than per object: stdout is line
        // buffered. Text is written out before anything goes to stderr, so
        // a terminal shows each message next to its object.
        let mut separate = self.format != OutputFormat::Json && !self.first;
        let mut write = |shell: &mut Shell, bytes: &[u8]| -> Result<()> {
            if bytes.is_empty() {
                return Ok(());
            }
            if std::mem::take(&mut separate) {
                shell.out().write_all(b"---\n")?;
            }
            shell.out().write_all(bytes)?;
            Ok(())
        };
        let mut from = 0;
        for note in job.notes {
            write(shell, &job.text[from..note.at])?;
            from = note.at;
            let key = String::from_utf8_lossy(&note.key);
            match note.what {
                NoteKind::Warnings(warnings) => {
                    for w in &warnings {
                        shell.warn(format!("{key}: {w}"));
                    }
                }
                NoteKind::Failed(error) => {
                    self.failed += 1;
                    shell.error(&error.context(format!("`{key}`")));
                }
            }
        }
        write(shell, &job.text[from..])?;
        if job.shown > 0 {
            self.first = false;
        }
        Ok(())
    }
}
