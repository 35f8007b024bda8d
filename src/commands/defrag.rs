//! `defrag`: rolling defragmentation, one member at a time, leader last.

use std::time::Duration;

use crate::cli::{parse_bytes, parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::etcd::Survey;
use crate::ops::cluster_state::ClusterState;
use crate::ops::defrag::{self, Outcome, Pacing, Plan, Role};
use crate::output::table::{Mark, Table};
use crate::output::{human_bytes, human_duration};

/// Flags of the command; its help text lives on the `cli::Command` variant.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this member (name or 16-hex id).
    #[arg(long, value_name = "NAME|ID", add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::members))]
    pub member: Option<String>,

    /// Only members whose db file is at least this many percent free space.
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    pub if_fragmented: Option<f64>,

    /// Only members whose db file is at least this big (e.g. 100MB).
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    pub min_db_size: Option<u64>,

    /// Defragment the leader in place instead of moving leadership first.
    #[arg(long)]
    pub no_move_leader: bool,

    /// Pause between members.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub pause: Duration,

    /// Per-member defragment timeout (large databases take minutes).
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,

    /// How long a member may take to be healthy again after its defrag.
    #[arg(long, default_value = "2m", value_parser = parse_duration, value_name = "DURATION")]
    pub recover_timeout: Duration,

    /// Print the plan (order, sizes, expected reclaim) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_percent(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage like 45"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` is not between 0 and 100"))
    }
}

impl Args {
    pub fn options(&self) -> defrag::Options {
        defrag::Options {
            member: self.member.clone(),
            if_fragmented: self.if_fragmented,
            min_db_size: self.min_db_size,
            move_leader: !self.no_move_leader,
        }
    }

    pub fn pacing(&self) -> Pacing {
        Pacing {
            timeout: self.timeout,
            pause: self.pause,
            recover: self.recover_timeout,
        }
    }
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let survey = Survey::take(&cluster.targets, &cluster.settings).await;
    let state = ClusterState::from_survey(&survey);
    drop(survey);
    let opts = args.options();
    let plan = defrag::plan(&state, &opts)?;
    let format = session.format_or(OutputFormat::Table);
    if args.dry_run {
        let wide = session.wide();
        session
            .shell
            .emit(format, &plan, |p| vec![plan_table(p, wide)])?;
        if let Some(b) = &plan.blocked_by {
            session.shell.warn(format!(
                "a real run would stop before the first member: {b}"
            ));
        }
        return Ok(());
    }
    let interrupt = crate::ops::Interrupt::on_ctrl_c();
    let outcome = rolling(&plan, &cluster, &opts, &args.pacing(), &interrupt, session).await?;
    session
        .shell
        .emit(format, &outcome, |o| vec![result_table(o)])?;
    finish(&outcome, &plan)
}

/// Show the plan, ask, execute; shared with `recover-space`.
pub async fn rolling(
    plan: &Plan,
    cluster: &crate::context::Cluster,
    opts: &defrag::Options,
    pacing: &Pacing,
    interrupt: &crate::ops::Interrupt,
    session: &mut Session,
) -> Result<Outcome> {
    if let Some(b) = &plan.blocked_by {
        return Err(
            Error::new(Kind::Refused, format!("refusing to defragment: {b}")).with_hint(
                "every voting member must be reachable, with a leader and none lagging; \
             check `kubectl etcd status`",
            ),
        );
    }
    let names: Vec<&str> = plan.steps().map(|m| m.name.as_str()).collect();
    if names.is_empty() {
        session.shell.note("nothing to defragment:");
        plan_table(plan, false).write(session.shell.err(), false)?;
        return Ok(Outcome {
            members: Vec::new(),
            skipped: Vec::new(),
            stopped: None,
        });
    }
    plan_table(plan, false).write(session.shell.err(), false)?;
    let what = format!(
        "defragment {} member{}",
        names.len(),
        if names.len() == 1 { "" } else { "s" }
    );
    session.shell.note(format!(
        "will {what} one at a time ({}), expected to reclaim about {}",
        names.join(", "),
        human_bytes(plan.expected_reclaim())
    ));
    session.prompt().confirm(&what)?;
    let shell = &mut session.shell;
    let mut note = |s: String| shell.note(s);
    Ok(defrag::execute(
        plan,
        &cluster.targets,
        &cluster.settings,
        opts,
        pacing,
        interrupt,
        &mut note,
    )
    .await)
}

/// The exit status: a stop is an error that says what was done.
pub fn finish(outcome: &Outcome, plan: &Plan) -> Result<()> {
    let Some(stop) = &outcome.stopped else {
        return Ok(());
    };
    let total = plan.steps().count();
    let done: Vec<&str> = outcome.members.iter().map(|d| d.member.as_str()).collect();
    let kind = if stop.error.kind == Kind::Refused {
        Kind::Refused
    } else {
        Kind::Partial
    };
    let mut e = Error::new(
        kind,
        format!(
            "stopped at member `{}`: {}; {} of {total} members defragmented{}",
            stop.member,
            stop.message,
            done.len(),
            if done.is_empty() {
                String::new()
            } else {
                format!(" ({})", done.join(", "))
            }
        ),
    );
    e.hint = stop.error.hint.clone();
    Err(e)
}

/// The plan as a table that fits 120 columns for a 3-member cluster;
/// `wide` adds the member ids.
pub fn plan_table(plan: &Plan, wide: bool) -> Table {
    let mut headers = vec!["order", "member"];
    if wide {
        headers.push("id");
    }
    let sizes = headers.len() + 1;
    headers.extend(["role", "db size", "in use", "frag", "reclaim", "action"]);
    let mut t = Table::new(&headers).right_align(&[0, sizes, sizes + 1, sizes + 2, sizes + 3]);
    for m in &plan.members {
        let action = match (&m.skip, &m.move_leader_to) {
            (Some(why), _) => (format!("skip: {why}"), Mark::Warn),
            (None, Some(to)) => (
                format!("move leadership to {to}, then defragment"),
                Mark::Plain,
            ),
            (None, None) if m.role == Role::Learner => (
                "defragment if etcd allows it (up to 3.6 it refuses learners)".to_string(),
                Mark::Plain,
            ),
            (None, None) => ("defragment".to_string(), Mark::Plain),
        };
        let mut cells = vec![
            (
                m.order.map(|o| o.to_string()).unwrap_or_else(|| "-".into()),
                Mark::Plain,
            ),
            (m.name.clone(), Mark::Plain),
        ];
        if wide {
            cells.push((m.id.clone(), Mark::Plain));
        }
        cells.extend([
            (m.role.name().to_string(), Mark::Plain),
            (human_bytes(m.db_size), Mark::Plain),
            (human_bytes(m.db_size_in_use), Mark::Plain),
            (format!("{:.1}%", m.fragmentation_percent), Mark::Plain),
            (human_bytes(m.expected_reclaim), Mark::Plain),
            action,
        ]);
        t.marked_row(cells);
    }
    t
}

pub fn result_table(outcome: &Outcome) -> Table {
    let mut t = Table::new(&[
        "member",
        "id",
        "db before",
        "db after",
        "reclaimed",
        "took",
        "leader moved to",
    ])
    .right_align(&[2, 3, 4, 5]);
    for d in &outcome.members {
        t.row([
            d.member.clone(),
            d.id.clone(),
            human_bytes(d.db_size_before),
            human_bytes(d.db_size_after),
            human_bytes(d.reclaimed),
            human_duration(Duration::from_millis(d.took_ms)),
            d.leader_moved_to.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    for s in &outcome.skipped {
        t.marked_row(vec![
            (s.member.clone(), Mark::Warn),
            (s.id.clone(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            (format!("skipped: {}", s.reason), Mark::Warn),
        ]);
    }
    if let Some(s) = &outcome.stopped {
        t.marked_row(vec![
            (s.member.clone(), Mark::Bad),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            (format!("stopped: {}", s.message), Mark::Bad),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Args {
        let mut all = vec!["kubectl-etcd", "defrag"];
        all.extend(args);
        match Cli::try_parse_from(all).unwrap().command {
            Command::Defrag(a) => a,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults_suit_large_databases_and_move_leadership() {
        let a = parse(&[]);
        assert_eq!(a.timeout, Duration::from_secs(600));
        assert_eq!(a.pause, Duration::from_secs(5));
        assert!(a.options().move_leader);
        assert!(!a.dry_run);
    }

    #[test]
    fn threshold_flags_read_as_openshift_writes_them() {
        let a = parse(&[
            "--if-fragmented",
            "45",
            "--min-db-size",
            "100MB",
            "--no-move-leader",
        ]);
        let o = a.options();
        assert_eq!(o.if_fragmented, Some(45.0));
        assert_eq!(o.min_db_size, Some(100_000_000));
        assert!(!o.move_leader);
        assert_eq!(parse_percent("45%"), Ok(45.0));
        assert!(parse_percent("145").is_err());
        assert!(parse_percent("lots").is_err());
    }
}
