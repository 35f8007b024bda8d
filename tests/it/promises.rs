//! README's promises that no other test covered, each checked against a real
//! cluster and, where it can be, against etcdctl rather than the plugin's
//! own reading of the result.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::objects;
use crate::support::cli::{code, plugin, stderr, stdout};
use crate::support::{Cluster, ClusterOpts, TlsMode};

use crate::support::cli::{json, run_on as ke};
use crate::support::etcdctl::{put_many, put_object as put, revision};

/// Whether etcdctl can still read `key` at `rev` (false: compacted away).
fn readable_at(c: &Cluster, key: &str, rev: i64) -> bool {
    let out = c.ctl().run(&["get", key, &format!("--rev={rev}")]);
    if out.status.success() {
        return true;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("compacted"), "unexpected etcdctl error: {err}");
    false
}

#[test]
fn compact_rev_keep_and_physical_are_what_etcdctl_sees() {
    let c = Cluster::single();
    for i in 0..20 {
        c.put("/registry/configmaps/default/k", &i.to_string());
    }
    let now = revision(&c);
    // An explicit revision.
    let target = now - 15;
    let o = ke(&c, &["compact", &target.to_string(), "--yes", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["revision"], target);
    assert!(readable_at(&c, "/registry/configmaps/default/k", target));
    assert!(!readable_at(
        &c,
        "/registry/configmaps/default/k",
        target - 1
    ));

    // --keep N: history of the last N revisions stays.
    let o = ke(&c, &["compact", "--keep", "5", "--yes", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["revision"], now - 5, "{v}");
    assert_eq!(v["previouslyCompacted"], target, "{v}");
    assert!(readable_at(&c, "/registry/configmaps/default/k", now - 5));
    assert!(!readable_at(&c, "/registry/configmaps/default/k", now - 6));

    // --physical waits for the compaction to be applied to the backend.
    let o = ke(&c, &["compact", "--physical", "--yes", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["physical"], true);
    assert_eq!(v["revision"], now);
    assert!(!readable_at(&c, "/registry/configmaps/default/k", now - 1));

    // Asking for an older revision than the last compaction does nothing
    // and says where the history starts, not the revision asked for.
    let o = ke(&c, &["compact", &target.to_string(), "--yes", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["revision"], now, "{v}");
    assert_eq!(v["previouslyCompacted"], now, "{v}");
    let o = ke(&c, &["compact", &target.to_string(), "--yes"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stdout(&o).contains(&target.to_string()), "{}", stdout(&o));
    // The row says where the history starts, in both columns.
    let row = stdout(&o).lines().nth(1).unwrap_or_default().to_owned();
    assert!(
        row.starts_with(&format!("{now} "))
            && row.contains(&format!("nothing (already compacted at {now})")),
        "{}",
        stdout(&o)
    );

    // --dry-run changes nothing.
    c.put("/registry/configmaps/default/k", "after");
    let o = ke(&c, &["compact", "--dry-run", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(readable_at(&c, "/registry/configmaps/default/k", now));
}

#[test]
fn defrag_of_one_member_by_hex_id_without_moving_the_leader() {
    let c = Cluster::start(ClusterOpts::members(3));
    let leader = c.leader_index();
    let leader_id = format!("{:016x}", c.member_id(leader));
    // --member with a hex id picks exactly that member.
    let o = ke(
        &c,
        &["defrag", "--member", &leader_id, "--dry-run", "-o", "json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let plan = json(&o);
    let rows = plan["members"].as_array().unwrap();
    let chosen: Vec<&Value> = rows.iter().filter(|r| r["skip"].is_null()).collect();
    assert_eq!(chosen.len(), 1, "{plan}");
    assert_eq!(chosen[0]["id"], leader_id.as_str());

    // --no-move-leader defragments the leader in place: etcdctl still sees
    // the same leader afterwards.
    let o = ke(
        &c,
        &[
            "defrag",
            "--member",
            &leader_id,
            "--no-move-leader",
            "--yes",
            "-o",
            "json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    let done = v["members"].as_array().unwrap();
    assert_eq!(done.len(), 1, "{v}");
    assert_eq!(done[0]["id"], leader_id.as_str());
    assert!(done[0]["leaderMovedTo"].is_null(), "{v}");
    let status = c
        .ctl()
        .endpoint(leader)
        .ok(&["endpoint", "status", "-w", "json"]);
    let s: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        format!("{:016x}", s[0]["Status"]["leader"].as_u64().unwrap()),
        leader_id,
        "the leader stayed"
    );
}

#[test]
fn snapshot_save_refuses_an_existing_file_unless_overwrite() {
    let c = Cluster::single();
    c.put("/registry/configmaps/default/a", "1");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    let f = file.to_str().unwrap();
    let o = ke(&c, &["snapshot", "save", f]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let first = std::fs::read(&file).unwrap();
    c.put("/registry/configmaps/default/b", "2");
    let o = ke(&c, &["snapshot", "save", f]);
    assert_eq!(code(&o), 4, "an existing file is refused: {}", stderr(&o));
    assert!(stderr(&o).contains("--overwrite"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        first,
        "the file is untouched"
    );
    let o = ke(&c, &["snapshot", "save", f, "--overwrite", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_ne!(std::fs::read(&file).unwrap(), first, "replaced");
    // The replacement holds the later key: etcdctl's own reading.
    let out = Command::new(crate::support::etcdctl_bin())
        .args(["snapshot", "status", f, "-w", "json"])
        .env("ETCDCTL_API", "3")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json(&o)["revision"], st["revision"]);
    assert_eq!(st["revision"].as_i64().unwrap(), revision(&c));
}

#[test]
fn one_undecodable_value_among_many_exits_1_and_the_rest_print() {
    let c = Cluster::single();
    for i in 0..5 {
        put(&c, &objects::pod("ns", &format!("p{i}"), i, 0));
    }
    // A protobuf envelope whose object bytes are garbage.
    let bad = objects::envelope("v1", "Pod", vec![0xff, 0xff, 0xff, 0x0f]);
    let out = c.ctl().stdin(bad).run(&["put", "/registry/pods/ns/p2x"]);
    assert_eq!(out.status.code(), Some(0));
    let o = ke(&c, &["get", "pods", "-n", "ns", "--all", "-o", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let names: Vec<String> = stdout(&o)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["metadata"]["name"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(names, ["p0", "p1", "p2", "p3", "p4"]);
    assert!(
        stderr(&o).contains("p2x"),
        "names the bad key: {}",
        stderr(&o)
    );
}

#[test]
fn a_non_default_prefix_and_ls_at_a_past_revision() {
    let c = Cluster::single();
    let o = objects::pod("ns", "elsewhere", 1, 0);
    let key = o.key.replacen("/registry/", "/other-apiserver/", 1);
    let out = c.ctl().stdin(o.value.clone()).run(&["put", &key]);
    assert_eq!(out.status.code(), Some(0));
    put(&c, &objects::pod("ns", "here", 2, 0));
    let before_delete = revision(&c);
    c.ctl().ok(&["del", "/registry/pods/ns/here"]);

    let names = |o: &Output| -> Vec<String> {
        stdout(o)
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let o = ke(
        &c,
        &["--prefix", "/other-apiserver", "ls", "pods", "-o", "json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(names(&o), ["elsewhere"]);
    let line: Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(
        line["type"], "pods",
        "the type under the other prefix: {line}"
    );
    assert_eq!(line["namespace"], "ns");
    let o = ke(&c, &["ls", "pods", "-o", "json"]);
    assert_eq!(code(&o), 1, "nothing found is exit 1: {}", stderr(&o));
    assert!(
        names(&o).is_empty(),
        "the deleted pod is gone now: {}",
        stdout(&o)
    );
    let o = ke(
        &c,
        &[
            "ls",
            "pods",
            "--revision",
            &before_delete.to_string(),
            "-o",
            "json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(names(&o), ["here"]);
}

#[test]
fn etcdctl_variables_and_bare_host_port_with_tls() {
    let c = Cluster::start(ClusterOpts {
        tls: Some(TlsMode::ClientCertAuth),
        ..ClusterOpts::members(1)
    });
    let t = c.tls();
    // A bare host:port with TLS flags means https.
    let bare = c.endpoints().trim_start_matches("https://").to_owned();
    let o = plugin()
        .env("ETCDCTL_ENDPOINTS", &bare)
        .env("ETCDCTL_CACERT", &t.ca)
        .env("ETCDCTL_CERT", &t.cert)
        .env("ETCDCTL_KEY", &t.key)
        .env("ETCDCTL_DIAL_TIMEOUT", "3s")
        .env("ETCDCTL_COMMAND_TIMEOUT", "4s")
        .args(["health", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["endpoints"][0]["health"], true);
    // A timeout variable that does not parse is a usage error naming it.
    let o = plugin()
        .env("ETCDCTL_ENDPOINTS", &bare)
        .env("ETCDCTL_DIAL_TIMEOUT", "soon")
        .args(["health"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("soon"), "{}", stderr(&o));
    // ETCDCTL_INSECURE_SKIP_TLS_VERIFY: no CA, still connects.
    let o = plugin()
        .env("ETCDCTL_ENDPOINTS", &bare)
        .env("ETCDCTL_CERT", &t.cert)
        .env("ETCDCTL_KEY", &t.key)
        .env("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "true")
        .args(["health"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn a_closed_pipe_ends_streaming_commands_quietly() {
    let c = Cluster::single();
    let objs: Vec<objects::Object> = (0..3000)
        .map(|i| objects::configmap("ns", &format!("cm-{i:05}"), i, 200))
        .collect();
    put_many(&c, &objs);
    for args in [
        vec!["ls"],
        vec!["get", "configmaps", "-n", "ns", "--all", "-o", "json"],
    ] {
        let mut child = plugin()
            .arg("--endpoints")
            .arg(c.endpoints())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty());
        // The reader is gone: the next writes fail with EPIPE.
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).is_empty(), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let c = Cluster::single();
    let script = crate::support::find_on_path("script").expect("script(1) from util-linux");
    let run = |no_color: bool| -> String {
        let mut cmd = Command::new(&script);
        cmd.args(["-qec"])
            .arg(format!(
                "{} --endpoints {} status",
                env!("CARGO_BIN_EXE_kubectl-etcd"),
                c.endpoints()
            ))
            .arg("/dev/null")
            .env("TERM", "xterm")
            .env_remove("NO_COLOR");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = run(false);
    assert!(
        coloured.contains('\u{1b}'),
        "a terminal gets colour: {coloured:?}"
    );
    let plain = run(true);
    assert!(
        plain.contains("LEADER") || plain.contains("ENDPOINT"),
        "{plain}"
    );
    assert!(!plain.contains('\u{1b}'), "NO_COLOR: {plain:?}");
    // A pipe never gets colour, even without NO_COLOR.
    let o = plugin()
        .env_remove("NO_COLOR")
        .args(["--endpoints", &c.endpoints(), "status"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stdout(&o).contains('\u{1b}'));
}

#[test]
fn ls_json_gives_the_lease_as_the_hex_id_etcdctl_printed() {
    let c = Cluster::single();
    let granted = c.ctl().ok(&["lease", "grant", "600"]);
    // "lease 694d77aa9e38260f granted with TTL(600s)"
    let id = granted.split_whitespace().nth(1).unwrap().to_owned();
    let ev = objects::event("ns", "ev", 1, 0);
    let out = c
        .ctl()
        .stdin(ev.value.clone())
        .run(&["put", &ev.key, &format!("--lease={id}")]);
    assert_eq!(out.status.code(), Some(0));
    put(&c, &objects::pod("ns", "unleased", 2, 0));
    let o = ke(&c, &["ls", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{}", stdout(&o));
    let leased = rows.iter().find(|r| r["name"] == "ev").unwrap();
    let hex = leased["lease"].as_str().expect("lease is a string");
    assert_eq!(hex.len(), 16, "{hex}");
    assert_eq!(
        u64::from_str_radix(hex, 16).unwrap(),
        u64::from_str_radix(&id, 16).unwrap()
    );
    let unleased = rows.iter().find(|r| r["name"] == "unleased").unwrap();
    assert!(unleased["lease"].is_null(), "{unleased}");
    // One form everywhere: `size --by-type` and `lease list` print the
    // same hex string.
    let size = json(&ke(&c, &["size", "--by-type", "-o", "json"]));
    assert_eq!(size["keyspace"]["leases"]["busiestLease"], hex, "{size}");
    let leases = json(&ke(&c, &["lease", "list", "-o", "json"]));
    assert_eq!(leases["leases"][0]["id"], hex, "{leases}");
}

#[test]
fn a_missing_or_broken_kubeconfig_is_one_line_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    // Missing: the Kubernetes API cannot be reached, exit 3, path quoted once.
    let o = plugin()
        .args(["--kubeconfig", missing.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!(
            "error: cannot read kubeconfig `{}`: ",
            missing.display()
        )),
        "{err}"
    );
    assert!(!err.contains("'\""), "quoted once: {err}");
    // The default location, through HOME, says the same.
    let o = plugin()
        .env("HOME", dir.path())
        .args(["status"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains(".kube/config`"), "{}", stderr(&o));
    // Broken YAML: a usage error on one line, then the help line.
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "apiVersion: v1\nclusters: [\n  - {name: x\n").unwrap();
    let o = plugin()
        .args(["--kubeconfig", bad.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let text = stderr(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "error and help: {lines:?}");
    assert!(lines[0].starts_with("error: cannot load kubeconfig"));
    assert!(lines[1].starts_with("help: "));
}
