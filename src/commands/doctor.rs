//! `doctor`: every check on every member, one verdict per finding, and the
//! command to run next. Wiring only: [`crate::ops::doctor`] does the work.

use std::time::Duration;

use crate::cli::{parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::{Error, Result};
use crate::ops::contexts::{self, PerContext};
use crate::ops::doctor::{self, checks, gather, Check, Report, Severity};
use crate::output::table::{Mark, Table};
use crate::output::Shell;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Time between the two metrics scrapes; latencies and counters are
    /// measured over it.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub window: Duration,

    /// Run only these checks (repeatable); default: all.
    #[arg(long = "check", value_enum, value_name = "NAME")]
    pub checks: Vec<Check>,

    /// Also time a put and delete of `/kubectl-etcd/doctor/write-probe`
    /// (the only write doctor makes).
    #[arg(long)]
    pub write_probe: bool,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    contexts::run(&args, session).await
}

impl PerContext for Args {
    type Report = Report;

    async fn gather(&self, session: &mut Session) -> Result<Report> {
        let cluster = session.cluster().await?;
        let checks = if self.checks.is_empty() {
            Check::ALL.to_vec()
        } else {
            self.checks.clone()
        };
        let opts = gather::Options {
            window: self.window,
            checks: checks.clone(),
            write_probe: self.write_probe,
            prefix: session.global.prefix.clone(),
        };
        let gathered = gather::gather(&cluster, &opts).await?;
        Ok(Report::new(self.window, checks::run(&gathered, &checks)))
    }

    fn table(&self, report: &Report, _wide: bool) -> Table {
        table(report)
    }

    /// The summary ends the report: a note when all is well, else the
    /// error line that carries exit code 1.
    fn finish(&self, report: &Report, format: OutputFormat, shell: &mut Shell) -> Result<()> {
        match report.worst {
            Severity::Ok => {
                if format == OutputFormat::Table {
                    shell.note(summary(report));
                }
                Ok(())
            }
            _ => Err(Error::partial(summary(report))),
        }
    }
}

fn summary(r: &Report) -> String {
    format!(
        "{} findings: {} ok, {} warn, {} fail (window {})",
        r.findings.len(),
        r.count(Severity::Ok),
        r.count(Severity::Warn),
        r.count(Severity::Fail),
        r.window
    )
}

fn table(r: &Report) -> Table {
    let mut t = Table::new(&[
        "check",
        "member",
        "severity",
        "value",
        "threshold",
        "detail",
        "next",
    ]);
    for f in &r.findings {
        let mark = match f.severity {
            doctor::Severity::Ok => Mark::Good,
            doctor::Severity::Warn => Mark::Warn,
            doctor::Severity::Fail => Mark::Bad,
        };
        t.marked_row(vec![
            (f.check.clone(), Mark::Plain),
            (f.member.clone(), Mark::Plain),
            (f.severity.as_str().to_string(), mark),
            (f.value.clone(), Mark::Plain),
            (f.threshold.clone(), Mark::Plain),
            (f.detail.clone(), Mark::Plain),
            (f.next.clone().unwrap_or_default(), Mark::Plain),
        ]);
    }
    t
}
