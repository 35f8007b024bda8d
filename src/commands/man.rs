//! Man pages for `kubectl-etcd` and every subcommand, generated from the
//! clap definition (clap_mangen): `kubectl-etcd.1`, `kubectl-etcd-status.1`,
//! ... The hidden `kubectl-etcd __man DIR` writes them for the release
//! archives (`scripts/release.sh`); it is not a command for people.

use std::ffi::OsString;

use clap::CommandFactory;

use crate::cli::Cli;

/// The hidden first argument that asks for the man pages.
pub const HIDDEN_COMMAND: &str = "__man";

/// Write every page into `args[0]`; the exit code.
pub fn write_pages(args: &[OsString]) -> i32 {
    let [dir] = args else {
        eprintln!("error: usage: kubectl-etcd {HIDDEN_COMMAND} DIR");
        return crate::error::ExitCode::Usage as i32;
    };
    // Pages are named after the binary, not the `kubectl etcd` of usage lines.
    let cmd = Cli::command().bin_name("kubectl-etcd");
    match std::fs::create_dir_all(dir).and_then(|_| clap_mangen::generate_to(cmd, dir)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "error: cannot write man pages into `{}`: {e}",
                std::path::Path::new(dir).display()
            );
            crate::error::ExitCode::Failed as i32
        }
    }
}
