//! Restoring a cluster from a snapshot, as plans: the exact restore command
//! for every member (with a revision bump where the tool supports it), and
//! the node-local steps (stop, move the old data aside, restore, point the
//! manifest at the new data dir, start), each with its undo.
//!
//! Pure: plans are built from values (the snapshot's facts, the members, the
//! tool's capabilities, the node's files as text); rewriting a manifest is a
//! text transformation. Nothing here runs a process, touches a file or
//! prints.

pub mod executor;
pub mod source;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::ops::journal;

/// Default revision bump: far above anything a client could have seen.
pub const DEFAULT_BUMP: u64 = 1_000_000_000;

/// A member of the restored cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetMember {
    pub name: String,
    #[serde(rename = "peerURLs")]
    pub peer_urls: Vec<String>,
}

/// Parse `NAME=PEER_URL`.
pub fn parse_member(s: &str) -> Result<TargetMember, String> {
    match s.split_once('=') {
        Some((name, url)) if !name.is_empty() && url.contains("://") => Ok(TargetMember {
            name: name.to_string(),
            peer_urls: url.split(',').map(str::to_string).collect(),
        }),
        _ => Err(format!(
            "`{s}` is not NAME=PEER_URL like etcd-0=https://10.0.0.1:2380"
        )),
    }
}

/// The restore tool found, and whether it can bump the revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// `etcdutl` or `etcdctl`.
    pub kind: String,
    pub path: String,
    pub can_bump: bool,
}

/// How much to bump the revision by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BumpSpec {
    None,
    Fixed(u64),
    /// The snapshot's raft (consistent) index x 1.2, as OpenShift does.
    RaftIndex,
}

/// Parse `--bump-revision`: a number, `raft` or `0`/`none`.
pub fn parse_bump(s: &str) -> Result<BumpSpec, String> {
    match s {
        "0" | "none" => Ok(BumpSpec::None),
        "raft" | "raft-index" => Ok(BumpSpec::RaftIndex),
        n => n
            .replace('_', "")
            .parse::<u64>()
            .map(BumpSpec::Fixed)
            .map_err(|_| format!("`{s}` is not a number, `raft` or `none`")),
    }
}

/// The bump in revisions for a snapshot with this consistent index.
pub fn bump_amount(spec: BumpSpec, consistent_index: Option<u64>) -> u64 {
    match spec {
        BumpSpec::None => 0,
        BumpSpec::Fixed(n) => n,
        BumpSpec::RaftIndex => {
            let ci = consistent_index.unwrap_or(0).max(1);
            ci + ci.div_ceil(5)
        }
    }
}

/// One member's restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRestore {
    pub name: String,
    pub data_dir: String,
    /// Program and arguments; run them as they are.
    pub argv: Vec<String>,
    /// The same as one shell line (with `ETCDCTL_API=3` for etcdctl).
    pub shell: String,
}

/// The restore of every member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub snapshot: String,
    pub snapshot_revision: i64,
    pub initial_cluster: String,
    pub initial_cluster_token: String,
    pub tool: Tool,
    /// Revisions added on restore; 0 when none.
    pub bump: u64,
    /// The revision the restored cluster starts at, at least.
    pub expected_revision: i64,
    pub members: Vec<MemberRestore>,
    pub warnings: Vec<String>,
}

/// `{name}` in a data dir template becomes the member's name.
pub fn data_dir_for(template: &str, name: &str) -> String {
    template.replace("{name}", name)
}

/// The facts of the snapshot a plan needs.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub path: &'a str,
    pub revision: i64,
    pub consistent_index: Option<u64>,
}

/// Why a restore cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("no members to restore into")]
    NoMembers,
    #[error("member `{0}` is given twice")]
    Duplicate(String),
}

/// Why this node's part cannot be planned: what is on disk does not match
/// any point of a restore, and guessing could lose data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalPlanError {
    #[error("no manifest at `{}`", .0.display())]
    NoManifest(PathBuf),
    #[error(
        "both `{}` and `{}` exist: a previous restore left its files; move one of them away",
        .data_dir.display(),
        .aside.display()
    )]
    LeftOver { data_dir: PathBuf, aside: PathBuf },
}

/// The operator's choices that have defaults.
#[derive(Debug, Clone, Copy)]
pub struct Choices<'a> {
    /// `--initial-cluster-token`; default: from the snapshot's sha256.
    pub token: Option<&'a str>,
    /// `--new-data-dir` template; default: DATA_DIR.restored-rREVISION.
    pub new_data_dir: Option<&'a str>,
    /// `--data-dir`; default /var/lib/etcd.
    pub data_dir: Option<&'a str>,
    pub bump: BumpSpec,
}

/// The suffix naming one restore's files: `r<revision>`.
pub fn tag(revision: i64) -> String {
    format!("r{revision}")
}

/// [`plan`] with the defaults filled in: the token derived from the
/// snapshot's hash (the same on every node; from its revision when it has
/// none, a member's db file, never etcd's default `etcd-cluster`, which
/// the old cluster most likely has: same token and peer URLs make the same
/// member ids, and an old member could join the restored cluster), the new
/// data dir next to the old one, and `--skip-hash-check` for a file without
/// a sha256 trailer (a member's db file).
pub fn plan_with_defaults(
    source: Source<'_>,
    sha256: Option<&str>,
    no_hash: bool,
    members: &[TargetMember],
    choices: Choices<'_>,
    tool: &Tool,
) -> Result<Plan, PlanError> {
    let token = choices.token.map(str::to_string).unwrap_or_else(|| {
        sha256
            .map(|h| format!("restored-{}", &h[..h.len().min(12)]))
            .unwrap_or_else(|| format!("restored-{}", tag(source.revision)))
    });
    let template = choices.new_data_dir.map(str::to_string).unwrap_or_else(|| {
        format!(
            "{}.restored-{}",
            choices.data_dir.unwrap_or("/var/lib/etcd"),
            tag(source.revision)
        )
    });
    let mut plan = plan(source, members, &token, &template, tool, choices.bump)?;
    if no_hash {
        for m in &mut plan.members {
            m.argv.push("--skip-hash-check".into());
            m.shell.push_str(" --skip-hash-check");
        }
    }
    Ok(plan)
}

/// Plan restoring `source` into `members`.
pub fn plan(
    source: Source<'_>,
    members: &[TargetMember],
    token: &str,
    data_dir_template: &str,
    tool: &Tool,
    bump: BumpSpec,
) -> Result<Plan, PlanError> {
    let Source {
        path: snapshot,
        revision: snapshot_revision,
        consistent_index,
    } = source;
    if members.is_empty() {
        return Err(PlanError::NoMembers);
    }
    for (i, m) in members.iter().enumerate() {
        if members[..i].iter().any(|o| o.name == m.name) {
            return Err(PlanError::Duplicate(m.name.clone()));
        }
    }
    let dirs: Vec<String> = members
        .iter()
        .map(|m| data_dir_for(data_dir_template, &m.name))
        .collect();
    let mut warnings = Vec::new();
    let mut amount = bump_amount(bump, consistent_index);
    if amount > 0 && !tool.can_bump {
        warnings.push(format!(
            "`{}` cannot bump the revision (etcdutl 3.5+ can): the restored cluster restarts \
             at revision {snapshot_revision}, so watch caches and informers may serve stale \
             data until kube-apiserver and the controllers are restarted",
            tool.path
        ));
        amount = 0;
    }
    let initial_cluster = members
        .iter()
        .flat_map(|m| m.peer_urls.iter().map(move |u| format!("{}={u}", m.name)))
        .collect::<Vec<_>>()
        .join(",");
    let members = members
        .iter()
        .zip(dirs)
        .map(|(m, dir)| {
            let mut argv = vec![
                tool.path.clone(),
                "snapshot".into(),
                "restore".into(),
                snapshot.to_string(),
                format!("--name={}", m.name),
                format!("--initial-cluster={initial_cluster}"),
                format!("--initial-cluster-token={token}"),
                format!("--initial-advertise-peer-urls={}", m.peer_urls.join(",")),
                format!("--data-dir={dir}"),
            ];
            if amount > 0 {
                argv.push(format!("--bump-revision={amount}"));
                argv.push("--mark-compacted".into());
            }
            let mut shell = String::new();
            if tool.kind == "etcdctl" {
                shell.push_str("ETCDCTL_API=3 ");
            }
            shell.push_str(
                &argv
                    .iter()
                    .map(|a| shell_quote(a))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            MemberRestore {
                name: m.name.clone(),
                data_dir: dir,
                argv,
                shell,
            }
        })
        .collect();
    Ok(Plan {
        snapshot: snapshot.to_string(),
        snapshot_revision,
        initial_cluster,
        initial_cluster_token: token.to_string(),
        tool: tool.clone(),
        bump: amount,
        expected_revision: snapshot_revision + amount as i64,
        members,
        warnings,
    })
}

/// Quote for a POSIX shell when needed.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,@%+{}".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

// ----- node-local restore ---------------------------------------------------

/// What was found on the node, as plain values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Prefix of every path (`/` on a real node, a temp dir in tests).
    pub root: PathBuf,
    /// The static pod manifest (node path), when there is one.
    pub manifest: Option<PathBuf>,
    /// Its text.
    pub manifest_text: Option<String>,
    /// A running etcd to stop and start again, with its command line.
    pub process: Option<(u32, Vec<String>)>,
    /// A systemd unit to stop and start.
    pub service: Option<String>,
    /// The member's current data dir (node path).
    pub data_dir: PathBuf,
    pub data_dir_exists: bool,
    /// The data dir was read from the process's command line alone: once
    /// the process has stopped, a re-run needs it as `--data-dir`.
    pub data_dir_from_process: bool,
    /// Suffix that names this restore's files (`r<revision>`).
    pub tag: String,
}

/// One node-local step with the command that undoes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "action",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum LocalStep {
    /// Move the static pod manifest out of the manifest dir: kubelet stops etcd.
    MoveManifestAside {
        from: PathBuf,
        to: PathBuf,
    },
    /// SIGTERM the process and wait for it to exit.
    StopProcess {
        pid: u32,
    },
    StopService {
        name: String,
    },
    /// Wait until no process runs etcd on the data dir.
    WaitStopped {
        data_dir: PathBuf,
    },
    /// Rename the old data dir; nothing is deleted.
    MoveDataAside {
        from: PathBuf,
        to: PathBuf,
    },
    Restore {
        argv: Vec<String>,
    },
    /// Write the manifest with the new data dir next to the original.
    RewriteManifest {
        from: PathBuf,
        to: PathBuf,
        old_data_dir: String,
        new_data_dir: String,
    },
    /// Put the (rewritten) manifest back: kubelet starts etcd.
    StartManifest {
        from: PathBuf,
        to: PathBuf,
    },
    StartProcess {
        argv: Vec<String>,
        log: PathBuf,
    },
    StartService {
        name: String,
    },
}

impl LocalStep {
    pub fn describe(&self) -> String {
        match self {
            LocalStep::MoveManifestAside { from, to } => format!(
                "stop etcd: move the static pod manifest `{}` to `{}`",
                from.display(),
                to.display()
            ),
            LocalStep::StopProcess { pid } => format!("stop etcd: SIGTERM process {pid}"),
            LocalStep::StopService { name } => format!("stop etcd: systemctl stop {name}"),
            LocalStep::WaitStopped { data_dir } => {
                format!("wait until no etcd runs on `{}`", data_dir.display())
            }
            LocalStep::MoveDataAside { from, to } => format!(
                "move the old data dir `{}` aside to `{}` (kept)",
                from.display(),
                to.display()
            ),
            LocalStep::Restore { argv } => format!("restore: {}", shell_line(argv)),
            LocalStep::RewriteManifest {
                to,
                old_data_dir,
                new_data_dir,
                ..
            } => format!(
                "write `{}`: the manifest with `{old_data_dir}` replaced by `{new_data_dir}`",
                to.display()
            ),
            LocalStep::StartManifest { from, to } => format!(
                "start etcd: move `{}` to `{}`",
                from.display(),
                to.display()
            ),
            LocalStep::StartProcess { argv, log } => {
                format!("start etcd: {} (log: {})", shell_line(argv), log.display())
            }
            LocalStep::StartService { name } => format!("start etcd: systemctl start {name}"),
        }
    }

    /// The shell command that reverses the step, when there is one.
    pub fn undo(&self) -> Option<String> {
        let mv = |a: &Path, b: &Path| {
            format!(
                "mv {} {}",
                shell_quote(&a.display().to_string()),
                shell_quote(&b.display().to_string())
            )
        };
        match self {
            LocalStep::MoveManifestAside { from, to } => Some(mv(to, from)),
            LocalStep::MoveDataAside { from, to } => Some(mv(to, from)),
            LocalStep::RewriteManifest { to, .. } => {
                Some(format!("rm {}", shell_quote(&to.display().to_string())))
            }
            LocalStep::StartManifest { from, to } => Some(mv(to, from)),
            LocalStep::StopService { name } => Some(format!("systemctl start {name}")),
            LocalStep::StartService { name } => Some(format!("systemctl stop {name}")),
            LocalStep::Restore { argv } => argv
                .iter()
                .find_map(|a| a.strip_prefix("--data-dir="))
                .map(|d| format!("mv {} {}.failed", shell_quote(d), shell_quote(d))),
            LocalStep::StopProcess { .. }
            | LocalStep::WaitStopped { .. }
            | LocalStep::StartProcess { .. } => None,
        }
    }
}

fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A planned local step and whether the node shows it done already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedLocal {
    #[serde(flatten)]
    pub step: LocalStep,
    pub done: bool,
    pub undo: Option<String>,
}

/// The node-local restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalPlan {
    pub data_dir: PathBuf,
    pub new_data_dir: PathBuf,
    pub old_data_aside: PathBuf,
    pub steps: Vec<PlannedLocal>,
    /// What to record before the first change (a plain process), so that
    /// a re-run with the same `--pid` finds its command line after it
    /// stopped.
    #[serde(skip)]
    pub journal: Option<ProcessJournal>,
}

/// The process a restore stops and starts again, recorded next to the
/// data dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessJournal {
    /// `<data dir>.restore-<tag>.json` (real path).
    pub path: PathBuf,
    pub process: journal::Process,
    /// The data dir (node path) when only the process named it: a re-run
    /// needs it as `--data-dir`.
    pub data_dir_flag: Option<PathBuf>,
}

/// `<data dir>.restore-<tag>.json` (real path): the process a restore
/// stopped, for a re-run.
pub fn process_journal_path(root: &Path, data_dir: &Path, tag: &str) -> PathBuf {
    journal::path(&rooted(root, data_dir), &format!(".restore-{tag}.json"))
}

impl LocalPlan {
    /// The numbered steps for member `name`, those done already marked.
    pub fn describe(&self, name: &str) -> String {
        let mut text = format!("restore on this node, member `{name}`:");
        for (i, s) in self.steps.iter().enumerate() {
            let done = if s.done { "  (done)" } else { "" };
            text.push_str(&format!("\n  {}. {}{done}", i + 1, s.step.describe()));
        }
        text
    }
}

/// `root` + a node path.
pub fn rooted(root: &Path, node_path: &Path) -> PathBuf {
    match node_path.strip_prefix("/") {
        Ok(rel) => root.join(rel),
        Err(_) => root.join(node_path),
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Plan the node-local restore. `exists` tells whether a real path exists
/// (`rooted` paths), so a re-run skips what is done; `restore_argv` is the
/// member's restore command with node paths (rooted here).
pub fn local_plan(
    node: &Node,
    restore_argv: &[String],
    exists: &dyn Fn(&Path) -> bool,
) -> Result<LocalPlan, LocalPlanError> {
    let r = |p: &Path| rooted(&node.root, p);
    let new_data_dir = with_suffix(&node.data_dir, &format!(".restored-{}", node.tag));
    let aside = with_suffix(&node.data_dir, &format!(".before-restore-{}", node.tag));
    let mut steps = Vec::new();
    let mut push = |step: LocalStep, done: bool| {
        let undo = step.undo();
        steps.push(PlannedLocal { step, done, undo });
    };
    // A service's unit cannot be rewritten from here: it is restored in
    // place, after its old data dir was moved aside.
    let in_place = node.service.is_some() && node.manifest.is_none() && node.process.is_none();
    let aside_exists = exists(&r(&aside));
    let restored = if in_place {
        node.data_dir_exists && aside_exists
    } else {
        exists(&r(&new_data_dir))
    };

    // Stop.
    let manifest_paths = node.manifest.as_ref().map(|m| {
        let parent = m.parent().and_then(Path::parent).unwrap_or(Path::new("/"));
        let file = m.file_name().map(|f| f.to_string_lossy().into_owned());
        let file = file.unwrap_or_else(|| "etcd.yaml".into());
        (
            m.clone(),
            parent.join(format!("{file}.before-restore-{}", node.tag)),
            parent.join(format!("{file}.restored-{}", node.tag)),
        )
    });
    if let Some((manifest, aside_manifest, _)) = &manifest_paths {
        let moved = exists(&r(aside_manifest));
        if !moved && !exists(&r(manifest)) {
            return Err(LocalPlanError::NoManifest(r(manifest)));
        }
        push(
            LocalStep::MoveManifestAside {
                from: r(manifest),
                to: r(aside_manifest),
            },
            moved,
        );
    }
    if let Some((pid, _)) = &node.process {
        // After the restore, the process running is the restored one.
        push(LocalStep::StopProcess { pid: *pid }, restored);
    }
    if let Some(name) = &node.service {
        push(LocalStep::StopService { name: name.clone() }, restored);
    }
    push(
        LocalStep::WaitStopped {
            data_dir: r(&node.data_dir),
        },
        restored || (!node.data_dir_exists && aside_exists),
    );

    // Move the old data aside.
    if node.data_dir_exists && aside_exists && !in_place {
        return Err(LocalPlanError::LeftOver {
            data_dir: r(&node.data_dir),
            aside: r(&aside),
        });
    }
    push(
        LocalStep::MoveDataAside {
            from: r(&node.data_dir),
            to: r(&aside),
        },
        !node.data_dir_exists || (in_place && aside_exists),
    );

    // Restore into the new dir (in place for a service).
    let target = if in_place {
        node.data_dir.clone()
    } else {
        new_data_dir.clone()
    };
    let argv: Vec<String> = restore_argv
        .iter()
        .map(|a| match a.strip_prefix("--data-dir=") {
            Some(_) => format!("--data-dir={}", r(&target).display()),
            None => a.clone(),
        })
        .collect();
    push(LocalStep::Restore { argv }, restored);

    // Point the manifest at it and start.
    if let Some((manifest, aside_manifest, rewritten)) = &manifest_paths {
        let started = exists(&r(manifest)) && exists(&r(aside_manifest));
        push(
            LocalStep::RewriteManifest {
                from: r(aside_manifest),
                to: r(rewritten),
                old_data_dir: node.data_dir.display().to_string(),
                new_data_dir: target.display().to_string(),
            },
            started || exists(&r(rewritten)),
        );
        push(
            LocalStep::StartManifest {
                from: r(rewritten),
                to: r(manifest),
            },
            started,
        );
    }
    if let Some((_, argv)) = &node.process {
        let real_old = r(&node.data_dir).display().to_string();
        let node_old = node.data_dir.display().to_string();
        let argv = rewrite_args(
            argv,
            &[(&real_old, r(&target)), (&node_old, target.clone())],
        );
        push(
            LocalStep::StartProcess {
                argv,
                log: with_suffix(&r(&target), ".log"),
            },
            restored,
        );
    }
    if let Some(name) = &node.service {
        push(LocalStep::StartService { name: name.clone() }, false);
    }
    let journal = node.process.as_ref().map(|(pid, argv)| ProcessJournal {
        path: process_journal_path(&node.root, &node.data_dir, &node.tag),
        process: journal::Process {
            pid: *pid,
            argv: argv.clone(),
        },
        data_dir_flag: node.data_dir_from_process.then(|| node.data_dir.clone()),
    });
    Ok(LocalPlan {
        data_dir: r(&node.data_dir),
        new_data_dir: r(&target),
        old_data_aside: r(&aside),
        steps,
        journal,
    })
}

/// The value of `--data-dir` in a command line (`--data-dir=X` or
/// `--data-dir X`).
pub fn data_dir_arg(args: &[String]) -> Option<String> {
    flag_value(args, "--data-dir")
}

/// The value of `--name` in a command line.
pub fn name_arg(args: &[String]) -> Option<String> {
    flag_value(args, "--name")
}

fn flag_value(args: &[String], flag: &str) -> Option<String> {
    let eq = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if let Some(v) = a.strip_prefix(&eq) {
            Some(v.to_string())
        } else if a == flag {
            args.get(i + 1).cloned()
        } else {
            None
        }
    })
}

/// Replace the `--data-dir` value (first matching form wins).
fn rewrite_args(args: &[String], map: &[(&str, PathBuf)]) -> Vec<String> {
    let mut out = args.to_vec();
    let new_for = |v: &str| {
        map.iter()
            .find(|(old, _)| *old == v)
            .map(|(_, new)| new.display().to_string())
            .unwrap_or_else(|| map[0].1.display().to_string())
    };
    let mut i = 0;
    while i < out.len() {
        if let Some(v) = out[i].strip_prefix("--data-dir=") {
            out[i] = format!("--data-dir={}", new_for(v));
        } else if out[i] == "--data-dir" && i + 1 < out.len() {
            out[i + 1] = new_for(&out[i + 1].clone());
            i += 1;
        }
        i += 1;
    }
    out
}

/// The `--data-dir` in a static pod manifest's command.
pub fn manifest_data_dir(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let t = l.trim().trim_start_matches('-').trim();
        let t = t.trim_matches('"').trim_matches('\'');
        t.strip_prefix("--data-dir=").map(|v| v.trim().to_string())
    })
}

/// The `--name` in a static pod manifest's command.
pub fn manifest_name(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let t = l.trim().trim_start_matches('-').trim();
        let t = t.trim_matches('"').trim_matches('\'');
        t.strip_prefix("--name=").map(|v| v.trim().to_string())
    })
}

/// Point a manifest at `new`: the `--data-dir=` argument and every
/// `path:` (hostPath) or `mountPath:` equal to `old`. Returns the text and
/// how many lines changed.
pub fn rewrite_manifest(text: &str, old: &str, new: &str) -> (String, usize) {
    let mut changed = 0;
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let trimmed = body.trim_start();
        let indent = &body[..body.len() - trimmed.len()];
        let replaced = rewrite_line(trimmed, old, new);
        if let Some(r) = replaced {
            changed += 1;
            out.push_str(indent);
            out.push_str(&r);
        } else {
            out.push_str(body);
        }
        out.push_str(nl);
    }
    (out, changed)
}

fn rewrite_line(line: &str, old: &str, new: &str) -> Option<String> {
    let (lead, rest) = match line.strip_prefix("- ") {
        Some(r) => ("- ", r),
        None => ("", line),
    };
    // `--data-dir=OLD`, possibly quoted.
    for q in ["", "\"", "'"] {
        if rest == format!("{q}--data-dir={old}{q}") {
            return Some(format!("{lead}{q}--data-dir={new}{q}"));
        }
    }
    for key in ["path:", "mountPath:"] {
        if let Some(v) = rest.strip_prefix(key) {
            let v = v.trim();
            for q in ["", "\"", "'"] {
                if v == format!("{q}{old}{q}") {
                    return Some(format!("{lead}{key} {q}{new}{q}"));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Vec<TargetMember> {
        ["m0", "m1", "m2"]
            .iter()
            .enumerate()
            .map(|(i, n)| TargetMember {
                name: n.to_string(),
                peer_urls: vec![format!("http://10.0.0.{i}:2380")],
            })
            .collect()
    }

    fn src(consistent_index: Option<u64>) -> Source<'static> {
        Source {
            path: "/s.db",
            revision: 500,
            consistent_index,
        }
    }

    fn tool(kind: &str, can_bump: bool) -> Tool {
        Tool {
            kind: kind.into(),
            path: kind.into(),
            can_bump,
        }
    }

    #[test]
    fn members_parse_as_name_equals_url() {
        assert_eq!(
            parse_member("etcd-0=https://10.0.0.1:2380").unwrap().name,
            "etcd-0"
        );
        assert!(parse_member("etcd-0").is_err());
        assert!(parse_member("=http://x:1").is_err());
    }

    #[test]
    fn bumps_are_fixed_raft_based_or_none() {
        assert_eq!(parse_bump("1_000").unwrap(), BumpSpec::Fixed(1000));
        assert_eq!(parse_bump("raft").unwrap(), BumpSpec::RaftIndex);
        assert_eq!(parse_bump("0").unwrap(), BumpSpec::None);
        assert!(parse_bump("lots").is_err());
        assert_eq!(bump_amount(BumpSpec::RaftIndex, Some(1000)), 1200);
        assert_eq!(bump_amount(BumpSpec::RaftIndex, Some(3)), 4);
        assert_eq!(
            bump_amount(BumpSpec::Fixed(DEFAULT_BUMP), None),
            DEFAULT_BUMP
        );
    }

    #[test]
    fn etcdutl_commands_carry_the_bump_and_every_member() {
        let p = plan(
            src(Some(600)),
            &members(),
            "tok",
            "/var/lib/etcd-{name}",
            &tool("etcdutl", true),
            BumpSpec::Fixed(DEFAULT_BUMP),
        )
        .unwrap();
        assert_eq!(p.expected_revision, 500 + DEFAULT_BUMP as i64);
        assert!(p.warnings.is_empty());
        let m1 = &p.members[1];
        assert_eq!(m1.data_dir, "/var/lib/etcd-m1");
        assert_eq!(
            m1.argv,
            vec![
                "etcdutl",
                "snapshot",
                "restore",
                "/s.db",
                "--name=m1",
                "--initial-cluster=m0=http://10.0.0.0:2380,m1=http://10.0.0.1:2380,m2=http://10.0.0.2:2380",
                "--initial-cluster-token=tok",
                "--initial-advertise-peer-urls=http://10.0.0.1:2380",
                "--data-dir=/var/lib/etcd-m1",
                "--bump-revision=1000000000",
                "--mark-compacted",
            ]
        );
    }

    #[test]
    fn etcdctl_34_cannot_bump_and_says_so() {
        let p = plan(
            src(None),
            &members(),
            "tok",
            "/d/{name}",
            &tool("etcdctl", false),
            BumpSpec::Fixed(5),
        )
        .unwrap();
        assert_eq!(p.bump, 0);
        assert_eq!(p.expected_revision, 500);
        assert!(p.warnings[0].contains("cannot bump"));
        assert!(p.members[0]
            .shell
            .starts_with("ETCDCTL_API=3 etcdctl snapshot restore"));
        assert!(!p.members[0].argv.iter().any(|a| a.contains("bump")));
        let dup = [members()[0].clone(), members()[0].clone()];
        assert!(plan(
            src(None),
            &dup,
            "t",
            "/d",
            &tool("etcdctl", false),
            BumpSpec::None
        )
        .is_err());
    }

    const MANIFEST: &str = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command:\n    - etcd\n    - --name=m0\n    - --data-dir=/var/lib/etcd\n    volumeMounts:\n    - mountPath: /var/lib/etcd\n      name: etcd-data\n  volumes:\n  - hostPath:\n      path: /var/lib/etcd\n      type: DirectoryOrCreate\n    name: etcd-data\n";

    #[test]
    fn a_manifest_is_pointed_at_the_new_data_dir() {
        assert_eq!(
            manifest_data_dir(MANIFEST).as_deref(),
            Some("/var/lib/etcd")
        );
        assert_eq!(manifest_name(MANIFEST).as_deref(), Some("m0"));
        let (text, n) = rewrite_manifest(MANIFEST, "/var/lib/etcd", "/var/lib/etcd.restored-r9");
        assert_eq!(n, 3);
        assert!(text.contains("    - --data-dir=/var/lib/etcd.restored-r9\n"));
        assert!(text.contains("      path: /var/lib/etcd.restored-r9\n"));
        assert!(text.contains("    - mountPath: /var/lib/etcd.restored-r9\n"));
        assert!(!text.contains("/var/lib/etcd\n"));
        // Other paths are left alone.
        let (same, n) = rewrite_manifest("path: /var/lib/etcd2\n", "/var/lib/etcd", "/x");
        assert_eq!((same.as_str(), n), ("path: /var/lib/etcd2\n", 0));
    }

    fn node() -> Node {
        Node {
            root: PathBuf::from("/tmp/root"),
            manifest: Some(PathBuf::from("/etc/kubernetes/manifests/etcd.yaml")),
            manifest_text: Some(MANIFEST.into()),
            process: Some((
                42,
                vec![
                    "etcd".into(),
                    "--data-dir".into(),
                    "/tmp/root/var/lib/etcd".into(),
                ],
            )),
            service: None,
            data_dir: PathBuf::from("/var/lib/etcd"),
            data_dir_exists: true,
            data_dir_from_process: false,
            tag: "r9".into(),
        }
    }

    #[test]
    fn the_local_plan_stops_moves_aside_restores_rewrites_and_starts() {
        let restore = vec!["etcdutl".to_string(), "--data-dir=/var/lib/etcd".into()];
        let exists = |p: &Path| p == Path::new("/tmp/root/etc/kubernetes/manifests/etcd.yaml");
        let p = local_plan(&node(), &restore, &exists).unwrap();
        let actions: Vec<String> = p
            .steps
            .iter()
            .map(|s| {
                serde_json::to_value(s).unwrap()["action"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            actions,
            [
                "moveManifestAside",
                "stopProcess",
                "waitStopped",
                "moveDataAside",
                "restore",
                "rewriteManifest",
                "startManifest",
                "startProcess"
            ]
        );
        assert!(p.steps.iter().all(|s| !s.done));
        assert_eq!(
            p.new_data_dir,
            Path::new("/tmp/root/var/lib/etcd.restored-r9")
        );
        assert_eq!(
            p.steps[3].undo.as_deref(),
            Some("mv /tmp/root/var/lib/etcd.before-restore-r9 /tmp/root/var/lib/etcd")
        );
        match &p.steps[4].step {
            LocalStep::Restore { argv } => {
                assert_eq!(argv[1], "--data-dir=/tmp/root/var/lib/etcd.restored-r9")
            }
            s => panic!("{s:?}"),
        }
        match &p.steps[7].step {
            LocalStep::StartProcess { argv, .. } => {
                assert_eq!(argv[2], "/tmp/root/var/lib/etcd.restored-r9")
            }
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn a_service_is_restored_in_place_and_a_rerun_after_it_does_nothing_twice() {
        let n = Node {
            manifest: None,
            manifest_text: None,
            process: None,
            service: Some("etcd".into()),
            ..node()
        };
        let restore = vec!["etcdutl".to_string(), "--data-dir=/var/lib/etcd".into()];
        let p = local_plan(&n, &restore, &|_: &Path| false).unwrap();
        assert_eq!(p.new_data_dir, Path::new("/tmp/root/var/lib/etcd"));
        assert!(p.steps.iter().all(|s| !s.done));
        // Restored and started: the data dir and its aside copy both exist.
        let aside = |p: &Path| p == Path::new("/tmp/root/var/lib/etcd.before-restore-r9");
        let p = local_plan(&n, &restore, &aside).unwrap();
        let pending: Vec<_> = p.steps.iter().filter(|s| !s.done).collect();
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert!(matches!(pending[0].step, LocalStep::StartService { .. }));
    }

    #[test]
    fn a_rerun_skips_what_the_node_shows_done() {
        let mut n = node();
        n.data_dir_exists = false;
        n.process = None;
        let exists = |p: &Path| {
            [
                "/tmp/root/etc/kubernetes/etcd.yaml.before-restore-r9",
                "/tmp/root/var/lib/etcd.before-restore-r9",
                "/tmp/root/var/lib/etcd.restored-r9",
            ]
            .iter()
            .any(|e| p == Path::new(e))
        };
        let p = local_plan(&n, &["etcdutl".into()], &exists).unwrap();
        let pending: Vec<_> = p.steps.iter().filter(|s| !s.done).collect();
        assert!(matches!(pending[0].step, LocalStep::RewriteManifest { .. }));
        assert!(matches!(pending[1].step, LocalStep::StartManifest { .. }));
        // Both the old data and the aside copy: refuse to guess.
        let mut n = node();
        n.data_dir_exists = true;
        let e = local_plan(&n, &[], &exists).unwrap_err();
        assert!(matches!(e, LocalPlanError::LeftOver { .. }));
        assert!(e.to_string().contains("previous restore"));
    }

    #[test]
    fn defaults_derive_the_token_from_the_hash_and_the_dir_from_the_revision() {
        let members = vec![parse_member("m0=http://10.0.0.1:2380").unwrap()];
        let choices = Choices {
            token: None,
            new_data_dir: None,
            data_dir: None,
            bump: BumpSpec::None,
        };
        let p = plan_with_defaults(
            src(None),
            Some("0123456789abcdef"),
            true,
            &members,
            choices,
            &tool("etcdutl", true),
        )
        .unwrap();
        assert_eq!(p.initial_cluster_token, "restored-0123456789ab");
        let m = &p.members[0];
        assert!(
            m.data_dir.starts_with("/var/lib/etcd.restored-r"),
            "{}",
            m.data_dir
        );
        assert_eq!(m.argv.last().map(String::as_str), Some("--skip-hash-check"));
        assert!(m.shell.ends_with(" --skip-hash-check"));
        let named = Choices {
            token: Some("t"),
            ..choices
        };
        let p = plan_with_defaults(
            src(None),
            None,
            false,
            &members,
            named,
            &tool("etcdutl", true),
        )
        .unwrap();
        assert_eq!(p.initial_cluster_token, "t");
        assert!(!p.members[0].argv.iter().any(|a| a == "--skip-hash-check"));
        // No hash (a member's db file): a new token all the same.
        let p = plan_with_defaults(
            src(None),
            None,
            true,
            &members,
            choices,
            &tool("etcdutl", true),
        )
        .unwrap();
        assert!(
            p.initial_cluster_token.starts_with("restored-r"),
            "{}",
            p.initial_cluster_token
        );
    }
}
