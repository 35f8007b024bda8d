//! `size`: how much disk each member's database takes and how much of it is
//! reclaimable by a defrag; with `--by-type`, `--top` or a TYPE/PREFIX, also
//! what fills it: bytes per type, the largest objects and lease pressure,
//! from one values scan whose pages are dropped after measuring.

use serde::Serialize;

use crate::cli::{parse_bytes, OutputFormat};
use crate::context::{Cluster, Session};
use crate::error::Result;
use crate::etcd::{format_id, EtcdClient};
use crate::keyspace::resolve::Resolver;
use crate::keyspace::scan::{scan, Page, ScanFlags, ScanOptions};
use crate::keyspace::stats::{KeyspaceStats, Tally};
use crate::ops::quota::{self, QuotaSource};
use crate::output::table::{Mark, Table};
use crate::output::{human_bytes, percent, progress, share_bar};

use super::count::TypeKind;
use super::status;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Break down this type (`events`, `widgets.example.com`) or key prefix
    /// (starting with `/`) by type; implies --by-type.
    #[arg(value_name = "TYPE|PREFIX", add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::types))]
    pub reference: Option<String>,

    /// Bytes per type: share, count, average and largest object.
    ///
    /// Heavy: reads every value once (page by page, never all at once).
    #[arg(long)]
    pub by_type: bool,

    /// The N largest objects (default 10 with --by-type; implies it).
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "10")]
    pub top: Option<usize>,

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
        self.by_type || self.top.is_some() || self.by_namespace || self.reference.is_some()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberSize {
    pub endpoint: String,
    pub name: Option<String>,
    pub id: Option<String>,
    pub db_size: Option<u64>,
    pub db_size_in_use: Option<u64>,
    /// Bytes a defrag would give back to the file system.
    pub fragmented_bytes: Option<u64>,
    pub fragmentation_percent: Option<f64>,
    pub quota_bytes: Option<u64>,
    pub quota_assumed: Option<bool>,
    pub quota_source: Option<QuotaSource>,
    /// Bytes left before the NOSPACE alarm.
    pub quota_headroom_bytes: Option<u64>,
    pub quota_use_percent: Option<f64>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SizeReport {
    pub members: Vec<MemberSize>,
    /// What fills the keyspace, with --by-type, --top or a TYPE/PREFIX.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyspace: Option<KeyspaceSize>,
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

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let survey = quota::survey(&cluster).await;
    let members = survey
        .views
        .iter()
        .map(|v| {
            let s = v.status.as_ref();
            let q = s.map(|s| quota::of_status(s, args.quota_bytes));
            let quota = q.map(|q| q.bytes).unwrap_or(0);
            MemberSize {
                endpoint: v.target.endpoint.clone(),
                name: s.and_then(|s| survey.member_name(s.member_id).map(str::to_string)),
                id: s.map(|s| format_id(s.member_id)),
                db_size: s.map(|s| s.db_size),
                db_size_in_use: s.map(|s| s.db_size_in_use),
                fragmented_bytes: s.map(|s| s.db_size.saturating_sub(s.db_size_in_use)),
                fragmentation_percent: s
                    .map(|s| percent(s.db_size.saturating_sub(s.db_size_in_use), s.db_size)),
                quota_bytes: q.map(|q| q.bytes),
                quota_assumed: q.map(|q| q.assumed()),
                quota_source: q.map(|q| q.source),
                quota_headroom_bytes: s.map(|s| quota.saturating_sub(s.db_size)),
                quota_use_percent: s.map(|s| percent(s.db_size, quota)),
                error: v.error.as_ref().map(|e| e.message.clone()),
            }
        })
        .collect();
    let format = session.format_or(OutputFormat::Table);
    let keyspace = if args.analyze() {
        Some(keyspace(&args, &cluster, session, format).await?)
    } else {
        None
    };
    let report = SizeReport { members, keyspace };
    let wide = session.wide();
    session.shell.emit(format, &report, |r| tables(r, wide))?;
    if format == OutputFormat::Table {
        if let Some(note) = quota::footnote(report.members.iter().filter_map(|m| m.quota_source)) {
            session.shell.note(note);
        }
    }
    status::finish(&survey, session)
}

/// One values scan of the range, measured and dropped page by page.
async fn keyspace(
    args: &Args,
    cluster: &Cluster,
    session: &mut Session,
    format: OutputFormat,
) -> Result<KeyspaceSize> {
    let readers = cluster.connect_readers().await?;
    let client = readers.primary();
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let range = Resolver::new(client, &prefix)
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
    let mut stats = KeyspaceStats::new(args.top.unwrap_or(10), args.by_namespace);
    let shell = &mut session.shell;
    let summary = scan(&readers, &prefix, &range.start, &range.end, opts, |page| {
        match page {
            // Only listings resume.
            Page::Resumed { .. } => {}
            Page::Restart { now } => {
                stats.clear();
                shell.warn(format!(
                    "the scan's revision was compacted: measuring again at revision {now}"
                ));
            }
            Page::Keys(kvs) => {
                let mut bytes = 0;
                for kv in kvs {
                    let info = registry::key::parse(kv.key(), &prefix);
                    if !info.in_namespace(namespace.as_deref()) {
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
    bar.finish_and_clear();
    let leases = match lease_count(client).await {
        Ok(n) => Some(n),
        Err(e) => {
            session
                .shell
                .warn(format!("cannot list leases: {}", e.message));
            None
        }
    };
    Ok(breakdown(
        stats,
        summary.revision,
        range.label,
        leases,
        &prefix,
    ))
}

async fn lease_count(client: &EtcdClient) -> Result<u64> {
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

fn tables(report: &SizeReport, wide: bool) -> Vec<Table> {
    let mut out = vec![table(report, wide)];
    if let Some(k) = &report.keyspace {
        out.push(types_table(k));
        if !k.top.is_empty() {
            out.push(top_table(k));
        }
        out.push(lease_table(&k.leases));
    }
    out
}

fn types_table(k: &KeyspaceSize) -> Table {
    let by_ns = k.types.iter().any(|t| t.namespaces.is_some());
    let mut headers = vec!["type"];
    if by_ns {
        headers.push("namespace");
    }
    headers.extend(["count", "size", "share", "average", "largest", "leased"]);
    // Numbers right-aligned; the share bars left-aligned so they line up.
    let first_num = headers.len() - 6;
    let right: Vec<usize> = (first_num..headers.len())
        .filter(|&i| i != first_num + 2)
        .collect();
    let mut t = Table::new(&headers).right_align(&right).title(format!(
        "What fills {} at revision {}:",
        k.range, k.revision
    ));
    let row = |t: &mut Table,
               ty: &str,
               ns: Option<&str>,
               count: u64,
               bytes: u64,
               largest: String,
               leased: String| {
        let mut cells = vec![ty.to_string()];
        if by_ns {
            cells.push(ns.unwrap_or("").to_string());
        }
        cells.extend([
            count.to_string(),
            human_bytes(bytes),
            share_bar(percent(bytes, k.total_bytes)),
            human_bytes(bytes.checked_div(count).unwrap_or(0)),
            largest,
            leased,
        ]);
        t.row(cells);
    };
    for ty in &k.types {
        let largest = ty
            .largest
            .as_ref()
            .map(|o| human_bytes(o.bytes))
            .unwrap_or_default();
        row(
            &mut t,
            &ty.r#type,
            None,
            ty.count,
            ty.bytes,
            largest,
            ty.leased_keys.to_string(),
        );
        for ns in ty.namespaces.iter().flatten() {
            row(
                &mut t,
                &ty.r#type,
                Some(ns.namespace.as_deref().unwrap_or("-")),
                ns.count,
                ns.bytes,
                String::new(),
                String::new(),
            );
        }
    }
    let mut total = vec!["TOTAL".to_string()];
    if by_ns {
        total.push(String::new());
    }
    total.extend([
        k.total_keys.to_string(),
        human_bytes(k.total_bytes),
        String::new(),
        human_bytes(k.total_bytes.checked_div(k.total_keys).unwrap_or(0)),
        String::new(),
        k.leases.keys_with_lease.to_string(),
    ]);
    t.row(total);
    t
}

fn top_table(k: &KeyspaceSize) -> Table {
    let mut t = Table::new(&["size", "type", "key"])
        .right_align(&[0])
        .title(format!("The {} largest objects:", k.top.len()));
    for o in &k.top {
        t.row([human_bytes(o.bytes), o.r#type.clone(), o.key.clone()]);
    }
    t
}

fn lease_table(l: &LeasePressure) -> Table {
    let mut t = Table::new(&[
        "leases",
        "with keys",
        "keys with lease",
        "max keys/lease",
        "avg keys/lease",
        "busiest lease",
    ])
    .right_align(&[0, 1, 2, 3, 4])
    .title("Lease pressure:");
    t.row([
        l.leases
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into()),
        l.leases_with_keys.to_string(),
        l.keys_with_lease.to_string(),
        l.keys_per_lease_max.to_string(),
        format!("{:.1}", l.keys_per_lease_average),
        l.busiest_lease.clone().unwrap_or_else(|| "-".into()),
    ]);
    t
}

/// The default table fits 120 columns for a 3-member cluster; `wide` adds
/// the member id.
fn table(report: &SizeReport, wide: bool) -> Table {
    let mut headers = vec!["endpoint", "name"];
    if wide {
        headers.push("id");
    }
    let first_num = headers.len();
    headers.extend([
        "db size",
        "in use",
        "fragmented",
        "quota",
        "headroom",
        "quota use",
        "error",
    ]);
    let right: Vec<usize> = (first_num..first_num + 6).collect();
    let mut t = Table::new(&headers).right_align(&right);
    for m in &report.members {
        let b = |v: Option<u64>| v.map(human_bytes).unwrap_or_else(|| "-".into());
        let quota_use = m.quota_use_percent.unwrap_or(0.0);
        let mut cells = vec![
            (m.endpoint.clone(), Mark::Plain),
            (m.name.clone().unwrap_or_else(|| "-".into()), Mark::Plain),
        ];
        if wide {
            cells.push((m.id.clone().unwrap_or_else(|| "-".into()), Mark::Plain));
        }
        cells.extend([
            (b(m.db_size), Mark::Plain),
            (b(m.db_size_in_use), Mark::Plain),
            (
                match (m.fragmented_bytes, m.fragmentation_percent) {
                    (Some(f), Some(p)) => format!("{} ({p:.1}%)", human_bytes(f)),
                    _ => "-".into(),
                },
                Mark::Plain,
            ),
            (
                format!(
                    "{}{}",
                    b(m.quota_bytes),
                    if m.quota_assumed == Some(true) {
                        "*"
                    } else {
                        ""
                    }
                ),
                Mark::Plain,
            ),
            (b(m.quota_headroom_bytes), Mark::Plain),
            (
                m.quota_use_percent
                    .map(|p| format!("{p:.1}%"))
                    .unwrap_or_else(|| "-".into()),
                if quota_use >= 80.0 {
                    Mark::Bad
                } else {
                    Mark::Plain
                },
            ),
            (m.error.clone().unwrap_or_default(), Mark::Bad),
        ]);
        t.marked_row(cells);
    }
    t
}
