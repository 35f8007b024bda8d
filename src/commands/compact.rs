//! `compact [REV]`: drop the keyspace history older than a revision.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{parse_duration, OutputFormat};
use crate::context::{Cluster, Session};
use crate::error::{Error, Result};
use crate::etcd::{maintenance, EtcdClient};
use crate::ops::compaction;
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

/// What a compaction did (or would do).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompactReport {
    /// The revision the history was compacted at before, when known.
    pub previously_compacted: Option<i64>,
    /// History older than this revision is removed.
    pub revision: i64,
    pub current_revision: i64,
    pub physical: bool,
    pub dry_run: bool,
    pub took_ms: Option<u64>,
}

impl CompactReport {
    /// `revisions 120..4999` or `up to revision 5000`.
    pub fn range(&self) -> String {
        match self.previously_compacted {
            Some(from) if from >= self.revision => {
                format!("nothing (already compacted at {from})")
            }
            Some(from) => format!(
                "revisions {from}..{} (history from the last compaction at {from})",
                self.revision - 1
            ),
            None => format!("history up to revision {}", self.revision),
        }
    }
}

/// The revision to compact at, from the arguments and the current revision.
pub fn target_revision(rev: Option<i64>, keep: Option<i64>, current: i64) -> Result<i64> {
    let target = match (rev, keep) {
        (Some(r), _) => r,
        (None, Some(k)) if k < 0 => return Err(Error::usage("--keep must not be negative")),
        (None, Some(k)) => current - k,
        (None, None) => current,
    };
    if target < 1 {
        return Err(Error::usage(format!(
            "nothing to compact: revision {target} is before the first revision"
        )));
    }
    if target > current {
        return Err(Error::usage(format!(
            "revision {target} is newer than the current revision {current}"
        )));
    }
    Ok(target)
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let client = cluster.connect_any().await?;
    let report = compact(&cluster, &client, &args, session).await?;
    let format = session.format_or(OutputFormat::Table);
    session.shell.emit(format, &report, |r| vec![table(r)])
}

/// Work out the range, confirm, compact; shared with `recover-space`.
pub async fn compact(
    cluster: &Cluster,
    client: &EtcdClient,
    args: &Args,
    session: &mut Session,
) -> Result<CompactReport> {
    let current = maintenance::current_revision(client, false).await?;
    let previously = maintenance::compacted_revision(client).await?;
    let revision = target_revision(args.revision, args.keep, current)?;
    let mut report = CompactReport {
        previously_compacted: previously,
        revision,
        current_revision: current,
        physical: args.physical,
        dry_run: args.dry_run,
        took_ms: None,
    };
    if previously.is_some_and(|p| p >= revision) {
        session.shell.note(format!(
            "already compacted at revision {}: nothing to do",
            previously.unwrap_or_default()
        ));
        return Ok(report);
    }
    if args.dry_run {
        return Ok(report);
    }
    session.shell.note(format!(
        "will remove {} (current revision {current}); the latest version of every key stays",
        report.range()
    ));
    session
        .prompt()
        .confirm(&format!("compact the keyspace at revision {revision}"))?;
    let start = Instant::now();
    maintenance::compact(client, revision, args.physical, args.timeout).await?;
    if args.physical {
        // --physical only waited for the member the request went to.
        session
            .shell
            .note("waiting for every member to finish removing the old revisions");
        let settled =
            compaction::wait_settled(&cluster.targets, &cluster.settings, args.timeout).await;
        if !settled {
            session.shell.warn(format!(
                "members still shrinking after {:?}: the compaction goes on in the background",
                args.timeout
            ));
        }
    }
    report.took_ms = Some(start.elapsed().as_millis() as u64);
    Ok(report)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_the_current_revision_or_keeps_n() {
        assert_eq!(target_revision(None, None, 500).unwrap(), 500);
        assert_eq!(target_revision(None, Some(100), 500).unwrap(), 400);
        assert_eq!(target_revision(Some(42), None, 500).unwrap(), 42);
        assert!(target_revision(Some(501), None, 500).is_err());
        assert!(target_revision(None, Some(600), 500).is_err());
    }
}
