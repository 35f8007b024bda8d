//! The key parser: any bytes under any prefix come back as some `KeyInfo`,
//! whose parts are slices of the key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry::key::{in_namespace, parse, DEFAULT_PREFIX};

fuzz_target!(|data: &[u8]| {
    // The first line, when there is one, is the prefix (`--prefix`).
    let (prefix, key) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (
            std::str::from_utf8(&data[..i]).unwrap_or(DEFAULT_PREFIX),
            &data[i + 1..],
        ),
        None => (DEFAULT_PREFIX, data),
    };
    let info = parse(key, prefix);
    let _ = info.type_name().to_string();
    let _ = info.is_object();
    if let Some(ns) = info.namespace {
        assert!(info.in_namespace(Some(ns)));
        assert!(in_namespace(key, prefix, Some(ns)));
    }
    assert!(in_namespace(key, prefix, None));
});
