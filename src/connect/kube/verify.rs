//! Server certificate names in Kubernetes mode.
//!
//! A member is dialled as its pod IP, but its certificate may instead name
//! the node (kubeadm, OpenShift), the pod, or the pod's DNS name (operators,
//! StatefulSets). When the certificate does not carry the IP, the pod's other
//! names are tried. The chain is always verified against the CA; only the
//! name check widens, and only to names of that same pod.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct};

use crate::connect::tls::TlsMaterial;
use crate::connect::PodInfo;
use crate::error::{Error, Kind, Result};

/// The names a pod's etcd certificate may carry besides its IP.
pub fn pod_names(pod: &PodInfo, hostname: Option<&str>, subdomain: Option<&str>) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(node) = &pod.node {
        names.push(node.clone());
    }
    names.push(pod.name.clone());
    let ns = &pod.namespace;
    if let (Some(h), Some(s)) = (hostname, subdomain) {
        for suffix in ["", ".svc", ".svc.cluster.local"] {
            names.push(format!("{h}.{s}.{ns}{suffix}"));
        }
    }
    names.dedup();
    names
}

/// Wrap `config`'s verification so a certificate naming any of the pod's
/// names (keyed by the name dialled, the pod IP) is accepted.
pub fn with_pod_names(
    config: &Arc<ClientConfig>,
    material: &TlsMaterial,
    names: HashMap<String, Vec<String>>,
) -> Result<Arc<ClientConfig>> {
    let Some(ca) = &material.ca else {
        return Ok(config.clone());
    };
    let roots = super::super::tls::root_store(ca, &material.source)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| Error::new(Kind::Tls, format!("CA from {}: {e}", material.source)))?;
    let names = names
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .into_iter()
                .filter_map(|n| ServerName::try_from(n).ok())
                .collect();
            (k, v)
        })
        .collect();
    let mut config = (**config).clone();
    config
        .dangerous()
        .set_certificate_verifier(Arc::new(AnyPodName { inner, names }));
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct AnyPodName {
    inner: Arc<WebPkiServerVerifier>,
    names: HashMap<String, Vec<ServerName<'static>>>,
}

impl ServerCertVerifier for AnyPodName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let first = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) = &first
        else {
            return first;
        };
        let dialled = match server_name {
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            ServerName::DnsName(d) => d.as_ref().to_string(),
            _ => return first,
        };
        for alt in self.names.get(&dialled).into_iter().flatten() {
            if let Ok(ok) =
                self.inner
                    .verify_server_cert(end_entity, intermediates, alt, ocsp_response, now)
            {
                return Ok(ok);
            }
        }
        first
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_is_known_by_node_pod_and_dns_names() {
        let pod = PodInfo {
            namespace: "db".into(),
            name: "etcd-0".into(),
            node: Some("worker-1".into()),
            ip: Some("10.0.0.5".into()),
            owner: None,
        };
        assert_eq!(pod_names(&pod, None, None), vec!["worker-1", "etcd-0"]);
        let names = pod_names(&pod, Some("etcd-0"), Some("etcd"));
        assert!(names.contains(&"etcd-0.etcd.db.svc.cluster.local".to_string()));
        assert!(names.contains(&"etcd-0.etcd.db.svc".to_string()));
    }
}
