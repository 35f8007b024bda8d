//! `members` as data: the member list with each member's health, and a
//! learner's catch-up progress.

use serde::Serialize;

use crate::connect::direct::Endpoint;
use crate::context::Cluster;
use crate::etcd::{self, format_id, EtcdClient, Survey};
use crate::ops::error::{Error, MemberProblem, Result};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRow {
    pub id: String,
    /// Empty until the member has started.
    pub name: String,
    #[serde(rename = "peerURLs")]
    pub peer_urls: Vec<String>,
    #[serde(rename = "clientURLs")]
    pub client_urls: Vec<String>,
    pub is_learner: bool,
    pub started: bool,
    pub pod: Option<String>,
    pub node: Option<String>,
    pub healthy: bool,
    /// Why the member is not healthy; `null` when it is.
    pub error: Option<String>,
    /// Raft entries applied, when the member answered a status request.
    pub raft_applied_index: Option<u64>,
    /// For a learner: its applied index as a percentage of the leader's
    /// (catch-up progress).
    pub catch_up_percent: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct MembersReport {
    pub members: Vec<MemberRow>,
}

/// The member list, each member asked for its health (a learner for its
/// status); a member that fails is a row, not an error.
pub async fn gather(cluster: &Cluster) -> Result<MembersReport> {
    let survey = Survey::take(&cluster.targets, &cluster.settings).await;
    let Some(members) = survey.members.clone() else {
        let cause = survey
            .views
            .iter()
            .find_map(|v| v.error.clone())
            .map(Error::from)
            .unwrap_or(Error::NoMemberAnswered);
        return Err(cause);
    };

    let mut rows = Vec::new();
    for m in &members {
        // A member that did not answer is matched to its pod by name or URL.
        let view = survey
            .views
            .iter()
            .find(|v| v.member_id() == Some(m.id))
            .or_else(|| {
                survey.views.iter().find(|v| {
                    v.status.is_none()
                        && v.target
                            .pod
                            .as_ref()
                            .is_some_and(|p| p.matches_member(&m.name, &m.client_urls))
                })
            });
        let mut applied = view
            .and_then(|v| v.status.as_ref())
            .map(|s| s.raft_applied_index);
        let error = view.and_then(|v| v.error.clone());
        let health = match (view.and_then(|v| v.client.as_ref()), error) {
            // A learner serves no linearizable reads: its status is its health.
            (Some(_), _) if m.is_learner && applied.is_some() => Ok(()),
            (Some(client), _) => etcd::health_check(client)
                .await
                .map(|_| ())
                .map_err(Error::from),
            (None, _) if !m.started() => Err(Error::Member(MemberProblem::NotStarted)),
            // Its pod is known but could not be reached (not Running, ...).
            (None, Some(e)) => Err(e.into()),
            // In direct mode a member outside --endpoints is dialled at its
            // advertised client URL, as etcdctl would.
            (None, None) if cluster.direct() => {
                dial_advertised(m, cluster).await.map(|a| applied = Some(a))
            }
            (None, None) => Err(Error::Member(MemberProblem::NoPod)),
        };
        rows.push(MemberRow {
            id: format_id(m.id),
            name: m.name.clone(),
            peer_urls: m.peer_urls.clone(),
            client_urls: m.client_urls.clone(),
            is_learner: m.is_learner,
            started: m.started(),
            pod: view.and_then(|v| v.target.pod.as_ref().map(|p| p.name.clone())),
            node: view.and_then(|v| v.target.pod.as_ref().and_then(|p| p.node.clone())),
            healthy: health.is_ok(),
            error: health.err().map(Error::line),
            raft_applied_index: applied,
            catch_up_percent: None,
        });
    }
    let leader_applied = survey.leader_id().and_then(|l| {
        let i = members.iter().position(|m| m.id == l)?;
        rows[i].raft_applied_index
    });
    for r in rows.iter_mut().filter(|r| r.is_learner) {
        if let (Some(a), Some(l)) = (r.raft_applied_index, leader_applied) {
            r.catch_up_percent = Some(crate::output::percent(a.min(l), l.max(1)));
        }
    }
    Ok(MembersReport { members: rows })
}

/// Health (status for a learner) at the advertised client URL; the
/// member's applied index.
async fn dial_advertised(m: &etcd::Member, cluster: &Cluster) -> Result<u64> {
    let url = m
        .client_urls
        .first()
        .ok_or(Error::Member(MemberProblem::NoClientUrl))?;
    let target = Endpoint::parse(url, false)?.target();
    let client = EtcdClient::connect(&target, &cluster.settings).await?;
    let status = etcd::status(&client).await?;
    if !m.is_learner {
        etcd::health_check(&client).await?;
    }
    Ok(status.raft_applied_index)
}
