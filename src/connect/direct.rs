//! Direct mode: `--endpoints` URLs dialled over TCP, Kubernetes untouched.

use std::sync::Arc;

use tokio::net::TcpStream;

use super::error::{EndpointProblem, Error, Result};
use super::{BoxStream, DialFuture, Dialer, Target};

/// Dials `host:port` over TCP.
#[derive(Debug, Clone)]
pub struct TcpDialer {
    pub addr: String,
}

impl Dialer for TcpDialer {
    fn dial(&self) -> DialFuture {
        let addr = self.addr.clone();
        Box::pin(async move {
            // Resolve first, so that a name that does not resolve is told
            // apart from an address that does not answer.
            let addrs: Vec<_> = tokio::net::lookup_host(&addr)
                .await
                .map_err(|e| {
                    let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
                    Error::Dns {
                        host: host
                            .trim_start_matches('[')
                            .trim_end_matches(']')
                            .to_string(),
                        detail: e.to_string(),
                    }
                    .into_io()
                })?
                .collect();
            let stream = TcpStream::connect(&addrs[..]).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}

/// A parsed client URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// Parse `http://h:p`, `https://h:p` or a bare `h:p` (https when
    /// `tls_default`, as etcdctl does when TLS flags are set).
    pub fn parse(url: &str, tls_default: bool) -> Result<Endpoint> {
        let bad = |problem| Error::BadEndpoint {
            url: url.to_string(),
            problem,
        };
        if url.trim().is_empty() {
            return Err(bad(EndpointProblem::Empty));
        }
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if url.contains("://") {
            return Err(bad(EndpointProblem::Scheme));
        } else {
            (tls_default, url)
        };
        let rest = rest.trim_end_matches('/');
        if let Some((_, host)) = rest.rsplit_once('@') {
            // Never echo the password back.
            let scheme = if tls { "https" } else { "http" };
            return Err(Error::CredentialsInEndpoint {
                scheme,
                host: host.to_string(),
            });
        }
        if rest.is_empty() || rest.contains('/') {
            return Err(bad(EndpointProblem::NotHostPort));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !h.ends_with(':') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| bad(EndpointProblem::BadPort))?;
                (h, port)
            }
            // No port (or an unbracketed IPv6 address): etcd's default.
            _ => (rest, 2379),
        };
        Ok(Endpoint {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
        })
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }

    pub fn target(&self) -> Target {
        let addr = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        Target {
            endpoint: self.url(),
            tls: self.tls,
            server_name: self.host.clone(),
            dialer: Arc::new(TcpDialer { addr }),
            pod: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_and_without_scheme() {
        let e = Endpoint::parse("https://10.0.0.1:2379", false).unwrap();
        assert_eq!((e.tls, e.host.as_str(), e.port), (true, "10.0.0.1", 2379));
        let e = Endpoint::parse("127.0.0.1:32379", true).unwrap();
        assert!(e.tls);
        assert_eq!(e.url(), "https://127.0.0.1:32379");
        let e = Endpoint::parse("http://etcd-0.etcd/", true).unwrap();
        assert_eq!((e.tls, e.port), (false, 2379));
        let e = Endpoint::parse("https://[::1]:2379", false).unwrap();
        assert_eq!(e.host, "::1");
        assert_eq!(e.url(), "https://[::1]:2379");
    }

    #[test]
    fn bad_urls_are_usage_errors() {
        let cases = [
            ("unix:///tmp/x", EndpointProblem::Scheme),
            ("http://h:notaport", EndpointProblem::BadPort),
            ("http://h:1/path", EndpointProblem::NotHostPort),
            ("", EndpointProblem::Empty),
        ];
        for (bad, why) in cases {
            let err = Endpoint::parse(bad, false).unwrap_err();
            assert!(
                matches!(&err, Error::BadEndpoint { problem, .. } if *problem == why),
                "{bad}: {err:?}"
            );
            let user = crate::error::Error::from(err);
            assert_eq!(user.kind, crate::error::Kind::Usage, "{bad}");
            assert_eq!(
                user.hint.as_deref(),
                Some("write endpoints as https://HOST:PORT, comma-separated")
            );
        }
    }

    #[test]
    fn credentials_in_an_endpoint_are_refused_without_echoing_the_password() {
        let err = Endpoint::parse("https://root:s3cret@10.0.0.1:2379", false).unwrap_err();
        let user = crate::error::Error::from(err);
        assert_eq!(user.kind, crate::error::Kind::Usage);
        assert_eq!(
            user.message,
            "endpoint `https://10.0.0.1:2379` has a user name and password in it"
        );
        assert!(!format!("{user:?}").contains("s3cret"));
    }
}
