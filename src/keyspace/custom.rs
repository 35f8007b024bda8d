//! Custom resource types found from keys alone, without reading the
//! keyspace: a skip scan that reads one key per top-level segment and one
//! count per `<prefix>/<group.with.dots>/<plural>/`, all at one revision.
//! Never prints.

use etcd_client::GetOptions;

use super::error::Result;
use super::plan;
use super::scan::prefix_end;
use crate::etcd::EtcdClient;

/// A custom resource type seen in the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundType {
    pub group: String,
    pub plural: String,
    /// Keys under `<prefix>/<group>/<plural>/` (in the namespace, if one was given).
    pub count: u64,
    /// From the first key's shape: `<ns>/<name>` is namespaced.
    pub namespaced: bool,
}

/// Every custom resource type under `prefix`, at one revision.
pub async fn discover(
    client: &EtcdClient,
    prefix: &str,
    namespace: Option<&str>,
    serializable: bool,
) -> Result<(i64, Vec<FoundType>)> {
    let base = format!("{}/", registry::key::normalize_prefix(prefix));
    let end = prefix_end(base.as_bytes());
    // Only the pieces between built-in types can hold custom resources;
    // probing within them keeps each read's index walk short.
    let (revision, pieces) =
        plan::count_pieces(client, base.as_bytes(), &end, prefix, 0, serializable).await?;
    let pieces: Vec<(Vec<u8>, Vec<u8>)> = pieces
        .into_iter()
        .filter(|p| p.count > 0 && p.builtin.is_none())
        .map(|p| (p.start, p.end))
        .collect();
    let mut found = Vec::new();
    let mut kv = client.kv();
    for (piece_start, end) in pieces {
        let mut cursor = piece_start;
        loop {
            let mut o = GetOptions::new()
                .with_range(end.clone())
                .with_limit(1)
                .with_keys_only()
                .with_revision(revision);
            if serializable {
                o = o.with_serializable();
            }
            let resp = client.call(kv.get(cursor.clone(), Some(o))).await?;
            let Some(first) = resp.kvs().first() else {
                break;
            };
            let key = first.key().to_vec();
            let rest = &key[base.len()..];
            let mut segments = rest.splitn(3, |b| *b == b'/');
            let (group, plural, tail) = (segments.next(), segments.next(), segments.next());
            let info = registry::key::parse(&key, prefix);
            let builtin = matches!(
                info.kind,
                registry::key::KeyKind::Builtin | registry::key::KeyKind::Internal
            );
            cursor = match (group, plural, tail) {
                (Some(g), Some(p), Some(t)) if g.contains(&b'.') && !p.is_empty() => {
                    let mut type_prefix = key[..base.len() + g.len() + 1 + p.len() + 1].to_vec();
                    let next = prefix_end(&type_prefix);
                    match (std::str::from_utf8(g), std::str::from_utf8(p)) {
                        (Ok(g), Ok(p)) if !builtin => {
                            let namespaced = t.contains(&b'/');
                            if let Some(ns) = namespace.filter(|_| namespaced) {
                                type_prefix.extend_from_slice(ns.as_bytes());
                                type_prefix.push(b'/');
                            }
                            let count = count(client, &type_prefix, revision, serializable).await?;
                            found.push(FoundType {
                                group: g.to_string(),
                                plural: p.to_string(),
                                count,
                                namespaced,
                            });
                        }
                        _ => {}
                    }
                    next
                }
                // Skip the whole first segment: no custom resources below it.
                (Some(g), Some(_), _) if !g.contains(&b'.') => {
                    prefix_end(&key[..base.len() + g.len() + 1])
                }
                _ => {
                    let mut next = key.clone();
                    next.push(0);
                    next
                }
            };
            if cursor.as_slice() >= end.as_slice() && end != [0] {
                break;
            }
        }
    }
    Ok((revision, found))
}

async fn count(
    client: &EtcdClient,
    start: &[u8],
    revision: i64,
    serializable: bool,
) -> Result<u64> {
    let mut kv = client.kv();
    let mut o = GetOptions::new()
        .with_range(prefix_end(start))
        .with_count_only()
        .with_revision(revision);
    if serializable {
        o = o.with_serializable();
    }
    let resp = client.call(kv.get(start, Some(o))).await?;
    Ok(resp.count().max(0) as u64)
}
