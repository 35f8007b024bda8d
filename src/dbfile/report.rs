//! What `snapshot status`, `snapshot inspect` and `restore` report about a
//! file: one walk of bucket `key` each, the live keys counted or summed per
//! type as they stream out of the sorter.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::bolt::{Db, Source};
use super::error::{DbError, Result};
use super::keyspace::{
    self, read_header, type_of, Damage, DamageEntry, Header, Latest, Revision, ScanOptions,
};
use super::{DbFile, Integrity};
use crate::keyspace::history_size::{HistorySize, HistoryTally};

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

/// Count and bytes (key plus value) per resource type.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TypeStat {
    pub r#type: String,
    pub kind: &'static str,
    pub keys: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectReport {
    pub file: String,
    pub revision: i64,
    pub as_of_revision: Option<i64>,
    pub total_keys: u64,
    pub total_bytes: u64,
    pub types: Vec<TypeStat>,
    /// Pages and entries that could not be read and were skipped.
    pub damaged: u64,
    /// The first of them.
    pub damage: Vec<DamageEntry>,
}

/// Per-type totals as keys stream by.
#[derive(Default)]
struct Totals(BTreeMap<String, TypeStat>);

impl Totals {
    fn add(&mut self, key: &[u8], latest: &Latest, prefix: &str) {
        let (t, kind) = type_of(key, prefix);
        let e = self.0.entry(t).or_insert_with_key(|t| TypeStat {
            r#type: t.clone(),
            kind,
            keys: 0,
            bytes: 0,
        });
        e.keys += 1;
        e.bytes += latest.size;
    }

    /// Biggest first.
    fn into_vec(self) -> Vec<TypeStat> {
        let mut v: Vec<TypeStat> = self.0.into_values().collect();
        v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.r#type.cmp(&b.r#type)));
        v
    }
}

fn info(path: &Path, file: &DbFile, integrity: Integrity, h: &Header, keys: u64) -> SnapshotInfo {
    let sha256 = file.sha256().filter(|_| integrity == Integrity::Verified);
    build_info(path, file.size, integrity, sha256, h, keys)
}

fn build_info(
    path: &Path,
    size: u64,
    integrity: Integrity,
    sha256: Option<String>,
    h: &Header,
    keys: u64,
) -> SnapshotInfo {
    SnapshotInfo {
        file: path.display().to_string(),
        member: None,
        member_id: None,
        integrity,
        sha256,
        revision: h.revision,
        total_keys: keys,
        size,
        consistent_index: h.consistent_index,
        compacted_revision: h.compacted_revision,
        storage_version: h.storage_version.clone(),
        etcd_version: None,
        took_ms: None,
    }
}

fn inspect_report(
    path: &Path,
    h: &Header,
    at: Option<i64>,
    totals: Totals,
    damage: &Damage,
) -> InspectReport {
    let types = totals.into_vec();
    InspectReport {
        file: path.display().to_string(),
        revision: h.revision,
        as_of_revision: at,
        total_keys: types.iter().map(|p| p.keys).sum(),
        total_bytes: types.iter().map(|p| p.bytes).sum(),
        types,
        damaged: damage.count,
        damage: damage.entries(),
    }
}

/// `snapshot status`: integrity, then the keyspace, all of it sound.
pub fn status(path: &Path) -> Result<SnapshotInfo> {
    let file = DbFile::open(path)?;
    let integrity = file.verify()?;
    count(path, &file, integrity)
}

/// The same for a file whose sha256 was checked as it was written
/// (`snapshot save`): only the keyspace is read back.
pub fn status_of_verified(path: &Path) -> Result<SnapshotInfo> {
    let file = DbFile::open(path)?;
    let integrity = match file.sha256() {
        Some(_) => Integrity::Verified,
        None => Integrity::NoHash,
    };
    count(path, &file, integrity)
}

fn count(path: &Path, file: &DbFile, integrity: Integrity) -> Result<SnapshotInfo> {
    let (header, keys) = count_keys(&*file.src, file.db_len)?;
    Ok(info(path, file, integrity, &header, keys))
}

/// The header and the live key count of the database in the first `db_len`
/// bytes of `src`, all of it sound.
pub fn count_keys(src: &dyn Source, db_len: u64) -> Result<(Header, u64)> {
    let db = Db::open(src, db_len)?;
    let scan = keyspace::scan(&db, &ScanOptions::strict(), &mut Damage::default())?;
    let mut keys = 0;
    scan.live.for_each(|_, _| {
        keys += 1;
        Ok::<_, DbError>(())
    })?;
    Ok((scan.header, keys))
}

/// What `snapshot save` reports of a file whose sha256 it checked as it
/// wrote it.
pub fn saved_info(path: &Path, size: u64, sha256: &str, h: &Header, keys: u64) -> SnapshotInfo {
    let sha256 = Some(sha256.to_string());
    build_info(path, size, Integrity::Verified, sha256, h, keys)
}

/// `status` and the per-type summary of the newest revision in one read,
/// all of it sound: what `restore` verifies before it plans.
pub fn examine(path: &Path, prefix: &str) -> Result<(SnapshotInfo, InspectReport)> {
    examine_file(&DbFile::open(path)?, path, prefix)
}

pub fn examine_file(
    file: &DbFile,
    path: &Path,
    prefix: &str,
) -> Result<(SnapshotInfo, InspectReport)> {
    let integrity = file.verify()?;
    let db = file.db()?;
    let damage = Damage::default();
    let scan = keyspace::scan(&db, &ScanOptions::strict(), &mut Damage::default())?;
    let mut totals = Totals::default();
    let mut keys = 0;
    scan.live.for_each(|k, l| {
        keys += 1;
        totals.add(k, l, prefix);
        Ok::<_, DbError>(())
    })?;
    Ok((
        info(path, file, integrity, &scan.header, keys),
        inspect_report(path, &scan.header, None, totals, &damage),
    ))
}

/// What a lenient read found: damage it skipped, and whether it read any
/// entry at all.
#[derive(Debug, Default)]
pub struct Readout {
    pub damage: Damage,
    pub entries: u64,
}

/// Open, check the trailer (a mismatch is damage: the rest is still
/// read), open the database.
fn open_lenient(path: &Path, damage: &mut Damage) -> Result<DbFile> {
    let file = DbFile::open(path)?;
    match file.verify() {
        Err(e @ DbError::Checksum { .. }) => damage.record(e),
        other => {
            other?;
        }
    }
    Ok(file)
}

/// `snapshot inspect`: the per-type summary as of `at`, skipping damage.
pub fn inspect(path: &Path, at: Option<i64>, prefix: &str) -> Result<(InspectReport, Readout)> {
    let mut out = Readout::default();
    let file = open_lenient(path, &mut out.damage)?;
    let db = file.db()?;
    let opts = ScanOptions {
        at,
        ..ScanOptions::lenient()
    };
    let scan = keyspace::scan(&db, &opts, &mut out.damage)?;
    out.entries = scan.entries;
    let mut totals = Totals::default();
    scan.live.for_each(|k, l| {
        totals.add(k, l, prefix);
        Ok::<_, DbError>(())
    })?;
    let report = inspect_report(path, &scan.header, at, totals, &out.damage);
    Ok((report, out))
}

/// Why a listing stopped: the file, or the caller's visitor.
#[derive(Debug)]
pub enum ListError<E> {
    Db(DbError),
    Visit(E),
}

impl<E> From<DbError> for ListError<E> {
    fn from(e: DbError) -> Self {
        ListError::Db(e)
    }
}

/// `snapshot inspect --ls`: the live keys under `prefix` as of `at`, in key
/// order, skipping damage. Returns the header with the readout.
pub fn list<E>(
    path: &Path,
    at: Option<i64>,
    prefix: &[u8],
    mut f: impl FnMut(&[u8], &Latest) -> std::result::Result<(), E>,
) -> std::result::Result<(Header, Readout), ListError<E>> {
    let mut out = Readout::default();
    let file = open_lenient(path, &mut out.damage)?;
    let db = file.db()?;
    let opts = ScanOptions {
        at,
        prefix: prefix.to_vec(),
        lenient: true,
    };
    let scan = keyspace::scan(&db, &opts, &mut out.damage)?;
    out.entries = scan.entries;
    scan.live
        .for_each(|k, l| f(k, l).map_err(ListError::Visit))?;
    Ok((scan.header, out))
}

/// One stored value as of `at` (`snapshot inspect --get`), skipping damage.
pub struct Found {
    pub header: Header,
    pub value: Option<(Revision, Vec<u8>)>,
    pub readout: Readout,
}

pub fn get(path: &Path, key: &[u8], at: Option<i64>) -> Result<Found> {
    let mut readout = Readout::default();
    let file = open_lenient(path, &mut readout.damage)?;
    let db = file.db()?;
    let mut header = read_header(&db, true, &mut readout.damage)?;
    if let (Some(at), Some(c)) = (at, header.compacted_revision) {
        if at < c {
            return Err(DbError::Compacted { at, compacted: c });
        }
    }
    let read = keyspace::read_value(&db, key, at, &mut readout.damage)?;
    readout.entries = read.entries;
    header.revision = read.newest.max(header.compacted_revision.unwrap_or(0));
    if let Some(at) = at.filter(|at| *at > header.revision) {
        return Err(DbError::FutureRevision {
            at,
            newest: header.revision,
        });
    }
    Ok(Found {
        header,
        value: read.value,
        readout,
    })
}

/// `snapshot inspect --history`: the retained versions of one key (see
/// [`keyspace::read_versions`]), skipping damage.
pub struct Versions {
    pub header: Header,
    pub read: keyspace::VersionsRead,
    pub readout: Readout,
}

pub fn versions(path: &Path, key: &[u8], keep: Option<usize>, floor: i64) -> Result<Versions> {
    let mut readout = Readout::default();
    let file = open_lenient(path, &mut readout.damage)?;
    let db = file.db()?;
    let mut header = read_header(&db, true, &mut readout.damage)?;
    let read = keyspace::read_versions(&db, key, keep, floor, &mut readout.damage)?;
    readout.entries = read.entries;
    header.revision = read.newest.max(header.compacted_revision.unwrap_or(0));
    Ok(Versions {
        header,
        read,
        readout,
    })
}

/// `snapshot inspect --history-size`: what a compaction at the file's
/// newest revision would free, skipping damage.
pub fn history_size(path: &Path, prefix: &str, top: usize) -> Result<(HistorySize, Readout)> {
    let mut readout = Readout::default();
    let file = open_lenient(path, &mut readout.damage)?;
    let db = file.db()?;
    let header = read_header(&db, true, &mut readout.damage)?;
    let mut tally = HistoryTally::new(prefix, top);
    let (newest, entries) = keyspace::tally_history(&db, &mut tally, &mut readout.damage)?;
    readout.entries = entries;
    let revision = newest.max(header.compacted_revision.unwrap_or(0));
    let mut size = tally.finish(revision, header.compacted_revision);
    size.compare_with(None, Some(file.db_len));
    Ok((size, readout))
}
