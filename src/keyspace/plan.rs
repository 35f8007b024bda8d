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

use super::scan::{prefix_end, suggest_serializable};
use crate::error::Result;
use crate::etcd::EtcdClient;

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

#[cfg(test)]
mod tests {
    use super::*;

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
