//! Snapshot and member db files, read offline: the sha256 trailer etcd
//! appends to a snapshot stream, and the keyspace stored in the bbolt file
//! (bucket `key`: revision -> mvccpb.KeyValue; bucket `meta`).
//!
//! Pure: works on bytes already read; no etcd, no printing.

pub mod bolt;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::error::{Error, Result};

/// Length of the sha256 trailer of a snapshot stream.
pub const HASH_LEN: usize = 32;

/// The integrity trailer of a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Integrity {
    /// The trailer matches the sha256 of the bytes before it.
    Verified,
    /// No trailer: a member's `member/snap/db`, or a snapshot saved without.
    NoHash,
}

/// Split a file into its bbolt part and check the trailer when there is
/// one: etcd streams the database and then the sha256 of what it sent, so a
/// snapshot is a whole number of pages plus 32 bytes. Anything else is
/// truncated or not a snapshot.
pub fn check_integrity(data: &[u8]) -> Result<(&[u8], Integrity)> {
    if data.len() % 512 == HASH_LEN && data.len() > HASH_LEN {
        let (db, trailer) = data.split_at(data.len() - HASH_LEN);
        let sum = sha256(db);
        if sum.as_slice() != trailer {
            return Err(Error::data(format!(
                "integrity check failed: sha256 of the {} data bytes is {}, the trailer says {}",
                db.len(),
                hex(&sum),
                hex(trailer)
            ))
            .with_hint("the file is corrupt or was modified: take a new snapshot"));
        }
        return Ok((db, Integrity::Verified));
    }
    if data.len() % 512 == 0 {
        return Ok((data, Integrity::NoHash));
    }
    Err(Error::data(format!(
        "{} bytes is neither whole pages nor whole pages plus a sha256 trailer: \
         the file is truncated or not an etcd snapshot",
        data.len()
    ))
    .with_hint("a snapshot cut off mid-way cannot be used: take a new one"))
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

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

/// The key (field 1) and value length (field 5) of an mvccpb.KeyValue.
pub fn kv_key_and_value_len(buf: &[u8]) -> Option<(&[u8], usize)> {
    kv_key_and_value(buf).map(|(k, v)| (k, v.len()))
}

/// The key (field 1) and value (field 5) of an mvccpb.KeyValue.
pub fn kv_key_and_value(buf: &[u8]) -> Option<(&[u8], &[u8])> {
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
    let mut key: Option<&[u8]> = None;
    let mut value: &[u8] = &[];
    while pos < buf.len() {
        let tag = varint(buf, &mut pos)?;
        match tag & 7 {
            0 => {
                varint(buf, &mut pos)?;
            }
            2 => {
                let len = varint(buf, &mut pos)? as usize;
                let bytes = buf.get(pos..pos.checked_add(len)?)?;
                pos += len;
                match tag >> 3 {
                    1 => key = Some(bytes),
                    5 => value = bytes,
                    _ => {}
                }
            }
            1 => pos += 8,
            5 => pos += 4,
            _ => return None,
        }
    }
    Some((key?, value))
}

/// The stored value of `key` at `revision` (its newest version at or before
/// it), or `None` when the key does not exist then.
pub fn read_value(db_bytes: &[u8], key: &[u8], revision: Revision) -> Result<Option<Vec<u8>>> {
    if revision.tombstone {
        return Ok(None);
    }
    let db = bolt::Db::open(db_bytes).map_err(corrupt)?;
    let bucket = db
        .bucket(b"key")
        .map_err(corrupt)?
        .ok_or_else(|| Error::data("no `key` bucket: this bbolt file is not an etcd database"))?;
    let mut found = None;
    db.walk(&bucket, &mut |k, v, _| {
        if found.is_none() && parse_revision(k) == Some(revision) {
            if let Some((k, value)) = kv_key_and_value(v) {
                if k == key {
                    found = Some(value.to_vec());
                }
            }
        }
        Ok(())
    })
    .map_err(corrupt)?;
    Ok(found)
}

/// The newest version of one key.
#[derive(Debug, Clone)]
pub struct Latest {
    pub revision: Revision,
    /// Key plus value bytes.
    pub size: u64,
}

/// The keyspace of a snapshot as of a revision.
#[derive(Debug, Clone)]
pub struct Keyspace {
    /// Live keys (deletions honoured) with their newest version.
    pub keys: BTreeMap<Vec<u8>, Latest>,
    /// Highest main revision stored (at least the compaction revision).
    pub revision: i64,
    pub consistent_index: Option<u64>,
    /// etcd's `finishedCompactRev`, when recorded.
    pub compacted_revision: Option<i64>,
    /// etcd's `storageVersion` (3.6+), when recorded.
    pub storage_version: Option<String>,
}

fn corrupt(e: bolt::BoltError) -> Error {
    Error::data(format!("not a readable etcd database: {e}"))
        .with_hint("the file is corrupt, truncated, or not an etcd snapshot or member db")
}

/// Read the keyspace from a bbolt file (without trailer), as of `at` (the
/// newest revision when `None`).
pub fn read_keyspace(db_bytes: &[u8], at: Option<i64>) -> Result<Keyspace> {
    let db = bolt::Db::open(db_bytes).map_err(corrupt)?;
    let key_bucket = db
        .bucket(b"key")
        .map_err(corrupt)?
        .ok_or_else(|| Error::data("no `key` bucket: this bbolt file is not an etcd database"))?;
    let mut newest: HashMap<Vec<u8>, (Revision, u64)> = HashMap::new();
    let mut revision = 0;
    let mut bad = 0usize;
    db.walk(&key_bucket, &mut |k, v, _| {
        let Some(rev) = parse_revision(k) else {
            bad += 1;
            return Ok(());
        };
        revision = revision.max(rev.main);
        if at.is_some_and(|at| rev.main > at) {
            return Ok(());
        }
        let Some((key, vlen)) = kv_key_and_value_len(v) else {
            bad += 1;
            return Ok(());
        };
        let size = (key.len() + vlen) as u64;
        match newest.get_mut(key) {
            Some(cur) if cur.0 >= rev => {}
            Some(cur) => *cur = (rev, size),
            None => {
                newest.insert(key.to_vec(), (rev, size));
            }
        }
        Ok(())
    })
    .map_err(corrupt)?;
    if bad > 0 {
        return Err(Error::data(format!(
            "{bad} entries of bucket `key` are not etcd revisions or key-values"
        )));
    }
    let mut consistent_index = None;
    let mut compacted_revision = None;
    let mut storage_version = None;
    if let Some(meta) = db.bucket(b"meta").map_err(corrupt)? {
        db.walk(&meta, &mut |k, v, _| {
            match k {
                b"consistent_index" if v.len() == 8 => {
                    consistent_index = Some(u64::from_be_bytes(v.try_into().expect("8")))
                }
                b"finishedCompactRev" if v.len() == 17 || v.len() == 18 => {
                    compacted_revision = parse_revision(v).map(|r| r.main)
                }
                b"storageVersion" => {
                    storage_version = Some(String::from_utf8_lossy(v).into_owned())
                }
                _ => {}
            }
            Ok(())
        })
        .map_err(corrupt)?;
    }
    if let (Some(at), Some(c)) = (at, compacted_revision) {
        if at < c {
            return Err(Error::data(format!(
                "revision {at} was compacted (the history starts at {c})"
            )));
        }
    }
    // A compaction that removed every old revision leaves the bucket
    // without the newest revision; the compaction point still bounds it.
    let revision = revision.max(compacted_revision.unwrap_or(0));
    let keys = newest
        .into_iter()
        .filter(|(_, (rev, _))| !rev.tombstone)
        .map(|(k, (revision, size))| (k, Latest { revision, size }))
        .collect();
    Ok(Keyspace {
        keys,
        revision,
        consistent_index,
        compacted_revision,
        storage_version,
    })
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

/// Count and bytes (key plus value) per resource type.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TypeStat {
    pub r#type: String,
    pub kind: &'static str,
    pub keys: u64,
    pub bytes: u64,
}

/// Per-type totals, biggest first.
pub fn by_type(ks: &Keyspace, prefix: &str) -> Vec<TypeStat> {
    let mut m: BTreeMap<String, TypeStat> = BTreeMap::new();
    for (k, l) in &ks.keys {
        let (t, kind) = type_of(k, prefix);
        let e = m.entry(t.clone()).or_insert(TypeStat {
            r#type: t,
            kind,
            keys: 0,
            bytes: 0,
        });
        e.keys += 1;
        e.bytes += l.size;
    }
    let mut v: Vec<TypeStat> = m.into_values().collect();
    v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.r#type.cmp(&b.r#type)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_keys_parse_with_and_without_tombstone() {
        let mut k = 5i64.to_be_bytes().to_vec();
        k.push(b'_');
        k.extend(2i64.to_be_bytes());
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
    fn key_values_decode_key_and_value_length() {
        // key="/a" (field 1), create_revision=2 (field 2), value="xyz" (field 5)
        let buf = [0x0a, 2, b'/', b'a', 0x10, 2, 0x2a, 3, b'x', b'y', b'z'];
        assert_eq!(kv_key_and_value_len(&buf), Some((&b"/a"[..], 3)));
        assert_eq!(kv_key_and_value_len(&[0x0a, 9, 1]), None);
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

    #[test]
    fn trailers_are_checked_and_odd_lengths_are_truncation() {
        let db = vec![7u8; 4096];
        let mut snap = db.clone();
        snap.extend(sha256(&db));
        assert_eq!(check_integrity(&snap).unwrap().1, Integrity::Verified);
        assert_eq!(check_integrity(&db).unwrap().1, Integrity::NoHash);
        let mut bad = snap.clone();
        bad[10] ^= 1;
        assert!(check_integrity(&bad)
            .unwrap_err()
            .message
            .contains("integrity"));
        let cut = &snap[..3000];
        assert_eq!(
            check_integrity(cut).unwrap_err().kind,
            crate::error::Kind::Data
        );
    }
}
