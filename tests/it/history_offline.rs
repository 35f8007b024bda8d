//! Offline history and what compaction would free, against real etcd:
//! `snapshot inspect FILE --history REF` prints what live `history` prints
//! (revisions checked against etcdctl), stops at a compaction and says so;
//! `size --history` and `snapshot inspect FILE --history-size` account for
//! a rewritten key's old versions byte for byte, agree with each other, and
//! drop to nothing after a compaction at the current revision.

use crate::objects;
use crate::support;
use crate::timeline::widget_by;

use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};
use support::cli::{code, plugin, stderr, stdout};
use support::{Cluster, ClusterOpts};

fn run(c: &Cluster, args: &[&str]) -> Output {
    plugin()
        .args(["--endpoints", &c.endpoints()])
        .args(args)
        .output()
        .expect("run kubectl-etcd")
}

fn ok(out: &Output) -> String {
    assert_eq!(
        code(out),
        0,
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn put_bytes(c: &Cluster, key: &str, value: Vec<u8>) -> i64 {
    let out = c.ctl().stdin(value).run(&["put", key, "-w", "json"]);
    assert!(out.status.success(), "{}", support::output_text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["header"]["revision"].as_i64().unwrap()
}

/// The mod revision etcdctl reports for `key` at `rev` (0: now).
fn etcdctl_mod_revision(c: &Cluster, key: &str, rev: i64) -> Option<i64> {
    let rev = format!("--rev={rev}");
    let out = c.ctl().ok(&["get", key, &rev, "-w", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["kvs"][0]["mod_revision"].as_i64()
}

fn save(c: &Cluster, file: &Path) {
    ok(&run(c, &["snapshot", "save", file.to_str().unwrap()]));
}

fn offline(c: &Cluster, file: &Path, args: &[&str]) -> Output {
    let mut all = vec!["snapshot", "inspect", file.to_str().unwrap()];
    all.extend_from_slice(args);
    run(c, &all)
}

#[test]
fn offline_history_from_a_snapshot_matches_live_history_and_stops_at_a_compaction() {
    let c = Cluster::start(ClusterOpts::members(1));
    let dir = tempfile::tempdir().unwrap();
    let w = objects::widget("default", "hist", 1, 0);
    let base: Value = serde_json::from_slice(&w.value).unwrap();
    let created = (
        "kubectl-client-side-apply",
        "Update",
        "2024-05-01T10:00:00Z",
    );
    let hpa = ("hpa", "Update", "2024-05-02T10:00:00Z");
    let argo = ("argocd", "Apply", "2024-05-03T10:00:00Z");
    let edit = ("kubectl-edit", "Update", "2024-05-04T10:00:00Z");
    let r1 = put_bytes(
        &c,
        &w.key,
        widget_by(&base, &[created], |v| v["spec"]["size"] = json!(1)),
    );
    c.put("/registry/configmaps/other/noise-1", "x");
    let r2 = put_bytes(
        &c,
        &w.key,
        widget_by(&base, &[created, hpa], |v| v["spec"]["size"] = json!(2)),
    );
    let r3 = put_bytes(
        &c,
        &w.key,
        widget_by(&base, &[created, hpa, argo], |v| {
            v["spec"]["size"] = json!(2);
            v["spec"]["color"] = json!("red");
        }),
    );
    let r4 = put_bytes(
        &c,
        &w.key,
        widget_by(&base, &[created, hpa, argo, edit], |v| {
            v["spec"]["size"] = json!(2);
            v["spec"]["color"] = json!("red");
            v["metadata"]["labels"] = json!({"tier": "web"});
        }),
    );
    let out = c.ctl().ok(&["del", &w.key, "-w", "json"]);
    let deleted = serde_json::from_str::<Value>(&out).unwrap()["header"]["revision"]
        .as_i64()
        .unwrap();
    c.put("/registry/configmaps/other/noise-2", "x");
    let again = ("kubectl-create", "Update", "2024-06-01T00:00:00Z");
    let r5 = put_bytes(
        &c,
        &w.key,
        widget_by(&base, &[again], |v| v["spec"]["size"] = json!(9)),
    );
    // A secret, to check redaction offline.
    let s1 = objects::secret("default", "db", 1, 0);
    let s2 = objects::secret("default", "db", 2, 0);
    put_bytes(&c, &s1.key, s1.value);
    put_bytes(&c, &s2.key, s2.value);

    let file = dir.path().join("before.db");
    save(&c, &file);
    let reference = "widgets.example.com/default/hist";
    for extra in [
        &["--objects"][..],
        &["--limit", "2"][..],
        &["--since-revision", &r3.to_string()][..],
        &["--all-fields", "--limit", "4"][..],
    ] {
        let mut live_args = vec!["history", reference, "-o", "json"];
        live_args.extend_from_slice(extra);
        let live = json_lines(&ok(&run(&c, &live_args)));
        let mut off_args = vec!["--history", reference, "-o", "json"];
        off_args.extend_from_slice(extra);
        let out = offline(&c, &file, &off_args);
        let off = json_lines(&ok(&out));
        assert_eq!(off, live, "{extra:?}\n{}", stderr(&out));
    }
    let out = offline(&c, &file, &["--history", reference, "-o", "json"]);
    let lines = json_lines(&ok(&out));
    assert!(
        stderr(&out).contains("the whole retained history"),
        "{}",
        stderr(&out)
    );
    let revs: Vec<(i64, &str, Option<&str>)> = lines
        .iter()
        .map(|l| {
            (
                l["revision"].as_i64().unwrap(),
                l["event"].as_str().unwrap(),
                l["manager"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        revs,
        vec![
            (r5, "ADDED", Some("kubectl-create")),
            (deleted, "DELETED", None),
            (r4, "MODIFIED", Some("kubectl-edit")),
            (r3, "MODIFIED", Some("argocd")),
            (r2, "MODIFIED", Some("hpa")),
            (r1, "ADDED", Some("kubectl-client-side-apply")),
        ]
    );
    // The revisions are etcd's own: etcdctl reads each version there.
    assert_eq!(etcdctl_mod_revision(&c, &w.key, 0), Some(r5));
    for r in [r4, r3, r2, r1] {
        assert_eq!(etcdctl_mod_revision(&c, &w.key, r), Some(r));
    }
    assert_eq!(etcdctl_mod_revision(&c, &w.key, deleted), None);
    assert_eq!(
        lines[3]["diff"],
        json!([{"path": "spec.color", "old": "blue", "new": "red"}])
    );
    // The table is the live one's too.
    let table = ok(&offline(&c, &file, &["--history", &w.key]));
    assert_eq!(table, ok(&run(&c, &["history", &w.key])));

    // Secrets stay redacted unless asked.
    let secret = ["--history", "secrets/default/db", "-o", "json", "--objects"];
    let hidden = ok(&offline(&c, &file, &secret));
    assert_eq!(json_lines(&hidden).len(), 2);
    assert!(
        !hidden.contains("czNjcjN0") && !hidden.contains("s3cr3t"),
        "{hidden}"
    );
    let mut show = secret.to_vec();
    show.push("--show-secrets");
    let shown = ok(&offline(&c, &file, &show));
    assert!(
        shown.contains("czNjcjN0LTI=") || shown.contains("s3cr3t-2"),
        "{shown}"
    );
    // History flags without --history are a usage error; an unknown key
    // is not found (exit 1).
    assert_eq!(code(&offline(&c, &file, &["--limit", "2"])), 2);
    assert_eq!(
        code(&offline(&c, &file, &["--history", "secrets/default/nope"])),
        1
    );

    // A compaction in the middle: the offline history stops there and says
    // so, as the live one does.
    c.ctl().ok(&["compaction", &r3.to_string()]);
    let after = dir.path().join("after.db");
    save(&c, &after);
    let out = offline(&c, &after, &["--history", reference, "-o", "json"]);
    support::cli::assert_history_stops_at(&out, &[r5, deleted, r4, r3], r3);
    let off = json_lines(&ok(&out));
    let err = stderr(&out);
    let live = run(&c, &["history", reference, "-o", "json"]);
    assert_eq!(off, json_lines(&ok(&live)));
    assert_eq!(err, stderr(&live));
}

/// The configmaps row of a history size report.
fn configmaps(h: &Value) -> &Value {
    h["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "configmaps")
        .unwrap_or_else(|| panic!("no configmaps row: {h}"))
}

#[test]
fn history_size_accounts_for_a_rewritten_keys_old_versions_live_and_offline() {
    let c = Cluster::start(ClusterOpts::members(1));
    let dir = tempfile::tempdir().unwrap();
    let key = "/registry/configmaps/default/churn";
    let urls: Vec<String> = c.endpoints().split(',').map(str::to_string).collect();
    // 500 writes of known, different sizes.
    let sizes: Vec<usize> = (0..500).map(|i| 100 + (i * 7) % 300).collect();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut client = etcd_client::Client::connect(&urls, None).await.unwrap();
            for s in &sizes {
                client.put(key, vec![b'x'; *s], None).await.unwrap();
            }
        });
    // The 499 old versions: each holds its key and its value.
    let old_bytes: u64 = sizes[..499].iter().map(|s| (s + key.len()) as u64).sum();

    let live_out = run(&c, &["size", "--history", "--top", "3", "-o", "json"]);
    let live: Value = serde_json::from_str(&ok(&live_out)).unwrap();
    let h = &live["history"];
    let cm = configmaps(h);
    assert_eq!(cm["oldRevisions"], 499, "{h}");
    assert_eq!(cm["oldBytes"], old_bytes, "{h}");
    assert_eq!(cm["currentKeys"], 1, "{h}");
    assert_eq!(cm["currentBytes"], (sizes[499] + key.len()) as u64, "{h}");
    assert_eq!(h["top"][0]["key"], key, "{h}");
    assert_eq!(h["top"][0]["oldRevisions"], 499, "{h}");
    assert_eq!(h["top"][0]["oldBytes"], old_bytes, "{h}");
    assert_eq!(h["top"][0]["approximate"], false, "{h}");
    // Compared with the db size in use, which holds at least those bytes.
    let in_use = h["dbSizeInUse"].as_u64().unwrap();
    assert!(in_use >= old_bytes, "{h}");
    assert!(h["oldSharePercent"].as_f64().unwrap() > 0.0, "{h}");
    // The keyspace breakdown is not run for --top with --history.
    assert!(live.get("keyspace").is_none(), "{live}");

    // Offline, from a snapshot taken before the compaction: the same.
    let file = dir.path().join("s.db");
    save(&c, &file);
    let out = offline(&c, &file, &["--history-size", "--top", "3", "-o", "json"]);
    let off: Value = serde_json::from_str(&ok(&out)).unwrap();
    for field in [
        "revision",
        "compactedRevision",
        "oldRevisions",
        "oldBytes",
        "currentKeys",
        "types",
        "top",
    ] {
        assert_eq!(off[field], h[field], "{field}: offline {off}\nlive {h}");
    }
    assert!(off["dbSize"].as_u64().unwrap() >= old_bytes, "{off}");
    // The table names the key and the totals.
    let table = ok(&offline(&c, &file, &["--history-size"]));
    assert!(
        table.contains("configmaps") && table.contains(key),
        "{table}"
    );

    // After a compaction at the current revision, nothing is left to free.
    let rev = h["revision"].as_i64().unwrap();
    c.ctl().ok(&["compaction", &rev.to_string()]);
    let after: Value =
        serde_json::from_str(&ok(&run(&c, &["size", "--history", "-o", "json"]))).unwrap();
    let h = &after["history"];
    assert_eq!(h["compactedRevision"], rev, "{h}");
    assert_eq!(h["oldRevisions"], 0, "{h}");
    assert_eq!(h["oldBytes"], 0, "{h}");
    assert_eq!(configmaps(h)["currentKeys"], 1, "{h}");
    assert_eq!(h["top"], json!([]), "{h}");
}

/// Regression: `size --history` fed every key's version at the compacted
/// revision (and, never compacted, every creation) to the top-keys sketch,
/// so past its 1,024 counters every top key came out `approximate` and
/// short of the versions evicted; `snapshot inspect --history-size` fed it
/// every entry alike. Only old revisions take counters now, both ways.
#[test]
fn history_size_top_keys_are_exact_with_more_keys_than_the_sketch_holds() {
    let c = Cluster::single();
    support::etcdctl::seed_in_txns(&c, "/registry/configmaps/default/quiet-", 1500, 100);
    let key = "/registry/configmaps/default/a-hot";
    let sizes = [1usize, 40, 70];
    let put = |size: usize| support::etcdctl::put_raw(&c, key, &vec![b'x'; size]);
    // The version kept at the compaction is the lightest in the keyspace.
    let rev = put(sizes[0]);
    c.ctl().ok(&["compaction", &rev.to_string()]);
    put(sizes[1]);
    put(sizes[2]);
    let old_bytes: u64 = sizes[..2].iter().map(|s| (s + key.len()) as u64).sum();

    let out = run(&c, &["size", "--history", "--top", "1", "-o", "json"]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    let h = &v["history"];
    assert_eq!(h["compactedRevision"], rev, "{h}");
    assert_eq!(
        (h["oldRevisions"].as_u64(), h["oldBytes"].as_u64()),
        (Some(2), Some(old_bytes)),
        "{h}"
    );
    let top = &h["top"][0];
    assert_eq!(top["key"], key, "{h}");
    assert_eq!(top["oldRevisions"], 2, "{h}");
    assert_eq!(top["oldBytes"], old_bytes, "{h}");
    assert_eq!(top["approximate"], false, "{h}");
    assert_eq!(h["top"].as_array().unwrap().len(), 1, "{h}");

    // Offline, from a snapshot of the same keyspace: the same, exactly.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    save(&c, &file);
    let out = offline(&c, &file, &["--history-size", "--top", "1", "-o", "json"]);
    let off: Value = serde_json::from_str(&ok(&out)).unwrap();
    for field in ["compactedRevision", "oldRevisions", "oldBytes", "top"] {
        assert_eq!(off[field], h[field], "{field}: offline {off}\nlive {h}");
    }
}
