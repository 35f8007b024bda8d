//! `health`: a linearizable read on every member, plus active alarms.
//! Wiring only: [`crate::ops::health`] asks, [`crate::output::health`]
//! draws the table.

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::Result;
use crate::ops::contexts::{self, PerContext};
use crate::ops::health::{gather, verdict, HealthReport};
use crate::output::table::Table;
use crate::output::Shell;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    contexts::run(&args, session).await
}

impl PerContext for Args {
    type Report = HealthReport;

    async fn gather(&self, session: &mut Session) -> Result<HealthReport> {
        let cluster = session.cluster().await?;
        Ok(gather(&cluster).await?)
    }

    fn table(&self, report: &HealthReport, _wide: bool) -> Table {
        crate::output::health::table(report)
    }

    fn finish(&self, report: &HealthReport, _: OutputFormat, _: &mut Shell) -> Result<()> {
        Ok(verdict(report)?)
    }
}
