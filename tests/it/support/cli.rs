//! The plugin under test, run as a process the way an operator runs it.

use std::process::{Command, Output};

/// The built `kubectl-etcd` with a clean environment: no `ETCDCTL_*`,
/// `KUBECTL_ETCD_*` or `KUBECONFIG` leaking in from the machine running the tests, no colour,
/// and no terminal on stdin (so commands that write refuse without `--yes`).
pub fn plugin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-etcd"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("ETCDCTL_") || k.starts_with("KUBECTL_ETCD_") || k == "KUBECONFIG" {
            cmd.env_remove(k.as_ref());
        }
    }
    cmd.env("NO_COLOR", "1").stdin(std::process::Stdio::null());
    cmd
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code; a test fails loudly if the process died of a signal.
pub fn code(o: &Output) -> i32 {
    o.status
        .code()
        .expect("kubectl-etcd exited with a code, not a signal")
}

/// Run the plugin with `--endpoints` of `c` and `args`.
pub fn run_on(c: &super::Cluster, args: &[&str]) -> Output {
    plugin()
        .arg("--endpoints")
        .arg(c.endpoints())
        .args(args)
        .output()
        .expect("run kubectl-etcd")
}

/// [`run_on`] as a 200-column terminal would: the width the pinned tables
/// (`tables`, `snapshots`) are laid out for.
pub fn run_wide(c: &super::Cluster, args: &[&str]) -> Output {
    plugin()
        .env("COLUMNS", "200")
        .arg("--endpoints")
        .arg(c.endpoints())
        .args(args)
        .output()
        .expect("run kubectl-etcd")
}

/// Run the plugin on `c` and assert its exact exit code (with stdout and
/// stderr in the failure message).
pub fn run_code(c: &super::Cluster, args: &[&str], want: i32) -> Output {
    let o = run_on(c, args);
    assert_eq!(code(&o), want, "{args:?}\n{}", super::output_text(&o));
    o
}

/// Run the plugin on `c`, assert exit 0 and parse stdout as JSON.
pub fn json_on(c: &super::Cluster, args: &[&str]) -> serde_json::Value {
    json(&run_code(c, args, 0))
}

/// Stdout as one JSON document.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", super::output_text(o)))
}

/// `history -o json` (live or `snapshot inspect --history`) after a
/// compaction at `floor`: exactly the versions `revisions`, newest first,
/// the oldest with no predecessor to diff against, and stderr saying where
/// the history stops and why.
pub fn assert_history_stops_at(o: &Output, revisions: &[i64], floor: i64) {
    assert_eq!(code(o), 0, "{}", super::output_text(o));
    let lines = json_lines(o);
    let got: Vec<i64> = lines
        .iter()
        .map(|l| l["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(got, revisions);
    assert_eq!(lines.last().unwrap()["diff"], serde_json::json!([]));
    let err = stderr(o);
    assert!(
        err.contains(&format!("history stops before revision {floor}"))
            && err.contains(&format!("revisions before {floor} were compacted")),
        "{err}"
    );
}

/// Stdout as JSON lines.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The plugin with `--endpoints endpoints` (none when empty) and `args`,
/// not run yet.
pub fn command_at(endpoints: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = plugin();
    if !endpoints.is_empty() {
        cmd.arg("--endpoints").arg(endpoints);
    }
    cmd.args(args);
    cmd
}

/// Run the plugin with explicit `--endpoints` (a subset of a cluster's
/// members, a proxy, ...) and `args`.
/// `resize add NAME --peer-urls PEER --client-url CLIENT`, then `extra`:
/// the arguments of a member added by the wizard.
pub fn resize_add(name: &str, peer: &str, client: &str, extra: &[&str]) -> Vec<String> {
    let base = [
        "resize",
        "add",
        name,
        "--peer-urls",
        peer,
        "--client-url",
        client,
    ];
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

pub fn run_at(endpoints: &str, args: &[&str]) -> Output {
    command_at(endpoints, args)
        .output()
        .expect("run kubectl-etcd")
}

/// Whether process `pid` has a handler installed for SIGINT (bit 2 of
/// `SigCgt` in /proc/PID/status).
pub fn catches_sigint(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|m| m & (1 << (2 - 1)) != 0)
}

/// `cmd` started with stdin closed and stdout and stderr piped, to be
/// read while it runs.
pub fn spawn_piped(cmd: &mut std::process::Command) -> std::process::Child {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl-etcd")
}

/// Ctrl-C, as a terminal sends it: SIGINT to process `pid`.
pub fn send_sigint(pid: u32) {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -INT {pid}");
}

/// Asserts the exact exit code of a finished run, showing its output.
#[track_caller]
pub fn assert_code(o: &Output, want: i32) {
    assert_eq!(o.status.code(), Some(want), "{}", super::output_text(o));
}
