//! Paginated range reads at one revision: the only way keyspace commands
//! read many keys, so memory holds a few pages, never the keyspace.
//!
//! A scan pins the current revision with one read (linearizable unless
//! `--consistency s`) and reads every page at it, so it sees one consistent
//! keyspace. If that revision is compacted away mid-scan, the scan restarts
//! once at the current revision and tells its visitor to reset.
//!
//! Speed comes from two things:
//! - The range is cut into pieces at the built-in types' prefixes, and the
//!   pieces are read in parallel, one reader per member (two when there is
//!   only one), each page a serializable read at the pinned revision: the
//!   same data on every member that has applied it. Pages reach the visitor
//!   in key order.
//! - etcd walks its index over a request's whole range whatever the limit
//!   (3.4 returns every revision in it; 3.5 still counts them), so a page
//!   asked against a far range end costs as much as reading to that end.
//!   After the first page of a piece, each request ends where the keys seen
//!   so far say about one page more will be: a scan walks each key about
//!   once instead of once per page.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use etcd_client::{GetOptions, GetResponse, KeyValue};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::plan;
use crate::error::{Error, Kind, Result};
use crate::etcd::maintenance::current_revision;
use crate::etcd::{EtcdClient, Readers};

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
    /// Pages reach the visitor in key order. Without it, pieces are visited
    /// as they arrive (see [`scan_pieces`]), which keeps every reader busy.
    pub ordered: bool,
}

impl ScanOptions {
    pub fn keys_only() -> ScanOptions {
        ScanOptions {
            keys_only: true,
            revision: 0,
            serializable: false,
            // About 4 MB on the wire. Each request costs etcd a walk of
            // what it spans and a fixed price: bigger pages are cheaper for
            // etcd (1,000,000 keys: 2.2 s of etcd CPU in 50,000-key pages,
            // 3.6 s in 10,000-key pages, 5.4 s in 3,000-key pages).
            page_keys: 50_000,
            page_bytes: usize::MAX,
            ordered: true,
        }
    }

    pub fn values() -> ScanOptions {
        ScanOptions {
            keys_only: false,
            revision: 0,
            serializable: false,
            page_keys: 1000,
            // A few pages per reader and one being visited are held.
            page_bytes: 8 * 1024 * 1024,
            ordered: true,
        }
    }

    /// Any order will do: the visitor only aggregates.
    pub fn unordered(mut self) -> ScanOptions {
        self.ordered = false;
        self
    }

    /// Pages that may wait for the visitor, per piece read ahead of it:
    /// about 16 MiB of keys-only pages, or one page of values (a reader
    /// then holds that page and the one it is reading).
    fn pages_ahead(&self) -> usize {
        if self.keys_only {
            4
        } else {
            1
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

/// Read `[start, end)` page by page, handing each page to `visit`: in key
/// order unless the options say otherwise.
pub async fn scan<F>(
    readers: &Readers,
    prefix: &str,
    start: &[u8],
    end: &[u8],
    opts: ScanOptions,
    mut visit: F,
) -> Result<ScanSummary>
where
    F: FnMut(Page<'_>) -> Result<()>,
{
    let ranges = [(start.to_vec(), end.to_vec())];
    scan_pieces(readers, prefix, &ranges, opts, |_, page| {
        page.map_or(Ok(()), &mut visit)
    })
    .await
}

/// The scan itself, over several ranges (in order, not overlapping) at one
/// revision. `visit` also learns which piece (numbered in key
/// order) each page belongs to, and is told `None` when a piece is done,
/// so an unordered scan's visitor can put what it prints back in order
/// (see `search`).
pub async fn scan_pieces<F>(
    readers: &Readers,
    prefix: &str,
    ranges: &[(Vec<u8>, Vec<u8>)],
    opts: ScanOptions,
    mut visit: F,
) -> Result<ScanSummary>
where
    F: FnMut(usize, Option<Page<'_>>) -> Result<()>,
{
    let mut restarted = false;
    loop {
        match scan_once(readers, prefix, ranges, opts, &mut visit).await {
            Err(e) if is_compacted(&e) && !restarted && opts.revision == 0 => {
                restarted = true;
                let now = current_revision(readers.primary(), opts.serializable).await?;
                visit(0, Some(Page::Restart { now }))?;
            }
            Err(e) if is_compacted(&e) => {
                return Err(Error::new(
                    Kind::Data,
                    format!("revision {} has been compacted", opts.revision.max(0)),
                )
                .with_hint("read at a newer --revision, or without one"));
            }
            other => return other,
        }
    }
}

/// A linearizable read that got no answer: without quorum none will, but
/// each member can still say what it holds.
pub fn suggest_serializable(e: Error, serializable: bool) -> Error {
    if serializable || e.kind != Kind::Unavailable {
        return e;
    }
    e.with_hint(
        "the cluster may have lost quorum: --consistency s reads what the member holds \
         (possibly stale), or raise --command-timeout to wait longer",
    )
}

fn is_compacted(e: &Error) -> bool {
    e.message.contains("required revision has been compacted")
}

/// What a reader sends: a page of a piece, or `None` when the piece is done.
type Delivery = (usize, Result<Option<Vec<KeyValue>>>);

/// The pieces of one scan and who reads which.
struct Work {
    pieces: Vec<(Vec<u8>, Vec<u8>)>,
    next: AtomicUsize,
    /// Where each piece's pages go: its own channel when ordered, one
    /// shared channel when not.
    senders: Mutex<Vec<Option<mpsc::Sender<Delivery>>>>,
    revision: i64,
    opts: ScanOptions,
}

async fn scan_once<F>(
    readers: &Readers,
    prefix: &str,
    ranges: &[(Vec<u8>, Vec<u8>)],
    opts: ScanOptions,
    visit: &mut F,
) -> Result<ScanSummary>
where
    F: FnMut(usize, Option<Page<'_>>) -> Result<()>,
{
    // Linearizable unless asked otherwise: a scan of a cluster without
    // quorum fails here, before it reads anything stale.
    let current = current_revision(readers.primary(), opts.serializable)
        .await
        .map_err(|e| suggest_serializable(e, opts.serializable))?;
    let revision = if opts.revision > 0 {
        opts.revision
    } else {
        current
    };
    let pieces: Vec<(Vec<u8>, Vec<u8>)> = ranges
        .iter()
        .flat_map(|(start, end)| plan::cut(start, end, prefix))
        .map(|p| (p.start, p.end))
        .collect();
    let count = pieces.len();
    let workers = readers.members().max(2);
    let (senders, mut receivers): (Vec<_>, Vec<_>) = if opts.ordered {
        (0..count)
            .map(|_| mpsc::channel(opts.pages_ahead()))
            .unzip()
    } else {
        let (tx, rx) = mpsc::channel(workers);
        (vec![tx; count], vec![rx])
    };
    let work = Arc::new(Work {
        pieces,
        next: AtomicUsize::new(0),
        senders: Mutex::new(senders.into_iter().map(Some).collect()),
        revision,
        opts,
    });

    // Dropped on return, which stops every reader still running.
    let mut running = JoinSet::new();
    let primary = readers.primary().clone();
    for _ in 0..workers + 1 - readers.members() {
        running.spawn(read_pieces(primary.clone(), None, work.clone()));
    }
    for helper in readers.helpers() {
        let (primary, work) = (primary.clone(), work.clone());
        running.spawn(async move {
            // An unreachable member takes no pieces.
            if let Some(client) = helper.await {
                read_pieces(client, Some(primary), work).await;
            }
        });
    }
    // The shared channel must close once the readers are gone, whatever
    // pieces were left untaken.
    drop(work);

    let mut summary = ScanSummary {
        revision,
        ..ScanSummary::default()
    };
    let mut done = 0;
    let mut channel = 0;
    while done < count {
        let Some(pages) = receivers.get_mut(channel) else {
            break;
        };
        let (piece, delivery) = pages.recv().await.ok_or_else(|| {
            Error::new(
                Kind::Other,
                "a reader stopped before the end of its part of the scan",
            )
        })?;
        match delivery? {
            Some(kvs) => {
                summary.keys += kvs.len() as u64;
                visit(piece, Some(Page::Keys(&kvs)))?;
            }
            None => {
                done += 1;
                if opts.ordered {
                    channel += 1;
                }
                visit(piece, None)?;
            }
        }
    }
    Ok(summary)
}

/// Take pieces in order until none are left.
///
/// A helper that fails a read hands that read and the rest of its work to
/// the primary: a follower behind the pinned revision, or gone, must not
/// fail the scan.
async fn read_pieces(mut client: EtcdClient, mut fallback: Option<EtcdClient>, work: Arc<Work>) {
    loop {
        let index = work.next.fetch_add(1, Ordering::SeqCst);
        if index >= work.pieces.len() {
            return;
        }
        let sender = work
            .senders
            .lock()
            .ok()
            .and_then(|mut s| s.get_mut(index).and_then(Option::take));
        let Some(sender) = sender else { return };
        let (start, end) = &work.pieces[index];
        let outcome = read_piece(
            &mut client,
            &mut fallback,
            index,
            start,
            end,
            &work,
            &sender,
        )
        .await;
        let delivered = match outcome {
            Ok(()) => sender.send((index, Ok(None))).await,
            Err(Stop::Failed(e)) => sender.send((index, Err(e))).await,
            Err(Stop::VisitorGone) => return,
        };
        if delivered.is_err() {
            return;
        }
    }
}

enum Stop {
    Failed(Error),
    VisitorGone,
}

/// Page through one piece; each request ends about one page past its start.
async fn read_piece(
    client: &mut EtcdClient,
    fallback: &mut Option<EtcdClient>,
    index: usize,
    start: &[u8],
    end: &[u8],
    work: &Work,
    sender: &mpsc::Sender<Delivery>,
) -> std::result::Result<(), Stop> {
    let opts = work.opts;
    let mut limit = opts.page_keys.max(1);
    let mut plan = PiecePages::new(start, end);
    loop {
        let (from, to) = plan.range();
        let mut resp = match get_page(client, from, to, limit, work).await {
            Ok(r) => r,
            Err(e) => match fallback.take() {
                Some(primary) => {
                    *client = primary;
                    get_page(client, from, to, limit, work)
                        .await
                        .map_err(Stop::Failed)?
                }
                None => return Err(Stop::Failed(e)),
            },
        };
        let kvs = resp.take_kvs();
        if !opts.keys_only {
            // Keep pages near the byte budget whatever the value sizes.
            let bytes: usize = kvs.iter().map(|kv| kv.key().len() + kv.value().len()).sum();
            if bytes > opts.page_bytes && limit > 1 {
                limit = (limit / 2).max(1);
            } else if bytes < opts.page_bytes / 4 && limit < opts.page_keys {
                limit = (limit * 2).min(opts.page_keys);
            }
        }
        let more = plan.advance(
            Response {
                first: kvs.first().map(KeyValue::key),
                last: kvs.last().map(KeyValue::key),
                len: kvs.len(),
                more: resp.more(),
                in_range: resp.count().max(0) as u64,
            },
            limit as usize,
        );
        if sender.send((index, Ok(Some(kvs)))).await.is_err() {
            return Err(Stop::VisitorGone);
        }
        if !more {
            return Ok(());
        }
    }
}

/// What a page's response says about its range.
#[derive(Debug, Clone, Copy)]
struct Response<'a> {
    first: Option<&'a [u8]>,
    last: Option<&'a [u8]>,
    len: usize,
    /// More keys in the requested range than the limit let through.
    more: bool,
    /// Keys in the requested range (etcd counts them whatever the limit).
    in_range: u64,
}

/// The requests that page through one piece `[start, end)`: told what each
/// response held, it says what to ask next. Every key of the piece is in
/// exactly one response, whatever the guesses.
#[derive(Debug)]
struct PiecePages {
    end: Vec<u8>,
    from: Vec<u8>,
    to: Vec<u8>,
    stride: Option<Stride>,
}

impl PiecePages {
    fn new(start: &[u8], end: &[u8]) -> PiecePages {
        // The first request spans the piece: nothing is known of its keys yet.
        PiecePages {
            end: end.to_vec(),
            from: start.to_vec(),
            to: end.to_vec(),
            stride: None,
        }
    }

    /// The next request's `[from, to)`.
    fn range(&self) -> (&[u8], &[u8]) {
        (&self.from, &self.to)
    }

    /// Take in the response to [`range`](Self::range); false once the piece
    /// is done. `want` is the next page's size.
    fn advance(&mut self, resp: Response<'_>, want: usize) -> bool {
        match (resp.first, resp.last) {
            (Some(first), Some(last)) if resp.len >= 2 => {
                self.stride = Stride::learn(first, last, resp.len, want).or(self.stride.take());
            }
            // A sparse stretch: reach further next time.
            _ => {
                if let Some(s) = self.stride.as_mut() {
                    s.grow();
                }
            }
        }
        match (resp.more, resp.last) {
            (true, Some(last)) => {
                self.from = last.to_vec();
                self.from.push(0);
                // What is left of this request's range fits a page or two:
                // ask for exactly that.
                let left = resp.in_range.saturating_sub(resp.len as u64);
                if left > (want as u64) * 3 / 2 {
                    let bound = std::mem::take(&mut self.to);
                    self.to = next_end(&self.from, self.stride.as_ref(), bound);
                }
                true
            }
            _ if self.to == self.end => false,
            _ => {
                self.from = std::mem::replace(&mut self.to, self.end.clone());
                let bound = std::mem::take(&mut self.to);
                self.to = next_end(&self.from, self.stride.as_ref(), bound);
                true
            }
        }
    }
}

async fn get_page(
    client: &EtcdClient,
    from: &[u8],
    to: &[u8],
    limit: i64,
    work: &Work,
) -> Result<GetResponse> {
    // Serializable: the pinned revision is committed and applied wherever
    // it is answered, so no request needs another quorum round.
    let mut o = GetOptions::new()
        .with_range(to.to_vec())
        .with_limit(limit)
        .with_revision(work.revision)
        .with_serializable();
    if work.opts.keys_only {
        o = o.with_keys_only();
    }
    let mut kv = client.kv();
    client.call(kv.get(from.to_vec(), Some(o))).await
}

/// How far past a key the next page should end, learnt from the keys of
/// the last page: keys are read as numbers, the 8 bytes after the prefix
/// that a page's first and last keys share.
#[derive(Debug, Clone, PartialEq)]
struct Stride {
    /// The depth at which keys are read as numbers.
    depth: usize,
    /// The distance, in those numbers, that holds about one page of keys.
    step: f64,
}

impl Stride {
    /// From a page of `n` keys `first..=last`, for pages of `want` keys.
    fn learn(first: &[u8], last: &[u8], n: usize, want: usize) -> Option<Stride> {
        let depth = shared_len(first, last);
        let (a, b) = (be_u64(&first[depth..]), be_u64(&last[depth..]));
        if n < 2 || b <= a {
            return None;
        }
        // A little short of a page: a page that falls short costs a round
        // trip, one that overshoots costs a walk over everything it spans.
        let step = (b - a) as f64 / (n - 1) as f64 * want as f64 * 0.8;
        Some(Stride {
            depth,
            step: step.max(1.0),
        })
    }

    fn grow(&mut self) {
        self.step *= 4.0;
        // Past everything at this depth: measure one byte up.
        while self.step >= u64::MAX as f64 && self.depth > 0 {
            self.step /= 256.0;
            self.depth -= 1;
        }
    }

    /// The end of a page starting at `from`. Keys under another prefix of
    /// the same depth (the next namespace, say) are taken to be spaced
    /// alike.
    fn end_after(&self, from: &[u8]) -> Option<Vec<u8>> {
        let mut prefix = from[..self.depth.min(from.len())].to_vec();
        prefix.resize(self.depth, 0);
        let base = be_u64(from.get(self.depth..).unwrap_or_default());
        let target = base as f64 + self.step;
        if target >= u64::MAX as f64 {
            // Past every key under the prefix.
            let end = prefix_end(&prefix);
            return (end != [0]).then_some(end);
        }
        let mut end = prefix;
        end.extend_from_slice(&(target as u64).to_be_bytes());
        // Shorter and still past `from`: the first byte that differs is not 0.
        while end.len() > self.depth && end.last() == Some(&0) {
            end.pop();
        }
        Some(end)
    }
}

fn shared_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn be_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(buf)
}

/// Where a page from `from` should end: the stride's guess when it lies
/// before `bound`, else `bound` (`[0]` is the end of the keyspace).
fn next_end(from: &[u8], stride: Option<&Stride>, bound: Vec<u8>) -> Vec<u8> {
    match stride.and_then(|s| s.end_after(from)) {
        Some(g) if g.as_slice() > from && (bound == [0] || g < bound) => g,
        _ => bound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Page through `keys` (sorted) over `[start, end)` as etcd would answer:
    /// each request returns up to `want` keys of its range and counts them
    /// all. Returns the keys seen, the requests made and the keys walked.
    fn page_through(
        keys: &[Vec<u8>],
        start: &[u8],
        end: &[u8],
        want: usize,
    ) -> (Vec<Vec<u8>>, usize, usize) {
        let mut plan = PiecePages::new(start, end);
        let (mut seen, mut requests, mut walked) = (Vec::new(), 0, 0);
        loop {
            let (from, to) = plan.range();
            assert!(from < to || to == [0], "empty request {from:?}..{to:?}");
            let in_range: Vec<&Vec<u8>> = keys
                .iter()
                .filter(|k| k.as_slice() >= from && (to == [0] || k.as_slice() < to))
                .collect();
            let page: Vec<&Vec<u8>> = in_range.iter().take(want).copied().collect();
            requests += 1;
            walked += in_range.len();
            assert!(requests < 100_000, "no progress");
            seen.extend(page.iter().map(|k| k.to_vec()));
            let resp = Response {
                first: page.first().map(|k| k.as_slice()),
                last: page.last().map(|k| k.as_slice()),
                len: page.len(),
                more: in_range.len() > page.len(),
                in_range: in_range.len() as u64,
            };
            if !plan.advance(resp, want) {
                return (seen, requests, walked);
            }
        }
    }

    #[test]
    fn paging_sees_every_key_once_and_walks_each_about_once() {
        // Kubernetes-shaped keys: namespaces of very different sizes, names
        // whose decimal suffixes sort unevenly.
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for (ns, n) in [
            ("default", 3),
            ("kube-system", 40_000),
            ("ns-1", 17),
            ("team-a", 25_000),
        ] {
            for i in 0..n {
                keys.push(format!("/registry/pods/{ns}/pod-{}", i * 7).into_bytes());
            }
        }
        keys.sort();
        let (start, end) = (b"/registry/pods/".to_vec(), b"/registry/pods0".to_vec());
        let (seen, requests, walked) = page_through(&keys, &start, &end, 1000);
        assert_eq!(seen, keys, "every key once, in order");
        // Without the stride every page walks to the piece's end: about
        // 65,000 * 65 / 2 = 2,100,000 keys, 32 times the keys. With it: the
        // first request walks the piece once, later ones what they span
        // (decimal names sort unevenly, so a guess may span 1.6 pages).
        assert!(
            walked < 4 * keys.len(),
            "walked {walked} keys for {}",
            keys.len()
        );
        assert!(
            requests < 600,
            "{requests} requests for {} pages",
            keys.len() / 1000
        );
    }

    #[test]
    fn paging_handles_empty_sparse_and_tiny_pieces() {
        let (start, end) = (b"/registry/a/".to_vec(), b"/registry/a0".to_vec());
        assert_eq!(page_through(&[], &start, &end, 10), (vec![], 1, 0));
        let one = vec![b"/registry/a/x".to_vec()];
        assert_eq!(page_through(&one, &start, &end, 10).0, one);
        // Dense runs separated by wide gaps, pages of one key, the keyspace's end.
        let mut keys: Vec<Vec<u8>> = (0..50)
            .map(|i| format!("/registry/a/{i:03}").into_bytes())
            .collect();
        keys.extend((0..50).map(|i| format!("/registry/a/zz{i}").into_bytes()));
        keys.push(b"/registry/a/\xff\xff".to_vec());
        keys.sort();
        for want in [1, 3, 1000] {
            assert_eq!(
                page_through(&keys, &start, &end, want).0,
                keys,
                "pages of {want}"
            );
            assert_eq!(
                page_through(&keys, b"\0", &[0], want).0,
                keys,
                "to the keyspace's end, pages of {want}"
            );
        }
    }

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
