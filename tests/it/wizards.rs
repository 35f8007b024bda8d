//! The resize and restore wizards against real etcd processes: membership
//! changes under a concurrent writer, quorum refusals, a replace, restores
//! of a whole cluster and of one node's layout, with `--yes` and through a
//! pseudo-terminal. `ETCD_BIN` selects the etcd build; the tests adapt to
//! its version (revision bump on 3.5+).

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{output_text, Cluster, ClusterOpts};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-etcd");

use support::cli::{command_at as command, resize_add, run_at as ke};
use support::process::KillOnDrop;

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", output_text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A wizard running in the background; its stdout and stderr are
/// collected line by line.
struct Running {
    child: Child,
    err: Arc<Mutex<Vec<String>>>,
    out: Arc<Mutex<Vec<String>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

fn collect(
    pipe: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<String>>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for l in BufReader::new(pipe).lines().map_while(Result::ok) {
            into.lock().unwrap().push(l);
        }
    })
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl-etcd");
        let err = Arc::new(Mutex::new(Vec::new()));
        let out = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stderr.take().unwrap(), err.clone()),
            collect(child.stdout.take().unwrap(), out.clone()),
        ];
        Running {
            child,
            err,
            out,
            readers,
        }
    }

    /// Wait for a line starting with `prefix` (trimmed) on stdout or
    /// stderr; its rest.
    fn wait_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let find = |lines: &Arc<Mutex<Vec<String>>>| {
                lines
                    .lock()
                    .unwrap()
                    .iter()
                    .find_map(|l| l.trim().strip_prefix(prefix).map(str::to_owned))
            };
            if let Some(l) = find(&self.out).or_else(|| find(&self.err)) {
                return l;
            }
            if Instant::now() > deadline || self.child.try_wait().unwrap().is_some() {
                // Ended (or stuck): the readers then have every line.
                let _ = self.child.kill();
                let _ = self.child.wait();
                for r in self.readers.drain(..) {
                    r.join().unwrap();
                }
                if let Some(l) = find(&self.out).or_else(|| find(&self.err)) {
                    return l;
                }
                panic!(
                    "no `{prefix}` line:\n{}\n{}",
                    self.out.lock().unwrap().join("\n"),
                    self.err.lock().unwrap().join("\n")
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ctrl-C, as the terminal sends it (to this process only).
    fn interrupt(&self) {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -INT failed");
    }

    /// Exit code, stdout, stderr.
    fn finish_code(mut self) -> (Option<i32>, String, String) {
        let status = self.child.wait().unwrap();
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        let out = self.out.lock().unwrap().join("\n");
        let err = self.err.lock().unwrap().join("\n");
        (status.code(), out, err)
    }

    fn finish(self) -> (bool, String, String) {
        let (code, out, err) = self.finish_code();
        (code == Some(0), out, err)
    }
}

/// `resize add NAME` for harness member `i`: starts etcd with the
/// `--initial-cluster` the wizard prints, as an operator would.
fn add_member(c: &mut Cluster, endpoints: &str, i: usize) -> String {
    let (name, peer, client) = {
        let m = c.member(i);
        (
            m.name().to_owned(),
            m.peer_url().to_owned(),
            m.client_url().to_owned(),
        )
    };
    let args = resize_add(&name, &peer, &client, &["--yes", "--wait", "60s"]);
    let mut run = Running::spawn(command(endpoints, &strs(&args)));
    let initial = run.wait_line("--initial-cluster=", Duration::from_secs(30));
    c.start_joining(i, &initial);
    let (ok, _out, err) = run.finish();
    assert!(ok, "resize add {name} failed:\n{err}");
    assert!(err.contains("has caught up"), "{err}");
    assert!(err.contains("votes now"), "{err}");
    err
}

fn member_list(c: &Cluster) -> Vec<Value> {
    let out = c.ctl().ok(&["member", "list", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["members"].as_array().cloned().unwrap_or_default()
}

/// Comma-joined client URLs of the given harness members.
fn urls(c: &Cluster, idx: &[usize]) -> String {
    idx.iter()
        .map(|&i| c.member(i).client_url().to_owned())
        .collect::<Vec<_>>()
        .join(",")
}

/// Feed `y` to a command on a pseudo-terminal (util-linux `script`) until it
/// exits; returns everything the terminal showed.
fn through_pty(cmd_line: &str) -> (bool, String) {
    let mut child = Command::new("script")
        .args(["-qec", cmd_line, "/dev/null"])
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script(1)");
    let mut stdin = child.stdin.take().unwrap();
    let mut out_pipe = child.stdout.take().unwrap();
    let out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "pty run did not finish");
        let _ = stdin.write_all(b"y");
        let _ = stdin.flush();
        thread::sleep(Duration::from_millis(300));
    };
    drop(stdin);
    let text = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    (status.success(), text)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn resize_three_to_five_to_three_under_writes_keeps_every_acknowledged_write() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    let base = urls(&c, &[0, 1, 2]);

    // A writer that keeps going through every change.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let writer = {
        let (stop, acked) = (stop.clone(), acked.clone());
        let ctl = c.etcdctl_path().to_owned();
        let endpoints = base.clone();
        thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w/{n:05}");
                let out = Command::new(&ctl)
                    .env("ETCDCTL_API", "3")
                    .args([
                        &format!("--endpoints={endpoints}"),
                        "--command-timeout=3s",
                        "put",
                        &key,
                        &format!("v{n}"),
                    ])
                    .output()
                    .unwrap();
                if out.status.success() {
                    acked.lock().unwrap().push(key);
                }
                n += 1;
                thread::sleep(Duration::from_millis(20));
            }
        })
    };

    // 3 -> 5: two learners, one at a time, each caught up and promoted.
    let m3 = c.add_member("m3");
    add_member(&mut c, &base, m3);
    // m4 stops before promotion (--no-promote): `members` shows the
    // learner's progress, and a re-run resumes at the promotion.
    let m4 = c.add_member("m4");
    let (peer4, client4) = (
        c.member(m4).peer_url().to_owned(),
        c.member(m4).client_url().to_owned(),
    );
    let args = resize_add(
        "m4",
        &peer4,
        &client4,
        &["--yes", "--no-promote", "--wait", "60s"],
    );
    let mut run = Running::spawn(command(&base, &strs(&args)));
    let initial = run.wait_line("--initial-cluster=", Duration::from_secs(30));
    c.start_joining(m4, &initial);
    let (ok_run, _, err) = run.finish();
    assert!(
        ok_run && err.contains("has caught up") && !err.contains("votes now"),
        "{err}"
    );
    let v: Value = serde_json::from_str(&ok(&ke(&base, &["members", "-o", "json"]))).unwrap();
    let learner = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "m4")
        .cloned()
        .unwrap();
    assert_eq!(learner["isLearner"], true, "{v}");
    assert!(learner["raftAppliedIndex"].as_u64().unwrap() > 0, "{v}");
    assert!(learner["catchUpPercent"].as_f64().unwrap() > 50.0, "{v}");
    let out = ke(
        &base,
        &["resize", "add", "m4", "--peer-urls", &peer4, "--yes"],
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    // The plan is on stdout, where `> plan.txt` keeps it.
    let plan = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        plan.contains("as a learner (non-voting) at") && plan.contains("(done)"),
        "{plan}"
    );
    assert!(err.contains("votes now"), "{err}");
    let members = member_list(&c);
    assert_eq!(members.len(), 5);
    assert!(members
        .iter()
        .all(|m| m["isLearner"].as_bool() != Some(true)));

    // Re-running a finished add changes nothing.
    let out = ke(
        &base,
        &[
            "resize",
            "add",
            "m4",
            "--peer-urls",
            c.member(m4).peer_url(),
            "--yes",
        ],
    );
    crate::support::cli::assert_code(&out, 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing to do"),
        "{}",
        output_text(&out)
    );

    // 5 -> 3: remove the leader (leadership moves first), then m3 on a
    // pseudo-terminal, answering the prompt.
    let leader = c.leader_index();
    let leader_name = c.member(leader).name().to_owned();
    let all = urls(&c, &[0, 1, 2, 3, 4]);
    let out = ke(&all, &["resize", "remove", &leader_name, "--yes"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        err.contains(&format!("move leadership from `{leader_name}`")),
        "{err}"
    );
    assert!(
        err.contains("now:   5 voting members (5 healthy): quorum 3, tolerates 2 failures"),
        "{err}"
    );
    c.kill(leader);
    let second = if leader == m3 { m4 } else { m3 };
    let rest: Vec<usize> = (0..5).filter(|&i| i != leader).collect();
    let line = format!(
        "{} --endpoints {} resize remove {}",
        shell_quote(BIN),
        urls(&c, &rest),
        c.member(second).name()
    );
    let (ok_pty, text) = through_pty(&line);
    assert!(ok_pty, "{text}");
    assert!(
        text.contains(&format!("remove member `{}`?", c.member(second).name())),
        "{text}"
    );
    assert!(text.contains("after: 3 voting members"), "{text}");
    c.kill(second);

    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "the writer got only {} writes through",
        acked.len()
    );
    let members = member_list(&c);
    assert_eq!(members.len(), 3, "{members:?}");
    let out = c.ctl().ok(&["get", "w/", "--prefix", "--keys-only"]);
    let present: std::collections::HashSet<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    let lost: Vec<_> = acked
        .iter()
        .filter(|k| !present.contains(k.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
}

#[test]
fn resize_refuses_to_break_quorum_and_replaces_a_dead_member() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    c.put("k", "v");
    c.kill(2);
    let live = urls(&c, &[0, 1]);

    // 3 members, 1 dead: removing a healthy one would leave 1 of 2.
    let out = ke(&live, &["resize", "remove", "m0", "--yes"]);
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to remove `m0`"), "{err}");
    assert!(err.contains("a quorum of 2 is needed"), "{err}");
    assert_eq!(member_list(&c).len(), 3);
    // No terminal, no --yes: nothing is changed.
    let out = ke(&live, &["resize", "remove", "m2"]);
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --yes"));
    assert_eq!(member_list(&c).len(), 3);

    // Dry run: the plan, nothing changed.
    let r = c.add_member("m2r");
    let (peer, client) = (
        c.member(r).peer_url().to_owned(),
        c.member(r).client_url().to_owned(),
    );
    let out = ke(
        &live,
        &[
            "resize",
            "replace",
            "m2",
            "--name",
            "m2r",
            "--peer-urls",
            &peer,
            "--dry-run",
            "-o",
            "json",
        ],
    );
    let plan: Value = serde_json::from_str(&ok(&out)).unwrap();
    let actions: Vec<&str> = plan["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["remove", "addLearner", "startMember", "catchUp", "promote"]
    );
    assert_eq!(member_list(&c).len(), 3);

    // Replace: remove the dead m2 first, then add m2r.
    let mut run = Running::spawn(command(
        &live,
        &[
            "resize",
            "replace",
            "m2",
            "--name",
            "m2r",
            "--peer-urls",
            &peer,
            "--client-url",
            &client,
            "--yes",
            "--wait",
            "60s",
        ],
    ));
    let initial = run.wait_line("--initial-cluster=", Duration::from_secs(30));
    assert!(
        !initial.contains("m2="),
        "the removed member is not in {initial}"
    );
    c.start_joining(r, &initial);
    let (ok_run, _, err) = run.finish();
    assert!(ok_run, "{err}");
    let remove_at = err.find("step: remove member `m2`").expect(&err);
    let add_at = err.find("step: add `m2r` as a learner").expect(&err);
    assert!(remove_at < add_at, "{err}");
    let names: Vec<String> = member_list(&c)
        .iter()
        .map(|m| m["name"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names.contains(&"m2r".to_string()) && !names.contains(&"m2".to_string()));
    assert_eq!(c.get_from(r, "k").as_deref(), Some("v"));
}

// ----- restore ---------------------------------------------------------------

/// The restore tool for the etcd under test: etcdutl beside it (3.5+, can
/// bump the revision), else its etcdctl (3.4, cannot).
fn restore_tool(c: &Cluster) -> (Vec<String>, u64) {
    let etcdutl = support::etcd_bin().with_file_name("etcdutl");
    if support::etcd_bin().is_absolute() && etcdutl.is_file() {
        (
            vec!["--etcdutl".into(), etcdutl.display().to_string()],
            1_000_000_000,
        )
    } else {
        let ctl = which(c.etcdctl_path());
        (vec!["--etcdctl".into(), ctl.display().to_string()], 0)
    }
}

/// `p` if it is a path, else the program of that name on PATH.
fn which(p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_owned();
    }
    support::find_on_path(&p.to_string_lossy()).unwrap_or_else(|| p.to_owned())
}

fn seed(c: &Cluster, n: usize) -> Vec<(String, String)> {
    let mut kv = Vec::new();
    for i in 0..n {
        let (k, v) = match i % 3 {
            0 => (
                format!("/registry/pods/ns{}/p{i}", i % 2),
                format!("pod-{i}"),
            ),
            1 => (format!("/registry/configmaps/ns/c{i}"), format!("cm-{i}")),
            _ => (format!("/registry/secrets/ns/s{i}"), format!("secret-{i}")),
        };
        c.put(&k, &v);
        kv.push((k, v));
    }
    kv
}

use support::etcdctl::member_revision as revision_of;

#[test]
fn restore_a_destroyed_three_member_cluster_with_the_planned_commands() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    let kv = seed(&c, 30);
    let (tool, bump) = restore_tool(&c);
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap.db");
    let template = format!("{}/restored/{{name}}", work.path().display());

    // Take the snapshot now, verify it, plan every member.
    let mut args = vec![
        "restore".to_string(),
        "--save-to".into(),
        snap.display().to_string(),
        "--new-data-dir".into(),
        template,
        "-o".into(),
        "json".into(),
    ];
    args.extend(tool.clone());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ke(&c.endpoints(), &args);
    let report: Value = serde_json::from_str(&ok(&out)).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sha256 ok"), "{err}");
    let snap_rev = report["snapshot"]["revision"].as_i64().unwrap();
    assert_eq!(report["snapshot"]["totalKeys"].as_u64(), Some(30));
    let counts = report["counts"].as_array().unwrap();
    assert!(counts
        .iter()
        .any(|c| c["type"] == "pods" && c["snapshot"] == 10));
    assert_eq!(report["plan"]["bump"].as_u64(), Some(bump));
    if bump == 0 {
        assert!(err.contains("cannot bump the revision"), "{err}");
    }

    // Disaster: every member and every data dir gone.
    for i in 0..3 {
        c.kill(i);
        std::fs::remove_dir_all(c.member(i).data_dir()).unwrap();
    }
    // Each node runs its command, then starts etcd on the restored dir.
    for m in report["plan"]["members"].as_array().unwrap() {
        let argv: Vec<&str> = m["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let run = Command::new(argv[0])
            .args(&argv[1..])
            .env("ETCDCTL_API", "3")
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "{}", output_text(&run));
        let i = (0..3)
            .find(|&i| c.member(i).name() == m["name"].as_str().unwrap())
            .unwrap();
        c.set_data_dir(i, Path::new(m["dataDir"].as_str().unwrap()));
        c.restart_no_wait(i);
    }
    c.wait_healthy();
    for (k, v) in &kv {
        assert_eq!(c.get(k).as_deref(), Some(v.as_str()), "{k}");
    }
    for i in 0..3 {
        let rev = revision_of(&c, i);
        assert!(
            rev >= snap_rev + bump as i64,
            "member {i}: {rev} < {snap_rev} + {bump}"
        );
    }
    // Writes work and go on from the bumped revision.
    c.put("/registry/pods/ns0/after", "x");
    assert!(revision_of(&c, 0) > snap_rev + bump as i64);
}

/// A node layout under a temporary root for member 0: a kubeadm-style
/// manifest, and the member's data dir moved to /var/lib/etcd below it
/// (the member runs on it again). The root, and the manifest's path.
pub(crate) fn fake_node(c: &mut Cluster) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("etc/kubernetes/manifests")).unwrap();
    std::fs::create_dir_all(r.join("var/lib")).unwrap();
    let manifest = r.join("etc/kubernetes/manifests/etcd.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\nspec:\n  containers:\n  - command:\n    - etcd\n    - --name=m0\n    - --data-dir=/var/lib/etcd\n    image: registry.k8s.io/etcd:3.5.16-0\n    volumeMounts:\n    - mountPath: /var/lib/etcd\n      name: etcd-data\n  volumes:\n  - hostPath:\n      path: /var/lib/etcd\n      type: DirectoryOrCreate\n    name: etcd-data\n",
    )
    .unwrap();
    c.kill(0);
    std::fs::rename(c.member(0).data_dir(), r.join("var/lib/etcd")).unwrap();
    c.set_data_dir(0, &r.join("var/lib/etcd"));
    c.restart(0);
    (root, manifest)
}

/// `snapshot save` of the cluster into `dir/snap.db`: the file and the
/// revision it holds.
fn snapshot_into(c: &Cluster, dir: &Path) -> (PathBuf, i64) {
    let snap = dir.join("snap.db");
    ok(&ke(
        &c.endpoints(),
        &["snapshot", "save", snap.to_str().unwrap()],
    ));
    (snap, revision_of(c, 0))
}

#[test]
fn restore_local_on_a_fake_node_through_a_terminal() {
    let mut c = Cluster::start(ClusterOpts::members(1));
    let (tool, bump) = restore_tool(&c);
    let (root, manifest) = fake_node(&mut c);
    let r = root.path();

    let kv = seed(&c, 12);
    let (snap, snap_rev) = snapshot_into(&c, r);
    c.put("/registry/pods/ns0/late", "written after the snapshot");

    // Without a terminal and without --yes: refused before any change.
    let mut args = vec![
        "restore",
        "--local",
        "--root",
        r.to_str().unwrap(),
        "--snapshot",
        snap.to_str().unwrap(),
    ];
    args.extend(tool.iter().map(String::as_str));
    let out = ke(&c.endpoints(), &args);
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));
    assert!(manifest.is_file() && r.join("var/lib/etcd").is_dir());

    let pid = c.member(0).pid().unwrap();
    let line = format!(
        "{} --endpoints {} -o json restore --local --root {} --pid {pid} --snapshot {} {} {}",
        shell_quote(BIN),
        c.endpoints(),
        shell_quote(r.to_str().unwrap()),
        shell_quote(snap.to_str().unwrap()),
        tool[0],
        shell_quote(&tool[1]),
    );
    let (ok_pty, text) = through_pty(&line);
    let started = text
        .split("\"startedPid\": ")
        .nth(1)
        .and_then(|s| s.split(|ch: char| !ch.is_ascii_digit()).next())
        .and_then(|s| s.parse::<u32>().ok());
    let _guard = KillOnDrop(started.into_iter().collect());
    assert!(ok_pty, "{text}");
    assert!(started.is_some(), "{text}");
    // Every step was asked for, and its undo shown.
    assert!(
        text.contains("step 1: stop etcd (move its manifest aside)?"),
        "{text}"
    );
    assert!(
        text.contains("step 5: restore the snapshot into the new data dir?"),
        "{text}"
    );
    assert!(text.contains("undo: mv "), "{text}");

    let tag = format!("r{snap_rev}");
    let new_dir = format!("/var/lib/etcd.restored-{tag}");
    let m = std::fs::read_to_string(&manifest).unwrap();
    assert!(m.contains(&format!("- --data-dir={new_dir}\n")), "{m}");
    assert!(m.contains(&format!("path: {new_dir}\n")), "{m}");
    assert!(r
        .join(format!("etc/kubernetes/etcd.yaml.before-restore-{tag}"))
        .is_file());
    assert!(r
        .join(format!("var/lib/etcd.before-restore-{tag}/member"))
        .is_dir());
    assert!(!r.join("var/lib/etcd").exists());
    assert!(r
        .join(format!("var/lib/etcd.restored-{tag}/member"))
        .is_dir());

    // The restarted member serves the snapshot's data, not what came after.
    for (k, v) in &kv {
        assert_eq!(c.get(k).as_deref(), Some(v.as_str()), "{k}");
    }
    assert_eq!(c.get("/registry/pods/ns0/late"), None);
    assert!(revision_of(&c, 0) >= snap_rev + bump as i64);
    assert!(text.contains("\"healthy\": true"), "{text}");

    // Running it again finds everything done and changes nothing.
    let mut again = vec![
        "-o",
        "json",
        "restore",
        "--local",
        "--root",
        r.to_str().unwrap(),
        "--snapshot",
        snap.to_str().unwrap(),
        "--yes",
    ];
    again.extend(tool.iter().map(String::as_str));
    let report: Value = serde_json::from_str(&ok(&ke(&c.endpoints(), &again))).unwrap();
    let steps = report["local"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6, "{report}");
    assert!(steps.iter().all(|s| s["done"] == true), "{report}");
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), m);
}

// ----- Ctrl-C ----------------------------------------------------------------

#[test]
fn resize_add_interrupted_while_waiting_for_catch_up_stops_with_130_and_resumes() {
    let mut c = Cluster::start(ClusterOpts::members(1));
    c.put("k", "v");
    let base = c.endpoints();
    let new = c.add_member("m1");
    let (peer, client) = (
        c.member(new).peer_url().to_owned(),
        c.member(new).client_url().to_owned(),
    );
    // The learner's progress is asked where nothing answers: the wizard
    // waits in the catch-up step until Ctrl-C.
    let args = resize_add(
        "m1",
        &peer,
        &client,
        &[
            "--learner-endpoint",
            "http://127.0.0.1:1",
            "--yes",
            "--wait",
            "5m",
        ],
    );
    let mut run = Running::spawn(command(&base, &strs(&args)));
    let initial = run.wait_line("--initial-cluster=", Duration::from_secs(30));
    c.start_joining(new, &initial);
    run.wait_line("learner not reachable yet", Duration::from_secs(60));
    run.interrupt();
    let (code, out, err) = run.finish_code();
    assert_eq!(code, Some(130), "{out}\n{err}");
    // The flags to start the member with are kept on stdout.
    assert!(out.contains("--initial-cluster="), "{out}");
    assert!(!err.contains("--initial-cluster="), "{err}");
    assert!(
        err.contains("interrupted (Ctrl-C) while waiting for `m1` to catch up"),
        "{err}"
    );
    assert!(
        err.contains("2 of 4 steps done (add `m1`") && err.contains("left: wait until learner"),
        "{err}"
    );
    assert!(err.contains("run the same command again"), "{err}");
    let learner = member_list(&c)
        .into_iter()
        .find(|m| m["name"] == "m1")
        .expect("the learner stays");
    assert_eq!(learner["isLearner"], true);

    // The re-run picks up where the cluster is: only the promotion is left.
    let out = ke(
        &base,
        &["resize", "add", "m1", "--peer-urls", &peer, "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("votes now"), "{err}");
    assert!(!err.contains("step: add `m1` as a learner"), "{err}");
    let members = member_list(&c);
    assert_eq!(members.len(), 2);
    assert!(members
        .iter()
        .all(|m| m["isLearner"].as_bool() != Some(true)));
}

#[test]
fn restore_local_interrupted_between_steps_stops_with_130_and_a_rerun_finishes() {
    let mut c = Cluster::start(ClusterOpts::members(1));
    let (tool, _) = restore_tool(&c);
    let (root, manifest) = fake_node(&mut c);
    let r = root.path();
    let kv = seed(&c, 9);
    let snap = r.join("snap.db");
    ok(&ke(
        &c.endpoints(),
        &["snapshot", "save", snap.to_str().unwrap()],
    ));
    let snap_rev = revision_of(&c, 0);
    let member = format!("m0={}", c.member(0).peer_url());
    let mut args = vec![
        "restore",
        "--local",
        "--yes",
        "--root",
        r.to_str().unwrap(),
        "--snapshot",
        snap.to_str().unwrap(),
        "--member",
        &member,
        "--wait",
        "5m",
    ];
    args.extend(tool.iter().map(String::as_str));

    // No kubelet here: after step 1 moves the manifest aside, etcd keeps
    // running and step 2 waits for it to stop, until Ctrl-C.
    let mut run = Running::spawn(command("", &args));
    run.wait_line("step 2/", Duration::from_secs(30));
    // Step 2 has begun (its line is printed as it starts): Ctrl-C now is
    // during step 2, whether or not its wait for etcd has begun.
    run.interrupt();
    let (code, out, err) = run.finish_code();
    assert_eq!(code, Some(130), "{out}\n{err}");
    assert!(err.contains("interrupted (Ctrl-C) during step 2"), "{err}");
    assert!(
        err.contains("1 of 6 steps done (1. stop etcd (move its manifest aside))"),
        "{err}"
    );
    assert!(err.contains("left: 2. wait for etcd to stop"), "{err}");
    assert!(
        err.contains("run the same command again: done steps are skipped"),
        "{err}"
    );
    // The undo of what was done is named.
    assert!(err.contains("to go back instead, run: mv "), "{err}");
    let tag = format!("r{snap_rev}");
    assert!(!manifest.exists());
    assert!(r
        .join(format!("etc/kubernetes/etcd.yaml.before-restore-{tag}"))
        .is_file());
    assert!(r.join("var/lib/etcd/member").is_dir(), "data untouched");

    // The operator stops etcd (as kubelet would have); the re-run skips
    // step 1 and finishes.
    c.kill(0);
    let out = ke("", &args);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("step 1/"), "{err}");
    let new_dir = r.join(format!("var/lib/etcd.restored-{tag}"));
    assert!(new_dir.join("member").is_dir());
    assert!(r
        .join(format!("var/lib/etcd.before-restore-{tag}/member"))
        .is_dir());
    let m = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        m.contains(&format!("--data-dir=/var/lib/etcd.restored-{tag}")),
        "{m}"
    );
    c.set_data_dir(0, &new_dir);
    c.restart(0);
    for (k, v) in &kv {
        assert_eq!(c.get(k).as_deref(), Some(v.as_str()), "{k}");
    }
}

/// Regression: a re-run with `--pid N` after the first run stopped process
/// N failed with "no process N", although the interrupt said to run the
/// same command again.
#[test]
fn restore_local_pid_interrupted_after_the_stop_resumes_with_the_same_command() {
    let mut c = Cluster::start(ClusterOpts::members(1));
    let (tool, _) = restore_tool(&c);
    let (root, manifest) = fake_node(&mut c);
    let r = root.path();
    let kv = seed(&c, 9);
    let (snap, snap_rev) = snapshot_into(&c, r);
    c.put("/registry/pods/ns0/late", "written after the snapshot");
    let pid = c.member(0).pid().unwrap();
    let pid_arg = pid.to_string();
    let member = format!("m0={}", c.member(0).peer_url());
    let mut args = vec![
        "-o",
        "json",
        "restore",
        "--local",
        "--yes",
        "--root",
        r.to_str().unwrap(),
        "--pid",
        &pid_arg,
        "--snapshot",
        snap.to_str().unwrap(),
        "--member",
        &member,
        "--wait",
        "2m",
    ];
    args.extend(tool.iter().map(String::as_str));

    // Ctrl-C once step 2 (stop etcd process N) has begun: it is finished,
    // then the run stops between steps with N gone.
    let mut run = Running::spawn(command(&c.endpoints(), &args));
    run.wait_line("step 2/", Duration::from_secs(30));
    run.interrupt();
    let (code, out, err) = run.finish_code();
    assert_eq!(code, Some(130), "{out}\n{err}");
    assert!(err.contains("interrupted (Ctrl-C)"), "{err}");
    assert!(err.contains("run the same command again"), "{err}");
    // Step 2 was finished: process N is gone (a zombie at most).
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(cmdline.is_empty(), "process {pid} still runs");
    assert!(!manifest.exists());

    // The same command line again, --pid N included, finishes the restore.
    let out = ke(&c.endpoints(), &args);
    let report: Option<Value> = serde_json::from_slice(&out.stdout).ok();
    let started = report
        .as_ref()
        .and_then(|r| r["startedPid"].as_u64())
        .map(|p| p as u32);
    let _guard = KillOnDrop(started.into_iter().collect());
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let report = report.unwrap();
    assert!(started.is_some(), "{report}");
    assert_eq!(report["after"]["healthy"], true, "{report}");
    let tag = format!("r{snap_rev}");
    let m = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        m.contains(&format!("--data-dir=/var/lib/etcd.restored-{tag}")),
        "{m}"
    );
    // The member runs on the restored dir and serves the snapshot's data.
    for (k, v) in &kv {
        assert_eq!(c.get(k).as_deref(), Some(v.as_str()), "{k}");
    }
    assert_eq!(c.get("/registry/pods/ns0/late"), None);
}

#[test]
fn restore_dry_run_without_a_snapshot_writes_nothing_and_says_where_a_run_saves() {
    let c = Cluster::start(ClusterOpts::members(1));
    seed(&c, 3);
    let cwd = tempfile::tempdir().unwrap();
    let (tool, _) = restore_tool(&c);
    let mut cmd = command(&c.endpoints(), &["restore", "--dry-run", "-o", "json"]);
    cmd.args(&tool).current_dir(cwd.path());
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let report: Value = serde_json::from_str(&ok(&out)).unwrap();
    let left: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().collect();
    assert!(left.is_empty(), "a dry run wrote {left:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dry run: no snapshot taken"), "{err}");
    let save_to = report["saveTo"].as_str().unwrap();
    assert!(
        save_to.starts_with(cwd.path().canonicalize().unwrap().to_str().unwrap())
            || save_to.starts_with(cwd.path().to_str().unwrap()),
        "{save_to}"
    );
    assert!(save_to.contains("etcd-snapshot-"), "{save_to}");
    assert!(err.contains(save_to), "{err}");
    assert!(report["snapshot"].is_null(), "{report}");
    // The plan's commands restore the file a real run would save.
    let argv = report["plan"]["members"][0]["argv"].to_string();
    assert!(argv.contains(save_to), "{argv}");
    // The table: the plan, and no counts table over no snapshot.
    let mut cmd = command(&c.endpoints(), &["restore", "--dry-run"]);
    cmd.args(&tool).current_dir(cwd.path());
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let table = ok(&out);
    assert!(table.contains("MEMBER"), "{table}");
    assert!(!table.contains("SNAPSHOT KEYS"), "{table}");
}

#[test]
fn a_read_only_command_stops_on_ctrl_c_with_130() {
    let c = Cluster::start(ClusterOpts::members(1));
    let mut run = Running::spawn(command(&c.endpoints(), &["-v", "watch", "pods"]));
    run.wait_line("watching", Duration::from_secs(30));
    run.interrupt();
    let (code, out, err) = run.finish_code();
    assert_eq!(code, Some(130), "{out}\n{err}");
    assert_eq!(err.lines().last(), Some("interrupted"), "{err}");
}

/// `args` as the `&str`s a command takes.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
