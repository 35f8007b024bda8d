//! Multi-step maintenance as data: a plan is computed from what the cluster
//! reports (pure, printable for `--dry-run`), then executed step by step.
//!
//! Plans never print; executors report progress through a callback and
//! return what they did, so the command decides how to show it.

pub mod cluster_state;
pub mod defrag;
pub mod resize;
pub mod restore;
pub mod snapshot;
