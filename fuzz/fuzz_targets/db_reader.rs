//! The offline database reader (`snapshot status|inspect`, restore's
//! verification) on arbitrary bytes: the trailer check, the strict and the
//! lenient walks of bucket `key` and `meta`, the live-key sort, one value
//! read. Any input must end in a value or a `DbError`: no panic, no hang,
//! no allocation beyond one page (bounded by `bolt::MAX_PAGE_BYTES`).
//!
//! Seeded by `scripts/fuzz-seed.sh` with the real etcd 3.4 snapshot the
//! unit tests read (`src/dbfile/testdata`); see FUZZING.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kubectl_etcd::dbfile::read_everything(data);
});
