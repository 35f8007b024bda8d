//! `size`: how much disk each member's database takes and how much of it is
//! reclaimable by a defrag.

use serde::Serialize;

use crate::cli::{parse_bytes, OutputFormat};
use crate::context::Session;
use crate::error::Result;
use crate::etcd::{format_id, Survey};
use crate::output::table::{Mark, Table};
use crate::output::{human_bytes, percent};

use super::status;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Quota to assume where the server does not report its own (etcd < 3.6).
    #[arg(long, default_value = "2GiB", value_parser = parse_bytes, value_name = "SIZE")]
    pub quota_bytes: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberSize {
    pub endpoint: String,
    pub name: Option<String>,
    pub id: Option<String>,
    pub db_size: Option<u64>,
    pub db_size_in_use: Option<u64>,
    /// Bytes a defrag would give back to the file system.
    pub fragmented_bytes: Option<u64>,
    pub fragmentation_percent: Option<f64>,
    pub quota_bytes: Option<u64>,
    pub quota_assumed: Option<bool>,
    /// Bytes left before the NOSPACE alarm.
    pub quota_headroom_bytes: Option<u64>,
    pub quota_use_percent: Option<f64>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SizeReport {
    pub members: Vec<MemberSize>,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let cluster = session.cluster().await?;
    let survey = Survey::take(&cluster.targets, &cluster.settings).await;
    let members = survey
        .views
        .iter()
        .map(|v| {
            let s = v.status.as_ref();
            let (quota, assumed) = match s {
                Some(s) if s.db_size_quota > 0 => (s.db_size_quota, false),
                _ => (args.quota_bytes, true),
            };
            MemberSize {
                endpoint: v.target.endpoint.clone(),
                name: s.and_then(|s| survey.member_name(s.member_id).map(str::to_string)),
                id: s.map(|s| format_id(s.member_id)),
                db_size: s.map(|s| s.db_size),
                db_size_in_use: s.map(|s| s.db_size_in_use),
                fragmented_bytes: s.map(|s| s.db_size.saturating_sub(s.db_size_in_use)),
                fragmentation_percent: s
                    .map(|s| percent(s.db_size.saturating_sub(s.db_size_in_use), s.db_size)),
                quota_bytes: s.map(|_| quota),
                quota_assumed: s.map(|_| assumed),
                quota_headroom_bytes: s.map(|s| quota.saturating_sub(s.db_size)),
                quota_use_percent: s.map(|s| percent(s.db_size, quota)),
                error: v.error.as_ref().map(|e| e.message.clone()),
            }
        })
        .collect();
    let report = SizeReport { members };
    let format = session.format_or(OutputFormat::Table);
    session.shell.emit(format, &report, |r| vec![table(r)])?;
    status::finish(&survey, session)
}

fn table(report: &SizeReport) -> Table {
    let mut t = Table::new(&[
        "endpoint",
        "name",
        "db size",
        "in use",
        "fragmented",
        "quota",
        "headroom",
        "quota use",
        "error",
    ])
    .right_align(&[2, 3, 4, 5, 6, 7]);
    for m in &report.members {
        let b = |v: Option<u64>| v.map(human_bytes).unwrap_or_else(|| "-".into());
        let quota_use = m.quota_use_percent.unwrap_or(0.0);
        t.marked_row(vec![
            (m.endpoint.clone(), Mark::Plain),
            (m.name.clone().unwrap_or_else(|| "-".into()), Mark::Plain),
            (b(m.db_size), Mark::Plain),
            (b(m.db_size_in_use), Mark::Plain),
            (
                match (m.fragmented_bytes, m.fragmentation_percent) {
                    (Some(f), Some(p)) => format!("{} ({p:.1}%)", human_bytes(f)),
                    _ => "-".into(),
                },
                Mark::Plain,
            ),
            (
                format!(
                    "{}{}",
                    b(m.quota_bytes),
                    if m.quota_assumed == Some(true) {
                        "*"
                    } else {
                        ""
                    }
                ),
                Mark::Plain,
            ),
            (b(m.quota_headroom_bytes), Mark::Plain),
            (
                m.quota_use_percent
                    .map(|p| format!("{p:.1}%"))
                    .unwrap_or_else(|| "-".into()),
                if quota_use >= 80.0 {
                    Mark::Bad
                } else {
                    Mark::Plain
                },
            ),
            (m.error.clone().unwrap_or_default(), Mark::Bad),
        ]);
    }
    t
}
