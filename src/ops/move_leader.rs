//! Leadership transfer, shared by `move-leader`, `defrag` (the leader goes
//! last) and `resize` (before the leader is removed): which member should
//! lead next, as a pure function of the cluster state, and the one executor
//! that asks the leader to hand over and waits until every member that
//! answers reports the new leader.
//!
//! Cost: one MoveLeader call on the leader, then one Status per member every
//! 300 ms until the members agree (an election takes one or two heartbeats).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::cluster_state::{ClusterState, MemberState};
use super::error::{CannotLead, Error, Result};
use super::Interrupt;
use crate::connect::Target;
use crate::etcd::{self, format_id, ConnectSettings, EtcdClient, Survey};

/// A leadership transfer: from the current leader to one voting follower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub from: String,
    #[serde(serialize_with = "hex_id")]
    pub from_id: u64,
    pub to: String,
    #[serde(serialize_with = "hex_id")]
    pub to_id: u64,
    /// The target's applied raft index when the plan was made.
    pub to_applied_index: u64,
    /// The target leads already: nothing to do.
    pub already: bool,
}

fn hex_id<S: serde::Serializer>(id: &u64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format_id(*id))
}

impl Plan {
    pub fn describe(&self) -> String {
        format!("move leadership from `{}` to `{}`", self.from, self.to)
    }
}

/// The cluster as a leadership transfer sees it: the leader is a member
/// that answers and names itself leader, never a stale view (a learner
/// keeps naming the last leader it heard of after quorum is lost).
pub fn state_of(survey: &Survey) -> ClusterState {
    let mut state = ClusterState::from_survey(survey);
    state.leader = survey
        .views
        .iter()
        .find(|v| v.is_leader())
        .and_then(|v| v.member_id());
    state
}

/// Who should lead next: the member named by `to` (name or 16-hex id), or
/// the healthiest voting follower with the highest applied index. Refuses
/// (exit 4) a cluster without a leader, a learner, and a target that does
/// not answer or lags; an unknown name is a usage error.
pub fn plan(state: &ClusterState, to: Option<&str>) -> Result<Plan> {
    let leader = state.leader.ok_or(Error::NoLeader)?;
    let from = state
        .member(leader)
        .ok_or(Error::LeaderNotListed { id: leader })?;
    if let Some(e) = &from.error {
        return Err(Error::LeaderUnreachable {
            leader: from.label(),
            why: e.clone(),
        });
    }
    let target = match to {
        Some(want) => {
            let t = state.find(want).ok_or_else(|| Error::NoSuchMember {
                name: want.to_string(),
                members: state.members.iter().map(MemberState::label).collect(),
            })?;
            if t.id != leader {
                check_target(t)?;
            }
            t
        }
        None => state
            .healthiest_follower(leader)
            .ok_or_else(|| Error::NoSuccessor {
                leader: from.label(),
            })?,
    };
    Ok(Plan {
        from: from.label(),
        from_id: from.id,
        to: target.label(),
        to_id: target.id,
        to_applied_index: target.raft_applied_index,
        already: target.id == leader,
    })
}

/// Why `t` may not lead, as a refusal.
fn check_target(t: &MemberState) -> Result<()> {
    let why = if t.is_learner {
        CannotLead::Learner
    } else if let Some(e) = &t.error {
        CannotLead::Unreachable(e.clone())
    } else if t.lagging {
        CannotLead::Lagging {
            applied: t.raft_applied_index,
        }
    } else {
        return Ok(());
    };
    Err(Error::CannotLead {
        member: t.label(),
        why,
    })
}

/// Ask the leader to hand leadership to `plan.to`, then wait (up to
/// `timeout`) until every member that answers reports it as leader. Returns
/// the cluster as seen then. Ctrl-C before the request changes nothing;
/// after it, the error says the transfer was asked for (exit 130).
pub async fn transfer(
    targets: &[Target],
    settings: &ConnectSettings,
    plan: &Plan,
    timeout: Duration,
    interrupt: &Interrupt,
    note: &mut dyn FnMut(String),
) -> Result<(Survey, ClusterState)> {
    let survey = Survey::take(targets, settings).await;
    let state = state_of(&survey);
    if all_report(&survey, plan.to_id) {
        return Ok((survey, state));
    }
    if state.leader != Some(plan.from_id) {
        return Err(Error::LeadershipChanged {
            from: plan.from.clone(),
        });
    }
    let leader = client_of(&survey, &state, plan.from_id).ok_or_else(|| Error::LeaderLost {
        leader: plan.from.clone(),
    })?;
    if interrupt.fired() {
        return Err(Error::interrupted(format!(
            "interrupted before moving leadership: `{}` still leads, nothing changed",
            plan.from
        )));
    }
    note(format!(
        "moving leadership from `{}` to `{}`",
        plan.from, plan.to
    ));
    etcd::maintenance::move_leader(leader, plan.to_id)
        .await
        .map_err(|e| Error::from(e).context(format!("moving leadership to `{}`", plan.to)))?;
    let deadline = Instant::now() + timeout;
    let mut clients = Survey::live_clients(&survey);
    loop {
        let survey = Survey::take_reusing(targets, settings, &clients).await;
        clients = Survey::live_clients(&survey);
        if all_report(&survey, plan.to_id) {
            let state = state_of(&survey);
            return Ok((survey, state));
        }
        if Instant::now() >= deadline {
            return Err(Error::LeaderNotConfirmed {
                to: plan.to.clone(),
                after: timeout,
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
            _ = interrupt.wait_for(1) => {
                return Err(Error::interrupted(format!(
                    "interrupted: leadership transfer from `{}` to `{}` was requested, \
                     not yet confirmed by every member",
                    plan.from, plan.to
                ))
                .resume("check `kubectl etcd status` to see who leads now"));
            }
        }
    }
}

/// Every member that answered names `leader`, and at least one answered.
fn all_report(survey: &Survey, leader: u64) -> bool {
    let mut statuses = survey.statuses().peekable();
    statuses.peek().is_some() && statuses.all(|s| s.leader == leader)
}

fn client_of<'a>(survey: &'a Survey, state: &ClusterState, id: u64) -> Option<&'a EtcdClient> {
    let i = state.member(id)?.target?;
    survey.views.get(i)?.client.as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::ops::cluster_state::fixtures::*;

    #[test]
    fn by_default_the_follower_with_the_highest_applied_index_takes_over() {
        let mut s = three(1);
        s.members[1].raft_applied_index = 90;
        s.members[2].raft_applied_index = 120;
        let p = plan(&s, None).unwrap();
        assert_eq!((p.from.as_str(), p.to.as_str()), ("m1", "m3"));
        assert_eq!(p.to_id, 3);
        assert!(!p.already);
        // A lagging or unreachable follower is passed over.
        s.members[2].lagging = true;
        assert_eq!(plan(&s, None).unwrap().to, "m2");
        s.members[1].error = Some("connection refused".into());
        let e = crate::error::Error::from(plan(&s, None).unwrap_err());
        assert_eq!(e.kind, Kind::Refused);
    }

    #[test]
    fn a_named_target_by_name_or_id_and_the_leader_itself_is_a_no_op() {
        let s = three(2);
        assert_eq!(plan(&s, Some("m3")).unwrap().to_id, 3);
        assert_eq!(plan(&s, Some("0000000000000001")).unwrap().to, "m1");
        assert!(plan(&s, Some("m2")).unwrap().already);
        assert_eq!(
            crate::error::Error::from(plan(&s, Some("nope")).unwrap_err()).kind,
            Kind::Usage
        );
    }

    #[test]
    fn learners_unreachable_and_lagging_targets_and_no_leader_are_refused() {
        let mut s = three(1);
        s.members[1].is_learner = true;
        s.members[2].error = Some("connection refused".into());
        let e = crate::error::Error::from(plan(&s, Some("m2")).unwrap_err());
        assert_eq!(e.kind, Kind::Refused);
        assert!(
            matches!(e.cause.as_deref(), Some(crate::error::Cause::Ops(o)) if matches!(**o, Error::CannotLead { why: CannotLead::Learner, .. })),
            "{}",
            e.message
        );
        let e = crate::error::Error::from(plan(&s, Some("m3")).unwrap_err());
        assert_eq!(e.kind, Kind::Refused);
        assert!(
            matches!(e.cause.as_deref(), Some(crate::error::Cause::Ops(o)) if matches!(**o, Error::CannotLead { why: CannotLead::Unreachable(_), .. })),
            "{}",
            e.message
        );
        let mut s = three(1);
        s.members[2].lagging = true;
        assert_eq!(
            crate::error::Error::from(plan(&s, Some("m3")).unwrap_err()).kind,
            Kind::Refused
        );
        // A leader that no longer answers (a learner still names it).
        s.members[0].error = Some("connection refused".into());
        let e = crate::error::Error::from(plan(&s, None).unwrap_err());
        assert_eq!(e.kind, Kind::Refused);
        assert!(
            matches!(e.cause.as_deref(), Some(crate::error::Cause::Ops(o)) if matches!(**o, Error::LeaderUnreachable { .. })),
            "{}",
            e.message
        );
        s.leader = None;
        assert_eq!(
            crate::error::Error::from(plan(&s, None).unwrap_err()).kind,
            Kind::Refused
        );
        assert_eq!(
            crate::error::Error::from(plan(&s, Some("m2")).unwrap_err()).kind,
            Kind::Refused
        );
    }
}
