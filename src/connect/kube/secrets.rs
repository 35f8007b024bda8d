//! etcd client certificates from the cluster itself, held in memory only.
//!
//! `--tls-secret` names a Secret; on OpenShift `openshift-etcd/etcd-client`
//! is used; otherwise the etcd container's own
//! `--trusted-ca-file`/`--cert-file`/`--key-file` (or the peer variants) are
//! traced to the volume they come from: a Secret or ConfigMap is read through
//! the API, a hostPath (kubeadm) through `pods/exec` with `cat` when the
//! image has one. Nothing is written to disk.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Volume};
use kube::api::{Api, AttachParams};
use tokio::io::AsyncReadExt;

use super::discovery::EtcdPod;
use super::{Error, Kube, Result};
use crate::connect::tls::TlsMaterial;
use crate::connect::{Pem, PemOrigin};

/// Keys a CA may be stored under, in preference order.
pub const CA_KEYS: [&str; 6] = [
    "ca.crt",
    "ca",
    "ca.pem",
    "etcd-client-ca.crt",
    "trusted-ca.crt",
    "ca-bundle.crt",
];
/// Keys a client certificate may be stored under.
pub const CERT_KEYS: [&str; 6] = [
    "tls.crt",
    "cert",
    "cert.pem",
    "etcd-client.crt",
    "client.crt",
    "healthcheck-client.crt",
];
/// Keys a client key may be stored under.
pub const KEY_KEYS: [&str; 6] = [
    "tls.key",
    "key",
    "key.pem",
    "etcd-client.key",
    "client.key",
    "healthcheck-client.key",
];

/// Split `[NS/]NAME`.
pub fn parse_secret_ref(s: &str, default_ns: &str) -> Result<(String, String)> {
    let (ns, name) = match s.split_once('/') {
        Some((ns, name)) => (ns, name),
        None => (default_ns, s),
    };
    if ns.is_empty() || name.is_empty() || name.contains('/') {
        return Err(Error::SecretRef(s.to_string()));
    }
    Ok((ns.to_string(), name.to_string()))
}

/// TLS material with where each of CA, certificate and key came from.
pub type Found = (TlsMaterial, Vec<(Pem, PemOrigin)>);

/// `--tls-secret`: read the Secret and pick its CA, certificate and key.
pub async fn from_secret(kube: &Kube, namespace: &str, name: &str) -> Result<Found> {
    let data = get_secret(kube, namespace, name).await?;
    let material = material_from_data(&data, &format!("secret `{namespace}/{name}`"))?;
    let keys = [
        (Pem::Ca, &CA_KEYS[..]),
        (Pem::Cert, &CERT_KEYS[..]),
        (Pem::Key, &KEY_KEYS[..]),
    ];
    let origins = keys
        .into_iter()
        .filter_map(|(pem, keys)| {
            let key = keys.iter().find(|k| data.contains_key(**k))?;
            Some((
                pem,
                PemOrigin::Secret {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    key: key.to_string(),
                },
            ))
        })
        .collect();
    Ok((material, origins))
}

async fn get_secret(kube: &Kube, namespace: &str, name: &str) -> Result<BTreeMap<String, Vec<u8>>> {
    let api: Api<Secret> = Api::namespaced(kube.client.clone(), namespace);
    match api.get(name).await {
        Ok(s) => Ok(s
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect()),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(Error::NoSuchSecret {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }),
        Err(e) => Err(kube.explain(e, "get", "secrets", Some(namespace))),
    }
}

async fn get_config_map(
    kube: &Kube,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let api: Api<ConfigMap> = Api::namespaced(kube.client.clone(), namespace);
    match api.get(name).await {
        Ok(c) => Ok(c
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .chain(
                c.binary_data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0)),
            )
            .collect()),
        Err(e) => Err(kube.explain(e, "get", "configmaps", Some(namespace))),
    }
}

/// One file of the etcd container (a certificate etcd's flags name), read
/// where the client certificates are read from: the Secret or ConfigMap
/// mounted there, else `cat` through `pods/exec`.
pub async fn read_pod_file(kube: &Kube, pod: &EtcdPod, path: &str) -> Result<Vec<u8>> {
    let ns = &pod.info.namespace;
    match file_source(pod, path) {
        FileSource::Secret { name, key } => lookup(
            &get_secret(kube, ns, &name).await?,
            &key,
            &format!("secret `{ns}/{name}`"),
        ),
        FileSource::ConfigMap { name, key } => lookup(
            &get_config_map(kube, ns, &name).await?,
            &key,
            &format!("configmap `{ns}/{name}`"),
        ),
        FileSource::Node { .. } => read_by_exec(kube, pod, path).await,
    }
}

/// Pick CA, certificate and key out of a Secret's data.
pub fn material_from_data(data: &BTreeMap<String, Vec<u8>>, source: &str) -> Result<TlsMaterial> {
    let pick = |keys: &[&str]| keys.iter().find_map(|k| data.get(*k).cloned());
    let material = TlsMaterial {
        ca: pick(&CA_KEYS),
        cert: pick(&CERT_KEYS),
        key: pick(&KEY_KEYS),
        source: source.to_string(),
    };
    if material.cert.is_none() && material.ca.is_none() {
        return Err(Error::NoClientCertificate {
            source_name: source.to_string(),
            has: data.keys().cloned().collect(),
        });
    }
    if material.cert.is_some() != material.key.is_some() {
        return Err(Error::HalfPair {
            source_name: source.to_string(),
        });
    }
    Ok(material)
}

/// Where a file in the etcd container comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    Secret {
        name: String,
        key: String,
    },
    ConfigMap {
        name: String,
        key: String,
    },
    /// On the node (kubeadm) or in the image: only `pods/exec` can read it.
    Node {
        host_dir: Option<String>,
    },
}

/// Trace a path in the container to the volume mounted there.
pub fn file_source(pod: &EtcdPod, path: &str) -> FileSource {
    let mounts = pod.container.volume_mounts.iter().flatten();
    let best = mounts
        .filter(|m| {
            let dir = m.mount_path.trim_end_matches('/');
            path.starts_with(&format!("{dir}/"))
        })
        .max_by_key(|m| m.mount_path.len());
    let Some(mount) = best else {
        return FileSource::Node { host_dir: None };
    };
    let rel = path[mount.mount_path.trim_end_matches('/').len() + 1..].to_string();
    let rel = match &mount.sub_path {
        Some(sub) if !sub.is_empty() => format!("{}/{rel}", sub.trim_end_matches('/')),
        _ => rel,
    };
    let volumes: &[Volume] = pod
        .spec
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default();
    let Some(volume) = volumes.iter().find(|v| v.name == mount.name) else {
        return FileSource::Node { host_dir: None };
    };
    if let Some(s) = &volume.secret {
        let key = key_for(s.items.iter().flatten().map(|i| (&i.key, &i.path)), &rel);
        return FileSource::Secret {
            name: s.secret_name.clone().unwrap_or_default(),
            key,
        };
    }
    if let Some(c) = &volume.config_map {
        let key = key_for(c.items.iter().flatten().map(|i| (&i.key, &i.path)), &rel);
        return FileSource::ConfigMap {
            name: c.name.clone(),
            key,
        };
    }
    if let Some(p) = &volume.projected {
        for src in p.sources.iter().flatten() {
            if let Some(s) = &src.secret {
                let items: Vec<_> = s.items.iter().flatten().collect();
                if items.is_empty() || items.iter().any(|i| i.path == rel) {
                    let key = key_for(items.iter().map(|i| (&i.key, &i.path)), &rel);
                    return FileSource::Secret {
                        name: s.name.clone(),
                        key,
                    };
                }
            }
            if let Some(c) = &src.config_map {
                let items: Vec<_> = c.items.iter().flatten().collect();
                if items.is_empty() || items.iter().any(|i| i.path == rel) {
                    let key = key_for(items.iter().map(|i| (&i.key, &i.path)), &rel);
                    return FileSource::ConfigMap {
                        name: c.name.clone(),
                        key,
                    };
                }
            }
        }
    }
    FileSource::Node {
        host_dir: volume.host_path.as_ref().map(|h| h.path.clone()),
    }
}

fn key_for<'a>(items: impl Iterator<Item = (&'a String, &'a String)>, rel: &str) -> String {
    let mut items = items.peekable();
    if items.peek().is_none() {
        return rel.to_string();
    }
    items
        .find(|(_, p)| p.as_str() == rel)
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| rel.to_string())
}

/// The CA, certificate and key files etcd itself uses, from its flags.
pub fn etcd_tls_files(pod: &EtcdPod) -> Option<(String, String, String)> {
    let get = |a: &str, b: &str| {
        pod.flag(a)
            .filter(|v| !v.is_empty())
            .or_else(|| pod.flag(b).filter(|v| !v.is_empty()))
            .map(str::to_string)
    };
    Some((
        get("trusted-ca-file", "peer-trusted-ca-file")?,
        get("cert-file", "peer-cert-file")?,
        get("key-file", "peer-key-file")?,
    ))
}

/// OpenShift keeps a client certificate for etcd in `openshift-etcd/etcd-client`
/// and the CA bundle in the `etcd-ca-bundle` ConfigMap next to it.
pub const OPENSHIFT_NAMESPACE: &str = "openshift-etcd";

/// OpenShift's ready-made client certificate, if the pods are OpenShift's and
/// it can be read.
async fn openshift_client(kube: &Kube, pod: &EtcdPod) -> Option<Found> {
    if pod.info.namespace != OPENSHIFT_NAMESPACE {
        return None;
    }
    let ns = OPENSHIFT_NAMESPACE;
    let secret = get_secret(kube, ns, "etcd-client").await.ok()?;
    let bundle = get_config_map(kube, ns, "etcd-ca-bundle").await.ok()?;
    let cert = secret.get("tls.crt")?.clone();
    let key = secret.get("tls.key")?.clone();
    let ca = bundle.get("ca-bundle.crt")?.clone();
    let origin = |kind: &str, name: &str, key: &str| {
        let (namespace, name, key) = (ns.to_string(), name.to_string(), key.to_string());
        if kind == "secret" {
            PemOrigin::Secret {
                namespace,
                name,
                key,
            }
        } else {
            PemOrigin::ConfigMap {
                namespace,
                name,
                key,
            }
        }
    };
    Some((
        TlsMaterial {
            ca: Some(ca),
            cert: Some(cert),
            key: Some(key),
            source: format!("secret `{ns}/etcd-client` and configmap `{ns}/etcd-ca-bundle`"),
        },
        vec![
            (
                Pem::Ca,
                origin("configmap", "etcd-ca-bundle", "ca-bundle.crt"),
            ),
            (Pem::Cert, origin("secret", "etcd-client", "tls.crt")),
            (Pem::Key, origin("secret", "etcd-client", "tls.key")),
        ],
    ))
}

/// Automatic discovery: OpenShift's client certificate, else the files the
/// etcd container uses, read from where they come from.
pub async fn automatic(kube: &Kube, pod: &EtcdPod) -> Result<Found> {
    if let Some(found) = openshift_client(kube, pod).await {
        return Ok(found);
    }
    let ns = pod.info.namespace.clone();
    let Some((ca, cert, key)) = etcd_tls_files(pod) else {
        return Err(Error::NoTlsFlags {
            pod: format!("{ns}/{}", pod.info.name),
        });
    };
    let mut cache: BTreeMap<(bool, String), BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    let mut out = [None, None, None];
    let mut sources = Vec::new();
    let mut origins = Vec::new();
    let pems = [(Pem::Ca, &ca), (Pem::Cert, &cert), (Pem::Key, &key)];
    for (i, (pem, path)) in pems.into_iter().enumerate() {
        let source = file_source(pod, path);
        origins.push((
            pem,
            match &source {
                FileSource::Secret { name, key } => PemOrigin::Secret {
                    namespace: ns.clone(),
                    name: name.clone(),
                    key: key.clone(),
                },
                FileSource::ConfigMap { name, key } => PemOrigin::ConfigMap {
                    namespace: ns.clone(),
                    name: name.clone(),
                    key: key.clone(),
                },
                FileSource::Node { .. } => PemOrigin::PodFile {
                    namespace: ns.clone(),
                    pod: pod.info.name.clone(),
                    container: pod.container.name.clone(),
                    path: path.to_string(),
                },
            },
        ));
        let (bytes, src) = match source {
            FileSource::Secret { name, key } => {
                let k = (true, name.clone());
                if !cache.contains_key(&k) {
                    cache.insert(k.clone(), get_secret(kube, &ns, &name).await?);
                }
                (
                    lookup(&cache[&k], &key, &format!("secret `{ns}/{name}`"))?,
                    format!("secret `{ns}/{name}`"),
                )
            }
            FileSource::ConfigMap { name, key } => {
                let k = (false, name.clone());
                if !cache.contains_key(&k) {
                    cache.insert(k.clone(), get_config_map(kube, &ns, &name).await?);
                }
                (
                    lookup(&cache[&k], &key, &format!("configmap `{ns}/{name}`"))?,
                    format!("configmap `{ns}/{name}`"),
                )
            }
            FileSource::Node { host_dir } => {
                let bytes = read_by_exec(kube, pod, path).await.map_err(|cause| {
                    node_files_error(pod, &ca, &cert, &key, host_dir.as_deref(), cause)
                })?;
                (bytes, format!("pod `{ns}/{}` (exec)", pod.info.name))
            }
        };
        out[i] = Some(bytes);
        if !sources.contains(&src) {
            sources.push(src);
        }
    }
    let [ca, cert, key] = out;
    let material = TlsMaterial {
        ca,
        cert,
        key,
        source: sources.join(" and "),
    };
    Ok((material, origins))
}

fn lookup(data: &BTreeMap<String, Vec<u8>>, key: &str, what: &str) -> Result<Vec<u8>> {
    data.get(key).cloned().ok_or_else(|| Error::NoSuchKey {
        source_name: what.to_string(),
        key: key.to_string(),
        has: data.keys().cloned().collect(),
    })
}

/// `cat PATH` in the etcd container.
async fn read_by_exec(kube: &Kube, pod: &EtcdPod, path: &str) -> Result<Vec<u8>> {
    let ns = &pod.info.namespace;
    if let Some(problem) = &pod.problem {
        return Err(problem.clone());
    }
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), ns);
    let params = AttachParams::default()
        .container(pod.container.name.clone())
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut proc = api
        .exec(&pod.info.name, ["cat", path], &params)
        .await
        .map_err(|e| kube.explain(e, "create", "pods/exec", Some(ns)))?;
    let mut stdout = proc.stdout();
    let mut stderr = proc.stderr();
    let status = proc.take_status();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let read_out = async {
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut out).await;
        }
    };
    let read_err = async {
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut err).await;
        }
    };
    let (_, _, status) = tokio::join!(read_out, read_err, async {
        match status {
            Some(s) => s.await,
            None => None,
        }
    });
    // The exec status is a metav1 Status: `Success` or `Failure`; a
    // command that ran and failed carries an `ExitCode` cause.
    let failed = status
        .as_ref()
        .is_some_and(|s| s.status.as_deref() == Some("Failure"));
    let ran = status.as_ref().is_some_and(|s| {
        s.reason.as_deref() == Some("NonZeroExitCode")
            || s.details
                .as_ref()
                .and_then(|d| d.causes.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.reason.as_deref() == Some("ExitCode")))
    });
    if failed || out.is_empty() {
        let why = status
            .and_then(|s| s.message)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| String::from_utf8_lossy(&err).trim().to_string());
        return Err(Error::Exec {
            path: path.to_string(),
            started: !failed || ran,
            why,
        });
    }
    Ok(out)
}

fn node_files_error(
    pod: &EtcdPod,
    ca: &str,
    cert: &str,
    key: &str,
    host_dir: Option<&str>,
    cause: Error,
) -> Error {
    let dir = std::path::Path::new(ca)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    // kubeadm keeps a client certificate made for exactly this next to the CA.
    let (cert, key) = if dir.ends_with("pki/etcd") {
        (
            format!("{dir}/healthcheck-client.crt"),
            format!("{dir}/healthcheck-client.key"),
        )
    } else {
        (cert.to_string(), key.to_string())
    };
    let place = match host_dir {
        Some(h) => format!(
            "on node `{}` (hostPath `{h}`)",
            pod.info.node.as_deref().unwrap_or("?")
        ),
        None => format!("inside pod `{}/{}`", pod.info.namespace, pod.info.name),
    };
    Error::NodeFiles {
        place,
        ca: ca.to_string(),
        cert,
        key,
        cause: Box::new(cause),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(keys: &[&str]) -> BTreeMap<String, Vec<u8>> {
        keys.iter()
            .map(|k| (k.to_string(), k.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn secret_keys_in_every_known_spelling() {
        let m = material_from_data(&data(&["ca.crt", "tls.crt", "tls.key"]), "s").unwrap();
        assert_eq!(m.ca.as_deref(), Some(&b"ca.crt"[..]));
        assert_eq!(m.key.as_deref(), Some(&b"tls.key"[..]));
        let m = material_from_data(
            &data(&["etcd-client-ca.crt", "etcd-client.crt", "etcd-client.key"]),
            "s",
        )
        .unwrap();
        assert_eq!(m.cert.as_deref(), Some(&b"etcd-client.crt"[..]));
        let m = material_from_data(&data(&["ca", "cert", "key"]), "s").unwrap();
        assert_eq!(m.ca.as_deref(), Some(&b"ca"[..]));
    }

    #[test]
    fn a_secret_without_known_keys_lists_what_it_has() {
        let e = material_from_data(&data(&["password", "username"]), "secret `a/b`").unwrap_err();
        let e = crate::error::Error::from(e);
        assert_eq!(e.exit_code() as i32, 3);
        assert_eq!(
            e.message,
            "secret `a/b` holds no etcd client certificate; it has `password`, `username`"
        );
        assert!(e.hint.unwrap().contains("tls.crt"));
    }

    fn pod_with(volume: serde_json::Value, mount: &str) -> EtcdPod {
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "etcd-0", "namespace": "db"},
            "spec": {
                "containers": [{
                    "name": "etcd",
                    "command": ["etcd", "--cert-file=/certs/server.crt"],
                    "volumeMounts": [{"name": "v", "mountPath": mount}],
                }],
                "volumes": [volume],
            },
            "status": {"phase": "Running"},
        }))
        .unwrap();
        super::super::discovery::etcd_pod(&pod, None).unwrap()
    }

    #[test]
    fn files_are_traced_to_the_volume_they_come_from() {
        let p = pod_with(
            serde_json::json!({"name": "v", "secret": {"secretName": "etcd-certs"}}),
            "/certs",
        );
        assert_eq!(
            file_source(&p, "/certs/server.crt"),
            FileSource::Secret {
                name: "etcd-certs".into(),
                key: "server.crt".into()
            }
        );
        let p = pod_with(
            serde_json::json!({"name": "v", "secret": {"secretName": "s",
                "items": [{"key": "tls.crt", "path": "server.crt"}]}}),
            "/certs/",
        );
        assert_eq!(
            file_source(&p, "/certs/server.crt"),
            FileSource::Secret {
                name: "s".into(),
                key: "tls.crt".into()
            }
        );
        let p = pod_with(
            serde_json::json!({"name": "v", "hostPath": {"path": "/etc/kubernetes/pki/etcd"}}),
            "/certs",
        );
        assert_eq!(
            file_source(&p, "/certs/ca.crt"),
            FileSource::Node {
                host_dir: Some("/etc/kubernetes/pki/etcd".into())
            }
        );
        assert_eq!(
            file_source(&p, "/elsewhere/ca.crt"),
            FileSource::Node { host_dir: None }
        );
    }

    #[test]
    fn secret_refs_take_an_optional_namespace() {
        assert_eq!(
            parse_secret_ref("etcd-client", "kube-system").unwrap(),
            ("kube-system".into(), "etcd-client".into())
        );
        assert_eq!(
            parse_secret_ref("openshift-etcd/etcd-client", "x").unwrap(),
            ("openshift-etcd".into(), "etcd-client".into())
        );
        assert!(parse_secret_ref("a/b/c", "x").is_err());
        assert!(parse_secret_ref("/b", "x").is_err());
    }
}
