//! The protobuf transcoder (and the JSON and CBOR paths `decode` shares),
//! seeded with kube-apiserver's own `.pb` fixtures.
//!
//! Beyond "no panic, no hang": a value that decodes re-reads as JSON that
//! is not `null` and nests within `MAX_DEPTH` (issue 13, defect 3).
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry::value::{decode, decode_as, DecodeOptions, MAX_DEPTH, MAX_VALUE_BYTES};

fn check(r: Result<registry::value::Decoded, registry::value::DecodeError>) {
    if let Ok(d) = r {
        let v: serde_json::Value = serde_json::from_str(&d.json)
            .unwrap_or_else(|e| panic!("decoded JSON does not re-read: {e}"));
        assert!(!v.is_null(), "decoded to null");
        assert!(depth(&v) <= MAX_DEPTH, "nests deeper than MAX_DEPTH");
    }
}

fn depth(v: &serde_json::Value) -> u32 {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_VALUE_BYTES {
        return;
    }
    for strict in [false, true] {
        let opts = DecodeOptions { strict };
        check(decode(data, &opts));
    }
    // Envelopes without type meta take the caller's type, as `get` does
    // from the key: a kind at a version the schema lacks goes through the
    // sibling-version trials.
    if data.starts_with(b"k8s\0") {
        check(decode_as(
            data,
            "apps/v9",
            "ControllerRevision",
            &DecodeOptions::default(),
        ));
    }
});
