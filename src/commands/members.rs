//! `members`: the member list with each member's health. Wiring only:
//! [`crate::ops::members`] asks, [`crate::output::members`] draws the table.

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::{Error, Result};
use crate::ops::contexts::{self, PerContext};
use crate::ops::members::{gather, MembersReport};
use crate::output::table::Table;
use crate::output::Shell;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    contexts::run(&args, session).await
}

impl PerContext for Args {
    type Report = MembersReport;

    async fn gather(&self, session: &mut Session) -> Result<MembersReport> {
        let cluster = session.cluster().await?;
        Ok(gather(&cluster).await?)
    }

    fn table(&self, report: &MembersReport, wide: bool) -> Table {
        crate::output::members::table(report, wide)
    }

    fn finish(&self, report: &MembersReport, _: OutputFormat, _: &mut Shell) -> Result<()> {
        let bad = report.members.iter().filter(|m| !m.healthy).count();
        if bad > 0 && bad == report.members.len() {
            // Not one answered a health read: unreachable or no quorum (3).
            return Err(crate::ops::Error::NoneHealthy {
                total: bad,
                hint: None,
            }
            .into());
        }
        if bad > 0 {
            return Err(Error::partial(format!(
                "{bad} of {} members are not healthy",
                report.members.len()
            )));
        }
        Ok(())
    }
}
