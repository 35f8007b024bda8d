//! Recovering a cluster whose quorum is lost for good, from its most
//! up-to-date surviving member: the survey (live members and data dirs
//! read offline), the choice of the survivor, and the plan (back up, force
//! a new one-member cluster, remove the flag, grow back one member at a
//! time) as pure data, tested with plain values. Nothing here talks to
//! etcd or touches a file: [`executor`] does, for the survivor's node.
//!
//! `--force-new-cluster` rewrites the membership to the survivor alone, and
//! every later start with the flag would do it again: the plan always
//! removes it right after the forced start, and a re-run after an
//! interruption finds (in the journal next to the data dir) that it is
//! still on. The node-local actions are the restore wizard's
//! [`LocalStep`]s; members are grown back with resize's `add`.

pub mod executor;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cli::GlobalArgs;
use crate::connect::PodInfo;
use crate::ops::resize::{quorum, start_instructions, StartInstructions};
use crate::ops::restore::{rooted, shell_quote, LocalStep};

/// The flag that makes a member forget every other member.
pub const FORCE_FLAG: &str = "--force-new-cluster";

// ----- survey and choice ------------------------------------------------------

/// Where a candidate's facts come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Seen {
    /// Its status, asked over the network.
    Live,
    /// Its data dir, read offline (`--data-dir NAME=PATH`).
    Offline,
    /// Neither answered nor read.
    Unknown,
}

/// One member as the survey saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub name: String,
    /// 16-hex member id, when known.
    pub id: Option<String>,
    pub seen: Seen,
    /// The endpoint asked, or the data dir read.
    pub location: String,
    pub revision: Option<i64>,
    pub raft_term: Option<u64>,
    /// Raft applied index (live members).
    pub applied_index: Option<u64>,
    /// The backend's consistent index (offline reads).
    pub consistent_index: Option<u64>,
    /// Why it was not surveyed.
    pub error: Option<String>,
}

impl Candidate {
    /// How far it got: its applied index (live) or consistent index
    /// (offline), then its revision.
    /// A data dir whose backend never recorded an index counts as 0.
    pub fn progress(&self) -> Option<(u64, i64)> {
        let read = (self.seen == Seen::Offline).then_some(0);
        let index = self.applied_index.or(self.consistent_index).or(read)?;
        Some((index, self.revision?))
    }
}

/// Refuse when a quorum still answers: nothing is lost, and a member that
/// is gone is replaced with `resize replace` without losing anything.
pub fn quorum_refusal(voters: usize, answering_voters: usize) -> Option<String> {
    (voters > 0 && answering_voters >= quorum(voters)).then(|| {
        format!(
            "{answering_voters} of {voters} voting members answer, a quorum ({}): \
             there is nothing to recover",
            quorum(voters)
        )
    })
}

/// The survivor and what choosing it costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Choice {
    pub survivor: String,
    pub most_up_to_date: String,
    /// Revisions the most up-to-date candidate has that the survivor lacks.
    pub revisions_lost: i64,
    /// Raft entries the survivor is behind.
    pub entries_behind: u64,
    pub warning: Option<String>,
}

/// Why no survivor can be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error("no member could be surveyed: none answered and no data dir was read")]
    NoCandidate,
    #[error("`{0}` is not a member the survey knows")]
    Unknown(String),
    #[error("`{0}` could not be surveyed, so it cannot be the survivor")]
    NotSurveyed(String),
}

/// The highest applied/consistent index wins, ties by the higher revision
/// (then the first given); `want` (`--member`) overrides, with a warning
/// when it is behind.
pub fn choose(candidates: &[Candidate], want: Option<&str>) -> Result<Choice, ChoiceError> {
    let mut best: Option<(&Candidate, (u64, i64))> = None;
    for c in candidates {
        if let Some(p) = c.progress() {
            if best.is_none_or(|(_, bp)| p > bp) {
                best = Some((c, p));
            }
        }
    }
    let (best, best_p) = best.ok_or(ChoiceError::NoCandidate)?;
    let (chosen, chosen_p) = match want {
        None => (best, best_p),
        Some(name) => {
            let c = candidates
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| ChoiceError::Unknown(name.to_string()))?;
            let p = c
                .progress()
                .ok_or_else(|| ChoiceError::NotSurveyed(name.to_string()))?;
            (c, p)
        }
    };
    let revisions_lost = (best_p.1 - chosen_p.1).max(0);
    let entries_behind = best_p.0.saturating_sub(chosen_p.0);
    let warning =
        (chosen.name != best.name && (revisions_lost > 0 || entries_behind > 0)).then(|| {
            format!(
                "`{}` is behind `{}` by {entries_behind} raft entries and {revisions_lost} \
                 revisions: recovering from it loses those writes",
                chosen.name, best.name
            )
        });
    Ok(Choice {
        survivor: chosen.name.clone(),
        most_up_to_date: best.name.clone(),
        revisions_lost,
        entries_behind,
        warning,
    })
}

/// Refuse `--local` when a controller other than kubelet owns the etcd
/// pods (a StatefulSet, an operator's custom resource): it recreates pods,
/// rewrites their spec and re-adds members on its own schedule, so a
/// forced new cluster would be fought, or undone, behind the wizard's back.
/// Static pods (owned by their Node) and plain processes are fine.
pub fn controller_refusal<'a>(pods: impl IntoIterator<Item = &'a PodInfo>) -> Option<String> {
    pods.into_iter().find_map(|p| match &p.owner {
        Some((kind, name)) if kind != "Node" => Some(format!(
            "pod `{}/{}` is owned by {kind} `{name}`: its controller recreates and \
             reconfigures etcd pods itself, and a forced new cluster would fight it",
            p.namespace, p.name
        )),
        _ => None,
    })
}

// ----- the plan ---------------------------------------------------------------

/// A member to add back after the forced start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lost {
    pub name: String,
    #[serde(rename = "peerURLs")]
    pub peer_urls: Vec<String>,
    /// Where it will serve clients (for the printed command line).
    pub client_url: String,
}

/// What one node runs, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeCommands {
    pub member: String,
    pub role: String,
    pub commands: Vec<String>,
}

/// The whole recovery, printable without `--local`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub candidates: Vec<Candidate>,
    pub choice: Choice,
    /// The survivor's revision: the forced cluster must show it.
    pub revision: i64,
    #[serde(rename = "survivorPeerURLs")]
    pub survivor_peer_urls: Vec<String>,
    pub lost: Vec<Lost>,
    pub steps: Vec<String>,
    pub nodes: Vec<NodeCommands>,
}

/// Where the survivor's files are, for the printed commands.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The survivor's data dir (node path).
    pub data_dir: String,
    /// The data dir of a member added back (`{name}` is its name).
    pub new_data_dir: String,
    /// The plugin's global flags to repeat (`--endpoints ...`).
    pub connection: String,
}

/// `<data dir>.recover-backup-r<revision>.db`: the survivor's database,
/// copied before anything changes, next to its data dir, never deleted.
pub fn backup_path(data_dir: &Path, revision: i64) -> PathBuf {
    suffixed(data_dir, &format!(".recover-backup-r{revision}.db"))
}

/// `<data dir>.recover.json`: what a re-run needs to resume.
pub fn journal_path(data_dir: &Path) -> PathBuf {
    crate::ops::journal::path(data_dir, ".recover.json")
}

fn suffixed(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The plan: who survives, what is added back and in which order, and the
/// exact commands per node.
pub fn plan(
    candidates: Vec<Candidate>,
    choice: Choice,
    survivor_peer_urls: Vec<String>,
    lost: Vec<Lost>,
    layout: &Layout,
) -> Plan {
    let revision = candidates
        .iter()
        .find(|c| c.name == choice.survivor)
        .and_then(|c| c.revision)
        .unwrap_or_default();
    let s = &choice.survivor;
    let backup = backup_path(Path::new(&layout.data_dir), revision);
    let mut steps = vec![
        format!("stop `{s}`"),
        format!(
            "back up its database to `{}` (verified, kept)",
            backup.display()
        ),
        format!("start `{s}` once with {FORCE_FLAG}"),
        format!("wait until `{s}` is a healthy one-member cluster at revision {revision}"),
        format!("stop `{s}`, remove {FORCE_FLAG}, start it again, check again"),
    ];
    for l in &lost {
        steps.push(format!(
            "add `{}` back (learner, catch up, promote), started with an empty data dir",
            l.name
        ));
    }
    steps.push("status, keys per type and revision before and after".into());

    let local = format!(
        "kubectl etcd {}recover --local --member {s} --data-dir {}",
        if layout.connection.is_empty() {
            String::new()
        } else {
            format!("{} ", layout.connection)
        },
        shell_quote(&layout.data_dir)
    );
    let mut nodes = vec![NodeCommands {
        member: s.clone(),
        role: "survivor".into(),
        commands: vec![
            format!("{local}   # kubeadm: finds the static pod manifest; a plain process: add --pid PID"),
            format!(
                "# by hand: stop etcd; cp {}/member/snap/db {}; start it once with {FORCE_FLAG} \
                 added to its flags; when `kubectl etcd status` shows one member at revision \
                 {revision}, stop it, remove {FORCE_FLAG}, start it again",
                shell_quote(&layout.data_dir),
                shell_quote(&backup.display().to_string())
            ),
        ],
    }];
    // Members so far, as the member list shows them after each add.
    let mut members: Vec<(String, Vec<String>)> = vec![(s.clone(), survivor_peer_urls.clone())];
    for l in &lost {
        let dir = layout.new_data_dir.replace("{name}", &l.name);
        let i: StartInstructions =
            start_instructions(&l.name, &l.peer_urls, &l.client_url, &dir, &members);
        nodes.push(NodeCommands {
            member: l.name.clone(),
            role: "added back".into(),
            commands: vec![
                format!(
                    "# stop any etcd left on this node, and move its old data dir away: \
                     mv {} {}.lost",
                    shell_quote(&dir),
                    shell_quote(&dir)
                ),
                format!(
                    "# when the wizard has added `{}` as a learner, start it with an empty \
                     data dir:",
                    l.name
                ),
                i.command.clone(),
            ],
        });
        members.push((l.name.clone(), l.peer_urls.clone()));
    }
    Plan {
        candidates,
        choice,
        revision,
        survivor_peer_urls,
        lost,
        steps,
        nodes,
    }
}

// ----- the survivor's node ----------------------------------------------------

/// How etcd runs on the survivor's node, as plain values (node paths; the
/// `root` prefix is for fake layouts in tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Runner {
    /// A kubeadm static pod: the manifest (node path).
    Manifest { manifest: PathBuf },
    /// A plain process, restarted with its own command line.
    Process { pid: u32, argv: Vec<String> },
    /// A systemd unit: the flag is set for one start by a drop-in
    /// (`ETCD_FORCE_NEW_CLUSTER=true`, etcd's environment form of it).
    Service { unit: String },
}

/// What a re-run needs: written before the first change, next to the
/// survivor's data dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    pub survivor: String,
    pub revision: i64,
    pub root: PathBuf,
    pub data_dir: PathBuf,
    pub runner: Runner,
    pub lost: Vec<Lost>,
    /// Steps done, in order.
    pub done: usize,
    /// Keys per type before the recovery (the survivor's own view).
    #[serde(default)]
    pub counts_before: Vec<(String, u64)>,
}

/// One step on the survivor's node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "action",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Step {
    /// A restore step reused as it is: stop, wait, start, manifest moves.
    Local {
        #[serde(flatten)]
        step: LocalStep,
    },
    /// Stop the etcd now running on the data dir (the one this wizard
    /// started, or kubelet's).
    StopRunning { data_dir: PathBuf },
    /// Copy `member/snap/db` next to the data dir and check the copy.
    Backup { db: PathBuf, to: PathBuf },
    /// Write the manifest with the flag added (kubelet starts it).
    WriteForcedManifest { from: PathBuf, to: PathBuf },
    /// Write a systemd drop-in that sets the flag, and reload systemd.
    WriteDropIn { path: PathBuf },
    /// Remove that drop-in, and reload systemd.
    RemoveDropIn { path: PathBuf },
    /// Healthy, one member, at the surveyed revision.
    WaitForced { revision: i64 },
    /// Healthy again without the flag, still one member (or more, on a re-run).
    WaitHealthy { revision: i64 },
    /// resize's `add`: learner, catch-up, promote.
    AddBack { member: Lost },
}

impl Step {
    pub fn describe(&self) -> String {
        match self {
            Step::Local { step } => step.describe(),
            Step::StopRunning { data_dir } => {
                format!("stop the etcd running on `{}`", data_dir.display())
            }
            Step::Backup { db, to } => format!(
                "back up `{}` to `{}` and verify the copy (kept)",
                db.display(),
                to.display()
            ),
            Step::WriteForcedManifest { to, .. } => format!(
                "start etcd with {FORCE_FLAG}: write `{}` with the flag added",
                to.display()
            ),
            Step::WriteDropIn { path } => format!(
                "write `{}` (Environment=ETCD_FORCE_NEW_CLUSTER=true) and reload systemd",
                path.display()
            ),
            Step::RemoveDropIn { path } => {
                format!("remove `{}` and reload systemd", path.display())
            }
            Step::WaitForced { revision } => {
                format!("wait until it is a healthy one-member cluster at revision {revision}")
            }
            Step::WaitHealthy { revision } => {
                format!("check it is healthy without {FORCE_FLAG}, at revision {revision} or later")
            }
            Step::AddBack { member } => format!(
                "add `{}` back at {} (learner, catch up, promote)",
                member.name,
                member.peer_urls.join(",")
            ),
        }
    }

    /// Short form for the confirmation question.
    pub fn short(&self) -> String {
        match self {
            Step::Local {
                step: LocalStep::StartProcess { argv, .. },
            } if argv.iter().any(|a| a == FORCE_FLAG) => {
                format!("start etcd with {FORCE_FLAG}")
            }
            Step::Local {
                step: LocalStep::StartProcess { .. },
            } => format!("start etcd without {FORCE_FLAG}"),
            Step::Local {
                step: LocalStep::MoveManifestAside { .. },
            } => "stop etcd (move its manifest aside)".into(),
            Step::Local {
                step: LocalStep::StartManifest { .. },
            } => format!("start etcd without {FORCE_FLAG} (put the manifest back)"),
            Step::Local { step } => step.describe(),
            Step::StopRunning { .. } => format!("stop etcd (running with {FORCE_FLAG})"),
            Step::Backup { .. } => "back up the database".into(),
            Step::WriteForcedManifest { .. } => format!("start etcd with {FORCE_FLAG}"),
            Step::WriteDropIn { .. } => format!("set {FORCE_FLAG} for the unit's next start"),
            Step::RemoveDropIn { .. } => format!("take {FORCE_FLAG} off the unit"),
            Step::WaitForced { .. } => "wait for the one-member cluster".into(),
            Step::WaitHealthy { .. } => "check the member".into(),
            Step::AddBack { member } => format!("add `{}` back", member.name),
        }
    }

    /// How to take the step back, when there is a way.
    pub fn undo(&self) -> Option<String> {
        match self {
            Step::Local { step } => step.undo(),
            Step::Backup { to, .. } => Some(format!(
                "nothing to undo; the copy stays as {}",
                shell_quote(&to.display().to_string())
            )),
            Step::WriteForcedManifest { from, to } => Some(format!(
                "cp {} {}   # the manifest without the flag",
                shell_quote(&from.display().to_string()),
                shell_quote(&to.display().to_string())
            )),
            Step::AddBack { member } => Some(format!("kubectl etcd resize remove {}", member.name)),
            Step::WriteDropIn { path } => Some(format!(
                "rm {} && systemctl daemon-reload",
                shell_quote(&path.display().to_string())
            )),
            Step::RemoveDropIn { .. } => None,
            Step::StopRunning { .. } | Step::WaitForced { .. } | Step::WaitHealthy { .. } => None,
        }
    }

    /// Whether etcd runs with the flag once this step is done.
    pub fn leaves_flag_on(&self) -> bool {
        match self {
            Step::Local {
                step: LocalStep::StartProcess { argv, .. },
            } => argv.iter().any(|a| a == FORCE_FLAG),
            Step::WriteForcedManifest { .. } | Step::WaitForced { .. } => true,
            _ => false,
        }
    }
}

/// A step and whether it is done already (a re-run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Planned {
    #[serde(flatten)]
    pub step: Step,
    pub done: bool,
    pub undo: Option<String>,
}

/// The command line with `--force-new-cluster` added (or removed).
pub fn with_force(argv: &[String], on: bool) -> Vec<String> {
    let mut out: Vec<String> = argv
        .iter()
        .filter(|a| a.as_str() != FORCE_FLAG && !a.starts_with(&format!("{FORCE_FLAG}=")))
        .cloned()
        .collect();
    if on {
        out.push(FORCE_FLAG.to_string());
    }
    out
}

/// The manifest with `- --force-new-cluster` added after its `--data-dir=`
/// argument (same indentation), or removed. `None` when it has no
/// `--data-dir=` argument to place it by.
pub fn manifest_with_force(text: &str, on: bool) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 32);
    let mut placed = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        let arg = t.trim_start_matches('-').trim().trim_matches(['"', '\'']);
        if t.starts_with("- ") && (arg == FORCE_FLAG || arg.starts_with("--force-new-cluster=")) {
            continue;
        }
        out.push_str(line);
        if on && !placed && t.starts_with("- ") && arg.starts_with("--data-dir=") {
            let indent = &line[..line.len() - line.trim_start().len()];
            if !line.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("{indent}- {FORCE_FLAG}\n"));
            placed = true;
        }
    }
    (placed || !on).then_some(out)
}

/// The manifest path kept aside while etcd is stopped, and the forced
/// manifest kept after it served (both in the manifest dir's parent, where
/// kubelet does not look).
pub fn manifest_asides(manifest: &Path) -> (PathBuf, PathBuf) {
    let parent = manifest
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/"));
    let file = manifest
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "etcd.yaml".into());
    (
        parent.join(format!("{file}.before-recover")),
        parent.join(format!("{file}.force-new-cluster")),
    )
}

/// Every step on the survivor's node, the first `journal.done` marked done.
pub fn local_plan(journal: &Journal) -> Vec<Planned> {
    let r = |p: &Path| rooted(&journal.root, p);
    let data_dir = r(&journal.data_dir);
    let backup = Step::Backup {
        db: data_dir.join("member/snap/db"),
        to: backup_path(&data_dir, journal.revision),
    };
    let wait_stopped = Step::Local {
        step: LocalStep::WaitStopped {
            data_dir: data_dir.clone(),
        },
    };
    let log = |what: &str| suffixed(&data_dir, &format!(".recover-{what}.log"));
    let mut steps = match &journal.runner {
        Runner::Process { pid, argv } => vec![
            Step::Local {
                step: LocalStep::StopProcess { pid: *pid },
            },
            wait_stopped.clone(),
            backup,
            Step::Local {
                step: LocalStep::StartProcess {
                    argv: with_force(argv, true),
                    log: log("forced"),
                },
            },
            Step::WaitForced {
                revision: journal.revision,
            },
            Step::StopRunning {
                data_dir: data_dir.clone(),
            },
            wait_stopped,
            Step::Local {
                step: LocalStep::StartProcess {
                    argv: with_force(argv, false),
                    log: log("restarted"),
                },
            },
        ],
        Runner::Service { unit } => {
            let path = r(&drop_in_path(unit));
            let stop = Step::Local {
                step: LocalStep::StopService { name: unit.clone() },
            };
            let start = Step::Local {
                step: LocalStep::StartService { name: unit.clone() },
            };
            vec![
                stop.clone(),
                wait_stopped.clone(),
                backup,
                Step::WriteDropIn { path: path.clone() },
                start.clone(),
                Step::WaitForced {
                    revision: journal.revision,
                },
                stop,
                wait_stopped,
                Step::RemoveDropIn { path },
                start,
            ]
        }
        Runner::Manifest { manifest } => {
            let (aside, forced) = manifest_asides(manifest);
            vec![
                Step::Local {
                    step: LocalStep::MoveManifestAside {
                        from: r(manifest),
                        to: r(&aside),
                    },
                },
                wait_stopped.clone(),
                backup,
                Step::WriteForcedManifest {
                    from: r(&aside),
                    to: r(manifest),
                },
                Step::WaitForced {
                    revision: journal.revision,
                },
                Step::Local {
                    step: LocalStep::MoveManifestAside {
                        from: r(manifest),
                        to: r(&forced),
                    },
                },
                wait_stopped,
                Step::Local {
                    step: LocalStep::StartManifest {
                        from: r(&aside),
                        to: r(manifest),
                    },
                },
            ]
        }
    };
    steps.push(Step::WaitHealthy {
        revision: journal.revision,
    });
    steps.extend(
        journal
            .lost
            .iter()
            .map(|l| Step::AddBack { member: l.clone() }),
    );
    steps
        .into_iter()
        .enumerate()
        .map(|(i, step)| Planned {
            undo: step.undo(),
            done: i < journal.done,
            step,
        })
        .collect()
}

/// Whether etcd still runs with the flag after the first `done` steps.
pub fn flag_on_after(steps: &[Planned], done: usize) -> bool {
    let mut on = false;
    let mut drop_in = false;
    for s in steps.iter().take(done) {
        match &s.step {
            Step::StopRunning { .. }
            | Step::Local {
                step: LocalStep::MoveManifestAside { .. } | LocalStep::StopService { .. },
            } => on = false,
            Step::WriteDropIn { .. } => drop_in = true,
            Step::RemoveDropIn { .. } => drop_in = false,
            Step::Local {
                step: LocalStep::StartService { .. },
            } => on = drop_in,
            s if s.leaves_flag_on() => on = true,
            _ => {}
        }
    }
    on
}

/// The drop-in that sets the flag for `unit` (node path).
pub fn drop_in_path(unit: &str) -> PathBuf {
    let unit = if unit.contains('.') {
        unit.to_string()
    } else {
        format!("{unit}.service")
    };
    PathBuf::from(format!(
        "/etc/systemd/system/{unit}.d/90-kubectl-etcd-force-new-cluster.conf"
    ))
}

/// `NAME=PATH` values, and the bare one.
pub fn split_dirs(values: &[String]) -> (Vec<(String, PathBuf)>, Option<PathBuf>) {
    let mut named = Vec::new();
    let mut bare = None;
    for v in values {
        match v.split_once('=') {
            Some((n, p)) if !n.is_empty() && !n.contains('/') => {
                named.push((n.to_string(), PathBuf::from(p)))
            }
            _ => bare = Some(PathBuf::from(v)),
        }
    }
    (named, bare)
}

/// The global flags that reach this cluster, for the printed commands. In
/// Kubernetes mode the API server is likely down with etcd's quorum: on a
/// kubeadm node, the local member with kubeadm's certificates.
pub fn connection_flags(g: &GlobalArgs) -> String {
    if g.endpoints.is_empty() {
        return "--endpoints https://127.0.0.1:2379 --cacert /etc/kubernetes/pki/etcd/ca.crt \
                --cert /etc/kubernetes/pki/etcd/server.crt \
                --key /etc/kubernetes/pki/etcd/server.key"
            .into();
    }
    let mut flags = format!("--endpoints {}", g.endpoints.join(","));
    for (flag, file) in [
        ("--cacert", &g.cacert),
        ("--cert", &g.cert),
        ("--key", &g.key),
    ] {
        if let Some(f) = file {
            flags.push_str(&format!(
                " {flag} {}",
                shell_quote(&f.display().to_string())
            ));
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(name: &str, applied: u64, rev: i64) -> Candidate {
        Candidate {
            name: name.into(),
            id: None,
            seen: Seen::Live,
            location: format!("http://{name}:2379"),
            revision: Some(rev),
            raft_term: Some(3),
            applied_index: Some(applied),
            consistent_index: None,
            error: None,
        }
    }

    fn offline(name: &str, ci: u64, rev: i64) -> Candidate {
        Candidate {
            seen: Seen::Offline,
            applied_index: None,
            consistent_index: Some(ci),
            raft_term: None,
            location: format!("/d/{name}"),
            ..live(name, 0, rev)
        }
    }

    fn gone(name: &str) -> Candidate {
        Candidate {
            seen: Seen::Unknown,
            revision: None,
            applied_index: None,
            raft_term: None,
            error: Some("connection refused".into()),
            ..live(name, 0, 0)
        }
    }

    #[test]
    fn a_quorum_that_answers_is_refused() {
        assert!(quorum_refusal(3, 2).unwrap().contains("2 of 3"));
        assert!(quorum_refusal(3, 3).is_some());
        assert_eq!(quorum_refusal(3, 1), None);
        assert_eq!(quorum_refusal(5, 2), None);
        assert!(quorum_refusal(1, 1).is_some());
        assert_eq!(quorum_refusal(0, 0), None);
    }

    #[test]
    fn the_highest_index_wins_then_the_revision_whatever_the_order() {
        let c = vec![
            gone("m0"),
            offline("m1", 90, 80),
            offline("m2", 120, 100),
            live("m3", 120, 101),
        ];
        let ch = choose(&c, None).unwrap();
        assert_eq!(ch.survivor, "m3");
        assert_eq!((ch.revisions_lost, ch.entries_behind), (0, 0));
        assert_eq!(ch.warning, None);
        // Without m3, m2 wins though m1 comes first.
        let ch = choose(&c[..3], None).unwrap();
        assert_eq!(ch.survivor, "m2");
        // A tie on both keeps the first given.
        let tie = vec![offline("a", 5, 5), offline("b", 5, 5)];
        assert_eq!(choose(&tie, None).unwrap().survivor, "a");
    }

    #[test]
    fn a_chosen_member_behind_the_best_warns_with_what_is_lost() {
        let c = vec![offline("m1", 90, 80), offline("m2", 120, 100)];
        let ch = choose(&c, Some("m1")).unwrap();
        assert_eq!(ch.survivor, "m1");
        assert_eq!(ch.most_up_to_date, "m2");
        assert_eq!((ch.revisions_lost, ch.entries_behind), (20, 30));
        let w = ch.warning.unwrap();
        assert!(
            w.contains("behind `m2` by 30 raft entries and 20 revisions"),
            "{w}"
        );
        assert_eq!(
            choose(&c, Some("x")).unwrap_err(),
            ChoiceError::Unknown("x".into())
        );
        let c = vec![gone("m0"), offline("m1", 1, 1)];
        assert_eq!(
            choose(&c, Some("m0")).unwrap_err(),
            ChoiceError::NotSurveyed("m0".into())
        );
        assert_eq!(
            choose(&[gone("m0")], None).unwrap_err(),
            ChoiceError::NoCandidate
        );
    }

    #[test]
    fn pods_a_controller_owns_are_not_fought_static_pods_are_fine() {
        let pod = |owner: Option<(&str, &str)>| PodInfo {
            namespace: "kube-system".into(),
            name: "etcd-0".into(),
            owner: owner.map(|(k, n)| (k.into(), n.into())),
            ..Default::default()
        };
        assert_eq!(
            controller_refusal(&[pod(Some(("Node", "cp1"))), pod(None)]),
            None
        );
        let r = controller_refusal(&[pod(Some(("StatefulSet", "etcd")))]).unwrap();
        assert!(r.contains("owned by StatefulSet `etcd`"), "{r}");
        assert!(controller_refusal(&[pod(Some(("EtcdCluster", "main")))]).is_some());
    }

    fn lost(name: &str) -> Lost {
        Lost {
            name: name.into(),
            peer_urls: vec![format!("http://{name}:2380")],
            client_url: format!("http://{name}:2379"),
        }
    }

    #[test]
    fn the_plan_adds_members_back_one_at_a_time_with_their_exact_flags() {
        let c = vec![live("m0", 50, 40), gone("m1"), gone("m2")];
        let choice = choose(&c, None).unwrap();
        let layout = Layout {
            data_dir: "/var/lib/etcd".into(),
            new_data_dir: "/var/lib/etcd".into(),
            connection: "--endpoints http://m0:2379".into(),
        };
        let p = plan(
            c,
            choice,
            vec!["http://m0:2380".into()],
            vec![lost("m1"), lost("m2")],
            &layout,
        );
        assert_eq!(p.revision, 40);
        assert!(p.steps[1].contains("/var/lib/etcd.recover-backup-r40.db"));
        assert!(p.steps[3].contains("revision 40"));
        assert_eq!(p.nodes.len(), 3);
        assert!(p.nodes[0].commands[0].starts_with(
            "kubectl etcd --endpoints http://m0:2379 recover --local --member m0 --data-dir /var/lib/etcd"
        ));
        // m2 joins a cluster of m0 and m1.
        let m2 = p.nodes[2].commands.last().unwrap();
        assert!(
            m2.contains("--initial-cluster=m0=http://m0:2380,m1=http://m1:2380,m2=http://m2:2380"),
            "{m2}"
        );
        assert!(m2.contains("--initial-cluster-state=existing"), "{m2}");
        let m1 = p.nodes[1].commands.last().unwrap();
        assert!(
            m1.contains("--initial-cluster=m0=http://m0:2380,m1=http://m1:2380 "),
            "{m1}"
        );
    }

    #[test]
    fn the_flag_is_added_once_and_removed_everywhere() {
        let argv: Vec<String> = ["etcd", "--name=m0", "--force-new-cluster", "--data-dir=/d"]
            .map(String::from)
            .to_vec();
        let on = with_force(&argv, true);
        assert_eq!(on.iter().filter(|a| *a == FORCE_FLAG).count(), 1);
        assert_eq!(on.last().unwrap(), FORCE_FLAG);
        assert!(!with_force(&argv, false).iter().any(|a| a.contains("force")));
        let m = "spec:\n  containers:\n  - command:\n    - etcd\n    - --data-dir=/var/lib/etcd\n    - --name=m0\n";
        let forced = manifest_with_force(m, true).unwrap();
        assert!(
            forced.contains(
                "    - --data-dir=/var/lib/etcd\n    - --force-new-cluster\n    - --name=m0\n"
            ),
            "{forced}"
        );
        assert_eq!(manifest_with_force(&forced, false).unwrap(), m);
        assert_eq!(manifest_with_force(&forced, true).unwrap(), forced);
        assert_eq!(manifest_with_force("kind: Pod\n", true), None);
    }

    fn journal(runner: Runner, done: usize) -> Journal {
        Journal {
            survivor: "m0".into(),
            revision: 40,
            root: PathBuf::from("/r"),
            data_dir: PathBuf::from("/var/lib/etcd"),
            runner,
            lost: vec![lost("m1"), lost("m2")],
            done,
            counts_before: vec![],
        }
    }

    fn actions(steps: &[Planned]) -> Vec<String> {
        steps
            .iter()
            .map(|s| {
                let v = serde_json::to_value(s).unwrap();
                v["action"].as_str().unwrap().to_string()
            })
            .collect()
    }

    #[test]
    fn a_process_is_stopped_backed_up_forced_and_restarted_without_the_flag() {
        let argv: Vec<String> = ["etcd", "--name=m0", "--data-dir=/r/var/lib/etcd"]
            .map(String::from)
            .to_vec();
        let steps = local_plan(&journal(Runner::Process { pid: 7, argv }, 0));
        assert_eq!(
            actions(&steps),
            [
                "stopProcess",
                "waitStopped",
                "backup",
                "startProcess",
                "waitForced",
                "stopRunning",
                "waitStopped",
                "startProcess",
                "waitHealthy",
                "addBack",
                "addBack"
            ]
        );
        match &steps[2].step {
            Step::Backup { db, to } => {
                assert_eq!(db, Path::new("/r/var/lib/etcd/member/snap/db"));
                assert_eq!(to, Path::new("/r/var/lib/etcd.recover-backup-r40.db"));
            }
            s => panic!("{s:?}"),
        }
        assert!(steps[3].step.leaves_flag_on());
        assert!(!steps[7].step.leaves_flag_on());
        assert!(!flag_on_after(&steps, 3));
        assert!(flag_on_after(&steps, 4));
        assert!(flag_on_after(&steps, 5));
        assert!(!flag_on_after(&steps, 6));
        assert!(!flag_on_after(&steps, steps.len()));
        let resumed = local_plan(&journal(
            Runner::Process {
                pid: 7,
                argv: vec!["etcd".into()],
            },
            5,
        ));
        assert_eq!(resumed.iter().filter(|s| s.done).count(), 5);
        assert_eq!(
            resumed[9].undo.as_deref(),
            Some("kubectl etcd resize remove m1")
        );
    }

    #[test]
    fn a_unit_gets_the_flag_from_a_drop_in_for_one_start() {
        let steps = local_plan(&journal(
            Runner::Service {
                unit: "etcd".into(),
            },
            0,
        ));
        assert_eq!(
            actions(&steps)[..11],
            [
                "stopService",
                "waitStopped",
                "backup",
                "writeDropIn",
                "startService",
                "waitForced",
                "stopService",
                "waitStopped",
                "removeDropIn",
                "startService",
                "waitHealthy",
            ]
        );
        match &steps[3].step {
            Step::WriteDropIn { path } => assert_eq!(
                path,
                Path::new(
                    "/r/etc/systemd/system/etcd.service.d/90-kubectl-etcd-force-new-cluster.conf"
                )
            ),
            s => panic!("{s:?}"),
        }
        assert!(!flag_on_after(&steps, 4));
        assert!(flag_on_after(&steps, 5));
        assert!(flag_on_after(&steps, 6));
        assert!(!flag_on_after(&steps, 7));
        assert!(!flag_on_after(&steps, 10));
    }

    #[test]
    fn a_static_pod_is_stopped_and_started_by_moving_its_manifest() {
        let steps = local_plan(&journal(
            Runner::Manifest {
                manifest: PathBuf::from("/etc/kubernetes/manifests/etcd.yaml"),
            },
            0,
        ));
        assert_eq!(
            actions(&steps)[..9],
            [
                "moveManifestAside",
                "waitStopped",
                "backup",
                "writeForcedManifest",
                "waitForced",
                "moveManifestAside",
                "waitStopped",
                "startManifest",
                "waitHealthy",
            ]
        );
        assert_eq!(
            steps[0].undo.as_deref(),
            Some("mv /r/etc/kubernetes/etcd.yaml.before-recover /r/etc/kubernetes/manifests/etcd.yaml")
        );
        match &steps[5].step {
            Step::Local {
                step: LocalStep::MoveManifestAside { to, .. },
            } => assert_eq!(
                to,
                Path::new("/r/etc/kubernetes/etcd.yaml.force-new-cluster")
            ),
            s => panic!("{s:?}"),
        }
        assert!(flag_on_after(&steps, 4));
        assert!(!flag_on_after(&steps, 6));
    }
}
