//! Kubernetes mode end to end: the built binary with nothing but a
//! kubeconfig, against the API server double in `kube_double/`, which
//! forwards port-forward streams to a real 3-member TLS etcd cluster.

use crate::kube_double;
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::{json, Value};
use tempfile::TempDir;

use kube_double::Double;
use support::{Cluster, ClusterOpts, TlsMode};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-etcd");
const CERT_DIR: &str = "/etc/etcd/tls";
const KUBEADM_DIR: &str = "/etc/kubernetes/pki/etcd";

/// How a pod spec says where etcd's certificates are.
#[derive(Clone, Copy)]
pub(crate) enum Certs {
    /// A Secret volume `etcd-m{i}-certs` at `CERT_DIR`.
    SecretVolume,
    /// kubeadm: a hostPath at `/etc/kubernetes/pki/etcd`.
    HostPath,
}

fn etcd_pod(i: usize, phase: &str, certs: Certs) -> Value {
    let dir = match certs {
        Certs::SecretVolume => CERT_DIR,
        Certs::HostPath => KUBEADM_DIR,
    };
    let volume = match certs {
        Certs::SecretVolume => {
            json!({"name": "certs", "secret": {"secretName": format!("etcd-m{i}-certs")}})
        }
        Certs::HostPath => {
            json!({"name": "certs", "hostPath": {"path": KUBEADM_DIR, "type": "DirectoryOrCreate"}})
        }
    };
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("etcd-m{i}"),
            "namespace": "kube-system",
            "labels": {"component": "etcd", "tier": "control-plane"},
        },
        "spec": {
            "nodeName": format!("m{i}"),
            "containers": [{
                "name": "etcd",
                "image": "registry.k8s.io/etcd:3.5.16-0",
                "command": [
                    "etcd",
                    format!("--name=m{i}"),
                    "--advertise-client-urls=https://127.0.0.1:2379",
                    "--listen-client-urls=https://127.0.0.1:2379",
                    format!("--cert-file={dir}/server.crt"),
                    format!("--key-file={dir}/server.key"),
                    format!("--trusted-ca-file={dir}/ca.crt"),
                    "--client-cert-auth=true",
                ],
                "volumeMounts": [{"name": "certs", "mountPath": dir}],
            }],
            "volumes": [volume],
        },
        "status": {"phase": phase, "podIP": "127.0.0.1"},
    })
}

pub(crate) fn host_port(url: &str) -> String {
    url.split_once("://")
        .unwrap()
        .1
        .trim_end_matches('/')
        .to_string()
}

pub(crate) struct Env {
    pub(crate) double: Double,
    pub(crate) dir: TempDir,
    pub(crate) kubeconfig: PathBuf,
}

impl Env {
    pub(crate) fn new() -> Env {
        let double = Double::start();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, double.kubeconfig()).unwrap();
        Env {
            double,
            dir,
            kubeconfig,
        }
    }

    /// Pods `etcd-m0..` for the cluster's members, each forwarded to its
    /// member, plus the Secrets a TLS setup would have.
    pub(crate) fn with_cluster(cluster: &Cluster, certs: Certs) -> Env {
        Env::with_cluster_at(
            cluster,
            certs,
            "kube-system",
            json!({"component": "etcd", "tier": "control-plane"}),
        )
    }

    /// Like [`Env::with_cluster`], with the pods in `ns` labelled `labels`.
    fn with_cluster_at(cluster: &Cluster, certs: Certs, ns: &str, labels: Value) -> Env {
        let env = Env::new();
        let tls = cluster.tls();
        let read = |p: &Path| std::fs::read(p).unwrap();
        let ca = read(&tls.ca);
        for i in 0..cluster.len() {
            let mut pod = etcd_pod(i, "Running", certs);
            pod["metadata"]["namespace"] = json!(ns);
            pod["metadata"]["labels"] = labels.clone();
            env.double.add_pod(pod);
            env.double.forward(
                ns,
                &format!("etcd-m{i}"),
                2379,
                &host_port(cluster.member(i).client_url()),
            );
            let (cert, key) = &tls.members[i];
            env.double.add_secret(
                ns,
                &format!("etcd-m{i}-certs"),
                &[
                    ("ca.crt", &ca),
                    ("server.crt", &read(cert)),
                    ("server.key", &read(key)),
                ],
            );
        }
        env.double.add_secret(
            ns,
            "etcd-client",
            &[
                ("ca.crt", &ca),
                ("tls.crt", &read(&tls.cert)),
                ("tls.key", &read(&tls.key)),
            ],
        );
        env
    }

    fn command(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(BIN);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("ETCDCTL") || k.starts_with("KUBE") {
                cmd.env_remove(k);
            }
        }
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .args(["--dial-timeout=15s", "--command-timeout=15s"])
            .args(args)
            .timeout(Duration::from_secs(90));
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

pub(crate) fn text(out: &Output) -> String {
    support::output_text(out)
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// Every member answered, with its pod, node, name and id, and one leader.
fn assert_full_status(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    let v = stdout_json(out);
    let members = v["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{}", text(out));
    for (i, m) in members.iter().enumerate() {
        assert_eq!(m["endpoint"], format!("pod/etcd-m{i}"));
        assert_eq!(m["pod"], format!("etcd-m{i}"));
        assert_eq!(m["node"], format!("m{i}"));
        assert_eq!(m["name"], format!("m{i}"));
        assert_eq!(m["id"].as_str().unwrap().len(), 16);
        assert!(m["error"].is_null(), "{}", text(out));
    }
    let leaders = members.iter().filter(|m| m["isLeader"] == true).count();
    assert_eq!(leaders, 1, "{}", text(out));
}

pub(crate) fn tls_cluster() -> Cluster {
    Cluster::start(ClusterOpts {
        members: 3,
        tls: Some(TlsMode::ClientCertAuth),
        ..Default::default()
    })
}

#[test]
fn status_and_members_with_only_a_kubeconfig_from_every_certificate_source() {
    let cluster = tls_cluster();
    let env = Env::with_cluster(&cluster, Certs::SecretVolume);

    // (a) --tls-secret, as NAME (the pods' namespace) and as NS/NAME.
    assert_full_status(&env.run(&["status", "-o", "json", "--tls-secret", "etcd-client"]));
    let out = env.run(&[
        "status",
        "-o",
        "wide",
        "--tls-secret",
        "kube-system/etcd-client",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    for want in ["POD", "NODE", "etcd-m0", "etcd-m1", "etcd-m2"] {
        assert!(table.contains(want), "{want} missing: {}", text(&out));
    }

    // (a) automatic: the Secret volume behind etcd's own --cert-file.
    assert_full_status(&env.run(&["status", "-o", "json"]));

    // (b) flags.
    let tls = cluster.tls();
    let (ca, cert, key) = (
        tls.ca.to_str().unwrap(),
        tls.cert.to_str().unwrap(),
        tls.key.to_str().unwrap(),
    );
    assert_full_status(&env.run(&[
        "status", "-o", "json", "--cacert", ca, "--cert", cert, "--key", key,
    ]));

    // members: pod and node next to each member id.
    let out = env.run(&["members", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = stdout_json(&out);
    let members = v["members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    for m in members {
        let name = m["name"].as_str().unwrap();
        assert_eq!(m["pod"], format!("etcd-{name}"), "{}", text(&out));
        assert_eq!(m["node"], name);
        assert_eq!(m["healthy"], true);
    }

    // Certificates that name the node rather than the pod IP (kubeadm,
    // OpenShift): the pod's other names are accepted, the chain still checked.
    env.double.with(|s| {
        for (i, p) in s.pods.iter_mut().enumerate() {
            p["status"]["podIP"] = json!(format!("10.255.0.{i}"));
        }
    });
    assert_full_status(&env.run(&["status", "-o", "json"]));
    let out = env.run(&["status", "--cacert", tls.other_ca.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not signed by the given CA"),
        "{}",
        text(&out)
    );
    env.double.with(|s| {
        for p in s.pods.iter_mut() {
            p["status"]["podIP"] = json!("127.0.0.1");
        }
    });

    // kubeadm: certificates on a hostPath, read with `cat` through
    // pods/exec (an image that has one).
    let kubeadm = Env::with_cluster(&cluster, Certs::HostPath);
    for i in 0..3 {
        let (cert, key) = &tls.members[i];
        let files = [
            (
                format!("{KUBEADM_DIR}/ca.crt"),
                std::fs::read(&tls.ca).unwrap(),
            ),
            (
                format!("{KUBEADM_DIR}/server.crt"),
                std::fs::read(cert).unwrap(),
            ),
            (
                format!("{KUBEADM_DIR}/server.key"),
                std::fs::read(key).unwrap(),
            ),
        ];
        kubeadm.double.with(|s| {
            s.exec.insert(
                ("kube-system".into(), format!("etcd-m{i}")),
                kube_double::Exec::Files(files.into_iter().collect()),
            )
        });
    }
    assert_full_status(&kubeadm.run(&["status", "-o", "json"]));
    drop(kubeadm);

    // health, and --pod narrowing to one member.
    let out = env.run(&["health"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = env.run(&["status", "-o", "json", "--pod", "etcd-m1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = stdout_json(&out);
    assert_eq!(v["members"].as_array().unwrap().len(), 1);
    assert_eq!(v["members"][0]["pod"], "etcd-m1");
    // --pod with -n: fetched by name, labels or not.
    env.double
        .with(|s| s.pods[2]["metadata"]["labels"] = json!({}));
    let out = env.run(&[
        "status",
        "-o",
        "json",
        "--pod",
        "etcd-m2",
        "-n",
        "kube-system",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout_json(&out)["members"][0]["name"], "m2");
    env.double
        .with(|s| s.pods[2]["metadata"]["labels"] = json!({"component": "etcd"}));

    // KUBECONFIG with several files, as kubectl merges them; --context picks.
    let first = env.dir.path().join("first");
    std::fs::write(
        &first,
        json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "nobody", "user": {"token": "x"}}],
            "contexts": [{"name": "nowhere", "context": {"cluster": "nowhere", "user": "nobody"}}],
            "current-context": "nowhere",
        })
        .to_string(),
    )
    .unwrap();
    let joined = format!("{}:{}", first.display(), env.kubeconfig.display());
    let out = env
        .command(&["status", "-o", "json", "--context", "double"])
        .env("KUBECONFIG", &joined)
        .output()
        .unwrap();
    assert_full_status(&out);
    let out = env
        .command(&["status"])
        .env("KUBECONFIG", &joined)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https://127.0.0.1:1"));

    // count (keyspace) in Kubernetes mode; `-n` there names the objects'
    // namespace, and etcd is still found in kube-system.
    cluster.put("/registry/pods/default/a", "x");
    cluster.put("/registry/pods/default/b", "x");
    cluster.put("/registry/pods/other/c", "x");
    let out = env.run(&["count", "pods", "-n", "default", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = stdout_json(&out);
    assert_eq!(v["total"], 2, "{}", text(&out));
    assert_eq!(v["types"][0]["type"], "pods", "{}", text(&out));

    // The server certificate is verified against the pod IP: a wrong
    // --tls-server-name must fail, never be skipped.
    let out = env.run(&["status", "--tls-server-name", "not-etcd.example"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not name this host"),
        "{}",
        text(&out)
    );

    // The forwards went through the API server double.
    let requests = env.double.with(|s| s.requests.clone());
    assert!(requests
        .iter()
        .any(|r| r.starts_with("GET /api/v1/namespaces/kube-system/pods/etcd-m1/portforward")));
}

#[test]
fn openshift_and_operator_layouts_are_found() {
    let cluster = tls_cluster();

    // OpenShift: `openshift-etcd`, `app=etcd`, certificates on the node, and
    // the ready-made `etcd-client` Secret with the `etcd-ca-bundle` ConfigMap.
    let env = Env::with_cluster_at(
        &cluster,
        Certs::HostPath,
        "openshift-etcd",
        json!({"app": "etcd", "etcd": "true"}),
    );
    let ca = std::fs::read_to_string(&cluster.tls().ca).unwrap();
    env.double.add_config_map(
        "openshift-etcd",
        "etcd-ca-bundle",
        &[("ca-bundle.crt", &ca)],
    );
    let out = env.run(&["status", "-o", "json", "-v"]);
    assert_full_status(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "secret `openshift-etcd/etcd-client` and configmap `openshift-etcd/etcd-ca-bundle`"
        ),
        "{stderr}"
    );
    let requests = env.double.with(|s| s.requests.clone());
    assert!(requests
        .iter()
        .any(|r| r.starts_with("GET /api/v1/namespaces/kube-system/pods?")));
    assert!(
        !requests.iter().any(|r| r.contains("/exec")),
        "{requests:?}"
    );
    drop(env);

    // Operator or chart: `app.kubernetes.io/name=etcd` in any namespace.
    let env = Env::with_cluster_at(
        &cluster,
        Certs::SecretVolume,
        "db",
        json!({"app.kubernetes.io/name": "etcd", "app.kubernetes.io/instance": "main"}),
    );
    assert_full_status(&env.run(&["status", "-o", "json"]));
    let requests = env.double.with(|s| s.requests.clone());
    assert!(
        requests.iter().any(|r| r.starts_with("GET /api/v1/pods?")),
        "{requests:?}"
    );
    // -n and -l say exactly where.
    assert_full_status(&env.run(&[
        "status",
        "-o",
        "json",
        "-n",
        "db",
        "-l",
        "app.kubernetes.io/instance=main",
    ]));
}

#[test]
fn a_member_pod_not_running_and_rbac_refusals() {
    let cluster = tls_cluster();
    let env = Env::with_cluster(&cluster, Certs::SecretVolume);
    env.double
        .with(|s| s.pods[2]["status"]["phase"] = json!("Pending"));

    let out = env.run(&["status", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v = stdout_json(&out);
    let rows = v["members"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows[0]["error"].is_null() && rows[1]["error"].is_null());
    // The pod that did not answer still shows its member.
    assert_eq!(rows[2]["name"], "m2", "{}", text(&out));
    assert_eq!(rows[2]["id"], format!("{:016x}", cluster.member_id(2)));
    let err = rows[2]["error"].as_str().unwrap();
    assert!(err.contains("etcd-m2` is `Pending`, not Running"), "{err}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("help: see why with `kubectl describe pod -n kube-system etcd-m2`"),
        "{stderr}"
    );

    let out = env.run(&["members", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v = stdout_json(&out);
    let m2 = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "m2")
        .unwrap()
        .clone();
    assert_eq!(m2["pod"], "etcd-m2");
    assert_eq!(m2["healthy"], false);
    assert!(m2["error"].as_str().unwrap().contains("not Running"));

    // RBAC: no pods/portforward.
    env.double.forbid("create", "pods/portforward");
    let out = env.run(&["members"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("forbidden: your Kubernetes user may not `create` `pods/portforward` in namespace `kube-system`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: ask for RBAC permission `create` on `pods/portforward`"),
        "{stderr}"
    );
    let out = env.run(&["status"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "no member reachable: {}",
        text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .matches("may not `create` `pods/portforward`")
            .count(),
        1,
        "the same cause is said once for all members: {stderr}"
    );

    // RBAC: no secrets get (automatic certificate discovery).
    env.double.forbid("get", "secrets");
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("may not `get` `secrets` in namespace `kube-system`"),
        "{}",
        text(&out)
    );
}

#[test]
fn no_etcd_pods_says_where_it_looked_and_which_flags_to_use() {
    let env = Env::new();
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "error: no etcd pods found: looked in namespace `kube-system` (`component=etcd`), \
         namespace `openshift-etcd` (`app=etcd`), all namespaces (`app.kubernetes.io/name=etcd`)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: pass -n NAMESPACE and -l SELECTOR (or --pod NAME)"),
        "{stderr}"
    );

    let out = env.run(&["status", "-n", "etcd", "-l", "app=my-etcd"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("looked in namespace `etcd` (`app=my-etcd`)"),
        "{}",
        text(&out)
    );

    let out = env.run(&["status", "--pod", "etcd-x", "-n", "kube-system"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no pod `etcd-x` in namespace `kube-system`")
    );
}

#[test]
fn api_server_refusals_and_absence_are_named() {
    let env = Env::new();
    env.double.forbid("list", "pods");
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("may not `list` `pods`"), "{stderr}");
    assert!(stderr.contains("kubectl auth can-i list pods"), "{stderr}");

    // Credentials from an exec plugin, as kubectl runs them.
    let plugin = env.dir.path().join("credential-plugin.sh");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\
             \"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
            kube_double::TOKEN
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut config: Value = serde_json::from_str(&env.double.kubeconfig()).unwrap();
    config["users"][0]["user"] = json!({"exec": {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": plugin.to_str().unwrap(),
        "interactiveMode": "Never",
    }});
    std::fs::write(&env.kubeconfig, config.to_string()).unwrap();
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("may not `list` `pods`"),
        "the plugin's token was used: {}",
        text(&out)
    );

    // A token the API server rejects.
    config["users"][0]["user"] = json!({"token": "wrong"});
    std::fs::write(&env.kubeconfig, config.to_string()).unwrap();
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rejected the credentials (401)"),
        "{}",
        text(&out)
    );

    // A kubeconfig whose server is not there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = env
        .double
        .kubeconfig()
        .replace(&env.double.url, &format!("https://127.0.0.1:{port}"));
    std::fs::write(&env.kubeconfig, config).unwrap();
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot reach the Kubernetes API at https://127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: check the kubeconfig context"),
        "{stderr}"
    );
}

#[test]
fn kubeadm_host_path_certificates_name_the_files_and_flags() {
    let env = Env::new();
    env.double.add_pod(etcd_pod(0, "Running", Certs::HostPath));
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("on node `m0` (hostPath `/etc/kubernetes/pki/etcd`)"),
        "{stderr}"
    );
    assert!(stderr.contains("pods/exec"), "{stderr}");
    assert!(stderr.contains(
        "--cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt \
         --key /etc/kubernetes/pki/etcd/healthcheck-client.key"
    ), "{stderr}");

    // Allowed to exec, but the image is distroless: nothing to run.
    env.double.with(|s| {
        s.exec.insert(
            ("kube-system".into(), "etcd-m0".into()),
            kube_double::Exec::Distroless,
        )
    });
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the container has no `cat` to run (a distroless image)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--cacert /etc/kubernetes/pki/etcd/ca.crt"),
        "{stderr}"
    );

    // A secret without certificate keys lists what it has.
    env.double.add_secret(
        "kube-system",
        "wrong",
        &[("username", b"u"), ("password", b"p")],
    );
    let out = env.run(&["status", "--tls-secret", "wrong"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "secret `kube-system/wrong` holds no etcd client certificate; it has `password`, `username`"
    ), "{}", text(&out));
}

/// Start `port-forward` and collect what it prints before serving.
pub(crate) fn start_port_forward(env: &Env, args: &[&str]) -> (std::process::Child, Vec<String>) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = Command::new(BIN)
        .env("KUBECONFIG", &env.kubeconfig)
        .env("HOME", env.dir.path())
        .env_remove("ETCDCTL_ENDPOINTS")
        .arg("port-forward")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    // Everything is printed at once: wait for the first line, then a moment.
    let mut wait = Duration::from_secs(60);
    while let Ok(line) = rx.recv_timeout(wait) {
        lines.push(line);
        wait = Duration::from_millis(500);
        if std::time::Instant::now() > deadline {
            break;
        }
    }
    (child, lines)
}

#[test]
fn port_forward_serves_etcdctl_until_stopped() {
    let cluster = tls_cluster();
    let env = Env::with_cluster(&cluster, Certs::SecretVolume);
    let tls = cluster.tls();

    // Certificates from flags: exported as they are.
    let (ca, cert, key) = (
        tls.ca.to_str().unwrap(),
        tls.cert.to_str().unwrap(),
        tls.key.to_str().unwrap(),
    );
    let (mut child, lines) =
        start_port_forward(&env, &["--cacert", ca, "--cert", cert, "--key", key]);
    let endpoint = lines
        .iter()
        .find_map(|l| l.strip_prefix("--endpoints="))
        .unwrap_or_else(|| panic!("no --endpoints line: {lines:?}"))
        .to_string();
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
    assert!(
        lines.contains(&format!("export ETCDCTL_ENDPOINTS={endpoint}")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&format!("export ETCDCTL_CACERT={ca}")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&format!("export ETCDCTL_KEY={key}")),
        "{lines:?}"
    );
    // etcdctl works through it, more than once (a forward per connection).
    for _ in 0..2 {
        let out = cluster
            .ctl()
            .endpoints(&endpoint)
            .ok(&["endpoint", "status", "-w", "json"]);
        assert!(out.contains("member_id"), "{out}");
    }
    let _ = child.kill();
    let _ = child.wait();

    // Certificates from the pod's Secret volume: in memory only; the lines
    // say where they are and how to write them out.
    let (mut child, lines) = start_port_forward(&env, &["--local-port", "0"]);
    let _ = child.kill();
    let _ = child.wait();
    let all = lines.join("\n");
    assert!(all.contains("keeps them in memory only"), "{all}");
    assert!(
        all.contains("kubectl get secret -n kube-system etcd-m0-certs -o jsonpath='{.data.server\\.crt}' | base64 -d > etcd-client.crt"),
        "{all}"
    );
    assert!(
        all.contains("#   export ETCDCTL_CACERT=$PWD/etcd-ca.crt"),
        "{all}"
    );
}

#[test]
fn runs_as_a_kubectl_plugin() {
    let Some(kubectl) = support::find_on_path("kubectl") else {
        // CI must not pass without the one test through the real kubectl.
        let opted_out = std::env::var_os("KUBECTL_ETCD_NO_KUBECTL").is_some_and(|v| v == "1");
        assert!(
            opted_out || std::env::var_os("CI").is_none(),
            "kubectl is not on PATH; CI needs it (set KUBECTL_ETCD_NO_KUBECTL=1 to skip on purpose)"
        );
        eprintln!("SKIPPED: runs_as_a_kubectl_plugin: kubectl is not on PATH");
        return;
    };
    let kubectl = kubectl.as_path();
    let cluster = tls_cluster();
    let env = Env::with_cluster(&cluster, Certs::SecretVolume);
    let bin = env.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(BIN, bin.join("kubectl-etcd")).unwrap();
    let path = format!(
        "{}:{}:/usr/bin:/bin",
        bin.display(),
        kubectl.parent().unwrap().display()
    );

    let kubectl_cmd = |args: &[&str]| {
        let mut cmd = assert_cmd::Command::new(kubectl);
        cmd.env("PATH", &path)
            .env("HOME", env.dir.path())
            .env("KUBECONFIG", &env.kubeconfig)
            .env_remove("ETCDCTL_ENDPOINTS")
            .args(args)
            .timeout(Duration::from_secs(90));
        cmd.output().unwrap()
    };
    let out = kubectl_cmd(&["plugin", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("kubectl-etcd"),
        "{}",
        text(&out)
    );
    let out = kubectl_cmd(&["etcd", "status", "-o", "json", "--dial-timeout=15s"]);
    assert_full_status(&out);
}

#[test]
fn keyspace_and_maintenance_commands_work_through_port_forwards() {
    let cluster = tls_cluster();
    for i in 0..5 {
        cluster.put(&format!("/registry/configmaps/default/cm-{i}"), "{}");
    }
    let env = Env::with_cluster(&cluster, Certs::SecretVolume);

    let out = env.run(&["ls", "configmaps", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 5);

    // watch over a port-forward: replay the five creations from history.
    let out = env.run(&[
        "watch",
        "configmaps",
        "-n",
        "default",
        "--rev",
        "1",
        "--count",
        "5",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 5, "{}", text(&out));
    assert!(
        events
            .iter()
            .all(|e| e["type"] == "ADDED" && e["resource"] == "configmaps"),
        "{}",
        text(&out)
    );

    let out = env.run(&["defrag", "--dry-run", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = stdout_json(&out);
    assert_eq!(
        plan["members"].as_array().unwrap().len(),
        3,
        "{}",
        text(&out)
    );

    let out = env.run(&["defrag", "--yes", "--pause", "0s", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout_json(&out)["members"].as_array().unwrap().len(), 3);

    let file = env.dir.path().join("through-api.db");
    let out = env.run(&["snapshot", "save", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = env.run(&["snapshot", "status", file.to_str().unwrap(), "-o", "json"]);
    let v = stdout_json(&out);
    assert_eq!(v["integrity"], "verified", "{}", text(&out));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The five configmaps written above are the whole keyspace.
    assert_eq!(v["totalKeys"].as_u64(), Some(5), "{}", text(&out));
}

#[test]
fn history_leases_top_and_move_leader_work_through_port_forwards() {
    let cluster = tls_cluster();
    cluster.put("/registry/configmaps/default/cm", "{}");
    cluster.put("/registry/configmaps/default/cm", "{\"data\":{}}");
    let lease = cluster.ctl().ok(&["lease", "grant", "600"]);
    let lease_id = lease.split_whitespace().nth(1).unwrap().to_owned();
    cluster.ctl().ok(&[
        "put",
        "/registry/events/default/ev",
        "{}",
        &format!("--lease={lease_id}"),
    ]);
    let env = Env::with_cluster(&cluster, Certs::SecretVolume);

    let out = env.run(&["history", "configmaps/default/cm", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{}", text(&out));
    assert_eq!(events[0]["event"], "MODIFIED");

    let out = env.run(&["lease", "list", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let leases = stdout_json(&out);
    assert_eq!(
        leases["leases"][0]["id"],
        lease_id.as_str(),
        "{}",
        text(&out)
    );
    assert_eq!(leases["leases"][0]["types"][0]["type"], "events");

    let out = env.run(&["top", "--interval", "1s", "--count", "1", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = env.run(&["move-leader", "--yes", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let moved = stdout_json(&out);
    assert_ne!(moved["from"], moved["to"]);
    let out = env.run(&["status", "-o", "json"]);
    let status = stdout_json(&out);
    let leader = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["isLeader"] == true)
        .map(|m| m["name"].clone());
    assert_eq!(leader, Some(moved["to"].clone()), "{}", text(&out));
}

// ----- etcd run as a StatefulSet ------------------------------------------

const STS_NS: &str = "db";

/// Pod `etcd-{i}` of StatefulSet `etcd` in `db`, running harness member `i`.
fn sts_pod(i: usize) -> Value {
    let mut pod = etcd_pod(i, "Running", Certs::SecretVolume);
    pod["metadata"]["name"] = json!(format!("etcd-{i}"));
    pod["metadata"]["namespace"] = json!(STS_NS);
    pod["metadata"]["labels"] = json!({"app.kubernetes.io/name": "etcd"});
    pod["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "etcd",
        "uid": "5e7f0000-0000-0000-0000-000000000001",
        "controller": true, "blockOwnerDeletion": true,
    }]);
    pod["spec"]["containers"][0]["command"][1] = json!(format!("--name=etcd-{i}"));
    pod
}

/// What the StatefulSet controller does for pod `etcd-{i}`: the pod, its
/// port-forward to harness member `i` and its certificate Secret.
fn add_sts_pod(env: &Env, cluster: &Cluster, i: usize) {
    let tls = cluster.tls();
    let read = |p: &Path| std::fs::read(p).unwrap();
    env.double.add_pod(sts_pod(i));
    env.double.forward(
        STS_NS,
        &format!("etcd-{i}"),
        2379,
        &host_port(cluster.member(i).client_url()),
    );
    let (cert, key) = tls.members.get(i).unwrap_or(&tls.members[0]);
    env.double.add_secret(
        STS_NS,
        &format!("etcd-m{i}-certs"),
        &[
            ("ca.crt", &read(&tls.ca)),
            ("server.crt", &read(cert)),
            ("server.key", &read(key)),
        ],
    );
}

/// A TLS cluster of `n` members `etcd-0..` behind StatefulSet `db/etcd`.
fn sts_env(n: usize) -> (Cluster, Env) {
    let cluster = Cluster::start(ClusterOpts {
        members: n,
        tls: Some(TlsMode::ClientCertAuth),
        name_prefix: "etcd-",
        ..Default::default()
    });
    let env = Env::new();
    for i in 0..n {
        add_sts_pod(&env, &cluster, i);
    }
    env.double.add_stateful_set(STS_NS, "etcd", n as i64);
    (cluster, env)
}

fn member_names(cluster: &Cluster) -> Vec<String> {
    let out = cluster.ctl().ok(&["member", "list", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut names: Vec<String> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn removing_the_highest_ordinal_member_scales_its_statefulset_down() {
    let (cluster, env) = sts_env(3);

    // --dry-run shows the scale step and changes nothing.
    let out = env.run(&["resize", "remove", "etcd-2", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("scale StatefulSet `db/etcd` from 3 to 2 replicas"),
        "{}",
        text(&out)
    );
    // --no-scale says it leaves the StatefulSet alone.
    let out = env.run(&["resize", "remove", "etcd-2", "--dry-run", "--no-scale"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("--no-scale"), "{}", text(&out));
    assert!(!text(&out).contains("from 3 to 2"), "{}", text(&out));
    assert_eq!(env.double.replicas(STS_NS, "etcd"), Some(3));

    let out = env.run(&["resize", "remove", "etcd-2", "--yes", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(env.double.replicas(STS_NS, "etcd"), Some(2));
    assert_eq!(
        env.double.with(|s| s.scaled.clone()),
        vec![("etcd".to_string(), 2)]
    );
    assert!(env.double.with(|s| s
        .requests
        .iter()
        .any(|r| r.starts_with("PATCH /apis/apps/v1/namespaces/db/statefulsets/etcd/scale"))));
    assert_eq!(member_names(&cluster), ["etcd-0", "etcd-1"]);
    let report = stdout_json(&out);
    assert_eq!(report["statefulSet"]["scale"]["to"], 2, "{}", text(&out));
}

#[test]
fn a_removal_run_again_finishes_the_statefulset_scale_down() {
    let (cluster, env) = sts_env(3);
    // The member goes, the StatefulSet is left alone (as after an interrupted run).
    let out = env.run(&["resize", "remove", "etcd-2", "--yes", "--no-scale"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(member_names(&cluster), ["etcd-0", "etcd-1"]);
    assert_eq!(env.double.replicas(STS_NS, "etcd"), Some(3));

    let out = env.run(&["resize", "remove", "etcd-2", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("left to do: scale StatefulSet `db/etcd` from 3 to 2 replicas"),
        "{}",
        text(&out)
    );
    assert_eq!(env.double.replicas(STS_NS, "etcd"), Some(2));

    // Nothing is left the third time.
    let out = env.run(&["resize", "remove", "etcd-2", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("nothing to do"), "{}", text(&out));
    assert_eq!(
        env.double.with(|s| s.scaled.clone()),
        vec![("etcd".to_string(), 2)]
    );
}

#[test]
fn removing_a_lower_ordinal_member_leaves_its_statefulset_and_says_why() {
    let (cluster, env) = sts_env(3);
    let out = env.run(&["resize", "remove", "etcd-0", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("`etcd-0` is not the highest ordinal pod `etcd-2`"),
        "{t}"
    );
    assert!(t.contains("remove the member on `etcd-2` instead"), "{t}");
    assert!(!t.contains("scale StatefulSet"), "{t}");
    assert_eq!(env.double.replicas(STS_NS, "etcd"), Some(3));
    assert!(env.double.with(|s| s.scaled.is_empty()));
    assert_eq!(member_names(&cluster), ["etcd-1", "etcd-2"]);
}

#[test]
fn adding_a_member_scales_its_statefulset_up_and_promotes_through_the_new_pod() {
    let (mut cluster, env) = sts_env(2);
    let new = cluster.add_member("etcd-2");
    let peer = cluster.member(new).peer_url().to_string();
    // --dry-run: the scale step right after the learner is added; a name
    // that is not the next pod's is warned about.
    let out = env.run(&["resize", "add", "etcd-2", "--peer-urls", &peer, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("2. scale StatefulSet `db/etcd` from 2 to 3 replicas"),
        "{}",
        text(&out)
    );
    let out = env.run(&["resize", "add", "other", "--peer-urls", &peer, "--dry-run"]);
    crate::support::cli::assert_code(&out, 0);
    assert!(
        text(&out).contains("the StatefulSet's next pod is `etcd-2`, not `other`"),
        "{}",
        text(&out)
    );
    assert_eq!(env.double.replicas(STS_NS, "etcd"), Some(2));
    let err_path = env.dir.path().join("add.stderr");
    let mut cmd = std::process::Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("ETCDCTL") || k.starts_with("KUBE") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .env("KUBECONFIG", &env.kubeconfig)
        .env("HOME", env.dir.path())
        .args(["--dial-timeout=15s", "--command-timeout=15s"])
        .args(["resize", "add", "etcd-2", "--peer-urls", &peer])
        .args(["--yes", "--wait", "60s"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let stderr = || std::fs::read_to_string(&err_path).unwrap_or_default();

    // The test plays the StatefulSet controller: once asked for 3 replicas,
    // it starts the joining etcd and its pod.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while env.double.replicas(STS_NS, "etcd") != Some(3) {
        if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("never scaled to 3:\n{}", stderr());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let initial = (0..3)
        .map(|i| format!("etcd-{i}={}", cluster.member(i).peer_url()))
        .collect::<Vec<_>>()
        .join(",");
    cluster.start_joining(new, &initial);
    add_sts_pod(&env, &cluster, new);

    let status = child.wait().unwrap();
    let t = stderr();
    assert!(status.success(), "{t}");
    assert!(t.contains("the StatefulSet starts pod `etcd-2`"), "{t}");
    assert!(t.contains("has caught up"), "{t}");
    assert!(t.contains("votes now"), "{t}");
    assert_eq!(
        env.double.with(|s| s.scaled.clone()),
        vec![("etcd".to_string(), 3)]
    );
    // The catch-up was read through a port-forward to the new pod (and the
    // final member table through another).
    let forwards = env.double.with(|s| {
        s.requests
            .iter()
            .filter(|r| r.contains("/namespaces/db/pods/etcd-2/portforward"))
            .count()
    });
    assert!(forwards >= 2, "{forwards} port-forwards to etcd-2\n{t}");
    assert_eq!(member_names(&cluster), ["etcd-0", "etcd-1", "etcd-2"]);
}
