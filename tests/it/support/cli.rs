//! The plugin under test, run as a process the way an operator runs it.

use std::process::{Command, Output};

/// The built `kubectl-etcd` with a clean environment: no `ETCDCTL_*` or
/// `KUBECONFIG` leaking in from the machine running the tests, no colour,
/// and no terminal on stdin (so commands that write refuse without `--yes`).
pub fn plugin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-etcd"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("ETCDCTL_") || k == "KUBECONFIG" {
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
