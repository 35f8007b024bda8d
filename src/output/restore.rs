//! Tables of the restore wizard: the plan for every member, this node's
//! steps, keys per type in the snapshot and live, the cluster after.

use crate::etcd;
use crate::ops::restore::executor::{short, After, Count};
use crate::ops::restore::{LocalPlan, Plan};
use crate::output::table::{Mark, Table};

/// The restored cluster's members.
pub fn after_table(a: &After) -> Table {
    let mut t = Table::new(&["member id", "version", "revision", "raft index", "leader"])
        .right_align(&[2, 3]);
    for s in &a.members {
        t.row([
            etcd::format_id(s.member_id),
            s.version.clone(),
            s.revision.to_string(),
            s.raft_index.to_string(),
            if s.leader == s.member_id {
                "yes".to_string()
            } else {
                etcd::format_id(s.leader)
            },
        ]);
    }
    t.title(format!(
        "after the restore: {} at revision {}",
        if a.healthy { "healthy" } else { "not healthy" },
        a.revision
    ))
}

/// The restore command of every member.
pub fn plan_table(plan: &Plan) -> Table {
    let mut t = Table::new(&["member", "data dir", "restore command"]).keep_whole(&[2]);
    for m in &plan.members {
        t.row([m.name.clone(), m.data_dir.clone(), m.shell.clone()]);
    }
    t.title(format!(
        "restore of revision {} with {} ({}), token {}",
        plan.snapshot_revision,
        plan.tool.kind,
        if plan.bump > 0 {
            format!(
                "revision bumped by {} to {}",
                plan.bump, plan.expected_revision
            )
        } else {
            "no revision bump".to_string()
        },
        plan.initial_cluster_token
    ))
}

/// This node's steps, done or pending, with their undo.
pub fn local_table(plan: &LocalPlan, dry_run: bool) -> Table {
    let mut t = Table::new(&["step", "action", "status", "undo"]).keep_whole(&[1, 3]);
    for (i, s) in plan.steps.iter().enumerate() {
        t.marked_row(vec![
            ((i + 1).to_string(), Mark::Plain),
            (short(&s.step), Mark::Plain),
            if s.done {
                ("done before".into(), Mark::Plain)
            } else if dry_run {
                ("pending".into(), Mark::Plain)
            } else {
                ("done".into(), Mark::Good)
            },
            (s.undo.clone().unwrap_or_else(|| "-".into()), Mark::Plain),
        ]);
    }
    t.title(format!(
        "restore into {} (the old data dir is kept as {})",
        plan.new_data_dir.display(),
        plan.old_data_aside.display()
    ))
}

/// Keys per type in the snapshot, and live after the restore.
pub fn counts_table(counts: &[Count]) -> Table {
    let mut t = Table::new(&["type", "snapshot keys", "live keys"]).right_align(&[1, 2]);
    for c in counts {
        let mark = match c.live {
            Some(l) if l != c.snapshot => Mark::Warn,
            _ => Mark::Plain,
        };
        t.marked_row(vec![
            (c.r#type.clone(), Mark::Plain),
            (c.snapshot.to_string(), Mark::Plain),
            (
                c.live.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
                mark,
            ),
        ]);
    }
    t
}
