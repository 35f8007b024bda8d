//! `version`: the plugin's version, in every output format.

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::Result;
use crate::output::table::Table;

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionReport {
    pub client_version: &'static str,
}

pub fn run(_args: Args, session: &mut Session) -> Result<()> {
    let report = VersionReport {
        client_version: env!("CARGO_PKG_VERSION"),
    };
    match session.format_or(OutputFormat::Table) {
        OutputFormat::Table => {
            writeln!(
                session.shell.out(),
                "kubectl-etcd {}",
                report.client_version
            )?;
            Ok(())
        }
        format => session.shell.emit(format, &report, |_| Vec::<Table>::new()),
    }
}
