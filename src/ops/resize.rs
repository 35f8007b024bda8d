//! Membership changes as plans: the quorum math before and after a change,
//! the refusals that keep quorum, and the steps (move leadership, remove,
//! add a learner, start it, wait for it to catch up, promote it).
//!
//! Pure: a plan is a function of a [`ClusterState`] and the wanted change.
//! Steps the cluster shows as already done are marked done, so a wizard
//! stopped half-way picks up where the cluster is. Nothing here talks to
//! etcd or prints.

pub mod executor;

use super::plural;
use serde::Serialize;

use crate::etcd::format_id;
use crate::ops::cluster_state::{ClusterState, MemberState};

/// Votes needed to commit anything: a majority of the voting members.
pub fn quorum(voters: usize) -> usize {
    voters / 2 + 1
}

/// Voting members that may fail while a quorum stays.
pub fn tolerance(voters: usize) -> usize {
    voters.saturating_sub(quorum(voters))
}

/// The quorum picture of one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quorum {
    pub voters: usize,
    pub healthy: usize,
    pub quorum: usize,
    /// Failures tolerated by the configuration when every voter is up.
    pub tolerance: usize,
}

impl Quorum {
    pub fn of(voters: usize, healthy: usize) -> Quorum {
        Quorum {
            voters,
            healthy,
            quorum: quorum(voters),
            tolerance: tolerance(voters),
        }
    }

    pub fn has_quorum(&self) -> bool {
        self.voters > 0 && self.healthy >= self.quorum
    }

    /// Further failures the cluster survives right now.
    pub fn margin(&self) -> usize {
        self.healthy.saturating_sub(self.quorum)
    }

    /// `3 voting members (3 healthy): quorum 2, tolerates 1 failure`.
    pub fn describe(&self) -> String {
        format!(
            "{} voting member{} ({} healthy): quorum {}, tolerates {} failure{}{}",
            self.voters,
            plural(self.voters),
            self.healthy,
            self.quorum,
            self.tolerance,
            plural(self.tolerance),
            if self.healthy < self.voters && self.has_quorum() {
                format!(", {} more now", self.margin())
            } else if !self.has_quorum() {
                ", NO QUORUM".to_string()
            } else {
                String::new()
            }
        )
    }
}

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Add {
        name: String,
        peer_urls: Vec<String>,
    },
    Remove {
        member: String,
    },
    Replace {
        member: String,
        name: String,
        peer_urls: Vec<String>,
    },
}

/// One step of a membership change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "action",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Step {
    /// Hand leadership to `to` before the leader is removed.
    MoveLeader {
        from: String,
        to: String,
        #[serde(skip)]
        to_id: u64,
    },
    Remove {
        name: String,
        id: String,
        #[serde(skip)]
        raw_id: u64,
    },
    AddLearner {
        name: String,
        peer_urls: Vec<String>,
    },
    /// The operator (or kubeadm) starts etcd on the new node.
    StartMember {
        name: String,
    },
    /// The learner's applied index comes within the threshold of the leader's.
    CatchUp {
        name: String,
    },
    Promote {
        name: String,
    },
}

impl Step {
    pub fn describe(&self) -> String {
        match self {
            Step::MoveLeader { from, to, .. } => {
                format!("move leadership from `{from}` to `{to}`")
            }
            Step::Remove { name, id, .. } => format!("remove member `{name}` ({id})"),
            Step::AddLearner { name, peer_urls } => {
                format!(
                    "add `{name}` as a learner (non-voting) at {}",
                    peer_urls.join(",")
                )
            }
            Step::StartMember { name } => format!("start etcd on the new node `{name}`"),
            Step::CatchUp { name } => {
                format!("wait until learner `{name}` has caught up with the leader")
            }
            Step::Promote { name } => format!("promote `{name}` to a voting member"),
        }
    }
}

/// A step and whether the cluster shows it done already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedStep {
    #[serde(flatten)]
    pub step: Step,
    pub done: bool,
}

/// The whole change: quorum now and after, steps, warnings, and why it is
/// refused (the command lets `--force` override a refusal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub change: String,
    pub before: Quorum,
    pub after: Quorum,
    pub steps: Vec<PlannedStep>,
    pub warnings: Vec<String>,
    pub refusal: Option<String>,
}

impl Plan {
    pub fn pending(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| !s.done).map(|s| &s.step)
    }

    pub fn is_done(&self) -> bool {
        self.steps.iter().all(|s| s.done)
    }
}

/// The quorum picture of the current configuration.
pub fn current(state: &ClusterState) -> Quorum {
    let voters = state.members.iter().filter(|m| !m.is_learner).count();
    let healthy = state.members.iter().filter(|m| m.healthy_voter()).count();
    Quorum::of(voters, healthy)
}

/// Whether a learner at `learner_applied` is close enough to the leader's
/// `leader_applied` to be promoted.
pub fn caught_up(learner_applied: u64, leader_applied: u64, threshold: u64) -> bool {
    learner_applied > 0 && learner_applied + threshold >= leader_applied
}

/// Why a change cannot be planned at all (refusals stay in the plan).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("a member named `{name}` already exists with peer URLs {peer_urls}")]
    NameTaken { name: String, peer_urls: String },
}

/// Plan `change` against `state`. `Err` is a usage problem (a name taken by
/// another URL); refusals stay in the plan.
pub fn plan(state: &ClusterState, change: &Change, promote: bool) -> Result<Plan, PlanError> {
    let before = current(state);
    let mut warnings = Vec::new();
    let mut refusal = None;
    let mut steps = Vec::new();
    let mut voters_after = before.voters;
    let mut healthy_after = before.healthy;
    let label;

    let removal = match change {
        Change::Remove { member } => {
            label = format!("remove `{member}`");
            Some((member.as_str(), None))
        }
        Change::Replace {
            member,
            name,
            peer_urls,
        } => {
            label = format!(
                "replace `{member}` with `{name}` at {}",
                peer_urls.join(",")
            );
            Some((member.as_str(), Some(peer_urls.as_slice())))
        }
        Change::Add { name, peer_urls } => {
            label = format!("add `{name}` at {}", peer_urls.join(","));
            None
        }
    };

    if let Some((who, replacement_urls)) = removal {
        // In a replace re-run, the member carrying the name may already be
        // the replacement: it is not the one to remove.
        let is_replacement = |m: &MemberState| {
            replacement_urls
                .is_some_and(|urls| (m.is_learner || !m.started()) && same_urls(&m.peer_urls, urls))
        };
        let target = state
            .members
            .iter()
            .filter(|m| !is_replacement(m))
            .find(|m| m.name == who)
            .or_else(|| {
                let id = crate::etcd::parse_id(who)?;
                state
                    .members
                    .iter()
                    .find(|m| m.id == id && !is_replacement(m))
            });
        match target {
            None if replacement_urls.is_none() => {
                return Ok(Plan {
                    change: label,
                    before,
                    after: before,
                    steps: vec![PlannedStep {
                        step: Step::Remove {
                            name: who.to_string(),
                            id: "-".into(),
                            raw_id: 0,
                        },
                        done: true,
                    }],
                    warnings: vec![format!("`{who}` is not a member (already removed?)")],
                    refusal: None,
                });
            }
            None => {
                // Replace re-run: the old member is gone already.
                steps.push(PlannedStep {
                    step: Step::Remove {
                        name: who.to_string(),
                        id: "-".into(),
                        raw_id: 0,
                    },
                    done: true,
                });
            }
            Some(t) => {
                if !t.is_learner {
                    voters_after -= 1;
                    if t.healthy_voter() {
                        healthy_after -= 1;
                    }
                    let after = Quorum::of(voters_after, healthy_after);
                    if before.voters <= 1 {
                        refusal = Some(format!(
                            "`{}` is the only voting member: removing it leaves no cluster",
                            t.label()
                        ));
                    } else if !before.has_quorum() {
                        // (with two or more voters and a quorum, at least two
                        // are healthy: the last healthy member is refused here
                        // or above)
                        refusal = Some(format!(
                            "the cluster has no quorum now ({}): etcd cannot commit a removal",
                            before.describe()
                        ));
                    } else if !after.has_quorum() {
                        refusal = Some(format!(
                            "removing `{}` leaves {} voting members of which {} healthy; \
                             a quorum of {} is needed, so the cluster would stop",
                            t.label(),
                            after.voters,
                            after.healthy,
                            after.quorum
                        ));
                    }
                    if replacement_urls.is_some() && t.healthy_voter() {
                        warnings.push(format!(
                            "`{}` is healthy: replace is meant for a failed member",
                            t.label()
                        ));
                    }
                }
                if state.is_leader(t.id) {
                    match state.healthiest_follower(t.id) {
                        Some(f) => steps.push(PlannedStep {
                            step: Step::MoveLeader {
                                from: t.label(),
                                to: f.label(),
                                to_id: f.id,
                            },
                            done: false,
                        }),
                        None => warnings.push(format!(
                            "`{}` is the leader and no healthy follower can take over: \
                             an election follows the removal",
                            t.label()
                        )),
                    }
                }
                steps.push(PlannedStep {
                    step: Step::Remove {
                        name: t.label(),
                        id: format_id(t.id),
                        raw_id: t.id,
                    },
                    done: false,
                });
            }
        }
    }

    let addition = match change {
        Change::Add { name, peer_urls }
        | Change::Replace {
            name, peer_urls, ..
        } => Some((name.as_str(), peer_urls.as_slice())),
        Change::Remove { .. } => None,
    };
    if let Some((name, peer_urls)) = addition {
        let mine = |m: &&MemberState| same_urls(&m.peer_urls, peer_urls);
        let existing = state.members.iter().find(mine);
        if let Some(clash) = state
            .members
            .iter()
            .find(|m| m.name == name && !same_urls(&m.peer_urls, peer_urls))
        {
            // In a replace the old member carries the name until removed.
            let being_removed = steps
                .iter()
                .any(|s| matches!(&s.step, Step::Remove { raw_id, .. } if *raw_id == clash.id));
            if !being_removed {
                return Err(PlanError::NameTaken {
                    name: name.to_string(),
                    peer_urls: clash.peer_urls.join(","),
                });
            }
        }
        if let Some(other) = state
            .members
            .iter()
            .find(|m| m.is_learner && !same_urls(&m.peer_urls, peer_urls))
        {
            refusal.get_or_insert(format!(
                "`{}` is still a learner: etcd allows one learner at a time; finish it \
                 (`resize add` it again) or remove it first",
                other.label()
            ));
        }
        let (added, started, promoted) = match existing {
            None => (false, false, false),
            Some(m) => (true, m.started(), !m.is_learner),
        };
        let caught = existing.is_some_and(|m| {
            promoted
                || (m.reachable()
                    && state.leader.and_then(|l| state.member(l)).is_some_and(|l| {
                        caught_up(
                            m.raft_applied_index,
                            l.raft_applied_index,
                            crate::ops::cluster_state::LAG_THRESHOLD,
                        )
                    }))
        });
        if !promoted {
            voters_after += 1;
            healthy_after += 1;
        }
        if !before.has_quorum() && !promoted {
            refusal.get_or_insert(format!(
                "the cluster has no quorum now ({}): etcd cannot commit a new member",
                before.describe()
            ));
        }
        let n = name.to_string();
        steps.push(PlannedStep {
            step: Step::AddLearner {
                name: n.clone(),
                peer_urls: peer_urls.to_vec(),
            },
            done: added,
        });
        steps.push(PlannedStep {
            step: Step::StartMember { name: n.clone() },
            done: started,
        });
        steps.push(PlannedStep {
            step: Step::CatchUp { name: n.clone() },
            done: caught,
        });
        if promote || promoted {
            steps.push(PlannedStep {
                step: Step::Promote { name: n },
                done: promoted,
            });
        }
    }

    let after = if addition.is_some() && !promote {
        // The learner does not vote until promoted.
        Quorum::of(voters_after - 1, healthy_after - 1)
    } else {
        Quorum::of(voters_after, healthy_after)
    };
    if after.voters > 0 && after.voters % 2 == 0 {
        warnings.push(format!(
            "{} voting members tolerate no more failures than {} ({}): \
             an odd size is the better choice",
            after.voters,
            after.voters - 1,
            after.tolerance
        ));
    }
    if refusal.is_none() && after.voters > 1 && after.margin() == 0 && after.has_quorum() {
        warnings.push(format!(
            "after the change no further member may fail ({})",
            after.describe()
        ));
    }
    Ok(Plan {
        change: label,
        before,
        after,
        steps,
        warnings,
        refusal,
    })
}

fn same_urls(a: &[String], b: &[String]) -> bool {
    !a.is_empty()
        && a.len() == b.len()
        && a.iter()
            .all(|x| b.iter().any(|y| crate::ops::cluster_state::same_url(x, y)))
}

/// How to start the new member: the flags it needs and where they go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInstructions {
    pub name: String,
    pub initial_cluster: String,
    /// The flags that differ from a first member, as `--flag=value`.
    pub flags: Vec<String>,
    /// A complete plain `etcd` command line.
    pub command: String,
}

/// The flags for a new member `name` at `peer_urls` joining `members` (the
/// member list after the add: the new one has no name until it starts).
pub fn start_instructions(
    name: &str,
    peer_urls: &[String],
    client_url: &str,
    data_dir: &str,
    members: &[(String, Vec<String>)],
) -> StartInstructions {
    let mut parts = Vec::new();
    for (n, urls) in members {
        let n = if same_urls(urls, peer_urls) { name } else { n };
        if n.is_empty() {
            continue;
        }
        for u in urls {
            parts.push(format!("{n}={u}"));
        }
    }
    if !members.iter().any(|(_, urls)| same_urls(urls, peer_urls)) {
        for u in peer_urls {
            parts.push(format!("{name}={u}"));
        }
    }
    let initial_cluster = parts.join(",");
    let peers = peer_urls.join(",");
    let flags = vec![
        format!("--name={name}"),
        format!("--initial-advertise-peer-urls={peers}"),
        format!("--listen-peer-urls={peers}"),
        format!("--initial-cluster={initial_cluster}"),
        "--initial-cluster-state=existing".to_string(),
    ];
    let command = format!(
        "etcd {} --data-dir={data_dir} --listen-client-urls={client_url} --advertise-client-urls={client_url}",
        flags.join(" ")
    );
    StartInstructions {
        name: name.to_string(),
        initial_cluster,
        flags,
        command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::cluster_state::fixtures::*;

    fn add(name: &str, peer_url: &str) -> Change {
        Change::Add {
            name: name.into(),
            peer_urls: urls(peer_url),
        }
    }

    fn remove(member: &str) -> Change {
        Change::Remove {
            member: member.into(),
        }
    }

    fn urls(u: &str) -> Vec<String> {
        vec![u.to_string()]
    }

    fn with_urls(mut s: ClusterState) -> ClusterState {
        for m in &mut s.members {
            m.peer_urls = urls(&format!("http://{}:2380", m.name));
        }
        s
    }

    #[test]
    fn quorum_and_tolerance_follow_the_majority_rule() {
        let table: Vec<(usize, usize, usize)> =
            (1..=7).map(|n| (n, quorum(n), tolerance(n))).collect();
        assert_eq!(
            table,
            vec![
                (1, 1, 0),
                (2, 2, 0),
                (3, 2, 1),
                (4, 3, 1),
                (5, 3, 2),
                (6, 4, 2),
                (7, 4, 3)
            ]
        );
        assert_eq!(tolerance(0), 0);
        assert!(Quorum::of(3, 2).has_quorum());
        assert!(!Quorum::of(3, 1).has_quorum());
        assert_eq!(
            Quorum::of(3, 3).describe(),
            "3 voting members (3 healthy): quorum 2, tolerates 1 failure"
        );
        assert!(Quorum::of(3, 1).describe().ends_with("NO QUORUM"));
    }

    #[test]
    fn adding_to_three_plans_learner_start_catch_up_promote_and_warns_on_four() {
        let s = with_urls(three(1));
        let p = plan(&s, &add("m4", "http://m4:2380"), true).unwrap();
        assert_eq!(p.refusal, None);
        assert_eq!(p.before, Quorum::of(3, 3));
        assert_eq!(p.after, Quorum::of(4, 4));
        let actions: Vec<_> = p.pending().map(|s| s.describe()).collect();
        assert_eq!(actions.len(), 4, "{actions:?}");
        assert!(actions[0].starts_with("add `m4` as a learner"));
        assert!(actions[3].starts_with("promote `m4`"));
        assert!(
            p.warnings.iter().any(|w| w.contains("odd size")),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn a_rerun_after_the_learner_was_added_and_started_skips_to_catch_up() {
        let mut s = with_urls(three(1));
        let mut l = member(4, "m4", 10, 5);
        l.peer_urls = urls("http://m4:2380");
        l.is_learner = true;
        l.raft_applied_index = 5;
        s.members.push(l);
        for m in &mut s.members[..3] {
            m.raft_applied_index = 5000;
        }
        let change = Change::Add {
            name: "m4".into(),
            peer_urls: urls("http://m4:2380"),
        };
        let p = plan(&s, &change, true).unwrap();
        let pending: Vec<_> = p.pending().cloned().collect();
        assert!(matches!(pending[0], Step::CatchUp { .. }), "{pending:?}");
        // Caught up now: only the promotion is left.
        s.members[3].raft_applied_index = 4500;
        let p = plan(&s, &change, true).unwrap();
        let pending: Vec<_> = p.pending().cloned().collect();
        assert_eq!(pending, vec![Step::Promote { name: "m4".into() }]);
        // Promoted: nothing left, and no second add.
        s.members[3].is_learner = false;
        assert!(plan(&s, &change, true).unwrap().is_done());
    }

    #[test]
    fn a_second_learner_is_refused_and_a_taken_name_is_an_error() {
        let mut s = with_urls(three(1));
        let mut l = member(4, "m4", 10, 5);
        l.peer_urls = urls("http://m4:2380");
        l.is_learner = true;
        s.members.push(l);
        let p = plan(&s, &add("m5", "http://m5:2380"), true).unwrap();
        assert!(p.refusal.unwrap().contains("one learner at a time"));
        let err = plan(&s, &add("m2", "http://elsewhere:2380"), true).unwrap_err();
        assert!(matches!(&err, PlanError::NameTaken { name, .. } if name == "m2"));
        assert!(err.to_string().contains("already exists"), "{err}");
    }

    #[test]
    fn removing_a_healthy_member_when_one_is_dead_is_refused() {
        let mut s = with_urls(three(1));
        s.members[2].error = Some("connection refused".into());
        let p = plan(&s, &remove("m2"), true).unwrap();
        let why = p.refusal.unwrap();
        assert!(why.contains("would stop"), "{why}");
        assert_eq!(p.after, Quorum::of(2, 1));
        // Removing the dead one is fine (but leaves no margin).
        let p = plan(&s, &remove("m3"), true).unwrap();
        assert_eq!(p.refusal, None);
        assert_eq!(p.after, Quorum::of(2, 2));
        assert!(p.warnings.iter().any(|w| w.contains("odd size")));
    }

    #[test]
    fn removing_the_leader_moves_leadership_first_and_the_last_member_is_refused() {
        let s = with_urls(three(2));
        let p = plan(&s, &remove("m2"), true).unwrap();
        let pending: Vec<_> = p.pending().cloned().collect();
        assert!(matches!(&pending[0], Step::MoveLeader { from, .. } if from == "m2"));
        assert!(matches!(&pending[1], Step::Remove { raw_id: 2, .. }));
        let mut one = with_urls(three(1));
        one.members.truncate(1);
        let p = plan(&one, &remove("m1"), true).unwrap();
        assert!(p.refusal.unwrap().contains("only voting member"));
        // Removing by hex id; an unknown member is already done.
        let p = plan(&s, &remove("0000000000000003"), true).unwrap();
        assert!(matches!(
            p.pending().next(),
            Some(Step::Remove { raw_id: 3, .. })
        ));
        assert!(plan(
            &s,
            &Change::Remove {
                member: "gone".into()
            },
            true
        )
        .unwrap()
        .is_done());
    }

    #[test]
    fn replace_removes_the_failed_member_before_adding_and_resumes() {
        let mut s = with_urls(three(1));
        s.members[2].error = Some("connection refused".into());
        let change = Change::Replace {
            member: "m3".into(),
            name: "m3".into(),
            peer_urls: urls("http://m3b:2380"),
        };
        let p = plan(&s, &change, true).unwrap();
        assert_eq!(p.refusal, None);
        assert_eq!(p.after, Quorum::of(3, 3));
        let pending: Vec<_> = p.pending().cloned().collect();
        assert!(matches!(pending[0], Step::Remove { raw_id: 3, .. }));
        assert!(matches!(pending[1], Step::AddLearner { .. }));
        // Re-run after the removal and the add: the learner named m3 is the
        // replacement, not the member to remove.
        s.members.remove(2);
        let mut l = member(9, "m3", 10, 5);
        l.peer_urls = urls("http://m3b:2380");
        l.is_learner = true;
        l.raft_applied_index = 100;
        s.members.push(l);
        let pending: Vec<_> = plan(&s, &change, true)
            .unwrap()
            .pending()
            .cloned()
            .collect();
        assert_eq!(pending, vec![Step::Promote { name: "m3".into() }]);
    }

    #[test]
    fn catch_up_is_within_the_threshold_of_the_leader() {
        assert!(caught_up(990, 1000, 10));
        assert!(!caught_up(989, 1000, 10));
        assert!(!caught_up(0, 5, 10));
    }

    #[test]
    fn start_instructions_list_every_member_and_the_new_one() {
        let members = vec![
            ("m1".to_string(), urls("http://a:2380")),
            (String::new(), urls("http://d:2380")),
        ];
        let i = start_instructions(
            "m4",
            &urls("http://d:2380"),
            "http://d:2379",
            "/var/lib/etcd",
            &members,
        );
        assert_eq!(i.initial_cluster, "m1=http://a:2380,m4=http://d:2380");
        assert!(i
            .flags
            .contains(&"--initial-cluster-state=existing".to_string()));
        assert!(i.command.starts_with("etcd --name=m4 "));
    }
}
