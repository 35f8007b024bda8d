//! `ls`: keys as Kubernetes objects: type, namespace, name, size, encoding
//! and revisions, streamed page by page.

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::keyspace::resolve::Resolver;
use crate::keyspace::scan::{scan, Page, ScanFlags, ScanOptions};
use crate::output::human_bytes;
use crate::output::table::Listing;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A type (`pods`, `deploy`, `widgets.example.com`) or a key prefix
    /// starting with `/`; default: every key.
    #[arg(value_name = "TYPE|PREFIX", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::types))]
    pub reference: Option<String>,

    /// List as of this revision.
    #[arg(long, value_name = "REV")]
    pub revision: Option<i64>,

    #[command(flatten)]
    pub scan: ScanFlags,
}

/// One key in `ls -o json` (JSON lines). Stable field names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry<'a> {
    pub key: std::borrow::Cow<'a, str>,
    /// `resource[.group]`, or the key's first segments outside the layout.
    pub r#type: String,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    /// Bytes of key plus value, as stored.
    pub size: usize,
    pub value_size: usize,
    /// `protobuf`, `json`, `cbor`, `encrypted:<provider>` or `unknown`.
    pub encoding: String,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    /// The lease holding the key as a 16-digit hex string (as every id in
    /// JSON: a lease id exceeds 2^53), `null` when none.
    pub lease: Option<String>,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let readers = cluster.connect_readers().await?;
    let client = readers.primary();
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let format = session.format_or(OutputFormat::Table);
    let mut listing = Listing::new(
        format,
        "ls",
        &[
            "type",
            "namespace",
            "name",
            "size",
            "encoding",
            "mod rev",
            "key",
        ],
    )?;
    let mut resolver = Resolver::new(client, &prefix);
    let range = resolver
        .range(args.reference.as_deref(), namespace.as_deref())
        .await?;
    let mut opts = args.scan.apply(ScanOptions::values().resuming());
    opts.revision = args.revision.unwrap_or(0);

    let shell = &mut session.shell;
    scan(&readers, &prefix, &range.start, &range.end, opts, |page| {
        let Page::Keys(kvs) = page else {
            shell.warn(page.notice().unwrap_or_default());
            return Ok(());
        };
        for kv in kvs {
            let info = registry::key::parse(kv.key(), &prefix);
            if !info.in_namespace(namespace.as_deref()) {
                continue;
            }
            let entry = Entry {
                key: String::from_utf8_lossy(kv.key()),
                r#type: crate::keyspace::resolve::type_name_of(&info, kv.value()),
                namespace: info.namespace,
                name: info.name,
                size: kv.key().len() + kv.value().len(),
                value_size: kv.value().len(),
                encoding: encoding_label(kv.value()),
                create_revision: kv.create_revision(),
                mod_revision: kv.mod_revision(),
                version: kv.version(),
                lease: (kv.lease() != 0).then(|| format!("{:016x}", kv.lease())),
            };
            listing.push(shell, &entry, || {
                vec![
                    entry.r#type.clone(),
                    entry.namespace.unwrap_or("").to_string(),
                    entry.name.to_string(),
                    human_bytes(entry.size as u64),
                    entry.encoding.clone(),
                    entry.mod_revision.to_string(),
                    entry.key.to_string(),
                ]
            })?;
        }
        listing.flush(shell)
    })
    .await?;
    if listing.shown == 0 {
        return Err(Error::new(
            Kind::NotFound,
            format!("no keys under {}", range.label),
        ));
    }
    Ok(())
}

/// The encoding column: cheap, from the first bytes only.
pub fn encoding_label(value: &[u8]) -> String {
    use registry::value::Encoding;
    match registry::value::detect(value) {
        Encoding::Encrypted { provider, .. } => format!("encrypted:{provider}"),
        e => e.to_string(),
    }
}
