//! Why bytes could not reach a member, classified once where the failure
//! arrives: the `io::ErrorKind`, the rustls error, the HTTP/2 reason.
//!
//! [`classify`] walks an error's sources to its root cause and decides on
//! types, never on message text. [`crate::error`] turns each variant into
//! the line and the `help:` an operator reads.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// A failure to reach or keep talking to a member.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("connection refused")]
    Refused,
    #[error("connection timed out")]
    TimedOut,
    /// The host name does not resolve; `detail` is the resolver's answer.
    #[error("cannot resolve `{host}`: {detail}")]
    Dns { host: String, detail: String },
    /// The TLS handshake failed; the rustls error says why.
    #[error("tls handshake failed: {0}")]
    Tls(rustls::Error),
    /// The member ended the connection in the middle of our TLS handshake:
    /// what a plain-http member does with a ClientHello.
    #[error("the member closed the connection during the tls handshake")]
    NotTls,
    /// Plain HTTP/2 was answered with something that is not HTTP/2 (a TLS
    /// alert), or the member closed or reset the connection.
    #[error("the member closed the connection")]
    Closed,
    /// The Kubernetes half failed: a port-forward refused, a pod not
    /// Running, the forward's error channel.
    #[error(transparent)]
    Kube(Box<crate::connect::kube::Error>),
    /// Anything else from the operating system, with its kind.
    #[error("{detail}")]
    Io { kind: io::ErrorKind, detail: String },
    /// `--cacert`, `--cert` or `--key` (`flag`) could not be read.
    #[error("cannot read {flag} `{}`", path.display())]
    TlsFile {
        flag: &'static str,
        path: PathBuf,
        cause: Arc<crate::input::ReadError>,
    },
    /// rustls refused its own settings (the protocol versions).
    #[error("tls setup: {0}")]
    TlsSetup(rustls::Error),
    /// An https endpoint, and no CA to check its certificate with.
    #[error("an https endpoint needs the CA that signed the etcd server certificate")]
    NoCa,
    /// An https endpoint, and no TLS settings at all.
    #[error("https endpoint but no TLS material")]
    NoTlsMaterial,
    /// PEM that does not hold what it should; `what` names it (`CA from
    /// flags`, `client key from secret ns/name`).
    #[error("{what} {problem}")]
    Pem { what: String, problem: PemProblem },
    /// A CA certificate rustls does not take as a trust anchor.
    #[error("CA from {source_name}: {cause}")]
    BadCa {
        source_name: String,
        cause: Box<rustls::Error>,
    },
    /// The CA certificates could not make a verifier.
    #[error("CA from {source_name}: {cause}")]
    BadCaVerifier {
        source_name: String,
        cause: Box<rustls::client::VerifierBuilderError>,
    },
    /// The client key is not the certificate's.
    #[error("client certificate and key from {source_name} do not match: {cause}")]
    KeyMismatch {
        source_name: String,
        cause: Box<rustls::Error>,
    },
    /// `--cert` without `--key`, or the reverse: a usage error.
    #[error("--{given} was given without --{missing}")]
    HalfPair {
        given: &'static str,
        missing: &'static str,
    },
    /// `--tls-server-name` (or a member's host) is no DNS name or IP.
    #[error("`{name}` is not a valid TLS server name")]
    BadServerName { name: String },
    /// An endpoint URL (`--endpoints`, a member's client URL) that cannot
    /// be dialled.
    #[error("endpoint `{url}` {problem}")]
    BadEndpoint {
        url: String,
        problem: EndpointProblem,
    },
    /// An endpoint URL with `user:password@` in it; `host` is the part
    /// after the `@`, so the password is never echoed.
    #[error("endpoint `{scheme}://{host}` has a user name and password in it")]
    CredentialsInEndpoint { scheme: &'static str, host: String },
}

/// What is wrong with an endpoint URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EndpointProblem {
    #[error("is empty")]
    Empty,
    #[error("has a scheme other than http or https")]
    Scheme,
    #[error("is not HOST:PORT")]
    NotHostPort,
    #[error("has an invalid port")]
    BadPort,
}

/// What is wrong with PEM input.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PemProblem {
    #[error("is not PEM: {0}")]
    NotPem(Arc<rustls::pki_types::pem::Error>),
    #[error("holds no PEM certificate")]
    NoCertificate,
    #[error("is not a PEM private key: {0}")]
    NotAKey(Arc<rustls::pki_types::pem::Error>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether trying again (another member, a later attempt) cannot help:
    /// the TLS settings or the handshake itself are wrong.
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::Kube(k) => k.is_permanent(),
            Error::Tls(_) | Error::NotTls => true,
            other => other.is_settings(),
        }
    }

    /// TLS settings that cannot work, found before any connection
    /// (rather than a failure on the way to a member).
    pub fn is_settings(&self) -> bool {
        match self {
            Error::TlsFile { .. }
            | Error::TlsSetup(_)
            | Error::NoCa
            | Error::NoTlsMaterial
            | Error::Pem { .. }
            | Error::BadCa { .. }
            | Error::BadCaVerifier { .. }
            | Error::KeyMismatch { .. }
            | Error::HalfPair { .. }
            | Error::BadServerName { .. }
            | Error::BadEndpoint { .. }
            | Error::CredentialsInEndpoint { .. } => true,
            Error::Refused
            | Error::TimedOut
            | Error::Dns { .. }
            | Error::Tls(_)
            | Error::NotTls
            | Error::Closed
            | Error::Kube(_)
            | Error::Io { .. } => false,
        }
    }

    /// Wrap `self` as an `io::Error`, for dialers and connectors whose
    /// signature is `io::Result`; [`classify`] finds it again.
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            Error::Refused => io::ErrorKind::ConnectionRefused,
            Error::TimedOut => io::ErrorKind::TimedOut,
            Error::Io { kind, .. } => *kind,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

/// The root cause of `err`, or `None` when nothing in its chain is a
/// transport failure we know (the caller keeps its own words then).
pub fn classify(err: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    // The HTTP/2 layer saw the connection end: that says more than the
    // raw I/O error under it ("bytes remaining on stream").
    let mut closed = false;
    // Else the deepest io::Error, which says the cause once.
    let mut io_error: Option<Error> = None;
    while let Some(e) = cur {
        if let Some(known) = known(e) {
            return Some(known);
        }
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            // An I/O failure under the connection, a GOAWAY, a reset, or a
            // TLS alert read as an HTTP/2 frame (FRAME_SIZE_ERROR).
            closed |= h2.is_io()
                || h2.is_go_away()
                || h2.is_reset()
                || h2.reason() == Some(h2::Reason::FRAME_SIZE_ERROR);
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            closed |= h.is_incomplete_message() || h.is_closed() || h.is_canceled();
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            // Our own errors (or rustls's) carried through an io::Error.
            if let Some(known) = io.get_ref().and_then(|inner| known(inner)) {
                return Some(known);
            }
            match io.kind() {
                io::ErrorKind::ConnectionRefused => return Some(Error::Refused),
                io::ErrorKind::TimedOut => return Some(Error::TimedOut),
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => return Some(Error::Closed),
                kind => {
                    io_error = Some(Error::Io {
                        kind,
                        detail: io.to_string(),
                    });
                }
            }
        }
        cur = e.source();
    }
    if closed {
        Some(Error::Closed)
    } else {
        io_error
    }
}

/// An error that already says what happened: ours, the Kubernetes
/// dialer's, rustls's.
fn known(e: &(dyn std::error::Error + 'static)) -> Option<Error> {
    if let Some(ours) = e.downcast_ref::<Error>() {
        return Some(ours.clone());
    }
    if let Some(k) = e.downcast_ref::<crate::connect::kube::Error>() {
        return Some(Error::Kube(Box::new(k.clone())));
    }
    e.downcast_ref::<rustls::Error>()
        .map(|r| Error::Tls(r.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds_classify_without_reading_the_text() {
        let e = io::Error::new(io::ErrorKind::ConnectionRefused, "whatever it says");
        assert!(matches!(classify(&e), Some(Error::Refused)));
        let e = io::Error::new(io::ErrorKind::BrokenPipe, "x");
        assert!(matches!(classify(&e), Some(Error::Closed)));
        let e = Error::NotTls.into_io();
        assert!(matches!(classify(&e), Some(Error::NotTls)));
        let e = io::Error::other(rustls::Error::DecryptError);
        assert!(matches!(classify(&e), Some(Error::Tls(_))));
    }

    #[test]
    fn a_tls_alert_read_as_http2_is_a_closed_connection_and_io_keeps_its_words() {
        // A TLS alert read as an HTTP/2 frame: plain HTTP/2 on a TLS port.
        let e = h2::Error::from(h2::Reason::FRAME_SIZE_ERROR);
        assert!(matches!(classify(&e), Some(Error::Closed)));
        // Alone, the same I/O error keeps its kind and words, once.
        let e = io::Error::other("bytes remaining on stream");
        assert!(
            matches!(classify(&e), Some(Error::Io { kind: io::ErrorKind::Other, ref detail }) if detail == "bytes remaining on stream")
        );
    }

    #[test]
    fn tls_settings_that_cannot_work_are_permanent_and_exit_by_their_kind() {
        let half = Error::HalfPair {
            given: "cert",
            missing: "key",
        };
        assert!(half.is_permanent() && half.is_settings());
        let e = crate::error::Error::from(half);
        assert_eq!(e.exit_code() as i32, 2);
        assert_eq!(e.message, "--cert was given without --key");
        assert!(matches!(
            e.cause.as_deref(),
            Some(crate::error::Cause::Connect(Error::HalfPair { .. }))
        ));
        let pem = Error::Pem {
            what: "CA from flags".into(),
            problem: PemProblem::NoCertificate,
        };
        let e = crate::error::Error::from(pem);
        assert_eq!(e.exit_code() as i32, 3);
        assert_eq!(e.message, "CA from flags holds no PEM certificate");
        let name = crate::error::Error::from(Error::BadServerName { name: "a b".into() });
        assert_eq!(name.exit_code() as i32, 2);
        assert!(!Error::Refused.is_permanent() && !Error::Closed.is_permanent());
        assert!(Error::NotTls.is_permanent());
    }
}
