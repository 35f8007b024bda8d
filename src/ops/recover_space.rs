//! The way out of a NOSPACE alarm: check that compaction and
//! defragmentation can bring the db files under the quota at all, then
//! compact (physically), defragment every member (leader last), and disarm
//! NOSPACE once the files are under the quota.
//!
//! Everything that would make a real run refuse is checked before the first
//! write; Ctrl-C stops between steps and says which steps are left.

use std::time::Duration;

use serde::Serialize;

use super::compaction::{self, Request};
use super::defrag::{self, Done, Pacing, Skipped};
use super::error::{Error, Guarded, Result};
use super::space::{self, History, SpaceRow, TooFull};
use super::{Interrupt, Operator};
use crate::context::Cluster;
use crate::etcd::maintenance::{self, AlarmKind};
use crate::etcd::EtcdClient;
use crate::ops::cluster_state::ClusterState;

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The members' --quota-backend-bytes, when etcd does not report it.
    pub quota_bytes: Option<u64>,
    /// Pause between members during the defrag.
    pub pause: Duration,
    /// Per-member defragment timeout, and the compaction timeout.
    pub timeout: Duration,
    pub move_leader: bool,
}

impl Options {
    pub fn defrag(&self) -> defrag::Options {
        defrag::Options {
            member: None,
            if_fragmented: None,
            min_db_size: None,
            move_leader: self.move_leader,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub before: Vec<SpaceRow>,
    pub compacted_at: Option<i64>,
    pub defragmented: Vec<Done>,
    pub skipped: Vec<Skipped>,
    pub disarmed: Vec<String>,
    pub after: Vec<SpaceRow>,
}

/// The space now, as the first table shows it, and the keyspace history.
pub struct Before {
    pub rows: Vec<SpaceRow>,
    pub nospace: bool,
    pub history: History,
    /// What stops the rolling defrag now (a voting member unreachable, no
    /// leader, one lagging): the compaction is not started either.
    pub blocker: Option<String>,
}

/// Read the space picture and count the history: no write.
pub async fn survey(cluster: &Cluster, quota_bytes: Option<u64>) -> Result<Before> {
    let survey = super::quota::survey(cluster).await;
    // Not one member answered: say why (refused, TLS, authentication).
    survey.reached()?;
    let state = ClusterState::from_survey(&survey);
    let rows = space::picture(&survey, &state, quota_bytes);
    let nospace = survey.alarm_list()?.iter().any(|a| a.alarm == "NOSPACE");
    let client = survey.answering_client()?;
    let history = history(client).await?;
    Ok(Before {
        rows,
        nospace,
        history,
        blocker: state.blocker(),
    })
}

/// The keyspace history as counts: current and compacted revision, live
/// keys in all and since the compaction.
pub async fn history(client: &EtcdClient) -> Result<History> {
    let compacted = maintenance::compacted_revision(client).await?.unwrap_or(0);
    let (live_keys, revision) = maintenance::count_keys(client, None).await?;
    let (live_keys_since_compaction, _) = maintenance::count_keys(client, Some(compacted)).await?;
    Ok(History {
        revision,
        compacted,
        live_keys,
        live_keys_since_compaction,
    })
}

/// Nothing written since the last compaction: etcd's space in use may
/// still count the pages that compaction freed (bbolt releases them at a
/// later commit, and NOSPACE allows none), a figure too high to refuse on.
fn in_use_unsettled(history: &History) -> bool {
    history.compacted > 0 && history.compacted >= history.revision
}

/// The warning for a run that goes on although the space in use says the
/// live data fills the quota, because that figure is unsettled. Pure.
pub fn unsettled(before: &Before) -> Option<String> {
    if !in_use_unsettled(&before.history) {
        return None;
    }
    space::too_full(&before.rows, &before.history).map(|t| {
        format!(
            "{}, by etcd's space in use; nothing was written since the compaction at revision {}, \
             so that figure may still count the pages it freed: the defrag will show what is left",
            t.describe(),
            before.history.compacted
        )
    })
}

/// Why a real run would refuse before writing anything; `None` when it
/// may go ahead. Pure.
pub fn refusal(before: &Before) -> Option<Error> {
    // The defrag would refuse after the compaction was written.
    if let Some(blocker) = &before.blocker {
        return Some(Error::ClusterUnhealthy {
            blocker: blocker.clone(),
        });
    }
    if before.nospace
        && before
            .rows
            .iter()
            .any(|r| r.quota.source == crate::ops::quota::QuotaSource::Default)
    {
        return Some(Error::QuotaUnknown);
    }
    if in_use_unsettled(&before.history) {
        return None;
    }
    space::too_full(&before.rows, &before.history).map(too_full_error)
}

fn too_full_error(t: TooFull) -> Error {
    Error::Unsafe {
        action: Guarded::CompactAndDefragment,
        why: t.describe(),
    }
}

/// The steps, for `--dry-run` and for messages.
pub const STEPS: [&str; 3] = [
    "compact to the current revision (physical)",
    "defragment every member, leader last",
    "disarm NOSPACE alarms once under the quota",
];

/// A stop inside `step` (0-based): Ctrl-C says which steps are left;
/// anything else is the error itself.
fn interrupted_at(step: usize, e: Error) -> Error {
    if !e.is_interrupted() {
        return e;
    }
    Error::RecoverSpaceStep {
        step,
        source: Box::new(e),
    }
}

/// Compact, defragment, disarm. `before` is what [`survey`] read; the
/// caller has checked [`refusal`].
pub async fn execute(
    cluster: &Cluster,
    opts: &Options,
    before: Before,
    interrupt: &Interrupt,
    op: &mut dyn Operator,
) -> Result<Report> {
    // 1. compact
    op.note(&format!("step 1 of 3: {}", STEPS[0]));
    let client = cluster.connect_any().await?;
    let request = Request {
        revision: None,
        keep: None,
        physical: true,
        timeout: opts.timeout,
        dry_run: false,
    };
    let compacted = compaction::compact(cluster, &client, &request, interrupt, op)
        .await
        .map_err(|e| interrupted_at(0, e))?;
    if interrupt.fired() {
        return Err(interrupted_at(
            0,
            Error::interrupted("interrupted (Ctrl-C) after compacting"),
        ));
    }

    // Not judged again here: right after a compaction etcd still counts
    // the pages it freed as in use (bbolt releases them at a later commit,
    // which NOSPACE prevents), so only the defrag shows what is left; the
    // disarm below refuses while that is still over the line.
    let survey = super::quota::survey(cluster).await;
    let state = ClusterState::from_survey(&survey);
    drop(survey);

    // 2. rolling defrag
    op.note(&format!("step 2 of 3: {}", STEPS[1]));
    let dopts = opts.defrag();
    let plan = defrag::plan(&state, &dopts)?;
    let pacing = Pacing {
        timeout: opts.timeout,
        pause: opts.pause,
        recover: Duration::from_secs(120),
    };
    let outcome = defrag::run(
        &plan,
        &cluster.targets,
        &cluster.settings,
        &dopts,
        &pacing,
        interrupt,
        op,
    )
    .await?;
    let outcome = defrag::finish(outcome).map_err(|e| interrupted_at(1, e))?;
    if interrupt.fired() {
        return Err(interrupted_at(
            1,
            Error::interrupted("interrupted (Ctrl-C) after the defrag")
                .resume("finish with `kubectl etcd alarm disarm`"),
        ));
    }

    // 3. disarm
    op.note(&format!("step 3 of 3: {}", STEPS[2]));
    let survey = super::quota::survey(cluster).await;
    let state = ClusterState::from_survey(&survey);
    let rows: Vec<_> = space::alarm_rows(&survey, &state, opts.quota_bytes)
        .into_iter()
        .filter(|r| r.alarm == "NOSPACE")
        .collect();
    if let Some(r) = rows.iter().find(|r| r.still_there.is_some()) {
        return Err(Error::StillOverQuota {
            member: r.member.clone(),
            why: r.still_there.clone().unwrap_or_default(),
        });
    }
    let mut disarmed = Vec::new();
    if !rows.is_empty() {
        op.confirm(&format!("disarm {} NOSPACE alarm(s)", rows.len()))?;
        let client = survey.answering_client()?;
        for r in &rows {
            if interrupt.fired() {
                return Err(Error::interrupted(format!(
                    "interrupted (Ctrl-C) while disarming: disarmed on {} of {} members",
                    disarmed.len(),
                    rows.len()
                ))
                .resume("finish with `kubectl etcd alarm disarm`"));
            }
            maintenance::disarm(client, r.member_id, AlarmKind::Nospace)
                .await
                .map_err(|e| {
                    Error::from(e).context(format!("disarming NOSPACE on `{}`", r.member))
                })?;
            disarmed.push(r.member.clone());
        }
    }
    drop(survey);

    let survey = super::quota::survey(cluster).await;
    let state = ClusterState::from_survey(&survey);
    Ok(Report {
        before: before.rows,
        compacted_at: Some(compacted.revision),
        defragmented: outcome.members,
        skipped: outcome.skipped,
        disarmed,
        after: space::picture(&survey, &state, opts.quota_bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::etcd::format_id;

    fn before(in_use: u64, assumed: bool, history: History) -> Before {
        Before {
            rows: vec![SpaceRow {
                member: "m1".into(),
                id: format_id(1),
                db_size: Some(1000),
                db_size_in_use: Some(in_use),
                quota: crate::ops::quota::QuotaColumns {
                    bytes: 1000,
                    assumed,
                    source: if assumed {
                        crate::ops::quota::QuotaSource::Default
                    } else {
                        crate::ops::quota::QuotaSource::Metrics
                    },
                },
                headroom: Some(0),
                alarms: vec!["NOSPACE".into()],
            }],
            nospace: true,
            history,
            blocker: None,
        }
    }

    #[test]
    fn a_run_that_cannot_clear_nospace_is_refused_before_any_write() {
        let once = History {
            revision: 11,
            compacted: 0,
            live_keys: 10,
            live_keys_since_compaction: 10,
        };
        let e = crate::error::Error::from(refusal(&before(990, false, once)).unwrap());
        assert_eq!(e.kind, Kind::Refused);
        assert!(e.message.contains("live data alone fills the quota"), "{e}");
        assert!(e.hint.unwrap().contains("nothing was changed"));
        // A guessed quota is refused first, for its own reason.
        let e = crate::error::Error::from(refusal(&before(990, true, once)).unwrap());
        assert!(e.message.contains("gave the quota"), "{e}");
        // Mostly old versions: compaction frees it, so go ahead.
        let churn = History {
            revision: 101,
            compacted: 0,
            live_keys: 10,
            live_keys_since_compaction: 10,
        };
        assert!(refusal(&before(990, false, churn)).is_none());
        // Free pages alone: a defrag frees them.
        assert!(refusal(&before(300, false, once)).is_none());
        // Compacted at the current revision: the figure may count pages the
        // compaction freed; go on, with a warning saying why.
        let just_compacted = History {
            revision: 11,
            compacted: 11,
            live_keys: 10,
            live_keys_since_compaction: 0,
        };
        assert!(refusal(&before(990, false, just_compacted)).is_none());
        let w = unsettled(&before(990, false, just_compacted)).unwrap();
        assert!(w.contains("compaction at revision 11"), "{w}");
        assert!(unsettled(&before(990, false, once)).is_none());
        assert!(unsettled(&before(300, false, just_compacted)).is_none());
        // A member the defrag would stop at: refused before the compaction.
        let mut blocked = before(300, false, once);
        blocked.blocker = Some("member `m2` (0000000000000002) is not reachable".into());
        let e = crate::error::Error::from(refusal(&blocked).unwrap());
        assert_eq!(e.kind, Kind::Refused);
        assert!(e.message.contains("`m2`"), "{e}");
    }

    #[test]
    fn an_interrupted_step_names_the_steps_left() {
        let e = crate::error::Error::from(interrupted_at(
            0,
            Error::interrupted("interrupted (Ctrl-C) after compacting"),
        ));
        assert_eq!(e.kind, Kind::Interrupted);
        assert!(e.message.contains("step 1 of 3"), "{e}");
        assert!(
            e.message
                .contains("left: defragment every member, leader last, disarm"),
            "{e}"
        );
        let other = interrupted_at(1, Error::NoConnection);
        assert!(matches!(other, Error::NoConnection), "{other}");
    }
}
