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
    /// etcd refused this user a read of the range.
    #[error("permission denied reading {range}")]
    ReadDenied { range: String },
    /// `search ''`.
    #[error("the search pattern is empty")]
    EmptyPattern,
    /// A search pattern that is not a valid regular expression; `why` says
    /// what and at which character, on one line.
    #[error("`{pattern}` is not a valid regular expression: {why}")]
    BadRegex { pattern: String, why: String },
    /// A search pattern that is not a valid glob.
    #[error("`{pattern}` is not a valid glob: {cause}")]
    BadGlob {
        pattern: String,
        cause: globset::Error,
    },
    /// A resource type name that matches several custom types.
    #[error("`{name}` is ambiguous: it names {}", candidates.join(", "))]
    AmbiguousType {
        name: String,
        candidates: Vec<String>,
    },
    /// A resource type name nothing in the table, the CRDs or the stored
    /// keys knows. `plural_group`: a well-formed `plural.group`, which may
    /// be a custom type with nothing stored yet (not found, exit 1), rather
    /// than a name that cannot be right (usage, exit 2).
    #[error("unknown resource type `{name}`")]
    UnknownType {
        name: String,
        plural_group: bool,
        /// Read offline (a snapshot): only `plural.group` names can be
        /// custom types there.
        offline: bool,
    },
    /// A type name not built in, not found where this user may read, and
    /// `range` (the CRDs, or where its keys would be) refused to this user.
    #[error("cannot tell what `{name}` is: permission denied reading {range}")]
    TypeLookupDenied { name: String, range: String },
    /// `TYPE/REST` where a TYPE or a key prefix goes (`ls pods/default`):
    /// the type is known, the rest has no place there.
    #[error("`{reference}` is not a TYPE or a key prefix")]
    NotARange {
        reference: String,
        type_name: String,
        rest: String,
    },
    /// An object reference that is neither TYPE/NAME, TYPE/NAMESPACE/NAME
    /// nor a key.
    #[error("`{reference}` is not TYPE/NAME, TYPE/NAMESPACE/NAME or a key")]
    BadReference { reference: String, offline: bool },
    /// The name or namespace cannot be part of a key.
    #[error(transparent)]
    BadKey(#[from] registry::key::KeyError),
    /// The caller's own error, returned from a visitor: kept whole.
    #[error("{0}")]
    Visitor(Box<crate::error::Error>),
    /// Reading `key` at `revision` failed.
    #[error("reading `{key}` at revision {revision}: {cause}")]
    ReadAt {
        key: String,
        revision: i64,
        cause: etcd::Error,
    },
    /// A key with no version in the retained history.
    #[error("`{key}` has no version in the retained history")]
    NoHistory { key: String, stop: HistoryStop },
    /// `size --history`: a compaction moved the history while it was read.
    #[error("the keyspace was compacted while it was measured (now at revision {now})")]
    CompactedWhileMeasured { now: i64 },
    /// `size --history`: the replay of revisions `from..=until` went quiet.
    #[error("the replay of revisions {from} to {until} stalled")]
    ReplayStalled { from: i64, until: i64 },
    /// Replaying a key's deletions through a watch took too long.
    #[error("replaying the deletions of `{key}` took too long")]
    ReplayTooSlow { key: String },
    /// The member closed a watch stream before it was done.
    #[error("the member closed the watch stream")]
    WatchClosed,
    /// etcd cancelled a watch, for a reason other than a compaction or a
    /// permission; `reason` is etcd's, when it gave one.
    #[error("etcd cancelled the watch{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    WatchCancelled { reason: Option<String> },
    /// etcd cancelled a watch from `requested`: history before `compact`
    /// is gone.
    #[error("revision {requested} has been compacted; the oldest available revision is {compact}")]
    WatchCompacted { requested: i64, compact: i64 },
    /// etcd cancelled a watch: this user may not read the range.
    #[error("permission denied for this watch")]
    WatchDenied,
    /// The member did not confirm a new watch within the command timeout.
    #[error("the member did not confirm the watch")]
    WatchUnconfirmed,
    /// A reconnect attempt got no answer before the reconnect deadline.
    #[error("no answer")]
    WatchNoAnswer,
    /// The watch was lost and no member answered for `waited`; `next` is
    /// the first revision not delivered.
    #[error("the watch was lost and no member answered for {} (--reconnect-timeout)", humantime::format_duration(*waited))]
    WatchLost {
        waited: std::time::Duration,
        next: i64,
        /// The last attempt's failure.
        last: Option<Box<Error>>,
    },
    /// No endpoint to watch.
    #[error("no etcd endpoint to watch")]
    NoEndpoint,
    /// What failed on the member `endpoint`.
    #[error("`{endpoint}`: {cause}")]
    Member { endpoint: String, cause: Box<Error> },
    /// A decoding thread ended without a result (a panic in a decoder).
    #[error("a decoding thread stopped before the end of its work")]
    WorkerStopped,
    /// A linearizable read got no answer: the member may lack quorum.
    #[error(transparent)]
    NoQuorumRead(etcd::Error),
    #[error(transparent)]
    Etcd(#[from] etcd::Error),
    /// A value encrypted at rest, and no `--encryption-config` to open it.
    #[error("the value is encrypted at rest ({provider}, key `{key_name}`)")]
    Encrypted { provider: String, key_name: String },
    /// The encryption configuration could not open a value.
    #[error(transparent)]
    Decrypt(registry::encryption::EncryptionError),
    /// A value the decoder cannot read.
    #[error("cannot decode: {0}")]
    Decode(registry::value::DecodeError),
    /// `--encryption-config FILE` could not be read.
    #[error("cannot read --encryption-config `{}`", path.display())]
    EncryptionConfigUnreadable {
        path: std::path::PathBuf,
        cause: std::sync::Arc<crate::input::ReadError>,
    },
    /// `--encryption-config FILE` is not an EncryptionConfiguration.
    #[error("`{}`: {cause}", path.display())]
    BadEncryptionConfig {
        path: std::path::PathBuf,
        cause: registry::encryption::EncryptionError,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a history walk that found nothing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryStop {
    /// At the compacted revision: older versions are gone.
    Compacted,
    /// At --since-revision.
    Since,
    /// At the key's creation, or nothing was ever stored.
    Other,
}

/// A key range for messages: `keys under /registry/configmaps/`, `every
/// key`, or `[start, end)`.
impl Error {
    /// etcd's refusal of a read, named with what was read (`range`, as
    /// [`describe_range`] or a key in backticks); any other error as it is.
    pub fn naming_denied(self, range: impl FnOnce() -> String) -> Error {
        match self {
            Error::Etcd(etcd::Error::PermissionDenied)
            | Error::NoQuorumRead(etcd::Error::PermissionDenied) => {
                Error::ReadDenied { range: range() }
            }
            e => e,
        }
    }
}

pub fn describe_range(start: &[u8], end: &[u8]) -> String {
    if start == [0] && end == [0] {
        return "every key".into();
    }
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if end == super::scan::prefix_end(start) {
        format!("keys under {}", text(start))
    } else {
        format!("[{}, {})", text(start), text(end))
    }
}

#[cfg(test)]
mod tests {
    use super::describe_range;

    #[test]
    fn denied_ranges_read_as_prefixes_when_they_are() {
        assert_eq!(
            describe_range(b"/registry/pods/", b"/registry/pods0"),
            "keys under /registry/pods/"
        );
        assert_eq!(describe_range(&[0], &[0]), "every key");
        assert_eq!(describe_range(b"a", b"c"), "[a, c)");
    }
}
