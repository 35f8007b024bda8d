//! `size` as tables: members' disk use, and what fills the keyspace.

use serde::Serialize;

use crate::keyspace::history_size::HistorySize;
use crate::keyspace::size::{KeyspaceSize, LeasePressure};
use crate::ops::quota::MemberSize;
use crate::output::table::{Mark, Table};
use crate::output::{escape, human_bytes, percent, share_bar};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SizeReport {
    pub members: Vec<MemberSize>,
    /// What fills the keyspace, with --by-type, --top or a TYPE/PREFIX.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyspace: Option<KeyspaceSize>,
    /// What a compaction at the current revision would free, with --history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<HistorySize>,
}

pub fn tables(report: &SizeReport, wide: bool) -> Vec<Table> {
    let mut out = vec![table(report, wide)];
    if let Some(k) = &report.keyspace {
        out.push(types_table(k));
        if !k.top.is_empty() {
            out.push(top_table(k));
        }
        out.push(lease_table(&k.leases));
    }
    if let Some(h) = &report.history {
        out.extend(history_tables(h));
    }
    out
}

/// What a compaction would free: per type, then the top keys (live and
/// offline alike).
pub fn history_tables(h: &HistorySize) -> Vec<Table> {
    let compared = match (h.db_size_in_use, h.db_size, h.old_share_percent) {
        (Some(d), _, Some(p)) => format!(" ({p:.1}% of {} in use)", human_bytes(d)),
        (None, Some(d), Some(p)) => format!(" ({p:.1}% of the {} file)", human_bytes(d)),
        _ => String::new(),
    };
    let since = match h.compacted_revision {
        Some(c) => format!("revisions {c} to {}", h.revision),
        None => format!("revisions 1 to {}", h.revision),
    };
    let mut t = Table::new(&["type", "old revisions", "old size", "current keys", "current size"])
        .right_align(&[1, 2, 3, 4])
        .title(format!(
            "What a compaction at revision {} would free ({since} retained): {} in {} old revisions{compared}:",
            h.revision,
            human_bytes(h.old_bytes),
            h.old_revisions
        ));
    for ty in &h.types {
        t.row([
            ty.r#type.clone(),
            ty.old_revisions.to_string(),
            human_bytes(ty.old_bytes),
            ty.current_keys.to_string(),
            human_bytes(ty.current_bytes),
        ]);
    }
    t.row([
        "TOTAL".to_string(),
        h.old_revisions.to_string(),
        human_bytes(h.old_bytes),
        h.current_keys.to_string(),
        human_bytes(h.current_bytes),
    ]);
    let mut out = vec![t];
    if !h.top.is_empty() {
        let mut k = Table::new(&["old revisions", "old size", "type", "key"])
            .right_align(&[0, 1])
            .title("The keys holding the most old revisions:");
        for key in &h.top {
            let approx = if key.approximate { "≥" } else { "" };
            k.row([
                format!("{approx}{}", key.old_revisions),
                format!("{approx}{}", human_bytes(key.old_bytes)),
                key.r#type.clone(),
                escape(&key.key).into_owned(),
            ]);
        }
        out.push(k);
    }
    out
}

fn types_table(k: &KeyspaceSize) -> Table {
    let by_ns = k.types.iter().any(|t| t.namespaces.is_some());
    let mut headers = vec!["type"];
    if by_ns {
        headers.push("namespace");
    }
    headers.extend(["count", "size", "share", "average", "largest", "leased"]);
    // Numbers right-aligned; the share bars left-aligned so they line up.
    let first_num = headers.len() - 6;
    let right: Vec<usize> = (first_num..headers.len())
        .filter(|&i| i != first_num + 2)
        .collect();
    let mut t = Table::new(&headers).right_align(&right).title(format!(
        "What fills {} at revision {}:",
        k.range, k.revision
    ));
    let row = |t: &mut Table,
               ty: &str,
               ns: Option<&str>,
               count: u64,
               bytes: u64,
               largest: String,
               leased: String| {
        let mut cells = vec![ty.to_string()];
        if by_ns {
            cells.push(ns.unwrap_or("").to_string());
        }
        cells.extend([
            count.to_string(),
            human_bytes(bytes),
            share_bar(percent(bytes, k.total_bytes)),
            human_bytes(bytes.checked_div(count).unwrap_or(0)),
            largest,
            leased,
        ]);
        t.row(cells);
    };
    for ty in &k.types {
        let largest = ty
            .largest
            .as_ref()
            .map(|o| human_bytes(o.bytes))
            .unwrap_or_default();
        row(
            &mut t,
            &ty.r#type,
            None,
            ty.count,
            ty.bytes,
            largest,
            ty.leased_keys.to_string(),
        );
        for ns in ty.namespaces.iter().flatten() {
            row(
                &mut t,
                &ty.r#type,
                Some(ns.namespace.as_deref().unwrap_or("-")),
                ns.count,
                ns.bytes,
                String::new(),
                String::new(),
            );
        }
    }
    let mut total = vec!["TOTAL".to_string()];
    if by_ns {
        total.push(String::new());
    }
    total.extend([
        k.total_keys.to_string(),
        human_bytes(k.total_bytes),
        String::new(),
        human_bytes(k.total_bytes.checked_div(k.total_keys).unwrap_or(0)),
        String::new(),
        k.leases.keys_with_lease.to_string(),
    ]);
    t.row(total);
    t
}

fn top_table(k: &KeyspaceSize) -> Table {
    let mut t = Table::new(&["size", "type", "key"])
        .right_align(&[0])
        .title(format!("The {} largest objects:", k.top.len()));
    for o in &k.top {
        t.row([human_bytes(o.bytes), o.r#type.clone(), o.key.clone()]);
    }
    t
}

fn lease_table(l: &LeasePressure) -> Table {
    let mut t = Table::new(&[
        "leases",
        "with keys",
        "keys with lease",
        "max keys/lease",
        "avg keys/lease",
        "busiest lease",
    ])
    .right_align(&[0, 1, 2, 3, 4])
    .title("Lease pressure:");
    t.row([
        l.leases
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into()),
        l.leases_with_keys.to_string(),
        l.keys_with_lease.to_string(),
        l.keys_per_lease_max.to_string(),
        format!("{:.1}", l.keys_per_lease_average),
        l.busiest_lease.clone().unwrap_or_else(|| "-".into()),
    ]);
    t
}

/// The default table fits 120 columns for a 3-member cluster; `wide` adds
/// the member id.
fn table(report: &SizeReport, wide: bool) -> Table {
    let mut headers = vec!["endpoint", "name"];
    if wide {
        headers.push("id");
    }
    let first_num = headers.len();
    headers.extend([
        "db size",
        "in use",
        "fragmented",
        "quota",
        "headroom",
        "quota use",
        "error",
    ]);
    let right: Vec<usize> = (first_num..first_num + 6).collect();
    let mut t = Table::new(&headers).right_align(&right);
    for m in &report.members {
        let b = |v: Option<u64>| v.map(human_bytes).unwrap_or_else(|| "-".into());
        let quota_use = m.quota_use_percent.unwrap_or(0.0);
        let mut cells = vec![
            (m.endpoint.clone(), Mark::Plain),
            (m.name.clone().unwrap_or_else(|| "-".into()), Mark::Plain),
        ];
        if wide {
            cells.push((m.id.clone().unwrap_or_else(|| "-".into()), Mark::Plain));
        }
        cells.extend([
            (b(m.db_size), Mark::Plain),
            (b(m.db_size_in_use), Mark::Plain),
            (
                match (m.fragmented_bytes, m.fragmentation_percent) {
                    (Some(f), Some(p)) => format!("{} ({p:.1}%)", human_bytes(f)),
                    _ => "-".into(),
                },
                Mark::Plain,
            ),
            (
                format!(
                    "{}{}",
                    b(m.quota_bytes),
                    if m.quota_assumed == Some(true) {
                        "*"
                    } else {
                        ""
                    }
                ),
                Mark::Plain,
            ),
            (b(m.quota_headroom_bytes), Mark::Plain),
            (
                m.quota_use_percent
                    .map(|p| format!("{p:.1}%"))
                    .unwrap_or_else(|| "-".into()),
                if quota_use >= 80.0 {
                    Mark::Bad
                } else {
                    Mark::Plain
                },
            ),
            (m.error.clone().unwrap_or_default(), Mark::Bad),
        ]);
        t.marked_row(cells);
    }
    t
}
