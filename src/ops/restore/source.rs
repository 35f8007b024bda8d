//! The snapshot a restore starts from: a file verified offline, or one
//! taken now from the healthiest member. Reports through an [`Operator`]
//! and a progress callback; never prints a table (the command does).

use std::path::{Path, PathBuf};

use crate::connect::Target;
use crate::dbfile::{report, Integrity, SnapshotInfo};
use crate::etcd::{maintenance, ConnectSettings, EtcdClient};
use crate::ops::restore::executor::Count;
use crate::ops::restore::{self, Choices, Plan, PlanError, TargetMember, Tool};
use crate::ops::snapshot_save::{self, Event};
use crate::ops::{Error, Interrupt, Operator, Result};

/// The snapshot to plan with: verified offline, or (a dry run without
/// --snapshot) only where a real run would save it and the revision now.
pub struct Snapshot {
    pub path: PathBuf,
    pub info: Option<SnapshotInfo>,
    pub revision: i64,
    /// Keys per type in the snapshot (live counts come after the restore).
    pub counts: Vec<Count>,
}

impl Snapshot {
    /// The restore of every member from this snapshot, found at
    /// `path_arg` on the nodes.
    pub fn plan(
        &self,
        path_arg: &str,
        members: &[TargetMember],
        choices: Choices<'_>,
        tool: &Tool,
    ) -> Result<Plan, PlanError> {
        let info = self.info.as_ref();
        let source = restore::Source {
            path: path_arg,
            revision: self.revision,
            consistent_index: info.and_then(|i| i.consistent_index),
        };
        let sha256 = info.and_then(|i| i.sha256.as_deref());
        let no_hash = info.is_some_and(|i| i.integrity == Integrity::NoHash);
        restore::plan_with_defaults(source, sha256, no_hash, members, choices, tool)
    }
}

/// `etcd-snapshot-<unix time>.db` in the current directory: where a run
/// without --snapshot or --save-to saves the snapshot it takes.
pub fn default_save_path() -> PathBuf {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    PathBuf::from(format!("etcd-snapshot-{now}.db"))
}

/// `p` made absolute (as it is when that fails).
pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Neither a snapshot file nor a cluster to take one from.
pub fn no_snapshot_source() -> Error {
    Error::NoSnapshotSource
}

/// Verify the snapshot at `path` offline (page by page, never whole in
/// memory) and count its keys per type under `prefix`.
pub fn verify(path: PathBuf, prefix: &str, op: &mut dyn Operator) -> Result<Snapshot> {
    let (info, inspect) = report::examine(&path, prefix)
        .map_err(|e| Error::from(e).context(format!("`{}`", path.display())))?;
    if info.integrity == Integrity::NoHash {
        op.warn("no sha256 trailer (a member's db file?): restoring with --skip-hash-check");
    }
    let counts = inspect
        .types
        .iter()
        .map(|p| Count {
            r#type: p.r#type.clone(),
            snapshot: p.keys,
            live: None,
        })
        .collect();
    Ok(Snapshot {
        path,
        revision: info.revision,
        info: Some(info),
        counts,
    })
}

/// A dry run without --snapshot: no snapshot taken, only where a real run
/// would save one (`path`) and the revision it would have at least.
pub async fn planned(
    client: &EtcdClient,
    path: PathBuf,
    op: &mut dyn Operator,
) -> Result<Snapshot> {
    let revision = maintenance::current_revision(client, false).await?;
    op.note(&format!(
        "dry run: no snapshot taken; a real run saves one from the healthiest member to \
         `{}` (at revision {revision} or later, which names its files)",
        path.display()
    ));
    Ok(Snapshot {
        path,
        info: None,
        revision,
        counts: Vec::new(),
    })
}

/// Take a snapshot into `file` from the healthiest member; an interrupt
/// says that nothing was changed.
pub async fn take(
    targets: &[Target],
    settings: &ConnectSettings,
    file: &Path,
    interrupt: &Interrupt,
    on: &mut dyn FnMut(Event<'_>),
) -> Result<SnapshotInfo> {
    let req = snapshot_save::Request {
        file: file.to_path_buf(),
        member: None,
        overwrite: false,
    };
    snapshot_save::save_from_cluster(targets, settings, &req, interrupt, on)
        .await
        .map_err(|e| {
            if interrupt.fired() {
                Error::interrupted(
                    "interrupted (Ctrl-C) while taking the snapshot: nothing was changed, no \
                     file was written",
                )
            } else {
                e
            }
        })
}
