//! Dynamic shell completion, through the real `kubectl __complete etcd ...`
//! (kubectl's plugin completion running `completions/kubectl_complete-etcd`)
//! and through the binary's own bash script loaded in bash, against a real
//! etcd holding namespaces, pods and a custom resource.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::objects;
use crate::support::{self, Cluster};

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_kubectl-etcd"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// PATH with the plugin and its kubectl completion script first.
fn path_with_plugin() -> String {
    let completions = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    format!(
        "{}:{}:{}",
        bin_dir().display(),
        completions.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// kubectl on PATH; its absence fails under CI unless opted out (README).
fn kubectl() -> Option<PathBuf> {
    if let Some(k) = support::find_on_path("kubectl") {
        return Some(k);
    }
    let opted_out =
        std::env::var_os("KUBECTL_ETCD_NO_KUBECTL").is_some_and(|v| !v.is_empty() && v != "0");
    assert!(
        opted_out || std::env::var_os("CI").is_none(),
        "kubectl is not on PATH; set KUBECTL_ETCD_NO_KUBECTL=1 to skip on purpose"
    );
    eprintln!("SKIPPED: completion through kubectl (kubectl not on PATH)");
    None
}

/// `kubectl __complete etcd WORDS...`: the candidates (value, description)
/// and the directive line.
fn kubectl_complete(
    kubectl: &Path,
    endpoints: Option<&str>,
    env: &[(&str, &str)],
    words: &[&str],
) -> (Vec<(String, String)>, String) {
    let mut cmd = Command::new(kubectl);
    cmd.arg("__complete")
        .arg("etcd")
        .args(words)
        .env("PATH", path_with_plugin())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .env_remove("ETCDCTL_ENDPOINTS");
    if let Some(ep) = endpoints {
        cmd.env("ETCDCTL_ENDPOINTS", ep);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "kubectl __complete: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines: Vec<&str> = text.lines().collect();
    let directive = lines.pop().unwrap_or_default().to_string();
    let candidates = lines
        .iter()
        .map(|l| {
            let (v, d) = l.split_once('\t').unwrap_or((l, ""));
            (v.to_string(), d.to_string())
        })
        .collect();
    (candidates, directive)
}

fn values(c: &[(String, String)]) -> Vec<&str> {
    c.iter().map(|(v, _)| v.as_str()).collect()
}

fn seeded() -> Cluster {
    let c = Cluster::single();
    let mut objs = vec![
        objects::namespace("default", 1),
        objects::namespace("kube-system", 2),
        objects::namespace("team-a", 3),
        objects::pod("team-a", "web-0", 1, 0),
        objects::pod("team-a", "web-1", 2, 0),
        objects::pod("default", "db-0", 3, 0),
        objects::widget_crd(),
        objects::widget("team-a", "gear", 4, 0),
    ];
    // A custom resource whose CRD object is not stored.
    let mut orphan = objects::widget("team-a", "cog", 5, 0);
    orphan.key = "/registry/gadgets.example.org/gizmos/team-a/cog".into();
    objs.push(orphan);
    for o in &objs {
        let out = c.ctl().stdin(o.value.clone()).run(&["put", &o.key]);
        assert_eq!(out.status.code(), Some(0), "put {}", o.key);
    }
    c
}

#[test]
fn kubectl_completes_commands_flags_and_cluster_names_from_etcd() {
    let Some(kubectl) = kubectl() else { return };
    let c = seeded();
    let endpoints = c.endpoints();
    let ep = Some(endpoints.as_str());

    // Subcommands and flags, each with its one-line description.
    let (got, directive) = kubectl_complete(&kubectl, None, &[], &["st"]);
    assert_eq!(directive, ":4", "ShellCompDirectiveNoFileComp");
    assert_eq!(values(&got), ["status"]);
    assert!(got[0].1.starts_with("Per-member status"), "{got:?}");
    let (got, _) = kubectl_complete(&kubectl, None, &[], &["status", "--quota"]);
    assert_eq!(values(&got), ["--quota-bytes"]);
    assert!(!got[0].1.is_empty(), "flags have descriptions: {got:?}");

    // -n: the namespaces stored in etcd.
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["ls", "pods", "-n", ""]);
    assert_eq!(values(&got), ["default", "kube-system", "team-a"]);
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["ls", "-n", "te"]);
    assert_eq!(values(&got), ["team-a"]);

    // TYPE: built-in names, short names, and custom types in the keyspace
    // (with a CRD, and without one).
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["count", "po"]);
    assert!(
        values(&got).contains(&"pods") && values(&got).contains(&"po"),
        "{got:?}"
    );
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["ls", "g"]);
    assert!(
        values(&got).contains(&"gizmos.gadgets.example.org"),
        "{got:?}"
    );
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["ls", "wid"]);
    assert!(values(&got).contains(&"widgets.example.com"), "{got:?}");

    // get TYPE/<TAB> from the keys; get TYPE -n NS <TAB>.
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["get", "pods/"]);
    assert_eq!(
        values(&got),
        [
            "pods/default/db-0",
            "pods/team-a/web-0",
            "pods/team-a/web-1"
        ]
    );
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["get", "po/team-a/web-1"]);
    assert_eq!(values(&got), ["po/team-a/web-1"]);
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["get", "-n", "team-a", "pods/"]);
    assert_eq!(values(&got), ["pods/web-0", "pods/web-1"]);
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["get", "pods", "-n", "team-a", ""]);
    assert_eq!(values(&got), ["web-0", "web-1"]);
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["get", "wg", "-n", "team-a", ""]);
    assert_eq!(values(&got), ["gear"], "CRD short name resolves");
    // --endpoints on the line works as well as ETCDCTL_ENDPOINTS.
    let (got, _) = kubectl_complete(
        &kubectl,
        None,
        &[],
        &["--endpoints", &endpoints, "get", "pods", ""],
    );
    assert_eq!(values(&got), ["db-0"], "default namespace, as kubectl");

    // --member: the member list, with id and URL.
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["defrag", "--member", ""]);
    assert_eq!(values(&got), [c.member(0).name()]);
    assert!(
        got[0].1.contains(&format!("{:016x}", c.member_id(0))),
        "{got:?}"
    );
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["move-leader", "--to", "m"]);
    assert_eq!(values(&got), [c.member(0).name()], "--to");

    // File arguments complete as files.
    let (got, _) = kubectl_complete(&kubectl, ep, &[], &["put", "x", "-f", "Cargo.t"]);
    assert_eq!(values(&got), ["Cargo.toml"]);
}

#[test]
fn kubectl_completes_contexts_from_the_kubeconfig() {
    let Some(kubectl) = kubectl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {server: https://127.0.0.1:1}\n\
         - name: staging\n  cluster: {server: https://127.0.0.1:2}\nusers:\n- name: u\n  user: {token: t}\n\
         contexts:\n- name: prod-admin\n  context: {cluster: prod, user: u}\n\
         - name: staging-admin\n  context: {cluster: staging, user: u}\ncurrent-context: prod-admin\n",
    )
    .unwrap();
    let kc = config.to_str().unwrap();
    let (got, directive) = kubectl_complete(
        &kubectl,
        None,
        &[("KUBECONFIG", kc)],
        &["status", "--context", ""],
    );
    assert_eq!(directive, ":4");
    assert_eq!(values(&got), ["prod-admin", "staging-admin"]);
    assert_eq!(got[1].1, "cluster staging");
    let (got, _) = kubectl_complete(
        &kubectl,
        None,
        &[],
        &["--kubeconfig", kc, "--context", "st"],
    );
    assert_eq!(values(&got), ["staging-admin"]);
}

#[test]
fn completion_needing_etcd_offers_nothing_quickly_when_etcd_is_down() {
    let Some(kubectl) = kubectl() else { return };
    // A member that accepts connections but never answers: the worst case.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("http://{}", silent.local_addr().unwrap());
    for words in [
        &["ls", "-n", ""][..],
        &["get", "pods/"][..],
        &["defrag", "--member", ""][..],
    ] {
        let start = Instant::now();
        let (got, directive) = kubectl_complete(&kubectl, Some(&ep), &[], words);
        assert!(got.is_empty(), "{words:?}: {got:?}");
        assert_eq!(directive, ":4");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{words:?} took {:?}",
            start.elapsed()
        );
    }
    // Built-in types still complete.
    let (got, _) = kubectl_complete(&kubectl, Some(&ep), &[], &["ls", "deploy"]);
    assert!(values(&got).contains(&"deployments"), "{got:?}");
}

/// Load `kubectl-etcd completion bash` in bash, set COMP_WORDS/COMP_CWORD as
/// bash does on <TAB>, and print COMPREPLY.
fn bash_complete(endpoints: &str, words: &[&str]) -> Vec<String> {
    let script = Command::new(env!("CARGO_BIN_EXE_kubectl-etcd"))
        .args(["completion", "bash"])
        .output()
        .unwrap();
    assert_eq!(script.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kubectl-etcd.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=(kubectl-etcd {})\nCOMP_CWORD={}\nCOMP_TYPE=9\n\
         _clap_complete_kubectl_etcd kubectl-etcd \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        file.display(),
        quoted.join(" "),
        words.len()
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(program)
        .env("PATH", path_with_plugin())
        .env("ETCDCTL_ENDPOINTS", endpoints)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_script_of_the_binary_completes_from_etcd() {
    if support::find_on_path("bash").is_none() {
        eprintln!("SKIPPED: bash not on PATH");
        return;
    }
    let c = seeded();
    let ep = c.endpoints();
    assert_eq!(bash_complete(&ep, &["sta"]), ["status"]);
    assert_eq!(bash_complete(&ep, &["ls", "-n", "team"]), ["team-a"]);
    assert_eq!(
        bash_complete(&ep, &["get", "pods", "-n", "team-a", "web"]),
        ["web-0", "web-1"]
    );
    assert_eq!(
        bash_complete(&ep, &["get", "pods/team-a/"]),
        ["pods/team-a/web-0", "pods/team-a/web-1"]
    );
}

#[test]
fn completion_scripts_for_every_shell_call_back_the_binary() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = Command::new(env!("CARGO_BIN_EXE_kubectl-etcd"))
            .args(["completion", shell])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&o.stdout);
        assert!(
            script.contains("KUBECTL_ETCD_COMPLETE"),
            "{shell}: {script}"
        );
        assert!(script.contains("kubectl-etcd"), "{shell}");
    }
}
