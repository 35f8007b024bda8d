//! Splitting a range at the built-in types' storage prefixes, and counting
//! each piece with count-only reads bundled in transactions, all at one
//! revision. Never prints.
//!
//! Scans read the pieces in parallel (see `scan`). `count` counts a piece
//! that is exactly one built-in type's prefix without reading a key: every
//! key under `<prefix>/<storage>/` parses as that type, and etcd counts
//! from its index.

use etcd_client::{GetOptions, Txn, TxnOp, TxnOpResponse};
use registry::resources::{self, ResourceType};

use super::error::Result;
use super::scan::{prefix_end, scan, suggest_serializable, Page, ScanOptions};
use crate::etcd::{EtcdClient, Readers};

/// etcd's default `--max-txn-ops` is 128.
const OPS_PER_TXN: usize = 120;

/// One piece of a range.
#[derive(Debug, Clone)]
pub struct Piece {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    pub count: u64,
    /// Set when the piece is exactly this built-in type's key prefix.
    pub builtin: Option<&'static ResourceType>,
}

/// `a < b` for range ends, where `[0]` means the end of the keyspace.
fn before_end(key: &[u8], end: &[u8]) -> bool {
    end == [0] || key < end
}

/// The pieces of `[start, end)` cut at every built-in type's
/// `<prefix>/<storage>/` and its end. Together they cover the range exactly.
pub fn cut(start: &[u8], end: &[u8], prefix: &str) -> Vec<Piece> {
    let prefix = registry::key::normalize_prefix(prefix);
    let mut points: Vec<(Vec<u8>, Option<&'static ResourceType>)> = Vec::new();
    for t in resources::builtin() {
        let p = format!("{prefix}/{}/", t.storage).into_bytes();
        let e = prefix_end(&p);
        for (point, ty) in [(p, Some(t)), (e, None)] {
            if point.as_slice() > start && before_end(&point, end) {
                points.push((point, ty));
            }
        }
    }
    points.sort_by(|a, b| a.0.cmp(&b.0));
    // Where one type's end is another's start, keep the start.
    points.dedup_by(|later, kept| {
        if later.0 != kept.0 {
            return false;
        }
        if kept.1.is_none() {
            kept.1 = later.1;
        }
        true
    });
    let mut pieces = Vec::with_capacity(points.len() + 1);
    let mut from = (start.to_vec(), type_at(start, prefix));
    for (point, ty) in points {
        pieces.push(piece(from.0, point.clone(), from.1, prefix));
        from = (point, ty);
    }
    pieces.push(piece(from.0, end.to_vec(), from.1, prefix));
    pieces
}

/// The built-in type whose whole prefix starts at `start`, if any.
fn type_at(start: &[u8], prefix: &str) -> Option<&'static ResourceType> {
    resources::builtin()
        .iter()
        .find(|t| format!("{prefix}/{}/", t.storage).as_bytes() == start)
}

fn piece(start: Vec<u8>, end: Vec<u8>, ty: Option<&'static ResourceType>, prefix: &str) -> Piece {
    // A piece starting at a type's prefix is that type only if it also
    // ends where the prefix does, and if keys below it parse as that type
    // (a one-segment storage path wins over a two-segment one).
    let builtin = ty.filter(|t| {
        let mut probe = start.clone();
        probe.extend_from_slice(b"ns/name");
        end == prefix_end(&start)
            && registry::key::parse(&probe, prefix)
                .resource_type
                .is_some_and(|p| p.plural == t.plural && p.group == t.group)
    });
    Piece {
        start,
        end,
        count: 0,
        builtin,
    }
}

/// Count every piece of `[start, end)` at one revision (`revision`, or the
/// current one when 0). Returns the revision and the pieces.
///
/// With `serializable` the member answers alone: etcd serves a read-only
/// transaction without a quorum round when all its reads are serializable.
pub async fn count_pieces(
    client: &EtcdClient,
    start: &[u8],
    end: &[u8],
    prefix: &str,
    mut revision: i64,
    serializable: bool,
) -> Result<(i64, Vec<Piece>)> {
    let mut pieces = cut(start, end, prefix);
    let mut kv = client.kv();
    for chunk in pieces.chunks_mut(OPS_PER_TXN) {
        let ops: Vec<TxnOp> = chunk
            .iter()
            .map(|p| {
                let mut o = GetOptions::new()
                    .with_range(p.end.clone())
                    .with_count_only();
                if revision > 0 {
                    o = o.with_revision(revision);
                }
                if serializable {
                    o = o.with_serializable();
                }
                TxnOp::get(p.start.clone(), Some(o))
            })
            .collect();
        let resp = client
            .call(kv.txn(Txn::new().and_then(ops)))
            .await
            .map_err(|e| suggest_serializable(e, serializable))?;
        if revision == 0 {
            revision = resp.header().map(|h| h.revision()).unwrap_or_default();
        }
        for (p, r) in chunk.iter_mut().zip(resp.op_responses()) {
            if let TxnOpResponse::Get(g) = r {
                p.count = g.count().max(0) as u64;
            }
        }
    }
    Ok((revision, pieces))
}

/// Ranges as `(start, end)`, `[0]` as an end meaning the keyspace's end.
pub type Ranges = Vec<(Vec<u8>, Vec<u8>)>;

/// The keys starting with `prefix`, as a range.
fn under(prefix: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    let end = prefix_end(&prefix);
    (prefix, end)
}

/// `a ∩ b`, if not empty.
fn intersect(a: &(Vec<u8>, Vec<u8>), b: &(Vec<u8>, Vec<u8>)) -> Option<(Vec<u8>, Vec<u8>)> {
    let start = a.0.clone().max(b.0.clone());
    let end = match (a.1.as_slice(), b.1.as_slice()) {
        ([0], e) | (e, [0]) => e.to_vec(),
        (x, y) => x.min(y).to_vec(),
    };
    before_end(&start, &end).then_some((start, end))
}

/// Sorted, with overlapping ranges merged.
fn merge(mut ranges: Ranges) -> Ranges {
    ranges.sort();
    let mut out: Ranges = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if last.1 == [0] || r.0 <= last.1 => {
                if last.1 != [0] && (r.1 == [0] || r.1 > last.1) {
                    last.1 = r.1;
                }
            }
            _ => out.push(r),
        }
    }
    out
}

/// The ranges of `[start, end)` a search must read to find every key the
/// whole range holds that can match: in a built-in type's prefix, only the
/// keys under `-n`'s namespace and starting with the literal that begins a
/// glob (`ns-2/pod-42*`: `<type>/ns-2/pod-42`, in every type); everything
/// else (custom resources, keys outside the layout) whole. `literal` is ""
/// when the pattern pins nothing.
///
/// Why it finds the same keys: a glob must match all of the key, its
/// `namespace/name` or its name, so one of them starts with the literal.
/// The key itself starts with it only under `[literal, …)`; a type's
/// `namespace/name` and cluster-scoped name are what follows
/// `<prefix>/<storage>/`; a namespaced name has no `/` and follows a
/// namespace, so a literal without `/` pins it only within `-n`.
pub fn narrow(
    start: &[u8],
    end: &[u8],
    prefix: &str,
    namespace: Option<&str>,
    literal: &str,
) -> Ranges {
    let mut out = Vec::new();
    for p in cut(start, end, prefix) {
        let piece = (p.start, p.end);
        let Some(t) = p.builtin else {
            out.push(piece);
            continue;
        };
        let base = piece.0.clone();
        let with = |tail: &str| {
            let mut k = base.clone();
            k.extend_from_slice(tail.as_bytes());
            under(k)
        };
        let whole = piece.clone();
        let mut wanted: Ranges = if literal.is_empty() {
            vec![whole]
        } else if literal.contains('/') || !t.namespaced {
            vec![with(literal), under(literal.as_bytes().to_vec())]
        } else {
            match namespace {
                Some(ns) if !ns.starts_with(literal) => {
                    vec![
                        with(&format!("{ns}/{literal}")),
                        under(literal.as_bytes().to_vec()),
                    ]
                }
                _ => vec![whole],
            }
        };
        if let Some(ns) = namespace {
            // Cluster-scoped keys are in no namespace.
            let in_ns = with(&format!("{ns}/"));
            wanted = if t.namespaced {
                wanted.iter().filter_map(|r| intersect(r, &in_ns)).collect()
            } else {
                Vec::new()
            };
        }
        out.extend(merge(wanted).iter().filter_map(|r| intersect(r, &piece)));
    }
    out
}

/// The names of the Namespace objects (`<prefix>/namespaces/<name>`),
/// read keys-only at `opts.revision`.
pub async fn namespace_names(
    readers: &Readers,
    prefix: &str,
    opts: ScanOptions,
) -> Result<Vec<String>> {
    let start = format!("{}/namespaces/", registry::key::normalize_prefix(prefix)).into_bytes();
    let end = prefix_end(&start);
    let mut names = Vec::new();
    scan(readers, prefix, &start, &end, opts, |page| {
        if let Page::Keys(kvs) = page {
            names.extend(kvs.iter().filter_map(|kv| {
                let name = kv.key().strip_prefix(start.as_slice())?;
                std::str::from_utf8(name).ok().map(str::to_string)
            }));
        }
        Ok(())
    })
    .await?;
    Ok(names)
}

/// Keys of one built-in type in one namespace (`None`: in none of the
/// namespaces known, not yet told apart).
#[derive(Debug, Clone)]
pub struct Span {
    pub resource: &'static ResourceType,
    pub namespace: Option<String>,
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    /// The type's `<prefix>/<storage>/`.
    base: Vec<u8>,
    /// Counted yet.
    counted: bool,
    pub count: u64,
}

/// Per-namespace counts of namespaced built-in types.
#[derive(Debug, Default)]
pub struct NamespaceCounts {
    /// Counted spans, one per (type, namespace) that holds keys.
    pub spans: Vec<Span>,
    /// What the index could not tell apart (keys that are not
    /// `<namespace>/<name>`): the caller scans these keys.
    pub rest: Ranges,
}

/// Probe rounds for namespaces without a Namespace object; what is left
/// after them is scanned.
const PROBE_ROUNDS: usize = 16;

/// The spans of one type (`base` = `<prefix>/<storage>/`) over
/// `[start, end)`: one per namespace in it and the gaps between.
fn spans_of(
    resource: &'static ResourceType,
    base: &[u8],
    (start, end): (&[u8], &[u8]),
    namespaces: &[Vec<u8>],
    gaps: bool,
) -> Vec<Span> {
    let span = |namespace: Option<String>, start: Vec<u8>, end: Vec<u8>| Span {
        resource,
        namespace,
        start,
        end,
        base: base.to_vec(),
        counted: false,
        count: 0,
    };
    let mut out = Vec::new();
    let mut from = start.to_vec();
    for ns in namespaces {
        let mut p = base.to_vec();
        p.extend_from_slice(ns);
        p.push(b'/');
        if p.as_slice() < start || !before_end(&p, end) {
            continue;
        }
        let e = prefix_end(&p);
        if gaps && from < p {
            out.push(span(None, from, p.clone()));
        }
        let name = String::from_utf8_lossy(ns).into_owned();
        out.push(span(Some(name), p, e.clone()));
        from = e;
    }
    if gaps && before_end(&from, end) {
        out.push(span(None, from, end.to_vec()));
    }
    out
}

/// Count the keys of namespaced built-in types per namespace at
/// `revision`, from etcd's index: every `(type, namespace)` prefix with
/// count-only reads bundled in transactions, no key read.
///
/// `types` are the types' `<prefix>/<storage>/`. With `discover`,
/// `namespaces` is a start (the Namespace objects): the ranges between
/// them are counted too, and one that holds keys is probed for its first
/// key, whose namespace splits it, until the gaps are empty; a gap whose
/// first key is no `<namespace>/<name>` is left for the caller to scan.
/// Without it, only the namespaces given are counted (`-n`).
pub async fn count_namespaces(
    client: &EtcdClient,
    types: &[(&'static ResourceType, Vec<u8>)],
    namespaces: &[String],
    discover: bool,
    revision: i64,
    serializable: bool,
) -> Result<NamespaceCounts> {
    let mut known: Vec<Vec<u8>> = namespaces
        .iter()
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .map(|n| {
            let mut p = n.as_bytes().to_vec();
            p.push(b'/');
            p
        })
        .collect();
    // In key order of `<namespace>/`, which is not the names' order.
    known.sort();
    known.dedup();
    let strip = |v: &Vec<u8>| v[..v.len() - 1].to_vec();
    let known_names: Vec<Vec<u8>> = known.iter().map(strip).collect();
    let mut spans: Vec<Span> = types
        .iter()
        .flat_map(|(t, base)| {
            let end = prefix_end(base);
            spans_of(t, base, (base, &end), &known_names, discover)
        })
        .collect();
    let mut out = NamespaceCounts::default();
    let mut kv = client.kv();
    for round in 0..=PROBE_ROUNDS {
        // Count what is not counted yet.
        let todo: Vec<usize> = (0..spans.len()).filter(|&i| !spans[i].counted).collect();
        for chunk in todo.chunks(OPS_PER_TXN) {
            let ops: Vec<TxnOp> = chunk
                .iter()
                .map(|&i| read_op(&spans[i], revision, serializable, Read::Count))
                .collect();
            let resp = client
                .call(kv.txn(Txn::new().and_then(ops)))
                .await
                .map_err(|e| suggest_serializable(e, serializable))?;
            for (&i, r) in chunk.iter().zip(resp.op_responses()) {
                if let TxnOpResponse::Get(g) = r {
                    spans[i].count = g.count().max(0) as u64;
                }
                spans[i].counted = true;
            }
        }
        // Split the gaps that hold keys at the namespace of their first key.
        let (gaps, done): (Vec<Span>, Vec<Span>) = spans
            .into_iter()
            .filter(|s| s.count > 0)
            .partition(|s| s.namespace.is_none());
        out.spans.extend(done);
        if gaps.is_empty() {
            return Ok(out);
        }
        if round == PROBE_ROUNDS {
            out.rest.extend(gaps.into_iter().map(|s| (s.start, s.end)));
            break;
        }
        let mut firsts: Vec<Option<Vec<u8>>> = Vec::with_capacity(gaps.len());
        for chunk in gaps.chunks(OPS_PER_TXN) {
            let ops: Vec<TxnOp> = chunk
                .iter()
                .map(|s| read_op(s, revision, serializable, Read::FirstKey))
                .collect();
            let resp = client
                .call(kv.txn(Txn::new().and_then(ops)))
                .await
                .map_err(|e| suggest_serializable(e, serializable))?;
            for r in resp.op_responses() {
                firsts.push(match r {
                    TxnOpResponse::Get(g) => g.kvs().first().map(|kv| kv.key().to_vec()),
                    _ => None,
                });
            }
        }
        // A gap whose first key is no `<namespace>/<name>` cannot be split
        // by namespace: its keys are scanned.
        let mut met: Vec<Vec<u8>> = Vec::new();
        let mut stuck = Vec::with_capacity(gaps.len());
        for (gap, first) in gaps.iter().zip(&firsts) {
            let ns = first.as_deref().and_then(|k| namespace_of(k, gap));
            stuck.push(ns.is_none());
            if let Some(ns) = ns.filter(|ns| !met.contains(ns)) {
                met.push(ns);
            }
        }
        met.sort_by(|a, b| {
            let (mut a, mut b) = (a.clone(), b.clone());
            a.push(b'/');
            b.push(b'/');
            a.cmp(&b)
        });
        spans = Vec::new();
        for (gap, stuck) in gaps.into_iter().zip(stuck) {
            if stuck {
                out.rest.push((gap.start, gap.end));
                continue;
            }
            spans.extend(spans_of(
                gap.resource,
                &gap.base,
                (&gap.start, &gap.end),
                &met,
                true,
            ));
        }
    }
    Ok(out)
}

/// The namespace of `key`, a key of the gap's type, if it is
/// `<namespace>/<name>` below the type's prefix.
fn namespace_of(key: &[u8], gap: &Span) -> Option<Vec<u8>> {
    let tail = key.strip_prefix(gap.base.as_slice())?;
    let slash = tail.iter().position(|&b| b == b'/')?;
    let (ns, name) = (&tail[..slash], &tail[slash + 1..]);
    (!ns.is_empty() && !name.contains(&b'/')).then(|| ns.to_vec())
}

enum Read {
    Count,
    FirstKey,
}

fn read_op(s: &Span, revision: i64, serializable: bool, read: Read) -> TxnOp {
    let mut o = GetOptions::new().with_range(s.end.clone());
    o = match read {
        Read::Count => o.with_count_only(),
        Read::FirstKey => o.with_keys_only().with_limit(1),
    };
    if revision > 0 {
        o = o.with_revision(revision);
    }
    if serializable {
        o = o.with_serializable();
    }
    TxnOp::get(s.start.clone(), Some(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_ranges(key: &[u8], ranges: &Ranges) -> bool {
        ranges
            .iter()
            .any(|(s, e)| key >= s.as_slice() && before_end(key, e))
    }

    #[test]
    fn narrowed_ranges_hold_every_key_the_whole_range_would_match() {
        use crate::keyspace::pattern::Pattern;
        let keys: Vec<&[u8]> = vec![
            b"/registry/pods/ns-2/pod-42",
            b"/registry/pods/ns-2/pod-4299",
            b"/registry/pods/ns-2/pod-5",
            b"/registry/pods/ns-20/pod-42",
            b"/registry/pods/ns-2/pod-42/deep",
            b"/registry/pods/kube-system/web-1",
            b"/registry/pods/deploy/web-a",
            b"/registry/pods/deploy",
            b"/registry/deployments/deploy/web-x",
            b"/registry/deployments/ghost/web-1",
            b"/registry/minions/ns-2/pod-42z",
            b"/registry/minions/web-node",
            b"/registry/clusterroles/web-admin",
            b"/registry/namespaces/ns-2",
            b"/registry/namespaces/kube-system",
            b"/registry/services/specs/kube-system/web",
            b"/registry/gadgets.example.org/gizmos/ns-2/pod-42g",
            b"/registry/gadgets.example.org/gizmos/kube-system/web-g",
            b"ns-2/pod-42-outside",
            b"deploy/web-outside",
            b"web-plain",
            b"/other/web-1",
        ];
        let mut patterns: Vec<(&str, bool)> = vec![
            ("ns-2/pod-42*", false),
            ("deploy/web-*", false),
            ("web-*", false),
            ("web-?", false),
            ("/registry/pods/ns-2/*", false),
            ("*pod-42*", false),
            ("web", false),
            ("^web-", true),
            ("ns-2/pod-4[0-9]*", false),
        ];
        patterns.sort();
        for (start, end) in [
            (b"\0".to_vec(), vec![0]),
            (b"/registry/".to_vec(), b"/registry0".to_vec()),
            (b"/registry/pods/".to_vec(), b"/registry/pods0".to_vec()),
        ] {
            for (text, regex) in &patterns {
                let pattern = Pattern::new(text, *regex).unwrap();
                for ns in [
                    None,
                    Some("kube-system"),
                    Some("ns-2"),
                    Some("deploy"),
                    Some("web"),
                ] {
                    let ranges = narrow(&start, &end, "/registry", ns, pattern.literal_prefix());
                    for w in ranges.windows(2) {
                        assert!(
                            w[0].1 <= w[1].0,
                            "{text} {ns:?}: ranges overlap or are out of order: {ranges:?}"
                        );
                    }
                    for key in &keys {
                        let whole = key >= &start.as_slice() && before_end(key, &end);
                        let info = registry::key::parse(key, "/registry");
                        let hit = whole && info.in_namespace(ns) && pattern.matches_key(&info);
                        if hit {
                            assert!(
                                in_ranges(key, &ranges),
                                "{text} -n {ns:?}: `{}` is a hit outside {ranges:?}",
                                String::from_utf8_lossy(key)
                            );
                        }
                        if in_ranges(key, &ranges) {
                            assert!(whole, "{ranges:?} reach outside the range");
                        }
                    }
                }
            }
        }
        // And they are narrow: a namespace and a name prefix pin a type to
        // one small range.
        let pattern = Pattern::new("ns-2/pod-42*", false).unwrap();
        let ranges = narrow(b"\0", &[0], "/registry", None, pattern.literal_prefix());
        assert!(ranges.contains(&(
            b"/registry/pods/ns-2/pod-42".to_vec(),
            b"/registry/pods/ns-2/pod-43".to_vec()
        )));
        assert!(!in_ranges(b"/registry/pods/ns-2/pod-5", &ranges));
        let ranges = narrow(
            b"/registry/",
            b"/registry0",
            "/registry",
            Some("kube-system"),
            "",
        );
        assert!(!in_ranges(b"/registry/pods/ns-2/pod-5", &ranges));
        assert!(!in_ranges(b"/registry/minions/web-node", &ranges));
        assert!(in_ranges(b"/registry/pods/kube-system/x", &ranges));
    }

    #[test]
    fn namespace_spans_and_the_gaps_between_cover_a_type_exactly() {
        let pods = resources::builtin()
            .iter()
            .find(|t| t.plural == "pods")
            .unwrap();
        let base = b"/registry/pods/".to_vec();
        let end = prefix_end(&base);
        // In key order of `<ns>/`: `a-b/` sorts before `a/`.
        let names: Vec<Vec<u8>> = vec![b"a-b".to_vec(), b"a".to_vec(), b"kube-system".to_vec()];
        let spans = spans_of(pods, &base, (&base, &end), &names, true);
        assert_eq!(spans.first().unwrap().start, base);
        assert_eq!(spans.last().unwrap().end, end);
        for w in spans.windows(2) {
            assert_eq!(w[0].end, w[1].start, "{spans:?}");
        }
        let a = spans
            .iter()
            .find(|s| s.namespace.as_deref() == Some("a"))
            .unwrap();
        assert_eq!(
            (a.start.as_slice(), a.end.as_slice()),
            (&b"/registry/pods/a/"[..], &b"/registry/pods/a0"[..])
        );
        // Every key lands in the span of its namespace, or in a gap.
        for (key, ns) in [
            (&b"/registry/pods/a/x"[..], Some("a")),
            (b"/registry/pods/a-b/x", Some("a-b")),
            (b"/registry/pods/a-c/x", None),
            (b"/registry/pods/ghost/x", None),
            (b"/registry/pods/kube-system/x", Some("kube-system")),
            (b"/registry/pods/zz/x", None),
        ] {
            let s = spans
                .iter()
                .find(|s| key >= s.start.as_slice() && before_end(key, &s.end))
                .unwrap();
            assert_eq!(
                s.namespace.as_deref(),
                ns,
                "{}",
                String::from_utf8_lossy(key)
            );
            if ns.is_none() {
                assert!(namespace_of(key, s).is_some());
            }
        }
        // Without gaps (`-n`): the namespaces only.
        let only = spans_of(pods, &base, (&base, &end), &names[2..], false);
        assert_eq!(only.len(), 1);
        assert!(namespace_of(b"/registry/pods/a/b/c", &only[0]).is_none());
        assert!(namespace_of(b"/registry/pods/single", &only[0]).is_none());
    }

    #[test]
    fn pieces_cover_the_range_exactly_and_mark_whole_types() {
        for (start, end) in [
            (b"\0".to_vec(), vec![0]),
            (b"/registry/".to_vec(), b"/registry0".to_vec()),
            (b"/registry/pods/".to_vec(), b"/registry/pods0".to_vec()),
        ] {
            let pieces = cut(&start, &end, "/registry");
            assert_eq!(pieces.first().unwrap().start, start);
            assert_eq!(pieces.last().unwrap().end, end);
            for w in pieces.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert!(w[0].start < w[0].end);
            }
        }
        let pieces = cut(b"\0", &[0], "/registry");
        let pods = pieces
            .iter()
            .find(|p| p.start == b"/registry/pods/")
            .unwrap();
        assert_eq!(pods.builtin.unwrap().plural, "pods");
        assert_eq!(pods.end, b"/registry/pods0");
        // Gaps (custom resources live there) are not built-in.
        assert!(pieces
            .iter()
            .any(|p| p.builtin.is_none() && p.start == b"/registry/pods0"));
        let one = cut(b"/registry/pods/", b"/registry/pods0", "/registry");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].builtin.unwrap().plural, "pods");
    }
}
