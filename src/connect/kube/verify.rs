//! Server certificate names in Kubernetes mode.
//!
//! A member is dialled as its pod IP, but its certificate may instead name
//! the node (kubeadm, OpenShift), the pod, or the pod's DNS name (operators,
//! StatefulSets). When the certificate does not carry the IP, the pod's other
//! names are tried. The chain is always verified against the CA; only the
//! name check widens, and only to names of that same pod.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig};

use crate::connect::error::{Error, Result};
use crate::connect::tls::{CertificateCheck, Presented, TlsMaterial, Verifier};
use crate::connect::PodInfo;

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
    let roots = crate::connect::tls::root_store(ca, &material.source)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|cause| Error::BadCaVerifier {
            source_name: material.source.clone(),
            cause: Box::new(cause),
        })?;
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
        .set_certificate_verifier(Arc::new(Verifier::new(
            provider,
            AnyPodName { inner, names },
        )));
    Ok(Arc::new(config))
}

/// The chain verified against the CA, and the name dialled or any other
/// name of the same pod.
#[derive(Debug)]
struct AnyPodName {
    inner: Arc<WebPkiServerVerifier>,
    names: HashMap<String, Vec<ServerName<'static>>>,
}

impl CertificateCheck for AnyPodName {
    fn check(&self, cert: &Presented<'_, '_>) -> std::result::Result<(), rustls::Error> {
        let verify = |name: &ServerName<'_>| {
            self.inner
                .verify_server_cert(
                    cert.end_entity,
                    cert.intermediates,
                    name,
                    cert.ocsp_response,
                    cert.now,
                )
                .map(drop)
        };
        let first = verify(cert.server_name);
        let Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) = &first
        else {
            return first;
        };
        let dialled = match cert.server_name {
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            ServerName::DnsName(d) => d.as_ref().to_string(),
            _ => return first,
        };
        let mut alts = self.names.get(&dialled).into_iter().flatten();
        if alts.any(|alt| verify(alt).is_ok()) {
            return Ok(());
        }
        first
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
