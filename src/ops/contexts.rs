//! Many kubeconfig contexts at once (`--context a,b`, `--all-contexts`):
//! the one place a command fans out over clusters.
//!
//! A command says how to gather its report for one context, how that report
//! looks as a table, and what it means for the exit code ([`PerContext`]).
//! [`run`] does the rest: with one context exactly what the command always
//! did; with several, every context concurrently (at most
//! `--max-concurrency` at a time), each with its own session, discovery and
//! port-forwards (dropped, and so closed, when its report is in), then one
//! table with a leading CONTEXT column (or one JSON/YAML document with a
//! `context` on each entry). A context that fails is a row with its error,
//! never the end of the run; the exit code is the highest of the contexts'.

use std::io::Write;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::{Error, ExitCode, Result};
use crate::output::table::{Mark, Table};
use crate::output::Shell;

/// What a command does for one context.
#[allow(async_fn_in_trait)] // run on the caller's task: no Send bound needed.
pub trait PerContext {
    /// The command's JSON/YAML document for one cluster.
    type Report: Serialize;

    /// Resolve the session's cluster and gather the report; nothing printed
    /// to stdout.
    async fn gather(&self, session: &mut Session) -> Result<Self::Report>;

    /// The table for one cluster's report.
    fn table(&self, report: &Self::Report, wide: bool) -> Table;

    /// After the report is printed: notes and warnings on stderr, then the
    /// command's verdict (an error carries the exit code).
    fn finish(&self, report: &Self::Report, format: OutputFormat, shell: &mut Shell) -> Result<()>;
}

/// Run `cmd` against the context(s) the flags name.
pub async fn run<C: PerContext>(cmd: &C, session: &mut Session) -> Result<()> {
    let format = session.format_or(OutputFormat::Table);
    let wide = session.wide();
    let Some(names) = session.contexts()? else {
        let report = cmd.gather(session).await?;
        session
            .shell
            .emit(format, &report, |r| vec![cmd.table(r, wide)])?;
        return cmd.finish(&report, format, &mut session.shell);
    };
    let runs = gather_all(cmd, session, names, format).await;
    let doc = Many {
        contexts: runs.iter().map(Run::entry).collect(),
    };
    session
        .shell
        .emit(format, &doc, |_| vec![merge(&runs, |r| cmd.table(r, wide))])?;
    for r in &runs {
        for line in String::from_utf8_lossy(&r.stderr).lines() {
            let _ = writeln!(session.shell.err(), "{}: {line}", r.context);
        }
        // The row says why a context could not be asked; the fix goes here.
        if let (
            None,
            Err(Error {
                hint: Some(hint), ..
            }),
        ) = (&r.report, &r.outcome)
        {
            let _ = writeln!(
                session.shell.err(),
                "{}: help: {}",
                r.context,
                crate::output::escape(hint)
            );
        }
    }
    Ok(verdict(&runs)?)
}

/// Every context, at most `--max-concurrency` at a time, in the order given.
async fn gather_all<C: PerContext>(
    cmd: &C,
    session: &Session,
    names: Vec<String>,
    format: OutputFormat,
) -> Vec<Run<C::Report>> {
    let limit = usize::from(session.global.max_concurrency).max(1);
    let verbose = session.shell.verbose;
    futures::stream::iter(names)
        .map(|name| async move {
            let stderr = Captured::default();
            let mut shell =
                Shell::from_writers(Box::new(std::io::sink()), Box::new(stderr.clone()));
            shell.verbose = verbose;
            let mut one = session.for_context(&name, shell);
            let (report, outcome) = match cmd.gather(&mut one).await {
                Ok(r) => {
                    let outcome = cmd.finish(&r, format, &mut one.shell);
                    (Some(r), outcome)
                }
                Err(e) => (None, Err(e)),
            };
            // The session (and with it the cluster's clients and their
            // port-forwards) is gone before the next context starts.
            drop(one);
            Run {
                context: name,
                report,
                outcome,
                stderr: stderr.take(),
            }
        })
        .buffered(limit)
        .collect()
        .await
}

/// One context's result.
struct Run<R> {
    context: String,
    /// `None` when the context could not be asked at all.
    report: Option<R>,
    /// The command's verdict for this context.
    outcome: Result<()>,
    /// What the command said on stderr for this context.
    stderr: Vec<u8>,
}

impl<R> Run<R> {
    fn exit_code(&self) -> i32 {
        match &self.outcome {
            Ok(()) => ExitCode::Ok as i32,
            Err(e) => e.exit_code() as i32,
        }
    }

    fn entry(&self) -> Entry<'_, R> {
        Entry {
            context: &self.context,
            exit_code: self.exit_code(),
            error: self.outcome.as_ref().err().map(|e| e.message.as_str()),
            report: self.report.as_ref(),
        }
    }
}

/// `-o json` with several contexts. Field names are part of the stable
/// output (README, "JSON output").
#[derive(Serialize)]
struct Many<'a, R> {
    contexts: Vec<Entry<'a, R>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a, R> {
    context: &'a str,
    /// This context's exit code alone.
    exit_code: i32,
    /// Why this context failed; `null` when it did not.
    error: Option<&'a str>,
    /// The command's document for this context; `null` when the context
    /// could not be asked.
    report: Option<&'a R>,
}

/// One table: CONTEXT, then the union of the contexts' columns (in the
/// order they first appear); a context that could not be asked is one row
/// with its error in the ERROR (or ERRORS) column.
fn merge<R>(runs: &[Run<R>], table: impl Fn(&R) -> Table) -> Table {
    let tables: Vec<Option<Table>> = runs.iter().map(|r| r.report.as_ref().map(&table)).collect();
    let mut headers: Vec<String> = vec!["CONTEXT".into()];
    let mut right: Vec<usize> = Vec::new();
    for t in tables.iter().flatten() {
        for (i, h) in t.headers.iter().enumerate() {
            if !headers.contains(h) {
                headers.push(h.clone());
                if t.right.contains(&i) {
                    right.push(headers.len() - 1);
                }
            }
        }
    }
    let any_failed = tables.iter().any(Option::is_none);
    let error_col = match headers.iter().position(|h| h == "ERROR" || h == "ERRORS") {
        Some(i) => i,
        // Only a context that failed has something to put there.
        None if any_failed => {
            headers.push("ERROR".into());
            headers.len() - 1
        }
        None => usize::MAX,
    };
    let mut out = Table {
        headers,
        right,
        ..Table::default()
    };
    let width = out.headers.len();
    for (run, t) in runs.iter().zip(&tables) {
        let context = (run.context.clone(), Mark::Plain);
        match (t, &run.outcome) {
            (Some(t), _) => {
                for row in &t.rows {
                    let mut cells = vec![(String::new(), Mark::Plain); width];
                    cells[0] = context.clone();
                    for (h, cell) in t.headers.iter().zip(row) {
                        if let Some(i) = out.headers.iter().position(|x| x == h) {
                            cells[i] = cell.clone();
                        }
                    }
                    out.rows.push(cells);
                }
            }
            (None, outcome) => {
                let mut cells = vec![("-".to_string(), Mark::Plain); width];
                cells[0] = context;
                let message = outcome
                    .as_ref()
                    .err()
                    .map(|e| e.message.clone())
                    .unwrap_or_default();
                cells[error_col] = (message, Mark::Bad);
                out.rows.push(cells);
            }
        }
    }
    out
}

/// The exit status of the whole run: the highest exit code of any context,
/// with the contexts that failed named.
fn verdict<R>(runs: &[Run<R>]) -> std::result::Result<(), crate::ops::Error> {
    let failed: Vec<&Run<R>> = runs.iter().filter(|r| r.outcome.is_err()).collect();
    let Some(worst) = failed.iter().map(|r| r.exit_code()).max() else {
        return Ok(());
    };
    Err(crate::ops::Error::ContextsFailed {
        failed: failed.iter().map(|r| r.context.clone()).collect(),
        total: runs.len(),
        worst,
    })
}

/// A writer whose bytes are read back once the context is done.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    fn run(context: &str, table: Option<Table>, outcome: Result<()>) -> Run<Table> {
        Run {
            context: context.into(),
            report: table,
            outcome,
            stderr: Vec::new(),
        }
    }

    fn table(headers: &[&str], rows: &[&[&str]]) -> Table {
        let mut t = Table::new(headers);
        for r in rows {
            t.row(r.iter().copied());
        }
        t
    }

    #[test]
    fn one_table_with_a_context_column_and_a_row_per_failed_context() {
        let runs = vec![
            run(
                "a",
                Some(table(
                    &["pod", "errors"],
                    &[&["etcd-0", ""], &["etcd-1", ""]],
                )),
                Ok(()),
            ),
            run(
                "b",
                None,
                Err(Error::new(Kind::Unavailable, "cannot reach the api server")),
            ),
            run(
                "c",
                Some(table(&["endpoint", "errors"], &[&["e0", "x"]])),
                Err(Error::partial("1 of 1 members")),
            ),
        ];
        let t = merge(&runs, Table::clone);
        assert_eq!(t.headers, ["CONTEXT", "POD", "ERRORS", "ENDPOINT"]);
        let cells: Vec<Vec<&str>> = t
            .rows
            .iter()
            .map(|r| r.iter().map(|(c, _)| c.as_str()).collect())
            .collect();
        assert_eq!(
            cells,
            [
                vec!["a", "etcd-0", "", ""],
                vec!["a", "etcd-1", "", ""],
                vec!["b", "-", "cannot reach the api server", "-"],
                vec!["c", "", "x", "e0"],
            ]
        );
        let err = Error::from(verdict(&runs).unwrap_err());
        assert_eq!(err.exit_code(), ExitCode::Unavailable);
        assert_eq!(err.message, "2 of 3 contexts failed: `b`, `c`");
    }

    #[test]
    fn an_error_column_appears_only_for_a_table_without_one_when_a_context_failed() {
        let ok = || {
            run(
                "a",
                Some(table(&["type", "count"], &[&["pods", "3"]])),
                Ok(()),
            )
        };
        let t = merge(&[ok()], Table::clone);
        assert_eq!(t.headers, ["CONTEXT", "TYPE", "COUNT"]);
        let down = run("b", None, Err(Error::new(Kind::Tls, "bad certificate")));
        let t = merge(&[ok(), down], Table::clone);
        assert_eq!(t.headers, ["CONTEXT", "TYPE", "COUNT", "ERROR"]);
        assert_eq!(t.rows[1][3].0, "bad certificate");
        assert!(verdict(&[ok()]).is_ok());
    }
}
