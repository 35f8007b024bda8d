//! `status` as data: one row per member from a [`Survey`], and the
//! cluster-wide problems (no leader, members that could not be asked) that
//! decide the exit code. Pure: the survey is taken elsewhere.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::etcd::{format_id, Survey};
use crate::output::percent;
use crate::output::Shell;

/// One member in `status -o json`. Field names are part of the stable output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatusRow {
    pub endpoint: String,
    pub pod: Option<String>,
    pub node: Option<String>,
    pub name: Option<String>,
    pub id: Option<String>,
    pub version: Option<String>,
    pub db_size: Option<u64>,
    pub db_size_in_use: Option<u64>,
    pub fragmentation_percent: Option<f64>,
    pub quota_bytes: Option<u64>,
    pub quota_assumed: Option<bool>,
    pub quota_source: Option<crate::ops::quota::QuotaSource>,
    pub quota_use_percent: Option<f64>,
    pub is_leader: Option<bool>,
    pub is_learner: Option<bool>,
    pub leader_id: Option<String>,
    pub raft_term: Option<u64>,
    pub raft_index: Option<u64>,
    pub raft_applied_index: Option<u64>,
    pub revision: Option<i64>,
    pub lagging: Option<bool>,
    pub alarms: Vec<String>,
    pub errors: Vec<String>,
    /// Why the member could not be asked; `null` when it answered.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub members: Vec<MemberStatusRow>,
    /// What the warnings and errors after the table say.
    #[serde(skip)]
    pub problems: Problems,
}

/// The report for one survey. `quota_bytes` is assumed where the member
/// does not say (see [`crate::ops::quota::resolve`]); a member
/// `lag_threshold` raft entries behind is lagging.
pub fn report(survey: &Survey, quota_bytes: Option<u64>, lag_threshold: u64) -> StatusReport {
    let members = survey
        .views
        .iter()
        .map(|v| {
            let pod = v.target.pod.as_ref();
            let mut row = MemberStatusRow {
                endpoint: v.target.endpoint.clone(),
                pod: pod.map(|p| p.name.clone()),
                node: pod.and_then(|p| p.node.clone()),
                name: None,
                id: None,
                version: None,
                db_size: None,
                db_size_in_use: None,
                fragmentation_percent: None,
                quota_bytes: None,
                quota_assumed: None,
                quota_source: None,
                quota_use_percent: None,
                is_leader: None,
                is_learner: None,
                leader_id: None,
                raft_term: None,
                raft_index: None,
                raft_applied_index: None,
                revision: None,
                lagging: None,
                alarms: Vec::new(),
                errors: Vec::new(),
                error: v
                    .error
                    .clone()
                    .map(|e| crate::error::Error::from(e).message),
            };
            // A pod that did not answer still names its member.
            if let (None, Some(m)) = (&v.status, survey.member_behind(&v.target)) {
                row.name = Some(m.name.clone()).filter(|n| !n.is_empty());
                row.id = Some(format_id(m.id));
            }
            if let Some(s) = &v.status {
                let q = crate::ops::quota::of_status(s, quota_bytes);
                row.name = survey.member_name(s.member_id).map(str::to_string);
                row.id = Some(format_id(s.member_id));
                row.version = Some(s.version.clone());
                row.db_size = Some(s.db_size);
                row.db_size_in_use = Some(s.db_size_in_use);
                row.fragmentation_percent = Some(percent(
                    s.db_size.saturating_sub(s.db_size_in_use),
                    s.db_size,
                ));
                row.quota_bytes = Some(q.bytes);
                row.quota_assumed = Some(q.assumed());
                row.quota_source = Some(q.source);
                row.quota_use_percent = Some(percent(s.db_size, q.bytes));
                row.is_leader = Some(v.is_leader());
                row.is_learner = Some(s.is_learner);
                row.leader_id = (s.leader != 0).then(|| format_id(s.leader));
                row.raft_term = Some(s.raft_term);
                row.raft_index = Some(s.raft_index);
                row.raft_applied_index = Some(s.raft_applied_index);
                row.revision = Some(s.revision);
                row.lagging = Some(survey.lagging(s, lag_threshold));
                row.alarms = survey
                    .alarms
                    .iter()
                    .filter(|a| a.member_id == s.member_id)
                    .map(|a| a.alarm.clone())
                    .collect();
                row.errors = tidy_errors(&s.errors, s.member_id, &row.alarms);
                if survey.foreign(s) {
                    // Not behind: not of this cluster at all.
                    row.lagging = Some(false);
                    row.errors.insert(
                        0,
                        format!(
                            "another cluster's member: cluster id {}, the other members' {}",
                            format_id(s.cluster_id),
                            survey.cluster_id().map(format_id).unwrap_or_default()
                        ),
                    );
                }
            }
            row
        })
        .collect();
    StatusReport {
        members,
        problems: Problems::of(survey),
    }
}

/// What a survey says about the cluster as a whole.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    /// Members answered, but none names a leader.
    pub no_leader: bool,
    /// One error per distinct cause, naming the members it hit.
    pub causes: Vec<Error>,
    pub failures: usize,
    pub total: usize,
    /// Endpoints that answered for another cluster than the others.
    pub foreign: Vec<String>,
}

impl Problems {
    pub fn of(survey: &Survey) -> Problems {
        let failed: Vec<(Error, &str)> = survey
            .views
            .iter()
            .filter_map(|v| Some((Error::from(v.error.clone()?), v.target.endpoint.as_str())))
            .collect();
        Problems {
            no_leader: survey.statuses().next().is_some() && survey.leader_id().is_none(),
            causes: group_causes(failed.iter().map(|(e, m)| (e, *m))),
            failures: survey.failures(),
            total: survey.views.len(),
            foreign: survey
                .views
                .iter()
                .filter(|v| v.status.as_ref().is_some_and(|s| survey.foreign(s)))
                .map(|v| v.target.endpoint.clone())
                .collect(),
        }
    }

    /// Warnings for the whole cluster and each cause on `shell`, then the
    /// exit status.
    pub fn finish(&self, shell: &mut Shell) -> Result<()> {
        if self.no_leader {
            shell.warn("no member reports a leader: the cluster has lost quorum");
        }
        for e in &self.causes {
            shell.error(e);
        }
        let total = self.total;
        let e = match self.failures {
            0 if !self.foreign.is_empty() => crate::ops::Error::ForeignMembers {
                endpoints: self.foreign.clone(),
            },
            0 => return Ok(()),
            n if n == total => crate::ops::Error::NoneReached { total, first: None },
            failed => crate::ops::Error::SomeUnreachable { failed, total },
        };
        Err(e.into())
    }
}

/// One error per distinct cause, naming the members it hit: a missing RBAC
/// grant fails every member the same way and is said once. Causes are
/// compared by their typed [`FailureKey`](crate::error::FailureKey); an
/// error without one stands alone. Pure.
pub fn group_causes<'a>(failed: impl IntoIterator<Item = (&'a Error, &'a str)>) -> Vec<Error> {
    let mut causes: Vec<(&Error, Option<crate::error::FailureKey>, Vec<&str>)> = Vec::new();
    for (e, member) in failed {
        let key = e.failure_key();
        let same = causes
            .iter_mut()
            .find(|(_, k, _)| key.is_some() && *k == key);
        match same {
            Some((_, _, members)) => members.push(member),
            None => causes.push((e, key, vec![member])),
        }
    }
    causes
        .into_iter()
        .map(|(e, _, members)| {
            let names: Vec<String> = members.iter().map(|m| format!("`{m}`")).collect();
            let label = if names.len() == 1 {
                "member"
            } else {
                "members"
            };
            e.clone().context(format!("{label} {}", names.join(", ")))
        })
        .collect()
}

/// etcd's Status errors, each once: its alarm strings
/// (`memberID:1842815281007833081 alarm:NOSPACE `, one per alarm in the
/// cluster) rewritten with hex ids, and this member's own alarms left to the
/// ALARMS column. Pure.
pub fn tidy_errors(errors: &[String], member_id: u64, own_alarms: &[String]) -> Vec<String> {
    static ALARM: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = ALARM.get_or_init(|| {
        regex::Regex::new(r"^\s*memberID:\s*(\d+)\s+alarm:\s*([A-Z_]+)\s*$").expect("valid regex")
    });
    let mut out: Vec<String> = Vec::new();
    for e in errors {
        let tidy = match re.captures(e) {
            Some(c) => {
                let id: u64 = c[1].parse().unwrap_or(0);
                let alarm = &c[2];
                if id == member_id && own_alarms.iter().any(|a| a == alarm) {
                    continue;
                }
                format!("{alarm} alarm on member {}", format_id(id))
            }
            None => e.trim().to_string(),
        };
        if !tidy.is_empty() && !out.contains(&tidy) {
            out.push(tidy);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rbac_denial_on_two_members_is_one_line_and_other_causes_their_own() {
        let denied = || Error::from(crate::etcd::Error::PermissionDenied);
        let refused = Error::from(crate::connect::Error::Refused);
        let (a, b, c) = (denied(), denied(), refused);
        let lines: Vec<String> = group_causes([
            (&a, "https://a:2379"),
            (&b, "https://b:2379"),
            (&c, "https://c:2379"),
        ])
        .iter()
        .map(|e| e.message.clone())
        .collect();
        assert_eq!(
            lines,
            [
                format!("members `https://a:2379`, `https://b:2379`: {}", a.message),
                format!("member `https://c:2379`: {}", c.message),
            ]
        );
        // Untyped errors are never merged, even with the same words.
        let (x, y) = (
            Error::new(crate::error::Kind::Other, "x"),
            Error::new(crate::error::Kind::Other, "x"),
        );
        assert_eq!(group_causes([(&x, "a"), (&y, "b")]).len(), 2);
    }

    #[test]
    fn errors_show_each_alarm_once_with_hex_ids_and_not_the_members_own() {
        let raw: Vec<String> = [
            "memberID:1842815281007833081 alarm:NOSPACE ",
            "memberID:1842815281007833081 alarm:NOSPACE ",
            "memberID:2 alarm:NOSPACE ",
            "raft: something else",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let own = vec!["NOSPACE".to_string()];
        assert_eq!(
            tidy_errors(&raw, 1842815281007833081, &own),
            [
                "NOSPACE alarm on member 0000000000000002",
                "raft: something else"
            ]
        );
        assert_eq!(
            tidy_errors(&raw, 2, &own),
            [
                "NOSPACE alarm on member 1992febc03222ff9",
                "raft: something else"
            ]
        );
    }
}
