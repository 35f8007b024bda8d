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

use super::error::{Error, PemProblem, Result};

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
        let read = |flag: &'static str, path: Option<&Path>| -> Result<Option<Vec<u8>>> {
            path.map(|p| {
                crate::input::read_file(p, crate::input::MAX_CONFIG_BYTES).map_err(|e| {
                    Error::TlsFile {
                        flag,
                        path: p.to_path_buf(),
                        cause: Arc::new(e),
                    }
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
        roots.add(cert).map_err(|cause| Error::BadCa {
            source_name: source.to_string(),
            cause: Box::new(cause),
        })?;
    }
    Ok(roots)
}

/// Build the rustls client config used for every member.
pub fn client_config(material: &TlsMaterial, insecure: bool) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(Error::TlsSetup)?;

    let builder = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier::new(provider, AnyCertificate)))
    } else {
        let Some(ca) = &material.ca else {
            return Err(Error::NoCa);
        };
        builder.with_root_certificates(root_store(ca, &material.source)?)
    };

    let mut config = match (&material.cert, &material.key) {
        (Some(cert), Some(key)) => {
            let chain = parse_certs(
                cert,
                &format!("client certificate from {}", material.source),
            )?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| Error::Pem {
                what: format!("client key from {}", material.source),
                problem: PemProblem::NotAKey(Arc::new(e)),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|cause| Error::KeyMismatch {
                    source_name: material.source.clone(),
                    cause: Box::new(cause),
                })?
        }
        (Some(_), None) => {
            return Err(Error::HalfPair {
                given: "cert",
                missing: "key",
            })
        }
        (None, Some(_)) => {
            return Err(Error::HalfPair {
                given: "key",
                missing: "cert",
            })
        }
        (None, None) => builder.with_no_client_auth(),
    };
    // gRPC needs HTTP/2; etcd's listener picks the protocol by ALPN.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let problem = |problem| Error::Pem {
        what: what.to_string(),
        problem,
    };
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| problem(PemProblem::NotPem(Arc::new(e))))?;
    if certs.is_empty() {
        return Err(problem(PemProblem::NoCertificate));
    }
    Ok(certs)
}

/// The server name to verify, as rustls wants it.
pub fn server_name(name: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(name.to_string()).map_err(|_| Error::BadServerName {
        name: name.to_string(),
    })
}

/// The certificate a server presented, with what rustls knows of the
/// handshake, for a [`CertificateCheck`].
pub(crate) struct Presented<'a, 'b> {
    pub end_entity: &'a CertificateDer<'b>,
    pub intermediates: &'a [CertificateDer<'b>],
    pub server_name: &'a ServerName<'b>,
    pub ocsp_response: &'a [u8],
    pub now: UnixTime,
}

/// How a server certificate is judged; [`Verifier`] checks the handshake
/// signatures whatever this says.
pub(crate) trait CertificateCheck: std::fmt::Debug + Send + Sync {
    fn check(&self, cert: &Presented<'_, '_>) -> std::result::Result<(), rustls::Error>;
}

/// A certificate verifier made of a [`CertificateCheck`] and the
/// provider's signature checks: one implementation of rustls's trait for
/// `--insecure-skip-tls-verify` and for pod names in Kubernetes mode.
#[derive(Debug)]
pub(crate) struct Verifier<C> {
    provider: Arc<rustls::crypto::CryptoProvider>,
    check: C,
}

impl<C: CertificateCheck> Verifier<C> {
    pub(crate) fn new(provider: Arc<rustls::crypto::CryptoProvider>, check: C) -> Self {
        Verifier { provider, check }
    }
}

impl<C: CertificateCheck> ServerCertVerifier for Verifier<C> {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.check.check(&Presented {
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        })?;
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `--insecure-skip-tls-verify`: accept any certificate; [`Verifier`]
/// still checks the handshake signatures, so the connection is at least
/// encrypted.
#[derive(Debug)]
struct AnyCertificate;

impl CertificateCheck for AnyCertificate {
    fn check(&self, _: &Presented<'_, '_>) -> std::result::Result<(), rustls::Error> {
        Ok(())
    }
}
