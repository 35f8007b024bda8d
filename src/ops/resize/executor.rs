//! The resize executor: follows a [`Plan`] step by step against the live
//! cluster, confirming each membership change with the [`Operator`] and
//! checking each step before the next. A re-run picks up where the cluster
//! is, so Ctrl-C stops between steps (a membership change already sent is
//! waited for; waits that change nothing are abandoned) and says which
//! steps are done and which are left (exit 130).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{caught_up, Change, Plan, Quorum, StartInstructions, Step};
use crate::connect::direct::Endpoint;
use crate::connect::kube::statefulset as sts_api;
use crate::context::Cluster;
use crate::etcd::{self, membership, EtcdClient, Survey};
use crate::ops::cluster_state::{same_url, ClusterState, MemberState};
use crate::ops::error::{Guarded, Progress};
use crate::ops::move_leader;
use crate::ops::statefulset::{self, Decision};
use crate::ops::{Error, Interrupt, Operator, Result};

const POLL: Duration = Duration::from_millis(500);

/// How long a refused membership change is tried again, and how often.
struct Retry {
    within: Duration,
    pause: Duration,
}

/// A removal or a learner's addition, right after the operator confirmed.
const MEMBERSHIP: Retry = Retry {
    within: Duration::from_secs(30),
    pause: Duration::from_secs(1),
};

/// The member being added: where it listens, how long to wait for it.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub peer_urls: Vec<String>,
    pub client_url: Option<String>,
    pub learner_endpoint: Option<String>,
    pub data_dir: String,
    pub no_promote: bool,
    pub wait: Duration,
    pub catch_up_threshold: u64,
}

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub change: Change,
    /// For `add` and `replace`.
    pub new: Option<NewMember>,
    pub force: bool,
    pub no_scale: bool,
}

/// What the wizard did (or, with `--dry-run`, would do).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub plan: Plan,
    /// What happens to the StatefulSet running etcd, if one does.
    pub stateful_set: Option<Decision>,
    pub dry_run: bool,
    pub start: Option<StartInstructions>,
    pub members: Vec<MemberState>,
}

/// The plan against the cluster as it is now, and what it means for a
/// StatefulSet running etcd.
pub struct Prepared {
    pub state: ClusterState,
    pub plan: Plan,
    pub sts: Option<Decision>,
}

/// Read the cluster and plan the change; nothing is written.
pub async fn prepare(cluster: &Cluster, request: &Request) -> Result<Prepared> {
    let promote = request.new.as_ref().is_none_or(|n| !n.no_promote);
    let (survey, state) = survey_all(cluster).await;
    if survey.members.is_none() {
        return Err(survey
            .views
            .iter()
            .find_map(|v| v.error.clone())
            .map(Error::from)
            .unwrap_or(Error::NoMemberAnswered));
    }
    let plan = super::plan(&state, &request.change, promote)?;
    let sts = if plan.is_done() {
        leftover_scale_down(cluster, &state, request).await?
    } else {
        statefulset_decision(cluster, &survey, &state, request, &plan).await?
    };
    Ok(Prepared { state, plan, sts })
}

/// A plan the cluster already shows as done: what is left is the
/// StatefulSet's scale-down after an earlier run, if anything.
pub async fn finish_done(
    cluster: &Cluster,
    prepared: &Prepared,
    interrupt: &Interrupt,
    op: &mut dyn Operator,
) -> Result<()> {
    let leftover = prepared.sts.as_ref().and_then(|d| d.scale.clone());
    match &leftover {
        Some(s) => op.note(&format!(
            "the membership change is done; left to do: {}",
            s.describe()
        )),
        None => op.note("nothing to do: the cluster already shows this change"),
    }
    scale_up_or_down(cluster, op, interrupt, leftover).await
}

/// Follow the plan: each pending step confirmed, executed and checked
/// against the cluster. `Ok` with the members afterwards.
pub async fn execute(
    cluster: &Cluster,
    prepared: Prepared,
    request: &Request,
    interrupt: &Interrupt,
    op: &mut dyn Operator,
) -> Result<Report> {
    let Prepared { plan, sts, .. } = prepared;
    if let Some(why) = &plan.refusal {
        if !request.force {
            return Err(Error::Unsafe {
                action: Guarded::Resize(plan.change.to_string()),
                why: why.clone(),
            });
        }
        op.warn(&format!("--force: going ahead although {why}"));
    }
    let new = request.new.as_ref();
    let mut start = None;
    let mut scale = sts.as_ref().and_then(|d| d.scale.clone());
    // The pod the StatefulSet starts (or started) for the new member.
    let new_pod = sts.as_ref().and_then(|d| d.pod.clone());
    let pending: Vec<Step> = plan.pending().cloned().collect();
    let mut done: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| s.done)
        .map(|s| s.step.describe())
        .collect();
    for (i, step) in pending.iter().enumerate() {
        // `head` says where it stopped ("interrupted (Ctrl-C) ...").
        let stop = |done: &[String], head: &str, scale: &Option<statefulset::Scale>| {
            let mut left: Vec<String> = pending[i..].iter().map(Step::describe).collect();
            left.extend(scale.as_ref().map(|s| s.describe()));
            Error::interrupted_with(
                head,
                Progress {
                    done: done.to_vec(),
                    left,
                    unit: "steps done",
                },
            )
            .resume(
                "run the same command again: it resumes where the cluster is \
                 (`kubectl etcd members` shows it now)",
            )
        };
        if interrupt.fired() {
            return Err(stop(&done, "interrupted (Ctrl-C) between steps", &scale));
        }
        // An added learner's pod comes with the scale-up; a removed
        // member's pod goes after the removal.
        if new_pod.is_some() && !matches!(step, Step::AddLearner { .. }) {
            scale_up_or_down(cluster, op, interrupt, scale.take()).await?;
        }
        let sts_pod = new_pod.as_deref();
        match execute_step(cluster, op, interrupt, step, new, &mut start, sts_pod).await {
            Ok(()) => done.push(step.describe()),
            Err(e) if e.is_interrupted() => return Err(stop(&done, &e.line(), &scale)),
            Err(e) => return Err(e),
        }
    }
    if interrupt.fired() && scale.is_some() {
        return Err(Error::interrupted(format!(
            "interrupted (Ctrl-C): the membership change is done; left: {}",
            scale.as_ref().map(|s| s.describe()).unwrap_or_default()
        ))
        .resume("run the same command again to finish"));
    }
    scale_up_or_down(cluster, op, interrupt, scale.take()).await?;
    // A new pod is one more target.
    let cluster = if new_pod.is_some() {
        &op.rediscover().await?
    } else {
        cluster
    };
    let (_, state) = survey_all(cluster).await;
    op.note(&format!("done: {}", super::current(&state).describe()));
    Ok(Report {
        plan,
        stateful_set: sts,
        dry_run: false,
        start,
        members: state.members,
    })
}

/// Survey the given endpoints and, in direct mode, every member's
/// advertised client URL (learners and members outside --endpoints).
pub async fn survey_all(cluster: &Cluster) -> (Survey, ClusterState) {
    let survey = Survey::take(&cluster.targets, &cluster.settings).await;
    let mut targets = cluster.targets.clone();
    if cluster.direct() {
        for m in survey.members.iter().flatten() {
            for url in &m.client_urls {
                if !targets.iter().any(|t| same_url(&t.endpoint, url)) {
                    if let Ok(e) = Endpoint::parse(url, url.starts_with("https")) {
                        targets.push(e.target());
                    }
                }
            }
        }
    }
    let survey = if targets.len() > cluster.targets.len() {
        Survey::take(&targets, &cluster.settings).await
    } else {
        survey
    };
    let mut state = ClusterState::from_survey(&survey);
    // Endpoints that answer for no listed member (a removed member's old
    // URL) are not part of the configuration.
    if survey.members.is_some() {
        state.members.retain(|m| !m.peer_urls.is_empty());
    }
    (survey, state)
}

/// The StatefulSet step, if there is one still to do.
async fn scale_up_or_down(
    cluster: &Cluster,
    op: &mut dyn Operator,
    interrupt: &Interrupt,
    scale: Option<statefulset::Scale>,
) -> Result<()> {
    let (Some(kube), Some(scale)) = (&cluster.kube, scale) else {
        return Ok(());
    };
    op.note(&format!("step: {}", scale.describe()));
    op.confirm(&scale.describe())?;
    if interrupt.fired() {
        return Err(Error::interrupted(format!(
            "interrupted (Ctrl-C) before: {}",
            scale.describe()
        )));
    }
    sts_api::scale(kube, &scale.namespace, &scale.name, scale.to).await?;
    op.note(&format!(
        "  `{}` asks for {} replicas now",
        scale.name, scale.to
    ));
    Ok(())
}

/// A `remove` run again after the member was removed but before the
/// StatefulSet was scaled (interrupted, or `--no-scale` earlier): when the
/// member's pod is still the set's highest ordinal, the scale-down is what
/// is left to do.
async fn leftover_scale_down(
    cluster: &Cluster,
    state: &ClusterState,
    request: &Request,
) -> Result<Option<Decision>> {
    let Change::Remove { member } = &request.change else {
        return Ok(None);
    };
    let Some(kube) = cluster
        .kube
        .as_ref()
        .filter(|_| !cluster.direct() && !request.no_scale)
    else {
        return Ok(None);
    };
    let Some((namespace, name)) =
        statefulset::owner(cluster.targets.iter().filter_map(|t| t.pod.as_ref()))
    else {
        return Ok(None);
    };
    if state.members.iter().any(|m| &m.name == member) {
        return Ok(None);
    }
    let replicas = sts_api::replicas(kube, &namespace, &name).await?;
    if statefulset::ordinal(&name, member) != Some(replicas - 1) {
        return Ok(None);
    }
    Ok(Some(statefulset::decide(
        &namespace,
        &name,
        replicas,
        statefulset::Change::Remove {
            pod: Some(member.as_str()),
        },
    )))
}

/// In Kubernetes mode, when one StatefulSet owns every etcd pod: whether
/// (and how) to scale it with this change. `None`: no StatefulSet, direct
/// mode, or a replace (which keeps the count).
async fn statefulset_decision(
    cluster: &Cluster,
    survey: &Survey,
    state: &ClusterState,
    request: &Request,
    plan: &Plan,
) -> Result<Option<Decision>> {
    let Some(kube) = cluster.kube.as_ref() else {
        return Ok(None);
    };
    let Some((namespace, name)) =
        statefulset::owner(cluster.targets.iter().filter_map(|t| t.pod.as_ref()))
    else {
        return Ok(None);
    };
    let change = match &request.change {
        Change::Add { name, .. } => statefulset::Change::Add { name },
        Change::Remove { .. } => {
            let Some(id) = plan.steps.iter().find_map(|s| match &s.step {
                Step::Remove { raw_id, .. } => Some(*raw_id),
                _ => None,
            }) else {
                return Ok(None);
            };
            statefulset::Change::Remove {
                pod: pod_of(survey, state, id),
            }
        }
        Change::Replace { .. } => return Ok(None),
    };
    if request.no_scale {
        return Ok(Some(Decision {
            scale: None,
            skipped: Some(format!(
                "--no-scale: StatefulSet `{namespace}/{name}` is left as it is"
            )),
            warning: None,
            pod: None,
        }));
    }
    let replicas = sts_api::replicas(kube, &namespace, &name).await?;
    Ok(Some(statefulset::decide(
        &namespace, &name, replicas, change,
    )))
}

/// The pod running member `id`: the one whose port-forward answered for it,
/// else one named after it.
fn pod_of<'a>(survey: &'a Survey, state: &ClusterState, id: u64) -> Option<&'a str> {
    survey
        .views
        .iter()
        .find(|v| v.member_id() == Some(id))
        .or_else(|| {
            let m = state.member(id)?;
            survey.views.iter().find(|v| {
                v.target
                    .pod
                    .as_ref()
                    .is_some_and(|p| p.matches_member(&m.name, &m.client_urls))
            })
        })
        .and_then(|v| v.target.pod.as_ref())
        .map(|p| p.name.as_str())
}

/// One step, confirmed and checked against the cluster.
async fn execute_step(
    cluster: &Cluster,
    op: &mut dyn Operator,
    interrupt: &Interrupt,
    step: &Step,
    new: Option<&NewMember>,
    start: &mut Option<StartInstructions>,
    sts_pod: Option<&str>,
) -> Result<()> {
    let (survey, state) = survey_all(cluster).await;
    let now = super::current(&state);
    match step {
        Step::MoveLeader { to, to_id, .. } => {
            op.note(&format!("step: {}", step.describe()));
            // Planned again from the cluster as it is now: the target is
            // checked once more (reachable, not lagging, not a learner).
            let transfer = move_leader::plan(&state, Some(&etcd::format_id(*to_id)))?;
            let moved = move_leader::transfer(
                &cluster.targets,
                &cluster.settings,
                &transfer,
                Duration::from_secs(20),
                interrupt,
                &mut |s| op.verbose(&s),
            )
            .await;
            moved?;
            op.note(&format!("  `{to}` leads now"));
        }
        Step::Remove { name, raw_id, .. } => {
            let removed = state.member(*raw_id);
            let after = Quorum::of(
                now.voters - usize::from(!removed.is_some_and(|m| m.is_learner)),
                now.healthy - usize::from(removed.is_some_and(|m| m.healthy_voter())),
            );
            show_step(op, &step.describe(), &now, &after);
            op.confirm(&format!("remove member `{name}`"))?;
            // etcd refuses ("unhealthy cluster") until the remaining members
            // have been connected for a few seconds, e.g. after a new leader.
            let what = format!("removing `{name}`");
            retry_transient(op, interrupt, &what, MEMBERSHIP, || async {
                let (survey, state) = survey_all(cluster).await;
                let client = any_voter_except(&survey, &state, *raw_id)
                    .ok_or(Error::NoMemberToAsk { other: true })?;
                Ok(membership::remove(&client, *raw_id).await?)
            })
            .await?;
            wait_for(cluster, Duration::from_secs(20), "the removal", |s| {
                s.member(*raw_id).is_none()
            })
            .await?;
            op.note(&format!(
                "  removed `{name}`. On its node, stop etcd and clean up: move its static pod \
                 manifest out of /etc/kubernetes/manifests (or stop the service), and move its \
                 data dir (e.g. /var/lib/etcd) aside before reusing the node: a member that \
                 was removed must never start again with its old data"
            ));
        }
        Step::AddLearner { name, peer_urls } => {
            let after = Quorum::of(now.voters + 1, now.healthy + 1);
            op.note(&format!(
                "step: {}\n  a learner does not vote: quorum stays {}\n  after promotion: {}",
                step.describe(),
                now.describe(),
                after.describe()
            ));
            op.confirm(&format!("add `{name}` as a learner"))?;
            let client = any_voter_except(&survey, &state, 0)
                .ok_or(Error::NoMemberToAsk { other: false })?;
            let what = format!("adding `{name}`");
            retry_transient(op, interrupt, &what, MEMBERSHIP, || async {
                Ok(membership::add_learner(&client, peer_urls).await?)
            })
            .await?;
            wait_for(cluster, Duration::from_secs(20), "the new learner", |s| {
                find_new(s, peer_urls).is_some()
            })
            .await?;
            op.note("  added as a learner");
        }
        Step::StartMember { name } => {
            let new = new.expect("a start step comes with the new member's flags");
            let members: Vec<_> = state
                .members
                .iter()
                .filter(|m| !m.peer_urls.is_empty())
                .map(|m| (m.name.clone(), m.peer_urls.clone()))
                .collect();
            let client_url = client_url_of(new);
            let i = super::start_instructions(
                name,
                &new.peer_urls,
                &client_url,
                &new.data_dir,
                &members,
            );
            match sts_pod {
                Some(pod) => op.note(&format!(
                    "the StatefulSet starts pod `{pod}` for `{name}`; its etcd joins with \
                     `--initial-cluster={}` and `--initial-cluster-state=existing`",
                    i.initial_cluster
                )),
                None => op.keep(&instructions(&i)),
            }
            *start = Some(i);
            op.note(&format!(
                "waiting up to {} for `{name}` to start...",
                humantime::format_duration(new.wait)
            ));
            let what = format!("`{name}` to start");
            let started = wait_for(cluster, new.wait, &what, |s| {
                find_new(s, &new.peer_urls).is_some_and(|m| m.started())
            });
            interrupt
                .unless(started)
                .await
                .ok_or_else(|| waiting_stopped(&what))??;
            op.note(&format!("  `{name}` has started"));
        }
        Step::CatchUp { name } => {
            let new = new.expect("a catch-up step comes with the new member's flags");
            op.note(&format!("step: {}", step.describe()));
            interrupt
                .unless(catch_up(cluster, op, name, new, sts_pod))
                .await
                .ok_or_else(|| waiting_stopped(&format!("`{name}` to catch up")))??;
        }
        Step::Promote { name } => {
            let new = new.expect("a promote step comes with the new member's flags");
            let m = find_new(&state, &new.peer_urls)
                .ok_or_else(|| Error::LearnerGone { name: name.clone() })?;
            let id = m.id;
            let after = Quorum::of(now.voters + 1, now.healthy + 1);
            show_step(op, &step.describe(), &now, &after);
            op.confirm(&format!("promote `{name}` to a voting member"))?;
            let what = format!("promoting `{name}`");
            let retry = Retry {
                within: new.wait,
                pause: POLL,
            };
            retry_transient(op, interrupt, &what, retry, || async {
                let (survey, state) = survey_all(cluster).await;
                let client = any_voter_except(&survey, &state, id)
                    .ok_or(Error::NoMemberToAsk { other: false })?;
                Ok(membership::promote(&client, id).await?)
            })
            .await?;
            wait_for(cluster, Duration::from_secs(20), "the promotion", |s| {
                s.member(id).is_some_and(|m| !m.is_learner)
            })
            .await?;
            op.note(&format!("  `{name}` votes now"));
        }
    }
    Ok(())
}

/// How to start the new member on its node: the operator keeps this.
fn instructions(i: &StartInstructions) -> String {
    let mut text = format!(
        "start `{}` on its node now, with an empty data dir:\n",
        i.name
    );
    for f in &i.flags {
        text.push_str(&format!("  {f}\n"));
    }
    text.push_str(&format!("as a plain process:\n  {}\n", i.command));
    text.push_str(
        "as a kubeadm static pod: in /etc/kubernetes/manifests/etcd.yaml on the new node, \
         set under `command:`\n",
    );
    for f in &i.flags {
        text.push_str(&format!("    - {f}\n"));
    }
    text.push_str("  (`kubeadm join --control-plane` writes these itself)");
    text
}

/// A wait (that changes nothing) abandoned on Ctrl-C.
fn waiting_stopped(what: &str) -> Error {
    Error::interrupted(format!("interrupted (Ctrl-C) while waiting for {what}"))
}

/// A membership change left on a second Ctrl-C.
fn abandoned(what: &str) -> Error {
    Error::interrupted(format!(
        "interrupted (Ctrl-C) while {what}: etcd may or may not have applied it"
    ))
}

async fn catch_up(
    cluster: &Cluster,
    op: &mut dyn Operator,
    name: &str,
    new: &NewMember,
    sts_pod: Option<&str>,
) -> Result<()> {
    let deadline = Instant::now() + new.wait;
    let mut last = String::new();
    loop {
        let (survey, state) = survey_all(cluster).await;
        let leader_applied = state
            .leader
            .and_then(|l| state.member(l))
            .map(|l| l.raft_applied_index)
            .unwrap_or_default();
        let endpoint = new
            .learner_endpoint
            .clone()
            .or_else(|| new.client_url.clone())
            .or_else(|| {
                find_new(&state, &new.peer_urls).and_then(|m| m.client_urls.first().cloned())
            });
        drop(survey);
        let applied = match (sts_pod, endpoint) {
            (Some(pod), _) => pod_applied(op, pod).await,
            (None, Some(url)) => learner_applied(cluster, &url).await,
            (None, None) => Err(Error::NoClientUrl),
        };
        let applied_index = applied.as_ref().ok().copied();
        let line = match applied {
            Ok(a) => format!(
                "  learner applied {a} of the leader's {leader_applied} ({:.1}%)",
                crate::output::percent(a.min(leader_applied), leader_applied.max(1))
            ),
            Err(e) => format!("  learner not reachable yet: {}", e.line()),
        };
        if line != last {
            op.note(&line);
            last = line;
        }
        if let Some(a) = applied_index {
            if caught_up(a, leader_applied, new.catch_up_threshold) {
                op.note(&format!("  `{name}` has caught up"));
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::NotCaughtUp {
                member: name.to_string(),
                within: new.wait,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The applied index of the etcd in pod `pod`, through a port-forward:
/// the pods are discovered again, since the StatefulSet creates it late.
async fn pod_applied(op: &mut dyn Operator, pod: &str) -> Result<u64> {
    let fresh = op.rediscover().await?;
    let target = fresh
        .targets
        .iter()
        .find(|t| t.pod.as_ref().is_some_and(|p| p.name == pod))
        .ok_or_else(|| Error::NoPodYet {
            pod: pod.to_string(),
        })?;
    let client = EtcdClient::connect(target, &fresh.settings).await?;
    Ok(etcd::status(&client).await?.raft_applied_index)
}

async fn learner_applied(cluster: &Cluster, url: &str) -> Result<u64> {
    let target = Endpoint::parse(url, url.starts_with("https"))?.target();
    let client = EtcdClient::connect(&target, &cluster.settings).await?;
    Ok(etcd::status(&client).await?.raft_applied_index)
}

fn client_url_of(new: &NewMember) -> String {
    new.client_url.clone().unwrap_or_else(|| {
        let peer = new.peer_urls.first().cloned().unwrap_or_default();
        match peer.rsplit_once(':') {
            Some((host, _)) => format!("{host}:2379"),
            None => peer,
        }
    })
}

/// The member with these peer URLs (the one being added).
fn find_new<'a>(state: &'a ClusterState, peer_urls: &[String]) -> Option<&'a MemberState> {
    state.members.iter().find(|m| {
        !m.peer_urls.is_empty()
            && m.peer_urls
                .iter()
                .all(|u| peer_urls.iter().any(|p| same_url(u, p)))
    })
}

fn client_of(survey: &Survey, id: u64) -> Option<EtcdClient> {
    survey
        .views
        .iter()
        .find(|v| v.member_id() == Some(id))
        .and_then(|v| v.client.clone())
}

/// A connection to a healthy voting member other than `except`, the leader
/// first.
fn any_voter_except(survey: &Survey, state: &ClusterState, except: u64) -> Option<EtcdClient> {
    let mut voters: Vec<&MemberState> = state
        .members
        .iter()
        .filter(|m| m.id != except && !m.is_learner && m.reachable())
        .collect();
    voters.sort_by_key(|m| !state.is_leader(m.id));
    voters.iter().find_map(|m| client_of(survey, m.id))
}

async fn wait_for(
    cluster: &Cluster,
    timeout: Duration,
    what: &str,
    done: impl Fn(&ClusterState) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let (survey, state) = survey_all(cluster).await;
        if survey.members.is_some() && done(&state) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::GaveUp {
                what: what.to_string(),
                after: timeout,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Run one membership change (`what`), retrying while etcd refuses it for
/// a passing reason ("unhealthy cluster" until peers have been connected a
/// few seconds; a learner not yet caught up) for up to `retry.within`. Ctrl-C
/// between attempts stops with nothing applied; during an attempt, the
/// attempt is waited for (a second Ctrl-C leaves it). A failure names
/// `what`.
async fn retry_transient<T, F, Fut>(
    op: &mut dyn Operator,
    interrupt: &Interrupt,
    what: &str,
    retry: Retry,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let deadline = Instant::now() + retry.within;
    let not_applied = || {
        Error::interrupted(format!(
            "interrupted (Ctrl-C) before {what}: nothing was applied"
        ))
    };
    let attempts = async {
        loop {
            if interrupt.fired() {
                return Err(not_applied());
            }
            let result = interrupt
                .finish(attempt(), what, &mut |l| op.note(l))
                .await
                .map_err(|()| abandoned(what))?;
            match result {
                Err(e)
                    if e.etcd().is_some_and(crate::etcd::Error::is_transient)
                        && Instant::now() < deadline =>
                {
                    op.verbose(&format!("  etcd says `{}`; retrying", e.line()));
                    if interrupt
                        .unless(tokio::time::sleep(retry.pause))
                        .await
                        .is_none()
                    {
                        return Err(not_applied());
                    }
                }
                other => return other,
            }
        }
    };
    attempts.await.map_err(|e| e.context(what))
}

/// A step with the quorum before and after it, so the operator sees what
/// the change does to failure tolerance before confirming it.
fn show_step(op: &mut dyn Operator, step: &str, now: &Quorum, after: &Quorum) {
    op.note(&format!(
        "step: {step}\n  now:   {}\n  after: {}",
        now.describe(),
        after.describe()
    ));
}
