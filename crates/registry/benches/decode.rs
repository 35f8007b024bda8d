//! Decode throughput over the full fixture Pod (`core.v1.Pod.pb`): prints
//! MB/s of input and objects/s for the transcoder, and for comparison
//! prost's typed decode of the same bytes.

use prost::Message as _;
use registry::value::{decode, DecodeOptions};
use std::time::{Duration, Instant};

fn measure(name: &str, bytes: usize, mut f: impl FnMut()) {
    // Warm up, then run for a fixed wall time.
    for _ in 0..200 {
        f();
    }
    let budget = Duration::from_secs(3);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    let secs = start.elapsed().as_secs_f64();
    let mbs = (bytes as f64 * n as f64) / secs / 1e6;
    println!(
        "{name}: {mbs:.1} MB/s, {:.0} objects/s ({n} iterations)",
        n as f64 / secs
    );
}

fn main() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/k8s-api/v1.35.0/core.v1.Pod.pb");
    let Ok(raw) = std::fs::read(&path) else {
        println!("bench skipped: {} not found", path.display());
        return;
    };
    println!("input: {} ({} bytes)", path.display(), raw.len());
    let opts = DecodeOptions::default();
    measure("registry::value::decode", raw.len(), || {
        let d = decode(std::hint::black_box(&raw), &opts).unwrap();
        std::hint::black_box(d.json.len());
    });
    // The envelope's raw field (prost's typed decode needs the bare Pod).
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(&raw[4..]).unwrap();
    let pod_bytes = unknown.raw.unwrap();
    measure(
        "prost typed decode (k8s-pb Pod, reference)",
        raw.len(),
        || {
            let p =
                k8s_pb::api::core::v1::Pod::decode(std::hint::black_box(&pod_bytes[..])).unwrap();
            std::hint::black_box(p);
        },
    );
}
