//! Confirmation before anything that writes: one type in front of dialoguer,
//! and the [`Operator`] executors talk to, made of the session's shell and
//! prompter.
//!
//! `--yes` answers every question. Without `--yes` and without a terminal to
//! ask on, the answer is a refusal (exit 4), never a silent yes. Ctrl-C at
//! the question is an interruption (exit 130). This module only asks; it
//! never decides what a command does.

use std::io::IsTerminal;

use futures::future::LocalBoxFuture;

use crate::cli::OutputFormat;
use crate::context::{Cluster, Session};
#[cfg(test)]
use crate::error::{Error, Kind};
use crate::ops::Operator;

/// Asks the operator, or answers for them with `--yes`.
#[derive(Debug, Clone, Copy)]
pub struct Prompter {
    yes: bool,
    terminal: bool,
}

impl Prompter {
    /// A prompter for this process: asks on stderr when stdin and stderr are
    /// both terminals.
    pub fn new(yes: bool) -> Prompter {
        Prompter {
            yes,
            terminal: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    /// A prompter with an explicit terminal flag (tests).
    pub fn with_terminal(yes: bool, terminal: bool) -> Prompter {
        Prompter { yes, terminal }
    }

    /// `Ok` when the operator agrees to `action` (a short phrase such as
    /// "defragment 3 members"); why not otherwise.
    pub fn confirm(&self, action: &str) -> std::result::Result<(), Declined> {
        if self.yes {
            return Ok(());
        }
        let action = action.to_string();
        if !self.terminal {
            return Err(Declined::NoTerminal { action });
        }
        let answer = tokio::task::block_in_place(|| {
            dialoguer::Confirm::new()
                .with_prompt(format!("{action}?"))
                .default(false)
                .interact()
        });
        match answer {
            Ok(true) => Ok(()),
            Ok(false) => Err(Declined::No { action }),
            Err(dialoguer::Error::IO(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
                Err(Declined::Interrupted { action })
            }
            Err(e) => Err(Declined::CannotAsk {
                action,
                detail: e.to_string(),
            }),
        }
    }
}

/// Why an action was not confirmed. Ctrl-C at the question exits 130, any
/// other answer but yes 4 ([`crate::error`] says so).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Declined {
    #[error("refusing to {action} without confirmation: no terminal to ask on")]
    NoTerminal { action: String },
    #[error("not confirmed: did not {action}")]
    No { action: String },
    #[error("interrupted (Ctrl-C) at the question: did not {action}")]
    Interrupted { action: String },
    /// The terminal failed; dialoguer's words are kept.
    #[error("could not ask for confirmation: {detail}")]
    CannotAsk { action: String, detail: String },
}

impl Declined {
    pub fn is_interrupted(&self) -> bool {
        matches!(self, Declined::Interrupted { .. })
    }
}

/// Executors report to the session: progress on stderr, what the operator
/// must keep on stdout (stderr when stdout carries JSON or YAML), questions
/// through the prompter.
impl Operator for Session {
    fn note(&mut self, line: &str) {
        self.shell.note(line);
    }

    fn warn(&mut self, line: &str) {
        self.shell.warn(line);
    }

    fn verbose(&mut self, line: &str) {
        self.shell.verbose(line);
    }

    fn keep(&mut self, text: &str) {
        if self.format_or(OutputFormat::Table) == OutputFormat::Table {
            let out = self.shell.out();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        } else {
            self.shell.note(text);
        }
    }

    fn confirm(&mut self, action: &str) -> crate::ops::Result<()> {
        Ok(self.prompt().confirm(action)?)
    }

    fn rediscover(&mut self) -> LocalBoxFuture<'_, crate::ops::Result<Cluster>> {
        Box::pin(async {
            self.cluster()
                .await
                .map_err(|e| crate::ops::Error::Rediscover(Box::new(e)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_answers_without_a_terminal() {
        assert!(Prompter::with_terminal(true, false)
            .confirm("defrag")
            .is_ok());
    }

    #[test]
    fn no_terminal_and_no_yes_is_a_refusal_with_exit_4() {
        let err = Prompter::with_terminal(false, false)
            .confirm("defragment 3 members")
            .unwrap_err();
        let err = Error::from(err);
        assert_eq!(err.kind, Kind::Refused);
        assert_eq!(err.exit_code() as i32, 4);
        assert!(err.message.contains("defragment 3 members"));
        assert!(err.hint.unwrap().contains("--yes"));
    }

    /// A writer whose bytes the test reads afterwards.
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    fn session(args: &[&str]) -> (Session, Buffer, Buffer) {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(args).unwrap();
        let (out, err) = (Buffer::default(), Buffer::default());
        let shell =
            crate::output::Shell::from_writers(Box::new(out.clone()), Box::new(err.clone()));
        (Session::new(cli.global, shell), out, err)
    }

    #[test]
    fn what_the_operator_keeps_goes_to_stdout_unless_stdout_carries_json() {
        let (mut s, out, err) = session(&["kubectl-etcd", "version"]);
        s.keep("--initial-cluster=m0=http://a:2380");
        s.note("progress");
        assert_eq!(out.text(), "--initial-cluster=m0=http://a:2380\n");
        assert_eq!(err.text(), "progress\n");

        let (mut s, out, err) = session(&["kubectl-etcd", "-o", "json", "version"]);
        s.keep("--initial-cluster=m0=http://a:2380");
        assert_eq!(out.text(), "");
        assert!(err.text().contains("--initial-cluster="));
    }
}
