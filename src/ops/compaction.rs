//! Compaction: the revision to compact at, the compaction itself (shared
//! by `compact` and `recover-space`), and waiting for it to reach every
//! member's database file.
//!
//! A compaction goes through raft, but each member removes the old
//! revisions from its own bbolt file in the background, at its own pace;
//! `--physical` only waits for the member the request went to. A defrag
//! right after would reclaim little on the members still compacting. etcd
//! does not report when a member is done, so we watch each member's in-use
//! size until it stops shrinking.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::connect::Target;
use crate::context::Cluster;
use crate::etcd::{maintenance, ConnectSettings, EtcdClient, Survey};

use super::cluster_state::ClusterState;
use super::error::{Error, Result};
use super::{Interrupt, Operator};

/// How to see whether a compaction whose outcome is unknown took place.
const CHECK: &str = "`kubectl etcd compact --dry-run` shows where history starts now";

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Request {
    /// Compact up to this revision (default: the current one).
    pub revision: Option<i64>,
    /// Keep the last N revisions.
    pub keep: Option<i64>,
    /// Wait until every member removed the old revisions from its file.
    pub physical: bool,
    pub timeout: Duration,
    pub dry_run: bool,
}

/// In-use bytes per member id, as one poll saw them.
pub type InUse = HashMap<u64, u64>;

fn in_use(state: &ClusterState) -> InUse {
    state
        .members
        .iter()
        .filter(|m| m.reachable())
        .map(|m| (m.id, m.db_size_in_use))
        .collect()
}

/// Whether every member of `now` has stopped shrinking since `before`
/// (a shrink of at most 1% or 64 KiB counts as stopped). Pure.
pub fn settled(before: &InUse, now: &InUse) -> bool {
    now.iter().all(|(id, &n)| match before.get(id) {
        None => false,
        Some(&b) => b.saturating_sub(n) <= (b / 100).max(64 * 1024),
    })
}

/// How waiting for a compaction to reach the members' files ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Every member answered and holds still.
    Settled,
    /// The members that answered hold still; these (names) did not answer,
    /// so nothing says their files are done.
    Unanswered(Vec<String>),
    /// Still shrinking at the time limit (a busy cluster may never look
    /// settled).
    Shrinking,
}

/// Poll until every member's in-use size holds still, for at most `limit`.
pub async fn wait_settled(
    targets: &[Target],
    settings: &ConnectSettings,
    limit: Duration,
) -> Settle {
    let deadline = Instant::now() + limit;
    let mut clients: Vec<Option<EtcdClient>> = Vec::new();
    let mut before: Option<InUse> = None;
    // Two still readings in a row: a member may not have started yet.
    let mut still = 0;
    loop {
        let survey = Survey::take_reusing(targets, settings, &clients).await;
        clients = survey.live_clients();
        let state = ClusterState::from_survey(&survey);
        let now = in_use(&state);
        if before.as_ref().is_some_and(|b| settled(b, &now)) {
            still += 1;
            if still >= 2 {
                let missing: Vec<String> = state
                    .members
                    .iter()
                    .filter(|m| !m.reachable())
                    .map(|m| m.label())
                    .collect();
                return match missing.is_empty() {
                    true => Settle::Settled,
                    false => Settle::Unanswered(missing),
                };
            }
        } else {
            still = 0;
        }
        if Instant::now() >= deadline {
            return Settle::Shrinking;
        }
        before = Some(now);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}

/// What a compaction did (or would do).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompactReport {
    /// The revision the history was compacted at before, when known.
    pub previously_compacted: Option<i64>,
    /// History older than this revision is removed.
    pub revision: i64,
    pub current_revision: i64,
    pub physical: bool,
    pub dry_run: bool,
    pub took_ms: Option<u64>,
    /// With `--physical`: members that did not answer while it waited, so
    /// their files may still hold the old revisions.
    #[serde(skip)]
    pub unanswered: Vec<String>,
}

impl CompactReport {
    /// `revisions 120..4999` or `up to revision 5000`.
    pub fn range(&self) -> String {
        match self.previously_compacted {
            Some(from) if from >= self.revision => {
                format!("nothing (already compacted at {from})")
            }
            Some(from) => format!(
                "revisions {from}..{} (history from the last compaction at {from})",
                self.revision - 1
            ),
            None => format!("history up to revision {}", self.revision),
        }
    }
}

/// The revision to compact at, from the arguments and the current revision.
pub fn target_revision(rev: Option<i64>, keep: Option<i64>, current: i64) -> Result<i64> {
    let target = match (rev, keep) {
        (Some(r), _) => r,
        (None, Some(k)) if k < 0 => return Err(Error::NegativeKeep),
        (None, Some(k)) => current - k,
        (None, None) => current,
    };
    if target < 1 {
        return Err(Error::BeforeFirstRevision { revision: target });
    }
    if target > current {
        return Err(Error::FutureRevision {
            revision: target,
            current,
        });
    }
    Ok(target)
}

/// Work out the range, confirm, compact. Ctrl-C before the request is
/// sent changes nothing; once sent it is waited for (a second Ctrl-C
/// leaves); Ctrl-C while members remove old revisions stops waiting.
pub async fn compact(
    cluster: &Cluster,
    client: &EtcdClient,
    args: &Request,
    interrupt: &Interrupt,
    op: &mut dyn Operator,
) -> Result<CompactReport> {
    let current = maintenance::current_revision(client, false).await?;
    let previously = maintenance::compacted_revision(client).await?;
    let revision = target_revision(args.revision, args.keep, current)?;
    let mut report = CompactReport {
        previously_compacted: previously,
        revision,
        current_revision: current,
        physical: args.physical,
        dry_run: args.dry_run,
        took_ms: None,
        unanswered: Vec::new(),
    };
    if let Some(p) = previously.filter(|&p| p >= revision) {
        // Nothing to do: the history already starts at `p`, which is what
        // the report says (not the older revision asked for).
        report.revision = p;
        op.note(&format!(
            "already compacted at revision {}: nothing to do",
            previously.unwrap_or_default()
        ));
        return Ok(report);
    }
    if args.dry_run {
        return Ok(report);
    }
    op.note(&format!(
        "will remove {} (current revision {current}); the latest version of every key stays",
        report.range()
    ));
    op.confirm(&format!("compact the keyspace at revision {revision}"))?;
    if interrupt.fired() {
        return Err(Error::interrupted(
            "interrupted (Ctrl-C) before compacting: nothing was changed",
        ));
    }
    let start = Instant::now();
    let request = maintenance::compact(client, revision, args.physical, args.timeout);
    // Left at a second Ctrl-C, or unanswered after the first: unknown.
    let in_doubt = |cause: Option<&crate::etcd::Error>| {
        let why = cause
            .map(|c| format!(" ({})", crate::error::Error::from(c.clone()).message))
            .unwrap_or_default();
        Error::interrupted(format!(
            "interrupted (Ctrl-C) while compacting at revision {revision}: etcd may have \
             applied it{why}"
        ))
        .resume(CHECK)
    };
    let done = interrupt
        .finish(request, "the compaction", &mut |l| op.note(l))
        .await
        .map_err(|()| in_doubt(None))?;
    if let Some(cause) = interrupt.unanswered(&done) {
        return Err(in_doubt(Some(cause)));
    }
    match done {
        Err(e) if e.leaves_write_in_doubt() => {
            return Err(Error::in_doubt(
                format!("compacting at revision {revision}"),
                "etcd may have applied it",
                CHECK,
                e,
            ))
        }
        done => done?,
    };
    if interrupt.fired() {
        return Err(Error::interrupted(format!(
            "interrupted (Ctrl-C) after compacting at revision {revision}: members remove the \
             old revisions in the background"
        )));
    }
    if args.physical {
        // --physical only waited for the member the request went to.
        op.note("waiting for every member to finish removing the old revisions");
        let wait = wait_settled(&cluster.targets, &cluster.settings, args.timeout);
        match interrupt.unless(wait).await {
            Some(Settle::Settled) => {}
            Some(Settle::Unanswered(members)) => report.unanswered = members,
            Some(Settle::Shrinking) => op.warn(&format!(
                "members still shrinking after {:?}: the compaction goes on in the background",
                args.timeout
            )),
            None => {
                return Err(Error::interrupted(format!(
                    "interrupted (Ctrl-C) after compacting at revision {revision}: members \
                     still remove the old revisions in the background"
                )))
            }
        }
    }
    report.took_ms = Some(start.elapsed().as_millis() as u64);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_means_no_member_still_shrinking() {
        let mb = 1024 * 1024;
        let before: InUse = [(1, 10 * mb), (2, 10 * mb)].into();
        let shrinking: InUse = [(1, 10 * mb), (2, 4 * mb)].into();
        let still: InUse = [(1, 10 * mb), (2, 10 * mb - 4096)].into();
        let grown: InUse = [(1, 11 * mb), (2, 10 * mb)].into();
        assert!(!settled(&before, &shrinking));
        assert!(settled(&before, &still));
        assert!(settled(&before, &grown));
        let new_member: InUse = [(1, 10 * mb), (3, mb)].into();
        assert!(!settled(&before, &new_member));
    }

    #[test]
    fn the_target_is_the_current_revision_or_keeps_n() {
        assert_eq!(target_revision(None, None, 500).unwrap(), 500);
        assert_eq!(target_revision(None, Some(100), 500).unwrap(), 400);
        assert_eq!(target_revision(Some(42), None, 500).unwrap(), 42);
        assert!(target_revision(Some(501), None, 500).is_err());
        assert!(target_revision(None, Some(600), 500).is_err());
    }
}
