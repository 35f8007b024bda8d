//! `restore`: disaster recovery from a snapshot.
//!
//! Wiring only: verifies the snapshot offline, plans the restore of every
//! member with [`crate::ops::restore`] (the exact commands, with a revision
//! bump where the tool can), and with `--local` has
//! [`crate::ops::restore::executor`] carry out this node's part step by
//! step: stop, move the old data aside, restore, point the manifest at the
//! new data dir, start; each step confirmed, logged and undoable.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{parse_duration, OutputFormat};
use crate::context::Session;
use crate::error::Result;
use crate::ops::restore::executor::{self as exec, NodeArgs};
use crate::ops::restore::source::{self, absolute, Snapshot};
use crate::ops::restore::{self, parse_bump, parse_member, BumpSpec, Choices, TargetMember};
use crate::ops::Operator;
use crate::output::restore::{report_tables, restored_note, run_each_note, Report};
use crate::output::snapshot::info_table;

/// Restore etcd from a snapshot: verify, plan every member, restore this node.
///
/// Heavy and destructive with --local. Without --local it only verifies the
/// snapshot and prints the exact restore command for every member. With
/// --local (run on a control-plane node, like etcdadm) it stops the member,
/// moves its data dir aside (never deletes), restores into a new data dir,
/// points the static pod manifest (or the process) at it and starts it,
/// confirming each step and printing how to undo it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The snapshot to restore; default: take one now from the healthiest
    /// member (needs --endpoints).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,

    /// Where to save the snapshot taken now; default:
    /// `etcd-snapshot-<unix time>.db` in the current directory.
    #[arg(long, value_name = "FILE")]
    pub save_to: Option<PathBuf>,

    /// A member of the restored cluster as NAME=PEER_URL (repeatable);
    /// default: the voting members of the live cluster.
    #[arg(long = "member", value_name = "NAME=PEER_URL", value_parser = parse_member)]
    pub members: Vec<TargetMember>,

    /// Cluster token of the restored cluster; default: derived from the
    /// snapshot's hash, the same on every node.
    #[arg(long, value_name = "TOKEN")]
    pub initial_cluster_token: Option<String>,

    /// The member's current data dir; default: from the manifest or the
    /// process, else /var/lib/etcd.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,

    /// Where to restore to (`{name}` is the member name); default:
    /// DATA_DIR.restored-rREVISION.
    #[arg(long, value_name = "DIR")]
    pub new_data_dir: Option<String>,

    /// etcdutl to restore with (default: `etcdutl` on PATH).
    #[arg(long, value_name = "PATH")]
    pub etcdutl: Option<PathBuf>,

    /// etcdctl to restore with when there is no etcdutl (etcd 3.4).
    #[arg(long, value_name = "PATH")]
    pub etcdctl: Option<PathBuf>,

    /// Revisions to add on restore so watchers never see old revisions
    /// again: a number, `raft` (the raft index x 1.2) or `none`.
    #[arg(long, default_value = "1000000000", value_parser = parse_bump, value_name = "N|raft|none")]
    pub bump_revision: BumpSpec,

    /// Carry out this node's restore (stop, move aside, restore, start).
    #[arg(long)]
    pub local: bool,

    /// This node's member (default: the manifest's or the process's --name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Static pod manifest dir (kubeadm).
    #[arg(long, default_value = "/etc/kubernetes/manifests", value_name = "DIR")]
    pub manifest_dir: PathBuf,

    /// A plain etcd process to stop, and start again on the new data dir.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,

    /// A systemd unit to stop and start (restores in place).
    #[arg(long, value_name = "UNIT")]
    pub service: Option<String>,

    /// Prefix every node path (a fake node layout for tests).
    #[arg(long, default_value = "/", value_name = "DIR")]
    pub root: PathBuf,

    /// How long to wait for etcd to stop, and to be healthy again.
    #[arg(long, default_value = "2m", value_parser = parse_duration, value_name = "DURATION")]
    pub wait: Duration,

    /// Show the snapshot and the plan, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl Args {
    fn node(&self) -> NodeArgs {
        NodeArgs {
            data_dir: self.data_dir.clone(),
            name: self.name.clone(),
            manifest_dir: self.manifest_dir.clone(),
            pid: self.pid,
            service: self.service.clone(),
            root: self.root.clone(),
            wait: self.wait,
        }
    }

    /// Where a run without --snapshot saves the snapshot it takes.
    fn save_path(&self) -> PathBuf {
        self.save_to
            .clone()
            .unwrap_or_else(source::default_save_path)
    }
}

/// The snapshot given, verified offline; or one taken now; or (a dry run
/// without --snapshot) where a real run would save it.
async fn snapshot(args: &Args, session: &mut Session) -> Result<Snapshot> {
    let path = match &args.snapshot {
        Some(p) => p.clone(),
        None if args.dry_run => {
            let path = absolute(&args.save_path());
            if session.global.endpoints.is_empty() {
                return Err(source::no_snapshot_source().into());
            }
            let client = session.cluster().await?.connect_any().await?;
            return Ok(source::planned(&client, path, session).await?);
        }
        None => take_snapshot(args, session).await?,
    };
    let snap = source::verify(path, &session.global.prefix.clone(), session)?;
    session.shell.note("snapshot (verified offline):");
    if let Some(info) = &snap.info {
        info_table(info).write(session.shell.err(), false)?;
    }
    Ok(snap)
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let format = session.format_or(OutputFormat::Table);
    // 1. The snapshot, verified offline.
    let snap = snapshot(&args, session).await?;

    // 2. The plan for every member.
    let members = if args.members.is_empty() {
        let cluster = if session.global.endpoints.is_empty() {
            None
        } else {
            Some(session.cluster().await?)
        };
        exec::live_members(cluster.as_ref(), session).await?
    } else {
        args.members.clone()
    };
    let tool = exec::find_tool(args.etcdutl.clone(), args.etcdctl.clone(), session).await;
    let snapshot_arg = absolute(&snap.path).display().to_string();
    let choices = Choices {
        token: args.initial_cluster_token.as_deref(),
        new_data_dir: args.new_data_dir.as_deref(),
        data_dir: args.data_dir.as_deref(),
        bump: args.bump_revision,
    };
    let plan = snap.plan(&snapshot_arg, &members, choices, &tool)?;
    for w in &plan.warnings {
        session.shell.warn(w);
    }
    let mut report = Report {
        save_to: args.snapshot.is_none().then(|| snapshot_arg.clone()),
        snapshot: snap.info,
        plan,
        local: None,
        dry_run: args.dry_run,
        started_pid: None,
        after: None,
        counts: snap.counts,
    };
    if !args.local {
        session.shell.note(run_each_note(&report.plan));
        return session.shell.emit(format, &report, report_tables);
    }

    // 3. This node.
    let node_args = args.node();
    let (name, local) = exec::prepare_local(
        &node_args,
        &report.plan,
        &members,
        &restore::tag(snap.revision),
    )?;
    let steps = local.describe(&name);
    if args.dry_run {
        session.keep(&steps);
        report.local = Some(local);
        return session.shell.emit(format, &report, report_tables);
    }
    session.shell.note(steps);
    let interrupt = session.interrupt.clone();
    report.started_pid = exec::run_local(&local, &node_args, &interrupt, session).await?;
    report.local = Some(local);

    // 4. After: health, status, counts.
    if !session.global.endpoints.is_empty() {
        let cluster = session.cluster().await?;
        let prefix = session.global.prefix.clone();
        let (wait, counts) = (args.wait, &mut report.counts);
        let after = exec::after(&cluster, &prefix, wait, counts, &interrupt, session).await?;
        session.shell.note(restored_note(&report.plan, &after));
        report.after = Some(after);
    }
    session.shell.emit(format, &report, report_tables)
}

async fn take_snapshot(args: &Args, session: &mut Session) -> Result<PathBuf> {
    if session.global.endpoints.is_empty() {
        return Err(source::no_snapshot_source().into());
    }
    let file = args.save_path();
    // The hint only where the place was not chosen.
    let hint = if args.save_to.is_none() {
        " (--save-to to choose where)"
    } else {
        ""
    };
    session.shell.note(format!(
        "taking a snapshot into `{}`{hint}",
        absolute(&file).display()
    ));
    let cluster = session.cluster().await?;
    let interrupt = session.interrupt.clone();
    let bar = session.shell.stderr_tty;
    let mut on = crate::output::progress::snapshot_save(&mut session.shell, bar);
    let (targets, settings) = (&cluster.targets, &cluster.settings);
    let info = source::take(targets, settings, &file, &interrupt, &mut on).await?;
    drop(on);
    session.shell.note(format!(
        "saved `{}` from `{}`",
        file.display(),
        info.member.unwrap_or_default()
    ));
    Ok(file)
}
