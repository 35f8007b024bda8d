//! README's exit code table, per command family: 0 success, 1 a negative
//! answer (a member down, nothing found), 2 usage, 3 unreachable (a dead
//! endpoint, TLS rejected), 4 refused for safety, 5 bad data. Each family
//! is run against real etcd; every mismatch is listed before the test
//! fails. Interrupts (130) are tested where each command's Ctrl-C is
//! (`wizards.rs`, `maintenance.rs`, `recover.rs`, `promises_ops.rs`,
//! `hostile.rs`); 1 for a write that fails part-way and for a damaged
//! snapshot where those faults are made (`maintenance.rs`, `dbfile.rs`).

use std::path::{Path, PathBuf};

use crate::objects;
use crate::support::cli::{code, plugin, stderr};
use crate::support::{Cluster, ClusterOpts, TlsMode};

/// An endpoint nothing listens on: a port the kernel gave and took back.
fn dead_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// Where the plugin is pointed.
#[derive(Clone)]
enum At {
    /// A live cluster, through its endpoints (and TLS files, if any).
    Live(String),
    /// A TLS cluster, trusting the wrong CA: the handshake fails.
    WrongCa { endpoint: String, other_ca: PathBuf },
    /// Nothing listens there.
    Dead,
    /// No connection flags: offline commands.
    Offline,
}

/// Runs each case and lists every exit code that is not the documented
/// one.
#[derive(Default)]
struct Expect {
    wrong: Vec<String>,
}

impl Expect {
    fn case(&mut self, at: &At, args: &[&str], want: i32) {
        let mut cmd = plugin();
        match at {
            At::Live(endpoints) => {
                cmd.args(["--endpoints", endpoints]);
            }
            At::WrongCa { endpoint, other_ca } => {
                cmd.args(["--endpoints", endpoint, "--cacert"])
                    .arg(other_ca)
                    .args(["--dial-timeout", "2s"]);
            }
            At::Dead => {
                cmd.args(["--endpoints", &dead_endpoint(), "--dial-timeout", "1s"]);
            }
            At::Offline => {}
        }
        // A command that asks for confirmation never gets a terminal here.
        let o = cmd.args(args).output().unwrap();
        let got = code(&o);
        if got != want {
            let first = stderr(&o).lines().next().unwrap_or_default().to_owned();
            let place = match at {
                At::Live(_) => "live",
                At::WrongCa { .. } => "wrong CA",
                At::Dead => "dead endpoint",
                At::Offline => "offline",
            };
            self.wrong.push(format!(
                "{place}: {}: exit {got}, want {want}: {first}",
                args.join(" ")
            ));
        }
    }

    /// Every command of `cmds` is unreachable (3) at a dead endpoint and
    /// behind a TLS handshake that fails.
    fn unreachable(&mut self, tls: &At, cmds: &[&[&str]]) {
        for args in cmds {
            self.case(&At::Dead, args, 3);
            self.case(tls, args, 3);
        }
    }

    fn check(self, family: &str) {
        assert!(
            self.wrong.is_empty(),
            "{family}: exit codes differ from README's table:\n  {}",
            self.wrong.join("\n  ")
        );
    }
}

/// A single TLS member requiring client certificates; the plugin is then
/// given the unrelated CA.
fn wrong_ca(tls: &Cluster) -> At {
    At::WrongCa {
        endpoint: tls.endpoints(),
        other_ca: tls.tls().other_ca.clone(),
    }
}

fn tls_cluster() -> Cluster {
    Cluster::start(ClusterOpts {
        tls: Some(TlsMode::ClientCertAuth),
        ..ClusterOpts::members(1)
    })
}

fn put_object(c: &Cluster, o: &objects::Object) {
    let out = c.ctl().stdin(o.value.clone()).run(&["put", &o.key]);
    assert!(out.status.success(), "put {}", o.key);
}

/// A family's clusters: a live one holding namespace `ns-a` and `objs`,
/// and a TLS member the plugin is pointed at with the wrong CA.
struct Family {
    c: Cluster,
    live: At,
    wrong_ca: At,
    _tls: Cluster,
}

fn family(c: Cluster, objs: &[objects::Object]) -> Family {
    put_object(&c, &objects::namespace("ns-a", 1));
    for o in objs {
        put_object(&c, o);
    }
    let tls = tls_cluster();
    Family {
        live: At::Live(c.endpoints()),
        wrong_ca: wrong_ca(&tls),
        c,
        _tls: tls,
    }
}

#[test]
fn read_only_cluster_commands_exit_as_documented() {
    let mut f = family(Cluster::start(ClusterOpts::members(3)), &[]);
    let live = &f.live;
    let mut e = Expect::default();
    for cmd in ["status", "members", "health", "size"] {
        e.case(live, &[cmd], 0);
        e.case(live, &[cmd, "-o", "nosuchformat"], 2);
        e.case(live, &[cmd, "--dial-timeout", "-1s"], 2);
    }
    e.case(live, &["status", "--lag-threshold", "many"], 2);
    e.unreachable(
        &f.wrong_ca,
        &[&["status"], &["members"], &["health"], &["size"]],
    );
    // A negative answer: one member of three down, the others shown.
    f.c.kill(2);
    for cmd in ["status", "members", "health", "size"] {
        e.case(&f.live, &[cmd], 1);
    }
    e.check("status/members/health/size");
}

#[test]
fn keyspace_commands_exit_as_documented() {
    let f = family(Cluster::single(), &[objects::pod("ns-a", "web-0", 2, 0)]);
    let c = &f.c;
    // A value under a built-in type that decodes as nothing.
    let out = c
        .ctl()
        .stdin(b"k8s\0\x01\x02not protobuf".to_vec())
        .run(&["put", "/registry/pods/ns-a/garbage"]);
    assert!(out.status.success());
    let live = f.live.clone();
    let mut e = Expect::default();

    e.case(&live, &["count"], 0);
    e.case(&live, &["ls", "pods"], 0);
    e.case(&live, &["get", "pods/ns-a/web-0"], 0);
    e.case(&live, &["search", "web"], 0);
    e.case(&live, &["size"], 0);

    // Usage: an unknown type, a bad flag value, a bad pattern.
    for cmd in ["count", "ls", "size"] {
        e.case(&live, &[cmd, "nosuchtype"], 2);
    }
    e.case(&live, &["get", "nosuchtype/ns-a/x"], 2);
    e.case(&live, &["search", "x", "--type", "nosuchtype"], 2);
    e.case(&live, &["search", "(", "--regex"], 2);
    e.case(&live, &["ls", "--revision", "soon"], 2);
    e.case(&live, &["get", "pods/ns-a/web-0", "-o", "table"], 2);
    e.case(&live, &["ls", "pods", "--revision", "999999"], 2);

    // A negative answer: nothing found, an object that is not there, a
    // custom type with nothing stored.
    e.case(&live, &["search", "nothing-matches-this"], 1);
    e.case(&live, &["get", "pods/ns-a/missing"], 1);
    e.case(&live, &["count", "gizmos.example.com"], 1);

    // Bad data: an undecodable value, a compacted revision.
    e.case(&live, &["get", "pods/ns-a/garbage"], 5);
    let rev = c
        .ctl()
        .ok(&["put", "bump", "1", "-w", "json"])
        .split("\"revision\":")
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|s| s.trim().parse::<i64>().ok())
        .expect("revision of the put");
    c.ctl().ok(&["compaction", &rev.to_string()]);
    e.case(&live, &["ls", "pods", "--revision", "2"], 5);
    e.case(&live, &["get", "pods/ns-a/web-0", "--revision", "2"], 5);

    e.unreachable(
        &f.wrong_ca,
        &[
            &["count"],
            &["ls", "pods"],
            &["get", "pods/ns-a/web-0"],
            &["search", "web"],
            &["size"],
        ],
    );
    e.check("count/ls/get/search/size");
}

#[test]
fn write_commands_exit_as_documented() {
    let f = family(
        Cluster::single(),
        &[objects::configmap("ns-a", "conf", 2, 10)],
    );
    let (c, live) = (&f.c, f.live.clone());
    let dir = tempfile::tempdir().unwrap();
    let get = plugin()
        .args(["--endpoints", &c.endpoints(), "get", "configmaps/ns-a/conf"])
        .output()
        .unwrap();
    assert_eq!(code(&get), 0, "{}", stderr(&get));
    let manifest = dir.path().join("conf.yaml");
    std::fs::write(&manifest, &get.stdout).unwrap();
    let manifest = manifest.to_str().unwrap();
    let garbage = dir.path().join("garbage.yaml");
    std::fs::write(&garbage, "{ this is: [not, a manifest").unwrap();
    let garbage = garbage.to_str().unwrap();
    let mut e = Expect::default();

    e.case(
        &live,
        &["put", "configmaps/ns-a/conf", "-f", manifest, "--yes"],
        0,
    );
    e.case(&live, &["compact", "--yes"], 0);
    e.case(&live, &["defrag", "--yes", "--pause", "0s"], 0);
    e.case(&live, &["alarm", "list"], 0);
    e.case(&live, &["alarm", "disarm", "--yes"], 0);

    // Usage.
    e.case(&live, &["compact", "soon"], 2);
    e.case(&live, &["defrag", "--if-fragmented", "150"], 2);
    e.case(
        &live,
        &["defrag", "--member", "nosuchmember", "--dry-run"],
        2,
    );
    e.case(&live, &["alarm", "disarm", "--alarm", "FIRE"], 2);
    e.case(&live, &["put", "configmaps/ns-a/conf"], 2);

    // Refused for safety: no terminal to confirm on, a key changed since
    // the manifest was read (the first put above moved it on).
    c.put("one-more", "revision");
    e.case(&live, &["compact"], 4);
    e.case(&live, &["defrag", "--pause", "0s"], 4);
    e.case(
        &live,
        &["put", "configmaps/ns-a/conf", "-f", manifest, "--yes"],
        4,
    );

    // Bad data: a manifest that is not YAML.
    e.case(
        &live,
        &["put", "configmaps/ns-a/conf", "-f", garbage, "--yes"],
        5,
    );

    e.unreachable(
        &f.wrong_ca,
        &[
            &["put", "configmaps/ns-a/conf", "-f", manifest, "--yes"],
            &["compact", "--yes"],
            &["defrag", "--yes"],
            &["alarm", "list"],
            &["alarm", "disarm", "--yes"],
        ],
    );
    e.check("put/compact/defrag/alarm");
}

fn save_snapshot(c: &Cluster, file: &Path) {
    let o = plugin()
        .args(["--endpoints", &c.endpoints(), "snapshot", "save"])
        .arg(file)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn offline_snapshot_commands_exit_as_documented() {
    let c = Cluster::single();
    put_object(&c, &objects::pod("ns-a", "web-0", 2, 0));
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    save_snapshot(&c, &good);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.db");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let foreign = dir.path().join("foreign.db");
    std::fs::write(&foreign, vec![0x5a; 64 * 1024]).unwrap();
    let missing = dir.path().join("missing.db");
    let (good, truncated, foreign, missing) = (
        good.to_str().unwrap(),
        truncated.to_str().unwrap(),
        foreign.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let mut e = Expect::default();
    let off = At::Offline;
    for sub in ["status", "inspect"] {
        e.case(&off, &["snapshot", sub, good], 0);
        e.case(&off, &["snapshot", sub, missing], 2);
        e.case(&off, &["snapshot", sub, dir.path().to_str().unwrap()], 2);
        e.case(&off, &["snapshot", sub, truncated], 5);
        e.case(&off, &["snapshot", sub, foreign], 5);
    }
    e.case(&off, &["snapshot", "status", good, "-o", "nosuchformat"], 2);
    // Saving needs a member: unreachable is 3; an existing file is refused.
    let tls = tls_cluster();
    let fresh = dir.path().join("fresh.db");
    e.unreachable(
        &wrong_ca(&tls),
        &[&["snapshot", "save", fresh.to_str().unwrap()]],
    );
    e.case(&At::Live(c.endpoints()), &["snapshot", "save", good], 4);
    e.check("snapshot");
}

#[test]
fn wizards_exit_as_documented() {
    let c = Cluster::start(ClusterOpts::members(3));
    let tls = tls_cluster();
    let live = At::Live(c.endpoints());
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap.db");
    save_snapshot(&c, &snap);
    let corrupt = dir.path().join("corrupt.db");
    let bytes = std::fs::read(&snap).unwrap();
    std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).unwrap();
    let (snap, corrupt) = (snap.to_str().unwrap(), corrupt.to_str().unwrap());
    let mut e = Expect::default();
    let add_m9 = |peer| ["resize", "add", "m9", "--peer-urls", peer, "--dry-run"];

    e.case(&live, &add_m9("http://127.0.0.1:1"), 0);
    e.case(&live, &["restore", "--snapshot", snap, "--dry-run"], 0);
    e.case(&live, &["recover-space", "--dry-run"], 0);

    // Usage.
    e.case(&live, &["resize", "add", "m9", "--dry-run"], 2);
    e.case(&live, &add_m9("not a url"), 2);
    e.case(
        &live,
        &["restore", "--snapshot", "/nonexistent/snap.db", "--dry-run"],
        2,
    );
    e.case(&live, &["recover-space", "--pause", "never"], 2);
    e.case(&live, &["recover", "--dry-run", "--no-such-flag"], 2);

    // Refused for safety: recover while a quorum answers; a change without
    // confirmation.
    e.case(&live, &["recover", "--dry-run"], 4);
    e.case(&live, &["resize", "remove", "m2"], 4);
    e.case(&live, &["recover-space", "--pause", "0s"], 4);

    // Bad data: a corrupt snapshot.
    e.case(&live, &["restore", "--snapshot", corrupt, "--dry-run"], 5);

    e.unreachable(
        &wrong_ca(&tls),
        &[
            &["resize", "remove", "m2", "--dry-run"],
            &["restore", "--dry-run"],
            &["recover-space", "--dry-run"],
        ],
    );
    e.check("resize/restore/recover-space/recover");
}

#[test]
fn other_commands_exit_as_documented() {
    let f = family(
        Cluster::start(ClusterOpts::members(3)),
        &[objects::pod("ns-a", "web-0", 2, 0)],
    );
    let live = &f.live;
    let dir = tempfile::tempdir().unwrap();
    let value = dir.path().join("pod.pb");
    std::fs::write(&value, &objects::pod("ns-a", "web-0", 2, 0).value).unwrap();
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, b"k8s\0\x01\x02not protobuf").unwrap();
    let missing = dir.path().join("missing.bin");
    let (value, garbage, missing) = (
        value.to_str().unwrap(),
        garbage.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    let mut e = Expect::default();

    e.case(live, &["custom"], 0);
    e.case(live, &["watch", "--rev", "1", "--count", "1"], 0);
    e.case(live, &["top", "--interval", "1s", "--count", "1"], 0);
    e.case(live, &["history", "pods/ns-a/web-0"], 0);
    e.case(live, &["lease", "list"], 0);
    e.case(live, &["move-leader", "--dry-run"], 0);
    e.case(live, &["doctor", "--check", "health", "--window", "1s"], 0);
    e.case(&At::Offline, &["decode", value], 0);
    e.case(&At::Offline, &["version"], 0);
    e.case(&At::Offline, &["completion", "bash"], 0);

    // Usage.
    e.case(live, &["custom", "nosuchtype"], 2);
    e.case(live, &["custom", "pods"], 2);
    e.case(live, &["top", "--by", "nothing"], 2);
    e.case(live, &["history", "nosuchtype/x"], 2);
    e.case(live, &["watch", "nosuchtype"], 2);
    e.case(live, &["lease", "show", "notanid"], 2);
    e.case(live, &["move-leader", "--to", "nosuch", "--dry-run"], 2);
    e.case(live, &["doctor", "--check", "nosuch"], 2);
    e.case(&At::Offline, &["decode", missing], 2);
    e.case(&At::Offline, &["completion", "nosuchshell"], 2);

    // A negative answer: no version of the key, no such lease, a custom
    // type with nothing stored.
    e.case(live, &["history", "pods/ns-a/missing"], 1);
    e.case(live, &["lease", "show", "1234"], 1);
    e.case(live, &["custom", "gizmos.example.com"], 1);

    // Refused for safety: no terminal to confirm the transfer on.
    e.case(live, &["move-leader"], 4);

    // Bad data: a value that does not decode.
    e.case(&At::Offline, &["decode", garbage], 5);

    e.unreachable(
        &f.wrong_ca,
        &[
            &["custom"],
            &["watch", "--timeout", "5s"],
            &["top", "--interval", "1s", "--count", "1"],
            &["history", "pods/ns-a/web-0"],
            &["lease", "list"],
            &["lease", "show", "1234"],
            &["move-leader", "--dry-run"],
            &["doctor", "--window", "1s"],
        ],
    );
    e.check("custom/watch/top/history/lease/move-leader/doctor/decode/version/completion");
}
