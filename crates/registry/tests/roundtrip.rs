//! `decode(encode(x)) == x`: the encoder writes the storage form back from
//! Kubernetes JSON with the same schema tables.

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use prost::Message;
use registry::value::{decode_as, encode, DecodeOptions, EncodeError};
use serde_json::{json, Value};
use std::path::Path;

fn roundtrip(api_version: &str, kind: &str, v: &Value) -> Value {
    let bytes = encode(api_version, kind, v).unwrap_or_else(|e| panic!("encode {kind}: {e}"));
    let d = decode_as(&bytes, api_version, kind, &DecodeOptions { strict: true })
        .unwrap_or_else(|e| panic!("decode {kind}: {e}"));
    d.to_value()
}

#[test]
fn handmade_objects_roundtrip() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "creationTimestamp": null,
                     "labels": {"a": "b"}, "generation": 2},
        "spec": {
            "containers": [{"name": "c", "image": "busybox",
                            "ports": [{"containerPort": 80, "hostIP": "1.2.3.4"}],
                            "resources": {"limits": {"cpu": "250m"}},
                            "livenessProbe": {"httpGet": {"port": "http", "path": "/"}, "periodSeconds": 3}}],
            "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}],
            "activeDeadlineSeconds": -5
        },
        "status": {"startTime": "2024-02-29T12:00:00Z"}
    });
    assert_eq!(roundtrip("v1", "Pod", &pod), pod);

    let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
                    "metadata": {"name": "e"}, "eventTime": "2008-01-01T01:01:01.123456Z"});
    assert_eq!(roundtrip("events.k8s.io/v1", "Event", &ev), ev);

    let pm =
        json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics", "window": "1m30s"});
    assert_eq!(roundtrip("metrics.k8s.io/v1beta1", "PodMetrics", &pm), pm);

    let secret = json!({"apiVersion": "v1", "kind": "Secret", "data": {"k": "aHVudGVyMg=="}, "type": "Opaque"});
    assert_eq!(roundtrip("v1", "Secret", &secret), secret);
}

#[test]
fn encoding_matches_prost() {
    // What the encoder writes is what prost reads back as typed data.
    let cm = json!({"metadata": {"name": "x", "annotations": {"a": "1"}}, "data": {"k": "v"}});
    let bytes = encode("v1", "ConfigMap", &cm).unwrap();
    let env = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(&bytes[4..]).unwrap();
    assert_eq!(env.type_meta.unwrap().kind.as_deref(), Some("ConfigMap"));
    let typed = core::ConfigMap::decode(env.raw.unwrap().as_slice()).unwrap();
    assert_eq!(
        typed.metadata.unwrap(),
        meta::ObjectMeta {
            name: Some("x".into()),
            annotations: [("a".to_string(), "1".to_string())].into(),
            ..Default::default()
        }
    );
    assert_eq!(typed.data.get("k").map(String::as_str), Some("v"));
}

#[test]
fn encoding_rejects_what_it_cannot_write() {
    assert!(matches!(
        encode("v1", "ConfigMap", &json!({"data": {"k": "v"}, "bogus": 1})),
        Err(EncodeError::UnknownField { .. })
    ));
    assert!(matches!(
        encode("example.com/v1", "Widget", &json!({})),
        Err(EncodeError::UnknownKind { .. })
    ));
    assert!(matches!(
        encode("v1", "ConfigMap", &json!({"data": {"k": 1}})),
        Err(EncodeError::Invalid { .. })
    ));
}

/// `apps.v1.Deployment.pb` -> ("apps/v1", "Deployment"); `core` is "".
fn type_from_file_name(name: &str) -> (String, String) {
    let stem = name
        .trim_end_matches(".pb")
        .trim_end_matches(".after_roundtrip");
    let mut parts = stem.rsplitn(3, '.');
    let kind = parts.next().unwrap_or_default().to_string();
    let version = parts.next().unwrap_or_default();
    let group = parts.next().unwrap_or_default();
    let api_version = if group == "core" {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    (api_version, kind)
}

mod common;

#[test]
fn every_fixture_roundtrips() {
    let Some(root) = common::fixtures_root(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
    else {
        return;
    };
    let releases = std::fs::read_dir(&root).unwrap();
    let mut failures = Vec::new();
    let mut n = 0;
    for rel in releases.flatten() {
        for f in std::fs::read_dir(rel.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".pb") {
                continue;
            }
            n += 1;
            let raw = std::fs::read(f.path()).unwrap();
            let (av, kind) = type_from_file_name(&name);
            let d = decode_as(&raw, &av, &kind, &DecodeOptions::default()).unwrap();
            let v = d.to_value();
            // Older versions decode with a sibling version's schema; encode
            // with the type the decoder used when the exact one is absent.
            let got = match encode(&av, &kind, &v) {
                Ok(bytes) => {
                    decode_as(&bytes, &av, &kind, &DecodeOptions::default()).map(|d| d.to_value())
                }
                Err(e) => {
                    failures.push(format!(
                        "{}/{name}: encode: {e}",
                        rel.file_name().to_string_lossy()
                    ));
                    continue;
                }
            };
            let got = got.map(|mut back| {
                // Envelopes without type meta (WatchEvent fixtures) get one
                // when written back.
                if v.get("kind").is_none() {
                    if let Some(o) = back.as_object_mut() {
                        o.shift_remove("apiVersion");
                        o.shift_remove("kind");
                    }
                }
                back
            });
            match got {
                Ok(back) if back == v => {}
                Ok(_) => failures.push(format!(
                    "{}/{name}: differs after roundtrip",
                    rel.file_name().to_string_lossy()
                )),
                Err(e) => failures.push(format!(
                    "{}/{name}: decode: {e}",
                    rel.file_name().to_string_lossy()
                )),
            }
        }
    }
    println!("roundtrip: {}/{n} fixtures", n - failures.len());
    let expected: usize = common::RELEASES.iter().map(|(_, n)| n).sum();
    assert_eq!(
        n, expected,
        "every fixture of every release is roundtripped"
    );
    for f in &failures {
        println!("  FAIL {f}");
    }
    assert!(failures.is_empty());
}
