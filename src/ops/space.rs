//! The space picture shared by `alarm` and `recover-space`: each member's
//! db file against its quota, whether an alarm's cause is gone, and whether
//! compaction and defragmentation can bring the file under the quota at
//! all. Pure: inputs are what the cluster reported.

use serde::Serialize;

use crate::etcd::{format_id, Survey};
use crate::ops::cluster_state::{ClusterState, MemberState};
use crate::output::{human_bytes, percent};

pub use crate::ops::quota::DEFAULT_QUOTA;
use crate::ops::quota::{self, Quota, QuotaColumns, QuotaSource};

/// A NOSPACE alarm is only worth disarming below this share of the quota:
/// any closer and the next writes raise it again.
pub const NOSPACE_SAFE_PERCENT: f64 = 95.0;

/// Why a NOSPACE alarm cannot be judged: the quota is a guess.
pub const QUOTA_UNKNOWN: &str =
    "neither Status (etcd < 3.6), the metrics nor a pod flag gave the quota, so whether the db \
     file is under it is unknown";

/// The quota of a member (see [`quota::resolve`]); a member that did not
/// answer has none of its own.
pub fn quota_of(m: Option<&MemberState>, given: Option<u64>) -> Quota {
    match m {
        Some(m) => quota::resolve(m.db_size_quota, m.quota_origin, given),
        None => quota::resolve(0, Default::default(), given),
    }
}

/// Why an alarm's cause is still there; `None` when it is gone. Only
/// etcd's default, assumed because nothing said otherwise, is too much of a
/// guess to judge NOSPACE by; the operator's `--quota-bytes` is taken.
pub fn still_there(alarm: &str, db_size: Option<u64>, quota: Quota) -> Option<String> {
    let (quota, unknown) = (quota.bytes, quota.source == QuotaSource::Default);
    match alarm {
        "NOSPACE" if unknown => Some(QUOTA_UNKNOWN.into()),
        "NOSPACE" => match db_size {
            None => Some("the member's db size is unknown (not reachable)".into()),
            Some(db) if percent(db, quota) >= NOSPACE_SAFE_PERCENT => Some(format!(
                "the db file is {} of a {} quota ({:.1}%): writes would raise NOSPACE again",
                human_bytes(db),
                human_bytes(quota),
                percent(db, quota)
            )),
            Some(_) => None,
        },
        "CORRUPT" => Some(
            "a CORRUPT alarm means members' data disagree; disarming hides it without fixing it"
                .into(),
        ),
        _ => None,
    }
}

/// One alarm on one member, with the space picture next to it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmRow {
    pub member: String,
    pub id: String,
    #[serde(skip)]
    pub member_id: u64,
    pub alarm: String,
    pub db_size: Option<u64>,
    #[serde(flatten)]
    pub quota: QuotaColumns,
    pub quota_use_percent: Option<f64>,
    /// Why it must not be disarmed yet; `None` when the cause is gone.
    pub still_there: Option<String>,
    pub disarmed: bool,
}

/// Every active alarm, with its member's space.
pub fn alarm_rows(
    survey: &Survey,
    state: &ClusterState,
    given_quota: Option<u64>,
) -> Vec<AlarmRow> {
    survey
        .alarms
        .iter()
        .map(|a| {
            let m = state.member(a.member_id);
            let q = quota_of(m, given_quota);
            let db = m.filter(|m| m.reachable()).map(|m| m.db_size);
            AlarmRow {
                member: m
                    .map(|m| m.label())
                    .unwrap_or_else(|| format_id(a.member_id)),
                id: format_id(a.member_id),
                member_id: a.member_id,
                alarm: a.alarm.clone(),
                db_size: db,
                quota: q.into(),
                quota_use_percent: db.map(|d| percent(d, q.bytes)),
                still_there: still_there(&a.alarm, db, q),
                disarmed: false,
            }
        })
        .collect()
}

/// One member's space.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpaceRow {
    pub member: String,
    pub id: String,
    pub db_size: Option<u64>,
    pub db_size_in_use: Option<u64>,
    #[serde(flatten)]
    pub quota: QuotaColumns,
    pub headroom: Option<u64>,
    pub alarms: Vec<String>,
}

/// Every member's db file against its quota.
pub fn picture(survey: &Survey, state: &ClusterState, given: Option<u64>) -> Vec<SpaceRow> {
    state
        .members
        .iter()
        .map(|m| {
            let q = quota_of(Some(m), given);
            let db = m.reachable().then_some(m.db_size);
            SpaceRow {
                member: m.label(),
                id: format_id(m.id),
                db_size: db,
                db_size_in_use: m.reachable().then_some(m.db_size_in_use),
                quota: q.into(),
                headroom: db.map(|d| q.bytes.saturating_sub(d)),
                alarms: survey
                    .alarms
                    .iter()
                    .filter(|a| a.member_id == m.id)
                    .map(|a| a.alarm.clone())
                    .collect(),
            }
        })
        .collect()
}

/// The keyspace's history, as counts etcd gives without sending a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History {
    /// The current revision.
    pub revision: i64,
    /// The revision history was last compacted at (0: never).
    pub compacted: i64,
    /// Keys that exist now.
    pub live_keys: u64,
    /// Of those, keys last written after `compacted`.
    pub live_keys_since_compaction: u64,
}

impl History {
    /// Entries a compaction at the current revision would remove: every
    /// revision since the last compaction that is not the latest write of
    /// a live key (older versions, deleted keys). One entry per revision,
    /// as kube-apiserver writes.
    pub fn compactable(&self) -> u64 {
        // Revision 1 is the empty keyspace: no entry.
        let revisions = (self.revision - self.compacted.max(1)).max(0) as u64;
        revisions.saturating_sub(self.live_keys_since_compaction)
    }

    /// The share of the entries in the db file that live data holds.
    pub fn live_share(&self) -> f64 {
        let total = self.live_keys + self.compactable();
        if total == 0 {
            1.0
        } else {
            self.live_keys as f64 / total as f64
        }
    }
}

/// A member whose live data alone leaves too little room under its quota,
/// so that compaction and defragmentation cannot clear NOSPACE.
#[derive(Debug, Clone, PartialEq)]
pub struct TooFull {
    pub member: String,
    /// What the db file would hold after compaction and defragmentation.
    pub live_bytes: u64,
    pub quota_bytes: u64,
}

impl TooFull {
    pub fn describe(&self) -> String {
        format!(
            "the live data alone fills the quota on `{}`: about {} of {} ({:.1}%) would remain \
             after compacting and defragmenting",
            self.member,
            human_bytes(self.live_bytes),
            human_bytes(self.quota_bytes),
            percent(self.live_bytes, self.quota_bytes)
        )
    }
}

/// The first member where compaction and defragmentation would leave the
/// db file at or over [`NOSPACE_SAFE_PERCENT`] of the quota: the space in
/// use, less the share of old revisions a compaction removes. Members
/// whose quota is etcd's default taken for lack of anything better, or
/// whose size is unknown, are not judged.
pub fn too_full(rows: &[SpaceRow], history: &History) -> Option<TooFull> {
    let share = history.live_share();
    rows.iter().find_map(|r| {
        if r.quota.source == QuotaSource::Default {
            return None;
        }
        let live = (r.db_size_in_use? as f64 * share) as u64;
        (percent(live, r.quota.bytes) >= NOSPACE_SAFE_PERCENT).then(|| TooFull {
            member: r.member.clone(),
            live_bytes: live,
            quota_bytes: r.quota.bytes,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nospace_stays_while_the_db_is_near_the_quota() {
        let q = 2 * 1024 * 1024;
        let quota = Quota {
            bytes: q,
            source: QuotaSource::Metrics,
        };
        assert!(still_there("NOSPACE", Some(q), quota).is_some());
        assert!(still_there("NOSPACE", Some(q / 100 * 96), quota).is_some());
        assert!(still_there("NOSPACE", Some(q / 2), quota).is_none());
        assert!(still_there("NOSPACE", None, quota).is_some());
    }

    #[test]
    fn a_guessed_quota_never_clears_nospace() {
        let m = crate::ops::cluster_state::fixtures::member(1, "m1", 10, 5);
        let guessed = quota_of(Some(&m), None);
        assert_eq!(
            guessed,
            Quota {
                bytes: DEFAULT_QUOTA,
                source: QuotaSource::Default
            }
        );
        assert!(guessed.assumed());
        assert_eq!(
            still_there("NOSPACE", Some(1), guessed).as_deref(),
            Some(QUOTA_UNKNOWN)
        );
        // The operator's figure is assumed (not from the member) but judged.
        let given = quota_of(Some(&m), Some(7));
        assert_eq!((given.bytes, given.source), (7, QuotaSource::Flag));
        assert!(given.assumed());
        assert!(still_there("NOSPACE", Some(1), given).is_none());
        let mut reports = m.clone();
        reports.db_size_quota = 9;
        reports.quota_origin = crate::etcd::QuotaOrigin::Metrics;
        let real = quota_of(Some(&reports), Some(7));
        assert_eq!((real.bytes, real.source), (9, QuotaSource::Metrics));
        assert!(!real.assumed());
    }

    #[test]
    fn corrupt_always_needs_force() {
        let q = Quota {
            bytes: DEFAULT_QUOTA,
            source: QuotaSource::Status,
        };
        assert!(still_there("CORRUPT", Some(1), q).is_some());
    }

    fn row(in_use: u64, quota: u64) -> SpaceRow {
        SpaceRow {
            member: "m1".into(),
            id: format_id(1),
            db_size: Some(quota),
            db_size_in_use: Some(in_use),
            quota: QuotaColumns {
                bytes: quota,
                assumed: false,
                source: QuotaSource::Metrics,
            },
            headroom: Some(0),
            alarms: vec!["NOSPACE".into()],
        }
    }

    #[test]
    fn live_data_that_fills_the_quota_is_found_before_anything_is_written() {
        // Every key written once, never compacted: nothing to compact.
        let once = History {
            revision: 21,
            compacted: 0,
            live_keys: 20,
            live_keys_since_compaction: 20,
        };
        assert_eq!(once.compactable(), 0);
        let full = too_full(&[row(1000, 1000)], &once).unwrap();
        assert_eq!(full.live_bytes, 1000);
        assert!(full
            .describe()
            .contains("live data alone fills the quota on `m1`"));
        // The same space, nine old versions for every live key: compaction
        // frees most of it.
        let churn = History {
            revision: 201,
            compacted: 0,
            live_keys: 20,
            live_keys_since_compaction: 20,
        };
        assert_eq!(churn.compactable(), 180);
        assert_eq!(too_full(&[row(1000, 1000)], &churn), None);
        // Deleted keys are history too.
        let deleted = History {
            revision: 120,
            compacted: 100,
            live_keys: 5,
            live_keys_since_compaction: 0,
        };
        assert_eq!(deleted.compactable(), 20);
        // A guessed quota is not judged.
        let mut r = row(1000, 1000);
        r.quota.assumed = true;
        r.quota.source = QuotaSource::Default;
        assert_eq!(too_full(&[r], &once), None);
    }
}
