//! `defrag`: rolling defragmentation, one member at a time, leader last.

use std::time::Duration;

use crate::cli::{parse_bytes, parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::Result;
use crate::etcd::Survey;
use crate::ops::cluster_state::ClusterState;
use crate::ops::defrag::{self, Pacing};
use crate::output::maintenance::{defrag_plan_table, defrag_result_table};

/// Flags of the command; its help text lives on the `cli::Command` variant.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this member (name or 16-hex id).
    #[arg(long, value_name = "NAME|ID", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::members))]
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
    survey.reached()?;
    let state = ClusterState::from_survey(&survey);
    drop(survey);
    let opts = args.options();
    let plan = defrag::plan(&state, &opts)?;
    let format = session.format_or(OutputFormat::Table);
    if args.dry_run {
        let wide = session.wide();
        session
            .shell
            .emit(format, &plan, |p| vec![defrag_plan_table(p, wide)])?;
        if let Some(b) = &plan.blocked_by {
            session.shell.warn(format!(
                "a real run would stop before the first member: {b}"
            ));
        }
        return Ok(());
    }
    if plan.blocked_by.is_none() {
        defrag_plan_table(&plan, false).write(session.shell.err(), false)?;
    }
    let interrupt = session.interrupt.clone();
    let outcome = defrag::run(
        &plan,
        &cluster.targets,
        &cluster.settings,
        &opts,
        &args.pacing(),
        &interrupt,
        session,
    )
    .await?;
    // A refusal still prints its outcome (`stopped` says why, `skipped`
    // what the plan left alone); the exit code follows from it.
    session
        .shell
        .emit(format, &outcome, |o| vec![defrag_result_table(o)])?;
    defrag::finish(outcome)?;
    Ok(())
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
