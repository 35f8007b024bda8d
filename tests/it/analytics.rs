//! Keyspace analytics (`size --by-type`, `search`, `custom`, `count`) and
//! paging of `ls` and `get --all`, against real etcd. Every number is
//! checked against a brute-force computation from a full `etcdctl get`.

use crate::support;

use crate::objects;

use std::collections::BTreeMap;
use std::process::Output;

use base64::Engine as _;
use etcd_client::{PutOptions, Txn, TxnOp};
use serde_json::Value;
use support::{cli, keys, Cluster};

/// Small pages so every scan crosses many of them.
const PAGE: &str = "--page-keys=37";
const OBJECTS: u64 = 2500;

fn run(c: &Cluster, args: &[&str]) -> Output {
    cli::run_on(c, args)
}

fn ok(c: &Cluster, args: &[&str]) -> String {
    cli::stdout(&cli::run_code(c, args, 0))
}

fn json(c: &Cluster, args: &[&str]) -> Value {
    cli::json_on(c, args)
}

fn json_lines(c: &Cluster, args: &[&str]) -> Vec<Value> {
    cli::json_lines(&cli::run_code(c, args, 0))
}

/// One key as etcd holds it.
#[derive(Debug, Clone)]
struct Kv {
    key: Vec<u8>,
    value: Vec<u8>,
    lease: i64,
}

impl Kv {
    fn size(&self) -> u64 {
        (self.key.len() + self.value.len()) as u64
    }
    fn key_str(&self) -> String {
        String::from_utf8_lossy(&self.key).into_owned()
    }
    /// Labelled by a plain split of the key (not the crate's parser).
    fn info(&self) -> keys::Label<'_> {
        keys::label(std::str::from_utf8(&self.key).expect("utf-8 key"))
    }
    fn type_name(&self) -> String {
        self.info().type_name
    }
}

/// Everything in etcd, read in one go by etcdctl.
fn brute_force(c: &Cluster) -> Vec<Kv> {
    let o = c.etcdctl(&["get", "", "--from-key", "-w", "json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    v["kvs"]
        .as_array()
        .map(|kvs| {
            kvs.iter()
                .map(|kv| Kv {
                    key: b64.decode(kv["key"].as_str().unwrap()).unwrap(),
                    value: kv["value"]
                        .as_str()
                        .map(|s| b64.decode(s).unwrap())
                        .unwrap_or_default(),
                    lease: kv["lease"].as_i64().unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A keyspace with every shape the analytics must handle: built-in objects
/// in several namespaces with varied sizes, a CRD and its objects, a custom
/// resource type without CRD, keys outside `/registry`, and events attached
/// to leases (30 on one, 5 on another).
fn seed(c: &Cluster) {
    support::etcdctl::runtime().block_on(async {
        let mut client = support::etcdctl::client(c).await;
        let l1 = client.lease_grant(3600, None).await.unwrap().id();
        let l2 = client.lease_grant(3600, None).await.unwrap().id();
        let mut puts: Vec<(Vec<u8>, Vec<u8>, i64)> = Vec::new();
        for n in 0..4 {
            let o = objects::namespace(&format!("ns-{n}"), n);
            puts.push((o.key.into_bytes(), o.value, 0));
        }
        let crd = objects::widget_crd();
        puts.push((crd.key.into_bytes(), crd.value, 0));
        for i in 0..OBJECTS {
            let o = objects::mixed(i, 4, (i % 7) as usize * 150);
            puts.push((o.key.into_bytes(), o.value, 0));
        }
        for i in 0..35 {
            let o = objects::event("ns-leased", &format!("leased-{i}"), i, 0);
            puts.push((o.key.into_bytes(), o.value, if i < 30 { l1 } else { l2 }));
        }
        for (k, v) in [
            (
                "/registry/gadgets.example.org/gizmos/ns-1/g1",
                r#"{"kind":"Gizmo"}"#,
            ),
            (
                "/registry/gadgets.example.org/gizmos/ns-2/g2",
                r#"{"kind":"Gizmo","spec":{"image":"nginx:1.25"}}"#,
            ),
            ("/other/app/config", "outside the prefix"),
            ("plain-key", "v"),
            ("/registry/masterleases/10.0.0.1", "internal"),
        ] {
            puts.push((k.as_bytes().to_vec(), v.as_bytes().to_vec(), 0));
        }
        // A big object that must lead --top.
        let big = objects::configmap("ns-0", "the-biggest", 1, 20_000);
        puts.push((big.key.into_bytes(), big.value, 0));
        let mut kv = client.kv_client();
        for chunk in puts.chunks(128) {
            let ops = chunk
                .iter()
                .map(|(k, v, lease)| {
                    let opts = (*lease != 0).then(|| PutOptions::new().with_lease(*lease));
                    TxnOp::put(k.clone(), v.clone(), opts)
                })
                .collect::<Vec<_>>();
            kv.txn(Txn::new().and_then(ops)).await.unwrap();
        }
    });
}

fn seeded() -> (Cluster, Vec<Kv>) {
    let c = Cluster::single();
    seed(&c);
    let all = brute_force(&c);
    assert!(all.len() as u64 > OBJECTS, "seeded {} keys", all.len());
    (c, all)
}

fn by_type(all: &[Kv]) -> BTreeMap<String, (u64, u64)> {
    let mut m = BTreeMap::new();
    for kv in all {
        let e = m.entry(kv.type_name()).or_insert((0, 0));
        e.0 += 1;
        e.1 += kv.size();
    }
    m
}

#[test]
fn size_by_type_matches_brute_force_across_many_pages() {
    let (c, all) = seeded();
    let report = json(
        &c,
        &[
            "size",
            "--by-type",
            "--by-namespace",
            "--top",
            "5",
            PAGE,
            "-o",
            "json",
        ],
    );
    assert_eq!(report["members"].as_array().unwrap().len(), 1);
    let k = &report["keyspace"];
    let expected = by_type(&all);
    let total: u64 = all.iter().map(Kv::size).sum();
    assert_eq!(k["totalKeys"], all.len() as u64);
    assert_eq!(k["totalBytes"], total);
    let types = k["types"].as_array().unwrap();
    let got: BTreeMap<String, (u64, u64)> = types
        .iter()
        .map(|t| {
            (
                t["type"].as_str().unwrap().to_string(),
                (t["count"].as_u64().unwrap(), t["bytes"].as_u64().unwrap()),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Keys outside the prefix are counted too.
    assert!(
        got.contains_key("plain-key") && got.contains_key("/other/app"),
        "{got:?}"
    );
    // Largest first; share, average and largest per type.
    let bytes: Vec<u64> = types.iter().map(|t| t["bytes"].as_u64().unwrap()).collect();
    assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "{bytes:?}");
    for t in types {
        let name = t["type"].as_str().unwrap();
        let of_type: Vec<&Kv> = all.iter().filter(|kv| kv.type_name() == name).collect();
        let max = of_type.iter().map(|kv| kv.size()).max().unwrap();
        assert_eq!(t["largest"]["bytes"], max, "{name}");
        assert_eq!(
            t["averageBytes"],
            t["bytes"].as_u64().unwrap() / t["count"].as_u64().unwrap()
        );
        let share = t["sharePercent"].as_f64().unwrap();
        let want = t["bytes"].as_f64().unwrap() * 100.0 / total as f64;
        assert!((share - want).abs() <= 0.05, "{name}: {share} vs {want}");
        // Namespaces add up to the type.
        let ns = t["namespaces"].as_array().unwrap();
        let sum: u64 = ns.iter().map(|n| n["bytes"].as_u64().unwrap()).sum();
        assert_eq!(sum, t["bytes"].as_u64().unwrap(), "{name}");
    }
    let pods = types.iter().find(|t| t["type"] == "pods").unwrap();
    let ns1: u64 = all
        .iter()
        .filter(|kv| kv.type_name() == "pods" && kv.info().namespace == Some("ns-1"))
        .map(Kv::size)
        .sum();
    let row = pods["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["namespace"] == "ns-1")
        .unwrap();
    assert_eq!(row["bytes"], ns1);

    // --top: the 5 largest, in order, ties by key.
    let mut sorted: Vec<&Kv> = all.iter().collect();
    sorted.sort_by(|a, b| b.size().cmp(&a.size()).then(a.key.cmp(&b.key)));
    let top: Vec<(String, u64)> = k["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_string(),
                o["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = sorted[..5]
        .iter()
        .map(|kv| (kv.key_str(), kv.size()))
        .collect();
    assert_eq!(top, want);
    assert_eq!(top[0].0, "/registry/configmaps/ns-0/the-biggest");

    // Lease pressure: 2 leases, 35 keys on them, 30 at most.
    let l = &k["leases"];
    assert_eq!(l["leases"], 2);
    assert_eq!(l["leasesWithKeys"], 2);
    assert_eq!(
        l["keysWithLease"],
        all.iter().filter(|kv| kv.lease != 0).count() as u64
    );
    assert_eq!(l["keysPerLeaseMax"], 30);
    assert_eq!(l["keysPerLeaseAverage"], 17.5);
    let events = types.iter().find(|t| t["type"] == "events").unwrap();
    assert_eq!(events["leasedKeys"], 35);

    // One type, one namespace: the same numbers as the brute force.
    let ev = json(&c, &["size", "events", "-n", "ns-2", PAGE, "-o", "json"]);
    let want: Vec<&Kv> = all
        .iter()
        .filter(|kv| kv.type_name() == "events" && kv.info().namespace == Some("ns-2"))
        .collect();
    assert_eq!(ev["keyspace"]["totalKeys"], want.len() as u64);
    assert_eq!(
        ev["keyspace"]["totalBytes"],
        want.iter().map(|kv| kv.size()).sum::<u64>()
    );
    assert_eq!(
        ev["keyspace"]["top"].as_array().unwrap().len(),
        10,
        "default --top"
    );

    // The table shows a share bar, a total and the lease table.
    let table = ok(&c, &["size", "--by-type", PAGE]);
    assert!(table.contains("█") && table.contains("TOTAL"), "{table}");
    assert!(table.contains("KEYS WITH LEASE"), "{table}");
    // Without analytics flags: only the member table, as before.
    let plain = json(&c, &["size", "-o", "json"]);
    assert!(plain.get("keyspace").is_none());
}

#[test]
fn count_by_namespace_and_namespace_filter_match_brute_force() {
    let (c, all) = seeded();
    let report = json(&c, &["count", PAGE, "-o", "json"]);
    assert_eq!(report["total"], all.len() as u64);
    let got = crate::support::keys::reported_types(&report);
    let want: BTreeMap<String, u64> = by_type(&all).into_iter().map(|(k, v)| (k, v.0)).collect();
    assert_eq!(got, want);

    let report = json(&c, &["count", "--by-namespace", PAGE, "-o", "json"]);
    let names: Vec<String> = all.iter().map(Kv::key_str).collect();
    let want = keys::brute_force_counts(names.iter().map(String::as_str), None);
    assert_eq!(keys::reported_counts(&report), want);

    let report = json(&c, &["count", "-n", "ns-3", PAGE, "-o", "json"]);
    let want = all
        .iter()
        .filter(|kv| kv.info().namespace == Some("ns-3"))
        .count() as u64;
    assert_eq!(report["total"], want);
    let pods = json(&c, &["count", "pods", "-n", "ns-3", PAGE, "-o", "json"]);
    let want = all
        .iter()
        .filter(|kv| kv.type_name() == "pods" && kv.info().namespace == Some("ns-3"))
        .count() as u64;
    assert_eq!(pods["total"], want);
}

#[test]
fn search_substring_glob_regex_values_and_no_match() {
    let (c, all) = seeded();
    let keys = |hits: &[Value]| -> Vec<String> {
        hits.iter()
            .map(|h| h["key"].as_str().unwrap().to_string())
            .collect()
    };
    // Substring: anywhere in the key.
    let hits = json_lines(&c, &["search", "ns-1/pod-1", PAGE, "-o", "json"]);
    let want: Vec<String> = all
        .iter()
        .map(Kv::key_str)
        .filter(|k| k.contains("ns-1/pod-1"))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(keys(&hits), want);
    assert!(hits
        .iter()
        .all(|h| h["type"] == "pods" && h["namespace"] == "ns-1"));

    // Glob: the whole name, namespace/name or key.
    let hits = json_lines(&c, &["search", "widget-1?", PAGE, "-o", "json"]);
    let want: Vec<String> = all
        .iter()
        .filter(|kv| {
            let name = kv.info().name;
            name.len() == 9 && name.starts_with("widget-1")
        })
        .map(Kv::key_str)
        .collect();
    assert!(!want.is_empty());
    assert_eq!(keys(&hits), want);
    let hits = json_lines(&c, &["search", "/other/*", PAGE, "-o", "json"]);
    assert_eq!(keys(&hits), vec!["/other/app/config"]);

    // Regex, with --type and -n.
    let hits = json_lines(
        &c,
        &[
            "search",
            "--regex",
            "^ns-0/cm-1[0-9]*2$",
            "--type",
            "configmaps",
            PAGE,
            "-o",
            "json",
        ],
    );
    let re = regex::Regex::new("^cm-1[0-9]*2$").unwrap();
    let want: Vec<String> = all
        .iter()
        .filter(|kv| {
            let i = kv.info();
            kv.type_name() == "configmaps" && i.namespace == Some("ns-0") && re.is_match(i.name)
        })
        .map(Kv::key_str)
        .collect();
    assert!(!want.is_empty());
    assert_eq!(keys(&hits), want);
    let hits = json_lines(
        &c,
        &["search", "leased-3", "-n", "ns-leased", PAGE, "-o", "json"],
    );
    assert_eq!(hits.len(), 6, "leased-3 and leased-30..34");

    // --values: a label as field=value, an image, and the field path.
    let hits = json_lines(
        &c,
        &[
            "search",
            "--values",
            "app=app-15",
            "--type",
            "deployments",
            "-n",
            "ns-3",
            PAGE,
            "-o",
            "json",
        ],
    );
    // Seeded by objects::mixed(i, 4, ..): deployments are i % 20 in 15..=16
    // in ns-{i % 4}, labelled app-{i % 50}; here i = 15 + 100k.
    let mut want: Vec<String> = (0..OBJECTS)
        .filter(|i| (15..=16).contains(&(i % 20)) && i % 4 == 3 && i % 50 == 15)
        .map(|i| format!("/registry/deployments/ns-3/deploy-{i}"))
        .collect();
    want.sort();
    assert_eq!(want.len(), 25);
    assert_eq!(keys(&hits), want, "one hit per matching object");
    for h in &hits {
        assert_eq!(h["field"], "metadata.labels.app", "{h}");
    }
    let hits = json_lines(
        &c,
        &["search", "--values", "nginx:1.25", PAGE, "-o", "json"],
    );
    assert_eq!(
        keys(&hits),
        vec!["/registry/gadgets.example.org/gizmos/ns-2/g2"]
    );
    assert_eq!(hits[0]["field"], "spec.image");
    let table = ok(&c, &["search", "--values", "nginx:1.25"]);
    assert!(table.starts_with("TYPE") && table.contains("FIELD") && table.contains("spec.image"));

    // Nothing: exit 1 like grep, with a message on stderr.
    for args in [
        vec!["search", "no-such-thing"],
        vec!["search", "--regex", "^zzz"],
        vec!["search", "--values", "no-such-image:9"],
    ] {
        let o = run(&c, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(o.stdout.is_empty());
        assert!(String::from_utf8_lossy(&o.stderr).contains("matches"));
    }
    let o = run(&c, &["search", "--regex", "("]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn custom_lists_crd_types_and_types_without_crd() {
    let (c, all) = seeded();
    let report = json(&c, &["custom", "-o", "json"]);
    let types = report["types"].as_array().unwrap();
    let widgets = types
        .iter()
        .find(|t| t["type"] == "widgets.example.com")
        .unwrap_or_else(|| panic!("{report}"));
    let want = all
        .iter()
        .filter(|kv| kv.type_name() == "widgets.example.com")
        .count() as u64;
    assert_eq!(widgets["count"], want);
    assert_eq!(widgets["scope"], "Namespaced");
    assert_eq!(widgets["crd"], true);
    assert_eq!(widgets["kind"], "Widget");
    assert_eq!(widgets["version"], "v1");
    let gizmos = types
        .iter()
        .find(|t| t["type"] == "gizmos.gadgets.example.org")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(gizmos["crd"], false);
    assert_eq!(gizmos["count"], 2);
    assert_eq!(gizmos["scope"], "Namespaced");
    assert_eq!(types.len(), 2, "no built-in type is custom: {report}");

    let ns = json(&c, &["custom", "-n", "ns-1", "-o", "json"]);
    let want = all
        .iter()
        .filter(|kv| kv.type_name() == "widgets.example.com" && kv.info().namespace == Some("ns-1"))
        .count() as u64;
    let w = ns["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "widgets.example.com")
        .unwrap();
    assert_eq!(w["count"], want);

    let table = ok(&c, &["custom"]);
    assert!(
        table.contains("missing") && table.contains("Namespaced"),
        "{table}"
    );

    // One type's objects, over many pages.
    let objs = json_lines(&c, &["custom", "widgets", PAGE, "-o", "json"]);
    let want: Vec<(String, u64)> = all
        .iter()
        .filter(|kv| kv.type_name() == "widgets.example.com")
        .map(|kv| (kv.info().name.to_string(), kv.size()))
        .collect();
    let got: Vec<(String, u64)> = objs
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let gizmos = json_lines(&c, &["custom", "gizmos.gadgets.example.org", "-o", "json"]);
    assert_eq!(gizmos.len(), 2);
    let o = run(&c, &["custom", "pods"]);
    assert_eq!(o.status.code(), Some(2), "a built-in type is not custom");
}

#[test]
fn ls_and_get_all_page_through_every_key_once() {
    let (c, all) = seeded();
    let rows = json_lines(&c, &["ls", "pods", PAGE, "-o", "json"]);
    let want: Vec<(String, u64)> = all
        .iter()
        .filter(|kv| kv.type_name() == "pods")
        .map(|kv| (kv.key_str(), kv.size()))
        .collect();
    assert!(want.len() > 37 * 5, "many pages: {}", want.len());
    let got: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    // Every key, including those outside the prefix.
    let rows = json_lines(&c, &["ls", PAGE, "-o", "json"]);
    assert_eq!(rows.len(), all.len());
    // The table streams too.
    let table = ok(&c, &["ls", "configmaps", "-n", "ns-0", PAGE]);
    let want = all
        .iter()
        .filter(|kv| kv.type_name() == "configmaps" && kv.info().namespace == Some("ns-0"))
        .count();
    // A page with wider cells prints the header again above its rows.
    let rows = table.lines().filter(|l| !l.starts_with("TYPE ")).count();
    assert_eq!(rows, want, "{table}");
    assert!(table.starts_with("TYPE "), "{table}");

    let objs = json_lines(&c, &["get", "configmaps", "--all", PAGE, "-o", "json"]);
    let want: Vec<String> = all
        .iter()
        .filter(|kv| kv.type_name() == "configmaps")
        .map(|kv| kv.info().name.to_string())
        .collect();
    let got: Vec<String> = objs
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, want);
}

/// Three members with the seeded keyspace, its brute-force read, and the
/// keys a search for `pod-1` must find, in key order.
fn three_members_seeded() -> (Cluster, Vec<Kv>, Vec<String>) {
    let c = Cluster::start(support::ClusterOpts {
        members: 3,
        ..Default::default()
    });
    seed(&c);
    let all = brute_force(&c);
    let pods_1: Vec<String> = all
        .iter()
        .map(Kv::key_str)
        .filter(|k| k.contains("pod-1"))
        .collect();
    assert!(pods_1.len() > 100, "{} hits", pods_1.len());
    (c, all, pods_1)
}

/// Scans read their pieces from every member at one revision: on three
/// members the answers still equal a brute-force read, listings and search
/// hits still come in key order, and a member that is down (first in
/// --endpoints or not) takes no part instead of failing the scan.
#[test]
fn scans_spread_over_members_match_brute_force_with_a_member_down() {
    let (mut c, all, pods_1) = three_members_seeded();
    let every_key: Vec<String> = all.iter().map(Kv::key_str).collect();
    let check = |c: &Cluster, when: &str, size_code: i32| {
        let keys = |rows: Vec<Value>| -> Vec<String> {
            rows.iter()
                .map(|r| r["key"].as_str().unwrap().to_string())
                .collect()
        };
        let listed = keys(json_lines(c, &["ls", PAGE, "-o", "json"]));
        assert_eq!(listed, every_key, "ls {when}");
        let hits = keys(json_lines(c, &["search", "pod-1", PAGE, "-o", "json"]));
        assert_eq!(hits, pods_1, "search {when}");
        let count = json(c, &["count", "--by-namespace", PAGE, "-o", "json"]);
        assert_eq!(count["total"], all.len() as u64, "count {when}");
        // `size` also reports every member, and says so in its exit code
        // when one is down; its keyspace part is whole either way.
        let o = run(c, &["size", "--by-type", PAGE, "-o", "json"]);
        assert_eq!(
            o.status.code(),
            Some(size_code),
            "size {when}: {}",
            crate::support::output_text(&o)
        );
        let size: Value = serde_json::from_slice(&o.stdout).expect("size JSON");
        assert_eq!(
            size["keyspace"]["totalBytes"],
            all.iter().map(Kv::size).sum::<u64>(),
            "size {when}: {size}"
        );
    };
    // A member down is a failed row: exit 1.
    check(&c, "with every member up", 0);
    c.stop(2);
    check(&c, "with the last member down", 1);
    c.restart(2);
    c.stop(0);
    check(&c, "with the first member down", 1);
}

/// With quorum lost, `--consistency s` still shows what the surviving
/// member holds: every count and search equals a brute-force read taken
/// before the loss, while a linearizable scan fails with a hint.
#[test]
fn serializable_scans_work_without_quorum() {
    let (mut c, all, pods_1) = three_members_seeded();
    // The survivor is in the middle of --endpoints.
    c.stop(0);
    c.stop(2);

    let o = run(&c, &["count", "--command-timeout=2s", "-o", "json"]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "a linearizable count without quorum"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--consistency s"), "{err}");

    let s = "--consistency=s";
    let report = json(&c, &["count", s, "-o", "json"]);
    assert_eq!(report["total"], all.len() as u64);
    let report = json(&c, &["count", "--by-namespace", s, PAGE, "-o", "json"]);
    assert_eq!(report["total"], all.len() as u64);
    let hits: Vec<String> = json_lines(&c, &["search", "pod-1", s, PAGE, "-o", "json"])
        .iter()
        .map(|h| h["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hits, pods_1);
    let listed = json_lines(&c, &["ls", s, PAGE, "-o", "json"]);
    assert_eq!(listed.len(), all.len());
}

/// Regression: with the first member in --endpoints frozen (SIGSTOP: the
/// kernel still accepts its connections, as for a member stuck on a dead
/// disk), every keyspace command waited out --command-timeout on it and
/// failed saying the cluster may have lost quorum, while two members
/// answered. A member must answer one read before it serves the command.
#[test]
fn keyspace_commands_go_on_past_a_frozen_first_member() {
    let mut c = Cluster::start(support::ClusterOpts {
        members: 3,
        ..Default::default()
    });
    for i in 0..5 {
        let cm = crate::objects::configmap("default", &format!("cm{i}"), i, 0);
        crate::support::etcdctl::put_raw(&c, &cm.key, &cm.value);
    }
    // The frozen member is a follower: freezing the leader is an election,
    // which a linearizable read rightly reports.
    if c.leader_index() == 0 {
        let to = format!("{:x}", c.member_id(1));
        c.ctl().endpoint(0).ok(&["move-leader", &to]);
        assert_ne!(c.leader_index(), 0, "leadership moved off member 0");
    }
    c.pause(0);
    let count = json(&c, &["count", "-o", "json"]);
    assert_eq!(count["total"], 5, "{count}");
    for args in [
        &["ls", "configmaps"][..],
        &["get", "cm/default/cm3"],
        &["history", "cm/default/cm3"],
        &["search", "cm"],
        &["lease", "list"],
    ] {
        let o = run(&c, args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            crate::support::output_text(&o)
        );
    }
    c.resume(0);
}
