//! How each etcd member is reached: the byte stream (TCP, or a Kubernetes
//! port-forward), TLS on top of it, and the name to verify.
//!
//! This module never speaks the etcd protocol and never reads keys: it hands
//! [`crate::etcd`] a [`Target`] per member that can open a stream.

pub mod direct;
pub mod error;
pub mod kube;
pub mod tls;

pub use error::Error;

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

/// Anything a gRPC connection can run over.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

pub type BoxStream = Box<dyn Stream>;
pub type DialFuture = Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send>>;

/// Opens a fresh byte stream to one member. Called again on every reconnect,
/// so a long watch survives a dropped connection.
pub trait Dialer: Send + Sync + fmt::Debug + 'static {
    fn dial(&self) -> DialFuture;
}

/// A Kubernetes pod behind a target, for display next to the member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub node: Option<String>,
    pub ip: Option<String>,
    /// The controlling owner (`ownerReferences` with `controller: true`):
    /// `(kind, name)`, e.g. `("StatefulSet", "etcd")`.
    pub owner: Option<(String, String)>,
}

/// One etcd member as the user addresses it.
#[derive(Debug, Clone)]
pub struct Target {
    /// What the user sees: the URL given, or `pod/NAME`.
    pub endpoint: String,
    /// Whether the member speaks TLS.
    pub tls: bool,
    /// The name the server certificate must carry.
    pub server_name: String,
    pub dialer: Arc<dyn Dialer>,
    pub pod: Option<PodInfo>,
}

/// The last transport failure seen on a member's stream.
///
/// hyper drives the HTTP/2 connection in a background task, so when TLS 1.3
/// delivers the server's verdict on our client certificate after the
/// handshake, the caller only sees "operation was canceled". The stream
/// records the real cause here for [`crate::etcd::EtcdClient`] to report.
pub type FailureSlot = Arc<std::sync::Mutex<Option<io::Error>>>;

/// A stream that keeps a copy of its first I/O failure in a [`FailureSlot`].
pub struct Recording<S> {
    pub inner: S,
    pub slot: FailureSlot,
}

impl<S> Recording<S> {
    fn record<T>(&self, r: std::task::Poll<io::Result<T>>) -> std::task::Poll<io::Result<T>> {
        if let std::task::Poll::Ready(Err(e)) = &r {
            if let Ok(mut slot) = self.slot.lock() {
                if slot.is_none() {
                    // io::Error is not Clone; keep the kind and the rustls
                    // cause, which is what the explanation needs.
                    let inner = e.get_ref();
                    let copy = if let Some(tls) =
                        inner.and_then(|i| i.downcast_ref::<rustls::Error>())
                    {
                        io::Error::new(e.kind(), tls.clone())
                    } else if let Some(ours) = inner.and_then(|i| i.downcast_ref::<Error>()) {
                        io::Error::new(e.kind(), ours.clone())
                    } else if let Some(k) = inner.and_then(|i| i.downcast_ref::<kube::Error>()) {
                        // The Kubernetes half's own failure, kept typed.
                        io::Error::new(e.kind(), k.clone())
                    } else {
                        io::Error::new(e.kind(), e.to_string())
                    };
                    *slot = Some(copy);
                }
            }
        }
        r
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.record(r)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.record(r)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.record(r)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.record(r)
    }
}

/// A failed dial, classified: a dialer's own explanation when it gave one
/// (pod not Running, port-forward forbidden), else the I/O error's kind.
pub fn dial_error(err: io::Error) -> Error {
    let kind = err.kind();
    error::classify(&err).unwrap_or_else(|| Error::Io {
        kind,
        detail: err.to_string(),
    })
}

/// Which PEM of the material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pem {
    Ca,
    Cert,
    Key,
}

impl Pem {
    /// The etcdctl environment variable taking this file.
    pub fn etcdctl_env(self) -> &'static str {
        match self {
            Pem::Ca => "ETCDCTL_CACERT",
            Pem::Cert => "ETCDCTL_CERT",
            Pem::Key => "ETCDCTL_KEY",
        }
    }

    /// A file name to suggest for it.
    pub fn file_name(self) -> &'static str {
        match self {
            Pem::Ca => "etcd-ca.crt",
            Pem::Cert => "etcd-client.crt",
            Pem::Key => "etcd-client.key",
        }
    }
}

/// Where one PEM of the TLS material lives, so that other tools (etcdctl
/// through `port-forward`) can be told how to get it. Material from the
/// cluster is never written to disk by us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemOrigin {
    File(std::path::PathBuf),
    Secret {
        namespace: String,
        name: String,
        key: String,
    },
    ConfigMap {
        namespace: String,
        name: String,
        key: String,
    },
    /// A file inside the etcd container, read with `cat` through exec.
    PodFile {
        namespace: String,
        pod: String,
        container: String,
        path: String,
    },
}

impl PemOrigin {
    /// A shell command that writes this PEM to `out` (none for a local file).
    pub fn fetch_command(&self, out: &str) -> Option<String> {
        // jsonpath needs the dots in a key escaped.
        let jp = |key: &str| key.replace('.', "\\.");
        match self {
            PemOrigin::File(_) => None,
            PemOrigin::Secret {
                namespace,
                name,
                key,
            } => Some(format!(
                "kubectl get secret -n {namespace} {name} -o jsonpath='{{.data.{}}}' | base64 -d > {out}",
                jp(key)
            )),
            PemOrigin::ConfigMap {
                namespace,
                name,
                key,
            } => Some(format!(
                "kubectl get configmap -n {namespace} {name} -o jsonpath='{{.data.{}}}' > {out}",
                jp(key)
            )),
            PemOrigin::PodFile {
                namespace,
                pod,
                container,
                path,
            } => Some(format!(
                "kubectl exec -n {namespace} {pod} -c {container} -- cat {path} > {out}"
            )),
        }
    }
}
