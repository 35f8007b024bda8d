//! The foundation commands (status, members, health, size,
//! version) against real etcd clusters started by the harness.

use crate::support;

use std::process::Output;

use serde_json::Value;
use support::cli::{code, plugin, stderr, stdout};
use support::{Cluster, ClusterOpts, TlsMode};

fn run(args: &[&str]) -> Output {
    plugin().args(args).output().expect("run kubectl-etcd")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(o),
            stderr(o)
        )
    })
}

/// Args for TLS clusters: endpoints plus the client certificate.
fn tls_args(c: &Cluster) -> Vec<String> {
    let t = c.tls();
    vec![
        "--endpoints".into(),
        c.endpoints(),
        "--cacert".into(),
        t.ca.display().to_string(),
        "--cert".into(),
        t.cert.display().to_string(),
        "--key".into(),
        t.key.display().to_string(),
    ]
}

fn run_owned(args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

/// `etcdctl endpoint status -w json`, by endpoint.
fn etcdctl_status(c: &Cluster) -> std::collections::HashMap<String, Value> {
    let o = c.etcdctl(&["endpoint", "status", "-w", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["Endpoint"].as_str().unwrap().to_string(),
                e["Status"].clone(),
            )
        })
        .collect()
}

#[test]
fn status_json_reports_what_etcdctl_reports_on_three_members() {
    let c = Cluster::start(ClusterOpts::members(3));
    for i in 0..20 {
        c.put(&format!("/registry/configmaps/default/cm{i}"), "x");
    }
    // Ours is read between two etcdctl reads: the database and the raft log
    // may move a little on their own (etcd 3.4 sends even an alarm list
    // through raft), so each of our numbers must lie between theirs.
    let before = etcdctl_status(&c);
    let ours = run(&["--endpoints", &c.endpoints(), "status", "-o", "json"]);
    assert_eq!(code(&ours), 0, "{}", stderr(&ours));
    let after = etcdctl_status(&c);
    let ours = json(&ours);
    let rows = ours["members"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let mut leaders = 0;
    for row in rows {
        let ep = row["endpoint"].as_str().unwrap();
        let (b, a) = (&before[ep], &after[ep]);
        for (ours_field, theirs_field) in [
            ("dbSize", "/dbSize"),
            ("raftIndex", "/raftIndex"),
            ("raftTerm", "/raftTerm"),
            ("revision", "/header/revision"),
        ] {
            let v = row[ours_field].as_u64().unwrap();
            let lo = b.pointer(theirs_field).unwrap().as_u64().unwrap();
            let hi = a.pointer(theirs_field).unwrap().as_u64().unwrap();
            assert!(lo <= v && v <= hi, "{ep} {ours_field}: {lo} <= {v} <= {hi}");
        }
        assert_eq!(
            row["id"].as_str().unwrap(),
            format!("{:016x}", b["header"]["member_id"].as_u64().unwrap())
        );
        assert_eq!(
            row["leaderId"].as_str().unwrap(),
            format!("{:016x}", b["leader"].as_u64().unwrap()),
            "{ep} leader"
        );
        assert_eq!(row["version"], b["version"]);
        assert_eq!(row["error"], Value::Null);
        // etcd 3.4/3.5 report no quota in Status; their metrics do.
        assert_eq!(row["quotaAssumed"], Value::Bool(false), "{row}");
        assert_eq!(row["quotaBytes"].as_u64(), Some(2 * 1024 * 1024 * 1024));
        let frag = row["fragmentationPercent"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&frag));
        if row["isLeader"] == Value::Bool(true) {
            leaders += 1;
        }
    }
    assert_eq!(leaders, 1, "exactly one leader");
}

#[test]
fn status_table_shows_every_member_with_caps_headers() {
    let c = Cluster::start(ClusterOpts::members(3));
    let o = run(&["--endpoints", &c.endpoints(), "status"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("ENDPOINT"), "{out}");
    assert!(lines[0].contains("DB SIZE") && lines[0].contains("ROLE"));
    assert_eq!(lines.len(), 4, "header + 3 members:\n{out}");
    for m in c.members() {
        assert!(out.contains(m.client_url()), "{out}");
        assert!(out.contains(m.name()), "{out}");
    }
    assert_eq!(
        out.lines()
            .skip(1)
            .filter(|l| l.split_whitespace().any(|w| w == "leader"))
            .count(),
        1,
        "one leader row: {out}"
    );
}

#[test]
fn killed_member_is_an_error_row_and_the_others_still_print() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    let dead = c.member(2).client_url().to_string();
    c.kill(2);
    let o = run(&[
        "--endpoints",
        &c.endpoints(),
        "--dial-timeout",
        "1s",
        "status",
        "-o",
        "json",
    ]);
    assert_eq!(code(&o), 1, "partial failure exits 1: {}", stderr(&o));
    let v = json(&o);
    let rows = v["members"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        if row["endpoint"] == dead.as_str() {
            assert!(row["error"]
                .as_str()
                .unwrap()
                .contains("connection refused"));
            assert_eq!(row["dbSize"], Value::Null);
        } else {
            assert_eq!(row["error"], Value::Null);
            assert!(row["dbSize"].as_u64().unwrap() > 0);
        }
    }
    let err = stderr(&o);
    assert!(
        err.contains(&format!("member `{dead}`: connection refused")),
        "{err}"
    );
    assert!(err.contains("help:"), "{err}");
}

#[test]
fn all_members_unreachable_exits_3() {
    let o = run(&[
        "--endpoints",
        "http://127.0.0.1:1",
        "--dial-timeout",
        "1s",
        "status",
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("connection refused"));
    // health, status and count agree: nothing reachable is exit 3, not 1.
    for cmd in ["health", "count", "members", "size"] {
        let o = run(&[
            "--endpoints",
            "http://127.0.0.1:1,http://127.0.0.1:2",
            "--dial-timeout",
            "1s",
            cmd,
        ]);
        assert_eq!(code(&o), 3, "{cmd}: {}", stderr(&o));
    }
}

#[test]
fn lost_quorum_makes_health_fail_with_the_reason() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    let alive = c.member(0).client_url().to_string();
    c.kill(1);
    c.kill(2);
    let o = run(&[
        "--endpoints",
        &alive,
        "--command-timeout",
        "2s",
        "health",
        "-o",
        "json",
    ]);
    // README: quorum lost is exit 3; the row still says why.
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let v = json(&o);
    let ep = &v["endpoints"][0];
    assert_eq!(ep["health"], Value::Bool(false));
    let why = ep["error"].as_str().unwrap();
    assert!(
        why.contains("quorum") || why.contains("no answer"),
        "the reason names the lost quorum or the timeout: {why}"
    );
    // status still answers from the lone member and says there is no leader
    // once the member has noticed (an election timeout after the kill).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let o = run(&["--endpoints", &alive, "status"]);
        if stderr(&o).contains("no member reports a leader") {
            // Its row is shown, and the exit code is README's for a lost
            // quorum (3), not 0.
            assert_eq!(code(&o), 3, "{}", stderr(&o));
            assert!(stdout(&o).contains(&alive), "{}", stdout(&o));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "status never said the quorum is lost: {}",
            stderr(&o)
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    // members: not one member answers a health read, as health says (3).
    let o = run(&["--endpoints", &alive, "--command-timeout", "2s", "members"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
}

/// etcd answers the alarm list through raft: without a quorum it cannot,
/// and that is no "no active alarms" (exit 0) nor an `alarms: ok` finding.
#[test]
fn lost_quorum_leaves_the_alarms_unknown_not_empty() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    let alive = c.member(0).client_url().to_string();
    c.kill(1);
    c.kill(2);
    let base = ["--endpoints", alive.as_str(), "--command-timeout", "1s"];
    for args in [&["alarm", "list"][..], &["alarm", "disarm", "--yes"][..]] {
        let o = run(&[&base[..], args].concat());
        assert_eq!(code(&o), 3, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("cannot read the alarm list"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("no active alarms"), "{args:?}: {err}");
        assert!(!err.contains("nothing to disarm"), "{args:?}: {err}");
    }
    let o = run(&[&base[..], &["doctor", "--check", "health", "-o", "json"]].concat());
    let v = json(&o);
    let alarms: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "alarms")
        .collect();
    assert_eq!(alarms.len(), 1, "{v:#}");
    assert_eq!(alarms[0]["severity"], "warn", "{v:#}");
    assert_eq!(alarms[0]["value"], "unknown", "{v:#}");
}

/// An endpoint of another cluster among --endpoints (a copy-paste from the
/// wrong environment, an address reused) is said as such, not shown as a
/// lagging follower, and it makes no member of the real cluster lag.
#[test]
fn status_names_an_endpoint_of_another_cluster() {
    let c = Cluster::start(ClusterOpts::members(3));
    let other = Cluster::single();
    // The other cluster ahead in term and index, so it would make the
    // real members look behind if it were counted as one of them.
    for i in 0..30 {
        other.put(&format!("k{i}"), "v");
    }
    let endpoints = format!("{},{}", c.endpoints(), other.endpoints());
    let o = run(&["--endpoints", &endpoints, "status", "-o", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("answered for another cluster"),
        "{}",
        stderr(&o)
    );
    let v = json(&o);
    let rows = v["members"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for r in &rows[..3] {
        assert_eq!(r["lagging"], false, "{r:#}");
        assert_eq!(r["errors"].as_array().unwrap().len(), 0, "{r:#}");
    }
    let foreign = &rows[3];
    assert_eq!(foreign["lagging"], false, "{foreign:#}");
    assert!(
        foreign["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("another cluster's member"),
        "{foreign:#}"
    );
}

#[test]
fn health_is_ok_on_a_healthy_cluster_and_reports_took() {
    let c = Cluster::start(ClusterOpts::members(3));
    let o = run(&["--endpoints", &c.endpoints(), "health", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    let eps = v["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 3);
    for e in eps {
        assert_eq!(e["health"], Value::Bool(true));
        // A real round trip over loopback: more than nothing, far less than
        // the command timeout.
        let took = e["tookSeconds"].as_f64().unwrap();
        assert!(took > 0.0 && took < 5.0, "tookSeconds {took}");
        assert_eq!(e["error"], Value::Null);
    }
    let o = run(&["--endpoints", &c.endpoints(), "health"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(words.iter().filter(|w| **w == "healthy").count(), 3);
    assert!(!words.contains(&"unhealthy"), "{text}");
}

#[test]
fn nospace_alarm_makes_health_unhealthy_and_shows_in_status() {
    let c = Cluster::start(ClusterOpts {
        quota_backend_bytes: Some(2 * 1024 * 1024),
        ..ClusterOpts::members(1)
    });
    c.fill_until_nospace();
    let o = run(&["--endpoints", &c.endpoints(), "health"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("unhealthy") && out.contains("NOSPACE"),
        "{out}"
    );
    assert!(out.contains("recover-space"), "points at the fix: {out}");
    let o = run(&["--endpoints", &c.endpoints(), "status", "-o", "json"]);
    let v = json(&o);
    assert_eq!(v["members"][0]["alarms"][0], "NOSPACE");
    // The member's own alarm is in ALARMS, not repeated raw in ERRORS, and
    // its quota is the real one (from the metrics), so its use shows.
    assert_eq!(v["members"][0]["errors"], serde_json::json!([]), "{v:#}");
    assert_eq!(
        v["members"][0]["quotaBytes"].as_u64(),
        Some(2 * 1024 * 1024)
    );
    assert!(v["members"][0]["quotaUsePercent"].as_f64().unwrap() >= 95.0);
}

#[test]
fn members_match_etcdctl_member_list_with_health() {
    let c = Cluster::start(ClusterOpts::members(3));
    // Only one endpoint given: the others are reached at their advertised URLs.
    let o = run(&[
        "--endpoints",
        c.member(0).client_url(),
        "members",
        "-o",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ours = json(&o);
    let theirs = c.etcdctl(&["member", "list", "-w", "json"]);
    let theirs: Value = serde_json::from_slice(&theirs.stdout).unwrap();
    let theirs = theirs["members"].as_array().unwrap();
    let ours = ours["members"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len());
    for t in theirs {
        let id = format!("{:016x}", t["ID"].as_u64().unwrap());
        let row = ours
            .iter()
            .find(|m| m["id"] == id.as_str())
            .unwrap_or_else(|| panic!("member {id} missing"));
        assert_eq!(row["name"], t["name"]);
        assert_eq!(row["peerURLs"], t["peerURLs"]);
        assert_eq!(row["clientURLs"], t["clientURLs"]);
        assert_eq!(row["isLearner"], Value::Bool(false));
        assert_eq!(row["healthy"], Value::Bool(true));
    }
}

#[test]
fn members_marks_a_killed_member_unhealthy() {
    let mut c = Cluster::start(ClusterOpts::members(3));
    c.kill(1);
    let dead_name = c.member(1).name().to_string();
    let o = run(&[
        "--endpoints",
        c.member(0).client_url(),
        "--dial-timeout",
        "1s",
        "members",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = stdout(&o);
    let line = out.lines().find(|l| l.contains(&dead_name)).unwrap();
    assert!(line.contains("unhealthy"), "{out}");
    assert!(line.contains("connection refused"), "{out}");
}

#[test]
fn size_reports_bytes_in_json_and_units_in_tables() {
    let c = Cluster::start(ClusterOpts::members(1));
    let big = "v".repeat(10_000);
    for i in 0..50 {
        c.put(&format!("/registry/secrets/default/s{i}"), &big);
    }
    let o = run(&["--endpoints", &c.endpoints(), "size", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    let m = &v["members"][0];
    let db = m["dbSize"].as_u64().unwrap();
    let in_use = m["dbSizeInUse"].as_u64().unwrap();
    assert!(db >= 500_000, "50 x 10 KB written: {db}");
    assert!(in_use <= db);
    assert_eq!(m["fragmentedBytes"].as_u64().unwrap(), db - in_use);
    assert_eq!(
        m["quotaHeadroomBytes"].as_u64().unwrap(),
        2 * 1024 * 1024 * 1024 - db
    );
    let o = run(&[
        "--endpoints",
        &c.endpoints(),
        "size",
        "--quota-bytes",
        "8MiB",
    ]);
    crate::support::cli::assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("KiB") || out.contains("MiB"), "{out}");
    // The metrics give the real quota: --quota-bytes is only the fallback.
    assert!(
        out.contains("2.0 GiB") && !out.contains("8.0 MiB"),
        "real quota, not the assumed one: {out}"
    );
    let o = run(&["--endpoints", &c.endpoints(), "size", "-o", "yaml"]);
    crate::support::cli::assert_code(&o, 0);
    let yaml: Value = serde_saphyr::from_str(&stdout(&o)).unwrap();
    // The file only grows between two reads (etcd commits its own metadata).
    let again = yaml["members"][0]["dbSize"].as_u64().unwrap();
    assert!(again >= db && again < db + 1024 * 1024, "{db} then {again}");
}

#[test]
fn tls_with_client_certificate_works() {
    let c = Cluster::start(ClusterOpts {
        tls: Some(TlsMode::ClientCertAuth),
        ..ClusterOpts::members(3)
    });
    let mut args = tls_args(&c);
    args.extend(["status".into(), "-o".into(), "json".into()]);
    let o = run_owned(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["members"].as_array().unwrap().len(), 3);
    assert!(v["members"][0]["endpoint"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
}

#[test]
fn tls_env_vars_work_like_etcdctl() {
    let c = Cluster::start(ClusterOpts {
        tls: Some(TlsMode::ClientCertAuth),
        ..ClusterOpts::members(1)
    });
    let t = c.tls();
    let o = plugin()
        .env("ETCDCTL_ENDPOINTS", c.endpoints())
        .env("ETCDCTL_CACERT", &t.ca)
        .env("ETCDCTL_CERT", &t.cert)
        .env("ETCDCTL_KEY", &t.key)
        .args(["health"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(words.iter().filter(|w| **w == "healthy").count(), 1);
    assert!(!words.contains(&"unhealthy"), "{text}");
}

#[test]
fn tls_failures_each_name_their_cause() {
    let c = Cluster::start(ClusterOpts {
        tls: Some(TlsMode::ClientCertAuth),
        ..ClusterOpts::members(1)
    });
    let t = c.tls();
    let ep = c.endpoints();
    let ca = t.ca.display().to_string();
    let other_ca = t.other_ca.display().to_string();
    let cert = t.cert.display().to_string();
    let key = t.key.display().to_string();
    let other_cert = t.other_cert.display().to_string();
    let other_key = t.other_key.display().to_string();

    // Wrong CA.
    let o = run(&[
        "--endpoints",
        &ep,
        "--cacert",
        &other_ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "health",
    ]);
    // TLS refused on every member: "could not be reached at all", exit 3.
    assert_eq!(code(&o), 3);
    assert!(
        stdout(&o).contains("not signed by the given CA"),
        "{}",
        stdout(&o)
    );
    let o = run(&[
        "--endpoints",
        &ep,
        "--cacert",
        &other_ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "status",
    ]);
    assert_eq!(code(&o), 3, "nothing reachable: {}", stderr(&o));
    assert!(stderr(&o).contains("help: pass the CA"), "{}", stderr(&o));

    // Missing client certificate.
    let o = run(&["--endpoints", &ep, "--cacert", &ca, "status"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("requires a client certificate")
            || stderr(&o).contains("rejected the client certificate"),
        "{}",
        stderr(&o)
    );

    // A client certificate from an unrelated CA.
    let o = run(&[
        "--endpoints",
        &ep,
        "--cacert",
        &ca,
        "--cert",
        &other_cert,
        "--key",
        &other_key,
        "status",
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("client certificate"), "{}", stderr(&o));

    // https without any CA.
    let o = run(&["--endpoints", &ep, "status"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("--cacert"), "{}", stderr(&o));

    // --cert without --key is a usage error.
    let o = run(&[
        "--endpoints",
        &ep,
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "status",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));

    // A missing file is named.
    let o = run(&[
        "--endpoints",
        &ep,
        "--cacert",
        "/nonexistent/ca.crt",
        "status",
    ]);
    assert_eq!(code(&o), 3, "a TLS set-up failure: {}", stderr(&o));
    assert!(stderr(&o).contains("/nonexistent/ca.crt"), "{}", stderr(&o));

    // Plain HTTP against the TLS port.
    let plain = ep.replace("https://", "http://");
    let o = run(&["--endpoints", &plain, "--dial-timeout", "2s", "status"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    // No failure ever prints a debug-formatted chain or a backtrace.
    let err = stderr(&o);
    assert!(
        !err.contains("Os {") && !err.contains("stack backtrace"),
        "{err}"
    );
}

#[test]
fn tls_server_name_override_and_insecure_skip() {
    let c = Cluster::start(ClusterOpts {
        tls: Some(TlsMode::ServerOnly),
        ..ClusterOpts::members(1)
    });
    let t = c.tls();
    let ca = t.ca.display().to_string();
    let ep = c.endpoints();
    let o = run(&[
        "--endpoints",
        &ep,
        "--cacert",
        &ca,
        "--tls-server-name",
        "localhost",
        "health",
    ]);
    assert_eq!(
        code(&o),
        0,
        "localhost is in the server certificate: {}",
        stdout(&o)
    );
    let o = run(&[
        "--endpoints",
        &ep,
        "--cacert",
        &ca,
        "--tls-server-name",
        "not-in-cert.example",
        "health",
    ]);
    assert_eq!(code(&o), 3);
    assert!(
        stdout(&o).contains("does not name this host"),
        "{}",
        stdout(&o)
    );
    let o = run(&["--endpoints", &ep, "--insecure-skip-tls-verify", "health"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[test]
fn auth_password_wrong_password_and_missing_user() {
    let c = Cluster::start(ClusterOpts {
        auth: true,
        ..ClusterOpts::members(1)
    });
    let creds = c.auth().unwrap();
    let ep = c.endpoints();
    let o = run(&["--endpoints", &ep, "--user", &creds.user_arg(), "status"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = plugin()
        .env("ETCDCTL_USER", &creds.user)
        .env("ETCDCTL_PASSWORD", &creds.password)
        .args(["--endpoints", &ep, "health"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "env credentials: {}", stdout(&o));

    let o = run(&["--endpoints", &ep, "--user", "root:wrong", "status"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("authentication failed"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("help: check --user"), "{}", stderr(&o));

    let o = run(&["--endpoints", &ep, "health"]);
    assert_eq!(code(&o), 3, "authentication failed everywhere");
    assert!(
        stdout(&o).contains("requires authentication"),
        "{}",
        stdout(&o)
    );

    let o = run(&["--endpoints", &ep, "--user", "root", "status"]);
    assert_eq!(code(&o), 2, "user without password is a usage error");
}

#[test]
fn version_help_and_usage_errors() {
    let o = run(&["version", "-o", "json"]);
    assert_eq!(json(&o)["clientVersion"], env!("CARGO_PKG_VERSION"));
    let o = run(&["--help"]);
    assert_eq!(code(&o), 0);
    for cmd in ["status", "members", "health", "size", "completion"] {
        assert!(stdout(&o).contains(cmd), "--help lists {cmd}");
    }
    let o = run(&["no-such-command"]);
    assert_eq!(code(&o), 2);
    let o = run(&["--endpoints", "ftp://x:1", "status"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("ftp://x:1"));
    // A closed pipe is not an error.
    let mut child = plugin()
        .args(["completion", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn an_endpoint_given_twice_is_one_member() {
    let c = Cluster::single();
    let ep = c.member(0).client_url().to_owned();
    let o = support::cli::run_at(&format!("{ep},{ep}"), &["status", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["members"].as_array().unwrap().len(), 1, "{v}");
    let o = support::cli::run_at(&format!("{ep},{ep}"), &["health"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o).matches(&ep).count(), 1, "{}", stdout(&o));
}
