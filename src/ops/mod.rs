//! Multi-step maintenance as data: a plan is computed from what the cluster
//! reports (pure, printable for `--dry-run`), then executed step by step.
//!
//! Plans never print; executors report progress through a callback and
//! return what they did, so the command decides how to show it.

pub mod cluster_state;
pub mod compaction;
pub mod defrag;
pub mod move_leader;
pub mod node;
pub mod recover;
pub mod resize;
pub mod restore;
pub mod snapshot;
pub mod statefulset;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Ctrl-C as executors see it: checked between steps, and raced against
/// long calls. A step already sent to etcd is never abandoned silently: the
/// first Ctrl-C lets it finish and stops after it; a second one leaves now.
#[derive(Clone, Default)]
pub struct Interrupt {
    count: Arc<AtomicUsize>,
    notify: Arc<Notify>,
}

impl Interrupt {
    /// Never fires on its own (tests call [`Interrupt::fire`]).
    pub fn never() -> Interrupt {
        Interrupt::default()
    }

    /// Fires on every Ctrl-C. Needs a Tokio runtime.
    pub fn on_ctrl_c() -> Interrupt {
        let i = Interrupt::default();
        let fire = i.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                fire.fire();
            }
        });
        i
    }

    pub fn fire(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// How many times it fired.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub fn fired(&self) -> bool {
        self.count() > 0
    }

    /// Resolves once it has fired `n` times in all.
    pub async fn wait_for(&self, n: usize) {
        loop {
            let notified = self.notify.notified();
            if self.count() >= n {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_interrupt_counts_and_wakes_waiters() {
        let i = Interrupt::never();
        assert!(!i.fired());
        let waiter = {
            let i = i.clone();
            tokio::spawn(async move { i.wait_for(2).await })
        };
        i.fire();
        i.fire();
        waiter.await.unwrap();
        assert_eq!(i.count(), 2);
        // Already fired: returns at once.
        i.wait_for(1).await;
    }
}
