//! Rolling defragmentation: the plan (which members, in which order, what is
//! skipped and why, when leadership moves) as a pure function of the
//! cluster state, and an executor that follows it one member at a time.
//!
//! The executor re-reads the cluster before every member and stops at the
//! first problem: a defrag blocks the member it runs on, so the rest of the
//! cluster must be able to carry quorum without it.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::cluster_state::{ClusterState, MemberState};
use super::error::{Error, Guarded, Progress, Result};
use super::{Interrupt, Operator};
use crate::connect::Target;
use crate::etcd::{self, format_id, ConnectSettings, EtcdClient, Survey};

/// What the operator asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only this member (name or id).
    pub member: Option<String>,
    /// Only members at least this fragmented (percent of the db file free).
    pub if_fragmented: Option<f64>,
    /// Only members with a db file at least this big.
    pub min_db_size: Option<u64>,
    /// Hand leadership to a follower before defragmenting the leader.
    pub move_leader: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    Leader,
    Follower,
    Learner,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Learner => "learner",
        }
    }
}

/// Why a member is left alone, as a word for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SkipCause {
    /// `--member` named another one.
    NotSelected,
    /// It did not answer.
    Unreachable,
    /// Its db file is under `--min-db-size`.
    BelowMinDbSize,
    /// Less of its db file is free than `--if-fragmented` asks.
    NotFragmented,
    /// etcd refused to defragment a learner.
    Learner,
}

/// Why one member is left alone: the cause and the sentence for people.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skip {
    pub cause: SkipCause,
    pub reason: String,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// One member in the plan, in order; skipped members come last. What an
/// unreachable member cannot report (role, sizes) is `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedMember {
    /// 1-based position; `None` when skipped.
    pub order: Option<usize>,
    #[serde(rename = "member")]
    pub name: String,
    pub id: String,
    #[serde(skip)]
    pub member_id: u64,
    pub role: Option<Role>,
    pub db_size: Option<u64>,
    pub db_size_in_use: Option<u64>,
    pub fragmentation_percent: Option<f64>,
    pub expected_reclaim: Option<u64>,
    /// Leadership goes to this member (name) first.
    pub move_leader_to: Option<String>,
    /// Why the member is left alone; `None` when it is defragmented.
    pub skip: Option<Skip>,
    /// Why it could not be asked; `None` when it answered.
    pub error: Option<String>,
}

impl PlannedMember {
    /// The member as a `skipped` entry of the outcome, when the plan
    /// leaves it alone.
    pub fn skipped(&self) -> Option<Skipped> {
        self.skip.as_ref().map(|s| Skipped {
            member: self.name.clone(),
            id: self.id.clone(),
            cause: s.cause,
            reason: s.reason.clone(),
            db_size: self.db_size,
            fragmentation_percent: self.fragmentation_percent,
        })
    }
}

/// The whole plan, printable for `--dry-run`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub members: Vec<PlannedMember>,
    /// Why the cluster may not be disturbed right now.
    pub blocked_by: Option<String>,
}

impl Plan {
    /// Members to defragment, in order.
    pub fn steps(&self) -> impl Iterator<Item = &PlannedMember> {
        self.members.iter().filter(|m| m.skip.is_none())
    }

    pub fn expected_reclaim(&self) -> u64 {
        self.steps().filter_map(|m| m.expected_reclaim).sum()
    }

    /// The members the plan leaves alone, as outcome entries.
    pub fn skipped(&self) -> Vec<Skipped> {
        self.members
            .iter()
            .filter_map(PlannedMember::skipped)
            .collect()
    }
}

/// Order the members: learners, then followers, then the leader, each
/// group by name. Members under the thresholds or not selected are skipped
/// with the reason. An unknown `--member` is a usage error.
pub fn plan(state: &ClusterState, opts: &Options) -> Result<Plan> {
    if let Some(want) = &opts.member {
        if state.find(want).is_none() {
            let names: Vec<String> = state.members.iter().map(|m| m.label()).collect();
            return Err(Error::NoSuchMember {
                name: want.clone(),
                members: names,
            });
        }
    }
    let selected = opts
        .member
        .as_ref()
        .and_then(|w| state.find(w))
        .map(|m| m.id);
    let role = |m: &MemberState| {
        if m.is_learner {
            Role::Learner
        } else if state.is_leader(m.id) {
            Role::Leader
        } else {
            Role::Follower
        }
    };
    let mut sorted: Vec<&MemberState> = state.members.iter().collect();
    sorted.sort_by(|a, b| {
        let rank = |r: Role| match r {
            Role::Learner => 0,
            Role::Follower => 1,
            Role::Leader => 2,
        };
        rank(role(a))
            .cmp(&rank(role(b)))
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut members: Vec<PlannedMember> = sorted
        .into_iter()
        .map(|m| {
            let skip = skip_reason(m, selected, opts);
            let r = role(m);
            let answered = m.reachable();
            let move_leader_to = (skip.is_none() && r == Role::Leader && opts.move_leader)
                .then(|| state.healthiest_follower(m.id).map(|f| f.label()))
                .flatten();
            PlannedMember {
                order: None,
                name: m.label(),
                id: format_id(m.id),
                member_id: m.id,
                // A learner says so in the member list; whether an
                // unreachable voter leads is only its own to say.
                role: (answered || m.is_learner).then_some(r),
                db_size: answered.then_some(m.db_size),
                db_size_in_use: answered.then_some(m.db_size_in_use),
                fragmentation_percent: answered.then(|| m.fragmentation_percent()),
                expected_reclaim: answered.then(|| m.reclaimable()),
                move_leader_to,
                skip,
                error: m.error.clone(),
            }
        })
        .collect();
    // Skipped members last, keeping the order of the rest.
    members.sort_by_key(|m| m.skip.is_some());
    for (i, m) in members.iter_mut().filter(|m| m.skip.is_none()).enumerate() {
        m.order = Some(i + 1);
    }
    Ok(Plan {
        members,
        blocked_by: state.blocker(),
    })
}

fn skip_reason(m: &MemberState, selected: Option<u64>, opts: &Options) -> Option<Skip> {
    let skip = |cause, reason: String| Some(Skip { cause, reason });
    if selected.is_some_and(|id| id != m.id) {
        return skip(SkipCause::NotSelected, "not selected (--member)".into());
    }
    if let Some(e) = &m.error {
        return skip(SkipCause::Unreachable, format!("not reachable: {e}"));
    }
    if let Some(min) = opts.min_db_size {
        if m.db_size < min {
            return skip(
                SkipCause::BelowMinDbSize,
                format!(
                    "db {} under --min-db-size {}",
                    crate::output::human_bytes(m.db_size),
                    crate::output::human_bytes(min)
                ),
            );
        }
    }
    if let Some(pct) = opts.if_fragmented {
        let frag = m.fragmentation_percent();
        if frag < pct {
            return skip(
                SkipCause::NotFragmented,
                format!("{frag:.1}% fragmented, under --if-fragmented {pct}%"),
            );
        }
    }
    None
}

/// How the executor paces itself.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// Per-member defragment timeout.
    pub timeout: Duration,
    /// Pause between members.
    pub pause: Duration,
    /// How long a member may take to be healthy again after its defrag.
    pub recover: Duration,
}

/// One defragmented member, as the result table shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Done {
    pub member: String,
    pub id: String,
    pub db_size_before: u64,
    pub db_size_after: u64,
    pub reclaimed: u64,
    pub took_ms: u64,
    pub leader_moved_to: Option<String>,
}

/// What the executor did, and where it stopped if it did not finish.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub members: Vec<Done>,
    /// Members left alone, by the plan (thresholds, `--member`,
    /// unreachable) or during the run (learners etcd refuses), with why.
    pub skipped: Vec<Skipped>,
    pub stopped: Option<StopReason>,
}

impl Outcome {
    /// Nothing done: refused (or interrupted at the prompt) before the
    /// first member.
    pub fn not_started(plan: &Plan, error: Error) -> Outcome {
        let kind = StopKind::of(&error);
        let message = error.clone().line();
        Outcome {
            members: Vec::new(),
            skipped: plan.skipped(),
            stopped: Some(StopReason {
                member: plan.steps().next().map(|m| m.name.clone()),
                kind,
                message,
                done: Vec::new(),
                left: plan.steps().map(|m| m.name.clone()).collect(),
                before_start: true,
                error,
            }),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    pub member: String,
    pub id: String,
    pub cause: SkipCause,
    pub reason: String,
    /// `None` when the member did not answer.
    pub db_size: Option<u64>,
    pub fragmentation_percent: Option<f64>,
}

/// Why the run stopped, as a word for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StopKind {
    /// Refused for safety (exit 4): the cluster may not be disturbed.
    Refused,
    /// Ctrl-C (exit 130).
    Interrupted,
    /// A member's defrag or its recovery failed (exit 1).
    Failed,
}

impl StopKind {
    fn of(e: &Error) -> StopKind {
        if e.is_interrupted() {
            StopKind::Interrupted
        } else if e.is_refusal() {
            StopKind::Refused
        } else {
            StopKind::Failed
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopReason {
    /// The member it stopped at; `None` when the plan had none to do.
    pub member: Option<String>,
    pub kind: StopKind,
    pub message: String,
    /// Members defragmented before the stop, in order.
    pub done: Vec<String>,
    /// Members of the plan not defragmented.
    pub left: Vec<String>,
    /// Refused before the first member: `error` is the whole story.
    #[serde(skip)]
    pub before_start: bool,
    /// Why it stopped, kept whole (`message` is its line).
    #[serde(skip)]
    pub error: Error,
}

/// Follow the plan one member at a time: check the cluster, move leadership
/// off the member if it leads, defragment, wait until it is healthy again,
/// pause. `note` receives progress lines.
pub async fn execute(
    plan: &Plan,
    targets: &[Target],
    settings: &ConnectSettings,
    opts: &Options,
    pacing: &Pacing,
    interrupt: &Interrupt,
    note: &mut dyn FnMut(String),
) -> Outcome {
    let mut done: Vec<Done> = Vec::new();
    let mut skipped = plan.skipped();
    let steps: Vec<&PlannedMember> = plan.steps().collect();
    let stop = |step: &PlannedMember, done: &[Done], skipped: &[Skipped], error: Error| {
        let kind = StopKind::of(&error);
        Some(StopReason {
            member: Some(step.name.clone()),
            kind,
            message: error.clone().line(),
            done: done.iter().map(|d| d.member.clone()).collect(),
            left: steps
                .iter()
                .map(|m| m.name.clone())
                .filter(|n| {
                    !done.iter().any(|d| &d.member == n) && !skipped.iter().any(|s| &s.member == n)
                })
                .collect(),
            before_start: false,
            error,
        })
    };
    for (i, step) in steps.iter().enumerate() {
        if interrupt.fired() {
            let stopped = stop(
                step,
                &done,
                &skipped,
                Error::interrupted("interrupted (Ctrl-C) before this member"),
            );
            return Outcome {
                members: done,
                skipped,
                stopped,
            };
        }
        match one(step, targets, settings, opts, pacing, interrupt, note).await {
            Ok(d) => done.push(d),
            Err(e)
                if step.role == Some(Role::Learner)
                    && matches!(e.etcd(), Some(crate::etcd::Error::NotSupportedForLearner)) =>
            {
                note(format!(
                    "`{}` is a learner and this etcd does not defragment learners: skipped",
                    step.name
                ));
                skipped.push(Skipped {
                    member: step.name.clone(),
                    id: step.id.clone(),
                    cause: SkipCause::Learner,
                    reason: "etcd refuses to defragment learners (rpc not supported for learner)"
                        .into(),
                    db_size: step.db_size,
                    fragmentation_percent: step.fragmentation_percent,
                });
                continue;
            }
            Err(error) => {
                let stopped = stop(step, &done, &skipped, error);
                return Outcome {
                    members: done,
                    skipped,
                    stopped,
                };
            }
        }
        if i + 1 < steps.len() && !pacing.pause.is_zero() {
            note(format!("pausing {:?} before the next member", pacing.pause));
            tokio::select! {
                _ = tokio::time::sleep(pacing.pause) => {}
                _ = interrupt.wait_for(1) => {}
            }
        }
    }
    Outcome {
        members: done,
        skipped,
        stopped: None,
    }
}

/// Check that the cluster may be disturbed, say what will happen, confirm,
/// then [`execute`]. An empty plan is no error: nothing is asked.
pub async fn run(
    plan: &Plan,
    targets: &[Target],
    settings: &ConnectSettings,
    opts: &Options,
    pacing: &Pacing,
    interrupt: &Interrupt,
    op: &mut dyn Operator,
) -> Result<Outcome> {
    if let Some(b) = &plan.blocked_by {
        return Ok(Outcome::not_started(plan, blocked(b)));
    }
    let names: Vec<&str> = plan.steps().map(|m| m.name.as_str()).collect();
    if names.is_empty() {
        op.note("nothing to defragment");
        return Ok(Outcome {
            members: Vec::new(),
            skipped: plan.skipped(),
            stopped: None,
        });
    }
    let what = format!(
        "defragment {} member{}",
        names.len(),
        if names.len() == 1 { "" } else { "s" }
    );
    op.note(&format!(
        "will {what} one at a time ({}), expected to reclaim about {}",
        names.join(", "),
        crate::output::human_bytes(plan.expected_reclaim())
    ));
    if let Err(e) = op.confirm(&what) {
        return Ok(Outcome::not_started(plan, e));
    }
    let mut note = |s: String| op.note(&s);
    Ok(execute(plan, targets, settings, opts, pacing, interrupt, &mut note).await)
}

/// Why a run may not start: the cluster may not be disturbed.
fn blocked(why: &str) -> Error {
    Error::Unsafe {
        action: Guarded::Defragment,
        why: why.to_string(),
    }
}

/// The exit status: a stop is an error that says what was done and what
/// is left; Ctrl-C exits 130, a refusal 4, any other stop 1. A refusal
/// before the first member is the refusal itself.
pub fn finish(mut outcome: Outcome) -> Result<Outcome> {
    let Some(stop) = outcome.stopped.take() else {
        return Ok(outcome);
    };
    if stop.before_start {
        return Err(stop.error);
    }
    Err(Error::DefragStopped {
        member: stop.member.unwrap_or_else(|| "-".into()),
        progress: Progress {
            done: stop.done,
            left: stop.left,
            unit: "members defragmented",
        },
        source: Box::new(stop.error),
    })
}

async fn state_now(targets: &[Target], settings: &ConnectSettings) -> (Survey, ClusterState) {
    let survey = Survey::take(targets, settings).await;
    let state = ClusterState::from_survey(&survey);
    (survey, state)
}

fn client_of<'a>(survey: &'a Survey, state: &ClusterState, id: u64) -> Option<&'a EtcdClient> {
    let i = state.member(id)?.target?;
    survey.views.get(i)?.client.as_ref()
}

#[allow(clippy::too_many_arguments)]
async fn one(
    step: &PlannedMember,
    targets: &[Target],
    settings: &ConnectSettings,
    opts: &Options,
    pacing: &Pacing,
    interrupt: &Interrupt,
    note: &mut dyn FnMut(String),
) -> Result<Done> {
    let id = step.member_id;
    let (mut survey, mut state) = state_now(targets, settings).await;
    if let Some(b) = state.blocker() {
        return Err(Error::ClusterUnhealthy { blocker: b });
    }
    let mut leader_moved_to = None;
    if state.is_leader(id) && opts.move_leader {
        match super::move_leader::plan(&state, None) {
            Ok(transfer) => {
                super::move_leader::transfer(
                    targets,
                    settings,
                    &transfer,
                    pacing.recover,
                    interrupt,
                    note,
                )
                .await?;
                (survey, state) =
                    wait_until(targets, settings, pacing.recover, |s| s.blocker().is_none())
                        .await
                        .map_err(|e| e.context("waiting for the new leader"))?;
                leader_moved_to = Some(transfer.to);
            }
            Err(_) => note(format!(
                "`{}` leads and no follower can take over: defragmenting it as leader",
                step.name
            )),
        }
    }
    let member = state.member(id).ok_or(Error::LeftMemberList)?;
    let before = member.db_size;
    let client = client_of(&survey, &state, id).ok_or(Error::NoConnection)?;
    note(format!(
        "defragmenting `{}` ({})",
        step.name,
        crate::output::human_bytes(before)
    ));
    if interrupt.fired() {
        return Err(Error::interrupted(
            "interrupted (Ctrl-C) before defragmenting",
        ));
    }
    let start = Instant::now();
    let defrag = etcd::maintenance::defragment(client, pacing.timeout);
    let what = format!("the defrag of `{}`", step.name);
    let result = interrupt
        .finish(defrag, &what, &mut |l| note(l.to_string()))
        .await
        .map_err(|()| {
            Error::interrupted(format!(
                "interrupted: left `{}` defragmenting on the server",
                step.name
            ))
            .resume("check it with `kubectl etcd status` before anything else")
        })?;
    result.map_err(|e| Error::from(e).context("defragment"))?;
    let took = start.elapsed();
    let (_, after_state) = wait_until(targets, settings, pacing.recover, |s| s.blocker().is_none())
        .await
        .map_err(|e| e.context("waiting for the member to be healthy again"))?;
    let after = after_state.member(id).map(|m| m.db_size).unwrap_or(before);
    Ok(Done {
        member: step.name.clone(),
        id: step.id.clone(),
        db_size_before: before,
        db_size_after: after,
        reclaimed: before.saturating_sub(after),
        took_ms: took.as_millis() as u64,
        leader_moved_to,
    })
}

/// Poll the cluster until `ok` holds, for at most `limit`.
async fn wait_until(
    targets: &[Target],
    settings: &ConnectSettings,
    limit: Duration,
    ok: impl Fn(&ClusterState) -> bool,
) -> Result<(Survey, ClusterState)> {
    let deadline = Instant::now() + limit;
    let mut clients: Vec<Option<EtcdClient>> = Vec::new();
    loop {
        let survey = Survey::take_reusing(targets, settings, &clients).await;
        clients = Survey::live_clients(&survey);
        let state = ClusterState::from_survey(&survey);
        if ok(&state) {
            return Ok((survey, state));
        }
        if Instant::now() >= deadline {
            let why = state
                .blocker()
                .unwrap_or_else(|| "leadership did not move".into());
            return Err(Error::NotHealthyAfter { after: limit, why });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::ops::cluster_state::fixtures::*;

    fn names(p: &Plan) -> Vec<&str> {
        p.steps().map(|m| m.name.as_str()).collect()
    }

    #[test]
    fn followers_go_first_and_the_leader_last() {
        let p = plan(&three(1), &Options::default()).unwrap();
        assert_eq!(names(&p), ["m2", "m3", "m1"]);
        assert_eq!(p.members[2].role, Some(Role::Leader));
        assert_eq!(
            p.members.iter().map(|m| m.order).collect::<Vec<_>>(),
            [Some(1), Some(2), Some(3)]
        );
        assert_eq!(p.expected_reclaim(), 1800);
        assert_eq!(p.blocked_by, None);
    }

    #[test]
    fn leadership_moves_to_the_healthiest_follower_before_the_leader() {
        let mut s = three(2);
        s.members[0].raft_applied_index = 99;
        let opts = Options {
            move_leader: true,
            ..Options::default()
        };
        let p = plan(&s, &opts).unwrap();
        assert_eq!(names(&p), ["m1", "m3", "m2"]);
        let leader = p
            .members
            .iter()
            .find(|m| m.role == Some(Role::Leader))
            .unwrap();
        assert_eq!(leader.move_leader_to.as_deref(), Some("m3"));
        assert!(p
            .members
            .iter()
            .filter(|m| m.role != Some(Role::Leader))
            .all(|m| m.move_leader_to.is_none()));
        // --no-move-leader
        let p = plan(&s, &Options::default()).unwrap();
        assert!(p.members.iter().all(|m| m.move_leader_to.is_none()));
    }

    #[test]
    fn learners_are_defragmented_first_and_never_move_leadership() {
        let mut s = three(1);
        let mut l = member(9, "l9", 500, 100);
        l.is_learner = true;
        l.raft_applied_index = 1000;
        s.members.push(l);
        let opts = Options {
            move_leader: true,
            ..Options::default()
        };
        let p = plan(&s, &opts).unwrap();
        assert_eq!(names(&p), ["l9", "m2", "m3", "m1"]);
        assert_eq!(p.members[0].role, Some(Role::Learner));
        assert_ne!(p.members[3].move_leader_to.as_deref(), Some("l9"));
    }

    #[test]
    fn thresholds_skip_members_under_either_one() {
        let mut s = three(1);
        s.members[0].db_size_in_use = 900; // 10% fragmented
        s.members[1].db_size = 100; // small
        s.members[1].db_size_in_use = 10;
        let opts = Options {
            if_fragmented: Some(45.0),
            min_db_size: Some(500),
            ..Options::default()
        };
        let p = plan(&s, &opts).unwrap();
        assert_eq!(names(&p), ["m3"]);
        let skipped: Vec<_> = p.members.iter().filter(|m| m.skip.is_some()).collect();
        assert_eq!(skipped.len(), 2);
        assert!(skipped.iter().all(|m| m.order.is_none()));
        let not_fragmented = skipped
            .iter()
            .find(|m| m.skip.as_ref().unwrap().cause == SkipCause::NotFragmented)
            .unwrap();
        assert!(not_fragmented
            .skip
            .as_ref()
            .unwrap()
            .reason
            .contains("10.0% fragmented, under --if-fragmented 45%"));
        assert!(skipped
            .iter()
            .any(|m| m.skip.as_ref().unwrap().cause == SkipCause::BelowMinDbSize));
        // The outcome lists both, with the figures they were judged by.
        let out = p.skipped();
        assert_eq!(out.len(), 2);
        let m1 = out.iter().find(|s| s.member == "m1").unwrap();
        assert_eq!(m1.cause, SkipCause::NotFragmented);
        assert_eq!(m1.fragmentation_percent, Some(10.0));
        assert_eq!(m1.db_size, Some(1000));
    }

    #[test]
    fn one_member_by_name_or_id_and_unknown_names_are_usage_errors() {
        let s = three(1);
        let opts = Options {
            member: Some("0000000000000003".into()),
            ..Options::default()
        };
        assert_eq!(names(&plan(&s, &opts).unwrap()), ["m3"]);
        let opts = Options {
            member: Some("m9".into()),
            ..Options::default()
        };
        let e = crate::error::Error::from(plan(&s, &opts).unwrap_err());
        assert_eq!(e.kind, Kind::Usage);
        assert!(e.hint.unwrap().contains("m1, m2, m3"));
    }

    #[test]
    fn a_down_member_blocks_the_plan_and_is_skipped() {
        let mut s = three(1);
        s.members[2].error = Some("connection refused".into());
        let p = plan(&s, &Options::default()).unwrap();
        assert!(p.blocked_by.as_ref().unwrap().contains("`m3`"));
        assert_eq!(names(&p), ["m2", "m1"]);
        // What it cannot report is unknown, not zero; it says why.
        let m3 = p.members.iter().find(|m| m.name == "m3").unwrap();
        assert_eq!(
            (m3.role, m3.db_size, m3.fragmentation_percent),
            (None, None, None)
        );
        assert_eq!(m3.error.as_deref(), Some("connection refused"));
        assert_eq!(m3.skip.as_ref().unwrap().cause, SkipCause::Unreachable);
        // A refused run stops before the first member, names it and lists
        // what is left.
        let out = Outcome::not_started(&p, blocked(p.blocked_by.as_ref().unwrap()));
        let stop = out.stopped.as_ref().unwrap();
        assert_eq!(stop.kind, StopKind::Refused);
        assert_eq!(stop.member.as_deref(), Some("m2"));
        assert_eq!(stop.left, ["m2", "m1"]);
        let e = crate::error::Error::from(finish(out).unwrap_err());
        assert_eq!(e.kind, Kind::Refused);
    }

    #[test]
    fn a_single_member_cluster_defragments_its_leader_without_a_move() {
        let s = ClusterState {
            members: vec![member(1, "only", 10, 5)],
            leader: Some(1),
        };
        let opts = Options {
            move_leader: true,
            ..Options::default()
        };
        let p = plan(&s, &opts).unwrap();
        assert_eq!(names(&p), ["only"]);
        assert_eq!(p.members[0].move_leader_to, None);
    }
}
