//! kubectl-etcd: operate the etcd behind Kubernetes.
//!
//! The crate is layered so the tree shows the architecture:
//!
//! - [`cli`]: the clap definition, no I/O;
//! - [`context`]: flags resolved once into the members to talk to;
//! - [`connect`]: how bytes reach a member (TCP, Kubernetes port-forward, TLS);
//! - [`input`]: bounded reads of the files and streams a user names;
//! - [`etcd`]: etcd operations behind our own types, never printing;
//! - [`output`]: table/json/yaml renderers and progress, never talking to etcd;
//! - [`ops`]: multi-step maintenance as plans (data), then executed;
//! - [`dbfile`]: offline reading of snapshot and member db files;
//! - [`prompt`]: confirmation, honouring `--yes`;
//! - [`commands`]: one file per command, wiring the above together;
//! - the `registry` crate (`crates/registry`): the `/registry` keyspace model.
//!
//! [`run`] is the whole program minus process exit, so tests can call it.

pub mod cli;
pub mod commands;
pub mod completion;
pub mod connect;
pub mod context;
pub mod dbfile;
pub mod error;
pub mod etcd;
pub mod input;
pub mod keyspace;
pub mod ops;
pub mod output;
pub mod prompt;

use std::ffi::OsString;

use clap::Parser;

use crate::cli::Cli;
use crate::context::Session;
use crate::error::ExitCode;
use crate::output::Shell;

/// Parse `args`, run the command, print any error, and return the exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // A completion script asking for candidates, or kubectl's plugin
    // completion (`__complete WORDS...`), answered before clap parses: the
    // words may hold any flag (see crate::completion).
    if completion::env_complete(&args) {
        return ExitCode::Ok as i32;
    }
    if args
        .get(1)
        .is_some_and(|a| a == completion::KUBECTL_PROTOCOL)
    {
        return completion::kubectl_complete(&args[2..]);
    }
    if args
        .get(1)
        .is_some_and(|a| a == commands::man::HIDDEN_COMMAND)
    {
        return commands::man::write_pages(&args[2..]);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" that print to stdout.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::Usage as i32
            } else {
                ExitCode::Ok as i32
            };
        }
    };
    let shell = Shell::stdio(cli.global.verbose);
    run_cli(cli, shell)
}

/// Run an already parsed command line with the given shell.
pub fn run_cli(cli: Cli, shell: Shell) -> i32 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::Failed as i32;
        }
    };
    let mut session = Session::new(cli.global, shell);
    // From here on SIGINT is ours (registered now, not when a task first
    // runs): never a silent exit half-way.
    session.interrupt = {
        let _guard = runtime.enter();
        ops::Interrupt::on_ctrl_c()
    };
    let interrupt = session.interrupt.clone();
    let outcome = if cli.command.handles_interrupt() {
        // A command that writes says itself what an interrupt left done.
        let r = runtime.block_on(commands::dispatch(cli.command, &mut session));
        Outcome::Done(r, Box::new(session))
    } else {
        // The command runs on a thread of its own, so an interrupt ends it
        // even while it computes without yielding (a long decode) or
        // blocks in a read: this thread only waits for either.
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let handle = runtime.handle().clone();
        let command = cli.command;
        let spawned = std::thread::Builder::new()
            .name("command".into())
            .spawn(move || {
                let r = handle.block_on(commands::dispatch(command, &mut session));
                let _ = done_tx.send((r, session));
            });
        if let Err(e) = spawned {
            eprintln!("error: cannot start the command thread: {e}");
            return ExitCode::Failed as i32;
        }
        runtime.block_on(async {
            tokio::select! {
                done = done_rx => match done {
                    Ok((r, session)) => Outcome::Done(r, Box::new(session)),
                    // The thread panicked; the panic hook said so.
                    Err(_) => Outcome::Panicked,
                },
                _ = interrupt.wait_for(1) => Outcome::Interrupted,
            }
        })
    };
    let code = match outcome {
        // The session stays with the abandoned command: stderr directly.
        Outcome::Interrupted => {
            eprintln!("interrupted");
            // The abandoned command still runs on its thread: shutting the
            // runtime down under it would make it fail loudly on the way
            // out. The process exits right after this returns.
            std::mem::forget(runtime);
            return ExitCode::Interrupted as i32;
        }
        // As Rust's own exit code for a panic.
        Outcome::Panicked => 101,
        Outcome::Done(result, mut session) => {
            let code = match result {
                Ok(()) => ExitCode::Ok as i32,
                Err(e) if is_broken_pipe(&e) => ExitCode::Ok as i32,
                Err(e) => {
                    session.shell.error(&e);
                    e.exit_code() as i32
                }
            };
            let _ = session.shell.flush();
            code
        }
    };
    // Don't wait for background tasks (open watches, port-forwards).
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

/// How a command ended.
enum Outcome {
    Done(error::Result<()>, Box<Session>),
    Interrupted,
    Panicked,
}

/// `kubectl etcd ls | head` closes stdout early: that is success, as for
/// ripgrep.
fn is_broken_pipe(e: &error::Error) -> bool {
    e.io_kind() == Some(std::io::ErrorKind::BrokenPipe)
}
