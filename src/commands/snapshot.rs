//! `snapshot save|status|inspect`: take a verified snapshot from a member
//! ([`crate::ops::snapshot_save`]), or read a snapshot (or a member's
//! `member/snap/db`) offline ([`crate::dbfile`], shown as objects by
//! [`crate::ops::inspect`]).

use std::path::{Path, PathBuf};

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::dbfile::{self, report};
use crate::error::{Error, Result};
use crate::keyspace::decode::DecodeFlags;
use crate::keyspace::history::HistoryFlags;
use crate::ops::inspect::{self, Offline};
use crate::ops::{snapshot_save, Interrupt};
use crate::output::progress;
use crate::output::size::history_tables;
use crate::output::snapshot::{info_table, inspect_table};
use crate::output::Shell;

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
        SnapshotCommand::Inspect(a) if a.history.is_some() => {
            let (file, _) = a.file_and_filter()?;
            let reference = a.history.as_deref().unwrap_or_default();
            let (at, shell) = offline(&file, None, session);
            Ok(inspect::history(
                &at,
                reference,
                &a.history_flags,
                &a.decode,
                format,
                shell,
            )?)
        }
        SnapshotCommand::Inspect(a) if a.history_size => {
            let (file, _) = a.file_and_filter()?;
            let prefix = &session.global.prefix;
            let (size, readout) =
                report::history_size(&file, prefix, a.top).map_err(in_file(&file))?;
            session.shell.emit(format, &size, history_tables)?;
            Ok(inspect::damage_outcome(
                &file,
                &readout,
                &mut session.shell,
            )?)
        }
        SnapshotCommand::Inspect(a) if a.get.is_some() || a.ls.is_some() => {
            let (file, ls) = a.file_and_filter()?;
            let yaml = session.format_or(OutputFormat::Yaml);
            let (at, shell) = offline(&file, a.revision, session);
            match &a.get {
                Some(reference) => inspect::get(&at, reference, &a.decode, yaml, shell)?,
                None => inspect::list(&at, ls.as_deref().unwrap_or_default(), format, shell)?,
            }
            Ok(())
        }
        SnapshotCommand::Inspect(a) => {
            let (file, _) = a.file_and_filter()?;
            let prefix = &session.global.prefix;
            let (report, readout) =
                report::inspect(&file, a.revision, prefix).map_err(in_file(&file))?;
            session
                .shell
                .emit(format, &report, |r| vec![inspect_table(r)])?;
            Ok(inspect::damage_outcome(
                &file,
                &readout,
                &mut session.shell,
            )?)
        }
    }
}

/// What an offline read needs from the session: the file, `--prefix` and
/// `-n`, and the shell its rows go to.
fn offline<'a>(
    file: &'a Path,
    revision: Option<i64>,
    session: &'a mut Session,
) -> (Offline<'a>, &'a mut Shell) {
    let at = Offline {
        file,
        revision,
        prefix: &session.global.prefix,
        namespace: session.global.namespace.as_deref(),
    };
    (at, &mut session.shell)
}
