//! `resize add|remove|replace`: guided membership changes that keep quorum.
//!
//! Wiring only: the flags become an [`executor::Request`], the plan (quorum
//! math now and after, the steps) is printed on stdout where the operator
//! keeps it, and [`crate::ops::resize::executor`] carries it out.

use std::time::Duration;

use crate::cli::{parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::Result;
use crate::ops::cluster_state::LAG_THRESHOLD;
use crate::ops::resize::executor::{self, Prepared, Report, Request};
use crate::ops::resize::Change;
use crate::ops::statefulset::Decision;
use crate::ops::Operator;
use crate::output::maintenance::resize_members_table;
use crate::output::resize;

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

/// A member URL as etcd takes it: `http(s)://HOST:PORT` (a usage error
/// otherwise, before anything is asked of the cluster).
fn parse_member_url(s: &str) -> std::result::Result<String, String> {
    let uri: http::Uri = s.parse().map_err(|e| format!("`{s}` is not a URL ({e})"))?;
    match (uri.scheme_str(), uri.host(), uri.port_u16()) {
        (Some("http" | "https"), Some(host), Some(_)) if !host.is_empty() => Ok(s.to_string()),
        _ => Err(format!("`{s}` is not of the form http(s)://HOST:PORT")),
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct NewMember {
    /// Peer URL of the new member (repeatable).
    #[arg(
        long = "peer-urls",
        value_delimiter = ',',
        required = true,
        value_name = "URL",
        value_parser = parse_member_url
    )]
    pub peer_urls: Vec<String>,

    /// Client URL the new member will serve on (for the printed command line
    /// and to watch its catch-up); default: the peer URL's host on port 2379.
    #[arg(long, value_name = "URL", value_parser = parse_member_url)]
    pub client_url: Option<String>,

    /// Where to ask the learner for its progress; default: --client-url once
    /// given, else the client URL it advertises after it started.
    #[arg(long, value_name = "URL", value_parser = parse_member_url)]
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
    #[arg(value_name = "NAME|ID", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::members))]
    pub member: String,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, clap::Args)]
pub struct ReplaceArgs {
    /// The failed member: name or 16-hex id.
    #[arg(value_name = "NAME|ID", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::members))]
    pub member: String,
    /// Name of the replacement (default: the same name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub new: NewMember,
    #[command(flatten)]
    pub common: Common,
}

impl NewMember {
    fn request(self) -> executor::NewMember {
        executor::NewMember {
            peer_urls: self.peer_urls,
            client_url: self.client_url,
            learner_endpoint: self.learner_endpoint,
            data_dir: self.data_dir,
            no_promote: self.no_promote,
            wait: self.wait,
            catch_up_threshold: self.catch_up_threshold,
        }
    }
}

/// The request, and whether it is a dry run.
fn request_of(command: ResizeCommand) -> (Request, bool) {
    let (change, new, common) = match command {
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
    };
    let request = Request {
        change,
        new: new.map(NewMember::request),
        force: common.force,
        no_scale: common.no_scale,
    };
    (request, common.dry_run)
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let (request, dry_run) = request_of(args.command);
    let cluster = session.cluster().await?;
    let prepared = executor::prepare(&cluster, &request).await?;
    show_plan(session, &prepared);
    let format = session.format_or(OutputFormat::Table);
    let interrupt = session.interrupt.clone();
    if dry_run || prepared.plan.is_done() {
        if !dry_run {
            executor::finish_done(&cluster, &prepared, &interrupt, session).await?;
        }
        let report = Report {
            plan: prepared.plan,
            stateful_set: prepared.sts,
            dry_run,
            start: None,
            members: prepared.state.members,
        };
        // The table format showed the plan already.
        return match format {
            OutputFormat::Table => Ok(()),
            _ => session.shell.emit(format, &report, |_| vec![]),
        };
    }
    let report = executor::execute(&cluster, prepared, &request, &interrupt, session).await?;
    session.shell.emit(format, &report, |r| {
        vec![resize_members_table(&r.members, None)]
    })
}

/// The plan, for the operator to keep: the members, the quorum now and
/// after, the steps (done ones marked), what happens to a StatefulSet.
fn show_plan(session: &mut Session, prepared: &Prepared) {
    let Prepared { plan, sts, .. } = prepared;
    let text = resize::plan_text(prepared);
    session.keep(&text);
    for w in &plan.warnings {
        session.shell.warn(w);
    }
    warn_statefulset(session, sts.as_ref());
    if let Some(r) = &plan.refusal {
        session.shell.warn(format!("refused: {r}"));
    }
}

fn warn_statefulset(session: &mut Session, sts: Option<&Decision>) {
    if let Some(d) = sts {
        if let Some(w) = &d.warning {
            session.shell.warn(w);
        }
        if let Some(why) = &d.skipped {
            session.shell.note(format!("StatefulSet not scaled: {why}"));
        }
    }
}
