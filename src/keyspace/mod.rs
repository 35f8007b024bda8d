//! The `/registry` keyspace over a live etcd: paginated scans at one
//! revision, references resolved to keys, values decoded to objects, and
//! watches that survive their member.
//!
//! The storage format itself (key layout, types, decoding, encryption) is
//! the pure `registry` crate; this module adds the etcd reads around it.

pub mod count;
pub mod custom;
pub mod decode;
pub mod diff;
pub mod edit;
pub mod error;
pub mod history;
pub mod history_size;
pub mod leases;
pub mod names;
pub mod parallel;
pub mod pattern;
pub mod plan;
pub mod resolve;
pub mod scan;
pub mod scope;
pub mod search;
pub mod size;
pub mod stats;
pub mod top;
pub mod watch;

pub use error::Error;

/// Refuses a start revision past the keyspace's: `revision` may be at most
/// the current revision plus `ahead` (1 for a watch, which may start at the
/// next write). A typo'd revision would otherwise wait for a write that
/// may never come, or answer that nothing happened since.
pub async fn refuse_future_revision(
    client: &crate::etcd::EtcdClient,
    revision: i64,
    ahead: i64,
) -> Result<(), Error> {
    let current = crate::etcd::maintenance::current_revision(client, false).await?;
    if revision > current + ahead {
        return Err(Error::FutureRevision { revision, current });
    }
    Ok(())
}
