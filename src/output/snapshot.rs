//! Tables for what a snapshot file holds: `snapshot status|save` (and
//! `restore`, which shows the snapshot it verified) and `snapshot inspect`.

use std::time::Duration;

use super::table::Table;
use super::{human_bytes, human_duration};
use crate::dbfile::{InspectReport, Integrity, Latest, SnapshotInfo};

pub fn info_table(i: &SnapshotInfo) -> Table {
    let mut t = Table::new(&[
        "file",
        "integrity",
        "revision",
        "total keys",
        "size",
        "sha256",
    ])
    .right_align(&[2, 3, 4]);
    t.row([
        i.file.clone(),
        match i.integrity {
            Integrity::Verified => "sha256 ok".to_string(),
            Integrity::NoHash => "no hash (db file)".to_string(),
        },
        i.revision.to_string(),
        i.total_keys.to_string(),
        human_bytes(i.size),
        i.sha256.clone().unwrap_or_else(|| "-".into()),
    ]);
    let mut extra = Vec::new();
    if let Some(m) = &i.member {
        extra.push(format!(
            "from member {m} ({})",
            i.member_id.clone().unwrap_or_default()
        ));
    }
    if let Some(ms) = i.took_ms {
        extra.push(format!(
            "took {}",
            human_duration(Duration::from_millis(ms))
        ));
    }
    if let Some(v) = &i.etcd_version {
        extra.push(format!("etcd {v}"));
    }
    if let Some(v) = &i.storage_version {
        extra.push(format!("etcd storage version {v}"));
    }
    if let Some(c) = i.compacted_revision {
        extra.push(format!("compacted at {c}"));
    }
    if let Some(ci) = i.consistent_index {
        extra.push(format!("consistent index {ci}"));
    }
    if !extra.is_empty() {
        t = t.title(extra.join(", "));
    }
    t
}

pub fn inspect_table(r: &InspectReport) -> Table {
    let mut t = Table::new(&["type", "keys", "size", "kind"]).right_align(&[1, 2]);
    for p in &r.types {
        let kind = if p.kind == "builtin" { "" } else { p.kind };
        t.row([
            p.r#type.clone(),
            p.keys.to_string(),
            human_bytes(p.bytes),
            kind.to_string(),
        ]);
    }
    t.row([
        "total".to_string(),
        r.total_keys.to_string(),
        human_bytes(r.total_bytes),
        String::new(),
    ]);
    t.title(format!(
        "{} at revision {}",
        r.file,
        r.as_of_revision.unwrap_or(r.revision)
    ))
}

/// Columns of `snapshot inspect --ls`.
pub const LIST_COLUMNS: &[&str] = &["type", "namespace", "name", "size", "mod rev", "key"];

/// One key of `snapshot inspect --ls`: its JSON line and its table cells.
pub fn list_row(
    key: &[u8],
    info: &registry::key::KeyInfo<'_>,
    latest: &Latest,
) -> (serde_json::Value, Vec<String>) {
    let json = serde_json::json!({
        "key": String::from_utf8_lossy(key),
        "type": info.type_name().to_string(),
        "namespace": info.namespace,
        "name": info.name,
        "size": latest.size,
        "modRevision": latest.revision.main,
    });
    let cells = vec![
        info.type_name().to_string(),
        info.namespace.unwrap_or("").to_string(),
        info.name.to_string(),
        human_bytes(latest.size),
        latest.revision.main.to_string(),
        String::from_utf8_lossy(key).into_owned(),
    ];
    (json, cells)
}
