//! Kubernetes mode: the user's kubeconfig, the etcd pods it can see, a
//! port-forward per member and the TLS material found next to etcd.
//!
//! Everything goes through the Kubernetes API, as kubectl does: no SSH, no
//! copied files, no shell in the etcd image. This module turns Kubernetes
//! objects into [`Target`]s; it never speaks the etcd protocol and never
//! reads etcd keys.

pub mod discovery;
pub mod error;
pub mod portforward;
pub mod probe;
pub mod secrets;
pub mod statefulset;
pub mod verify;

use std::path::Path;
use std::sync::Arc;

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{PodInfo, Target};

pub use discovery::{Discovery, EtcdPod};
pub use error::{Call, Error};

/// The result of Kubernetes-mode work.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A client for the cluster the kubeconfig points at.
#[derive(Clone)]
pub struct Kube {
    pub client: kube::Client,
    /// The API server URL, for messages.
    pub server: String,
    /// The kubeconfig context's namespace.
    pub default_namespace: String,
    /// For the alert a refused client certificate gets; see [`probe`].
    probe: Option<probe::Probe>,
}

/// A kubeconfig that cannot be used. A file that cannot be read means the
/// Kubernetes API cannot be reached (exit 3); a file that does not parse or
/// names a missing context is a usage error. kube-rs quotes paths with
/// `{:?}` inside quotes and YAML errors span lines: say each cause once, on
/// one line.
fn kubeconfig_error(e: kube::config::KubeconfigError, flag: bool) -> Error {
    use kube::config::KubeconfigError as K;
    match e {
        K::ReadConfig(io, path) => Error::KubeconfigUnreadable {
            path,
            cause: Arc::new(io),
        },
        other => {
            let text = other.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end_matches(':')
                .to_string();
            Error::KubeconfigInvalid {
                first,
                flag,
                cause: Arc::new(other),
            }
        }
    }
}

impl Kube {
    /// Load the kubeconfig as kubectl does (`--kubeconfig`, else every file
    /// in `KUBECONFIG`, else `~/.kube/config`; `--context`; exec plugins,
    /// tokens and client certificates) and build a client.
    pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Kube> {
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..Default::default()
        };
        for path in kubeconfig_files(kubeconfig) {
            check_kubeconfig_size(&path)?;
        }
        let config = match kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).map_err(|e| kubeconfig_error(e, true))?;
                kube::Config::from_custom_kubeconfig(file, &options).await
            }
            None => kube::Config::from_kubeconfig(&options).await,
        };
        let config = match config {
            Ok(c) => c,
            // Like kubectl inside a pod: no kubeconfig, but a service account.
            Err(e) => match (kubeconfig, context, kube::Config::incluster()) {
                (None, None, Ok(c)) => c,
                _ => return Err(kubeconfig_error(e, kubeconfig.is_some())),
            },
        };
        let server = config.cluster_url.to_string();
        let default_namespace = config.default_namespace.clone();
        let probe = probe::Probe::new(&config);
        let client =
            kube::Client::try_from(config).map_err(|e| Error::Client { cause: Arc::new(e) })?;
        Ok(Kube {
            client,
            server: server.trim_end_matches('/').to_string(),
            default_namespace,
            probe,
        })
    }

    /// `err`, or what it hid: when the API server dropped the connection
    /// right after a handshake with a client certificate, a refusal of the
    /// certificate whose alert was lost; one probe reads it again.
    pub async fn recognise(&self, err: Error) -> Error {
        let Some(probe) = self.probe.as_ref().filter(|_| err.connection_dropped()) else {
            return err;
        };
        match probe.refusal().await {
            Some(tls) => err.with_tls(tls),
            None => err,
        }
    }

    /// The target for one etcd pod: a port-forward to its client port.
    pub fn target(&self, pod: &EtcdPod) -> Target {
        let info = pod.info.clone();
        let blocked = pod.problem.clone();
        Target {
            endpoint: format!("pod/{}", info.name),
            tls: pod.tls,
            // The member certificate names the node or pod IP, never the
            // 127.0.0.1 a local forward would suggest.
            server_name: info
                .ip
                .clone()
                .or_else(|| info.node.clone())
                .unwrap_or_else(|| info.name.clone()),
            dialer: Arc::new(portforward::PortForwardDialer::new(
                self, &info, pod.port, blocked,
            )),
            pod: Some(info),
        }
    }

    /// Per dialled name (the pod IP), the pod's other names its certificate
    /// may carry; see [`verify`].
    pub fn server_names(pods: &[EtcdPod]) -> std::collections::HashMap<String, Vec<String>> {
        let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
        for p in pods {
            let Some(ip) = &p.info.ip else { continue };
            let spec = p.spec.spec.as_ref();
            let names = verify::pod_names(
                &p.info,
                spec.and_then(|s| s.hostname.as_deref()),
                spec.and_then(|s| s.subdomain.as_deref()),
            );
            out.entry(ip.clone()).or_default().extend(names);
        }
        out
    }

    /// Classify a failed API call: `verb` on `resource` in `namespace`.
    pub fn explain(
        &self,
        err: kube::Error,
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> Error {
        Error::api(&self.server, err, Call::new(verb, resource, namespace))
    }
}

impl PodInfo {
    /// Whether this pod runs the etcd member `name` advertising
    /// `client_urls`: kubeadm names members after the node, operators after
    /// the pod; failing that, a client URL on the pod's IP.
    pub fn matches_member(&self, name: &str, client_urls: &[String]) -> bool {
        if !name.is_empty() && (name == self.name || Some(name) == self.node.as_deref()) {
            return true;
        }
        let Some(ip) = &self.ip else { return false };
        client_urls.iter().any(|u| {
            let host = u
                .split_once("://")
                .map_or(u.as_str(), |(_, rest)| rest)
                .trim_end_matches('/');
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            host.trim_start_matches('[').trim_end_matches(']') == ip
        })
    }
}

/// The kubeconfig files kube-rs will read: `--kubeconfig`, else every file
/// in `KUBECONFIG`, else `~/.kube/config` (when they exist).
fn kubeconfig_files(flag: Option<&Path>) -> Vec<std::path::PathBuf> {
    if let Some(p) = flag {
        return vec![p.to_path_buf()];
    }
    if let Some(list) = std::env::var_os("KUBECONFIG") {
        let paths: Vec<_> = std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !paths.is_empty() {
            return paths;
        }
    }
    std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".kube").join("config"))
        .filter(|p| p.exists())
        .into_iter()
        .collect()
}

/// kube-rs reads a kubeconfig whole: a bounded read first, so `/dev/zero`
/// or a huge file is refused before it is loaded. Pipes are not checked
/// (reading would consume them).
fn check_kubeconfig_size(path: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::metadata(path) else {
        // kube-rs reports a missing file in its own words.
        return Ok(());
    };
    if meta.file_type().is_fifo() || meta.file_type().is_socket() {
        return Ok(());
    }
    crate::input::read_file(path, crate::input::MAX_CONFIG_BYTES)
        .map(drop)
        .map_err(|e| Error::KubeconfigInput {
            path: path.to_path_buf(),
            cause: Arc::new(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: &str, ip: &str) -> PodInfo {
        PodInfo {
            namespace: "kube-system".into(),
            name: name.into(),
            node: Some(node.into()),
            ip: Some(ip.into()),
            owner: None,
        }
    }

    #[test]
    fn pods_match_members_by_node_pod_name_or_client_url() {
        let p = pod("etcd-cp-1", "cp-1", "10.0.0.1");
        assert!(p.matches_member("cp-1", &[]));
        assert!(p.matches_member("etcd-cp-1", &[]));
        assert!(p.matches_member("other", &["https://10.0.0.1:2379".into()]));
        assert!(!p.matches_member("cp-2", &["https://10.0.0.2:2379".into()]));
        assert!(!p.matches_member("", &[]));
    }
}
