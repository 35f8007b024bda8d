//! `snapshot inspect --get|--ls|--history`: the keyspace of a file no etcd
//! serves any more (a snapshot or a stopped member's `db`), as objects.
//!
//! Reads go through [`crate::dbfile::report`] by page access; rows go out
//! through the renderers in [`crate::output`] as they are found, so memory
//! holds a page of rows (or one object's versions) at most.

use std::path::Path;

use crate::cli::OutputFormat;
use crate::dbfile::report::{self, ListError};
use crate::dbfile::{self, Readout};
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::history::{self, Flow, HistoryFlags};
use crate::keyspace::resolve::offline_range;
use crate::ops::{Error, Result};

use crate::output::history::HistoryPrinter;
use crate::output::snapshot::{list_row, LIST_COLUMNS};
use crate::output::table::Listing;
use crate::output::Shell;

/// The file read, at which revision, under which `--prefix` and `-n`.
pub struct Offline<'a> {
    pub file: &'a Path,
    /// The keyspace as of this revision (default: the newest).
    pub revision: Option<i64>,
    pub prefix: &'a str,
    pub namespace: Option<&'a str>,
}

impl Offline<'_> {
    /// A database error, named by the file.
    fn ctx(&self, e: dbfile::DbError) -> Error {
        Error::from(e).context(format!("`{}`", self.file.display()))
    }

    /// A key, or the key of `TYPE/NAME` / `TYPE/NAMESPACE/NAME`.
    fn object_key(&self, reference: &str) -> Result<String> {
        if reference.starts_with('/') {
            return Ok(reference.to_string());
        }
        Ok(offline_range(reference, self.namespace, self.prefix, true)?.0)
    }
}

/// Damage a lenient read skipped: each named on stderr, then exit 1 when
/// the rest could be read, 5 when nothing could.
pub fn damage_outcome(file: &Path, readout: &Readout, shell: &mut Shell) -> Result<()> {
    let d = &readout.damage;
    if d.is_empty() {
        return Ok(());
    }
    for e in &d.first {
        shell.warn(format!("`{}`: {e}", file.display()));
    }
    Err(Error::Damaged {
        file: file.to_path_buf(),
        count: d.count,
        readable: readout.entries != 0,
    })
}

/// `inspect --get REF`: one object, decoded (or its stored bytes with
/// `-o raw`); `format` defaults to YAML.
pub fn get(
    at: &Offline,
    reference: &str,
    decode: &DecodeFlags,
    format: OutputFormat,
    shell: &mut Shell,
) -> Result<()> {
    let key = at.object_key(reference)?;
    let found = report::get(at.file, key.as_bytes(), at.revision).map_err(|e| at.ctx(e))?;
    let Some((revision, value)) = &found.value else {
        damage_outcome(at.file, &found.readout, shell)?;
        return Err(Error::NotInSnapshot {
            key,
            revision: at.revision.unwrap_or(found.header.revision),
        });
    };
    if format == OutputFormat::Raw {
        shell.out().write_all(value).map_err(Error::output)?;
    } else {
        let obj = Decoder::new(decode, at.prefix)?.decode_at(
            key.as_bytes(),
            value,
            Some(revision.main),
        )?;
        for w in &obj.warnings {
            shell.warn(w);
        }
        match format {
            OutputFormat::Json => shell.json(&obj.value).map_err(Error::output)?,
            _ => shell.yaml(&obj.value).map_err(Error::output)?,
        }
    }
    damage_outcome(at.file, &found.readout, shell)
}

/// `inspect --ls [TYPE|PREFIX]`: the keys as objects, streamed page by
/// page; `format` defaults to a table.
pub fn list(at: &Offline, ls: &str, format: OutputFormat, shell: &mut Shell) -> Result<()> {
    let start = match ls {
        "" => String::new(),
        f if f.starts_with('/') => f.to_string(),
        f => offline_range(f, at.namespace, at.prefix, false)?.0,
    };
    let mut listing =
        Listing::new(format, "snapshot inspect --ls", LIST_COLUMNS).map_err(Error::output)?;
    let (_, readout) = report::list(at.file, at.revision, start.as_bytes(), |key, latest| {
        let info = registry::key::parse(key, at.prefix);
        if !info.in_namespace(at.namespace) {
            return Ok(());
        }
        let (entry, cells) = list_row(key, &info, latest);
        listing
            .push(shell, &entry, || cells)
            .map_err(Error::output)?;
        if listing.shown % 1000 == 0 {
            listing.flush(shell).map_err(Error::output)?;
        }
        Ok::<_, Error>(())
    })
    .map_err(|e| match e {
        ListError::Db(e) => at.ctx(e),
        ListError::Visit(e) => e,
    })?;
    listing.flush(shell).map_err(Error::output)?;
    damage_outcome(at.file, &readout, shell)?;
    if listing.shown == 0 {
        return Err(Error::NoMatch);
    }
    Ok(())
}

/// `inspect --history REF`: the object's retained versions in the file,
/// shown as `history` shows them live; `format` defaults to a table.
pub fn history(
    at: &Offline,
    reference: &str,
    flags: &HistoryFlags,
    decode: &DecodeFlags,
    format: OutputFormat,
    shell: &mut Shell,
) -> Result<()> {
    let key = at.object_key(reference)?;
    let mut printer = HistoryPrinter::new(format, "snapshot inspect --history", flags.objects)
        .map_err(Error::output)?;
    let decoder = Decoder::new(decode, at.prefix)?;
    let opts = flags.options();
    // The versions shown and the one the oldest of them is diffed against.
    let keep = opts.limit.map(|l| l + 1);
    let floor = opts.since_revision.unwrap_or(1);
    let mut found =
        report::versions(at.file, key.as_bytes(), keep, floor).map_err(|e| at.ctx(e))?;
    let summary = history::replay(
        &key,
        found.read.versions.make_contiguous(),
        found.header.revision,
        found.header.compacted_revision,
        &decoder,
        &opts,
        |v| {
            printer.push(shell, &v)?;
            Ok(Flow::Continue)
        },
    );
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            damage_outcome(at.file, &found.readout, shell)?;
            return Err(e.into());
        }
    };
    printer
        .finish(shell, &summary, &key, flags.since_revision)
        .map_err(Error::output)?;
    damage_outcome(at.file, &found.readout, shell)
}
