//! One gRPC connection per member, and the translation of etcd's failures into
//! operator language.
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

use crate::connect::tls::{self, server_name};
use crate::connect::{BoxStream, FailureSlot, Recording, Target};
use crate::error::{Error, Kind, Result};

/// Largest response accepted: etcd values are at most 1.5 MiB by default,
/// and scans size their pages to stay far below this.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

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
            let config = settings.tls.clone().ok_or_else(|| {
                Error::new(Kind::Tls, "https endpoint but no TLS material").with_hint(
                    "pass --cacert (and --cert/--key when etcd checks client certificates)",
                )
            })?;
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
                    Some((config, name)) => {
                        Box::new(TlsConnector::from(config).connect(name, stream).await?)
                    }
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
            Err(_) => {
                return Err(Error::new(
                    Kind::Unavailable,
                    format!(
                        "no answer within {:?} (--dial-timeout)",
                        settings.dial_timeout
                    ),
                )
                .with_hint("check that the member is running and the address is right"))
            }
            Ok(Err(e)) => return Err(explain_chain(&e)),
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
            Err(_) => {
                return Err(Error::new(
                    Kind::Unavailable,
                    "connected, but authentication got no answer",
                ))
            }
            Ok(r) => r.map_err(|e| recorded(&failure).unwrap_or_else(|| explain(&e)))?,
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
            Err(_) => Err(Error::new(
                Kind::Unavailable,
                format!("no answer within {timeout:?}"),
            )
            .with_hint(
                "the member may be overloaded or without quorum; raise --command-timeout to wait longer",
            )),
            Ok(r) => r.map_err(|e| {
                let explained = explain(&e);
                let explained = match explained.kind {
                    // A vague transport error: the stream may know better.
                    Kind::Unavailable | Kind::Other => {
                        recorded(&self.failure).unwrap_or(explained)
                    }
                    _ => explained,
                };
                // A server that rejects our certificate may reset the
                // connection before its TLS alert can be read.
                if self.tls && explained.message == CLOSED {
                    return Error::new(
                        Kind::Tls,
                        "the member closed the TLS connection: it may have rejected the client certificate",
                    )
                    .with_hint("pass a client certificate signed by the CA etcd trusts (--cert, --key)");
                }
                explained
            }),
        }
    }

    /// The KV client, with room for pages of large values (tonic's 4 MiB
    /// default would refuse a page of a few big objects).
    pub fn kv(&self) -> etcd_client::KvClient {
        self.inner
            .kv_client()
            .max_decoding_message_size(MAX_MESSAGE)
    }

    pub fn watch(&self) -> etcd_client::WatchClient {
        self.inner
            .watch_client()
            .max_decoding_message_size(MAX_MESSAGE)
    }

    pub fn maintenance(&self) -> etcd_client::MaintenanceClient {
        self.inner.maintenance_client()
    }

    pub fn cluster(&self) -> etcd_client::ClusterClient {
        self.inner.cluster_client()
    }
}

/// The transport failure the member's stream recorded, explained.
fn recorded(slot: &FailureSlot) -> Option<Error> {
    let guard = slot.lock().ok()?;
    guard.as_ref().map(|e| explain_chain(e))
}

const CLOSED: &str = "the member closed the connection";

/// Turn an etcd-client error into one line and a hint.
pub fn explain(err: &etcd_client::Error) -> Error {
    match err {
        etcd_client::Error::GRpcStatus(status) => explain_status(status),
        other => explain_chain(other),
    }
}

fn explain_status(status: &tonic::Status) -> Error {
    let msg = status.message();
    let has = |s: &str| msg.contains(s);
    if has("authentication failed") {
        Error::new(
            Kind::Auth,
            "authentication failed: wrong user name or password",
        )
        .with_hint("check --user and --password (ETCDCTL_USER, ETCDCTL_PASSWORD)")
    } else if has("user name is empty") || has("invalid auth token") || has("user name not found") {
        Error::new(Kind::Auth, "etcd requires authentication")
            .with_hint("pass --user NAME:PASSWORD (or ETCDCTL_USER)")
    } else if has("permission denied") {
        Error::new(Kind::Auth, "permission denied for this user")
            .with_hint("use a user with the root role for maintenance commands")
    } else if has("no leader") {
        Error::new(Kind::NoQuorum, "the cluster has no leader (quorum lost)")
            .with_hint("a majority of members must be running: check `kubectl etcd members`")
    } else if has("request timed out") || has("leader changed") {
        Error::new(Kind::NoQuorum, format!("{msg} (quorum may be lost)"))
            .with_hint("a majority of members must be running: check `kubectl etcd members`")
    } else if has("database space exceeded") {
        Error::new(
            Kind::NoSpace,
            "etcd is out of space (NOSPACE alarm): writes are refused",
        )
        .with_hint("run `kubectl etcd recover-space` to compact, defragment and disarm")
    } else if has("required revision has been compacted") {
        Error::new(Kind::Data, msg.to_string())
    } else if matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
    ) {
        explain_chain(status)
    } else {
        Error::new(
            Kind::Other,
            msg.trim_start_matches("etcdserver: ").to_string(),
        )
    }
}

/// Walk an error's sources for the root cause: a TLS alert, a refused
/// connection, a reset.
fn explain_chain(err: &(dyn std::error::Error + 'static)) -> Error {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut text = String::new();
    while let Some(e) = cur {
        // A dialer's own explanation (pod not Running, port-forward
        // forbidden) is already in operator language.
        if let Some(ours) = e.downcast_ref::<Error>() {
            return ours.clone();
        }
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return tls::explain(r);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(ours) = io.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
                return ours.clone();
            }
            if let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return tls::explain(r);
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return Error::new(Kind::Unavailable, "connection refused")
                        .with_hint("check that the member is running and the address is right");
                }
                std::io::ErrorKind::TimedOut => {
                    return Error::new(Kind::Unavailable, "connection timed out")
                        .with_hint("check the address and any firewall between here and etcd");
                }
                _ => {}
            }
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&e.to_string());
        cur = e.source();
    }
    // Plain HTTP/2 against a TLS port ends in a protocol error or a reset.
    let lower = text.to_ascii_lowercase();
    if lower.contains("connection reset")
        || lower.contains("frame with invalid size")
        || lower.contains("broken pipe")
    {
        return Error::new(Kind::Unavailable, CLOSED)
            .with_hint("if the member uses TLS, use an https:// endpoint with --cacert");
    }
    Error::new(Kind::Unavailable, text)
}
