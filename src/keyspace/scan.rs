//! Paginated range reads at one revision: the only way keyspace commands
//! read many keys, so memory holds a few pages, never the keyspace.
//!
//! A scan pins the current revision with one read (linearizable unless
//! `--consistency s`) and reads every page at it, so it sees one consistent
//! keyspace. If that revision is compacted away mid-scan, an aggregating
//! scan restarts once at the current revision and tells its visitor to
//! reset; a listing ([`ScanOptions::resuming`]) goes on at the current
//! revision after the last key its visitor received of each piece, so no
//! row is shown twice.
//!
//! Pages of values are bounded by bytes, the first included: the first
//! page of a piece assumes etcd's largest values, later ones go by the
//! largest value just seen. A response the client still refuses as too
//! large is asked again half as long.
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

use super::error::{Error as ScanError, Result as ScanResult};
use super::plan;
use crate::error::Result;
use crate::etcd::maintenance::current_revision;
use crate::etcd::{self, EtcdClient, Readers};

/// The largest value etcd stores by default (`--max-request-bytes`): what
/// the first page of a piece assumes each key may weigh, until its keys
/// say otherwise.
const ASSUMED_VALUE: usize = 1536 * 1024;

/// What a scan does when its revision is compacted away mid-scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCompaction {
    /// Forget everything and read it all again at the current revision
    /// (counts and sizes must come from one revision).
    Restart,
    /// Go on after the last key the visitor received, at the current
    /// revision: a listing never shows a row twice.
    Resume,
}

/// How a scan reads.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// Only keys (and their metadata), no values.
    pub keys_only: bool,
    /// Read at this revision (0: the current one).
    pub revision: i64,
    /// Serializable reads: answered by the member alone, without quorum.
    pub serializable: bool,
    /// Keys per page at most.
    pub page_keys: i64,
    /// Pages of values hold about this many bytes: the first page of a
    /// piece assumes the largest values etcd allows, later ones go by the
    /// largest value seen in the page before.
    pub page_bytes: usize,
    /// Pages reach the visitor in key order. Without it, pieces are visited
    /// as they arrive (see [`scan_pieces`]), which keeps every reader busy.
    pub ordered: bool,
    /// What a compaction mid-scan does.
    pub on_compaction: OnCompaction,
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
            on_compaction: OnCompaction::Restart,
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
            on_compaction: OnCompaction::Restart,
        }
    }

    /// Any order will do: the visitor only aggregates.
    pub fn unordered(mut self) -> ScanOptions {
        self.ordered = false;
        self
    }

    /// A listing: after a compaction mid-scan, go on after the last key
    /// shown rather than show every row again.
    pub fn resuming(mut self) -> ScanOptions {
        self.on_compaction = OnCompaction::Resume;
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

    /// The first page's size: as many of the largest values etcd allows
    /// as fit the byte budget.
    fn first_limit(&self) -> i64 {
        if self.keys_only {
            return self.page_keys.max(1);
        }
        let fit = (self.page_bytes / ASSUMED_VALUE).max(1) as i64;
        fit.clamp(1, self.page_keys.max(1))
    }

    /// The next page's size after a page whose largest key and value took
    /// `largest` bytes: what fits the budget, growing at most twofold.
    fn next_limit(&self, limit: i64, largest: usize) -> i64 {
        if self.keys_only {
            return limit;
        }
        let fit = (self.page_bytes / largest.max(1)).max(1) as i64;
        fit.min(limit.saturating_mul(2))
            .clamp(1, self.page_keys.max(1))
    }
}

/// What the visitor is told.
pub enum Page<'a> {
    /// Keys in order; the slice is dropped after the call.
    Keys(&'a [KeyValue]),
    /// Forget what was seen: the revision was compacted mid-scan and the
    /// scan starts again at revision `now` ([`OnCompaction::Restart`]).
    Restart { now: i64 },
    /// Revision `was` was compacted mid-scan; the scan goes on after the
    /// last key delivered, at revision `now` ([`OnCompaction::Resume`]).
    Resumed {
        was: i64,
        now: i64,
        /// The last key delivered before, in an ordered scan.
        after: Option<Vec<u8>>,
        /// Whether any key was delivered before.
        delivered: bool,
    },
}

impl Page<'_> {
    /// What a listing says on stderr when told [`Page::Resumed`] (or
    /// [`Page::Restart`]); `None` for keys.
    pub fn notice(&self) -> Option<String> {
        match self {
            Page::Keys(_) => None,
            Page::Restart { now } => Some(format!(
                "the scan's revision was compacted: starting again at revision {now}"
            )),
            Page::Resumed {
                was,
                now,
                after,
                delivered,
            } => Some(match (after, delivered) {
                (Some(key), _) => format!(
                    "revision {was} was compacted during the scan: going on after `{}` at revision {now}",
                    String::from_utf8_lossy(key).escape_debug()
                ),
                (None, true) => format!(
                    "revision {was} was compacted during the scan: going on after the keys shown, at revision {now}"
                ),
                (None, false) => format!(
                    "revision {was} was compacted before the first key: reading at revision {now}"
                ),
            }),
        }
    }
}

/// The outcome of a scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanSummary {
    /// The revision every page was read at (the last one, if the scan
    /// resumed at a newer one).
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
) -> ScanResult<ScanSummary>
where
    F: FnMut(Page<'_>) -> Result<()>,
{
    let ranges = [(start.to_vec(), end.to_vec())];
    scan_pieces(readers, prefix, &ranges, opts, |_, page| {
        page.map_or(Ok(()), &mut visit)
    })
    .await
}

/// How far the visitor got in one piece.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Progress {
    Fresh,
    After(Vec<u8>),
    Done,
}

/// Why one pass of a scan stopped.
enum Stopped {
    /// A read failed.
    Read(ScanError),
    /// The visitor returned an error.
    Visitor(crate::error::Error),
}

/// How many compactions a resuming scan goes on after. Each must have let
/// it advance; this bounds a scan that something compacts over and over.
const MAX_RESUMES: u32 = 100;

/// The scan itself, over several ranges (in order, not overlapping) at one
/// revision. `visit` also learns which piece (numbered in key
/// order) each page belongs to, and is told `None` when a piece is done,
/// so an unordered scan's visitor can put what it prints back in order
/// (see `search`). Piece numbers stay the same across a resume.
pub async fn scan_pieces<F>(
    readers: &Readers,
    prefix: &str,
    ranges: &[(Vec<u8>, Vec<u8>)],
    opts: ScanOptions,
    mut visit: F,
) -> ScanResult<ScanSummary>
where
    F: FnMut(usize, Option<Page<'_>>) -> Result<()>,
{
    let pieces: Vec<(Vec<u8>, Vec<u8>)> = ranges
        .iter()
        .flat_map(|(start, end)| plan::cut(start, end, prefix))
        .map(|p| (p.start, p.end))
        .collect();
    let mut progress = vec![Progress::Fresh; pieces.len()];
    let mut summary = ScanSummary::default();
    let mut compactions = 0u32;
    // The last key delivered, in key order (ordered scans), for the notice.
    let mut last_key: Option<Vec<u8>> = None;
    loop {
        let before = progress.clone();
        let outcome = scan_once(
            readers,
            &pieces,
            &mut progress,
            &mut summary,
            &mut last_key,
            opts,
            &mut visit,
        )
        .await;
        match outcome {
            Ok(()) => return Ok(summary),
            Err(Stopped::Visitor(e)) => return Err(ScanError::Visitor(Box::new(e))),
            Err(Stopped::Read(ScanError::Etcd(etcd::Error::Compacted))) if opts.revision == 0 => {
                compactions += 1;
                let was = summary.revision;
                let now = pin_revision(readers.primary(), opts.serializable, &pieces)
                    .await
                    .map_err(ScanError::Etcd)?;
                match opts.on_compaction {
                    OnCompaction::Restart if compactions > 1 => {
                        return Err(ScanError::CompactedRepeatedly { times: compactions })
                    }
                    OnCompaction::Restart => {
                        progress.fill(Progress::Fresh);
                        summary.keys = 0;
                        visit(0, Some(Page::Restart { now }))
                            .map_err(|e| ScanError::Visitor(Box::new(e)))?;
                    }
                    // Each resume must have moved on, or the next
                    // compaction would only repeat this one.
                    OnCompaction::Resume if compactions > MAX_RESUMES || before == progress => {
                        return Err(ScanError::CompactedRepeatedly { times: compactions })
                    }
                    OnCompaction::Resume => {
                        let after = if opts.ordered { last_key.clone() } else { None };
                        let delivered = progress.iter().any(|p| *p != Progress::Fresh);
                        visit(
                            0,
                            Some(Page::Resumed {
                                was,
                                now,
                                after,
                                delivered,
                            }),
                        )
                        .map_err(|e| ScanError::Visitor(Box::new(e)))?;
                    }
                }
            }
            Err(Stopped::Read(ScanError::Etcd(etcd::Error::Compacted))) => {
                return Err(ScanError::Compacted {
                    revision: opts.revision,
                });
            }
            Err(Stopped::Read(ScanError::Etcd(etcd::Error::FutureRevision))) => {
                let current = pin_revision(readers.primary(), opts.serializable, &pieces)
                    .await
                    .map_err(ScanError::Etcd)?;
                return Err(ScanError::FutureRevision {
                    revision: opts.revision,
                    current,
                });
            }
            Err(Stopped::Read(e)) => return Err(denied(e, &pieces)),
        }
    }
}

/// The current revision, from a read inside the range itself (one key at
/// most, keys only): a user allowed to read only this range (`ls
/// configmaps`) may read nothing else.
async fn pin_revision(
    client: &crate::etcd::EtcdClient,
    serializable: bool,
    pieces: &[(Vec<u8>, Vec<u8>)],
) -> etcd::Result<i64> {
    let (Some((start, _)), Some((_, end))) = (pieces.first(), pieces.last()) else {
        return current_revision(client, serializable).await;
    };
    let mut kv = client.kv();
    let mut opts = etcd_client::GetOptions::new()
        .with_range(end.clone())
        .with_keys_only()
        .with_limit(1);
    if serializable {
        opts = opts.with_serializable();
    }
    let resp = client.call(kv.get(start.clone(), Some(opts))).await?;
    Ok(resp.header().map(|h| h.revision()).unwrap_or_default())
}

/// etcd refused to let this user read the range: say which.
fn denied(e: ScanError, pieces: &[(Vec<u8>, Vec<u8>)]) -> ScanError {
    match (&e, pieces.first(), pieces.last()) {
        (
            ScanError::Etcd(etcd::Error::PermissionDenied)
            | ScanError::NoQuorumRead(etcd::Error::PermissionDenied),
            Some((start, _)),
            Some((_, end)),
        ) => ScanError::ReadDenied {
            range: super::error::describe_range(start, end),
        },
        _ => e,
    }
}

/// A linearizable read that got no answer: without quorum none will, but
/// each member can still say what it holds.
pub fn suggest_serializable(e: etcd::Error, serializable: bool) -> ScanError {
    if serializable {
        ScanError::Etcd(e)
    } else {
        ScanError::NoQuorumRead(e)
    }
}

/// What a reader sends: a page of a piece, or `None` when the piece is done.
type Delivery = (usize, std::result::Result<Option<Vec<KeyValue>>, ScanError>);

/// The pieces of one pass and who reads which: `(number, start, end)`.
struct Work {
    pieces: Vec<(usize, Vec<u8>, Vec<u8>)>,
    next: AtomicUsize,
    /// Where each piece's pages go: its own channel when ordered, one
    /// shared channel when not.
    senders: Mutex<Vec<Option<mpsc::Sender<Delivery>>>>,
    revision: i64,
    opts: ScanOptions,
}

/// One pass over the pieces not done yet, at one revision, each from after
/// the last key the visitor received of it.
async fn scan_once<F>(
    readers: &Readers,
    all: &[(Vec<u8>, Vec<u8>)],
    progress: &mut [Progress],
    summary: &mut ScanSummary,
    last_key: &mut Option<Vec<u8>>,
    opts: ScanOptions,
    visit: &mut F,
) -> std::result::Result<(), Stopped>
where
    F: FnMut(usize, Option<Page<'_>>) -> Result<()>,
{
    // Linearizable unless asked otherwise: a scan of a cluster without
    // quorum fails here, before it reads anything stale.
    let current = pin_revision(readers.primary(), opts.serializable, all)
        .await
        .map_err(|e| {
            if opts.serializable {
                Stopped::Read(ScanError::Etcd(e))
            } else {
                Stopped::Read(ScanError::NoQuorumRead(e))
            }
        })?;
    let revision = if opts.revision > 0 {
        opts.revision
    } else {
        current
    };
    summary.revision = revision;
    let pieces: Vec<(usize, Vec<u8>, Vec<u8>)> = all
        .iter()
        .enumerate()
        .filter_map(|(i, (start, end))| match &progress[i] {
            Progress::Done => None,
            Progress::Fresh => Some((i, start.clone(), end.clone())),
            Progress::After(key) => {
                let mut from = key.clone();
                from.push(0);
                Some((i, from, end.clone()))
            }
        })
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

    let mut done = 0;
    let mut channel = 0;
    while done < count {
        let Some(pages) = receivers.get_mut(channel) else {
            break;
        };
        let (piece, delivery) = pages
            .recv()
            .await
            .ok_or(Stopped::Read(ScanError::ReaderStopped))?;
        match delivery.map_err(Stopped::Read)? {
            Some(kvs) => {
                summary.keys += kvs.len() as u64;
                visit(piece, Some(Page::Keys(&kvs))).map_err(Stopped::Visitor)?;
                // Recorded once the visitor has it: a resume starts after.
                if let Some(last) = kvs.last() {
                    progress[piece] = Progress::After(last.key().to_vec());
                    if opts.ordered {
                        *last_key = Some(last.key().to_vec());
                    }
                }
            }
            None => {
                done += 1;
                if opts.ordered {
                    channel += 1;
                }
                progress[piece] = Progress::Done;
                visit(piece, None).map_err(Stopped::Visitor)?;
            }
        }
    }
    Ok(())
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
        let (number, start, end) = &work.pieces[index];
        let outcome = read_piece(
            &mut client,
            &mut fallback,
            *number,
            start,
            end,
            &work,
            &sender,
        )
        .await;
        let delivered = match outcome {
            Ok(()) => sender.send((*number, Ok(None))).await,
            Err(Stop::Failed(e)) => sender.send((*number, Err(e))).await,
            Err(Stop::VisitorGone) => return,
        };
        if delivered.is_err() {
            return;
        }
    }
}

enum Stop {
    Failed(ScanError),
    VisitorGone,
}

/// Page through one piece; each request ends about one page past its start.
async fn read_piece(
    client: &mut EtcdClient,
    fallback: &mut Option<EtcdClient>,
    number: usize,
    start: &[u8],
    end: &[u8],
    work: &Work,
    sender: &mpsc::Sender<Delivery>,
) -> std::result::Result<(), Stop> {
    let opts = work.opts;
    let mut limit = opts.first_limit();
    let mut plan = PiecePages::new(start, end);
    loop {
        let (from, to) = plan.range();
        let mut resp = match get_page(client, from, to, limit, work).await {
            Ok(r) => r,
            // Too large for the client: the same page, half as long.
            Err(etcd::Error::ResponseTooLarge(_)) if limit > 1 => {
                limit = (limit / 2).max(1);
                continue;
            }
            Err(etcd::Error::ResponseTooLarge(_)) => {
                return Err(Stop::Failed(ScanError::ValueTooLarge {
                    key: String::from_utf8_lossy(from).escape_debug().to_string(),
                    limit: etcd::client::max_response(),
                }))
            }
            // Compaction is the same on every member; anything else (a
            // follower behind the pinned revision, gone) may not be.
            Err(e @ etcd::Error::Compacted) => return Err(Stop::Failed(e.into())),
            Err(e) => match fallback.take() {
                Some(primary) => {
                    *client = primary;
                    continue;
                }
                None => return Err(Stop::Failed(e.into())),
            },
        };
        let kvs = resp.take_kvs();
        let largest = kvs
            .iter()
            .map(|kv| kv.key().len() + kv.value().len())
            .max()
            .unwrap_or(0);
        limit = opts.next_limit(limit, largest);
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
        if sender.send((number, Ok(Some(kvs)))).await.is_err() {
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
) -> etcd::Result<GetResponse> {
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
    fn value_pages_are_bounded_by_bytes_from_the_first_one() {
        let opts = ScanOptions::values();
        // The first page: as many of etcd's largest values as fit 8 MiB.
        let first = opts.first_limit();
        assert_eq!(first, 5);
        assert!(first as usize * ASSUMED_VALUE <= opts.page_bytes);
        // Small values: the page grows, at most twofold, up to page_keys.
        let mut limit = first;
        for _ in 0..20 {
            limit = opts.next_limit(limit, 2_000);
        }
        assert_eq!(limit, opts.page_keys);
        assert_eq!(opts.next_limit(10, 100), 20, "at most twofold");
        // Then a page of 1.5 MiB values: straight back within the budget.
        let limit = opts.next_limit(limit, ASSUMED_VALUE);
        assert!(limit as usize * ASSUMED_VALUE <= opts.page_bytes, "{limit}");
        // A value larger than the whole budget: one key per page.
        assert_eq!(opts.next_limit(limit, 20 * 1024 * 1024), 1);
        // Keys only: count-bounded as before.
        let keys = ScanOptions::keys_only();
        assert_eq!(keys.first_limit(), keys.page_keys);
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

    /// Threads that decode values (default: one per core); 1 decodes on
    /// the thread that prints, as tests compare.
    #[arg(
        long,
        hide = true,
        env = "KUBECTL_ETCD_DECODE_WORKERS",
        value_name = "N"
    )]
    pub decode_workers: Option<usize>,

    /// Read the whole range even when the pattern or `-n` pins a few key
    /// ranges (tests compare both).
    #[arg(long, hide = true)]
    pub full_scan: bool,
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
