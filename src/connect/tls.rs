//! Client TLS: certificates held in memory, a rustls config built once, and
//! the checks that name what is wrong when a handshake fails.
//!
//! Certificate material may come from files or from a Kubernetes Secret; it
//! is never written to disk.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, Kind, Result};

/// PEM material for a client connection, in memory.
#[derive(Clone, Default)]
pub struct TlsMaterial {
    pub ca: Option<Vec<u8>>,
    pub cert: Option<Vec<u8>>,
    pub key: Option<Vec<u8>>,
    /// Where it came from, for messages (`--cacert /x`, `secret ns/name`).
    pub source: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("TlsMaterial")
            .field("ca", &self.ca.is_some())
            .field("cert", &self.cert.is_some())
            .field("key", &self.key.is_some())
            .field("source", &self.source)
            .finish()
    }
}

impl TlsMaterial {
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.cert.is_none() && self.key.is_none()
    }

    /// Read the files named by `--cacert`, `--cert` and `--key`.
    pub fn from_files(ca: Option<&Path>, cert: Option<&Path>, key: Option<&Path>) -> Result<Self> {
        let read = |flag: &str, path: Option<&Path>| -> Result<Option<Vec<u8>>> {
            path.map(|p| {
                std::fs::read(p).map_err(|e| {
                    Error::new(
                        Kind::Tls,
                        format!("cannot read {flag} `{}`: {e}", p.display()),
                    )
                })
            })
            .transpose()
        };
        Ok(TlsMaterial {
            ca: read("--cacert", ca)?,
            cert: read("--cert", cert)?,
            key: read("--key", key)?,
            source: "flags".into(),
        })
    }
}

/// The CA certificates in `ca` (PEM), as rustls trusts them.
pub(crate) fn root_store(ca: &[u8], source: &str) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(ca, &format!("CA from {source}"))? {
        roots
            .add(cert)
            .map_err(|e| Error::new(Kind::Tls, format!("CA from {source}: {e}")))?;
    }
    Ok(roots)
}

/// Build the rustls client config used for every member.
pub fn client_config(material: &TlsMaterial, insecure: bool) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(Kind::Tls, format!("tls setup: {e}")))?;

    let builder = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert(provider)))
    } else {
        let Some(ca) = &material.ca else {
            return Err(Error::new(
                Kind::Tls,
                "an https endpoint needs the CA that signed the etcd server certificate",
            )
            .with_hint("pass --cacert FILE (kubeadm: /etc/kubernetes/pki/etcd/ca.crt)"));
        };
        builder.with_root_certificates(root_store(ca, &material.source)?)
    };

    let mut config = match (&material.cert, &material.key) {
        (Some(cert), Some(key)) => {
            let chain = parse_certs(
                cert,
                &format!("client certificate from {}", material.source),
            )?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| {
                Error::new(
                    Kind::Tls,
                    format!(
                        "client key from {} is not a PEM private key: {e}",
                        material.source
                    ),
                )
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::new(
                    Kind::Tls,
                    format!(
                        "client certificate and key from {} do not match: {e}",
                        material.source
                    ),
                )
            })?
        }
        (Some(_), None) => {
            return Err(Error::usage("--cert was given without --key")
                .with_hint("pass both --cert and --key"))
        }
        (None, Some(_)) => {
            return Err(Error::usage("--key was given without --cert")
                .with_hint("pass both --cert and --key"))
        }
        (None, None) => builder.with_no_client_auth(),
    };
    // gRPC needs HTTP/2; etcd's listener picks the protocol by ALPN.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::new(Kind::Tls, format!("{what} is not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(Error::new(
            Kind::Tls,
            format!("{what} holds no PEM certificate"),
        ));
    }
    Ok(certs)
}

/// The server name to verify, as rustls wants it.
pub fn server_name(name: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(name.to_string()).map_err(|_| {
        Error::usage(format!("`{name}` is not a valid TLS server name"))
            .with_hint("pass --tls-server-name with a DNS name or IP address")
    })
}

/// `--insecure-skip-tls-verify`: accept any certificate but still check the
/// handshake signatures, so the connection is at least encrypted.
#[derive(Debug)]
struct AcceptAnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
