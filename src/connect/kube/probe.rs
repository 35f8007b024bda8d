//! One TLS handshake with the kubeconfig's own settings, to read the alert
//! with which the API server refuses a client certificate.
//!
//! Under TLS 1.3 the server judges the client certificate after the client
//! has finished its half of the handshake. hyper sends its request at once;
//! the server's alert and its close race with it, and when the connection
//! is gone first, hyper's connection task drops the alert and the request
//! fails with only "connection was not ready". This probe repeats the
//! handshake alone, sends nothing and reads: the alert then arrives, as a
//! typed `rustls::Error`, for [`super::Error::with_tls`] to classify. It
//! runs only after such a dropped connection, and only when the kubeconfig
//! user has a client certificate; it never sends a request.

use std::sync::Arc;
use std::time::Duration;

use kube::client::ConfigExt;
use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;

/// How long the probe may take: the alert follows the handshake at once.
const PROBE_LIMIT: Duration = Duration::from_secs(3);

/// Where and how to shake hands: the API server, as kube-rs reaches it.
/// The TLS settings are built only when a probe runs.
#[derive(Clone)]
pub struct Probe {
    config: kube::Config,
    host: String,
    port: u16,
    name: ServerName<'static>,
}

impl Probe {
    /// A probe for `config`'s API server, when it is reached directly over
    /// https with a client certificate (else there is nothing to learn).
    pub fn new(config: &kube::Config) -> Option<Probe> {
        let url = &config.cluster_url;
        let auth = &config.auth_info;
        if url.scheme_str() != Some("https")
            || config.proxy_url.is_some()
            || (auth.client_certificate.is_none() && auth.client_certificate_data.is_none())
        {
            return None;
        }
        let host = url
            .host()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let name = config
            .tls_server_name
            .clone()
            .unwrap_or_else(|| host.clone());
        Some(Probe {
            config: config.clone(),
            port: url.port_u16().unwrap_or(443),
            name: ServerName::try_from(name).ok()?,
            host,
        })
    }

    /// The TLS error the API server answers the handshake with, if any.
    pub async fn refusal(&self) -> Option<rustls::Error> {
        tokio::time::timeout(PROBE_LIMIT, self.handshake())
            .await
            .ok()
            .flatten()
    }

    async fn handshake(&self) -> Option<rustls::Error> {
        let tls_config = Arc::new(self.config.rustls_client_config().ok()?);
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .ok()?;
        let connector = tokio_rustls::TlsConnector::from(tls_config);
        let mut tls = match connector.connect(self.name.clone(), tcp).await {
            Ok(tls) => tls,
            Err(e) => return carried(&e),
        };
        // A server that accepts the certificate waits for a request (or
        // sends its HTTP/2 settings); one that refuses it sends the alert.
        let mut byte = [0u8; 1];
        match tls.read(&mut byte).await {
            Err(e) => carried(&e),
            Ok(_) => None,
        }
    }
}

/// The rustls error an I/O error from tokio-rustls carries.
fn carried(e: &std::io::Error) -> Option<rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>().cloned()
}
