//! `recover-space`: the guided way out of a NOSPACE alarm.

use std::time::Duration;

use serde::Serialize;

use crate::cli::{parse_bytes, parse_duration, OutputFormat};
use crate::commands::{alarm, compact, defrag};
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::etcd::maintenance::{self, AlarmKind};
use crate::etcd::{format_id, Survey};
use crate::ops::cluster_state::ClusterState;
use crate::ops::defrag::{Done, Options, Pacing, Skipped};
use crate::ops::quota;
use crate::output::table::{Mark, Table};
use crate::output::{human_bytes, percent};

/// Flags of the command; its help text lives on the `cli::Command` variant.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The members' --quota-backend-bytes, only needed when neither Status
    /// (etcd ≥ 3.6), the metrics nor a pod flag give it.
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    pub quota_bytes: Option<u64>,

    /// Pause between members during the defrag.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub pause: Duration,

    /// Per-member defragment timeout, and the compaction timeout.
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,

    /// Defragment the leader in place instead of moving leadership first.
    #[arg(long)]
    pub no_move_leader: bool,

    /// Show the space picture and the steps, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// One member's space.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpaceRow {
    pub member: String,
    pub id: String,
    pub db_size: Option<u64>,
    pub db_size_in_use: Option<u64>,
    pub quota_bytes: u64,
    pub quota_assumed: bool,
    pub headroom: Option<u64>,
    pub alarms: Vec<String>,
}

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

fn picture(survey: &Survey, state: &ClusterState, given: Option<u64>) -> Vec<SpaceRow> {
    state
        .members
        .iter()
        .map(|m| {
            let (quota, quota_assumed) = alarm::quota_of(Some(m), given);
            let db = m.reachable().then_some(m.db_size);
            SpaceRow {
                member: m.label(),
                id: format_id(m.id),
                db_size: db,
                db_size_in_use: m.reachable().then_some(m.db_size_in_use),
                quota_bytes: quota,
                quota_assumed,
                headroom: db.map(|d| quota.saturating_sub(d)),
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

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let survey = quota::survey(&cluster).await;
    let state = ClusterState::from_survey(&survey);
    let before = picture(&survey, &state, args.quota_bytes);
    session.shell.note("space before:");
    space_table(&before).write(session.shell.err(), false)?;
    let nospace = survey.alarms.iter().any(|a| a.alarm == "NOSPACE");
    if !nospace {
        session
            .shell
            .note("no NOSPACE alarm is active: the steps still free space, nothing to disarm");
    }
    // Whether the alarm may be disarmed at the end depends on the quota:
    // find out now, not after compacting and defragmenting.
    if nospace && !args.dry_run && before.iter().any(|r| r.quota_assumed) {
        return Err(Error::new(
            Kind::Refused,
            format!(
                "cannot tell when NOSPACE may be disarmed: {}",
                alarm::QUOTA_UNKNOWN
            ),
        )
        .with_hint("pass --quota-bytes with the members' --quota-backend-bytes"));
    }
    if args.dry_run {
        session.shell.note(
            "steps: 1. compact to the current revision (physical)  2. defragment every member, \
             leader last  3. disarm NOSPACE alarms once under the quota  4. show headroom",
        );
        let opts = defrag_options(&args);
        let plan = crate::ops::defrag::plan(&state, &opts)?;
        let format = session.format_or(OutputFormat::Table);
        let wide = session.wide();
        return session
            .shell
            .emit(format, &plan, |p| vec![defrag::plan_table(p, wide)]);
    }
    drop(survey);

    // 1. compact
    session.shell.note("step 1 of 3: compact");
    let client = cluster.connect_any().await?;
    let compact_args = compact::Args {
        revision: None,
        keep: None,
        physical: true,
        timeout: args.timeout,
        dry_run: false,
    };
    let compacted = compact::compact(&cluster, &client, &compact_args, session).await?;

    // 2. rolling defrag
    session.shell.note("step 2 of 3: defragment every member");
    let survey = quota::survey(&cluster).await;
    let state = ClusterState::from_survey(&survey);
    drop(survey);
    let opts = defrag_options(&args);
    let plan = crate::ops::defrag::plan(&state, &opts)?;
    let pacing = Pacing {
        timeout: args.timeout,
        pause: args.pause,
        recover: Duration::from_secs(120),
    };
    let interrupt = crate::ops::Interrupt::on_ctrl_c();
    let outcome = defrag::rolling(&plan, &cluster, &opts, &pacing, &interrupt, session).await?;
    if outcome.stopped.is_some() {
        defrag::result_table(&outcome).write(session.shell.err(), false)?;
        return defrag::finish(&outcome, &plan);
    }

    if interrupt.fired() {
        return Err(Error::new(
            Kind::Partial,
            "interrupted (Ctrl-C) after the defrag: alarms not disarmed",
        )
        .with_hint("finish with `kubectl etcd alarm disarm`"));
    }

    // 3. disarm
    session.shell.note("step 3 of 3: disarm NOSPACE alarms");
    let survey = quota::survey(&cluster).await;
    let state = ClusterState::from_survey(&survey);
    let rows: Vec<_> = alarm::rows(&survey, &state, args.quota_bytes)
        .into_iter()
        .filter(|r| r.alarm == "NOSPACE")
        .collect();
    let mut disarmed = Vec::new();
    if let Some(r) = rows.iter().find(|r| r.still_there.is_some()) {
        return Err(Error::new(
            Kind::Refused,
            format!(
                "compaction and defragmentation did not free enough space on `{}`: {}",
                r.member,
                r.still_there.clone().unwrap_or_default()
            ),
        )
        .with_hint(
            "the live data itself fills the quota: raise --quota-backend-bytes on every \
             member, or delete data, then `kubectl etcd alarm disarm`",
        ));
    }
    if !rows.is_empty() {
        session
            .prompt()
            .confirm(&format!("disarm {} NOSPACE alarm(s)", rows.len()))?;
        let client = survey.answering_client()?;
        for r in &rows {
            maintenance::disarm(client, r.member_id, AlarmKind::Nospace)
                .await
                .map_err(|e| e.context(format!("disarming NOSPACE on `{}`", r.member)))?;
            disarmed.push(r.member.clone());
        }
    }
    drop(survey);

    let survey = quota::survey(&cluster).await;
    let state = ClusterState::from_survey(&survey);
    let report = Report {
        before,
        compacted_at: Some(compacted.revision),
        defragmented: outcome.members,
        skipped: outcome.skipped,
        disarmed,
        after: picture(&survey, &state, args.quota_bytes),
    };
    let format = session.format_or(OutputFormat::Table);
    session.shell.emit(format, &report, |r| {
        vec![
            defrag::result_table(&crate::ops::defrag::Outcome {
                members: r.defragmented.clone(),
                skipped: r.skipped.clone(),
                stopped: None,
            }),
            space_table(&r.after).title("space after"),
        ]
    })
}

fn defrag_options(args: &Args) -> Options {
    Options {
        member: None,
        if_fragmented: None,
        min_db_size: None,
        move_leader: !args.no_move_leader,
    }
}

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
        let use_pct = r.db_size.map(|d| percent(d, r.quota_bytes));
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
                    human_bytes(r.quota_bytes),
                    if r.quota_assumed { "*" } else { "" }
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
