//! Multi-step maintenance as data: a plan is computed from what the cluster
//! reports (pure, printable for `--dry-run`), then executed step by step.
//!
//! Plans never print; executors report progress and ask for confirmation
//! through an [`Operator`], check an [`Interrupt`] between steps, and return
//! what they did, so the command decides how to show it.
//!
//! They fail with an [`Error`] that says what happened in ops terms and
//! keeps its cause whole; callers decide on its variants (never its text),
//! and [`crate::error`] turns it into the operator's line, `help:` and exit
//! code.

pub mod cluster_state;
pub mod compaction;
pub mod contexts;
pub mod defrag;
pub mod doctor;
pub mod error;
pub mod health;
pub mod inspect;
pub mod journal;
pub mod members;
pub mod move_leader;
pub mod put;
pub mod quota;
pub mod recover;
pub mod recover_space;
pub mod resize;
pub mod restore;
pub mod snapshot_save;
pub mod space;
pub mod statefulset;
pub mod status;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::LocalBoxFuture;
use tokio::sync::Notify;

use crate::context::Cluster;
pub use error::{Error, Result};

/// The person at the keyboard, as an executor sees them: progress lines,
/// what they must keep (plans, commands to run on another node), and
/// confirmation before each change. Commands implement it on top of the
/// shell and the prompter; tests with plain values.
pub trait Operator {
    /// A progress line (stderr).
    fn note(&mut self, line: &str);
    /// Something that deserves attention (stderr).
    fn warn(&mut self, line: &str);
    /// Detail shown with `-v` only.
    fn verbose(&mut self, line: &str);
    /// Text the operator must keep, such as a plan or the command line to
    /// start a member with: stdout when the output is a table, so
    /// `> plan.txt` keeps it.
    fn keep(&mut self, text: &str);
    /// `Ok` when the operator agrees to `action`; a refusal otherwise.
    fn confirm(&mut self, action: &str) -> Result<()>;
    /// The cluster discovered again (Kubernetes: a pod created meanwhile).
    fn rediscover(&mut self) -> LocalBoxFuture<'_, Result<Cluster>> {
        Box::pin(async { Err(Error::CannotRediscover) })
    }
}

/// An [`Operator`] that records every line and answers every question the
/// same way: for tests with plain values.
#[derive(Debug, Default)]
pub struct Recorded {
    pub lines: Vec<String>,
    pub kept: Vec<String>,
    pub asked: Vec<String>,
    /// Refuse every confirmation.
    pub refuse: bool,
}

impl Operator for Recorded {
    fn note(&mut self, line: &str) {
        self.lines.push(line.to_string());
    }
    fn warn(&mut self, line: &str) {
        self.lines.push(format!("warning: {line}"));
    }
    fn verbose(&mut self, line: &str) {
        self.lines.push(line.to_string());
    }
    fn keep(&mut self, text: &str) {
        self.kept.push(text.to_string());
    }
    fn confirm(&mut self, action: &str) -> Result<()> {
        self.asked.push(action.to_string());
        if self.refuse {
            Err(crate::prompt::Declined::No {
                action: action.to_string(),
            }
            .into())
        } else {
            Ok(())
        }
    }
}

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

    /// Fires on every Ctrl-C (SIGINT). Needs a Tokio runtime. From this
    /// call on, SIGINT no longer ends the process: whoever holds the
    /// interrupt decides what to do.
    pub fn on_ctrl_c() -> Interrupt {
        let i = Interrupt::default();
        let fire = i.clone();
        // Registered now, not when the task first runs: a Ctrl-C right
        // after start must not kill the process half-way.
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            if let Ok(mut sigint) = signal(SignalKind::interrupt()) {
                tokio::spawn(async move {
                    while sigint.recv().await.is_some() {
                        fire.fire();
                    }
                });
                return i;
            }
        }
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

    /// Run `step` (already sent, or not safe to abandon half-way) to its
    /// end despite a first Ctrl-C: `note` says so, and the caller stops
    /// after it by checking [`Interrupt::fired`]. A second Ctrl-C abandons
    /// it: `Err(())`, and the caller says what may be left half-done.
    pub async fn finish<F: Future>(
        &self,
        step: F,
        what: &str,
        note: &mut dyn FnMut(&str),
    ) -> std::result::Result<F::Output, ()> {
        let seen = self.count();
        tokio::pin!(step);
        if seen == 0 {
            tokio::select! {
                r = &mut step => return Ok(r),
                _ = self.wait_for(1) => {}
            }
        }
        note(&format!(
            "Ctrl-C: {what} is under way; waiting for it to finish, then stopping \
             (Ctrl-C again to leave now)"
        ));
        let seen = self.count();
        tokio::select! {
            r = &mut step => Ok(r),
            _ = self.wait_for(seen + 1) => Err(()),
        }
    }

    /// After a Ctrl-C, the request [`Interrupt::finish`] waited for may
    /// end without an answer (no answer in time, the connection dropped):
    /// whether etcd applied it is then as unknown as if the operator had
    /// left at once. `Some(cause)` in that case, for the caller's "may or
    /// may not have been applied" message; `None` otherwise (no Ctrl-C, an
    /// answer, or a definite refusal from etcd).
    pub fn unanswered<'r, T>(
        &self,
        r: &'r std::result::Result<T, crate::etcd::Error>,
    ) -> Option<&'r crate::etcd::Error> {
        match r {
            Err(e) if self.fired() && e.is_transport() => Some(e),
            _ => None,
        }
    }

    /// Run `wait` (a wait that changes nothing, such as polling for a
    /// member to catch up) until it ends or Ctrl-C: `None` when
    /// interrupted, and the wait is simply abandoned.
    pub async fn unless<F: Future>(&self, wait: F) -> Option<F::Output> {
        if self.fired() {
            return None;
        }
        tokio::select! {
            r = wait => Some(r),
            _ = self.wait_for(1) => None,
        }
    }
}

/// "s" after a count other than 1: `format!("{n} member{}", plural(n))`.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// "2 of 5 steps done (a, b); left: c, d, e" (`what`: "steps done"): for
/// interrupted executors.
pub fn progress(done: &[String], left: &[String], what: &str) -> String {
    let total = done.len() + left.len();
    let mut s = format!("{} of {total} {what}", done.len());
    if !done.is_empty() {
        s.push_str(&format!(" ({})", done.join(", ")));
    }
    if !left.is_empty() {
        s.push_str(&format!("; left: {}", left.join(", ")));
    }
    s
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

    #[tokio::test]
    async fn a_step_runs_to_its_end_after_one_ctrl_c_and_is_left_after_two() {
        let i = Interrupt::never();
        let mut notes = Vec::new();
        let fire = i.clone();
        let step = async move {
            fire.fire();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            7
        };
        let r = i
            .finish(step, "the defrag", &mut |l| notes.push(l.to_string()))
            .await;
        assert_eq!(r, Ok(7));
        assert!(notes[0].contains("the defrag is under way"), "{notes:?}");
        let fire = i.clone();
        let never = async move {
            fire.fire();
            std::future::pending::<()>().await
        };
        assert_eq!(i.finish(never, "x", &mut |_| {}).await, Err(()));
        assert_eq!(i.unless(async { 1 }).await, None);
    }

    #[test]
    fn progress_names_what_was_done_and_what_is_left() {
        let s = progress(&["a".into()], &["b".into(), "c".into()], "steps done");
        assert_eq!(s, "1 of 3 steps done (a); left: b, c");
        assert_eq!(
            progress(&[], &["x".into()], "members defragmented"),
            "0 of 1 members defragmented; left: x"
        );
    }
}
