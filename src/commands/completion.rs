//! `completion SHELL`: print the registration script for a shell. The
//! candidates and the protocols that ask for them live in
//! [`crate::completion`].

use clap_complete::Shell;

use crate::completion::{BIN, ENV_VAR};
use crate::context::Session;
use crate::error::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to print a completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: Args, session: &mut Session) -> Result<()> {
    let name = match args.shell {
        Shell::Bash => "bash",
        Shell::Elvish => "elvish",
        Shell::Fish => "fish",
        Shell::PowerShell => "powershell",
        Shell::Zsh => "zsh",
        _ => "bash",
    };
    let shells = clap_complete::env::Shells::builtins();
    let shell = shells
        .completer(name)
        .expect("every clap_complete shell has an env completer");
    let mut script = Vec::new();
    shell.write_registration(ENV_VAR, BIN, BIN, BIN, &mut script)?;
    session.shell.out().write_all(&script)?;
    Ok(())
}
