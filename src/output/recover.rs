//! Tables of `recover`: the survey, the plan with each node's commands, the
//! survivor's steps, and the cluster before and after. Built from the same
//! data the JSON and YAML forms print.

use serde::Serialize;

use super::table::{Mark, Table};
use crate::etcd::{self, Status};
use crate::ops::recover::{Candidate, Plan, Planned, Seen};

/// Keys of one type before and after the recovery.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Count {
    pub r#type: String,
    pub before: u64,
    pub after: Option<u64>,
}

impl Count {
    /// Rows for every type seen before or after (0 where a side has none).
    pub fn merged(before: &[(String, u64)], after: &[(String, u64)]) -> Vec<Count> {
        let mut out: Vec<Count> = before
            .iter()
            .map(|(t, n)| Count {
                r#type: t.clone(),
                before: *n,
                after: Some(after.iter().find(|(a, _)| a == t).map_or(0, |(_, n)| *n)),
            })
            .collect();
        for (t, n) in after {
            if !before.iter().any(|(b, _)| b == t) {
                out.push(Count {
                    r#type: t.clone(),
                    before: 0,
                    after: Some(*n),
                });
            }
        }
        out
    }
}

/// The cluster after the recovery.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct After {
    pub revision_before: i64,
    pub revision: i64,
    pub members: Vec<Status>,
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

pub fn survey_table(candidates: &[Candidate], survivor: Option<&str>) -> Table {
    let mut t = Table::new(&[
        "member",
        "seen",
        "where",
        "revision",
        "raft term",
        "applied index",
        "consistent index",
        "survivor",
        "error",
    ])
    .right_align(&[3, 4, 5, 6]);
    for c in candidates {
        let chosen = survivor == Some(c.name.as_str());
        t.marked_row(vec![
            (c.name.clone(), Mark::Plain),
            (
                match c.seen {
                    Seen::Live => "live",
                    Seen::Offline => "offline",
                    Seen::Unknown => "-",
                }
                .into(),
                Mark::Plain,
            ),
            (c.location.clone(), Mark::Plain),
            (opt(c.revision), Mark::Plain),
            (opt(c.raft_term), Mark::Plain),
            (opt(c.applied_index), Mark::Plain),
            (opt(c.consistent_index), Mark::Plain),
            if chosen {
                ("yes".into(), Mark::Good)
            } else {
                (String::new(), Mark::Plain)
            },
            (
                c.error.clone().unwrap_or_default(),
                if c.error.is_some() {
                    Mark::Bad
                } else {
                    Mark::Plain
                },
            ),
        ]);
    }
    t.title("survey")
}

pub fn plan_tables(plan: &Plan) -> Vec<Table> {
    let mut steps = Table::new(&["step", "action"]).keep_whole(&[1]);
    for (i, s) in plan.steps.iter().enumerate() {
        steps.row([(i + 1).to_string(), s.clone()]);
    }
    let mut nodes = Table::new(&["member", "role", "run on its node"]).keep_whole(&[2]);
    for n in &plan.nodes {
        for (i, c) in n.commands.iter().enumerate() {
            let (m, r) = if i == 0 {
                (n.member.clone(), n.role.clone())
            } else {
                (String::new(), String::new())
            };
            nodes.row([m, r, c.clone()]);
        }
    }
    vec![
        survey_table(&plan.candidates, Some(&plan.choice.survivor)),
        steps.title(format!(
            "recover from `{}` at revision {}",
            plan.choice.survivor, plan.revision
        )),
        nodes.title("commands per node"),
    ]
}

pub fn local_table(steps: &[Planned], dry_run: bool) -> Table {
    let mut t = Table::new(&["step", "action", "status", "undo"]).keep_whole(&[1, 3]);
    for (i, s) in steps.iter().enumerate() {
        t.marked_row(vec![
            ((i + 1).to_string(), Mark::Plain),
            (s.step.short(), Mark::Plain),
            if s.done {
                ("done".into(), Mark::Good)
            } else if dry_run {
                ("pending".into(), Mark::Plain)
            } else {
                ("not done".into(), Mark::Warn)
            },
            (s.undo.clone().unwrap_or_else(|| "-".into()), Mark::Plain),
        ]);
    }
    t.title("on the survivor's node")
}

pub fn counts_table(counts: &[Count]) -> Table {
    let mut t = Table::new(&["type", "keys before", "keys after"]).right_align(&[1, 2]);
    for c in counts {
        let mark = match c.after {
            Some(a) if a < c.before => Mark::Warn,
            _ => Mark::Plain,
        };
        t.marked_row(vec![
            (c.r#type.clone(), Mark::Plain),
            (c.before.to_string(), Mark::Plain),
            (opt(c.after), mark),
        ]);
    }
    t.title("keys per type")
}

pub fn after_table(a: &After) -> Table {
    let mut t = Table::new(&[
        "member id",
        "version",
        "revision",
        "raft term",
        "raft index",
        "leader",
        "learner",
    ])
    .right_align(&[2, 3, 4]);
    for s in &a.members {
        t.row([
            etcd::format_id(s.member_id),
            s.version.clone(),
            s.revision.to_string(),
            s.raft_term.to_string(),
            s.raft_index.to_string(),
            if s.leader == s.member_id {
                "yes".to_string()
            } else {
                etcd::format_id(s.leader)
            },
            if s.is_learner { "yes" } else { "no" }.to_string(),
        ]);
    }
    t.title(format!(
        "after: revision {} (before: {})",
        a.revision, a.revision_before
    ))
}
