//! Many clusters at once: `--context a,b` and `--all-contexts` against
//! several Kubernetes API doubles, each forwarding to its own real etcd, in
//! one kubeconfig; one context points at an API server that is down.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::kube::{Certs, Env};
use crate::kube_double::kubeconfig_for;
use crate::readme;
use crate::support::{self, Cluster, ClusterOpts, TlsMode};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-etcd");

/// Clusters, each behind its own API double, and one kubeconfig naming
/// them `c0`, `c1`, ... (plus `down`, whose API server is gone, if asked).
struct Fleet {
    clusters: Vec<Cluster>,
    envs: Vec<Env>,
    dir: TempDir,
    kubeconfig: PathBuf,
    /// The API server URL of the `down` context.
    dead: String,
}

impl Fleet {
    fn start(n: usize, down_at: Option<usize>) -> Fleet {
        let clusters: Vec<Cluster> = (0..n)
            .map(|_| {
                Cluster::start(ClusterOpts {
                    members: 1,
                    tls: Some(TlsMode::ClientCertAuth),
                    ..Default::default()
                })
            })
            .collect();
        let envs: Vec<Env> = clusters
            .iter()
            .map(|c| Env::with_cluster(c, Certs::SecretVolume))
            .collect();
        let names: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let mut contexts: Vec<(&str, &str, &str)> = names
            .iter()
            .zip(&envs)
            .map(|(name, e)| {
                (
                    name.as_str(),
                    e.double.url.as_str(),
                    e.double.ca_pem.as_str(),
                )
            })
            .collect();
        // Nothing listens there: the port was free a moment ago.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("https://127.0.0.1:{}", l.local_addr().unwrap().port())
        };
        if let Some(i) = down_at {
            contexts.insert(i, ("down", &dead, &envs[0].double.ca_pem));
        }
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_for(&contexts)).unwrap();
        Fleet {
            clusters,
            envs,
            dir,
            kubeconfig,
            dead,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = std::process::Command::new(BIN);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("ETCDCTL") || k.starts_with("KUBE") {
                cmd.env_remove(k);
            }
        }
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .args(["--dial-timeout=15s", "--command-timeout=15s"])
            .args(args)
            .output()
            .unwrap()
    }
}

fn text(out: &Output) -> String {
    support::output_text(out)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// The table's rows as cells split on runs of two or more spaces.
fn rows(out: &Output) -> Vec<Vec<String>> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fn contexts_of(v: &Value) -> Vec<&str> {
    v["contexts"]
        .as_array()
        .unwrap_or_else(|| panic!("no contexts array: {v}"))
        .iter()
        .map(|c| c["context"].as_str().unwrap())
        .collect()
}

#[test]
fn all_contexts_with_one_down_is_one_table_with_its_error_and_exit_3() {
    let fleet = Fleet::start(2, Some(1));
    for (i, c) in fleet.clusters.iter().enumerate() {
        for k in 0..(3 + 2 * i) {
            c.put(&format!("/registry/configmaps/default/cm-{k}"), "v");
        }
    }

    // The table: CONTEXT first, every context in kubeconfig order, the
    // down one as one row carrying its error.
    let out = fleet.run(&["status", "--all-contexts"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let table = rows(&out);
    assert_eq!(table[0][0], "CONTEXT", "{}", text(&out));
    assert_eq!(table[0][1], "POD", "{}", text(&out));
    let contexts: Vec<&str> = table[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(contexts, ["c0", "down", "c1"], "{}", text(&out));
    assert_eq!(table[1][1], "etcd-m0");
    assert_eq!(table[3][1], "etcd-m0");
    let down = table[2].join(" ");
    assert!(
        down.contains(fleet.dead.trim_start_matches("https://")),
        "the down context's row names its API server: {}",
        text(&out)
    );
    assert_eq!(table[2][1..10], ["-"; 9], "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: 1 of 3 contexts failed: `down`"),
        "{}",
        text(&out)
    );
    // The down context's fix, under its name; nothing for the others.
    assert!(stderr.contains("down: help: "), "{}", text(&out));
    assert!(
        !stderr.contains("c0: ") && !stderr.contains("c1: "),
        "{}",
        text(&out)
    );

    // JSON: a `context` on each entry, the down one with its error and no
    // report, the others with their one member each.
    let out = fleet.run(&["status", "--all-contexts", "-o", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let v = json(&out);
    assert_eq!(contexts_of(&v), ["c0", "down", "c1"]);
    for (i, entry) in v["contexts"].as_array().unwrap().iter().enumerate() {
        if i == 1 {
            assert_eq!(entry["exitCode"], 3, "{entry}");
            assert!(entry["report"].is_null(), "{entry}");
            assert!(entry["error"].as_str().is_some_and(|e| !e.is_empty()));
        } else {
            assert_eq!(entry["exitCode"], 0, "{entry}");
            assert!(entry["error"].is_null(), "{entry}");
            let members = entry["report"]["members"].as_array().unwrap();
            assert_eq!(members.len(), 1, "{entry}");
            assert_eq!(members[0]["isLeader"], true);
        }
    }
    // ... in the shape README documents, the report as for one cluster.
    let mut problems = Vec::new();
    let outer = readme::documented("--context A,B -o json");
    readme::check(&outer[0], &v, "contexts", &mut problems);
    let status = readme::documented("status -o json");
    for entry in v["contexts"].as_array().unwrap() {
        readme::check(&status[0], &entry["report"], "report", &mut problems);
    }
    assert!(problems.is_empty(), "{problems:?}");

    // count: the key counts written into each cluster, and the down
    // context as a row in an ERROR column the count table lacks otherwise.
    let out = fleet.run(&["count", "--all-contexts", "-o", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let v = json(&out);
    let totals: Vec<Value> = v["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["report"]["total"].clone())
        .collect();
    assert_eq!(totals, [Value::from(3), Value::Null, Value::from(5)]);
    let out = fleet.run(&["count", "--all-contexts"]);
    let table = rows(&out);
    assert_eq!(table[0], ["CONTEXT", "TYPE", "COUNT", "KIND", "ERROR"]);
    assert!(table.contains(&vec!["c0".into(), "configmaps".into(), "3".into()]));
    assert!(table.contains(&vec!["c1".into(), "configmaps".into(), "5".into()]));
    assert_eq!(table.iter().filter(|r| r[0] == "down").count(), 1);
}

#[test]
fn context_list_runs_only_those_and_one_context_prints_as_before() {
    let fleet = Fleet::start(3, None);
    for (i, c) in fleet.clusters.iter().enumerate() {
        for k in 0..(i + 1) {
            c.put(&format!("/registry/secrets/kube-system/s-{k}"), "v");
        }
    }

    // --context c0,c2: those two, in that order, and nothing of c1.
    let out = fleet.run(&["count", "--context", "c2,c0", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json(&out);
    assert_eq!(contexts_of(&v), ["c2", "c0"]);
    assert_eq!(v["contexts"][0]["report"]["total"], 3);
    assert_eq!(v["contexts"][1]["report"]["total"], 1);
    let seen = |i: usize| {
        fleet.envs[i]
            .double
            .with(|s| s.requests.iter().any(|r| r.contains("/pods")))
    };
    assert!(seen(0) && seen(2), "c0 and c2 were asked");
    assert!(!seen(1), "c1 was not named and must not be asked");

    // --max-concurrency bounds the contexts asked at once: with 1, c1's API
    // server hears nothing until c0 is done; by default they overlap.
    let span = |i: usize| {
        fleet.envs[i].double.with(|s| {
            let t = std::mem::take(&mut s.request_times);
            (*t.first().unwrap(), *t.last().unwrap())
        })
    };
    for e in &fleet.envs {
        e.double.with(|s| s.request_times.clear());
    }
    let out = fleet.run(&["status", "--context", "c0,c1", "--max-concurrency", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ((_, c0_last), (c1_first, _)) = (span(0), span(1));
    assert!(
        c1_first > c0_last,
        "with --max-concurrency 1, c1 starts after c0"
    );
    let out = fleet.run(&["status", "--context", "c0,c1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ((_, c0_last), (c1_first, _)) = (span(0), span(1));
    assert!(c1_first < c0_last, "by default c0 and c1 are asked at once");

    // members and health group their rows by context, one member each.
    let out = fleet.run(&["members", "--context", "c0,c1", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json(&out);
    for entry in v["contexts"].as_array().unwrap() {
        assert_eq!(entry["report"]["members"].as_array().unwrap().len(), 1);
        assert_eq!(entry["report"]["members"][0]["healthy"], true);
    }
    let out = fleet.run(&["health", "--context", "c0,c1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = rows(&out);
    assert_eq!(table[0][..3], ["CONTEXT", "ENDPOINT", "HEALTH"]);
    assert_eq!(table[1][..3], ["c0", "pod/etcd-m0", "healthy"]);
    assert_eq!(table[2][..3], ["c1", "pod/etcd-m0", "healthy"]);

    // doctor: each context's findings under its name, the same checks.
    let out = fleet.run(&[
        "doctor",
        "--context",
        "c0,c1",
        "--check",
        "health",
        "--window",
        "1s",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json(&out);
    assert_eq!(contexts_of(&v), ["c0", "c1"]);
    for entry in v["contexts"].as_array().unwrap() {
        let findings = entry["report"]["findings"].as_array().unwrap();
        assert!(!findings.is_empty(), "{entry}");
        let health: Vec<&Value> = findings.iter().filter(|f| f["check"] == "health").collect();
        assert_eq!(health.len(), 1, "one member per context: {entry}");
        assert_eq!(health[0]["member"], "m0", "{entry}");
        assert_eq!(entry["report"]["worst"], "ok", "{entry}");
    }

    // One context: today's output, no CONTEXT column, no `contexts` key.
    let out = fleet.run(&["status", "--context", "c1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(rows(&out)[0][0], "POD", "{}", text(&out));
    let out = fleet.run(&["count", "--context", "c1", "-o", "json"]);
    let v = json(&out);
    assert!(v.get("contexts").is_none(), "{v}");
    assert_eq!(v["total"], 2);

    // A command that works on one cluster refuses several (exit 2), and
    // names the commands that take them.
    let out = fleet.run(&["ls", "--context", "c0,c1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`status`, `health`, `members`, `count`, `doctor`"),
        "{err}"
    );
    let out = fleet.run(&["defrag", "--all-contexts", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // --all-contexts names no cluster with --endpoints or --context.
    for clash in [["--endpoints", "127.0.0.1:1"], ["--context", "c0"]] {
        let mut args = vec!["status", "--all-contexts"];
        args.extend(clash);
        let out = fleet.run(&args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    }
}

/// The benchmark behind BENCHMARKS.md ("many contexts"): ten contexts,
/// each its own API double and etcd, `status --all-contexts` against
/// `status --context X` ten times in a row. Run by
/// `scripts/bench-contexts.sh`; too slow for CI.
#[test]
#[ignore]
fn bench_ten_contexts_at_once_against_one_by_one() {
    let n = 10;
    let fleet = Fleet::start(n, None);
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let time = |f: &dyn Fn()| {
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    let together = time(&|| {
        let out = fleet.run(&["status", "--all-contexts", "-o", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(contexts_of(&json(&out)).len(), n);
    });
    let one_by_one = time(&|| {
        for i in 0..n {
            let out = fleet.run(&["status", "--context", &format!("c{i}"), "-o", "json"]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        }
    });
    let secs = |d: Duration| format!("{:.2}s", d.as_secs_f64());
    println!(
        "contexts={n} runs={runs} all-contexts={} one-by-one={} speedup={:.1}x",
        secs(together),
        secs(one_by_one),
        one_by_one.as_secs_f64() / together.as_secs_f64()
    );
}
