//! `search` as keyspace work: which keys (and with `--values`, which
//! decoded objects) match a pattern, page by page, and the hits of pieces
//! read in any order put back in key order. Never prints.

use std::collections::{BTreeMap, BTreeSet};

use etcd_client::KeyValue;
use serde::Serialize;

use crate::keyspace::decode::Decoder;
use crate::keyspace::pattern::Pattern;

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
pub struct InOrder {
    /// The first piece not yet done: its hits are printed as they come.
    head: usize,
    waiting: BTreeMap<usize, Vec<Hit>>,
    done: BTreeSet<usize>,
}

impl InOrder {
    /// Hits of `piece`; returns those that can be printed now.
    pub fn add(&mut self, piece: usize, hits: Vec<Hit>) -> Vec<Hit> {
        if piece == self.head {
            hits
        } else {
            self.waiting.entry(piece).or_default().extend(hits);
            Vec::new()
        }
    }

    /// `piece` is done; returns the hits this lets through.
    pub fn done(&mut self, piece: usize) -> Vec<Hit> {
        self.done.insert(piece);
        let mut ready = Vec::new();
        while self.done.remove(&self.head) {
            self.head += 1;
            ready.extend(self.waiting.remove(&self.head).unwrap_or_default());
        }
        ready
    }
}

/// What a search looks for, shared with the decoding threads.
pub struct Matcher {
    pub pattern: Pattern,
    pub decoder: Decoder,
    pub prefix: String,
    pub namespace: Option<String>,
    pub values: bool,
}

/// The hits of a page, and how many of its values did not decode.
pub struct Found {
    pub hits: Vec<Hit>,
    pub undecodable: u64,
}

impl Matcher {
    pub fn find(&self, kvs: &[KeyValue]) -> Found {
        let mut found = Found {
            hits: Vec::new(),
            undecodable: 0,
        };
        let namespace = self.namespace.as_deref();
        for kv in kvs {
            if !self.values && namespace.is_none() && !self.pattern.may_match_key(kv.key()) {
                continue;
            }
            let info = registry::key::parse(kv.key(), &self.prefix);
            if !info.in_namespace(namespace) {
                continue;
            }
            let field = if self.pattern.matches_key(&info) {
                None
            } else if self.values {
                match self.decoder.decode(kv.key(), kv.value()) {
                    Ok(obj) => match self.pattern.find_in_value(&obj.value) {
                        Some(path) => Some(path),
                        None => continue,
                    },
                    Err(_) => {
                        found.undecodable += 1;
                        continue;
                    }
                }
            } else {
                continue;
            };
            found.hits.push(Hit {
                r#type: info.type_name().to_string(),
                namespace: info.namespace.map(str::to_string),
                name: info.name.to_string(),
                key: String::from_utf8_lossy(kv.key()).into_owned(),
                field,
            });
        }
        found
    }
}

/// Work for the decoding threads: a page of a piece, or the piece's end
/// (so that it reaches the printer after the piece's pages).
pub enum Job {
    Page(usize, Vec<KeyValue>),
    Done(usize),
}

pub enum Outcome {
    Found(usize, Found),
    Done(usize),
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
