//! `restore`: disaster recovery from a snapshot.
//!
//! Verifies the snapshot offline, plans the restore of every member with
//! [`crate::ops::restore`] (the exact commands, with a revision bump where
//! the tool can), and with `--local` carries out this node's part step by
//! step: stop, move the old data aside, restore, point the manifest at the
//! new data dir, start; each step confirmed, logged and undoable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{parse_duration, OutputFormat};
use crate::commands::snapshot::{self, SaveArgs, SnapshotInfo};
use crate::context::Session;
use crate::error::{Error, Kind, Result};
use crate::etcd::{self, Survey};
use crate::keyspace::scan::{scan, Page, ScanOptions};
use crate::ops::restore::{
    self, local_plan, parse_bump, parse_member, BumpSpec, LocalPlan, LocalStep, Node, Plan,
    TargetMember, Tool,
};
use crate::output::table::{Mark, Table};
use crate::snapshot::{self as snap, Integrity};

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

    /// Where to save the snapshot taken now.
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

/// Keys per type, in the snapshot and live after the restore.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Count {
    pub r#type: String,
    pub snapshot: u64,
    pub live: Option<u64>,
}

/// The cluster after the restore.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct After {
    pub healthy: bool,
    pub revision: i64,
    pub members: Vec<etcd::Status>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub snapshot: SnapshotInfo,
    pub plan: Plan,
    pub local: Option<LocalPlan>,
    pub dry_run: bool,
    /// The etcd process started on the new data dir (`--pid` mode).
    pub started_pid: Option<u32>,
    pub after: Option<After>,
    pub counts: Vec<Count>,
}

pub async fn run(args: Args, session: &mut Session) -> Result<()> {
    let format = session.format_or(OutputFormat::Table);
    // 1. The snapshot, verified offline.
    let path = match &args.snapshot {
        Some(p) => p.clone(),
        None => take_snapshot(&args, session).await?,
    };
    let (info, inspect) = snapshot::examine(&path, &session.global.prefix)?;
    session.shell.note("snapshot (verified offline):");
    snapshot::info_table(&info).write(session.shell.err(), false)?;
    if info.integrity == Integrity::NoHash {
        session
            .shell
            .warn("no sha256 trailer (a member's db file?): restoring with --skip-hash-check");
    }

    // 2. The plan for every member.
    let members = if args.members.is_empty() {
        live_members(session).await?
    } else {
        args.members.clone()
    };
    let token = args.initial_cluster_token.clone().unwrap_or_else(|| {
        info.sha256
            .as_ref()
            .map(|h| format!("restored-{}", &h[..12]))
            .unwrap_or_else(|| "etcd-cluster".into())
    });
    let tool = find_tool(&args, session).await;
    let tag = format!("r{}", info.revision);
    let template = args.new_data_dir.clone().unwrap_or_else(|| {
        format!(
            "{}.restored-{tag}",
            args.data_dir.as_deref().unwrap_or("/var/lib/etcd")
        )
    });
    let snapshot_arg = std::fs::canonicalize(&path)
        .unwrap_or(path.clone())
        .display()
        .to_string();
    let source = restore::Source {
        path: &snapshot_arg,
        revision: info.revision,
        consistent_index: info.consistent_index,
    };
    let mut plan = restore::plan(
        source,
        &members,
        &token,
        &template,
        &tool,
        args.bump_revision,
    )
    .map_err(Error::usage)?;
    if info.integrity == Integrity::NoHash {
        for m in &mut plan.members {
            m.argv.push("--skip-hash-check".into());
            m.shell.push_str(" --skip-hash-check");
        }
    }
    for w in &plan.warnings {
        session.shell.warn(w);
    }
    let counts: Vec<Count> = inspect
        .types
        .iter()
        .map(|p| Count {
            r#type: p.r#type.clone(),
            snapshot: p.keys,
            live: None,
        })
        .collect();

    let mut report = Report {
        snapshot: info,
        plan,
        local: None,
        dry_run: args.dry_run,
        started_pid: None,
        after: None,
        counts,
    };
    if !args.local {
        session.shell.note(format!(
            "run each command on its member's node (the old data dirs stay untouched), then \
             start every member with its new --data-dir; the restored cluster starts at \
             revision {} or later",
            report.plan.expected_revision
        ));
        return session.shell.emit(format, &report, |r| {
            vec![plan_table(&r.plan), counts_table(&r.counts)]
        });
    }

    // 3. This node.
    let node = inspect_node(&args, &members, &tag)?;
    let name = node_name(&args, &node, &members)?;
    let argv = report
        .plan
        .members
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.argv.clone())
        .ok_or_else(|| Error::usage(format!("`{name}` is not one of the members to restore")))?;
    let local = local_plan(&node, &argv, &|p: &Path| p.exists()).map_err(|e| {
        Error::new(Kind::Refused, e).with_hint("inspect the files named, then run again")
    })?;
    session
        .shell
        .note(format!("restore on this node, member `{name}`:"));
    for (i, s) in local.steps.iter().enumerate() {
        session.shell.note(format!(
            "  {}. {}{}",
            i + 1,
            s.step.describe(),
            if s.done { "  (done)" } else { "" }
        ));
    }
    if args.dry_run {
        report.local = Some(local);
        return session.shell.emit(format, &report, |r| {
            vec![
                local_table(r.local.as_ref().expect("set above"), true),
                counts_table(&r.counts),
            ]
        });
    }
    let total = local.steps.len();
    let mut undo = Vec::new();
    for (i, s) in local.steps.iter().enumerate() {
        if s.done {
            continue;
        }
        session
            .shell
            .note(format!("step {}/{total}: {}", i + 1, s.step.describe()));
        if let Some(u) = &s.undo {
            session.shell.note(format!("  undo: {u}"));
        }
        session
            .prompt()
            .confirm(&format!("step {}: {}", i + 1, short(&s.step)))?;
        let result = crate::ops::node::run(&s.step, args.wait, &args.root).await;
        match result {
            Ok(pid) => {
                if pid.is_some() {
                    report.started_pid = pid;
                }
                session.shell.note("  done");
                if let Some(u) = &s.undo {
                    undo.push(u.clone());
                }
            }
            Err(e) => {
                let mut hint = String::from(
                    "fix the cause and run the same command again: done steps are skipped",
                );
                if !undo.is_empty() {
                    undo.reverse();
                    hint.push_str(&format!("; to go back instead, run: {}", undo.join(" && ")));
                }
                return Err(e.context(format!("step {}", i + 1)).with_hint(hint));
            }
        }
    }
    report.local = Some(local);

    // 4. After: health, status, counts.
    if !session.global.endpoints.is_empty() {
        let after = wait_after(session, args.wait, &mut report.counts).await?;
        let expected = report.plan.expected_revision;
        session.shell.note(format!(
            "restored: revision {} (snapshot {}, at least {expected} expected)",
            after.revision, report.plan.snapshot_revision
        ));
        report.after = Some(after);
    }
    session.shell.emit(format, &report, |r| {
        let mut tables = vec![
            local_table(r.local.as_ref().expect("set above"), false),
            counts_table(&r.counts),
        ];
        if let Some(a) = &r.after {
            tables.push(after_table(a));
        }
        tables
    })
}

fn after_table(a: &After) -> Table {
    let mut t = Table::new(&["member id", "version", "revision", "raft index", "leader"])
        .right_align(&[2, 3]);
    for s in &a.members {
        t.row([
            etcd::format_id(s.member_id),
            s.version.clone(),
            s.revision.to_string(),
            s.raft_index.to_string(),
            if s.leader == s.member_id {
                "yes".to_string()
            } else {
                etcd::format_id(s.leader)
            },
        ]);
    }
    t.title(format!(
        "after the restore: {} at revision {}",
        if a.healthy { "healthy" } else { "not healthy" },
        a.revision
    ))
}

async fn take_snapshot(args: &Args, session: &mut Session) -> Result<PathBuf> {
    if session.global.endpoints.is_empty() {
        return Err(
            Error::usage("no --snapshot given and no --endpoints to take one from")
                .with_hint("pass --snapshot FILE, or --endpoints to take one now"),
        );
    }
    let file = args.save_to.clone().unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        PathBuf::from(format!("etcd-snapshot-{now}.db"))
    });
    let info = snapshot::save_cmd(
        SaveArgs {
            file: file.clone(),
            member: None,
            overwrite: false,
        },
        true,
        session,
    )
    .await?;
    session.shell.note(format!(
        "saved `{}` from `{}`",
        file.display(),
        info.member.unwrap_or_default()
    ));
    Ok(file)
}

async fn live_members(session: &mut Session) -> Result<Vec<TargetMember>> {
    if session.global.endpoints.is_empty() {
        return Err(
            Error::usage("no --member given and no --endpoints to list them from")
                .with_hint("pass --member NAME=PEER_URL for every member of the restored cluster"),
        );
    }
    let cluster = session.cluster().await?;
    let client = cluster.connect_any().await?;
    let list = etcd::member_list(&client).await?;
    let learners: Vec<_> = list.iter().filter(|m| m.is_learner).collect();
    for l in learners {
        session.shell.warn(format!(
            "learner `{}` is left out: add it again with `resize add` after the restore",
            l.name
        ));
    }
    Ok(list
        .into_iter()
        .filter(|m| !m.is_learner && m.started())
        .map(|m| TargetMember {
            name: m.name,
            peer_urls: m.peer_urls,
        })
        .collect())
}

/// etcdutl (flag, then PATH), else etcdctl (flag, then PATH); whether it
/// bumps is read from its own help.
async fn find_tool(args: &Args, session: &mut Session) -> Tool {
    let candidates: Vec<(&str, PathBuf)> = [
        args.etcdutl.clone().map(|p| ("etcdutl", p)),
        args.etcdctl.clone().map(|p| ("etcdctl", p)),
        on_path("etcdutl").map(|p| ("etcdutl", p)),
        on_path("etcdctl").map(|p| ("etcdctl", p)),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (kind, path) in candidates {
        let out = tokio::process::Command::new(&path)
            .args(["snapshot", "restore", "--help"])
            .env("ETCDCTL_API", "3")
            .output()
            .await;
        match out {
            Ok(o) => {
                let help = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                return Tool {
                    kind: kind.into(),
                    path: path.display().to_string(),
                    can_bump: help.contains("--bump-revision"),
                };
            }
            Err(e) => session
                .shell
                .warn(format!("cannot run `{}`: {e}", path.display())),
        }
    }
    session.shell.warn(
        "neither etcdutl nor etcdctl found here: the commands assume etcdutl 3.5+ on the nodes",
    );
    Tool {
        kind: "etcdutl".into(),
        path: "etcdutl".into(),
        can_bump: true,
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

fn inspect_node(args: &Args, members: &[TargetMember], tag: &str) -> Result<Node> {
    let _ = members;
    let manifest_node = args.manifest_dir.join("etcd.yaml");
    let manifest_real = restore::rooted(&args.root, &manifest_node);
    let aside_real = restore::rooted(
        &args.root,
        &args
            .manifest_dir
            .parent()
            .unwrap_or(Path::new("/"))
            .join(format!("etcd.yaml.before-restore-{tag}")),
    );
    let manifest_text = std::fs::read_to_string(&manifest_real)
        .or_else(|_| std::fs::read_to_string(&aside_real))
        .ok();
    let manifest = manifest_text.as_ref().map(|_| manifest_node);
    let process = match args.pid {
        None => None,
        Some(pid) => crate::ops::node::cmdline(pid).map(|argv| (pid, argv)),
    };
    if args.pid.is_some() && process.is_none() {
        return Err(Error::new(
            Kind::NotFound,
            format!("no process {}", args.pid.unwrap_or_default()),
        )
        .with_hint("pass the pid of the running etcd, or leave --pid out"));
    }
    if manifest.is_none() && process.is_none() && args.service.is_none() {
        return Err(Error::usage(format!(
            "nothing to stop: no manifest at `{}`, no --pid and no --service",
            manifest_real.display()
        ))
        .with_hint(
            "point --manifest-dir at the static pod manifests, or pass --pid or --service",
        ));
    }
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| {
            manifest_text
                .as_deref()
                .and_then(restore::manifest_data_dir)
        })
        .or_else(|| {
            let d = restore::data_dir_arg(&process.as_ref()?.1)?;
            // A process outside the fake root sees real paths.
            let root = args.root.display().to_string();
            Some(match d.strip_prefix(root.trim_end_matches('/')) {
                Some(rest) if args.root != Path::new("/") => rest.to_string(),
                _ => d,
            })
        })
        .unwrap_or_else(|| "/var/lib/etcd".into());
    // A re-run after the restore finds the manifest on the restored dir.
    let suffix = format!(".restored-{tag}");
    let data_dir = PathBuf::from(data_dir.strip_suffix(&suffix).unwrap_or(&data_dir));
    Ok(Node {
        data_dir_exists: restore::rooted(&args.root, &data_dir).exists(),
        root: args.root.clone(),
        manifest,
        manifest_text,
        process,
        service: args.service.clone(),
        data_dir,
        tag: tag.to_string(),
    })
}

fn node_name(args: &Args, node: &Node, members: &[TargetMember]) -> Result<String> {
    if let Some(n) = &args.name {
        return Ok(n.clone());
    }
    if let Some(n) = node
        .manifest_text
        .as_deref()
        .and_then(restore::manifest_name)
    {
        return Ok(n);
    }
    if let Some(n) = node
        .process
        .as_ref()
        .and_then(|(_, a)| restore::name_arg(a))
    {
        return Ok(n);
    }
    match members {
        [one] => Ok(one.name.clone()),
        _ => Err(Error::usage("which member is this node?")
            .with_hint("pass --name NAME (one of the --member names)")),
    }
}

fn short(step: &LocalStep) -> String {
    match step {
        LocalStep::MoveManifestAside { .. } => "stop etcd (move its manifest aside)".into(),
        LocalStep::StopProcess { pid } => format!("stop etcd process {pid}"),
        LocalStep::StopService { name } => format!("stop {name}"),
        LocalStep::WaitStopped { .. } => "wait for etcd to stop".into(),
        LocalStep::MoveDataAside { .. } => "move the old data dir aside".into(),
        LocalStep::Restore { .. } => "restore the snapshot into the new data dir".into(),
        LocalStep::RewriteManifest { .. } => "point the manifest at the new data dir".into(),
        LocalStep::StartManifest { .. } => "start etcd (put the manifest back)".into(),
        LocalStep::StartProcess { .. } => "start etcd on the new data dir".into(),
        LocalStep::StartService { name } => format!("start {name}"),
    }
}

/// Wait for the restored cluster to be healthy, then read its status and
/// count keys per type next to the snapshot's.
async fn wait_after(session: &mut Session, wait: Duration, counts: &mut [Count]) -> Result<After> {
    let cluster = session.cluster().await?;
    let prefix = session.global.prefix.clone();
    session.shell.note(format!(
        "waiting up to {} for etcd to be healthy...",
        humantime::format_duration(wait)
    ));
    let deadline = Instant::now() + wait;
    let client = loop {
        let err = match cluster.connect_any().await {
            Ok(c) => match etcd::health_check(&c).await {
                Ok(_) => break c,
                Err(e) => e.into(),
            },
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(err.context("the restored member is not healthy").with_hint(
                "check its log; the old data dir is kept aside (see the undo lines above)",
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let survey = Survey::take(&cluster.targets, &cluster.settings).await;
    let members: Vec<etcd::Status> = survey.statuses().cloned().collect();
    let mut live: BTreeMap<String, u64> = BTreeMap::new();
    let summary = scan(
        &etcd::Readers::single(client.clone()),
        &prefix,
        b"\0",
        &[0],
        ScanOptions::keys_only(),
        |page| {
            match page {
                Page::Keys(kvs) => {
                    for kv in kvs {
                        *live.entry(snap::type_of(kv.key(), &prefix).0).or_default() += 1;
                    }
                }
                Page::Restart { .. } => live.clear(),
                // Only listings resume.
                Page::Resumed { .. } => {}
            }
            Ok(())
        },
    )
    .await?;
    for c in counts.iter_mut() {
        c.live = Some(live.remove(&c.r#type).unwrap_or(0));
    }
    Ok(After {
        healthy: true,
        revision: summary.revision,
        members,
    })
}

pub fn plan_table(plan: &Plan) -> Table {
    let mut t = Table::new(&["member", "data dir", "restore command"]);
    for m in &plan.members {
        t.row([m.name.clone(), m.data_dir.clone(), m.shell.clone()]);
    }
    t.title(format!(
        "restore of revision {} with {} ({}), token {}",
        plan.snapshot_revision,
        plan.tool.kind,
        if plan.bump > 0 {
            format!(
                "revision bumped by {} to {}",
                plan.bump, plan.expected_revision
            )
        } else {
            "no revision bump".to_string()
        },
        plan.initial_cluster_token
    ))
}

fn local_table(plan: &LocalPlan, dry_run: bool) -> Table {
    let mut t = Table::new(&["step", "action", "status", "undo"]);
    for (i, s) in plan.steps.iter().enumerate() {
        t.marked_row(vec![
            ((i + 1).to_string(), Mark::Plain),
            (short(&s.step), Mark::Plain),
            if s.done {
                ("done before".into(), Mark::Plain)
            } else if dry_run {
                ("pending".into(), Mark::Plain)
            } else {
                ("done".into(), Mark::Good)
            },
            (s.undo.clone().unwrap_or_else(|| "-".into()), Mark::Plain),
        ]);
    }
    t.title(format!(
        "restore into {} (the old data dir is kept as {})",
        plan.new_data_dir.display(),
        plan.old_data_aside.display()
    ))
}

fn counts_table(counts: &[Count]) -> Table {
    let mut t = Table::new(&["type", "snapshot keys", "live keys"]).right_align(&[1, 2]);
    for c in counts {
        let mark = match c.live {
            Some(l) if l != c.snapshot => Mark::Warn,
            _ => Mark::Plain,
        };
        t.marked_row(vec![
            (c.r#type.clone(), Mark::Plain),
            (c.snapshot.to_string(), Mark::Plain),
            (
                c.live.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
                mark,
            ),
        ]);
    }
    t
}
