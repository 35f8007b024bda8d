//! `recover`: quorum lost for good; recover from the most up-to-date
//! surviving member with `--force-new-cluster`, then grow back.
//!
//! Wiring only: the survey, choice and plan come from
//! [`crate::ops::recover`], which also runs the survivor's node-local steps
//! with `--local`; the tables from [`crate::output::recover`].

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::cli::{parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::etcd::Survey;
use crate::ops::recover::executor::{self as exec, Outcome};
use crate::ops::recover::{self as rec, Journal, Layout, Plan, Planned};
use crate::output::recover::{after_table, counts_table, local_table, plan_tables, After, Count};

/// Flags of the command; its help text lives on the `cli::Command` variant.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recover from this member instead of the most up-to-date one (warns
    /// with the revisions that would be lost).
    #[arg(long, value_name = "NAME")]
    pub member: Option<String>,

    /// A stopped member's data dir to read offline, as NAME=PATH
    /// (repeatable); with --local a bare DIR is the survivor's data dir.
    #[arg(long = "data-dir", value_name = "[NAME=]PATH")]
    pub data_dirs: Vec<String>,

    /// Carry out the survivor's steps on this node (run it there).
    #[arg(long)]
    pub local: bool,

    /// The surviving etcd is this plain process: restarted with its own
    /// command line plus or minus --force-new-cluster.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,

    /// The surviving etcd is this systemd unit: the flag is set for one
    /// start by a drop-in (pass --data-dir DIR too).
    #[arg(long, value_name = "UNIT")]
    pub service: Option<String>,

    /// Static pod manifest dir (kubeadm).
    #[arg(long, default_value = "/etc/kubernetes/manifests", value_name = "DIR")]
    pub manifest_dir: PathBuf,

    /// Prefix every node path (a fake node layout for tests).
    #[arg(long, default_value = "/", value_name = "DIR")]
    pub root: PathBuf,

    /// Data dir of each member added back, for the printed commands
    /// (`{name}` is its name).
    #[arg(long, default_value = "/var/lib/etcd", value_name = "DIR")]
    pub new_data_dir: String,

    /// How long to wait for etcd to stop, to be healthy, and for each
    /// member added back to start and catch up.
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub wait: Duration,

    /// Stop once the survivor runs alone without the flag; add the others
    /// back later with `resize add` (printed).
    #[arg(long)]
    pub no_grow: bool,

    /// Show the survey and the plan, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub plan: Option<Plan>,
    pub local: Vec<Planned>,
    pub dry_run: bool,
    pub outcome: Option<Outcome>,
    pub counts: Vec<Count>,
    pub after: Option<After>,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let format = session.format_or(OutputFormat::Table);
    let cluster = session.cluster().await?;
    let (named, bare) = rec::split_dirs(&args.data_dirs);
    if let Some(why) =
        rec::controller_refusal(cluster.targets.iter().filter_map(|t| t.pod.as_ref()))
    {
        if args.local && !args.dry_run {
            return Err(Error::new(Kind::Refused, format!("refusing to recover here: {why}"))
                .with_hint("follow the operator's own disaster recovery; docs/wizards.md#recover lists the steps"));
        }
        session.shell.warn(format!("{why}; --local will refuse"));
    }
    let spec = exec::NodeSpec {
        data_dir: bare.clone(),
        pid: args.pid,
        service: args.service.clone(),
        manifest_dir: args.manifest_dir.clone(),
        root: args.root.clone(),
    };
    // A recovery under way on this node resumes from its journal.
    // (A survivor restarted since has another pid: the data dir finds it.)
    let node = args.local.then(|| exec::find_node(&spec));
    let mut journal = match (&bare, args.local) {
        (Some(d), true) => exec::load_journal(&args.root, d)?,
        _ => None,
    };
    if let (None, Some(Ok(n))) = (&journal, &node) {
        journal = exec::load_journal(&args.root, &n.data_dir)?;
    }
    let mut plan = None;
    if journal.is_none() {
        let (surveyed, choice) = exec::assess(&cluster, &named, args.member.as_deref()).await?;
        if let Some(w) = &choice.warning {
            session.shell.warn(w);
        }
        let lost: Vec<rec::Lost> = surveyed
            .members
            .iter()
            .filter(|m| m.name != choice.survivor)
            .cloned()
            .collect();
        let peers = surveyed
            .members
            .iter()
            .find(|m| m.name == choice.survivor)
            .map(|m| m.peer_urls.clone())
            .unwrap_or_default();
        let node = node.transpose()?;
        let layout = Layout {
            data_dir: node
                .as_ref()
                .map(|n| n.data_dir.display().to_string())
                .or(bare.as_ref().map(|b| b.display().to_string()))
                .unwrap_or_else(|| "/var/lib/etcd".into()),
            new_data_dir: args.new_data_dir.clone(),
            connection: rec::connection_flags(&session.global),
        };
        let p = rec::plan(surveyed.candidates.clone(), choice, peers, lost, &layout);
        if let Some(node) = node {
            if let Some(n) = node.name.as_ref().filter(|n| **n != p.choice.survivor) {
                return Err(Error::new(
                    Kind::Refused,
                    format!(
                        "this node runs `{n}`, but the survivor is `{}`",
                        p.choice.survivor
                    ),
                )
                .with_hint(format!(
                    "run it on `{}`'s node, or pass --member {n} to recover from this one",
                    p.choice.survivor
                )));
            }
            let before = match surveyed.client(&p.choice.survivor) {
                Some(c) => exec::count_types(c, &session.global.prefix, true).await?.1,
                None => Vec::new(),
            };
            journal = Some(Journal {
                survivor: p.choice.survivor.clone(),
                revision: p.revision,
                root: args.root.clone(),
                data_dir: node.data_dir.clone(),
                runner: node.runner,
                lost: if args.no_grow {
                    Vec::new()
                } else {
                    p.lost.clone()
                },
                done: 0,
                counts_before: before,
            });
        }
        plan = Some(p);
    } else {
        session
            .shell
            .note("resuming the recovery recorded next to the data dir");
    }
    let mut report = Report {
        plan,
        local: Vec::new(),
        dry_run: args.dry_run,
        outcome: None,
        counts: Vec::new(),
        after: None,
    };
    let Some(mut journal) = journal else {
        // After the plan it explains: stdout is flushed first, so a
        // terminal shows the note below the tables.
        session.shell.emit(format, &report, |r| {
            r.plan.as_ref().map(plan_tables).unwrap_or_default()
        })?;
        let _ = session.shell.flush();
        session.shell.note(
            "nothing changed: run the survivor's command on its node, then each added-back \
             member's, in order",
        );
        return Ok(());
    };
    report.local = rec::local_plan(&journal);
    if args.dry_run {
        return session.shell.emit(format, &report, |r| {
            let mut t = r.plan.as_ref().map(plan_tables).unwrap_or_default();
            t.push(local_table(&r.local, true));
            t
        });
    }
    exec::save_journal(&journal)?;
    let interrupt = session.interrupt.clone();
    let pacing = exec::Pacing {
        wait: args.wait,
        new_data_dir: args.new_data_dir.clone(),
    };
    let outcome = exec::execute(&mut journal, &cluster, &pacing, &interrupt, session).await?;
    if args.no_grow {
        for l in report.plan.iter().flat_map(|p| &p.lost) {
            session.shell.note(format!(
                "add `{}` back: kubectl etcd {} resize add {} --peer-urls {} --client-url {}",
                l.name,
                rec::connection_flags(&session.global),
                l.name,
                l.peer_urls.join(","),
                l.client_url
            ));
        }
    }
    // After: status, counts and revision before and after.
    let survey = Survey::take(&cluster.targets, &cluster.settings).await;
    let client = survey.answering_client()?;
    let (revision, now) = exec::count_types(client, &session.global.prefix, false).await?;
    report.counts = Count::merged(&journal.counts_before, &now);
    report.after = Some(After {
        revision_before: journal.revision,
        revision,
        members: survey.statuses().cloned().collect(),
    });
    report.local = rec::local_plan(&journal);
    report.outcome = Some(outcome);
    session.shell.emit(format, &report, |r| {
        let mut t = vec![local_table(&r.local, false), counts_table(&r.counts)];
        t.extend(r.after.as_ref().map(after_table));
        t
    })
}
