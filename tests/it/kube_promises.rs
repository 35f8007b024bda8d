//! README's promises for Kubernetes mode, one test each, against the API
//! server double (which forwards to a real TLS etcd cluster): how the client
//! port is found, client-certificate kubeconfigs, `--local-port`, and the
//! exact lines and exit codes of the discovery errors.

use std::process::Output;

use serde_json::{json, Value};

use crate::kube::{host_port, start_port_forward, text, tls_cluster, Certs, Env};
use crate::kube_double;

/// Move every pod's etcd to client port `port`, shaped by `edit`, and let
/// the double forward only that port (2379 now reaches nothing).
fn move_client_port(
    env: &Env,
    cluster: &crate::support::Cluster,
    port: u16,
    edit: fn(&mut Value, u16),
) {
    env.double.with(|s| {
        s.forwards.clear();
        for pod in s.pods.iter_mut() {
            edit(&mut pod["spec"]["containers"][0], port);
        }
    });
    for i in 0..cluster.len() {
        env.double.forward(
            "kube-system",
            &format!("etcd-m{i}"),
            port,
            &host_port(cluster.member(i).client_url()),
        );
    }
}

/// Every member answered through a forward to `port`, and only that port
/// was asked for.
fn assert_reached_on(env: &Env, out: &Output, port: u16) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let members = v["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{}", text(out));
    for m in members {
        assert!(m["error"].is_null(), "{}", text(out));
        assert_eq!(m["id"].as_str().unwrap().len(), 16, "{}", text(out));
    }
    let forwards: Vec<String> = env.double.with(|s| {
        s.requests
            .iter()
            .filter(|r| r.contains("/portforward"))
            .cloned()
            .collect()
    });
    assert!(!forwards.is_empty());
    for r in &forwards {
        assert!(r.ends_with(&format!("ports={port}")), "{r}");
    }
}

#[test]
fn a_client_port_named_client_on_another_port_is_found_and_reached() {
    let cluster = tls_cluster();
    let env = Env::with_cluster(&cluster, Certs::SecretVolume);
    // The URLs still say 2379: the named port wins over them.
    move_client_port(&env, &cluster, 12379, |c, port| {
        c["ports"] = json!([
            {"name": "peer", "containerPort": 2380},
            {"name": "client", "containerPort": port},
        ]);
    });
    let out = env.run(&["status", "-o", "json"]);
    assert_reached_on(&env, &out, 12379);
}

#[test]
fn a_non_default_advertise_client_url_port_is_found_and_reached() {
    let cluster = tls_cluster();
    let env = Env::with_cluster(&cluster, Certs::SecretVolume);
    move_client_port(&env, &cluster, 22379, |c, port| {
        let command: Vec<Value> = c["command"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| {
                let w = w.as_str().unwrap();
                !w.starts_with("--advertise-client-urls") && !w.starts_with("--listen-client-urls")
            })
            .cloned()
            .chain([json!(format!(
                "--advertise-client-urls=https://127.0.0.1:{port}"
            ))])
            .collect();
        c["command"] = Value::Array(command);
    });
    let out = env.run(&["status", "-o", "json"]);
    assert_reached_on(&env, &out, 22379);
}

#[test]
fn a_kubeconfig_with_a_client_certificate_works_and_a_wrong_one_exits_3() {
    let cluster = tls_cluster();
    let env = Env::with_cluster(&cluster, Certs::SecretVolume);
    let (cert, key) = env.double.client_cert.clone();
    std::fs::write(
        &env.kubeconfig,
        env.double.kubeconfig_with_client_cert(&cert, &key),
    )
    .unwrap();
    let out = env.run(&["status", "-o", "json"]);
    assert_reached_on(&env, &out, 2379);

    // Signed by a CA the API server does not trust: refused in the
    // handshake, and said so.
    let (cert, key) = kube_double::stray_client_cert();
    std::fs::write(
        &env.kubeconfig,
        env.double.kubeconfig_with_client_cert(&cert, &key),
    )
    .unwrap();
    let out = env.run(&["status", "-o", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    // Under TLS 1.3 the server judges the certificate after the client's
    // half of the handshake; even when the connection drops before hyper
    // reads the alert, the refusal is recognised (connect::kube::probe).
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        format!(
            "error: the Kubernetes API at {} rejected the client certificate\n\
             help: check `client-certificate-data`/`client-key-data` (or \
             `client-certificate`/`client-key`) of the kubeconfig user: the API server's \
             client CA must have signed it\n",
            env.double.url
        ),
        "{}",
        text(&out)
    );
    assert!(out.stdout.is_empty(), "{}", text(&out));
}

/// A port free now (the listener is dropped before returning).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn local_port_is_the_port_listened_on_and_a_taken_one_is_named() {
    let cluster = tls_cluster();
    let env = Env::with_cluster(&cluster, Certs::SecretVolume);
    let tls = cluster.tls();
    let (ca, cert, key) = (
        tls.ca.to_str().unwrap(),
        tls.cert.to_str().unwrap(),
        tls.key.to_str().unwrap(),
    );
    let port = free_port();
    let port_arg = port.to_string();
    let (mut child, lines) = start_port_forward(
        &env,
        &[
            "--local-port",
            &port_arg,
            "--cacert",
            ca,
            "--cert",
            cert,
            "--key",
            key,
        ],
    );
    let endpoint = format!("https://127.0.0.1:{port}");
    let listening = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    let through = listening.then(|| {
        cluster
            .ctl()
            .endpoints(&endpoint)
            .ok(&["endpoint", "status", "-w", "json"])
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines.contains(&format!("--endpoints={endpoint}")),
        "{lines:?}"
    );
    assert!(listening, "nothing listens on {port}: {lines:?}");
    assert!(through.unwrap().contains("member_id"));

    // Taken by someone else: exit 1, naming the address and what to do.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = env.run(&[
        "port-forward",
        "--local-port",
        &port,
        "--cacert",
        ca,
        "--cert",
        cert,
        "--key",
        key,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: cannot listen on `127.0.0.1:{port}`: Address already in use (os error 98)\n\
             help: another process listens there: pass another --local-port, or 0 for a free one\n"
        ),
    );
    drop(taken);
}

#[test]
fn no_etcd_pods_and_an_absent_api_server_exit_3_with_exact_lines() {
    let env = Env::new();
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no etcd pods found: looked in namespace `kube-system` (`component=etcd`), \
         namespace `openshift-etcd` (`app=etcd`), all namespaces (`app.kubernetes.io/name=etcd`)\n\
         help: pass -n NAMESPACE and -l SELECTOR (or --pod NAME) for your etcd pods, or \
         --endpoints to reach etcd directly\n"
    );
    assert!(out.stdout.is_empty());

    let out = env.run(&["status", "--pod", "etcd-x", "-n", "kube-system"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no pod `etcd-x` in namespace `kube-system`\n\
         help: list the etcd pods with `kubectl get pods -A -l component=etcd` and pass \
         --pod NAME -n NAMESPACE\n"
    );

    // RBAC: the help names the verb and resource needed.
    env.double.forbid("list", "pods");
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: forbidden: your Kubernetes user may not `list` `pods` in namespace `kube-system`\n\
         help: ask for RBAC permission `list` on `pods` (check: `kubectl auth can-i list pods \
         -n kube-system`)\n"
    );

    // Nothing listens where the kubeconfig points.
    let port = free_port();
    let server = format!("https://127.0.0.1:{port}");
    std::fs::write(
        &env.kubeconfig,
        env.double.kubeconfig().replace(&env.double.url, &server),
    )
    .unwrap();
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(&format!(
            "error: cannot reach the Kubernetes API at {server}: "
        )),
        "{stderr}"
    );
    assert!(
        lines[0].to_lowercase().contains("connection refused"),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        "help: check the kubeconfig context (`kubectl cluster-info`), or pass --endpoints \
         to reach etcd directly"
    );
}
