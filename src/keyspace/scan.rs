//! Paginated range reads at one revision: the only way keyspace commands
//! read many keys, so memory holds one page, never the keyspace.
//!
//! Every page after the first is read at the first page's revision, so a
//! scan sees one consistent keyspace. If that revision is compacted away
//! mid-scan, the scan restarts once at the current revision and tells its
//! visitor to reset.

use etcd_client::{GetOptions, KeyValue};

use registry::key::DEFAULT_PREFIX;

use super::plan;
use crate::error::{Error, Kind, Result};
use crate::etcd::EtcdClient;

/// How a scan reads.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// Only keys (and their metadata), no values.
    pub keys_only: bool,
    /// Read at this revision (0: the current one).
    pub revision: i64,
    /// Serializable reads: answered by the member alone, without quorum.
    pub serializable: bool,
    /// Keys per page to start with.
    pub page_keys: i64,
    /// Pages of values shrink until they hold about this many bytes.
    pub page_bytes: usize,
}

impl ScanOptions {
    pub fn keys_only() -> ScanOptions {
        ScanOptions {
            keys_only: true,
            revision: 0,
            serializable: false,
            // Big pages: etcd walks its index from the page start to the
            // range end for every page, so small pages make a scan
            // quadratic. 50,000 keys are about 4 MB on the wire.
            page_keys: 50_000,
            page_bytes: usize::MAX,
        }
    }

    pub fn values() -> ScanOptions {
        ScanOptions {
            keys_only: false,
            revision: 0,
            serializable: false,
            page_keys: 1000,
            page_bytes: 16 * 1024 * 1024,
        }
    }
}

/// What the visitor is told.
pub enum Page<'a> {
    /// Keys in order; the slice is dropped after the call.
    Keys(&'a [KeyValue]),
    /// Forget what was seen: the revision was compacted mid-scan and the
    /// scan starts again at revision `now`.
    Restart { now: i64 },
}

/// The outcome of a scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanSummary {
    /// The revision every page was read at.
    pub revision: i64,
    pub keys: u64,
    pub pages: u64,
    /// Whether the scan restarted after a compaction.
    pub restarted: bool,
}

/// The end of the range covering every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): to the end of the keyspace.
    vec![0]
}

/// Read `[start, end)` page by page, handing each page to `visit`.
pub async fn scan<F>(
    client: &EtcdClient,
    start: &[u8],
    end: &[u8],
    opts: ScanOptions,
    mut visit: F,
) -> Result<ScanSummary>
where
    F: FnMut(Page<'_>) -> Result<()>,
{
    let mut restarted = false;
    loop {
        match scan_once(client, start, end, opts, &mut visit).await {
            Err(e) if is_compacted(&e) && !restarted && opts.revision == 0 => {
                restarted = true;
                let now = current_revision(client).await?;
                visit(Page::Restart { now })?;
            }
            Err(e) if is_compacted(&e) => {
                return Err(Error::new(
                    Kind::Data,
                    format!("revision {} has been compacted", opts.revision.max(0)),
                )
                .with_hint("read at a newer --revision, or without one"));
            }
            other => {
                return other.map(|mut s| {
                    s.restarted = restarted;
                    s
                })
            }
        }
    }
}

fn is_compacted(e: &Error) -> bool {
    e.message.contains("required revision has been compacted")
}

async fn current_revision(client: &EtcdClient) -> Result<i64> {
    let mut kv = client.kv();
    let resp = client
        .call(kv.get("\0", Some(GetOptions::new().with_count_only())))
        .await?;
    Ok(resp.header().map(|h| h.revision()).unwrap_or_default())
}

async fn scan_once<F>(
    client: &EtcdClient,
    start: &[u8],
    end: &[u8],
    opts: ScanOptions,
    visit: &mut F,
) -> Result<ScanSummary>
where
    F: FnMut(Page<'_>) -> Result<()>,
{
    // Page each non-empty piece against its own end: etcd walks its index
    // to a request's range end whatever the limit (see `plan`). Txns are
    // linearizable, so serializable scans read the range as one piece.
    let mut revision = opts.revision;
    let pieces = if opts.serializable || plan::cut(start, end, DEFAULT_PREFIX).len() < 2 {
        vec![(start.to_vec(), end.to_vec())]
    } else {
        let (rev, pieces) =
            plan::count_pieces(client, start, end, DEFAULT_PREFIX, revision).await?;
        revision = rev;
        pieces
            .into_iter()
            .filter(|p| p.count > 0)
            .map(|p| (p.start, p.end))
            .collect()
    };
    let mut summary = ScanSummary::default();
    for (from, to) in pieces {
        revision = scan_piece(client, &from, &to, opts, revision, &mut summary, visit).await?;
    }
    summary.revision = revision;
    Ok(summary)
}

/// Page through `[start, end)`; returns the revision read at.
///
/// The next page is requested as soon as a page arrives, so etcd serves it
/// while the visitor decodes and prints this one: two pages in memory at
/// most.
async fn scan_piece<F>(
    client: &EtcdClient,
    start: &[u8],
    end: &[u8],
    opts: ScanOptions,
    mut revision: i64,
    summary: &mut ScanSummary,
    visit: &mut F,
) -> Result<i64>
where
    F: FnMut(Page<'_>) -> Result<()>,
{
    let mut limit = opts.page_keys.max(1);
    let mut next = Some(fetch_page(
        client,
        start.to_vec(),
        end,
        limit,
        revision,
        opts,
    ));
    while let Some(pending) = next.take() {
        let resp = pending
            .await
            .map_err(|e| Error::new(Kind::Other, format!("reading a page failed: {e}")))??;
        if revision == 0 {
            revision = resp.header().map(|h| h.revision()).unwrap_or_default();
        }
        let kvs = resp.kvs();
        summary.pages += 1;
        summary.keys += kvs.len() as u64;
        if !opts.keys_only {
            // Keep pages near the byte budget whatever the value sizes.
            let bytes: usize = kvs.iter().map(|kv| kv.key().len() + kv.value().len()).sum();
            if bytes > opts.page_bytes && limit > 1 {
                limit = (limit / 2).max(1);
            } else if bytes < opts.page_bytes / 4 && limit < opts.page_keys {
                limit = (limit * 2).min(opts.page_keys);
            }
        }
        if let (true, Some(last)) = (resp.more(), kvs.last()) {
            let mut from = last.key().to_vec();
            from.push(0);
            next = Some(fetch_page(client, from, end, limit, revision, opts));
        }
        if let Err(e) = visit(Page::Keys(kvs)) {
            if let Some(pending) = next {
                pending.abort();
            }
            return Err(e);
        }
    }
    Ok(revision)
}

/// One page read, started now and awaited later.
fn fetch_page(
    client: &EtcdClient,
    from: Vec<u8>,
    end: &[u8],
    limit: i64,
    revision: i64,
    opts: ScanOptions,
) -> tokio::task::JoinHandle<Result<etcd_client::GetResponse>> {
    let client = client.clone();
    let mut o = GetOptions::new().with_range(end.to_vec()).with_limit(limit);
    if revision > 0 {
        o = o.with_revision(revision);
    }
    if opts.keys_only {
        o = o.with_keys_only();
    }
    if opts.serializable {
        o = o.with_serializable();
    }
    tokio::spawn(async move {
        let mut kv = client.kv();
        client.call(kv.get(from, Some(o))).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte_that_can_be() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }
}

/// `--consistency`: linearizable reads need a quorum; serializable ones are
/// answered by the member alone, so an operator can still look at the data
/// of a cluster that lost its leader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Consistency {
    /// Linearizable (default): the current, agreed state.
    #[default]
    #[value(name = "l")]
    Linearizable,
    /// Serializable: the member's local copy, possibly stale.
    #[value(name = "s")]
    Serializable,
}

/// Flags shared by commands that scan the keyspace.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScanFlags {
    /// l (linearizable, needs quorum) or s (serializable, works without a leader).
    #[arg(long, value_enum, default_value = "l")]
    pub consistency: Consistency,

    /// Keys per page (tests use small pages to cross many of them).
    #[arg(long, hide = true, env = "KUBECTL_ETCD_PAGE_KEYS", value_name = "N")]
    pub page_keys: Option<i64>,
}

impl ScanFlags {
    pub fn apply(&self, mut opts: ScanOptions) -> ScanOptions {
        opts.serializable = self.consistency == Consistency::Serializable;
        if let Some(n) = self.page_keys {
            opts.page_keys = n.max(1);
        }
        opts
    }
}
