//! Every input a fuzz target (fuzz/, FUZZING.md) found failing, as a test
//! named after its artifact: the bytes are the artifact's, verbatim.

use std::sync::mpsc;
use std::time::Duration;

use registry::value::{decode, DecodeError, DecodeOptions};

/// Decodes on another thread; a hang fails the test instead of hanging it.
fn decode_within(value: Vec<u8>, limit: Duration) -> Result<registry::value::Decoded, DecodeError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(decode(&value, &DecodeOptions::default()));
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("decoding did not finish within {limit:?}"))
}

/// fuzz target `protobuf`, crash-bf92ff2288f24611d03c49a0a90b79b3f0b94c42:
/// self-described CBOR holding `undefined` decoded to `null`, exit 0. A
/// stored object is a map; anything else is invalid CBOR.
#[test]
fn fuzz_protobuf_crash_bf92ff22_cbor_undefined_decoded_to_null() {
    let input = [0xd9, 0xd9, 0xf7, 0xf7];
    match decode(&input, &DecodeOptions::default()) {
        Err(DecodeError::InvalidCbor(m)) => assert!(m.contains("not a map"), "{m}"),
        other => panic!("expected invalid cbor, got {other:?}"),
    }
}

/// fuzz target `cbor`, timeout-d982c9295e9fe059abfd6bbec8c41ad6c7a8a210:
/// map keys that are maps were written as escaped JSON strings, each level
/// doubling the escaping: 163 bytes did not finish. Keys must be text.
#[test]
fn fuzz_cbor_timeout_d982c929_map_keys_nested_as_maps() {
    let mut input = vec![0xd9, 0xd9, 0xf7];
    input.extend_from_slice(&[0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0x9f, 0x01]);
    input.extend(std::iter::repeat_n(0x00, 43));
    input.extend(std::iter::repeat_n(0xa1, 56));
    input.extend(std::iter::repeat_n(0x00, 50));
    input.extend_from_slice(&[0x31, 0xf9, 0x3e, 0x00, 0xff]);
    match decode_within(input, Duration::from_secs(10)) {
        Err(DecodeError::InvalidCbor(_)) => {}
        other => panic!("expected invalid cbor, got {other:?}"),
    }
}
