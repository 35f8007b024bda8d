//! The CBOR reader: every input is given the self-describe tag kube-apiserver
//! writes, so the fuzzer spends its time inside the reader. A value that
//! decodes is an object that re-reads as JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry::value::{decode, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    let mut value = Vec::with_capacity(data.len() + 3);
    if !data.starts_with(&[0xd9, 0xd9, 0xf7]) {
        value.extend_from_slice(&[0xd9, 0xd9, 0xf7]);
    }
    value.extend_from_slice(data);
    if let Ok(d) = decode(&value, &DecodeOptions::default()) {
        let v: serde_json::Value =
            serde_json::from_str(&d.json).expect("CBOR decoded to JSON that does not re-read");
        assert!(
            v.is_object(),
            "CBOR decoded to something other than an object"
        );
    }
});
