//! `search`: keys (and with `--values`, decoded objects) matching a
//! substring, glob or regex, streamed page by page like grep. Exits 1 when
//! nothing matches.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::keyspace::decode::{DecodeFlags, Decoder};
use crate::keyspace::pattern::Pattern;
use crate::keyspace::resolve::Resolver;
use crate::keyspace::scan::{scan_pieces, Page, ScanFlags, ScanOptions};
use crate::output::table::Listing;
use crate::output::Shell;

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
pub struct Hit {
    pub r#type: String,
    pub namespace: Option<String>,
    pub name: String,
    pub key: String,
    /// With --values: the path of the first matching field; `null` when the
    /// key itself matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Puts the hits of pieces read in any order back in key order: a piece's
/// hits are printed once every piece before it is done.
#[derive(Default)]
struct InOrder {
    /// The first piece not yet done: its hits are printed as they come.
    head: usize,
    waiting: BTreeMap<usize, Vec<Hit>>,
    done: BTreeSet<usize>,
}

impl InOrder {
    /// Hits of `piece`; returns those that can be printed now.
    fn add(&mut self, piece: usize, hits: Vec<Hit>) -> Vec<Hit> {
        if piece == self.head {
            hits
        } else {
            self.waiting.entry(piece).or_default().extend(hits);
            Vec::new()
        }
    }

    /// `piece` is done; returns the hits this lets through.
    fn done(&mut self, piece: usize) -> Vec<Hit> {
        self.done.insert(piece);
        let mut ready = Vec::new();
        while self.done.remove(&self.head) {
            self.head += 1;
            ready.extend(self.waiting.remove(&self.head).unwrap_or_default());
        }
        ready
    }
}

/// Print hits that are ready, in the order given.
fn print(listing: &mut Listing, shell: &mut Shell, hits: &[Hit], values: bool) -> Result<()> {
    for h in hits {
        listing.push(shell, h, || {
            let mut row = vec![
                h.r#type.clone(),
                h.namespace.clone().unwrap_or_default(),
                h.name.clone(),
                h.key.clone(),
            ];
            if values {
                row.push(h.field.clone().unwrap_or_default());
            }
            row
        })?;
    }
    listing.flush(shell)
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let pattern = Pattern::new(&args.pattern, args.regex)?;
    let format = session.format_or(OutputFormat::Table);
    let mut headers = vec!["type", "namespace", "name", "key"];
    if args.values {
        headers.push("field");
    }
    let mut listing = Listing::new(format, "search", &headers)?;
    let cluster = session.cluster().await?;
    let readers = cluster.connect_readers().await?;
    let client = readers.primary();
    let prefix = session.global.prefix.clone();
    let namespace = session.global.namespace.clone();
    let decoder = Decoder::new(&args.decode, &prefix)?;
    let range = Resolver::new(client, &prefix)
        .range(args.r#type.as_deref(), namespace.as_deref())
        .await?;
    // Read in any order so that every reader stays busy; hits are put
    // back in key order below, holding only the hits of pieces that
    // arrived early.
    let base = if args.values {
        ScanOptions::values()
    } else {
        ScanOptions::keys_only()
    };
    let opts = args.scan.apply(base.unordered().resuming());

    let mut order = InOrder::default();
    let shell = &mut session.shell;
    let (mut hits, mut undecodable) = (0u64, 0u64);
    scan_pieces(
        &readers,
        &prefix,
        &[(range.start.clone(), range.end.clone())],
        opts,
        |piece, page| {
            let kvs = match page {
                Some(Page::Keys(kvs)) => kvs,
                // Pieces keep their numbers across a resume, and a
                // resumed piece goes on after what it delivered: what
                // `order` holds stays right.
                Some(page @ (Page::Restart { .. } | Page::Resumed { .. })) => {
                    if matches!(page, Page::Restart { .. }) {
                        order = InOrder::default();
                    }
                    shell.warn(page.notice().unwrap_or_default());
                    return Ok(());
                }
                None => return print(&mut listing, shell, &order.done(piece), args.values),
            };
            let mut found = Vec::new();
            for kv in kvs {
                if !args.values && namespace.is_none() && !pattern.may_match_key(kv.key()) {
                    continue;
                }
                let info = registry::key::parse(kv.key(), &prefix);
                if !info.in_namespace(namespace.as_deref()) {
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
                found.push(Hit {
                    r#type: info.type_name().to_string(),
                    namespace: info.namespace.map(str::to_string),
                    name: info.name.to_string(),
                    key: String::from_utf8_lossy(kv.key()).into_owned(),
                    field,
                });
            }
            let ready = order.add(piece, found);
            print(&mut listing, shell, &ready, args.values)
        },
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(key: &str) -> Hit {
        Hit {
            r#type: "pods".into(),
            namespace: None,
            name: key.into(),
            key: key.into(),
            field: None,
        }
    }

    fn keys(hits: Vec<Hit>) -> Vec<String> {
        hits.into_iter().map(|h| h.key).collect()
    }

    #[test]
    fn hits_of_pieces_read_out_of_order_come_out_in_key_order() {
        let mut order = InOrder::default();
        // Piece 2 and 1 arrive before piece 0 is done.
        assert!(order.add(2, vec![hit("c1")]).is_empty());
        assert!(order.add(1, vec![hit("b1")]).is_empty());
        assert_eq!(keys(order.add(0, vec![hit("a1")])), ["a1"]);
        assert!(order.done(2).is_empty());
        assert!(order.add(1, vec![hit("b2")]).is_empty());
        // Piece 0 done: piece 1 becomes the head and what it held is let through.
        assert_eq!(keys(order.done(0)), ["b1", "b2"]);
        assert_eq!(keys(order.add(1, vec![hit("b3")])), ["b3"]);
        // Piece 1 done: piece 2 was already done, piece 3 is the head.
        assert_eq!(keys(order.done(1)), ["c1"]);
        assert_eq!(keys(order.add(3, vec![hit("d1")])), ["d1"]);
        assert!(order.waiting.is_empty());
    }
}
