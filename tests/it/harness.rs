//! Tests of the real-etcd harness in `tests/it/support/` itself, against real
//! etcd processes (`ETCD_BIN` selects the build).

use crate::support;

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use support::{output_text, process_gone, Cluster, ClusterOpts, TlsMode};

fn pids_and_dirs(c: &Cluster) -> Vec<(u32, PathBuf)> {
    c.members()
        .iter()
        .map(|m| (m.pid().expect("running"), m.data_dir().to_path_buf()))
        .collect()
}

fn assert_all_gone(procs: &[(u32, PathBuf)]) {
    for (pid, dir) in procs {
        assert!(
            process_gone(*pid, dir),
            "etcd pid {pid} still alive or zombie"
        );
    }
}

#[test]
fn single_member_put_get() {
    let c = Cluster::single();
    let m = c.member(0);
    assert!(m.client_url().starts_with("http://127.0.0.1:"));
    assert!(m.peer_url().starts_with("http://127.0.0.1:"));
    assert_eq!(c.endpoints(), m.client_url());
    assert_eq!(m.name(), "m0");
    assert!(
        m.data_dir().join("member").is_dir(),
        "etcd wrote its data dir"
    );

    c.put("/registry/k", "v1");
    assert_eq!(c.get("/registry/k").as_deref(), Some("v1"));
    assert_eq!(c.get("/registry/missing"), None);
    c.put("empty", "");
    assert_eq!(c.get("empty").as_deref(), Some(""));

    let out = c.etcdctl(&["get", "/registry/k", "--print-value-only"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "v1");
    assert!(!c.log_tail(0, 5).is_empty(), "log captured");

    let status = c.ctl().ok(&["endpoint", "status", "-w", "json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let running = status[0]["Status"]["version"].as_str().unwrap().to_owned();
    assert_eq!(running, support::etcd_version(), "ETCD_BIN is what runs");
    eprintln!("etcd {running}");

    let procs = pids_and_dirs(&c);
    drop(c);
    assert_all_gone(&procs);
}

#[test]
fn three_members_healthy_with_one_leader() {
    let c = Cluster::start(ClusterOpts::members(3));
    assert_eq!(c.endpoints().split(',').count(), 3);
    let leader = c.leader_index();
    let ids: Vec<u64> = (0..3).map(|i| c.member_id(i)).collect();
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    // Every member names the same leader, and it is the one the harness
    // picked (the leader may change meanwhile: then all agree on the new one).
    let views: Vec<(u64, u64)> = (0..3).map(|i| leader_and_term(&c, i)).collect();
    if views.iter().all(|v| v.1 == views[0].1) {
        assert!(views.iter().all(|v| v.0 == views[0].0), "{views:?}");
        assert!(
            ids.contains(&views[0].0),
            "leader {:x} is a member",
            views[0].0
        );
        if views[0].1 == leader_and_term(&c, leader).1 {
            assert_eq!(views[0].0, ids[leader], "leader_index names the leader");
        }
    }

    let list = c.ctl().ok(&["member", "list"]);
    assert_eq!(list.lines().filter(|l| l.contains("started")).count(), 3);

    // A write through one member is readable from every other member.
    c.ctl().endpoint((leader + 1) % 3).ok(&["put", "k", "v"]);
    for i in 0..3 {
        assert_eq!(c.get_from(i, "k").as_deref(), Some("v"));
    }

    let procs = pids_and_dirs(&c);
    drop(c);
    assert_all_gone(&procs);
}

#[test]
fn tls_cluster_requires_client_cert() {
    let c = Cluster::start(ClusterOpts {
        members: 3,
        tls: Some(TlsMode::Full),
        ..Default::default()
    });
    let tls = c.tls();
    assert!(c.endpoints().split(',').all(|e| e.starts_with("https://")));
    assert!(c.member(0).peer_url().starts_with("https://"));
    for p in [&tls.ca, &tls.cert, &tls.key, &tls.other_ca] {
        assert!(p.is_file(), "{}", p.display());
    }

    c.put("secure", "yes");
    assert_eq!(c.get("secure").as_deref(), Some("yes"));

    let get = ["get", "secure", "--command-timeout=2s"];
    let no_cert = c.ctl().without_client_cert().run(&get);
    assert!(!no_cert.status.success(), "{}", output_text(&no_cert));

    let plain = c.ctl().without_tls().run(&get);
    assert!(!plain.status.success(), "{}", output_text(&plain));

    let wrong_ca = c
        .ctl()
        .without_tls()
        .flag(format!("--cacert={}", tls.other_ca.display()))
        .flag(format!("--cert={}", tls.cert.display()))
        .flag(format!("--key={}", tls.key.display()))
        .run(&get);
    assert!(!wrong_ca.status.success(), "{}", output_text(&wrong_ca));

    let foreign_cert = c
        .ctl()
        .without_client_cert()
        .flag(format!("--cert={}", tls.other_cert.display()))
        .flag(format!("--key={}", tls.other_key.display()))
        .run(&get);
    assert!(
        !foreign_cert.status.success(),
        "{}",
        output_text(&foreign_cert)
    );
}

#[test]
fn quorum_loss_and_restart() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    c.put("before", "1");

    // Losing the leader exercises a re-election, not just a follower loss.
    let first = c.leader_index();
    let first_id = c.member_id(first);
    let (_, term_before) = leader_and_term(&c, first);
    let first_pid = c.member(first).pid().unwrap();
    let first_dir = c.member(first).data_dir().to_path_buf();
    c.kill(first);
    assert!(c.member(first).pid().is_none());
    assert!(process_gone(first_pid, &first_dir));
    c.wait_healthy();
    let new_leader = c.leader_index();
    // Asked of the survivors: a leader other than the killed one, elected in
    // a later term.
    let (leader_id, term_after) = leader_and_term(&c, new_leader);
    assert_ne!(leader_id, first_id, "the killed member is not the leader");
    assert_eq!(leader_id, c.member_id(new_leader));
    assert!(
        term_after > term_before,
        "re-elected: term {term_before} -> {term_after}"
    );
    c.put("one-down", "2");

    let second = (0..3).find(|&i| i != first && i != new_leader).unwrap();
    c.stop(second);
    let out = c.etcdctl(&["put", "no-quorum", "x", "--command-timeout=2s"]);
    assert!(
        !out.status.success(),
        "put without quorum: {}",
        output_text(&out)
    );

    // One member back restores quorum; it catches up on what it missed.
    c.restart(second);
    assert_eq!(c.get_from(second, "one-down").as_deref(), Some("2"));
    c.restart(first);
    assert_eq!(c.get_from(first, "one-down").as_deref(), Some("2"));
    assert_eq!(c.get_from(first, "before").as_deref(), Some("1"));
    assert!(c.member(first).pid().is_some());
    c.leader_index();
}

#[test]
fn auth_requires_password() {
    let c = Cluster::start(ClusterOpts {
        auth: true,
        ..Default::default()
    });
    let creds = c.auth().expect("auth enabled").clone();
    assert_eq!(creds.user, "root");

    c.put("guarded", "v");
    assert_eq!(c.get("guarded").as_deref(), Some("v"));

    let anon = c.ctl().without_auth().run(&["get", "guarded"]);
    assert!(!anon.status.success(), "{}", output_text(&anon));

    let wrong = c
        .ctl()
        .without_auth()
        .flag("--user=root:not-the-password")
        .run(&["get", "guarded"]);
    assert!(!wrong.status.success(), "{}", output_text(&wrong));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("authentication failed"),
        "{}",
        output_text(&wrong)
    );
}

#[test]
fn auth_over_client_cert_tls() {
    let c = Cluster::start(ClusterOpts {
        tls: Some(TlsMode::ClientCertAuth),
        auth: true,
        ..Default::default()
    });
    assert!(c.member(0).peer_url().starts_with("http://"));
    c.put("k", "v");
    // The client certificate's CN is no etcd user: it must not stand in for
    // the password.
    let cert_only = c.ctl().without_auth().run(&["get", "k"]);
    assert!(!cert_only.status.success(), "{}", output_text(&cert_only));
}

#[test]
fn quota_fill_raises_nospace_alarm() {
    let c = Cluster::start(ClusterOpts {
        quota_backend_bytes: Some(1024 * 1024),
        ..Default::default()
    });
    let accepted = c.fill_until_nospace();
    assert!(accepted > 0);

    // The alarm goes through raft after the refused write.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alarms = c.alarm_list();
        if alarms.contains("NOSPACE") {
            break;
        }
        assert!(Instant::now() < deadline, "no NOSPACE alarm: {alarms:?}");
        thread::sleep(Duration::from_millis(100));
    }
    let out = c.etcdctl(&["put", "more", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database space exceeded"));
}

#[test]
fn drop_during_panic_kills_every_member() {
    let seen: Mutex<Vec<(u32, PathBuf)>> = Mutex::new(Vec::new());
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let c = Cluster::start(ClusterOpts::members(3));
        *seen.lock().unwrap() = pids_and_dirs(&c);
        panic!("simulated test failure");
    }));
    assert!(result.is_err());
    let procs = seen.into_inner().unwrap();
    assert_eq!(procs.len(), 3);
    assert_all_gone(&procs);
}

#[test]
fn failed_start_panics_fast_with_member_logs() {
    let started = Instant::now();
    let err = panic::catch_unwind(|| {
        Cluster::start(ClusterOpts {
            extra_args: vec!["--no-such-flag".into()],
            ..Default::default()
        })
    })
    .err()
    .expect("start must fail");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("exited"), "{msg}");
    assert!(msg.contains("no-such-flag"), "log tail in message: {msg}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// (leader id, raft term) as member `i` reports them.
fn leader_and_term(c: &Cluster, i: usize) -> (u64, u64) {
    let out = c
        .ctl()
        .endpoint(i)
        .ok(&["endpoint", "status", "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("endpoint status json");
    let h = &v[0]["Status"];
    (
        h["leader"].as_u64().expect("leader"),
        h["raftTerm"].as_u64().expect("raftTerm"),
    )
}
