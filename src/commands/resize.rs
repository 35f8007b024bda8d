//! `resize add|remove|replace`: guided membership changes that keep quorum.
//!
//! Shows the quorum math now and after, plans with [`crate::ops::resize`],
//! confirms each membership change, then executes step by step and checks
//! each step against the live cluster before the next. A re-run picks up
//! where the cluster is.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{parse_duration, OutputFormat};
use crate::connect::direct::Endpoint;
use crate::connect::kube::statefulset as sts_api;
use crate::context::{Cluster, Session};
use crate::error::{Error, Kind, Result};
use crate::etcd::{self, membership, EtcdClient, Survey};
use crate::ops::cluster_state::{same_url, ClusterState, MemberState, LAG_THRESHOLD};
use crate::ops::move_leader;
use crate::ops::resize::{self, caught_up, Change, Plan, StartInstructions, Step};
use crate::ops::statefulset::{self, Decision};
use crate::output::table::{Mark, Table};

const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ResizeCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ResizeCommand {
    /// Add a member: as a learner, wait for it to catch up, then promote it.
    ///
    /// Prints the flags to start etcd on the new node with, waits for it to
    /// start and catch up with the leader, then promotes it to a voting
    /// member. Re-run it after an interruption: done steps are skipped.
    Add(AddArgs),
    /// Remove a member (moving leadership away first if it leads).
    ///
    /// Refused when the remaining members could not keep a quorum.
    Remove(RemoveArgs),
    /// Replace a failed member: remove it first, then add the new one.
    ///
    /// Removing first is the safe order: the failed member still counts
    /// against quorum until it is gone.
    Replace(ReplaceArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Show the quorum math and the steps, and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Go ahead even when the change is refused for quorum safety.
    #[arg(long)]
    pub force: bool,

    /// Leave the StatefulSet running etcd at its replicas.
    ///
    /// In Kubernetes mode, when every etcd pod belongs to one StatefulSet,
    /// `add` and `remove` offer to scale it in step with the membership.
    #[arg(long)]
    pub no_scale: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct NewMember {
    /// Peer URL of the new member (repeatable).
    #[arg(
        long = "peer-urls",
        value_delimiter = ',',
        required = true,
        value_name = "URL"
    )]
    pub peer_urls: Vec<String>,

    /// Client URL the new member will serve on (for the printed command line
    /// and to watch its catch-up); default: the peer URL's host on port 2379.
    #[arg(long, value_name = "URL")]
    pub client_url: Option<String>,

    /// Where to ask the learner for its progress; default: --client-url once
    /// given, else the client URL it advertises after it started.
    #[arg(long, value_name = "URL")]
    pub learner_endpoint: Option<String>,

    /// Data dir for the printed command line.
    #[arg(long, default_value = "/var/lib/etcd", value_name = "DIR")]
    pub data_dir: String,

    /// Stop once the learner has caught up, without promoting it.
    #[arg(long)]
    pub no_promote: bool,

    /// How long to wait for the new member to start, catch up and be promoted.
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub wait: Duration,

    /// Raft entries the learner may be behind the leader when promoted.
    #[arg(long, default_value_t = LAG_THRESHOLD, value_name = "N")]
    pub catch_up_threshold: u64,
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Name of the new member (its etcd `--name`).
    pub name: String,
    #[command(flatten)]
    pub new: NewMember,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The member to remove: name or 16-hex id.
    #[arg(value_name = "NAME|ID")]
    pub member: String,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, clap::Args)]
pub struct ReplaceArgs {
    /// The failed member: name or 16-hex id.
    #[arg(value_name = "NAME|ID")]
    pub member: String,
    /// Name of the replacement (default: the same name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub new: NewMember,
    #[command(flatten)]
    pub common: Common,
}

/// What the wizard did.
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

/// The change asked for, the new member's flags, the common flags.
fn change_of(command: ResizeCommand) -> (Change, Option<NewMember>, Common) {
    match command {
        ResizeCommand::Add(a) => (
            Change::Add {
                name: a.name,
                peer_urls: a.new.peer_urls.clone(),
            },
            Some(a.new),
            a.common,
        ),
        ResizeCommand::Remove(a) => (Change::Remove { member: a.member }, None, a.common),
        ResizeCommand::Replace(a) => (
            Change::Replace {
                name: a.name.unwrap_or_else(|| a.member.clone()),
                member: a.member,
                peer_urls: a.new.peer_urls.clone(),
            },
            Some(a.new),
            a.common,
        ),
    }
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let (change, new, common) = change_of(args.command);
    let promote = new.as_ref().is_none_or(|n| !n.no_promote);
    let cluster = session.cluster().await?;
    let (survey, state) = survey_all(&cluster).await;
    if survey.members.is_none() {
        return Err(survey
            .views
            .iter()
            .find_map(|v| v.error.clone())
            .unwrap_or_else(|| Error::new(Kind::Unavailable, "no member answered")));
    }
    let plan = resize::plan(&state, &change, promote).map_err(Error::usage)?;
    let sts = if plan.is_done() {
        leftover_scale_down(&cluster, &state, &change, &common).await?
    } else {
        statefulset_decision(&cluster, &survey, &state, &change, &plan, &common).await?
    };
    show_plan(session, &state, &plan, sts.as_ref())?;
    let format = session.format_or(OutputFormat::Table);
    if common.dry_run || plan.is_done() {
        // A re-run after the member went but before its pod did.
        let leftover = sts
            .as_ref()
            .and_then(|d| d.scale.clone())
            .filter(|_| plan.is_done());
        if plan.is_done() {
            match &leftover {
                Some(s) => session.shell.note(format!(
                    "the membership change is done; left to do: {}",
                    s.describe()
                )),
                None => session
                    .shell
                    .note("nothing to do: the cluster already shows this change"),
            }
        }
        if !common.dry_run {
            scale_up_or_down(&cluster, session, leftover).await?;
        }
        let report = Report {
            plan,
            stateful_set: sts,
            dry_run: common.dry_run,
            start: None,
            members: state.members,
        };
        return session.shell.emit(format, &report, |r| {
            vec![steps_table(&r.plan, r.stateful_set.as_ref())]
        });
    }
    if let Some(why) = &plan.refusal {
        if !common.force {
            return Err(
                Error::new(Kind::Refused, format!("refusing to {}: {why}", plan.change)).with_hint(
                    "fix the cluster first, or pass --force if you know why this is safe",
                ),
            );
        }
        session
            .shell
            .warn(format!("--force: going ahead although {why}"));
    }
    drop(survey);
    let mut start = None;
    let mut scale = sts.as_ref().and_then(|d| d.scale.clone());
    // The pod the StatefulSet starts (or started) for the new member.
    let new_pod = sts.as_ref().and_then(|d| d.pod.clone());
    for step in plan.pending().cloned().collect::<Vec<_>>() {
        // An added learner's pod comes with the scale-up; a removed
        // member's pod goes after the removal.
        if new_pod.is_some() && !matches!(step, Step::AddLearner { .. }) {
            scale_up_or_down(&cluster, session, scale.take()).await?;
        }
        let sts_pod = new_pod.as_deref();
        execute(&cluster, session, &step, new.as_ref(), &mut start, sts_pod).await?;
    }
    scale_up_or_down(&cluster, session, scale.take()).await?;
    // A new pod is one more target.
    let cluster = if new_pod.is_some() {
        session.cluster().await?
    } else {
        cluster
    };
    let (_, state) = survey_all(&cluster).await;
    session
        .shell
        .note(format!("done: {}", resize::current(&state).describe()));
    let report = Report {
        plan,
        stateful_set: sts,
        dry_run: false,
        start,
        members: state.members,
    };
    session
        .shell
        .emit(format, &report, |r| vec![members_table(&r.members)])
}

/// Survey the given endpoints and, in direct mode, every member's
/// advertised client URL (learners and members outside --endpoints).
async fn survey_all(cluster: &Cluster) -> (Survey, ClusterState) {
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
    session: &mut Session,
    scale: Option<statefulset::Scale>,
) -> Result<()> {
    let (Some(kube), Some(scale)) = (&cluster.kube, scale) else {
        return Ok(());
    };
    session.shell.note(format!("step: {}", scale.describe()));
    session.prompt().confirm(&scale.describe())?;
    sts_api::scale(kube, &scale.namespace, &scale.name, scale.to).await?;
    session.shell.note(format!(
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
    change: &Change,
    common: &Common,
) -> Result<Option<Decision>> {
    let Change::Remove { member } = change else {
        return Ok(None);
    };
    let Some(kube) = cluster
        .kube
        .as_ref()
        .filter(|_| !cluster.direct() && !common.no_scale)
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
    change: &Change,
    plan: &Plan,
    common: &Common,
) -> Result<Option<Decision>> {
    let Some(kube) = cluster.kube.as_ref() else {
        return Ok(None);
    };
    let Some((namespace, name)) =
        statefulset::owner(cluster.targets.iter().filter_map(|t| t.pod.as_ref()))
    else {
        return Ok(None);
    };
    let change = match change {
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
    if common.no_scale {
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

fn show_plan(
    session: &mut Session,
    state: &ClusterState,
    plan: &Plan,
    sts: Option<&Decision>,
) -> Result<()> {
    let leader = state.leader;
    members_table_with_leader(&state.members, leader).write(session.shell.err(), false)?;
    session
        .shell
        .note(format!("now:   {}", plan.before.describe()));
    session
        .shell
        .note(format!("after: {}", plan.after.describe()));
    for w in &plan.warnings {
        session.shell.warn(w);
    }
    session.shell.note(format!("plan: {}", plan.change));
    let scale = sts.and_then(|d| d.scale.as_ref());
    for (i, (what, done)) in statefulset::ordered_steps(&plan.steps, scale)
        .iter()
        .enumerate()
    {
        session.shell.note(format!(
            "  {}. {what}{}",
            i + 1,
            if *done { "  (done)" } else { "" }
        ));
    }
    if let Some(d) = sts {
        if let Some(w) = &d.warning {
            session.shell.warn(w);
        }
        if let Some(why) = &d.skipped {
            session.shell.note(format!("StatefulSet not scaled: {why}"));
        }
    }
    if let Some(r) = &plan.refusal {
        session.shell.warn(format!("refused: {r}"));
    }
    Ok(())
}

async fn execute(
    cluster: &Cluster,
    session: &mut Session,
    step: &Step,
    new: Option<&NewMember>,
    start: &mut Option<StartInstructions>,
    sts_pod: Option<&str>,
) -> Result<()> {
    let (survey, state) = survey_all(cluster).await;
    let now = resize::current(&state);
    match step {
        Step::MoveLeader { to, to_id, .. } => {
            session.shell.note(format!("step: {}", step.describe()));
            // Planned again from the cluster as it is now: the target is
            // checked once more (reachable, not lagging, not a learner).
            let transfer = move_leader::plan(&state, Some(&etcd::format_id(*to_id)))?;
            let shell = &mut session.shell;
            move_leader::transfer(
                &cluster.targets,
                &cluster.settings,
                &transfer,
                Duration::from_secs(20),
                &crate::ops::Interrupt::never(),
                &mut |s| shell.verbose(s),
            )
            .await?;
            session.shell.note(format!("  `{to}` leads now"));
        }
        Step::Remove { name, raw_id, .. } => {
            let removed = state.member(*raw_id);
            let after = resize::Quorum::of(
                now.voters - usize::from(!removed.is_some_and(|m| m.is_learner)),
                now.healthy - usize::from(removed.is_some_and(|m| m.healthy_voter())),
            );
            show_step(session, &step.describe(), &now, &after);
            session
                .prompt()
                .confirm(&format!("remove member `{name}`"))?;
            // etcd refuses ("unhealthy cluster") until the remaining members
            // have been connected for a few seconds, e.g. after a new leader.
            let deadline = Instant::now() + Duration::from_secs(30);
            retry_transient(session, deadline, Duration::from_secs(1), || async {
                let (survey, state) = survey_all(cluster).await;
                let client = any_voter_except(&survey, &state, *raw_id).ok_or_else(|| {
                    Error::new(Kind::Unavailable, "no other healthy member to ask")
                })?;
                Ok(membership::remove(&client, *raw_id).await?)
            })
            .await
            .map_err(|e| e.context(format!("removing `{name}`")))?;
            wait_for(cluster, Duration::from_secs(20), "the removal", |s| {
                s.member(*raw_id).is_none()
            })
            .await?;
            session.shell.note(format!(
                "  removed `{name}`. On its node, stop etcd and clean up: move its static pod \
                 manifest out of /etc/kubernetes/manifests (or stop the service), and move its \
                 data dir (e.g. /var/lib/etcd) aside before reusing the node: a member that \
                 was removed must never start again with its old data"
            ));
        }
        Step::AddLearner { name, peer_urls } => {
            let after = resize::Quorum::of(now.voters + 1, now.healthy + 1);
            session.shell.note(format!(
                "step: {}\n  a learner does not vote: quorum stays {}\n  after promotion: {}",
                step.describe(),
                now.describe(),
                after.describe()
            ));
            session
                .prompt()
                .confirm(&format!("add `{name}` as a learner"))?;
            let client = any_voter_except(&survey, &state, 0)
                .ok_or_else(|| Error::new(Kind::Unavailable, "no healthy member to ask"))?;
            let deadline = Instant::now() + Duration::from_secs(30);
            retry_transient(session, deadline, Duration::from_secs(1), || async {
                Ok(membership::add_learner(&client, peer_urls).await?)
            })
            .await
            .map_err(|e| e.context(format!("adding `{name}`")))?;
            wait_for(cluster, Duration::from_secs(20), "the new learner", |s| {
                find_new(s, peer_urls).is_some()
            })
            .await?;
            session.shell.note("  added as a learner");
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
            let i = resize::start_instructions(
                name,
                &new.peer_urls,
                &client_url,
                &new.data_dir,
                &members,
            );
            match sts_pod {
                Some(pod) => session.shell.note(format!(
                    "the StatefulSet starts pod `{pod}` for `{name}`; its etcd joins with \
                     `--initial-cluster={}` and `--initial-cluster-state=existing`",
                    i.initial_cluster
                )),
                None => print_instructions(session, &i),
            }
            *start = Some(i);
            session.shell.note(format!(
                "waiting up to {} for `{name}` to start...",
                humantime::format_duration(new.wait)
            ));
            wait_for(cluster, new.wait, &format!("`{name}` to start"), |s| {
                find_new(s, &new.peer_urls).is_some_and(|m| m.started())
            })
            .await?;
            session.shell.note(format!("  `{name}` has started"));
        }
        Step::CatchUp { name } => {
            let new = new.expect("a catch-up step comes with the new member's flags");
            session.shell.note(format!("step: {}", step.describe()));
            catch_up(cluster, session, name, new, sts_pod).await?;
        }
        Step::Promote { name } => {
            let new = new.expect("a promote step comes with the new member's flags");
            let m = find_new(&state, &new.peer_urls)
                .ok_or_else(|| Error::new(Kind::NotFound, format!("learner `{name}` is gone")))?;
            let id = m.id;
            let after = resize::Quorum::of(now.voters + 1, now.healthy + 1);
            show_step(session, &step.describe(), &now, &after);
            session
                .prompt()
                .confirm(&format!("promote `{name}` to a voting member"))?;
            let deadline = Instant::now() + new.wait;
            retry_transient(session, deadline, POLL, || async {
                let (survey, state) = survey_all(cluster).await;
                let client = any_voter_except(&survey, &state, id)
                    .ok_or_else(|| Error::new(Kind::Unavailable, "no healthy member to ask"))?;
                Ok(membership::promote(&client, id).await?)
            })
            .await
            .map_err(|e| e.context(format!("promoting `{name}`")))?;
            wait_for(cluster, Duration::from_secs(20), "the promotion", |s| {
                s.member(id).is_some_and(|m| !m.is_learner)
            })
            .await?;
            session.shell.note(format!("  `{name}` votes now"));
        }
    }
    Ok(())
}

fn print_instructions(session: &mut Session, i: &StartInstructions) {
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
    session.shell.note(text);
}

async fn catch_up(
    cluster: &Cluster,
    session: &mut Session,
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
            (Some(pod), _) => pod_applied(session, pod).await,
            (None, Some(url)) => learner_applied(cluster, &url).await,
            (None, None) => Err(Error::new(Kind::Unavailable, "no client URL known yet")),
        };
        let line = match &applied {
            Ok(a) => format!(
                "  learner applied {a} of the leader's {leader_applied} ({:.1}%)",
                crate::output::percent((*a).min(leader_applied), leader_applied.max(1))
            ),
            Err(e) => format!("  learner not reachable yet: {}", e.message),
        };
        if line != last {
            session.shell.note(&line);
            last = line;
        }
        if let Ok(a) = applied {
            if caught_up(a, leader_applied, new.catch_up_threshold) {
                session.shell.note(format!("  `{name}` has caught up"));
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::new(
                Kind::Other,
                format!(
                    "`{name}` did not catch up within {}",
                    humantime::format_duration(new.wait)
                ),
            )
            .with_hint(
                "check the new member's log, then run the same command again: it resumes here",
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The applied index of the etcd in pod `pod`, through a port-forward:
/// the pods are discovered again, since the StatefulSet creates it late.
async fn pod_applied(session: &mut Session, pod: &str) -> Result<u64> {
    let fresh = session.cluster().await?;
    let target = fresh
        .targets
        .iter()
        .find(|t| t.pod.as_ref().is_some_and(|p| p.name == pod))
        .ok_or_else(|| Error::new(Kind::Unavailable, format!("no pod `{pod}` yet")))?;
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
            return Err(Error::new(
                Kind::Other,
                format!("gave up waiting for {what} after {}", humantime::format_duration(timeout)),
            )
            .with_hint("check `kubectl etcd members`, then run the same command again: it resumes where the cluster is"));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn steps_table(plan: &Plan, sts: Option<&Decision>) -> Table {
    let mut t = Table::new(&["step", "action", "status"]);
    let scale = sts.and_then(|d| d.scale.as_ref());
    for (i, (what, done)) in statefulset::ordered_steps(&plan.steps, scale)
        .into_iter()
        .enumerate()
    {
        t.marked_row(vec![
            ((i + 1).to_string(), Mark::Plain),
            (what, Mark::Plain),
            if done {
                ("done".into(), Mark::Good)
            } else if plan.refusal.is_some() {
                ("refused".into(), Mark::Bad)
            } else {
                ("pending".into(), Mark::Plain)
            },
        ]);
    }
    t.title(format!(
        "{}\nnow:   {}\nafter: {}",
        plan.change,
        plan.before.describe(),
        plan.after.describe()
    ))
}

fn members_table(members: &[MemberState]) -> Table {
    members_table_with_leader(members, None)
}

fn members_table_with_leader(members: &[MemberState], leader: Option<u64>) -> Table {
    let mut t = Table::new(&["id", "name", "peer urls", "role", "health", "applied"]);
    for m in members {
        let role = if m.is_learner {
            "learner"
        } else if leader == Some(m.id) {
            "leader"
        } else {
            "voter"
        };
        t.marked_row(vec![
            (etcd::format_id(m.id), Mark::Plain),
            (
                if m.started() {
                    m.name.clone()
                } else {
                    "(not started)".into()
                },
                Mark::Plain,
            ),
            (m.peer_urls.join(","), Mark::Plain),
            (role.into(), Mark::Plain),
            match &m.error {
                None if m.lagging => ("lagging".into(), Mark::Warn),
                None => ("healthy".into(), Mark::Good),
                Some(e) => (format!("unreachable: {e}"), Mark::Bad),
            },
            (m.raft_applied_index.to_string(), Mark::Plain),
        ]);
    }
    t
}

/// Run one membership change, retrying while etcd refuses it for a passing
/// reason ("unhealthy cluster" until peers have been connected a few
/// seconds; a learner not yet caught up) until `deadline`.
async fn retry_transient<T, F, Fut>(
    session: &mut Session,
    deadline: Instant,
    pause: Duration,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    loop {
        match attempt().await {
            Err(e)
                if e.etcd().is_some_and(crate::etcd::Error::is_transient)
                    && Instant::now() < deadline =>
            {
                session
                    .shell
                    .verbose(format!("  etcd says `{}`; retrying", e.message));
                tokio::time::sleep(pause).await;
            }
            other => return other,
        }
    }
}

/// A step with the quorum before and after it, so the operator sees what
/// the change does to failure tolerance before confirming it.
fn show_step(session: &mut Session, step: &str, now: &resize::Quorum, after: &resize::Quorum) {
    session.shell.note(format!(
        "step: {step}\n  now:   {}\n  after: {}",
        now.describe(),
        after.describe()
    ));
}
