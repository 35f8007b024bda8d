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
use crate::keyspace::edit::set_resource_version;
use crate::keyspace::parallel::{self, Pool};
use crate::keyspace::resolve::Resolver;
use crate::keyspace::scan::{scan, Page, ScanFlags, ScanOptions};
use crate::output::{self, Shell};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A key (`/registry/pods/default/web-0`), `TYPE/NAME`, `TYPE/NAMESPACE/NAME`,
    /// or `TYPE` followed by NAME; with --all, a TYPE or key prefix.
    #[arg(value_name = "REF", add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::references))]
    pub reference: String,

    /// Object name, when REF is only a type.
    #[arg(value_name = "NAME", add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::object_names))]
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
        let mut printer = Printer {
            format,
            first: true,
            failed: 0,
        };
        let workers = parallel::workers(args.scan.decode_workers);
        let decode_page = {
            let (decoder, prefix, namespace) = (Arc::new(decoder), prefix.clone(), namespace);
            move |kvs: &[KeyValue]| -> Vec<Rendered> {
                kvs.iter()
                    .filter_map(|kv| render(&decoder, &prefix, namespace.as_deref(), format, kv))
                    .collect()
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
            let mut show = |items: Vec<Rendered>| printer.print(shell, items);
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
            return Err(Error::partial(format!(
                "{failed} values could not be decoded"
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
    let resp = client
        .call(kv_client.get(object.key.as_bytes(), Some(opts)))
        .await
        .map_err(|e| match (args.revision, e) {
            (Some(rev), etcd::Error::Compacted) => Error::new(
                Kind::Data,
                format!("revision {rev} has been compacted: etcd no longer has it"),
            )
            .with_hint("read a newer --revision, or restore a snapshot taken before it"),
            (Some(rev), etcd::Error::FutureRevision) => {
                Error::usage(format!("revision {rev} is newer than the current revision"))
                    .with_hint("leave out --revision to read the current state")
            }
            (_, e) => e.into(),
        })?;
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
    let mut obj = decoder.decode(kv.key(), kv.value())?;
    set_resource_version(&mut obj.value, kv.mod_revision());
    for w in &obj.warnings {
        session.shell.warn(w);
    }
    match format {
        OutputFormat::Json => session.shell.json(&obj.value),
        _ => session.shell.yaml(&obj.value),
    }
}

/// One value of `get --all`, decoded and rendered off the printing thread.
enum Rendered {
    Shown {
        key: Vec<u8>,
        warnings: Vec<String>,
        text: Vec<u8>,
    },
    Failed {
        key: Vec<u8>,
        error: Error,
    },
}

/// Decode and render one value as `get --all` prints it; `None` for a key
/// outside `-n`.
fn render(
    decoder: &Decoder,
    prefix: &str,
    namespace: Option<&str>,
    format: OutputFormat,
    kv: &KeyValue,
) -> Option<Rendered> {
    if !registry::key::in_namespace(kv.key(), prefix, namespace) {
        return None;
    }
    let key = kv.key().to_vec();
    let rendered = decoder.decode(kv.key(), kv.value()).and_then(|mut obj| {
        set_resource_version(&mut obj.value, kv.mod_revision());
        let mut text = Vec::new();
        if format == OutputFormat::Json {
            output::json_line(&mut text, &obj.value)?;
        } else {
            output::yaml(&mut text, &obj.value)?;
        }
        Ok((obj.warnings, text))
    });
    Some(match rendered {
        Ok((warnings, text)) => Rendered::Shown {
            key,
            warnings,
            text,
        },
        Err(error) => Rendered::Failed { key, error },
    })
}

/// Prints rendered values in the order given: YAML documents separated by
/// `---`, JSON one per line; failures on stderr, counted.
struct Printer {
    format: OutputFormat,
    first: bool,
    failed: u64,
}

impl Printer {
    fn print(&mut self, shell: &mut Shell, items: Vec<Rendered>) -> Result<()> {
        // One write per job rather than per object: stdout is line
        // buffered. Written out before anything goes to stderr, so a
        // terminal shows each message next to its object.
        let mut out = Vec::new();
        for item in items {
            match item {
                Rendered::Shown {
                    key,
                    warnings,
                    text,
                } => {
                    if !warnings.is_empty() {
                        shell.out().write_all(&std::mem::take(&mut out))?;
                    }
                    for w in &warnings {
                        shell.warn(format!("{}: {w}", String::from_utf8_lossy(&key)));
                    }
                    if self.format != OutputFormat::Json && !self.first {
                        out.extend_from_slice(b"---\n");
                    }
                    out.extend_from_slice(&text);
                    self.first = false;
                }
                Rendered::Failed { key, error } => {
                    shell.out().write_all(&std::mem::take(&mut out))?;
                    self.failed += 1;
                    shell.error(&error.context(format!("`{}`", String::from_utf8_lossy(&key))));
                }
            }
        }
        shell.out().write_all(&out)?;
        Ok(())
    }
}
