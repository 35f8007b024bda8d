//! What went wrong in multi-step work, in ops terms: each variant says what
//! happened and keeps its cause whole (etcd's answer, the keyspace's, the
//! file's), so callers decide on the variant and never on text.
//!
//! `Display` is the line in ops' own words; [`crate::error`] turns a
//! variant into the operator's line, `help:` and exit code, wording a
//! wrapped cause the way its own layer does (once).

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use crate::{connect, dbfile, etcd, keyspace};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failed multi-step operation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    // ----- causes from a lower layer, kept whole ---------------------------
    #[error(transparent)]
    Etcd(#[from] etcd::Error),
    #[error(transparent)]
    Keyspace(#[from] keyspace::Error),
    #[error(transparent)]
    Connect(#[from] connect::Error),
    #[error(transparent)]
    Kube(#[from] connect::kube::Error),
    /// Shared so that an error can be kept in an outcome and returned.
    #[error(transparent)]
    Db(Arc<dbfile::DbError>),
    /// The operator did not confirm (or could not be asked).
    #[error(transparent)]
    Declined(#[from] crate::prompt::Declined),
    /// The output layer failed: a format it cannot write, or writing
    /// failed (it words its own failures; a closed pipe keeps its
    /// `io::ErrorKind`).
    #[error(transparent)]
    Output(Box<crate::error::Error>),
    /// Discovering the cluster again (the caller's context: kubeconfig,
    /// pods, TLS files) failed; that layer words its own failure.
    #[error(transparent)]
    Rediscover(Box<crate::error::Error>),
    #[error(transparent)]
    ResizePlan(#[from] super::resize::PlanError),
    #[error(transparent)]
    RestorePlan(#[from] super::restore::PlanError),
    #[error(transparent)]
    LocalPlan(#[from] super::restore::LocalPlanError),
    #[error(transparent)]
    Survivor(#[from] super::recover::ChoiceError),
    /// `put`'s compare-and-swap did not hold: nothing written.
    #[error(transparent)]
    Conflict(#[from] super::put::Conflict),
    /// `put`'s object does not belong at the key: nothing written.
    #[error(transparent)]
    Misplaced(#[from] crate::keyspace::edit::Misplaced),

    /// Where a cause happened: `defragment: ...`, `disarming NOSPACE on ...`.
    #[error("{what}")]
    During {
        what: String,
        #[source]
        source: Box<Error>,
    },

    /// A node-local restore step failed; `undo` are the commands that take
    /// back the steps done before it, in the order they were done.
    #[error("step {step}")]
    LocalStepFailed {
        step: usize,
        undo: Vec<String>,
        #[source]
        source: Box<Error>,
    },

    /// A step of the recovery failed; `force_on`: etcd still runs with
    /// --force-new-cluster.
    #[error("step {step}")]
    RecoverStepFailed {
        step: usize,
        force_on: bool,
        #[source]
        source: Box<Error>,
    },
    /// The restored member did not answer healthy in time.
    #[error("the restored member is not healthy")]
    RestoredUnhealthy {
        #[source]
        source: Box<Error>,
    },

    /// A write went out and its outcome is unknown (see [`InDoubt`]).
    #[error("{} was not confirmed: {}", .0.doing, .0.unknown)]
    InDoubt(Box<InDoubt>),

    // ----- Ctrl-C (exit 130) -----------------------------------------------
    /// Stopped by Ctrl-C: `when` says where, `progress` what was done and
    /// what is left, `resume` how to finish.
    #[error("{when}{}", progress.as_ref().map(|p| format!(": {p}")).unwrap_or_default())]
    Interrupted {
        when: String,
        progress: Option<Progress>,
        resume: Option<String>,
    },
    /// Ctrl-C (or a stop) inside step `step` (0-based) of recover-space.
    #[error("step {} of recover-space stopped", step + 1)]
    RecoverSpaceStep {
        step: usize,
        #[source]
        source: Box<Error>,
    },
    /// A rolling defrag stopped at `member` (refused, interrupted, or the
    /// member's defrag failed).
    #[error("stopped at member `{member}`: {progress}")]
    DefragStopped {
        member: String,
        progress: Progress,
        #[source]
        source: Box<Error>,
    },

    // ----- refused for safety (exit 4) -------------------------------------
    /// The cluster may not be disturbed now: `refusing to ACTION: WHY`.
    #[error("refusing to {action}: {why}")]
    Unsafe { action: Guarded, why: String },
    /// A member blocks a defrag that already started.
    #[error("cluster not healthy: {blocker}")]
    ClusterUnhealthy { blocker: String },
    #[error(
        "cannot tell when NOSPACE may be disarmed: {}",
        crate::ops::space::QUOTA_UNKNOWN
    )]
    QuotaUnknown,
    #[error("compaction and defragmentation did not free enough space on `{member}`: {why}")]
    StillOverQuota { member: String, why: String },
    #[error("the cluster has no leader: there is no leadership to move")]
    NoLeader,
    #[error("the leader {} is not in the member list", etcd::format_id(*id))]
    LeaderNotListed { id: u64 },
    #[error(
        "the cluster has no leader that answers: `{leader}`, the last one reported, is not \
         reachable: {why}"
    )]
    LeaderUnreachable { leader: String, why: String },
    #[error("no voting follower of `{leader}` can take over: none answers without lagging")]
    NoSuccessor { leader: String },
    /// The member named to lead cannot.
    #[error("`{member}` {why}")]
    CannotLead { member: String, why: CannotLead },
    #[error("leadership changed meanwhile: `{from}` no longer leads")]
    LeadershipChanged { from: String },
    #[error("`{}` already exists", path.display())]
    FileExists { path: PathBuf },
    #[error("cannot write `{}`: `{}` is not a directory", path.display(), dir.display())]
    NoSuchDir { path: PathBuf, dir: PathBuf },
    #[error("etcd (pid {pid}) still runs on `{}`", data_dir.display())]
    StillRunning { pid: u32, data_dir: PathBuf },
    #[error("`{member}` came back at revision {found}, below the {expected} the survey saw")]
    WentBack {
        member: String,
        found: i64,
        expected: i64,
    },

    // ----- the command line (exit 2) ---------------------------------------
    /// `--member` (or a REF) names no member; `members` lists those there are.
    #[error("no member `{name}` in this cluster")]
    NoSuchMember { name: String, members: Vec<String> },
    #[error("--keep must not be negative")]
    NegativeKeep,
    #[error("nothing to compact: revision {revision} is before the first revision")]
    BeforeFirstRevision { revision: i64 },
    #[error("revision {revision} is newer than the current revision {current}")]
    FutureRevision { revision: i64, current: i64 },
    #[error("no --snapshot given and no --endpoints to take one from")]
    NoSnapshotSource,
    #[error("no --member given and no --endpoints to list them from")]
    NoMembersGiven,
    #[error("`{name}` is not one of the members to restore")]
    NotARestoredMember { name: String },
    #[error("which member is this node?")]
    WhichMember,
    #[error("nothing to stop: no manifest at `{}`, no --pid and no --service", manifest.display())]
    NothingToStop { manifest: PathBuf },
    #[error("process {pid} has no --data-dir flag")]
    NoDataDirFlag { pid: u32 },
    #[error(
        "no etcd found here: no manifest at `{}`, no --pid, and no etcd running on --data-dir",
        manifest.display()
    )]
    NoEtcdHere { manifest: PathBuf },

    // ----- not reached (exit 3) --------------------------------------------
    #[error("no member answered")]
    NoMemberAnswered,
    /// Nothing was reached: `first` is why the first member failed.
    #[error("none of the {total} members could be reached")]
    NoneReached {
        total: usize,
        first: Option<etcd::Error>,
    },
    #[error("none of the {total} members answered a health read")]
    /// `hint`: the help every member's failure shares, when they do.
    NoneHealthy { total: usize, hint: Option<String> },
    #[error("no member reports a leader: the cluster has lost quorum")]
    QuorumLost,
    #[error("no {}healthy member to ask", if *other { "other " } else { "" })]
    NoMemberToAsk { other: bool },
    #[error("no healthy member to take a snapshot from")]
    NoMemberToSnapshot,
    #[error("member `{member}` is not reachable: {why}")]
    MemberUnreachable { member: String, why: String },
    #[error("no connection to the member")]
    NoConnection,
    #[error("member left the member list")]
    LeftMemberList,
    #[error("lost the connection to the leader `{leader}`")]
    LeaderLost { leader: String },
    #[error("no client URL known yet")]
    NoClientUrl,
    #[error("no pod `{pod}` yet")]
    NoPodYet { pod: String },
    #[error("no data for {idle:?}")]
    StreamIdle { idle: Duration },
    #[error("the member list is still [{}]", members.join(", "))]
    MembersStill { members: Vec<String> },
    #[error("cannot discover the cluster again here")]
    CannotRediscover,

    // ----- bad data (exit 5) -----------------------------------------------
    /// The snapshot stream broke part-way; the cause decides the exit code.
    #[error("the snapshot stream broke after {after} bytes")]
    StreamBroke {
        after: u64,
        #[source]
        source: Box<Error>,
    },
    #[error("the snapshot stream ended after {after} bytes, before any data; no file was written")]
    StreamEmpty { after: u64 },
    #[error(
        "the snapshot failed its integrity check (sha256 {sha256} but the trailer says \
         {trailer}); no file was written"
    )]
    Integrity { sha256: String, trailer: String },
    #[error("`{}` is not a readable etcd database: {source}", path.display())]
    NotADatabase {
        path: PathBuf,
        source: Arc<dbfile::DbError>,
    },
    #[error("`{}` is not a journal kubectl-etcd wrote: {source}", path.display())]
    NotAJournal {
        path: PathBuf,
        source: Arc<serde_json::Error>,
    },
    #[error("the copy of `{}` holds revision {found}, the survey saw {expected}", path.display())]
    CopyRevision {
        path: PathBuf,
        found: i64,
        expected: i64,
    },
    /// A manifest lacks what a step rewrites.
    #[error("`{}` has no {what}", path.display())]
    ManifestLacks { path: PathBuf, what: ManifestPart },
    /// A lenient offline read skipped damage: exit 5 when nothing was
    /// readable, 1 when the rest was shown.
    #[error(
        "`{}`: {count} damaged pages or entries skipped{}",
        file.display(),
        if *readable { "; the rest is shown" } else { ", nothing readable" }
    )]
    Damaged {
        file: PathBuf,
        count: u64,
        readable: bool,
    },

    // ----- failed (exit 1) -------------------------------------------------
    /// A file or process call failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: Arc<io::Error>,
    },
    #[error("the copy of `{}` differs from it", path.display())]
    CopyDiffers { path: PathBuf },
    /// A command we ran exited non-zero; `detail` is the end of its stderr.
    #[error(
        "`{command}` failed{}: {}",
        detail.as_ref().map(|_| format!(" ({status})")).unwrap_or_default(),
        detail.clone().unwrap_or_else(|| status.to_string())
    )]
    CommandFailed {
        command: String,
        status: ExitStatus,
        detail: Option<String>,
    },
    #[error("process {pid} does not stop")]
    WontStop { pid: u32 },
    #[error("`{member}` did not catch up within {}", humantime::format_duration(*within))]
    NotCaughtUp { member: String, within: Duration },
    #[error("gave up waiting for {what} after {}", humantime::format_duration(*after))]
    GaveUp { what: String, after: Duration },
    #[error("still not healthy after {after:?}: {why}")]
    NotHealthyAfter { after: Duration, why: String },
    #[error(
        "leadership was handed to `{to}`, but not every member reports it as leader after \
         {after:?}"
    )]
    LeaderNotConfirmed { to: String, after: Duration },
    #[error("{unhealthy} of {total} members are unhealthy")]
    Unhealthy { unhealthy: usize, total: usize },
    #[error("{failed} of {total} members could not be reached")]
    SomeUnreachable { failed: usize, total: usize },
    #[error(
        "compacted, but {} did not answer while --physical waited: {} database file may \
         still hold the old revisions",
        members.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
        if members.len() == 1 { "its" } else { "their" }
    )]
    PhysicalUnconfirmed { members: Vec<String> },
    #[error(
        "{} answered for another cluster than the other members",
        endpoints.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
    )]
    ForeignMembers { endpoints: Vec<String> },
    /// Several contexts ran; `worst` is the highest exit code among them.
    #[error("{} of {total} contexts failed: {}", failed.len(), failed.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "))]
    ContextsFailed {
        failed: Vec<String>,
        total: usize,
        /// The highest exit code among them.
        worst: i32,
    },
    #[error("learner `{name}` is gone")]
    LearnerGone { name: String },
    #[error("no process {pid}")]
    NoProcess { pid: u32, survivor: bool },
    #[error("`{key}` is not in the snapshot at revision {revision}")]
    NotInSnapshot { key: String, revision: i64 },
    #[error("no keys match in the snapshot")]
    NoMatch,
    /// A member row: why it has no health.
    #[error("{0}")]
    Member(MemberProblem),
}

/// What `refusing to ...` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guarded {
    /// A resize: its change, as the plan words it.
    Resize(String),
    Defragment,
    Recover,
    /// recover-space's compaction and defrag.
    CompactAndDefragment,
}

impl std::fmt::Display for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Guarded::Resize(change) => f.write_str(change),
            Guarded::Defragment => f.write_str("defragment"),
            Guarded::Recover => f.write_str("recover"),
            Guarded::CompactAndDefragment => f.write_str("compact and defragment"),
        }
    }
}

/// Why a member cannot take leadership.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CannotLead {
    #[error("is a learner: a learner does not vote and cannot lead")]
    Learner,
    #[error("is not reachable: {0}")]
    Unreachable(String),
    #[error("is lagging behind the leader (applied index {applied})")]
    Lagging { applied: u64 },
}

/// What a manifest lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestPart {
    /// restore: the data dir to rewrite.
    DataDir(String),
    /// recover: the `- --data-dir=` line the force flag goes next to.
    ForceAnchor,
}

impl std::fmt::Display for ManifestPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestPart::DataDir(d) => write!(f, "--data-dir or hostPath `{d}` to rewrite"),
            ManifestPart::ForceAnchor => write!(
                f,
                "`- --data-dir=` argument to add {} next to",
                super::recover::FORCE_FLAG
            ),
        }
    }
}

/// Why a member's row in `members` has no health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemberProblem {
    #[error("not started yet")]
    NotStarted,
    #[error("no etcd pod found for this member")]
    NoPod,
    #[error("advertises no client URL")]
    NoClientUrl,
}

/// What was done and what is left, for a stop part-way:
/// "1 of 3 steps done (a); left: b, c".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub done: Vec<String>,
    pub left: Vec<String>,
    /// "steps done", "members defragmented".
    pub unit: &'static str,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&super::progress(&self.done, &self.left, self.unit))
    }
}

/// A write went out and no answer came back (`source` says why: none in
/// time, the connection dropped, etcd did not commit it in time): etcd may
/// or may not have applied it.
#[derive(Debug, Clone)]
pub struct InDoubt {
    /// "writing `KEY`".
    pub doing: String,
    /// "it may or may not be written".
    pub unknown: String,
    /// How to see which (the `help:` line).
    pub check: String,
    pub source: etcd::Error,
}

impl From<dbfile::DbError> for Error {
    fn from(e: dbfile::DbError) -> Self {
        Error::Db(Arc::new(e))
    }
}

impl Error {
    /// Stopped by Ctrl-C at `when` ("interrupted (Ctrl-C) before ...").
    pub fn interrupted(when: impl Into<String>) -> Self {
        Error::Interrupted {
            when: when.into(),
            progress: None,
            resume: None,
        }
    }

    /// Ctrl-C at `when`, with what was done and what is left.
    pub fn interrupted_with(when: impl Into<String>, progress: Progress) -> Self {
        Error::Interrupted {
            when: when.into(),
            progress: Some(progress),
            resume: None,
        }
    }

    /// How to finish after this interruption (the `help:` line); other
    /// variants are returned as they are.
    pub fn resume(mut self, how: impl Into<String>) -> Self {
        if let Error::Interrupted { resume, .. } = &mut self {
            *resume = Some(how.into());
        }
        self
    }

    /// A write whose outcome `source` leaves unknown (see [`InDoubt`]).
    pub fn in_doubt(
        doing: impl Into<String>,
        unknown: impl Into<String>,
        check: impl Into<String>,
        source: etcd::Error,
    ) -> Self {
        Error::InDoubt(Box::new(InDoubt {
            doing: doing.into(),
            unknown: unknown.into(),
            check: check.into(),
            source,
        }))
    }

    /// `what` failed: keeps the cause and its kind.
    pub fn io(what: impl std::fmt::Display, source: io::Error) -> Self {
        Error::Io {
            what: what.to_string(),
            source: Arc::new(source),
        }
    }

    /// The output layer's failure (see [`Error::Output`]).
    pub fn output(e: impl Into<crate::error::Error>) -> Self {
        Error::Output(Box::new(e.into()))
    }

    /// Name where this happened: `what: cause`.
    pub fn context(self, what: impl std::fmt::Display) -> Self {
        Error::During {
            what: what.to_string(),
            source: Box::new(self),
        }
    }

    /// Whether this is Ctrl-C, wherever it was raised (the prompt, a wait,
    /// a lower layer).
    pub fn is_interrupted(&self) -> bool {
        match self {
            Error::Interrupted { .. } => true,
            Error::Declined(d) => d.is_interrupted(),
            Error::During { source, .. }
            | Error::LocalStepFailed { source, .. }
            | Error::RecoverStepFailed { source, .. }
            | Error::RecoverSpaceStep { source, .. }
            | Error::DefragStopped { source, .. } => source.is_interrupted(),
            _ => false,
        }
    }

    /// Whether this is a refusal for safety (exit 4).
    pub fn is_refusal(&self) -> bool {
        use crate::error::Kind;
        match self {
            Error::Etcd(e) => crate::error::Error::from(e.clone()).kind == Kind::Refused,
            Error::Declined(d) => !d.is_interrupted(),
            Error::Conflict(_) | Error::Misplaced(_) | Error::LocalPlan(_) => true,
            Error::During { source, .. }
            | Error::LocalStepFailed { source, .. }
            | Error::RecoverStepFailed { source, .. }
            | Error::RecoverSpaceStep { source, .. }
            | Error::DefragStopped { source, .. } => source.is_refusal(),
            own => crate::error::ops_kind(own) == Some(Kind::Refused),
        }
    }

    /// The etcd failure under this error, if that is what it is.
    pub fn etcd(&self) -> Option<&etcd::Error> {
        match self {
            Error::Etcd(e) => Some(e),
            Error::Rediscover(e) => e.etcd(),
            Error::During { source, .. } => source.etcd(),
            _ => None,
        }
    }

    /// The operator's one line for this (without `help:`): for rows that
    /// show a member's failure.
    pub fn line(self) -> String {
        crate::error::Error::from(self).message
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error as Reported, Kind};

    fn out(e: Error) -> Reported {
        Reported::from(e)
    }

    #[test]
    fn refusals_exit_4_with_the_fix_for_what_was_refused() {
        let e = out(Error::Unsafe {
            action: Guarded::Resize("remove `m2`".into()),
            why: "`m3` is down".into(),
        });
        assert_eq!(e.exit_code() as i32, 4);
        assert_eq!(e.message, "refusing to remove `m2`: `m3` is down");
        assert!(e.hint.unwrap().contains("--force"));
        let e = out(Error::CannotLead {
            member: "m2".into(),
            why: CannotLead::Learner,
        });
        assert_eq!(
            e.message,
            "`m2` is a learner: a learner does not vote and cannot lead"
        );
        assert!(e.hint.unwrap().starts_with("promote it first"));
        assert_eq!(e.kind, Kind::Refused);
    }

    #[test]
    fn an_interruption_says_what_was_done_and_left_and_exits_130() {
        let e = Error::interrupted_with(
            "interrupted (Ctrl-C) between steps",
            Progress {
                done: vec!["a".into()],
                left: vec!["b".into()],
                unit: "steps done",
            },
        )
        .resume("run it again")
        .context("resize");
        assert!(e.is_interrupted());
        let e = out(e);
        assert_eq!(e.exit_code() as i32, 130);
        assert_eq!(
            e.message,
            "resize: interrupted (Ctrl-C) between steps: 1 of 2 steps done (a); left: b"
        );
        assert_eq!(e.hint.as_deref(), Some("run it again"));
        // Ctrl-C at the question is one too, wherever it was raised.
        let at_prompt = Error::from(crate::prompt::Declined::Interrupted {
            action: "defragment".into(),
        });
        assert!(at_prompt.is_interrupted() && !at_prompt.is_refusal());
        let no = Error::from(crate::prompt::Declined::No {
            action: "defragment".into(),
        });
        assert!(no.is_refusal() && !no.is_interrupted());
        assert_eq!(out(no).message, "not confirmed: did not defragment");
    }

    #[test]
    fn a_wrapped_cause_is_worded_once_by_its_own_layer_and_keeps_its_exit_code() {
        let e = out(Error::from(etcd::Error::NoSpace).context("defragment"));
        assert!(
            e.message.starts_with("defragment: etcd is out of space"),
            "{}",
            e.message
        );
        assert!(matches!(
            e.cause.as_deref(),
            Some(crate::error::Cause::Etcd(etcd::Error::NoSpace))
        ));
        let broke = out(Error::StreamBroke {
            after: 2000,
            source: Box::new(etcd::Error::ConnectionDropped.into()),
        });
        assert_eq!(broke.exit_code() as i32, 3);
        assert!(
            broke
                .message
                .starts_with("the snapshot stream broke after 2000 bytes: "),
            "{}",
            broke.message
        );
        assert!(broke.message.ends_with("; no file was written"));
        assert_eq!(
            broke.hint.as_deref(),
            Some("retry, or pick another member with --member")
        );
    }

    #[test]
    fn a_defrag_stop_takes_its_kind_from_the_cause() {
        let stop = |source: Error| {
            out(Error::DefragStopped {
                member: "m1".into(),
                progress: Progress {
                    done: vec![],
                    left: vec!["m1".into()],
                    unit: "members defragmented",
                },
                source: Box::new(source),
            })
        };
        let e = stop(Error::interrupted(
            "interrupted (Ctrl-C) before defragmenting",
        ));
        assert_eq!(e.exit_code() as i32, 130);
        assert_eq!(
            e.message,
            "stopped at member `m1`: interrupted (Ctrl-C) before defragmenting; \
             0 of 1 members defragmented; left: m1"
        );
        assert!(e.hint.unwrap().contains("--member NAME"));
        let e = stop(Error::NoConnection);
        assert_eq!(e.exit_code() as i32, 1);
        let e = stop(Error::ClusterUnhealthy {
            blocker: "`m2` lags".into(),
        });
        assert_eq!(e.exit_code() as i32, 4);
    }

    #[test]
    fn damage_is_exit_1_when_the_rest_was_shown_and_5_when_nothing_was() {
        let damaged = |readable| {
            out(Error::Damaged {
                file: "s.db".into(),
                count: 3,
                readable,
            })
        };
        assert_eq!(damaged(true).exit_code() as i32, 1);
        assert_eq!(damaged(false).exit_code() as i32, 5);
        assert_eq!(
            damaged(false).message,
            "`s.db`: 3 damaged pages or entries skipped, nothing readable"
        );
        let io = out(Error::io(
            "writing `x`",
            io::Error::from(io::ErrorKind::StorageFull),
        ));
        assert_eq!(io.io_kind(), Some(io::ErrorKind::StorageFull));
        assert_eq!(io.exit_code() as i32, 1);
    }

    #[test]
    fn nothing_reached_keeps_the_first_members_etcd_error_and_exits_3() {
        let e = Error::NoneReached {
            total: 3,
            first: Some(etcd::Error::AuthFailed),
        };
        assert!(!e.is_refusal() && !e.is_interrupted());
        let e = out(e);
        assert_eq!(e.exit_code() as i32, 3);
        assert_eq!(e.kind, Kind::Auth);
        assert!(
            e.message
                .starts_with("none of the 3 members could be reached: "),
            "{}",
            e.message
        );
        assert!(matches!(
            e.cause.as_deref(),
            Some(crate::error::Cause::Etcd(etcd::Error::AuthFailed))
        ));
        // Whatever stopped it, nothing was reached: exit 3.
        let e = out(Error::NoneReached {
            total: 1,
            first: Some(etcd::Error::NoSpace),
        });
        assert_eq!(e.exit_code() as i32, 3);
        assert!(e.hint.is_some());
    }

    #[test]
    fn an_output_failure_keeps_its_io_kind_for_the_broken_pipe_check() {
        let e = out(Error::output(io::Error::from(io::ErrorKind::BrokenPipe)));
        assert_eq!(e.io_kind(), Some(io::ErrorKind::BrokenPipe));
        assert!(!Error::output(io::Error::from(io::ErrorKind::BrokenPipe)).is_refusal());
    }

    #[test]
    fn an_error_kept_in_an_outcome_is_the_same_error_when_returned() {
        // A defrag keeps its stop in the outcome (worded for `message`)
        // and returns it for the exit status: a clone keeps cause and kind.
        let e = Error::io("writing `x`", io::Error::from(io::ErrorKind::StorageFull))
            .context("defragment");
        let kept = e.clone();
        assert_eq!(
            kept.clone().line(),
            "defragment: writing `x`: no storage space"
        );
        let (a, b) = (out(e), out(kept));
        assert_eq!((&a.message, a.exit_code()), (&b.message, b.exit_code()));
        assert_eq!(b.io_kind(), Some(io::ErrorKind::StorageFull));
    }
}
