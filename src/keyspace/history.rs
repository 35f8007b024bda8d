//! One object's retained history, newest first: every version etcd still
//! holds, who changed it and when (from `managedFields`), and the field diff
//! from the version before (the diff engine `watch` uses).
//!
//! What it costs etcd. Within one life of the key, each version's
//! predecessor is the value at its mod revision minus one: one range read of
//! one key per version, never a scan. Before a version 1 (the key was
//! created) there may be an earlier life that was deleted, and no read says
//! when: the first time the walk reaches a creation, one watch on this key
//! alone, filtered to deletions, replays the retained revisions up to that
//! creation (etcd reads those revisions server-side and sends only this
//! key's deletions), and each deletion found leads to the last version of
//! the life before it (one read). Reads before the compacted revision fail:
//! the walk stops there and says how far back it got. Memory holds two
//! versions of the object and one revision per deletion.
//!
//! Nothing here prints; versions go to a callback.

use std::time::{Duration, Instant};

use etcd_client::{EventType, GetOptions, WatchFilterType, WatchOptions};
use serde_json::Value;

use super::decode::Decoder;
use super::diff::{self, Diff};
use super::error::{Error, HistoryStop, Result};
use super::watch::EventKind;
use crate::etcd::classify;
use crate::etcd::{maintenance, EtcdClient};

/// The flags `history` and `snapshot inspect --history` share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HistoryFlags {
    /// Show at most this many versions (newest first).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,

    /// Show only changes made at or after this revision.
    #[arg(long, value_name = "REV", value_parser = clap::value_parser!(i64).range(1..))]
    pub since_revision: Option<i64>,

    /// With -o json, include each version's decoded object.
    #[arg(long)]
    pub objects: bool,

    /// Also diff fields that change on every write: resourceVersion,
    /// managedFields, generation, observedGeneration, last-applied-configuration.
    #[arg(long)]
    pub all_fields: bool,
}

impl HistoryFlags {
    pub fn options(&self) -> Options {
        Options {
            limit: self.limit.map(|l| l as usize),
            since_revision: self.since_revision,
            all_fields: self.all_fields,
        }
    }

    /// Whether any was given (they mean nothing without a history).
    pub fn any(&self) -> bool {
        self.limit.is_some() || self.since_revision.is_some() || self.objects || self.all_fields
    }
}

/// What to show.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Stop after this many versions.
    pub limit: Option<usize>,
    /// Show only changes at or after this revision.
    pub since_revision: Option<i64>,
    /// Diff fields that change on every write too.
    pub all_fields: bool,
}

/// One version of the object, or its deletion.
#[derive(Debug, Clone)]
pub struct Version {
    /// The revision of the change (for a deletion: of the delete).
    pub revision: i64,
    pub event: EventKind,
    /// When, from the managedFields entry that changed, else the object's
    /// own timestamps (creation, deletion); `None` when nothing says.
    pub time: Option<String>,
    pub manager: Option<String>,
    /// `Update` or `Apply`, from the same managedFields entry.
    pub operation: Option<String>,
    /// From the version before; `None` for ADDED, DELETED, or when either
    /// side could not be decoded.
    pub diff: Option<Diff>,
    /// The object at this version (for DELETED: its last state).
    pub object: Option<Value>,
    /// Why the value could not be decoded (the version is still shown).
    pub error: Option<Error>,
}

/// Why the walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Back to the first creation still retained: nothing older exists.
    Complete,
    /// Older revisions were compacted; `revision` is the compacted revision
    /// when etcd said which.
    Compacted { before: i64, revision: Option<i64> },
    /// `--limit` versions shown.
    Limit,
    /// Reached `--since-revision`.
    Since,
}

/// What the walk found overall.
#[derive(Debug, Clone)]
pub struct Summary {
    pub versions: usize,
    /// The revision the reads were pinned to at the start.
    pub revision: i64,
    pub end: End,
}

/// Whether the walk goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// One stored version, read at some revision.
struct Stored {
    mod_revision: i64,
    create_revision: i64,
    object: Result<Value>,
}

/// The result of one read at a revision.
enum Read {
    Present(Stored),
    Absent,
    Compacted,
}

/// Walk the history of `key`, newest first, handing each version to `out`.
/// A key that has no version in the retained history is `NotFound`.
pub async fn walk(
    client: &EtcdClient,
    decoder: &Decoder,
    key: &str,
    opts: &Options,
    mut out: impl FnMut(Version) -> crate::error::Result<Flow>,
) -> Result<Summary> {
    let mut walker = Walker {
        client,
        decoder,
        key,
        all_fields: opts.all_fields,
        deletions: None,
        head_revision: i64::MAX,
    };
    let floor = opts.since_revision.unwrap_or(1).max(1);
    let (revision, head) = walker.head().await?;
    walker.head_revision = revision;
    let mut summary = Summary {
        versions: 0,
        revision,
        end: End::Complete,
    };
    let mut emit = |v: Version, summary: &mut Summary| -> Result<bool> {
        summary.versions += 1;
        let flow = out(v).map_err(|e| Error::Visitor(Box::new(e)))?;
        if flow == Flow::Stop || opts.limit.is_some_and(|l| summary.versions >= l) {
            summary.end = End::Limit;
            return Ok(false);
        }
        Ok(true)
    };
    // The version shown next; `None` once a life has been walked to its
    // creation.
    let mut current = match head {
        Some(s) => s,
        None => match walker.previous_life(revision + 1, floor).await? {
            Crossing::Found { deleted_at, last } => {
                if deleted_at < floor {
                    summary.end = End::Since;
                    return finish(summary, key);
                }
                if !emit(deletion(deleted_at, &last), &mut summary)? {
                    return Ok(summary);
                }
                last
            }
            Crossing::None => return finish(summary, key),
            Crossing::Stop(end) => {
                summary.end = end;
                return finish(summary, key);
            }
        },
    };
    loop {
        if current.mod_revision < floor {
            summary.end = End::Since;
            return Ok(summary);
        }
        if current.mod_revision > current.create_revision {
            let before = match walker.at(current.mod_revision - 1).await? {
                Read::Present(s) => Some(s),
                Read::Absent => None,
                Read::Compacted => {
                    // The version is still shown, without its diff.
                    emit(walker.modified(&current, None), &mut summary)?;
                    summary.end = End::Compacted {
                        before: current.mod_revision,
                        revision: walker.compacted_revision().await,
                    };
                    return Ok(summary);
                }
            };
            let Some(before) = before else {
                // Cannot happen within one life; shown without a diff.
                emit(walker.modified(&current, None), &mut summary)?;
                return Ok(summary);
            };
            if !emit(walker.modified(&current, Some(&before)), &mut summary)? {
                return Ok(summary);
            }
            current = before;
            continue;
        }
        // Version 1 of this life.
        if !emit(added(&current), &mut summary)? {
            return Ok(summary);
        }
        match walker.previous_life(current.create_revision, floor).await? {
            Crossing::Found { deleted_at, last } => {
                if deleted_at < floor {
                    summary.end = End::Since;
                    return Ok(summary);
                }
                if !emit(deletion(deleted_at, &last), &mut summary)? {
                    return Ok(summary);
                }
                current = last;
            }
            Crossing::None => {
                summary.end = if floor > 1 { End::Since } else { End::Complete };
                return Ok(summary);
            }
            Crossing::Stop(end) => {
                summary.end = end;
                return Ok(summary);
            }
        }
    }
}

/// No version at all is an error; otherwise the summary as it is.
fn finish(summary: Summary, key: &str) -> Result<Summary> {
    if summary.versions > 0 {
        return Ok(summary);
    }
    let stop = match summary.end {
        End::Compacted { .. } => HistoryStop::Compacted,
        End::Since => HistoryStop::Since,
        _ => HistoryStop::Other,
    };
    Err(Error::NoHistory {
        key: key.to_string(),
        stop,
    })
}

/// What lies before a creation.
enum Crossing {
    /// An earlier life, deleted at `deleted_at`, whose last version is `last`.
    Found {
        deleted_at: i64,
        last: Stored,
    },
    /// Nothing down to the floor.
    None,
    Stop(End),
}

struct Walker<'a> {
    client: &'a EtcdClient,
    decoder: &'a Decoder,
    key: &'a str,
    all_fields: bool,
    /// The key's deletions (ascending) and the compacted revision the
    /// replay met, once read.
    deletions: Option<(Vec<i64>, Option<i64>)>,
    /// The revision of the first read.
    head_revision: i64,
}

impl Walker<'_> {
    /// The key now (a linearizable read) and the revision it was read at.
    async fn head(&self) -> Result<(i64, Option<Stored>)> {
        let mut kv = self.client.kv();
        let resp = self
            .client
            .call(kv.get(self.key.as_bytes(), None))
            .await
            .map_err(|e| Error::from(e).naming_denied(|| format!("`{}`", self.key)))?;
        let revision = resp.header().map(|h| h.revision()).unwrap_or_default();
        Ok((revision, resp.kvs().first().map(|kv| self.stored(kv))))
    }

    /// The key at `revision` (serializable: this member has applied it).
    async fn at(&self, revision: i64) -> Result<Read> {
        let mut kv = self.client.kv();
        let opts = GetOptions::new()
            .with_revision(revision)
            .with_serializable();
        match self
            .client
            .call(kv.get(self.key.as_bytes(), Some(opts)))
            .await
        {
            Ok(resp) => Ok(match resp.kvs().first() {
                Some(kv) => Read::Present(self.stored(kv)),
                None => Read::Absent,
            }),
            Err(crate::etcd::Error::Compacted) => Ok(Read::Compacted),
            Err(cause) => Err(Error::ReadAt {
                key: self.key.to_string(),
                revision,
                cause,
            }),
        }
    }

    fn stored(&self, kv: &etcd_client::KeyValue) -> Stored {
        Stored {
            mod_revision: kv.mod_revision(),
            create_revision: kv.create_revision(),
            object: self
                .decoder
                .decode_at(kv.key(), kv.value(), Some(kv.mod_revision()))
                .map(|o| o.value),
        }
    }

    /// The compacted revision, when etcd says it (asked only after a read
    /// failed as compacted, when the answer comes at once).
    async fn compacted_revision(&self) -> Option<i64> {
        maintenance::compacted_revision(self.client)
            .await
            .ok()
            .flatten()
    }

    fn modified(&self, now: &Stored, before: Option<&Stored>) -> Version {
        modified(now, before, self.all_fields)
    }

    /// The life before a key that is absent at `absent` (exclusive upper
    /// bound), down to `floor`: the latest deletion before it, and the
    /// version that deletion removed.
    async fn previous_life(&mut self, absent: i64, floor: i64) -> Result<Crossing> {
        if self.deletions.is_none() {
            self.deletions = Some(self.replay_deletions(floor, absent).await?);
        }
        let (deletions, compacted) = self.deletions.clone().unwrap_or_default();
        let Some(&deleted_at) = deletions.iter().rev().find(|&&d| d < absent && d >= floor) else {
            return Ok(match compacted {
                Some(k) => Crossing::Stop(End::Compacted {
                    before: absent,
                    revision: Some(k),
                }),
                None => Crossing::None,
            });
        };
        Ok(match self.at(deleted_at - 1).await? {
            Read::Present(last) => Crossing::Found { deleted_at, last },
            Read::Absent => Crossing::None,
            Read::Compacted => Crossing::Stop(End::Compacted {
                before: deleted_at,
                revision: self.compacted_revision().await,
            }),
        })
    }

    /// Every deletion of the key from `from` up to `until` (exclusive), by
    /// a watch on the key that etcd replays from `from` (from the compacted
    /// revision when `from` is older, which is returned too).
    ///
    /// The replay ends at the first event at or after `until` when the key
    /// has one there (the creation the walk stands at). When the key is
    /// deleted now there is none, and etcd 3.4 answers progress requests
    /// before a replay is done, so the replay of deletions alone ends after
    /// [`QUIET`] without a message.
    async fn replay_deletions(&self, from: i64, until: i64) -> Result<(Vec<i64>, Option<i64>)> {
        let deadline = Instant::now() + self.client.command_timeout.max(Duration::from_secs(30));
        let open_ended = until > self.head_revision;
        let mut start = from;
        let mut compacted = None;
        'watch: loop {
            let mut options = WatchOptions::new().with_start_revision(start);
            if open_ended {
                options = options.with_filters([WatchFilterType::NoPut]);
            }
            let mut wc = self.client.watch();
            let mut stream = self
                .client
                .call(wc.watch(self.key.as_bytes(), Some(options)))
                .await?;
            let mut found = Vec::new();
            loop {
                if Instant::now() >= deadline {
                    return Err(Error::ReplayTooSlow {
                        key: self.key.to_string(),
                    });
                }
                let wait = if open_ended {
                    QUIET
                } else {
                    self.client.command_timeout
                };
                let resp = match tokio::time::timeout(wait, stream.message()).await {
                    Err(_) if open_ended => return Ok((found, compacted)),
                    Err(_) => continue,
                    Ok(Err(e)) => return Err(Error::Etcd(classify(&e))),
                    Ok(Ok(None)) => return Err(Error::WatchClosed),
                    Ok(Ok(Some(resp))) => resp,
                };
                if resp.canceled() {
                    if resp.compact_revision() > start {
                        start = resp.compact_revision();
                        compacted = Some(start);
                        continue 'watch;
                    }
                    return Err(Error::WatchCancelled {
                        reason: Some(resp.cancel_reason().to_string()).filter(|r| !r.is_empty()),
                    });
                }
                for ev in resp.events() {
                    let rev = ev.kv().map(|kv| kv.mod_revision()).unwrap_or_default();
                    if rev >= until {
                        return Ok((found, compacted));
                    }
                    if ev.event_type() == EventType::Delete {
                        found.push(rev);
                    }
                }
            }
        }
    }
}

/// How long a replay of deletions may stay silent before it is taken as
/// complete (see [`Walker::replay_deletions`]).
const QUIET: Duration = Duration::from_secs(2);

fn modified(now: &Stored, before: Option<&Stored>, all_fields: bool) -> Version {
    let before_obj = before.and_then(|b| b.object.as_ref().ok());
    let mut v = version(now, EventKind::Modified, before_obj);
    if let (Ok(n), Some(b)) = (&now.object, before_obj) {
        v.diff = Some(diff::diff(b, n, all_fields));
    }
    if v.error.is_none() {
        v.error = before.and_then(|b| b.object.as_ref().err().cloned());
    }
    v
}

fn added(now: &Stored) -> Version {
    let mut v = version(now, EventKind::Added, None);
    if v.time.is_none() {
        v.time = now
            .object
            .as_ref()
            .ok()
            .and_then(|o| text(o, &["metadata", "creationTimestamp"]));
    }
    v
}

/// One retained version as a db file stores it (bucket `key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub revision: i64,
    /// Create revision and value; `None` for a deletion (a tombstone).
    pub put: Option<(i64, Vec<u8>)>,
}

/// The history of `key` from its retained versions, oldest first (what a
/// db file holds: every revision since `compacted`), handed to `out`
/// newest first as [`walk`] does live: the same versions, diffs, authors
/// and end. `revision` is the newest revision of the file. The caller may
/// drop versions older than it needs (`--limit` plus one for the diff).
pub fn replay(
    key: &str,
    records: &[Recorded],
    revision: i64,
    compacted: Option<i64>,
    decoder: &Decoder,
    opts: &Options,
    mut out: impl FnMut(Version) -> crate::error::Result<Flow>,
) -> Result<Summary> {
    let floor = opts.since_revision.unwrap_or(1).max(1);
    let mut summary = Summary {
        versions: 0,
        revision,
        end: End::Complete,
    };
    let stored = |r: &Recorded| {
        r.put.as_ref().map(|(create, value)| Stored {
            mod_revision: r.revision,
            create_revision: *create,
            object: decoder
                .decode_at(key.as_bytes(), value, Some(r.revision))
                .map(|o| o.value),
        })
    };
    // Each version is decoded once: as itself, then kept as the one
    // after it reads it as its predecessor.
    let mut i = records.len();
    let mut next = records.last().map(stored);
    while i > 0 {
        i -= 1;
        let r = &records[i];
        let now = next.take().flatten();
        let before = i.checked_sub(1).map(|j| stored(&records[j]));
        if r.revision < floor {
            summary.end = End::Since;
            return Ok(summary);
        }
        let (v, end) = match (&now, before.as_ref()) {
            (None, Some(Some(last))) => (deletion(r.revision, last), None),
            (None, _) => (
                Version {
                    revision: r.revision,
                    event: EventKind::Deleted,
                    time: None,
                    manager: None,
                    operation: None,
                    diff: None,
                    object: None,
                    error: None,
                },
                None,
            ),
            (Some(n), b) if n.mod_revision > n.create_revision => {
                let b = b
                    .and_then(Option::as_ref)
                    .filter(|b| b.create_revision == n.create_revision);
                let end = b.is_none().then_some(End::Compacted {
                    before: n.mod_revision,
                    revision: compacted,
                });
                (modified(n, b, opts.all_fields), end)
            }
            (Some(n), _) => {
                let end = (i == 0).then_some(match compacted {
                    Some(k) if k > floor => End::Compacted {
                        before: n.create_revision,
                        revision: Some(k),
                    },
                    _ if floor > 1 => End::Since,
                    _ => End::Complete,
                });
                (added(n), end)
            }
        };
        summary.versions += 1;
        let flow = out(v).map_err(|e| Error::Visitor(Box::new(e)))?;
        let stop = flow == Flow::Stop || opts.limit.is_some_and(|l| summary.versions >= l);
        // As live: a version whose predecessor was compacted ends the walk
        // as compacted even at the limit.
        if stop
            && !matches!(end, Some(End::Compacted { .. }) if now.as_ref().is_some_and(|n| n.mod_revision > n.create_revision))
        {
            summary.end = End::Limit;
            return Ok(summary);
        }
        if let Some(end) = end {
            summary.end = end;
            return Ok(summary);
        }
        next = before;
    }
    if summary.versions == 0 {
        summary.end = match compacted {
            Some(k) if k > floor => End::Compacted {
                before: revision + 1,
                revision: Some(k),
            },
            _ => summary.end,
        };
    }
    finish(summary, key)
}

fn deletion(at: i64, last: &Stored) -> Version {
    let object = last.object.as_ref().ok().cloned();
    Version {
        revision: at,
        event: EventKind::Deleted,
        time: object
            .as_ref()
            .and_then(|o| text(o, &["metadata", "deletionTimestamp"])),
        manager: None,
        operation: None,
        diff: None,
        object,
        error: last.object.as_ref().err().cloned(),
    }
}

fn version(now: &Stored, event: EventKind, before: Option<&Value>) -> Version {
    let (manager, operation, time) = match &now.object {
        Ok(o) => author(o, before),
        Err(_) => (None, None, None),
    };
    Version {
        revision: now.mod_revision,
        event,
        time,
        manager,
        operation,
        diff: None,
        object: now.object.as_ref().ok().cloned(),
        error: now.object.as_ref().err().cloned(),
    }
}

/// Who made a change: the managedFields entry of `now` whose time differs
/// from the same entry (manager, operation, subresource) in `before`, or
/// that is new; the latest such entry when several changed. Returns
/// (manager, operation, time).
pub fn author(
    now: &Value,
    before: Option<&Value>,
) -> (Option<String>, Option<String>, Option<String>) {
    let entries = |v: &Value| -> Vec<(String, String, String, String)> {
        v.pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let s =
                            |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                        (s("manager"), s("operation"), s("subresource"), s("time"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let old = before.map(entries).unwrap_or_default();
    let changed = entries(now)
        .into_iter()
        .filter(|(m, op, sub, t)| {
            !old.iter()
                .any(|(om, oop, osub, ot)| om == m && oop == op && osub == sub && ot == t)
        })
        .max_by(|a, b| a.3.cmp(&b.3));
    match changed {
        Some((m, op, _, t)) => (
            Some(m).filter(|s| !s.is_empty()),
            Some(op).filter(|s| !s.is_empty()),
            Some(t).filter(|s| !s.is_empty()),
        ),
        None => (None, None, None),
    }
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(entries: Value) -> Value {
        json!({"metadata": {"name": "w", "managedFields": entries}})
    }

    #[test]
    fn the_author_is_the_entry_whose_time_changed() {
        let before = obj(json!([
            {"manager": "kubectl", "operation": "Update", "time": "2024-01-01T00:00:00Z"},
            {"manager": "hpa", "operation": "Update", "time": "2024-01-01T00:00:00Z"},
        ]));
        let now = obj(json!([
            {"manager": "kubectl", "operation": "Update", "time": "2024-01-01T00:00:00Z"},
            {"manager": "hpa", "operation": "Update", "time": "2024-01-02T10:00:00Z"},
        ]));
        assert_eq!(
            author(&now, Some(&before)),
            (
                Some("hpa".into()),
                Some("Update".into()),
                Some("2024-01-02T10:00:00Z".into())
            )
        );
        // A new entry (an apply by another manager) is a change too.
        let applied = obj(json!([
            {"manager": "kubectl", "operation": "Update", "time": "2024-01-01T00:00:00Z"},
            {"manager": "hpa", "operation": "Update", "time": "2024-01-01T00:00:00Z"},
            {"manager": "argocd", "operation": "Apply", "time": "2024-01-03T00:00:00Z"},
        ]));
        assert_eq!(author(&applied, Some(&before)).0.as_deref(), Some("argocd"));
        assert_eq!(author(&applied, Some(&before)).1.as_deref(), Some("Apply"));
        // Nothing changed: nobody to name.
        assert_eq!(author(&before, Some(&before)), (None, None, None));
        // A creation: the latest entry.
        assert_eq!(author(&now, None).0.as_deref(), Some("hpa"));
    }

    #[test]
    fn additions_fall_back_to_the_creation_time_and_deletions_carry_the_last_state() {
        let o = json!({"metadata": {"name": "w", "creationTimestamp": "2023-11-14T22:13:20Z",
                                    "deletionTimestamp": "2023-11-15T00:00:00Z"}});
        let s = Stored {
            mod_revision: 7,
            create_revision: 7,
            object: Ok(o),
        };
        let a = added(&s);
        assert_eq!(a.event, EventKind::Added);
        assert_eq!(a.time.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert!(a.diff.is_none() && a.manager.is_none());
        let d = deletion(9, &s);
        assert_eq!((d.revision, d.event), (9, EventKind::Deleted));
        assert_eq!(d.time.as_deref(), Some("2023-11-15T00:00:00Z"));
        assert_eq!(d.object.unwrap()["metadata"]["name"], "w");
    }

    fn put(revision: i64, create: i64, size: i64) -> Recorded {
        let v = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                       "metadata": {"name": "w"}, "spec": {"size": size}});
        Recorded {
            revision,
            put: Some((create, serde_json::to_vec(&v).unwrap())),
        }
    }

    fn replayed(
        records: &[Recorded],
        compacted: Option<i64>,
        opts: &Options,
    ) -> (Vec<(i64, &'static str)>, End) {
        let key = "/registry/example.com/widgets/default/w";
        let decoder = Decoder::new(&Default::default(), "/registry").unwrap();
        let mut seen = Vec::new();
        let summary = replay(key, records, 20, compacted, &decoder, opts, |v| {
            seen.push((v.revision, v.event.as_str()));
            Ok(Flow::Continue)
        })
        .unwrap();
        (seen, summary.end)
    }

    #[test]
    fn a_files_versions_replay_newest_first_with_both_lives_and_the_right_end() {
        let lives = [
            put(3, 3, 1),
            put(5, 3, 2),
            Recorded {
                revision: 7,
                put: None,
            },
            put(9, 9, 3),
            put(11, 9, 4),
        ];
        let all = Options::default();
        let (seen, end) = replayed(&lives, None, &all);
        assert_eq!(
            seen,
            [
                (11, "MODIFIED"),
                (9, "ADDED"),
                (7, "DELETED"),
                (5, "MODIFIED"),
                (3, "ADDED")
            ]
        );
        assert_eq!(end, End::Complete);
        let limit = Options {
            limit: Some(2),
            ..all.clone()
        };
        assert_eq!(replayed(&lives, None, &limit).1, End::Limit);
        let since = Options {
            since_revision: Some(7),
            ..all.clone()
        };
        let (seen, end) = replayed(&lives, None, &since);
        assert_eq!(seen.len(), 3);
        assert_eq!(end, End::Since);
        // Compacted at 6: the version kept at 5 has no predecessor left.
        let (seen, end) = replayed(&lives[1..], Some(6), &all);
        assert_eq!(seen.last(), Some(&(5, "MODIFIED")));
        assert_eq!(
            end,
            End::Compacted {
                before: 5,
                revision: Some(6)
            }
        );
        // Compacted at 10, the creation at 9 kept: it ends at the creation.
        let (_, end) = replayed(&lives[3..], Some(10), &all);
        assert_eq!(
            end,
            End::Compacted {
                before: 9,
                revision: Some(10)
            }
        );
    }
}
