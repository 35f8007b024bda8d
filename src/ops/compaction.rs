//! Waiting for a compaction to reach every member's database file.
//!
//! A compaction goes through raft, but each member removes the old
//! revisions from its own bbolt file in the background, at its own pace;
//! `--physical` only waits for the member the request went to. A defrag
//! right after would reclaim little on the members still compacting. etcd
//! does not report when a member is done, so we watch each member's in-use
//! size until it stops shrinking.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::connect::Target;
use crate::etcd::{ConnectSettings, EtcdClient, Survey};

use super::cluster_state::ClusterState;

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

/// Poll until every member's in-use size holds still, for at most `limit`.
/// Returns whether it settled (a busy cluster may never look settled).
pub async fn wait_settled(targets: &[Target], settings: &ConnectSettings, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut clients: Vec<Option<EtcdClient>> = Vec::new();
    let mut before: Option<InUse> = None;
    // Two still readings in a row: a member may not have started yet.
    let mut still = 0;
    loop {
        let survey = Survey::take_reusing(targets, settings, &clients).await;
        clients = survey.live_clients();
        let now = in_use(&ClusterState::from_survey(&survey));
        if before.as_ref().is_some_and(|b| settled(b, &now)) {
            still += 1;
            if still >= 2 {
                return true;
            }
        } else {
            still = 0;
        }
        if Instant::now() >= deadline {
            return false;
        }
        before = Some(now);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
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
}
