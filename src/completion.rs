//! Shell completion, answered at run time by clap_complete's dynamic engine
//! (`clap_complete::engine`) from the clap definition itself: subcommands
//! and flags with their one-line help, possible values, files for file
//! arguments, and the value completers below for what only the cluster
//! knows.
//!
//! Two ways in:
//! - `completion SHELL` prints a registration script (clap_complete's
//!   `CompleteEnv` scripts) that calls `KUBECTL_ETCD_COMPLETE=SHELL
//!   kubectl-etcd -- WORDS...` on every <TAB>; [`env_complete`] answers it;
//! - kubectl (1.26+) runs `kubectl_complete-etcd WORDS... PARTIAL` for
//!   `kubectl etcd <TAB>`; that script runs the hidden `__complete`, which
//!   answers with Cobra's protocol: `value<TAB>description` lines, then
//!   `:4` (ShellCompDirectiveNoFileComp).
//!
//! Completers that need etcd connect with the flags typed so far
//! (`--endpoints`, TLS, `--context`, ...) within [`ETCD_TIMEOUT`] and offer
//! nothing when they cannot: completion never prints an error.

//!
//! The `completion SHELL` command itself is [`crate::commands::completion`];
//! this module answers the requests and owns the value completers that
//! clap's arguments name.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use clap_complete::engine::CompletionCandidate;

use crate::cli::{Cli, GlobalArgs};
use crate::context::Session;
use crate::error::Result;
use crate::etcd::EtcdClient;
use crate::keyspace::names;
use crate::keyspace::resolve::Resolver;
use crate::output;

/// The environment variable the registration scripts set to ask for
/// candidates (clap's default `COMPLETE` is too generic a name to own).
pub const ENV_VAR: &str = "KUBECTL_ETCD_COMPLETE";
pub(crate) const BIN: &str = "kubectl-etcd";
/// How long a completer may spend reaching etcd (connection and reads).
pub const ETCD_TIMEOUT: Duration = Duration::from_secs(1);
/// Through Kubernetes, discovery and a port-forward come first.
const KUBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Cobra's ShellCompDirectiveNoFileComp.
const NO_FILE_COMP: u8 = 4;

/// The words typed before the one being completed, for completers that
/// depend on them (connection flags, `get TYPE NAME`). Set once per
/// completion request, before the engine runs.
static TYPED: Mutex<Vec<OsString>> = Mutex::new(Vec::new());

/// Answer a registration script's request (`KUBECTL_ETCD_COMPLETE=SHELL
/// kubectl-etcd -- WORDS...`); false when this is not one.
pub fn env_complete(args: &[OsString]) -> bool {
    if std::env::var_os(ENV_VAR).is_none_or(|v| v.is_empty() || v == "0") {
        return false;
    }
    // bash passes the whole line and the index of the word under the
    // cursor; the other shells end the words with it.
    let words: Vec<OsString> = args
        .iter()
        .skip_while(|a| *a != "--")
        .skip(1)
        .cloned()
        .collect();
    let current = std::env::var("_CLAP_COMPLETE_INDEX")
        .ok()
        .and_then(|i| i.parse::<usize>().ok())
        .unwrap_or(words.len().saturating_sub(1));
    set_typed(words.get(1..current.min(words.len())).unwrap_or_default());
    let cwd = std::env::current_dir().ok();
    let done = clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(ENV_VAR)
        .bin(BIN)
        .completer(BIN)
        .try_complete(args.iter().cloned(), cwd.as_deref());
    // A shell we do not know, or a closed pipe: nothing to offer.
    done.unwrap_or(true)
}

/// The hidden first argument of kubectl's plugin completion
/// (`completions/kubectl_complete-etcd` runs `kubectl-etcd __complete "$@"`).
pub const KUBECTL_PROTOCOL: &str = "__complete";

/// Answer kubectl's plugin completion on stdout, in Cobra's protocol; the
/// exit code (a closed pipe is not an error).
pub fn kubectl_complete(words: &[OsString]) -> i32 {
    let words: Vec<String> = words
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let mut text = cobra_lines(&words).join("\n");
    text.push('\n');
    let _ = std::io::stdout().write_all(text.as_bytes());
    0
}

/// The candidates for the last of `words` (the words after `kubectl etcd`)
/// as Cobra prints them, the directive last.
pub fn cobra_lines(words: &[String]) -> Vec<String> {
    let mut argv: Vec<OsString> = vec![BIN.into()];
    argv.extend(words.iter().map(OsString::from));
    if words.is_empty() {
        argv.push(OsString::new());
    }
    let index = argv.len() - 1;
    set_typed(&argv[1..index]);
    let cwd = std::env::current_dir().ok();
    let candidates =
        clap_complete::engine::complete(&mut Cli::command(), argv, index, cwd.as_deref())
            .unwrap_or_default();
    // Like Cobra, flags are offered once a `-` is typed.
    let flags = words.last().is_some_and(|w| w.starts_with('-'));
    let mut lines: Vec<String> = candidates
        .iter()
        .filter(|c| !c.is_hide_set())
        .filter(|c| flags || !c.get_value().to_string_lossy().starts_with('-'))
        .map(|c| {
            let value = c.get_value().to_string_lossy();
            match c.get_help().map(|h| first_line(&h.to_string())) {
                Some(help) if !help.is_empty() => format!("{value}\t{help}"),
                _ => value.into_owned(),
            }
        })
        .collect();
    lines.push(format!(":{NO_FILE_COMP}"));
    lines
}

fn first_line(help: &str) -> String {
    let line = help.lines().next().unwrap_or_default().trim();
    // Cobra separates value and description with the only tab.
    line.replace('\t', " ")
}

fn set_typed(words: &[OsString]) {
    if let Ok(mut typed) = TYPED.lock() {
        *typed = words.to_vec();
    }
}

/// What the words typed so far say: the global flags, and the deepest
/// subcommand's arguments.
struct Typed {
    global: GlobalArgs,
    matches: clap::ArgMatches,
}

fn typed() -> Option<Typed> {
    let words = TYPED.lock().ok()?.clone();
    let argv = std::iter::once(OsString::from(BIN)).chain(words);
    let top = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(argv)
        .ok()?;
    let mut matches = top;
    while let Some((_, sub)) = matches.subcommand() {
        matches = sub.clone();
    }
    let global = GlobalArgs::from_arg_matches(&matches).ok()?;
    Some(Typed { global, matches })
}

impl Typed {
    fn arg(&self, id: &str) -> Option<String> {
        self.matches.try_get_one::<String>(id).ok()?.cloned()
    }
}

/// Run `query` against any member reachable with the typed flags, within
/// the completion timeout; `None` when that fails in any way.
fn ask<T, F>(query: F) -> Option<T>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a EtcdClient, &'a Typed) -> futures::future::BoxFuture<'a, Result<T>>
        + Send
        + 'static,
{
    let mut typed = typed()?;
    let limit = if typed.global.endpoints.is_empty() {
        KUBE_TIMEOUT
    } else {
        ETCD_TIMEOUT
    };
    typed.global.dial_timeout = typed.global.dial_timeout.min(ETCD_TIMEOUT);
    typed.global.command_timeout = typed.global.command_timeout.min(ETCD_TIMEOUT);
    // A thread of its own: `__complete` runs inside the command runtime.
    std::thread::spawn(move || {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        let answer = rt.block_on(async {
            let work = async {
                let shell = output::Shell::from_writers(
                    Box::new(std::io::sink()),
                    Box::new(std::io::sink()),
                );
                let mut session = Session::new(typed.global.clone(), shell);
                let cluster = session.cluster().await?;
                let client = cluster.connect_any().await?;
                query(&client, &typed).await
            };
            tokio::time::timeout(limit, work).await.ok()?.ok()
        });
        // Do not wait for port-forwards or channels left behind.
        rt.shutdown_background();
        answer
    })
    .join()
    .ok()?
}

fn starting_with(
    current: &OsStr,
    names: impl IntoIterator<Item = CompletionCandidate>,
) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    names
        .into_iter()
        .filter(|c| {
            c.get_value()
                .to_string_lossy()
                .starts_with(current.as_ref())
        })
        .collect()
}

fn candidate(value: impl Into<OsString>, help: impl Into<String>) -> CompletionCandidate {
    let help: String = help.into();
    CompletionCandidate::new(value).help((!help.is_empty()).then(|| help.into()))
}

/// `--context`: the contexts of the kubeconfig (`--kubeconfig`, else
/// `KUBECONFIG`, else `~/.kube/config`).
pub fn contexts(current: &OsStr) -> Vec<CompletionCandidate> {
    let path = typed().and_then(|t| t.global.kubeconfig);
    let config = match path {
        Some(p) => kube::config::Kubeconfig::read_from(p),
        None => kube::config::Kubeconfig::read(),
    };
    let Ok(config) = config else {
        return Vec::new();
    };
    starting_with(
        current,
        config.contexts.into_iter().map(|c| {
            let help = c
                .context
                .map(|x| format!("cluster {}", x.cluster))
                .unwrap_or_default();
            candidate(c.name, help)
        }),
    )
}

/// `-n`: the namespaces stored in etcd.
pub fn namespaces(current: &OsStr) -> Vec<CompletionCandidate> {
    let partial = current.to_string_lossy().into_owned();
    ask(move |client, t| {
        Box::pin(async move { Ok(names::namespaces(client, &t.global.prefix, &partial).await?) })
    })
    .unwrap_or_default()
    .into_iter()
    .map(|n| candidate(n, ""))
    .collect()
}

/// A TYPE argument: built-in types (plural and kubectl short names), then
/// the custom resource types found in etcd (when it answers).
pub fn types(current: &OsStr) -> Vec<CompletionCandidate> {
    if current.to_string_lossy().starts_with('/') {
        return Vec::new();
    }
    let mut all: Vec<CompletionCandidate> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for t in registry::resources::builtin() {
        let name = t.qualified_name().to_string();
        if seen.insert(t.plural.to_string()) {
            let help = match t.group.as_ref() {
                "" => t.kind.to_string(),
                g => format!("{} ({g})", t.kind),
            };
            all.push(candidate(t.plural.to_string(), help));
        }
        for s in t.short_names.iter() {
            if seen.insert(s.to_string()) {
                all.push(candidate(s.to_string(), name.clone()));
            }
        }
    }
    let custom = ask(|client, t| {
        Box::pin(async move { Ok(names::custom_types(client, &t.global.prefix).await?) })
    })
    .unwrap_or_default();
    all.extend(
        custom
            .into_iter()
            .filter(|c| seen.insert(c.clone()))
            .map(|c| candidate(c, "custom resource")),
    );
    starting_with(current, all)
}

/// `get REF`: a TYPE, or after `TYPE/` the stored objects of that type
/// (`TYPE/NAME` in the namespace of `-n`, else `TYPE/NS/NAME`).
pub fn references(current: &OsStr) -> Vec<CompletionCandidate> {
    let text = current.to_string_lossy().into_owned();
    let Some((type_name, rest)) = text.split_once('/').filter(|_| !text.starts_with('/')) else {
        return types(current);
    };
    let (type_name, rest) = (type_name.to_string(), rest.to_string());
    ask(move |client, t| {
        Box::pin(async move {
            let mut resolver = Resolver::new(client, &t.global.prefix);
            let rt = resolver.resource_type(&type_name).await?;
            let ns = t.global.namespace.as_deref().filter(|_| rt.namespaced);
            let base = registry::key::prefix_for(&rt, ns, &t.global.prefix);
            let found = names::keys_after(client, &format!("{base}{rest}"), &base).await?;
            Ok(found
                .into_iter()
                .map(|suffix| format!("{type_name}/{suffix}"))
                .collect::<Vec<_>>())
        })
    })
    .unwrap_or_default()
    .into_iter()
    .map(|r| candidate(r, ""))
    .collect()
}

/// `get TYPE NAME`: names of the objects of TYPE in `-n` (else `default`
/// for namespaced types, as kubectl).
pub fn object_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let partial = current.to_string_lossy().into_owned();
    ask(move |client, t| {
        Box::pin(async move {
            let Some(type_name) = t.arg("reference").filter(|r| !r.contains('/')) else {
                return Ok(Vec::new());
            };
            let mut resolver = Resolver::new(client, &t.global.prefix);
            let rt = resolver.resource_type(&type_name).await?;
            let ns = rt
                .namespaced
                .then(|| t.global.namespace.as_deref().unwrap_or("default"));
            let base = registry::key::prefix_for(&rt, ns, &t.global.prefix);
            Ok(names::keys_after(client, &format!("{base}{partial}"), &base).await?)
        })
    })
    .unwrap_or_default()
    .into_iter()
    .filter(|n| !n.contains('/'))
    .map(|n| candidate(n, ""))
    .collect()
}

/// `--member`: member names, with id and client URL as the description.
pub fn members(current: &OsStr) -> Vec<CompletionCandidate> {
    let found =
        ask(|client, _| Box::pin(async move { Ok(crate::etcd::member_list(client).await?) }))
            .unwrap_or_default();
    starting_with(
        current,
        found.into_iter().filter(|m| m.started()).map(|m| {
            let help = format!(
                "{:016x} {}",
                m.id,
                m.client_urls.first().map(String::as_str).unwrap_or("")
            );
            candidate(m.name, help)
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(words: &[&str]) -> Vec<String> {
        cobra_lines(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn subcommands_and_flags_come_with_their_help_and_the_directive_last() {
        let l = lines(&["st"]);
        assert_eq!(l.last().unwrap(), ":4");
        assert!(
            l.iter().any(|x| x.starts_with("status\tPer-member status")),
            "{l:?}"
        );
        let l = lines(&["status", "--quota"]);
        assert!(l.iter().any(|x| x.starts_with("--quota-bytes\t")), "{l:?}");
        let l = lines(&["status", "--endp"]);
        assert!(l.iter().any(|x| x.starts_with("--endpoints\t")), "{l:?}");
        let l = lines(&["status", "-o", ""]);
        assert!(l.iter().any(|x| x.starts_with("json")), "{l:?}");
        let l = lines(&["completion", "z"]);
        assert_eq!(l[0], "zsh");
    }

    #[test]
    fn hidden_commands_are_not_offered() {
        let l = lines(&[""]);
        assert!(!l.iter().any(|s| s.starts_with("__")), "{l:?}");
        assert!(l.iter().any(|s| s.starts_with("health\t")));
    }

    #[test]
    fn built_in_types_and_short_names_complete_without_etcd() {
        // No etcd at this address: the custom types quietly add nothing.
        let l = lines(&["--endpoints", "http://127.0.0.1:9", "ls", "deploy"]);
        assert!(
            l.iter().any(|x| x.starts_with("deploy\tdeployments.apps")),
            "{l:?}"
        );
        assert!(l.iter().any(|x| x.starts_with("deployments\t")), "{l:?}");
    }
}
