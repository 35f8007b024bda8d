//! Safe maintenance against real etcd: rolling defrag, compaction, NOSPACE
//! recovery and snapshots. `ETCD_BIN` selects the etcd build.

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::Value;
use support::cli::{self, plugin};
use support::{etcdctl, output_text, wait_until, Cluster, ClusterOpts};

/// Run kubectl-etcd against `c` with stdin closed (no terminal).
fn ke(c: &Cluster, args: &[&str]) -> Output {
    cli::run_on(c, args)
}

fn offline(args: &[&str]) -> Output {
    plugin().args(args).output().expect("run kubectl-etcd")
}

fn ok_json(out: &Output) -> Value {
    assert_eq!(cli::code(out), 0, "{}", output_text(out));
    cli::json(out)
}

fn stderr(out: &Output) -> String {
    cli::stderr(out)
}

/// db size per member index, from etcdctl; every member must be running.
fn db_sizes(c: &Cluster) -> Vec<u64> {
    etcdctl::db_sizes(c)
        .into_iter()
        .map(|s| s.expect("every member is running"))
        .collect()
}

fn live_count(c: &Cluster) -> u64 {
    let out = c.ctl().ok(&[
        "get",
        "",
        "--prefix",
        "--keys-only",
        "--limit",
        "1",
        "-w",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["count"].as_u64().unwrap_or(0)
}

use support::etcdctl::seed;

/// A writer that puts `w/N` in a loop until stopped, counting its
/// acknowledged puts in `acks`; returns acknowledged keys and the puts that
/// failed even after retries.
fn writer(
    c: &Cluster,
    stop: Arc<AtomicBool>,
    acks: Arc<AtomicU64>,
) -> thread::JoinHandle<(Vec<String>, Vec<String>)> {
    let eps: Vec<String> = c.endpoints().split(',').map(str::to_string).collect();
    thread::spawn(move || {
        etcdctl::runtime().block_on(async move {
            let mut cl = etcd_client::Client::connect(eps, None).await.unwrap();
            let (mut acked, mut failed) = (Vec::new(), Vec::new());
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w/{n:08}");
                let mut last = None;
                for _ in 0..5 {
                    let put = cl.put(key.clone(), "x", None);
                    match tokio::time::timeout(Duration::from_secs(10), put).await {
                        Ok(Ok(_)) => {
                            last = None;
                            break;
                        }
                        Ok(Err(e)) => last = Some(e.to_string()),
                        Err(_) => last = Some("timeout".into()),
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                match last {
                    None => {
                        acked.push(key);
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(e) => failed.push(format!("{key}: {e}")),
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (acked, failed)
        })
    })
}

#[test]
fn rolling_defrag_shrinks_every_member_leader_last_and_loses_no_write() {
    let c = Cluster::start(ClusterOpts::members(3));
    seed(&c, "/registry/junk/", 1500, 2048);
    c.ctl().ok(&["del", "/registry/junk/", "--prefix"]);
    let out = ke(&c, &["compact", "--yes", "--physical", "-o", "json"]);
    let compacted = ok_json(&out);
    assert!(compacted["revision"].as_i64().unwrap() > 1500);

    // Refused without a terminal and without --yes; the dry run changes nothing.
    let before = db_sizes(&c);
    let out = ke(&c, &["defrag", "--pause", "0s"]);
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));
    assert!(
        stderr(&out).contains("no terminal"),
        "{}",
        output_text(&out)
    );
    let plan = ok_json(&ke(&c, &["defrag", "--dry-run", "-o", "json"]));
    assert_eq!(plan["members"].as_array().unwrap().len(), 3);
    assert!(plan["members"][0]["expectedReclaim"].as_u64().unwrap() > 1_000_000);
    assert_eq!(db_sizes(&c), before, "--dry-run changed nothing");

    // Threshold mode: every member is under 1GB, so all are skipped.
    let out = ke(
        &c,
        &[
            "defrag",
            "--yes",
            "--if-fragmented",
            "10",
            "--min-db-size",
            "1GB",
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        stderr(&out).contains("nothing to defragment"),
        "{}",
        output_text(&out)
    );
    assert_eq!(db_sizes(&c), before);
    // Each member the table skips is in JSON `skipped`, with the figures.
    let none = ok_json(&out);
    let skipped = none["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 3, "{none:#}");
    for s in skipped {
        assert_eq!(s["cause"], "belowMinDbSize", "{none:#}");
        assert!(s["dbSize"].as_u64().unwrap() > 0, "{none:#}");
        assert!(s["fragmentationPercent"].is_f64(), "{none:#}");
    }
    assert!(none["stopped"].is_null());
    let out = ke(
        &c,
        &["defrag", "--yes", "--if-fragmented", "100", "-o", "json"],
    );
    let none = ok_json(&out);
    let skipped = none["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 3, "{none:#}");
    assert!(skipped.iter().all(|s| s["cause"] == "notFragmented"
        && s["reason"]
            .as_str()
            .unwrap()
            .contains("under --if-fragmented 100%")
        && s["fragmentationPercent"].as_f64().unwrap() < 100.0));
    assert_eq!(db_sizes(&c), before);

    let leader = format!("m{}", c.leader_index());
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicU64::new(0));
    let w = writer(&c, stop.clone(), acks.clone());
    let acked_by = |n: u64| acks.load(Ordering::SeqCst) >= n;
    wait_until("the writer's first puts", Duration::from_secs(30), || {
        acked_by(5)
    });
    let out = ke(&c, &["defrag", "--yes", "--pause", "0s", "-o", "json"]);
    // The writer goes on after the defrag too.
    let after_defrag = acks.load(Ordering::SeqCst);
    wait_until("puts after the defrag", Duration::from_secs(30), || {
        acked_by(after_defrag + 5)
    });
    stop.store(true, Ordering::Relaxed);
    let (acked, failed) = w.join().unwrap();
    let result = ok_json(&out);
    let done = result["members"].as_array().unwrap();
    assert_eq!(done.len(), 3, "{result:#}");
    for m in done {
        assert_eq!(m["id"].as_str().unwrap().len(), 16);
    }
    // Every member shrank, as etcdctl sees it (not by the plugin's own
    // before/after figures): the writer added a few KB, the defrag freed MBs.
    let sizes = db_sizes(&c);
    for (i, (b, a)) in before.iter().zip(&sizes).enumerate() {
        assert!(
            a + 1_000_000 < *b,
            "m{i} did not shrink by the freed MBs (etcdctl dbSize): {b} -> {a}"
        );
    }
    let last = &done[2];
    assert_eq!(last["member"], leader, "the leader goes last: {result:#}");
    assert!(
        last["leaderMovedTo"].is_string(),
        "leadership moved first: {result:#}"
    );
    assert_ne!(format!("m{}", c.leader_index()), leader);

    assert!(
        failed.is_empty(),
        "writes failed during the defrag: {failed:?}"
    );
    assert!(acked.len() > 10, "the writer kept writing: {}", acked.len());
    let out = c.ctl().ok(&["get", "w/", "--prefix", "--keys-only"]);
    let stored: BTreeSet<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    for k in &acked {
        assert!(stored.contains(k.as_str()), "acknowledged write {k} lost");
    }

    // Threshold mode skips what is under it: m0 again is no longer fragmented.
    let out = ke(
        &c,
        &["defrag", "--dry-run", "--if-fragmented", "45", "-o", "json"],
    );
    let plan = ok_json(&out);
    let planned = plan["members"].as_array().unwrap();
    assert_eq!(planned.len(), 3, "{plan:#}");
    assert!(
        planned.iter().all(|m| m["skip"]["reason"].is_string()),
        "{plan:#}"
    );

    // The first failure stops the run and says what was (not) done.
    let out = ke(
        &c,
        &[
            "defrag",
            "--yes",
            "--pause",
            "0s",
            "--timeout",
            "1ns",
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let err = stderr(&out);
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Timers tick by the millisecond: a member whose defrag of this tiny
    // database answers within the first tick is done before the timeout
    // fires. Whatever the count, the run stops at the first member that
    // timed out and says exactly what was done and what is left.
    let stopped = &result["stopped"];
    let at = stopped["member"]
        .as_str()
        .unwrap_or_else(|| panic!("{result:#}"));
    let done = stopped["done"].as_array().unwrap();
    let left = stopped["left"].as_array().unwrap();
    assert!(done.len() < 3, "{result:#}");
    assert_eq!(done.len() + left.len(), 3, "{result:#}");
    assert_eq!(
        left[0], at,
        "the run stops at the first member left: {result:#}"
    );
    assert!(
        err.contains(&format!("stopped at member `{at}`"))
            && err.contains(&format!("{} of 3 members defragmented", done.len())),
        "{err}"
    );

    // Ctrl-C during the pause after the first member stops before the next.
    let (out, seen, rest) =
        ctrl_c_in_the_pause(&c, &["defrag", "--yes", "--pause", "20s", "-o", "json"]);
    assert_eq!(out.status.code(), Some(130), "{seen}{rest}");
    assert!(rest.contains("1 of 3 members defragmented"), "{seen}{rest}");
    assert!(rest.contains("left: "), "{seen}{rest}");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["members"].as_array().unwrap().len(), 1, "{result:#}");
    assert!(result["stopped"]["message"]
        .as_str()
        .unwrap()
        .contains("interrupted"));
}

/// `--physical` waits for every member's file; a member that answers
/// nothing meanwhile (here SIGSTOPped) cannot be said to be done: it is
/// named and the exit code is 1, though the compaction itself went through.
#[test]
fn compact_physical_names_a_member_that_did_not_answer() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    seed(&c, "/registry/junk/", 50, 1024);
    c.ctl().ok(&["del", "/registry/junk/", "--prefix"]);
    // A follower, not the first endpoint (the one the request goes to).
    let leader = c.leader_index();
    let victim = (1..3).rev().find(|&i| i != leader).unwrap();
    c.pause(victim);
    let out = ke(
        &c,
        &["--command-timeout", "1s", "compact", "--yes", "--physical"],
    );
    c.resume(victim);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "`m{victim}` did not answer while --physical waited"
        )),
        "{err}"
    );
    // The compaction itself went through.
    let compact = ok_json(&ke(&c, &["compact", "--dry-run", "-o", "json"]));
    assert!(
        compact["previouslyCompacted"].as_i64().unwrap() > 1,
        "{compact}"
    );
}

#[test]
fn defrag_refuses_and_names_the_member_that_is_down() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    let victim = (c.leader_index() + 1) % 3;
    let name = format!("m{victim}");

    // Threshold mode: once one member is defragmented, only the others are
    // over --if-fragmented. Kept data gives the defragmented member a
    // database of ~100 pages: an empty one is 5 pages (40% fragmented with
    // 2 free), and each page a later commit frees moves it 20 points, across
    // the 45% threshold. With it, that member reads about 2% and the others
    // (about 800 pages freed) about 87%.
    seed(&c, "/registry/kept/", 100, 2048);
    seed(&c, "/registry/junk/", 800, 2048);
    c.ctl().ok(&["del", "/registry/junk/", "--prefix"]);
    let out = ke(&c, &["compact", "--yes", "--physical"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let out = ke(&c, &["defrag", "--yes", "--member", &name, "-o", "json"]);
    assert_eq!(ok_json(&out)["members"].as_array().unwrap().len(), 1);
    // etcd reports freed pages as in use until the read transactions that
    // hold them end, and recomputes the figure only when it next commits:
    // the others' fragmentation may show late, and only after a write.
    let settled = |plan: &Value| {
        let members = plan["members"].as_array().unwrap();
        members.len() == 3
            && members.iter().all(|m| {
                if m["member"] == name.as_str() {
                    m["skip"]["cause"] == "notFragmented"
                        && m["skip"]["reason"]
                            .as_str()
                            .is_some_and(|s| s.contains("--if-fragmented"))
                } else {
                    m["order"].is_u64()
                }
            })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let plan = loop {
        c.put("/tick", "x");
        let plan = ok_json(&ke(
            &c,
            &["defrag", "--dry-run", "--if-fragmented", "45", "-o", "json"],
        ));
        if settled(&plan) || std::time::Instant::now() > deadline {
            break plan;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert!(settled(&plan), "{plan:#}");

    c.kill(victim);
    let before = etcdctl::db_sizes(&c);
    let out = ke(&c, &["defrag", "--yes", "--pause", "0s"]);
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("`m{victim}`")), "{err}");
    assert_eq!(etcdctl::db_sizes(&c), before);

    // The plan shows the dead member as an object with its error, and
    // nothing it cannot report.
    let plan = ok_json(&ke(&c, &["defrag", "--dry-run", "-o", "json"]));
    let dead = plan["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["member"] == name.as_str())
        .unwrap_or_else(|| panic!("{plan:#}"));
    assert!(dead["error"].is_string(), "{dead:#}");
    for field in [
        "role",
        "dbSize",
        "dbSizeInUse",
        "fragmentationPercent",
        "expectedReclaim",
    ] {
        assert!(dead[field].is_null(), "{field}: {dead:#}");
    }
    assert_eq!(dead["skip"]["cause"], "unreachable", "{dead:#}");
    assert!(plan["blockedBy"].as_str().unwrap().contains(&name));

    // The refusal is an outcome on stdout too: `stopped` says why and that
    // nothing was done; `skipped` names the dead member.
    let out = ke(&c, &["defrag", "--yes", "--pause", "0s", "-o", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));
    let result: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", output_text(&out)));
    let stopped = &result["stopped"];
    assert_eq!(stopped["kind"], "refused", "{result:#}");
    assert!(
        stopped["message"].as_str().unwrap().contains(&name),
        "{result:#}"
    );
    assert_eq!(stopped["done"], serde_json::json!([]), "{result:#}");
    assert_eq!(stopped["left"].as_array().unwrap().len(), 2, "{result:#}");
    assert_eq!(result["members"], serde_json::json!([]));
    assert!(result["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["member"] == name.as_str() && s["cause"] == "unreachable"));

    // A snapshot from the dead member fails and leaves no file behind.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    let name = format!("m{victim}");
    let out = ke(
        &c,
        &[
            "snapshot",
            "save",
            file.to_str().unwrap(),
            "--member",
            &name,
        ],
    );
    assert_eq!(cli::code(&out), 3, "{}", output_text(&out));
    assert!(!file.exists());
    assert!(!dir.path().join("s.db.part").exists());
}

/// `quotaAssumed` means one thing in every command: the figure did not come
/// from the member. etcd 3.4/3.5 export their quota (2 MiB here) in their
/// metrics, so an explicit `--quota-bytes` is not used, nothing is marked
/// `*`, and every command says the source is `metrics`.
fn quota_is_the_same_everywhere(c: &Cluster) {
    const QUOTA: u64 = 2 * 1024 * 1024;
    let check = |what: &str, row: &Value| {
        assert_eq!(row["quotaBytes"], QUOTA, "{what}: {row:#}");
        assert_eq!(row["quotaAssumed"], false, "{what}: {row:#}");
        assert_eq!(row["quotaSource"], "metrics", "{what}: {row:#}");
    };
    for cmd in ["status", "size"] {
        let v = answered(
            c,
            &[cmd, "--quota-bytes", "512MiB", "-o", "json"],
            "members",
        );
        for row in v["members"].as_array().unwrap() {
            check(cmd, row);
        }
        let out = ke(c, &[cmd, "--quota-bytes", "512MiB"]);
        let text = output_text(&out);
        assert!(!text.contains("512.0 MiB"), "{cmd}: {text}");
        assert!(!text.contains("* quota"), "{cmd}: {text}");
        assert!(!text.contains("MiB*"), "{cmd}: {text}");
    }
    let list = answered(
        c,
        &["alarm", "list", "--quota-bytes", "512MiB", "-o", "json"],
        "",
    );
    for row in list.as_array().unwrap() {
        check("alarm list", row);
    }
    let doctor = ke(
        c,
        &["doctor", "--check", "space", "--window", "1s", "-o", "json"],
    );
    let doctor: Value = serde_json::from_slice(&doctor.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", output_text(&doctor)));
    let quota: Vec<&Value> = doctor["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "quota")
        .collect();
    assert_eq!(quota.len(), 3, "{doctor:#}");
    for f in quota {
        let value = f["value"].as_str().unwrap();
        assert!(value.contains("of 2.0 MiB (metrics)"), "{doctor:#}");
    }
}

/// The JSON of `args` once every member row in it (under `rows`, or the
/// top-level array when empty) answered (`dbSize` is not null): on a loaded
/// machine a member of a full cluster may miss one status deadline, and
/// the quota's source is only asked of members that answer.
fn answered(c: &Cluster, args: &[&str], rows: &str) -> Value {
    let mut v = Value::Null;
    wait_until(
        &format!("every member to answer `{}`", args.join(" ")),
        Duration::from_secs(60),
        || {
            v = ok_json_allowing(&ke(c, args));
            let list = if rows.is_empty() { &v } else { &v[rows] };
            list.as_array()
                .is_some_and(|r| !r.is_empty() && r.iter().all(|m| !m["dbSize"].is_null()))
        },
    );
    v
}

/// The JSON on stdout, whatever the exit code (NOSPACE makes `status` 0
/// but `size` may warn).
fn ok_json_allowing(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("json: {e}\n{}", output_text(out)))
}

/// Runs `args` (a rolling defrag with a long `--pause`), sends Ctrl-C once
/// stderr says it is pausing after a member, and returns the output with
/// stderr up to that line and after it.
fn ctrl_c_in_the_pause(c: &Cluster, args: &[&str]) -> (Output, String, String) {
    let mut child = cli::spawn_piped(plugin().args(["--endpoints", &c.endpoints()]).args(args));
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut err, &mut line).unwrap() == 0 {
            panic!("{args:?} ended before pausing: {seen}");
        }
        seen.push_str(&line);
        if line.starts_with("pausing") {
            break;
        }
    }
    cli::send_sigint(child.id());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    (child.wait_with_output().unwrap(), seen, rest)
}

/// Three members with a 2 MiB quota, filled until NOSPACE is raised.
fn nospace_cluster() -> Cluster {
    let c = Cluster::start(ClusterOpts {
        members: 3,
        quota_backend_bytes: Some(2 * 1024 * 1024),
        ..ClusterOpts::members(3)
    });
    c.fill_until_nospace();
    // The alarm is raised through raft, right after the refused put.
    wait_until("the NOSPACE alarm", Duration::from_secs(20), || {
        c.alarm_list().contains("NOSPACE")
    });
    c
}

#[test]
fn recover_space_makes_a_nospace_cluster_writable_again() {
    let c = nospace_cluster();
    let out = c.ctl().run(&["put", "k", "v"]);
    assert!(
        !out.status.success() && cli::stderr(&out).contains("database space exceeded"),
        "NOSPACE refuses writes: {}",
        output_text(&out)
    );

    let list = ok_json(&ke(
        &c,
        &["alarm", "list", "--quota-bytes", "2MiB", "-o", "json"],
    ));
    quota_is_the_same_everywhere(&c);
    let alarms = list.as_array().unwrap();
    assert!(!alarms.is_empty(), "{list:#}");
    assert!(alarms.iter().all(|a| a["alarm"] == "NOSPACE"), "{list:#}");
    // etcd before 3.6 does not report its quota in Status, but its metrics
    // do: without --quota-bytes the db is known to be still full, and
    // disarming now would be undone by the next write.
    let out = ke(&c, &["alarm", "disarm", "--yes"]);
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));
    assert!(
        stderr(&out).contains("recover-space"),
        "{}",
        output_text(&out)
    );

    // Deletes are allowed under NOSPACE; then recover-space frees the file.
    c.ctl().ok(&["del", "fill/", "--prefix"]);
    let out = ke(
        &c,
        &["recover-space", "--yes", "--pause", "0s", "-o", "json"],
    );
    let report = ok_json(&out);
    crate::readme::assert_documented("recover-space -o json", &out);
    assert_eq!(
        report["defragmented"].as_array().unwrap().len(),
        3,
        "{report:#}"
    );
    assert!(
        !report["disarmed"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
    let after = report["after"].as_array().unwrap();
    assert_eq!(after.len(), 3, "{report:#}");
    assert!(
        after
            .iter()
            .all(|m| m["alarms"].as_array().unwrap().is_empty()),
        "{report:#}"
    );
    assert_eq!(c.alarm_list().trim(), "", "etcdctl lists no alarm");
    for row in report["before"].as_array().unwrap() {
        assert_eq!(row["quotaSource"], "metrics", "{report:#}");
        assert_eq!(row["quotaAssumed"], false, "{report:#}");
        assert_eq!(row["quotaBytes"], 2 * 1024 * 1024, "{report:#}");
    }
    c.put("after-recovery", "writable");
    assert_eq!(c.get("after-recovery").as_deref(), Some("writable"));
}

/// One member, its db packed to a 4 MiB quota with 100 KiB values until
/// NOSPACE, then five of about 36 values deleted in one transaction (deletes
/// are allowed under NOSPACE): about 14% of the data, so a compaction and a
/// defrag bring it to about 76%.
fn packed_nospace_then_deleted() -> Cluster {
    let quota: u64 = 4 * 1024 * 1024;
    let c = Cluster::start(ClusterOpts {
        quota_backend_bytes: Some(quota),
        ..ClusterOpts::members(1)
    });
    let value = vec![b'x'; 100 * 1024];
    let mut n = 0;
    let mut fill = || loop {
        let out = c
            .ctl()
            .stdin(value.clone())
            .run(&["put", &format!("big/{n:06}")]);
        if !out.status.success() {
            assert!(
                cli::stderr(&out).contains("database space exceeded"),
                "{}",
                output_text(&out)
            );
            return;
        }
        n += 1;
    };
    // Filled, defragmented and filled again: the file is packed, so its
    // space in use is at the quota.
    fill();
    c.ctl().ok(&["defrag"]);
    c.ctl().ok(&["alarm", "disarm"]);
    fill();
    wait_until("the NOSPACE alarm", Duration::from_secs(20), || {
        c.alarm_list().contains("NOSPACE")
    });
    let mut script = String::from("\n");
    for i in 0..5 {
        script.push_str(&format!("del big/{i:06}\n"));
    }
    script.push_str("\n\n");
    c.ctl().stdin(script.into_bytes()).ok(&["txn"]);
    c
}

/// recover-space on [`packed_nospace_then_deleted`] frees the space and
/// disarms, with etcd's space in use still counting the pages a
/// compaction freed (bbolt releases them at a later commit, and NOSPACE
/// allows none): that figure must not stop the run before the defrag,
/// which is what gives the space back.
fn recovers_although_etcd_counts_freed_pages(c: &Cluster) {
    let out = ke(c, &["recover-space", "--yes", "--pause", "0s"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(c.alarm_list().trim(), "", "etcdctl lists no alarm");
    let size = db_sizes(c)[0];
    let quota = 4 * 1024 * 1024;
    assert!(
        size * 100 < quota * 90,
        "{size} of {quota} after the defrag"
    );
    c.put("after-recovery", "writable");
}

/// The compaction recover-space does itself leaves the figure unsettled.
#[test]
fn recover_space_goes_on_when_the_compaction_freed_pages_etcd_still_counts() {
    let c = packed_nospace_then_deleted();
    recovers_although_etcd_counts_freed_pages(&c);
}

/// Compacted already (by `compact`, or kube-apiserver every 5 minutes) and
/// nothing written since: the up-front check must not refuse on that
/// figure either; it says why it goes on.
#[test]
fn recover_space_goes_on_after_a_compaction_it_did_not_do() {
    let c = packed_nospace_then_deleted();
    let out = ke(&c, &["compact", "--yes", "--physical"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let out = ke(&c, &["recover-space", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    // Whether etcd's figure is still unsettled here depends on its version
    // (3.4 counts the freed pages until a later commit, 3.5 may not): it
    // may warn, never refuse.
    let err = stderr(&out);
    assert!(!err.contains("a real run would refuse"), "{err}");
    recovers_although_etcd_counts_freed_pages(&c);
}

#[test]
fn recover_space_interrupted_between_members_exits_130_and_a_rerun_finishes() {
    let c = nospace_cluster();
    c.ctl().ok(&["del", "fill/", "--prefix"]);
    // Ctrl-C in the pause after the first member's defrag.
    let (out, seen, rest) = ctrl_c_in_the_pause(&c, &["recover-space", "--yes", "--pause", "30s"]);
    let text = format!("{seen}{rest}");
    assert_eq!(out.status.code(), Some(130), "{text}");
    assert!(text.contains("1 of 3 members defragmented"), "{text}");
    assert!(
        text.contains("step 2 of 3 (") && text.contains("left: "),
        "which step stopped and what is left: {text}"
    );
    assert!(c.alarm_list().contains("NOSPACE"), "not disarmed yet");

    // The same command again finishes: compacted already, the rest of the
    // members defragmented, the alarm disarmed.
    let out = ke(&c, &["recover-space", "--yes", "--pause", "0s"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(c.alarm_list().trim(), "", "etcdctl lists no alarm");
    c.put("after-recovery", "writable");
}

#[test]
fn snapshots_are_saved_verified_and_read_offline() {
    let mut c = Cluster::single();
    seed(&c, "/registry/pods/default/p", 60, 300);
    seed(&c, "/registry/configmaps/kube-system/c", 25, 100);
    c.ctl().ok(&["del", "/registry/pods/default/p00000"]);
    c.ctl()
        .ok(&["del", "/registry/pods/default/p0001", "--prefix"]); // p00010..p00019
    c.put("/registry/pods/default/p00001", "updated");
    c.put("plain-key", "x");
    let live = live_count(&c);
    assert_eq!(live, 60 - 11 + 25 + 1);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.db");
    let f = file.to_str().unwrap();
    let saved = ok_json(&ke(&c, &["snapshot", "save", f, "-o", "json"]));
    assert_eq!(saved["totalKeys"].as_u64(), Some(live), "{saved:#}");
    assert_eq!(saved["integrity"], "verified");
    assert_eq!(
        saved["etcdVersion"].as_str(),
        Some(support::etcd_version().as_str())
    );
    assert!(!dir.path().join("snap.db.part").exists());
    // An existing file is not overwritten by accident.
    let out = ke(&c, &["snapshot", "save", f]);
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));

    let status = ok_json(&offline(&["snapshot", "status", f, "-o", "json"]));
    assert_eq!(status["totalKeys"].as_u64(), Some(live));
    assert_eq!(status["revision"], saved["revision"]);
    assert_eq!(status["sha256"], saved["sha256"]);
    // The hash is etcd's trailer, checked here without the plugin: sha256
    // (ring) over the file minus its last 32 bytes equals those bytes.
    let bytes = std::fs::read(&file).unwrap();
    let (db, trailer) = bytes.split_at(bytes.len() - 32);
    let sum = ring::digest::digest(&ring::digest::SHA256, db);
    assert_eq!(sum.as_ref(), trailer, "etcd's sha256 trailer");
    let hex: String = trailer.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(saved["sha256"].as_str(), Some(hex.as_str()), "{saved:#}");
    assert_eq!(
        status["size"].as_u64(),
        Some(std::fs::metadata(&file).unwrap().len())
    );
    // etcdctl agrees the file is a sound snapshot.
    let theirs = c.ctl().ok(&["snapshot", "status", f, "-w", "json"]);
    let theirs: Value = serde_json::from_str(&theirs).unwrap();
    assert_eq!(theirs["revision"], status["revision"]);

    let inspect = ok_json(&offline(&["snapshot", "inspect", f, "-o", "json"]));
    assert_eq!(inspect["totalKeys"].as_u64(), Some(live));
    let count = |p: &str| {
        inspect["types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["type"] == p)
            .map(|x| x["keys"].as_u64().unwrap())
    };
    assert_eq!(count("pods"), Some(49));
    assert_eq!(count("configmaps"), Some(25));
    assert_eq!(count("plain-key"), Some(1));
    // As of an older revision: before the deletes, all 60 pods.
    let rev_after_seed = 1 + 60 + 25; // revision 1 is the empty store
    let old = ok_json(&offline(&[
        "snapshot",
        "inspect",
        f,
        "--revision",
        &rev_after_seed.to_string(),
        "-o",
        "json",
    ]));
    assert_eq!(old["totalKeys"].as_u64(), Some(85), "{old:#}");

    // Truncated and foreign files are bad data (exit 5).
    let data = std::fs::read(&file).unwrap();
    let cut = dir.path().join("cut.db");
    std::fs::write(&cut, &data[..data.len() / 2 + 100]).unwrap();
    let out = offline(&["snapshot", "status", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "{}", output_text(&out));
    let flipped = dir.path().join("flipped.db");
    let mut bad = data.clone();
    bad[5000] ^= 0xff;
    std::fs::write(&flipped, &bad).unwrap();
    let out = offline(&["snapshot", "status", flipped.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "{}", output_text(&out));
    assert!(stderr(&out).contains("integrity"), "{}", output_text(&out));
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
    let out = offline(&["snapshot", "status", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "{}", output_text(&out));

    // A member's own db file, read once the member is stopped.
    c.stop(0);
    let db = c.member(0).data_dir().join("member/snap/db");
    let member_db = ok_json(&offline(&[
        "snapshot",
        "inspect",
        path_str(&db),
        "-o",
        "json",
    ]));
    assert_eq!(member_db["totalKeys"].as_u64(), Some(live));
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A handshake that fails on every member is named, with its help, by
/// every maintenance command: not "no member answered" nor "no healthy
/// member", which send an operator looking at a running etcd.
#[test]
fn maintenance_commands_name_the_failed_handshake() {
    let c = Cluster::start(ClusterOpts {
        tls: Some(support::TlsMode::ClientCertAuth),
        ..ClusterOpts::members(1)
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    let file = path_str(&file);
    for args in [
        &["alarm", "list"][..],
        &["snapshot", "save", file][..],
        &["recover-space", "--dry-run"][..],
    ] {
        let out = plugin()
            .args(["--endpoints", &c.endpoints(), "--cacert"])
            .arg(&c.tls().other_ca)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: {}",
            output_text(&out)
        );
        let err = stderr(&out);
        assert!(
            err.contains("not signed by the given CA") && err.contains("help: pass the CA"),
            "{args:?}: {err}"
        );
    }
}

/// A FILE in a directory that does not exist is a usage error said before
/// any member is asked (no stream started and then cut short), for
/// `snapshot save` and for the snapshot `restore` takes.
#[test]
fn snapshot_save_into_a_missing_directory_is_a_usage_error() {
    let c = Cluster::single();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("missing").join("s.db");
    let file = path_str(&file);
    for args in [
        &["snapshot", "save", file][..],
        &["restore", "--save-to", file, "--yes"][..],
    ] {
        let out = ke(&c, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            output_text(&out)
        );
        let err = stderr(&out);
        assert!(err.contains("is not a directory"), "{args:?}: {err}");
        assert!(!err.contains("streaming a snapshot"), "{args:?}: {err}");
    }
}

#[test]
fn maintenance_works_over_tls_with_client_certificates_and_auth() {
    let c = Cluster::start(ClusterOpts {
        tls: Some(support::TlsMode::ClientCertAuth),
        auth: true,
        ..ClusterOpts::members(1)
    });
    let tls = c.tls();
    let user = c.auth().unwrap().user_arg();
    let flags = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--cacert".into(),
            tls.ca.display().to_string(),
            "--cert".into(),
            tls.cert.display().to_string(),
            "--key".into(),
            tls.key.display().to_string(),
            "--user".into(),
            user.clone(),
        ];
        v.extend(args.iter().map(|s| s.to_string()));
        v
    };
    let run = |args: &[&str]| {
        let a = flags(args);
        ke(&c, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    c.put("/registry/pods/default/a", "x");
    let out = run(&["defrag", "--yes", "--pause", "0s", "-o", "json"]);
    assert_eq!(ok_json(&out)["members"].as_array().unwrap().len(), 1);
    let out = run(&["compact", "--yes", "-o", "json"]);
    assert!(ok_json(&out)["revision"].as_i64().unwrap() >= 2);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tls.db");
    let saved = ok_json(&run(&["snapshot", "save", path_str(&file), "-o", "json"]));
    assert_eq!(saved["integrity"], "verified");
    let list = ok_json(&run(&["alarm", "list", "-o", "json"]));
    assert!(list.as_array().unwrap().is_empty());
}

#[test]
fn learners_are_defragmented_first_and_never_block() {
    let mut c = Cluster::single();
    let learner = c.add_learner("learner");
    let plan = ok_json(&ke(&c, &["defrag", "--dry-run", "-o", "json"]));
    let roles: Vec<&str> = plan["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["learner", "leader"], "{plan:#}");
    // Whether this etcd defragments a learner at all (up to at least 3.6 it
    // refuses), asked of etcdctl: the learner is defragmented first if so,
    // else skipped with the reason, and the run goes on either way.
    let learner_defrags = c.ctl().endpoint(learner).run(&["defrag"]).status.success();
    let done = ok_json(&ke(&c, &["defrag", "--yes", "--pause", "0s", "-o", "json"]));
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| m["member"].as_str().unwrap().to_owned())
            .collect()
    };
    let skipped = done["skipped"].as_array().unwrap();
    if learner_defrags {
        assert_eq!(names(&done["members"]), ["learner", "m0"], "{done:#}");
        assert!(skipped.is_empty(), "{done:#}");
    } else {
        assert_eq!(names(&done["members"]), ["m0"], "{done:#}");
        assert_eq!(skipped.len(), 1, "{done:#}");
        assert_eq!(skipped[0]["member"], "learner", "{done:#}");
        assert!(
            skipped[0]["reason"].as_str().unwrap().contains("learner"),
            "{done:#}"
        );
    }

    // A learner that is down is skipped; it does not count for quorum.
    c.kill(learner);
    let done = ok_json(&ke(&c, &["defrag", "--yes", "--pause", "0s", "-o", "json"]));
    assert_eq!(names(&done["members"]), ["m0"], "{done:#}");
}

/// A TCP proxy to `upstream` that cuts every connection once `limit` bytes
/// in all have come back from the server: a stream dropped mid-way.
fn cutting_proxy(upstream: &str, limit: u64) -> String {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::atomic::AtomicU64;
    let upstream = upstream.trim_start_matches("http://").to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let total = Arc::new(AtomicU64::new(0));
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c_read, mut s_write) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n) = c_read.read(&mut buf) {
                    if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            let total = total.clone();
            thread::spawn(move || {
                let (mut s_read, mut c_write) = (server, client);
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n) = s_read.read(&mut buf) {
                    if n == 0 || c_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    if total.fetch_add(n as u64, Ordering::SeqCst) + n as u64 > limit {
                        break;
                    }
                }
                let _ = c_write.shutdown(Shutdown::Both);
                let _ = s_read.shutdown(Shutdown::Both);
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_snapshot_stream_cut_mid_way_leaves_no_file() {
    let c = Cluster::single();
    seed(&c, "/registry/configmaps/default/c", 400, 4096);
    let proxy = cutting_proxy(c.member(0).client_url(), 600 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cut.db");
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-etcd"))
        .args(["--endpoints", &proxy, "snapshot", "save", path_str(&file)])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // A dropped connection is "unreachable": exit 3.
    assert_eq!(cli::code(&out), 3, "{}", output_text(&out));
    let err = stderr(&out);
    assert!(err.contains("no file was written"), "{err}");
    assert!(err.contains("connection to the member dropped"), "{err}");
    assert!(!file.exists(), "no FILE");
    assert!(!dir.path().join("cut.db.part").exists(), "no FILE.part");
}

#[test]
fn recover_space_refuses_before_writing_when_the_live_data_fills_the_quota() {
    let quota: u64 = 1024 * 1024;
    let c = Cluster::start(ClusterOpts {
        quota_backend_bytes: Some(quota),
        ..ClusterOpts::members(1)
    });
    // Keys written once, densely, 100 to a transaction, until NOSPACE: the
    // live data is the db file, and no compaction or defrag can shrink it.
    // Free pages left by the last commits are squeezed out (a defrag and a
    // disarm, as etcdctl allows under NOSPACE) and the filling goes on, until
    // the data itself is at 96% of the quota (the refusal is at 95%,
    // `ops::space::NOSPACE_SAFE_PERCENT`; etcd's packing stops the filling
    // anywhere between 96% and 98%).
    let mut n = 0;
    let mut in_use = 0;
    // Rounds until the data is at 96%: how many depends on how etcd packs
    // pages. Later rounds write smaller values, which fit the room that
    // 1000-byte values leave in pages (etcd 3.5 stopped at 94% with those).
    for round in 0..20 {
        let value = "x".repeat([1000, 1000, 400, 150, 60, 20][round.min(5)]);
        for _ in 0..100 {
            let mut script = String::from("\n");
            for _ in 0..100 {
                script.push_str(&format!("put live/{n:06} {value}\n"));
                n += 1;
            }
            script.push_str("\n\n");
            let out = c.ctl().stdin(script.into_bytes()).run(&["txn"]);
            if !out.status.success() {
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains("database space exceeded"),
                    "{}",
                    output_text(&out)
                );
                break;
            }
        }
        wait_until("the NOSPACE alarm", Duration::from_secs(20), || {
            c.alarm_list().contains("NOSPACE")
        });
        in_use = etcdctl::status_field(&c, 0, "dbSizeInUse");
        if in_use * 100 >= quota * 96 {
            break;
        }
        c.ctl().ok(&["defrag"]);
        c.ctl().ok(&["alarm", "disarm"]);
    }
    assert!(in_use * 100 >= quota * 96, "{in_use} in use of {quota}");
    let size_before = db_sizes(&c);

    let out = ke(&c, &["recover-space", "--yes", "--pause", "0s"]);
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("live data alone fills the quota") && err.contains("nothing was changed"),
        "{}",
        output_text(&out)
    );
    assert!(!err.contains("step 1 of 3"), "{}", output_text(&out));
    // Nothing was compacted, nothing defragmented.
    let compact = ok_json(&ke(&c, &["compact", "--dry-run", "-o", "json"]));
    assert!(compact["previouslyCompacted"].is_null(), "{compact}");
    let size_after = db_sizes(&c);
    assert_eq!(size_after.len(), size_before.len());
    assert!(
        size_after.iter().zip(&size_before).all(|(a, b)| a >= b),
        "nothing was defragmented: {size_before:?} -> {size_after:?}"
    );
    // --dry-run says the same, as a warning.
    let out = ke(&c, &["recover-space", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        stderr(&out).contains("a real run would refuse"),
        "{}",
        output_text(&out)
    );
}

/// A voting member down would stop the defrag after the compaction was
/// written: recover-space refuses before it, naming the member, and
/// compacts nothing.
#[test]
fn recover_space_refuses_before_compacting_when_a_member_is_down() {
    let mut c = nospace_cluster();
    let victim = (c.leader_index() + 1) % 3;
    c.kill(victim);
    let out = ke(&c, &["recover-space", "--yes", "--pause", "0s"]);
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("`m{victim}`")), "{err}");
    assert!(!err.contains("step 1 of 3"), "nothing started: {err}");
    // Not compacted: the first revision is still there for etcdctl.
    let old = c
        .ctl()
        .run(&["get", "", "--prefix", "--rev=2", "--limit=1", "--keys-only"]);
    assert!(old.status.success(), "{}", output_text(&old));
    assert!(c.alarm_list().contains("NOSPACE"));
}
