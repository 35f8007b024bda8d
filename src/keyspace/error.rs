//! Why a read of the keyspace failed, beyond what etcd said.
//!
//! [`crate::error`] turns each variant into the operator's line and `help:`.

use crate::etcd;

/// A failed scan.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The revision asked for (`--revision`) was compacted away.
    #[error("revision {revision} has been compacted")]
    Compacted { revision: i64 },
    /// The revision asked for is newer than the keyspace.
    #[error("revision {revision} is newer than the current revision {current}")]
    FutureRevision { revision: i64, current: i64 },
    /// Compacted again and again, faster than the scan could make progress.
    #[error("the revision was compacted {times} times during the scan")]
    CompactedRepeatedly { times: u32 },
    /// One key's value alone is larger than the client accepts.
    #[error("`{key}` alone is larger than the client accepts ({limit} bytes)")]
    ValueTooLarge { key: String, limit: usize },
    /// A reader task ended without saying why (a bug, or a panic).
    #[error("a reader stopped before the end of its part of the scan")]
    ReaderStopped,
    /// A linearizable read got no answer: the member may lack quorum.
    #[error(transparent)]
    NoQuorumRead(etcd::Error),
    #[error(transparent)]
    Etcd(#[from] etcd::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
