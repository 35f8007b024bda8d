//! Kubernetes mode: the user's kubeconfig, the etcd pods it can see, a
//! port-forward per member and the TLS material found next to etcd.
//!
//! Everything goes through the Kubernetes API, as kubectl does: no SSH, no
//! copied files, no shell in the etcd image. This module turns Kubernetes
//! objects into [`Target`]s; it never speaks the etcd protocol and never
//! reads etcd keys.

pub mod discovery;
pub mod portforward;
pub mod secrets;
pub mod statefulset;
pub mod verify;

use std::path::Path;
use std::sync::Arc;

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{PodInfo, Target};
use crate::error::{Error, Kind, Result};

pub use discovery::{Discovery, EtcdPod};

/// A client for the cluster the kubeconfig points at.
#[derive(Clone)]
pub struct Kube {
    pub client: kube::Client,
    /// The API server URL, for messages.
    pub server: String,
    /// The kubeconfig context's namespace.
    pub default_namespace: String,
}

/// One line for a kubeconfig that cannot be used. A file that cannot be
/// read means the Kubernetes API cannot be reached (exit 3); a file that
/// does not parse or names a missing context is a usage error. kube-rs
/// quotes paths with `{:?}` inside quotes and YAML errors span lines: say
/// each cause once, on one line.
fn kubeconfig_error(e: &kube::config::KubeconfigError) -> Error {
    use kube::config::KubeconfigError as K;
    match e {
        K::ReadConfig(io, path) => Error::new(
            Kind::Unavailable,
            format!("cannot read kubeconfig `{}`: {io}", path.display()),
        ),
        other => {
            let text = other.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end_matches(':');
            Error::new(Kind::Usage, format!("cannot load kubeconfig: {first}"))
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
        let config = match kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).map_err(|e| {
                    kubeconfig_error(&e).with_hint("pass --kubeconfig with a valid kubeconfig file")
                })?;
                kube::Config::from_custom_kubeconfig(file, &options).await
            }
            None => kube::Config::from_kubeconfig(&options).await,
        };
        let config = match config {
            Ok(c) => c,
            // Like kubectl inside a pod: no kubeconfig, but a service account.
            Err(e) => match (kubeconfig, context, kube::Config::incluster()) {
                (None, None, Ok(c)) => c,
                _ => {
                    return Err(kubeconfig_error(&e).with_hint(
                            "set KUBECONFIG or pass --kubeconfig/--context (or --endpoints to reach etcd directly)",
                        ))
                }
            },
        };
        let server = config.cluster_url.to_string();
        let default_namespace = config.default_namespace.clone();
        let client = kube::Client::try_from(config).map_err(|e| {
            Error::new(Kind::Usage, format!("cannot use the kubeconfig: {e}"))
                .with_hint("check the cluster and user entries of the kubeconfig context")
        })?;
        Ok(Kube {
            client,
            server: server.trim_end_matches('/').to_string(),
            default_namespace,
        })
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

    /// Explain a failed API call: `verb` on `resource` in `namespace`.
    pub fn explain(
        &self,
        err: kube::Error,
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> Error {
        explain(&self.server, err, verb, resource, namespace)
    }
}

/// Turn a Kubernetes client error into one line and a hint.
pub fn explain(
    server: &str,
    err: kube::Error,
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
) -> Error {
    let scope = match namespace {
        Some(ns) => format!("in namespace `{ns}`"),
        None => "in all namespaces".to_string(),
    };
    let ns_flag = match namespace {
        Some(ns) => format!("-n {ns}"),
        None => "-A".to_string(),
    };
    match err {
        kube::Error::Api(status) if status.code == 403 => Error::new(
            Kind::Unavailable,
            format!("forbidden: your Kubernetes user may not `{verb}` `{resource}` {scope}"),
        )
        .with_hint(format!(
            "ask for RBAC permission `{verb}` on `{resource}` (check: `kubectl auth can-i {verb} {resource} {ns_flag}`)"
        )),
        kube::Error::Api(status) if status.code == 401 => Error::new(
            Kind::Auth,
            format!("the Kubernetes API at {server} rejected the credentials (401)"),
        )
        .with_hint("refresh the kubeconfig credentials: `kubectl get pods` must work first"),
        kube::Error::Api(status) if status.code == 404 => Error::new(
            Kind::NotFound,
            format!("not found: {}", status.message.trim()),
        ),
        kube::Error::Api(status) => Error::new(
            Kind::Other,
            format!(
                "the Kubernetes API refused to {verb} `{resource}` ({}): {}",
                status.code,
                status.message.trim()
            ),
        ),
        kube::Error::UpgradeConnection(e) => Error::new(
            Kind::Unavailable,
            format!("the Kubernetes API did not open the `{resource}` stream: {e}"),
        )
        .with_hint("a proxy between here and the API server may block websocket upgrades"),
        kube::Error::Auth(e) => Error::new(
            Kind::Auth,
            format!("cannot get Kubernetes credentials: {e}"),
        )
        .with_hint("check the kubeconfig user (exec plugin, token): `kubectl get pods` must work first"),
        other => {
            // The root cause says it best ("Connection refused", a DNS or
            // certificate failure); the layers above only wrap it.
            let mut text = other.to_string();
            let mut cur = std::error::Error::source(&other);
            while let Some(e) = cur {
                text = e.to_string();
                cur = e.source();
            }
            Error::new(
                Kind::Unavailable,
                format!("cannot reach the Kubernetes API at {server}: {text}"),
            )
            .with_hint(
                "check the kubeconfig context (`kubectl cluster-info`), or pass --endpoints to reach etcd directly",
            )
        }
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
