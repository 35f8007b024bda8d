//! Snapshot files and member db files, read offline: the sha256 trailer etcd
//! appends to a snapshot stream, and the keyspace stored in the bbolt file
//! (bucket `key`: revision -> mvccpb.KeyValue; bucket `meta`).
//!
//! Memory stays flat in the file's size: the file is hashed through a fixed
//! buffer and the database is read a page at a time by position
//! ([`bolt`]); the live keys are sorted within a fixed budget, spilling
//! sorted runs to temporary files beyond it ([`sorter`]). No etcd, no
//! printing.

pub mod bolt;
pub mod error;
pub mod keyspace;
pub mod report;
pub mod sorter;

use std::fs::File;
use std::path::Path;

use serde::Serialize;

pub use bolt::{Db, Source};
pub use error::{DbError, Result};
pub use keyspace::{parse_revision, type_of, Damage, Header, Latest, Revision};
pub use report::{InspectReport, Readout, SnapshotInfo, TypeStat};

/// Length of the sha256 trailer of a snapshot stream.
pub const HASH_LEN: usize = 32;
/// Buffer for hashing the file: the only part of it held at once.
const HASH_BUF: usize = 1 << 20;

/// The integrity trailer of a snapshot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Integrity {
    /// The trailer matches the sha256 of the bytes before it.
    Verified,
    /// No trailer: a member's `member/snap/db`, or a snapshot saved without.
    NoHash,
}

/// A snapshot or db file opened for reading by position.
pub struct DbFile {
    pub(crate) src: Box<dyn Source + Send + Sync>,
    /// File size, trailer included.
    pub size: u64,
    /// The bbolt database's part of it.
    pub db_len: u64,
    trailer: Option<[u8; HASH_LEN]>,
}

impl Source for Vec<u8> {
    fn size(&self) -> u64 {
        self.as_slice().size()
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.as_slice().read_exact_at(buf, offset)
    }
}

impl DbFile {
    /// Open a file. Its layout must be whole pages, or whole pages plus a
    /// sha256 trailer: etcd streams the database and then the sha256 of
    /// what it sent. Anything else is truncated or not a snapshot.
    pub fn open(path: &Path) -> Result<DbFile> {
        let file = File::open(path).map_err(|io| DbError::Open { io })?;
        let meta = file.metadata().map_err(|io| DbError::Open { io })?;
        if !meta.is_file() {
            return Err(DbError::NotAFile);
        }
        DbFile::from_source(Box::new(file))
    }

    /// The same for bytes from anywhere (tests, fuzzing).
    pub fn from_source(src: Box<dyn Source + Send + Sync>) -> Result<DbFile> {
        let size = src.size();
        let (db_len, trailer) = if size % 512 == HASH_LEN as u64 && size > HASH_LEN as u64 {
            let db_len = size - HASH_LEN as u64;
            let mut t = [0u8; HASH_LEN];
            src.read_exact_at(&mut t, db_len)
                .map_err(|io| DbError::Read { offset: db_len, io })?;
            (db_len, Some(t))
        } else if size % 512 == 0 {
            (size, None)
        } else {
            return Err(DbError::Length { len: size });
        };
        Ok(DbFile {
            src,
            size,
            db_len,
            trailer,
        })
    }

    /// Check the trailer against the sha256 of the database bytes, read
    /// through a fixed buffer.
    pub fn verify(&self) -> Result<Integrity> {
        let Some(trailer) = self.trailer else {
            return Ok(Integrity::NoHash);
        };
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buf = vec![0u8; HASH_BUF];
        let mut offset = 0;
        while offset < self.db_len {
            let n = (self.db_len - offset).min(HASH_BUF as u64) as usize;
            self.src
                .read_exact_at(&mut buf[..n], offset)
                .map_err(|io| DbError::Read { offset, io })?;
            ctx.update(&buf[..n]);
            offset += n as u64;
        }
        let sum = ctx.finish();
        if sum.as_ref() != trailer {
            return Err(DbError::Checksum {
                len: self.db_len,
                computed: hex(sum.as_ref()),
                trailer: hex(&trailer),
            });
        }
        Ok(Integrity::Verified)
    }

    /// The trailer, in hex, when there is one.
    pub fn sha256(&self) -> Option<String> {
        self.trailer.map(|t| hex(&t))
    }

    /// The bbolt database in the file.
    pub fn db(&self) -> Result<Db<'_>> {
        Db::open(&*self.src, self.db_len)
    }
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Every offline read there is, on `data` as a file's bytes: what the
/// fuzz target calls. Returns the error that ended a strict read, if any;
/// never panics, whatever the bytes.
pub fn read_everything(data: &[u8]) -> Option<DbError> {
    let file = match DbFile::from_source(Box::new(data.to_vec())) {
        Ok(f) => f,
        Err(e) => return Some(e),
    };
    let _ = file.verify();
    let prefix = registry::key::DEFAULT_PREFIX;
    // Lenient: the summary, a listing and one value.
    if let Ok(db) = file.db() {
        let mut damage = Damage::default();
        let mut first = None;
        if let Ok(scan) = keyspace::scan(&db, &keyspace::ScanOptions::lenient(), &mut damage) {
            let _ = scan.live.for_each(|k, l| {
                if first.is_none() {
                    first = Some((k.to_vec(), *l));
                }
                let _ = type_of(k, prefix);
                Ok::<_, DbError>(())
            });
        }
        if let Some((key, latest)) = first {
            let _ = keyspace::read_value(&db, &key, Some(latest.revision.main), &mut damage);
            // `snapshot inspect --history`: that key's versions, bounded.
            let _ = keyspace::read_versions(&db, &key, Some(8), 0, &mut damage);
        }
        // `snapshot inspect --history-size`: every retained revision.
        let mut tally = crate::keyspace::history_size::HistoryTally::new(prefix, 5);
        let _ = keyspace::tally_history(&db, &mut tally, &mut damage);
    }
    report::examine_file(&file, Path::new("fuzz"), prefix).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_are_checked_and_odd_lengths_are_truncation() {
        let db = vec![7u8; 4096];
        let mut snap = db.clone();
        snap.extend(sha256(&db));
        let open = |b: &[u8]| DbFile::from_source(Box::new(b.to_vec()));
        assert_eq!(open(&snap).unwrap().verify().unwrap(), Integrity::Verified);
        assert_eq!(open(&db).unwrap().verify().unwrap(), Integrity::NoHash);
        let mut bad = snap.clone();
        bad[10] ^= 1;
        assert!(matches!(
            open(&bad).unwrap().verify(),
            Err(DbError::Checksum { len: 4096, .. })
        ));
        assert!(matches!(
            open(&snap[..3000]),
            Err(DbError::Length { len: 3000 })
        ));
    }

    #[test]
    fn hashing_spans_buffer_boundaries() {
        let db: Vec<u8> = (0..(HASH_BUF + 1536)).map(|i| (i % 251) as u8).collect();
        let mut snap = db.clone();
        snap.extend(sha256(&db));
        let f = DbFile::from_source(Box::new(snap)).unwrap();
        assert_eq!(f.verify().unwrap(), Integrity::Verified);
        assert_eq!(f.sha256(), Some(hex(&sha256(&db))));
    }

    #[test]
    fn a_missing_file_keeps_its_io_kind() {
        let e = DbFile::open(Path::new("/nonexistent/snap.db"))
            .err()
            .unwrap();
        assert_eq!(e.io_kind(), Some(std::io::ErrorKind::NotFound));
        let e = DbFile::open(Path::new("/")).err().unwrap();
        assert!(matches!(e, DbError::NotAFile));
    }

    /// A real snapshot from etcd 3.4: 30 configmaps put (one deleted, one
    /// updated), a pod, compacted at 5, newest revision 34.
    const SMALL: &[u8] = include_bytes!("testdata/etcd-3.4-small.db");

    fn retrailer(data: &mut [u8]) {
        let n = data.len() - HASH_LEN;
        let sum = sha256(&data[..n]);
        data[n..].copy_from_slice(&sum);
    }

    #[test]
    fn a_real_snapshot_reads_whole_with_deletes_honoured() {
        assert!(read_everything(SMALL).is_none());
        let file = DbFile::from_source(Box::new(SMALL.to_vec())).unwrap();
        let (info, report) =
            report::examine_file(&file, Path::new("small.db"), registry::key::DEFAULT_PREFIX)
                .unwrap();
        assert_eq!(info.integrity, Integrity::Verified);
        assert_eq!(info.revision, 34);
        assert_eq!(info.total_keys, 30);
        assert_eq!(info.compacted_revision, Some(5));
        assert_eq!(report.types[0].r#type, "configmaps");
        assert_eq!(report.types[0].keys, 29);
        // As of revision 32 the deleted configmap was still there.
        let db = file.db().unwrap();
        let opts = keyspace::ScanOptions {
            at: Some(32),
            ..keyspace::ScanOptions::strict()
        };
        let scan = keyspace::scan(&db, &opts, &mut Damage::default()).unwrap();
        let mut n = 0;
        scan.live
            .for_each(|_, _| {
                n += 1;
                Ok::<_, DbError>(())
            })
            .unwrap();
        assert_eq!(n, 31);
        let opts = keyspace::ScanOptions {
            at: Some(4),
            ..keyspace::ScanOptions::strict()
        };
        assert!(matches!(
            keyspace::scan(&db, &opts, &mut Damage::default()),
            Err(DbError::Compacted {
                at: 4,
                compacted: 5
            })
        ));
    }

    /// Every fifth byte of a real snapshot overwritten, one at a time, with
    /// the trailer recomputed so the walk sees the damage: an answer or an
    /// error every time, never a panic; and damage inside bucket `key` is
    /// caught, not passed on as a different keyspace.
    #[test]
    fn single_byte_damage_never_panics_and_key_entries_are_checked() {
        let mut errors = 0;
        for at in (0..SMALL.len() - HASH_LEN).step_by(5) {
            let mut data = SMALL.to_vec();
            data[at] ^= 0xa5;
            retrailer(&mut data);
            if read_everything(&data).is_some() {
                errors += 1;
            }
        }
        assert!(errors > 50, "{errors} damaged copies were errors");
    }

    #[test]
    fn garbage_is_an_error_for_every_reader() {
        assert!(read_everything(b"").is_some());
        assert!(read_everything(&[0u8; 8192]).is_some());
        assert!(read_everything(&[0x5au8; 4128]).is_some());
    }
}
