//! Why Kubernetes mode could not reach etcd, classified once where the
//! failure arrives: the kubeconfig error, the API server's status code, the
//! transport error under a request, what a pod spec or Secret lacks.
//!
//! Each variant keeps its cause (the `kube::Error`, the `io::Error`) whole;
//! [`crate::error`] turns it into the operator's line, the `help:` and the
//! exit code. Nothing here or above decides on message text.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// One call to the Kubernetes API: `verb` on `resource`, in a namespace or
/// in all of them; what RBAC must allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub verb: String,
    pub resource: String,
    pub namespace: Option<String>,
}

impl Call {
    pub fn new(verb: &str, resource: &str, namespace: Option<&str>) -> Call {
        Call {
            verb: verb.to_string(),
            resource: resource.to_string(),
            namespace: namespace.map(str::to_string),
        }
    }

    /// `in namespace `ns`` or `in all namespaces`.
    pub fn scope(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("in namespace `{ns}`"),
            None => "in all namespaces".to_string(),
        }
    }

    /// `-n ns` or `-A`, for `kubectl auth can-i`.
    pub fn ns_flag(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("-n {ns}"),
            None => "-A".to_string(),
        }
    }
}

/// A failure in Kubernetes mode.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A kubeconfig file that cannot be read (exit 3).
    #[error("cannot read kubeconfig `{}`: {cause}", path.display())]
    KubeconfigUnreadable {
        path: PathBuf,
        cause: Arc<std::io::Error>,
    },
    /// A kubeconfig that does not parse or names a missing context; `first`
    /// is the first line of kube-rs's explanation (YAML errors span lines).
    #[error("cannot load kubeconfig: {first}")]
    KubeconfigInvalid {
        first: String,
        /// Whether the file came from `--kubeconfig` (the hint differs).
        flag: bool,
        cause: Arc<kube::config::KubeconfigError>,
    },
    /// A kubeconfig over the input limit, or unreadable when checked.
    #[error("cannot read kubeconfig `{}`", path.display())]
    KubeconfigInput {
        path: PathBuf,
        cause: Arc<crate::input::ReadError>,
    },
    /// kube-rs could not build a client from the kubeconfig.
    #[error("cannot use the kubeconfig: {cause}")]
    Client { cause: Arc<kube::Error> },
    /// RBAC refused `call` (403).
    #[error(
        "forbidden: your Kubernetes user may not `{}` `{}` {}",
        call.verb,
        call.resource,
        call.scope()
    )]
    Forbidden { call: Call, cause: Arc<kube::Error> },
    /// The API server rejected the credentials (401).
    #[error("the Kubernetes API at {server} rejected the credentials (401)")]
    Unauthorized {
        server: String,
        cause: Arc<kube::Error>,
    },
    /// The object asked for does not exist (404), in the API's words.
    #[error("not found: {message}")]
    NotFound {
        message: String,
        cause: Arc<kube::Error>,
    },
    /// Any other status from the API server.
    #[error("the Kubernetes API refused to {} `{}` ({code}): {message}", call.verb, call.resource)]
    Refused {
        call: Call,
        code: u16,
        message: String,
        cause: Arc<kube::Error>,
    },
    /// The websocket upgrade (port-forward, exec) was not granted.
    #[error("the Kubernetes API did not open the `{}` stream: {detail}", call.resource)]
    Upgrade {
        call: Call,
        detail: String,
        cause: Arc<kube::Error>,
    },
    /// The kubeconfig user's credentials could not be obtained (exec
    /// plugin, token file).
    #[error("cannot get Kubernetes credentials: {detail}")]
    Credentials {
        detail: String,
        cause: Arc<kube::Error>,
    },
    /// The API server could not be reached; `root` is the deepest cause's
    /// words ("Connection refused", a certificate failure).
    #[error("cannot reach the Kubernetes API at {server}: {root}")]
    Unreachable {
        server: String,
        /// The TLS failure under it, if that is what it was (a server
        /// certificate not signed by the kubeconfig's CA, a client
        /// certificate the server rejected).
        tls: Option<rustls::Error>,
        root: String,
        cause: Arc<kube::Error>,
    },
    /// No pods in any place looked (`looked`, in order).
    #[error("{}: looked in {}", what_found(names), looked.join(", "))]
    NoPods {
        looked: Vec<String>,
        /// `--pod` names asked for, if any.
        names: Vec<String>,
    },
    /// `--pod NAME -n NS` names no pod.
    #[error("no pod `{name}` in namespace `{namespace}`")]
    NoSuchPod { name: String, namespace: String },
    /// `--container` names no container of the pod.
    #[error("pod `{pod}` has no container `{wanted}`; it has: {}", quoted(has))]
    NoSuchContainer {
        pod: String,
        wanted: String,
        has: Vec<String>,
    },
    /// A pod spec without containers.
    #[error("pod `{pod}` has no containers")]
    NoContainers { pod: String },
    /// The pod is not Running (or is terminating): its member shows as an
    /// error row while the others still work.
    #[error("pod `{namespace}/{name}` is {state}, not Running")]
    PodNotRunning {
        namespace: String,
        name: String,
        /// `terminating`, or the phase in backticks.
        state: String,
    },
    /// `--tls-secret` is not `[NS/]NAME`.
    #[error("`{0}` is not a secret reference")]
    SecretRef(String),
    /// The Secret named (`--tls-secret`, or a volume) does not exist.
    #[error("secret `{namespace}/{name}` not found")]
    NoSuchSecret { namespace: String, name: String },
    /// A Secret with none of the known certificate keys.
    #[error(
        "{source_name} holds no etcd client certificate; it has {}",
        keys_or_none(has)
    )]
    NoClientCertificate {
        source_name: String,
        has: Vec<String>,
    },
    /// A certificate without its key, or a key without its certificate.
    #[error("{source_name} has a client certificate or key, but not both")]
    HalfPair { source_name: String },
    /// A Secret or ConfigMap without the key a volume item maps to.
    #[error("{source_name} has no key `{key}`; it has {}", quoted(has))]
    NoSuchKey {
        source_name: String,
        key: String,
        has: Vec<String>,
    },
    /// etcd uses TLS but its flags name no certificate files.
    #[error("etcd in pod `{pod}` uses TLS, but its command line names no --trusted-ca-file/--cert-file/--key-file")]
    NoTlsFlags { pod: String },
    /// `cat PATH` through `pods/exec` ran and failed, or could not start
    /// (`started` false: a distroless image).
    #[error("`cat {path}` failed: {}", exec_why(*started, why))]
    Exec {
        path: String,
        started: bool,
        why: String,
    },
    /// The client certificates live on the node (kubeadm's hostPath) or in
    /// the image, and reading them through the API failed with `cause`.
    #[error(
        "the etcd client certificates are {place} and could not be read through the API ({cause})"
    )]
    NodeFiles {
        place: String,
        /// The flags to pass instead: `--cacert CA --cert CERT --key KEY`.
        ca: String,
        cert: String,
        key: String,
        cause: Box<Error>,
    },
    /// What was being done when `cause` happened ("scaling StatefulSet
    /// `etcd` to 3").
    #[error("{what}: {cause}")]
    During { what: String, cause: Box<Error> },
    /// A port-forward was opened without its data stream.
    #[error("port-forward opened without a stream")]
    NoForwardStream,
    /// The forward's error channel spoke: nothing listens on the port in
    /// the pod, say.
    #[error("port-forward to {what} failed: {message}")]
    Forward { what: String, message: String },
}

fn what_found(names: &[String]) -> String {
    if names.is_empty() {
        "no etcd pods found".to_string()
    } else {
        format!("no etcd pod named {} found", quoted(names))
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn keys_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "no keys".to_string()
    } else {
        quoted(items)
    }
}

fn exec_why(started: bool, why: &str) -> String {
    if !started {
        // Refused before it ran: the runtime's own words follow.
        format!(
            "the container has no `cat` to run (a distroless image), or could not start it: {why}"
        )
    } else if why.is_empty() {
        "no output".to_string()
    } else {
        why.to_string()
    }
}

impl Error {
    /// Classify a failed API call to `call` on the API server at `server`:
    /// on the status code and the error's type, never on its text.
    pub fn api(server: &str, err: kube::Error, call: Call) -> Error {
        let cause = Arc::new(err);
        match cause.as_ref() {
            kube::Error::Api(status) if status.code == 403 => Error::Forbidden { call, cause },
            kube::Error::Api(status) if status.code == 401 => Error::Unauthorized {
                server: server.to_string(),
                cause,
            },
            kube::Error::Api(status) if status.code == 404 => Error::NotFound {
                message: status.message.trim().to_string(),
                cause,
            },
            kube::Error::Api(status) => Error::Refused {
                call,
                code: status.code,
                message: status.message.trim().to_string(),
                cause,
            },
            kube::Error::UpgradeConnection(e) => Error::Upgrade {
                call,
                detail: e.to_string(),
                cause,
            },
            kube::Error::Auth(e) => Error::Credentials {
                detail: e.to_string(),
                cause,
            },
            _ => Error::unreachable(server, cause),
        }
    }

    /// The API server could not be reached: the deepest cause's words, and
    /// the TLS failure in the chain, if there is one.
    fn unreachable(server: &str, cause: Arc<kube::Error>) -> Error {
        // The root cause says it best ("Connection refused", a DNS or
        // certificate failure); the layers above only wrap it.
        let mut root = cause.to_string();
        let mut cur = std::error::Error::source(cause.as_ref());
        let mut tls = None;
        while let Some(e) = cur {
            root = e.to_string();
            if let Some(r) = carried_tls(e) {
                tls = Some(r.clone());
            }
            cur = e.source();
        }
        Error::Unreachable {
            server: server.to_string(),
            tls,
            root,
            cause,
        }
    }

    /// The API server dropped the connection (no TLS failure read): under
    /// TLS 1.3 what a refused client certificate can look like, when the
    /// alert was lost. Decided on the types in the chain: hyper's closed or
    /// canceled connection, or an I/O error of a closed connection.
    pub fn connection_dropped(&self) -> bool {
        let Error::Unreachable {
            tls: None, cause, ..
        } = self
        else {
            return false;
        };
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(cause.as_ref());
        while let Some(e) = cur {
            if let Some(h) = e.downcast_ref::<hyper::Error>() {
                if h.is_canceled() || h.is_closed() || h.is_incomplete_message() {
                    return true;
                }
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind as K;
                if matches!(
                    io.kind(),
                    K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
                ) {
                    return true;
                }
            }
            cur = e.source();
        }
        false
    }

    /// An unreachable API server with the TLS failure that explains it
    /// (read again by [`super::probe`]); other errors are kept as they are.
    pub fn with_tls(self, found: rustls::Error) -> Error {
        match self {
            Error::Unreachable {
                server,
                tls: None,
                root,
                cause,
            } => Error::Unreachable {
                server,
                tls: Some(found),
                root,
                cause,
            },
            other => other,
        }
    }

    /// Whether trying again (another pod, a later attempt) cannot help:
    /// the kubeconfig, the credentials, RBAC-free misconfiguration or the
    /// TLS material is wrong.
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::During { cause, .. } => cause.is_permanent(),
            Error::Unreachable { tls, .. } => tls.is_some(),
            Error::KubeconfigInvalid { .. }
            | Error::Client { .. }
            | Error::Unauthorized { .. }
            | Error::Credentials { .. }
            | Error::NoSuchContainer { .. }
            | Error::SecretRef(_)
            | Error::NoSuchSecret { .. }
            | Error::NoClientCertificate { .. }
            | Error::HalfPair { .. }
            | Error::NoSuchKey { .. }
            | Error::NoTlsFlags { .. }
            | Error::Exec { .. }
            | Error::NodeFiles { .. } => true,
            Error::KubeconfigUnreadable { .. }
            | Error::KubeconfigInput { .. }
            | Error::Forbidden { .. }
            | Error::NotFound { .. }
            | Error::Refused { .. }
            | Error::Upgrade { .. }
            | Error::NoPods { .. }
            | Error::NoSuchPod { .. }
            | Error::NoContainers { .. }
            | Error::PodNotRunning { .. }
            | Error::NoForwardStream
            | Error::Forward { .. } => false,
        }
    }

    /// The `kube::Error` under this one, if an API call failed.
    pub fn kube_error(&self) -> Option<&kube::Error> {
        match self {
            Error::Client { cause }
            | Error::Forbidden { cause, .. }
            | Error::Unauthorized { cause, .. }
            | Error::NotFound { cause, .. }
            | Error::Refused { cause, .. }
            | Error::Upgrade { cause, .. }
            | Error::Credentials { cause, .. }
            | Error::Unreachable { cause, .. } => Some(cause),
            _ => None,
        }
    }

    /// Prefix with what was being done ("scaling StatefulSet `etcd` to 3").
    pub fn during(self, what: impl fmt::Display) -> Error {
        Error::During {
            what: what.to_string(),
            cause: Box::new(self),
        }
    }
}

/// The rustls error `e` is, or an `io::Error` carries (it hides it from
/// `source()`).
fn carried_tls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let carried = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    e.downcast_ref::<rustls::Error>().or(carried)
}

#[cfg(test)]
mod tests {
    use std::io;

    use rustls::AlertDescription as A;

    use super::*;
    use crate::error::Kind;

    const SERVER: &str = "https://127.0.0.1:6443";

    fn failed(cause: io::Error) -> Error {
        let err = kube::Error::Service(Box::new(cause));
        Error::api(SERVER, err, Call::new("list", "pods", None))
    }

    #[test]
    fn a_dropped_connection_is_told_from_a_refused_one_by_its_io_kind() {
        let dropped = failed(io::ErrorKind::ConnectionReset.into());
        assert!(matches!(dropped, Error::Unreachable { tls: None, .. }));
        assert!(dropped.connection_dropped());
        assert!(failed(io::ErrorKind::UnexpectedEof.into()).connection_dropped());
        let refused = failed(io::ErrorKind::ConnectionRefused.into());
        assert!(!refused.connection_dropped());
        assert!(!refused.is_permanent());
        assert_eq!(crate::error::Error::from(refused).kind, Kind::Unavailable);
    }

    #[test]
    fn an_alert_in_the_chain_is_a_refused_client_certificate() {
        // tokio-rustls hands rustls's error over inside an io::Error.
        let e = failed(io::Error::other(rustls::Error::AlertReceived(A::UnknownCA)));
        assert!(matches!(
            e,
            Error::Unreachable {
                tls: Some(rustls::Error::AlertReceived(A::UnknownCA)),
                ..
            }
        ));
        // Already explained: nothing to probe for.
        assert!(!e.connection_dropped());
        assert!(e.is_permanent());
        let user = crate::error::Error::from(e);
        assert_eq!(user.kind, Kind::Auth);
        assert_eq!(
            user.message,
            format!("the Kubernetes API at {SERVER} rejected the client certificate")
        );
    }

    #[test]
    fn an_alert_read_again_after_a_dropped_connection_says_the_certificate_was_refused() {
        for alert in [A::CertificateRequired, A::BadCertificate, A::UnknownCA] {
            let e = failed(io::ErrorKind::ConnectionReset.into())
                .with_tls(rustls::Error::AlertReceived(alert));
            assert!(!e.connection_dropped());
            let user = crate::error::Error::from(e);
            assert_eq!(user.kind, Kind::Auth, "{alert:?}");
            assert_eq!(
                user.message,
                format!("the Kubernetes API at {SERVER} rejected the client certificate")
            );
            assert_eq!(user.exit_code() as i32, 3);
        }
        // Only an unexplained unreachable server takes the probe's answer.
        let forbidden = Error::NoSuchPod {
            name: "etcd-0".into(),
            namespace: "kube-system".into(),
        }
        .with_tls(rustls::Error::AlertReceived(A::UnknownCA));
        assert!(matches!(forbidden, Error::NoSuchPod { .. }));
    }
}
