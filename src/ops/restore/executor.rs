//! The restore executor: what is on this node (manifest, process, data
//! dir), the node-local steps carried out one by one (each confirmed, its
//! undo shown), and the check of the restored cluster afterwards.
//!
//! Ctrl-C never leaves a step half-done on purpose: a step under way is
//! finished (a second Ctrl-C abandons it; a restore abandoned so is killed
//! and its partial data dir moved aside), then the run stops, naming the
//! steps done and left and the commands that undo the done ones (exit 130).
//! A re-run skips what the node shows done; a plain process's command line
//! is recorded next to the data dir before the first change
//! ([`crate::ops::journal`]), so the same `--pid` still finds it after the
//! process has stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{LocalPlan, LocalStep, Node, Plan, TargetMember, Tool};
use crate::context::Cluster;
use crate::dbfile as snap;
use crate::etcd::{self, Survey};
use crate::keyspace::scan::{scan, Page, ScanOptions};
use crate::ops::error::{ManifestPart, Progress};
use crate::ops::journal;
use crate::ops::restore;
use crate::ops::{Error, Interrupt, Operator, Result};

/// How to find and handle this node's etcd.
#[derive(Debug, Clone)]
pub struct NodeArgs {
    /// The member's current data dir, when the operator gave it.
    pub data_dir: Option<String>,
    /// This node's member name, when the operator gave it.
    pub name: Option<String>,
    /// Static pod manifest dir (node path).
    pub manifest_dir: PathBuf,
    /// A plain etcd process to stop and start again.
    pub pid: Option<u32>,
    /// A systemd unit to stop and start.
    pub service: Option<String>,
    /// Prefix of every node path.
    pub root: PathBuf,
    /// How long to wait for etcd to stop, and to be healthy again.
    pub wait: Duration,
}

/// This node's part of `plan`: which member it is, and its steps as the
/// node shows them (done ones marked). Reads only.
pub fn prepare_local(
    node_args: &NodeArgs,
    plan: &Plan,
    members: &[TargetMember],
    tag: &str,
) -> Result<(String, LocalPlan)> {
    let node = inspect_node(node_args, tag)?;
    let name = node_name(node_args, &node, members)?;
    let argv = plan
        .members
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.argv.clone())
        .ok_or_else(|| Error::NotARestoredMember { name: name.clone() })?;
    let local = restore::local_plan(&node, &argv, &|p: &Path| p.exists())?;
    Ok((name, local))
}

/// Carry out the pending steps of `local`, each confirmed. `Ok` with the
/// pid of an etcd process it started, if any.
pub async fn run_local(
    local: &LocalPlan,
    node: &NodeArgs,
    interrupt: &Interrupt,
    op: &mut dyn Operator,
) -> Result<Option<u32>> {
    let total = local.steps.len();
    let mut undo: Vec<String> = Vec::new();
    let mut started = None;
    let label = |i: usize, s: &LocalStep| format!("{}. {}", i + 1, short(s));
    let with_data_dir = match local
        .journal
        .as_ref()
        .and_then(|j| j.data_dir_flag.as_ref())
    {
        Some(d) => format!(" with `--data-dir {}`", d.display()),
        None => String::new(),
    };
    let mut recorded = false;
    for (i, s) in local.steps.iter().enumerate() {
        if s.done {
            continue;
        }
        let stopped = |why: &str, undo: &[String]| {
            let done: Vec<String> = local.steps[..i]
                .iter()
                .enumerate()
                .map(|(j, s)| label(j, &s.step))
                .collect();
            let left: Vec<String> = local.steps[i..]
                .iter()
                .enumerate()
                .map(|(j, s)| label(i + j, &s.step))
                .collect();
            Error::interrupted_with(
                format!("interrupted (Ctrl-C) {why}"),
                Progress {
                    done,
                    left,
                    unit: "steps done",
                },
            )
            .resume(format!(
                "run the same command again{}: done steps are skipped{}",
                with_data_dir,
                go_back(undo)
            ))
        };
        if interrupt.fired() {
            return Err(stopped(&format!("before step {}", i + 1), &undo));
        }
        op.note(&format!("step {}/{total}: {}", i + 1, s.step.describe()));
        if let Some(u) = &s.undo {
            op.note(&format!("  undo: {u}"));
        }
        match op.confirm(&format!("step {}: {}", i + 1, short(&s.step))) {
            Err(e) if e.is_interrupted() => {
                return Err(stopped(
                    &format!("at the question for step {}", i + 1),
                    &undo,
                ));
            }
            other => other?,
        }
        // Before the first change: what a re-run needs once the process
        // is gone.
        if let Some(j) = local.journal.as_ref().filter(|_| !recorded) {
            journal::save(&j.path, &j.process)?;
            recorded = true;
        }
        let what = format!("step {} ({})", i + 1, short(&s.step));
        let run = execute(&s.step, node);
        let result = if matches!(s.step, LocalStep::WaitStopped { .. }) {
            // Only a wait: nothing to finish.
            match interrupt.unless(run).await {
                Some(r) => r,
                None => return Err(stopped(&format!("during step {}", i + 1), &undo)),
            }
        } else {
            match interrupt.finish(run, &what, &mut |l| op.note(l)).await {
                Ok(r) => r,
                Err(()) => {
                    let mut why = format!("during step {}, which was abandoned", i + 1);
                    if let Some(dir) = restore_target(&s.step) {
                        why.push_str(&set_aside(&dir));
                    }
                    return Err(stopped(&why, &undo));
                }
            }
        };
        match result {
            Ok(pid) => {
                if pid.is_some() {
                    started = pid;
                }
                op.note("  done");
                if let Some(u) = &s.undo {
                    undo.push(u.clone());
                }
            }
            Err(e) => {
                return Err(Error::LocalStepFailed {
                    step: i + 1,
                    undo,
                    source: Box::new(e),
                });
            }
        }
    }
    if interrupt.fired() {
        return Err(Error::interrupted(
            "interrupted (Ctrl-C) after the last step: this node is restored; its health \
             was not checked",
        )
        .resume("check it with `kubectl etcd status`"));
    }
    Ok(started)
}

/// "; to go back instead, run: UNDO2 && UNDO1" for the steps done (in
/// the order they were done); empty when none was.
pub fn go_back(undo: &[String]) -> String {
    if undo.is_empty() {
        String::new()
    } else {
        let mut u = undo.to_vec();
        u.reverse();
        format!("; to go back instead, run: {}", u.join(" && "))
    }
}

/// The data dir a restore step writes (real path).
fn restore_target(step: &LocalStep) -> Option<PathBuf> {
    match step {
        LocalStep::Restore { argv } => argv
            .iter()
            .find_map(|a| a.strip_prefix("--data-dir="))
            .map(PathBuf::from),
        _ => None,
    }
}

/// Move a half-written data dir out of the way, so a re-run restores again.
fn set_aside(dir: &Path) -> String {
    if !dir.exists() {
        return String::new();
    }
    let mut failed = dir.as_os_str().to_owned();
    failed.push(".failed");
    let failed = PathBuf::from(failed);
    match std::fs::rename(dir, &failed) {
        Ok(()) => format!(
            " (its partial data dir was moved to `{}`)",
            failed.display()
        ),
        Err(e) => format!(
            " (its partial data dir `{}` could not be moved aside: {e}; move it before \
             running again)",
            dir.display()
        ),
    }
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

/// The voting members of the live cluster, to restore into (learners are
/// left out, with a warning). `cluster` is `None` without --endpoints.
pub async fn live_members(
    cluster: Option<&Cluster>,
    op: &mut dyn Operator,
) -> Result<Vec<TargetMember>> {
    let Some(cluster) = cluster else {
        return Err(Error::NoMembersGiven);
    };
    let client = cluster.connect_any().await?;
    let list = etcd::member_list(&client).await?;
    let learners: Vec<_> = list.iter().filter(|m| m.is_learner).collect();
    for l in learners {
        op.warn(&format!(
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
pub async fn find_tool(
    etcdutl: Option<PathBuf>,
    etcdctl: Option<PathBuf>,
    op: &mut dyn Operator,
) -> Tool {
    let candidates: Vec<(&str, PathBuf)> = [
        etcdutl.map(|p| ("etcdutl", p)),
        etcdctl.map(|p| ("etcdctl", p)),
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
            Err(e) => op.warn(&format!("cannot run `{}`: {e}", path.display())),
        }
    }
    op.warn(
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

/// What is on this node: the manifest (or the aside copy a previous run
/// left), the process, the data dir. Reads only.
pub fn inspect_node(args: &NodeArgs, tag: &str) -> Result<Node> {
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
    let running = args.pid.and_then(cmdline);
    let from_manifest = args.data_dir.clone().or_else(|| {
        manifest_text
            .as_deref()
            .and_then(restore::manifest_data_dir)
    });
    let from_process = || {
        let d = restore::data_dir_arg(running.as_ref()?)?;
        // A process outside the fake root sees real paths.
        let root = args.root.display().to_string();
        Some(match d.strip_prefix(root.trim_end_matches('/')) {
            Some(rest) if args.root != Path::new("/") => rest.to_string(),
            _ => d,
        })
    };
    let data_dir_from_process = from_manifest.is_none() && from_process().is_some();
    let data_dir = from_manifest
        .or_else(from_process)
        .unwrap_or_else(|| "/var/lib/etcd".into());
    // A re-run after the restore finds the manifest on the restored dir.
    let suffix = format!(".restored-{tag}");
    let data_dir = PathBuf::from(data_dir.strip_suffix(&suffix).unwrap_or(&data_dir));
    // A process a previous run stopped is found in what that run recorded.
    let process = match args.pid {
        None => None,
        Some(pid) => {
            let recorded = match running {
                Some(_) => None,
                None => journal::load(&restore::process_journal_path(&args.root, &data_dir, tag))?,
            };
            let p = journal::Process::find(pid, running, recorded).ok_or(Error::NoProcess {
                pid,
                survivor: false,
            })?;
            Some((p.pid, p.argv))
        }
    };
    if manifest.is_none() && process.is_none() && args.service.is_none() {
        return Err(Error::NothingToStop {
            manifest: manifest_real,
        });
    }
    Ok(Node {
        data_dir_exists: restore::rooted(&args.root, &data_dir).exists(),
        data_dir_from_process,
        root: args.root.clone(),
        manifest,
        manifest_text,
        process,
        service: args.service.clone(),
        data_dir,
        tag: tag.to_string(),
    })
}

/// This node's member: --name, else the manifest's or the process's.
pub fn node_name(args: &NodeArgs, node: &Node, members: &[TargetMember]) -> Result<String> {
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
        _ => Err(Error::WhichMember),
    }
}

/// A step in a few words, for questions and tables.
pub fn short(step: &LocalStep) -> String {
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

/// Run one step; `Some(pid)` when it started a process.
pub async fn execute(step: &LocalStep, args: &NodeArgs) -> Result<Option<u32>> {
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|e| {
            Error::io(
                format!("moving `{}` to `{}`", from.display(), to.display()),
                e,
            )
        })
    };
    match step {
        LocalStep::MoveManifestAside { from, to } | LocalStep::StartManifest { from, to } => {
            rename(from, to)?
        }
        LocalStep::MoveDataAside { from, to } => rename(from, to)?,
        LocalStep::StopProcess { pid } => stop_process(*pid, args.wait).await?,
        LocalStep::StopService { name } => systemctl("stop", name).await?,
        LocalStep::StartService { name } => systemctl("start", name).await?,
        LocalStep::WaitStopped { data_dir } => {
            let deadline = Instant::now() + args.wait;
            while let Some(pid) = etcd_on(data_dir, &args.root) {
                if Instant::now() >= deadline {
                    return Err(Error::StillRunning {
                        pid,
                        data_dir: data_dir.clone(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        LocalStep::Restore { argv } => {
            // Its own process group: a Ctrl-C at the terminal reaches us,
            // not the restore half-way; dropped (a second Ctrl-C), it is
            // killed rather than left writing.
            let out = tokio::process::Command::new(&argv[0])
                .args(&argv[1..])
                .env("ETCDCTL_API", "3")
                .stdin(std::process::Stdio::null())
                .process_group(0)
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|e| Error::io(format!("running `{}`", argv[0]), e))?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                let tail: Vec<&str> = err.lines().rev().take(5).collect();
                return Err(Error::CommandFailed {
                    command: format!("{} snapshot restore", argv[0]),
                    status: out.status,
                    detail: Some(tail.into_iter().rev().collect::<Vec<_>>().join(" | ")),
                });
            }
        }
        LocalStep::RewriteManifest {
            from,
            to,
            old_data_dir,
            new_data_dir,
        } => {
            let text = std::fs::read_to_string(from)
                .map_err(|e| Error::io(format!("reading `{}`", from.display()), e))?;
            let (new, changed) = restore::rewrite_manifest(&text, old_data_dir, new_data_dir);
            if changed == 0 {
                return Err(Error::ManifestLacks {
                    path: from.clone(),
                    what: ManifestPart::DataDir(old_data_dir.clone()),
                });
            }
            let part = crate::ops::snapshot_save::part_path(to);
            std::fs::write(&part, new)
                .and_then(|_| std::fs::rename(&part, to))
                .map_err(|e| Error::io(format!("writing `{}`", to.display()), e))?;
        }
        LocalStep::StartProcess { argv, log } => {
            use std::os::unix::process::CommandExt;
            let file = std::fs::File::create(log)
                .map_err(|e| Error::io(format!("creating `{}`", log.display()), e))?;
            let mut cmd = std::process::Command::new(&argv[0]);
            cmd.args(&argv[1..])
                .stdin(std::process::Stdio::null())
                .stdout(
                    file.try_clone()
                        .map_err(|e| Error::io(format!("opening `{}`", log.display()), e))?,
                )
                .stderr(file)
                .process_group(0);
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("ETCD") {
                    cmd.env_remove(k);
                }
            }
            let child = cmd
                .spawn()
                .map_err(|e| Error::io(format!("starting `{}`", argv[0]), e))?;
            return Ok(Some(child.id()));
        }
    }
    Ok(None)
}

async fn systemctl(verb: &str, unit: &str) -> Result<()> {
    let status = tokio::process::Command::new("systemctl")
        .args([verb, unit])
        .status()
        .await
        .map_err(|e| Error::io("running systemctl", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::CommandFailed {
            command: format!("systemctl {verb} {unit}"),
            status,
            detail: None,
        })
    }
}

/// Whether `pid` still runs (a zombie has exited).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

pub async fn stop_process(pid: u32, wait: Duration) -> Result<()> {
    if !alive(pid) {
        return Ok(());
    }
    let signal = |sig: &'static str| async move {
        tokio::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .await
    };
    signal("-TERM")
        .await
        .map_err(|e| Error::io("running kill", e))?;
    let deadline = Instant::now() + wait;
    while alive(pid) {
        if Instant::now() >= deadline {
            let _ = signal("-KILL").await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if alive(pid) {
        return Err(Error::WontStop { pid });
    }
    Ok(())
}

/// The command line of process `pid`, when it runs.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(raw) if !raw.is_empty() => Some(
            raw.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
        ),
        _ => None,
    }
}

/// A live process running etcd with `--data-dir` equal to `data_dir` (its
/// real path, or the node path under --root).
pub fn etcd_on(data_dir: &Path, root: &Path) -> Option<u32> {
    let real = data_dir.display().to_string();
    let node = match data_dir.strip_prefix(root) {
        Ok(rel) if root != Path::new("/") => format!("/{}", rel.display()),
        _ => real.clone(),
    };
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // This process may name the data dir too (`recover --data-dir`).
        if pid == std::process::id() {
            continue;
        }
        let Some(args) = cmdline(pid) else {
            continue;
        };
        if restore::data_dir_arg(&args).is_some_and(|d| d == real || d == node) && alive(pid) {
            return Some(pid);
        }
    }
    None
}

/// [`wait_after`] until done or interrupted; an interrupt says that every
/// step is done and only the health check was left.
pub async fn after(
    cluster: &Cluster,
    prefix: &str,
    wait: Duration,
    counts: &mut [Count],
    interrupt: &Interrupt,
    op: &mut dyn Operator,
) -> Result<After> {
    let waiting = wait_after(cluster, prefix, wait, counts, op);
    interrupt.unless(waiting).await.ok_or_else(|| {
        Error::interrupted(
            "interrupted (Ctrl-C) while waiting for the restored member: every step is done; \
             its health was not checked",
        )
        .resume("check it with `kubectl etcd status`")
    })?
}

/// Wait for the restored cluster to be healthy, then read its status and
/// count keys per type next to the snapshot's.
pub async fn wait_after(
    cluster: &Cluster,
    prefix: &str,
    wait: Duration,
    counts: &mut [Count],
    op: &mut dyn Operator,
) -> Result<After> {
    op.note(&format!(
        "waiting up to {} for etcd to be healthy...",
        humantime::format_duration(wait)
    ));
    let deadline = Instant::now() + wait;
    let client = loop {
        let err = match cluster.connect_any().await {
            Ok(c) => match etcd::health_check(&c).await {
                Ok(_) => break c,
                Err(e) => Error::from(e),
            },
            Err(e) => Error::from(e),
        };
        if Instant::now() >= deadline {
            return Err(Error::RestoredUnhealthy {
                source: Box::new(err),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let survey = Survey::take(&cluster.targets, &cluster.settings).await;
    let members: Vec<etcd::Status> = survey.statuses().cloned().collect();
    let mut live: BTreeMap<String, u64> = BTreeMap::new();
    let summary = scan(
        &etcd::Readers::single(client.clone()),
        prefix,
        b"\0",
        &[0],
        ScanOptions::keys_only(),
        |page| {
            match page {
                Page::Keys(kvs) => {
                    for kv in kvs {
                        *live.entry(snap::type_of(kv.key(), prefix).0).or_default() += 1;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::restore::PlannedLocal;
    use crate::ops::Recorded;

    /// Fires Ctrl-C when asked to confirm the first step.
    struct CtrlCAtFirst {
        log: Recorded,
        interrupt: Interrupt,
    }

    impl Operator for CtrlCAtFirst {
        fn note(&mut self, line: &str) {
            self.log.note(line)
        }
        fn warn(&mut self, line: &str) {
            self.log.warn(line)
        }
        fn verbose(&mut self, line: &str) {
            self.log.verbose(line)
        }
        fn keep(&mut self, text: &str) {
            self.log.keep(text)
        }
        fn confirm(&mut self, action: &str) -> Result<()> {
            if self.log.asked.is_empty() {
                self.interrupt.fire();
            }
            self.log.confirm(action)
        }
    }

    fn plan_of(dir: &Path) -> LocalPlan {
        let step = |step: LocalStep| PlannedLocal {
            undo: step.undo(),
            step,
            done: false,
        };
        LocalPlan {
            data_dir: dir.join("data"),
            new_data_dir: dir.join("data.restored"),
            old_data_aside: dir.join("data.aside"),
            steps: vec![
                step(LocalStep::MoveManifestAside {
                    from: dir.join("etcd.yaml"),
                    to: dir.join("etcd.yaml.aside"),
                }),
                step(LocalStep::MoveDataAside {
                    from: dir.join("data"),
                    to: dir.join("data.aside"),
                }),
            ],
            journal: None,
        }
    }

    fn node_of(dir: &Path) -> NodeArgs {
        NodeArgs {
            data_dir: None,
            name: None,
            manifest_dir: dir.to_path_buf(),
            pid: None,
            service: None,
            root: dir.to_path_buf(),
            wait: Duration::from_secs(1),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ctrl_c_finishes_the_step_then_stops_naming_done_left_and_undo() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("etcd.yaml"), "kind: Pod\n").unwrap();
        std::fs::create_dir(dir.join("data")).unwrap();
        let interrupt = Interrupt::never();
        let mut op = CtrlCAtFirst {
            log: Recorded::default(),
            interrupt: interrupt.clone(),
        };
        let e = run_local(&plan_of(dir), &node_of(dir), &interrupt, &mut op)
            .await
            .unwrap_err();
        assert!(e.is_interrupted(), "{e}");
        let e = crate::error::Error::from(e);
        assert!(
            e.message.contains(
                "before step 2: 1 of 2 steps done (1. stop etcd (move its manifest aside)); \
                 left: 2. move the old data dir aside"
            ),
            "{e}"
        );
        let hint = e.hint.unwrap();
        assert!(hint.contains("to go back instead, run: mv "), "{hint}");
        // Step 1 was finished, step 2 never started.
        assert!(dir.join("etcd.yaml.aside").is_file());
        assert!(dir.join("data").is_dir());
        assert_eq!(op.log.asked.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_process_is_recorded_before_the_first_change_and_found_again_once_stopped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("etcd.yaml"), "kind: Pod\n").unwrap();
        std::fs::create_dir(dir.join("data")).unwrap();
        std::fs::create_dir_all(dir.join("srv/etcd")).unwrap();
        // No process has this pid.
        let gone = u32::MAX - 1;
        let argv = vec!["etcd".to_string(), "--data-dir=/srv/etcd".into()];
        let mut plan = plan_of(dir);
        plan.journal = Some(restore::ProcessJournal {
            path: restore::process_journal_path(dir, Path::new("/srv/etcd"), "r9"),
            process: journal::Process {
                pid: gone,
                argv: argv.clone(),
            },
            data_dir_flag: Some(PathBuf::from("/srv/etcd")),
        });
        let interrupt = Interrupt::never();
        let mut op = CtrlCAtFirst {
            log: Recorded::default(),
            interrupt: interrupt.clone(),
        };
        let e = run_local(&plan, &node_of(dir), &interrupt, &mut op)
            .await
            .unwrap_err();
        // Only the process named the data dir: the re-run must name it.
        let hint = crate::error::Error::from(e).hint.unwrap();
        assert!(
            hint.starts_with("run the same command again with `--data-dir /srv/etcd`"),
            "{hint}"
        );
        // The re-run with --pid and --data-dir finds the stopped process.
        let args = NodeArgs {
            pid: Some(gone),
            data_dir: Some("/srv/etcd".into()),
            manifest_dir: dir.join("none"),
            ..node_of(dir)
        };
        let node = inspect_node(&args, "r9").unwrap();
        assert_eq!(node.process, Some((gone, argv)));
        // Another restore (tag) recorded nothing for it.
        let e = inspect_node(&args, "r10").unwrap_err();
        assert!(
            matches!(e, Error::NoProcess { pid, .. } if pid == gone),
            "{e}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_question_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("etcd.yaml"), "kind: Pod\n").unwrap();
        let mut op = Recorded {
            refuse: true,
            ..Recorded::default()
        };
        let e = run_local(&plan_of(dir), &node_of(dir), &Interrupt::never(), &mut op)
            .await
            .unwrap_err();
        assert!(e.is_refusal(), "{e}");
        assert!(dir.join("etcd.yaml").is_file());
    }
}
