//! `recover-space`: the guided way out of a NOSPACE alarm. Shows the space,
//! refuses before any write when compaction and defragmentation cannot
//! help, then runs [`crate::ops::recover_space`].

use std::time::Duration;

use crate::cli::{parse_bytes, parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::Result;
use crate::ops::cluster_state::ClusterState;
use crate::ops::defrag::Outcome;
use crate::ops::recover_space::{self, Options, STEPS};
use crate::output::maintenance::{defrag_plan_table, defrag_result_table, space_table};

/// Flags of the command; its help text lives on the `cli::Command` variant.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The members' --quota-backend-bytes, only needed when neither Status
    /// (etcd ≥ 3.6), the metrics nor a pod flag give it.
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    pub quota_bytes: Option<u64>,

    /// Pause between members during the defrag.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub pause: Duration,

    /// Per-member defragment timeout, and the compaction timeout.
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,

    /// Defragment the leader in place instead of moving leadership first.
    #[arg(long)]
    pub no_move_leader: bool,

    /// Show the space picture and the steps, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl Args {
    fn options(&self) -> Options {
        Options {
            quota_bytes: self.quota_bytes,
            pause: self.pause,
            timeout: self.timeout,
            move_leader: !self.no_move_leader,
        }
    }
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let opts = args.options();
    let before = recover_space::survey(&cluster, args.quota_bytes).await?;
    session.shell.note("space before:");
    space_table(&before.rows).write(session.shell.err(), false)?;
    if let Some(note) = crate::ops::quota::footnote(before.rows.iter().map(|r| r.quota.source)) {
        session.shell.note(note);
    }
    if !before.nospace {
        session
            .shell
            .note("no NOSPACE alarm is active: the steps still free space, nothing to disarm");
    }
    if let Some(w) = recover_space::unsettled(&before) {
        session.shell.warn(w);
    }
    let format = session.format_or(OutputFormat::Table);
    if args.dry_run {
        let steps: Vec<String> = STEPS
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{}. {s}", i + 1))
            .collect();
        session.shell.note(format!("steps: {}", steps.join("  ")));
        if let Some(e) = recover_space::refusal(&before) {
            session
                .shell
                .warn(format!("a real run would refuse: {}", e.line()));
        }
        let survey = crate::ops::quota::survey(&cluster).await;
        let plan = crate::ops::defrag::plan(&ClusterState::from_survey(&survey), &opts.defrag())?;
        let wide = session.wide();
        return session
            .shell
            .emit(format, &plan, |p| vec![defrag_plan_table(p, wide)]);
    }
    // Everything that makes a run refuse, before the first write.
    if let Some(e) = recover_space::refusal(&before) {
        return Err(e.into());
    }
    let interrupt = session.interrupt.clone();
    let report = recover_space::execute(&cluster, &opts, before, &interrupt, session).await?;
    session.shell.emit(format, &report, |r| {
        vec![
            defrag_result_table(&Outcome {
                members: r.defragmented.clone(),
                skipped: r.skipped.clone(),
                stopped: None,
            }),
            space_table(&r.after).title("space after"),
        ]
    })
}
