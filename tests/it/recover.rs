//! `recover` against real etcd processes: the harness plays the nodes. A
//! quorum that answers is refused; the survey reads live members and kept
//! data dirs offline and picks the most up-to-date; `--dry-run` changes
//! nothing; on the survivor's node (`--local`, a plain process) the
//! recovery keeps every acknowledged write, never leaves
//! `--force-new-cluster` on, grows back to three members, and resumes
//! after Ctrl-C.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cli::plugin;
use support::{output_text, Cluster, ClusterOpts};

use support::cli::{run_at as ke, stderr};
use support::process::KillOnDrop;

/// The live process (not a zombie) whose command line has `--data-dir DIR`.
pub(crate) fn etcd_on(dir: &Path) -> Option<(u32, Vec<String>)> {
    let want = dir.to_string_lossy().into_owned();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let argv: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let on = argv
            .windows(2)
            .any(|w| w[0] == "--data-dir" && w[1] == want)
            || argv.iter().any(|a| *a == format!("--data-dir={want}"));
        if on && argv.first().is_some_and(|a| a.contains("etcd")) && !argv[0].contains("kubectl") {
            return Some((pid, argv));
        }
    }
    None
}

fn data_dir(c: &Cluster, i: usize) -> PathBuf {
    c.member(i).data_dir().to_path_buf()
}

/// `recover --local --yes` for member 0's process (by pid) and data dir,
/// with `extra` flags; also the pid and the data dir it names.
fn recover_local_args(c: &Cluster, extra: &[&str]) -> (Vec<String>, String, PathBuf) {
    let pid = c.member(0).pid().unwrap().to_string();
    let dir = data_dir(c, 0);
    let mut args: Vec<String> = [
        "--endpoints",
        &c.endpoints(),
        "recover",
        "--local",
        "--pid",
        &pid,
        "--data-dir",
        dir.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    args.push("--yes".into());
    (args, pid, dir)
}

/// SIGKILL these members and delete their data dirs: gone for good.
fn lose_for_good(c: &mut Cluster, members: &[usize]) {
    for &i in members {
        c.kill(i);
        std::fs::remove_dir_all(data_dir(c, i)).unwrap();
    }
}

#[test]
fn recover_is_refused_while_two_of_three_members_answer() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    c.kill(2);
    let out = ke(&c.endpoints(), &["recover", "--yes"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));
    assert!(err.contains("2 of 3 voting members answer"), "{err}");
    assert!(err.contains("resize replace"), "{err}");
    // Nothing moved: both members still serve.
    assert!(c.member(0).is_running() && c.member(1).is_running());
    c.put("still", "writable");
}

/// Members that are down are what recover expects (it says to pass the
/// live ones or their data dirs); a wrong CA that reaches none is said as
/// such, with its help, not as "none answered".
#[test]
fn recover_names_a_handshake_that_reaches_no_member() {
    let c = Cluster::start(ClusterOpts {
        tls: Some(support::TlsMode::ClientCertAuth),
        ..ClusterOpts::members(1)
    });
    let out = plugin()
        .args(["--endpoints", &c.endpoints(), "--cacert"])
        .arg(&c.tls().other_ca)
        .args(["recover", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("not signed by the given CA") && err.contains("help: pass the CA"),
        "{err}"
    );
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let out = plugin()
        .args(["--endpoints", &dead, "recover", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    assert!(
        stderr(&out).contains("--data-dir NAME=PATH"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn recover_dry_run_plans_from_the_survivor_and_changes_nothing() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    for i in 0..20 {
        c.put(&format!("/registry/configmaps/default/cm{i}"), "x");
    }
    c.kill(1);
    c.kill(2);
    let pid = c.member(0).pid().unwrap();
    let dir = data_dir(&c, 0);
    let eps = c.endpoints();

    // Without --local: the survey, the plan and each node's commands.
    let out = ke(&eps, &["-o", "json", "recover"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    crate::readme::assert_documented("recover -o json", &out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let plan = &v["plan"];
    assert_eq!(plan["choice"]["survivor"], "m0", "{v}");
    let rows = plan["candidates"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{v}");
    let m0 = rows.iter().find(|r| r["name"] == "m0").unwrap();
    assert_eq!(m0["seen"], "live");
    assert!(m0["revision"].as_i64().unwrap() >= 21, "{v}");
    assert!(m0["appliedIndex"].as_u64().unwrap() > 0, "{v}");
    assert!(m0["raftTerm"].as_u64().unwrap() > 0, "{v}");
    assert!(
        rows.iter().filter(|r| r["seen"] == "unknown").count() == 2,
        "{v}"
    );
    let nodes = plan["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    let last = nodes[2]["commands"].as_array().unwrap().last().unwrap();
    let last = last.as_str().unwrap();
    assert!(last.contains("--initial-cluster-state=existing"), "{last}");
    assert!(
        last.contains(&format!("m0={}", c.member(0).peer_url())),
        "{last}"
    );

    // With --local --dry-run: the survivor's steps too, still nothing done.
    let pid = pid.to_string();
    let local = ["recover", "--local", "--dry-run", "--pid", &pid];
    let out = ke(&eps, &[&["-o", "json"][..], &local].concat());
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    crate::readme::assert_documented("recover -o json", &out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = v["local"].as_array().unwrap_or_else(|| panic!("{v}"));
    assert!(
        steps
            .iter()
            .all(|s| s["done"] == false && s["action"].is_string()),
        "{v}"
    );
    let out = ke(&eps, &local);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        text.contains("start etcd with --force-new-cluster"),
        "{text}"
    );
    assert!(
        text.contains("start etcd without --force-new-cluster"),
        "{text}"
    );
    assert!(text.contains("pending"), "{text}");
    assert!(c.member(0).is_running());
    assert_eq!(
        etcd_on(&dir).map(|p| p.0),
        Some(pid.parse::<u32>().unwrap())
    );
    let parent = dir.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("recover"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Still three members (etcdctl 3.5 lists them only with a quorum); with
    // two of them down the quorum is lost: exit 3, as README's table says.
    let out = ke(&eps, &["members", "-o", "json"]);
    crate::support::cli::assert_code(&out, 3);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["members"].as_array().unwrap().len(), 3, "{v}");
}

#[test]
fn recover_reads_kept_data_dirs_offline_and_picks_the_most_up_to_date() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    c.put("early", "1");
    wait_until(
        "m1 to apply the first write",
        Duration::from_secs(30),
        || c.get_from(1, "early").is_some(),
    );
    // m1 stops first: it misses what follows. A SIGTERM, on which etcd
    // commits its backend: the db file then holds what it applied.
    c.stop(1);
    // m1 may have led: the first write waits for the next leader.
    wait_until("a leader without m1", Duration::from_secs(30), || {
        c.ctl().run(&["put", "late/0", "x"]).status.success()
    });
    for i in 1..30 {
        c.put(&format!("late/{i}"), "x");
    }
    // Once m2 applied the last write, lose everything; stopped as m1 was,
    // so the db files hold what was applied.
    wait_until(
        "m2 to apply the last write",
        Duration::from_secs(30),
        || c.get_from(2, "late/29").is_some(),
    );
    c.stop(0);
    c.stop(2);
    let (d1, d2) = (data_dir(&c, 1), data_dir(&c, 2));
    let arg = |n: &str, d: &Path| format!("{n}={}", d.display());
    let (m1, m2) = (arg("m1", &d1), arg("m2", &d2));
    let kept = ["--data-dir", &m1, "--data-dir", &m2];
    let out = ke(
        &c.endpoints(),
        &[&["-o", "json", "recover"][..], &kept].concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let plan = &v["plan"];
    assert_eq!(plan["choice"]["survivor"], "m2", "{v}");
    let row = |n: &str| {
        plan["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .cloned()
            .unwrap()
    };
    let (r1, r2) = (row("m1"), row("m2"));
    assert_eq!(r2["seen"], "offline");
    assert!(
        r2["revision"].as_i64().unwrap() >= r1["revision"].as_i64().unwrap() + 30,
        "{v}"
    );
    assert!(
        r2["consistentIndex"].as_u64().unwrap() > r1["consistentIndex"].as_u64().unwrap(),
        "{v}"
    );
    // The members to add back come from the data dirs' member lists.
    let lost: Vec<&str> = plan["lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(lost, ["m0", "m1"], "{v}");

    // --member m1 is allowed, with what it would lose.
    let out = ke(
        &c.endpoints(),
        &[&["recover", "--member", "m1"][..], &kept].concat(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(err.contains("`m1` is behind `m2` by"), "{err}");
    assert!(
        err.contains("revisions: recovering from it loses those writes"),
        "{err}"
    );
}

/// A writer that keeps putting `w/NNNNN` through every endpoint; the keys
/// etcd acknowledged are kept.
struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    handle: thread::JoinHandle<()>,
}

impl Writer {
    fn start(c: &Cluster) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let (s, a) = (stop.clone(), acked.clone());
        let ctl = c.etcdctl_path().to_owned();
        let endpoints = c.endpoints();
        let handle = thread::spawn(move || {
            let mut n = 0;
            while !s.load(Ordering::Relaxed) {
                let key = format!("w/{n:05}");
                let out = Command::new(&ctl)
                    .env("ETCDCTL_API", "3")
                    .args([
                        &format!("--endpoints={endpoints}"),
                        "--command-timeout=2s",
                        "put",
                        &key,
                        "v",
                    ])
                    .output()
                    .unwrap();
                if out.status.success() {
                    a.lock().unwrap().push(key);
                }
                n += 1;
                thread::sleep(Duration::from_millis(20));
            }
        });
        Writer {
            stop,
            acked,
            handle,
        }
    }

    fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap();
        let v = self.acked.lock().unwrap().clone();
        v
    }
}

use support::etcdctl::member_revision as revision;
use support::wait_until;

use support::etcdctl::member_names;

#[test]
fn recover_local_keeps_every_acknowledged_write_and_grows_back_to_three() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    for i in 0..10 {
        c.put(&format!("/registry/configmaps/default/cm{i}"), "x");
    }
    let writer = Writer::start(&c);
    wait_until("the first writes", Duration::from_secs(30), || {
        writer.acked() >= 20
    });
    // A snapshot taken now would lose everything written from here on.
    let snapshot_rev = revision(&c, 0);
    let acked_at_snapshot = writer.acked();
    wait_until("more writes", Duration::from_secs(30), || {
        writer.acked() >= acked_at_snapshot + 20
    });
    // Two members gone for good, disks included.
    lose_for_good(&mut c, &[1, 2]);
    let (args, pid, dir) = recover_local_args(&c, &["--wait", "90s"]);
    let mut run = Background::spawn(&args);
    // The harness plays the lost members' nodes: each starts, with an empty
    // data dir, when the wizard says how.
    for i in [1, 2] {
        let line = run.wait_line("--initial-cluster=");
        let initial = line.trim_start_matches("--initial-cluster=").to_string();
        c.start_joining(i, &initial);
    }
    let (status, text) = run.finish();
    let started = etcd_on(&dir);
    let _guard = KillOnDrop(started.iter().map(|s| s.0).collect());
    assert!(status.success(), "{text}");
    let (new_pid, argv) = started.expect("the survivor runs again");
    assert_ne!(new_pid.to_string(), pid);
    assert!(
        !argv.iter().any(|a| a.contains("force-new-cluster")),
        "the flag stayed: {argv:?}"
    );
    // Both members learned, caught up and were promoted, one at a time.
    assert_eq!(text.matches("votes now").count(), 2, "{text}");
    // Keys per type before and after: nothing the survivor had is missing.
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["configmaps", "10", "10"]),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("after: revision"))
        .unwrap_or_else(|| panic!("{text}"));
    let before: i64 = line
        .rsplit("before: ")
        .next()
        .and_then(|r| r.trim_end_matches(')').parse().ok())
        .unwrap();
    assert!(before > snapshot_rev, "{line}");
    // The verified copy stays next to the data dir.
    let backup = PathBuf::from(format!("{}.recover-backup-r{before}.db", dir.display()));
    assert!(backup.is_file(), "no backup at {}", backup.display());
    assert!(c
        .ctl()
        .endpoint(0)
        .run(&["put", "after", "1"])
        .status
        .success());
    assert_eq!(member_names(&c, 0), ["m0", "m1", "m2"]);
    let acked = writer.stop();
    assert!(acked.len() > acked_at_snapshot + 20);
    let out = c
        .ctl()
        .endpoint(2)
        .ok(&["get", "w/", "--prefix", "--keys-only"]);
    let present: std::collections::HashSet<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|k| !present.contains(k.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    let health = output_text(&c.ctl().run(&["endpoint", "health"]));
    assert_eq!(health.matches("is healthy").count(), 3, "{health}");
    // One raft history: every member on the same term, with the same leader.
    let out = c.ctl().ok(&["endpoint", "status", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let seen: std::collections::HashSet<(u64, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let st = &e["Status"];
            (
                st["header"]["raft_term"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{st}")),
                st["leader"].as_u64().unwrap_or_else(|| panic!("{st}")),
            )
        })
        .collect();
    assert_eq!(seen.len(), 1, "{v}");
}

/// A `kubectl etcd` run in the background: its stdout and stderr lines
/// arrive on one channel as they are printed.
struct Background {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Background {
    fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Background {
        let mut child = support::cli::spawn_piped(plugin().args(args));
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let pipe = |r: Box<dyn std::io::Read + Send>, tx: std::sync::mpsc::Sender<String>| {
            thread::spawn(move || {
                use std::io::BufRead;
                for l in std::io::BufReader::new(r).lines().map_while(Result::ok) {
                    let _ = tx.send(l);
                }
            })
        };
        let readers = vec![pipe(Box::new(out), tx.clone()), pipe(Box::new(err), tx)];
        Background {
            child,
            lines,
            seen: Vec::new(),
            readers,
        }
    }

    /// The first line (trimmed) starting with `prefix`, waiting up to 90 s.
    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.trim().starts_with(prefix).then(|| l.trim().to_string());
                    self.seen.push(l);
                    if let Some(h) = hit {
                        return h;
                    }
                }
                Err(_) => panic!("no `{prefix}` line:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Ctrl-C, as a terminal sends it.
    fn interrupt(&self) {
        support::cli::send_sigint(self.child.id());
    }

    /// The exit status and every line printed.
    fn finish(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().unwrap();
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        self.seen.extend(self.lines.try_iter());
        (status, self.seen.join("\n"))
    }
}

#[test]
fn recover_interrupted_after_the_forced_start_resumes_and_removes_the_flag() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    for i in 0..10 {
        c.put(&format!("k{i}"), "v");
    }
    lose_for_good(&mut c, &[1, 2]);
    let (args, _, dir) = recover_local_args(&c, &["--no-grow", "--wait", "60s"]);
    let mut run = Background::spawn(&args);
    // Ctrl-C as soon as etcd was started with the flag.
    run.wait_line("step 5/");
    run.interrupt();
    let (status, err) = run.finish();
    let forced = etcd_on(&dir);
    let mut guard = KillOnDrop(forced.iter().map(|f| f.0).collect());
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted (Ctrl-C)"), "{err}");
    assert!(err.contains("run the same command again"), "{err}");
    // What it says about the flag is what runs.
    let (_, argv) = forced.expect("the forced etcd runs");
    assert_eq!(
        err.contains("etcd runs with --force-new-cluster now"),
        argv.iter().any(|a| a == "--force-new-cluster"),
        "{err}\n{argv:?}"
    );
    assert!(PathBuf::from(format!("{}.recover.json", dir.display())).is_file());

    // The same command again resumes and ends with the flag removed; its
    // JSON is README's, `after` included.
    let out = plugin()
        .args(["-o", "json"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let again = etcd_on(&dir);
    guard.0.extend(again.iter().map(|a| a.0));
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(stderr(&out).contains("resuming"), "{}", output_text(&out));
    let (_, argv) = again.expect("etcd runs after the re-run");
    assert!(
        !argv.iter().any(|a| a.contains("force-new-cluster")),
        "{argv:?}"
    );
    assert_eq!(member_names(&c, 0), ["m0"]);
    crate::readme::assert_documented("recover -o json", &out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let after = &v["after"];
    let members = after["members"].as_array().unwrap_or_else(|| panic!("{v}"));
    assert_eq!(members.len(), 1, "{v}");
    let id = u64::from_str_radix(members[0]["memberId"].as_str().unwrap(), 16).unwrap();
    assert_eq!(
        format!("{id:016x}"),
        members[0]["leader"].as_str().unwrap(),
        "the one member leads: {v}"
    );
    let revision = after["revision"].as_i64().unwrap();
    assert_eq!(members[0]["revision"].as_i64(), Some(revision), "{v}");
    assert!(after["revisionBefore"].as_i64().unwrap() >= 11, "{v}");
    assert!(revision >= after["revisionBefore"].as_i64().unwrap(), "{v}");
    c.ctl().endpoint(0).ok(&["put", "after", "1"]);
    assert_eq!(c.get_from(0, "k9").as_deref(), Some("v"));
}

/// A kubelet for one static pod: runs etcd with the command of the
/// manifest while the file is there, restarts it when the command changes,
/// stops it when the file goes.
struct Kubelet {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Kubelet {
    fn start(manifest: PathBuf, log: PathBuf) -> Kubelet {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = thread::spawn(move || {
            let mut running: Option<(Vec<String>, std::process::Child)> = None;
            let halt = |child: &mut std::process::Child| {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                let _ = child.wait();
            };
            while !s.load(Ordering::Relaxed) {
                let wanted: Option<Vec<String>> =
                    std::fs::read_to_string(&manifest).ok().map(|t| {
                        t.lines()
                            .filter_map(|l| l.trim().strip_prefix("- ").map(str::to_string))
                            .filter(|a| a.starts_with("--") || a.ends_with("etcd"))
                            .collect()
                    });
                let same = running.as_ref().map(|r| &r.0) == wanted.as_ref();
                if !same {
                    if let Some((_, mut child)) = running.take() {
                        halt(&mut child);
                    }
                    if let Some(argv) = wanted {
                        let out = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&log)
                            .unwrap();
                        let child = Command::new(&argv[0])
                            .args(&argv[1..])
                            .stdin(Stdio::null())
                            .stdout(out.try_clone().unwrap())
                            .stderr(out)
                            .spawn()
                            .unwrap();
                        running = Some((argv, child));
                    }
                }
                thread::sleep(Duration::from_millis(100));
            }
            if let Some((_, mut child)) = running.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        });
        Kubelet {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[test]
fn recover_local_rewrites_a_static_pod_manifest_and_puts_the_original_back() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    for i in 0..10 {
        c.put(&format!("/registry/secrets/default/s{i}"), "x");
    }
    // m0 becomes a kubeadm-style static pod: its own command line in a
    // manifest, run by a test kubelet.
    let argv = etcd_on(&data_dir(&c, 0)).unwrap().1;
    let mut flags: Vec<String> = Vec::new();
    let mut it = argv[1..].iter();
    while let Some(a) = it.next() {
        if a.starts_with("--") && !a.contains('=') && a != "--force-new-cluster" {
            match it.clone().next() {
                Some(v) if !v.starts_with("--") => {
                    flags.push(format!("{a}={v}"));
                    it.next();
                }
                _ => flags.push(a.clone()),
            }
        } else {
            flags.push(a.clone());
        }
    }
    let node = tempfile::tempdir().unwrap();
    let dir = node.path().join("manifests");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("etcd.yaml");
    let mut text = String::from(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - command:\n",
    );
    text.push_str(&format!("    - {}\n", argv[0]));
    for f in &flags {
        text.push_str(&format!("    - {f}\n"));
    }
    text.push_str("    name: etcd\n");
    c.stop(0);
    std::fs::write(&manifest, &text).unwrap();
    let _kubelet = Kubelet::start(manifest.clone(), node.path().join("etcd.log"));
    wait_until("the static pod", Duration::from_secs(30), || {
        c.ctl()
            .endpoint(0)
            .run(&["endpoint", "status"])
            .status
            .success()
    });
    lose_for_good(&mut c, &[1, 2]);

    let out = ke(
        &c.endpoints(),
        &[
            "recover",
            "--local",
            "--manifest-dir",
            dir.to_str().unwrap(),
            "--no-grow",
            "--wait",
            "60s",
            "--yes",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        err.contains("start etcd with --force-new-cluster: write"),
        "{err}"
    );
    // The original manifest is back, unchanged; the forced one is kept aside.
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), text);
    let forced = std::fs::read_to_string(node.path().join("etcd.yaml.force-new-cluster")).unwrap();
    assert!(forced.contains("    - --force-new-cluster\n"), "{forced}");
    let running = etcd_on(&data_dir(&c, 0)).unwrap().1;
    assert!(
        !running.iter().any(|a| a.contains("force-new-cluster")),
        "{running:?}"
    );
    assert_eq!(member_names(&c, 0), ["m0"]);
    assert_eq!(
        c.get_from(0, "/registry/secrets/default/s9").as_deref(),
        Some("x")
    );
}
