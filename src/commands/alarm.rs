//! `alarm list` and `alarm disarm`: per member and alarm type.

use crate::cli::{parse_bytes, OutputFormat};
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::etcd::maintenance::{self, AlarmKind};
use crate::ops::cluster_state::ClusterState;
use crate::ops::quota;
use crate::ops::space::{alarm_rows, AlarmRow, QUOTA_UNKNOWN};
use crate::ops::{progress, Operator};
use crate::output::maintenance::alarm_table;

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
    #[arg(long, value_name = "NAME|ID", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::members))]
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

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    match args.command {
        AlarmCommand::List(a) => list(a, session).await,
        AlarmCommand::Disarm(a) => disarm(a, session).await,
    }
}

async fn list(args: ListArgs, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let survey = quota::survey(&cluster).await;
    // Not one member answered: say why (refused, TLS, authentication).
    survey.reached()?;
    // Without a quorum etcd cannot answer the list: that is no "no alarms".
    survey
        .alarm_list()
        .map_err(|e| Error::from(e).context("cannot read the alarm list"))?;
    let state = ClusterState::from_survey(&survey);
    let rows = alarm_rows(&survey, &state, args.quota_bytes);
    let format = session.format_or(OutputFormat::Table);
    session
        .shell
        .emit(format, &rows, |r| vec![alarm_table(r)])?;
    if rows.is_empty() && format == OutputFormat::Table {
        session.shell.note("no active alarms");
    }
    if format == OutputFormat::Table {
        if let Some(note) = quota::footnote(rows.iter().map(|r| r.quota.source)) {
            session.shell.note(note);
        }
    }
    Ok(())
}

async fn disarm(args: DisarmArgs, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let survey = quota::survey(&cluster).await;
    // Not one member answered: that is no "nothing to disarm".
    survey.reached()?;
    survey
        .alarm_list()
        .map_err(|e| Error::from(e).context("cannot read the alarm list"))?;
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
    let mut rows: Vec<AlarmRow> = alarm_rows(&survey, &state, args.quota_bytes)
        .into_iter()
        .filter(|r| selected.is_none_or(|id| id == r.member_id))
        .filter(|r| args.alarm.is_none_or(|a| a.name() == r.alarm))
        .collect();
    let format = session.format_or(OutputFormat::Table);
    if rows.is_empty() {
        session
            .shell
            .note("no matching active alarms: nothing to disarm");
        return session.shell.emit(format, &rows, |r| vec![alarm_table(r)]);
    }
    alarm_table(&rows).write(session.shell.err(), false)?;
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
        return session.shell.emit(format, &rows, |r| vec![alarm_table(r)]);
    }
    session.confirm(&format!("disarm {} alarm(s)", rows.len()))?;
    let client = survey.answering_client()?;
    let interrupt = session.interrupt.clone();
    for i in 0..rows.len() {
        if interrupt.fired() {
            return Err(stopped(&rows, i));
        }
        let r = &mut rows[i];
        let kind = AlarmKind::parse(&r.alarm)
            .ok_or_else(|| Error::new(Kind::Other, format!("unknown alarm `{}`", r.alarm)))?;
        let what = format!("disarming {} on `{}`", r.alarm, r.member);
        // Once sent, waited for; left at a second Ctrl-C, or unanswered
        // after the first, its outcome is unknown.
        let done = interrupt
            .finish(
                maintenance::disarm(client, r.member_id, kind),
                &what,
                &mut |l| session.shell.note(l),
            )
            .await;
        match done {
            Err(()) => return Err(in_doubt(&rows, i, None)),
            Ok(r) => {
                if let Some(cause) = interrupt.unanswered(&r) {
                    return Err(in_doubt(&rows, i, Some(cause)));
                }
                r.map_err(|e| match e.leaves_write_in_doubt() {
                    true => crate::ops::Error::in_doubt(
                        &what,
                        format!("it may or may not be disarmed; {}", done_and_left(&rows, i)),
                        CHECK,
                        e,
                    )
                    .into(),
                    false => Error::from(e).context(&what),
                })?;
            }
        }
        rows[i].disarmed = true;
    }
    session.shell.emit(format, &rows, |r| vec![alarm_table(r)])
}

/// Ctrl-C before row `next`: what was disarmed, what is still active.
fn stopped(rows: &[AlarmRow], next: usize) -> Error {
    Error::interrupted(format!(
        "interrupted (Ctrl-C): {}",
        done_and_left(rows, next)
    ))
    .with_hint("run the same command again to disarm the rest")
}

/// How to see what a disarm whose outcome is unknown left.
const CHECK: &str =
    "`kubectl etcd alarm list` shows what is still active; the same command again disarms the rest";

/// Ctrl-C while row `next` was being disarmed, left without an answer:
/// that one may or may not be disarmed.
fn in_doubt(rows: &[AlarmRow], next: usize, cause: Option<&crate::etcd::Error>) -> Error {
    let r = &rows[next];
    let why = cause
        .map(|c| format!(" ({})", Error::from(c.clone()).message))
        .unwrap_or_default();
    let mut e = Error::interrupted(format!(
        "interrupted (Ctrl-C) while disarming {} on `{}`: it may or may not be disarmed{why}; {}",
        r.alarm,
        r.member,
        done_and_left(rows, next)
    ))
    .with_hint(CHECK);
    e.cause = cause.and_then(|c| Error::from(c.clone()).cause);
    e
}

/// "1 of 3 alarms disarmed (...); left: ..." before row `next`.
fn done_and_left(rows: &[AlarmRow], next: usize) -> String {
    let name = |r: &AlarmRow| format!("{} on `{}`", r.alarm, r.member);
    let done: Vec<String> = rows[..next].iter().map(name).collect();
    let left: Vec<String> = rows[next..].iter().map(name).collect();
    progress(&done, &left, "alarms disarmed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(member: &str) -> AlarmRow {
        AlarmRow {
            member: member.into(),
            id: crate::etcd::format_id(1),
            member_id: 1,
            alarm: "NOSPACE".into(),
            db_size: Some(1),
            quota: crate::ops::quota::QuotaColumns {
                bytes: 100,
                assumed: false,
                source: crate::ops::quota::QuotaSource::Metrics,
            },
            quota_use_percent: Some(1.0),
            still_there: None,
            disarmed: false,
        }
    }

    #[test]
    fn ctrl_c_between_members_names_what_was_disarmed_and_what_is_active() {
        let rows = [row("m1"), row("m2"), row("m3")];
        let e = stopped(&rows, 1);
        assert_eq!(e.exit_code() as i32, 130);
        assert_eq!(
            e.message,
            "interrupted (Ctrl-C): 1 of 3 alarms disarmed (NOSPACE on `m1`); left: NOSPACE on \
             `m2`, NOSPACE on `m3`"
        );
        assert!(e.hint.unwrap().contains("again"));
    }
}
