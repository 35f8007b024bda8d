//! `custom`: the custom resource types in this etcd, from CRD objects and
//! from the keys themselves (CRs whose CRD is gone still show), with object
//! counts; `custom TYPE` lists that type's objects.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::keyspace::custom::discover;
use crate::keyspace::resolve::Resolver;
use crate::keyspace::scan::{scan, Consistency, Page, ScanFlags, ScanOptions};
use crate::output::human_bytes;
use crate::output::table::{Listing, Mark, Table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A custom resource type (`widgets`, `widgets.example.com`): list its objects.
    #[arg(value_name = "TYPE", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::types))]
    pub r#type: Option<String>,

    #[command(flatten)]
    pub scan: ScanFlags,
}

/// One custom resource type. Stable field names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomType {
    /// `plural.group`.
    pub r#type: String,
    pub group: String,
    /// The storage version, from the CRD (`null` without one).
    pub version: Option<String>,
    pub kind: Option<String>,
    /// `Namespaced` or `Cluster`: from the CRD, else from the keys' shape.
    pub scope: String,
    /// Whether a CustomResourceDefinition object declares the type.
    pub crd: bool,
    /// Objects stored (in the namespace given with -n).
    pub count: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomReport {
    pub revision: i64,
    pub types: Vec<CustomType>,
}

/// One object of `custom TYPE -o json` (JSON lines).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomObject<'a> {
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    /// Bytes of key plus value, as stored.
    pub size: usize,
    pub mod_revision: i64,
    pub key: std::borrow::Cow<'a, str>,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    match args.r#type.clone() {
        Some(t) => objects(&t, &args, session).await,
        None => types(&args, session).await,
    }
}

async fn types(args: &Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let client = cluster.connect_any().await?;
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let serializable = args.scan.consistency == Consistency::Serializable;
    let (revision, found) = discover(&client, &prefix, namespace.as_deref(), serializable).await?;
    let mut resolver = Resolver::new(&client, &prefix);
    let crds = resolver.crd_types().await?;

    let mut rows: BTreeMap<(String, String), CustomType> = BTreeMap::new();
    for t in crds {
        rows.insert(
            (t.group.to_string(), t.plural.to_string()),
            CustomType {
                r#type: t.qualified_name().to_string(),
                group: t.group.to_string(),
                version: Some(t.version.to_string()).filter(|v| !v.is_empty()),
                kind: Some(t.kind.to_string()).filter(|k| !k.is_empty()),
                scope: scope(t.namespaced).into(),
                crd: true,
                count: 0,
            },
        );
    }
    for f in found {
        rows.entry((f.group.clone(), f.plural.clone()))
            .or_insert_with(|| CustomType {
                r#type: format!("{}.{}", f.plural, f.group),
                group: f.group.clone(),
                version: None,
                kind: None,
                scope: scope(f.namespaced).into(),
                crd: false,
                count: 0,
            })
            .count = f.count;
    }
    let report = CustomReport {
        revision,
        types: rows.into_values().collect(),
    };
    let format = session.format_or(OutputFormat::Table);
    session.shell.emit(format, &report, |r| vec![table(r)])
}

fn scope(namespaced: bool) -> &'static str {
    if namespaced {
        "Namespaced"
    } else {
        "Cluster"
    }
}

fn table(r: &CustomReport) -> Table {
    let mut t = Table::new(&["type", "version", "kind", "scope", "crd", "count"]).right_align(&[5]);
    for c in &r.types {
        t.marked_row(vec![
            (c.r#type.clone(), Mark::Plain),
            (c.version.clone().unwrap_or_else(|| "-".into()), Mark::Plain),
            (c.kind.clone().unwrap_or_else(|| "-".into()), Mark::Plain),
            (c.scope.clone(), Mark::Plain),
            (
                if c.crd { "yes" } else { "missing" }.into(),
                if c.crd { Mark::Plain } else { Mark::Warn },
            ),
            (c.count.to_string(), Mark::Plain),
        ]);
    }
    t
}

async fn objects(name: &str, args: &Args, session: &mut Session) -> Result<()> {
    let format = session.format_or(OutputFormat::Table);
    let mut listing = Listing::new(
        format,
        "custom TYPE",
        &["namespace", "name", "size", "mod rev"],
    )?;
    let cluster = session.cluster().await?;
    let readers = cluster.connect_readers().await?;
    let client = readers.primary();
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let range = Resolver::new(client, &prefix)
        .range(Some(name), namespace.as_deref())
        .await?;
    if range.resource_type.as_ref().is_some_and(|t| t.builtin) {
        return Err(Error::usage(format!(
            "`{name}` is a built-in type, not a custom resource"
        ))
        .with_hint(format!("`kubectl etcd ls {name}` lists its objects")));
    }
    let opts = args.scan.apply(ScanOptions::values().resuming());
    let shell = &mut session.shell;
    scan(&readers, &prefix, &range.start, &range.end, opts, |page| {
        let Page::Keys(kvs) = page else {
            shell.warn(page.notice().unwrap_or_default());
            return Ok(());
        };
        for kv in kvs {
            let info = registry::key::parse(kv.key(), &prefix);
            let o = CustomObject {
                namespace: info.namespace,
                name: info.name,
                size: kv.key().len() + kv.value().len(),
                mod_revision: kv.mod_revision(),
                key: String::from_utf8_lossy(kv.key()),
            };
            listing.push(shell, &o, || {
                vec![
                    o.namespace.unwrap_or("").to_string(),
                    o.name.to_string(),
                    human_bytes(o.size as u64),
                    o.mod_revision.to_string(),
                ]
            })?;
        }
        listing.flush(shell)
    })
    .await?;
    if listing.shown == 0 {
        return Err(Error::new(
            Kind::NotFound,
            format!("no objects under {}", range.label),
        ));
    }
    Ok(())
}
