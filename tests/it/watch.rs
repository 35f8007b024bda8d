//! `watch` against real 3-member etcd clusters: decoded events, a burst
//! with nothing lost or repeated, the leader killed mid-stream, a compacted
//! start revision, and the flags that end a watch.

use crate::support;

use crate::objects;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use serde_json::Value;
use support::cli::plugin;
use support::{output_text, Cluster, ClusterOpts};

fn run(args: &[&str]) -> Output {
    plugin().args(args).output().expect("run kubectl-etcd")
}

use crate::support::etcdctl::revision;

fn put_bytes(c: &Cluster, key: &str, value: Vec<u8>) {
    crate::support::etcdctl::put_raw(c, key, &value);
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A running `watch` whose stdout and stderr lines are collected as they
/// come.
struct Watch {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Watch {
    fn spawn(args: &[&str]) -> Watch {
        let mut child = plugin()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl-etcd watch");
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let stdout = child.stdout.take().expect("stdout");
        let sink = out.clone();
        readers.push(thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        }));
        let stderr = child.stderr.take().expect("stderr");
        let sink = err.clone();
        readers.push(thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        }));
        Watch {
            child,
            out,
            err,
            readers,
        }
    }

    fn lines(&self) -> usize {
        self.out.lock().unwrap().len()
    }

    fn stderr(&self) -> String {
        self.err.lock().unwrap().join("\n")
    }

    /// Wait until stderr has a line containing `text`.
    fn wait_stderr(&self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.stderr().contains(text) {
            assert!(
                Instant::now() < deadline,
                "no `{text}` on stderr: {}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for the process to end; returns its exit code and stdout lines.
    fn finish(mut self, limit: Duration) -> (i32, Vec<String>, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "watch still running after {limit:?}; {} lines; stderr:\n{}",
                    self.lines(),
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let out = self.out.lock().unwrap().clone();
        (status.code().unwrap_or(-1), out, self.stderr())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `kubectl scale` stores: the same Deployment with new
/// `spec.replicas` and the next `metadata.generation`.
fn scaled(stored: &[u8], replicas: i32) -> Vec<u8> {
    use k8s_pb::api::apps::v1::Deployment;
    use k8s_pb::apimachinery::pkg::runtime::Unknown;
    use prost::Message;
    let unknown = Unknown::decode(&stored[4..]).expect("k8s envelope");
    let mut d = Deployment::decode(unknown.raw.as_deref().unwrap()).expect("deployment");
    d.spec.as_mut().unwrap().replicas = Some(replicas);
    let meta = d.metadata.as_mut().unwrap();
    meta.generation = Some(meta.generation.unwrap_or(1) + 1);
    objects::envelope("apps/v1", "Deployment", d.encode_to_vec())
}

#[test]
fn create_scale_and_delete_are_decoded_with_a_replicas_diff() {
    let c = Cluster::start(ClusterOpts::members(3));
    let ep = c.endpoints();
    let r0 = revision(&c);

    // Live: the line an operator sees for `kubectl scale --replicas=5`.
    let live = Watch::spawn(&[
        "--endpoints",
        &ep,
        "-v",
        "watch",
        "deployments",
        "-n",
        "default",
        "--count",
        "2",
        "--timeout",
        "30s",
    ]);
    live.wait_stderr(
        "watching deployments.apps in default",
        Duration::from_secs(15),
    );
    let other = objects::deployment("other", "api", 2, 1, 0);
    let web3 = objects::deployment("default", "web", 1, 3, 0);
    let web5 = scaled(&web3.value, 5);
    put_bytes(&c, &other.key, other.value);
    put_bytes(&c, &web3.key, web3.value);
    put_bytes(&c, &web3.key, web5);
    c.ctl().ok(&["del", &web3.key]);
    put_bytes(
        &c,
        "/registry/deployments/default/junk",
        b"\x01garbage".to_vec(),
    );
    let (code, lines, err) = live.finish(Duration::from_secs(20));
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    let added = format!(" ADDED    deployments.apps default/web {}", r0 + 2);
    assert!(lines[0].ends_with(&added), "{}", lines[0]);
    let scaled = format!(
        " MODIFIED deployments.apps default/web {} spec.replicas: 3 -> 5",
        r0 + 3
    );
    assert!(lines[1].ends_with(&scaled), "{}", lines[1]);

    // Replayed as JSON lines: the same history, decoded, plus the value
    // that does not decode, which does not stop the watch.
    let from = (r0 + 1).to_string();
    let args = [
        "--endpoints",
        &ep,
        "watch",
        "deployments",
        "-n",
        "default",
        "-o",
        "json",
        "--rev",
        &from,
        "--count",
        "4",
        "--timeout",
        "20s",
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let ev = json_lines(&o.stdout);
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "MODIFIED", "DELETED", "ADDED"]);
    let revs: Vec<i64> = ev.iter().map(|e| e["revision"].as_i64().unwrap()).collect();
    assert_eq!(revs, [r0 + 2, r0 + 3, r0 + 4, r0 + 5]);
    for e in &ev[..3] {
        assert_eq!(e["resource"], "deployments.apps");
        assert_eq!(e["namespace"], "default");
        assert_eq!(e["name"], "web");
        assert_eq!(e["key"], web3.key.as_str());
        assert!(e.get("error").is_none(), "{e}");
    }
    assert_eq!(ev[0]["object"]["spec"]["replicas"], 3);
    assert_eq!(ev[0]["object"]["kind"], "Deployment");
    assert_eq!(ev[1]["object"]["spec"]["replicas"], 5);
    assert_eq!(ev[1]["previous"]["spec"]["replicas"], 3);
    // A deletion carries the last state, as Kubernetes watches do.
    assert_eq!(ev[2]["object"]["spec"]["replicas"], 5);
    assert_eq!(ev[3]["name"], "junk");
    assert_eq!(ev[3]["object"], Value::Null);
    assert!(
        ev[3]["error"].as_str().unwrap().contains("cannot decode"),
        "{}",
        ev[3]
    );

    // YAML: full objects between `---`.
    let o = run(&[
        "--endpoints",
        &ep,
        "watch",
        "deployments/default/web",
        "-o",
        "yaml",
        "--rev",
        &from,
        "--count",
        "2",
        "--timeout",
        "20s",
    ]);
    crate::support::cli::assert_code(&o, 0);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.matches("---\n").count(), 2, "{text}");
    assert!(text.contains("kind: Deployment"), "{text}");
    assert!(text.contains("replicas: 5"), "{text}");
}

#[test]
fn a_burst_of_2000_events_arrives_once_each_in_order() {
    const N: usize = 2000;
    let c = Cluster::start(ClusterOpts::members(3));
    let ep = c.endpoints();
    let r0 = revision(&c);
    let from = (r0 + 1).to_string();
    let count = N.to_string();
    let w = Watch::spawn(&[
        "--endpoints",
        &ep,
        "watch",
        "/registry/configmaps/burst/",
        "-o",
        "json",
        "--rev",
        &from,
        "--count",
        &count,
        // A bound, not a pace: --count ends the watch once all arrived, and
        // 2,000 puts on a loaded machine may take well over a minute.
        "--timeout",
        "300s",
    ]);
    let urls: Vec<String> = c.members().iter().map(|m| m.client_url().into()).collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = etcd_client::Client::connect(&urls, None).await.unwrap();
        let mut tasks = Vec::new();
        for t in 0..32usize {
            let mut kv = client.kv_client();
            tasks.push(tokio::spawn(async move {
                for i in (t..N).step_by(32) {
                    let o = objects::configmap("burst", &format!("cm-{i:04}"), i as u64, 0);
                    kv.put(o.key, o.value, None).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let (code, lines, err) = w.finish(Duration::from_secs(300));
    assert_eq!(code, 0, "stderr: {err}");
    let revs: Vec<i64> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["revision"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let want: Vec<i64> = (r0 + 1..=r0 + N as i64).collect();
    assert_eq!(revs, want, "every revision once, in order");
    let names: BTreeSet<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .into()
        })
        .collect();
    assert_eq!(names.len(), N);
}

#[test]
fn killing_the_leader_mid_stream_loses_and_repeats_nothing() {
    const N: usize = 300;
    let mut c = Cluster::start(ClusterOpts::members(3));
    let leader = c.leader_index();
    // The watch connects to the first endpoint: the leader.
    let mut order = vec![leader];
    order.extend((0..3).filter(|&i| i != leader));
    let ep: Vec<String> = order
        .iter()
        .map(|&i| c.member(i).client_url().to_string())
        .collect();
    let survivors = ep[1..].to_vec();
    let r0 = revision(&c);
    let from = (r0 + 1).to_string();
    let count = N.to_string();
    let w = Watch::spawn(&[
        "--endpoints",
        &ep.join(","),
        "-v",
        "watch",
        "/registry/configmaps/kill/",
        "-o",
        "json",
        "--rev",
        &from,
        "--count",
        &count,
        "--timeout",
        "60s",
        "--reconnect-timeout",
        "30s",
    ]);
    w.wait_stderr(&format!("on {}", ep[0]), Duration::from_secs(15));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut client = etcd_client::Client::connect(&survivors, None)
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(45);
        for i in 0..N {
            if i == N / 3 {
                // Mid-stream: the watch has delivered events from the leader.
                while w.lines() < N / 4 {
                    assert!(Instant::now() < deadline, "watch is not streaming");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                c.kill(leader);
            }
            let o = objects::configmap("kill", &format!("cm-{i:03}"), i as u64, 0);
            // Writes fail while a new leader is elected: retry a put that
            // only creates, so a failed attempt that did commit is not
            // written twice.
            let create = Txn::new()
                .when([Compare::create_revision(o.key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(o.key.clone(), o.value.clone(), None)]);
            loop {
                assert!(Instant::now() < deadline, "writes did not resume");
                let txn = client.txn(create.clone());
                if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), txn).await {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let (code, lines, err) = w.finish(Duration::from_secs(60));
    assert_eq!(code, 0, "stderr: {err}");
    assert!(err.contains("reconnected to"), "stderr: {err}");
    eprintln!("watch stderr:\n{err}");

    // Every key exactly once, at the revision etcd stored it at.
    let stored = c.ctl().ok(&[
        "get",
        "/registry/configmaps/kill/",
        "--prefix",
        "-w",
        "json",
    ]);
    let stored: Value = serde_json::from_str(&stored).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let want: BTreeMap<String, i64> = stored["kvs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| {
            let key = String::from_utf8(b64.decode(kv["key"].as_str().unwrap()).unwrap()).unwrap();
            (key, kv["mod_revision"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(want.len(), N);
    let events = json_lines(lines.join("\n").as_bytes());
    let mut got = BTreeMap::new();
    let mut last = 0;
    for e in &events {
        let rev = e["revision"].as_i64().unwrap();
        assert!(rev > last, "revisions go up: {rev} after {last}");
        last = rev;
        assert_eq!(e["type"], "ADDED");
        let prev = got.insert(e["key"].as_str().unwrap().to_string(), rev);
        assert!(prev.is_none(), "duplicate event for {}", e["key"]);
    }
    assert_eq!(got, want);
}

#[test]
fn compacted_start_count_timeout_secrets_and_giving_up() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    let ep = c.endpoints();
    for i in 0..5 {
        c.put("/registry/configmaps/default/cm", &format!("v{i}"));
    }
    let compacted = revision(&c);
    c.ctl().ok(&["compact", &compacted.to_string()]);

    let o = run(&["--endpoints", &ep, "watch", "/registry/", "--rev", "2"]);
    assert_eq!(o.status.code(), Some(5), "{}", output_text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "error: revision 2 has been compacted; the oldest available revision is {compacted}"
        )),
        "{err}"
    );
    assert!(err.contains("help: "), "{err}");

    // Secrets are redacted unless --show-secrets.
    let s = objects::secret("default", "db", 1, 0);
    put_bytes(&c, &s.key, s.value);
    let from = (compacted + 1).to_string();
    let base = [
        "--endpoints",
        ep.as_str(),
        "watch",
        "secrets",
        "-n",
        "default",
        "-o",
        "json",
        "--rev",
        &from,
        "--count",
        "1",
    ];
    let o = run(&base);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let ev = json_lines(&o.stdout);
    assert_eq!(ev.len(), 1, "--count 1 ends after one event");
    let password = ev[0]["object"]["data"]["password"].as_str().unwrap();
    assert!(password.starts_with("<redacted"), "{password}");
    let mut shown = base.to_vec();
    shown.push("--show-secrets");
    let ev = json_lines(&run(&shown).stdout);
    assert_ne!(ev[0]["object"]["data"]["password"], password);

    // --timeout ends a quiet watch with success; --since does not exist.
    let t = Instant::now();
    let o = run(&["--endpoints", &ep, "watch", "pods", "--timeout", "1s"]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert!(o.stdout.is_empty());
    assert!(t.elapsed() < Duration::from_secs(10));
    let o = run(&["--endpoints", &ep, "watch", "--since", "5m"]);
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));

    // The watch's member loses its peers: etcd ends the stream for want of a
    // leader instead of leaving it silent, no other member answers, and the
    // watch gives up after --reconnect-timeout, saying where to resume.
    let w = Watch::spawn(&[
        "--endpoints",
        &ep,
        "-v",
        "watch",
        "pods",
        "--reconnect-timeout",
        "2s",
    ]);
    w.wait_stderr("watching", Duration::from_secs(15));
    w.wait_stderr(
        &format!("on {}", c.member(0).client_url()),
        Duration::from_secs(5),
    );
    c.kill(1);
    c.kill(2);
    let (code, _, err) = w.finish(Duration::from_secs(30));
    assert_eq!(code, 3, "stderr: {err}");
    let lost = format!(
        "warning: lost the watch on {}: the cluster has no leader",
        c.member(0).client_url()
    );
    eprintln!("watch stderr:\n{err}");
    assert!(err.contains(&lost), "{err}");
    assert!(err.contains("no member answered for 2s"), "{err}");
    assert!(err.contains("help: restart with `--rev "), "{err}");
}

#[test]
fn a_watch_on_one_member_resumes_when_that_member_restarts() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    let m0 = c.member(0).client_url().to_string();
    let r0 = revision(&c);
    let from = (r0 + 1).to_string();
    let w = Watch::spawn(&[
        "--endpoints",
        &m0,
        "-v",
        "watch",
        "/registry/configmaps/restart/",
        "-o",
        "json",
        "--rev",
        &from,
        "--count",
        "20",
        "--timeout",
        "60s",
    ]);
    w.wait_stderr("watching", Duration::from_secs(15));
    let put = |c: &Cluster, i: u64| {
        let o = objects::configmap("restart", &format!("cm-{i:02}"), i, 0);
        put_bytes(c, &o.key, o.value);
    };
    for i in 0..10 {
        put(&c, i);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while w.lines() < 10 {
        assert!(Instant::now() < deadline, "stderr: {}", w.stderr());
        thread::sleep(Duration::from_millis(20));
    }
    c.kill(0);
    c.leader_index(); // m0 may have been the leader
    for i in 10..20 {
        put(&c, i); // through the two members left
    }
    c.restart(0);
    let (code, lines, err) = w.finish(Duration::from_secs(45));
    assert_eq!(code, 0, "stderr: {err}");
    assert!(err.contains(&format!("reconnected to {m0}")), "{err}");
    let revs: Vec<i64> = json_lines(lines.join("\n").as_bytes())
        .iter()
        .map(|e| e["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(revs, (r0 + 1..=r0 + 20).collect::<Vec<_>>());
}
