//! Whole objects as `get --all` streams them: each value decoded and
//! rendered (YAML or JSON) off the printing thread, then printed in key
//! order with its warnings and failures on stderr.

use etcd_client::KeyValue;

use crate::cli::OutputFormat;
use crate::error::{Error, Result};
use crate::keyspace::decode::Decoder;
use crate::keyspace::edit::set_resource_version;
use crate::output::Shell;

/// One value of `get --all`, decoded and rendered off the printing thread.
pub enum Rendered {
    Shown {
        key: Vec<u8>,
        warnings: Vec<String>,
        text: Vec<u8>,
    },
    Failed {
        key: Vec<u8>,
        error: Error,
    },
}

/// Decode and render one value as `get --all` prints it; `None` for a key
/// outside `-n`.
pub fn render(
    decoder: &Decoder,
    prefix: &str,
    namespace: Option<&str>,
    format: OutputFormat,
    kv: &KeyValue,
) -> Option<Rendered> {
    if !registry::key::in_namespace(kv.key(), prefix, namespace) {
        return None;
    }
    let key = kv.key().to_vec();
    let rendered = decoder.decode(kv.key(), kv.value()).and_then(|mut obj| {
        set_resource_version(&mut obj.value, kv.mod_revision());
        let mut text = Vec::new();
        if format == OutputFormat::Json {
            super::json_line(&mut text, &obj.value)?;
        } else {
            super::yaml(&mut text, &obj.value)?;
        }
        Ok((obj.warnings, text))
    });
    Some(match rendered {
        Ok((warnings, text)) => Rendered::Shown {
            key,
            warnings,
            text,
        },
        Err(error) => Rendered::Failed { key, error },
    })
}

/// Prints rendered values in the order given: YAML documents separated by
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

    pub fn print(&mut self, shell: &mut Shell, items: Vec<Rendered>) -> Result<()> {
        // One write per job rather than per object: stdout is line
        // buffered. Written out before anything goes to stderr, so a
        // terminal shows each message next to its object.
        let mut out = Vec::new();
        for item in items {
            match item {
                Rendered::Shown {
                    key,
                    warnings,
                    text,
                } => {
                    if !warnings.is_empty() {
                        shell.out().write_all(&std::mem::take(&mut out))?;
                    }
                    for w in &warnings {
                        shell.warn(format!("{}: {w}", String::from_utf8_lossy(&key)));
                    }
                    if self.format != OutputFormat::Json && !self.first {
                        out.extend_from_slice(b"---\n");
                    }
                    out.extend_from_slice(&text);
                    self.first = false;
                }
                Rendered::Failed { key, error } => {
                    shell.out().write_all(&std::mem::take(&mut out))?;
                    self.failed += 1;
                    shell.error(&error.context(format!("`{}`", String::from_utf8_lossy(&key))));
                }
            }
        }
        shell.out().write_all(&out)?;
        Ok(())
    }
}
