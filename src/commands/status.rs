//! `status`: one row per member, each asked directly.

use serde::Serialize;

use crate::cli::{parse_bytes, OutputFormat};
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::etcd::{format_id, Survey};
use crate::ops::quota::{self, QuotaSource};
use crate::output::table::{Mark, Table};
use crate::output::{human_bytes, percent};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Quota to assume where neither Status (etcd ≥ 3.6), the member's
    /// metrics nor its pod's --quota-backend-bytes give the real one
    /// (default: etcd's 2 GiB).
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    pub quota_bytes: Option<u64>,

    /// Raft entries a member may be behind the most advanced one before it
    /// is flagged as lagging.
    #[arg(long, default_value_t = 1000, value_name = "ENTRIES")]
    pub lag_threshold: u64,
}

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
    pub quota_source: Option<QuotaSource>,
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
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let survey = quota::survey(&cluster).await;
    let report = report(&survey, &args);
    let format = session.format_or(OutputFormat::Table);
    let wide = session.wide();
    session
        .shell
        .emit(format, &report, |r| vec![table(r, wide)])?;
    if format == OutputFormat::Table {
        if let Some(note) = quota::footnote(report.members.iter().filter_map(|m| m.quota_source)) {
            session.shell.note(note);
        }
    }
    finish(&survey, session)
}

/// Warnings for the whole cluster, then the exit status.
pub fn finish(survey: &Survey, session: &mut Session) -> Result<()> {
    if survey.statuses().next().is_some() && survey.leader_id().is_none() {
        session
            .shell
            .warn("no member reports a leader: the cluster has lost quorum");
    }
    // One line per distinct cause: a missing RBAC grant fails every member
    // the same way and should be said once.
    let mut causes: Vec<(&Error, Vec<&str>)> = Vec::new();
    for v in &survey.views {
        if let Some(e) = &v.error {
            match causes.iter_mut().find(|(c, _)| c.message == e.message) {
                Some((_, members)) => members.push(&v.target.endpoint),
                None => causes.push((e, vec![&v.target.endpoint])),
            }
        }
    }
    for (e, members) in causes {
        let names: Vec<String> = members.iter().map(|m| format!("`{m}`")).collect();
        let label = if names.len() == 1 {
            "member"
        } else {
            "members"
        };
        let e = e.clone().context(format!("{label} {}", names.join(", ")));
        session.shell.error(&e);
    }
    let total = survey.views.len();
    match survey.failures() {
        0 => Ok(()),
        n if n == total => Err(Error::new(
            Kind::Unavailable,
            format!("none of the {total} members could be reached"),
        )),
        n => Err(Error::partial(format!(
            "{n} of {total} members could not be reached"
        ))),
    }
}

pub fn report(survey: &Survey, args: &Args) -> StatusReport {
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
                error: v.error.as_ref().map(|e| e.message.clone()),
            };
            // A pod that did not answer still names its member.
            if let (None, Some(m)) = (&v.status, survey.member_behind(&v.target)) {
                row.name = Some(m.name.clone()).filter(|n| !n.is_empty());
                row.id = Some(format_id(m.id));
            }
            if let Some(s) = &v.status {
                let q = quota::of_status(s, args.quota_bytes);
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
                row.lagging = Some(survey.lagging(s, args.lag_threshold));
                row.alarms = survey
                    .alarms
                    .iter()
                    .filter(|a| a.member_id == s.member_id)
                    .map(|a| a.alarm.clone())
                    .collect();
                row.errors = tidy_errors(&s.errors, s.member_id, &row.alarms);
            }
            row
        })
        .collect();
    StatusReport { members }
}

/// The default table fits 120 columns for a 3-member cluster; `wide` adds
/// the node, id and raft columns.
fn table(report: &StatusReport, wide: bool) -> Table {
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

fn opt_num(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

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
