//! `top [PREFIX|TYPE]`: who is writing to etcd right now, from one watch,
//! refreshed every interval. The accounting is [`crate::keyspace::top`],
//! the watch [`crate::keyspace::watch`]; this file wires and renders.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::cli::{parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::{Error, Result};
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::resolve::Resolver;
use crate::keyspace::top::{row_of, By, Report, Row, Top};
use crate::keyspace::watch::{self, Flow, Spec, Update};
use crate::output::table::Table;
use crate::output::{human_bytes, share_bar, Shell};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    kubectl etcd top\n  \
    kubectl etcd top --by manager\n  \
    kubectl etcd top events --by namespace -o json")]
pub struct Args {
    /// What to watch: a TYPE or a key prefix starting with `/`; default:
    /// every key (`-n NS` keeps one namespace).
    #[arg(value_name = "PREFIX|TYPE", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::types))]
    pub what: Option<String>,

    /// Group writes by resource type, namespace, manager (the managedFields
    /// entry whose time changed; decodes every write) or key.
    #[arg(long, value_enum, default_value = "type")]
    pub by: By,

    /// How often to refresh.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Duration,

    /// Rows shown; the rest are summed in `other`.
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub top: u64,

    /// Stop after this many intervals (exit 0).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Give up when no member lets the watch resume for this long.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub reconnect_timeout: Duration,

    #[command(flatten)]
    pub decode: DecodeFlags,
}

/// One JSON line per interval.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    time: String,
    by: By,
    #[serde(flatten)]
    report: &'a Report,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let format = session.format_or(OutputFormat::Table);
    if !matches!(format, OutputFormat::Table | OutputFormat::Json) {
        return Err(
            Error::usage("`top` prints a table or JSON lines").with_hint("use -o table or -o json")
        );
    }
    if args.interval < Duration::from_millis(100) {
        return Err(Error::usage("--interval must be at least 100ms"));
    }
    // On a pipe a table refreshed in place makes no sense: JSON lines.
    let json = format == OutputFormat::Json || !std::io::stdout().is_terminal();
    let prefix = session.global.prefix.clone();
    let decoder = Decoder::new(&args.decode, &prefix)?;
    let cluster = session.cluster().await?;
    let namespace = session.global.namespace.clone();
    let client = cluster.connect_any().await?;
    let range = Resolver::new(&client, &prefix)
        .range(args.what.as_deref(), namespace.as_deref())
        .await?;
    drop(client);
    // A TYPE range holds the namespace; otherwise keys are filtered.
    let ns_filter = namespace.filter(|_| range.resource_type.is_none());
    let spec = Spec {
        start: range.start.clone(),
        end: range.end.clone(),
        start_revision: 0,
        reconnect_timeout: args.reconnect_timeout,
        idle_progress: None,
    };
    let top = args.top as usize;
    let counters = Arc::new(Mutex::new(Top::new(Top::capacity(top))));
    let news: Arc<Mutex<Vec<String>>> = Arc::default();
    let (record, news_in) = (counters.clone(), news.clone());
    let by = args.by;
    let watching = watch::watch(&cluster.targets, &cluster.settings, &spec, move |u| {
        match u {
            Update::Event(e)
                if registry::key::in_namespace(&e.key, &prefix, ns_filter.as_deref()) =>
            {
                let row = row_of(&e, by, &prefix, &decoder);
                if let Ok(mut t) = record.lock() {
                    t.record(row, &e);
                }
            }
            Update::Lost { endpoint, error } => push(
                &news_in,
                format!(
                    "lost the watch on {endpoint}: {}; reconnecting",
                    crate::error::Error::from(error).message
                ),
            ),
            Update::Reconnected { endpoint, revision } => push(
                &news_in,
                format!("reconnected to {endpoint} at revision {revision}"),
            ),
            _ => {}
        }
        Ok(Flow::Continue)
    });
    let shell = &mut session.shell;
    let label = range.label.clone();
    let ticker = async move {
        let start = Instant::now();
        let mut last = start;
        let mut ticks = tokio::time::interval_at(
            tokio::time::Instant::from_std(start + args.interval),
            args.interval,
        );
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shown = 0u64;
        loop {
            ticks.tick().await;
            let now = Instant::now();
            let report = match counters.lock() {
                Ok(mut t) => t.tick((now - last).as_secs_f64(), (now - start).as_secs_f64(), top),
                Err(_) => {
                    return Err(Error::new(
                        crate::error::Kind::Other,
                        "top: lost its counters",
                    ))
                }
            };
            last = now;
            for n in news
                .lock()
                .map(|mut n| std::mem::take(&mut *n))
                .unwrap_or_default()
            {
                shell.warn(n);
            }
            if json {
                shell.json_line(&Line {
                    time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
                    by,
                    report: &report,
                })?;
            } else {
                redraw(shell, &label, by, &report)?;
            }
            shell.out().flush()?;
            shown += 1;
            if args.count.is_some_and(|c| shown >= c) {
                return Ok(());
            }
        }
    };
    tokio::select! {
        r = watching => Ok(r?),
        r = ticker => r,
    }
}

fn push(news: &Mutex<Vec<String>>, line: String) {
    if let Ok(mut n) = news.lock() {
        n.push(line);
    }
}

/// Clear the terminal and draw the interval's table.
fn redraw(shell: &mut Shell, label: &str, by: By, r: &Report) -> Result<()> {
    let color = shell.color;
    let out = shell.out();
    write!(out, "\x1b[H\x1b[2J")?;
    writeln!(
        out,
        "writes to {label}: {:.1}/s over the last {:.0}s, {:.0}s since start\n",
        r.writes_per_second, r.interval_seconds, r.elapsed_seconds
    )?;
    let by_name = match by {
        By::Type => "type",
        By::Namespace => "namespace",
        By::Manager => "manager",
        By::Key => "key",
    };
    let mut t = Table::new(&[
        by_name,
        "puts/s",
        "deletes/s",
        "bytes/s",
        "share",
        "puts/s since start",
        "deletes/s since start",
    ])
    .right_align(&[1, 2, 3, 5, 6]);
    for row in r.rows.iter().chain(r.other.as_ref()) {
        t.row(cells(row));
    }
    t.write(out, color)?;
    Ok(())
}

fn cells(r: &Row) -> Vec<String> {
    vec![
        r.name.clone(),
        format!("{:.1}", r.puts_per_second),
        format!("{:.1}", r.deletes_per_second),
        format!("{}/s", human_bytes(r.bytes_per_second.round() as u64)),
        share_bar(r.share_percent),
        format!("{:.1}", r.puts_per_second_since_start),
        format!("{:.1}", r.deletes_per_second_since_start),
    ]
}
