//! `search`: keys (and with `--values`, decoded objects) matching a
//! substring, glob or regex, streamed page by page like grep. Exits 1 when
//! nothing matches. Wiring only: [`crate::keyspace::search`] matches,
//! [`crate::output::search`] prints.

use std::sync::Arc;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::parallel::{self, Pool};
use crate::keyspace::pattern::Pattern;
use crate::keyspace::plan;
use crate::keyspace::resolve::Resolver;
use crate::keyspace::scan::{scan_pieces, Page, ScanFlags, ScanOptions};
use crate::keyspace::search::{InOrder, Job, Matcher, Outcome};
use crate::output::search::Sink;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Matching: a key matches when the pattern matches the whole key, its \
    `namespace/name` or its name. A substring or --regex may match anywhere; a glob (`*`, `?`, \
    `[abc]`; `*` also crosses `/`) must match all of it. With --values, an object also matches \
    when one of its fields matches, written as the value (`nginx:1.25`), as `field=value` \
    (`app=nginx`) or as JSON (`\"app\":\"nginx\"`). Secret data is searched only with \
    --show-secrets."
)]
pub struct Args {
    /// A substring, a glob (`web-*`, `default/web-?`) or, with --regex, a regex.
    #[arg(value_name = "PATTERN")]
    pub pattern: String,

    /// Read PATTERN as a regular expression (Rust `regex` syntax).
    #[arg(long)]
    pub regex: bool,

    /// Only this type (`pods`, `widgets.example.com`) or key prefix (`/...`).
    #[arg(long = "type", value_name = "TYPE|PREFIX", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::types))]
    pub r#type: Option<String>,

    /// Also search the decoded objects' fields.
    ///
    /// Heavy: reads and decodes every value in the range.
    #[arg(long)]
    pub values: bool,

    #[command(flatten)]
    pub decode: DecodeFlags,

    #[command(flatten)]
    pub scan: ScanFlags,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let pattern = Pattern::new(&args.pattern, args.regex)?;
    let format = session.format_or(OutputFormat::Table);
    let mut sink = Sink::new(format, args.values)?;
    let cluster = session.cluster().await?;
    let readers = cluster.connect_readers().await?;
    let client = readers.primary();
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let decoder = Decoder::new(&args.decode, &prefix)?;
    let range = Resolver::new(client, &prefix)
        .range(args.r#type.as_deref(), namespace.as_deref())
        .await?;
    // Read in any order so that every reader stays busy; hits are put
    // back in key order below, holding only the hits of pieces that
    // arrived early.
    let base = if args.values {
        ScanOptions::values()
    } else {
        ScanOptions::keys_only()
    };
    let opts = args.scan.apply(base.unordered().resuming());

    // Only the key ranges where a hit can be: the pattern's literal start
    // and -n pin them (`keyspace::plan::narrow`). --full-scan (hidden)
    // reads the whole range, as tests compare.
    let ranges = if args.scan.full_scan {
        vec![(range.start.clone(), range.end.clone())]
    } else {
        plan::narrow(
            &range.start,
            &range.end,
            &prefix,
            namespace.as_deref(),
            // With --values any key may hold a matching field.
            if args.values {
                ""
            } else {
                pattern.literal_prefix()
            },
        )
    };

    let matcher = Arc::new(Matcher {
        pattern,
        decoder,
        prefix: prefix.clone(),
        namespace: namespace.clone(),
        values: args.values,
    });
    // Decoding values is the heavy part: on every core, results in order.
    let workers = parallel::workers(args.scan.decode_workers);
    let mut pool = (args.values && workers > 1).then(|| {
        let m = matcher.clone();
        Pool::new(workers, move |job| match job {
            Job::Page(piece, kvs) => Outcome::Found(piece, m.find(&kvs)),
            Job::Done(piece) => Outcome::Done(piece),
        })
    });
    let shell = &mut session.shell;
    let summary = scan_pieces(&readers, &prefix, &ranges, opts, |piece, page| {
        let mut handle = |o: Outcome| sink.handle(shell, o);
        match (page, pool.as_mut()) {
            (Some(Page::Keys(kvs)), Some(pool)) => {
                for chunk in parallel::chunks(kvs) {
                    pool.submit(Job::Page(piece, chunk), &mut handle)?;
                }
                Ok(())
            }
            (Some(Page::Keys(kvs)), None) => handle(Outcome::Found(piece, matcher.find(kvs))),
            (None, Some(pool)) => pool.submit(Job::Done(piece), &mut handle),
            (None, None) => handle(Outcome::Done(piece)),
            // Pieces keep their numbers across a resume, and a resumed
            // piece goes on after what it delivered: what `order` holds
            // stays right. A restart forgets it, and what is in flight.
            (Some(page @ (Page::Restart { .. } | Page::Resumed { .. })), pool) => {
                if matches!(page, Page::Restart { .. }) {
                    if let Some(pool) = pool {
                        pool.drain(&mut |_| Ok(()))?;
                    }
                    sink.order = InOrder::default();
                }
                shell.warn(page.notice().unwrap_or_default());
                Ok(())
            }
        }
    })
    .await?;
    if let Some(pool) = pool {
        pool.finish(&mut |o| sink.handle(&mut session.shell, o))?;
    }
    let (hits, undecodable) = (sink.hits, sink.undecodable);
    if session.shell.verbose {
        session.shell.note(format!(
            "read {} keys in {} ranges at revision {}",
            summary.keys,
            ranges.len(),
            summary.revision
        ));
    }
    if undecodable > 0 {
        let values = if undecodable == 1 { "value" } else { "values" };
        session.shell.warn(format!(
            "{undecodable} {values} could not be decoded and were matched on their keys only"
        ));
    }
    if hits == 0 {
        return Err(Error::new(
            Kind::NotFound,
            format!("nothing under {} matches `{}`", range.label, args.pattern),
        ));
    }
    Ok(())
}
