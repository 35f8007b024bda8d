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
use super::watch::EventKind;
use crate::error::{Error, Kind, Result};
use crate::etcd::client::explain;
use crate::etcd::{maintenance, EtcdClient};

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
    object: std::result::Result<Value, Error>,
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
    mut out: impl FnMut(Version) -> Result<Flow>,
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
        let flow = out(v)?;
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
    let mut e = Error::new(
        Kind::NotFound,
        format!("`{key}` has no version in the retained history"),
    );
    e = match summary.end {
        End::Compacted { .. } => e.with_hint(
            "older revisions were compacted; `kubectl etcd snapshot` files keep what they saw",
        ),
        End::Since => e.with_hint("try an older --since-revision"),
        _ => e.with_hint("`kubectl etcd ls TYPE` lists what is stored"),
    };
    Err(e)
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
        let resp = self.client.call(kv.get(self.key.as_bytes(), None)).await?;
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
            Err(e) => Err(e.context(format!("reading `{}` at revision {revision}", self.key))),
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
        let before_obj = before.and_then(|b| b.object.as_ref().ok());
        let mut v = version(now, EventKind::Modified, before_obj);
        if let (Ok(n), Some(b)) = (&now.object, before_obj) {
            v.diff = Some(diff::diff(b, n, self.all_fields));
        }
        if v.error.is_none() {
            v.error = before.and_then(|b| b.object.as_ref().err().cloned());
        }
        v
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
                    return Err(Error::new(
                        Kind::Unavailable,
                        format!("replaying the deletions of `{}` took too long", self.key),
                    )
                    .with_hint(
                        "the member may be overloaded; --since-revision looks less far back",
                    ));
                }
                let wait = if open_ended {
                    QUIET
                } else {
                    self.client.command_timeout
                };
                let resp = match tokio::time::timeout(wait, stream.message()).await {
                    Err(_) if open_ended => return Ok((found, compacted)),
                    Err(_) => continue,
                    Ok(Err(e)) => return Err(explain(&e)),
                    Ok(Ok(None)) => {
                        return Err(Error::new(
                            Kind::Unavailable,
                            "the member closed the watch stream",
                        ))
                    }
                    Ok(Ok(Some(resp))) => resp,
                };
                if resp.canceled() {
                    if resp.compact_revision() > start {
                        start = resp.compact_revision();
                        compacted = Some(start);
                        continue 'watch;
                    }
                    return Err(Error::new(
                        Kind::Unavailable,
                        format!("etcd cancelled the watch: {}", resp.cancel_reason()),
                    ));
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
}
