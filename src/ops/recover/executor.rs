//! The recovery's I/O: the survey (live members, data dirs read offline
//! with the plugin's database reader), the survivor's node (manifest,
//! process or unit) and its journal, and the executor that follows the
//! plan step by step behind an [`Operator`], growing the cluster back with
//! resize's `add`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{
    choose, flag_on_after, journal_path, local_plan, manifest_asides, manifest_with_force,
    quorum_refusal, Candidate, Choice, Journal, Lost, Planned, Runner, Seen, Step, FORCE_FLAG,
};
use crate::context::Cluster;
use crate::etcd::{self, EtcdClient};
use crate::keyspace::scan::{scan, Page, ScanOptions};
use crate::ops::cluster_state::{same_url, LAG_THRESHOLD};
use crate::ops::error::{Guarded, ManifestPart};
use crate::ops::journal;
use crate::ops::resize::executor as resize_exec;
use crate::ops::resize::Change;
use crate::ops::restore::executor::{self as restore_exec, NodeArgs};
use crate::ops::restore::rooted;
use crate::ops::{Error, Interrupt, Operator, Result};

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

/// [`read_offline`] of one database file, through the flat-memory reader
/// (positioned page reads: memory does not grow with the file).
fn read_db(path: &Path) -> Result<Offline> {
    use crate::dbfile::{DbError, DbFile};
    let bad = |e: DbError| Error::NotADatabase {
        path: path.to_path_buf(),
        source: e.into(),
    };
    let file = DbFile::open(path).map_err(bad)?;
    let db = file.db().map_err(bad)?;
    let mut out = Offline::default();
    // Damage anywhere is an error: a survivor is chosen on these figures.
    let mut strict = |e: DbError| Err(e);
    if let Some(key) = db.bucket(b"key").map_err(bad)? {
        db.walk(&key, &mut strict, &mut |e| {
            if let Some(r) = crate::dbfile::parse_revision(e.key) {
                out.revision = out.revision.max(r.main);
            }
            Ok(true)
        })
        .map_err(bad)?;
    }
    if let Some(meta) = db.bucket(b"meta").map_err(bad)? {
        db.walk(&meta, &mut strict, &mut |e| {
            let n = <[u8; 8]>::try_from(e.value).ok().map(u64::from_be_bytes);
            match e.key {
                b"consistent_index" => out.consistent_index = n,
                b"term" => out.term = n,
                _ => {}
            }
            Ok(true)
        })
        .map_err(bad)?;
    }
    if let Some(members) = db.bucket(b"members").map_err(bad)? {
        db.walk(&members, &mut strict, &mut |e| {
            if let Ok(m) = serde_json::from_slice::<StoredMember>(e.value) {
                out.members.push(m.lost());
            }
            Ok(true)
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
    /// Why not one member answered when TLS or authentication stopped
    /// them all; `None` when one did, or when they are down.
    pub unreached: Option<etcd::Error>,
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
    // A member that is down is what recover expects; settings that reach
    // none (a wrong CA, no client certificate, bad credentials) are said.
    let unreached = live.reached().err().filter(|e| match e {
        etcd::Error::Unreached { first: Some(f), .. } => {
            matches!(
                f.as_ref(),
                etcd::Error::Connect(c) if c.is_permanent()
            ) || matches!(
                f.as_ref(),
                etcd::Error::ClientCertRejected
                    | etcd::Error::AuthFailed
                    | etcd::Error::AuthRequired
            )
        }
        _ => false,
    });
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
                        .map(|e| crate::error::Error::from(e.clone()).message)
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
        let c = match read_offline(dir) {
            Ok(o) => {
                if members.is_empty() {
                    members = o.members;
                }
                Candidate {
                    name: name.clone(),
                    id: None,
                    seen: Seen::Offline,
                    location: dir.display().to_string(),
                    revision: Some(o.revision),
                    raft_term: o.term,
                    applied_index: None,
                    consistent_index: o.consistent_index,
                    error: None,
                }
            }
            Err(e) => Candidate {
                name: name.clone(),
                id: None,
                seen: Seen::Unknown,
                location: dir.display().to_string(),
                revision: None,
                raft_term: None,
                applied_index: None,
                consistent_index: None,
                error: Some(e.line()),
            },
        };
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
        unreached,
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
                            .entry(crate::dbfile::type_of(kv.key(), prefix).0)
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
        return Err(Error::Unsafe {
            action: Guarded::Recover,
            why,
        });
    }
    let choice = match (choose(&surveyed.candidates, want), &surveyed.unreached) {
        // Nothing to choose from because nothing was reached: say why.
        (Err(super::ChoiceError::NoCandidate), Some(e)) => return Err(e.clone().into()),
        (other, _) => other?,
    };
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
    use crate::ops::restore::{data_dir_arg, manifest_data_dir, manifest_name, name_arg};
    let process = |pid: u32| -> Result<FoundNode> {
        let argv = restore_exec::cmdline(pid).ok_or(Error::NoProcess {
            pid,
            survivor: true,
        })?;
        let data_dir = spec
            .data_dir
            .clone()
            .or_else(|| data_dir_arg(&argv).map(PathBuf::from))
            .ok_or(Error::NoDataDirFlag { pid })?;
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
    Err(Error::NoEtcdHere {
        manifest: rooted(&spec.root, &manifest),
    })
}

/// The unfinished recovery recorded next to `data_dir`, if any.
pub fn load_journal(root: &Path, data_dir: &Path) -> Result<Option<Journal>> {
    let j: Option<Journal> = journal::load(&journal_path(&rooted(root, data_dir)))?;
    Ok(j.filter(|j| j.done < local_plan(j).len()))
}

/// Write the journal (atomically) next to the survivor's data dir.
pub fn save_journal(j: &Journal) -> Result<()> {
    journal::save(&journal_path(&rooted(&j.root, &j.data_dir)), j)
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
                    Err(e) if e.is_interrupted() => {
                        return Err(stopped(&steps, i, "while adding a member back"))
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = result {
            return Err(Error::RecoverStepFailed {
                step: i + 1,
                force_on: flag_on_after(&steps, i),
                source: Box::new(e),
            });
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
    resize_exec::execute(cluster, prepared, &request, interrupt, op).await?;
    Ok(())
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
        .resume("run the same command again: it resumes where it stopped and removes the flag")
}

/// Copy the db aside (`.part`, fsync, rename) and check the copy: the same
/// sha256 as the source, and readable with the surveyed revision. An
/// existing verified copy is kept as it is.
fn backup(db: &Path, to: &Path, revision: i64) -> Result<()> {
    if to.exists() {
        return read_db(to).map(|_| ());
    }
    let part = crate::ops::snapshot_save::part_path(to);
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
        Err(Error::CopyDiffers {
            path: db.to_path_buf(),
        })
    } else {
        match read_db(&part) {
            Ok(o) if o.revision >= revision => Ok(()),
            Ok(o) => Err(Error::CopyRevision {
                path: db.to_path_buf(),
                found: o.revision,
                expected: revision,
            }),
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
        Err(Error::CommandFailed {
            command: "systemctl daemon-reload".into(),
            status,
            detail: None,
        })
    }
}

/// Write `to`: the manifest `from` with the flag added.
fn write_forced(from: &Path, to: &Path) -> Result<()> {
    let text = std::fs::read_to_string(from)
        .map_err(|e| Error::io(format!("reading `{}`", from.display()), e))?;
    let forced = manifest_with_force(&text, true).ok_or_else(|| Error::ManifestLacks {
        path: from.to_path_buf(),
        what: ManifestPart::ForceAnchor,
    })?;
    let part = crate::ops::snapshot_save::part_path(to);
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
                return Err(Error::WentBack {
                    member: survivor.to_string(),
                    found: rev,
                    expected: revision,
                })
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
        return Err(Error::MembersStill {
            members: names.into_iter().map(str::to_string).collect(),
        });
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
