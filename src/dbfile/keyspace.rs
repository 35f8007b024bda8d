//! etcd's keyspace in a bbolt file: bucket `key` maps a revision to the
//! mvccpb.KeyValue written at it, bucket `meta` holds the consistent index
//! and the compaction point.
//!
//! Every entry is checked for the shape etcd writes: a revision key, a
//! KeyValue whose mod revision is that revision. An entry that is not right
//! is damage naming its page; a lenient scan counts it and goes on.

use serde::Serialize;

use super::bolt::{Db, Entry};
use super::error::{DbError, EntryProblem, Result};
use super::sorter::{LiveKeys, Sorter};
use crate::keyspace::history::Recorded;
use crate::keyspace::history_size::HistoryTally;

/// A revision key of bucket `key`: main and sub revision, and whether the
/// entry is a tombstone (a delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
    pub tombstone: bool,
}

/// Parse `8-byte main BE, '_', 8-byte sub BE[, 't']`.
pub fn parse_revision(key: &[u8]) -> Option<Revision> {
    if !(key.len() == 17 || key.len() == 18) || key[8] != b'_' {
        return None;
    }
    if key.len() == 18 && key[17] != b't' {
        return None;
    }
    Some(Revision {
        main: i64::from_be_bytes(key[0..8].try_into().ok()?),
        sub: i64::from_be_bytes(key[9..17].try_into().ok()?),
        tombstone: key.len() == 18,
    })
}

/// The fields of an mvccpb.KeyValue that matter offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyValue<'a> {
    pub key: &'a [u8],
    pub create_revision: i64,
    pub mod_revision: i64,
    pub value: &'a [u8],
}

/// Parse an mvccpb.KeyValue (key 1, create_revision 2, mod_revision 3,
/// version 4, value 5, lease 6); `None` when it is not one or has no key.
pub fn parse_kv(buf: &[u8]) -> Option<KeyValue<'_>> {
    fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *buf.get(*pos)?;
            *pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let mut pos = 0;
    let mut kv = KeyValue {
        key: &[],
        create_revision: 0,
        mod_revision: 0,
        value: &[],
    };
    while pos < buf.len() {
        let tag = varint(buf, &mut pos)?;
        match (tag >> 3, tag & 7) {
            (field, 0) => {
                let v = varint(buf, &mut pos)? as i64;
                match field {
                    2 => kv.create_revision = v,
                    3 => kv.mod_revision = v,
                    _ => {}
                }
            }
            (field, 2) => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let bytes = buf.get(pos..pos.checked_add(len)?)?;
                pos += len;
                match field {
                    1 => kv.key = bytes,
                    5 => kv.value = bytes,
                    _ => {}
                }
            }
            (_, 1) => pos = pos.checked_add(8).filter(|p| *p <= buf.len())?,
            (_, 5) => pos = pos.checked_add(4).filter(|p| *p <= buf.len())?,
            _ => return None,
        }
    }
    (!kv.key.is_empty()).then_some(kv)
}

/// One entry of bucket `key`, checked: the revision it was written at and
/// the KeyValue, consistent with each other.
pub fn check_entry<'a>(e: &Entry<'a>) -> Result<(Revision, KeyValue<'a>)> {
    let bad = |problem| DbError::Entry {
        page: e.page,
        index: e.index,
        problem,
    };
    if e.bucket {
        return Err(bad(EntryProblem::NestedBucket));
    }
    let rev = parse_revision(e.key).ok_or_else(|| bad(EntryProblem::RevisionShape))?;
    if rev.main <= 0 || rev.sub < 0 {
        return Err(bad(EntryProblem::RevisionRange {
            main: rev.main,
            sub: rev.sub,
        }));
    }
    let kv = parse_kv(e.value).ok_or_else(|| bad(EntryProblem::KeyValue))?;
    // A tombstone records only the key (etcd 3.4) or also the revision.
    let tombstone_ok = rev.tombstone && kv.mod_revision == 0;
    if kv.mod_revision != rev.main && !tombstone_ok {
        return Err(bad(EntryProblem::ModRevision {
            key_rev: rev.main,
            value_rev: kv.mod_revision,
        }));
    }
    if !rev.tombstone && !(1..=rev.main).contains(&kv.create_revision) {
        return Err(bad(EntryProblem::CreateRevision {
            create: kv.create_revision,
            main: rev.main,
        }));
    }
    Ok((rev, kv))
}

/// The newest version of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    pub revision: Revision,
    /// Key plus value bytes.
    pub size: u64,
}

/// What bucket `meta` says, and the newest revision stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// Highest main revision stored (at least the compaction revision).
    pub revision: i64,
    pub consistent_index: Option<u64>,
    /// etcd's `finishedCompactRev`, when recorded.
    pub compacted_revision: Option<i64>,
    /// etcd's `storageVersion` (3.6+), when recorded.
    pub storage_version: Option<String>,
}

/// Damage a lenient read skipped: how much, and the first few problems.
#[derive(Debug, Default)]
pub struct Damage {
    pub count: u64,
    pub first: Vec<DbError>,
}

/// How many problems a [`Damage`] keeps to show.
const DAMAGE_SHOWN: usize = 20;

impl Damage {
    pub fn record(&mut self, e: DbError) {
        self.count += 1;
        if self.first.len() < DAMAGE_SHOWN {
            self.first.push(e);
        }
    }

    pub fn merge(&mut self, other: Damage) {
        self.count += other.count;
        self.first.extend(other.first);
        self.first.truncate(DAMAGE_SHOWN);
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Record local damage when lenient; return it otherwise.
    fn take(&mut self, lenient: bool, e: DbError) -> Result<()> {
        if lenient && e.is_local_damage() {
            self.record(e);
            Ok(())
        } else {
            Err(e)
        }
    }
}

/// Damage as JSON shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DamageEntry {
    pub page: Option<u64>,
    pub problem: String,
}

impl Damage {
    pub fn entries(&self) -> Vec<DamageEntry> {
        self.first
            .iter()
            .map(|e| DamageEntry {
                page: e.page(),
                problem: e.to_string(),
            })
            .collect()
    }
}

/// What to read of bucket `key`.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// The keyspace as of this revision; the newest when `None`.
    pub at: Option<i64>,
    /// Only keys starting with this.
    pub prefix: Vec<u8>,
    /// Skip and count damaged pages and entries instead of failing.
    pub lenient: bool,
}

impl ScanOptions {
    pub fn strict() -> ScanOptions {
        ScanOptions::default()
    }

    pub fn lenient() -> ScanOptions {
        ScanOptions {
            lenient: true,
            ..ScanOptions::default()
        }
    }
}

/// A read of the keyspace: the header, and the live keys in key order.
pub struct Scan {
    pub header: Header,
    pub live: LiveKeys,
    /// Entries of bucket `key` read and accepted.
    pub entries: u64,
}

/// Read bucket `meta`.
pub fn read_header(db: &Db<'_>, lenient: bool, damage: &mut Damage) -> Result<Header> {
    let mut h = Header::default();
    let Some(meta) = db.bucket(b"meta")? else {
        return Ok(h);
    };
    let mut on_damage = |e| damage.take(lenient, e);
    db.walk(&meta, &mut on_damage, &mut |e| {
        let v = e.value;
        match e.key {
            b"consistent_index" => {
                h.consistent_index = v.try_into().ok().map(u64::from_be_bytes);
            }
            b"finishedCompactRev" => {
                h.compacted_revision = parse_revision(v).map(|r| r.main).filter(|m| *m >= 0);
            }
            b"storageVersion" => {
                h.storage_version = Some(String::from_utf8_lossy(v).into_owned());
            }
            _ => {}
        }
        Ok(true)
    })?;
    Ok(h)
}

/// The bucket `key`, which every etcd database has.
fn key_bucket(db: &Db<'_>) -> Result<super::bolt::Bucket> {
    db.bucket(b"key")?.ok_or(DbError::NoKeyBucket)
}

/// Walk bucket `key` once: the newest revision, and the live keys (deletes
/// honoured) as of `opts.at` under `opts.prefix`.
pub fn scan(db: &Db<'_>, opts: &ScanOptions, damage: &mut Damage) -> Result<Scan> {
    let mut header = read_header(db, opts.lenient, damage)?;
    if let (Some(at), Some(c)) = (opts.at, header.compacted_revision) {
        if at < c {
            return Err(DbError::Compacted { at, compacted: c });
        }
    }
    let bucket = key_bucket(db)?;
    let mut sorter = Sorter::new();
    let mut revision = 0;
    let mut entries = 0;
    let mut entry_damage = Damage::default();
    let mut on_damage = |e| damage.take(opts.lenient, e);
    db.walk(&bucket, &mut on_damage, &mut |e| {
        let (rev, kv) = match check_entry(&e) {
            Ok(v) => v,
            Err(err) => return entry_damage.take(opts.lenient, err).map(|_| false),
        };
        entries += 1;
        revision = revision.max(rev.main);
        if opts.at.is_some_and(|at| rev.main > at) || !kv.key.starts_with(&opts.prefix) {
            return Ok(true);
        }
        let size = (kv.key.len() + kv.value.len()) as u64;
        sorter.push(kv.key, rev, size)?;
        Ok(true)
    })?;
    damage.merge(entry_damage);
    // A compaction that removed every old revision leaves the bucket
    // without the newest revision; the compaction point still bounds it.
    header.revision = revision.max(header.compacted_revision.unwrap_or(0));
    if let Some(at) = opts.at {
        if at > header.revision {
            return Err(DbError::FutureRevision {
                at,
                newest: header.revision,
            });
        }
    }
    Ok(Scan {
        header,
        live: sorter.finish()?,
        entries,
    })
}

/// Every checked entry of bucket `key` to `f`, in revision order, damage
/// skipped and recorded. Returns the entries accepted.
fn each_entry(
    db: &Db<'_>,
    damage: &mut Damage,
    mut f: impl FnMut(Revision, KeyValue<'_>) -> Result<()>,
) -> Result<u64> {
    let bucket = key_bucket(db)?;
    let mut entries = 0;
    let mut entry_damage = Damage::default();
    let mut on_damage = |e| damage.take(true, e);
    db.walk(&bucket, &mut on_damage, &mut |e| {
        let (rev, kv) = match check_entry(&e) {
            Ok(v) => v,
            Err(err) => return entry_damage.take(true, err).map(|_| false),
        };
        entries += 1;
        f(rev, kv)?;
        Ok(true)
    })?;
    damage.merge(entry_damage);
    Ok(entries)
}

/// What [`read_value`] found.
#[derive(Debug, Default)]
pub struct ValueRead {
    /// The key's newest version as of the revision asked for, unless that
    /// is a delete.
    pub value: Option<(Revision, Vec<u8>)>,
    /// The newest revision stored.
    pub newest: i64,
    /// Entries read and accepted.
    pub entries: u64,
}

/// The stored value of `key` as of `at` (the newest when `None`), skipping
/// damage. One pass, holding one value.
pub fn read_value(
    db: &Db<'_>,
    key: &[u8],
    at: Option<i64>,
    damage: &mut Damage,
) -> Result<ValueRead> {
    let mut read = ValueRead::default();
    read.entries = each_entry(db, damage, |rev, kv| {
        read.newest = read.newest.max(rev.main);
        if kv.key == key && at.is_none_or(|at| rev.main <= at) {
            read.value = Some((rev, kv.value.to_vec()));
        }
        Ok(())
    })?;
    read.value = read.value.filter(|(rev, _)| !rev.tombstone);
    Ok(read)
}

/// What [`read_versions`] found.
#[derive(Debug, Default)]
pub struct VersionsRead {
    /// The key's retained versions, oldest first (at most `keep`).
    pub versions: std::collections::VecDeque<Recorded>,
    /// The newest revision stored.
    pub newest: i64,
    /// Entries read and accepted.
    pub entries: u64,
}

/// Every retained version of `key` (puts and tombstones), oldest first, in
/// one pass over bucket `key`, skipping damage. Only this key's versions are
/// held, and of them at most the newest `keep` (all when `None`); versions
/// older than `floor` are dropped but the newest of them, which the oldest
/// shown version is diffed against.
pub fn read_versions(
    db: &Db<'_>,
    key: &[u8],
    keep: Option<usize>,
    floor: i64,
    damage: &mut Damage,
) -> Result<VersionsRead> {
    let mut read = VersionsRead::default();
    let mut versions = std::collections::VecDeque::new();
    read.entries = each_entry(db, damage, |rev, kv| {
        read.newest = read.newest.max(rev.main);
        if kv.key != key {
            return Ok(());
        }
        versions.push_back(Recorded {
            revision: rev.main,
            put: (!rev.tombstone).then(|| (kv.create_revision, kv.value.to_vec())),
        });
        if keep.is_some_and(|k| versions.len() > k) {
            versions.pop_front();
        }
        while versions.len() > 1 && versions.get(1).is_some_and(|r| r.revision < floor) {
            versions.pop_front();
        }
        Ok(())
    })?;
    read.versions = versions;
    Ok(read)
}

/// Every entry of bucket `key` to `tally` as a retained revision, and each
/// live key's newest version as current (sorted within the sorter's
/// budget), skipping damage. Returns the newest revision and the entries
/// read.
pub fn tally_history(
    db: &Db<'_>,
    tally: &mut HistoryTally,
    damage: &mut Damage,
) -> Result<(i64, u64)> {
    let mut sorter = Sorter::new();
    let mut newest = 0;
    let entries = each_entry(db, damage, |rev, kv| {
        newest = rev.main.max(newest);
        let size = (kv.key.len() + kv.value.len()) as u64;
        tally.retained_in_type(kv.key, size);
        sorter.push(kv.key, rev, size)
    })?;
    // Each key once, with its versions counted: only keys with old ones
    // take a counter of the top-keys sketch, as live.
    sorter.finish()?.each_key(|k, v| {
        let (old, old_bytes) = match v.deleted {
            true => (v.versions, v.bytes),
            false => {
                tally.current(k, v.latest.size);
                (v.versions - 1, v.bytes - v.latest.size)
            }
        };
        tally.old_many(k, old, old_bytes);
        Ok::<_, DbError>(())
    })?;
    Ok((newest, entries))
}

/// The type a key belongs to, as `count` labels it (`pods`,
/// `deployments.apps`; keys outside the prefix by their first segments),
/// and how it fits the Kubernetes layout.
pub fn type_of(key: &[u8], prefix: &str) -> (String, &'static str) {
    use registry::key::KeyKind;
    let info = registry::key::parse(key, prefix);
    let kind = match info.kind {
        KeyKind::Builtin => "builtin",
        KeyKind::Custom => "custom",
        KeyKind::Internal => "internal",
        KeyKind::Unknown => "unknown",
        KeyKind::Foreign => "other",
    };
    (info.type_name().to_string(), kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev_key(main: i64, sub: i64) -> Vec<u8> {
        let mut k = main.to_be_bytes().to_vec();
        k.push(b'_');
        k.extend(sub.to_be_bytes());
        k
    }

    fn entry<'a>(key: &'a [u8], value: &'a [u8]) -> Entry<'a> {
        Entry {
            page: 7,
            index: 3,
            key,
            value,
            bucket: false,
        }
    }

    #[test]
    fn revision_keys_parse_with_and_without_tombstone() {
        let mut k = rev_key(5, 2);
        assert_eq!(
            parse_revision(&k),
            Some(Revision {
                main: 5,
                sub: 2,
                tombstone: false
            })
        );
        k.push(b't');
        assert!(parse_revision(&k).unwrap().tombstone);
        assert_eq!(parse_revision(b"short"), None);
    }

    #[test]
    fn key_values_decode_key_revisions_and_value() {
        // key="/a", create_revision=2, mod_revision=5, value="xyz"
        let buf = [
            0x0a, 2, b'/', b'a', 0x10, 2, 0x18, 5, 0x2a, 3, b'x', b'y', b'z',
        ];
        let kv = parse_kv(&buf).unwrap();
        assert_eq!((kv.key, kv.value), (&b"/a"[..], &b"xyz"[..]));
        assert_eq!((kv.create_revision, kv.mod_revision), (2, 5));
        assert_eq!(parse_kv(&[0x0a, 9, 1]), None);
        // A fixed64 field cut short is not a KeyValue.
        assert_eq!(parse_kv(&[0x0a, 1, b'k', 0x09, 1, 2]), None);
    }

    #[test]
    fn entries_whose_key_and_value_disagree_are_damage_naming_the_page() {
        let value = [0x0a, 2, b'/', b'a', 0x10, 2, 0x18, 5, 0x2a, 0];
        let key = rev_key(5, 0);
        assert_eq!(check_entry(&entry(&key, &value)).unwrap().0.main, 5);
        // The revision key corrupted: its high byte flipped.
        let mut bad = key.clone();
        bad[1] ^= 0x80;
        let err = check_entry(&entry(&bad, &value)).unwrap_err();
        assert!(
            matches!(
                err,
                DbError::Entry {
                    page: 7,
                    index: 3,
                    problem: EntryProblem::ModRevision { value_rev: 5, .. }
                }
            ),
            "{err}"
        );
        assert!(err.to_string().starts_with("page 7, entry 3:"), "{err}");
        let err = check_entry(&entry(b"not-a-revision", &value)).unwrap_err();
        assert!(matches!(
            err,
            DbError::Entry {
                problem: EntryProblem::RevisionShape,
                ..
            }
        ));
        // A tombstone carries only the key.
        let mut tomb = rev_key(9, 0);
        tomb.push(b't');
        assert!(
            check_entry(&entry(&tomb, &[0x0a, 2, b'/', b'a']))
                .unwrap()
                .0
                .tombstone
        );
    }

    #[test]
    fn keys_are_grouped_by_resource_type() {
        let p = registry::key::DEFAULT_PREFIX;
        assert_eq!(
            type_of(b"/registry/pods/default/x", p),
            ("pods".into(), "builtin")
        );
        assert_eq!(
            type_of(b"/registry/deployments/default/d", p),
            ("deployments.apps".into(), "builtin")
        );
        assert_eq!(type_of(b"foo", p).1, "other");
    }
}
