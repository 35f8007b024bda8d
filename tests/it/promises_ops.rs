//! README promises about operating a cluster that no other test covered:
//! `alarm disarm`, `resize`'s refusals and warnings, `status`'s lag flag,
//! `snapshot save`'s choice of member, `watch --all-fields` and a leader
//! change under a watch, `--strict`, and progress only on a terminal.
//!
//! Each fault is real (a member with a small quota filled to NOSPACE, a
//! follower whose disk syncs are held by `strace`, leadership moved by
//! `etcdctl move-leader`), and each outcome is read back with etcdctl
//! wherever it can be, not with the plugin's own view of it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use serde_json::Value;

use crate::objects;
use crate::support::cli::{code, plugin, run_on, stderr, stdout};
use crate::support::process::KillOnDrop;
use crate::support::pty::Pty;
use crate::support::{etcdctl_bin, find_on_path, Cluster, ClusterOpts};

use crate::support::cli::json;
use crate::support::etcdctl::{member_names, runtime};
use crate::support::wait_until;

/// `etcdctl endpoint status` of member `i` alone: its `Status` object.
fn member_status(c: &Cluster, i: usize) -> Value {
    let out = c
        .ctl()
        .endpoint(i)
        .ok(&["endpoint", "status", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0]["Status"].clone()
}

fn applied(c: &Cluster, i: usize) -> u64 {
    member_status(c, i)["raftAppliedIndex"].as_u64().unwrap()
}

/// `etcdctl alarm list` as (member id, alarm) pairs.
fn alarms(c: &Cluster) -> Vec<(u64, String)> {
    c.alarm_list()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // "memberID:9372538179322589801 alarm:NOSPACE" (a decimal id)
            let mut id = None;
            let mut alarm = None;
            for part in l.split_whitespace() {
                if let Some(v) = part.strip_prefix("memberID:") {
                    id = Some(v.parse::<u64>().unwrap());
                }
                if let Some(v) = part.strip_prefix("alarm:") {
                    alarm = Some(v.to_owned());
                }
            }
            (id.unwrap(), alarm.unwrap())
        })
        .collect()
}

// ----- alarm disarm ----------------------------------------------------------

/// Puts 100 KiB values until etcd refuses for lack of space.
fn fill(c: &Cluster, from: usize) -> usize {
    let value = vec![b'x'; 100 * 1024];
    for n in from..from + 200 {
        let out = c
            .ctl()
            .stdin(value.clone())
            .run(&["put", &format!("fill/{n:06}")]);
        if !out.status.success() {
            let err = stderr(&out);
            assert!(err.contains("database space exceeded"), "{err}");
            return n;
        }
    }
    panic!("no NOSPACE after 200 puts of 100 KiB")
}

#[test]
fn alarm_disarm_refuses_while_the_space_is_short_and_disarms_by_member_type_or_force() {
    const QUOTA: u64 = 2 * 1024 * 1024;
    // Only m0 has a small quota, so only m0 raises NOSPACE: `--member`
    // then has one member's alarm to find among three.
    let with_quota = [
        "sh",
        "-c",
        &format!("exec \"$@\" --quota-backend-bytes={QUOTA}"),
        "sh",
    ]
    .map(String::from)
    .to_vec();
    let c = Cluster::start(ClusterOpts {
        command_prefix: Some((0, with_quota)),
        ..ClusterOpts::members(3)
    });
    let m0 = c.member_id(0);
    let m0_hex = format!("{m0:016x}");
    let n = fill(&c, 0);
    wait_until("m0's NOSPACE alarm", Duration::from_secs(20), || {
        alarms(&c) == [(m0, "NOSPACE".to_owned())]
    });

    // The db file is still at the quota: refused, exit 4, nothing changed.
    let o = run_on(&c, &["alarm", "disarm", "--member", "m0", "--yes"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("recover-space"), "{}", stderr(&o));
    assert_eq!(alarms(&c), [(m0, "NOSPACE".to_owned())]);
    // Another member, or another alarm type: nothing matches, nothing done.
    for args in [["--member", "m1"], ["--alarm", "CORRUPT"]] {
        let o = run_on(&c, &[&["alarm", "disarm", "--yes"][..], &args].concat());
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("nothing to disarm"), "{}", stderr(&o));
        assert_eq!(alarms(&c), [(m0, "NOSPACE".to_owned())], "{args:?}");
    }
    // Ctrl-C at the question: nothing disarmed, exit 130.
    let (status, text) = ctrl_c_at_the_question(
        &c,
        &[
            "alarm", "disarm", "--member", "m0", "--alarm", "nospace", "--force",
        ],
    );
    assert_eq!(status, Some(130), "{text}");
    assert!(
        text.contains("interrupted (Ctrl-C) at the question: did not disarm 1 alarm(s)"),
        "{text}"
    );
    assert_eq!(alarms(&c), [(m0, "NOSPACE".to_owned())]);
    // --force disarms although the space is still short.
    let o = run_on(
        &c,
        &[
            "alarm", "disarm", "--member", "m0", "--alarm", "nospace", "--force", "--yes", "-o",
            "json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    crate::readme::assert_documented("alarm list -o json", &o);
    let rows = json(&o);
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["member"], "m0");
    assert_eq!(rows[0]["id"], m0_hex.as_str());
    assert_eq!(rows[0]["alarm"], "NOSPACE");
    assert_eq!(rows[0]["disarmed"], true);
    assert!(rows[0]["stillThere"].is_string(), "{rows}");
    assert_eq!(rows[0]["quotaBytes"], QUOTA, "m0's own quota: {rows}");
    assert_eq!(rows[0]["quotaAssumed"], false);
    assert!(alarms(&c).is_empty(), "etcdctl: {:?}", alarms(&c));

    // The next write raises it again: m0 is still full.
    fill(&c, n + 1);
    wait_until("m0's NOSPACE alarm again", Duration::from_secs(20), || {
        alarms(&c) == [(m0, "NOSPACE".to_owned())]
    });
    // Free the space with etcdctl alone: delete, compact, defragment m0.
    c.ctl().ok(&["del", "fill/", "--prefix"]);
    let rev = member_status(&c, 1)["header"]["revision"].as_i64().unwrap();
    c.ctl().ok(&["compact", &rev.to_string(), "--physical"]);
    c.ctl().endpoint(0).ok(&["defrag"]);
    let size = member_status(&c, 0)["dbSize"].as_u64().unwrap();
    assert!(size * 100 < QUOTA * 95, "m0 shrank under 95%: {size}");
    // Now a plain disarm by hex id goes through, and writes work again.
    let o = run_on(&c, &["alarm", "disarm", "--member", &m0_hex, "--yes"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(alarms(&c).is_empty(), "etcdctl: {:?}", alarms(&c));
    let out = c.ctl().run(&["put", "after", "ok"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

// ----- resize ------------------------------------------------------------------

#[test]
fn resize_refuses_the_last_member_and_warns_on_an_even_size() {
    let c = Cluster::single();
    // Removing the only voting member: refused, exit 4, nothing changed.
    let o = run_on(&c, &["resize", "remove", "m0", "--yes"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("only voting member"), "{}", stderr(&o));
    assert_eq!(member_names(&c, 0), ["m0"]);
    // Growing to two: the plan warns that two tolerate no more than one.
    let o = run_on(
        &c,
        &[
            "resize",
            "add",
            "m1",
            "--peer-urls",
            "http://127.0.0.1:1",
            "--dry-run",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: 2 voting members tolerate no more failures than 1 (0)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(member_names(&c, 0), ["m0"], "a dry run adds nothing");
}

#[test]
fn resize_remove_refused_for_quorum_goes_ahead_with_force() {
    // etcd's own check would refuse the forced removal too; with it off
    // the plugin's refusal is all that stands in the way.
    let mut c = Cluster::start(ClusterOpts {
        extra_args: vec!["--strict-reconfig-check=false".into()],
        ..ClusterOpts::members(3)
    });
    c.kill(2);
    // m0 and m1 answer; without m1, m0 is the only healthy one of two.
    let o = run_on(&c, &["resize", "remove", "m1", "--yes"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("refusing to remove `m1`"),
        "{}",
        stderr(&o)
    );
    assert_eq!(member_names(&c, 0), ["m0", "m1", "m2"]);
    // --force goes ahead, says so, and the even size left is warned about.
    let o = run_on(&c, &["resize", "remove", "m1", "--yes", "--force"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: --force: going ahead although"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("warning: 2 voting members tolerate no more failures than 1 (0)"),
        "{}",
        stderr(&o)
    );
    // m0 and m2 make a quorum again (etcd 3.5 lists members only with one).
    c.restart_no_wait(2);
    wait_until("m0 and m2 in quorum", Duration::from_secs(30), || {
        c.ctl()
            .endpoint(0)
            .run(&["endpoint", "health"])
            .status
            .success()
    });
    assert_eq!(member_names(&c, 0), ["m0", "m2"], "per etcdctl on m0");
}

// ----- a follower behind: status and snapshot save ------------------------------

/// `strace` attached to a running member, holding every `fdatasync` of it:
/// its raft loop and backend stop at the next disk sync while it still
/// answers Status. Detached (and the syncs let through) when dropped.
struct HeldDisk(Child);

impl HeldDisk {
    /// Holds the syncs of member `i`'s WAL files only: held bbolt syncs
    /// would also hold its Status (etcd 3.4 reads the revision through the
    /// backend's read transaction, locked during a commit).
    fn attach(c: &Cluster, i: usize) -> HeldDisk {
        let wal = c.member(i).data_dir().join("member/wal");
        let mut cmd = Command::new("strace");
        cmd.args(["-f", "-o", "/dev/null", "-e", "trace=fdatasync"])
            .args(["-e", "inject=fdatasync:delay_enter=300s"]);
        for f in std::fs::read_dir(&wal).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "wal") {
                cmd.arg("-P").arg(f);
            }
        }
        let child = cmd
            .arg("-p")
            .arg(c.member(i).pid().unwrap().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("this test needs strace: run scripts/prereqs.sh (apt-get install strace)");
        HeldDisk(child)
    }
}

impl Drop for HeldDisk {
    fn drop(&mut self) {
        // SIGTERM: strace detaches and the held syscalls go on.
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn a_follower_behind_is_flagged_by_the_lag_threshold_and_never_snapshotted() {
    let c = Cluster::start(ClusterOpts::members(3));
    let leader = c.leader_index();
    let slow = (leader + 1) % 3;
    let other = 3 - leader - slow;
    let held = HeldDisk::attach(&c, slow);
    // Writes through the two others commit; `slow` applies none of them.
    let eps = vec![
        c.member(leader).client_url().to_owned(),
        c.member(other).client_url().to_owned(),
    ];
    let rt = runtime();
    rt.block_on(async {
        let mut cl = etcd_client::Client::connect(eps, None).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut i = 0u64;
        loop {
            for _ in 0..200 {
                cl.put(format!("lag/{}", i % 100), i.to_string(), None)
                    .await
                    .unwrap();
                i += 1;
            }
            if applied(&c, slow) + 1500 < applied(&c, leader) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the follower does not fall behind"
            );
        }
    });
    // Writes stopped: the leader and the healthy follower agree again.
    wait_until("the healthy follower", Duration::from_secs(30), || {
        applied(&c, other) == applied(&c, leader)
    });
    let top = applied(&c, leader);
    let behind = applied(&c, slow);
    assert!(behind + 1500 < top, "{behind} against {top}");
    let by_name = |o: &Output| -> Vec<(String, bool, u64)> {
        json(o)["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap().to_owned(),
                    m["lagging"].as_bool().unwrap(),
                    m["raftAppliedIndex"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let name = |i: usize| c.member(i).name().to_owned();

    // Default threshold (1000 entries): only `slow` lags, at etcdctl's index.
    let o = run_on(&c, &["status", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = by_name(&o);
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (n, lagging, idx) in &rows {
        if *n == name(slow) {
            assert!(*lagging, "{rows:?}");
            assert_eq!(*idx, behind, "{rows:?}");
        } else {
            assert!(!*lagging, "{rows:?}");
            assert_eq!(*idx, top, "{rows:?}");
        }
    }
    // A threshold above the gap: nobody lags.
    let wide = (top - behind + 10).to_string();
    let o = run_on(&c, &["status", "-o", "json", "--lag-threshold", &wide]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(by_name(&o).iter().all(|r| !r.1), "{:?}", by_name(&o));
    // Just under the gap: `slow` lags again; the table says so in its row.
    let narrow = (top - behind - 10).to_string();
    let o = run_on(&c, &["status", "--lag-threshold", &narrow]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let table = stdout(&o);
    for l in table.lines().skip(1) {
        let lags = l.contains("lagging behind the other members");
        assert_eq!(lags, l.contains(c.member(slow).client_url()), "{table}");
    }
    assert_eq!(table.matches("lagging behind").count(), 1, "{table}");

    // snapshot save takes the most up-to-date member, never `slow`.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    let f = file.to_str().unwrap();
    let o = run_on(&c, &["snapshot", "save", f, "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_ne!(json(&o)["member"], name(slow).as_str(), "{}", stdout(&o));
    let st = Command::new(etcdctl_bin())
        .args(["snapshot", "status", f, "-w", "json"])
        .env("ETCDCTL_API", "3")
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", stderr(&st));
    let st: Value = serde_json::from_slice(&st.stdout).unwrap();
    let leader_rev = member_status(&c, leader)["header"]["revision"].as_i64();
    let slow_rev = member_status(&c, slow)["header"]["revision"].as_i64();
    assert_eq!(st["revision"].as_i64(), leader_rev, "{st}");
    assert!(slow_rev < leader_rev, "{slow_rev:?} {leader_rev:?}");
    drop(held);
}

// ----- watch ---------------------------------------------------------------------

/// `spec.replicas` and `metadata.generation` changed in one update.
fn scaled(stored: &[u8], replicas: i32) -> Vec<u8> {
    use k8s_pb::api::apps::v1::Deployment;
    use k8s_pb::apimachinery::pkg::runtime::Unknown;
    use prost::Message;
    let unknown = Unknown::decode(&stored[4..]).unwrap();
    let mut d = Deployment::decode(unknown.raw.as_deref().unwrap()).unwrap();
    d.spec.as_mut().unwrap().replicas = Some(replicas);
    let meta = d.metadata.as_mut().unwrap();
    meta.generation = Some(meta.generation.unwrap() + 1);
    objects::envelope("apps/v1", "Deployment", d.encode_to_vec())
}

#[test]
fn watch_hides_bookkeeping_fields_unless_all_fields() {
    let c = Cluster::single();
    let d = objects::deployment("ns", "web", 0, 3, 0);
    let start = member_status(&c, 0)["header"]["revision"].as_i64().unwrap() + 1;
    let out = c.ctl().stdin(d.value.clone()).run(&["put", &d.key]);
    assert!(out.status.success());
    let out = c.ctl().stdin(scaled(&d.value, 5)).run(&["put", &d.key]);
    assert!(out.status.success());
    let watch = |extra: &[&str]| -> String {
        let from = start.to_string();
        let args = [
            &["watch", "deploy", "--rev", &from, "--count", "2"][..],
            extra,
        ]
        .concat();
        let o = run_on(&c, &args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let lines: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains("MODIFIED"), "{lines:?}");
        lines[1].clone()
    };
    let plain = watch(&[]);
    assert!(plain.contains("spec.replicas: 3 -> 5"), "{plain}");
    assert!(!plain.contains("generation"), "{plain}");
    let all = watch(&["--all-fields"]);
    assert!(all.contains("spec.replicas: 3 -> 5"), "{all}");
    assert!(all.contains("metadata.generation: 1 -> 2"), "{all}");
}

/// etcdctl's own replay of `prefix` from `rev`: (key, mod revision) of the
/// first `n` events.
fn etcdctl_events(c: &Cluster, prefix: &str, rev: i64, n: usize) -> Vec<(String, i64)> {
    let mut child = c
        .ctl()
        .command(&[
            "watch",
            prefix,
            "--prefix",
            &format!("--rev={rev}"),
            "-w",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut got = Vec::new();
    let reader = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        for e in v["Events"].as_array().into_iter().flatten() {
            let key = b64.decode(e["kv"]["key"].as_str().unwrap()).unwrap();
            got.push((
                String::from_utf8(key).unwrap(),
                e["kv"]["mod_revision"].as_i64().unwrap(),
            ));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got.len(), n, "etcdctl watch replayed {got:?}");
    got
}

#[test]
fn a_watch_on_the_leader_sees_every_event_once_across_two_leader_moves() {
    const N: usize = 300;
    let c = Cluster::start(ClusterOpts::members(3));
    let leader = c.leader_index();
    let mut order = vec![leader];
    order.extend((0..3).filter(|&i| i != leader));
    let eps: Vec<String> = order
        .iter()
        .map(|&i| c.member(i).client_url().to_owned())
        .collect();
    let ids: Vec<u64> = order.iter().map(|&i| c.member_id(i)).collect();
    let from = member_status(&c, leader)["header"]["revision"]
        .as_i64()
        .unwrap()
        + 1;
    let prefix = "/registry/configmaps/moves/";
    // The watch is on the leader, the first endpoint.
    let mut w = plugin()
        .args(["--endpoints", &eps.join(","), "watch", prefix, "-o", "json"])
        .args(["--rev", &from.to_string(), "--count", &N.to_string()])
        .args(["--timeout", "90s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out_pipe = w.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen2 = seen.clone();
    let reader = thread::spawn(move || {
        let mut lines = Vec::new();
        for l in BufReader::new(out_pipe).lines().map_while(Result::ok) {
            lines.push(l);
            seen2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        lines
    });
    let rt = runtime();
    rt.block_on(async {
        let mut cl = etcd_client::Client::connect(eps.clone(), None)
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        for i in 0..N {
            // Leadership moves twice mid-stream; no member stops.
            if i == N / 3 || i == 2 * N / 3 {
                let to = if i == N / 3 { 1 } else { 2 };
                while seen.load(std::sync::atomic::Ordering::Relaxed) < i / 2 {
                    assert!(Instant::now() < deadline, "the watch is not streaming");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let current = c.leader_index();
                let out = c
                    .ctl()
                    .endpoint(current)
                    .run(&["move-leader", &format!("{:x}", ids[to])]);
                assert!(out.status.success(), "{}", stderr(&out));
                wait_until("the new leader", Duration::from_secs(20), || {
                    c.try_leader_index() == Some(order[to])
                });
            }
            let o = objects::configmap("moves", &format!("cm-{i:03}"), i as u64, 0);
            // Create-only: a put retried after a leader change is not
            // written twice.
            let create = Txn::new()
                .when([Compare::create_revision(o.key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(o.key.clone(), o.value.clone(), None)]);
            loop {
                assert!(Instant::now() < deadline, "writes did not go on");
                let txn = cl.txn(create.clone());
                if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), txn).await {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let status = w.wait().unwrap();
    let mut err = String::new();
    w.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let lines = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    let got: Vec<(String, i64)> = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["type"], "ADDED", "{v}");
            (
                v["key"].as_str().unwrap().to_owned(),
                v["revision"].as_i64().unwrap(),
            )
        })
        .collect();
    let want = etcdctl_events(&c, prefix, from, N);
    assert_eq!(got, want, "plugin events against etcdctl's replay");
    assert_eq!(
        c.try_leader_index(),
        Some(order[2]),
        "leadership really moved"
    );
}

// ----- --strict --------------------------------------------------------------------

#[test]
fn strict_turns_a_kept_unknown_field_into_a_decode_failure() {
    let c = Cluster::single();
    use k8s_pb::apimachinery::pkg::runtime::Unknown;
    use prost::Message;
    let good = objects::pod("ns", "good", 1, 0);
    let base = objects::pod("ns", "odd", 2, 0);
    let unknown = Unknown::decode(&base.value[4..]).unwrap();
    let mut raw = unknown.raw.unwrap();
    // Field 99, varint 7: no Pod field has that number.
    raw.extend_from_slice(&[0x98, 0x06, 0x07]);
    let odd = objects::envelope("v1", "Pod", raw);
    for (key, value) in [(&good.key, good.value.clone()), (&base.key, odd.clone())] {
        let out = c.ctl().stdin(value).run(&["put", key]);
        assert!(out.status.success());
    }
    // Kept under its number with a warning.
    let o = run_on(&c, &["get", "pods/ns/odd", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["<unknown field 99>"], 7, "{}", stdout(&o));
    assert!(stderr(&o).contains("warning"), "{}", stderr(&o));
    // --strict: bad data, exit 5, nothing printed.
    let o = run_on(&c, &["get", "pods/ns/odd", "-o", "json", "--strict"]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert!(stderr(&o).contains("--strict"), "{}", stderr(&o));
    // Among many: the rest prints and the exit is 1.
    let o = run_on(
        &c,
        &["get", "pods", "-n", "ns", "--all", "-o", "json", "--strict"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let names: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["metadata"]["name"].clone())
        .collect();
    assert_eq!(names, ["good"]);
    // decode of the same bytes: 0 without, 5 with --strict.
    for (strict, want) in [(false, 0), (true, 5)] {
        let mut cmd = plugin();
        cmd.arg("decode");
        if strict {
            cmd.arg("--strict");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&odd).unwrap();
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), want, "--strict {strict}: {}", stderr(&o));
    }
}

// ----- progress only on a terminal ------------------------------------------------------

/// A TCP proxy on a free port: `pass(client, server)` runs on its own
/// thread for every connection that `admit` lets through, with `server`
/// connected to `upstream`. Returns the proxy's URL.
fn tcp_proxy(
    upstream: &str,
    admit: impl Fn(&TcpStream) -> bool + Send + 'static,
    pass: impl Fn(TcpStream, TcpStream) + Send + Sync + 'static,
) -> String {
    let pass = std::sync::Arc::new(pass);
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            if !admit(&client) {
                continue;
            }
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let pass = pass.clone();
            thread::spawn(move || pass(client, server));
        }
    });
    format!("http://{addr}")
}

/// Copies `from` to `to` until either ends, then closes `to` for writing.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// A TCP proxy to `upstream` that passes the server's bytes at about
/// `rate` bytes per second, so a snapshot stream lasts seconds.
fn slow_proxy(upstream: &str, rate: usize) -> String {
    tcp_proxy(
        upstream,
        |_| true,
        move |client, server| {
            let (c_in, s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            thread::spawn(move || pipe(c_in, s_out));
            let (mut s_in, mut c_out) = (server, client);
            let chunk = rate / 20;
            let mut buf = vec![0u8; chunk];
            loop {
                match s_in.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if c_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            let _ = c_out.shutdown(std::net::Shutdown::Write);
        },
    )
}

/// Thirty 100 KiB values in `c` (a snapshot of about 3 MiB), and a proxy
/// to member 0 that passes its bytes at `rate` bytes per second.
fn slow_snapshot_source(c: &Cluster, rate: usize) -> String {
    let value = vec![b'p'; 100 * 1024];
    for i in 0..30 {
        let out = c
            .ctl()
            .stdin(value.clone())
            .run(&["put", &format!("big/{i}")]);
        assert!(out.status.success());
    }
    slow_proxy(c.member(0).client_url(), rate)
}

#[test]
fn progress_is_drawn_on_a_terminal_and_never_into_a_pipe() {
    let c = Cluster::single();
    // About 3 MiB at 1 MiB/s: the bar's first tick (1 s) comes.
    let proxy = slow_snapshot_source(&c, 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let script = find_on_path("script").expect("script(1) from util-linux");
    let on_tty = |file: &str, extra: &str| -> String {
        let out = Command::new(&script)
            .arg("-qec")
            .arg(format!(
                "{} --endpoints {proxy} snapshot save {file} {extra}",
                env!("CARGO_BIN_EXE_kubectl-etcd"),
            ))
            .arg("/dev/null")
            .env("TERM", "xterm")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}");
        text
    };
    let tty = on_tty(dir.path().join("a.db").to_str().unwrap(), "");
    assert!(tty.contains("snapshot ["), "a bar on the terminal: {tty:?}");
    assert!(tty.contains("/s eta"), "{tty:?}");
    // JSON output on a terminal: no bar either.
    let tty_json = on_tty(dir.path().join("b.db").to_str().unwrap(), "-o json");
    assert!(!tty_json.contains("snapshot ["), "{tty_json:?}");
    // Piped: the same run draws nothing, no escape, no carriage return.
    let o = plugin()
        .args(["--endpoints", &proxy, "snapshot", "save"])
        .arg(dir.path().join("c.db"))
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for text in [stdout(&o), stderr(&o)] {
        assert!(!text.contains("snapshot ["), "{text:?}");
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(!text.contains('\r'), "{text:?}");
    }
    assert!(
        stderr(&o).contains("streaming a snapshot from"),
        "{}",
        stderr(&o)
    );
}

// ----- restore: the bump, --mark-compacted and the counts ----------------------------

#[test]
fn restore_counts_and_revision_bump_are_what_etcdctl_sees_on_the_restored_member() {
    let c = Cluster::single();
    for (ty, n) in [("pods", 5), ("configmaps", 3), ("secrets", 2)] {
        for i in 0..n {
            c.put(&format!("/registry/{ty}/ns/{ty}-{i}"), "v");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap.db");
    let o = run_on(
        &c,
        &["snapshot", "save", snap.to_str().unwrap(), "-o", "json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let snap_rev = json(&o)["revision"].as_i64().unwrap();
    // After the snapshot: one more pod, one configmap less. Neither survives.
    c.put("/registry/pods/ns/late", "v");
    c.ctl().ok(&["del", "/registry/configmaps/ns/configmaps-0"]);

    // etcdutl (3.5) bumps the revision and marks it compacted; etcdctl
    // (3.4) cannot, and the plan says so.
    let etcdutl = crate::support::etcd_bin().with_file_name("etcdutl");
    let (tool, path, bump) = if etcdutl.is_file() {
        ("--etcdutl", etcdutl, 1_000_000_000i64)
    } else {
        let ctl = etcdctl_bin();
        let ctl = if ctl.is_absolute() {
            ctl
        } else {
            find_on_path("etcdctl").expect("etcdctl on PATH")
        };
        ("--etcdctl", ctl, 0)
    };
    let pid = c.member(0).pid().unwrap().to_string();
    let o = run_on(
        &c,
        &[
            "-o",
            "json",
            "restore",
            "--local",
            "--pid",
            &pid,
            "--snapshot",
            snap.to_str().unwrap(),
            tool,
            path.to_str().unwrap(),
            "--yes",
        ],
    );
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    let _started = KillOnDrop(
        report["startedPid"]
            .as_u64()
            .map(|p| p as u32)
            .into_iter()
            .collect(),
    );
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    // Every field as README documents it, `local` and `after` included.
    crate::readme::assert_documented("restore -o json", &o);
    assert!(
        report["after"]["members"][0]["memberId"].is_string(),
        "{report}"
    );
    assert_eq!(report["plan"]["bump"].as_i64(), Some(bump), "{report}");
    let argv: Vec<&str> = report["plan"]["members"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(argv.contains(&"--mark-compacted"), bump > 0, "{argv:?}");
    if bump == 0 {
        assert!(
            stderr(&o).contains("cannot bump the revision"),
            "{}",
            stderr(&o)
        );
    }

    // etcdctl on the restored member: the snapshot's keys, per type.
    let count = |prefix: &str| -> u64 {
        let out = c
            .ctl()
            .ok(&["get", prefix, "--prefix", "--keys-only", "-w", "json"]);
        serde_json::from_str::<Value>(&out).unwrap()["count"]
            .as_u64()
            .unwrap_or(0)
    };
    let counts: Vec<(String, u64, u64)> = report["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap().to_owned(),
                r["snapshot"].as_u64().unwrap(),
                r["live"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64, u64)> = [("configmaps", 3), ("pods", 5), ("secrets", 2)]
        .into_iter()
        .map(|(t, n)| (t.to_owned(), n, count(&format!("/registry/{t}/"))))
        .collect();
    let mut sorted = counts.clone();
    sorted.sort();
    assert_eq!(sorted, want, "restore's counts against etcdctl's");
    assert!(want.iter().all(|(_, snap, live)| snap == live), "{want:?}");

    // The revision after: the snapshot's plus the bump, per etcdctl too.
    let now = member_status(&c, 0)["header"]["revision"].as_i64().unwrap();
    assert_eq!(report["after"]["revision"].as_i64(), Some(now), "{report}");
    assert_eq!(now, snap_rev + bump, "{report}");
    // --mark-compacted: history before the bump is gone, as etcd says.
    let old = c.ctl().run(&[
        "get",
        "/registry/pods/ns/pods-0",
        &format!("--rev={snap_rev}"),
    ]);
    if bump > 0 {
        assert!(!old.status.success());
        assert!(stderr(&old).contains("compacted"), "{}", stderr(&old));
    } else {
        assert!(old.status.success(), "{}", stderr(&old));
    }
}

// ----- Ctrl-C at the confirmation of put and compact --------------------------

/// Runs the plugin with `args` on a pseudo-terminal (util-linux `script`),
/// waits for its `[y/N]` question, types Ctrl-C there as a terminal user
/// would, and returns the exit code and everything the terminal showed.
fn ctrl_c_at_the_question(c: &Cluster, args: &[&str]) -> (Option<i32>, String) {
    let mut pty = Pty::spawn(c, args);
    pty.wait_for("[y/N]");
    pty.type_keys(b"\x03");
    pty.exit(Duration::from_secs(60))
}

#[test]
fn ctrl_c_at_the_question_of_put_and_compact_exits_130_and_writes_nothing() {
    let c = Cluster::single();
    let cm = objects::configmap("default", "conf", 1, 10);
    let out = c.ctl().stdin(cm.value.clone()).run(&["put", &cm.key]);
    assert!(out.status.success());
    for i in 0..5 {
        c.put("/other/bump", &i.to_string());
    }
    let mod_revision = |c: &Cluster| -> i64 {
        let v: Value = serde_json::from_str(&c.ctl().ok(&["get", &cm.key, "-w", "json"])).unwrap();
        v["kvs"][0]["mod_revision"].as_i64().unwrap()
    };
    let before = mod_revision(&c);

    // put: the field diff is shown before the question; Ctrl-C there
    // writes nothing and says so.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conf.yaml");
    let got = run_on(&c, &["get", "configmaps/default/conf"]);
    assert_eq!(code(&got), 0, "{}", stderr(&got));
    let edited = stdout(&got).replace("app: app-1\n", "app: edited\n");
    assert_ne!(edited, stdout(&got));
    std::fs::write(&file, edited).unwrap();
    let (status, text) = ctrl_c_at_the_question(
        &c,
        &[
            "put",
            "configmaps/default/conf",
            "-f",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(status, Some(130), "{text}");
    let diff = text
        .find("metadata.labels")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        diff < text.find("[y/N]").unwrap(),
        "diff before the question: {text}"
    );
    assert!(
        text.contains(
            "interrupted (Ctrl-C) at the question: did not replace `/registry/configmaps/default/conf`"
        ),
        "{text}"
    );
    assert_eq!(mod_revision(&c), before, "nothing written");

    // compact: Ctrl-C at the question compacts nothing.
    let (status, text) = ctrl_c_at_the_question(&c, &["compact"]);
    assert_eq!(status, Some(130), "{text}");
    assert!(
        text.contains("interrupted (Ctrl-C) at the question: did not compact the keyspace"),
        "{text}"
    );
    let old = c
        .ctl()
        .run(&["get", "/other/bump", "--rev", &before.to_string()]);
    assert!(old.status.success(), "revision {before} still readable");
}

#[test]
fn ctrl_c_during_snapshot_save_exits_130_and_leaves_no_file() {
    let c = Cluster::single();
    // About 3 MiB at 256 KiB/s: the stream lasts seconds.
    let proxy = slow_snapshot_source(&c, 256 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    let part = dir.path().join("s.db.part");
    let child = plugin()
        .args(["--endpoints", &proxy, "snapshot", "save"])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("bytes in the .part file", Duration::from_secs(60), || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() > 0)
    });
    crate::support::cli::send_sigint(child.id());
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 130, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("interrupted (Ctrl-C) after ")
            && stderr(&o).contains("no file was written"),
        "{}",
        stderr(&o)
    );
    assert!(!file.exists(), "no file");
    assert!(!part.exists(), "no .part");
}

// ----- the quota when the member does not tell it ------------------------------

/// A TCP proxy to `upstream` that passes gRPC (HTTP/2) and drops every
/// plain HTTP request: the member's `/metrics` cannot be read through it,
/// as behind a firewall that only lets gRPC through.
fn grpc_only_proxy(upstream: &str) -> String {
    let not_http1 = |client: &TcpStream| {
        let mut first = [0u8; 4];
        client.peek(&mut first).is_ok() && &first != b"GET "
    };
    tcp_proxy(upstream, not_http1, |client, server| {
        let (c_in, s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        thread::spawn(move || pipe(c_in, s_out));
        pipe(server, client);
    })
}

#[test]
fn a_quota_nothing_reports_is_assumed_and_says_where_it_came_from() {
    let c = Cluster::single();
    let proxy = grpc_only_proxy(c.member(0).client_url());
    let run = |args: &[&str]| {
        plugin()
            .args(["--endpoints", &proxy])
            .args(args)
            .output()
            .unwrap()
    };
    // --quota-bytes: the figure is the flag's, assumed, said under the table.
    for cmd in ["status", "size"] {
        let o = run(&[cmd, "--quota-bytes", "512MiB", "-o", "json"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let row = &json(&o)["members"][0];
        assert_eq!(row["quotaBytes"], 512 * 1024 * 1024, "{cmd}: {row}");
        assert_eq!(row["quotaSource"], "flag", "{cmd}: {row}");
        assert_eq!(row["quotaAssumed"], true, "{cmd}: {row}");
        let o = run(&[cmd, "--quota-bytes", "512MiB"]);
        let text = format!("{}{}", stdout(&o), stderr(&o));
        assert!(text.contains("512.0 MiB*"), "{cmd}: {text}");
        assert!(text.contains("* quota from --quota-bytes"), "{cmd}: {text}");
    }
    // Nothing at all: etcd's default, assumed, said so.
    let o = run(&["status", "-o", "json"]);
    let row = &json(&o)["members"][0];
    assert_eq!(row["quotaBytes"], 2u64 * 1024 * 1024 * 1024, "{row}");
    assert_eq!(row["quotaSource"], "default", "{row}");
    assert_eq!(row["quotaAssumed"], true, "{row}");
    let o = run(&["status"]);
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        text.contains("* quota assumed: etcd default 2 GiB"),
        "{text}"
    );
    assert!(!text.contains("--quota-bytes:"), "{text}");
    // Through the member itself the metrics give it: not assumed.
    let o = run_on(&c, &["status", "--quota-bytes", "512MiB", "-o", "json"]);
    assert_eq!(json(&o)["members"][0]["quotaSource"], "metrics");
}

#[test]
fn ctrl_c_while_compact_physical_waits_exits_130_saying_the_compaction_is_done() {
    let c = Cluster::start(ClusterOpts::members(3));
    for i in 0..20 {
        c.put("/registry/configmaps/default/k", &i.to_string());
    }
    let mut child =
        crate::support::cli::spawn_piped(plugin().args(["--endpoints", &c.endpoints()]).args([
            "compact",
            "--physical",
            "--yes",
        ]));
    // The compaction is sent and answered; the wait for every member
    // (two still readings 700 ms apart at least) is what Ctrl-C ends.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            panic!("compact ended before waiting: {seen}");
        }
        seen.push_str(&line);
        if line.starts_with("waiting for every member") {
            break;
        }
    }
    crate::support::cli::send_sigint(child.id());
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{seen}{rest}");
    let now = crate::support::etcdctl::revision(&c);
    assert!(
        rest.contains(&format!(
            "interrupted (Ctrl-C) after compacting at revision {now}"
        )) && rest.contains("in the background"),
        "says what was done: {seen}{rest}"
    );
    // It was done: the history before it is gone, per etcdctl.
    let old = c
        .ctl()
        .run(&["get", "/registry/configmaps/default/k", "--rev", "2"]);
    assert!(!old.status.success(), "revision 2 is compacted");
}
