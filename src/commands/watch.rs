//! `watch`: changes to Kubernetes objects as they are committed to etcd, one
//! line per event with a field-level diff, or JSON/YAML for scripts.
//!
//! The event loop and reconnects live in [`crate::keyspace::watch`]; this
//! file resolves what to watch and renders each change.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::cli::{parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::{Error, Result};
use crate::etcd::EtcdClient;
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::resolve::{Range, Resolver};
use crate::keyspace::watch::{self, Change, EventKind, Flow, Spec, Update};
use crate::output::{escape, Shell};

/// Most field changes shown on one line.
const MAX_CHANGES: usize = 10;
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
    let scope = resolve(
        &cluster.connect_any().await?,
        &prefix,
        args.what.as_deref(),
        namespace,
    )
    .await?;
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
    match args.timeout {
        Some(t) => tokio::time::timeout(t, work).await.unwrap_or(Ok(())),
        None => work.await,
    }
}

/// The keys to watch.
struct Scope {
    start: Vec<u8>,
    /// Empty for one key.
    end: Vec<u8>,
    /// For messages: `deployments.apps in default`, a prefix, a key.
    label: String,
    /// A namespace the key range cannot express (`-n` without a type).
    namespace: Option<String>,
}

/// Resolve what the user typed to a key range.
async fn resolve(
    client: &EtcdClient,
    prefix: &str,
    what: Option<&str>,
    namespace: Option<&str>,
) -> Result<Scope> {
    let mut r = Resolver::new(client, prefix);
    let parts: Vec<&str> = what.map(|w| w.splitn(3, '/').collect()).unwrap_or_default();
    let of = |range: Range, namespace: Option<&str>| Scope {
        start: range.start,
        end: range.end,
        label: range.label,
        namespace: namespace.map(str::to_string),
    };
    let single = |key: String| Scope {
        start: key.clone().into_bytes(),
        end: Vec::new(),
        label: key,
        namespace: None,
    };
    Ok(match (what, parts.as_slice()) {
        (None, _) => of(r.range(None, namespace).await?, namespace),
        (Some(w), _) if w.starts_with('/') => of(r.range(Some(w), None).await?, namespace),
        (Some(_), [t]) => of(r.range(Some(*t), namespace).await?, None),
        (Some(w), [t, x]) => {
            if r.resource_type(t).await?.namespaced {
                of(r.range(Some(*t), Some(*x)).await?, None)
            } else {
                single(r.object(w, None, None).await?.key)
            }
        }
        (Some(w), _) => single(r.object(w, None, namespace).await?.key),
    })
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

/// Connection news, on stderr.
fn status(shell: &mut Shell, label: &str, update: Update) {
    match update {
        Update::Started { endpoint, revision } => {
            shell.verbose(format!(
                "watching {label} on {endpoint} from revision {revision}"
            ));
        }
        Update::Progress { revision } => shell.verbose(format!("idle at revision {revision}")),
        Update::Lost { endpoint, error } => shell.warn(format!(
            "lost the watch on {endpoint}: {}; reconnecting",
            error.message
        )),
        Update::Retry { endpoint, error } => {
            shell.verbose(format!("cannot resume on {endpoint}: {}", error.message))
        }
        Update::Reconnected { endpoint, revision } => shell.note(format!(
            "reconnected to {endpoint}; resuming at revision {revision}"
        )),
        Update::Event(_) => {}
    }
}

/// One change in the chosen format, flushed at once.
fn render(shell: &mut Shell, format: OutputFormat, c: &Change) -> Result<()> {
    match format {
        OutputFormat::Json => shell.json_line(&JsonEvent::from(c))?,
        OutputFormat::Yaml => {
            let out = shell.out();
            writeln!(out, "---")?;
            let comment = format!(
                "# {} {} {} revision {}",
                c.kind.as_str(),
                c.resource,
                c.display_name(),
                c.revision
            );
            writeln!(out, "{}", escape(&comment))?;
            if let Some(e) = &c.error {
                writeln!(out, "# error: {}", escape(&e.message))?;
            }
            if let Some(o) = &c.object {
                shell.yaml(&o.value)?;
            }
        }
        _ => writeln!(shell.out(), "{}", escape(&line(c, SystemTime::now())))?,
    }
    shell.out().flush()?;
    Ok(())
}

/// `TIME EVENT TYPE NAMESPACE/NAME REVISION DIFF`.
fn line(c: &Change, at: SystemTime) -> String {
    let detail = match (&c.error, &c.diff, c.kind) {
        (Some(e), _, _) => format!("error: {}", e.message),
        (None, Some(d), _) => d.render(MAX_CHANGES),
        (None, None, EventKind::Modified) => "(previous version not available)".into(),
        (None, None, _) => String::new(),
    };
    let text = format!(
        "{} {:<8} {} {} {} {detail}",
        humantime::format_rfc3339_millis(at),
        c.kind.as_str(),
        c.resource,
        c.display_name(),
        c.revision,
    );
    text.trim_end().to_string()
}

/// The JSON line of one change, for jq.
#[derive(Serialize)]
struct JsonEvent<'a> {
    #[serde(rename = "type")]
    kind: EventKind,
    key: &'a str,
    resource: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
    revision: i64,
    object: Option<&'a serde_json::Value>,
    previous: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl<'a> From<&'a Change> for JsonEvent<'a> {
    fn from(c: &'a Change) -> Self {
        JsonEvent {
            kind: c.kind,
            key: &c.key,
            resource: &c.resource,
            namespace: c.namespace.as_deref(),
            name: &c.name,
            revision: c.revision,
            object: c.object.as_ref().map(|o| &o.value),
            previous: c.previous.as_ref().map(|o| &o.value),
            error: c.error.as_ref().map(|e| e.message.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::watch::Event;
    use std::time::UNIX_EPOCH;

    fn widget(size: u32) -> Vec<u8> {
        format!(
            r#"{{"apiVersion":"example.com/v1","kind":"Widget","metadata":{{"name":"w1","namespace":"default"}},"spec":{{"size":{size}}}}}"#
        )
        .into_bytes()
    }

    fn change(kind: EventKind, value: Vec<u8>, prev: Option<Vec<u8>>) -> Change {
        let d = Decoder::new(&DecodeFlags::default(), "/registry").unwrap();
        let ev = Event {
            kind,
            key: b"/registry/example.com/widgets/default/w1".to_vec(),
            value,
            prev_value: prev,
            prev_revision: 41,
            revision: 42,
        };
        Change::new(&ev, &d, "/registry", false)
    }

    #[test]
    fn a_modified_line_has_time_event_type_name_revision_and_diff() {
        let c = change(EventKind::Modified, widget(5), Some(widget(3)));
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(
            line(&c, at),
            "2023-11-14T22:13:20.123Z MODIFIED widgets.example.com default/w1 42 spec.size: 3 -> 5"
        );
    }

    #[test]
    fn added_lines_end_after_the_revision_and_errors_replace_the_diff() {
        let at = UNIX_EPOCH;
        let c = change(EventKind::Added, widget(1), None);
        assert!(line(&c, at).ends_with("ADDED    widgets.example.com default/w1 42"));
        let c = change(EventKind::Modified, b"\x01junk".to_vec(), Some(widget(1)));
        assert!(
            line(&c, at).contains(" 42 error: cannot decode"),
            "{}",
            line(&c, at)
        );
    }

    #[test]
    fn json_lines_carry_decoded_objects_and_the_error_only_when_there_is_one() {
        let c = change(EventKind::Modified, widget(5), Some(widget(3)));
        let v = serde_json::to_value(JsonEvent::from(&c)).unwrap();
        assert_eq!(v["type"], "MODIFIED");
        assert_eq!(v["resource"], "widgets.example.com");
        assert_eq!(v["namespace"], "default");
        assert_eq!(v["name"], "w1");
        assert_eq!(v["revision"], 42);
        assert_eq!(v["object"]["spec"]["size"], 5);
        assert_eq!(v["previous"]["spec"]["size"], 3);
        assert!(v.get("error").is_none());
    }
}
