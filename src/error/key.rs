//! What failed, apart from where: a comparable key built from an error's
//! typed cause (its variants and the values they carry), so failures of
//! several members can be grouped without comparing their messages.

use std::mem::Discriminant;
use std::time::Duration;

use super::{Cause, Error, Kind};
use crate::connect::kube::Error as KubeError;
use crate::connect::Error as ConnectError;
use crate::etcd::Error as EtcdError;

/// Equal for the same failure whoever it hit: one missing RBAC grant
/// denies every member alike. Where it happened (a context prefix, the
/// member) is not part of it.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureKey {
    kind: Kind,
    what: What,
}

#[derive(Debug, Clone, PartialEq)]
enum What {
    Etcd(EtcdKey),
    Connect(ConnectKey),
    Kube(KubeKey),
    Io(std::io::ErrorKind),
}

#[derive(Debug, Clone, PartialEq)]
enum EtcdKey {
    /// A variant that carries nothing.
    Plain(Discriminant<EtcdError>),
    /// etcd's (or the client's) own words, kept as data.
    Words(Discriminant<EtcdError>, String),
    NoAnswer(Duration),
    DialTimeout(Duration),
    /// A revision named in the message.
    Revision(Discriminant<EtcdError>, i64),
    Status(tonic::Code, String),
    Connect(ConnectKey),
}

#[derive(Debug, Clone, PartialEq)]
enum ConnectKey {
    Plain(Discriminant<ConnectError>),
    Dns { host: String, detail: String },
    Io(std::io::ErrorKind, String),
    Tls(rustls::Error),
    Kube(KubeKey),
}

#[derive(Debug, Clone, PartialEq)]
enum KubeKey {
    Forbidden {
        verb: String,
        resource: String,
        namespace: Option<String>,
    },
    Unauthorized {
        server: String,
    },
    Unreachable {
        server: String,
        root: String,
    },
    PodNotRunning {
        namespace: String,
        name: String,
        state: String,
    },
}

impl Error {
    /// What failed, for grouping failures: `None` when this error has no
    /// typed cause that says it (it is then shown on its own).
    pub fn failure_key(&self) -> Option<FailureKey> {
        let what = match self.cause.as_deref()? {
            Cause::Etcd(e) => What::Etcd(etcd_key(e)?),
            Cause::Connect(c) => What::Connect(connect_key(c)?),
            Cause::Kube(k) => What::Kube(kube_key(k)?),
            Cause::Io(kind) => What::Io(*kind),
            // Not a member's failure: never grouped.
            Cause::Keyspace(_) | Cause::Ops(_) => return None,
        };
        Some(FailureKey {
            kind: self.kind,
            what,
        })
    }
}

fn etcd_key(e: &EtcdError) -> Option<EtcdKey> {
    let d = std::mem::discriminant(e);
    Some(match e {
        EtcdError::Connect(c) => EtcdKey::Connect(connect_key(c)?),
        EtcdError::NoAnswer(t) => EtcdKey::NoAnswer(*t),
        EtcdError::DialTimeout(t) => EtcdKey::DialTimeout(*t),
        EtcdError::AlreadyCompacted { revision } | EtcdError::CompactAhead { revision } => {
            EtcdKey::Revision(d, *revision)
        }
        // The cluster as a whole, not one member's failure.
        EtcdError::Unreached { .. } => return None,
        EtcdError::Status { code, message } => EtcdKey::Status(*code, message.clone()),
        EtcdError::NotCommitted(w) | EtcdError::ResponseTooLarge(w) | EtcdError::Client(w) => {
            EtcdKey::Words(d, w.clone())
        }
        EtcdError::Compacted
        | EtcdError::FutureRevision
        | EtcdError::NoSpace
        | EtcdError::NotSupportedForLearner
        | EtcdError::LearnerNotReady
        | EtcdError::TooManyLearners
        | EtcdError::UnhealthyCluster
        | EtcdError::PermissionDenied
        | EtcdError::AuthFailed
        | EtcdError::AuthRequired
        | EtcdError::NoLeader
        | EtcdError::ConnectionDropped
        | EtcdError::AuthNoAnswer
        | EtcdError::NoEndpoint
        | EtcdError::NoMemberAnswered
        | EtcdError::ClientCertRejected => EtcdKey::Plain(d),
    })
}

fn connect_key(c: &ConnectError) -> Option<ConnectKey> {
    Some(match c {
        ConnectError::Refused
        | ConnectError::TimedOut
        | ConnectError::NotTls
        | ConnectError::Closed
        | ConnectError::NoCa
        | ConnectError::NoTlsMaterial => ConnectKey::Plain(std::mem::discriminant(c)),
        ConnectError::Dns { host, detail } => ConnectKey::Dns {
            host: host.clone(),
            detail: detail.clone(),
        },
        ConnectError::Io { kind, detail } => ConnectKey::Io(*kind, detail.clone()),
        ConnectError::Tls(r) => ConnectKey::Tls(r.clone()),
        ConnectError::Kube(k) => ConnectKey::Kube(kube_key(k)?),
        // TLS settings: the same for every member, but not a member's failure.
        _ => return None,
    })
}

fn kube_key(k: &KubeError) -> Option<KubeKey> {
    Some(match k {
        KubeError::Forbidden { call, .. } => KubeKey::Forbidden {
            verb: call.verb.clone(),
            resource: call.resource.clone(),
            namespace: call.namespace.clone(),
        },
        KubeError::Unauthorized { server, .. } => KubeKey::Unauthorized {
            server: server.clone(),
        },
        KubeError::Unreachable { server, root, .. } => KubeKey::Unreachable {
            server: server.clone(),
            root: root.clone(),
        },
        KubeError::PodNotRunning {
            namespace,
            name,
            state,
        } => KubeKey::PodNotRunning {
            namespace: namespace.clone(),
            name: name.clone(),
            state: state.clone(),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_denial_keys_alike_and_different_causes_do_not() {
        let denied = || Error::from(EtcdError::PermissionDenied);
        assert_eq!(denied().failure_key(), denied().failure_key());
        assert!(denied().failure_key().is_some());
        // Where it happened is not what failed.
        assert_eq!(
            denied().context("member `a`").failure_key(),
            denied().context("member `b`").failure_key()
        );
        let refused = Error::from(ConnectError::Refused);
        assert_ne!(denied().failure_key(), refused.failure_key());
        assert_ne!(
            Error::from(EtcdError::NoAnswer(Duration::from_secs(1))).failure_key(),
            Error::from(EtcdError::NoAnswer(Duration::from_secs(2))).failure_key()
        );
        // Without a typed cause there is nothing to group on.
        assert_eq!(Error::new(Kind::Other, "x").failure_key(), None);
    }
}
