//! Read-only questions `doctor` asks each member on its own connection:
//! its view of the cluster, the hash of its keyspace at a revision, and
//! round-trip probes. Each returns data; nothing prints.

use std::time::{Duration, Instant};

use super::Result;
use super::{EtcdClient, Member};

/// The key the write probe puts and deletes; documented in README.
pub const WRITE_PROBE_KEY: &str = "/kubectl-etcd/doctor/write-probe";

/// One member's own view of the cluster.
#[derive(Debug, Clone)]
pub struct View {
    pub cluster_id: u64,
    pub members: Vec<Member>,
}

/// The member list as this member sees it, with its cluster id.
pub async fn view(client: &EtcdClient) -> Result<View> {
    let mut c = client.cluster();
    let resp = client.call(c.member_list()).await?;
    Ok(View {
        cluster_id: resp.header().map(|h| h.cluster_id()).unwrap_or_default(),
        members: resp.members().iter().map(Member::from).collect(),
    })
}

/// HashKV of one member up to `revision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hash {
    pub hash: u32,
    /// The member's compacted revision when it computed the hash.
    pub compact_revision: i64,
}

pub async fn hash_kv(client: &EtcdClient, revision: i64, timeout: Duration) -> Result<Hash> {
    let mut m = client.maintenance();
    let resp = client
        .call_with_timeout(timeout, m.hash_kv(revision))
        .await?;
    Ok(Hash {
        hash: resp.hash(),
        compact_revision: resp.compact_version(),
    })
}

/// The median of `n` reads of one absent key: serializable (this member
/// alone) or linearizable (through the leader's read index).
pub async fn read_latency(client: &EtcdClient, serializable: bool, n: usize) -> Result<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let mut kv = client.kv();
        let mut opts = etcd_client::GetOptions::new().with_count_only();
        if serializable {
            opts = opts.with_serializable();
        }
        let start = Instant::now();
        client.call(kv.get(WRITE_PROBE_KEY, Some(opts))).await?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// A put and a delete of [`WRITE_PROBE_KEY`]: the time of the put, which
/// returns once the entry is committed and applied.
pub async fn write_latency(client: &EtcdClient) -> Result<Duration> {
    let mut kv = client.kv();
    let start = Instant::now();
    client.call(kv.put(WRITE_PROBE_KEY, "probe", None)).await?;
    let took = start.elapsed();
    client.call(kv.delete(WRITE_PROBE_KEY, None)).await?;
    Ok(took)
}
