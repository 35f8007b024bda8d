//! Scans under faults (a compaction mid-scan, values too large to page by
//! count) and the connection errors an operator meets first: each with its
//! one line, its `help:` and its exit code.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use etcd_client::{Client, Txn, TxnOp};
use serde_json::Value;

use crate::support;
use support::cli::{code, plugin, run_on as run, stderr as err, stdout as out};
use support::{Cluster, ClusterOpts};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A ConfigMap in the JSON form kube-apiserver can store, padded to `pad`
/// bytes of data.
fn configmap(name: &str, pad: usize, fill: char) -> (String, Vec<u8>) {
    let key = format!("/registry/configmaps/default/{name}");
    let value = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"pad": fill.to_string().repeat(pad)},
    });
    (key, serde_json::to_vec(&value).unwrap())
}

/// Write `kvs` in transactions of up to 100 puts.
fn put_all(c: &Cluster, kvs: &[(String, Vec<u8>)], per_txn: usize) {
    let endpoints: Vec<String> = c.endpoints().split(',').map(str::to_string).collect();
    runtime().block_on(async {
        let client = Client::connect(&endpoints, None).await.unwrap();
        let mut kv = client.kv_client();
        for chunk in kvs.chunks(per_txn) {
            let ops = chunk
                .iter()
                .map(|(k, v)| TxnOp::put(k.clone(), v.clone(), None))
                .collect::<Vec<_>>();
            kv.txn(Txn::new().and_then(ops)).await.unwrap();
        }
    });
}

/// Write one more key and compact the keyspace up to it: every revision
/// a scan started before is gone.
fn bump_and_compact(c: &Cluster) -> i64 {
    let endpoints: Vec<String> = c.endpoints().split(',').map(str::to_string).collect();
    runtime().block_on(async {
        let mut client = Client::connect(&endpoints, None).await.unwrap();
        let rev = client
            .put("/other/bump", "x", None)
            .await
            .unwrap()
            .header()
            .unwrap()
            .revision();
        client
            .compact(
                rev,
                Some(etcd_client::CompactionOptions::new().with_physical()),
            )
            .await
            .unwrap();
        rev
    })
}

/// Start `args` with small pages and stdout unread, so the scan stalls on
/// a full pipe; read one line (the scan has pinned its revision), compact
/// past that revision, then read the rest. Returns stdout lines, stderr and
/// the exit code.
fn run_compacted_midway(c: &Cluster, args: &[&str]) -> (Vec<String>, String, i32) {
    let mut child: std::process::Child = plugin()
        .arg("--endpoints")
        .arg(c.endpoints())
        .args(args)
        .env("KUBECTL_ETCD_PAGE_KEYS", "10")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(!first.is_empty(), "{args:?} printed nothing");
    bump_and_compact(c);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    let lines = std::iter::once(first.trim_end().to_string())
        .chain(rest.lines().map(str::to_string))
        .collect();
    (lines, stderr, status.code().expect("exit code"))
}

/// How often each value of `field` occurs in JSON lines.
fn tally(lines: &[String], field: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        let f = v
            .pointer(field)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {field} in {l}"))
            .to_string();
        *seen.entry(f).or_default() += 1;
    }
    seen
}

#[test]
fn a_compaction_mid_scan_resumes_listings_and_never_prints_a_row_twice() {
    let c = Cluster::single();
    // 3,000 objects of ~300 bytes: the JSON lines of any listing are far
    // more than a pipe holds, so the scan is still paging when compacted.
    const N: usize = 3000;
    let kvs: Vec<_> = (0..N)
        .map(|i| configmap(&format!("cm-{i:05}"), 200, 'x'))
        .collect();
    put_all(&c, &kvs, 100);
    put_all(&c, &widgets(N), 100);
    for (args, field) in [
        (&["ls", "configmaps", "-o", "json"][..], "/key"),
        (
            &["get", "--all", "configmaps", "-o", "json"][..],
            "/metadata/name",
        ),
        (&["search", "cm-", "-o", "json"][..], "/key"),
        (&["custom", "widgets.example.com", "-o", "json"][..], "/key"),
    ] {
        let (lines, stderr, code) = run_compacted_midway(&c, args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(
            stderr.contains("was compacted during the scan: going on after "),
            "{args:?} says it resumed: {stderr}"
        );
        let seen = tally(&lines, field);
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "{args:?} printed rows twice: {twice:?}");
        assert_eq!(seen.len(), N, "{args:?} printed every object once");
    }
}

/// `n` custom resources (`widgets.example.com`, no CRD stored), ~300 bytes each.
fn widgets(n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let o = crate::objects::widget("default", &format!("w-{i:05}"), i as u64, 100);
            (o.key, o.value)
        })
        .collect()
}

/// Range requests member 0 has started, from its gRPC metrics.
fn ranges_started(c: &Cluster) -> u64 {
    let url = format!("{}/metrics", c.member(0).client_url());
    let out = std::process::Command::new("curl")
        .args(["-sf", &url])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("grpc_server_started_total") && l.contains("grpc_method=\"Range\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no Range counter in {url}")) as u64
}

/// Start `args` with one key per page, wait until etcd has started 50 of
/// its pages (the scan has pinned its revision and is paging), compact past
/// that revision, and return the output.
fn aggregate_compacted_midway(c: &Cluster, args: &[&str]) -> std::process::Output {
    let before = ranges_started(c);
    let child = plugin()
        .arg("--endpoints")
        .arg(c.endpoints())
        .args(args)
        .env("KUBECTL_ETCD_PAGE_KEYS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    support::wait_until(
        "the scan to page",
        std::time::Duration::from_secs(60),
        || ranges_started(c) >= before + 50,
    );
    bump_and_compact(c);
    child.wait_with_output().unwrap()
}

#[test]
fn a_compaction_mid_scan_makes_count_and_size_start_again_once_with_exact_totals() {
    let c = Cluster::single();
    // One key per page: 2,000 requests, so the scan is still paging when
    // the compaction lands.
    const N: usize = 2000;
    put_all(&c, &widgets(N), 100);
    let o = aggregate_compacted_midway(&c, &["count", "widgets.example.com", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        err(&o).contains("the scan's revision was compacted: counting again at revision "),
        "{}",
        err(&o)
    );
    let v: Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["total"].as_u64(), Some(N as u64), "counted once: {v}");

    let o = aggregate_compacted_midway(
        &c,
        &["size", "--by-type", "widgets.example.com", "-o", "json"],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        err(&o).contains("the scan's revision was compacted: measuring again at revision "),
        "{}",
        err(&o)
    );
    let v: Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(
        v["keyspace"]["totalKeys"].as_u64(),
        Some(N as u64),
        "measured once: {v}"
    );
}

#[test]
fn scans_of_large_values_side_by_side_page_by_bytes_and_shrink_when_refused() {
    let c = Cluster::single();
    // Twelve 1 MiB values: twelve times what the client accepts here.
    // KUBECTL_ETCD_MAX_RESPONSE lowers the client's limit (256 MiB) to
    // 3 MiB, so 12 MiB plays 180 Helm releases of 1.5 MB each.
    const N: usize = 12;
    let kvs: Vec<_> = (0..N)
        .map(|i| configmap(&format!("big-{i:02}"), 1024 * 1024, 'z'))
        .collect();
    put_all(&c, &kvs, 1);
    let limited = |args: &[&str], limit: &str| {
        plugin()
            .arg("--endpoints")
            .arg(c.endpoints())
            .args(args)
            .env("KUBECTL_ETCD_MAX_RESPONSE", limit)
            .output()
            .unwrap()
    };
    let three_mib = (3 * 1024 * 1024).to_string();
    for args in [
        &["ls", "configmaps", "-o", "json"][..],
        &["get", "--all", "configmaps", "-o", "json"][..],
        &["search", "--values", "zzzzzzzz", "-o", "json"][..],
    ] {
        let o = limited(args, &three_mib);
        assert_eq!(code(&o), 0, "{args:?}: {}", err(&o));
        assert_eq!(out(&o).lines().count(), N, "{args:?}");
    }
    let o = limited(&["size", "--by-type", "-o", "json"], &three_mib);
    assert_eq!(code(&o), 0, "size: {}", err(&o));
    // One value alone past the limit: a clear error, not a loop.
    let o = limited(&["ls", "configmaps"], "524288");
    assert_eq!(code(&o), 1, "{}", err(&o));
    let e = err(&o);
    assert!(
        e.contains("alone is larger than the client accepts (524288 bytes)")
            && e.lines().count() == 1,
        "{e}"
    );
}

#[test]
fn empty_endpoints_are_a_usage_error_for_every_command() {
    for args in [
        &["health"][..],
        &["status"][..],
        &["members"][..],
        &["size"][..],
        &["count"][..],
        &["ls"][..],
        &["defrag", "--dry-run"][..],
        &["alarm", "list"][..],
    ] {
        let o = plugin()
            .args(["--endpoints", ""])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(code(&o), 2, "--endpoints '' {args:?}: {}", out(&o));
        assert!(out(&o).is_empty(), "no table: {}", out(&o));
        assert!(err(&o).starts_with("error: --endpoints (or ETCDCTL_ENDPOINTS) is empty"));
        assert!(err(&o).contains("\nhelp: "), "{}", err(&o));
        let o = plugin()
            .env("ETCDCTL_ENDPOINTS", "")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(code(&o), 2, "ETCDCTL_ENDPOINTS= {args:?}: {}", out(&o));
    }
}

#[test]
fn an_https_endpoint_on_a_plain_http_member_says_it_speaks_http() {
    let c = Cluster::single();
    let https = c.endpoints().replace("http://", "https://");
    let o = plugin()
        .args([
            "--endpoints",
            &https,
            "--insecure-skip-tls-verify",
            "status",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}{}", out(&o), err(&o));
    let e = err(&o);
    assert!(e.contains("does not speak TLS"), "{e}");
    assert!(e.contains("help: ") && e.contains("http://"), "{e}");
    assert!(!e.contains("tls handshake eof"), "no raw rustls text: {e}");
}

/// Regression: the reverse for keyspace commands, an http:// endpoint on a
/// TLS member, was told "the cluster may have lost quorum" (the hint of a
/// linearizable read without an answer) instead of to use https.
#[test]
fn an_http_endpoint_on_a_tls_member_says_to_use_https_not_quorum() {
    let c = Cluster::start(ClusterOpts {
        tls: Some(support::TlsMode::ServerOnly),
        ..Default::default()
    });
    let http = c.endpoints().replace("https://", "http://");
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("x.db").display().to_string();
    for args in [
        &["count"][..],
        &["ls"],
        &["search", "x"],
        &["get", "--all", "pods"],
        &["status"],
        &["members"],
        &["health"],
        &["alarm", "list"],
        &["compact", "--dry-run"],
        &["defrag", "--dry-run"],
        &["move-leader", "--dry-run"],
        &["snapshot", "save", &snap],
    ] {
        let o = plugin()
            .args(["--endpoints", &http])
            .args(args)
            .output()
            .unwrap();
        let e = format!("{}{}", out(&o), err(&o));
        assert_eq!(code(&o), 3, "{args:?}: {e}");
        assert!(
            e.contains("help: ") && e.contains("https://"),
            "{args:?}: {e}"
        );
        assert!(!e.contains("quorum"), "{args:?}: {e}");
    }
}

#[test]
fn ls_at_a_future_revision_is_a_usage_error_naming_the_current_one() {
    let c = Cluster::single();
    c.put("/registry/configmaps/default/a", "{}");
    let o = run(&c, &["ls", "--revision", "999999"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    let e = err(&o);
    assert!(
        e.starts_with("error: revision 999999 is newer than the current revision "),
        "{e}"
    );
    assert!(!e.contains("etcdserver"), "not etcd's raw words: {e}");
    assert!(e.contains("help: leave out --revision"), "{e}");
    // `get` says it the same way, naming the current revision (README's
    // exit code table), which it once left out.
    let now = support::etcdctl::revision(&c);
    let o = run(&c, &["get", "configmaps", "a", "--revision", "999999"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(!err(&o).contains("etcdserver"), "{}", err(&o));
    assert!(
        err(&o).starts_with(&format!(
            "error: revision 999999 is newer than the current revision {now}\n"
        )),
        "{}",
        err(&o)
    );
    // `watch --rev` past the next revision would wait for a write that may
    // never come; `history --since-revision` past now would say nothing
    // happened. Both are refused the same way, with their own flag's help.
    let o = run(&c, &["watch", "--rev", "999999", "--timeout", "20s"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(
        err(&o).starts_with(&format!(
            "error: revision 999999 is newer than the current revision {now}\n"
        )),
        "{}",
        err(&o)
    );
    assert!(err(&o).contains("leave out --rev"), "{}", err(&o));
    let o = run(
        &c,
        &[
            "history",
            "configmaps/default/a",
            "--since-revision",
            "999999",
        ],
    );
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(
        err(&o).contains("leave out --since-revision"),
        "{}",
        err(&o)
    );
    // The next revision is where a watch of what comes next starts.
    let o = run(
        &c,
        &["watch", "--rev", &(now + 1).to_string(), "--timeout", "1s"],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
}

#[test]
fn connection_flags_and_urls_get_one_line_each() {
    // A negative timeout: named, not "unexpected argument '-1'".
    let o = plugin()
        .args([
            "--dial-timeout",
            "-1s",
            "--endpoints",
            "http://127.0.0.1:1",
            "health",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("`-1s` is negative"), "{}", err(&o));
    assert!(!err(&o).contains("unexpected argument"), "{}", err(&o));

    // Credentials in the URL: refused, and the password is not echoed.
    let o = plugin()
        .args(["--endpoints", "http://root:s3cret@127.0.0.1:2379", "health"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    let e = err(&o);
    assert!(
        e.starts_with("error: endpoint `http://127.0.0.1:2379` has a user name and password in it"),
        "{e}"
    );
    assert!(e.contains("help: pass them with --user"), "{e}");
    assert!(!e.contains("s3cret"), "{e}");

    // A name that does not resolve: said once.
    let o = plugin()
        .args([
            "--endpoints",
            "http://no-such-host.invalid:2379",
            "status",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}{}", out(&o), err(&o));
    let e = err(&o);
    let line = e.lines().next().unwrap_or_default();
    assert!(
        line.contains("cannot resolve `no-such-host.invalid`"),
        "{e}"
    );
    // The resolver's words once (they used to come twice on one line).
    assert_eq!(line.matches("failed to lookup").count(), 1, "{e}");
    assert!(e.contains("help: check the host name"), "{e}");

    // A bad regex: one line and a help line.
    let o = plugin()
        .args([
            "--endpoints",
            "http://127.0.0.1:1",
            "search",
            "--regex",
            "(a",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    let e = err(&o);
    assert_eq!(e.lines().count(), 2, "{e}");
    assert!(
        e.starts_with("error: `(a` is not a valid regular expression: unclosed group"),
        "{e}"
    );
}

#[test]
fn a_closed_pipe_ends_a_json_listing_quietly() {
    let c = Cluster::single();
    // 20 KB objects: `get --all` fails inside the JSON writer itself.
    let kvs: Vec<_> = (0..300)
        .map(|i| configmap(&format!("cm-{i:05}"), 20_000, 'x'))
        .collect();
    put_all(&c, &kvs, 20);
    for args in [
        &["ls", "configmaps", "-o", "json"][..],
        &["get", "--all", "configmaps", "-o", "json"][..],
    ] {
        // `| head -1`: read one line, then close the pipe.
        let mut child = plugin()
            .arg("--endpoints")
            .arg(c.endpoints())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        drop(stdout);
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "{args:?}: {}", err(&o));
        assert!(err(&o).is_empty(), "{args:?}: {}", err(&o));
    }
}
