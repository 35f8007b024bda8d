//! Tables of the restore wizard: the plan for every member, this node's
//! steps, keys per type in the snapshot and live, the cluster after.

use serde::Serialize;

use crate::dbfile::SnapshotInfo;
use crate::etcd;
use crate::ops::restore::executor::{short, After, Count};
use crate::ops::restore::{LocalPlan, Plan};
use crate::output::table::{Mark, Table};

/// What `restore` verified, planned and did, for every output format.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The snapshot restored; `null` in a dry run that would take one.
    pub snapshot: Option<SnapshotInfo>,
    /// Where a run without --snapshot saves the snapshot it takes.
    pub save_to: Option<String>,
    pub plan: Plan,
    pub local: Option<LocalPlan>,
    pub dry_run: bool,
    /// The etcd process started on the new data dir (`--pid` mode).
    pub started_pid: Option<u32>,
    pub after: Option<After>,
    pub counts: Vec<Count>,
}

/// The tables of `report`: the plan of every member without --local, this
/// node's steps with it (and the cluster after, once restored), with the
/// keys per type.
pub fn report_tables(r: &Report) -> Vec<Table> {
    // No counts without a snapshot read (a dry run that takes none): no
    // table rather than a header over nothing.
    let counts = (!r.counts.is_empty()).then(|| counts_table(&r.counts));
    let Some(local) = &r.local else {
        return [plan_table(&r.plan)].into_iter().chain(counts).collect();
    };
    let mut tables: Vec<Table> = [local_table(local, r.dry_run)]
        .into_iter()
        .chain(counts)
        .collect();
    if let Some(a) = &r.after {
        tables.push(after_table(a));
    }
    tables
}

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

/// Without --local: what the operator does with the plan's commands.
pub fn run_each_note(plan: &Plan) -> String {
    format!(
        "run each command on its member's node (the old data dirs stay untouched), then \
         start every member with its new --data-dir; the restored cluster starts at \
         revision {} or later",
        plan.expected_revision
    )
}

/// After --local: the revision the restored cluster serves, against the
/// snapshot's and the least expected.
pub fn restored_note(plan: &Plan, after: &After) -> String {
    format!(
        "restored: revision {} (snapshot {}, at least {} expected)",
        after.revision, plan.snapshot_revision, plan.expected_revision
    )
}
