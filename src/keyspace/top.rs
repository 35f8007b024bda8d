//! Who writes to etcd right now: writes from one watch, counted per row
//! (type, namespace, manager or key) over each interval and since the
//! start. Pure accounting: events in, rows out; the watch is
//! [`crate::keyspace::watch`], the rendering is the command's.
//!
//! Memory is bounded by the rows kept, whatever the number of distinct
//! keys: at most [`Top::capacity`] rows are tracked; when a new row arrives
//! with the table full, the row with the fewest writes since the start is
//! folded into `other`.

use std::collections::HashMap;

use serde::Serialize;

use super::decode::Decoder;
use super::history::author;
use super::watch::{Event, EventKind};

/// How writes are grouped into rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum By {
    Type,
    Namespace,
    /// The managedFields entry whose time changed (decodes every write).
    Manager,
    Key,
}

/// The row name of writes that cannot be attributed (a deletion, a value
/// without managedFields) when grouping by manager.
pub const UNKNOWN: &str = "(unknown)";
/// The row name of cluster-scoped objects and keys outside the layout when
/// grouping by namespace.
pub const NO_NAMESPACE: &str = "(none)";
/// The row every write beyond the rows kept is summed in.
pub const OTHER: &str = "other";

/// Which row an event counts in.
pub fn row_of(event: &Event, by: By, prefix: &str, decoder: &Decoder) -> String {
    match by {
        By::Key => String::from_utf8_lossy(&event.key).into_owned(),
        By::Type => registry::key::parse(&event.key, prefix)
            .type_name()
            .to_string(),
        By::Namespace => registry::key::parse(&event.key, prefix)
            .namespace
            .unwrap_or(NO_NAMESPACE)
            .to_string(),
        By::Manager => {
            if event.kind == EventKind::Deleted {
                return UNKNOWN.into();
            }
            let Ok(now) = decoder.decode(&event.key, &event.value) else {
                return UNKNOWN.into();
            };
            let before = event
                .prev_value
                .as_deref()
                .and_then(|p| decoder.decode(&event.key, p).ok());
            author(&now.value, before.as_ref().map(|b| &b.value))
                .0
                .unwrap_or_else(|| UNKNOWN.into())
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    puts: u64,
    deletes: u64,
    bytes: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.puts += o.puts;
        self.deletes += o.deletes;
        self.bytes += o.bytes;
    }

    fn writes(&self) -> u64 {
        self.puts + self.deletes
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Tracked {
    interval: Counts,
    total: Counts,
}

/// The counters of every row kept.
#[derive(Debug)]
pub struct Top {
    rows: HashMap<String, Tracked>,
    other: Tracked,
    capacity: usize,
}

/// One row of one interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub name: String,
    pub puts_per_second: f64,
    pub deletes_per_second: f64,
    pub bytes_per_second: f64,
    /// This row's share of all writes in the interval.
    pub share_percent: f64,
    pub puts_per_second_since_start: f64,
    pub deletes_per_second_since_start: f64,
    /// Writes since the start.
    pub puts: u64,
    pub deletes: u64,
    pub bytes: u64,
}

/// One interval: the `top` busiest rows, the rest summed in `other`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub interval_seconds: f64,
    pub elapsed_seconds: f64,
    /// All writes in the interval, per second.
    pub writes_per_second: f64,
    pub rows: Vec<Row>,
    /// Everything beyond the rows shown; `None` when nothing is left over.
    pub other: Option<Row>,
}

impl Top {
    /// Track at most `capacity` rows (at least one).
    pub fn new(capacity: usize) -> Top {
        Top {
            rows: HashMap::new(),
            other: Tracked::default(),
            capacity: capacity.max(1),
        }
    }

    /// Rows tracked at once for `top` rows shown: enough that a row busy
    /// now is rarely evicted by a burst of new names.
    pub fn capacity(top: usize) -> usize {
        (top * 10).max(200)
    }

    /// Count one event in `row`.
    pub fn record(&mut self, row: String, event: &Event) {
        let c = match event.kind {
            EventKind::Deleted => Counts {
                deletes: 1,
                ..Counts::default()
            },
            _ => Counts {
                puts: 1,
                bytes: (event.key.len() + event.value.len()) as u64,
                ..Counts::default()
            },
        };
        if !self.rows.contains_key(&row) && self.rows.len() >= self.capacity {
            self.evict();
        }
        let t = self.rows.entry(row).or_default();
        t.interval.add(c);
        t.total.add(c);
    }

    /// Fold the row with the fewest writes since the start into `other`.
    fn evict(&mut self) {
        let Some(name) = self
            .rows
            .iter()
            .min_by_key(|(_, t)| t.total.writes())
            .map(|(n, _)| n.clone())
        else {
            return;
        };
        if let Some(t) = self.rows.remove(&name) {
            self.other.interval.add(t.interval);
            self.other.total.add(t.total);
        }
    }

    /// Close an interval of `interval_s` seconds, `elapsed_s` after the
    /// start: the `top` rows with the most writes in it (then since the
    /// start), the rest in `other`; interval counters start again.
    pub fn tick(&mut self, interval_s: f64, elapsed_s: f64, top: usize) -> Report {
        let interval_s = interval_s.max(1e-3);
        let elapsed_s = elapsed_s.max(interval_s);
        let all: u64 = self.rows.values().map(|t| t.interval.writes()).sum::<u64>()
            + self.other.interval.writes();
        let row = |name: &str, t: &Tracked| Row {
            name: name.to_string(),
            puts_per_second: t.interval.puts as f64 / interval_s,
            deletes_per_second: t.interval.deletes as f64 / interval_s,
            bytes_per_second: t.interval.bytes as f64 / interval_s,
            share_percent: crate::output::percent(t.interval.writes(), all),
            puts_per_second_since_start: t.total.puts as f64 / elapsed_s,
            deletes_per_second_since_start: t.total.deletes as f64 / elapsed_s,
            puts: t.total.puts,
            deletes: t.total.deletes,
            bytes: t.total.bytes,
        };
        let mut ranked: Vec<(&String, &Tracked)> = self.rows.iter().collect();
        ranked.sort_by(|a, b| {
            b.1.interval
                .writes()
                .cmp(&a.1.interval.writes())
                .then_with(|| b.1.total.writes().cmp(&a.1.total.writes()))
                .then_with(|| a.0.cmp(b.0))
        });
        let rows: Vec<Row> = ranked.iter().take(top).map(|(n, t)| row(n, t)).collect();
        let mut rest = self.other;
        for (_, t) in ranked.iter().skip(top) {
            rest.interval.add(t.interval);
            rest.total.add(t.total);
        }
        let other = (rest.total.writes() > 0).then(|| row(OTHER, &rest));
        for t in self.rows.values_mut() {
            t.interval = Counts::default();
        }
        self.other.interval = Counts::default();
        Report {
            interval_seconds: interval_s,
            elapsed_seconds: elapsed_s,
            writes_per_second: all as f64 / interval_s,
            rows,
            other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::decode::DecodeFlags;

    fn put(key: &str, value: &str) -> Event {
        Event {
            kind: EventKind::Modified,
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            prev_value: None,
            prev_revision: 0,
            revision: 1,
        }
    }

    #[test]
    fn rates_shares_and_other_per_interval_and_since_start() {
        let mut t = Top::new(100);
        for _ in 0..10 {
            t.record("events".into(), &put("/registry/events/a/e", "12345"));
        }
        for _ in 0..5 {
            t.record("pods".into(), &put("/registry/pods/a/p", ""));
        }
        let mut del = put("/registry/pods/a/p", "");
        del.kind = EventKind::Deleted;
        t.record("pods".into(), &del);
        t.record("leases".into(), &put("/registry/leases/a/l", ""));
        let r = t.tick(2.0, 2.0, 2);
        assert_eq!(r.rows[0].name, "events");
        assert_eq!(r.rows[0].puts_per_second, 5.0);
        assert_eq!(r.rows[0].bytes_per_second, 10.0 * 25.0 / 2.0);
        assert_eq!(r.rows[1].name, "pods");
        assert_eq!(r.rows[1].deletes_per_second, 0.5);
        assert_eq!(r.writes_per_second, 8.5);
        let other = r.other.unwrap();
        assert_eq!((other.name.as_str(), other.puts), ("other", 1));
        assert_eq!(r.rows[0].share_percent, 58.8);
        // The next interval starts from zero; since-start rates go on.
        t.record("pods".into(), &put("/registry/pods/a/p", ""));
        let r = t.tick(2.0, 4.0, 2);
        assert_eq!(r.rows[0].name, "pods");
        assert_eq!(r.rows[0].puts_per_second, 0.5);
        assert_eq!(r.rows[0].puts_per_second_since_start, 6.0 / 4.0);
        assert_eq!(r.rows[1].puts_per_second, 0.0);
        assert_eq!(r.rows[1].puts, 10);
    }

    #[test]
    fn memory_holds_the_capacity_and_evicts_the_quietest_into_other() {
        let mut t = Top::new(3);
        for _ in 0..5 {
            t.record("busy".into(), &put("/k", ""));
        }
        for i in 0..1000 {
            t.record(format!("key-{i}"), &put("/k", ""));
        }
        assert!(t.rows.len() <= 3);
        let r = t.tick(1.0, 1.0, 1);
        assert_eq!(r.rows[0].name, "busy");
        assert_eq!(r.rows[0].puts, 5);
        let other = r.other.unwrap();
        assert_eq!(other.puts, 1000);
    }

    #[test]
    fn rows_by_type_namespace_key_and_manager() {
        let d = Decoder::new(&DecodeFlags::default(), "/registry").unwrap();
        let e = put("/registry/events/ns1/e", "");
        assert_eq!(row_of(&e, By::Type, "/registry", &d), "events");
        assert_eq!(row_of(&e, By::Namespace, "/registry", &d), "ns1");
        assert_eq!(
            row_of(&e, By::Key, "/registry", &d),
            "/registry/events/ns1/e"
        );
        let node = put("/registry/minions/n1", "");
        assert_eq!(row_of(&node, By::Namespace, "/registry", &d), NO_NAMESPACE);
        let w = |t: &str| {
            format!(
                r#"{{"apiVersion":"example.com/v1","kind":"Widget","metadata":{{"name":"w","managedFields":[{{"manager":"kubectl","operation":"Update","time":"2024-01-01T00:00:00Z"}},{{"manager":"operator","operation":"Update","time":"{t}"}}]}}}}"#
            )
        };
        let mut ev = put(
            "/registry/example.com/widgets/ns1/w",
            &w("2024-01-02T00:00:00Z"),
        );
        ev.prev_value = Some(w("2024-01-01T00:00:00Z").into_bytes());
        assert_eq!(row_of(&ev, By::Manager, "/registry", &d), "operator");
        ev.kind = EventKind::Deleted;
        assert_eq!(row_of(&ev, By::Manager, "/registry", &d), UNKNOWN);
    }
}
