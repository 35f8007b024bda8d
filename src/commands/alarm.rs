//! `alarm list` and `alarm disarm`: per member and alarm type.

use serde::Serialize;

use crate::cli::{parse_bytes, OutputFormat};
use crate::commands::status::DEFAULT_QUOTA;
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::etcd::maintenance::{self, AlarmKind};
use crate::etcd::{format_id, Survey};
use crate::ops::cluster_state::{ClusterState, MemberState};
use crate::ops::quota;
use crate::output::table::{Mark, Table};
use crate::output::{human_bytes, percent};

/// A NOSPACE alarm is only worth disarming below this share of the quota:
/// any closer and the next writes raise it again.
pub const NOSPACE_SAFE_PERCENT: f64 = 95.0;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: AlarmCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AlarmCommand {
    /// Active alarms, per member, with the db size against the quota.
    List(ListArgs),
    /// Disarm alarms (writes; confirms). Refuses while the cause remains.
    ///
    /// A NOSPACE alarm comes back at once while the db file is still at or
    /// near the quota: compact and defragment first (`recover-space` does
    /// all of it). A CORRUPT alarm means members' data disagree: disarming
    /// hides it without fixing it, so it needs --force.
    Disarm(DisarmArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The members' --quota-backend-bytes, only needed when neither Status
    /// (etcd ≥ 3.6), the metrics nor a pod flag give it (2 GiB is assumed).
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    pub quota_bytes: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct DisarmArgs {
    /// Only this member's alarms (name or 16-hex id).
    #[arg(long, value_name = "NAME|ID", add = clap_complete::engine::ArgValueCompleter::new(crate::commands::completion::members))]
    pub member: Option<String>,

    /// Only this alarm type.
    #[arg(long, value_enum, value_name = "NOSPACE|CORRUPT", ignore_case = true)]
    pub alarm: Option<AlarmKind>,

    /// Disarm even though the cause is still there.
    #[arg(long)]
    pub force: bool,

    /// The members' --quota-backend-bytes, only needed when neither Status
    /// (etcd ≥ 3.6), the metrics nor a pod flag give it.
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    pub quota_bytes: Option<u64>,

    /// Show what would be disarmed, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
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
    pub quota_bytes: u64,
    pub quota_assumed: bool,
    pub quota_use_percent: Option<f64>,
    /// Why it must not be disarmed yet; `None` when the cause is gone.
    pub still_there: Option<String>,
    pub disarmed: bool,
}

/// The quota of a member: its own when it reports one, else the one the
/// operator gave, else etcd's default 2 GiB. The flag says whether it is
/// assumed (not reported by the server nor given by the operator).
pub fn quota_of(m: Option<&MemberState>, given: Option<u64>) -> (u64, bool) {
    match (m.map(|m| m.db_size_quota), given) {
        (Some(q), _) if q > 0 => (q, false),
        (_, Some(g)) => (g, false),
        _ => (DEFAULT_QUOTA, true),
    }
}

/// Why a NOSPACE alarm cannot be judged: the quota is a guess.
pub const QUOTA_UNKNOWN: &str =
    "neither Status (etcd < 3.6), the metrics nor a pod flag gave the quota, so whether the db \
     file is under it is unknown";

/// Why an alarm's cause is still there; `None` when it is gone. Pure.
pub fn still_there(
    alarm: &str,
    db_size: Option<u64>,
    quota: u64,
    quota_assumed: bool,
) -> Option<String> {
    match alarm {
        "NOSPACE" if quota_assumed => Some(QUOTA_UNKNOWN.into()),
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

pub fn rows(survey: &Survey, state: &ClusterState, given_quota: Option<u64>) -> Vec<AlarmRow> {
    survey
        .alarms
        .iter()
        .map(|a| {
            let m = state.member(a.member_id);
            let (quota, assumed) = quota_of(m, given_quota);
            let db = m.filter(|m| m.reachable()).map(|m| m.db_size);
            AlarmRow {
                member: m
                    .map(|m| m.label())
                    .unwrap_or_else(|| format_id(a.member_id)),
                id: format_id(a.member_id),
                member_id: a.member_id,
                alarm: a.alarm.clone(),
                db_size: db,
                quota_bytes: quota,
                quota_assumed: assumed,
                quota_use_percent: db.map(|d| percent(d, quota)),
                still_there: still_there(&a.alarm, db, quota, assumed),
                disarmed: false,
            }
        })
        .collect()
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    match args.command {
        AlarmCommand::List(a) => list(a, session).await,
        AlarmCommand::Disarm(a) => disarm(a, session).await,
    }
}

async fn list(args: ListArgs, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let survey = quota::survey(&cluster).await;
    if survey.members.is_none() {
        return Err(Error::new(Kind::Unavailable, "no member answered")
            .with_hint("check --endpoints and that etcd is running"));
    }
    let state = ClusterState::from_survey(&survey);
    let rows = rows(&survey, &state, args.quota_bytes);
    let format = session.format_or(OutputFormat::Table);
    session.shell.emit(format, &rows, |r| vec![table(r)])?;
    if rows.is_empty() && format == OutputFormat::Table {
        session.shell.note("no active alarms");
    }
    Ok(())
}

async fn disarm(args: DisarmArgs, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let survey = quota::survey(&cluster).await;
    let state = ClusterState::from_survey(&survey);
    let selected = match &args.member {
        None => None,
        Some(w) => Some(
            state
                .find(w)
                .ok_or_else(|| Error::usage(format!("no member `{w}` in this cluster")))?
                .id,
        ),
    };
    let mut rows: Vec<AlarmRow> = rows(&survey, &state, args.quota_bytes)
        .into_iter()
        .filter(|r| selected.is_none_or(|id| id == r.member_id))
        .filter(|r| args.alarm.is_none_or(|a| a.name() == r.alarm))
        .collect();
    let format = session.format_or(OutputFormat::Table);
    if rows.is_empty() {
        session
            .shell
            .note("no matching active alarms: nothing to disarm");
        return session.shell.emit(format, &rows, |r| vec![table(r)]);
    }
    table(&rows).write(session.shell.err(), false)?;
    if let Some(r) = rows.iter().find(|r| r.still_there.is_some()) {
        let why = r.still_there.clone().unwrap_or_default();
        if !args.force {
            return Err(Error::new(
                Kind::Refused,
                format!("refusing to disarm {} on `{}`: {why}", r.alarm, r.member),
            )
            .with_hint(if why == QUOTA_UNKNOWN {
                "pass --quota-bytes with the members' --quota-backend-bytes; --force disarms anyway"
            } else if r.alarm == "NOSPACE" {
                "free space first with `kubectl etcd recover-space` (compact, defrag, disarm); \
                 --force disarms anyway"
            } else {
                "check the members' hashes before anything else; --force disarms anyway"
            }));
        }
        session
            .shell
            .warn(format!("--force: disarming although {why}"));
    }
    if args.dry_run {
        return session.shell.emit(format, &rows, |r| vec![table(r)]);
    }
    session
        .prompt()
        .confirm(&format!("disarm {} alarm(s)", rows.len()))?;
    let client = survey.answering_client()?;
    for r in &mut rows {
        let kind = AlarmKind::parse(&r.alarm)
            .ok_or_else(|| Error::new(Kind::Other, format!("unknown alarm `{}`", r.alarm)))?;
        maintenance::disarm(client, r.member_id, kind)
            .await
            .map_err(|e| e.context(format!("disarming {} on `{}`", r.alarm, r.member)))?;
        r.disarmed = true;
    }
    session.shell.emit(format, &rows, |r| vec![table(r)])
}

pub fn table(rows: &[AlarmRow]) -> Table {
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
                    human_bytes(r.quota_bytes),
                    if r.quota_assumed { "*" } else { "" }
                ),
                Mark::Plain,
            ),
            state,
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nospace_stays_while_the_db_is_near_the_quota() {
        let q = 2 * 1024 * 1024;
        assert!(still_there("NOSPACE", Some(q), q, false).is_some());
        assert!(still_there("NOSPACE", Some(q / 100 * 96), q, false).is_some());
        assert!(still_there("NOSPACE", Some(q / 2), q, false).is_none());
        assert!(still_there("NOSPACE", None, q, false).is_some());
    }

    #[test]
    fn a_guessed_quota_never_clears_nospace() {
        let q = DEFAULT_QUOTA;
        assert_eq!(
            still_there("NOSPACE", Some(1), q, true).as_deref(),
            Some(QUOTA_UNKNOWN)
        );
        let m = crate::ops::cluster_state::fixtures::member(1, "m1", 10, 5);
        assert_eq!(quota_of(Some(&m), None), (DEFAULT_QUOTA, true));
        assert_eq!(quota_of(Some(&m), Some(7)), (7, false));
        let mut reports = m.clone();
        reports.db_size_quota = 9;
        assert_eq!(quota_of(Some(&reports), Some(7)), (9, false));
    }

    #[test]
    fn corrupt_always_needs_force() {
        assert!(still_there("CORRUPT", Some(1), DEFAULT_QUOTA, false).is_some());
    }
}
