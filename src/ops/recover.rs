//! Recovering a cluster whose quorum is lost for good, from its most
//! up-to-date surviving member: the survey (live members and data dirs
//! read offline), the choice of the survivor, and the plan (back up, force
//! a new one-member cluster, remove the flag, grow back one member at a
//! time) as pure data; then the executor for the survivor's node.
//!
//! `--force-new-cluster` rewrites the membership to the survivor alone, and
//! every later start with the flag would do it again: the plan always
//! removes it right after the forced start, and a re-run after an
//! interruption finds (in the journal next to the data dir) that it is
//! still on. The node-local actions are the restore wizard's
//! [`LocalStep`]s; members are grown back with resize's `add`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::cluster_state::same_url;
use super::cluster_state::LAG_THRESHOLD;
use super::resize::executor as resize_exec;
use super::resize::Change;
use super::resize::{quorum, start_instructions, StartInstructions};
use super::restore::executor::{self as restore_exec, NodeArgs};
use super::restore::{rooted, shell_quote, LocalStep};
use super::{Interrupt, Operator};
use crate::connect::PodInfo;
use crate::context::Cluster;
use crate::error::{Error, Kind, Result};
use crate::etcd::{self, EtcdClient};
use crate::keyspace::scan::{scan, Page, ScanOptions};

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
    suffixed(data_dir, ".recover.json")
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
#[serde(tag = "action", rename_all = "camelCase")]
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

// ----- reading: the live survey and the offline data dirs -----------------

/// What a data dir shows, read offline from `member/snap/db`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Offline {
    pub revision: i64,
    pub consistent_index: Option<u64>,
    /// Recorded by etcd 3.5+ next to the consistent index.
    pub term: Option<u64>,
    /// The member list the backend holds (`members` bucket).
    pub members: Vec<Lost>,
}

/// Read a stopped member's data dir with the plugin's database reader: the
/// revision from bucket `key` (its last key is the newest revision), the
/// consistent index and term from bucket `meta`, the members from bucket
/// `members`.
pub fn read_offline(data_dir: &Path) -> Result<Offline> {
    read_db(&data_dir.join("member/snap/db"))
}

/// [`read_offline`] of one database file.
fn read_db(path: &Path) -> Result<Offline> {
    use crate::snapshot::bolt::Db;
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading `{}`", path.display()), e))?;
    let bad = |e: crate::snapshot::bolt::BoltError| {
        Error::data(format!(
            "`{}` is not a readable etcd database: {e}",
            path.display()
        ))
    };
    let db = Db::open(&bytes).map_err(bad)?;
    let mut out = Offline::default();
    if let Some(key) = db.bucket(b"key").map_err(bad)? {
        db.walk(&key, &mut |k, _, _| {
            if let Some(r) = crate::snapshot::parse_revision(k) {
                out.revision = out.revision.max(r.main);
            }
            Ok(())
        })
        .map_err(bad)?;
    }
    if let Some(meta) = db.bucket(b"meta").map_err(bad)? {
        db.walk(&meta, &mut |k, v, _| {
            let n = <[u8; 8]>::try_from(v).ok().map(u64::from_be_bytes);
            match k {
                b"consistent_index" => out.consistent_index = n,
                b"term" => out.term = n,
                _ => {}
            }
            Ok(())
        })
        .map_err(bad)?;
    }
    if let Some(members) = db.bucket(b"members").map_err(bad)? {
        db.walk(&members, &mut |_, v, _| {
            if let Ok(m) = serde_json::from_slice::<StoredMember>(v) {
                out.members.push(m.lost());
            }
            Ok(())
        })
        .map_err(bad)?;
    }
    Ok(out)
}

/// A member as etcd stores it in bucket `members`.
#[derive(Deserialize)]
struct StoredMember {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "peerURLs")]
    peer_urls: Vec<String>,
    #[serde(default, rename = "clientURLs")]
    client_urls: Vec<String>,
}

impl StoredMember {
    fn lost(self) -> Lost {
        Lost {
            client_url: client_url_of(&self.client_urls, &self.peer_urls),
            name: self.name,
            peer_urls: self.peer_urls,
        }
    }
}

/// The first client URL, else the peer URL's host on port 2379.
fn client_url_of(client_urls: &[String], peer_urls: &[String]) -> String {
    if let Some(u) = client_urls.first() {
        return u.clone();
    }
    let peer = peer_urls
        .first()
        .map(String::as_str)
        .unwrap_or("http://127.0.0.1:2380");
    match peer.rsplit_once(':') {
        Some((host, _)) => format!("{host}:2379"),
        None => peer.to_string(),
    }
}

/// Everything the survey learnt.
pub struct Surveyed {
    pub candidates: Vec<Candidate>,
    /// The member list (live, else from the first data dir read).
    pub members: Vec<Lost>,
    pub voters: usize,
    pub answering_voters: usize,
    /// Connections to the members that answered, by name.
    pub clients: Vec<(String, EtcdClient)>,
}

impl Surveyed {
    pub fn client(&self, name: &str) -> Option<&EtcdClient> {
        self.clients.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }
}

/// Ask every member that answers (in direct mode also at the client URLs
/// the member list advertises) and read each `--data-dir NAME=PATH`.
pub async fn survey(cluster: &Cluster, data_dirs: &[(String, PathBuf)]) -> Surveyed {
    let (live, _) = resize_exec::survey_all(cluster).await;
    let list = live.members.clone().unwrap_or_default();
    let mut candidates = Vec::new();
    let mut members: Vec<Lost> = Vec::new();
    let mut answering_voters = 0;
    let mut clients = Vec::new();
    for m in &list {
        let view = live
            .views
            .iter()
            .find(|v| v.member_id() == Some(m.id))
            .or_else(|| {
                live.views.iter().find(|v| {
                    m.client_urls
                        .iter()
                        .any(|u| same_url(u, &v.target.endpoint))
                })
            });
        let status = view
            .and_then(|v| v.status.as_ref())
            .filter(|s| s.member_id == m.id);
        let name = if m.name.is_empty() {
            etcd::format_id(m.id)
        } else {
            m.name.clone()
        };
        if status.is_some() {
            if !m.is_learner {
                answering_voters += 1;
            }
            if let Some(c) = view.and_then(|v| v.client.clone()) {
                clients.push((name.clone(), c));
            }
        }
        candidates.push(Candidate {
            name: name.clone(),
            id: Some(etcd::format_id(m.id)),
            seen: if status.is_some() {
                Seen::Live
            } else {
                Seen::Unknown
            },
            location: view
                .map(|v| v.target.endpoint.clone())
                .or_else(|| m.client_urls.first().cloned())
                .unwrap_or_default(),
            revision: status.map(|s| s.revision),
            raft_term: status.map(|s| s.raft_term),
            applied_index: status.map(|s| s.raft_applied_index),
            consistent_index: None,
            error: match status {
                Some(_) => None,
                None => Some(
                    view.and_then(|v| v.error.as_ref())
                        .map(|e| e.message.clone())
                        .unwrap_or_else(|| "not reachable".into()),
                ),
            },
        });
        members.push(Lost {
            name,
            peer_urls: m.peer_urls.clone(),
            client_url: client_url_of(&m.client_urls, &m.peer_urls),
        });
    }
    let voters = list.iter().filter(|m| !m.is_learner).count();
    for (name, dir) in data_dirs {
        let read = read_offline(dir);
        let c = match &read {
            Ok(o) => Candidate {
                name: name.clone(),
                id: None,
                seen: Seen::Offline,
                location: dir.display().to_string(),
                revision: Some(o.revision),
                raft_term: o.term,
                applied_index: None,
                consistent_index: o.consistent_index,
                error: None,
            },
            Err(e) => Candidate {
                name: name.clone(),
                id: None,
                seen: Seen::Unknown,
                location: dir.display().to_string(),
                revision: None,
                raft_term: None,
                applied_index: None,
                consistent_index: None,
                error: Some(e.message.clone()),
            },
        };
        if let Ok(o) = read {
            if members.is_empty() {
                members = o.members;
            }
        }
        // An offline read replaces a live row that could not answer.
        match candidates.iter_mut().find(|x| x.name == *name) {
            Some(row) if row.seen != Seen::Live => {
                *row = Candidate {
                    id: row.id.clone(),
                    ..c
                }
            }
            Some(_) => candidates.push(c),
            None => candidates.push(c),
        }
    }
    let voters = if voters == 0 { members.len() } else { voters };
    members.sort_by(|a, b| a.name.cmp(&b.name));
    candidates.sort_by(|a, b| a.name.cmp(&b.name));
    Surveyed {
        candidates,
        members,
        voters,
        answering_voters,
        clients,
    }
}

/// Keys per type, read from `client` alone (serializable: the survivor
/// answers without quorum), at one revision.
pub async fn count_types(
    client: &EtcdClient,
    prefix: &str,
    serializable: bool,
) -> Result<(i64, Vec<(String, u64)>)> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let opts = ScanOptions {
        serializable,
        ..ScanOptions::keys_only()
    };
    let summary = scan(
        &etcd::Readers::single(client.clone()),
        prefix,
        b"\0",
        &[0],
        opts,
        |page| {
            match page {
                Page::Keys(kvs) => {
                    for kv in kvs {
                        *counts
                            .entry(crate::snapshot::type_of(kv.key(), prefix).0)
                            .or_default() += 1;
                    }
                }
                Page::Restart { .. } => counts.clear(),
                // Keys per type stay right when a scan resumes.
                Page::Resumed { .. } => {}
            }
            Ok(())
        },
    )
    .await?;
    Ok((summary.revision, counts.into_iter().collect()))
}

/// Survey, refuse when a quorum answers, and choose the survivor.
pub async fn assess(
    cluster: &Cluster,
    data_dirs: &[(String, PathBuf)],
    want: Option<&str>,
) -> Result<(Surveyed, Choice)> {
    let surveyed = survey(cluster, data_dirs).await;
    if let Some(why) = quorum_refusal(surveyed.voters, surveyed.answering_voters) {
        return Err(
            Error::new(Kind::Refused, format!("refusing to recover: {why}")).with_hint(
                "a member that is gone for good is replaced while the quorum holds: \
                 `kubectl etcd resize replace NAME --peer-urls URL`",
            ),
        );
    }
    let choice = choose(&surveyed.candidates, want).map_err(|e| {
        let hint = match e {
            ChoiceError::NoCandidate => {
                "pass the endpoints of the members still running, or --data-dir NAME=PATH \
                 for the data dirs of those that no longer start"
            }
            _ => "pass --member with the name of a member the survey read",
        };
        Error::new(
            match e {
                ChoiceError::NoCandidate => Kind::Unavailable,
                _ => Kind::Usage,
            },
            e.to_string(),
        )
        .with_hint(hint)
    })?;
    Ok((surveyed, choice))
}

/// How to find etcd on the survivor's node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The member's data dir (node path), when given.
    pub data_dir: Option<PathBuf>,
    /// A plain etcd process.
    pub pid: Option<u32>,
    /// A systemd unit running etcd.
    pub service: Option<String>,
    /// Static pod manifest dir (node path).
    pub manifest_dir: PathBuf,
    /// Prefix of every node path.
    pub root: PathBuf,
}

/// What runs etcd here, its data dir (node path) and member name.
#[derive(Debug, Clone)]
pub struct FoundNode {
    pub runner: Runner,
    pub data_dir: PathBuf,
    pub name: Option<String>,
}

/// Find the survivor's etcd: `--pid`, else `--service` (with `--data-dir`),
/// else the static pod manifest (or the copy this wizard set aside), else
/// the process running on `--data-dir`.
pub fn find_node(spec: &NodeSpec) -> Result<FoundNode> {
    use super::restore::{data_dir_arg, manifest_data_dir, manifest_name, name_arg};
    let process = |pid: u32| -> Result<FoundNode> {
        let argv = restore_exec::cmdline(pid).ok_or_else(|| {
            Error::new(Kind::NotFound, format!("no process {pid}"))
                .with_hint("pass the pid of the surviving etcd, or its --data-dir")
        })?;
        let data_dir = spec
            .data_dir
            .clone()
            .or_else(|| data_dir_arg(&argv).map(PathBuf::from))
            .ok_or_else(|| {
                Error::usage(format!("process {pid} has no --data-dir flag"))
                    .with_hint("pass --data-dir DIR")
            })?;
        let name = name_arg(&argv);
        Ok(FoundNode {
            runner: Runner::Process { pid, argv },
            data_dir,
            name,
        })
    };
    if let Some(pid) = spec.pid {
        return process(pid);
    }
    if let Some(unit) = &spec.service {
        return Ok(FoundNode {
            runner: Runner::Service { unit: unit.clone() },
            data_dir: spec
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("/var/lib/etcd")),
            name: None,
        });
    }
    let manifest = spec.manifest_dir.join("etcd.yaml");
    let (aside, _) = manifest_asides(&manifest);
    let text = std::fs::read_to_string(rooted(&spec.root, &manifest))
        .or_else(|_| std::fs::read_to_string(rooted(&spec.root, &aside)));
    if let Ok(text) = text {
        let data_dir = spec
            .data_dir
            .clone()
            .or_else(|| manifest_data_dir(&text).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/var/lib/etcd"));
        return Ok(FoundNode {
            runner: Runner::Manifest { manifest },
            data_dir,
            name: manifest_name(&text),
        });
    }
    if let Some(dir) = &spec.data_dir {
        if let Some(pid) = restore_exec::etcd_on(&rooted(&spec.root, dir), &spec.root) {
            return process(pid);
        }
    }
    Err(Error::usage(format!(
        "no etcd found here: no manifest at `{}`, no --pid, and no etcd running on --data-dir",
        rooted(&spec.root, &manifest).display()
    ))
    .with_hint(
        "run this on the survivor's node; pass --pid PID or --data-dir DIR for a plain process",
    ))
}

/// The unfinished recovery recorded next to `data_dir`, if any.
pub fn load_journal(root: &Path, data_dir: &Path) -> Result<Option<Journal>> {
    let path = journal_path(&rooted(root, data_dir));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading `{}`", path.display()), e)),
    };
    let j: Journal = serde_json::from_str(&text).map_err(|e| {
        Error::data(format!(
            "`{}` is not a recovery journal: {e}",
            path.display()
        ))
        .with_hint("move it away to start a new recovery")
    })?;
    Ok((j.done < local_plan(&j).len()).then_some(j))
}

/// Write the journal (atomically) next to the survivor's data dir.
pub fn save_journal(j: &Journal) -> Result<()> {
    let path = journal_path(&rooted(&j.root, &j.data_dir));
    let part = super::snapshot::part_path(&path);
    let text = serde_json::to_string_pretty(j).expect("a journal serializes");
    std::fs::write(&part, text)
        .and_then(|_| std::fs::rename(&part, &path))
        .map_err(|e| Error::io(format!("writing `{}`", path.display()), e))
}

// ----- the executor ---------------------------------------------------------

/// How the executor waits, and where members added back keep their data.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// For etcd to stop, to be healthy, and for each member added back to
    /// start and catch up.
    pub wait: Duration,
    /// Data dir of a member added back, for its start instructions
    /// (`{name}` is its name).
    pub new_data_dir: String,
}

/// What the executor did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub done: Vec<String>,
    /// The etcd process this run left running (plain process mode).
    pub started_pid: Option<u32>,
    /// The survivor's revision once healthy without the flag.
    pub revision: Option<i64>,
    /// Members added back, in order.
    pub added: Vec<String>,
}

/// Follow the plan on the survivor's node from `journal.done`: each step
/// confirmed with the operator, run, and recorded in the journal (saved
/// next to the data dir) before the next, so a re-run resumes after the
/// last step done. Ctrl-C stops between steps, lets a step under way
/// finish (a second Ctrl-C leaves it) and abandons a wait; the error says
/// what was done and whether the flag is still on (exit 130).
pub async fn execute(
    journal: &mut Journal,
    cluster: &Cluster,
    pacing: &Pacing,
    interrupt: &Interrupt,
    op: &mut dyn Operator,
) -> Result<Outcome> {
    let steps = local_plan(journal);
    let total = steps.len();
    let mut outcome = Outcome::default();
    let node = NodeArgs {
        data_dir: None,
        name: None,
        manifest_dir: PathBuf::from("/"),
        pid: None,
        service: None,
        root: journal.root.clone(),
        wait: pacing.wait,
    };
    for (i, planned) in steps.iter().enumerate() {
        if planned.done {
            continue;
        }
        let step = &planned.step;
        if interrupt.fired() {
            return Err(stopped(&steps, i, "before the next step"));
        }
        op.note(&format!("step {}/{total}: {}", i + 1, step.describe()));
        if let Some(u) = &planned.undo {
            op.note(&format!("  undo: {u}"));
        }
        op.confirm(&format!("step {}: {}", i + 1, step.short()))?;
        let what = format!("step {} ({})", i + 1, step.short());
        let result = match step {
            Step::Local { step } => {
                let run = restore_exec::execute(step, &node);
                match interrupt.finish(run, &what, &mut |l| op.note(l)).await {
                    Ok(Ok(pid)) => {
                        outcome.started_pid = pid.or(outcome.started_pid);
                        Ok(())
                    }
                    Ok(Err(e)) => Err(e),
                    Err(()) => return Err(stopped(&steps, i, "during this step, abandoned")),
                }
            }
            Step::StopRunning { data_dir } => {
                match restore_exec::etcd_on(data_dir, &journal.root) {
                    Some(pid) => {
                        let stop = restore_exec::stop_process(pid, pacing.wait);
                        match interrupt.finish(stop, &what, &mut |l| op.note(l)).await {
                            Ok(r) => r,
                            Err(()) => {
                                return Err(stopped(&steps, i, "during this step, abandoned"))
                            }
                        }
                    }
                    None => Ok(()),
                }
            }
            Step::Backup { db, to } => backup(db, to, journal.revision),
            Step::WriteForcedManifest { from, to } => write_forced(from, to),
            Step::WriteDropIn { path } => set_drop_in(path, true).await,
            Step::RemoveDropIn { path } => set_drop_in(path, false).await,
            Step::WaitForced { revision } | Step::WaitHealthy { revision } => {
                let alone = matches!(step, Step::WaitForced { .. });
                let wait = wait_survivor(cluster, &journal.survivor, *revision, alone, pacing.wait);
                match interrupt.unless(wait).await {
                    Some(Ok(rev)) => {
                        op.note(&format!(
                            "  `{}` is healthy at revision {rev} (surveyed: {revision})",
                            journal.survivor
                        ));
                        outcome.revision = Some(rev);
                        Ok(())
                    }
                    Some(Err(e)) => Err(e),
                    None => return Err(stopped(&steps, i, "while waiting")),
                }
            }
            Step::AddBack { member } => {
                match add_back(cluster, member, pacing, interrupt, op).await {
                    Ok(()) => {
                        outcome.added.push(member.name.clone());
                        Ok(())
                    }
                    Err(e) if e.kind == Kind::Interrupted => {
                        return Err(stopped(&steps, i, "while adding a member back"))
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = result {
            let mut hint = String::from(
                "fix the cause and run the same command again: it resumes at this step",
            );
            if flag_on_after(&steps, i) {
                hint.push_str(&format!(
                    "; etcd still runs with {FORCE_FLAG}: do not restart it by hand with the flag"
                ));
            }
            return Err(e.context(format!("step {}", i + 1)).with_hint(hint));
        }
        journal.done = i + 1;
        save_journal(journal)?;
        op.note("  done");
        outcome.done.push(step.short());
    }
    Ok(outcome)
}

/// resize's `add` for a lost member: learner, the exact start flags (kept
/// by the operator), catch-up, promotion; nothing when it is back already.
async fn add_back(
    cluster: &Cluster,
    member: &Lost,
    pacing: &Pacing,
    interrupt: &Interrupt,
    op: &mut dyn Operator,
) -> Result<()> {
    let request = resize_exec::Request {
        change: Change::Add {
            name: member.name.clone(),
            peer_urls: member.peer_urls.clone(),
        },
        new: Some(resize_exec::NewMember {
            peer_urls: member.peer_urls.clone(),
            client_url: Some(member.client_url.clone()),
            learner_endpoint: None,
            data_dir: pacing.new_data_dir.replace("{name}", &member.name),
            no_promote: false,
            wait: pacing.wait,
            catch_up_threshold: LAG_THRESHOLD,
        }),
        force: false,
        no_scale: true,
    };
    let prepared = resize_exec::prepare(cluster, &request).await?;
    if prepared.plan.is_done() {
        op.note(&format!("  `{}` is a voting member already", member.name));
        return Ok(());
    }
    resize_exec::execute(cluster, prepared, &request, interrupt, op)
        .await
        .map(|_| ())
}

/// The error for Ctrl-C at step `i`: what was done, what is left, and
/// whether the flag is still on.
fn stopped(steps: &[Planned], i: usize, when: &str) -> Error {
    let done: Vec<String> = steps[..i].iter().map(|s| s.step.short()).collect();
    let left: Vec<String> = steps[i..].iter().map(|s| s.step.short()).collect();
    let mut msg = format!(
        "interrupted (Ctrl-C) {when}: {} of {} steps done",
        done.len(),
        steps.len()
    );
    if let Some(last) = done.last() {
        msg.push_str(&format!(" (last: {last})"));
    }
    msg.push_str(&format!("; left: {}", left.join(", ")));
    if flag_on_after(steps, i) {
        msg.push_str(&format!("; etcd runs with {FORCE_FLAG} now"));
    }
    Error::interrupted(msg)
        .with_hint("run the same command again: it resumes where it stopped and removes the flag")
}

/// Copy the db aside (`.part`, fsync, rename) and check the copy: the same
/// sha256 as the source, and readable with the surveyed revision. An
/// existing verified copy is kept as it is.
fn backup(db: &Path, to: &Path, revision: i64) -> Result<()> {
    if to.exists() {
        return read_db(to).map(|_| ());
    }
    let part = super::snapshot::part_path(to);
    {
        use std::io::Write;
        let mut src = std::fs::File::open(db)
            .map_err(|e| Error::io(format!("opening `{}`", db.display()), e))?;
        let mut out = std::fs::File::create(&part)
            .map_err(|e| Error::io(format!("creating `{}`", part.display()), e))?;
        std::io::copy(&mut src, &mut out)
            .and_then(|_| out.flush())
            .and_then(|_| out.sync_all())
            .map_err(|e| Error::io(format!("copying `{}`", db.display()), e))?;
    }
    let checked = if file_sha256(db)? != file_sha256(&part)? {
        Err(Error::new(
            Kind::Io,
            format!("the copy of `{}` differs from it", db.display()),
        )
        .with_hint("check the disk, then run again"))
    } else {
        match read_db(&part) {
            Ok(o) if o.revision >= revision => Ok(()),
            Ok(o) => Err(Error::data(format!(
                "the copy of `{}` holds revision {}, the survey saw {revision}",
                db.display(),
                o.revision
            ))),
            Err(e) => Err(e),
        }
    };
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    std::fs::rename(&part, to).map_err(|e| Error::io(format!("renaming `{}`", part.display()), e))
}

/// Write (or remove) the drop-in, then `systemctl daemon-reload`.
async fn set_drop_in(path: &Path, on: bool) -> Result<()> {
    let done = if on {
        let dir = path.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir).and_then(|_| {
            std::fs::write(
                path,
                "# written by kubectl etcd recover for one start; removed right after\n\
                 [Service]\nEnvironment=ETCD_FORCE_NEW_CLUSTER=true\n",
            )
        })
    } else {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    };
    done.map_err(|e| Error::io(format!("writing `{}`", path.display()), e))?;
    let status = tokio::process::Command::new("systemctl")
        .arg("daemon-reload")
        .status()
        .await
        .map_err(|e| Error::io("running systemctl daemon-reload", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(
            Kind::Other,
            format!("`systemctl daemon-reload` failed: {status}"),
        ))
    }
}

/// Write `to`: the manifest `from` with the flag added.
fn write_forced(from: &Path, to: &Path) -> Result<()> {
    let text = std::fs::read_to_string(from)
        .map_err(|e| Error::io(format!("reading `{}`", from.display()), e))?;
    let forced = manifest_with_force(&text, true).ok_or_else(|| {
        Error::data(format!(
            "`{}` has no `- --data-dir=` argument to add {FORCE_FLAG} next to",
            from.display()
        ))
        .with_hint("add the flag to etcd's command by hand, or run etcd with it yourself")
    })?;
    let part = super::snapshot::part_path(to);
    std::fs::write(&part, forced)
        .and_then(|_| std::fs::rename(&part, to))
        .map_err(|e| Error::io(format!("writing `{}`", to.display()), e))
}

/// Wait until the survivor answers a linearizable read (so it leads a
/// quorum), and its member list is just itself when `alone`; its
/// revision must not be below `revision` (nothing acknowledged lost).
async fn wait_survivor(
    cluster: &Cluster,
    survivor: &str,
    revision: i64,
    alone: bool,
    wait: Duration,
) -> Result<i64> {
    let deadline = Instant::now() + wait;
    loop {
        let last = match check_survivor(cluster, survivor, alone).await {
            Ok(rev) if rev >= revision => return Ok(rev),
            Ok(rev) => {
                return Err(Error::new(
                    Kind::Refused,
                    format!(
                        "`{survivor}` came back at revision {rev}, below the {revision} the                          survey saw"
                    ),
                )
                .with_hint("it is not the data the survey read: check its data dir and log"))
            }
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(last.context(format!(
                "`{survivor}` is not a healthy {}cluster after {}",
                if alone { "one-member " } else { "" },
                humantime::format_duration(wait)
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn check_survivor(cluster: &Cluster, survivor: &str, alone: bool) -> Result<i64> {
    let client = cluster.connect_any().await?;
    etcd::health_check(&client).await?;
    let members = etcd::member_list(&client).await?;
    if alone && (members.len() != 1 || members[0].name != survivor) {
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        return Err(Error::new(
            Kind::Unavailable,
            format!("the member list is still [{}]", names.join(", ")),
        ));
    }
    Ok(etcd::maintenance::current_revision(&client, false).await?)
}

fn file_sha256(p: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut f =
        std::fs::File::open(p).map_err(|e| Error::io(format!("opening `{}`", p.display()), e))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::io(format!("reading `{}`", p.display()), e))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(ctx.finish().as_ref().to_vec())
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
