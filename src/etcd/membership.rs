//! Membership changes: add a learner, promote it, remove a member. Each call
//! returns data; nothing prints, nothing retries (the wizards decide that).

use etcd_client::MemberAddOptions;

use super::Result;
use super::{EtcdClient, Member};

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
