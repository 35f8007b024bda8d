//! A [`Dialer`] over the Kubernetes port-forward API: each dial opens a new
//! forward to the pod's etcd client port and hands back its byte stream.
//! No local port is bound.
//!
//! Errors travel inside the `io::Error` as our own [`Error`], so the etcd
//! layer shows "forbidden: ... `pods/portforward`" rather than a transport
//! error.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Portforwarder};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

use super::{Error, Kube};
use crate::connect::{BoxStream, DialFuture, Dialer, PodInfo};

/// Dials one pod's port through the API server.
#[derive(Clone)]
pub struct PortForwardDialer {
    pods: Api<Pod>,
    server: String,
    namespace: String,
    name: String,
    port: u16,
    /// Set when the pod cannot be reached (not Running): every dial fails
    /// with it, without asking the API server.
    blocked: Option<Error>,
}

impl std::fmt::Debug for PortForwardDialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortForwardDialer")
            .field("pod", &format_args!("{}/{}", self.namespace, self.name))
            .field("port", &self.port)
            .finish()
    }
}

impl PortForwardDialer {
    pub fn new(kube: &Kube, pod: &PodInfo, port: u16, blocked: Option<Error>) -> Self {
        PortForwardDialer {
            pods: Api::namespaced(kube.client.clone(), &pod.namespace),
            server: kube.server.clone(),
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            port,
            blocked,
        }
    }

    /// Open one forward.
    pub async fn forward(&self) -> Result<ForwardStream, Error> {
        if let Some(e) = &self.blocked {
            return Err(e.clone());
        }
        let mut forwarder = self
            .pods
            .portforward(&self.name, &[self.port])
            .await
            .map_err(|e| {
                Error::api(
                    &self.server,
                    e,
                    super::Call::new("create", "pods/portforward", Some(&self.namespace)),
                )
            })?;
        let stream = forwarder
            .take_stream(self.port)
            .ok_or(Error::NoForwardStream)?;
        let error = forwarder
            .take_error(self.port)
            .map(|f| Box::pin(f) as Pin<Box<dyn Future<Output = Option<String>> + Send>>);
        Ok(ForwardStream {
            inner: stream,
            error,
            forwarder,
            what: format!("pod `{}/{}` port {}", self.namespace, self.name, self.port),
        })
    }
}

impl Dialer for PortForwardDialer {
    fn dial(&self) -> DialFuture {
        let this = self.clone();
        Box::pin(async move {
            let stream = this.forward().await.map_err(io::Error::other)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}

/// The byte stream of one forward. A message on the forward's error channel
/// (nothing listening on the port in the pod, say) ends reads with that
/// message instead of a silent hang. Dropping it closes the forward.
pub struct ForwardStream {
    inner: DuplexStream,
    error: Option<Pin<Box<dyn Future<Output = Option<String>> + Send>>>,
    forwarder: Portforwarder,
    what: String,
}

impl ForwardStream {
    fn check_error(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        let fut = self.error.as_mut()?;
        match fut.as_mut().poll(cx) {
            Poll::Pending => None,
            Poll::Ready(None) => {
                self.error = None;
                None
            }
            Poll::Ready(Some(msg)) => {
                self.error = None;
                Some(io::Error::other(Error::Forward {
                    what: self.what.clone(),
                    message: msg.trim().to_string(),
                }))
            }
        }
    }
}

impl Drop for ForwardStream {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

impl AsyncRead for ForwardStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.check_error(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ForwardStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.check_error(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
