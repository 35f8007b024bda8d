//! `compact [REV]`: drop the keyspace history older than a revision.

use std::time::Duration;

use crate::cli::{parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::Result;
use crate::ops::compaction::{self, CompactReport};
use crate::output::human_duration;
use crate::output::table::Table;

/// Flags of the command; its help text lives on the `cli::Command` variant.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Compact up to this revision (default: the current one).
    #[arg(value_name = "REV", conflicts_with = "keep")]
    pub revision: Option<i64>,

    /// Keep the last N revisions of history.
    #[arg(long, value_name = "N")]
    pub keep: Option<i64>,

    /// Wait until every member has removed the old revisions from its
    /// database file (so a defrag right after reclaims the space).
    #[arg(long)]
    pub physical: bool,

    /// How long to wait for the compaction (physical compaction of a large
    /// database takes minutes).
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,

    /// Show the revision range that would go, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let client = cluster.connect_any().await?;
    let request = compaction::Request {
        revision: args.revision,
        keep: args.keep,
        physical: args.physical,
        timeout: args.timeout,
        dry_run: args.dry_run,
    };
    let interrupt = session.interrupt.clone();
    let report = compaction::compact(&cluster, &client, &request, &interrupt, session).await?;
    let format = session.format_or(OutputFormat::Table);
    session.shell.emit(format, &report, |r| vec![table(r)])?;
    if !report.unanswered.is_empty() {
        return Err(crate::ops::Error::PhysicalUnconfirmed {
            members: report.unanswered,
        }
        .into());
    }
    Ok(())
}

pub fn table(r: &CompactReport) -> Table {
    let mut t = Table::new(&[
        "compacted at",
        "removed",
        "current revision",
        "physical",
        "took",
    ]);
    t.row([
        if r.dry_run {
            format!("{} (dry run)", r.revision)
        } else {
            r.revision.to_string()
        },
        r.range(),
        r.current_revision.to_string(),
        r.physical.to_string(),
        r.took_ms
            .map(|ms| human_duration(Duration::from_millis(ms)))
            .unwrap_or_else(|| "-".into()),
    ]);
    t
}
