//! Scans at etcd's speed give the answers of the slow paths: `get --all`
//! decoded on every core prints what one thread prints, byte for byte;
//! `count --by-namespace` and `count -n` from etcd's index equal a
//! brute-force count; narrowed searches find what the full scan finds.
//! Hidden switches (`--decode-workers 1`, `--full-scan`) force the slow
//! paths for the comparison.

use std::collections::BTreeMap;
use std::process::Output;

use base64::Engine as _;
use etcd_client::{Txn, TxnOp};
use serde_json::Value;

use crate::objects;
use crate::support::{cli, Cluster};

/// Small pages, so every scan crosses many of them.
const PAGE: &str = "--page-keys=23";

fn run(c: &Cluster, args: &[&str]) -> Output {
    cli::run_on(c, args)
}

fn ok(c: &Cluster, args: &[&str]) -> Output {
    let o = run(c, args);
    assert_eq!(cli::code(&o), 0, "{args:?}\nstderr:\n{}", cli::stderr(&o));
    o
}

/// A keyspace with the shapes the fast paths must get right: built-in
/// objects in namespaces with and without a Namespace object, cluster-scoped
/// objects (one whose name holds a `/`), custom resources, keys outside the
/// prefix (one starting like a searched namespace), and a value that does
/// not decode.
fn seed(c: &Cluster) {
    crate::support::etcdctl::runtime().block_on(async {
        let client = crate::support::etcdctl::client(c).await;
        let mut puts: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut put = |o: objects::Object| puts.push((o.key.into_bytes(), o.value));
        // Namespace objects for ns-0..ns-3 and kube-system; ns-4, ns-5,
        // deploy and ghost have none.
        for (n, name) in ["ns-0", "ns-1", "ns-2", "ns-3", "kube-system"]
            .iter()
            .enumerate()
        {
            put(objects::namespace(name, n as u64));
        }
        put(objects::widget_crd());
        for i in 0..700 {
            put(objects::mixed(i, 6, (i % 5) as usize * 100));
        }
        for name in ["pod-42", "pod-421", "pod-4299", "pod-43"] {
            put(objects::pod("ns-2", name, 1, 0));
        }
        put(objects::pod("ns-20", "pod-42", 1, 0));
        for name in ["coredns-1", "web-1", "web-2"] {
            put(objects::pod("kube-system", name, 2, 0));
        }
        put(objects::configmap("kube-system", "web-config", 3, 0));
        for name in ["web-a", "web-b", "db-1"] {
            put(objects::pod("deploy", name, 4, 0));
        }
        put(objects::deployment("deploy", "web-x", 5, 2, 0));
        for name in ["web-1", "web-2", "api"] {
            put(objects::deployment("ghost", name, 6, 1, 0));
        }
        put(objects::event("ghost", "web-1.1", 7, 0));
        for (k, v) in [
            (
                "/registry/minions/node-1",
                r#"{"kind":"Node","apiVersion":"v1"}"#,
            ),
            (
                "/registry/minions/ns-2/pod-42z",
                r#"{"kind":"Node","apiVersion":"v1"}"#,
            ),
            (
                "/registry/clusterroles/web-admin",
                r#"{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1"}"#,
            ),
            (
                "/registry/gadgets.example.org/gizmos/ns-2/pod-42g",
                r#"{"kind":"Gizmo"}"#,
            ),
            (
                "/registry/gadgets.example.org/gizmos/ghost/web-g",
                r#"{"kind":"Gizmo"}"#,
            ),
            (
                "/registry/gadgets.example.org/knobs/web-k",
                r#"{"kind":"Knob"}"#,
            ),
            ("/registry/masterleases/10.0.0.1", "internal"),
            ("ns-2/pod-42-outside", "outside the prefix"),
            ("plain-key", "v"),
        ] {
            puts.push((k.as_bytes().to_vec(), v.as_bytes().to_vec()));
        }
        // Not a value kube-apiserver would write: it fails to decode.
        puts.push((
            b"/registry/pods/ns-1/broken".to_vec(),
            b"\x01\x02garbage".to_vec(),
        ));
        let mut kv = client.kv_client();
        for chunk in puts.chunks(128) {
            let ops: Vec<TxnOp> = chunk
                .iter()
                .map(|(k, v)| TxnOp::put(k.clone(), v.clone(), None))
                .collect();
            kv.txn(Txn::new().and_then(ops)).await.unwrap();
        }
    });
}

fn seeded() -> Cluster {
    let c = Cluster::single();
    seed(&c);
    c
}

/// Every key in etcd, read by etcdctl.
fn all_keys(c: &Cluster) -> Vec<Vec<u8>> {
    let o = c.etcdctl(&["get", "", "--from-key", "--keys-only", "-w", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", cli::stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    v["kvs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| b64.decode(kv["key"].as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn get_all_decoded_on_every_core_prints_what_one_thread_prints() {
    let c = seeded();
    for format in ["json", "yaml"] {
        let args = |workers: &str| -> Vec<String> {
            [
                "get",
                "/registry/",
                "--all",
                "-o",
                format,
                PAGE,
                "--decode-workers",
                workers,
            ]
            .map(str::to_string)
            .to_vec()
        };
        let run_with = |workers: &str| {
            let a = args(workers);
            run(&c, &a.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let one = run_with("1");
        // The broken value: named on stderr, exit 1, the rest printed.
        assert_eq!(cli::code(&one), 1, "{}", cli::stderr(&one));
        assert!(
            cli::stderr(&one).contains("/registry/pods/ns-1/broken"),
            "{}",
            cli::stderr(&one)
        );
        let objects = if format == "json" {
            cli::stdout(&one).lines().count()
        } else {
            cli::stdout(&one).matches("\n---\n").count() + 1
        };
        assert!(objects > 700, "{format}: {objects} objects");
        for workers in ["2", "4"] {
            let many = run_with(workers);
            assert_eq!(cli::code(&many), 1);
            assert!(
                one.stdout == many.stdout,
                "{format}: {workers} workers print other bytes than one"
            );
            assert_eq!(
                cli::stderr(&one),
                cli::stderr(&many),
                "{format}: warnings and errors in the same order"
            );
        }
    }
}

/// (type, namespace or "") -> count of the keys under `/registry/`, by a
/// plain split of each key (support::keys), not the crate's parser.
fn brute_force_counts(
    keys: &[Vec<u8>],
    namespace: Option<&str>,
) -> BTreeMap<(String, String), u64> {
    let keys = keys
        .iter()
        .map(|k| std::str::from_utf8(k).expect("utf-8 key"))
        .filter(|k| k.starts_with("/registry/"));
    crate::support::keys::brute_force_counts(keys, namespace)
}

use crate::support::keys::reported_counts;

#[test]
fn count_by_namespace_from_the_index_equals_a_brute_force_count() {
    let c = seeded();
    let keys = all_keys(&c);
    let want = brute_force_counts(&keys, None);
    // Namespaces without a Namespace object are found between the others.
    for ns in ["ns-4", "ns-5", "deploy", "ghost", "ns-20"] {
        assert!(want.keys().any(|(_, n)| n == ns), "seed lacks {ns}");
    }
    let fast = ok(
        &c,
        &["count", "/registry/", "--by-namespace", "-o", "json", PAGE],
    );
    let fast: Value = serde_json::from_slice(&fast.stdout).unwrap();
    assert_eq!(reported_counts(&fast), want);
    let slow = ok(
        &c,
        &[
            "count",
            "/registry/",
            "--by-namespace",
            "-o",
            "json",
            PAGE,
            "--full-scan",
        ],
    );
    let slow: Value = serde_json::from_slice(&slow.stdout).unwrap();
    assert_eq!(fast["types"], slow["types"]);
    assert_eq!(fast["total"], slow["total"]);
    assert_eq!(fast["total"].as_u64().unwrap(), want.values().sum::<u64>());

    // -n: whole (type, namespace) prefixes, cluster-scoped types left out.
    for ns in ["ns-2", "ghost", "kube-system", "nowhere"] {
        let want = brute_force_counts(&keys, Some(ns));
        let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
        for ((t, _), n) in &want {
            *by_type.entry(t.clone()).or_default() += n;
        }
        let report = ok(&c, &["-n", ns, "count", "-o", "json", PAGE]);
        let report: Value = serde_json::from_slice(&report.stdout).unwrap();
        let got = crate::support::keys::reported_types(&report);
        assert_eq!(got, by_type, "-n {ns}");
        let both = ok(&c, &["-n", ns, "count", "--by-namespace", "-o", "json"]);
        let both: Value = serde_json::from_slice(&both.stdout).unwrap();
        assert_eq!(reported_counts(&both), want, "-n {ns} --by-namespace");
    }
}

#[test]
fn narrow_searches_find_what_the_full_scan_finds() {
    let c = seeded();
    for (args, narrowed) in [
        (&["ns-2/pod-42*"][..], true),
        (&["deploy/web-*"][..], true),
        (&["-n", "kube-system", "web"][..], true),
        (&["-n", "ghost", "web-*"][..], true),
        (&["--type", "pods", "web"][..], true),
        (&["web-*"][..], false),
        (&["--regex", "^web-[0-9]$"][..], false),
    ] {
        // `-n` is a global flag: it goes before the command.
        let (global, rest): (Vec<&str>, Vec<&str>) = match args {
            ["-n", ns, rest @ ..] => (vec!["-n", ns], rest.to_vec()),
            _ => (vec![], args.to_vec()),
        };
        let with = |extra: &[&'static str]| {
            let mut o = global.clone();
            o.extend(["-v", "search", "-o", "json", PAGE]);
            o.extend(rest.iter().copied());
            o.extend_from_slice(extra);
            o
        };
        let (fast, fast_read) = search_args(&c, &with(&[]));
        let (full, full_read) = search_args(&c, &with(&["--full-scan"]));
        assert!(!full.is_empty(), "{args:?}: the test wants hits");
        assert_eq!(
            fast, full,
            "{args:?}: narrowed hits differ from the full scan's"
        );
        if narrowed && !args.contains(&"--type") {
            assert!(
                fast_read * 4 < full_read,
                "{args:?}: read {fast_read} keys, the full scan {full_read}"
            );
        }
    }
    let (hits, _) = search_args(&c, &["search", "-o", "json", "-v", "ns-2/pod-42*"]);
    for key in [
        "/registry/pods/ns-2/pod-42\"",
        "/registry/pods/ns-2/pod-421\"",
        "/registry/minions/ns-2/pod-42z\"",
        "/registry/gadgets.example.org/gizmos/ns-2/pod-42g\"",
        "\"ns-2/pod-42-outside\"",
    ] {
        assert!(hits.contains(key), "{key} missing from\n{hits}");
    }
    assert!(!hits.contains("ns-20/"), "{hits}");
}

/// Hits as JSON lines, and the keys the scan read (from `-v`).
fn search_args(c: &Cluster, args: &[&str]) -> (String, u64) {
    let o = run(c, args);
    assert!(
        matches!(cli::code(&o), 0 | 1),
        "{args:?}: {}",
        cli::stderr(&o)
    );
    let err = cli::stderr(&o);
    let read = err
        .lines()
        .find_map(|l| l.strip_prefix("read ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{args:?}: no `read N keys` note in {err}"));
    (cli::stdout(&o), read)
}

#[test]
fn search_values_decoded_on_every_core_prints_what_one_thread_prints() {
    let c = seeded();
    let run_with = |workers: &str| {
        run(
            &c,
            &[
                "search",
                "--values",
                "app=app-7",
                "-o",
                "json",
                PAGE,
                "--decode-workers",
                workers,
            ],
        )
    };
    let one = run_with("1");
    assert_eq!(cli::code(&one), 0, "{}", cli::stderr(&one));
    let hits = cli::stdout(&one);
    assert!(
        hits.lines().count() > 10 && hits.contains("\"field\":\"metadata.labels.app\""),
        "{hits}"
    );
    // The broken value is matched on its key only, and said so.
    assert!(cli::stderr(&one).contains("could not be decoded"));
    for workers in ["2", "4"] {
        let many = run_with(workers);
        assert_eq!(cli::code(&many), 0);
        assert_eq!(hits, cli::stdout(&many), "{workers} workers");
        assert_eq!(cli::stderr(&one), cli::stderr(&many), "{workers} workers");
    }
}
