//! Leases: the ids etcd holds (`LeaseLeases`) and each lease's TTLs and
//! attached keys (`LeaseTimeToLive` with `keys`). Returns data; never prints.
//!
//! What it costs etcd: one `LeaseLeases` (the ids only), then one
//! `TimeToLive` per lease. Every `TimeToLive` with keys makes the leader copy
//! that lease's key list, so the calls run at most [`PARALLEL`] at a time,
//! and each answer is reduced by the caller's `summarize` before the next
//! one is asked: memory holds one summary per lease plus the key lists of
//! the calls in flight, never every leased key at once.

use futures::stream::{self, StreamExt};

use super::{EtcdClient, Result};

/// `TimeToLive` calls in flight at once.
pub const PARALLEL: usize = 8;

/// Lease ids as etcdctl prints them: 16 lowercase hex digits.
pub fn format_lease_id(id: i64) -> String {
    format!("{:016x}", id as u64)
}

/// Parse a lease id as etcdctl prints it (hex, leading zeros and `0x`
/// optional).
pub fn parse_lease_id(s: &str) -> Option<i64> {
    let s = s.trim();
    let hex = s.strip_prefix("0x").unwrap_or(s);
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|v| v as i64)
}

/// One lease as `TimeToLive` reports it, with what the caller made of its
/// keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease<S> {
    pub id: i64,
    /// The TTL the lease was granted (or last renewed) with, in seconds.
    pub granted_ttl: i64,
    /// Seconds left before it expires.
    pub remaining_ttl: i64,
    /// How many keys are attached.
    pub keys: u64,
    pub summary: S,
}

/// Every lease id the cluster holds.
pub async fn ids(client: &EtcdClient) -> Result<Vec<i64>> {
    let mut c = client.inner.lease_client();
    let resp = client.call(c.leases()).await?;
    Ok(resp.leases().iter().map(|l| l.id()).collect())
}

/// One lease with its keys handed to `summarize`; `None` when it has
/// expired (or never existed): etcd answers a TTL of -1 then.
pub async fn one<S>(
    client: &EtcdClient,
    id: i64,
    summarize: impl FnOnce(&[Vec<u8>]) -> S,
) -> Result<Option<Lease<S>>> {
    let mut c = client.inner.lease_client();
    let opts = etcd_client::LeaseTimeToLiveOptions::new().with_keys();
    let resp = client.call(c.time_to_live(id, Some(opts))).await?;
    if resp.ttl() < 0 {
        return Ok(None);
    }
    Ok(Some(Lease {
        id,
        granted_ttl: resp.granted_ttl(),
        remaining_ttl: resp.ttl(),
        keys: resp.keys().len() as u64,
        summary: summarize(resp.keys()),
    }))
}

/// Every live lease, [`PARALLEL`] `TimeToLive` calls at a time; leases that
/// expire between the listing and their call are left out. The first
/// failure ends the listing.
pub async fn all<S>(
    client: &EtcdClient,
    summarize: impl Fn(&[Vec<u8>]) -> S,
) -> Result<Vec<Lease<S>>> {
    let ids = ids(client).await?;
    let summarize = &summarize;
    let mut answers = stream::iter(ids)
        .map(|id| async move { one(client, id, summarize).await })
        .buffer_unordered(PARALLEL);
    let mut out = Vec::new();
    while let Some(answer) = answers.next().await {
        if let Some(lease) = answer? {
            out.push(lease);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids_read_and_print_as_etcdctl_does() {
        assert_eq!(format_lease_id(0x694d81fd2d8f9a05), "694d81fd2d8f9a05");
        assert_eq!(format_lease_id(1), "0000000000000001");
        assert_eq!(parse_lease_id("694d81fd2d8f9a05"), Some(0x694d81fd2d8f9a05));
        assert_eq!(parse_lease_id("0x1f"), Some(31));
        assert_eq!(parse_lease_id("lease-1"), None);
        assert_eq!(parse_lease_id(""), None);
        assert_eq!(parse_lease_id("1234567890abcdef0"), None);
    }
}
