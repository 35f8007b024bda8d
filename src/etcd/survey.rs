//! One look at every member at once: connect, status, and the cluster-wide
//! member list and alarms. Status, size, members, health and the maintenance
//! plans all start from a [`Survey`].

use crate::connect::Target;

use super::{alarms, member_list, status, Alarm, ConnectSettings, EtcdClient, Member, Status};
use super::{Error, Result};

/// One target as seen now.
pub struct MemberView {
    pub target: Target,
    pub client: Option<EtcdClient>,
    pub status: Option<Status>,
    pub error: Option<Error>,
}

impl MemberView {
    pub fn member_id(&self) -> Option<u64> {
        self.status.as_ref().map(|s| s.member_id)
    }

    pub fn is_leader(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.leader != 0 && s.leader == s.member_id)
    }
}

/// Every target, plus what the cluster says about itself.
pub struct Survey {
    pub views: Vec<MemberView>,
    /// From the first member that answered; `None` when none did.
    pub members: Option<Vec<Member>>,
    pub alarms: Vec<Alarm>,
    /// Why the alarm list could not be read (etcd answers it through raft,
    /// so not without a quorum): then `alarms` is empty but says nothing.
    pub alarms_error: Option<Error>,
}

impl Survey {
    pub async fn take(targets: &[Target], settings: &ConnectSettings) -> Survey {
        Survey::take_reusing(targets, settings, &[]).await
    }

    /// Like [`take`](Self::take), reusing the clients of `previous` (by
    /// target index) instead of dialling again: pollers ask every member
    /// many times, and a port-forward per poll is expensive.
    pub async fn take_reusing(
        targets: &[Target],
        settings: &ConnectSettings,
        previous: &[Option<EtcdClient>],
    ) -> Survey {
        let views =
            futures::future::join_all(targets.iter().enumerate().map(|(i, t)| async move {
                let connected = match previous.get(i).cloned().flatten() {
                    Some(client) => Ok(client),
                    None => EtcdClient::connect(t, settings).await,
                };
                match connected {
                    Err(e) => MemberView {
                        target: t.clone(),
                        client: None,
                        status: None,
                        error: Some(e),
                    },
                    Ok(client) => match status(&client).await {
                        Ok(s) => MemberView {
                            target: t.clone(),
                            client: Some(client),
                            status: Some(s),
                            error: None,
                        },
                        Err(e) => MemberView {
                            target: t.clone(),
                            client: Some(client),
                            status: None,
                            error: Some(e),
                        },
                    },
                }
            }))
            .await;

        let mut members = None;
        let mut alarm_list = Vec::new();
        let mut alarms_error = None;
        for v in views.iter().filter(|v| v.status.is_some()) {
            let client = v.client.as_ref().expect("a status implies a client");
            if let Ok(m) = member_list(client).await {
                members = Some(m);
                match alarms(client).await {
                    Ok(a) => alarm_list = a,
                    Err(e) => alarms_error = Some(e),
                }
                break;
            }
        }
        Survey {
            views,
            members,
            alarms: alarm_list,
            alarms_error,
        }
    }

    /// The active alarms, or why they could not be read: an empty list
    /// is only "no alarm" when etcd said so.
    pub fn alarm_list(&self) -> Result<&[Alarm]> {
        match &self.alarms_error {
            Some(e) => Err(e.clone()),
            None => Ok(&self.alarms),
        }
    }

    pub fn member_name(&self, id: u64) -> Option<&str> {
        self.members
            .as_ref()?
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.name.as_str())
    }

    /// The member behind a target that did not answer: its pod matched by
    /// member name (pod or node) or client URL, among the members no other
    /// target answered for.
    pub fn member_behind(&self, target: &Target) -> Option<&Member> {
        let pod = target.pod.as_ref()?;
        let answered: Vec<u64> = self.views.iter().filter_map(|v| v.member_id()).collect();
        self.members
            .as_ref()?
            .iter()
            .filter(|m| !answered.contains(&m.id))
            .find(|m| pod.matches_member(&m.name, &m.client_urls))
    }

    pub fn max_raft_term(&self) -> u64 {
        self.own_statuses().map(|s| s.raft_term).max().unwrap_or(0)
    }

    pub fn max_applied_index(&self) -> u64 {
        self.own_statuses()
            .map(|s| s.raft_applied_index)
            .max()
            .unwrap_or(0)
    }

    /// The cluster id most members that answered report (the first such
    /// on a tie); `None` when none said.
    pub fn cluster_id(&self) -> Option<u64> {
        let ids: Vec<u64> = self
            .statuses()
            .map(|s| s.cluster_id)
            .filter(|&id| id != 0)
            .collect();
        ids.iter().copied().max_by_key(|id| {
            let first = ids.iter().position(|x| x == id).unwrap_or(0);
            (ids.iter().filter(|x| *x == id).count(), usize::MAX - first)
        })
    }

    /// Whether this member answered for another cluster than the others
    /// (an endpoint of the wrong cluster, or an address reused).
    pub fn foreign(&self, s: &Status) -> bool {
        s.cluster_id != 0 && self.cluster_id().is_some_and(|id| id != s.cluster_id)
    }

    /// The statuses of the members of the cluster most answered for.
    fn own_statuses(&self) -> impl Iterator<Item = &Status> {
        self.statuses().filter(|s| !self.foreign(s))
    }

    pub fn statuses(&self) -> impl Iterator<Item = &Status> {
        self.views.iter().filter_map(|v| v.status.as_ref())
    }

    /// The clients of the members that answered, one slot per target, to
    /// survey again without dialling ([`Survey::take_reusing`]).
    pub fn live_clients(&self) -> Vec<Option<EtcdClient>> {
        self.views
            .iter()
            .map(|v| v.status.as_ref().and(v.client.clone()))
            .collect()
    }

    /// `Err` (exit 3) when not one member answered: a cluster that could
    /// not be reached at all, with the first member's cause (refused, TLS,
    /// authentication), not a refusal to act on it.
    pub fn reached(&self) -> Result<()> {
        if self.views.is_empty() || self.views.iter().any(|v| v.status.is_some()) {
            return Ok(());
        }
        let total = self.views.len();
        Err(Error::Unreached {
            total,
            endpoint: (total == 1).then(|| self.views[0].target.endpoint.clone()),
            first: self
                .views
                .iter()
                .find_map(|v| v.error.clone())
                .map(Box::new),
        })
    }

    /// A member that answered, for cluster-wide requests.
    pub fn answering_client(&self) -> Result<&EtcdClient> {
        self.views
            .iter()
            .find_map(|v| v.status.as_ref().and(v.client.as_ref()))
            .ok_or(Error::NoMemberAnswered)
    }

    /// Whether a member is behind the others: an older raft term (it missed
    /// an election) or an applied index more than `threshold` entries back.
    pub fn lagging(&self, s: &Status, threshold: u64) -> bool {
        s.raft_term < self.max_raft_term()
            || s.raft_applied_index + threshold < self.max_applied_index()
    }

    pub fn leader_id(&self) -> Option<u64> {
        // The highest term's view of the leader is the current one.
        self.own_statuses()
            .filter(|s| s.leader != 0)
            .max_by_key(|s| s.raft_term)
            .map(|s| s.leader)
    }

    pub fn failures(&self) -> usize {
        self.views.iter().filter(|v| v.error.is_some()).count()
    }
}
