//! The integration tests, as one test binary so the harness compiles once.
//!
//! Every test talks to real etcd processes started by [`support`] on free
//! 127.0.0.1 ports; Kubernetes mode goes through the API server double in
//! [`kube_double`]. Run one family with `cargo test --test it foundation::`.

mod kube_double;
#[path = "../../examples/seed/objects.rs"]
mod objects;
mod support;

mod analytics;
mod completion;
mod concurrency;
mod contexts;
mod contract;
mod dbfile;
mod doctor;
mod errors;
mod exit_codes;
mod foundation;
mod harness;
mod history_offline;
mod hostile;
mod inflight;
mod keyspace;
mod kube;
mod kube_promises;
mod layers;
mod maintenance;
mod packaging;
mod promises;
mod promises_ops;
mod readme;
mod recover;
mod snapshots;
mod speed;
mod tables;
mod timeline;
mod types;
mod watch;
mod wizards;
mod wizards_doc;
