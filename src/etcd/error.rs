//! What etcd (or the way to it) answered when a call failed, as a variant.
//!
//! etcd reports most conditions only in the gRPC message (its `rpctypes`
//! errors, e.g. `etcdserver: mvcc: required revision has been compacted`).
//! [`classify`] is the one place those strings are compared; everything
//! else matches on the variant. [`crate::error`] turns variants into the
//! operator's line, `help:` and exit code.

use std::time::Duration;

use crate::connect;

/// A failed etcd call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The revision asked for was compacted away.
    #[error("required revision has been compacted")]
    Compacted,
    /// The revision asked for is newer than the keyspace.
    #[error("required revision is a future revision")]
    FutureRevision,
    /// A compaction at `revision`, which is compacted already.
    #[error("revision {revision} is already compacted")]
    AlreadyCompacted { revision: i64 },
    /// A compaction at `revision`, which is newer than the keyspace.
    #[error("revision {revision} is newer than the current revision")]
    CompactAhead { revision: i64 },
    /// The NOSPACE alarm is raised: writes are refused.
    #[error("database space exceeded")]
    NoSpace,
    /// A learner refuses this call (linearizable reads, defragment on etcd 3.4).
    #[error("rpc not supported for learner")]
    NotSupportedForLearner,
    /// A learner cannot be promoted before it caught up.
    #[error("the learner is not in sync with the leader yet")]
    LearnerNotReady,
    #[error("too many learner members in the cluster")]
    TooManyLearners,
    /// Membership changes refused until every peer has been connected a while.
    #[error("unhealthy cluster")]
    UnhealthyCluster,
    #[error("permission denied")]
    PermissionDenied,
    /// Wrong user name or password.
    #[error("authentication failed")]
    AuthFailed,
    /// No (valid) credentials, and etcd requires them.
    #[error("authentication required")]
    AuthRequired,
    #[error("no leader")]
    NoLeader,
    /// The request was not committed in time (`request timed out`, `leader
    /// changed`): etcd's words are kept.
    #[error("{0}")]
    NotCommitted(String),
    /// The response is larger than the client accepts.
    #[error("the response is larger than the client accepts ({0})")]
    ResponseTooLarge(String),
    /// A stream (snapshot, watch) broke after it had started.
    #[error("the connection to the member dropped")]
    ConnectionDropped,
    /// Our own deadline passed (`--command-timeout`, `--dial-timeout`).
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
    /// No connection to the member within `--dial-timeout`.
    #[error("no answer within {0:?} (--dial-timeout)")]
    DialTimeout(Duration),
    /// Connected, and the authentication call got no answer within the
    /// command timeout.
    #[error("connected, but authentication got no answer")]
    AuthNoAnswer,
    /// Nothing to connect to: no endpoint was given or discovered.
    #[error("no etcd endpoint to connect to")]
    NoEndpoint,
    /// Of the members surveyed, not one answered.
    #[error("no member answered")]
    NoMemberAnswered,
    /// Not one of `total` members could be reached; `endpoint` when there
    /// is one member, `first` the first member's failure.
    #[error(
        "{}{}",
        match endpoint {
            Some(e) => format!("`{e}` could not be reached"),
            None => format!("none of the {total} members could be reached"),
        },
        first.as_ref().map(|f| format!(": {f}")).unwrap_or_default()
    )]
    Unreached {
        total: usize,
        endpoint: Option<String>,
        first: Option<Box<Error>>,
    },
    /// The member could not be reached, or TLS failed.
    #[error(transparent)]
    Connect(#[from] connect::Error),
    /// The member accepted the TLS connection and then closed it: it may
    /// have rejected our client certificate.
    #[error("the member closed the tls connection")]
    ClientCertRejected,
    /// Any other refusal, with etcd's code and message kept.
    #[error("{message}")]
    Status { code: tonic::Code, message: String },
    /// etcd-client's own complaint (bad arguments, a broken watch).
    #[error("{0}")]
    Client(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The operator's error for this, prefixed with where it happened.
    pub fn context(self, what: impl std::fmt::Display) -> crate::error::Error {
        crate::error::Error::from(self).context(what)
    }

    /// Refusals etcd lifts by itself after a moment: the cluster was just
    /// changed and a peer has not connected yet, or the learner is behind.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::UnhealthyCluster
                | Error::TooManyLearners
                | Error::LearnerNotReady
                | Error::NotCommitted(_)
                | Error::NoLeader
        )
    }

    /// Whether a write that ended with this may still have been applied:
    /// no answer in time, the connection dropped after the request went
    /// out, or etcd's own `request timed out`/`leader changed` (proposed,
    /// not yet committed: it may commit later). A refusal, or a failure to
    /// connect at all, leaves nothing in doubt.
    pub fn leaves_write_in_doubt(&self) -> bool {
        matches!(
            self,
            Error::NoAnswer(_) | Error::ConnectionDropped | Error::NotCommitted(_)
        )
    }

    /// Whether the connection itself failed (rather than etcd refusing).
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            Error::Connect(_)
                | Error::ConnectionDropped
                | Error::NoAnswer(_)
                | Error::DialTimeout(_)
                | Error::AuthNoAnswer
        )
    }
}

/// Classify an etcd-client error: the one place etcd's messages are read.
pub fn classify(err: &etcd_client::Error) -> Error {
    match err {
        etcd_client::Error::GRpcStatus(status) => classify_status(status),
        etcd_client::Error::TransportError(e) => transport(e),
        etcd_client::Error::IoError(e) => transport(e),
        other => Error::Client(other.to_string()),
    }
}

/// Like [`classify`], for an error that broke a stream already flowing
/// (a snapshot, a watch): a closed connection is a dropped one.
pub fn classify_stream(err: &etcd_client::Error) -> Error {
    match classify(err) {
        Error::Connect(connect::Error::Closed) => Error::ConnectionDropped,
        other => other,
    }
}

/// A gRPC status from etcd or from the transport under it.
pub fn classify_status(status: &tonic::Status) -> Error {
    let code = status.code();
    let message = status.message();
    if let Some(e) = from_reason(message) {
        return e;
    }
    match code {
        // tonic's own refusal of a response past max_decoding_message_size.
        tonic::Code::OutOfRange if message.contains("message length too large") => {
            Error::ResponseTooLarge(message.to_string())
        }
        tonic::Code::Unavailable
        | tonic::Code::Unknown
        | tonic::Code::Cancelled
        | tonic::Code::Internal => match connect::error::classify(status) {
            Some(c) => Error::Connect(c),
            None => Error::Status {
                code,
                message: root_message(status),
            },
        },
        tonic::Code::DeadlineExceeded => Error::NotCommitted(trimmed(message)),
        _ => Error::Status {
            code,
            message: trimmed(message),
        },
    }
}

/// etcd's rpctypes messages (also a watch's cancel reason), or `None` when
/// the text is none of those we act on. A watch's cancel reason is the
/// whole gRPC status as text (`rpc error: code = PermissionDenied desc =
/// etcdserver: permission denied`, etcd 3.4 and 3.5): its `desc` is read.
pub fn from_reason(message: &str) -> Option<Error> {
    let message = message
        .strip_prefix("rpc error: code = ")
        .and_then(|rest| rest.split_once(" desc = "))
        .map_or(message, |(_, desc)| desc);
    let m = trimmed(message);
    let m = m.trim_start_matches("mvcc: ");
    Some(match m {
        "required revision has been compacted" => Error::Compacted,
        "required revision is a future revision" => Error::FutureRevision,
        "database space exceeded" => Error::NoSpace,
        "rpc not supported for learner" => Error::NotSupportedForLearner,
        "can only promote a learner member which is in sync with leader" => Error::LearnerNotReady,
        "too many learner members in cluster" => Error::TooManyLearners,
        "unhealthy cluster" => Error::UnhealthyCluster,
        "permission denied" => Error::PermissionDenied,
        "user name is empty" | "invalid auth token" | "user name not found" => Error::AuthRequired,
        "no leader" => Error::NoLeader,
        _ if m.starts_with("authentication failed") => Error::AuthFailed,
        _ if m.starts_with("request timed out") || m == "leader changed" => {
            Error::NotCommitted(m.to_string())
        }
        _ => return None,
    })
}

fn trimmed(message: &str) -> String {
    message.trim_start_matches("etcdserver: ").to_string()
}

/// The deepest message in a chain: each level repeats the one below, so
/// only the root is printed.
fn root_message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let text = cur.to_string();
    if text.is_empty() {
        err.to_string()
    } else {
        text
    }
}

pub(crate) fn transport(err: &(dyn std::error::Error + 'static)) -> Error {
    match connect::error::classify(err) {
        Some(c) => Error::Connect(c),
        None => Error::Status {
            code: tonic::Code::Unavailable,
            message: root_message(err),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::{Code, Status};

    fn status(code: Code, message: &str) -> Error {
        classify(&etcd_client::Error::GRpcStatus(Status::new(code, message)))
    }

    #[test]
    fn etcd_rpctypes_messages_become_variants() {
        type Case = (Code, &'static str, fn(&Error) -> bool);
        let cases: &[Case] = &[
            (
                Code::OutOfRange,
                "etcdserver: mvcc: required revision has been compacted",
                |e| matches!(e, Error::Compacted),
            ),
            (
                Code::OutOfRange,
                "etcdserver: mvcc: required revision is a future revision",
                |e| matches!(e, Error::FutureRevision),
            ),
            (
                Code::ResourceExhausted,
                "etcdserver: mvcc: database space exceeded",
                |e| matches!(e, Error::NoSpace),
            ),
            (
                Code::Unavailable,
                "etcdserver: rpc not supported for learner",
                |e| matches!(e, Error::NotSupportedForLearner),
            ),
            (
                Code::FailedPrecondition,
                "etcdserver: can only promote a learner member which is in sync with leader",
                |e| matches!(e, Error::LearnerNotReady),
            ),
            (
                Code::FailedPrecondition,
                "etcdserver: too many learner members in cluster",
                |e| matches!(e, Error::TooManyLearners),
            ),
            (Code::Unavailable, "etcdserver: unhealthy cluster", |e| {
                matches!(e, Error::UnhealthyCluster)
            }),
            (Code::PermissionDenied, "etcdserver: permission denied", |e| {
                matches!(e, Error::PermissionDenied)
            }),
            (
                Code::InvalidArgument,
                "etcdserver: authentication failed, invalid user ID or password",
                |e| matches!(e, Error::AuthFailed),
            ),
            (Code::InvalidArgument, "etcdserver: user name is empty", |e| {
                matches!(e, Error::AuthRequired)
            }),
            (Code::Unauthenticated, "etcdserver: invalid auth token", |e| {
                matches!(e, Error::AuthRequired)
            }),
            (Code::Unavailable, "etcdserver: no leader", |e| {
                matches!(e, Error::NoLeader)
            }),
            (
                Code::Unavailable,
                "etcdserver: request timed out, possibly due to previous leader failure",
                |e| matches!(e, Error::NotCommitted(m) if m.starts_with("request timed out")),
            ),
            (Code::Unavailable, "etcdserver: leader changed", |e| {
                matches!(e, Error::NotCommitted(_))
            }),
            (
                Code::OutOfRange,
                "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
                |e| matches!(e, Error::ResponseTooLarge(_)),
            ),
            (
                Code::FailedPrecondition,
                "etcdserver: member not found",
                |e| matches!(e, Error::Status { code: Code::FailedPrecondition, message } if message == "member not found"),
            ),
        ];
        for (code, message, is) in cases {
            let e = status(*code, message);
            assert!(is(&e), "{message:?} classified as {e:?}");
        }
    }

    #[test]
    fn a_watch_cancel_reason_is_classified_alike() {
        assert!(matches!(
            from_reason("etcdserver: permission denied"),
            Some(Error::PermissionDenied)
        ));
        assert!(matches!(
            from_reason("rpc error: code = PermissionDenied desc = etcdserver: permission denied"),
            Some(Error::PermissionDenied)
        ));
        assert!(from_reason("something else").is_none());
    }

    #[test]
    fn only_an_unanswered_or_uncommitted_write_is_in_doubt() {
        for e in [
            Error::NoAnswer(Duration::from_secs(3)),
            Error::ConnectionDropped,
            Error::NotCommitted("etcdserver: request timed out".into()),
        ] {
            assert!(e.leaves_write_in_doubt(), "{e:?}");
        }
        for e in [
            Error::Connect(connect::Error::Refused),
            Error::DialTimeout(Duration::from_secs(3)),
            Error::PermissionDenied,
            Error::NoLeader,
            Error::AuthNoAnswer,
        ] {
            assert!(!e.leaves_write_in_doubt(), "{e:?}");
        }
    }

    #[test]
    fn transport_failures_keep_their_io_kind() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = classify(&etcd_client::Error::IoError(io));
        assert!(
            matches!(e, Error::Connect(connect::Error::Refused)),
            "{e:?}"
        );
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let e = classify_stream(&etcd_client::Error::IoError(io));
        assert!(matches!(e, Error::ConnectionDropped), "{e:?}");
    }

    #[test]
    fn connect_failures_keep_their_line_help_and_exit_code() {
        let e = crate::error::Error::from(Error::DialTimeout(Duration::from_secs(5)));
        assert_eq!(e.message, "no answer within 5s (--dial-timeout)");
        assert_eq!(
            e.hint.as_deref(),
            Some("check that the member is running and the address is right")
        );
        assert_eq!(e.exit_code() as i32, 3);
        assert!(matches!(e.etcd(), Some(Error::DialTimeout(_))));
        let e = crate::error::Error::from(Error::NoEndpoint);
        assert_eq!(e.exit_code() as i32, 2);
        let e = crate::error::Error::from(Error::AlreadyCompacted { revision: 7 });
        assert_eq!(
            (e.exit_code() as i32, e.message.as_str()),
            (4, "revision 7 is already compacted")
        );
    }

    #[test]
    fn an_unreached_cluster_exits_3_with_the_first_members_cause_and_help() {
        // A permission refusal alone is exit 3 as well; what matters is
        // that nothing was reached, and its help is kept.
        let e = crate::error::Error::from(Error::Unreached {
            total: 3,
            endpoint: None,
            first: Some(Box::new(Error::Connect(connect::Error::Refused))),
        });
        e.assert_line(
            3,
            "none of the 3 members could be reached: connection refused",
            Some("check that the member is running and the address is right"),
        );
        assert!(matches!(
            e.etcd(),
            Some(Error::Connect(connect::Error::Refused))
        ));
        let e = crate::error::Error::from(Error::Unreached {
            total: 1,
            endpoint: Some("https://10.0.0.1:2379".into()),
            first: Some(Box::new(Error::NotSupportedForLearner)),
        });
        assert_eq!(e.kind, crate::error::Kind::Unavailable);
        assert!(e
            .message
            .starts_with("`https://10.0.0.1:2379` could not be reached: "));
    }

    #[test]
    fn transient_refusals_are_the_ones_etcd_lifts_by_itself() {
        assert!(Error::UnhealthyCluster.is_transient());
        assert!(Error::LearnerNotReady.is_transient());
        assert!(!Error::PermissionDenied.is_transient());
        assert!(!Error::Compacted.is_transient());
    }
}
