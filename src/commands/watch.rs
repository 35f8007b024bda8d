//! `watch`: changes to Kubernetes objects as they are committed to etcd, one
//! line per event with a field-level diff, or JSON/YAML for scripts.
//!
//! The event loop and reconnects live in [`crate::keyspace::watch`], the
//! key range in [`crate::keyspace::scope`], the rendering in
//! [`crate::output::watch`]; this file wires them.

use std::time::Duration;

use crate::cli::{parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::{Error, Result};
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::scope::{resolve, Scope};
use crate::keyspace::watch::{self, Change, Flow, Spec, Update};
use crate::output::watch::{render, status};
use crate::output::Shell;

/// With --verbose, how long without events before asking for the revision.
const IDLE_PROGRESS: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    kubectl etcd watch deployments -n default\n  \
    kubectl etcd watch pods/kube-system -o json | jq .name\n  \
    kubectl etcd watch /registry/leases/ --count 10")]
pub struct Args {
    /// What to watch: TYPE, TYPE/NAMESPACE, TYPE/[NAMESPACE/]NAME, or a key
    /// prefix starting with `/`; default: everything under --prefix.
    ///
    /// `-n NS` limits a TYPE (or everything) to one namespace.
    #[arg(value_name = "PREFIX|TYPE[/NS[/NAME]]", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::types))]
    pub what: Option<String>,

    /// Start at this revision, replaying the history since then.
    ///
    /// etcd keeps revisions, not times, so there is no `--since`: take a
    /// revision from an earlier `watch` line or from `kubectl etcd status`.
    /// History older than the last compaction (kube-apiserver compacts every
    /// 5 minutes) is gone.
    #[arg(long, value_name = "REV", value_parser = clap::value_parser!(i64).range(1..))]
    pub rev: Option<i64>,

    /// Stop after this many events (exit 0).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Stop after this long (exit 0), e.g. `30s` or `5m`.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Option<Duration>,

    /// Give up when no member lets the watch resume for this long.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub reconnect_timeout: Duration,

    /// Also diff fields that change on every write: resourceVersion,
    /// managedFields, generation, observedGeneration, last-applied-configuration.
    #[arg(long)]
    pub all_fields: bool,

    #[command(flatten)]
    pub decode: DecodeFlags,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let format = session.format_or(OutputFormat::Table);
    if format == OutputFormat::Raw {
        return Err(Error::usage("`-o raw` is only for `get`")
            .with_hint("use -o table, json or yaml with `watch`"));
    }
    let prefix = session.global.prefix.clone();
    let decoder = Decoder::new(&args.decode, &prefix)?;
    let cluster = session.cluster().await?;
    let namespace = session.global.namespace.as_deref();
    let client = cluster.connect_any().await?;
    let scope = resolve(&client, &prefix, args.what.as_deref(), namespace).await?;
    if let Some(rev) = args.rev {
        crate::keyspace::refuse_future_revision(&client, rev, 1)
            .await
            .map_err(|e| {
                Error::from(e).with_hint("give a revision up to the current one + 1, or leave out --rev to watch from now")
            })?;
    }
    let spec = Spec {
        start: scope.start.clone(),
        end: scope.end.clone(),
        start_revision: args.rev.unwrap_or(0),
        reconnect_timeout: args.reconnect_timeout,
        idle_progress: session.global.verbose.then_some(IDLE_PROGRESS),
    };
    let mut printer = Printer {
        shell: &mut session.shell,
        format,
        decoder,
        prefix: &prefix,
        scope: &scope,
        all_fields: args.all_fields,
        left: args.count,
    };
    let work = watch::watch(&cluster.targets, &cluster.settings, &spec, |u| {
        printer.on(u)
    });
    let done = match args.timeout {
        Some(t) => tokio::time::timeout(t, work).await.unwrap_or(Ok(())),
        None => work.await,
    };
    Ok(done?)
}

/// Receives the watch's updates and prints them.
struct Printer<'a> {
    shell: &'a mut Shell,
    format: OutputFormat,
    decoder: Decoder,
    prefix: &'a str,
    scope: &'a Scope,
    all_fields: bool,
    /// Events still to print with --count.
    left: Option<u64>,
}

impl Printer<'_> {
    fn on(&mut self, update: Update) -> Result<Flow> {
        let event = match update {
            Update::Event(e) => e,
            other => {
                status(self.shell, &self.scope.label, other);
                return Ok(Flow::Continue);
            }
        };
        let ns = self.scope.namespace.as_deref();
        if !registry::key::in_namespace(&event.key, self.prefix, ns) {
            return Ok(Flow::Continue);
        }
        let change = Change::new(&event, &self.decoder, self.prefix, self.all_fields);
        for w in change.object.iter().flat_map(|o| &o.warnings) {
            self.shell.verbose(format!("{}: {w}", change.key));
        }
        render(self.shell, self.format, &change)?;
        self.left = self.left.map(|n| n.saturating_sub(1));
        Ok(match self.left {
            Some(0) => Flow::Stop,
            _ => Flow::Continue,
        })
    }
}
