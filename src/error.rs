//! Errors that reach the user: a one-line cause, an optional `help:` line,
//! and the exit code a script can rely on.
//!
//! Lower layers keep their own error types; this module turns them into one
//! line each. It never prints: `main` does.

use std::fmt;

mod key;
pub use key::FailureKey;

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
    Kube(crate::connect::kube::Error),
    /// TLS settings that cannot work (files, PEM, a missing `--key`).
    Connect(crate::connect::Error),
    Io(std::io::ErrorKind),
    /// A multi-step operation's failure, in ops terms.
    Ops(std::sync::Arc<crate::ops::Error>),
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

    /// The keyspace failure under this error, if that is what it is.
    pub fn keyspace(&self) -> Option<&crate::keyspace::Error> {
        match self.cause.as_deref() {
            Some(Cause::Keyspace(e)) => Some(e),
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
            E::Unreached {
                total,
                endpoint,
                first,
            } => {
                // Whatever the first member's failure was, the cluster was
                // not reached: exit 3, with its cause and help kept.
                let mut e = Error::from(first.as_deref().cloned().unwrap_or(E::NoMemberAnswered));
                e.kind = Kind::Unavailable;
                return e.context(match endpoint {
                    Some(ep) => format!("`{ep}` could not be reached"),
                    None => format!("none of the {total} members could be reached"),
                });
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
            E::AlreadyCompacted { .. } => (
                Kind::Refused,
                err.to_string(),
                Some("nothing to do: pick a newer revision, or omit REV for the current one"),
            ),
            E::CompactAhead { .. } => (Kind::Usage, err.to_string(), None),
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
                Some(
                    "keyspace commands (ls, get, count, ...) need read permission on the keys \
                     they read; maintenance commands (compact, defrag, snapshot save, member \
                     changes) need the root role",
                ),
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
            E::DialTimeout(_) => (
                Kind::Unavailable,
                err.to_string(),
                Some("check that the member is running and the address is right"),
            ),
            E::AuthNoAnswer | E::NoMemberAnswered => (Kind::Unavailable, err.to_string(), None),
            E::NoEndpoint => (Kind::Usage, err.to_string(), None),
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

impl From<crate::etcd::metrics::Error> for Error {
    fn from(err: crate::etcd::metrics::Error) -> Self {
        use crate::etcd::metrics::Error as M;
        let kind = match &err {
            M::Dial(c) => return Error::from(c.clone()),
            M::NoAnswer(_) | M::Http { .. } | M::Body { .. } | M::Status { .. } => {
                Kind::Unavailable
            }
            M::NoCertificate => Kind::Tls,
            M::Request(_) => Kind::Other,
            M::Parse(_) => Kind::Data,
        };
        Error::new(kind, err.to_string())
    }
}

/// A member's metrics that could not be read: when every source failed,
/// each one's line after its URL, with the first one's kind and cause.
impl From<crate::ops::quota::ScrapeError> for Error {
    fn from(err: crate::ops::quota::ScrapeError) -> Self {
        use crate::ops::quota::ScrapeError as S;
        match err {
            S::Scrape(e) => Error::from(e),
            S::AllFailed(failed) => {
                let mut lines = Vec::with_capacity(failed.len());
                let mut first: Option<Error> = None;
                for f in failed {
                    let e = Error::from(f.source);
                    lines.push(format!("{}: {}", f.url, e.message));
                    first.get_or_insert(e);
                }
                let mut e = first.unwrap_or_else(|| Error::new(Kind::Other, ""));
                e.message = lines.join("; ");
                e
            }
            S::NoSource | S::Vanished => Error::new(Kind::Other, err.to_string()),
        }
    }
}

/// A certificate doctor could not read: not X.509, or no PEM in the file
/// (bad data); a pod file that could not be read is worded by its layer.
impl From<crate::ops::doctor::certs::CertError> for Error {
    fn from(err: crate::ops::doctor::certs::CertError) -> Self {
        use crate::ops::doctor::certs::CertError as C;
        match err {
            C::Unread(e) => Error::from(e),
            C::NotX509(_) | C::NoPem { .. } => Error::data(err.to_string()),
        }
    }
}

impl From<crate::keyspace::Error> for Error {
    fn from(err: crate::keyspace::Error) -> Self {
        use crate::keyspace::Error as K;
        if let K::ReadDenied { range } | K::TypeLookupDenied { range, .. } = &err {
            return Error {
                kind: Kind::Auth,
                message: err.to_string(),
                hint: Some(format!(
                    "keyspace commands (ls, get, count, ...) need read permission on {range}, \
                     not the root role: `etcdctl role grant-permission ROLE read --prefix=true KEY`"
                )),
                cause: Some(Box::new(Cause::Keyspace(err))),
            };
        }
        let owned_hint: String;
        let (kind, message, hint): (Kind, String, Option<&str>) = match &err {
            K::Etcd(e) => return Error::from(e.clone()),
            K::Member { endpoint, cause } => {
                let mut e = Error::from((**cause).clone()).context(format!("`{endpoint}`"));
                e.cause = Some(Box::new(Cause::Keyspace(err)));
                return e;
            }
            K::WatchCompacted { compact, .. } => {
                owned_hint = format!(
                    "etcd keeps history only since the last compaction: start from `--rev {compact}` or later, or leave out --rev"
                );
                (Kind::Data, err.to_string(), Some(owned_hint.as_str()))
            }
            K::WatchDenied => (
                Kind::Auth,
                err.to_string(),
                Some("use a user allowed to read this key range"),
            ),
            K::WatchLost { next, last, .. } => {
                let last = last
                    .as_ref()
                    .map(|l| Error::from((**l).clone()).message)
                    .unwrap_or_default();
                owned_hint = format!(
                    "restart with `--rev {next}` to resume without missing events once etcd is back"
                );
                (
                    Kind::Unavailable,
                    format!("{err}; last error: {last}"),
                    Some(owned_hint.as_str()),
                )
            }
            K::WatchUnconfirmed | K::WatchNoAnswer => (Kind::Unavailable, err.to_string(), None),
            K::NoEndpoint => (Kind::Usage, err.to_string(), None),
            K::WorkerStopped => (Kind::Other, err.to_string(), None),
            K::NoQuorumRead(cause) => {
                let e = Error::from(cause.clone());
                // Not reaching the member at all (refused, closed, a plain
                // http endpoint on a TLS member) says nothing of quorum:
                // its own hint stands.
                let unreached = matches!(
                    cause,
                    crate::etcd::Error::Connect(_)
                        | crate::etcd::Error::DialTimeout(_)
                        | crate::etcd::Error::Unreached { .. }
                );
                if e.kind != Kind::Unavailable || unreached {
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
            K::ValueTooLarge { .. }
            | K::ReaderStopped
            | K::ReadDenied { .. }
            | K::TypeLookupDenied { .. } => {
                (Kind::Other, err.to_string(), None)
            }
            K::Visitor(inner) => return (**inner).clone(),
            K::ReadAt {
                key,
                revision,
                cause,
            } => {
                return Error::from(cause.clone())
                    .context(format!("reading `{key}` at revision {revision}"))
            }
            K::NoHistory { stop, .. } => (
                Kind::NotFound,
                err.to_string(),
                Some(match stop {
                    crate::keyspace::error::HistoryStop::Compacted => {
                        "older revisions were compacted; `kubectl etcd snapshot` files keep what they saw"
                    }
                    crate::keyspace::error::HistoryStop::Since => "try an older --since-revision",
                    crate::keyspace::error::HistoryStop::Other => {
                        "`kubectl etcd ls TYPE` lists what is stored"
                    }
                }),
            ),
            K::CompactedWhileMeasured { .. } => {
                (Kind::Other, err.to_string(), Some("run it again"))
            }
            K::ReplayStalled { .. } => (
                Kind::Unavailable,
                err.to_string(),
                Some("the member may be overloaded; try again"),
            ),
            K::ReplayTooSlow { .. } => (
                Kind::Unavailable,
                err.to_string(),
                Some("the member may be overloaded; --since-revision looks less far back"),
            ),
            K::WatchClosed | K::WatchCancelled { .. } => (Kind::Unavailable, err.to_string(), None),
            K::EmptyPattern => (
                Kind::Usage,
                err.to_string(),
                Some("`kubectl etcd ls` lists every key"),
            ),
            K::BadRegex { .. } => (
                Kind::Usage,
                err.to_string(),
                Some("regular expressions follow Rust's regex syntax (https://docs.rs/regex)"),
            ),
            K::BadGlob { .. } => (
                Kind::Usage,
                err.to_string(),
                Some("use --regex for a regular expression"),
            ),
            K::AmbiguousType { .. } => (
                Kind::Usage,
                err.to_string(),
                Some("qualify it with the group, e.g. `widgets.example.com`"),
            ),
            K::UnknownType { offline: true, .. } => (
                Kind::Usage,
                err.to_string(),
                Some("name custom resources as plural.group, e.g. widgets.example.com"),
            ),
            K::UnknownType { plural_group, .. } => (
                if *plural_group { Kind::NotFound } else { Kind::Usage },
                err.to_string(),
                Some("`kubectl etcd count` lists the types stored in this etcd"),
            ),
            K::NotARange {
                type_name, rest, ..
            } => {
                owned_hint = match rest.split_once('/') {
                    None => format!("for one namespace pass `{type_name} -n {rest}`"),
                    Some((ns, _)) => format!(
                        "for one namespace pass `{type_name} -n {ns}`; for one object, `kubectl etcd get {type_name}/{rest}`"
                    ),
                };
                (Kind::Usage, err.to_string(), Some(owned_hint.as_str()))
            }
            K::BadReference { offline: true, .. } => (Kind::Usage, err.to_string(), None),
            K::BadReference { .. } => (
                Kind::Usage,
                err.to_string(),
                Some("e.g. `pods/kube-system/etcd-0`, `nodes/node-1`, or `pods web-0 -n default`"),
            ),
            K::BadKey(_) => (
                Kind::Usage,
                err.to_string(),
                Some("write TYPE/NAMESPACE/NAME, or TYPE NAME -n NAMESPACE"),
            ),
            K::Encrypted { .. } => (
                Kind::Data,
                err.to_string(),
                Some("pass --encryption-config with kube-apiserver's EncryptionConfiguration file"),
            ),
            K::Decrypt(_) => (Kind::Data, err.to_string(), None),
            K::Decode(d) => {
                use registry::value::DecodeError as D;
                (
                    Kind::Data,
                    err.to_string(),
                    match d {
                        D::UnknownField { .. } | D::UnknownKind { .. } => {
                            Some("without --strict, unknown fields are kept under their field numbers")
                        }
                        D::UnknownEncoding(_) => Some(
                            "this value was not written by kube-apiserver; `get -o raw` shows the bytes",
                        ),
                        D::TooDeep { .. } | D::TooLarge { .. } => Some(
                            "no Kubernetes object is shaped like this; `get -o raw` shows the bytes (limits: README, \"Input limits\")",
                        ),
                        _ => None,
                    },
                )
            }
            K::EncryptionConfigUnreadable { path, cause } => {
                let mut e = cause.to_error(
                    &format!("--encryption-config `{}`", path.display()),
                    Kind::Usage,
                    Kind::Usage,
                );
                e.cause = Some(Box::new(Cause::Keyspace(err)));
                return e;
            }
            K::BadEncryptionConfig { .. } => (
                Kind::Data,
                err.to_string(),
                Some("pass the file kube-apiserver reads with --encryption-provider-config"),
            ),
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
        let owned_hint: String;
        let (kind, message, hint): (Kind, String, Option<&str>) = match &err {
            C::Kube(k) => return Error::from((**k).clone()),
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
            C::TlsFile { flag, path, cause } => {
                let mut e = cause.to_error(
                    &format!("{flag} `{}`", path.display()),
                    Kind::Tls,
                    Kind::Usage,
                );
                e.cause = Some(Box::new(Cause::Connect(err)));
                return e;
            }
            C::NoCa => (
                Kind::Tls,
                err.to_string(),
                Some("pass --cacert FILE (kubeadm: /etc/kubernetes/pki/etcd/ca.crt)"),
            ),
            C::NoTlsMaterial => (
                Kind::Tls,
                err.to_string(),
                Some("pass --cacert (and --cert/--key when etcd checks client certificates)"),
            ),
            C::TlsSetup(_)
            | C::Pem { .. }
            | C::BadCa { .. }
            | C::BadCaVerifier { .. }
            | C::KeyMismatch { .. } => (Kind::Tls, err.to_string(), None),
            C::HalfPair { .. } => (
                Kind::Usage,
                err.to_string(),
                Some("pass both --cert and --key"),
            ),
            C::BadServerName { .. } => (
                Kind::Usage,
                err.to_string(),
                Some("pass --tls-server-name with a DNS name or IP address"),
            ),
            C::BadEndpoint { .. } => (
                Kind::Usage,
                err.to_string(),
                Some("write endpoints as https://HOST:PORT, comma-separated"),
            ),
            C::CredentialsInEndpoint { scheme, host } => {
                owned_hint = format!(
                    "pass them with --user NAME:PASSWORD (or ETCDCTL_USER) and the endpoint as {scheme}://{host}"
                );
                (Kind::Usage, err.to_string(), Some(owned_hint.as_str()))
            }
        };
        if err.is_settings() {
            return Error {
                kind,
                message,
                hint: hint.map(str::to_string),
                cause: Some(Box::new(Cause::Connect(err))),
            };
        }
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

impl From<crate::connect::kube::Error> for Error {
    fn from(err: crate::connect::kube::Error) -> Self {
        use crate::connect::kube::Error as K;
        let reach_hint = "check the kubeconfig context (`kubectl cluster-info`), or pass --endpoints to reach etcd directly";
        let (kind, hint): (Kind, Option<String>) = match &err {
            K::KubeconfigInput { path, cause } => {
                // Unreadable: exit 3, as for an unreadable kubeconfig; too
                // large: 2.
                let mut e = cause.to_error(
                    &format!("kubeconfig `{}`", path.display()),
                    Kind::Unavailable,
                    Kind::Usage,
                );
                e.cause = Some(Box::new(Cause::Kube(err)));
                return e;
            }
            K::During { what, cause } => {
                let mut e = Error::from((**cause).clone()).context(what);
                e.cause = Some(Box::new(Cause::Kube(err)));
                return e;
            }
            K::KubeconfigUnreadable { .. } => (Kind::Unavailable, None),
            K::KubeconfigInvalid { flag: true, .. } => (
                Kind::Usage,
                Some("pass --kubeconfig with a valid kubeconfig file".into()),
            ),
            K::KubeconfigInvalid { flag: false, .. } => (
                Kind::Usage,
                Some("set KUBECONFIG or pass --kubeconfig/--context (or --endpoints to reach etcd directly)".into()),
            ),
            K::Client { .. } => (
                Kind::Usage,
                Some("check the cluster and user entries of the kubeconfig context".into()),
            ),
            K::Forbidden { call, .. } => (
                Kind::Unavailable,
                Some(format!(
                    "ask for RBAC permission `{}` on `{}` (check: `kubectl auth can-i {} {} {}`)",
                    call.verb,
                    call.resource,
                    call.verb,
                    call.resource,
                    call.ns_flag()
                )),
            ),
            K::Unauthorized { .. } => (
                Kind::Auth,
                Some("refresh the kubeconfig credentials: `kubectl get pods` must work first".into()),
            ),
            K::NotFound { .. } => (Kind::NotFound, None),
            K::Refused { .. } => (Kind::Other, None),
            K::Upgrade { .. } => (
                Kind::Unavailable,
                Some("a proxy between here and the API server may block websocket upgrades".into()),
            ),
            K::Credentials { .. } => (
                Kind::Auth,
                Some("check the kubeconfig user (exec plugin, token): `kubectl get pods` must work first".into()),
            ),
            K::Unreachable { tls: Some(tls), server, .. } => {
                use rustls::{AlertDescription as A, CertificateError as C};
                let (kind, message, hint) = match tls {
                    rustls::Error::AlertReceived(
                        A::BadCertificate | A::UnknownCA | A::CertificateRequired
                        | A::CertificateUnknown | A::HandshakeFailure | A::DecryptError,
                    ) => (
                        Kind::Auth,
                        format!("the Kubernetes API at {server} rejected the client certificate"),
                        "check `client-certificate-data`/`client-key-data` (or `client-certificate`/`client-key`) of the kubeconfig user: the API server's client CA must have signed it",
                    ),
                    rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => (
                        Kind::Tls,
                        format!("the certificate of the Kubernetes API at {server} is not signed by the kubeconfig's CA"),
                        "check `certificate-authority-data` of the kubeconfig cluster",
                    ),
                    _ => (
                        Kind::Tls,
                        format!("cannot reach the Kubernetes API at {server}: tls: {tls}"),
                        reach_hint,
                    ),
                };
                return Error {
                    kind,
                    message,
                    hint: Some(hint.to_string()),
                    cause: Some(Box::new(Cause::Kube(err))),
                };
            }
            K::Unreachable { tls: None, .. } => (Kind::Unavailable, Some(reach_hint.into())),
            K::NoPods { .. } => (
                Kind::Unavailable,
                Some("pass -n NAMESPACE and -l SELECTOR (or --pod NAME) for your etcd pods, or --endpoints to reach etcd directly".into()),
            ),
            K::NoSuchPod { .. } => (
                Kind::Unavailable,
                Some("list the etcd pods with `kubectl get pods -A -l component=etcd` and pass --pod NAME -n NAMESPACE".into()),
            ),
            K::NoSuchContainer { .. } => (
                Kind::Usage,
                Some("pass --container with one of these names".into()),
            ),
            K::NoContainers { .. } => (Kind::Other, None),
            K::PodNotRunning { namespace, name, .. } => (
                Kind::Unavailable,
                Some(format!("see why with `kubectl describe pod -n {namespace} {name}`")),
            ),
            K::SecretRef(_) => (
                Kind::Usage,
                Some("pass --tls-secret NAME or --tls-secret NAMESPACE/NAME".into()),
            ),
            K::NoSuchSecret { namespace, .. } => (
                Kind::Tls,
                Some(format!("list candidates with `kubectl get secrets -n {namespace}` and pass --tls-secret NAMESPACE/NAME")),
            ),
            K::NoClientCertificate { .. } => (
                Kind::Tls,
                Some("the secret needs `ca.crt`, `tls.crt` and `tls.key` (or `ca`/`cert`/`key`, `etcd-client-ca.crt`/`etcd-client.crt`/`etcd-client.key`)".into()),
            ),
            K::HalfPair { .. } => (
                Kind::Tls,
                Some("the secret needs both `tls.crt` and `tls.key`".into()),
            ),
            K::NoSuchKey { .. } => (
                Kind::Tls,
                Some("pass --tls-secret NAMESPACE/NAME with the etcd client certificate".into()),
            ),
            K::NoTlsFlags { .. } => (
                Kind::Tls,
                Some("pass --cacert, --cert and --key, or --tls-secret NAMESPACE/NAME".into()),
            ),
            K::Exec { .. } => (Kind::Tls, None),
            K::NodeFiles { ca, cert, key, .. } => (
                Kind::Tls,
                Some(format!(
                    "copy them from the node and pass --cacert {ca} --cert {cert} --key {key}, or pass --tls-secret NAMESPACE/NAME"
                )),
            ),
            K::NoForwardStream => (Kind::Other, None),
            K::Forward { .. } => (
                Kind::Unavailable,
                Some("check that etcd listens on this port inside the pod (--container, the `client` port)".into()),
            ),
        };
        Error {
            kind,
            message: err.to_string(),
            hint,
            cause: Some(Box::new(Cause::Kube(err))),
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

/// A database file read offline. A FILE argument that cannot be opened is
/// a usage error (exit 2), as for `decode`; a read that fails part-way is
/// exit 1; a file that is not what it should be is bad data (exit 5).
impl From<crate::dbfile::DbError> for Error {
    fn from(e: crate::dbfile::DbError) -> Self {
        Error::from(&e)
    }
}

/// Worded from a borrow: ops keeps its database errors shared.
impl From<&crate::dbfile::DbError> for Error {
    fn from(e: &crate::dbfile::DbError) -> Self {
        use crate::dbfile::DbError as D;
        let kind = match e {
            D::Open { .. } | D::NotAFile | D::FutureRevision { .. } => Kind::Usage,
            D::Read { .. } | D::Spill { .. } => Kind::Io,
            D::Length { .. }
            | D::Checksum { .. }
            | D::TooSmall { .. }
            | D::NoMeta { .. }
            | D::Truncated { .. }
            | D::Page { .. }
            | D::Entry { .. }
            | D::NoKeyBucket
            | D::Compacted { .. } => Kind::Data,
        };
        let hint = match e {
            D::Length { .. } | D::Truncated { .. } => {
                Some("a snapshot cut off mid-way cannot be used: take a new one")
            }
            D::Checksum { .. } => Some("the file is corrupt or was modified: take a new snapshot"),
            D::TooSmall { .. } | D::NoMeta { .. } | D::NoKeyBucket => {
                Some("this is not an etcd snapshot or member db file")
            }
            D::Page { .. } | D::Entry { .. } => Some(
                "the file is damaged: `snapshot inspect` shows what can still be read; \
                 take a new snapshot",
            ),
            D::Spill { .. } => Some("set TMPDIR to a directory with free space"),
            _ => None,
        };
        let mut err = Error::new(kind, e.to_string());
        err.hint = hint.map(str::to_string);
        err.cause = e.io_kind().map(|k| Box::new(Cause::Io(k)));
        err
    }
}

/// The operator's "no" (or Ctrl-C) at a question.
impl From<crate::prompt::Declined> for Error {
    fn from(d: crate::prompt::Declined) -> Self {
        use crate::prompt::Declined as D;
        let message = d.to_string();
        match d {
            D::NoTerminal { .. } => Error::new(Kind::Refused, message)
                .with_hint("pass --yes to confirm, or --dry-run to only see the plan"),
            D::No { .. } => Error::new(Kind::Refused, message),
            D::Interrupted { .. } => Error::interrupted(message),
            D::CannotAsk { .. } => Error::new(Kind::Refused, message)
                .with_hint("pass --yes to confirm without a prompt"),
        }
    }
}

impl From<crate::ops::resize::PlanError> for Error {
    /// The command line asked for something the cluster rules out.
    fn from(e: crate::ops::resize::PlanError) -> Self {
        Error::usage(e.to_string())
    }
}

impl From<crate::ops::restore::PlanError> for Error {
    /// The members come from the command line.
    fn from(e: crate::ops::restore::PlanError) -> Self {
        Error::usage(e.to_string())
    }
}

impl From<crate::ops::restore::LocalPlanError> for Error {
    fn from(e: crate::ops::restore::LocalPlanError) -> Self {
        Error::new(Kind::Refused, e.to_string())
            .with_hint("inspect the files named, then run again")
    }
}

impl From<crate::ops::recover::ChoiceError> for Error {
    fn from(e: crate::ops::recover::ChoiceError) -> Self {
        use crate::ops::recover::ChoiceError as C;
        let (kind, hint) = match e {
            C::NoCandidate => (
                Kind::Unavailable,
                "pass the endpoints of the members still running, or --data-dir NAME=PATH \
                 for the data dirs of those that no longer start",
            ),
            _ => (
                Kind::Usage,
                "pass --member with the name of a member the survey read",
            ),
        };
        Error::new(kind, e.to_string()).with_hint(hint)
    }
}

impl From<crate::keyspace::edit::Misplaced> for Error {
    fn from(m: crate::keyspace::edit::Misplaced) -> Self {
        crate::ops::Error::Misplaced(m).into()
    }
}

impl From<crate::ops::put::Conflict> for Error {
    fn from(c: crate::ops::put::Conflict) -> Self {
        crate::ops::Error::Conflict(c).into()
    }
}

/// The kind of an error of ops' own (not a wrapped lower layer's): what
/// decides its exit code. `None` for a wrapper, whose cause decides.
pub fn ops_kind(err: &crate::ops::Error) -> Option<Kind> {
    use crate::ops::Error as O;
    Some(match err {
        O::Etcd(_)
        | O::Keyspace(_)
        | O::Connect(_)
        | O::Kube(_)
        | O::Db(_)
        | O::Declined(_)
        | O::Output(_)
        | O::Rediscover(_)
        | O::ResizePlan(_)
        | O::RestorePlan(_)
        | O::LocalPlan(_)
        | O::Survivor(_)
        | O::During { .. }
        | O::LocalStepFailed { .. }
        | O::RecoverStepFailed { .. }
        | O::RestoredUnhealthy { .. }
        | O::RecoverSpaceStep { .. }
        | O::DefragStopped { .. }
        | O::StreamBroke { .. }
        | O::InDoubt(_)
        | O::NoneReached { .. }
        | O::ContextsFailed { .. } => return None,
        O::Conflict(_)
        | O::Misplaced(_)
        | O::Unsafe { .. }
        | O::ClusterUnhealthy { .. }
        | O::QuotaUnknown
        | O::StillOverQuota { .. }
        | O::NoLeader
        | O::LeaderNotListed { .. }
        | O::LeaderUnreachable { .. }
        | O::NoSuccessor { .. }
        | O::CannotLead { .. }
        | O::LeadershipChanged { .. }
        | O::FileExists { .. }
        | O::StillRunning { .. }
        | O::WentBack { .. } => Kind::Refused,
        O::Interrupted { .. } => Kind::Interrupted,
        O::NoSuchMember { .. }
        | O::NegativeKeep
        | O::BeforeFirstRevision { .. }
        | O::FutureRevision { .. }
        | O::NoSnapshotSource
        | O::NoMembersGiven
        | O::NotARestoredMember { .. }
        | O::WhichMember
        | O::NothingToStop { .. }
        | O::NoDataDirFlag { .. }
        | O::NoEtcdHere { .. }
        | O::NoSuchDir { .. } => Kind::Usage,
        O::NoMemberAnswered
        | O::NoneHealthy { .. }
        | O::QuorumLost
        | O::NoMemberToAsk { .. }
        | O::NoMemberToSnapshot
        | O::MemberUnreachable { .. }
        | O::NoConnection
        | O::LeftMemberList
        | O::LeaderLost { .. }
        | O::NoClientUrl
        | O::NoPodYet { .. }
        | O::StreamIdle { .. }
        | O::MembersStill { .. }
        | O::CannotRediscover => Kind::Unavailable,
        O::StreamEmpty { .. }
        | O::Integrity { .. }
        | O::NotADatabase { .. }
        | O::NotAJournal { .. }
        | O::CopyRevision { .. }
        | O::ManifestLacks { .. } => Kind::Data,
        O::Damaged { readable, .. } => {
            if *readable {
                Kind::Partial
            } else {
                Kind::Data
            }
        }
        O::Io { .. } | O::CopyDiffers { .. } => Kind::Io,
        O::CommandFailed { .. } | O::WontStop { .. } | O::NotCaughtUp { .. } | O::GaveUp { .. } => {
            Kind::Other
        }
        O::NotHealthyAfter { .. }
        | O::LeaderNotConfirmed { .. }
        | O::Unhealthy { .. }
        | O::SomeUnreachable { .. }
        | O::PhysicalUnconfirmed { .. }
        | O::ForeignMembers { .. }
        | O::Member(_) => Kind::Partial,
        O::LearnerGone { .. } | O::NoProcess { .. } | O::NotInSnapshot { .. } | O::NoMatch => {
            Kind::NotFound
        }
    })
}

/// The `help:` line of an error of ops' own, when the fix is known.
fn ops_hint(err: &crate::ops::Error) -> Option<String> {
    use crate::ops::error::{CannotLead, Guarded, ManifestPart};
    use crate::ops::Error as O;
    const MAJORITY: &str =
        "a majority of voting members must be running; `kubectl etcd status` shows them";
    let hint = match err {
        O::Conflict(c) => return Some(c.hint()),
        O::Misplaced(_) => {
            "name the object's own key as REF (TYPE/NAMESPACE/NAME), or get the object at this key and edit that"
        }
        O::Interrupted { resume, .. } => return resume.clone(),
        O::NoSuchMember { members, .. } if !members.is_empty() => {
            return Some(format!(
                "members: {} (names or 16-hex ids)",
                members.join(", ")
            ))
        }
        O::NoProcess { survivor: true, .. } => {
            "pass the pid of the surviving etcd, or its --data-dir"
        }
        O::NoProcess {
            survivor: false, ..
        } => "pass the pid of the running etcd, or leave --pid out",
        O::Unsafe { action, .. } => match action {
            Guarded::Resize(_) => {
                "fix the cluster first, or pass --force if you know why this is safe"
            }
            Guarded::Defragment => {
                "every voting member must be reachable, with a leader and none lagging; \
                 check `kubectl etcd status`"
            }
            Guarded::Recover => {
                "a member that is gone for good is replaced while the quorum holds: \
                 `kubectl etcd resize replace NAME --peer-urls URL`"
            }
            Guarded::CompactAndDefragment => {
                "nothing was changed; raise --quota-backend-bytes on every member, or delete \
                 data (deletes are allowed under NOSPACE), then run recover-space again"
            }
        },
        O::ClusterUnhealthy { .. } => {
            "fix that member first; `kubectl etcd status` shows every member"
        }
        O::QuotaUnknown => "pass --quota-bytes with the members' --quota-backend-bytes",
        O::ForeignMembers { .. } => {
            "check --endpoints: each must be a member of the same cluster (`kubectl etcd \
             members` lists this one's)"
        }
        O::PhysicalUnconfirmed { .. } => {
            "a member removes them once it is back; `kubectl etcd status` shows it, and a \
             defrag of it reclaims the space after that"
        }
        O::StillOverQuota { .. } => {
            "the live data itself fills the quota: raise --quota-backend-bytes on every \
             member, or delete data, then `kubectl etcd alarm disarm`"
        }
        O::NoLeader | O::LeaderUnreachable { .. } => MAJORITY,
        O::NoSuccessor { .. } => {
            "`kubectl etcd status` shows which members are down, lagging or learners"
        }
        O::CannotLead { why, .. } => match why {
            CannotLead::Learner => {
                "promote it first (`kubectl etcd resize`), or name a voting member"
            }
            CannotLead::Unreachable(_) => {
                "a new leader must be running and answer; name another member"
            }
            CannotLead::Lagging { .. } => "wait until it has caught up, or name another member",
        },
        O::LeadershipChanged { .. } => "run the command again to plan from the current leader",
        O::FileExists { .. } => "choose another name, or pass --overwrite to replace it",
        O::NoSuchDir { .. } => "create the directory first, or choose another path",
        O::NoSnapshotSource => "pass --snapshot FILE, or --endpoints to take one now",
        O::NoMembersGiven => "pass --member NAME=PEER_URL for every member of the restored cluster",
        O::WhichMember => "pass --name NAME (one of the --member names)",
        O::NothingToStop { .. } => {
            "point --manifest-dir at the static pod manifests, or pass --pid or --service"
        }
        O::NoDataDirFlag { .. } => "pass --data-dir DIR",
        O::NoEtcdHere { .. } => {
            "run this on the survivor's node; pass --pid PID or --data-dir DIR for a plain process"
        }
        O::QuorumLost => {
            "a majority of voting members must be running: `kubectl etcd members` checks each \
             one; when they are gone for good, `kubectl etcd recover`"
        }
        O::NoneHealthy { hint: Some(h), .. } => return Some(h.clone()),
        O::NoneHealthy { hint: None, .. } => {
            "the rows above say why for each member (unreachable, TLS, authentication or no quorum)"
        }
        O::NoMemberToSnapshot => "check `kubectl etcd status`",
        O::Integrity { .. } => "the stream was damaged or cut: take the snapshot again",
        O::ManifestLacks { what, .. } => match what {
            ManifestPart::DataDir(_) => "pass --data-dir with the path the manifest uses",
            ManifestPart::ForceAnchor => {
                "add the flag to etcd's command by hand, or run etcd with it yourself"
            }
        },
        O::Damaged { .. } => {
            "the file is damaged: take a new snapshot, or restore from an older one"
        }
        O::LeaderNotConfirmed { .. } => {
            "check `kubectl etcd status`: an election may still be going on"
        }
        O::NotInSnapshot { .. } => "`snapshot inspect FILE --ls TYPE` lists what it holds",
        O::NotAJournal { .. } => "move it away to start anew",
        O::NotCaughtUp { .. } => {
            "check the new member's log, then run the same command again: it resumes here"
        }
        O::GaveUp { .. } => {
            "check `kubectl etcd members`, then run the same command again: it resumes where \
             the cluster is"
        }
        O::CopyDiffers { .. } => "check the disk, then run again",
        O::WentBack { .. } => "it is not the data the survey read: check its data dir and log",
        _ => return None,
    };
    Some(hint.to_string())
}

/// The one mapping of ops' errors to the operator's line, `help:` and exit
/// code. A wrapped cause is worded by its own layer, once.
impl From<crate::ops::Error> for Error {
    fn from(err: crate::ops::Error) -> Self {
        use crate::ops::Error as O;
        match err {
            O::Etcd(e) => e.into(),
            O::Keyspace(e) => e.into(),
            O::Connect(e) => e.into(),
            O::Kube(e) => e.into(),
            O::Db(e) => Error::from(&*e),
            O::Declined(e) => e.into(),
            O::Output(e) | O::Rediscover(e) => *e,
            O::ResizePlan(e) => e.into(),
            O::RestorePlan(e) => e.into(),
            O::LocalPlan(e) => e.into(),
            O::Survivor(e) => e.into(),
            O::During { what, source } => Error::from(*source).context(what),
            O::RecoverStepFailed {
                step,
                force_on,
                source,
            } => {
                let mut e = Error::from(*source).context(format!("step {step}"));
                let mut hint = String::from(
                    "fix the cause and run the same command again: it resumes at this step",
                );
                if force_on {
                    hint.push_str(&format!(
                        "; etcd still runs with {}: do not restart it by hand with the flag",
                        crate::ops::recover::FORCE_FLAG
                    ));
                }
                e.hint = Some(hint);
                e
            }
            O::RestoredUnhealthy { source } => {
                let mut e = Error::from(*source).context("the restored member is not healthy");
                e.hint = Some(
                    "check its log; the old data dir is kept aside (see the undo lines above)"
                        .into(),
                );
                e
            }
            O::LocalStepFailed { step, undo, source } => {
                let mut e = Error::from(*source).context(format!("step {step}"));
                e.hint = Some(format!(
                    "fix the cause and run the same command again: done steps are skipped{}",
                    crate::ops::restore::executor::go_back(&undo)
                ));
                e
            }
            O::RecoverSpaceStep { step, source } => {
                let inner = Error::from(*source);
                if inner.kind != Kind::Interrupted {
                    return inner;
                }
                let steps = crate::ops::recover_space::STEPS;
                let left = &steps[step + 1..];
                let left = if left.is_empty() {
                    "nothing is left".to_string()
                } else {
                    format!("left: {}", left.join(", "))
                };
                let mut e = Error::interrupted(format!(
                    "{}; step {} of 3 ({}) stopped, {left}",
                    inner.message,
                    step + 1,
                    steps[step],
                ));
                e.hint =
                    Some(inner.hint.unwrap_or_else(|| {
                        "run `kubectl etcd recover-space` again to finish".into()
                    }));
                e.cause = inner.cause;
                e
            }
            O::DefragStopped {
                member,
                progress,
                source,
            } => {
                let inner = Error::from(*source);
                let kind = match inner.kind {
                    Kind::Refused | Kind::Interrupted => inner.kind,
                    _ => Kind::Partial,
                };
                let mut e = Error::new(
                    kind,
                    format!(
                        "stopped at member `{member}`: {}; {progress}",
                        inner.message
                    ),
                );
                e.hint = inner.hint;
                if kind == Kind::Interrupted && e.hint.is_none() {
                    e.hint = Some(
                        "run the same command again for the rest (--member NAME for one member)"
                            .into(),
                    );
                }
                e.cause = inner.cause;
                e
            }
            O::StreamBroke { after, source } => {
                let inner = Error::from(*source);
                Error {
                    kind: inner.kind,
                    message: format!(
                        "the snapshot stream broke after {after} bytes: {}; no file was written",
                        inner.message
                    ),
                    hint: Some("retry, or pick another member with --member".into()),
                    cause: inner.cause,
                }
            }
            O::InDoubt(d) => {
                // The cause's kind (exit 3), and the operator told that the
                // write may have been applied.
                let crate::ops::error::InDoubt {
                    doing,
                    unknown,
                    check,
                    source,
                } = *d;
                let inner = Error::from(source);
                Error {
                    kind: inner.kind,
                    message: format!("{doing} was not confirmed ({}): {unknown}", inner.message),
                    hint: Some(check),
                    cause: inner.cause,
                }
            }
            O::NoneReached { total, first } => match first {
                None => Error::new(
                    Kind::Unavailable,
                    format!("none of the {total} members could be reached"),
                ),
                Some(first) => {
                    let first = Error::from(first);
                    // Exit 3 whatever stopped the first member: nothing was reached.
                    let kind = match first.kind {
                        Kind::Tls | Kind::Auth | Kind::NoQuorum => first.kind,
                        _ => Kind::Unavailable,
                    };
                    Error {
                        kind,
                        message: format!(
                            "none of the {total} members could be reached: {}",
                            first.message
                        ),
                        hint: Some(first.hint.unwrap_or_else(|| {
                            "check the endpoints (or pods) and the TLS flags".to_string()
                        })),
                        cause: first.cause,
                    }
                }
            },
            O::ContextsFailed {
                failed,
                total,
                worst,
            } => {
                let message = O::ContextsFailed {
                    failed,
                    total,
                    worst,
                }
                .to_string();
                let kind = [
                    Kind::Partial,
                    Kind::Usage,
                    Kind::Unavailable,
                    Kind::Refused,
                    Kind::Data,
                    Kind::Interrupted,
                ]
                .into_iter()
                .find(|k| k.exit_code() as i32 == worst)
                .unwrap_or(Kind::Other);
                Error::new(kind, message).with_hint("the rows above say why for each context")
            }
            O::Io { what, source } => {
                let mut e = Error::new(Kind::Io, format!("{what}: {source}"));
                e.cause = Some(Box::new(Cause::Io(source.kind())));
                e
            }
            own => {
                let kind = ops_kind(&own).unwrap_or(Kind::Other);
                let io = match &own {
                    O::NotADatabase { source, .. } => source.io_kind(),
                    _ => None,
                };
                Error {
                    kind,
                    message: own.to_string(),
                    hint: ops_hint(&own),
                    cause: Some(Box::new(match io {
                        Some(k) => Cause::Io(k),
                        None => Cause::Ops(std::sync::Arc::new(own)),
                    })),
                }
            }
        }
    }
}

#[cfg(test)]
impl Error {
    /// Asserts what the operator sees: the exit code, the line and the
    /// `help:` line.
    #[track_caller]
    pub fn assert_line(&self, code: i32, message: &str, hint: Option<&str>) {
        assert_eq!(
            (
                self.exit_code() as i32,
                self.message.as_str(),
                self.hint.as_deref()
            ),
            (code, message, hint)
        );
    }
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
    fn database_files_that_cannot_be_opened_are_usage_and_damage_is_bad_data() {
        use crate::dbfile::error::{DbError, PageProblem};
        let missing = DbError::Open {
            io: std::io::ErrorKind::NotFound.into(),
        };
        let e = Error::from(missing);
        assert_eq!(e.exit_code() as i32, 2);
        assert_eq!(e.io_kind(), Some(std::io::ErrorKind::NotFound));
        let read = DbError::Read {
            offset: 4096,
            io: std::io::ErrorKind::Other.into(),
        };
        assert_eq!(Error::from(read).exit_code() as i32, 1);
        let swapped = DbError::Page {
            page: 7,
            problem: PageProblem::IdMismatch { found: 9 },
        };
        let e = Error::from(swapped);
        assert_eq!(e.exit_code() as i32, 5);
        assert!(e.message.starts_with("page 7:"), "{}", e.message);
    }

    #[test]
    fn a_write_left_in_doubt_says_so_with_its_causes_exit_code() {
        let in_doubt = |source| {
            Error::from(crate::ops::Error::in_doubt(
                "writing `/k`",
                "it may or may not be written",
                "read it back",
                source,
            ))
        };
        let e = in_doubt(crate::etcd::Error::NoAnswer(
            std::time::Duration::from_secs(5),
        ));
        e.assert_line(
            3,
            "writing `/k` was not confirmed (no answer within 5s): it may or may not be written",
            Some("read it back"),
        );
        let e = in_doubt(crate::etcd::Error::NotCommitted(
            "etcdserver: request timed out".into(),
        ));
        assert_eq!(e.kind, Kind::NoQuorum);
        assert!(
            e.message.starts_with(
                "writing `/k` was not confirmed (etcdserver: request timed out (quorum may be lost))"
            ),
            "{}",
            e.message
        );
    }

    #[test]
    fn context_prefixes_the_message_once() {
        let e = Error::new(Kind::Unavailable, "connection refused").context("member `m1`");
        assert_eq!(e.to_string(), "member `m1`: connection refused");
    }
}
