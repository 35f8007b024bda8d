//! Regression tests for values shaped by an attacker or a buggy writer
//! (issue 13): decoding stays linear in the input, another version's field
//! names are never shown for bytes they do not fit, and one nesting limit
//! answers with an error naming it, never a silent `null`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use k8s_pb::api::apps::v1::ControllerRevision;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use prost::Message;
use registry::value::{decode, DecodeError, DecodeOptions, MAX_DEPTH};
use serde_json::Value;

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let u = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: None,
        content_type: None,
    };
    let mut v = b"k8s\0".to_vec();
    v.extend(u.encode_to_vec());
    v
}

/// Decodes on another thread and fails the test if it takes longer than
/// `limit` (a hang would otherwise hang the test run).
fn decode_within(value: Vec<u8>, limit: Duration) -> Result<registry::value::Decoded, DecodeError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(decode(&value, &DecodeOptions::default()));
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("decoding did not finish within {limit:?}"))
}

/// A length-delimited protobuf field.
fn field(tag: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut varint = |mut v: u64| loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            break;
        } else {
            out.push(b | 0x80);
        }
    };
    varint(u64::from(tag) << 3 | 2);
    varint(bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

/// Issue 13, defect 1: ControllerRevisions nested in their RawExtension at
/// an apiVersion the schema lacks were tried against every sibling version
/// at every level (3^depth): ~900 bytes did not finish.
#[test]
fn nested_controller_revisions_at_an_unknown_version_decode_in_linear_time() {
    let mut value = envelope("apps/v9", "ControllerRevision", Vec::new());
    while value.len() < 900 {
        let rev = ControllerRevision {
            metadata: None,
            data: Some(RawExtension { raw: Some(value) }),
            revision: Some(1),
        };
        value = envelope("apps/v9", "ControllerRevision", rev.encode_to_vec());
    }
    let started = Instant::now();
    let d = decode_within(value, Duration::from_secs(20)).expect("decodes");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    // Decoded with the sibling version (the bytes fit it), at every level.
    let v = d.to_value();
    assert_eq!(v["data"]["data"]["revision"], 1, "{}", d.json);
}

/// Issue 13, defect 2: scheduling.k8s.io/v1alpha2 PodGroup is a top-level
/// object, while v1alpha1 has a `PodGroup` sub-struct `{name, policy}`:
/// the object's metadata came out as a `name` string. Bytes that do not
/// fit another version get the generic dump with its warning.
#[test]
fn pod_group_at_a_version_not_in_the_schema_is_not_shown_with_a_sub_structs_names() {
    let metadata = meta::ObjectMeta {
        name: Some("pg-1".into()),
        namespace: Some("default".into()),
        uid: Some("5b3c1f0e-0000-4000-8000-000000000001".into()),
        creation_timestamp: Some(meta::Time {
            seconds: Some(1_700_000_000),
            nanos: Some(0),
        }),
        ..Default::default()
    };
    let mut raw = field(1, &metadata.encode_to_vec());
    // spec: {podGroupTemplateRef: {name: "workers"}, minCount-like varint}
    raw.extend(field(2, &field(1, &field(1, b"workers"))));
    // status: {conditions: [{type: "Scheduled"}]}
    raw.extend(field(3, &field(1, &field(1, b"Scheduled"))));
    let d = decode(
        &envelope("scheduling.k8s.io/v1alpha2", "PodGroup", raw),
        &DecodeOptions::default(),
    )
    .expect("decodes");
    let v = d.to_value();
    assert!(
        v.get("name").is_none(),
        "sub-struct field names: {}",
        d.json
    );
    assert!(v.get("fields").is_some(), "no generic dump: {}", d.json);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("generic protobuf dump")),
        "{:?}",
        d.warnings
    );
}

fn assert_too_deep(r: Result<registry::value::Decoded, DecodeError>) {
    match r {
        Err(DecodeError::TooDeep { limit }) => {
            assert_eq!(limit, MAX_DEPTH);
            let msg = DecodeError::TooDeep { limit }.to_string();
            assert!(msg.contains(&MAX_DEPTH.to_string()), "{msg}");
        }
        Ok(d) => panic!(
            "expected a nesting error, decoded to {} (value {})",
            &d.json[..d.json.len().min(80)],
            d.to_value()
        ),
        Err(e) => panic!("expected a nesting error, got {e:?}"),
    }
}

/// Issue 13, defect 3: CBOR nested 128-199 deep was accepted by the
/// decoder and became `null` when re-read.
#[test]
fn cbor_nested_150_deep_is_an_error_naming_the_limit() {
    // {"a": [[[...1]]]}
    let mut v = vec![0xd9, 0xd9, 0xf7, 0xa1, 0x61, b'a'];
    v.extend(std::iter::repeat_n(0x81, 150));
    v.push(0x01);
    assert_too_deep(decode(&v, &DecodeOptions::default()));
    // Within the limit it decodes and re-reads.
    let mut ok = vec![0xd9, 0xd9, 0xf7, 0xa1, 0x61, b'a'];
    ok.extend(std::iter::repeat_n(0x81, 20));
    ok.push(0x01);
    let d = decode(&ok, &DecodeOptions::default()).unwrap();
    assert_ne!(d.to_value(), Value::Null);
}

/// Issue 13, defect 3: a kind without schema whose fields nest 63 deep
/// became a generic dump too deep to re-read: `null`.
#[test]
fn generic_dump_nested_63_deep_is_an_error_naming_the_limit() {
    // Each level repeats field 1 (its child and an empty string), so the
    // dump nests an array and an object per level.
    let mut raw = field(1, b"\x08\x01");
    for _ in 0..63 {
        let mut next = field(1, &raw);
        next.extend(field(1, b""));
        raw = next;
    }
    assert_too_deep(decode(
        &envelope("example.com/v1", "Deep", raw),
        &DecodeOptions::default(),
    ));
}

/// Issue 13, defect 3: a RawExtension holding 127-deep JSON passed the
/// decoder's check and failed the re-read: `null` with exit 0.
#[test]
fn raw_extension_holding_127_deep_json_is_an_error_naming_the_limit() {
    let json = format!("{}1{}", "[".repeat(127), "]".repeat(127));
    let event = meta::WatchEvent {
        r#type: Some("ADDED".into()),
        object: Some(RawExtension {
            raw: Some(json.into_bytes()),
        }),
    };
    assert_too_deep(decode(
        &envelope("v1", "WatchEvent", event.encode_to_vec()),
        &DecodeOptions::default(),
    ));
    // A JSON value deeper than the limit is refused the same way.
    let json = format!("{{\"a\":{}1{}}}", "[".repeat(110), "]".repeat(110));
    assert_too_deep(decode(json.as_bytes(), &DecodeOptions::default()));
}
