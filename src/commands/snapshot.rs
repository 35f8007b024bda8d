//! `snapshot save|status|inspect`: take a verified snapshot from a member,
//! or read a snapshot (or a member's `member/snap/db`) offline.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::etcd::{format_id, maintenance, Survey};
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::resolve::offline_range;
use crate::ops::cluster_state::ClusterState;
use crate::ops::snapshot::{part_path, save};
use crate::output::table::{Listing, Table};
use crate::output::{human_bytes, human_duration, progress};
use crate::snapshot::{self as snap, Integrity};

/// How long the snapshot stream may stay silent before it counts as broken.
const STREAM_IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Stream a snapshot from one member into FILE, verified.
    ///
    /// Heavy: the member sends its whole database. Written to FILE.part,
    /// fsynced, checked against the sha256 etcd appends, then renamed; a
    /// broken stream or bad hash leaves nothing behind.
    Save(SaveArgs),
    /// Offline: integrity, revision, key count and size of a snapshot file.
    Status(FileArgs),
    /// Offline: key count and size per resource type of a snapshot or a
    /// member's `member/snap/db`.
    ///
    /// A running member rewrites its db file: read a stopped member's file,
    /// or a snapshot.
    Inspect(InspectArgs),
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Where to write the snapshot.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The member to stream from (name or 16-hex id); default: the most up
    /// to date healthy member.
    #[arg(long, value_name = "NAME|ID")]
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
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The keyspace as of this revision (default: the newest).
    #[arg(long, value_name = "N")]
    pub revision: Option<i64>,

    /// List keys as objects instead of the per-type summary: all, a type
    /// (`pods`, `deploy`, `widgets.example.com`) or a key prefix (`/registry/...`).
    #[arg(long, value_name = "TYPE|PREFIX", num_args = 0..=1, default_missing_value = "")]
    pub ls: Option<String>,

    /// Show one object: a key, `TYPE/NAME` or `TYPE/NAMESPACE/NAME`.
    #[arg(long, value_name = "REF", conflicts_with = "ls")]
    pub get: Option<String>,

    #[command(flatten)]
    pub decode: DecodeFlags,
}

/// What a snapshot holds; `status` and `save` print it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotInfo {
    pub file: String,
    /// The member it was streamed from (`save` only).
    pub member: Option<String>,
    pub member_id: Option<String>,
    pub integrity: Integrity,
    pub sha256: Option<String>,
    pub revision: i64,
    pub total_keys: u64,
    pub size: u64,
    pub consistent_index: Option<u64>,
    pub compacted_revision: Option<i64>,
    pub storage_version: Option<String>,
    /// Version of the etcd server it was taken from (`save` only).
    pub etcd_version: Option<String>,
    pub took_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectReport {
    pub file: String,
    pub revision: i64,
    pub as_of_revision: Option<i64>,
    pub total_keys: u64,
    pub total_bytes: u64,
    pub types: Vec<snap::TypeStat>,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let format = session.format_or(OutputFormat::Table);
    match args.command {
        SnapshotCommand::Save(a) => {
            let info = save_cmd(a, format == OutputFormat::Table, session).await?;
            session.shell.emit(format, &info, |i| vec![info_table(i)])
        }
        SnapshotCommand::Status(a) => {
            let info = info_of(&a.file)?;
            session.shell.emit(format, &info, |i| vec![info_table(i)])
        }
        SnapshotCommand::Inspect(a) if a.get.is_some() || a.ls.is_some() => browse(a, session),
        SnapshotCommand::Inspect(a) => {
            let report = inspect(&a.file, a.revision, &session.global.prefix)?;
            session
                .shell
                .emit(format, &report, |r| vec![inspect_table(r)])
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(format!("cannot read `{}`", path.display()), e))
}

/// `snapshot status`: integrity first, then the keyspace.
/// The file read and checked once: its bytes, the database's length within
/// them, its integrity and its keyspace as of `revision` (newest: `None`).
fn open(path: &Path, revision: Option<i64>) -> Result<(Vec<u8>, usize, Integrity, snap::Keyspace)> {
    let in_file = |e: Error| e.context(format!("`{}`", path.display()));
    let data = read(path)?;
    let (db, integrity) = snap::check_integrity(&data).map_err(in_file)?;
    let ks = snap::read_keyspace(db, revision).map_err(in_file)?;
    let db_len = db.len();
    Ok((data, db_len, integrity, ks))
}

pub fn info_of(path: &Path) -> Result<SnapshotInfo> {
    let (data, db_len, integrity, ks) = open(path, None)?;
    Ok(info(path, &data, db_len, integrity, &ks))
}

pub fn inspect(path: &Path, revision: Option<i64>, prefix: &str) -> Result<InspectReport> {
    let (_, _, _, ks) = open(path, revision)?;
    report(path, revision, &ks, prefix)
}

/// [`info_of`] and [`inspect`] of the newest revision, reading the file once.
pub fn examine(path: &Path, prefix: &str) -> Result<(SnapshotInfo, InspectReport)> {
    let (data, db_len, integrity, ks) = open(path, None)?;
    Ok((
        info(path, &data, db_len, integrity, &ks),
        report(path, None, &ks, prefix)?,
    ))
}

fn info(
    path: &Path,
    data: &[u8],
    db_len: usize,
    integrity: Integrity,
    ks: &snap::Keyspace,
) -> SnapshotInfo {
    SnapshotInfo {
        file: path.display().to_string(),
        member: None,
        member_id: None,
        sha256: (integrity == Integrity::Verified).then(|| snap::hex(&data[db_len..])),
        integrity,
        revision: ks.revision,
        total_keys: ks.keys.len() as u64,
        size: data.len() as u64,
        consistent_index: ks.consistent_index,
        compacted_revision: ks.compacted_revision,
        storage_version: ks.storage_version.clone(),
        etcd_version: None,
        took_ms: None,
    }
}

fn report(
    path: &Path,
    revision: Option<i64>,
    ks: &snap::Keyspace,
    prefix: &str,
) -> Result<InspectReport> {
    if let Some(r) = revision {
        if r > ks.revision {
            return Err(Error::usage(format!(
                "revision {r} is newer than the newest in the file ({})",
                ks.revision
            )));
        }
    }
    let types = snap::by_type(ks, prefix);
    Ok(InspectReport {
        file: path.display().to_string(),
        revision: ks.revision,
        as_of_revision: revision,
        total_keys: types.iter().map(|p| p.keys).sum(),
        total_bytes: types.iter().map(|p| p.bytes).sum(),
        types,
    })
}

pub async fn save_cmd(args: SaveArgs, table: bool, session: &mut Session) -> Result<SnapshotInfo> {
    if args.file.exists() && !args.overwrite {
        return Err(Error::new(
            Kind::Refused,
            format!("`{}` already exists", args.file.display()),
        )
        .with_hint("choose another name, or pass --overwrite to replace it"));
    }
    let cluster = session.cluster().await?;
    let survey = Survey::take(&cluster.targets, &cluster.settings).await;
    let state = ClusterState::from_survey(&survey);
    let member = match &args.member {
        Some(w) => state
            .find(w)
            .ok_or_else(|| Error::usage(format!("no member `{w}` in this cluster")))?,
        None => state
            .members
            .iter()
            .filter(|m| m.reachable() && !m.lagging)
            // Voters first: etcd before 3.5 refuses snapshots from learners.
            .max_by(|a, b| {
                b.is_learner
                    .cmp(&a.is_learner)
                    .then_with(|| a.raft_applied_index.cmp(&b.raft_applied_index))
                    .then_with(|| b.name.cmp(&a.name))
            })
            .ok_or_else(|| {
                Error::new(
                    Kind::Unavailable,
                    "no healthy member to take a snapshot from",
                )
                .with_hint("check `kubectl etcd status`")
            })?,
    };
    if let Some(e) = &member.error {
        return Err(Error::new(
            Kind::Unavailable,
            format!("member `{}` is not reachable: {e}", member.label()),
        ));
    }
    let client = member
        .target
        .and_then(|i| survey.views.get(i))
        .and_then(|v| v.client.clone())
        .ok_or_else(|| Error::new(Kind::Unavailable, "no connection to the member"))?;
    let (name, id) = (member.label(), member.id);
    let etcd_version = member
        .target
        .and_then(|i| survey.views.get(i))
        .and_then(|v| v.status.as_ref())
        .map(|s| s.version.clone());
    session.shell.note(format!(
        "streaming a snapshot from `{name}` ({})",
        human_bytes(member.db_size)
    ));
    let start = Instant::now();
    let mut stream = maintenance::snapshot(&client).await?;
    let first = next_chunk(&mut stream).await;
    let total = match &first {
        Ok(Some((blob, remaining))) => Some(blob.len() as u64 + remaining),
        _ => None,
    };
    let bar = progress::bar(session.shell.stderr_tty && table, total, "snapshot", true);
    let first = futures::stream::iter(match first {
        Ok(Some((blob, _))) => vec![Ok(blob)],
        Ok(None) => vec![],
        Err(e) => vec![Err(e)],
    });
    let rest = futures::stream::unfold((stream, false), |(mut s, done)| async move {
        if done {
            return None;
        }
        match next_chunk(&mut s).await {
            Ok(Some((blob, _))) => Some((Ok(blob), (s, false))),
            Ok(None) => None,
            Err(e) => Some((Err(e), (s, true))),
        }
    });
    let chunks = Box::pin(futures::StreamExt::chain(first, rest));
    let interrupt = crate::ops::Interrupt::on_ctrl_c();
    let result = save(chunks, &args.file, &interrupt, &mut |n| bar.set_position(n)).await;
    bar.finish_and_clear();
    let saved = result.map_err(|e| e.context(format!("snapshot from `{name}`")))?;
    debug_assert!(!part_path(&args.file).exists());
    let mut info = info_of(&saved.path)?;
    info.member = Some(name);
    info.member_id = Some(format_id(id));
    info.etcd_version = etcd_version;
    info.took_ms = Some(start.elapsed().as_millis() as u64);
    Ok(info)
}

/// The next blob and the bytes still to come, with an idle timeout.
async fn next_chunk(s: &mut etcd_client::SnapshotStreaming) -> Result<Option<(Vec<u8>, u64)>> {
    match tokio::time::timeout(STREAM_IDLE, s.message()).await {
        Err(_) => Err(Error::new(
            Kind::Unavailable,
            format!("no data for {STREAM_IDLE:?}"),
        )),
        // A connection cut mid-body is etcd::Error::ConnectionDropped.
        Ok(Err(e)) => Err(crate::etcd::classify_stream(&e).into()),
        Ok(Ok(None)) => Ok(None),
        Ok(Ok(Some(r))) => Ok(Some((r.blob().to_vec(), r.remaining_bytes()))),
    }
}

pub fn info_table(i: &SnapshotInfo) -> Table {
    let mut t = Table::new(&[
        "file",
        "integrity",
        "revision",
        "total keys",
        "size",
        "sha256",
    ])
    .right_align(&[2, 3, 4]);
    t.row([
        i.file.clone(),
        match i.integrity {
            Integrity::Verified => "sha256 ok".to_string(),
            Integrity::NoHash => "no hash (db file)".to_string(),
        },
        i.revision.to_string(),
        i.total_keys.to_string(),
        human_bytes(i.size),
        i.sha256.clone().unwrap_or_else(|| "-".into()),
    ]);
    let mut extra = Vec::new();
    if let Some(m) = &i.member {
        extra.push(format!(
            "from member {m} ({})",
            i.member_id.clone().unwrap_or_default()
        ));
    }
    if let Some(ms) = i.took_ms {
        extra.push(format!(
            "took {}",
            human_duration(Duration::from_millis(ms))
        ));
    }
    if let Some(v) = &i.etcd_version {
        extra.push(format!("etcd {v}"));
    }
    if let Some(v) = &i.storage_version {
        extra.push(format!("etcd storage version {v}"));
    }
    if let Some(c) = i.compacted_revision {
        extra.push(format!("compacted at {c}"));
    }
    if let Some(ci) = i.consistent_index {
        extra.push(format!("consistent index {ci}"));
    }
    if !extra.is_empty() {
        t = t.title(extra.join(", "));
    }
    t
}

pub fn inspect_table(r: &InspectReport) -> Table {
    let mut t = Table::new(&["type", "keys", "size", "kind"]).right_align(&[1, 2]);
    for p in &r.types {
        let kind = if p.kind == "builtin" { "" } else { p.kind };
        t.row([
            p.r#type.clone(),
            p.keys.to_string(),
            human_bytes(p.bytes),
            kind.to_string(),
        ]);
    }
    t.row([
        "total".to_string(),
        r.total_keys.to_string(),
        human_bytes(r.total_bytes),
        String::new(),
    ]);
    t.title(format!(
        "{} at revision {}",
        r.file,
        r.as_of_revision.unwrap_or(r.revision)
    ))
}

/// `inspect --ls` and `inspect --get`: the keyspace of a file that no etcd
/// serves any more, as objects.
fn browse(a: InspectArgs, session: &mut Session) -> Result<()> {
    let data = read(&a.file)?;
    let ctx = |e: Error| e.context(format!("`{}`", a.file.display()));
    let (db, _) = snap::check_integrity(&data).map_err(ctx)?;
    let ks = snap::read_keyspace(db, a.revision).map_err(ctx)?;
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();

    if let Some(reference) = &a.get {
        let key = if reference.starts_with('/') {
            reference.clone()
        } else {
            offline_range(reference, namespace.as_deref(), &prefix, true)?.0
        };
        let Some(latest) = ks.keys.get(key.as_bytes()) else {
            return Err(Error::new(
                Kind::NotFound,
                format!("`{key}` is not in the snapshot at revision {}", ks.revision),
            )
            .with_hint("`snapshot inspect FILE --ls TYPE` lists what it holds"));
        };
        let value = snap::read_value(db, key.as_bytes(), latest.revision)
            .map_err(ctx)?
            .ok_or_else(|| Error::data(format!("`{key}` has no value in the file")))?;
        if session.format_or(OutputFormat::Yaml) == OutputFormat::Raw {
            session.shell.out().write_all(&value)?;
            return Ok(());
        }
        let obj = Decoder::new(&a.decode, &prefix)?.decode(key.as_bytes(), &value)?;
        for w in &obj.warnings {
            session.shell.warn(w);
        }
        return match session.format_or(OutputFormat::Yaml) {
            OutputFormat::Json => session.shell.json(&obj.value),
            _ => session.shell.yaml(&obj.value),
        };
    }

    let filter = a.ls.unwrap_or_default();
    let start = match filter.as_str() {
        "" => String::new(),
        f if f.starts_with('/') => f.to_string(),
        f => offline_range(f, namespace.as_deref(), &prefix, false)?.0,
    };
    let mut listing = Listing::new(
        session.format_or(OutputFormat::Table),
        "snapshot inspect --ls",
        &["type", "namespace", "name", "size", "mod rev", "key"],
    )?;
    for (key, latest) in ks.keys.range(start.as_bytes().to_vec()..) {
        if !key.starts_with(start.as_bytes()) {
            break;
        }
        let info = registry::key::parse(key, &prefix);
        if !info.in_namespace(namespace.as_deref()) {
            continue;
        }
        let entry = serde_json::json!({
            "key": String::from_utf8_lossy(key),
            "type": info.type_name().to_string(),
            "namespace": info.namespace,
            "name": info.name,
            "size": latest.size,
            "modRevision": latest.revision.main,
        });
        listing.push(&mut session.shell, &entry, || {
            vec![
                info.type_name().to_string(),
                info.namespace.unwrap_or("").to_string(),
                info.name.to_string(),
                human_bytes(latest.size),
                latest.revision.main.to_string(),
                String::from_utf8_lossy(key).into_owned(),
            ]
        })?;
        if listing.shown % 1000 == 0 {
            listing.flush(&mut session.shell)?;
        }
    }
    listing.flush(&mut session.shell)?;
    if listing.shown == 0 {
        return Err(Error::new(Kind::NotFound, "no keys match in the snapshot"));
    }
    Ok(())
}
