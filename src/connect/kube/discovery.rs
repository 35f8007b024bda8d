//! Finding the etcd pods and reading, from each pod spec, how its etcd is
//! reached: the container, the client port, the scheme and the TLS flags.
//!
//! Lookup order unless told otherwise: kubeadm (`kube-system`,
//! `component=etcd`), OpenShift (`openshift-etcd`, `app=etcd`), then
//! operator or chart managed (`app.kubernetes.io/name=etcd`, any namespace).
//! The spec parsing is pure and tested with plain values.

use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{Api, ListParams};

use super::{Error, Kube, Result};
use crate::connect::PodInfo;

/// The well-known places etcd pods live, in lookup order.
pub const DEFAULT_LOCATIONS: [(Option<&str>, &str); 3] = [
    (Some("kube-system"), "component=etcd"),
    (Some("openshift-etcd"), "app=etcd"),
    (None, "app.kubernetes.io/name=etcd"),
];

/// etcd's default client port.
pub const DEFAULT_CLIENT_PORT: u16 = 2379;

/// What the user said about where etcd runs.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub namespace: Option<String>,
    pub selector: Option<String>,
    pub pods: Vec<String>,
    pub container: Option<String>,
}

/// One place to list pods: a namespace (or all) and a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub namespace: Option<String>,
    pub selector: String,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "namespace `{ns}` (`{}`)", self.selector),
            None => write!(f, "all namespaces (`{}`)", self.selector),
        }
    }
}

impl Discovery {
    /// Where to look, in order: `-n` and `-l` narrow the defaults.
    pub fn locations(&self) -> Vec<Location> {
        match (&self.namespace, &self.selector) {
            (ns, Some(sel)) => vec![Location {
                namespace: ns.clone(),
                selector: sel.clone(),
            }],
            // `-n` also names the objects of keyspace commands (`count -n
            // default`), so after that namespace the usual places follow.
            (Some(ns), None) => {
                let mut out: Vec<Location> = DEFAULT_LOCATIONS
                    .iter()
                    .map(|(_, sel)| Location {
                        namespace: Some(ns.clone()),
                        selector: sel.to_string(),
                    })
                    .collect();
                for loc in Discovery::default().locations() {
                    if !out.contains(&loc) {
                        out.push(loc);
                    }
                }
                out
            }
            (None, None) => DEFAULT_LOCATIONS
                .iter()
                .map(|(ns, sel)| Location {
                    namespace: ns.map(str::to_string),
                    selector: sel.to_string(),
                })
                .collect(),
        }
    }
}

/// An etcd pod and how to reach its etcd.
#[derive(Debug, Clone)]
pub struct EtcdPod {
    pub info: PodInfo,
    /// `Running`, `Pending`, ...
    pub phase: String,
    /// Why this pod cannot be reached (not Running); the member then shows
    /// as an error row while the others still work.
    pub problem: Option<Error>,
    pub container: Container,
    pub port: u16,
    pub tls: bool,
    /// The etcd flags from the container's command line, in order.
    pub flags: Vec<(String, String)>,
    pub spec: Pod,
}

impl EtcdPod {
    /// The value of an etcd flag (`--name`, without the dashes).
    pub fn flag(&self, name: &str) -> Option<&str> {
        flag(&self.flags, name)
    }
}

pub fn flag<'a>(flags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    flags
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Find the etcd pods; the first location with any wins.
pub async fn discover(kube: &Kube, opts: &Discovery) -> Result<Vec<EtcdPod>> {
    // The first calls to the API server: a failure may hide a refused
    // client certificate.
    let found = if !opts.pods.is_empty() && opts.namespace.is_some() && opts.selector.is_none() {
        get_named(kube, opts).await
    } else {
        list(kube, opts).await
    };
    let pods = match found {
        Ok(pods) => pods,
        Err(e) => return Err(kube.recognise(e).await),
    };
    let mut out = pods
        .iter()
        .map(|p| etcd_pod(p, opts.container.as_deref()))
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.info.name.cmp(&b.info.name));
    Ok(out)
}

/// `--pod NAME -n NS`: exactly those pods.
async fn get_named(kube: &Kube, opts: &Discovery) -> Result<Vec<Pod>> {
    let ns = opts.namespace.as_deref().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), ns);
    let mut pods = Vec::new();
    for name in &opts.pods {
        match api.get(name).await {
            Ok(p) => pods.push(p),
            Err(kube::Error::Api(s)) if s.code == 404 => {
                return Err(Error::NoSuchPod {
                    name: name.clone(),
                    namespace: ns.to_string(),
                })
            }
            Err(e) => return Err(kube.explain(e, "get", "pods", Some(ns))),
        }
    }
    Ok(pods)
}

async fn list(kube: &Kube, opts: &Discovery) -> Result<Vec<Pod>> {
    let locations = opts.locations();
    let mut refused: Option<Error> = None;
    for loc in &locations {
        let api: Api<Pod> = match &loc.namespace {
            Some(ns) => Api::namespaced(kube.client.clone(), ns),
            None => Api::all(kube.client.clone()),
        };
        let list = match api.list(&ListParams::default().labels(&loc.selector)).await {
            Ok(l) => l,
            // Forbidden in one place may still leave the next one open; an
            // unreachable API server will not get better.
            Err(kube::Error::Api(s)) if s.code == 403 => {
                let e = kube::Error::Api(s);
                refused.get_or_insert(kube.explain(e, "list", "pods", loc.namespace.as_deref()));
                continue;
            }
            Err(e) => return Err(kube.explain(e, "list", "pods", loc.namespace.as_deref())),
        };
        let pods: Vec<Pod> = list
            .items
            .into_iter()
            .filter(|p| {
                opts.pods.is_empty()
                    || opts
                        .pods
                        .iter()
                        .any(|n| Some(n.as_str()) == p.metadata.name.as_deref())
            })
            .collect();
        if !pods.is_empty() {
            return Ok(pods);
        }
    }
    if let Some(err) = refused {
        return Err(err);
    }
    Err(Error::NoPods {
        looked: locations.iter().map(|l| l.to_string()).collect(),
        names: opts.pods.clone(),
    })
}

/// Read one pod spec: which container runs etcd, on which port, with TLS or
/// not, and whether the pod can be reached now.
pub fn etcd_pod(pod: &Pod, container: Option<&str>) -> Result<EtcdPod> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let spec = pod.spec.as_ref();
    let containers = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    let chosen = match container {
        Some(c) => {
            containers
                .iter()
                .find(|x| x.name == c)
                .ok_or_else(|| Error::NoSuchContainer {
                    pod: format!("{namespace}/{name}"),
                    wanted: c.to_string(),
                    has: containers.iter().map(|x| x.name.clone()).collect(),
                })?
        }
        None => containers
            .iter()
            .find(|x| x.name == "etcd")
            .or_else(|| containers.iter().find(|x| runs_etcd(x)))
            .or_else(|| containers.first())
            .ok_or_else(|| Error::NoContainers {
                pod: format!("{namespace}/{name}"),
            })?,
    };
    let flags = parse_flags(&command_line(chosen));
    let port = client_port(chosen, &flags);
    let tls = uses_tls(&flags);
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".into());
    let deleting = pod.metadata.deletion_timestamp.is_some();
    let problem = if phase != "Running" || deleting {
        let state = if deleting {
            "terminating".to_string()
        } else {
            format!("`{phase}`")
        };
        Some(Error::PodNotRunning {
            namespace: namespace.clone(),
            name: name.clone(),
            state,
        })
    } else {
        None
    };
    Ok(EtcdPod {
        info: PodInfo {
            namespace,
            name,
            node: spec.and_then(|s| s.node_name.clone()),
            ip: status
                .and_then(|s| s.pod_ip.clone())
                .filter(|ip| !ip.is_empty()),
            owner: pod
                .metadata
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true))
                .map(|o| (o.kind.clone(), o.name.clone())),
        },
        phase,
        problem,
        container: chosen.clone(),
        port,
        tls,
        flags,
        spec: pod.clone(),
    })
}

fn runs_etcd(c: &Container) -> bool {
    command_line(c)
        .first()
        .is_some_and(|w| w == "etcd" || w.ends_with("/etcd"))
}

/// The container's command and args as words. Shell wrappers
/// (`/bin/sh -c "exec etcd --name=..."`, as OpenShift uses) are split on
/// whitespace so their flags are seen too.
pub fn command_line(c: &Container) -> Vec<String> {
    c.command
        .iter()
        .flatten()
        .chain(c.args.iter().flatten())
        .flat_map(|w| w.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// `--flag=value` and `--flag value` pairs; a bare `--flag` gets `true`.
pub fn parse_flags(words: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].trim_matches(|c| c == '"' || c == '\'');
        i += 1;
        let Some(flag) = w.strip_prefix("--").or_else(|| w.strip_prefix('-')) else {
            continue;
        };
        if flag.is_empty() {
            continue;
        }
        match flag.split_once('=') {
            Some((k, v)) => out.push((k.to_string(), v.to_string())),
            None => match words.get(i) {
                Some(next) if !next.starts_with('-') => {
                    out.push((flag.to_string(), next.trim_matches('"').to_string()));
                    i += 1;
                }
                _ => out.push((flag.to_string(), "true".into())),
            },
        }
    }
    out
}

/// The container port named `client`, else the port of the client URLs,
/// else 2379.
pub fn client_port(c: &Container, flags: &[(String, String)]) -> u16 {
    if let Some(p) = c
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some("client"))
    {
        if let Ok(port) = u16::try_from(p.container_port) {
            return port;
        }
    }
    ["listen-client-urls", "advertise-client-urls"]
        .iter()
        .filter_map(|f| flag(flags, f))
        .flat_map(|urls| urls.split(','))
        .find_map(url_port)
        .unwrap_or(DEFAULT_CLIENT_PORT)
}

fn url_port(url: &str) -> Option<u16> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.trim_end_matches('/');
    let (_, port) = rest.rsplit_once(':')?;
    port.parse().ok()
}

/// https when the client URLs say so or a server certificate is set.
pub fn uses_tls(flags: &[(String, String)]) -> bool {
    let https_urls = ["listen-client-urls", "advertise-client-urls"]
        .iter()
        .filter_map(|f| flag(flags, f))
        .flat_map(|urls| urls.split(','))
        .any(|u| u.trim().starts_with("https://"));
    https_urls || flag(flags, "cert-file").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerPort, PodSpec, PodStatus};

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn container(cmd: &str, ports: Vec<ContainerPort>) -> Container {
        Container {
            name: "etcd".into(),
            command: Some(words(cmd)),
            ports: Some(ports),
            ..Default::default()
        }
    }

    fn pod(c: Container, phase: &str) -> Pod {
        Pod {
            metadata: kube::api::ObjectMeta {
                name: Some("etcd-cp-1".into()),
                namespace: Some("kube-system".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![c],
                node_name: Some("cp-1".into()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                pod_ip: Some("10.0.0.1".into()),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn kubeadm_command_line_gives_port_and_tls() {
        let c = container(
            "etcd --advertise-client-urls=https://10.0.0.1:2379 \
             --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.1:2379 \
             --cert-file=/etc/kubernetes/pki/etcd/server.crt --client-cert-auth=true",
            vec![],
        );
        let p = etcd_pod(&pod(c, "Running"), None).unwrap();
        assert_eq!(p.port, 2379);
        assert!(p.tls);
        assert!(p.problem.is_none());
        assert_eq!(
            p.flag("cert-file"),
            Some("/etc/kubernetes/pki/etcd/server.crt")
        );
        assert_eq!(p.info.node.as_deref(), Some("cp-1"));
        assert_eq!(p.info.ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(p.info.owner, None);
    }

    #[test]
    fn a_port_named_client_wins_and_plain_http_is_seen() {
        let c = container(
            "/usr/local/bin/etcd --listen-client-urls http://0.0.0.0:12379",
            vec![ContainerPort {
                name: Some("client".into()),
                container_port: 22379,
                ..Default::default()
            }],
        );
        let p = etcd_pod(&pod(c, "Running"), None).unwrap();
        assert_eq!(p.port, 22379);
        assert!(!p.tls);
        let c = container("etcd --listen-client-urls http://0.0.0.0:12379", vec![]);
        assert_eq!(etcd_pod(&pod(c, "Running"), None).unwrap().port, 12379);
        let c = container("etcd", vec![]);
        assert_eq!(etcd_pod(&pod(c, "Running"), None).unwrap().port, 2379);
    }

    #[test]
    fn shell_wrapped_command_lines_are_split() {
        let c = Container {
            name: "etcd".into(),
            command: Some(words("/bin/sh -c")),
            args: Some(vec![
                "exec etcd --cert-file=/etc/kubernetes/static-pod-certs/secrets/etcd-all-certs/serving.crt --listen-client-urls=https://0.0.0.0:2379".into(),
            ]),
            ..Default::default()
        };
        let flags = parse_flags(&command_line(&c));
        assert!(uses_tls(&flags));
        assert_eq!(client_port(&c, &flags), 2379);
    }

    #[test]
    fn a_pending_pod_carries_its_problem() {
        let c = container("etcd", vec![]);
        let p = etcd_pod(&pod(c, "Pending"), None).unwrap();
        let e = p.problem.unwrap();
        assert!(
            matches!(&e, Error::PodNotRunning { state, .. } if state == "`Pending`"),
            "{e:?}"
        );
        let e = crate::error::Error::from(e);
        assert_eq!(e.kind, crate::error::Kind::Unavailable);
        assert_eq!(
            e.message,
            "pod `kube-system/etcd-cp-1` is `Pending`, not Running"
        );
    }

    #[test]
    fn a_missing_container_names_the_ones_there() {
        let c = container("etcd", vec![]);
        let e = etcd_pod(&pod(c, "Running"), Some("server")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "pod `kube-system/etcd-cp-1` has no container `server`; it has: `etcd`"
        );
        assert_eq!(crate::error::Error::from(e).exit_code() as i32, 2);
    }

    #[test]
    fn locations_follow_flags() {
        let d = Discovery::default();
        assert_eq!(d.locations().len(), 3);
        assert_eq!(d.locations()[0].namespace.as_deref(), Some("kube-system"));
        let d = Discovery {
            namespace: Some("db".into()),
            ..Default::default()
        };
        let locs = d.locations();
        assert!(locs[..3]
            .iter()
            .all(|l| l.namespace.as_deref() == Some("db")));
        assert_eq!(&locs[3..], Discovery::default().locations().as_slice());
        let d = Discovery {
            selector: Some("app=my-etcd".into()),
            ..Default::default()
        };
        assert_eq!(
            d.locations(),
            vec![Location {
                namespace: None,
                selector: "app=my-etcd".into()
            }]
        );
    }

    #[test]
    fn flags_in_both_spellings() {
        let f = parse_flags(&words("etcd --name m0 --data-dir=/var/lib/etcd --debug -x"));
        assert_eq!(flag(&f, "name"), Some("m0"));
        assert_eq!(flag(&f, "data-dir"), Some("/var/lib/etcd"));
        assert_eq!(flag(&f, "debug"), Some("true"));
    }
}
