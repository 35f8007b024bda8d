//! `get`: one object (or every object of a type, streamed) as Kubernetes
//! shows it, from the live etcd or at a past revision, with
//! `metadata.resourceVersion` filled from the key's mod revision as
//! kube-apiserver does on every read (`put` writes based on it).

use std::sync::Arc;

use etcd_client::{GetOptions, KeyValue};

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::etcd;
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::parallel::{self, Pool};
use crate::keyspace::resolve::Resolver;
use crate::keyspace::scan::{scan, Page, ScanFlags, ScanOptions};
use crate::output::objects::{Printer, Rendered};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A key (`/registry/pods/default/web-0`), `TYPE/NAME`, `TYPE/NAMESPACE/NAME`,
    /// or `TYPE` followed by NAME; with --all, a TYPE or key prefix.
    #[arg(value_name = "REF", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::references))]
    pub reference: String,

    /// Object name, when REF is only a type.
    #[arg(value_name = "NAME", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::object_names))]
    pub name: Option<String>,

    /// Read the object as it was at this revision.
    #[arg(long, value_name = "REV")]
    pub revision: Option<i64>,

    /// Every object of the type or prefix, streamed (YAML documents or JSON lines).
    #[arg(long)]
    pub all: bool,

    #[command(flatten)]
    pub decode: DecodeFlags,

    #[command(flatten)]
    pub scan: ScanFlags,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    // Checked before connecting: get prints whole objects, never a table.
    if session.global.output == Some(OutputFormat::Table) {
        return Err(Error::usage(
            "`get` prints whole objects: use `-o yaml` (the default) or `-o json`",
        )
        .with_hint("`kubectl etcd ls TYPE` gives a table of objects"));
    }
    let cluster = session.cluster().await?;
    let readers = cluster.connect_readers().await?;
    let client = readers.primary();
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let format = session.format_or(OutputFormat::Yaml);
    let decoder = Decoder::new(&args.decode, &prefix)?;
    let mut resolver = Resolver::new(client, &prefix);

    if args.all {
        if format == OutputFormat::Raw {
            return Err(Error::usage(
                "`-o raw` shows one value; use it without --all",
            ));
        }
        let range = resolver
            .range(Some(&args.reference), namespace.as_deref())
            .await?;
        let mut opts = args.scan.apply(ScanOptions::values().resuming());
        opts.revision = args.revision.unwrap_or(0);
        let shell = &mut session.shell;
        let mut printer = Printer::new(format);
        let workers = parallel::workers(args.scan.decode_workers);
        let decode_page = {
            let (decoder, prefix, namespace) = (Arc::new(decoder), prefix.clone(), namespace);
            move |kvs: &[KeyValue]| -> Rendered {
                let mut rendered = Rendered::default();
                for kv in kvs {
                    if registry::key::in_namespace(kv.key(), &prefix, namespace.as_deref()) {
                        rendered.push(&decoder, format, kv);
                    }
                }
                rendered
            }
        };
        // One worker: decode on this thread, as before the pool.
        let mut pool = (workers > 1).then(|| {
            let decode_page = decode_page.clone();
            Pool::new(workers, move |chunk: Vec<KeyValue>| decode_page(&chunk))
        });
        let summary = scan(&readers, &prefix, &range.start, &range.end, opts, |page| {
            let Page::Keys(kvs) = page else {
                shell.warn(page.notice().unwrap_or_default());
                return Ok(());
            };
            let mut show = |items: Rendered| printer.print(shell, items);
            match pool.as_mut() {
                Some(pool) => {
                    for chunk in parallel::chunks(kvs) {
                        pool.submit(chunk, &mut show)?;
                    }
                    Ok(())
                }
                None => show(decode_page(kvs)),
            }
        })
        .await?;
        if let Some(pool) = pool {
            pool.finish(&mut |items| printer.print(&mut session.shell, items))?;
        }
        let failed = printer.failed;
        if summary.keys == 0 {
            return Err(Error::new(
                Kind::NotFound,
                format!("no objects under {}", range.label),
            ));
        }
        if failed > 0 {
            let values = if failed == 1 { "value" } else { "values" };
            return Err(Error::partial(format!(
                "{failed} {values} could not be decoded"
            )));
        }
        return Ok(());
    }

    let object = resolver
        .object(&args.reference, args.name.as_deref(), namespace.as_deref())
        .await?;
    let mut kv_client = client.kv();
    let mut opts = GetOptions::new();
    if args.scan.consistency == crate::keyspace::scan::Consistency::Serializable {
        opts = opts.with_serializable();
    }
    if let Some(rev) = args.revision {
        opts = opts.with_revision(rev);
    }
    let read = client
        .call(kv_client.get(object.key.as_bytes(), Some(opts)))
        .await;
    let resp = match (args.revision, read) {
        (_, Ok(resp)) => resp,
        (Some(rev), Err(etcd::Error::Compacted)) => {
            return Err(Error::new(
                Kind::Data,
                format!("revision {rev} has been compacted: etcd no longer has it"),
            )
            .with_hint("read a newer --revision, or restore a snapshot taken before it"))
        }
        // As `ls` says it: naming the current revision.
        (Some(revision), Err(etcd::Error::FutureRevision)) => {
            let serializable =
                args.scan.consistency == crate::keyspace::scan::Consistency::Serializable;
            let current = etcd::maintenance::current_revision(client, serializable).await?;
            return Err(crate::keyspace::Error::FutureRevision { revision, current }.into());
        }
        (_, Err(e)) => {
            return Err(crate::keyspace::Error::from(e)
                .naming_denied(|| format!("`{}`", object.key))
                .into())
        }
    };
    let Some(kv) = resp.kvs().first() else {
        // Name the object as asked (`pods pod-0` is the object pod-0, not
        // the type), and the revision it was looked for at.
        let what = match &args.name {
            Some(name) => format!("{}/{name}", args.reference),
            None => args.reference.clone(),
        };
        let at = args
            .revision
            .map(|r| format!(" at revision {r}"))
            .unwrap_or_default();
        return Err(Error::new(
            Kind::NotFound,
            format!("`{what}` not found{at} (key `{}`)", object.key),
        )
        .with_hint("`kubectl etcd ls TYPE` lists what is stored"));
    };
    if format == OutputFormat::Raw {
        session.shell.out().write_all(kv.value())?;
        return Ok(());
    }
    let obj = decoder.decode_at(kv.key(), kv.value(), Some(kv.mod_revision()))?;
    for w in &obj.warnings {
        session.shell.warn(w);
    }
    match format {
        OutputFormat::Json => session.shell.json(&obj.value),
        _ => session.shell.yaml(&obj.value),
    }
}
