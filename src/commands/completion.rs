//! `completion SHELL` prints a completion script; the hidden `__complete`
//! answers kubectl's plugin completion (`kubectl etcd <TAB>`).
//!
//! kubectl (1.26+) runs `kubectl_complete-etcd ARGS... PARTIAL` and expects
//! Cobra's protocol back: one candidate per line, then `:DIRECTIVE`.

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::context::Session;
use crate::error::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to print a completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, clap::Args)]
pub struct CompleteArgs {
    /// The words after `kubectl etcd`, the last one being completed.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

pub fn run(args: Args, session: &mut Session) -> Result<()> {
    let mut cmd = Cli::command();
    // clap_complete panics on a write error (`| head`): render first.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "kubectl-etcd", &mut script);
    session.shell.out().write_all(&script)?;
    Ok(())
}

/// Cobra's directive: do not fall back to file names.
const NO_FILE_COMP: u8 = 4;
/// Cobra's default: the shell may complete file names.
const DEFAULT_COMP: u8 = 0;

pub fn run_complete(args: CompleteArgs, session: &mut Session) -> Result<()> {
    let (candidates, directive) = complete(&args.words);
    let out = session.shell.out();
    for c in candidates {
        writeln!(out, "{c}")?;
    }
    writeln!(out, ":{directive}")?;
    Ok(())
}

/// Candidates for the last word of `words`, given the ones before it.
pub fn complete(words: &[String]) -> (Vec<String>, u8) {
    let root = Cli::command();
    let (partial, before) = match words.split_last() {
        Some((last, rest)) => (last.as_str(), rest),
        None => ("", &[][..]),
    };

    // Find the deepest subcommand named so far.
    let mut cmd = &root;
    let mut expecting_value_of: Option<&clap::Arg> = None;
    for w in before {
        if let Some(arg) = expecting_value_of.take() {
            let _ = arg;
            continue;
        }
        if let Some(flag) = w.strip_prefix("--") {
            if !flag.contains('=') {
                expecting_value_of = find_flag(cmd, &root, |a| a.get_long() == Some(flag))
                    .filter(|a| a.get_action().takes_values());
            }
        } else if let Some(short) = w.strip_prefix('-').and_then(|s| s.chars().next()) {
            if w.len() == 2 {
                expecting_value_of = find_flag(cmd, &root, |a| a.get_short() == Some(short))
                    .filter(|a| a.get_action().takes_values());
            }
        } else if let Some(sub) = cmd.find_subcommand(w) {
            cmd = sub;
        }
    }

    if let Some(arg) = expecting_value_of {
        let values = possible_values(arg);
        if values.is_empty() {
            return (Vec::new(), DEFAULT_COMP);
        }
        return (filter(values, partial), NO_FILE_COMP);
    }

    if partial.starts_with('-') {
        let mut flags: Vec<String> = cmd
            .get_arguments()
            .chain(root.get_arguments().filter(|a| a.is_global_set()))
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        flags.sort();
        flags.dedup();
        return (filter(flags, partial), NO_FILE_COMP);
    }

    let subs: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect();
    if !subs.is_empty() {
        return (filter(subs, partial), NO_FILE_COMP);
    }
    // A positional with fixed values (e.g. `completion bash`).
    if let Some(pos) = cmd.get_positionals().next() {
        let values = possible_values(pos);
        if !values.is_empty() {
            return (filter(values, partial), NO_FILE_COMP);
        }
    }
    (Vec::new(), DEFAULT_COMP)
}

fn find_flag<'a>(
    cmd: &'a clap::Command,
    root: &'a clap::Command,
    pred: impl Fn(&clap::Arg) -> bool,
) -> Option<&'a clap::Arg> {
    cmd.get_arguments()
        .find(|a| pred(a))
        .or_else(|| root.get_arguments().find(|a| pred(a)))
}

fn possible_values(arg: &clap::Arg) -> Vec<String> {
    arg.get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect()
}

fn filter(items: Vec<String>, partial: &str) -> Vec<String> {
    items
        .into_iter()
        .filter(|i| i.starts_with(partial))
        .collect()
}

// Keep the clap_complete shell list and ours in step.
const _: fn() = || {
    let _ = Shell::value_variants();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn completes_subcommands_then_flags_then_values() {
        let (c, d) = complete(&words(&["st"]));
        assert_eq!(c, vec!["status"]);
        assert_eq!(d, NO_FILE_COMP);
        let (c, _) = complete(&words(&["status", "--quota"]));
        assert_eq!(c, vec!["--quota-bytes"]);
        let (c, _) = complete(&words(&["status", "--endp"]));
        assert_eq!(c, vec!["--endpoints"], "global flags complete too");
        let (c, _) = complete(&words(&["status", "-o", ""]));
        assert!(c.contains(&"json".to_string()) && c.contains(&"yaml".to_string()));
        let (c, _) = complete(&words(&["completion", "z"]));
        assert_eq!(c, vec!["zsh"]);
    }

    #[test]
    fn hidden_commands_are_not_offered_and_file_flags_fall_back_to_files() {
        let (c, _) = complete(&words(&[""]));
        assert!(!c.iter().any(|s| s.starts_with("__")));
        assert!(c.contains(&"health".to_string()));
        let (c, d) = complete(&words(&["--cacert", ""]));
        assert!(c.is_empty());
        assert_eq!(d, DEFAULT_COMP);
    }
}
