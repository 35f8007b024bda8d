//! `doctor` against real etcd: a healthy cluster, a dead member, a member
//! whose data diverged, a slow disk, NOSPACE and certificates about to
//! expire. Each test makes one situation and checks doctor names it.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::support::cli::{code, plugin, stderr, stdout};
use crate::support::{output_text, Cluster, ClusterOpts, TlsMode};

fn doctor(c: &Cluster, args: &[&str]) -> Output {
    let mut cmd = plugin();
    cmd.arg("--endpoints").arg(c.endpoints());
    if let Some(tls) = c.tls_files() {
        cmd.arg("--cacert").arg(&tls.ca);
        cmd.arg("--cert").arg(&tls.cert).arg("--key").arg(&tls.key);
    }
    cmd.arg("doctor").args(args).output().unwrap()
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor -o json: {e}\n{}", output_text(out)))
}

fn findings<'a>(r: &'a Value, check: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

fn one<'a>(r: &'a Value, check: &str, member: &str) -> &'a Value {
    findings(r, check)
        .into_iter()
        .find(|f| f["member"] == member)
        .unwrap_or_else(|| panic!("no `{check}` finding for {member}: {r:#}"))
}

/// `123µs`, `4.5ms`, `1.20s` as doctor prints durations.
fn seconds(s: &str) -> f64 {
    let s = s.trim_start_matches("p99 ");
    if let Some(v) = s.strip_suffix("µs") {
        v.parse::<f64>().unwrap() / 1e6
    } else if let Some(v) = s.strip_suffix("ms") {
        v.parse::<f64>().unwrap() / 1e3
    } else {
        s.strip_suffix('s').unwrap().parse().unwrap()
    }
}

#[test]
fn doctor_on_a_healthy_three_member_cluster_finds_no_fail_and_keeps_its_json_shape() {
    let c = Cluster::start(ClusterOpts::members(3));
    c.put("a", "1");
    let out = doctor(&c, &["--window", "2s", "--write-probe", "-o", "json"]);
    let r = report(&out);
    // Disk latency on a shared machine may honestly warn: only fail is ruled out.
    assert_ne!(r["worst"], "fail", "{r:#}");
    assert_eq!(code(&out), if r["worst"] == "ok" { 0 } else { 1 });
    assert_eq!(r["window"], "2s");
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["window", "worst", "findings"]);
    for f in r["findings"].as_array().unwrap() {
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "check",
                "member",
                "severity",
                "value",
                "threshold",
                "detail",
                "next"
            ]
        );
    }
    for m in ["m0", "m1", "m2"] {
        for check in ["health", "quota", "fragmentation"] {
            assert_eq!(one(&r, check, m)["severity"], "ok", "{check} {m}: {r:#}");
        }
        // The probes time real requests against a fixed threshold: on a
        // loaded machine one may honestly be over it (a put took 103ms
        // once). Then it warns, naming a time over the threshold; never fail.
        for check in ["read-linearizable", "write"] {
            let f = one(&r, check, m);
            if f["severity"] != "ok" {
                assert_eq!(f["severity"], "warn", "{check} {m}: {r:#}");
                let took = f["value"].as_str().unwrap();
                let limit = f["threshold"].as_str().unwrap().trim_start_matches("< ");
                let limit = limit.split(' ').next().unwrap();
                assert!(
                    seconds(took) >= seconds(limit),
                    "{check} {m} warns under its threshold: {f}"
                );
            }
        }
        // Every member's metrics were read twice.
        assert!(!findings(&r, "wal-fsync").is_empty());
        one(&r, "wal-fsync", m);
    }
    for check in ["agreement", "consistency", "alarms", "version", "history"] {
        assert_eq!(
            one(&r, check, "cluster")["severity"],
            "ok",
            "{check}: {r:#}"
        );
    }
    assert!(one(&r, "consistency", "cluster")["detail"]
        .as_str()
        .unwrap()
        .contains("3 voting members"));
    let types = one(&r, "key-types", "cluster");
    assert!(
        types["value"]
            .as_str()
            .unwrap()
            .ends_with("events, 0 leases"),
        "{types}"
    );
    // The write probe cleaned up after itself.
    assert_eq!(c.get("/kubectl-etcd/doctor/write-probe"), None);

    // The table ends with a summary; --check runs a subset.
    let out = doctor(&c, &["--check", "health", "--check", "agreement"]);
    assert_eq!(code(&out), 0, "{}", output_text(&out));
    let text = stdout(&out);
    assert!(text.starts_with("CHECK"), "{text}");
    assert!(!text.contains("wal-fsync"), "{text}");
    assert!(
        stderr(&out).contains(" fail (window 10s)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn doctor_fails_a_killed_member_and_still_checks_the_others() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    c.put("a", "1");
    c.kill(2);
    let out = doctor(&c, &["--window", "1s", "-o", "json"]);
    assert_eq!(code(&out), 1, "{}", output_text(&out));
    let r = report(&out);
    assert_eq!(r["worst"], "fail");
    let dead = one(&r, "reachable", "m2");
    assert_eq!(dead["severity"], "fail");
    assert!(
        dead["detail"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{dead}"
    );
    let fails: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "fail")
        .collect();
    assert!(!fails.is_empty(), "the killed member fails: {r:#}");
    assert!(fails.iter().all(|f| f["member"] == "m2"), "{fails:#?}");
    for m in ["m0", "m1"] {
        assert_eq!(one(&r, "health", m)["severity"], "ok");
        one(&r, "wal-fsync", m);
    }
    // The agreement of those that answered, not of "2 members" as if the
    // cluster had two.
    let agreement = one(&r, "agreement", "cluster");
    assert!(
        agreement["value"]
            .as_str()
            .unwrap()
            .starts_with("2 of 3 members"),
        "{agreement}"
    );
    assert!(one(&r, "consistency", "cluster")["detail"]
        .as_str()
        .unwrap()
        .contains("2 voting members"));

    // Nothing reachable at all: exit 3.
    c.kill(0);
    c.kill(1);
    let out = doctor(&c, &["--window", "1s"]);
    assert_eq!(code(&out), 3, "{}", output_text(&out));
    assert!(
        stderr(&out).contains("none of the 3 members"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn doctor_names_the_member_whose_data_diverged() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    for i in 0..20 {
        c.put(&format!("k{i}"), "v");
    }
    // Another cluster's data, in a snapshot.
    let other = Cluster::single();
    for i in 0..5 {
        other.put(&format!("other{i}"), "x");
    }
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("other.db");
    other
        .ctl()
        .ok(&["snapshot", "save", snap.to_str().unwrap()]);

    // m1 restored from it with its own name, peer URL and the cluster's
    // token, so its ids match and the others take it back.
    for i in 0..3 {
        c.stop(i);
    }
    let restored = work.path().join("m1");
    let m = c.member(1);
    let run = Command::new(c.etcdctl_path())
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "restore", snap.to_str().unwrap()])
        .args(["--name", m.name()])
        .args(["--initial-cluster", &c.initial_cluster_flag()])
        .args(["--initial-cluster-token", c.token()])
        .args(["--initial-advertise-peer-urls", m.peer_url()])
        .arg("--data-dir")
        .arg(&restored)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", output_text(&run));
    c.set_data_dir(1, Path::new(&restored));
    for i in 0..3 {
        c.restart_no_wait(i);
    }
    c.wait_healthy();

    let out = doctor(&c, &["--check", "consistency", "-o", "json"]);
    assert_eq!(code(&out), 1, "{}", output_text(&out));
    let r = report(&out);
    let fails: Vec<&Value> = findings(&r, "consistency")
        .into_iter()
        .filter(|f| f["severity"] == "fail")
        .collect();
    assert_eq!(fails.len(), 1, "{r:#}");
    assert_eq!(fails[0]["member"], "m1");
    assert!(fails[0]["next"]
        .as_str()
        .unwrap()
        .contains("kubectl etcd resize replace m1"));
}

#[test]
fn doctor_flags_the_member_with_a_slow_wal_fsync() {
    // m1's fdatasync calls each wait 100ms; a writer keeps WALs busy.
    assert!(
        Command::new("strace").arg("-V").output().is_ok(),
        "this test needs strace: run scripts/prereqs.sh (apt-get install strace)"
    );
    let strace = ["strace", "-f", "--seccomp-bpf", "-o", "/dev/null"]
        .into_iter()
        .chain(["-e", "trace=fdatasync"])
        .chain(["-e", "inject=fdatasync:delay_enter=100ms", "--"])
        .map(String::from)
        .collect();
    let c = Cluster::start(ClusterOpts {
        members: 3,
        heartbeat_ms: 100,
        election_ms: 2000,
        startup_timeout: Duration::from_secs(60),
        command_prefix: Some((1, strace)),
        ..Default::default()
    });
    let stop = AtomicBool::new(false);
    let out = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let (mut i, mut acked) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                // Load, not a check: a put timing out on the slowed member
                // is counted out, not fatal.
                let put = c.ctl().run(&["put", &format!("w{}", i % 50), "v"]);
                acked += usize::from(put.status.success());
                i += 1;
            }
            acked
        });
        let out = doctor(
            &c,
            &[
                "--window",
                "6s",
                "--check",
                "latency",
                "--check",
                "consistency",
                "-o",
                "json",
            ],
        );
        stop.store(true, Ordering::Relaxed);
        (out, writer.join().unwrap())
    });
    let (out, acked) = out;
    assert!(acked > 0, "the writer wrote during the window");
    // A warn finding (the slow member) makes the exit code 1.
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let r = report(&out);
    // Hashes at one common revision agree while writes go on.
    assert_eq!(one(&r, "consistency", "cluster")["severity"], "ok", "{r:#}");
    let slow = one(&r, "wal-fsync", "m1");
    assert_eq!(slow["severity"], "warn", "{r:#}");
    let p99 = seconds(slow["value"].as_str().unwrap());
    assert!(p99 >= 0.1, "{slow}");
    // Compare members: the shared disk may itself be slow, but not as slow
    // as 100ms on every fsync. (etcd's fsync buckets double, so "half of
    // m1's" is one bucket away: a loaded disk reached it.)
    for m in ["m0", "m2"] {
        let f = one(&r, "wal-fsync", m);
        let v = f["value"].as_str().unwrap();
        if v.starts_with("p99") {
            assert!(seconds(v) < p99, "{m} {v} against m1 {p99}: {r:#}");
        }
    }
}

#[test]
fn doctor_fails_nospace_with_recover_space_next_and_the_real_quota() {
    let quota = 2 * 1024 * 1024;
    let c = Cluster::start(ClusterOpts {
        quota_backend_bytes: Some(quota),
        ..Default::default()
    });
    c.fill_until_nospace();
    let out = doctor(
        &c,
        &[
            "--window", "1s", "--check", "space", "--check", "health", "-o", "json",
        ],
    );
    assert_eq!(code(&out), 1, "{}", output_text(&out));
    let r = report(&out);
    let q = one(&r, "quota", "m0");
    assert_eq!(q["severity"], "fail", "{q}");
    assert_eq!(q["next"], "kubectl etcd recover-space");
    // etcd 3.4 does not report its quota in Status: the metrics do.
    let v = q["value"].as_str().unwrap();
    assert!(
        v.contains("of 2.0 MiB (metrics)") || v.contains("(status)"),
        "{v}"
    );
    let alarm = findings(&r, "alarms");
    assert!(
        alarm
            .iter()
            .any(|a| a["value"] == "NOSPACE" && a["next"] == "kubectl etcd recover-space"),
        "{r:#}"
    );
}

#[test]
fn doctor_names_the_date_server_certificates_expire() {
    let c = Cluster::start(ClusterOpts {
        members: 3,
        tls: Some(TlsMode::ClientCertAuth),
        server_cert_days: Some(5),
        ..Default::default()
    });
    let out = doctor(&c, &["--check", "certificates", "-o", "json"]);
    assert_eq!(code(&out), 1, "{}", output_text(&out));
    let r = report(&out);
    let in_5 = time::OffsetDateTime::now_utc() + time::Duration::days(5);
    let dates: Vec<String> = [in_5, in_5 - time::Duration::minutes(5)]
        .iter()
        .map(|d| {
            let d = d.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        })
        .collect();
    for m in ["m0", "m1", "m2"] {
        let f = one(&r, "server-cert", m);
        // Under 7 days is `fail` by the documented thresholds (under 30 warns).
        assert_eq!(f["severity"], "fail", "{f}");
        let detail = f["detail"].as_str().unwrap();
        assert!(
            dates.iter().any(|d| detail.contains(d.as_str())),
            "{detail} {dates:?}"
        );
        assert!(detail.contains("covers `127.0.0.1`"), "{detail}");
    }
    // The client certificate and CA are rcgen's defaults, far from expiry.
    assert_eq!(one(&r, "client-cert", "cluster")["severity"], "ok", "{r:#}");
    assert_eq!(one(&r, "ca-cert", "cluster")["severity"], "ok");
}

#[test]
fn doctor_in_kubernetes_mode_reads_metrics_through_the_pods_metrics_port_and_reports_restarts() {
    use crate::kube::{host_port, Certs, Env};
    use serde_json::json;
    let c = Cluster::start(ClusterOpts {
        members: 3,
        tls: Some(TlsMode::ClientCertAuth),
        metrics_urls: true,
        quota_backend_bytes: Some(64 * 1024 * 1024),
        ..Default::default()
    });
    let env = Env::with_cluster(&c, Certs::SecretVolume);
    // kubeadm's metrics URL on each pod, reached by a port-forward to 2381;
    // etcd-m1 was OOM-killed three times.
    env.double.with(|s| {
        for (i, pod) in s.pods.iter_mut().enumerate() {
            let cmd = pod["spec"]["containers"][0]["command"]
                .as_array_mut()
                .unwrap();
            cmd.push(json!("--listen-metrics-urls=http://127.0.0.1:2381"));
            cmd.push(json!("--quota-backend-bytes=67108864"));
            cmd.push(json!("--peer-cert-file=/etc/etcd/tls/server.crt"));
            cmd.push(json!(
                "--initial-advertise-peer-urls=https://127.0.0.1:2380"
            ));
            let (restarts, last) = if i == 1 {
                (
                    3,
                    json!({"terminated": {"reason": "OOMKilled", "exitCode": 137}}),
                )
            } else {
                (0, json!({}))
            };
            pod["status"]["containerStatuses"] = json!([{
                "name": "etcd",
                "image": "registry.k8s.io/etcd:3.5.16-0",
                "imageID": "",
                "ready": true,
                "restartCount": restarts,
                "lastState": last,
                "state": {"running": {}},
            }]);
        }
    });
    for i in 0..3 {
        let metrics = host_port(c.member(i).metrics_url().unwrap());
        env.double
            .forward("kube-system", &format!("etcd-m{i}"), 2381, &metrics);
    }
    let out = env.run(&["doctor", "--window", "2s", "-o", "json"]);
    let r = report(&out);
    assert_ne!(r["worst"], "fail", "{r:#}");
    assert_eq!(code(&out), if r["worst"] == "ok" { 0 } else { 1 });
    for i in 0..3 {
        let m = format!("m{i}");
        assert_eq!(
            one(&r, "metrics", &m)["value"],
            format!("pod/etcd-m{i}:2381/metrics"),
            "{r:#}"
        );
        assert_eq!(one(&r, "health", &m)["severity"], "ok");
        assert_eq!(one(&r, "server-cert", &m)["severity"], "ok", "{r:#}");
        assert!(one(&r, "quota", &m)["value"]
            .as_str()
            .unwrap()
            .contains("of 64.0 MiB (metrics)"));
        let restarts = one(&r, "pod-restarts", &m);
        if i == 1 {
            assert_eq!(restarts["severity"], "warn", "{restarts}");
            assert!(restarts["detail"].as_str().unwrap().contains("OOMKilled"));
            assert_eq!(
                restarts["next"],
                "kubectl logs -n kube-system etcd-m1 --previous --tail 50"
            );
        } else {
            assert_eq!(restarts["severity"], "ok", "{restarts}");
        }
        one(&r, "pod-flags", &m);
        // The peer certificate, read where the client certificates are.
        let peer = one(&r, "peer-cert", &m);
        assert_eq!(peer["severity"], "ok", "{peer}");
        assert!(peer["detail"]
            .as_str()
            .unwrap()
            .contains("covers `127.0.0.1`"));
    }
    assert_eq!(one(&r, "consistency", "cluster")["severity"], "ok");
}

#[test]
fn doctor_on_one_member_counts_it_in_the_singular() {
    let c = Cluster::single();
    c.put("k", "v");
    let out = doctor(
        &c,
        &[
            "--window",
            "1s",
            "--check",
            "agreement",
            "--check",
            "consistency",
            "-o",
            "json",
        ],
    );
    let r = report(&out);
    let value = one(&r, "agreement", "cluster")["value"].clone();
    assert!(
        value.as_str().is_some_and(|v| v.starts_with("1 member, ")),
        "{r:#}"
    );
    let detail = one(&r, "consistency", "cluster")["detail"].clone();
    assert!(
        detail
            .as_str()
            .is_some_and(|d| d.starts_with("1 voting member hashes the same at revision ")),
        "{r:#}"
    );
}
