//! `count`: keys per resource type (and namespace), at one revision.
//! Wiring only: [`crate::keyspace::count`] counts, [`crate::output::count`]
//! draws the table.

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::Result;
use crate::keyspace::count::{count, CountOptions, CountReport};
use crate::keyspace::resolve::Resolver;
use crate::keyspace::scan::ScanFlags;
use crate::ops::contexts::{self, PerContext};
use crate::output::progress;
use crate::output::table::Table;
use crate::output::Shell;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A type (`pods`, `events`, `widgets.example.com`) or a key prefix
    /// starting with `/`; default: every key in etcd.
    #[arg(value_name = "TYPE|PREFIX", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::types))]
    pub reference: Option<String>,

    /// Break each type down by namespace.
    #[arg(long)]
    pub by_namespace: bool,

    #[command(flatten)]
    pub scan: ScanFlags,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    contexts::run(&args, session).await
}

impl PerContext for Args {
    type Report = CountReport;

    async fn gather(&self, session: &mut Session) -> Result<CountReport> {
        let cluster = session.cluster().await?;
        let readers = cluster.connect_readers().await?;
        let prefix = session.global.prefix.clone();
        let namespace = session.global.namespace.clone();
        let range = Resolver::new(readers.primary(), &prefix)
            .range(self.reference.as_deref(), namespace.as_deref())
            .await?;
        let format = session.format_or(OutputFormat::Table);
        let shell = &mut session.shell;
        let bar = progress::bar(
            shell.stderr_tty && format == OutputFormat::Table,
            None,
            "counting keys",
            false,
        );
        let opts = CountOptions {
            prefix: &prefix,
            namespace: namespace.as_deref(),
            by_namespace: self.by_namespace,
            scan: &self.scan,
        };
        let report = count(&readers, &range, &opts, |n| bar.inc(n), |w| shell.warn(w)).await;
        bar.finish_and_clear();
        Ok(report?)
    }

    fn table(&self, report: &CountReport, _wide: bool) -> Table {
        crate::output::count::table(report)
    }

    fn finish(&self, _: &CountReport, _: OutputFormat, _: &mut Shell) -> Result<()> {
        Ok(())
    }
}
