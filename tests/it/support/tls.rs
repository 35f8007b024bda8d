//! Throw-away PKI for TLS test clusters, generated with rcgen at cluster start.
//!
//! Owns: one CA, a server/peer certificate per member, a client certificate,
//! and an unrelated second CA with its own client certificate (for wrong-CA
//! and wrong-client-cert tests). Everything is written as PEM files into the
//! cluster's temp dir and exposed as paths, because both etcd and etcdctl
//! (and the tool under test) consume files, not in-memory keys.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Common name of the client certificate. Deliberately not an etcd user name,
/// so with `auth` enabled the certificate alone grants no permissions and the
/// password is still required (etcd maps the CN to a user under
/// `--client-cert-auth`). Tests of CN-based auth can create this user.
pub const CLIENT_CN: &str = "kubectl-etcd-test-client";

/// PEM files of a test PKI. All paths are absolute and live in the cluster's
/// temp dir, so they disappear with the cluster.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub dir: PathBuf,
    /// CA that signed every member and the client certificate.
    pub ca: PathBuf,
    /// Private key of `ca`, for tests that need to mint more certificates.
    pub ca_key: PathBuf,
    /// Client certificate (CN [`CLIENT_CN`]) signed by `ca`.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// An unrelated CA: trusting it instead of `ca` must fail verification.
    pub other_ca: PathBuf,
    /// A client certificate signed by `other_ca`: etcd must reject it.
    pub other_cert: PathBuf,
    pub other_key: PathBuf,
    /// Per member `(cert, key)`, used for both client-facing and peer TLS.
    pub members: Vec<(PathBuf, PathBuf)>,
}

struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

fn new_ca(cn: &str, dir: &Path, stem: &str) -> (Ca, PathBuf, PathBuf) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("self-sign CA");
    let cert_path = dir.join(format!("{stem}.crt"));
    let key_path = dir.join(format!("{stem}.key"));
    write(&cert_path, &cert.pem());
    write(&key_path, &key.serialize_pem());
    (
        Ca {
            issuer: Issuer::new(params, key),
        },
        cert_path,
        key_path,
    )
}

fn new_leaf(
    ca: &Ca,
    cn: &str,
    sans: Vec<String>,
    usages: &[ExtendedKeyUsagePurpose],
    dir: &Path,
    stem: &str,
    days: Option<i64>,
) -> (PathBuf, PathBuf) {
    let mut params = CertificateParams::new(sans).expect("leaf params");
    if let Some(days) = days {
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(days);
    }
    params.distinguished_name.push(DnType::CommonName, cn);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = usages.to_vec();
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, &ca.issuer).expect("sign leaf");
    let cert_path = dir.join(format!("{stem}.crt"));
    let key_path = dir.join(format!("{stem}.key"));
    write(&cert_path, &cert.pem());
    write(&key_path, &key.serialize_pem());
    (cert_path, key_path)
}

fn write(path: &Path, pem: &str) {
    fs::write(path, pem).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

impl TlsFiles {
    /// Generates the PKI into `dir` for members named `member_names`.
    pub fn generate(dir: &Path, member_names: &[String]) -> TlsFiles {
        TlsFiles::generate_with(dir, member_names, None)
    }

    /// Like [`TlsFiles::generate`], the member certificates valid for
    /// `server_days` days from now when given.
    pub fn generate_with(
        dir: &Path,
        member_names: &[String],
        server_days: Option<i64>,
    ) -> TlsFiles {
        use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        fs::create_dir_all(dir).expect("create tls dir");
        let (ca, ca_path, ca_key) = new_ca("kubectl-etcd test CA", dir, "ca");
        let (other, other_ca, _) = new_ca("kubectl-etcd unrelated CA", dir, "other-ca");
        // Members present the same certificate as server and, on peer links,
        // as client: it needs both usages.
        let members = member_names
            .iter()
            .map(|name| {
                let sans = vec![
                    "127.0.0.1".to_string(),
                    "localhost".to_string(),
                    name.clone(),
                ];
                new_leaf(
                    &ca,
                    name,
                    sans,
                    &[ServerAuth, ClientAuth],
                    dir,
                    name,
                    server_days,
                )
            })
            .collect();
        let (cert, key) = new_leaf(&ca, CLIENT_CN, vec![], &[ClientAuth], dir, "client", None);
        let (other_cert, other_key) = new_leaf(
            &other,
            CLIENT_CN,
            vec![],
            &[ClientAuth],
            dir,
            "other-client",
            None,
        );
        TlsFiles {
            dir: dir.to_path_buf(),
            ca: ca_path,
            ca_key,
            cert,
            key,
            other_ca,
            other_cert,
            other_key,
            members,
        }
    }
}
