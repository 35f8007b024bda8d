//! One gRPC connection per member. Every failure, of the connection or of a
//! call, comes back as an [`super::Error`] variant, classified once here
//! (see [`super::error::classify`]); [`crate::error`] words it.
//!
//! etcd-client's own `connect` load-balances over all endpoints, so a status
//! call could be answered by any member. We build one channel per [`Target`]
//! instead (etcd-client's `raw-channel`), dialled through the target's own
//! [`crate::connect::Dialer`], with TLS layered here by rustls.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;

use super::error::{classify, Error as EtcdError, Result};
use crate::connect::tls::server_name;
use crate::connect::{self, BoxStream, FailureSlot, Recording, Target};

/// Largest response accepted: etcd values are at most 1.5 MiB by default,
/// and scans size their pages by bytes to stay far below this (and shrink
/// a page that still comes back too large).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// The largest response accepted: [`MAX_MESSAGE`], or less when the hidden
/// `KUBECTL_ETCD_MAX_RESPONSE` (bytes) says so: tests use it to meet the
/// limit with a few megabytes instead of hundreds.
pub fn max_response() -> usize {
    std::env::var("KUBECTL_ETCD_MAX_RESPONSE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(MAX_MESSAGE)
}

/// How every member is connected to; resolved once per command.
#[derive(Clone)]
pub struct ConnectSettings {
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub server_name_override: Option<String>,
    pub user: Option<(String, String)>,
    pub dial_timeout: Duration,
    pub command_timeout: Duration,
}

/// A connection to exactly one member.
#[derive(Clone)]
pub struct EtcdClient {
    pub inner: etcd_client::Client,
    pub endpoint: String,
    pub command_timeout: Duration,
    failure: FailureSlot,
    tls: bool,
}

impl EtcdClient {
    /// Connect to one member, failing within the dial timeout.
    pub async fn connect(target: &Target, settings: &ConnectSettings) -> Result<EtcdClient> {
        Self::connect_with(target, settings, false).await
    }

    /// Like [`connect`](Self::connect), for long watches: etcd ends the
    /// client's streams when the member loses its leader, so a watch on a
    /// partitioned member fails over instead of going silent.
    pub async fn connect_requiring_leader(
        target: &Target,
        settings: &ConnectSettings,
    ) -> Result<EtcdClient> {
        Self::connect_with(target, settings, true).await
    }

    async fn connect_with(
        target: &Target,
        settings: &ConnectSettings,
        require_leader: bool,
    ) -> Result<EtcdClient> {
        // Errors carry no member prefix: callers show them next to the member.
        let tls = if target.tls {
            let config = settings.tls.clone().ok_or(connect::Error::NoTlsMaterial)?;
            let name = settings
                .server_name_override
                .clone()
                .unwrap_or_else(|| target.server_name.clone());
            Some((config, server_name(&name)?))
        } else {
            None
        };

        let dialer = target.dialer.clone();
        let failure = FailureSlot::default();
        let slot = failure.clone();
        let connector = tower::service_fn(move |_: http::Uri| {
            let dialer = dialer.clone();
            let tls = tls.clone();
            let slot = slot.clone();
            async move {
                let stream = dialer.dial().await?;
                let stream: BoxStream = match tls {
                    Some((config, name)) => Box::new(
                        TlsConnector::from(config)
                            .connect(name, stream)
                            .await
                            .map_err(|e| match e.kind() {
                                // A plain-http member reads our ClientHello
                                // as a bad request and hangs up.
                                std::io::ErrorKind::UnexpectedEof
                                | std::io::ErrorKind::ConnectionReset => {
                                    connect::Error::NotTls.into_io()
                                }
                                _ => e,
                            })?,
                    ),
                    None => stream,
                };
                // A new connection starts with a clean record.
                if let Ok(mut s) = slot.lock() {
                    *s = None;
                }
                Ok::<_, std::io::Error>(TokioIo::new(Recording {
                    inner: stream,
                    slot,
                }))
            }
        });

        // The URI only fills the :authority header; the connector decides
        // where bytes go.
        let endpoint = tonic::transport::Endpoint::from_static("http://etcd.member")
            .connect_timeout(settings.dial_timeout)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);

        let channel = match tokio::time::timeout(
            settings.dial_timeout,
            endpoint.connect_with_connector(connector),
        )
        .await
        {
            Err(_) => return Err(EtcdError::DialTimeout(settings.dial_timeout)),
            Ok(Err(e)) => return Err(super::error::transport(&e)),
            Ok(Ok(channel)) => channel,
        };

        let mut options = etcd_client::ConnectOptions::new().with_require_leader(require_leader);
        if let Some((user, password)) = &settings.user {
            options = options.with_user(user.clone(), password.clone());
        }
        let inner = match tokio::time::timeout(
            settings.command_timeout,
            etcd_client::Client::from_channel(etcd_client::Channel::Tonic(channel), Some(options)),
        )
        .await
        {
            Err(_) => return Err(EtcdError::AuthNoAnswer),
            Ok(r) => r.map_err(|e| recorded(&failure).unwrap_or_else(|| classify(&e)))?,
        };
        Ok(EtcdClient {
            inner,
            endpoint: target.endpoint.clone(),
            command_timeout: settings.command_timeout,
            failure,
            tls: target.tls,
        })
    }

    /// Run one request with the command timeout, explaining any failure.
    pub async fn call<T, F>(&self, fut: F) -> Result<T>
    where
        F: Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        self.call_with_timeout(self.command_timeout, fut).await
    }

    /// Like [`call`](Self::call) with a timeout of its own, for long work.
    pub async fn call_with_timeout<T, F>(&self, timeout: Duration, fut: F) -> Result<T>
    where
        F: Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        match tokio::time::timeout(timeout, fut).await {
            Err(_) => Err(EtcdError::NoAnswer(timeout)),
            Ok(r) => r.map_err(|e| {
                let classified = classify(&e);
                let classified = match classified {
                    // A vague transport error: the stream may know better.
                    EtcdError::Connect(_)
                    | EtcdError::Status {
                        code:
                            tonic::Code::Unavailable
                            | tonic::Code::Unknown
                            | tonic::Code::Cancelled
                            | tonic::Code::Internal,
                        ..
                    } => recorded(&self.failure).unwrap_or(classified),
                    other => other,
                };
                // A server that rejects our certificate may reset the
                // connection before its TLS alert can be read.
                match classified {
                    EtcdError::Connect(connect::Error::Closed) if self.tls => {
                        EtcdError::ClientCertRejected
                    }
                    other => other,
                }
            }),
        }
    }

    /// The KV client, with room for pages of large values (tonic's 4 MiB
    /// default would refuse a page of a few big objects).
    pub fn kv(&self) -> etcd_client::KvClient {
        self.inner
            .kv_client()
            .max_decoding_message_size(max_response())
    }

    pub fn watch(&self) -> etcd_client::WatchClient {
        self.inner
            .watch_client()
            .max_decoding_message_size(max_response())
    }

    pub fn maintenance(&self) -> etcd_client::MaintenanceClient {
        self.inner.maintenance_client()
    }

    pub fn cluster(&self) -> etcd_client::ClusterClient {
        self.inner.cluster_client()
    }
}

/// The transport failure the member's stream recorded, classified.
fn recorded(slot: &FailureSlot) -> Option<EtcdError> {
    let guard = slot.lock().ok()?;
    guard
        .as_ref()
        .and_then(|e| connect::error::classify(e))
        .map(EtcdError::Connect)
}
