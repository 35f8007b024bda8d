//! Errors that reach the user: a one-line cause, an optional `help:` line,
//! and the exit code a script can rely on.
//!
//! Lower layers keep their own error types; this module turns them into one
//! line each. It never prints: `main` does.

use std::fmt;

/// Exit codes. Documented in README.md; scripts depend on them, so a value
/// never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything asked for succeeded.
    Ok = 0,
    /// The command ran, but the answer is negative: a member is unhealthy or
    /// unreachable, a search matched nothing, a step failed on some member.
    Failed = 1,
    /// The command line is wrong (clap uses 2 as well).
    Usage = 2,
    /// etcd (or the Kubernetes API) could not be reached, TLS or auth failed.
    Unavailable = 3,
    /// A write was refused for safety: quorum at risk, no confirmation.
    Refused = 4,
    /// Input data is bad: corrupt snapshot, undecodable value, bad file.
    Data = 5,
    /// Stopped by Ctrl-C (SIGINT), after saying what was done and what is
    /// left; 128 + SIGINT, as shells report it.
    Interrupted = 130,
}

/// What went wrong, in the words the user needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Usage,
    Unavailable,
    Tls,
    Auth,
    NoQuorum,
    NoSpace,
    Refused,
    Data,
    Io,
    /// Some members failed; the per-member rows were already printed.
    Partial,
    NotFound,
    /// Ctrl-C: the message says what was done and what is left.
    Interrupted,
    Other,
}

impl Kind {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Kind::Usage => ExitCode::Usage,
            Kind::Unavailable | Kind::Tls | Kind::Auth | Kind::NoQuorum => ExitCode::Unavailable,
            Kind::Refused => ExitCode::Refused,
            Kind::Data => ExitCode::Data,
            Kind::Interrupted => ExitCode::Interrupted,
            Kind::NoSpace | Kind::Io | Kind::Partial | Kind::NotFound | Kind::Other => {
                ExitCode::Failed
            }
        }
    }
}

/// The error type of every command.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
    /// The typed cause, for callers that decide on it (never on `message`).
    pub cause: Option<Box<Cause>>,
}

/// What a lower layer said, kept whole under the message made from it.
#[derive(Debug, Clone)]
pub enum Cause {
    Etcd(crate::etcd::Error),
    Keyspace(crate::keyspace::Error),
    Io(std::io::ErrorKind),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            cause: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Kind::Usage, message)
    }

    pub fn data(message: impl Into<String>) -> Self {
        Error::new(Kind::Data, message)
    }

    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        let mut e = Error::new(Kind::Io, format!("{what}: {err}"));
        e.cause = Some(Box::new(Cause::Io(err.kind())));
        e
    }

    /// Writing `what` (json, yaml) failed; an I/O failure keeps its kind,
    /// so a closed pipe is still recognised as one.
    pub fn writing(what: &str, err: serde_json::Error) -> Self {
        let mut e = Error::new(Kind::Io, format!("writing {what}: {err}"));
        e.cause = err.io_error_kind().map(|k| Box::new(Cause::Io(k)));
        e
    }

    /// The etcd failure under this error, if that is what it is.
    pub fn etcd(&self) -> Option<&crate::etcd::Error> {
        match &self.cause {
            Some(c) => match c.as_ref() {
                Cause::Etcd(e) => Some(e),
                _ => None,
            },
            _ => None,
        }
    }

    /// The I/O error kind under this error, if that is what it is.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match &self.cause {
            Some(c) => match c.as_ref() {
                Cause::Io(k) => Some(*k),
                _ => None,
            },
            _ => None,
        }
    }

    /// Stopped by Ctrl-C; `message` says what was done and what is left.
    pub fn interrupted(message: impl Into<String>) -> Self {
        Error::new(Kind::Interrupted, message)
    }

    /// The rows were printed already; only the exit code is left to say.
    pub fn partial(message: impl Into<String>) -> Self {
        Error::new(Kind::Partial, message)
    }

    pub fn exit_code(&self) -> ExitCode {
        self.kind.exit_code()
    }

    /// Prefix the message with where it happened (a member, a file).
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        let mut e = Error::new(Kind::Io, err.to_string());
        e.cause = Some(Box::new(Cause::Io(err.kind())));
        e
    }
}

const QUORUM_HINT: &str = "a majority of members must be running: check `kubectl etcd members`";

impl From<crate::etcd::Error> for Error {
    fn from(err: crate::etcd::Error) -> Self {
        use crate::etcd::Error as E;
        let (kind, message, hint): (Kind, String, Option<&str>) = match &err {
            E::Connect(c) => {
                let mut e = Error::from(c.clone());
                e.cause = Some(Box::new(Cause::Etcd(err)));
                return e;
            }
            E::Compacted => (
                Kind::Data,
                "the revision read has been compacted: etcd no longer has it".into(),
                Some("read at a newer --revision, or without one"),
            ),
            E::FutureRevision => (
                Kind::Usage,
                "the revision asked for is newer than the cluster's current revision".into(),
                Some("pass a revision at most the current one (`kubectl etcd status` shows it), or none"),
            ),
            E::NoSpace => (
                Kind::NoSpace,
                "etcd is out of space (NOSPACE alarm): writes are refused".into(),
                Some("run `kubectl etcd recover-space` to compact, defragment and disarm"),
            ),
            E::NotSupportedForLearner => (
                Kind::Refused,
                "the member is a learner, and etcd does not serve this request on learners".into(),
                Some("ask a voting member (`kubectl etcd members` shows which are learners)"),
            ),
            E::LearnerNotReady => (
                Kind::Refused,
                "the learner has not caught up with the leader yet".into(),
                Some("wait for it to catch up, then try again"),
            ),
            E::TooManyLearners => (
                Kind::Refused,
                "etcd allows one learner at a time, and there is one already".into(),
                Some("promote or remove the existing learner first"),
            ),
            E::UnhealthyCluster => (
                Kind::Refused,
                "etcd refused the membership change: the cluster is not healthy enough".into(),
                Some("wait until every member has been up a few seconds (`kubectl etcd health`)"),
            ),
            E::PermissionDenied => (
                Kind::Auth,
                "permission denied for this user".into(),
                Some("use a user with the root role for maintenance commands"),
            ),
            E::AuthFailed => (
                Kind::Auth,
                "authentication failed: wrong user name or password".into(),
                Some("check --user and --password (ETCDCTL_USER, ETCDCTL_PASSWORD)"),
            ),
            E::AuthRequired => (
                Kind::Auth,
                "etcd requires authentication".into(),
                Some("pass --user NAME:PASSWORD (or ETCDCTL_USER)"),
            ),
            E::NoLeader => (
                Kind::NoQuorum,
                "the cluster has no leader (quorum lost)".into(),
                Some(QUORUM_HINT),
            ),
            E::NotCommitted(m) => (
                Kind::NoQuorum,
                format!("{m} (quorum may be lost)"),
                Some(QUORUM_HINT),
            ),
            E::ResponseTooLarge(_) => (
                Kind::Other,
                "a response was larger than the client accepts".into(),
                Some("the values in this range are very large; read fewer at a time"),
            ),
            E::ConnectionDropped => (
                Kind::Unavailable,
                "the connection to the member dropped".into(),
                Some("check that the member is still running, then try again"),
            ),
            E::NoAnswer(t) => (
                Kind::Unavailable,
                format!("no answer within {t:?}"),
                Some("the member may be overloaded or without quorum; raise --command-timeout to wait longer"),
            ),
            E::ClientCertRejected => (
                Kind::Tls,
                "the member closed the TLS connection: it may have rejected the client certificate".into(),
                Some("pass a client certificate signed by the CA etcd trusts (--cert, --key)"),
            ),
            E::Status { message, .. } => (Kind::Other, message.clone(), None),
            E::Client(m) => (Kind::Other, m.clone(), None),
        };
        Error {
            kind,
            message,
            hint: hint.map(str::to_string),
            cause: Some(Box::new(Cause::Etcd(err))),
        }
    }
}

impl From<crate::keyspace::Error> for Error {
    fn from(err: crate::keyspace::Error) -> Self {
        use crate::keyspace::Error as K;
        let (kind, message, hint): (Kind, String, Option<&str>) = match &err {
            K::Etcd(e) => return Error::from(e.clone()),
            K::NoQuorumRead(e) => {
                let e = Error::from(e.clone());
                if e.kind != Kind::Unavailable {
                    return e;
                }
                return e.with_hint(
                    "the cluster may have lost quorum: --consistency s reads what the member \
                     holds (possibly stale), or raise --command-timeout to wait longer",
                );
            }
            K::Compacted { revision } => (
                Kind::Data,
                format!("revision {revision} has been compacted: etcd no longer has it"),
                Some("read at a newer --revision, or without one"),
            ),
            K::FutureRevision { .. } => (
                Kind::Usage,
                err.to_string(),
                Some("leave out --revision to read the current state"),
            ),
            K::CompactedRepeatedly { .. } => (
                Kind::Other,
                err.to_string(),
                Some("something compacts the keyspace faster than the scan advances: try again, or narrow the range"),
            ),
            K::ValueTooLarge { .. } | K::ReaderStopped => (Kind::Other, err.to_string(), None),
        };
        Error {
            kind,
            message,
            hint: hint.map(str::to_string),
            cause: Some(Box::new(Cause::Keyspace(err))),
        }
    }
}

impl From<crate::connect::Error> for Error {
    fn from(err: crate::connect::Error) -> Self {
        use crate::connect::Error as C;
        let unreachable = "check that the member is running and the address is right";
        let (kind, message, hint): (Kind, String, Option<&str>) = match &err {
            C::Dialer(ours) => return (**ours).clone(),
            C::Tls(r) => return tls_error(r),
            C::Refused => (Kind::Unavailable, err.to_string(), Some(unreachable)),
            C::TimedOut => (
                Kind::Unavailable,
                err.to_string(),
                Some("check the address and any firewall between here and etcd"),
            ),
            C::Dns { .. } => (
                Kind::Unavailable,
                err.to_string(),
                Some("check the host name in --endpoints"),
            ),
            C::NotTls => (
                Kind::Tls,
                "the member does not speak TLS: it closed the connection during the handshake"
                    .into(),
                Some("the member may serve plain http: use an http:// endpoint for it"),
            ),
            C::Closed => (
                Kind::Unavailable,
                err.to_string(),
                Some("if the member uses TLS, use an https:// endpoint with --cacert"),
            ),
            C::Io { detail, .. } => (Kind::Unavailable, detail.clone(), None),
        };
        let kind_of_io = match &err {
            C::Io { kind, .. } => Some(Box::new(Cause::Io(*kind))),
            _ => None,
        };
        Error {
            kind,
            message,
            hint: hint.map(str::to_string),
            cause: kind_of_io.or(Some(Box::new(Cause::Etcd(crate::etcd::Error::Connect(
                err,
            ))))),
        }
    }
}

/// A failed handshake in the operator's terms.
pub fn tls_error(err: &rustls::Error) -> Error {
    use rustls::{AlertDescription, CertificateError};
    let (message, hint) = match err {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        | rustls::Error::InvalidCertificate(CertificateError::BadSignature) => (
            "the server certificate is not signed by the given CA".to_string(),
            "pass the CA that signed the etcd server certificate with --cacert",
        ),
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
        | rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => (
            "the server certificate does not name this host".to_string(),
            "pass --tls-server-name with a name from the certificate (or the member's IP)",
        ),
        rustls::Error::InvalidCertificate(CertificateError::Expired)
        | rustls::Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => (
            "the server certificate has expired".to_string(),
            "renew the etcd certificates (kubeadm: `kubeadm certs renew etcd-server`)",
        ),
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired)
        | rustls::Error::AlertReceived(AlertDescription::HandshakeFailure) => (
            "the server requires a client certificate".to_string(),
            "pass --cert and --key (kubeadm: /etc/kubernetes/pki/etcd/healthcheck-client.crt and .key)",
        ),
        rustls::Error::AlertReceived(AlertDescription::BadCertificate)
        | rustls::Error::AlertReceived(AlertDescription::UnknownCA) => (
            "the server rejected the client certificate".to_string(),
            "pass a client certificate signed by the etcd client CA with --cert and --key",
        ),
        rustls::Error::InvalidMessage(_) => (
            "the server does not speak TLS".to_string(),
            "use an http:// endpoint for this member",
        ),
        other => (
            format!("tls handshake failed: {other}"),
            "check --cacert, --cert and --key",
        ),
    };
    let mut e = Error::new(Kind::Tls, message).with_hint(hint);
    e.cause = Some(Box::new(Cause::Etcd(crate::etcd::Error::Connect(
        crate::connect::Error::Tls(err.clone()),
    ))));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_problems_exit_3_and_partial_results_exit_1() {
        assert_eq!(Kind::Tls.exit_code() as i32, 3);
        assert_eq!(Kind::Auth.exit_code() as i32, 3);
        assert_eq!(Kind::Partial.exit_code() as i32, 1);
        assert_eq!(Kind::Refused.exit_code() as i32, 4);
        assert_eq!(Kind::Data.exit_code() as i32, 5);
        assert_eq!(Kind::Interrupted.exit_code() as i32, 130);
    }

    #[test]
    fn context_prefixes_the_message_once() {
        let e = Error::new(Kind::Unavailable, "connection refused").context("member `m1`");
        assert_eq!(e.to_string(), "member `m1`: connection refused");
    }
}
