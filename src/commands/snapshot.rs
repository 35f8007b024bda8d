//! `snapshot save|status|inspect`: take a verified snapshot from a member
//! ([`crate::ops::snapshot_save`]), or read a snapshot (or a member's
//! `member/snap/db`) offline ([`crate::dbfile`]).

use std::path::{Path, PathBuf};

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::dbfile::report::{self, ListError};
use crate::dbfile::{self, Readout};
use crate::error::{Error, Kind, Result};
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::history::{self, Flow, HistoryFlags};
use crate::keyspace::resolve::offline_range;
use crate::ops::{snapshot_save, Interrupt};
use crate::output::history::HistoryPrinter;
use crate::output::progress;
use crate::output::size::history_tables;
use crate::output::snapshot::{info_table, inspect_table, list_row, LIST_COLUMNS};
use crate::output::table::Listing;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Stream a snapshot from one member into FILE, verified.
    ///
    /// Heavy: the member sends its whole database. Written to FILE.part
    /// (hashed as it is written), fsynced, checked against the sha256 etcd
    /// appends, then renamed; a broken stream or bad hash leaves nothing
    /// behind. Memory stays flat in the database's size.
    Save(SaveArgs),
    /// Offline: integrity, revision, key count and size of a snapshot file.
    ///
    /// Any damage is an error (exit 5).
    Status(FileArgs),
    /// Offline: key count and size per resource type of a snapshot or a
    /// member's `member/snap/db`.
    ///
    /// A running member rewrites its db file: read a stopped member's file,
    /// or a snapshot. Damaged pages and entries are skipped, counted and
    /// named; the rest is shown (exit 1).
    Inspect(InspectArgs),
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Where to write the snapshot.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The member to stream from (name or 16-hex id); default: the most up
    /// to date healthy member.
    #[arg(long, value_name = "NAME|ID", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::members))]
    pub member: Option<String>,

    /// Replace FILE if it exists.
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Debug, clap::Args)]
pub struct FileArgs {
    /// A snapshot file (or a member's `member/snap/db`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// A snapshot file or a member's `member/snap/db`.
    #[arg(value_name = "FILE", required_unless_present = "ls")]
    pub file: Option<PathBuf>,

    /// The keyspace as of this revision (default: the newest).
    #[arg(long, value_name = "N")]
    pub revision: Option<i64>,

    /// List keys as objects instead of the per-type summary: all, a type
    /// (`pods`, `deploy`, `widgets.example.com`) or a key prefix
    /// (`/registry/...`). `--ls FILE` lists all of FILE.
    #[arg(long, value_name = "TYPE|PREFIX", num_args = 0..=1, default_missing_value = "")]
    pub ls: Option<String>,

    /// Show one object: a key, `TYPE/NAME` or `TYPE/NAMESPACE/NAME`.
    #[arg(long, value_name = "REF", conflicts_with = "ls")]
    pub get: Option<String>,

    /// Every retained version of one object, newest first, as `history`
    /// shows it live: a key, `TYPE/NAME` or `TYPE/NAMESPACE/NAME`.
    ///
    /// One pass over the file, holding only this object's versions (with
    /// --limit N, at most N+1 of them).
    #[arg(long, value_name = "REF", conflicts_with_all = ["ls", "get", "revision"])]
    pub history: Option<String>,

    #[command(flatten)]
    pub history_flags: HistoryFlags,

    /// What a compaction at the newest revision would free: old revisions
    /// and their bytes per type and for the top keys.
    ///
    /// One pass over the file; memory bounded by the number of types and
    /// --top.
    #[arg(long, conflicts_with_all = ["ls", "get", "history", "revision"])]
    pub history_size: bool,

    /// With --history-size: the N keys holding the most old bytes.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        requires = "history_size"
    )]
    pub top: usize,

    #[command(flatten)]
    pub decode: DecodeFlags,
}

impl InspectArgs {
    /// The file and the `--ls` filter: `inspect --ls FILE` (no other FILE)
    /// means all of FILE, not a type named like the file.
    pub fn file_and_filter(&self) -> Result<(PathBuf, Option<String>)> {
        match (&self.file, &self.ls) {
            (Some(f), ls) => Ok((f.clone(), ls.clone())),
            (None, Some(f)) if !f.is_empty() => Ok((PathBuf::from(f), Some(String::new()))),
            _ => Err(Error::usage("no FILE given")
                .with_hint("kubectl etcd snapshot inspect FILE [--ls [TYPE|PREFIX]]")),
        }
    }
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let format = session.format_or(OutputFormat::Table);
    let in_file = |p: &Path| {
        let p = p.display().to_string();
        move |e: dbfile::DbError| Error::from(e).context(format!("`{p}`"))
    };
    match args.command {
        SnapshotCommand::Save(a) => {
            let req = snapshot_save::Request {
                file: a.file,
                member: a.member,
                overwrite: a.overwrite,
            };
            let cluster = session.cluster().await?;
            let interrupt = Interrupt::on_ctrl_c();
            let bar = session.shell.stderr_tty && format == OutputFormat::Table;
            let mut on = progress::snapshot_save(&mut session.shell, bar);
            let (targets, settings) = (&cluster.targets, &cluster.settings);
            let info =
                snapshot_save::save_from_cluster(targets, settings, &req, &interrupt, &mut on)
                    .await?;
            drop(on);
            session.shell.emit(format, &info, |i| vec![info_table(i)])
        }
        SnapshotCommand::Status(a) => {
            let info = report::status(&a.file).map_err(in_file(&a.file))?;
            session.shell.emit(format, &info, |i| vec![info_table(i)])
        }
        SnapshotCommand::Inspect(a) if a.history_flags.any() && a.history.is_none() => Err(
            Error::usage("--limit, --since-revision, --objects and --all-fields need --history")
                .with_hint("kubectl etcd snapshot inspect FILE --history REF --limit N"),
        ),
        SnapshotCommand::Inspect(a) if a.history.is_some() => history(a, session),
        SnapshotCommand::Inspect(a) if a.history_size => {
            let (file, _) = a.file_and_filter()?;
            let prefix = &session.global.prefix;
            let (size, readout) =
                report::history_size(&file, prefix, a.top).map_err(in_file(&file))?;
            session.shell.emit(format, &size, history_tables)?;
            damage_outcome(&file, &readout, session)
        }
        SnapshotCommand::Inspect(a) if a.get.is_some() || a.ls.is_some() => browse(a, session),
        SnapshotCommand::Inspect(a) => {
            let (file, _) = a.file_and_filter()?;
            let prefix = &session.global.prefix;
            let (report, readout) =
                report::inspect(&file, a.revision, prefix).map_err(in_file(&file))?;
            session
                .shell
                .emit(format, &report, |r| vec![inspect_table(r)])?;
            damage_outcome(&file, &readout, session)
        }
    }
}

/// Damage a lenient read skipped: each named on stderr, then exit 1 when
/// the rest could be read, 5 when nothing could.
fn damage_outcome(file: &Path, readout: &Readout, session: &mut Session) -> Result<()> {
    let d = &readout.damage;
    if d.is_empty() {
        return Ok(());
    }
    for e in &d.first {
        session.shell.warn(format!("`{}`: {e}", file.display()));
    }
    let what = format!(
        "`{}`: {} damaged pages or entries skipped",
        file.display(),
        d.count
    );
    let hint = "the file is damaged: take a new snapshot, or restore from an older one";
    if readout.entries == 0 {
        return Err(Error::data(format!("{what}, nothing readable")).with_hint(hint));
    }
    Err(Error::partial(format!("{what}; the rest is shown")).with_hint(hint))
}

/// `inspect --ls` and `inspect --get`: the keyspace of a file that no etcd
/// serves any more, as objects.
fn browse(a: InspectArgs, session: &mut Session) -> Result<()> {
    let (file, ls) = a.file_and_filter()?;
    let ctx = |e: dbfile::DbError| Error::from(e).context(format!("`{}`", file.display()));
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();

    if let Some(reference) = &a.get {
        let key = object_key(reference, namespace.as_deref(), &prefix)?;
        let found = report::get(&file, key.as_bytes(), a.revision).map_err(ctx)?;
        let Some((revision, value)) = &found.value else {
            damage_outcome(&file, &found.readout, session)?;
            return Err(Error::new(
                Kind::NotFound,
                format!(
                    "`{key}` is not in the snapshot at revision {}",
                    a.revision.unwrap_or(found.header.revision)
                ),
            )
            .with_hint("`snapshot inspect FILE --ls TYPE` lists what it holds"));
        };
        if session.format_or(OutputFormat::Yaml) == OutputFormat::Raw {
            session.shell.out().write_all(value)?;
        } else {
            let obj = Decoder::new(&a.decode, &prefix)?.decode_at(
                key.as_bytes(),
                value,
                Some(revision.main),
            )?;
            for w in &obj.warnings {
                session.shell.warn(w);
            }
            match session.format_or(OutputFormat::Yaml) {
                OutputFormat::Json => session.shell.json(&obj.value)?,
                _ => session.shell.yaml(&obj.value)?,
            }
        }
        return damage_outcome(&file, &found.readout, session);
    }

    let start = match ls.as_deref().unwrap_or_default() {
        "" => String::new(),
        f if f.starts_with('/') => f.to_string(),
        f => offline_range(f, namespace.as_deref(), &prefix, false)?.0,
    };
    let mut listing = Listing::new(
        session.format_or(OutputFormat::Table),
        "snapshot inspect --ls",
        LIST_COLUMNS,
    )?;
    let shell = &mut session.shell;
    let (_, readout) = report::list(&file, a.revision, start.as_bytes(), |key, latest| {
        let info = registry::key::parse(key, &prefix);
        if !info.in_namespace(namespace.as_deref()) {
            return Ok(());
        }
        let (entry, cells) = list_row(key, &info, latest);
        listing.push(shell, &entry, || cells)?;
        if listing.shown % 1000 == 0 {
            listing.flush(shell)?;
        }
        Ok::<_, Error>(())
    })
    .map_err(|e| match e {
        ListError::Db(e) => ctx(e),
        ListError::Visit(e) => e,
    })?;
    listing.flush(&mut session.shell)?;
    damage_outcome(&file, &readout, session)?;
    if listing.shown == 0 {
        return Err(Error::new(Kind::NotFound, "no keys match in the snapshot"));
    }
    Ok(())
}

/// A key, or the key of `TYPE/NAME` / `TYPE/NAMESPACE/NAME`.
fn object_key(reference: &str, namespace: Option<&str>, prefix: &str) -> Result<String> {
    if reference.starts_with('/') {
        return Ok(reference.to_string());
    }
    Ok(offline_range(reference, namespace, prefix, true)?.0)
}

/// `inspect --history`: the object's retained versions in the file, shown
/// as `history` shows them live.
fn history(a: InspectArgs, session: &mut Session) -> Result<()> {
    let (file, _) = a.file_and_filter()?;
    let ctx = |e: dbfile::DbError| Error::from(e).context(format!("`{}`", file.display()));
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let reference = a.history.as_deref().unwrap_or_default();
    let key = object_key(reference, namespace.as_deref(), &prefix)?;
    let format = session.format_or(OutputFormat::Table);
    let flags = &a.history_flags;
    let mut printer = HistoryPrinter::new(format, "snapshot inspect --history", flags.objects)?;
    let decoder = Decoder::new(&a.decode, &prefix)?;
    let opts = flags.options();
    // The versions shown and the one the oldest of them is diffed against.
    let keep = opts.limit.map(|l| l + 1);
    let floor = opts.since_revision.unwrap_or(1);
    let mut found = report::versions(&file, key.as_bytes(), keep, floor).map_err(ctx)?;
    let shell = &mut session.shell;
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
            damage_outcome(&file, &found.readout, session)?;
            return Err(e.into());
        }
    };
    printer.finish(&mut session.shell, &summary, &key, flags.since_revision)?;
    damage_outcome(&file, &found.readout, session)
}
