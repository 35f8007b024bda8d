//! Why bytes could not reach a member, classified once where the failure
//! arrives: the `io::ErrorKind`, the rustls error, the HTTP/2 reason.
//!
//! [`classify`] walks an error's sources to its root cause and decides on
//! types, never on message text. [`crate::error`] turns each variant into
//! the line and the `help:` an operator reads.

use std::io;

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
    /// A dialer's own explanation (pod not Running, port-forward
    /// forbidden), already in operator language.
    #[error("{0}")]
    Dialer(Box<crate::error::Error>),
    /// The Kubernetes half failed: a port-forward refused, a pod not
    /// Running, the forward's error channel.
    #[error(transparent)]
    Kube(Box<crate::connect::kube::Error>),
    /// Anything else from the operating system, with its kind.
    #[error("{detail}")]
    Io { kind: io::ErrorKind, detail: String },
}

impl Error {
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

/// An error that already says what happened: ours, a dialer's, rustls's.
fn known(e: &(dyn std::error::Error + 'static)) -> Option<Error> {
    if let Some(ours) = e.downcast_ref::<Error>() {
        return Some(ours.clone());
    }
    if let Some(k) = e.downcast_ref::<crate::connect::kube::Error>() {
        return Some(Error::Kube(Box::new(k.clone())));
    }
    if let Some(ours) = e.downcast_ref::<crate::error::Error>() {
        return Some(Error::Dialer(Box::new(ours.clone())));
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
}
