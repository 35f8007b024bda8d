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
    etcdctl_kvs(c, &["get", "", "--from-key", "--keys-only", "-w", "json"])
        .into_iter()
        .map(|(k, _, _)| k)
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

/// `metadata.resourceVersion` as the reads before the one-pass edit set
/// it: the key's mod revision, replacing a stored one in place, else after
/// the last of name, generateName, namespace, selfLink, uid.
fn with_resource_version(mut obj: Value, rev: i64) -> Value {
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        let v = Value::String(rev.to_string());
        if let Some(slot) = meta.get_mut("resourceVersion") {
            *slot = v;
        } else {
            let at = meta
                .keys()
                .rposition(|k| {
                    ["name", "generateName", "namespace", "selfLink", "uid"].contains(&k.as_str())
                })
                .map_or(0, |i| i + 1);
            meta.shift_insert(at, "resourceVersion".to_string(), v);
        }
    }
    obj
}

/// Every key under `prefix` with its value and mod revision, read by
/// etcdctl, in key order.
fn all_values(c: &Cluster, prefix: &str) -> Vec<(Vec<u8>, Vec<u8>, i64)> {
    etcdctl_kvs(c, &["get", prefix, "--prefix", "-w", "json"])
}

/// (key, value, mod revision) of what an etcdctl `get -w json` printed.
fn etcdctl_kvs(c: &Cluster, args: &[&str]) -> Vec<(Vec<u8>, Vec<u8>, i64)> {
    let o = c.etcdctl(args);
    assert_eq!(o.status.code(), Some(0), "{}", cli::stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    v["kvs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|kv| {
            (
                b64.decode(kv["key"].as_str().unwrap()).unwrap(),
                kv.get("value")
                    .and_then(Value::as_str)
                    .map(|s| b64.decode(s).unwrap())
                    .unwrap_or_default(),
                kv["mod_revision"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// `get --all -o json` writes each object straight from the decoder's
/// text; its bytes are what parsing that text to a tree, redacting Secrets
/// and setting resourceVersion there, and printing the tree gave (the
/// output before the one-pass edit), object by object, on a keyspace of
/// built-in objects, Secrets, JSON custom resources and odd values.
#[test]
fn get_all_json_prints_the_bytes_the_decoded_tree_printed() {
    let c = seeded();
    let stored = all_values(&c, "/registry/");
    for show_secrets in [false, true] {
        let mut want = String::new();
        for (key, value, rev) in &stored {
            let Ok(decoded) = registry::value::decode(value, &Default::default()) else {
                continue;
            };
            let mut obj = decoded.to_value();
            if !show_secrets {
                registry::value::redact_secrets(&mut obj);
            }
            let line = serde_json::to_string(&with_resource_version(obj, *rev)).unwrap();
            assert!(!line.is_empty(), "{}", String::from_utf8_lossy(key));
            want.push_str(&line);
            want.push('\n');
        }
        let mut args = vec!["get", "/registry/", "--all", "-o", "json", PAGE];
        if show_secrets {
            args.push("--show-secrets");
        }
        let o = run(&c, &args);
        // The one broken value: exit 1, everything else printed.
        assert_eq!(cli::code(&o), 1, "{}", cli::stderr(&o));
        let got = cli::stdout(&o);
        assert!(got.lines().count() > 700, "{} lines", got.lines().count());
        assert_eq!(
            got.contains("<redacted "),
            !show_secrets,
            "show_secrets {show_secrets}"
        );
        for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            assert_eq!(g, w, "line {n}, show_secrets {show_secrets}");
        }
        assert!(got == want, "show_secrets {show_secrets}: other lines");
    }
}

/// The object's `metadata.resourceVersion` is the revision it is shown at
/// in `watch` (the event's; a deleted object's at the deletion, the state
/// before a modification at its own) and `snapshot inspect --get` (the
/// key's mod revision in the file), as in `get`.
#[test]
fn watch_and_snapshot_inspect_show_the_mod_revision_as_resource_version() {
    let c = Cluster::single();
    let rev = |key: &str| -> i64 {
        all_values(&c, key)
            .first()
            .map(|(_, _, r)| *r)
            .expect("the key exists")
    };
    let put = |o: &objects::Object| {
        let out = c.ctl().stdin(o.value.clone()).run(&["put", &o.key]);
        assert!(out.status.success(), "{}", cli::stderr(&out));
    };
    let rv = |obj: &Value| -> i64 {
        obj["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_else(|| panic!("no resourceVersion string: {obj}"))
            .parse()
            .unwrap()
    };
    let web1 = objects::pod("default", "web", 1, 0);
    put(&web1);
    let r1 = rev(&web1.key);
    put(&objects::pod("default", "web", 2, 0));
    let r2 = rev(&web1.key);
    let del = c.ctl().run(&["del", &web1.key]);
    assert!(del.status.success(), "{}", cli::stderr(&del));
    let secret = objects::secret("default", "db", 3, 0);
    put(&secret);
    let r4 = rev(&secret.key);
    assert!(r1 < r2 && r2 < r4);

    let from = r1.to_string();
    let watch = ["watch", "-o", "json", "--rev", &from, "--count", "4"];
    let o = run(&c, &[&watch[..], &["--timeout", "20s"]].concat());
    assert_eq!(cli::code(&o), 0, "{}", cli::stderr(&o));
    let ev: Vec<Value> = cli::stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "MODIFIED", "DELETED", "ADDED"]);
    assert_eq!(rv(&ev[0]["object"]), r1);
    assert_eq!(rv(&ev[1]["object"]), r2);
    assert_eq!(rv(&ev[1]["previous"]), r1);
    let deleted_at = ev[2]["revision"].as_i64().unwrap();
    assert!(deleted_at > r2);
    assert_eq!(rv(&ev[2]["object"]), deleted_at);
    assert_eq!(rv(&ev[3]["object"]), r4);
    // Where `get` puts it: right after uid.
    let meta = ev[3]["object"]["metadata"].as_object().unwrap();
    let keys: Vec<&str> = meta.keys().map(String::as_str).collect();
    let uid = keys.iter().position(|k| *k == "uid").unwrap();
    assert_eq!(keys[uid + 1], "resourceVersion", "{keys:?}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    let file = file.to_str().unwrap();
    let o = run(&c, &["snapshot", "save", file]);
    assert_eq!(cli::code(&o), 0, "{}", cli::stderr(&o));
    let offline = |args: &[&str]| cli::plugin().args(args).output().unwrap();
    let inspected = offline(&[
        "snapshot",
        "inspect",
        file,
        "--get",
        "secrets/default/db",
        "-o",
        "json",
    ]);
    assert_eq!(cli::code(&inspected), 0, "{}", cli::stderr(&inspected));
    let obj: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    assert_eq!(rv(&obj), r4);
    // The same object `get` shows live.
    let live = run(&c, &["get", "secrets/default/db", "-o", "json"]);
    assert_eq!(cli::code(&live), 0, "{}", cli::stderr(&live));
    assert_eq!(obj, serde_json::from_slice::<Value>(&live.stdout).unwrap());
    // An older state of the key, read at a revision before its last write.
    put(&objects::secret("default", "db", 4, 0));
    let at = r4.to_string();
    let file = dir.path().join("s2.db");
    let file = file.to_str().unwrap();
    let o = run(&c, &["snapshot", "save", file]);
    assert_eq!(cli::code(&o), 0, "{}", cli::stderr(&o));
    let old = offline(&[
        "snapshot",
        "inspect",
        file,
        "--get",
        "secrets/default/db",
        "--revision",
        &at,
        "-o",
        "json",
    ]);
    assert_eq!(cli::code(&old), 0, "{}", cli::stderr(&old));
    assert_eq!(rv(&serde_json::from_slice(&old.stdout).unwrap()), r4);
}
