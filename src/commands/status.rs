//! `status`: one row per member, each asked directly. Wiring only: the rows
//! are [`crate::ops::status`], the table [`crate::output::status`].

use crate::cli::{parse_bytes, OutputFormat};
use crate::context::Session;
use crate::error::Result;
use crate::ops::contexts::{self, PerContext};
use crate::ops::quota;
use crate::ops::status::{report, StatusReport};
use crate::output::table::Table;
use crate::output::Shell;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Quota to assume where neither Status (etcd ≥ 3.6), the member's
    /// metrics nor its pod's --quota-backend-bytes give the real one
    /// (default: etcd's 2 GiB).
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    pub quota_bytes: Option<u64>,

    /// Raft entries a member may be behind the most advanced one before it
    /// is flagged as lagging.
    #[arg(long, default_value_t = 1000, value_name = "ENTRIES")]
    pub lag_threshold: u64,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    contexts::run(&args, session).await
}

impl PerContext for Args {
    type Report = StatusReport;

    async fn gather(&self, session: &mut Session) -> Result<StatusReport> {
        let cluster = session.cluster().await?;
        let survey = quota::survey(&cluster).await;
        Ok(report(&survey, self.quota_bytes, self.lag_threshold))
    }

    fn table(&self, report: &StatusReport, wide: bool) -> Table {
        crate::output::status::table(report, wide)
    }

    fn finish(&self, report: &StatusReport, format: OutputFormat, shell: &mut Shell) -> Result<()> {
        if format == OutputFormat::Table {
            if let Some(note) =
                quota::footnote(report.members.iter().filter_map(|m| m.quota_source))
            {
                shell.note(note);
            }
        }
        report.problems.finish(shell)
    }
}
