//! A Kubernetes API server double for the Kubernetes-mode tests.
//!
//! Owns: an HTTPS server (its own throw-away CA) that authenticates a
//! bearer token or a client certificate signed by its own client CA (a
//! certificate from any other CA fails the TLS handshake, as with
//! kube-apiserver's `--client-ca-file`), and answers the calls kubectl-etcd makes, on the real wire protocol: pod
//! lists by label selector (one namespace or all); pod, secret and configmap
//! gets; `pods/{name}/exec` (v5 framing: `cat` of given files, or failing as
//! a distroless image does; refused with 403 unless configured); and the
//! `pods/{name}/portforward` websocket upgrade with kube-apiserver's v4
//! channel framing (a data and an error channel per port, each opened by a
//! frame holding the little-endian port), forwarded to real local etcd
//! members; StatefulSet gets and the `scale` subresource (GET, PATCH),
//! recording the replicas asked for (the test starts or stops the etcd
//! behind a new or dropped pod itself). RBAC refusals (403) are configured
//! per verb and resource. Several doubles, one per cluster, share one
//! kubeconfig with a context each ([`kubeconfig_for`]). It never fakes
//! etcd: bytes go to real etcd.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::thread;

use base64::Engine as _;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub const TOKEN: &str = "kube-double-token";

/// What the double serves; tests change it while it runs.
#[derive(Default)]
pub struct State {
    pub pods: Vec<Value>,
    pub secrets: Vec<Value>,
    pub config_maps: Vec<Value>,
    /// `(namespace, pod, port)` -> the real `host:port` behind it.
    pub forwards: HashMap<(String, String, u16), String>,
    /// `(verb, resource)` pairs answered with 403, e.g. `("create",
    /// "pods/portforward")`.
    pub forbidden: HashSet<(String, String)>,
    /// Every request line seen, for assertions.
    pub requests: Vec<String>,
    /// When each of `requests` arrived (same order).
    pub request_times: Vec<std::time::Instant>,
    /// `(namespace, pod)` -> how `pods/exec` behaves there; absent: 403.
    pub exec: HashMap<(String, String), Exec>,
    /// `(namespace, name)` -> replicas of a StatefulSet.
    pub stateful_sets: HashMap<(String, String), i64>,
    /// Every replicas value PATCHed, in order: `(name, replicas)`.
    pub scaled: Vec<(String, i64)>,
}

/// What `pods/exec` finds in a pod's container.
#[derive(Clone)]
pub enum Exec {
    /// An image with `cat`: these files, by absolute path.
    Files(HashMap<String, Vec<u8>>),
    /// A distroless image: nothing to run.
    Distroless,
}

pub struct Double {
    pub url: String,
    pub ca_pem: String,
    /// A client certificate and key (PEM) the double accepts instead of
    /// the token: signed by its client CA, for user `tester`.
    pub client_cert: (String, String),
    pub state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Double {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Double {
    /// Start on a free 127.0.0.1 port, in a thread of its own.
    pub fn start() -> Double {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (ca_pem, client_cert, server_config) = pki();
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind double");
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let st = state.clone();
        let thread = thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                let acceptor = tokio_rustls::TlsAcceptor::from(server_config);
                let serve = async {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            continue;
                        };
                        let acceptor = acceptor.clone();
                        let st = st.clone();
                        tokio::spawn(async move {
                            let Ok(tls) = acceptor.accept(tcp).await else {
                                return;
                            };
                            // The verifier rejects a certificate it cannot
                            // verify, so one presented here is the client CA's.
                            let by_cert = tls.get_ref().1.peer_certificates().is_some();
                            let svc = hyper::service::service_fn(move |req| {
                                let st = st.clone();
                                async move {
                                    Ok::<_, std::convert::Infallible>(
                                        handle(req, st, by_cert).await,
                                    )
                                }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(tls), svc)
                                .with_upgrades()
                                .await;
                        });
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = rx => {}
                }
            });
            rt.shutdown_background();
        });
        Double {
            url: format!("https://127.0.0.1:{port}"),
            ca_pem,
            client_cert,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn add_pod(&self, pod: Value) {
        self.with(|s| s.pods.push(pod));
    }

    pub fn add_secret(&self, namespace: &str, name: &str, data: &[(&str, &[u8])]) {
        let b64 = base64::engine::general_purpose::STANDARD;
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(b64.encode(v))))
            .collect();
        self.with(|s| {
            s.secrets.push(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": namespace},
                "type": "Opaque",
                "data": data,
            }))
        });
    }

    pub fn add_config_map(&self, namespace: &str, name: &str, data: &[(&str, &str)]) {
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        self.with(|s| {
            s.config_maps.push(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace},
                "data": data,
            }))
        });
    }

    /// Port `port` of pod `namespace/name` reaches `target` (`host:port`).
    pub fn forward(&self, namespace: &str, name: &str, port: u16, target: &str) {
        self.with(|s| {
            s.forwards.insert(
                (namespace.to_string(), name.to_string(), port),
                target.to_string(),
            )
        });
    }

    /// A StatefulSet `namespace/name` at `replicas`.
    pub fn add_stateful_set(&self, namespace: &str, name: &str, replicas: i64) {
        self.with(|s| {
            s.stateful_sets
                .insert((namespace.to_string(), name.to_string()), replicas)
        });
    }

    /// The replicas StatefulSet `namespace/name` asks for now.
    pub fn replicas(&self, namespace: &str, name: &str) -> Option<i64> {
        self.with(|s| {
            s.stateful_sets
                .get(&(namespace.to_string(), name.to_string()))
                .copied()
        })
    }

    pub fn forbid(&self, verb: &str, resource: &str) {
        self.with(|s| s.forbidden.insert((verb.to_string(), resource.to_string())));
    }

    /// A kubeconfig whose user authenticates with `cert`/`key` (PEM) as
    /// `client-certificate-data`/`client-key-data`, without a token.
    pub fn kubeconfig_with_client_cert(&self, cert: &str, key: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut config: Value = serde_json::from_str(&self.kubeconfig()).unwrap();
        config["users"][0]["user"] = json!({
            "client-certificate-data": b64.encode(cert),
            "client-key-data": b64.encode(key),
        });
        config.to_string()
    }

    /// A kubeconfig for this double, as JSON (which is YAML).
    pub fn kubeconfig(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "double", "cluster": {
                "server": self.url,
                "certificate-authority-data": b64.encode(&self.ca_pem),
            }}],
            "users": [{"name": "tester", "user": {"token": TOKEN}}],
            "contexts": [{"name": "double", "context": {"cluster": "double", "user": "tester"}}],
            "current-context": "double",
        })
        .to_string()
    }
}

/// One kubeconfig for several clusters: a context (with its cluster and
/// user entries) per `(name, API server URL, CA PEM)`, in that order; the
/// first is the current context. A URL where nothing listens stands for a
/// cluster that is down.
pub fn kubeconfig_for(contexts: &[(&str, &str, &str)]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let clusters: Vec<Value> = contexts
        .iter()
        .map(|(name, url, ca)| {
            json!({"name": name, "cluster": {
                "server": url,
                "certificate-authority-data": b64.encode(ca),
            }})
        })
        .collect();
    let named: Vec<Value> = contexts
        .iter()
        .map(|(name, _, _)| json!({"name": name, "context": {"cluster": name, "user": "tester"}}))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": [{"name": "tester", "user": {"token": TOKEN}}],
        "contexts": named,
        "current-context": contexts.first().map(|c| c.0).unwrap_or_default(),
    })
    .to_string()
}

/// A throw-away CA: its certificate (PEM) and issuer.
fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, name);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    (ca_cert.pem(), Issuer::new(ca_params, ca_key))
}

/// A client certificate for `user` and its key (PEM) from `issuer`.
fn client_cert(issuer: &Issuer<'static, KeyPair>, user: &str) -> (String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, user);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A client certificate and key (PEM) from a CA the double does not trust.
pub fn stray_client_cert() -> (String, String) {
    let (_, issuer) = ca("some other CA");
    client_cert(&issuer, "tester")
}

/// The server CA (PEM), a client certificate and key the double accepts,
/// and the server's TLS config.
fn pki() -> (String, (String, String), Arc<rustls::ServerConfig>) {
    let (ca_pem, issuer) = ca("kube-double CA");
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let (client_ca_pem, client_issuer) = ca("kube-double client CA");
    let client = client_cert(&client_issuer, "tester");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile_certs(&client_ca_pem) {
        roots.add(c).unwrap();
    }
    // A token alone still works (no certificate); a certificate presented
    // must chain to the client CA, or the handshake fails.
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (ca_pem, client, Arc::new(config))
}

fn rustls_pemfile_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}

type Resp = Response<Full<Bytes>>;

fn respond(code: StatusCode, body: Value) -> Resp {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn status(code: u16, reason: &str, message: String) -> Resp {
    respond(
        StatusCode::from_u16(code).unwrap(),
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason, "code": code,
        }),
    )
}

fn forbidden(verb: &str, resource: &str, ns: Option<&str>) -> Resp {
    let (res, sub) = resource.split_once('/').unwrap_or((resource, ""));
    let sub = if sub.is_empty() {
        String::new()
    } else {
        format!("/{sub}")
    };
    let scope = match ns {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".into(),
    };
    status(
        403,
        "Forbidden",
        format!(
            "{res} is forbidden: User \"tester\" cannot {verb} resource \"{res}{sub}\" in API group \"\" {scope}"
        ),
    )
}

fn matches_selector(obj: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .filter(|s| !s.is_empty())
        .all(|term| match term.split_once('=') {
            Some((k, v)) => obj["metadata"]["labels"][k.trim_end_matches('=')].as_str() == Some(v),
            None => obj["metadata"]["labels"].get(term).is_some(),
        })
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(req: Request<Incoming>, st: Arc<Mutex<State>>, by_cert: bool) -> Resp {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    {
        let mut st = st.lock().unwrap();
        st.requests.push(format!("{} {path}?{query}", req.method()));
        st.request_times.push(std::time::Instant::now());
    }
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {TOKEN}") && !by_cert {
        return status(401, "Unauthorized", "Unauthorized".into());
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let is_forbidden = |verb: &str, res: &str| {
        st.lock()
            .unwrap()
            .forbidden
            .contains(&(verb.to_string(), res.to_string()))
    };
    match parts.as_slice() {
        ["api", "v1", "pods"] => {
            if is_forbidden("list", "pods") {
                return forbidden("list", "pods", None);
            }
            list_pods(&st, None, &query)
        }
        ["api", "v1", "namespaces", ns, "pods"] => {
            if is_forbidden("list", "pods") {
                return forbidden("list", "pods", Some(ns));
            }
            list_pods(&st, Some(ns), &query)
        }
        ["api", "v1", "namespaces", ns, "pods", name] => {
            if is_forbidden("get", "pods") {
                return forbidden("get", "pods", Some(ns));
            }
            let pod = st
                .lock()
                .unwrap()
                .pods
                .iter()
                .find(|p| p["metadata"]["namespace"] == *ns && p["metadata"]["name"] == *name)
                .cloned();
            match pod {
                Some(p) => respond(StatusCode::OK, p),
                None => status(404, "NotFound", format!("pods \"{name}\" not found")),
            }
        }
        ["api", "v1", "namespaces", ns, "pods", name, "portforward"] => {
            if is_forbidden("create", "pods/portforward") {
                return forbidden("create", "pods/portforward", Some(ns));
            }
            let ns = ns.to_string();
            let name = name.to_string();
            portforward(req, st, ns, name, &query)
        }
        ["api", "v1", "namespaces", ns, "pods", name, "exec"] => {
            let mode = st
                .lock()
                .unwrap()
                .exec
                .get(&(ns.to_string(), name.to_string()))
                .cloned();
            match mode {
                None => forbidden("create", "pods/exec", Some(ns)),
                Some(mode) => exec(req, mode, &query),
            }
        }
        ["api", "v1", "namespaces", ns, "secrets", name] => {
            if is_forbidden("get", "secrets") {
                return forbidden("get", "secrets", Some(ns));
            }
            let secret = st
                .lock()
                .unwrap()
                .secrets
                .iter()
                .find(|p| p["metadata"]["namespace"] == *ns && p["metadata"]["name"] == *name)
                .cloned();
            match secret {
                Some(s) => respond(StatusCode::OK, s),
                None => status(404, "NotFound", format!("secrets \"{name}\" not found")),
            }
        }
        ["api", "v1", "namespaces", ns, "configmaps", name] => {
            if is_forbidden("get", "configmaps") {
                return forbidden("get", "configmaps", Some(ns));
            }
            let cm = st
                .lock()
                .unwrap()
                .config_maps
                .iter()
                .find(|p| p["metadata"]["namespace"] == *ns && p["metadata"]["name"] == *name)
                .cloned();
            match cm {
                Some(c) => respond(StatusCode::OK, c),
                None => status(404, "NotFound", format!("configmaps \"{name}\" not found")),
            }
        }
        ["apis", "apps", "v1", "namespaces", ns, "statefulsets", name, rest @ ..]
            if rest.len() <= 1 =>
        {
            let scale = rest == ["scale"];
            let resource = if scale {
                "statefulsets/scale"
            } else {
                "statefulsets"
            };
            let verb = if req.method() == hyper::Method::PATCH {
                "patch"
            } else {
                "get"
            };
            if is_forbidden(verb, resource) {
                return forbidden(verb, resource, Some(ns));
            }
            let key = (ns.to_string(), name.to_string());
            if !st.lock().unwrap().stateful_sets.contains_key(&key) {
                return status(
                    404,
                    "NotFound",
                    format!("statefulsets.apps \"{name}\" not found"),
                );
            }
            if verb == "patch" {
                use http_body_util::BodyExt;
                let body = match req.into_body().collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(e) => return status(400, "BadRequest", e.to_string()),
                };
                let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let Some(n) = patch["spec"]["replicas"].as_i64() else {
                    return status(400, "BadRequest", format!("unexpected patch {patch}"));
                };
                let mut s = st.lock().unwrap();
                s.stateful_sets.insert(key.clone(), n);
                s.scaled.push((name.to_string(), n));
            }
            let replicas = st.lock().unwrap().stateful_sets[&key];
            let meta = json!({"name": name, "namespace": ns});
            let body = if scale {
                json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": meta,
                    "spec": {"replicas": replicas}, "status": {"replicas": replicas}})
            } else {
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta,
                    "spec": {"replicas": replicas, "serviceName": name,
                        "selector": {"matchLabels": {"app.kubernetes.io/name": "etcd"}},
                        "template": {"metadata": {}, "spec": {"containers": []}}},
                    "status": {"replicas": replicas}})
            };
            respond(StatusCode::OK, body)
        }
        ["api", "v1", "namespaces", _, kind, name] => {
            status(404, "NotFound", format!("{kind} \"{name}\" not found"))
        }
        _ => status(404, "NotFound", format!("the server could not find {path}")),
    }
}

fn list_pods(st: &Arc<Mutex<State>>, ns: Option<&str>, query: &str) -> Resp {
    let selector = query_param(query, "labelSelector").unwrap_or_default();
    let items: Vec<Value> = st
        .lock()
        .unwrap()
        .pods
        .iter()
        .filter(|p| ns.is_none_or(|ns| p["metadata"]["namespace"] == ns))
        .filter(|p| matches_selector(p, &selector))
        .cloned()
        .collect();
    respond(
        StatusCode::OK,
        json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}),
    )
}

/// The websocket upgrade, answered as kube-apiserver does for port-forward.
fn portforward(
    mut req: Request<Incoming>,
    st: Arc<Mutex<State>>,
    ns: String,
    name: String,
    query: &str,
) -> Resp {
    let Some(port) = query_param(query, "ports").and_then(|p| p.parse::<u16>().ok()) else {
        return status(400, "BadRequest", "missing or bad ports".into());
    };
    let exists = st
        .lock()
        .unwrap()
        .pods
        .iter()
        .any(|p| p["metadata"]["namespace"] == ns && p["metadata"]["name"] == name);
    if !exists {
        return status(404, "NotFound", format!("pods \"{name}\" not found"));
    }
    let headers = req.headers();
    let upgrade = headers
        .get("upgrade")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case("websocket"));
    let protocols = headers
        .get("sec-websocket-protocol")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let Some(key) = headers
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
    else {
        return status(400, "BadRequest", "not a websocket request".into());
    };
    if !upgrade
        || !protocols
            .split(',')
            .any(|p| p.trim() == "v4.channel.k8s.io")
    {
        return status(
            400,
            "BadRequest",
            format!("unsupported protocols {protocols:?}"),
        );
    }
    let target = st
        .lock()
        .unwrap()
        .forwards
        .get(&(ns.clone(), name.clone(), port))
        .cloned();
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(&mut req).await else {
            return;
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        pump(ws, port, target, &ns, &name).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", derive_accept_key(&key))
        .header("sec-websocket-protocol", "v4.channel.k8s.io")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// `pods/exec`, answered with the v5 protocol as kube-apiserver does:
/// stdout on channel 1, stderr on 2, the exit Status (JSON) on 3.
fn exec(mut req: Request<Incoming>, mode: Exec, query: &str) -> Resp {
    let command: Vec<String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == "command")
        .map(|(_, v)| percent_decode(v))
        .collect();
    let headers = req.headers();
    let protocols = headers
        .get("sec-websocket-protocol")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let Some(key) = headers
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
    else {
        return status(400, "BadRequest", "not a websocket request".into());
    };
    if !protocols
        .split(',')
        .any(|p| p.trim() == "v5.channel.k8s.io")
    {
        return status(
            400,
            "BadRequest",
            format!("unsupported protocols {protocols:?}"),
        );
    }
    let (stdout, result) = match (&mode, command.as_slice()) {
        (Exec::Distroless, _) => (
            Vec::new(),
            json!({"metadata": {}, "status": "Failure", "reason": "InternalError",
                "message": format!("Internal error occurred: error executing command in container: failed to exec in container: failed to start exec: OCI runtime exec failed: exec failed: unable to start container process: exec: \"{}\": executable file not found in $PATH: unknown", command.first().map(String::as_str).unwrap_or(""))}),
        ),
        (Exec::Files(files), [cat, path]) if cat == "cat" => match files.get(path) {
            Some(data) => (data.clone(), json!({"metadata": {}, "status": "Success"})),
            None => (
                Vec::new(),
                json!({"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                    "message": "command terminated with non-zero exit code: error executing command [cat], exit code 1",
                    "details": {"causes": [{"reason": "ExitCode", "message": "1"}]}}),
            ),
        },
        _ => (
            Vec::new(),
            json!({"metadata": {}, "status": "Failure", "message": "unexpected command"}),
        ),
    };
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(&mut req).await else {
            return;
        };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        if !stdout.is_empty() {
            let mut frame = vec![1u8];
            frame.extend(stdout);
            let _ = ws.send(Message::binary(frame)).await;
        }
        let mut frame = vec![3u8];
        frame.extend(result.to_string().as_bytes());
        let _ = ws.send(Message::binary(frame)).await;
        let _ = ws.send(Message::Close(None)).await;
        // Drain until the client closes too.
        while let Some(Ok(_)) = ws.next().await {}
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", derive_accept_key(&key))
        .header("sec-websocket-protocol", "v5.channel.k8s.io")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// v4 framing: channel 0 data, channel 1 error, each opened with the port.
async fn pump<S>(ws: WebSocketStream<S>, port: u16, target: Option<String>, ns: &str, name: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let p = port.to_le_bytes();
    if sink
        .send(Message::binary(vec![0, p[0], p[1]]))
        .await
        .is_err()
        || sink
            .send(Message::binary(vec![1, p[0], p[1]]))
            .await
            .is_err()
    {
        return;
    }
    let tcp = match &target {
        Some(addr) => TcpStream::connect(addr).await.map_err(|e| e.to_string()),
        None => Err("connection refused".to_string()),
    };
    let tcp = match tcp {
        Ok(t) => t,
        Err(e) => {
            let msg = format!(
                "error forwarding port {port} to pod {name} in namespace {ns}: dial tcp4 127.0.0.1:{port}: connect: {e}"
            );
            let mut frame = vec![1u8];
            frame.extend(msg.as_bytes());
            let _ = sink.send(Message::binary(frame)).await;
            let _ = sink.send(Message::Close(None)).await;
            return;
        }
    };
    let (mut rd, mut wr) = tcp.into_split();
    let to_pod = async {
        while let Some(Ok(msg)) = stream.next().await {
            let data = match &msg {
                Message::Binary(b) if b.len() > 1 && b[0] == 0 => &b[1..],
                Message::Close(_) => break,
                _ => continue,
            };
            if wr.write_all(data).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    };
    let from_pod = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut frame = Vec::with_capacity(n + 1);
                    frame.push(0u8);
                    frame.extend_from_slice(&buf[..n]);
                    if sink.send(Message::binary(frame)).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    };
    // Either side closing ends the forward, as the kubelet does.
    tokio::select! {
        _ = to_pod => {}
        _ = from_pod => {}
    }
}
