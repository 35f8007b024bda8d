//! The command line: clap types and global flags only.
//!
//! Nothing here does I/O. Flags are checked here for shape; what they point
//! at (files, endpoints, pods) is resolved once in [`crate::context`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands;

/// Operate the etcd behind Kubernetes: health, keyspace and safe maintenance.
///
/// Without `--endpoints`, etcd pods are found with your kubeconfig and reached
/// through the Kubernetes API (port-forward). With `--endpoints`, etcd is
/// reached directly and Kubernetes is not touched.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-etcd",
    bin_name = "kubectl etcd",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Exit codes: 0 ok, 1 a member or check failed, 2 usage, 3 etcd unreachable \
                  (or TLS/auth), 4 refused for safety, 5 bad input data."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
///
/// Shown under their own heading after each command's own flags, as kubectl
/// keeps its global flags apart (`kubectl options`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// etcd client URLs; skips Kubernetes discovery.
    ///
    /// Comma-separated, e.g. `https://10.0.0.1:2379,https://10.0.0.2:2379`.
    /// A bare `host:port` means https when TLS flags are given, else http.
    #[arg(
        long,
        global = true,
        env = "ETCDCTL_ENDPOINTS",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub endpoints: Vec<String>,

    /// CA bundle that signed the etcd server certificates (PEM).
    #[arg(long, global = true, env = "ETCDCTL_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Client certificate (PEM).
    #[arg(long, global = true, env = "ETCDCTL_CERT", value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// Client private key (PEM).
    // The id differs from the long name: a positional `key` elsewhere would
    // otherwise collide with this global flag at run time.
    #[arg(
        id = "key_file",
        long = "key",
        global = true,
        env = "ETCDCTL_KEY",
        value_name = "FILE"
    )]
    pub key: Option<PathBuf>,

    /// Accept any server certificate. Dangerous: only for a first look.
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_SKIP_TLS_VERIFY")]
    pub insecure_skip_tls_verify: bool,

    /// Name to verify the server certificate against, instead of the host.
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_server_name: Option<String>,

    /// etcd user, as `NAME` or `NAME:PASSWORD`.
    #[arg(
        long,
        global = true,
        env = "ETCDCTL_USER",
        value_name = "NAME[:PASSWORD]"
    )]
    pub user: Option<String>,

    /// etcd password (when not given in --user).
    #[arg(long, global = true, env = "ETCDCTL_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,

    /// How long to wait for each member's connection.
    #[arg(long, global = true, env = "ETCDCTL_DIAL_TIMEOUT", default_value = "2s", value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub dial_timeout: Duration,

    /// How long to wait for each request (long operations set their own).
    #[arg(long, global = true, env = "ETCDCTL_COMMAND_TIMEOUT", default_value = "5s", value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub command_timeout: Duration,

    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,

    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// kubeconfig context to use.
    ///
    /// Several, comma-separated (`a,b,c`), for status, health, members,
    /// count and doctor: one table with a CONTEXT column.
    #[arg(long, global = true, value_name = "NAME[,NAME...]", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::contexts))]
    pub context: Option<String>,

    /// Every context of the kubeconfig (status, health, members, count, doctor).
    #[arg(long, global = true, conflicts_with_all = ["endpoints", "context"])]
    pub all_contexts: bool,

    /// With several contexts: how many are asked at once.
    #[arg(long, global = true, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrency: u16,

    /// Namespace: of the Kubernetes objects for keyspace commands, of the
    /// etcd pods for cluster commands.
    #[arg(short = 'n', long, global = true, value_name = "NS", add = clap_complete::engine::ArgValueCompleter::new(crate::completion::namespaces))]
    pub namespace: Option<String>,

    /// Label selector for the etcd pods.
    #[arg(short = 'l', long, global = true, value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// etcd pod to use (repeatable); default: every etcd pod found.
    #[arg(long = "pod", global = true, value_name = "NAME")]
    pub pods: Vec<String>,

    /// Container of the etcd pod running etcd (default: `etcd`, else the first).
    #[arg(long, global = true, value_name = "NAME")]
    pub container: Option<String>,

    /// Secret with the etcd client certificate, as `[NAMESPACE/]NAME`.
    #[arg(long, global = true, value_name = "[NS/]NAME")]
    pub tls_secret: Option<String>,

    /// Key prefix kube-apiserver stores under (its `--etcd-prefix`).
    #[arg(
        long,
        global = true,
        default_value = "/registry",
        value_name = "PREFIX",
        value_parser = parse_prefix
    )]
    pub prefix: String,

    /// Answer yes to every confirmation.
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,

    /// More detail on stderr.
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
    /// The stored bytes, unmodified (only `get`).
    Raw,
    /// A table with every column (as kubectl's `-o wide`); other commands
    /// print their usual table.
    Wide,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Per-member status: db size, fragmentation, quota use, leader, raft state, alarms.
    Status(commands::status::Args),
    /// Cluster members with their URLs, learner state and health.
    Members(commands::members::Args),
    /// Per-member health check; exits 0 only when every member is healthy.
    Health(commands::health::Args),
    /// What is wrong with this etcd, why, and what to run next (read-only).
    ///
    /// Health, agreement, consistency (HashKV at one revision), disk and
    /// raft latency from each member's metrics over --window, read probes,
    /// space, certificates and, in Kubernetes mode, pods. Takes about
    /// --window plus a few seconds. Exit 0 when every finding is ok, 1 when
    /// any is warn or fail, 3 when no member could be reached.
    Doctor(commands::doctor::Args),
    /// Per-member database size and quota headroom; with --by-type, what fills it.
    Size(commands::size::Args),
    /// Decode one stored value (file or stdin) into the Kubernetes object.
    Decode(commands::decode::Args),
    /// Show stored objects as Kubernetes shows them, now or at a past revision.
    Get(commands::get::Args),
    /// Write an object in its storage form, only if unchanged since read (writes; confirms).
    Put(commands::put::Args),
    /// List keys as objects: type, namespace, name, size, encoding, revision.
    Ls(commands::ls::Args),
    /// Count keys per resource type (and namespace), at one revision.
    Count(commands::count::Args),
    /// Defragment members one at a time, leader last (writes; confirms).
    ///
    /// Each member blocks its reads and writes while it defragments. Before
    /// each member the cluster must be healthy (every voting member
    /// reachable, a leader, none lagging), otherwise the run stops and names
    /// the member in the way. Leadership moves to the healthiest follower
    /// before the leader's turn. Stops at the first failure. Asks for
    /// confirmation unless --yes; --dry-run shows the plan and changes
    /// nothing.
    Defrag(commands::defrag::Args),
    /// Compact the keyspace history up to a revision (writes; confirms).
    ///
    /// Older versions of every key are removed for good (the latest version
    /// of each key stays); reads and watches at older revisions fail
    /// afterwards. Default: up to the current revision.
    Compact(commands::compact::Args),
    /// List or disarm alarms (NOSPACE, CORRUPT).
    Alarm(commands::alarm::Args),
    /// Guided NOSPACE recovery: compact, defragment, disarm (writes; confirms).
    ///
    /// For a cluster that refuses writes with "database space exceeded" now:
    /// etcd still accepts compaction, defragmentation and deletes under
    /// NOSPACE. Shows the space picture, compacts to the current revision,
    /// defragments every member (leader last), disarms the NOSPACE alarms
    /// once the db files are well under the quota, and shows the headroom
    /// after. Each step asks for confirmation unless --yes. If the live data
    /// itself fills the quota, delete data (or raise the quota) first.
    RecoverSpace(commands::recover_space::Args),
    /// Save a verified snapshot, or read one offline (status, inspect).
    ///
    /// `save` is heavy: the member streams its whole database.
    Snapshot(commands::snapshot::Args),
    /// Find keys (and with --values, objects) by substring, glob or regex; exit 1 if none.
    Search(commands::search::Args),
    /// Custom resource types stored here (with or without their CRD), or one type's objects.
    Custom(commands::custom::Args),
    /// Stream changes to Kubernetes objects as decoded events with field diffs.
    ///
    /// Resumes after a lost member or leader change without missing or
    /// repeating events.
    Watch(commands::watch::Args),
    /// Hand leadership to another voting member, e.g. before draining the leader's node (writes; confirms).
    ///
    /// --to names the member (name or 16-hex id); by default the healthiest
    /// voting follower with the highest applied index. Refuses a learner, a
    /// member that does not answer or lags, and a cluster without a leader
    /// (exit 4). Waits until every member reports the new leader.
    MoveLeader(commands::move_leader::Args),
    /// Every retained version of one object, newest first: who changed it, when, and what.
    ///
    /// Revision, time and manager of each change (from the managedFields
    /// entry whose time changed), the operation, and the field diff from the
    /// version before. One read per version, not a scan; stops at the
    /// compacted revision and says how far back it went.
    History(commands::history::Args),
    /// Who is writing to etcd right now: writes per second per type, namespace, manager or key.
    ///
    /// One watch on the prefix, refreshed in place every --interval on a
    /// terminal; one JSON line per interval on a pipe or with -o json.
    /// `--by manager` decodes every write.
    Top(commands::top::Args),
    /// Leases: every lease with its TTLs and the types of its keys, or one lease's keys.
    Lease(commands::lease::Args),
    /// Guided membership change: add, remove or replace a member, keeping quorum (writes; confirms).
    Resize(commands::resize::Args),
    /// Guided disaster recovery from a snapshot: verify, plan, restore (writes with --local; confirms).
    Restore(commands::restore::Args),
    /// Quorum lost for good: recover from the most up-to-date surviving member, then grow back (writes with --local; confirms).
    ///
    /// Refused (exit 4) while a quorum answers: replace a dead member with
    /// `resize replace` instead. Surveys every member (and with --data-dir
    /// NAME=PATH the data dirs of members that no longer start, offline),
    /// chooses the survivor, and prints the plan and each node's commands.
    /// With --local, on the survivor's node: back up its database, start it
    /// once with --force-new-cluster, wait for a healthy one-member cluster
    /// at the surveyed revision, restart it without the flag, then add the
    /// other members back one at a time (learner, catch-up, promote).
    Recover(commands::recover::Args),
    /// Forward a local port to an etcd pod for etcdctl, until Ctrl-C.
    ///
    /// Prints the `--endpoints` line and `ETCDCTL_*` exports to use.
    PortForward(commands::port_forward::Args),
    /// Shell completion script for bash, zsh, fish, elvish or powershell.
    Completion(commands::completion::Args),
    /// Print the version.
    Version(commands::version::Args),
}

impl Command {
    /// The commands that take several contexts (`--context a,b`,
    /// `--all-contexts`).
    pub const MANY_CONTEXTS: [&'static str; 5] = ["status", "health", "members", "count", "doctor"];

    /// This command takes several contexts at once.
    pub fn accepts_many_contexts(&self) -> bool {
        matches!(
            self,
            Command::Status(_)
                | Command::Health(_)
                | Command::Members(_)
                | Command::Count(_)
                | Command::Doctor(_)
        )
    }

    /// Commands that write, and so stop cleanly on Ctrl-C themselves (a
    /// step in flight is waited for, a snapshot's `.part` is removed, what
    /// was done and what is left is said) instead of being dropped
    /// mid-step. Every other command stops where it is (exit 130).
    pub fn handles_interrupt(&self) -> bool {
        use commands::alarm::AlarmCommand;
        use commands::snapshot::SnapshotCommand;
        match self {
            Command::Alarm(a) => matches!(a.command, AlarmCommand::Disarm(_)),
            Command::Snapshot(s) => matches!(s.command, SnapshotCommand::Save(_)),
            Command::Defrag(_)
            | Command::RecoverSpace(_)
            | Command::Resize(_)
            | Command::Restore(_)
            | Command::Put(_)
            | Command::Compact(_)
            | Command::MoveLeader(_)
            | Command::Recover(_) => true,
            _ => false,
        }
    }
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    // Timeout flags accept a leading '-' so that this, not clap's
    // "unexpected argument '-1'", is what a negative one gets.
    if s.trim_start().starts_with('-') {
        return Err(format!("`{s}` is negative: a duration is like 5s or 2m"));
    }
    humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration like 5s or 2m: {e}"))
}

/// A key prefix as kube-apiserver reads its `--etcd-prefix`: rooted at `/`
/// (`registry` stores under `/registry/`).
pub fn parse_prefix(s: &str) -> Result<String, String> {
    Ok(if s.starts_with('/') {
        s.to_string()
    } else {
        format!("/{s}")
    })
}

/// Parse a size like `100MB`, `1.5GiB` or `2048`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    s.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("`{s}` is not a size like 100MB or 2GiB: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        // Catches id clashes (e.g. `--key` against a positional `key`) that
        // clap would otherwise only report at run time.
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_lists_its_own_flags_before_the_global_ones() {
        let mut cli = Cli::command();
        cli.build();
        for sub in cli.get_subcommands_mut().filter(|s| s.get_name() != "help") {
            let help = sub.render_long_help().to_string();
            let global = help
                .find("Global options:")
                .unwrap_or_else(|| panic!("`{}` has no Global options heading", sub.get_name()));
            let endpoints = help.find("      --endpoints <URL>").unwrap();
            assert!(
                endpoints > global,
                "`{}`: --endpoints before its heading",
                sub.get_name()
            );
            if let Some(own) = help.find("\nOptions:") {
                assert!(own < global, "`{}`: own options come first", sub.get_name());
            }
        }
    }

    #[test]
    fn durations_and_sizes_parse_as_operators_write_them() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").unwrap_err().contains("negative"));
        assert_eq!(parse_bytes("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 * 1024 * 1024 * 1024);
        assert!(parse_bytes("lots").is_err());
    }

    #[test]
    fn endpoints_split_on_commas() {
        let cli = Cli::try_parse_from([
            "kubectl-etcd",
            "--endpoints",
            "http://a:1,http://b:2",
            "status",
        ])
        .unwrap();
        assert_eq!(cli.global.endpoints, vec!["http://a:1", "http://b:2"]);
    }
}
