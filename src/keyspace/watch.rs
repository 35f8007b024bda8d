//! A watch on a key range that survives its member: the event loop, resuming
//! after a dropped connection, and turning etcd events into decoded changes.
//!
//! Events go to a callback, in revision order, each exactly once: after a
//! lost stream the watch is opened again (on every target in turn) from the
//! revision after the last one delivered. Nothing here prints; the callback
//! decides what the user sees.

use std::time::{Duration, Instant};

use etcd_client::{EventType, WatchOptions, WatchResponseStream};

use super::decode::{Decoder, Object};
use super::diff::{self, Diff};
use super::error::{Error as WatchError, Result as WatchResult};
use crate::connect::Target;
use crate::error::{Error, Result};
use crate::etcd::error::classify;
use crate::etcd::{ConnectSettings, EtcdClient};

/// Pause after the first failed round of reconnect attempts; doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What to watch and how.
#[derive(Debug, Clone)]
pub struct Spec {
    pub start: Vec<u8>,
    /// End of the range (exclusive); empty for the single key `start`.
    pub end: Vec<u8>,
    /// First revision to deliver; 0 for "from now on".
    pub start_revision: i64,
    /// Give up reconnecting after this long without a stream.
    pub reconnect_timeout: Duration,
    /// Ask the member for its revision after this long without events.
    pub idle_progress: Option<Duration>,
}

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventKind {
    Added,
    Modified,
    Deleted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One event as etcd sent it.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub key: Vec<u8>,
    /// Empty for deletions.
    pub value: Vec<u8>,
    /// The value before the event, when etcd still had it.
    pub prev_value: Option<Vec<u8>>,
    /// The mod revision of `prev_value` (0 without it).
    pub prev_revision: i64,
    /// The revision of the event (for a deletion: of the deletion).
    pub revision: i64,
}

/// What the watch reports to its caller.
#[derive(Debug)]
pub enum Update {
    /// The watch is established.
    Started {
        endpoint: String,
        revision: i64,
    },
    Event(Event),
    /// No events up to `revision` (idle).
    Progress {
        revision: i64,
    },
    /// The stream broke; reconnecting.
    Lost {
        endpoint: String,
        error: WatchError,
    },
    /// One reconnect attempt failed.
    Retry {
        endpoint: String,
        error: WatchError,
    },
    /// Watching again, from `revision`.
    Reconnected {
        endpoint: String,
        revision: i64,
    },
}

/// Whether the caller wants more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// A watch on one member.
struct Live {
    index: usize,
    endpoint: String,
    watch_id: i64,
    // Kept alive: dropping it ends the request stream.
    sender: etcd_client::WatchRequestSender,
    stream: WatchResponseStream,
    _client: EtcdClient,
}

/// Why a stream ended.
enum End {
    Stop,
    Lost(WatchError),
}

/// Watch until `on` returns [`Flow::Stop`], a fatal error (a compacted
/// revision, refused credentials), or no target answers for
/// `reconnect_timeout`. Fails with the keyspace error that ended it; the
/// caller's own errors come back whole as [`WatchError::Visitor`].
pub async fn watch<F>(
    targets: &[Target],
    settings: &ConnectSettings,
    spec: &Spec,
    mut on: F,
) -> WatchResult<()>
where
    F: FnMut(Update) -> Result<Flow>,
{
    if targets.is_empty() {
        return Err(WatchError::NoEndpoint);
    }
    let mut on = |u: Update| on(u).map_err(|e| WatchError::Visitor(Box::new(e)));
    // The next revision to deliver; 0 until the first stream says "now".
    let mut next = spec.start_revision;
    let mut live = first(targets, settings, spec, &mut next).await?;
    if on(Update::Started {
        endpoint: live.endpoint.clone(),
        revision: next,
    })? == Flow::Stop
    {
        return Ok(());
    }
    loop {
        match pump(&mut live, spec, &mut next, &mut on).await? {
            End::Stop => return Ok(()),
            End::Lost(error) => {
                if on(Update::Lost {
                    endpoint: live.endpoint.clone(),
                    error,
                })? == Flow::Stop
                {
                    return Ok(());
                }
                let from = live.index;
                drop(live);
                live = reconnect(targets, settings, spec, from, next, &mut on).await?;
                if on(Update::Reconnected {
                    endpoint: live.endpoint.clone(),
                    revision: next,
                })? == Flow::Stop
                {
                    return Ok(());
                }
            }
        }
    }
}

/// `err` on the member at `endpoint`.
fn on_member(endpoint: &str, err: WatchError) -> WatchError {
    WatchError::Member {
        endpoint: endpoint.to_string(),
        cause: Box::new(err),
    }
}

/// The first stream: each target once, in the order given.
async fn first(
    targets: &[Target],
    settings: &ConnectSettings,
    spec: &Spec,
    next: &mut i64,
) -> WatchResult<Live> {
    let mut first_err = None;
    for (i, t) in targets.iter().enumerate() {
        match open(i, t, settings, spec, next).await {
            Ok(live) => return Ok(live),
            Err(e) if fatal(&e) => return Err(on_member(&t.endpoint, e)),
            Err(e) => {
                first_err.get_or_insert(on_member(&t.endpoint, e));
            }
        }
    }
    Err(first_err.expect("at least one target"))
}

/// Every target in turn, starting after the one that failed, with a short
/// pause between rounds, until one watches again or time is up.
async fn reconnect<F>(
    targets: &[Target],
    settings: &ConnectSettings,
    spec: &Spec,
    failed: usize,
    mut next: i64,
    on: &mut F,
) -> WatchResult<Live>
where
    F: FnMut(Update) -> WatchResult<Flow>,
{
    let deadline = Instant::now() + spec.reconnect_timeout;
    let mut backoff = FIRST_BACKOFF;
    let n = targets.len();
    let mut last: Option<WatchError> = None;
    loop {
        for k in 1..=n {
            let i = (failed + k) % n;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let t = &targets[i];
            let attempt = tokio::time::timeout(left, open(i, t, settings, spec, &mut next)).await;
            let err = match attempt {
                Ok(Ok(live)) => return Ok(live),
                Ok(Err(e)) if fatal(&e) => return Err(on_member(&t.endpoint, e)),
                Ok(Err(e)) => e,
                Err(_) => WatchError::WatchNoAnswer,
            };
            on(Update::Retry {
                endpoint: t.endpoint.clone(),
                error: err.clone(),
            })?;
            last = Some(on_member(&t.endpoint, err));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(WatchError::WatchLost {
                waited: spec.reconnect_timeout,
                next,
                last: last.map(Box::new),
            });
        }
        tokio::time::sleep(backoff.min(left)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Errors no other member or later attempt will fix: a compacted or
/// future revision, refused credentials or permissions, TLS that cannot
/// work. Decided on the variants, never on the words.
fn fatal(e: &WatchError) -> bool {
    match e {
        WatchError::WatchCompacted { .. } | WatchError::WatchDenied | WatchError::NoEndpoint => {
            true
        }
        WatchError::Member { cause, .. } => fatal(cause),
        WatchError::Etcd(e) => fatal_etcd(e),
        _ => false,
    }
}

/// An etcd failure no other member or later attempt will fix.
fn fatal_etcd(e: &crate::etcd::Error) -> bool {
    use crate::etcd::Error as E;
    match e {
        E::Compacted
        | E::FutureRevision
        | E::PermissionDenied
        | E::AuthFailed
        | E::AuthRequired
        | E::ClientCertRejected => true,
        E::Connect(c) => c.is_permanent(),
        _ => false,
    }
}

/// Connect to one member and create the watch from `next`; waits for etcd
/// to confirm it. With `next == 0`, sets it to the revision the watch starts
/// after.
async fn open(
    index: usize,
    target: &Target,
    settings: &ConnectSettings,
    spec: &Spec,
    next: &mut i64,
) -> WatchResult<Live> {
    let client = EtcdClient::connect_requiring_leader(target, settings).await?;
    let mut options = WatchOptions::new()
        .with_prev_key()
        .with_progress_notify()
        .with_start_revision(*next);
    if !spec.end.is_empty() {
        options = options.with_range(spec.end.clone());
    }
    let mut wc = client.watch();
    let stream = client
        .call(wc.watch(spec.start.clone(), Some(options)))
        .await?;
    let (sender, mut stream) = stream.split();
    let created = match tokio::time::timeout(client.command_timeout, stream.message()).await {
        Err(_) => return Err(WatchError::WatchUnconfirmed),
        Ok(Err(e)) => return Err(WatchError::Etcd(classify(&e))),
        Ok(Ok(None)) => return Err(WatchError::WatchClosed),
        Ok(Ok(Some(resp))) => resp,
    };
    if created.canceled() {
        return Err(cancelled(&created, *next));
    }
    if *next == 0 {
        // etcd starts a "now" watch after the revision in this header.
        *next = created.header().map(|h| h.revision()).unwrap_or_default() + 1;
    }
    Ok(Live {
        index,
        endpoint: target.endpoint.clone(),
        watch_id: created.watch_id(),
        sender,
        stream,
        _client: client,
    })
}

/// Deliver events until the caller stops or the stream breaks.
async fn pump<F>(live: &mut Live, spec: &Spec, next: &mut i64, on: &mut F) -> WatchResult<End>
where
    F: FnMut(Update) -> WatchResult<Flow>,
{
    // Far enough never to fire; the branch is disabled anyway.
    let idle = spec
        .idle_progress
        .unwrap_or(Duration::from_secs(365 * 24 * 3600));
    loop {
        let msg = tokio::select! {
            m = live.stream.message() => m,
            _ = tokio::time::sleep(idle), if spec.idle_progress.is_some() => {
                if let Err(e) = live.sender.request_progress().await {
                    return Ok(End::Lost(WatchError::Etcd(classify(&e))));
                }
                continue;
            }
        };
        let resp = match msg {
            Err(e) => return Ok(End::Lost(WatchError::Etcd(classify(&e)))),
            Ok(None) => return Ok(End::Lost(WatchError::WatchClosed)),
            Ok(Some(resp)) => resp,
        };
        if resp.canceled() {
            let e = cancelled(&resp, *next);
            return if fatal(&e) { Err(e) } else { Ok(End::Lost(e)) };
        }
        if resp.created() {
            continue;
        }
        let events = resp.events();
        if events.is_empty() {
            let revision = resp.header().map(|h| h.revision()).unwrap_or_default();
            // Our own watch's notifications are ordered with its events, so
            // everything up to `revision` was delivered. Answers to progress
            // requests (watch id -1) are not, before etcd 3.4.24/3.5.8.
            if resp.watch_id() == live.watch_id && revision >= *next {
                *next = revision + 1;
            }
            if on(Update::Progress { revision })? == Flow::Stop {
                return Ok(End::Stop);
            }
            continue;
        }
        // A response holds whole revisions: `next` moves after all of it,
        // since one revision (a transaction) can touch several keys.
        let from = *next;
        let mut last = from - 1;
        for ev in events {
            let Some(kv) = ev.kv() else { continue };
            let revision = kv.mod_revision();
            if revision < from {
                continue; // already delivered before a reconnect
            }
            last = last.max(revision);
            let kind = match ev.event_type() {
                EventType::Delete => EventKind::Deleted,
                EventType::Put if kv.create_revision() == revision => EventKind::Added,
                EventType::Put => EventKind::Modified,
            };
            let event = Event {
                kind,
                key: kv.key().to_vec(),
                value: kv.value().to_vec(),
                prev_value: ev.prev_kv().map(|p| p.value().to_vec()),
                prev_revision: ev.prev_kv().map_or(0, |p| p.mod_revision()),
                revision,
            };
            if on(Update::Event(event))? == Flow::Stop {
                return Ok(End::Stop);
            }
        }
        *next = last + 1;
    }
}

/// Why etcd cancelled a watch: classified once, here.
fn cancelled(resp: &etcd_client::WatchResponse, next: i64) -> WatchError {
    cancel_reason(resp.compact_revision(), resp.cancel_reason(), next)
}

/// A cancellation with `compact` (0: none) and etcd's `reason`, of a watch
/// from `next`. etcd says "permission denied" only in the reason: the
/// etcd layer's classifier reads it.
fn cancel_reason(compact: i64, reason: &str, next: i64) -> WatchError {
    if compact > 0 {
        return WatchError::WatchCompacted {
            requested: next,
            compact,
        };
    }
    let reason = reason.trim_start_matches("etcdserver: ");
    match crate::etcd::error::from_reason(reason) {
        Some(crate::etcd::Error::PermissionDenied) => WatchError::WatchDenied,
        _ => WatchError::WatchCancelled {
            reason: Some(reason.to_string()).filter(|r| !r.is_empty()),
        },
    }
}

/// An event with its key understood and its values decoded.
#[derive(Debug)]
pub struct Change {
    pub kind: EventKind,
    pub key: String,
    /// `deployments.apps`, `pods`, `widgets.example.com`.
    pub resource: String,
    pub namespace: Option<String>,
    pub name: String,
    pub revision: i64,
    /// The object now; for a deletion, its last state.
    pub object: Option<Object>,
    /// The object before a modification.
    pub previous: Option<Object>,
    /// For modifications with both versions decoded.
    pub diff: Option<Diff>,
    /// Why a value could not be decoded (the event is still shown).
    pub error: Option<Error>,
}

impl Change {
    /// Decode an event. Undecodable values become `error`, never a failure.
    pub fn new(event: &Event, decoder: &Decoder, prefix: &str, all_fields: bool) -> Change {
        let info = registry::key::parse(&event.key, prefix);
        let resource = info.type_name().to_string();
        let name = if info.is_object() {
            info.name.to_string()
        } else {
            String::new()
        };
        let mut error = None;
        // Each object's resourceVersion is the revision it is shown at, as
        // kube-apiserver's watch fills it: a deleted object's last state
        // at the deletion's revision, the state before a modification at
        // its own mod revision.
        let mut decode = |bytes: &[u8], revision: i64| match decoder.decode_at(
            &event.key,
            bytes,
            Some(revision),
        ) {
            Ok(o) => Some(o),
            Err(e) => {
                error.get_or_insert(e.into());
                None
            }
        };
        let prev = event.prev_value.as_deref();
        let (object, previous) = match event.kind {
            EventKind::Deleted => (prev.and_then(|p| decode(p, event.revision)), None),
            EventKind::Added => (decode(&event.value, event.revision), None),
            EventKind::Modified => {
                let now = decode(&event.value, event.revision);
                let before = prev.and_then(|p| decode(p, event.prev_revision));
                (now, before)
            }
        };
        let diff = match (&object, &previous) {
            (Some(now), Some(before)) => Some(diff::diff(&before.value, &now.value, all_fields)),
            _ => None,
        };
        Change {
            kind: event.kind,
            key: String::from_utf8_lossy(&event.key).into_owned(),
            resource,
            namespace: info.namespace.map(str::to_string),
            name,
            revision: event.revision,
            object,
            previous,
            diff,
            error,
        }
    }

    /// `namespace/name`, `name`, or the key for what is not an object.
    pub fn display_name(&self) -> String {
        match (&self.namespace, self.name.is_empty()) {
            (_, true) => self.key.clone(),
            (Some(ns), false) => format!("{ns}/{}", self.name),
            (None, false) => self.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::decode::DecodeFlags;

    fn event(kind: EventKind, value: &str, prev: Option<&str>) -> Event {
        Event {
            kind,
            key: b"/registry/example.com/widgets/default/w1".to_vec(),
            value: value.as_bytes().to_vec(),
            prev_value: prev.map(|p| p.as_bytes().to_vec()),
            prev_revision: 6,
            revision: 7,
        }
    }

    fn widget(size: u32) -> String {
        format!(
            r#"{{"apiVersion":"example.com/v1","kind":"Widget","metadata":{{"name":"w1","namespace":"default"}},"spec":{{"size":{size}}}}}"#
        )
    }

    #[test]
    fn a_modification_is_decoded_on_both_sides_and_diffed() {
        let d = Decoder::new(&DecodeFlags::default(), "/registry").unwrap();
        let ev = event(EventKind::Modified, &widget(5), Some(&widget(3)));
        let c = Change::new(&ev, &d, "/registry", false);
        assert_eq!(c.resource, "widgets.example.com");
        assert_eq!(c.display_name(), "default/w1");
        assert_eq!(c.diff.unwrap().render(10), "spec.size: 3 -> 5");
        assert!(c.error.is_none());
    }

    #[test]
    fn garbage_becomes_an_error_on_the_event_not_a_failure() {
        let d = Decoder::new(&DecodeFlags::default(), "/registry").unwrap();
        let ev = event(EventKind::Modified, "\x01garbage", Some(&widget(3)));
        let c = Change::new(&ev, &d, "/registry", false);
        assert!(c.object.is_none() && c.diff.is_none());
        assert!(c.error.unwrap().message.contains("cannot decode"));
    }

    #[test]
    fn a_deletion_carries_the_last_state() {
        let d = Decoder::new(&DecodeFlags::default(), "/registry").unwrap();
        let ev = event(EventKind::Deleted, "", Some(&widget(3)));
        let c = Change::new(&ev, &d, "/registry", false);
        assert_eq!(c.object.unwrap().value["spec"]["size"], 3);
        assert!(c.previous.is_none());
    }

    #[test]
    fn a_cancellation_is_classified_by_compaction_then_by_etcds_reason() {
        assert!(matches!(
            cancel_reason(5, "", 3),
            WatchError::WatchCompacted {
                requested: 3,
                compact: 5
            }
        ));
        assert!(matches!(
            cancel_reason(0, "etcdserver: permission denied", 3),
            WatchError::WatchDenied
        ));
        assert!(matches!(
            cancel_reason(0, "", 3),
            WatchError::WatchCancelled { reason: None }
        ));
        assert!(matches!(
            cancel_reason(0, "etcdserver: some reason", 3),
            WatchError::WatchCancelled { reason: Some(ref r) } if r == "some reason"
        ));
    }

    #[test]
    fn only_what_no_member_can_fix_ends_the_watch() {
        use crate::connect::Error as C;
        use crate::etcd::Error as E;
        assert!(fatal(&WatchError::WatchCompacted {
            requested: 3,
            compact: 5
        }));
        assert!(fatal(&WatchError::WatchDenied));
        assert!(fatal(&on_member("m1", WatchError::Etcd(E::AuthFailed))));
        assert!(fatal(&WatchError::Etcd(E::Connect(C::NotTls))));
        assert!(!fatal(&WatchError::WatchCancelled { reason: None }));
        assert!(!fatal(&WatchError::WatchClosed));
        assert!(!fatal(&WatchError::WatchNoAnswer));
        assert!(!fatal(&WatchError::WatchUnconfirmed));
        assert!(!fatal(&WatchError::Etcd(E::ConnectionDropped)));
        assert!(!fatal(&WatchError::Etcd(E::Connect(C::Refused))));
        // A failed connect, judged on the typed cause under it.
        assert!(fatal(&WatchError::Etcd(E::Connect(C::NoTlsMaterial))));
        assert!(!fatal(&WatchError::Etcd(E::DialTimeout(
            std::time::Duration::from_secs(1)
        ))));
    }

    #[test]
    fn watch_errors_keep_their_lines_hints_and_exit_codes() {
        let e = Error::from(WatchError::WatchCompacted {
            requested: 3,
            compact: 5,
        });
        e.assert_line(
            5,
            "revision 3 has been compacted; the oldest available revision is 5",
            Some("etcd keeps history only since the last compaction: start from `--rev 5` or later, or leave out --rev"),
        );
        let e = Error::from(on_member("m1", WatchError::WatchDenied));
        assert_eq!(e.exit_code() as i32, 3);
        assert_eq!(e.message, "`m1`: permission denied for this watch");
        assert!(matches!(
            e.keyspace(),
            Some(WatchError::Member { cause, .. }) if matches!(**cause, WatchError::WatchDenied)
        ));
        let e = Error::from(WatchError::WatchLost {
            waited: Duration::from_secs(2),
            next: 9,
            last: Some(Box::new(on_member("m2", WatchError::WatchNoAnswer))),
        });
        e.assert_line(
            3,
            "the watch was lost and no member answered for 2s (--reconnect-timeout); last error: `m2`: no answer",
            Some("restart with `--rev 9` to resume without missing events once etcd is back"),
        );
        let e = Error::from(WatchError::NoEndpoint);
        assert_eq!(e.exit_code() as i32, 2);
    }

    #[test]
    fn namespace_filter_reads_the_key() {
        let key = b"/registry/pods/kube-system/etcd-0";
        assert!(registry::key::in_namespace(
            key,
            "/registry",
            Some("kube-system")
        ));
        assert!(!registry::key::in_namespace(
            key,
            "/registry",
            Some("default")
        ));
        assert!(registry::key::in_namespace(key, "/registry", None));
    }
}
