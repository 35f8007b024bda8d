//! What a compaction at the current revision would free: per type and for
//! the keys holding the most, the retained revisions beyond each key's
//! current version and the bytes they hold (`size --history` live,
//! `snapshot inspect --history-size` offline).
//!
//! Accounting: a revision holds its key plus its value bytes, as `size
//! --by-type` counts a current version; a deletion (tombstone) holds its
//! key. bbolt's own overhead per entry (the 17-byte revision key, the
//! protobuf framing of the KeyValue, the page element) is not counted, so
//! the figures are slightly below what the file gives back after a
//! compaction and a defrag.
//!
//! Memory: one tally per type, and for the top keys a Space-Saving sketch
//! of [`sketch_capacity`] counters (weighted by bytes). A map of every key
//! would grow with the keyspace; only old revisions feed the sketch, so it
//! is exact while fewer keys than its capacity have old revisions, and past
//! that a key's count is a lower bound, marked `approximate`. Offline, the
//! file's versions are reduced per key as the live keys are sorted
//! (`dbfile::sorter`), and each key with old versions is counted once.
//!
//! Live, the revisions retained are (etcd keeps, for each key, its newest
//! version at or before the compacted revision C, and everything after C):
//! 1. a values scan at revision C (each key's version there, page by page),
//! 2. a watch replayed from C+1 to the current revision R: every put and
//!    delete since, which etcd reads from its backend in batches and sends
//!    as it goes, so neither side holds the whole history; each event with
//!    the key's previous version, which that event made old (a deletion is
//!    old itself): only those feed the top-keys sketch, so a key never
//!    rewritten takes no counter, and the sketch is exact while fewer keys
//!    than its capacity have history, however many keys there are,
//! 3. a values scan at R: the current versions.
//!
//! A range read at one revision cannot list older revisions of a key, and
//! `min_mod_revision` only filters by the version current at the read; the
//! watch replay is the one bounded read of every retained revision.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use etcd_client::{EventType, WatchOptions};
use serde::Serialize;

use super::error::{Error, Result};
use crate::etcd::{classify, maintenance, Readers};
use crate::keyspace::count::TypeKind;
use crate::keyspace::scan::{scan, Page, ScanOptions};
use crate::output::percent;

/// What a compaction at `revision` would free.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HistorySize {
    /// The current revision (the newest in a file).
    pub revision: i64,
    /// Where the retained history starts; `null` if never compacted.
    pub compacted_revision: Option<i64>,
    /// Every revision held: current versions, old ones and deletions.
    pub retained_revisions: u64,
    pub current_keys: u64,
    pub current_bytes: u64,
    /// Revisions a compaction at `revision` would remove.
    pub old_revisions: u64,
    /// Key plus value bytes they hold.
    pub old_bytes: u64,
    /// The database's size in use (live: the largest member's; offline:
    /// `null`), to compare with.
    pub db_size_in_use: Option<u64>,
    /// The file's size (offline), to compare with.
    pub db_size: Option<u64>,
    /// `oldBytes` as a share of `dbSizeInUse` (else of `dbSize`).
    pub old_share_percent: Option<f64>,
    /// Most old bytes first.
    pub types: Vec<TypeHistory>,
    /// The keys holding the most old bytes, most first.
    pub top: Vec<KeyHistory>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TypeHistory {
    pub r#type: String,
    pub kind: TypeKind,
    pub old_revisions: u64,
    pub old_bytes: u64,
    pub current_keys: u64,
    pub current_bytes: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KeyHistory {
    pub key: String,
    pub r#type: String,
    pub old_revisions: u64,
    pub old_bytes: u64,
    /// Revisions before the key entered the sketch were not counted: the
    /// figures are a lower bound.
    pub approximate: bool,
}

#[derive(Debug, Default)]
struct TypeAcc {
    kind: Option<TypeKind>,
    retained: u64,
    retained_bytes: u64,
    current: u64,
    current_bytes: u64,
}

/// Counters the sketch keeps for `top` keys asked for.
pub fn sketch_capacity(top: usize) -> usize {
    (top * 64).max(1024)
}

/// Per-type totals and the top-keys sketch, fed revision by revision.
pub struct HistoryTally {
    prefix: String,
    top: usize,
    types: BTreeMap<String, TypeAcc>,
    sketch: Sketch,
}

impl HistoryTally {
    pub fn new(prefix: &str, top: usize) -> HistoryTally {
        HistoryTally {
            prefix: prefix.to_string(),
            top,
            types: BTreeMap::new(),
            sketch: Sketch::new(sketch_capacity(top)),
        }
    }

    fn acc(&mut self, key: &[u8]) -> &mut TypeAcc {
        let info = registry::key::parse(key, &self.prefix);
        let t = self.types.entry(info.type_name().to_string()).or_default();
        t.kind.get_or_insert(TypeKind::from(info.kind));
        t
    }

    /// One retained revision of `key`, for the per-type totals only: the
    /// top keys hear of old revisions through [`Self::old`] (live) or
    /// [`Self::old_many`] (offline).
    pub fn retained_in_type(&mut self, key: &[u8], bytes: u64) {
        let t = self.acc(key);
        t.retained += 1;
        t.retained_bytes += bytes;
    }

    /// One revision known to be old (a version a later one replaced, or a
    /// deletion), for the top keys only.
    pub fn old(&mut self, key: &[u8], bytes: u64) {
        self.sketch.insert(key, bytes, None);
    }

    /// `revisions` old revisions of `key` holding `bytes`, counted
    /// elsewhere (offline: each key once, its versions reduced), for the
    /// top keys only; nothing when there are none.
    pub fn old_many(&mut self, key: &[u8], revisions: u64, bytes: u64) {
        if revisions > 0 {
            self.sketch.insert_many(key, revisions, bytes);
        }
    }

    /// One current version (each key once).
    pub fn current(&mut self, key: &[u8], bytes: u64) {
        let t = self.acc(key);
        t.current += 1;
        t.current_bytes += bytes;
    }

    pub fn finish(self, revision: i64, compacted_revision: Option<i64>) -> HistorySize {
        let mut types: Vec<TypeHistory> = self
            .types
            .into_iter()
            .map(|(name, t)| TypeHistory {
                r#type: name,
                kind: t.kind.unwrap_or(TypeKind::Other),
                old_revisions: t.retained.saturating_sub(t.current),
                old_bytes: t.retained_bytes.saturating_sub(t.current_bytes),
                current_keys: t.current,
                current_bytes: t.current_bytes,
            })
            .collect();
        types.sort_by(|a, b| b.old_bytes.cmp(&a.old_bytes).then(a.r#type.cmp(&b.r#type)));
        let sum = |f: fn(&TypeHistory) -> u64| types.iter().map(f).sum::<u64>();
        let (old_revisions, old_bytes) = (sum(|t| t.old_revisions), sum(|t| t.old_bytes));
        let (current_keys, current_bytes) = (sum(|t| t.current_keys), sum(|t| t.current_bytes));
        let prefix = self.prefix;
        let top = self
            .sketch
            .top(self.top)
            .into_iter()
            .map(|c| KeyHistory {
                r#type: registry::key::parse(&c.key, &prefix)
                    .type_name()
                    .to_string(),
                key: String::from_utf8_lossy(&c.key).into_owned(),
                old_revisions: c.old_revisions(),
                old_bytes: c.old_bytes(),
                approximate: c.inherited > 0,
            })
            .collect();
        HistorySize {
            revision,
            compacted_revision,
            retained_revisions: old_revisions + current_keys,
            current_keys,
            current_bytes,
            old_revisions,
            old_bytes,
            db_size_in_use: None,
            db_size: None,
            old_share_percent: None,
            types,
            top,
        }
    }
}

impl HistorySize {
    /// Set what the old bytes are compared with.
    pub fn compare_with(&mut self, in_use: Option<u64>, size: Option<u64>) {
        self.db_size_in_use = in_use;
        self.db_size = size;
        self.old_share_percent = in_use
            .or(size)
            .filter(|d| *d > 0)
            .map(|d| percent(self.old_bytes, d));
    }
}

/// One key's revisions since it entered the sketch.
#[derive(Debug, Clone)]
struct Counter {
    key: Vec<u8>,
    revisions: u64,
    bytes: u64,
    /// The weight of the key it replaced (Space-Saving's error bound).
    inherited: u64,
    /// The size of its newest revision, `None` when that is a deletion.
    last: Option<u64>,
}

impl Counter {
    fn weight(&self) -> u64 {
        self.bytes + self.inherited
    }
    fn old_revisions(&self) -> u64 {
        self.revisions - u64::from(self.last.is_some())
    }
    fn old_bytes(&self) -> u64 {
        self.bytes - self.last.unwrap_or(0)
    }
}

/// Space-Saving (Metwally et al.) weighted by bytes: at most `capacity`
/// keys; a new key replaces the lightest and inherits its weight.
struct Sketch {
    capacity: usize,
    counters: Vec<Counter>,
    index: HashMap<Vec<u8>, usize>,
    by_weight: BTreeSet<(u64, usize)>,
}

impl Sketch {
    fn new(capacity: usize) -> Sketch {
        Sketch {
            capacity: capacity.max(1),
            counters: Vec::new(),
            index: HashMap::new(),
            by_weight: BTreeSet::new(),
        }
    }

    /// One revision of `bytes`; `last`: the size it leaves as the key's
    /// newest version (the current one unless a later revision comes),
    /// `None` when it is a deletion or known to be old.
    fn insert(&mut self, key: &[u8], bytes: u64, last: Option<u64>) {
        self.insert_counted(key, 1, bytes, last);
    }

    /// `revisions` old revisions holding `bytes` at once.
    fn insert_many(&mut self, key: &[u8], revisions: u64, bytes: u64) {
        self.insert_counted(key, revisions, bytes, None);
    }

    fn insert_counted(&mut self, key: &[u8], revisions: u64, bytes: u64, last: Option<u64>) {
        let i = match self.index.get(key) {
            Some(&i) => {
                let c = &mut self.counters[i];
                self.by_weight.remove(&(c.weight(), i));
                c.revisions += revisions;
                c.bytes += bytes;
                c.last = last;
                i
            }
            None => {
                let fresh = |inherited| Counter {
                    key: key.to_vec(),
                    revisions,
                    bytes,
                    inherited,
                    last,
                };
                if self.counters.len() < self.capacity {
                    self.counters.push(fresh(0));
                    self.counters.len() - 1
                } else {
                    let Some((w, i)) = self.by_weight.pop_first() else {
                        return;
                    };
                    self.index.remove(&self.counters[i].key);
                    self.counters[i] = fresh(w);
                    i
                }
            }
        };
        self.index.insert(key.to_vec(), i);
        self.by_weight.insert((self.counters[i].weight(), i));
    }

    /// The `n` keys with the most old bytes (ties by key), those with none
    /// left out.
    fn top(self, n: usize) -> Vec<Counter> {
        let mut all: Vec<Counter> = self
            .counters
            .into_iter()
            .filter(|c| c.old_bytes() > 0 || c.old_revisions() > 0)
            .collect();
        all.sort_by(|a, b| b.old_bytes().cmp(&a.old_bytes()).then(a.key.cmp(&b.key)));
        all.truncate(n);
        all
    }
}

/// The whole keyspace, for the scans.
const ALL: &[u8] = b"\0";

/// Live: every retained revision in three bounded reads (see the module
/// doc). `note` hears each phase.
pub async fn measure(
    readers: &Readers,
    prefix: &str,
    top: usize,
    mut note: impl FnMut(&str),
) -> Result<HistorySize> {
    let client = readers.primary();
    let mut kv = client.kv();
    let head = client.call(kv.get(ALL, None)).await?;
    let revision = head.header().map(|h| h.revision()).unwrap_or_default();
    let compacted = maintenance::compacted_revision(client).await?;
    let mut tally = HistoryTally::new(prefix, top);
    let at = |revision| {
        let mut o = ScanOptions::values();
        o.revision = revision;
        o.page_keys = 5000;
        o
    };
    let moved = |now| crate::error::Error::from(Error::CompactedWhileMeasured { now });
    if let Some(c) = compacted {
        note(&format!(
            "reading the versions kept at the compacted revision {c}"
        ));
        scan(readers, prefix, ALL, ALL, at(c), |page| match page {
            Page::Keys(kvs) => {
                for kv in kvs {
                    tally.retained_in_type(kv.key(), (kv.key().len() + kv.value().len()) as u64);
                }
                Ok(())
            }
            Page::Restart { now } | Page::Resumed { now, .. } => Err(moved(now)),
        })
        .await?;
    }
    let from = compacted.unwrap_or(0) + 1;
    if from <= revision {
        note(&format!("replaying revisions {from} to {revision}"));
        replay(readers, from, revision, &mut tally).await?;
    }
    note(&format!(
        "reading the current versions at revision {revision}"
    ));
    scan(readers, prefix, ALL, ALL, at(revision), |page| match page {
        Page::Keys(kvs) => {
            for kv in kvs {
                tally.current(kv.key(), (kv.key().len() + kv.value().len()) as u64);
            }
            Ok(())
        }
        Page::Restart { now } | Page::Resumed { now, .. } => Err(moved(now)),
    })
    .await?;
    Ok(tally.finish(revision, compacted))
}

/// Every put and delete from `from` to `until` (inclusive), from a watch on
/// the whole keyspace that etcd replays from its backend.
///
/// Fragmented: without it etcd sends a batch of up to 1,000 revisions as one
/// message however large (a 64 MiB batch costs the client twice that to
/// decode); with it no message exceeds etcd's request size limit (1.5 MiB
/// by default). The client cannot see which message ends a revision split
/// into fragments, so the replay ends at the first event after `until`,
/// or once the stream has been quiet for [`QUIET`] after reaching `until`
/// (fragments of one revision are sent back to back).
async fn replay(readers: &Readers, from: i64, until: i64, tally: &mut HistoryTally) -> Result<()> {
    let client = readers.primary();
    let opts = WatchOptions::new()
        .with_start_revision(from)
        .with_all_keys()
        .with_prev_key()
        .with_fragment();
    let mut w = client.watch();
    let mut stream = client.call(w.watch(ALL, Some(opts))).await?;
    // Silence this long before `until` means etcd stopped sending.
    let stalled = client.command_timeout.max(Duration::from_secs(30));
    let mut reached = false;
    loop {
        let wait = if reached { QUIET } else { stalled };
        let resp = match tokio::time::timeout(wait, stream.message()).await {
            Err(_) if reached => return Ok(()),
            Err(_) => return Err(Error::ReplayStalled { from, until }),
            Ok(Err(e)) => return Err(Error::Etcd(classify(&e))),
            Ok(Ok(None)) => return Err(Error::WatchClosed),
            Ok(Ok(Some(resp))) => resp,
        };
        if resp.canceled() {
            return Err(Error::CompactedWhileMeasured {
                now: resp.compact_revision(),
            });
        }
        for ev in resp.events() {
            let Some(kv) = ev.kv() else { continue };
            if kv.mod_revision() > until {
                return Ok(());
            }
            reached |= kv.mod_revision() == until;
            let size = |kv: &etcd_client::KeyValue| (kv.key().len() + kv.value().len()) as u64;
            tally.retained_in_type(kv.key(), size(kv));
            // The version this event replaced is old now; so is a deletion.
            if let Some(prev) = ev.prev_kv() {
                tally.old(prev.key(), size(prev));
            }
            if ev.event_type() == EventType::Delete {
                tally.old(kv.key(), size(kv));
            }
        }
    }
}

/// How long the replay waits for more fragments of the last revision.
const QUIET: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/registry";

    #[test]
    fn a_key_rewritten_holds_its_old_versions_and_a_deleted_key_all_of_them() {
        let mut t = HistoryTally::new(P, 10);
        let k = b"/registry/configmaps/default/a";
        for size in [100, 200, 300] {
            t.retained_in_type(k, size);
        }
        t.old(k, 100);
        t.old(k, 200);
        t.current(k, 300);
        let d = b"/registry/secrets/default/gone";
        for size in [50, d.len() as u64] {
            t.retained_in_type(d, size);
            t.old(d, size);
        }
        let h = t.finish(9, None);
        assert_eq!(
            (h.old_revisions, h.old_bytes),
            (4, 300 + 50 + d.len() as u64)
        );
        assert_eq!((h.current_keys, h.retained_revisions), (1, 5));
        let cm = h.types.iter().find(|t| t.r#type == "configmaps").unwrap();
        assert_eq!((cm.old_revisions, cm.old_bytes), (2, 300));
        assert_eq!(h.top[0].key, "/registry/configmaps/default/a");
        assert_eq!((h.top[0].old_revisions, h.top[0].old_bytes), (2, 300));
        assert_eq!(h.top[1].old_revisions, 2);
        assert!(!h.top[0].approximate);
    }

    #[test]
    fn live_only_old_revisions_take_counters_so_many_quiet_keys_leave_the_top_exact() {
        let mut t = HistoryTally::new(P, 1);
        // Far more keys than the sketch holds, each one version.
        for i in 0..5000 {
            let k = format!("/registry/pods/default/p{i}");
            t.retained_in_type(k.as_bytes(), 10);
            t.current(k.as_bytes(), 10);
        }
        let k = b"/registry/configmaps/default/hot";
        for size in [100, 200, 300] {
            t.retained_in_type(k, size);
        }
        t.old(k, 100);
        t.old(k, 200);
        t.current(k, 300);
        let h = t.finish(9, Some(1));
        assert_eq!((h.old_revisions, h.old_bytes), (2, 300));
        assert_eq!(h.top.len(), 1);
        assert_eq!(h.top[0].key, "/registry/configmaps/default/hot");
        assert_eq!((h.top[0].old_revisions, h.top[0].old_bytes), (2, 300));
        assert!(!h.top[0].approximate);
    }

    #[test]
    fn the_sketch_keeps_the_heavy_key_within_its_capacity() {
        let mut s = Sketch::new(4);
        for i in 0..1000u32 {
            s.insert(format!("light-{i}").as_bytes(), 1, None);
            s.insert(b"heavy", 10, None);
        }
        assert_eq!(s.counters.len(), 4);
        let top = s.top(1);
        assert_eq!(top[0].key, b"heavy");
        assert_eq!(top[0].revisions, 1000);
        assert_eq!(top[0].old_bytes(), 10000);
    }
}
