//! What fills the keyspace, for `size --by-type|--top|TYPE`: bytes per
//! type, the largest objects and lease pressure, from one values scan whose
//! pages are dropped after measuring.

use indicatif::ProgressBar;
use serde::Serialize;

use super::error::Result;
use crate::etcd::{EtcdClient, Readers};
use crate::keyspace::count::TypeKind;
use crate::keyspace::resolve::Range;
use crate::keyspace::scan::{scan, Page, ScanOptions};
use crate::keyspace::stats::{KeyspaceStats, Tally};
use crate::output::percent;

/// What to keep besides the per-type totals.
#[derive(Debug, Clone)]
pub struct Want {
    /// Only keys in this namespace.
    pub namespace: Option<String>,
    /// The N largest objects.
    pub top: usize,
    /// Each type broken down by namespace.
    pub by_namespace: bool,
}

/// Bytes per type, largest objects and lease pressure, at one revision.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyspaceSize {
    /// The revision every page was read at.
    pub revision: i64,
    /// What was scanned (`etcd`, `events`, `/registry/pods/`).
    pub range: String,
    pub total_keys: u64,
    /// Sum of key and value sizes, as stored.
    pub total_bytes: u64,
    /// Largest first.
    pub types: Vec<TypeSize>,
    /// The largest objects, largest first.
    pub top: Vec<ObjectSize>,
    pub leases: LeasePressure,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeSize {
    /// `resource[.group]`, or the first segments of keys outside the layout.
    pub r#type: String,
    pub kind: TypeKind,
    pub count: u64,
    pub bytes: u64,
    /// Share of the scanned bytes, in percent.
    pub share_percent: f64,
    pub average_bytes: u64,
    pub largest: Option<ObjectSize>,
    /// Keys of this type attached to a lease.
    pub leased_keys: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<NamespaceSize>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSize {
    /// `null` for cluster-scoped keys.
    pub namespace: Option<String>,
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectSize {
    pub key: String,
    pub r#type: String,
    pub namespace: Option<String>,
    pub name: String,
    pub bytes: u64,
}

/// Leases and the keys attached to them (events are the usual culprit).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeasePressure {
    /// Leases granted in etcd (`LeaseLeases`); `null` if etcd would not say.
    pub leases: Option<u64>,
    /// Leases with at least one key in the scanned range.
    pub leases_with_keys: u64,
    pub keys_with_lease: u64,
    pub keys_per_lease_max: u64,
    pub keys_per_lease_average: f64,
    /// The lease with the most keys, `%016x`.
    pub busiest_lease: Option<String>,
}

/// One values scan of the range, measured and dropped page by page.
pub async fn measure(
    readers: &Readers,
    prefix: &str,
    range: Range,
    opts: ScanOptions,
    want: Want,
    bar: &ProgressBar,
    mut warn: impl FnMut(String),
) -> Result<KeyspaceSize> {
    let client = readers.primary();
    let namespace = want.namespace.as_deref();
    let mut stats = KeyspaceStats::new(want.top, want.by_namespace);
    let summary = scan(readers, prefix, &range.start, &range.end, opts, |page| {
        match page {
            // Only listings resume.
            Page::Resumed { .. } => {}
            Page::Restart { now } => {
                stats.clear();
                warn(format!(
                    "the scan's revision was compacted: measuring again at revision {now}"
                ));
            }
            Page::Keys(kvs) => {
                let mut bytes = 0;
                for kv in kvs {
                    let info = registry::key::parse(kv.key(), prefix);
                    if !info.in_namespace(namespace) {
                        continue;
                    }
                    let size = (kv.key().len() + kv.value().len()) as u64;
                    bytes += size;
                    stats.add(&info, size, kv.lease());
                }
                bar.inc(bytes);
            }
        }
        Ok(())
    })
    .await?;
    let leases = match lease_count(client).await {
        Ok(n) => Some(n),
        Err(e) => {
            warn(format!(
                "cannot list leases: {}",
                crate::error::Error::from(e).message
            ));
            None
        }
    };
    Ok(breakdown(
        stats,
        summary.revision,
        range.label,
        leases,
        prefix,
    ))
}

async fn lease_count(client: &EtcdClient) -> crate::etcd::Result<u64> {
    let mut lease = client.inner.lease_client();
    let resp = client.call(lease.leases()).await?;
    Ok(resp.leases().len() as u64)
}

fn object_size(key: &[u8], bytes: u64, prefix: &str) -> ObjectSize {
    let info = registry::key::parse(key, prefix);
    ObjectSize {
        key: String::from_utf8_lossy(key).into_owned(),
        r#type: info.type_name().to_string(),
        namespace: info.namespace.map(str::to_string),
        name: info.name.to_string(),
        bytes,
    }
}

fn breakdown(
    stats: KeyspaceStats,
    revision: i64,
    range: String,
    leases: Option<u64>,
    prefix: &str,
) -> KeyspaceSize {
    let total = stats.total;
    let mut types: Vec<TypeSize> = stats
        .types
        .into_iter()
        .map(|(name, t)| {
            let namespaces = (!t.namespaces.is_empty()).then(|| {
                let mut ns: Vec<NamespaceSize> = t
                    .namespaces
                    .into_iter()
                    .map(|(ns, Tally { count, bytes })| NamespaceSize {
                        namespace: (!ns.is_empty()).then_some(ns),
                        count,
                        bytes,
                    })
                    .collect();
                ns.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.namespace.cmp(&b.namespace)));
                ns
            });
            TypeSize {
                r#type: name,
                kind: t.kind.map(TypeKind::from).unwrap_or(TypeKind::Other),
                count: t.tally.count,
                bytes: t.tally.bytes,
                share_percent: percent(t.tally.bytes, total.bytes),
                average_bytes: t.tally.bytes.checked_div(t.tally.count).unwrap_or(0),
                largest: t.largest.map(|(size, key)| object_size(&key, size, prefix)),
                leased_keys: t.leased,
                namespaces,
            }
        })
        .collect();
    types.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.r#type.cmp(&b.r#type)));
    let keys_with_lease = stats.leases.keys();
    let leases_with_keys = stats.leases.keys_per_lease.len() as u64;
    let busiest = stats.leases.busiest();
    KeyspaceSize {
        revision,
        range,
        total_keys: total.count,
        total_bytes: total.bytes,
        types,
        top: stats
            .top
            .into_sorted()
            .into_iter()
            .map(|(size, key)| object_size(&key, size, prefix))
            .collect(),
        leases: LeasePressure {
            leases,
            leases_with_keys,
            keys_with_lease,
            keys_per_lease_max: busiest.map(|b| b.1).unwrap_or(0),
            keys_per_lease_average: if leases_with_keys == 0 {
                0.0
            } else {
                ((keys_with_lease as f64 / leases_with_keys as f64) * 10.0).round() / 10.0
            },
            busiest_lease: busiest.map(|b| format!("{:016x}", b.0)),
        },
    }
}
