//! `search`: keys (and with `--values`, decoded objects) matching a
//! substring, glob or regex, streamed page by page like grep. Exits 1 when
//! nothing matches.

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::pattern::Pattern;
use crate::keyspace::resolve::Resolver;
use crate::keyspace::scan::{scan, Page, ScanFlags, ScanOptions};
use crate::output::table::StreamingTable;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Matching: a key matches when the pattern matches the whole key, its \
    `namespace/name` or its name. A substring or --regex may match anywhere; a glob (`*`, `?`, \
    `[abc]`; `*` also crosses `/`) must match all of it. With --values, an object also matches \
    when one of its fields matches, written as the value (`nginx:1.25`), as `field=value` \
    (`app=nginx`) or as JSON (`\"app\":\"nginx\"`). Secret data is searched only with \
    --show-secrets."
)]
pub struct Args {
    /// A substring, a glob (`web-*`, `default/web-?`) or, with --regex, a regex.
    #[arg(value_name = "PATTERN")]
    pub pattern: String,

    /// Read PATTERN as a regular expression (Rust `regex` syntax).
    #[arg(long)]
    pub regex: bool,

    /// Only this type (`pods`, `widgets.example.com`) or key prefix (`/...`).
    #[arg(long = "type", value_name = "TYPE|PREFIX")]
    pub r#type: Option<String>,

    /// Also search the decoded objects' fields.
    ///
    /// Heavy: reads and decodes every value in the range.
    #[arg(long)]
    pub values: bool,

    #[command(flatten)]
    pub decode: DecodeFlags,

    #[command(flatten)]
    pub scan: ScanFlags,
}

/// One hit in `search -o json` (JSON lines). Stable field names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit<'a> {
    pub r#type: String,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub key: std::borrow::Cow<'a, str>,
    /// With --values: the path of the first matching field; `null` when the
    /// key itself matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let pattern = Pattern::new(&args.pattern, args.regex)?;
    let format = session.format_or(OutputFormat::Table);
    if matches!(format, OutputFormat::Yaml | OutputFormat::Raw) {
        return Err(Error::usage("`search` prints a table or JSON lines")
            .with_hint("use -o table or -o json"));
    }
    let cluster = session.cluster().await?;
    let client = cluster.connect_any().await?;
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let decoder = Decoder::new(&args.decode, &prefix)?;
    let range = Resolver::new(&client, &prefix)
        .range(args.r#type.as_deref(), namespace.as_deref())
        .await?;
    let base = if args.values {
        ScanOptions::values()
    } else {
        ScanOptions::keys_only()
    };
    let opts = args.scan.apply(base);

    let mut headers = vec!["type", "namespace", "name", "key"];
    if args.values {
        headers.push("field");
    }
    let mut table = StreamingTable::new(&headers);
    let shell = &mut session.shell;
    let (mut hits, mut undecodable) = (0u64, 0u64);
    let mut rows: Vec<Vec<String>> = Vec::new();
    scan(&client, &range.start, &range.end, opts, |page| {
        let Page::Keys(kvs) = page else {
            shell.warn("the revision was compacted during the search: starting again");
            return Ok(());
        };
        rows.clear();
        for kv in kvs {
            if !args.values && namespace.is_none() && !pattern.may_match_key(kv.key()) {
                continue;
            }
            let info = registry::key::parse(kv.key(), &prefix);
            if namespace.is_some() && info.namespace != namespace.as_deref() {
                continue;
            }
            let field = if pattern.matches_key(&info) {
                None
            } else if args.values {
                match decoder.decode(kv.key(), kv.value()) {
                    Ok(obj) => match pattern.find_in_value(&obj.value) {
                        Some(path) => Some(path),
                        None => continue,
                    },
                    Err(_) => {
                        undecodable += 1;
                        continue;
                    }
                }
            } else {
                continue;
            };
            hits += 1;
            let hit = Hit {
                r#type: info.type_name().to_string(),
                namespace: info.namespace,
                name: info.name,
                key: String::from_utf8_lossy(kv.key()),
                field,
            };
            if format == OutputFormat::Json {
                shell.json_line(&hit)?;
            } else {
                let mut row = vec![
                    hit.r#type,
                    hit.namespace.unwrap_or("").to_string(),
                    hit.name.to_string(),
                    hit.key.into_owned(),
                ];
                if args.values {
                    row.push(hit.field.unwrap_or_default());
                }
                rows.push(row);
            }
        }
        if !rows.is_empty() {
            table.write_page(shell.out(), &rows)?;
        }
        Ok(())
    })
    .await?;
    if undecodable > 0 {
        session.shell.warn(format!(
            "{undecodable} values could not be decoded and were matched on their keys only"
        ));
    }
    if hits == 0 {
        return Err(Error::new(
            Kind::NotFound,
            format!("nothing under {} matches `{}`", range.label, args.pattern),
        ));
    }
    Ok(())
}
