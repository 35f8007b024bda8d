//! `count`: keys per resource type (and namespace), at one revision: whole
//! built-in types by count-only reads, the rest by a keys-only scan.
//! Memory holds the counters, never the keys.

use std::collections::HashMap;
use std::fmt::Write as _;

use registry::key::KeyKind;
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::Result;
use crate::keyspace::plan;
use crate::keyspace::resolve::Resolver;
use crate::keyspace::scan::{scan_pieces, Page, ScanFlags, ScanOptions};
use crate::output::progress;
use crate::output::table::{Mark, Table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A type (`pods`, `events`, `widgets.example.com`) or a key prefix
    /// starting with `/`; default: every key in etcd.
    #[arg(value_name = "TYPE|PREFIX")]
    pub reference: Option<String>,

    /// Break each type down by namespace.
    #[arg(long)]
    pub by_namespace: bool,

    #[command(flatten)]
    pub scan: ScanFlags,
}

/// How a counted type relates to the Kubernetes layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeKind {
    /// A built-in resource type.
    Builtin,
    /// A custom resource type.
    Custom,
    /// kube-apiserver's own records (masterleases, ranges, health).
    Internal,
    /// Under the prefix, but no known type.
    Unknown,
    /// Outside the prefix: counted by its first path segments.
    Other,
}

impl From<KeyKind> for TypeKind {
    fn from(k: KeyKind) -> TypeKind {
        match k {
            KeyKind::Builtin => TypeKind::Builtin,
            KeyKind::Custom => TypeKind::Custom,
            KeyKind::Internal => TypeKind::Internal,
            KeyKind::Unknown => TypeKind::Unknown,
            KeyKind::Foreign => TypeKind::Other,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceCount {
    /// `null` for cluster-scoped objects.
    pub namespace: Option<String>,
    pub count: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeCount {
    /// `resource[.group]`, e.g. `pods`, `deployments.apps`.
    pub r#type: String,
    pub kind: TypeKind,
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<NamespaceCount>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountReport {
    /// The revision every page was read at.
    pub revision: i64,
    pub total: u64,
    pub types: Vec<TypeCount>,
}

/// Counters for one type.
#[derive(Default)]
struct Counter {
    kind: Option<TypeKind>,
    count: u64,
    /// `""` for cluster-scoped keys (no namespace is empty).
    by_namespace: HashMap<String, u64>,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let readers = cluster.connect_readers().await?;
    let client = readers.primary();
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let format = session.format_or(OutputFormat::Table);
    let range = Resolver::new(client, &prefix)
        .range(args.reference.as_deref(), namespace.as_deref())
        .await?;

    let show_progress = session.shell.stderr_tty && format == OutputFormat::Table;
    let bar = progress::bar(show_progress, None, "counting keys", false);
    let mut counters: HashMap<String, Counter> = HashMap::new();
    let mut label = String::new();
    // Counted in any order: every reader stays busy.
    let mut opts = args.scan.apply(ScanOptions::keys_only().unordered());
    // Whole built-in types are counted by etcd without reading a key (see
    // `keyspace::plan`); the rest (custom resources, keys outside the
    // layout) is scanned at the same revision. Per-namespace counts need
    // the full scan.
    let pieces = if !args.by_namespace && namespace.is_none() {
        let (revision, pieces) = plan::count_pieces(
            client,
            &range.start,
            &range.end,
            &prefix,
            0,
            opts.serializable,
        )
        .await?;
        opts.revision = revision;
        let mut rest = Vec::new();
        for p in pieces.into_iter().filter(|p| p.count > 0) {
            match p.builtin {
                Some(t) => {
                    let c = counters.entry(t.qualified_name().to_string()).or_default();
                    c.kind = Some(TypeKind::Builtin);
                    c.count += p.count;
                    bar.inc(p.count);
                }
                None => rest.push((p.start, p.end)),
            }
        }
        rest
    } else {
        vec![(range.start.clone(), range.end.clone())]
    };
    let shell = &mut session.shell;
    let mut revision = opts.revision;
    if !pieces.is_empty() {
        let summary = scan_pieces(&readers, &prefix, &pieces, opts, |_, page| {
            match page {
                // Pieces end in any order: the counters do not care.
                // Only listings resume.
                None | Some(Page::Resumed { .. }) => {}
                Some(Page::Restart { now }) => {
                    counters.clear();
                    shell.warn(format!(
                        "the scan's revision was compacted: counting again at revision {now}"
                    ));
                }
                Some(Page::Keys(kvs)) => {
                    for kv in kvs {
                        let info = registry::key::parse(kv.key(), &prefix);
                        if !info.in_namespace(namespace.as_deref()) {
                            continue;
                        }
                        // One reused buffer: a million keys must not mean a
                        // million allocations.
                        label.clear();
                        let _ = write!(label, "{}", info.type_name());
                        if !counters.contains_key(label.as_str()) {
                            counters.insert(label.clone(), Counter::default());
                        }
                        let c = counters.get_mut(label.as_str()).expect("inserted above");
                        c.kind.get_or_insert(info.kind.into());
                        c.count += 1;
                        if args.by_namespace {
                            // Look up before inserting: no allocation per key.
                            let ns = info.namespace.unwrap_or("");
                            match c.by_namespace.get_mut(ns) {
                                Some(n) => *n += 1,
                                None => {
                                    c.by_namespace.insert(ns.to_string(), 1);
                                }
                            }
                        }
                    }
                    bar.inc(kvs.len() as u64);
                }
            }
            Ok(())
        })
        .await?;
        revision = summary.revision;
    }
    bar.finish_and_clear();

    let report = report(counters, revision, args.by_namespace);
    session.shell.emit(format, &report, |r| vec![table(r)])
}

fn report(counters: HashMap<String, Counter>, revision: i64, by_namespace: bool) -> CountReport {
    let mut types: Vec<TypeCount> = counters
        .into_iter()
        .map(|(name, c)| {
            let namespaces = by_namespace.then(|| {
                let mut ns: Vec<NamespaceCount> = c
                    .by_namespace
                    .into_iter()
                    .map(|(ns, count)| NamespaceCount {
                        namespace: (!ns.is_empty()).then_some(ns),
                        count,
                    })
                    .collect();
                ns.sort_by(|a, b| b.count.cmp(&a.count).then(a.namespace.cmp(&b.namespace)));
                ns
            });
            TypeCount {
                r#type: name,
                kind: c.kind.unwrap_or(TypeKind::Other),
                count: c.count,
                namespaces,
            }
        })
        .collect();
    types.sort_by(|a, b| b.count.cmp(&a.count).then(a.r#type.cmp(&b.r#type)));
    CountReport {
        revision,
        total: types.iter().map(|t| t.count).sum(),
        types,
    }
}

fn table(r: &CountReport) -> Table {
    let by_ns = r.types.iter().any(|t| t.namespaces.is_some());
    let mut headers = vec!["type"];
    if by_ns {
        headers.push("namespace");
    }
    headers.extend(["count", "kind"]);
    let count_col = headers.len() - 2;
    let mut t = Table::new(&headers).right_align(&[count_col]);
    for ty in &r.types {
        let kind = match ty.kind {
            TypeKind::Builtin => "",
            TypeKind::Custom => "custom",
            TypeKind::Internal => "internal",
            TypeKind::Unknown => "unknown",
            TypeKind::Other => "outside prefix",
        };
        let mark = if ty.kind == TypeKind::Custom {
            Mark::Good
        } else {
            Mark::Plain
        };
        match &ty.namespaces {
            Some(nss) if by_ns => {
                for ns in nss {
                    t.marked_row(vec![
                        (ty.r#type.clone(), Mark::Plain),
                        (
                            ns.namespace.clone().unwrap_or_else(|| "-".into()),
                            Mark::Plain,
                        ),
                        (ns.count.to_string(), Mark::Plain),
                        (kind.into(), mark),
                    ]);
                }
            }
            _ => {
                let mut cells = vec![(ty.r#type.clone(), Mark::Plain)];
                if by_ns {
                    cells.push(("".into(), Mark::Plain));
                }
                cells.push((ty.count.to_string(), Mark::Plain));
                cells.push((kind.into(), mark));
                t.marked_row(cells);
            }
        }
    }
    let mut total = vec![("TOTAL".to_string(), Mark::Plain)];
    if by_ns {
        total.push(("".into(), Mark::Plain));
    }
    total.push((r.total.to_string(), Mark::Plain));
    total.push((format!("at revision {}", r.revision), Mark::Plain));
    t.marked_row(total);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_sorts_by_count_and_totals() {
        let mut counters = HashMap::new();
        counters.insert(
            "pods".to_string(),
            Counter {
                kind: Some(TypeKind::Builtin),
                count: 3,
                ..Default::default()
            },
        );
        counters.insert(
            "events".to_string(),
            Counter {
                kind: Some(TypeKind::Builtin),
                count: 7,
                ..Default::default()
            },
        );
        let r = report(counters, 42, false);
        assert_eq!(r.total, 10);
        assert_eq!(r.types[0].r#type, "events");
        assert_eq!(r.revision, 42);
    }
}
