//! The Kubernetes storage format as kube-apiserver writes it into etcd.
//!
//! This crate owns the `/registry` model: keys ([`key`]), resource types
//! ([`resources`]), value decoding ([`value`]) and encryption at rest
//! ([`encryption`]). It is pure: it never talks to etcd, a network or a
//! terminal, so every function here is tested with plain bytes.

pub mod encryption;
pub mod key;
pub mod resources;
pub mod value;
