//! Writes and reads that do not go through the plugin: the real etcdctl
//! (and, for bulk writes, one etcd-client connection), so tests can seed a
//! cluster and check what the plugin did against an independent reader.

use std::process::Output;

use base64::Engine as _;
use serde_json::Value;

use super::{output_text, Cluster};
use crate::objects::Object;

fn ok_output(c: &Cluster, what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}",
        c.failure_report(&format!("etcdctl {what} failed: {}", output_text(&out)))
    );
    out
}

/// Stores `value` (any bytes, through stdin) under `key` (which may start
/// with `-`) with etcdctl; returns the revision of the write.
pub fn put_raw(c: &Cluster, key: &str, value: &[u8]) -> i64 {
    let out = c
        .ctl()
        .stdin(value.to_vec())
        .run(&["put", "-w", "json", "--", key]);
    let out = ok_output(c, &format!("put {key}"), out);
    let v: Value = serde_json::from_slice(&out.stdout).expect("etcdctl put json");
    v["header"]["revision"].as_i64().expect("header.revision")
}

/// Stores a storage-form object with etcdctl.
pub fn put_object(c: &Cluster, o: &Object) {
    put_raw(c, &o.key, &o.value);
}

/// A current-thread runtime for the bulk helpers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// An etcd-client connection to every member of `c` (plain http).
pub async fn client(c: &Cluster) -> etcd_client::Client {
    let eps: Vec<String> = c.endpoints().split(',').map(str::to_string).collect();
    etcd_client::Client::connect(eps, None)
        .await
        .expect("connect etcd-client")
}

/// Stores many key/value pairs through one etcd-client connection
/// (etcdctl per key is slow), in order.
pub fn put_pairs(c: &Cluster, pairs: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) {
    let eps: Vec<String> = c.endpoints().split(',').map(str::to_string).collect();
    runtime().block_on(async {
        let mut cl = etcd_client::Client::connect(eps, None)
            .await
            .expect("connect etcd-client");
        for (k, v) in pairs {
            cl.put(k, v, None).await.expect("put through etcd-client");
        }
    });
}

/// Stores many storage-form objects through one connection.
pub fn put_many(c: &Cluster, objs: &[Object]) {
    put_pairs(
        c,
        objs.iter()
            .map(|o| (o.key.clone().into_bytes(), o.value.clone())),
    );
}

/// `n` keys `{prefix}{i:05}` with values of `size` bytes `v`, one put (one
/// revision) each.
pub fn seed(c: &Cluster, prefix: &str, n: usize, size: usize) {
    put_pairs(
        c,
        (0..n).map(|i| (format!("{prefix}{i:05}").into_bytes(), vec![b'v'; size])),
    );
}

/// Like [`seed`], in transactions of up to 64 keys and about 1 MiB (fast
/// for large keyspaces).
pub fn seed_in_txns(c: &Cluster, prefix: &str, n: usize, size: usize) {
    let eps: Vec<String> = c.endpoints().split(',').map(str::to_string).collect();
    runtime().block_on(async {
        let mut cl = etcd_client::Client::connect(&eps, None)
            .await
            .expect("connect etcd-client");
        let per_txn = 64usize.min((1 << 20) / (size + 64)).max(1);
        let value = vec![b'v'; size];
        let mut i = 0;
        while i < n {
            let ops: Vec<_> = (i..n.min(i + per_txn))
                .map(|j| etcd_client::TxnOp::put(format!("{prefix}{j:05}"), value.clone(), None))
                .collect();
            i += ops.len();
            cl.txn(etcd_client::Txn::new().and_then(ops))
                .await
                .expect("txn through etcd-client");
        }
    });
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64 from etcdctl -w json")
}

/// The stored bytes and mod revision of `key`, `None` when absent.
pub fn get_raw(c: &Cluster, key: &str) -> Option<(Vec<u8>, i64)> {
    let out = c.ctl().ok(&["get", key, "-w", "json"]);
    let v: Value = serde_json::from_str(&out).expect("etcdctl get json");
    let kv = v["kvs"].as_array()?.first()?.clone();
    let value = kv["value"].as_str().map(b64).unwrap_or_default();
    Some((value, kv["mod_revision"].as_i64().expect("mod_revision")))
}

/// Every key under `prefix` (`""`: the whole keyspace), in etcd's order.
pub fn keys(c: &Cluster, prefix: &str) -> Vec<String> {
    let out = c
        .ctl()
        .ok(&["get", prefix, "--prefix", "--keys-only", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).expect("etcdctl get json");
    v["kvs"]
        .as_array()
        .map(|kvs| {
            kvs.iter()
                .map(|kv| {
                    String::from_utf8(b64(kv["key"].as_str().expect("key"))).expect("utf-8 key")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The cluster's current revision, as etcdctl reports it.
pub fn revision(c: &Cluster) -> i64 {
    let out = c.ctl().ok(&["get", "nothing-here", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).expect("etcdctl get json");
    v["header"]["revision"].as_i64().expect("header.revision")
}

/// A numeric field (`dbSize`, `dbSizeInUse`, ...) of member `i`'s
/// `etcdctl endpoint status`.
pub fn status_field(c: &Cluster, i: usize, field: &str) -> u64 {
    let out = c
        .ctl()
        .endpoint(i)
        .ok(&["endpoint", "status", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).expect("endpoint status json");
    v[0]["Status"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
}

/// The db size of every running member (by index, `None` when down), from
/// etcdctl's `endpoint status`.
pub fn db_sizes(c: &Cluster) -> Vec<Option<u64>> {
    (0..c.len())
        .map(|i| {
            c.member(i)
                .is_running()
                .then(|| status_field(c, i, "dbSize"))
        })
        .collect()
}

/// The Deployment stored under `key`, read by etcdctl and decoded with
/// k8s-pb's prost types: independent of the plugin's decoder.
pub fn deployment(c: &Cluster, key: &str) -> k8s_pb::api::apps::v1::Deployment {
    let (stored, _) = get_raw(c, key).unwrap_or_else(|| panic!("{key} is stored"));
    decode_deployment(&stored)
}

/// Stored bytes of a Deployment (`k8s\0` + runtime.Unknown), decoded with
/// k8s-pb.
pub fn decode_deployment(stored: &[u8]) -> k8s_pb::api::apps::v1::Deployment {
    use prost::Message;
    assert!(stored.starts_with(b"k8s\0"), "stored as protobuf");
    let unknown =
        k8s_pb::apimachinery::pkg::runtime::Unknown::decode(&stored[4..]).expect("k8s envelope");
    assert_eq!(
        unknown.type_meta.as_ref().and_then(|t| t.kind.as_deref()),
        Some("Deployment")
    );
    k8s_pb::api::apps::v1::Deployment::decode(unknown.raw.as_deref().unwrap_or_default())
        .expect("deployment")
}

/// The revision member `i` serves (its `endpoint status` header).
pub fn member_revision(c: &Cluster, i: usize) -> i64 {
    let out = c
        .ctl()
        .endpoint(i)
        .ok(&["endpoint", "status", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).expect("endpoint status json");
    v[0]["Status"]["header"]["revision"]
        .as_i64()
        .expect("header.revision")
}

/// The member names in member `i`'s `etcdctl member list`, sorted.
pub fn member_names(c: &Cluster, i: usize) -> Vec<String> {
    let out = c.ctl().endpoint(i).ok(&["member", "list", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).expect("member list json");
    let mut names: Vec<String> = v["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["name"].as_str().unwrap_or("").to_owned())
        .collect();
    names.sort();
    names
}
