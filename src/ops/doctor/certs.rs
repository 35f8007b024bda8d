//! What `doctor` needs to know about a certificate: when it expires and
//! which names it covers. Pure: DER bytes in, facts out (x509-parser).

use std::net::IpAddr;

use x509_parser::error::X509Error;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Why a certificate could not be read, with the cause kept
/// ([`crate::error`] words it).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CertError {
    /// The DER bytes are not an X.509 certificate (the parser's error).
    #[error("not an X.509 certificate: {0}")]
    NotX509(x509_parser::nom::Err<X509Error>),
    /// A certificate file (a pod's `--peer-cert-file`) with no PEM
    /// certificate in it.
    #[error("`{path}` holds no PEM certificate")]
    NoPem { path: String },
    /// A certificate file in a pod that could not be read.
    #[error(transparent)]
    Unread(#[from] crate::connect::kube::Error),
}

/// The facts of one certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct CertFacts {
    /// The subject's common name, or the whole subject.
    pub subject: String,
    /// Seconds since the Unix epoch.
    pub not_after: i64,
    /// `YYYY-MM-DD` (UTC).
    pub not_after_date: String,
    /// DNS and IP subject alternative names.
    pub names: Vec<String>,
    pub is_ca: bool,
}

pub fn read(der: &[u8]) -> Result<CertFacts, CertError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(CertError::NotX509)?;
    let subject = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| cert.subject().to_string());
    let not_after = cert.validity().not_after;
    let date = not_after.to_datetime().date();
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push(d.to_string()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => names.push(IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()).to_string()),
                    16 => names.push(IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()).to_string()),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    Ok(CertFacts {
        subject,
        not_after: not_after.timestamp(),
        not_after_date: format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        ),
        names,
        is_ca: cert.is_ca(),
    })
}

/// Whether `name` (a host name or an IP address) is one of `names`, with
/// a leading `*.` covering exactly one DNS label, as TLS clients verify.
pub fn covers(names: &[String], name: &str) -> bool {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return names.iter().any(|n| n.parse::<IpAddr>().ok() == Some(ip));
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    names.iter().any(|n| {
        let n = n.trim_end_matches('.').to_ascii_lowercase();
        match n.strip_prefix("*.") {
            Some(rest) => name
                .split_once('.')
                .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
            None => n == name,
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A certificate for `names` valid `days` days from now.
    pub(crate) fn cert(names: &[&str], days: i64) -> (Vec<u8>, i64) {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "etcd-0");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(days);
        let key = rcgen::KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        (der, now.unix_timestamp())
    }

    #[test]
    fn expiry_names_and_subject_are_read_from_der() {
        let (der, now) = cert(&["127.0.0.1", "etcd-0.etcd.svc"], 20);
        let c = read(&der).unwrap();
        assert_eq!(c.subject, "etcd-0");
        assert_eq!(c.names, ["127.0.0.1", "etcd-0.etcd.svc"]);
        assert_eq!((c.not_after - now) / 86_400, 20);
        assert_eq!(c.not_after_date.len(), 10);
        assert!(!c.is_ca);
        assert!(matches!(
            read(b"not a certificate"),
            Err(CertError::NotX509(_))
        ));
    }

    #[test]
    fn an_unreadable_certificate_is_bad_data_with_the_parsers_cause() {
        let e = crate::error::Error::from(read(b"not a certificate").unwrap_err());
        assert_eq!(e.exit_code() as i32, 5);
        assert!(
            e.message.starts_with("not an X.509 certificate: "),
            "{}",
            e.message
        );
        assert_eq!(e.hint, None);
        crate::error::Error::from(CertError::NoPem {
            path: "/etc/kubernetes/pki/etcd/peer.crt".into(),
        })
        .assert_line(
            5,
            "`/etc/kubernetes/pki/etcd/peer.crt` holds no PEM certificate",
            None,
        );
    }

    #[test]
    fn names_match_exactly_or_by_one_wildcard_label() {
        let names = vec![
            "127.0.0.1".to_string(),
            "*.etcd.svc".to_string(),
            "Node-1".to_string(),
        ];
        assert!(covers(&names, "127.0.0.1"));
        assert!(covers(&names, "node-1"));
        assert!(covers(&names, "etcd-0.etcd.svc"));
        assert!(!covers(&names, "a.b.etcd.svc"));
        assert!(!covers(&names, "10.0.0.1"));
        assert!(!covers(&names, "etcd.svc"));
    }
}
