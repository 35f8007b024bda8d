//! The live keys of a keyspace, in key order, within a fixed memory budget.
//!
//! Bucket `key` is ordered by revision, so a key's versions are spread over
//! the whole file; which one is newest (and whether it is a delete) is only
//! known once every version has been seen. Versions are collected up to a
//! budget, sorted by key, reduced to the newest per key and, past the
//! budget, written to an anonymous temporary file as a sorted run; the runs
//! are merged at the end. A keyspace that fits the budget never touches
//! the disk.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

use super::error::{DbError, Result};
use super::keyspace::{Latest, Revision};

/// Bytes of versions held before a run goes to disk.
pub const RUN_BUDGET: usize = 16 << 20;
/// What one version costs besides its key bytes (the record, the key's
/// allocation).
const RECORD_OVERHEAD: usize = 80;
/// Read buffer per run while merging.
const MERGE_BUF: usize = 16 << 10;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Record {
    key: Vec<u8>,
    rev: Revision,
    size: u64,
    /// Versions of the key seen up to this one, this one included, and
    /// the bytes they hold (kept as versions are reduced to the newest).
    versions: u64,
    bytes: u64,
}

impl Record {
    /// Reduce `older` and `newer` versions of one key to the newer,
    /// counting both.
    fn absorb(newer: Record, older: &Record) -> Record {
        Record {
            versions: newer.versions + older.versions,
            bytes: newer.bytes + older.bytes,
            ..newer
        }
    }
}

/// Collects versions; [`Sorter::finish`] gives the live keys.
pub struct Sorter {
    run: Vec<Record>,
    bytes: usize,
    budget: usize,
    runs: Vec<File>,
}

impl Default for Sorter {
    fn default() -> Self {
        Sorter::new()
    }
}

impl Sorter {
    pub fn new() -> Sorter {
        Sorter::with_budget(RUN_BUDGET)
    }

    pub fn with_budget(budget: usize) -> Sorter {
        Sorter {
            run: Vec::new(),
            bytes: 0,
            budget,
            runs: Vec::new(),
        }
    }

    /// One version of `key`.
    pub fn push(&mut self, key: &[u8], rev: Revision, size: u64) -> Result<()> {
        self.bytes += key.len() + RECORD_OVERHEAD;
        self.run.push(Record {
            key: key.to_vec(),
            rev,
            size,
            versions: 1,
            bytes: size,
        });
        if self.bytes > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorted runs written to disk so far (for tests and reports).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    fn spill(&mut self) -> Result<()> {
        let spill = |io| DbError::Spill { io };
        newest_per_key(&mut self.run);
        let mut w = BufWriter::new(tempfile::tempfile().map_err(spill)?);
        for r in self.run.drain(..) {
            write_record(&mut w, &r).map_err(spill)?;
        }
        let mut f = w.into_inner().map_err(|e| spill(e.into_error()))?;
        f.rewind().map_err(spill)?;
        self.runs.push(f);
        self.bytes = 0;
        Ok(())
    }

    pub fn finish(mut self) -> Result<LiveKeys> {
        if self.runs.is_empty() {
            newest_per_key(&mut self.run);
            return Ok(LiveKeys(Inner::Memory(self.run)));
        }
        if !self.run.is_empty() {
            self.spill()?;
        }
        Ok(LiveKeys(Inner::Runs(self.runs)))
    }
}

/// Sort by key then revision and keep each key's newest version.
fn newest_per_key(run: &mut Vec<Record>) {
    run.sort_unstable_by(|a, b| a.key.cmp(&b.key).then(a.rev.cmp(&b.rev)));
    // `dedup_by` drops the later of two equal neighbours: move the newer
    // into the one kept first.
    run.dedup_by(|later, earlier| {
        if later.key == earlier.key {
            *earlier = Record::absorb(later.clone(), earlier);
            true
        } else {
            false
        }
    });
}

fn write_record(w: &mut impl Write, r: &Record) -> io::Result<()> {
    w.write_all(&(r.key.len() as u32).to_le_bytes())?;
    w.write_all(&r.key)?;
    w.write_all(&r.rev.main.to_le_bytes())?;
    w.write_all(&r.rev.sub.to_le_bytes())?;
    w.write_all(&[u8::from(r.rev.tombstone)])?;
    w.write_all(&r.size.to_le_bytes())?;
    w.write_all(&r.versions.to_le_bytes())?;
    w.write_all(&r.bytes.to_le_bytes())
}

fn read_record(r: &mut impl Read) -> io::Result<Option<Record>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let mut key = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut key)?;
    let mut rest = [0u8; 41];
    r.read_exact(&mut rest)?;
    let i64_at = |o: usize| i64::from_le_bytes(rest[o..o + 8].try_into().expect("8 bytes"));
    let u64_at = |o: usize| u64::from_le_bytes(rest[o..o + 8].try_into().expect("8 bytes"));
    Ok(Some(Record {
        key,
        rev: Revision {
            main: i64_at(0),
            sub: i64_at(8),
            tombstone: rest[16] != 0,
        },
        size: u64_at(17),
        versions: u64_at(25),
        bytes: u64_at(33),
    }))
}

/// The live keys (newest version not a delete), in key order.
pub struct LiveKeys(Inner);

enum Inner {
    Memory(Vec<Record>),
    Runs(Vec<File>),
}

/// One key's versions in the file, reduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVersions {
    /// The newest version.
    pub latest: Latest,
    /// Whether the newest version is a deletion (the key is not live).
    pub deleted: bool,
    /// Every version of the key in the file (deletions too), and the key
    /// plus value bytes they hold.
    pub versions: u64,
    pub bytes: u64,
}

impl LiveKeys {
    /// Every live key with its newest version, in key order.
    pub fn for_each<E: From<DbError>>(
        self,
        mut f: impl FnMut(&[u8], &Latest) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.each_key(|k, v| match v.deleted {
            true => Ok(()),
            false => f(k, &v.latest),
        })
    }

    /// Every key with a version in the file, deleted ones too, in key
    /// order, with how many versions it has.
    pub fn each_key<E: From<DbError>>(
        self,
        mut f: impl FnMut(&[u8], &KeyVersions) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut emit = |r: &Record| {
            f(
                &r.key,
                &KeyVersions {
                    latest: Latest {
                        revision: r.rev,
                        size: r.size,
                    },
                    deleted: r.rev.tombstone,
                    versions: r.versions,
                    bytes: r.bytes,
                },
            )
        };
        let runs = match self.0 {
            Inner::Memory(run) => return run.iter().try_for_each(emit),
            Inner::Runs(runs) => runs,
        };
        let spill = |io| E::from(DbError::Spill { io });
        let mut readers: Vec<_> = runs
            .into_iter()
            .map(|f| BufReader::with_capacity(MERGE_BUF, f))
            .collect();
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(rec) = read_record(r).map_err(spill)? {
                heap.push(Reverse((rec, i)));
            }
        }
        // The heap yields a key's versions oldest first: the last one of a
        // key is its newest.
        let mut current: Option<Record> = None;
        while let Some(Reverse((rec, i))) = heap.pop() {
            if let Some(next) = read_record(&mut readers[i]).map_err(spill)? {
                heap.push(Reverse((next, i)));
            }
            match &mut current {
                Some(cur) if cur.key == rec.key => *cur = Record::absorb(rec, cur),
                _ => {
                    if let Some(done) = current.replace(rec) {
                        emit(&done)?;
                    }
                }
            }
        }
        match current {
            Some(done) => emit(&done),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(main: i64, tombstone: bool) -> Revision {
        Revision {
            main,
            sub: 0,
            tombstone,
        }
    }

    fn live(s: Sorter) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        s.finish()
            .unwrap()
            .for_each(|k, l| {
                out.push((String::from_utf8_lossy(k).into_owned(), l.revision.main));
                Ok::<_, DbError>(())
            })
            .unwrap();
        out
    }

    /// Versions in revision order, as bucket `key` holds them: key `k{i%n}`
    /// at revision i, every seventh a delete.
    fn feed(s: &mut Sorter, versions: i64, keys: i64) {
        for i in 1..=versions {
            let key = format!("k{:04}", i % keys);
            s.push(key.as_bytes(), rev(i, i % 7 == 0), 10).unwrap();
        }
    }

    #[test]
    fn spilled_runs_merge_to_what_memory_gives() {
        let mut small = Sorter::with_budget(2_000);
        feed(&mut small, 3_000, 500);
        assert!(small.runs() > 10, "{} runs", small.runs());
        let mut big = Sorter::new();
        feed(&mut big, 3_000, 500);
        assert_eq!(big.runs(), 0);
        let (a, b) = (live(small), live(big));
        assert_eq!(a, b);
        // Each key's newest version, deletes dropped.
        let expected = (1..=500)
            .map(|k| 3_000 - (3_000 - k) % 500)
            .filter(|newest| newest % 7 != 0)
            .count();
        assert_eq!(a.len(), expected);
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn every_key_keeps_its_count_of_versions_across_runs() {
        let count = |s: Sorter| {
            let mut out = Vec::new();
            s.finish()
                .unwrap()
                .each_key(|k, v| {
                    out.push((k.to_vec(), v.versions, v.bytes, v.deleted));
                    Ok::<_, DbError>(())
                })
                .unwrap();
            out
        };
        let mut small = Sorter::with_budget(2_000);
        feed(&mut small, 3_000, 500);
        let mut big = Sorter::new();
        feed(&mut big, 3_000, 500);
        let (a, b) = (count(small), count(big));
        assert_eq!(a, b);
        assert_eq!(a.len(), 500);
        assert!(
            a.iter().all(|(_, v, bytes, _)| *v == 6 && *bytes == 60),
            "{a:?}"
        );
        assert_eq!(
            a.iter().filter(|(.., deleted)| *deleted).count(),
            500 - live({
                let mut s = Sorter::new();
                feed(&mut s, 3_000, 500);
                s
            })
            .len()
        );
    }

    #[test]
    fn a_delete_in_a_later_run_hides_an_older_version() {
        let mut s = Sorter::with_budget(1);
        s.push(b"a", rev(2, false), 1).unwrap();
        s.push(b"a", rev(3, true), 0).unwrap();
        s.push(b"b", rev(4, false), 1).unwrap();
        assert_eq!(live(s), vec![("b".to_string(), 4)]);
    }
}
