//! Aggregates over a keyspace scan: bytes and counts per type and
//! namespace, the largest objects, keys per lease. Pure: fed one key at a
//! time by a command's scan visitor, no I/O and no printing.
//!
//! Memory is proportional to types, namespaces, leases and `top`, never to
//! keys: a key is copied only when it enters the top-N heap or becomes its
//! type's largest object, and then at most [`MAX_KEPT_KEY_BYTES`] of it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt::Write as _;

use registry::key::{KeyInfo, KeyKind};

/// The most of one key the largest-objects lists keep: etcd accepts keys of
/// about 1.5 MiB, and `--top 3000` of those would hold gigabytes. A longer
/// key is kept as its first bytes followed by `…`.
pub const MAX_KEPT_KEY_BYTES: usize = 4096;

/// `key` as the largest-objects lists keep it.
fn kept_key(key: &[u8]) -> Vec<u8> {
    if key.len() <= MAX_KEPT_KEY_BYTES {
        return key.to_vec();
    }
    let mut k = key[..MAX_KEPT_KEY_BYTES].to_vec();
    k.extend_from_slice("…".as_bytes());
    k
}

/// The `n` largest items seen, by size; ties keep the smaller key so the
/// answer does not depend on scan order.
#[derive(Debug, Clone)]
pub struct TopN {
    n: usize,
    // Min-heap on (size, reversed key): the top is the entry to evict next.
    heap: BinaryHeap<Reverse<(u64, Reverse<Vec<u8>>)>>,
}

impl TopN {
    pub fn new(n: usize) -> TopN {
        TopN {
            n,
            heap: BinaryHeap::with_capacity(n.min(4096) + 1),
        }
    }

    /// Consider one item; the key is copied only if it makes the cut.
    pub fn offer(&mut self, size: u64, key: &[u8]) {
        if self.n == 0 {
            return;
        }
        if self.heap.len() == self.n {
            let Some(Reverse((min, Reverse(min_key)))) = self.heap.peek() else {
                return;
            };
            let better = size > *min || (size == *min && key < min_key.as_slice());
            if !better {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Reverse((size, Reverse(kept_key(key)))));
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }

    /// Largest first; equal sizes by key.
    pub fn into_sorted(self) -> Vec<(u64, Vec<u8>)> {
        let mut v: Vec<(u64, Vec<u8>)> = self
            .heap
            .into_iter()
            .map(|Reverse((s, Reverse(k)))| (s, k))
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        v
    }
}

/// Count and bytes of one group of keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub bytes: u64,
}

/// What is known about one type after a scan.
#[derive(Debug, Clone, Default)]
pub struct TypeStats {
    pub kind: Option<KeyKind>,
    pub tally: Tally,
    /// Keys of this type attached to a lease.
    pub leased: u64,
    /// The largest object: its size and key.
    pub largest: Option<(u64, Vec<u8>)>,
    /// By namespace (`""` for cluster-scoped keys), when asked for.
    pub namespaces: HashMap<String, Tally>,
}

/// Keys per lease, with memory proportional to leases.
#[derive(Debug, Clone, Default)]
pub struct LeaseStats {
    pub keys_per_lease: HashMap<i64, u64>,
}

impl LeaseStats {
    pub fn add(&mut self, lease: i64) {
        if lease != 0 {
            *self.keys_per_lease.entry(lease).or_default() += 1;
        }
    }

    pub fn keys(&self) -> u64 {
        self.keys_per_lease.values().sum()
    }

    /// The lease holding the most keys (lowest id on a tie).
    pub fn busiest(&self) -> Option<(i64, u64)> {
        self.keys_per_lease
            .iter()
            .map(|(&id, &n)| (id, n))
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
    }
}

/// Everything `size --by-type` learns from one scan.
#[derive(Debug, Clone)]
pub struct KeyspaceStats {
    pub types: HashMap<String, TypeStats>,
    pub top: TopN,
    pub leases: LeaseStats,
    pub total: Tally,
    by_namespace: bool,
    label: String,
}

impl KeyspaceStats {
    pub fn new(top: usize, by_namespace: bool) -> KeyspaceStats {
        KeyspaceStats {
            types: HashMap::new(),
            top: TopN::new(top),
            leases: LeaseStats::default(),
            total: Tally::default(),
            by_namespace,
            label: String::new(),
        }
    }

    /// Forget everything (the scan restarted).
    pub fn clear(&mut self) {
        self.types.clear();
        self.top.clear();
        self.leases = LeaseStats::default();
        self.total = Tally::default();
    }

    /// Account one key of `size` bytes (key plus value, as stored).
    pub fn add(&mut self, info: &KeyInfo<'_>, size: u64, lease: i64) {
        self.total.count += 1;
        self.total.bytes += size;
        self.top.offer(size, info.key);
        self.leases.add(lease);

        // One reused buffer for the label: no allocation per key.
        self.label.clear();
        let _ = write!(self.label, "{}", info.type_name());
        if !self.types.contains_key(self.label.as_str()) {
            self.types.insert(self.label.clone(), TypeStats::default());
        }
        let t = self
            .types
            .get_mut(self.label.as_str())
            .expect("inserted above");
        t.kind.get_or_insert(info.kind);
        t.tally.count += 1;
        t.tally.bytes += size;
        if lease != 0 {
            t.leased += 1;
        }
        let larger = match &t.largest {
            None => true,
            Some((s, k)) => size > *s || (size == *s && info.key < k.as_slice()),
        };
        if larger {
            t.largest = Some((size, kept_key(info.key)));
        }
        if self.by_namespace {
            let ns = info.namespace.unwrap_or("");
            match t.namespaces.get_mut(ns) {
                Some(n) => {
                    n.count += 1;
                    n.bytes += size;
                }
                None => {
                    t.namespaces.insert(
                        ns.to_string(),
                        Tally {
                            count: 1,
                            bytes: size,
                        },
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_keeps_the_largest_and_breaks_ties_by_key() {
        let mut top = TopN::new(3);
        for (size, key) in [(5, "e"), (9, "a"), (1, "z"), (9, "b"), (7, "c"), (9, "0")] {
            top.offer(size, key.as_bytes());
        }
        let got: Vec<(u64, String)> = top
            .into_sorted()
            .into_iter()
            .map(|(s, k)| (s, String::from_utf8(k).unwrap()))
            .collect();
        assert_eq!(got, vec![(9, "0".into()), (9, "a".into()), (9, "b".into())]);
    }

    /// Issue 13, defect 7: `size --top 3001` with a 1 MiB key held rows
    /// padded to its width; the heap keeps sizes and truncated keys.
    #[test]
    fn top_n_keeps_truncated_keys() {
        let mut top = TopN::new(2);
        let long = vec![b'k'; 1 << 20];
        top.offer(10, &long);
        top.offer(5, b"short");
        let got = top.into_sorted();
        assert_eq!(got[0].0, 10);
        assert!(got[0].1.len() <= MAX_KEPT_KEY_BYTES + 3);
        assert!(got[0].1.ends_with("…".as_bytes()));
        assert_eq!(got[1].1, b"short");
    }

    #[test]
    fn top_zero_keeps_nothing() {
        let mut top = TopN::new(0);
        top.offer(1, b"k");
        assert!(top.into_sorted().is_empty());
    }

    #[test]
    fn stats_sum_per_type_namespace_and_lease() {
        let mut s = KeyspaceStats::new(2, true);
        let keys: [(&[u8], u64, i64); 4] = [
            (b"/registry/pods/a/p1", 100, 0),
            (b"/registry/pods/b/p2", 300, 0),
            (b"/registry/events/a/e1", 50, 7),
            (b"/registry/events/a/e2", 60, 7),
        ];
        for (k, size, lease) in keys {
            s.add(&registry::key::parse(k, "/registry"), size, lease);
        }
        assert_eq!(
            s.total,
            Tally {
                count: 4,
                bytes: 510
            }
        );
        let pods = &s.types["pods"];
        assert_eq!(
            pods.tally,
            Tally {
                count: 2,
                bytes: 400
            }
        );
        assert_eq!(pods.largest.as_ref().unwrap().0, 300);
        assert_eq!(
            pods.namespaces["b"],
            Tally {
                count: 1,
                bytes: 300
            }
        );
        assert_eq!(s.types["events"].leased, 2);
        assert_eq!(s.leases.busiest(), Some((7, 2)));
        assert_eq!(s.leases.keys(), 2);
        let top = s.top.clone().into_sorted();
        assert_eq!(top[0].0, 300);
        assert_eq!(top[1].0, 100);
        s.clear();
        assert_eq!(s.total, Tally::default());
        assert!(s.types.is_empty());
    }
}
