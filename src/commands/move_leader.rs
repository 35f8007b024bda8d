//! `move-leader [--to NAME|ID]`: hand leadership to another voting member,
//! e.g. before draining the leader's node. Plan and executor live in
//! [`crate::ops::move_leader`]; this file only wires them.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::{Error, Result};
use crate::etcd::Survey;
use crate::ops::move_leader::{self, Plan};
use crate::output::table::Table;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The member to lead next, by name or 16-hex id; default: the healthiest
    /// voting follower with the highest applied index.
    #[arg(long, value_name = "NAME|ID", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::members))]
    pub to: Option<String>,

    /// Name the member that would lead, and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// How long to wait until every member reports the new leader.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

/// What `move-leader` did (or would do), for every output format.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    dry_run: bool,
    took_ms: Option<u64>,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    // The session's interrupt, registered before the command started: a
    // Ctrl-C before the transfer is asked for stops with "nothing changed"
    // rather than killing the process.
    let interrupt = session.interrupt.clone();
    let cluster = session.cluster().await?;
    let survey = Survey::take(&cluster.targets, &cluster.settings).await;
    // Not one member answered: unreachable (3), not "no leader" (4).
    survey.reached()?;
    let state = move_leader::state_of(&survey);
    drop(survey);
    let plan = move_leader::plan(&state, args.to.as_deref())?;
    if interrupt.fired() {
        return Err(Error::interrupted(
            "interrupted before moving leadership: nothing changed",
        ));
    }
    let format = session.format_or(OutputFormat::Table);
    let mut report = Report {
        plan: &plan,
        dry_run: args.dry_run,
        took_ms: None,
    };
    if plan.already {
        session
            .shell
            .note(format!("`{}` leads already: nothing to do", plan.to));
        return session.shell.emit(format, &report, |r| vec![table(r)]);
    }
    if args.dry_run {
        session
            .shell
            .note(format!("would {} (dry run)", plan.describe()));
        return session.shell.emit(format, &report, |r| vec![table(r)]);
    }
    session.shell.note(format!(
        "will {} (applied index {}); clients of the old leader see one election",
        plan.describe(),
        plan.to_applied_index
    ));
    session.prompt().confirm(&plan.describe())?;
    let start = Instant::now();
    let shell = &mut session.shell;
    move_leader::transfer(
        &cluster.targets,
        &cluster.settings,
        &plan,
        args.timeout,
        &interrupt,
        &mut |s| shell.note(s),
    )
    .await?;
    report.took_ms = Some(start.elapsed().as_millis() as u64);
    session
        .shell
        .note(format!("`{}` leads now; every member agrees", plan.to));
    session.shell.emit(format, &report, |r| vec![table(r)])
}

fn table(r: &Report) -> Table {
    let mut t = Table::new(&["from", "to", "to id", "result"]);
    let result = match (r.plan.already, r.dry_run, r.took_ms) {
        (true, _, _) => "already leads".to_string(),
        (false, true, _) => "dry run".to_string(),
        (false, false, Some(ms)) => format!(
            "moved in {}",
            crate::output::human_duration(Duration::from_millis(ms))
        ),
        (false, false, None) => "-".to_string(),
    };
    t.row([
        r.plan.from.clone(),
        r.plan.to.clone(),
        crate::etcd::format_id(r.plan.to_id),
        result,
    ]);
    t
}
