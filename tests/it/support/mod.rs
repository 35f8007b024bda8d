//! Real-etcd test harness shared by every integration test (`mod support;`).
//!
//! Owns: starting and stopping real `etcd` server processes (never a mock) on
//! free 127.0.0.1 ports with per-member temp data dirs and log files,
//! optional TLS (see [`tls`]), auth and backend quota; waiting for health;
//! fault injection (kill / stop / restart a member); and running the real
//! `etcdctl` against the cluster with the right flags.
//!
//! Binaries: `ETCD_BIN` (default `etcd` from PATH); `ETCDCTL_BIN`, else the
//! `etcdctl` beside `ETCD_BIN`, else `etcdctl` from PATH.
//! `scripts/fetch-etcd-3.5.sh` provides a 3.5 build for `ETCD_BIN`.
//!
//! Every process is killed and reaped when the [`Cluster`] is dropped,
//! including while a test unwinds from a panic.
#![allow(dead_code)]

pub mod cli;
pub mod etcdctl;
pub mod keys;
pub mod process;
pub mod pty;
pub mod tls;

use std::collections::HashMap;
use std::env;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use tempfile::TempDir;

#[allow(unused_imports)]
pub use tls::{TlsFiles, CLIENT_CN};

/// Wall-clock cap for one etcdctl run: `--command-timeout` bounds requests,
/// but not dialing or a wedged process, and a hung test is worse than a
/// failed one.
const ETCDCTL_WALL_LIMIT: Duration = Duration::from_secs(30);
/// How long `stop` waits after SIGTERM before resorting to SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);
const LOG_TAIL_LINES: usize = 40;
const START_ATTEMPTS: usize = 3;

/// How client (and optionally peer) traffic is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// https for clients, no client certificate required; plain http peers.
    ServerOnly,
    /// https for clients with `--client-cert-auth`; plain http peers.
    ClientCertAuth,
    /// `ClientCertAuth` plus https peers with `--peer-client-cert-auth`.
    Full,
}

impl TlsMode {
    fn client_cert_auth(self) -> bool {
        matches!(self, TlsMode::ClientCertAuth | TlsMode::Full)
    }
}

#[derive(Clone, Debug)]
pub struct ClusterOpts {
    pub members: usize,
    pub tls: Option<TlsMode>,
    /// `--quota-backend-bytes`; small values (1-2 MiB) let tests reach NOSPACE.
    pub quota_backend_bytes: Option<u64>,
    /// Create `root` with a password, grant it `root` and `auth enable`.
    pub auth: bool,
    /// Appended to every member's command line (also on restart).
    pub extra_args: Vec<String>,
    pub heartbeat_ms: u64,
    pub election_ms: u64,
    /// Bound for the initial health wait and for [`Cluster::wait_healthy`].
    pub startup_timeout: Duration,
    /// Members are named `{name_prefix}{i}`: `m0`, or `etcd-0` as a
    /// StatefulSet names its pods.
    pub name_prefix: &'static str,
    /// Run member `.0` under this command prefix (e.g. `strace ... --` to
    /// slow its fsyncs); the prefix gets its own process group, killed whole.
    pub command_prefix: Option<(usize, Vec<String>)>,
    /// Days the member (server) certificates stay valid; default rcgen's.
    pub server_cert_days: Option<i64>,
    /// Give every member a plain-http `--listen-metrics-urls` on a port of
    /// its own, as kubeadm does (`http://127.0.0.1:2381`).
    pub metrics_urls: bool,
}

impl Default for ClusterOpts {
    fn default() -> Self {
        ClusterOpts {
            members: 1,
            tls: None,
            quota_backend_bytes: None,
            auth: false,
            extra_args: Vec::new(),
            // Elections after a kill take about a second, and a dozen etcd
            // processes sharing two loaded cores do not miss heartbeats
            // often enough to start spontaneous elections (50/500 did).
            heartbeat_ms: 100,
            election_ms: 1500,
            startup_timeout: Duration::from_secs(20),
            name_prefix: "m",
            command_prefix: None,
            server_cert_days: None,
            metrics_urls: false,
        }
    }
}

impl ClusterOpts {
    /// URL schemes of client and peer traffic.
    fn schemes(&self) -> (&'static str, &'static str) {
        let client = if self.tls.is_some() { "https" } else { "http" };
        let peer = if self.tls == Some(TlsMode::Full) {
            "https"
        } else {
            "http"
        };
        (client, peer)
    }

    pub fn members(n: usize) -> Self {
        ClusterOpts {
            members: n,
            ..Default::default()
        }
    }
}

/// Credentials of the `root` user of an auth-enabled cluster.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    /// The `user:password` form taken by `etcdctl --user`.
    pub fn user_arg(&self) -> String {
        format!("{}:{}", self.user, self.password)
    }
}

pub struct Member {
    name: String,
    client_url: String,
    peer_url: String,
    dir: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    /// Set when the process died on its own (seen by a health poll).
    exited: Option<ExitStatus>,
    /// `--listen-metrics-urls` when the cluster has them.
    metrics_url: Option<String>,
    /// The child leads its own process group (a command prefix runs etcd
    /// as its child): killing means killing the group.
    group: bool,
    /// Listeners holding the ports of a member not started yet, so no other
    /// test's free-port search gets them; dropped right before etcd is
    /// spawned. (A member that was stopped does not hold its ports: a test
    /// connecting to it must see "connection refused", not a listener that
    /// never answers; `restart` retries when one was taken meanwhile.)
    reserved: Vec<TcpListener>,
    /// Length of the log when the member was last spawned: what its
    /// current run wrote starts there.
    log_start: u64,
}

impl Member {
    /// A member not started yet, in `dir/name`, on `ports` (client, peer
    /// and, when there are three, metrics), holding `reserved` until spawned.
    fn new(
        opts: &ClusterOpts,
        dir: &Path,
        name: &str,
        ports: &[u16],
        reserved: Vec<TcpListener>,
    ) -> Member {
        let (client_scheme, peer_scheme) = opts.schemes();
        let mdir = dir.join(name);
        fs::create_dir_all(&mdir).expect("create member dir");
        Member {
            name: name.to_owned(),
            client_url: format!("{client_scheme}://127.0.0.1:{}", ports[0]),
            peer_url: format!("{peer_scheme}://127.0.0.1:{}", ports[1]),
            metrics_url: ports.get(2).map(|p| format!("http://127.0.0.1:{p}")),
            // etcd creates it itself with the 0700 mode it insists on.
            data_dir: mdir.join("data"),
            log_path: mdir.join("etcd.log"),
            dir: mdir,
            child: None,
            exited: None,
            group: false,
            reserved,
            log_start: 0,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn client_url(&self) -> &str {
        &self.client_url
    }
    pub fn peer_url(&self) -> &str {
        &self.peer_url
    }
    /// The plain-http metrics URL, with [`ClusterOpts::metrics_urls`].
    pub fn metrics_url(&self) -> Option<&str> {
        self.metrics_url.as_deref()
    }
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    /// `None` once the member was killed, stopped or has exited.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    fn reap_if_exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok().flatten()?;
        self.child = None;
        self.exited = Some(status);
        Some(status)
    }

    fn kill_and_reap(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.group {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether its current run failed because a port was taken.
    fn lost_a_port(&self) -> bool {
        use std::io::{Seek, SeekFrom};
        let Ok(mut f) = fs::File::open(&self.log_path) else {
            return false;
        };
        let mut text = String::new();
        let _ = f.seek(SeekFrom::Start(self.log_start));
        let _ = f.read_to_string(&mut text);
        self.exited.is_some() && text.contains("address already in use")
    }
}

/// True when no live process with `pid` runs etcd on `data_dir`; checks the
/// command line so a recycled pid does not count as a leak.
pub fn process_gone(pid: u32, data_dir: &Path) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = fs::read_to_string(proc_dir.join("stat")) else {
        return true;
    };
    // The state is the first field after the parenthesised comm; Z = zombie,
    // i.e. exited but never reaped, which is a leak too.
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    let cmdline = fs::read(proc_dir.join("cmdline")).unwrap_or_default();
    let ours = String::from_utf8_lossy(&cmdline).contains(&*data_dir.to_string_lossy());
    !(ours || zombie)
}

pub fn etcd_bin() -> PathBuf {
    env::var_os("ETCD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("etcd"))
}

pub fn etcdctl_bin() -> PathBuf {
    if let Some(p) = env::var_os("ETCDCTL_BIN") {
        return PathBuf::from(p);
    }
    if let Some(etcd) = env::var_os("ETCD_BIN") {
        let beside = Path::new(&etcd).with_file_name("etcdctl");
        if beside.exists() {
            return beside;
        }
    }
    PathBuf::from("etcdctl")
}

/// The server version of [`etcd_bin`], e.g. `3.4.23`, so tests can gate on
/// version-specific behaviour.
pub fn etcd_version() -> String {
    let out = Command::new(etcd_bin())
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("run {:?} --version: {e}", etcd_bin()));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("etcd Version:"))
        .map(|v| v.trim().to_owned())
        .expect("`etcd --version` prints `etcd Version: X`")
}

/// Strips inherited variables with the given prefix: etcd and etcdctl read
/// `ETCD_*` / `ETCDCTL_*` as flags and refuse to start when one conflicts with
/// a command-line flag (our own `ETCD_BIN` / `ETCDCTL_BIN` included).
fn scrub_env(cmd: &mut Command, prefix: &str) {
    for (k, _) in env::vars_os() {
        if k.to_string_lossy().starts_with(prefix) {
            cmd.env_remove(k);
        }
    }
}

fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "kubectl-etcd-test-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The first executable `name` on `PATH`, as a shell would find it.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Binds `n` listeners on 127.0.0.1:0 and keeps them all open, so the kernel
/// cannot hand out the same port twice; the caller releases them right before
/// spawning etcd.
fn reserve_ports(n: usize) -> (Vec<TcpListener>, Vec<u16>) {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    let ports = listeners
        .iter()
        .map(|l| l.local_addr().expect("local_addr").port())
        .collect();
    (listeners, ports)
}

/// Runs `cmd` with piped output and a wall-clock limit; on timeout the child
/// is killed and the returned status is its (signal) exit status.
fn run_bounded(mut cmd: Command, stdin: Option<Vec<u8>>, limit: Duration) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        thread::sleep(Duration::from_millis(10));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A running etcd cluster of real processes; dropped = all killed.
pub struct Cluster {
    members: Vec<Member>,
    opts: ClusterOpts,
    token: String,
    tls: Option<TlsFiles>,
    auth: Option<Credentials>,
    etcd_bin: PathBuf,
    etcdctl_bin: PathBuf,
    // Declared last so the directory outlives the processes killed in Drop.
    dir: TempDir,
}

enum StartError {
    /// A member lost the race for one of its released ports; retry with new ones.
    PortTaken(String),
    Failed(String),
}

impl Cluster {
    /// Starts `opts.members` etcd processes and returns once all are healthy
    /// (and, with `auth`, once auth is enabled). Panics with the members'
    /// logs when that does not happen within `opts.startup_timeout`.
    pub fn start(opts: ClusterOpts) -> Cluster {
        assert!(opts.members >= 1, "a cluster needs at least one member");
        let mut last = String::new();
        for attempt in 1..=START_ATTEMPTS {
            match Cluster::try_start(&opts) {
                Ok(cluster) => return cluster,
                Err(StartError::PortTaken(msg)) => {
                    eprintln!("etcd test cluster: port taken (attempt {attempt}), retrying");
                    last = msg;
                }
                Err(StartError::Failed(msg)) => panic!("{msg}"),
            }
        }
        panic!("{last}")
    }

    /// A single plain-http member with default options.
    pub fn single() -> Cluster {
        Cluster::start(ClusterOpts::default())
    }

    fn try_start(opts: &ClusterOpts) -> Result<Cluster, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("etcd-test-")
            .tempdir()
            .expect("create temp dir");
        let names: Vec<String> = (0..opts.members)
            .map(|i| format!("{}{i}", opts.name_prefix))
            .collect();
        let tls = opts.tls.map(|_| {
            TlsFiles::generate_with(&dir.path().join("tls"), &names, opts.server_cert_days)
        });
        let per_member = if opts.metrics_urls { 3 } else { 2 };
        let (listeners, ports) = reserve_ports(opts.members * per_member);
        let mut listeners = listeners.into_iter();
        let members = names
            .iter()
            .zip(ports.chunks(per_member))
            .map(|(name, ports)| {
                let reserved = listeners.by_ref().take(per_member).collect();
                Member::new(opts, dir.path(), name, ports, reserved)
            })
            .collect();
        let mut cluster = Cluster {
            members,
            opts: opts.clone(),
            token: unique_token(),
            tls,
            auth: None,
            etcd_bin: etcd_bin(),
            etcdctl_bin: etcdctl_bin(),
            dir,
        };
        for i in 0..cluster.members.len() {
            cluster.spawn(i, "new");
        }
        if let Err(e) = cluster.poll_healthy(opts.startup_timeout) {
            let msg = cluster.failure_report(&format!("cluster did not become healthy: {e}"));
            let port_taken = cluster.members.iter().any(Member::lost_a_port);
            // `cluster` drops here and kills the members that did start.
            return Err(if port_taken {
                StartError::PortTaken(msg)
            } else {
                StartError::Failed(msg)
            });
        }
        if opts.auth {
            cluster.enable_auth();
        }
        Ok(cluster)
    }

    fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spawn(&mut self, i: usize, state: &str) {
        let initial_cluster = self.initial_cluster();
        self.spawn_with(i, state, &initial_cluster);
    }

    // ----- extra members (membership changes, restores) --------------------

    /// A new member slot `name` with fresh ports and an empty data dir, not
    /// started; returns its index. Start it with [`Cluster::start_joining`].
    pub fn add_member(&mut self, name: &str) -> usize {
        let (listeners, ports) = reserve_ports(2);
        // Held until `start_joining` spawns it.
        let member = Member::new(&self.opts, self.dir.path(), name, &ports, listeners);
        self.members.push(member);
        self.members.len() - 1
    }

    /// Adds a learner `name` (`etcdctl member add --learner`, retried while
    /// etcd refuses membership changes just after a leader change), starts
    /// it, and returns its index once it answers `endpoint status`.
    pub fn add_learner(&mut self, name: &str) -> usize {
        let i = self.add_member(name);
        let peer = self.members[i].peer_url.clone();
        let timeout = self.opts.startup_timeout;
        wait_until("the learner to be added", timeout, || {
            let add = ["member", "add", name, "--learner", "--peer-urls", &peer];
            self.ctl().run(&add).status.success()
                || self.ctl().ok(&["member", "list"]).contains(&peer)
        });
        let initial = self.initial_cluster();
        self.start_joining(i, &initial);
        wait_until("the learner to answer", timeout, || {
            self.ctl()
                .endpoint(i)
                .run(&["endpoint", "status"])
                .status
                .success()
        });
        i
    }

    /// Start member `i` joining a running cluster
    /// (`--initial-cluster-state existing`) with the given `--initial-cluster`.
    pub fn start_joining(&mut self, i: usize, initial_cluster: &str) {
        self.spawn_with(i, "existing", initial_cluster);
    }

    /// Point member `i` at another data dir (a restored one); takes effect
    /// at its next start.
    pub fn set_data_dir(&mut self, i: usize, data_dir: &Path) {
        self.members[i].data_dir = data_dir.to_path_buf();
    }

    fn spawn_with(&mut self, i: usize, state: &str, initial_cluster: &str) {
        let m = &self.members[i];
        assert!(m.child.is_none(), "member {i} is already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log_path)
            .expect("open member log");
        let prefix = match &self.opts.command_prefix {
            Some((j, prefix)) if *j == i && !prefix.is_empty() => Some(prefix.clone()),
            _ => None,
        };
        let mut cmd = match &prefix {
            Some(p) => {
                use std::os::unix::process::CommandExt;
                let mut cmd = Command::new(&p[0]);
                cmd.args(&p[1..]).arg(&self.etcd_bin).process_group(0);
                cmd
            }
            None => Command::new(&self.etcd_bin),
        };
        scrub_env(&mut cmd, "ETCD");
        let heartbeat = self.opts.heartbeat_ms.to_string();
        let election = self.opts.election_ms.to_string();
        let data_dir = m.data_dir.to_string_lossy().into_owned();
        cmd.args(["--name", &m.name, "--data-dir", &data_dir])
            .args(["--listen-client-urls", &m.client_url])
            .args(["--advertise-client-urls", &m.client_url])
            .args(["--listen-peer-urls", &m.peer_url])
            .args(["--initial-advertise-peer-urls", &m.peer_url])
            .args(["--initial-cluster", initial_cluster])
            .args(["--initial-cluster-state", state])
            .args(["--initial-cluster-token", &self.token])
            .args(["--heartbeat-interval", &heartbeat])
            .args(["--election-timeout", &election])
            .args(["--logger", "zap", "--log-outputs", "stderr"]);
        if let Some(url) = &m.metrics_url {
            cmd.args(["--listen-metrics-urls", url]);
        }
        if let Some(q) = self.opts.quota_backend_bytes {
            cmd.arg(format!("--quota-backend-bytes={q}"));
        }
        if let (Some(mode), Some(tls)) = (self.opts.tls, &self.tls) {
            // A member added later presents the first member's certificate
            // (it names 127.0.0.1 too).
            let (cert, key) = tls.members.get(i).unwrap_or(&tls.members[0]);
            cmd.arg("--cert-file").arg(cert).arg("--key-file").arg(key);
            if mode.client_cert_auth() {
                cmd.arg("--trusted-ca-file").arg(&tls.ca);
                cmd.arg("--client-cert-auth");
            }
            if mode == TlsMode::Full {
                cmd.arg("--peer-cert-file").arg(cert);
                cmd.arg("--peer-key-file").arg(key);
                cmd.arg("--peer-trusted-ca-file").arg(&tls.ca);
                cmd.arg("--peer-client-cert-auth");
            }
        }
        cmd.args(&self.opts.extra_args);
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        // Released at the last moment: etcd binds them right after.
        self.members[i].reserved.clear();
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run etcd {:?} ({e}); install etcd-server or set ETCD_BIN \
                 (scripts/fetch-etcd-3.5.sh)",
                self.etcd_bin
            )
        });
        let m = &mut self.members[i];
        m.child = Some(child);
        m.exited = None;
        m.group = prefix.is_some();
        m.log_start = log_start;
    }

    // ----- accessors -------------------------------------------------------

    /// Comma-joined client URLs of all members (running or not).
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(|m| m.client_url.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Comma-joined client URLs of the members currently running.
    pub fn running_endpoints(&self) -> String {
        self.members
            .iter()
            .filter(|m| m.is_running())
            .map(|m| m.client_url.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn member(&self, i: usize) -> &Member {
        &self.members[i]
    }
    pub fn members(&self) -> &[Member] {
        &self.members
    }
    pub fn len(&self) -> usize {
        self.members.len()
    }
    /// Panics when the cluster was started without TLS.
    pub fn tls(&self) -> &TlsFiles {
        self.tls.as_ref().expect("cluster started without TLS")
    }
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }
    /// Root credentials once auth is enabled.
    pub fn auth(&self) -> Option<&Credentials> {
        self.auth.as_ref()
    }
    pub fn opts(&self) -> &ClusterOpts {
        &self.opts
    }
    /// The cluster's temp dir (members, logs, PEM files live below it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    /// The `--initial-cluster-token` every member started with.
    pub fn token(&self) -> &str {
        &self.token
    }
    /// `--initial-cluster` of the members as started.
    pub fn initial_cluster_flag(&self) -> String {
        self.initial_cluster()
    }
    pub fn etcdctl_path(&self) -> &Path {
        &self.etcdctl_bin
    }

    // ----- logs ------------------------------------------------------------

    /// The last `n` lines of member `i`'s log (all its runs, appended).
    pub fn log_tail(&self, i: usize, n: usize) -> String {
        let text = fs::read_to_string(&self.members[i].log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// `msg` followed by the state and log tail of every member.
    pub fn failure_report(&self, msg: &str) -> String {
        let mut s = format!("{msg}\n");
        for (i, m) in self.members.iter().enumerate() {
            let state = match (&m.child, m.exited) {
                (Some(c), _) => format!("running pid {}", c.id()),
                (None, Some(st)) => format!("exited: {st}"),
                (None, None) => "not running".to_string(),
            };
            s.push_str(&format!(
                "===== member {i} {} {} ({state}) log tail =====\n{}\n",
                m.name,
                m.client_url,
                self.log_tail(i, LOG_TAIL_LINES)
            ));
        }
        s
    }

    // ----- health ----------------------------------------------------------

    /// Waits (bounded by `opts.startup_timeout`) until every running member
    /// reports healthy; panics with logs otherwise. A member with an active
    /// alarm (e.g. NOSPACE) counts as unhealthy.
    pub fn wait_healthy(&mut self) {
        let timeout = self.opts.startup_timeout;
        if let Err(e) = self.poll_healthy(timeout) {
            panic!(
                "{}",
                self.failure_report(&format!("cluster not healthy within {timeout:?}: {e}"))
            );
        }
    }

    fn poll_healthy(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            for (i, m) in self.members.iter_mut().enumerate() {
                if let Some(status) = m.reap_if_exited() {
                    return Err(format!("member {i} ({}) exited: {status}", m.name));
                }
            }
            let endpoints = self.running_endpoints();
            if endpoints.is_empty() {
                return Err("no member is running".into());
            }
            let out = self.ctl().endpoints(&endpoints).run(&[
                "endpoint",
                "health",
                "--command-timeout=2s",
            ]);
            if out.status.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "last `etcdctl endpoint health`: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            thread::sleep(POLL);
        }
    }

    fn statuses(&self) -> Vec<(usize, serde_json::Value)> {
        let out = self
            .ctl()
            .endpoints(&self.running_endpoints())
            .run(&["endpoint", "status", "-w", "json"]);
        // Unreachable endpoints only go to stderr; the rest is still valid.
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let by_url: HashMap<&str, usize> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.client_url.as_str(), i))
            .collect();
        list.into_iter()
            .filter_map(|e| {
                let i = *by_url.get(e["Endpoint"].as_str()?)?;
                Some((i, e["Status"].clone()))
            })
            .collect()
    }

    /// The index of the leader if every running member answers and agrees on
    /// it right now.
    pub fn try_leader_index(&self) -> Option<usize> {
        let statuses = self.statuses();
        let running = self.members.iter().filter(|m| m.is_running()).count();
        if statuses.len() != running {
            return None;
        }
        let leader = statuses[0].1["leader"].as_u64().filter(|&l| l != 0)?;
        if statuses
            .iter()
            .any(|(_, s)| s["leader"].as_u64() != Some(leader))
        {
            return None;
        }
        statuses
            .iter()
            .find(|(_, s)| s["header"]["member_id"].as_u64() == Some(leader))
            .map(|(i, _)| *i)
    }

    /// The index of the leader, polling until the running members agree on
    /// one (bounded by `opts.startup_timeout`).
    pub fn leader_index(&self) -> usize {
        let deadline = Instant::now() + self.opts.startup_timeout;
        loop {
            if let Some(i) = self.try_leader_index() {
                return i;
            }
            if Instant::now() >= deadline {
                panic!("{}", self.failure_report("no agreed leader"));
            }
            thread::sleep(POLL);
        }
    }

    /// The sum of the samples of metric `name` (all label sets) on member
    /// `i`'s `/metrics`, served on its plain-http client URL; `None` when
    /// the member does not answer or has no such metric.
    pub fn metric(&self, i: usize, name: &str) -> Option<f64> {
        use std::net::TcpStream;
        let url = &self.members[i].client_url;
        let addr = url.strip_prefix("http://")?;
        let mut conn = TcpStream::connect(addr).ok()?;
        conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(conn, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
        let mut text = String::new();
        conn.read_to_string(&mut text).ok()?;
        let samples: Vec<f64> = text
            .lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        (!samples.is_empty()).then(|| samples.iter().sum())
    }

    /// The raft member id of member `i` (needed by `member remove` & co).
    pub fn member_id(&self, i: usize) -> u64 {
        let out = self
            .ctl()
            .endpoint(i)
            .ok(&["endpoint", "status", "-w", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("endpoint status json");
        v[0]["Status"]["header"]["member_id"]
            .as_u64()
            .expect("member_id in endpoint status")
    }

    // ----- fault injection ------------------------------------------------

    /// SIGKILL member `i` and reap it.
    pub fn kill(&mut self, i: usize) {
        self.members[i].kill_and_reap();
    }

    /// SIGSTOP member `i`: it keeps its sockets (the kernel still accepts
    /// and buffers what clients send) but answers nothing until
    /// [`Cluster::resume`]. SIGKILL on drop works on a paused member.
    pub fn pause(&mut self, i: usize) {
        self.signal(i, "-STOP");
    }

    /// SIGCONT member `i` after [`Cluster::pause`].
    pub fn resume(&mut self, i: usize) {
        self.signal(i, "-CONT");
    }

    fn signal(&mut self, i: usize, sig: &str) {
        let pid = self.members[i].pid().expect("member is running");
        let sent = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("kill(1)");
        assert!(sent.success(), "kill {sig} {pid}");
    }

    /// SIGTERM member `i` and wait for it to exit (SIGKILL after 10 s).
    pub fn stop(&mut self, i: usize) {
        let m = &mut self.members[i];
        let Some(mut child) = m.child.take() else {
            return;
        };
        // std can only SIGKILL; kill(1) keeps the harness free of a libc
        // dependency. The child is not reaped yet, so its pid is still ours.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                m.exited = Some(status);
                return;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts member `i` again on the same data dir and ports and waits until
    /// all running members are healthy.
    ///
    /// A port of the member taken meanwhile (by another process's outgoing
    /// connection, say) makes etcd exit with "address already in use": the
    /// start is retried a few times, as such ports are soon free again.
    pub fn restart(&mut self, i: usize) {
        for attempt in 1..=START_ATTEMPTS {
            self.restart_no_wait(i);
            let timeout = self.opts.startup_timeout;
            match self.poll_healthy(timeout) {
                Ok(()) => return,
                Err(_) if attempt < START_ATTEMPTS && self.members[i].lost_a_port() => {
                    eprintln!("etcd test member {i}: port taken (attempt {attempt}), retrying");
                    thread::sleep(Duration::from_secs(1));
                }
                Err(e) => panic!(
                    "{}",
                    self.failure_report(&format!("cluster not healthy within {timeout:?}: {e}"))
                ),
            }
        }
    }

    /// Starts member `i` again without waiting (e.g. when quorum needs more
    /// than this one member to come back).
    pub fn restart_no_wait(&mut self, i: usize) {
        self.spawn(i, "existing");
    }

    // ----- etcdctl -----------------------------------------------------------

    /// An etcdctl invocation preconfigured for this cluster: running members'
    /// endpoints, TLS files and root credentials; each can be turned off.
    pub fn ctl(&self) -> Etcdctl<'_> {
        Etcdctl {
            cluster: self,
            endpoints: None,
            ca: true,
            client_cert: true,
            auth: true,
            stdin: None,
            extra: Vec::new(),
        }
    }

    /// Runs the real etcdctl (ETCDCTL_API=3) with the cluster's flags.
    pub fn etcdctl(&self, args: &[&str]) -> Output {
        self.ctl().run(args)
    }

    /// Puts `key`=`value`, panicking (with logs) on failure.
    pub fn put(&self, key: &str, value: &str) {
        self.ctl().ok(&["put", key, value]);
    }

    /// The value of `key`, `None` if absent; panics if etcdctl fails.
    pub fn get(&self, key: &str) -> Option<String> {
        get_via(self.ctl(), key)
    }

    /// Like [`Cluster::get`] but served by member `i` only.
    pub fn get_from(&self, i: usize, key: &str) -> Option<String> {
        get_via(self.ctl().endpoint(i), key)
    }

    /// Output of `etcdctl alarm list`.
    pub fn alarm_list(&self) -> String {
        self.ctl().ok(&["alarm", "list"])
    }

    /// Writes 100 KiB values under `fill/` until etcd refuses with
    /// `mvcc: database space exceeded`; returns the number of accepted puts.
    /// Needs `quota_backend_bytes`. The NOSPACE alarm is raised right after
    /// (asynchronously, through raft).
    pub fn fill_until_nospace(&self) -> usize {
        let quota = self
            .opts
            .quota_backend_bytes
            .expect("fill_until_nospace needs quota_backend_bytes");
        const CHUNK: usize = 100 * 1024;
        let value = vec![b'x'; CHUNK];
        let max_puts = (quota as usize / CHUNK) * 4 + 50;
        let mut other_errors = Vec::new();
        for n in 0..max_puts {
            let key = format!("fill/{n:06}");
            // The value goes through stdin: it does not fit in an argv slot.
            let out = self.ctl().stdin(value.clone()).run(&["put", &key]);
            if out.status.success() {
                continue;
            }
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            if err.contains("database space exceeded") {
                return n - other_errors.len();
            }
            other_errors.push(err);
            if other_errors.len() > 5 {
                break;
            }
        }
        panic!(
            "{}",
            self.failure_report(&format!(
                "no NOSPACE after filling; unexpected errors: {other_errors:?}"
            ))
        )
    }

    // ----- auth --------------------------------------------------------------

    fn enable_auth(&mut self) {
        let creds = Credentials {
            user: "root".into(),
            password: format!("pw-{}", &self.token[self.token.len() - 8..]),
        };
        let user_spec = creds.user_arg();
        let no_auth = |args: &[&str]| {
            self.ctl().without_auth().ok(args);
        };
        no_auth(&["user", "add", &user_spec, "--interactive=false"]);
        no_auth(&["user", "grant-role", "root", "root"]);
        no_auth(&["auth", "enable"]);
        self.auth = Some(creds);
    }
}

fn get_via(ctl: Etcdctl<'_>, key: &str) -> Option<String> {
    let out = ctl.ok(&["get", key, "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("etcdctl get json");
    let b64 = v["kvs"].as_array()?.first()?["value"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64 value");
    Some(String::from_utf8(bytes).expect("utf-8 value"))
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            m.kill_and_reap();
        }
    }
}

/// Builder for one etcdctl run; see [`Cluster::ctl`].
pub struct Etcdctl<'a> {
    cluster: &'a Cluster,
    endpoints: Option<String>,
    ca: bool,
    client_cert: bool,
    auth: bool,
    stdin: Option<Vec<u8>>,
    extra: Vec<String>,
}

impl<'a> Etcdctl<'a> {
    /// Talk to member `i` only.
    pub fn endpoint(mut self, i: usize) -> Self {
        self.endpoints = Some(self.cluster.members[i].client_url.clone());
        self
    }
    /// Explicit comma-joined endpoints.
    pub fn endpoints(mut self, endpoints: &str) -> Self {
        self.endpoints = Some(endpoints.to_owned());
        self
    }
    /// No `--cacert/--cert/--key` at all.
    pub fn without_tls(mut self) -> Self {
        self.ca = false;
        self.client_cert = false;
        self
    }
    /// Keep `--cacert` but present no client certificate.
    pub fn without_client_cert(mut self) -> Self {
        self.client_cert = false;
        self
    }
    /// No `--user` even when auth is enabled.
    pub fn without_auth(mut self) -> Self {
        self.auth = false;
        self
    }
    /// Extra global flags (e.g. `--user=x:y`, `--cacert=...`); placed after
    /// the harness' flags, so they win over them.
    pub fn flag(mut self, flag: impl Into<String>) -> Self {
        self.extra.push(flag.into());
        self
    }
    pub fn stdin(mut self, data: Vec<u8>) -> Self {
        self.stdin = Some(data);
        self
    }

    /// The command line etcdctl would get, minus the program.
    pub fn command(&self, args: &[&str]) -> Command {
        let c = self.cluster;
        let mut cmd = Command::new(&c.etcdctl_bin);
        scrub_env(&mut cmd, "ETCDCTL");
        cmd.env("ETCDCTL_API", "3");
        let endpoints = self
            .endpoints
            .clone()
            .unwrap_or_else(|| c.running_endpoints());
        cmd.arg(format!("--endpoints={endpoints}"))
            .arg("--dial-timeout=2s")
            .arg("--command-timeout=5s");
        if let Some(tls) = &c.tls {
            if self.ca {
                cmd.arg("--cacert").arg(&tls.ca);
            }
            if self.client_cert {
                cmd.arg("--cert").arg(&tls.cert).arg("--key").arg(&tls.key);
            }
        }
        if let (true, Some(creds)) = (self.auth, &c.auth) {
            cmd.arg(format!("--user={}", creds.user_arg()));
        }
        cmd.args(&self.extra).args(args);
        cmd
    }

    pub fn run(self, args: &[&str]) -> Output {
        let cmd = self.command(args);
        run_bounded(cmd, self.stdin, ETCDCTL_WALL_LIMIT)
    }

    /// Runs and returns stdout, panicking with stderr and logs on failure.
    pub fn ok(self, args: &[&str]) -> String {
        let cluster = self.cluster;
        let out = self.run(args);
        if !out.status.success() {
            panic!(
                "{}",
                cluster.failure_report(&format!(
                    "etcdctl {args:?} failed ({}): {}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ))
            );
        }
        String::from_utf8(out.stdout).expect("utf-8 etcdctl output")
    }
}

/// Waits until `cond` holds, polling every 100 ms; fails the test naming
/// `what` once `timeout` has passed. For waits on a condition instead of a
/// fixed sleep.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        thread::sleep(POLL);
    }
}

/// `Output` as text, for assertions and messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "status: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
