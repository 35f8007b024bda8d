//! `size`: how much disk each member's database takes and how much of it is
//! reclaimable by a defrag; with `--by-type`, `--top` or a TYPE/PREFIX, also
//! what fills it: bytes per type, the largest objects and lease pressure,
//! from one values scan whose pages are dropped after measuring.

use crate::cli::{parse_bytes, OutputFormat};
use crate::context::{Cluster, Session};
use crate::error::Result;
use crate::keyspace::history_size;
use crate::keyspace::resolve::Resolver;
use crate::keyspace::scan::{ScanFlags, ScanOptions};
use crate::keyspace::size::{self as measure, KeyspaceSize, Want};
use crate::ops::quota;
use crate::ops::status::Problems;
use crate::output::progress;
use crate::output::size::{tables, SizeReport};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Break down this type (`events`, `widgets.example.com`) or key prefix
    /// (starting with `/`) by type; implies --by-type.
    #[arg(value_name = "TYPE|PREFIX", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::types))]
    pub reference: Option<String>,

    /// Bytes per type: share, count, average and largest object.
    ///
    /// Heavy: reads every value once (page by page, never all at once).
    #[arg(long)]
    pub by_type: bool,

    /// The N largest objects (default 10 with --by-type; implies it); with
    /// --history, the N keys holding the most old revisions instead.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "10")]
    pub top: Option<usize>,

    /// What a compaction at the current revision would free: old revisions
    /// and their bytes per type and for the top keys.
    ///
    /// Heavy: reads every retained revision once (a values scan at the
    /// compacted revision, a watch replay of every revision since, a values
    /// scan now), page by page; memory bounded by types and --top.
    #[arg(long)]
    pub history: bool,

    /// Break each type down by namespace (implies --by-type).
    #[arg(long)]
    pub by_namespace: bool,

    /// Quota to assume where neither Status (etcd ≥ 3.6), the member's
    /// metrics nor its pod's --quota-backend-bytes give the real one
    /// (default: etcd's 2 GiB).
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    pub quota_bytes: Option<u64>,

    #[command(flatten)]
    pub scan: ScanFlags,
}

impl Args {
    fn analyze(&self) -> bool {
        self.by_type
            || (self.top.is_some() && !self.history)
            || self.by_namespace
            || self.reference.is_some()
    }
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let survey = quota::survey(&cluster).await;
    let members = quota::member_sizes(&survey, args.quota_bytes);
    let format = session.format_or(OutputFormat::Table);
    let keyspace = if args.analyze() {
        Some(keyspace(&args, &cluster, session, format).await?)
    } else {
        None
    };
    let history = if args.history {
        let readers = cluster.connect_readers().await?;
        let (prefix, shell) = (&session.global.prefix, &mut session.shell);
        let mut h =
            history_size::measure(&readers, prefix, args.top.unwrap_or(10), |n| shell.note(n))
                .await?;
        h.compare_with(members.iter().filter_map(|m| m.db_size_in_use).max(), None);
        Some(h)
    } else {
        None
    };
    let report = SizeReport {
        members,
        keyspace,
        history,
    };
    let wide = session.wide();
    session.shell.emit(format, &report, |r| tables(r, wide))?;
    if format == OutputFormat::Table {
        if let Some(note) = quota::footnote(report.members.iter().filter_map(|m| m.quota_source)) {
            session.shell.note(note);
        }
    }
    Problems::of(&survey).finish(&mut session.shell)
}

/// One values scan of the range, measured and dropped page by page.
async fn keyspace(
    args: &Args,
    cluster: &Cluster,
    session: &mut Session,
    format: OutputFormat,
) -> Result<KeyspaceSize> {
    let readers = cluster.connect_readers().await?;
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let range = Resolver::new(readers.primary(), &prefix)
        .range(args.reference.as_deref(), namespace.as_deref())
        .await?;
    // Measured in any order: the totals and the top list do not depend on it.
    let mut opts = ScanOptions::values().unordered();
    // Pages of up to 8 MiB, dropped as soon as they are measured: a page
    // per reader in flight and one waiting each.
    opts.page_keys = 5000;
    let opts = args.scan.apply(opts);
    let show_progress = session.shell.stderr_tty && format == OutputFormat::Table;
    let bar = progress::bar(show_progress, None, "measuring keys", true);
    let want = Want {
        namespace,
        top: args.top.unwrap_or(10),
        by_namespace: args.by_namespace,
    };
    let shell = &mut session.shell;
    let size = measure::measure(&readers, &prefix, range, opts, want, &bar, |w| {
        shell.warn(w)
    })
    .await;
    bar.finish_and_clear();
    Ok(size?)
}
