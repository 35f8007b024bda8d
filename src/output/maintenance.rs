//! Tables of the maintenance commands (`defrag`, `recover-space`, `alarm`):
//! built from the data [`crate::ops`] returns, shared by the commands that
//! show them.

use std::time::Duration;

use crate::ops::cluster_state::MemberState;
use crate::ops::defrag::{Outcome, Plan, Role};
use crate::ops::space::{AlarmRow, SpaceRow};
use crate::output::table::{Mark, Table};
use crate::output::{human_bytes, human_duration, percent};

/// The defrag plan: order, sizes, what happens to each member; fits 120
/// columns for a 3-member cluster, `wide` adds the member ids.
pub fn defrag_plan_table(plan: &Plan, wide: bool) -> Table {
    let mut headers = vec!["order", "member"];
    if wide {
        headers.push("id");
    }
    let sizes = headers.len() + 1;
    headers.extend(["role", "db size", "in use", "frag", "reclaim", "action"]);
    let mut t = Table::new(&headers).right_align(&[0, sizes, sizes + 1, sizes + 2, sizes + 3]);
    for m in &plan.members {
        let action = match (&m.skip, &m.move_leader_to) {
            (Some(why), _) => (format!("skip: {why}"), Mark::Warn),
            (None, Some(to)) => (
                format!("move leadership to {to}, then defragment"),
                Mark::Plain,
            ),
            (None, None) if m.role == Some(Role::Learner) => (
                "defragment if etcd allows it (up to 3.6 it refuses learners)".to_string(),
                Mark::Plain,
            ),
            (None, None) => ("defragment".to_string(), Mark::Plain),
        };
        let mut cells = vec![
            (
                m.order.map(|o| o.to_string()).unwrap_or_else(|| "-".into()),
                Mark::Plain,
            ),
            (m.name.clone(), Mark::Plain),
        ];
        if wide {
            cells.push((m.id.clone(), Mark::Plain));
        }
        let bytes = |b: Option<u64>| b.map(human_bytes).unwrap_or_else(|| "-".into());
        cells.extend([
            (
                m.role.map(Role::name).unwrap_or("-").to_string(),
                Mark::Plain,
            ),
            (bytes(m.db_size), Mark::Plain),
            (bytes(m.db_size_in_use), Mark::Plain),
            (
                m.fragmentation_percent
                    .map(|p| format!("{p:.1}%"))
                    .unwrap_or_else(|| "-".into()),
                Mark::Plain,
            ),
            (bytes(m.expected_reclaim), Mark::Plain),
            action,
        ]);
        t.marked_row(cells);
    }
    t
}

/// What the defrag did, member by member.
pub fn defrag_result_table(outcome: &Outcome) -> Table {
    let mut t = Table::new(&[
        "member",
        "id",
        "db before",
        "db after",
        "reclaimed",
        "took",
        "leader moved to",
    ])
    .right_align(&[2, 3, 4, 5]);
    for d in &outcome.members {
        t.row([
            d.member.clone(),
            d.id.clone(),
            human_bytes(d.db_size_before),
            human_bytes(d.db_size_after),
            human_bytes(d.reclaimed),
            human_duration(Duration::from_millis(d.took_ms)),
            d.leader_moved_to.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    for s in &outcome.skipped {
        t.marked_row(vec![
            (s.member.clone(), Mark::Warn),
            (s.id.clone(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            (format!("skipped: {}", s.reason), Mark::Warn),
        ]);
    }
    if let Some(s) = &outcome.stopped {
        t.marked_row(vec![
            (s.member.clone().unwrap_or_else(|| "-".into()), Mark::Bad),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            ("-".into(), Mark::Plain),
            (format!("stopped: {}", s.message), Mark::Bad),
        ]);
    }
    t
}

/// Every member's db file against its quota.
pub fn space_table(rows: &[SpaceRow]) -> Table {
    let mut t = Table::new(&[
        "member",
        "id",
        "db size",
        "in use",
        "quota",
        "quota use",
        "headroom",
        "alarms",
    ]);
    for r in rows {
        let use_pct = r.db_size.map(|d| percent(d, r.quota.bytes));
        let dash = || "-".to_string();
        t.marked_row(vec![
            (r.member.clone(), Mark::Plain),
            (r.id.clone(), Mark::Plain),
            (r.db_size.map(human_bytes).unwrap_or_else(dash), Mark::Plain),
            (
                r.db_size_in_use.map(human_bytes).unwrap_or_else(dash),
                Mark::Plain,
            ),
            (
                format!(
                    "{}{}",
                    human_bytes(r.quota.bytes),
                    if r.quota.assumed { "*" } else { "" }
                ),
                Mark::Plain,
            ),
            (
                use_pct.map(|p| format!("{p:.1}%")).unwrap_or_else(dash),
                if use_pct.unwrap_or(0.0) >= 80.0 {
                    Mark::Bad
                } else {
                    Mark::Plain
                },
            ),
            (
                r.headroom.map(human_bytes).unwrap_or_else(dash),
                Mark::Plain,
            ),
            (
                r.alarms.join(","),
                if r.alarms.is_empty() {
                    Mark::Plain
                } else {
                    Mark::Bad
                },
            ),
        ]);
    }
    t
}

/// The members as `resize` shows them: role, health, applied index;
/// `leader` marks the leader when known.
pub fn resize_members_table(members: &[MemberState], leader: Option<u64>) -> Table {
    let mut t = Table::new(&["id", "name", "peer urls", "role", "health", "applied"]);
    for m in members {
        let role = if m.is_learner {
            "learner"
        } else if leader == Some(m.id) {
            "leader"
        } else {
            "voter"
        };
        t.marked_row(vec![
            (crate::etcd::format_id(m.id), Mark::Plain),
            (
                if m.started() {
                    m.name.clone()
                } else {
                    "(not started)".into()
                },
                Mark::Plain,
            ),
            (m.peer_urls.join(","), Mark::Plain),
            (role.into(), Mark::Plain),
            match &m.error {
                None if m.lagging => ("lagging".into(), Mark::Warn),
                None => ("healthy".into(), Mark::Good),
                Some(e) => (format!("unreachable: {e}"), Mark::Bad),
            },
            (m.raft_applied_index.to_string(), Mark::Plain),
        ]);
    }
    t
}

/// `alarm list` and `alarm disarm`: one row per member and alarm, its
/// db size against the quota and whether the cause is gone.
pub fn alarm_table(rows: &[AlarmRow]) -> Table {
    let mut t = Table::new(&["member", "id", "alarm", "db size", "quota use", "state"]);
    for r in rows {
        let state = if r.disarmed {
            ("disarmed".to_string(), Mark::Good)
        } else {
            match &r.still_there {
                Some(why) => (format!("active: {why}"), Mark::Bad),
                None => ("active; cause gone, safe to disarm".to_string(), Mark::Warn),
            }
        };
        t.marked_row(vec![
            (r.member.clone(), Mark::Plain),
            (r.id.clone(), Mark::Plain),
            (r.alarm.clone(), Mark::Bad),
            (
                r.db_size.map(human_bytes).unwrap_or_else(|| "-".into()),
                Mark::Plain,
            ),
            (
                format!(
                    "{} of {}{}",
                    r.quota_use_percent
                        .map(|p| format!("{p:.1}%"))
                        .unwrap_or_else(|| "-".into()),
                    human_bytes(r.quota.bytes),
                    if r.quota.assumed { "*" } else { "" }
                ),
                Mark::Plain,
            ),
            state,
        ]);
    }
    t
}
