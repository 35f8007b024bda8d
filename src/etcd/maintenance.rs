//! Maintenance calls that change a member: defragment, move leader, compact,
//! disarm alarms, stream a snapshot. Each returns data; nothing prints.

use std::time::Duration;

use etcd_client::{AlarmAction, AlarmOptions, AlarmType, CompactionOptions};

use super::{Error, EtcdClient, Result};

/// Defragment the member `client` talks to, waiting up to `timeout`.
pub async fn defragment(client: &EtcdClient, timeout: Duration) -> Result<()> {
    let mut m = client.maintenance();
    client
        .call_with_timeout(timeout, m.defragment())
        .await
        .map(|_| ())
}

/// Ask the leader (`client` must talk to it) to hand leadership to `target`.
pub async fn move_leader(client: &EtcdClient, target: u64) -> Result<()> {
    let mut m = client.maintenance();
    client.call(m.move_leader(target)).await.map(|_| ())
}

/// The current revision of the keyspace, from a read that touches no key:
/// linearizable, or as this member alone sees it with `serializable`.
pub async fn current_revision(client: &EtcdClient, serializable: bool) -> Result<i64> {
    let mut kv = client.kv();
    let mut opts = etcd_client::GetOptions::new().with_count_only();
    if serializable {
        opts = opts.with_serializable();
    }
    let resp = client.call(kv.get("\0", Some(opts))).await?;
    Ok(resp.header().map(|h| h.revision()).unwrap_or_default())
}

/// How many keys the keyspace holds now, all of them or only those last
/// written after revision `after`, with the revision of that read. Counts
/// on the server; no key is sent.
pub async fn count_keys(client: &EtcdClient, after: Option<i64>) -> Result<(u64, i64)> {
    let mut kv = client.kv();
    let mut opts = etcd_client::GetOptions::new()
        .with_count_only()
        .with_all_keys();
    if let Some(rev) = after {
        opts = opts.with_min_mod_revision(rev + 1);
    }
    let resp = client.call(kv.get("\0", Some(opts))).await?;
    let revision = resp.header().map(|h| h.revision()).unwrap_or_default();
    Ok((resp.count().max(0) as u64, revision))
}

/// Compact the keyspace up to `revision`. With `physical`, wait until the
/// member has removed the old revisions from its database.
pub async fn compact(
    client: &EtcdClient,
    revision: i64,
    physical: bool,
    timeout: Duration,
) -> Result<()> {
    let mut kv = client.kv();
    let mut opts = CompactionOptions::new();
    if physical {
        opts = opts.with_physical();
    }
    match client
        .call_with_timeout(timeout, kv.compact(revision, Some(opts)))
        .await
    {
        Ok(_) => Ok(()),
        // Said of the revision asked to compact, not of a read.
        Err(Error::Compacted) => Err(Error::AlreadyCompacted { revision }),
        Err(Error::FutureRevision) => Err(Error::CompactAhead { revision }),
        Err(e) => Err(e),
    }
}

/// The revision the keyspace was last compacted at, when etcd tells: a
/// watch from revision 1 is cancelled with the compact revision if anything
/// was compacted. `Ok(None)` when nothing was compacted or etcd did not say.
pub async fn compacted_revision(client: &EtcdClient) -> Result<Option<i64>> {
    let mut w = client.inner.watch_client();
    let opts = etcd_client::WatchOptions::new()
        .with_start_revision(1)
        .with_all_keys();
    let mut stream = client.call(w.watch("", Some(opts))).await?;
    // The created response comes first, then either a cancel with the
    // compact revision or events from revision 1.
    // An empty history sends nothing more: give up after a second.
    for _ in 0..3 {
        let next = tokio::time::timeout(Duration::from_secs(1), stream.message()).await;
        match next {
            Ok(Ok(Some(resp))) => {
                if resp.compact_revision() > 0 {
                    return Ok(Some(resp.compact_revision()));
                }
                if !resp.events().is_empty() {
                    return Ok(None);
                }
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// Which alarm to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[value(rename_all = "UPPER")]
pub enum AlarmKind {
    Nospace,
    Corrupt,
}

impl From<AlarmKind> for AlarmType {
    fn from(kind: AlarmKind) -> AlarmType {
        match kind {
            AlarmKind::Nospace => AlarmType::Nospace,
            AlarmKind::Corrupt => AlarmType::Corrupt,
        }
    }
}

impl AlarmKind {
    pub fn name(self) -> &'static str {
        super::alarm_name(self.into())
    }

    pub fn parse(name: &str) -> Option<AlarmKind> {
        match name {
            "NOSPACE" => Some(AlarmKind::Nospace),
            "CORRUPT" => Some(AlarmKind::Corrupt),
            _ => None,
        }
    }
}

/// Disarm one alarm of one member.
pub async fn disarm(client: &EtcdClient, member_id: u64, alarm: AlarmKind) -> Result<()> {
    let mut m = client.maintenance();
    let mut opts = AlarmOptions::new();
    opts.with_member(member_id);
    let t = AlarmType::from(alarm);
    client
        .call(m.alarm(AlarmAction::Deactivate, t, Some(opts)))
        .await
        .map(|_| ())
}

/// Open a snapshot stream from the member `client` talks to.
pub async fn snapshot(client: &EtcdClient) -> Result<etcd_client::SnapshotStreaming> {
    let mut m = client.maintenance();
    client.call(m.snapshot()).await
}
