//! The cluster as plans see it: one plain row per member, joined from the
//! member list and each member's own status. Built from a [`Survey`]; the
//! rest of `ops` only reads these values, so plans are testable without etcd.

use serde::Serialize;

use crate::etcd::{format_id, Survey};

/// Raft entries a member may be behind before it counts as lagging.
pub const LAG_THRESHOLD: u64 = 1000;

/// One member, as far as it could be asked.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberState {
    #[serde(serialize_with = "hex_id")]
    pub id: u64,
    pub name: String,
    /// Index into the command's targets of the endpoint that reaches it.
    #[serde(skip)]
    pub target: Option<usize>,
    /// Why its status could not be read; `None` when it answered.
    pub error: Option<String>,
    pub is_learner: bool,
    pub db_size: u64,
    pub db_size_in_use: u64,
    pub db_size_quota: u64,
    #[serde(skip)]
    pub quota_origin: crate::etcd::QuotaOrigin,
    pub raft_term: u64,
    pub raft_applied_index: u64,
    pub lagging: bool,
    /// From the member list; empty for a row known only by its endpoint.
    #[serde(rename = "peerURLs")]
    pub peer_urls: Vec<String>,
    #[serde(rename = "clientURLs")]
    pub client_urls: Vec<String>,
}

fn hex_id<S: serde::Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_id(*id))
}

impl MemberState {
    /// A voter that answers and keeps up: what quorum can count on.
    pub fn healthy_voter(&self) -> bool {
        !self.is_learner && self.reachable() && !self.lagging
    }

    pub fn reachable(&self) -> bool {
        self.error.is_none()
    }

    /// Whether the member has started (a member added but never started
    /// has no name yet).
    pub fn started(&self) -> bool {
        !self.name.is_empty()
    }

    /// `name` (or the id when the member has no name yet).
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format_id(self.id)
        } else {
            self.name.clone()
        }
    }

    /// Bytes a defragmentation is expected to give back.
    pub fn reclaimable(&self) -> u64 {
        self.db_size.saturating_sub(self.db_size_in_use)
    }

    pub fn fragmentation_percent(&self) -> f64 {
        crate::output::percent(self.reclaimable(), self.db_size)
    }
}

/// Every member and the leader they agree on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusterState {
    pub members: Vec<MemberState>,
    pub leader: Option<u64>,
}

impl ClusterState {
    /// Join the member list with each target's status. Members the list
    /// names but no target answers for are unreachable; targets that answer
    /// for no listed member (no member list at all) are kept by endpoint.
    pub fn from_survey(survey: &Survey) -> ClusterState {
        let mut members = Vec::new();
        let listed = survey.members.clone().unwrap_or_default();
        let mut used = vec![false; survey.views.len()];
        // Which target failed is known, which member it was is not (a pod
        // name is not a client URL): a single failed target is the answer.
        let failed: Vec<usize> = survey
            .views
            .iter()
            .enumerate()
            .filter(|(_, v)| v.status.is_none())
            .filter(|(_, v)| {
                !listed.iter().any(|m| {
                    m.client_urls
                        .iter()
                        .any(|u| same_url(u, &v.target.endpoint))
                })
            })
            .map(|(i, _)| i)
            .collect();
        let unmatched_members = listed
            .iter()
            .filter(|m| {
                !survey.views.iter().any(|v| {
                    v.member_id() == Some(m.id)
                        || m.client_urls
                            .iter()
                            .any(|u| same_url(u, &v.target.endpoint))
                })
            })
            .count();
        let only_failed = (failed.len() == 1 && unmatched_members == 1).then(|| failed[0]);
        for m in &listed {
            let by_id = survey
                .views
                .iter()
                .position(|v| v.member_id() == Some(m.id));
            let by_url = || {
                survey.views.iter().position(|v| {
                    v.status.is_none()
                        && m.client_urls
                            .iter()
                            .any(|u| same_url(u, &v.target.endpoint))
                })
            };
            let target = by_id.or_else(by_url).or(only_failed);
            if let Some(i) = target {
                used[i] = true;
            }
            let view = target.map(|i| &survey.views[i]);
            let mut row = MemberState {
                id: m.id,
                name: m.name.clone(),
                target,
                error: Some("not among the endpoints given".into()),
                is_learner: m.is_learner,
                peer_urls: m.peer_urls.clone(),
                client_urls: m.client_urls.clone(),
                ..MemberState::default()
            };
            if let Some(v) = view {
                row.error = v
                    .error
                    .clone()
                    .map(|e| crate::error::Error::from(e).message);
                if let Some(s) = &v.status {
                    row.db_size = s.db_size;
                    row.db_size_in_use = s.db_size_in_use;
                    row.db_size_quota = s.db_size_quota;
                    row.quota_origin = s.quota_origin;
                    row.raft_term = s.raft_term;
                    row.raft_applied_index = s.raft_applied_index;
                    row.lagging = survey.lagging(s, LAG_THRESHOLD);
                    row.is_learner = s.is_learner;
                }
            }
            members.push(row);
        }
        for (i, v) in survey.views.iter().enumerate() {
            if used[i] {
                continue;
            }
            members.push(MemberState {
                id: v.member_id().unwrap_or_default(),
                name: v.target.endpoint.clone(),
                target: Some(i),
                error: Some(
                    v.error
                        .as_ref()
                        .map(|e| crate::error::Error::from(e.clone()).message)
                        .unwrap_or_else(|| "not in the member list".into()),
                ),
                client_urls: vec![v.target.endpoint.clone()],
                ..MemberState::default()
            });
        }
        ClusterState {
            members,
            leader: survey.leader_id(),
        }
    }

    pub fn member(&self, id: u64) -> Option<&MemberState> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn is_leader(&self, id: u64) -> bool {
        self.leader == Some(id)
    }

    /// Why the cluster is not safe to disturb right now, naming the member
    /// that blocks it; `None` when every voting member answers, there is a
    /// leader and no voting member lags. Learners never block: they do not
    /// count for quorum.
    pub fn blocker(&self) -> Option<String> {
        for m in self.members.iter().filter(|m| !m.is_learner) {
            if let Some(e) = &m.error {
                return Some(format!(
                    "member `{}` ({}) is not reachable: {e}",
                    m.label(),
                    format_id(m.id)
                ));
            }
        }
        match self.leader {
            None => return Some("the cluster has no leader".into()),
            Some(l) if self.member(l).is_none() => {
                return Some(format!(
                    "the leader {} is not in the member list",
                    format_id(l)
                ))
            }
            Some(_) => {}
        }
        for m in self.members.iter().filter(|m| !m.is_learner) {
            if m.lagging {
                return Some(format!(
                    "member `{}` ({}) is lagging behind the others",
                    m.label(),
                    format_id(m.id)
                ));
            }
        }
        None
    }

    /// The voting follower best placed to take over leadership: reachable,
    /// not lagging, the most raft entries applied (then the name, for a
    /// stable answer). `None` when there is no such follower.
    pub fn healthiest_follower(&self, except: u64) -> Option<&MemberState> {
        self.members
            .iter()
            .filter(|m| m.id != except && !self.is_leader(m.id))
            .filter(|m| m.healthy_voter())
            .max_by(|a, b| {
                a.raft_applied_index
                    .cmp(&b.raft_applied_index)
                    .then_with(|| b.name.cmp(&a.name))
            })
    }

    /// Find a member by name or 16-hex id.
    pub fn find(&self, name_or_id: &str) -> Option<&MemberState> {
        self.members
            .iter()
            .find(|m| m.name == name_or_id)
            .or_else(|| {
                let id = crate::etcd::parse_id(name_or_id)?;
                self.members.iter().find(|m| m.id == id)
            })
    }
}

/// Client URLs compared loosely: scheme, host and port, no trailing slash.
pub fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

#[cfg(test)]
pub mod fixtures {
    //! Plain cluster states for plan tests.
    use super::*;

    pub fn member(id: u64, name: &str, db: u64, in_use: u64) -> MemberState {
        MemberState {
            id,
            name: name.into(),
            target: Some(id as usize),
            error: None,
            is_learner: false,
            db_size: db,
            db_size_in_use: in_use,
            db_size_quota: 0,
            quota_origin: crate::etcd::QuotaOrigin::Status,
            raft_term: 2,
            raft_applied_index: 100,
            lagging: false,
            peer_urls: Vec::new(),
            client_urls: Vec::new(),
        }
    }

    pub fn three(leader: u64) -> ClusterState {
        ClusterState {
            members: vec![
                member(1, "m1", 1000, 400),
                member(2, "m2", 1000, 400),
                member(3, "m3", 1000, 400),
            ],
            leader: Some(leader),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;

    #[test]
    fn a_healthy_cluster_has_no_blocker() {
        assert_eq!(three(1).blocker(), None);
    }

    #[test]
    fn an_unreachable_voter_blocks_and_is_named() {
        let mut s = three(1);
        s.members[1].error = Some("connection refused".into());
        let b = s.blocker().unwrap();
        assert!(b.contains("`m2`"), "{b}");
        assert!(b.contains("connection refused"), "{b}");
    }

    #[test]
    fn an_unreachable_learner_does_not_block() {
        let mut s = three(1);
        let mut l = member(4, "learner", 10, 5);
        l.is_learner = true;
        l.error = Some("connection refused".into());
        s.members.push(l);
        assert_eq!(s.blocker(), None);
    }

    #[test]
    fn a_lagging_voter_or_no_leader_blocks() {
        let mut s = three(1);
        s.members[2].lagging = true;
        assert!(s.blocker().unwrap().contains("`m3`"));
        let mut s = three(1);
        s.leader = None;
        assert!(s.blocker().unwrap().contains("no leader"));
    }

    #[test]
    fn the_healthiest_follower_has_applied_the_most() {
        let mut s = three(1);
        s.members[1].raft_applied_index = 90;
        assert_eq!(s.healthiest_follower(1).unwrap().name, "m3");
        s.members[2].lagging = true;
        assert_eq!(s.healthiest_follower(1).unwrap().name, "m2");
        s.members[1].is_learner = true;
        assert_eq!(s.healthiest_follower(1), None);
    }

    mod from_survey {
        use crate::connect::direct::Endpoint;
        use crate::etcd::{Error, Member, MemberView, Status, Survey};
        use crate::ops::cluster_state::ClusterState;

        fn view(url: &str, status: Option<Status>) -> MemberView {
            MemberView {
                target: Endpoint::parse(url, false).unwrap().target(),
                client: None,
                error: status
                    .is_none()
                    .then_some(Error::Connect(crate::connect::Error::Refused)),
                status,
            }
        }

        fn status(id: u64, leader: u64, applied: u64) -> Status {
            Status {
                member_id: id,
                version: "3.5.0".into(),
                db_size: 100,
                db_size_in_use: 60,
                db_size_quota: 0,
                quota_origin: crate::etcd::QuotaOrigin::Status,
                leader,
                raft_term: 3,
                raft_index: applied,
                raft_applied_index: applied,
                revision: 9,
                is_learner: false,
                errors: vec![],
                cluster_id: 0,
            }
        }

        fn member(id: u64, name: &str, url: &str) -> Member {
            Member {
                id,
                name: name.into(),
                peer_urls: vec![],
                client_urls: vec![url.into()],
                is_learner: false,
            }
        }

        #[test]
        fn members_are_joined_by_id_and_a_down_one_by_its_url() {
            let survey = Survey {
                views: vec![
                    view("http://10.0.0.1:2379", Some(status(1, 1, 500))),
                    view("http://10.0.0.2:2379", None),
                    view("http://10.0.0.3:2379", Some(status(3, 1, 5000))),
                ],
                members: Some(vec![
                    member(1, "a", "http://10.0.0.1:2379"),
                    member(2, "b", "http://10.0.0.2:2379/"),
                    member(3, "c", "http://10.0.0.3:2379"),
                ]),
                alarms: vec![],
                alarms_error: None,
            };
            let s = ClusterState::from_survey(&survey);
            assert_eq!(s.leader, Some(1));
            let b = s.member(2).unwrap();
            assert_eq!(b.target, Some(1));
            assert_eq!(b.error.as_deref(), Some("connection refused"));
            // 500 applied against 5000: more than the lag threshold behind.
            assert!(s.member(1).unwrap().lagging);
            assert!(!s.member(3).unwrap().lagging);
            assert!(s.blocker().unwrap().contains("`b`"));
        }

        #[test]
        fn a_lone_failed_pod_target_is_the_member_nothing_answered_for() {
            let survey = Survey {
                views: vec![
                    view("http://10.0.0.1:2379", Some(status(1, 1, 10))),
                    // A pod's port-forward: not one of the client URLs.
                    view("http://127.0.0.1:40000", None),
                ],
                members: Some(vec![
                    member(1, "a", "http://10.0.0.1:2379"),
                    member(2, "b", "https://etcd-b:2379"),
                ]),
                alarms: vec![],
                alarms_error: None,
            };
            let s = ClusterState::from_survey(&survey);
            assert_eq!(s.members.len(), 2, "no extra row for the failed target");
            assert_eq!(s.member(2).unwrap().target, Some(1));
            assert_eq!(
                s.member(2).unwrap().error.as_deref(),
                Some("connection refused")
            );
        }

        #[test]
        fn a_member_no_endpoint_reaches_blocks_with_a_reason() {
            let survey = Survey {
                views: vec![view("http://10.0.0.1:2379", Some(status(1, 1, 10)))],
                members: Some(vec![
                    member(1, "a", "http://10.0.0.1:2379"),
                    member(2, "b", "http://10.0.0.2:2379"),
                ]),
                alarms: vec![],
                alarms_error: None,
            };
            let b = ClusterState::from_survey(&survey).blocker().unwrap();
            assert!(b.contains("not among the endpoints given"), "{b}");
        }
    }

    #[test]
    fn members_are_found_by_name_or_hex_id() {
        let s = three(1);
        assert_eq!(s.find("m2").unwrap().id, 2);
        assert_eq!(s.find("0000000000000003").unwrap().id, 3);
        assert!(s.find("nope").is_none());
    }
}
