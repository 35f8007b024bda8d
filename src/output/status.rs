//! The `status` table, built from [`StatusReport`]; never talks to etcd.

use crate::ops::status::StatusReport;
use crate::output::human_bytes;
use crate::output::table::{Mark, Table};

/// The default table fits 120 columns for a 3-member cluster; `wide` adds
/// the node, id and raft columns.
pub fn table(report: &StatusReport, wide: bool) -> Table {
    let with_pods = report.members.iter().any(|m| m.pod.is_some());
    let mut columns: Vec<&str> = Vec::new();
    let mut col = |name: &'static str, shown: bool| {
        if shown {
            columns.push(name);
        }
        shown
    };
    let pod = col("pod", with_pods);
    let node = col("node", with_pods && wide);
    let endpoint = col("endpoint", !with_pods);
    col("name", true);
    let id = col("id", wide);
    for c in ["version", "db size", "in use", "frag", "quota use", "role"] {
        col(c, true);
    }
    let raft = wide;
    for c in ["raft term", "raft index", "applied", "revision"] {
        col(c, raft);
    }
    col("alarms", true);
    col("errors", true);
    let mut t = Table::new(&columns);
    for m in &report.members {
        let mut cells: Vec<(String, Mark)> = Vec::new();
        let plain = |s: String| (s, Mark::Plain);
        let opt = |v: Option<String>| plain(v.unwrap_or_else(|| "-".into()));
        if pod {
            cells.push(plain(m.pod.clone().unwrap_or_default()));
        }
        if node {
            cells.push(plain(m.node.clone().unwrap_or_default()));
        }
        if endpoint {
            cells.push(plain(m.endpoint.clone()));
        }
        if let Some(err) = &m.error {
            // Every column but the first and the last is unknown.
            while cells.len() + 1 < columns.len() {
                cells.push(plain("-".into()));
            }
            cells.push((err.clone(), Mark::Bad));
            t.marked_row(cells);
            continue;
        }
        cells.push(opt(m.name.clone().filter(|n| !n.is_empty())));
        if id {
            cells.push(opt(m.id.clone()));
        }
        cells.push(opt(m.version.clone()));
        cells.push(opt(m.db_size.map(human_bytes)));
        cells.push(opt(m.db_size_in_use.map(human_bytes)));
        let frag = m.fragmentation_percent.unwrap_or(0.0);
        cells.push((
            format!("{frag:.1}%"),
            if frag >= 50.0 {
                Mark::Warn
            } else {
                Mark::Plain
            },
        ));
        let quota_use = m.quota_use_percent.unwrap_or(0.0);
        let assumed = if m.quota_assumed == Some(true) {
            "*"
        } else {
            ""
        };
        cells.push((
            format!(
                "{quota_use:.1}% of {}{assumed}",
                human_bytes(m.quota_bytes.unwrap_or(0))
            ),
            if quota_use >= 80.0 {
                Mark::Bad
            } else {
                Mark::Plain
            },
        ));
        cells.push(match (m.is_leader, m.is_learner) {
            (Some(true), _) => ("leader".into(), Mark::Good),
            (_, Some(true)) => plain("learner".into()),
            (Some(false), _) => plain("follower".into()),
            _ => plain("-".into()),
        });
        if raft {
            let lag = if m.lagging == Some(true) {
                Mark::Warn
            } else {
                Mark::Plain
            };
            cells.push((opt_num(m.raft_term), lag));
            cells.push(plain(opt_num(m.raft_index)));
            cells.push((opt_num(m.raft_applied_index), lag));
            cells.push(plain(m.revision.map(|r| r.to_string()).unwrap_or_default()));
        }
        cells.push((
            m.alarms.join(","),
            if m.alarms.is_empty() {
                Mark::Plain
            } else {
                Mark::Bad
            },
        ));
        let mut errors = m.errors.join("; ");
        if m.lagging == Some(true) {
            if !errors.is_empty() {
                errors.push_str("; ");
            }
            errors.push_str("lagging behind the other members");
        }
        cells.push((errors, Mark::Warn));
        t.marked_row(cells);
    }
    t
}

fn opt_num(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
}
