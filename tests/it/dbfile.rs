//! Snapshot files read offline, damaged on purpose: pages swapped and
//! entries corrupted with the sha256 trailer recomputed, so only the walk
//! itself can notice. And memory that stays flat in the file's size.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::cli::{code, plugin, stderr};
use crate::support::{output_text, Cluster};

fn offline(args: &[&str]) -> Output {
    plugin().args(args).output().expect("run kubectl-etcd")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("json: {e}\n{}", output_text(out)))
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

use crate::support::etcdctl::seed_in_txns as put_many;

/// A snapshot of `c` saved with kubectl-etcd.
fn save(c: &Cluster, file: &Path) {
    let out = plugin()
        .args([
            "--endpoints",
            &c.endpoints(),
            "snapshot",
            "save",
            path_str(file),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

fn page_size(data: &[u8]) -> usize {
    u32::from_le_bytes(data[24..28].try_into().unwrap()) as usize
}

/// Leaf pages of bucket `key`: leaves whose first key is a revision.
fn key_leaves(data: &[u8]) -> Vec<usize> {
    let ps = page_size(data);
    (2..(data.len() - 32) / ps)
        .filter(|&id| {
            let p = &data[id * ps..(id + 1) * ps];
            let flags = u16::from_le_bytes([p[8], p[9]]);
            let count = u16::from_le_bytes([p[10], p[11]]);
            let u32_at = |o: usize| u32::from_le_bytes(p[o..o + 4].try_into().unwrap()) as usize;
            let id_ok = u64::from_le_bytes(p[..8].try_into().unwrap()) == id as u64;
            if flags != 0x02 || count == 0 || !id_ok {
                return false;
            }
            let (pos, ksize) = (u32_at(16 + 4), u32_at(16 + 8));
            ksize == 17 && p.get(16 + pos + 8) == Some(&b'_')
        })
        .collect()
}

fn entries_in(data: &[u8], id: usize) -> u64 {
    let ps = page_size(data);
    u16::from_le_bytes([data[id * ps + 10], data[id * ps + 11]]).into()
}

/// Recompute the sha256 trailer, as someone hiding damage would.
fn retrailer(data: &mut [u8]) {
    let n = data.len() - 32;
    let sum = ring::digest::digest(&ring::digest::SHA256, &data[..n]);
    data[n..].copy_from_slice(sum.as_ref());
}

/// A single member with `KEYS` keys whose entries fill many leaves, and a
/// snapshot of it: (cluster, file, status JSON of the sound file).
const KEYS: u64 = 435;

fn fixture(dir: &Path) -> (Cluster, std::path::PathBuf, Value) {
    let c = Cluster::single();
    put_many(&c, "/registry/configmaps/default/cm-", KEYS as usize, 300);
    let file = dir.join("sound.db");
    save(&c, &file);
    let out = offline(&["snapshot", "status", path_str(&file), "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let status = json(&out);
    assert_eq!(status["totalKeys"].as_u64(), Some(KEYS));
    (c, file, status)
}

#[test]
fn swapped_pages_with_a_recomputed_trailer_are_damage_not_a_wrong_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, file, sound) = fixture(dir.path());
    let mut data = std::fs::read(&file).unwrap();
    let leaves = key_leaves(&data);
    assert!(leaves.len() >= 10, "{} leaves", leaves.len());
    let (a, b) = (leaves[1], leaves[leaves.len() - 2]);
    let ps = page_size(&data);
    let page_a = data[a * ps..(a + 1) * ps].to_vec();
    data.copy_within(b * ps..(b + 1) * ps, a * ps);
    data[b * ps..(b + 1) * ps].copy_from_slice(&page_a);
    retrailer(&mut data);
    let bad = dir.path().join("swapped.db");
    std::fs::write(&bad, &data).unwrap();

    // status: bad data naming a swapped page, not a smaller keyspace.
    let out = offline(&["snapshot", "status", path_str(&bad)]);
    assert_eq!(code(&out), 5, "{}", output_text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("page {a}:")) || err.contains(&format!("page {b}:")),
        "{err}"
    );
    assert!(err.contains("pages were moved"), "{err}");

    // inspect: the rest is shown, the two pages named and counted, exit 1.
    let out = offline(&["snapshot", "inspect", path_str(&bad), "-o", "json"]);
    assert_eq!(code(&out), 1, "{}", output_text(&out));
    let report = json(&out);
    assert_eq!(report["damaged"].as_u64(), Some(2), "{report:#}");
    let mut pages: Vec<u64> = report["damage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["page"].as_u64().unwrap())
        .collect();
    pages.sort();
    assert_eq!(pages, vec![a.min(b) as u64, a.max(b) as u64]);
    let lost = entries_in(&data, a) + entries_in(&data, b);
    assert_eq!(
        report["totalKeys"].as_u64(),
        Some(KEYS - lost),
        "{report:#}"
    );
    assert_eq!(report["revision"], sound["revision"]);
    assert!(stderr(&out).contains("2 damaged pages or entries skipped"));

    // `inspect --ls FILE` lists all of FILE (FILE is not taken as a type).
    let out = offline(&["snapshot", "inspect", "--ls", path_str(&file), "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count() as u64,
        KEYS
    );
}

#[test]
fn a_corrupted_revision_key_is_named_and_the_rest_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, file, sound) = fixture(dir.path());
    let mut data = std::fs::read(&file).unwrap();
    let leaf = key_leaves(&data)[3];
    // Element 2's key: set a high bit of its main revision, as a bit flip
    // would (the value still says the true mod revision).
    let ps = page_size(&data);
    let e = leaf * ps + 16 + 2 * 16;
    let pos = u32::from_le_bytes(data[e + 4..e + 8].try_into().unwrap()) as usize;
    data[e + pos + 1] |= 0x80;
    retrailer(&mut data);
    let bad = dir.path().join("badkey.db");
    std::fs::write(&bad, &data).unwrap();

    let out = offline(&["snapshot", "status", path_str(&bad), "-o", "json"]);
    assert_eq!(code(&out), 5, "{}", output_text(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("page {leaf}, entry 2:")), "{err}");
    assert!(err.contains("mod revision"), "{err}");
    assert!(out.stdout.is_empty(), "{}", output_text(&out));

    let out = offline(&["snapshot", "inspect", path_str(&bad), "-o", "json"]);
    assert_eq!(code(&out), 1, "{}", output_text(&out));
    let report = json(&out);
    assert_eq!(report["damaged"].as_u64(), Some(1), "{report:#}");
    assert_eq!(report["totalKeys"].as_u64(), Some(KEYS - 1), "{report:#}");
    assert_eq!(report["revision"], sound["revision"], "{report:#}");
    assert_eq!(report["damage"][0]["page"].as_u64(), Some(leaf as u64));

    let out = offline(&["snapshot", "inspect", path_str(&bad), "--ls", "-o", "json"]);
    assert_eq!(code(&out), 1, "{}", output_text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count() as u64,
        KEYS - 1
    );
}

#[test]
fn missing_files_exit_2_for_snapshot_commands_as_for_decode() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let m = path_str(&missing);
    for args in [
        vec!["snapshot", "status", m],
        vec!["snapshot", "inspect", m],
        vec!["snapshot", "inspect", m, "--ls"],
        vec!["snapshot", "inspect", m, "--get", "pods/default/x"],
        vec!["decode", m],
    ] {
        let out = offline(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", output_text(&out));
        assert!(stderr(&out).contains("nope.db"), "{}", output_text(&out));
    }
    // `--ls` alone has no FILE to read.
    let out = offline(&["snapshot", "inspect", "--ls"]);
    assert_eq!(code(&out), 2, "{}", output_text(&out));
    assert!(
        stderr(&out).contains("no FILE given"),
        "{}",
        output_text(&out)
    );
    // A directory is not a snapshot either.
    let out = offline(&["snapshot", "status", path_str(dir.path())]);
    assert_eq!(code(&out), 2, "{}", output_text(&out));
}

/// Peak RSS in KiB of `kubectl-etcd ARGS`, by GNU time.
fn peak_rss_kib(args: &[&str]) -> (u64, Output) {
    let time = Path::new("/usr/bin/time");
    assert!(
        time.exists(),
        "GNU time is needed to measure peak RSS: apt-get install time"
    );
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rss");
    let bin = plugin().get_program().to_owned();
    let out = Command::new(time)
        .args(["-f", "%M", "-o", path_str(&report)])
        .arg(bin)
        .args(args)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    let kib = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS in {text:?}"));
    (kib, out)
}

#[test]
fn offline_reads_and_save_keep_memory_flat_in_the_file_size() {
    let mut c = Cluster::single();
    // About 64 MiB: large values, and enough small keys to sort.
    put_many(&c, "/registry/secrets/default/big-", 56, 1 << 20);
    put_many(&c, "/registry/configmaps/default/small-", 20_000, 200);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.db");
    let f = path_str(&file);
    let eps = c.endpoints();
    let (save_rss, out) = peak_rss_kib(&["--endpoints", &eps, "snapshot", "save", f, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 60 << 20, "snapshot of {size} bytes");
    // What the binary takes to start and talk to etcd at all (a debug build
    // maps a big binary); the reads may add a quarter of the file at most.
    let (base, health) = peak_rss_kib(&["--endpoints", &eps, "health"]);
    assert_eq!(health.status.code(), Some(0), "{}", output_text(&health));
    let limit_kib = base + (size / 1024) / 4;
    for (what, rss, out) in [
        ("save", save_rss, out),
        {
            let (r, o) = peak_rss_kib(&["snapshot", "status", f, "-o", "json"]);
            ("status", r, o)
        },
        {
            let (r, o) = peak_rss_kib(&["snapshot", "inspect", f, "-o", "json"]);
            ("inspect", r, o)
        },
        {
            let (r, o) = peak_rss_kib(&["snapshot", "inspect", f, "--ls", "-o", "json"]);
            ("inspect --ls", r, o)
        },
        {
            let key = "/registry/configmaps/default/small-00007";
            let (r, o) = peak_rss_kib(&["snapshot", "inspect", f, "--history", key, "-o", "json"]);
            ("inspect --history", r, o)
        },
        {
            let (r, o) = peak_rss_kib(&["snapshot", "inspect", f, "--history-size", "-o", "json"]);
            ("inspect --history-size", r, o)
        },
        {
            // restore verifies the file offline and counts its keys per
            // type before planning.
            let member = "m0=http://127.0.0.1:2380";
            let args = ["restore", "--snapshot", f, "--member", member, "--dry-run"];
            let (r, o) = peak_rss_kib(&[&args[..], &["-o", "json"]].concat());
            ("restore --snapshot", r, o)
        },
    ] {
        assert_eq!(out.status.code(), Some(0), "{what}: {}", output_text(&out));
        eprintln!("{what}: {rss} KiB (baseline {base} KiB)");
        assert!(
            rss < limit_kib,
            "{what} peaked at {rss} KiB for a {size}-byte file (baseline {base} KiB, limit {limit_kib} KiB)"
        );
        if ["save", "status", "inspect"].contains(&what) {
            assert_eq!(json(&out)["totalKeys"].as_u64(), Some(20_056), "{what}");
        }
        if what == "restore --snapshot" {
            let v = json(&out);
            assert_eq!(v["snapshot"]["totalKeys"].as_u64(), Some(20_056), "{v}");
            assert_eq!(v["snapshot"]["integrity"], "verified", "{v}");
        }
    }
    // Live, `size --history` reads pages as `size --by-type` does (a fixed
    // budget of pages in flight) plus a fragmented watch replay, whose
    // in-flight fragments depend on HTTP/2 flow control and on how far the
    // reader lags on a loaded machine: like the offline reads, it may add a
    // quarter of the file at most (a replay held whole would add all of it).
    let (by_type, out) = peak_rss_kib(&["--endpoints", &eps, "size", "--by-type", "-o", "json"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let (history, out) = peak_rss_kib(&["--endpoints", &eps, "size", "--history", "-o", "json"]);
    assert!(out.status.success(), "{}", output_text(&out));
    eprintln!("size --history: {history} KiB (size --by-type {by_type} KiB)");
    assert!(
        history < by_type + (size / 1024) / 4,
        "size --history peaked at {history} KiB, size --by-type at {by_type} KiB"
    );
    assert_eq!(json(&out)["history"]["currentKeys"].as_u64(), Some(20_056));

    // recover reads a stopped member's `member/snap/db` offline, through
    // the same page reader: flat too.
    let data_dir = c.member(0).data_dir().to_path_buf();
    let revision = crate::support::etcdctl::revision(&c);
    c.kill(0);
    let kept = format!("m0={}", data_dir.display());
    let (rss, out) = peak_rss_kib(&[
        "--endpoints",
        &eps,
        "--dial-timeout",
        "1s",
        "recover",
        "--data-dir",
        &kept,
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    eprintln!("recover --data-dir: {rss} KiB (baseline {base} KiB)");
    assert!(
        rss < limit_kib,
        "recover --data-dir peaked at {rss} KiB (limit {limit_kib} KiB)"
    );
    let seen = &json(&out)["plan"]["candidates"][0];
    assert_eq!(seen["seen"], "offline", "{seen}");
    assert_eq!(seen["revision"].as_i64(), Some(revision), "{seen}");
}

/// A member's db file has no sha256 trailer to derive the restored
/// cluster's token from; the plan still gives it a new one, never etcd's
/// default `etcd-cluster`, which the old cluster most likely has (the same
/// token and peer URLs make the same member ids, so an old member could
/// join the restored cluster).
#[test]
fn restore_from_a_member_db_file_plans_a_new_cluster_token() {
    let mut c = Cluster::single();
    c.put("k", "v");
    c.stop(0);
    let db = c.member(0).data_dir().join("member/snap/db");
    let out = offline(&[
        "restore",
        "--snapshot",
        path_str(&db),
        "--member",
        "m0=http://127.0.0.1:2380",
        "--dry-run",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let v = json(&out);
    assert_eq!(v["snapshot"]["integrity"], "noHash", "{v:#}");
    let token = v["plan"]["initialClusterToken"].as_str().unwrap();
    assert!(
        token.starts_with("restored-") && token != "etcd-cluster",
        "{token}"
    );
    let shell = v["plan"]["members"][0]["shell"].as_str().unwrap();
    assert!(
        shell.contains(&format!("--initial-cluster-token={token}")),
        "{shell}"
    );
}
