//! How each etcd member is reached: the byte stream (TCP, or a Kubernetes
//! port-forward), TLS on top of it, and the name to verify.
//!
//! This module never speaks the etcd protocol and never reads keys: it hands
//! [`crate::etcd`] a [`Target`] per member that can open a stream.

pub mod direct;
pub mod kube;
pub mod tls;

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

/// A failed dial in the user's terms: a dialer's own [`Error`] when it gave
/// one (pod not Running, port-forward forbidden), else the I/O error.
pub fn dial_error(err: io::Error) -> crate::error::Error {
    use crate::error::{Error, Kind};
    match err.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
        Some(ours) => ours.clone(),
        None => Error::new(Kind::Unavailable, err.to_string()),
    }
}
