//! Membership changes: add a learner, promote it, remove a member. Each call
//! returns data; nothing prints, nothing retries (the wizards decide that).

use etcd_client::MemberAddOptions;

use super::{EtcdClient, Member};
use crate::error::Result;

/// Add a member that does not vote yet (a learner) with the given peer URLs;
/// returns the new member's id and the member list after the change.
pub async fn add_learner(client: &EtcdClient, peer_urls: &[String]) -> Result<(u64, Vec<Member>)> {
    let mut c = client.cluster();
    let resp = client
        .call(c.member_add(
            peer_urls.to_vec(),
            Some(MemberAddOptions::new().with_is_learner()),
        ))
        .await?;
    let id = resp.member().map(|m| m.id()).unwrap_or_default();
    let members = resp.member_list().iter().map(Member::from).collect();
    Ok((id, members))
}

/// Make a caught-up learner a voting member.
pub async fn promote(client: &EtcdClient, id: u64) -> Result<()> {
    let mut c = client.cluster();
    client.call(c.member_promote(id)).await.map(|_| ())
}

/// Remove a member from the cluster.
pub async fn remove(client: &EtcdClient, id: u64) -> Result<()> {
    let mut c = client.cluster();
    client.call(c.member_remove(id)).await.map(|_| ())
}

/// Refusals etcd lifts by itself after a moment: the cluster was just
/// changed and a peer has not connected yet, or the learner is still behind.
pub fn is_transient_refusal(message: &str) -> bool {
    [
        "unhealthy cluster",
        "too many learner members",
        "not in sync with leader",
        "leader changed",
        "request timed out",
        "no leader",
    ]
    .iter()
    .any(|s| message.contains(s))
}
