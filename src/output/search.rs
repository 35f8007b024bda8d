//! `search` hits as they print: a table row or a JSON line each, in key
//! order as pages' outcomes arrive.

use crate::cli::OutputFormat;
use crate::error::Result;
use crate::keyspace::search::{Hit, InOrder, Outcome};
use crate::output::table::Listing;
use crate::output::Shell;

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

/// Prints hits in key order as pages' outcomes arrive.
pub struct Sink {
    /// Hits held until the pieces before theirs are done.
    pub order: InOrder,
    listing: Listing,
    /// Hits found so far.
    pub hits: u64,
    /// Values that did not decode, so far.
    pub undecodable: u64,
    values: bool,
}

impl Sink {
    /// The listing `search` prints: with --values, a FIELD column too.
    pub fn new(format: OutputFormat, values: bool) -> Result<Sink> {
        let mut headers = vec!["type", "namespace", "name", "key"];
        if values {
            headers.push("field");
        }
        Ok(Sink {
            order: InOrder::default(),
            listing: Listing::new(format, "search", &headers)?,
            hits: 0,
            undecodable: 0,
            values,
        })
    }

    pub fn handle(&mut self, shell: &mut Shell, outcome: Outcome) -> Result<()> {
        let ready = match outcome {
            Outcome::Found(piece, found) => {
                self.hits += found.hits.len() as u64;
                self.undecodable += found.undecodable;
                self.order.add(piece, found.hits)
            }
            Outcome::Done(piece) => self.order.done(piece),
        };
        print(&mut self.listing, shell, &ready, self.values)
    }
}
