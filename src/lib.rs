//! kubectl-etcd: operate the etcd behind Kubernetes.
//!
//! The crate is layered so the tree shows the architecture:
//!
//! - [`cli`]: the clap definition, no I/O;
//! - [`context`]: flags resolved once into the members to talk to;
//! - [`connect`]: how bytes reach a member (TCP, Kubernetes port-forward, TLS);
//! - [`etcd`]: etcd operations behind our own types, never printing;
//! - [`output`]: table/json/yaml renderers and progress, never talking to etcd;
//! - [`ops`]: multi-step maintenance as plans (data), then executed;
//! - [`snapshot`]: offline reading of snapshot and member db files;
//! - [`prompt`]: confirmation, honouring `--yes`;
//! - [`commands`]: one file per command, wiring the above together;
//! - the `registry` crate (`crates/registry`): the `/registry` keyspace model.
//!
//! [`run`] is the whole program minus process exit, so tests can call it.

pub mod cli;
pub mod commands;
pub mod connect;
pub mod context;
pub mod error;
pub mod etcd;
pub mod keyspace;
pub mod ops;
pub mod output;
pub mod prompt;
pub mod snapshot;

use std::ffi::OsString;

use clap::Parser;

use crate::cli::Cli;
use crate::context::Session;
use crate::error::{Error, ExitCode};
use crate::output::Shell;

/// Parse `args`, run the command, print any error, and return the exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
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
    let handles_interrupt = cli.command.handles_interrupt();
    let result = runtime.block_on(async {
        // From here on SIGINT is ours: never a silent exit half-way.
        session.interrupt = ops::Interrupt::on_ctrl_c();
        if handles_interrupt {
            return Some(commands::dispatch(cli.command, &mut session).await);
        }
        let interrupt = session.interrupt.clone();
        tokio::select! {
            r = commands::dispatch(cli.command, &mut session) => Some(r),
            _ = interrupt.wait_for(1) => None,
        }
    });
    let code = match result {
        // Ctrl-C during a command that only reads: it stops where it is.
        None => {
            let e = Error::interrupted("interrupted (Ctrl-C): nothing was changed");
            session.shell.error(&e);
            e.exit_code() as i32
        }
        Some(Ok(())) => ExitCode::Ok as i32,
        Some(Err(e)) if is_broken_pipe(&e) => ExitCode::Ok as i32,
        Some(Err(e)) => {
            session.shell.error(&e);
            e.exit_code() as i32
        }
    };
    let _ = session.shell.flush();
    // Don't wait for background tasks (open watches, port-forwards).
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

/// `kubectl etcd ls | head` closes stdout early: that is success, as for
/// ripgrep.
fn is_broken_pipe(e: &error::Error) -> bool {
    e.io_kind() == Some(std::io::ErrorKind::BrokenPipe)
}
