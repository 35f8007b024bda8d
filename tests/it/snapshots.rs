//! Snapshot tests: the `--help` of every command, and the table and JSON
//! output of `status`, `members` and `count` on a fixed keyspace in a real
//! single-member cluster, with live values (ids, ports, sizes, revisions,
//! times, versions) masked. The snapshots are files under
//! `tests/it/snapshots/`; a change to them shows in review.
//!
//! After changing a command, flag or output on purpose, regenerate them with
//!
//! ```sh
//! INSTA_UPDATE=always cargo test --test it snapshots::
//! ```
//!
//! and commit the changed `.snap` files (`git diff tests/it/snapshots`).
//! A new command gets its `--help` snapshot the same way; in CI a missing
//! or different snapshot fails the test.

use std::process::Output;

use clap::CommandFactory;
use regex::Regex;
use serde_json::Value;

use crate::objects;
use crate::support::cli::{code, plugin, stderr as err, stdout as out};
use crate::support::Cluster;

/// Every command path (`["status"]`, `["alarm", "list"]`, ...), the root first.
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" || sub.is_hide_set() {
                continue;
            }
            path.push(sub.get_name().to_string());
            walk(sub, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    // Hidden commands (the completion protocol) are not for people.
    walk(
        &kubectl_etcd::cli::Cli::command(),
        &mut Vec::new(),
        &mut out,
    );
    out
}

/// Run every check, then fail once listing the ones that differ, so one
/// run shows (and with INSTA_UPDATE=always writes) all of them.
fn check_all(checks: Vec<(String, Box<dyn FnOnce()>)>) {
    let mut failed = Vec::new();
    for (name, check) in checks {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).is_err() {
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "snapshots differ: {failed:?}; if the change is intended, run \
         `INSTA_UPDATE=always cargo test --test it snapshots::` and commit tests/it/snapshots"
    );
}

#[test]
fn snapshot_help_of_every_command() {
    let paths = command_paths();
    assert!(paths.len() > 20, "found the commands: {paths:?}");
    let checks = paths
        .into_iter()
        .map(|path| {
            let name = match path.is_empty() {
                true => "help".to_string(),
                false => format!("help-{}", path.join("-")),
            };
            let check = {
                let name = name.clone();
                Box::new(move || {
                    // A fixed width: clap reads COLUMNS before the terminal.
                    let o = plugin()
                        .env("COLUMNS", "100")
                        .args(&path)
                        .arg("--help")
                        .output()
                        .unwrap();
                    assert_eq!(code(&o), 0, "{path:?} --help: {}", err(&o));
                    insta::assert_snapshot!(name, out(&o));
                }) as Box<dyn FnOnce()>
            };
            (name, check)
        })
        .collect();
    check_all(checks);
}

/// Mask live values in the named columns of a kubectl-style table, and
/// revisions anywhere, then close up the padding (whose width follows the
/// values). Columns are found as runs of positions blank on every line, so
/// headers and cells with single spaces (`DB SIZE`, `0% of 2 GiB`) stay whole.
fn mask_table(text: &str, live: &[&str]) -> String {
    let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let width = lines.iter().map(Vec::len).max().unwrap_or(0);
    let blank = |pos: usize| lines.iter().all(|l| l.get(pos).is_none_or(|c| *c == ' '));
    // Column spans: maximal runs of positions, split at 2+ blank positions.
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos < width {
        while pos < width && blank(pos) {
            pos += 1;
        }
        let start = pos;
        while pos < width && !(blank(pos) && (pos + 1 >= width || blank(pos + 1))) {
            pos += 1;
        }
        if pos > start {
            spans.push((start, pos));
        }
    }
    let cell = |line: &[char], (a, b): (usize, usize)| -> String {
        line.get(a.min(line.len())..b.min(line.len()))
            .map(|c| c.iter().collect::<String>())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let headers: Vec<String> = spans.iter().map(|s| cell(&lines[0], *s)).collect();
    let rev = Regex::new(r"revision \d+").unwrap();
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let cells: Vec<String> = spans
                .iter()
                .zip(&headers)
                .map(|(span, header)| {
                    let text = cell(line, *span);
                    match i > 0 && live.contains(&header.as_str()) && !text.is_empty() {
                        true => mask_cell(&text),
                        false => text,
                    }
                })
                .collect();
            rev.replace_all(cells.join("  ").trim_end(), "revision [REV]")
                .into_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A live value keeps its shape: `[SIZE]`, `[ID]`, `[ADDR]`, `[VERSION]`,
/// other numbers `N` (`0% of 2.0 GiB*` -> `N% of [SIZE]*`).
fn mask_cell(text: &str) -> String {
    let masks: &[(&str, &str)] = &[
        (r"\b[0-9a-f]{16}\b", "[ID]"),
        (r"https?://127\.0\.0\.1:\d+", "[ADDR]"),
        (r"\b\d+(\.\d+)? ?(B|KiB|MiB|GiB|kB|MB|GB)\b", "[SIZE]"),
        (r"\b\d+\.\d+\.\d+\b", "[VERSION]"),
        (r"\d+(\.\d+)?", "N"),
    ];
    let mut text = text.to_string();
    for (re, with) in masks {
        text = Regex::new(re)
            .unwrap()
            .replace_all(&text, *with)
            .into_owned();
    }
    text
}

/// Table columns whose values change from run to run.
const LIVE_COLUMNS: &[&str] = &[
    "ENDPOINT",
    "ID",
    "VERSION",
    "DB SIZE",
    "IN USE",
    "FRAG",
    "QUOTA USE",
    "RAFT TERM",
    "RAFT INDEX",
    "APPLIED",
    "REVISION",
    "PEER URLS",
    "CLIENT URLS",
];

/// Fields whose values change from run to run: shown as their JSON type,
/// so a field that disappears, turns null or changes type still fails.
const LIVE_FIELDS: &[&str] = &[
    "endpoint",
    "id",
    "leaderId",
    "memberId",
    "version",
    "dbSize",
    "dbSizeInUse",
    "fragmentationPercent",
    "quotaUsePercent",
    "raftTerm",
    "raftIndex",
    "raftAppliedIndex",
    "revision",
    "peerURLs",
    "clientURLs",
    "took",
    "tookSeconds",
];

fn mask_json(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if LIVE_FIELDS.contains(&k.as_str()) {
                    *v = match v {
                        Value::Null => Value::Null,
                        Value::Bool(_) => "[bool]".into(),
                        Value::Number(_) => "[number]".into(),
                        Value::String(_) => "[string]".into(),
                        Value::Array(a) => {
                            Value::Array(a.iter().map(|_| "[item]".into()).collect())
                        }
                        Value::Object(_) => "[object]".into(),
                    };
                } else {
                    mask_json(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_json),
        _ => {}
    }
}

fn run(c: &Cluster, args: &[&str]) -> Output {
    crate::support::cli::run_wide(c, args)
}

/// A fixed keyspace: a few built-in objects in two namespaces, a custom
/// resource and its CRD, and a key outside the Kubernetes layout.
fn fixed_keyspace(c: &Cluster) {
    let mut all = vec![
        objects::namespace("default", 0),
        objects::namespace("web", 1),
        objects::deployment("default", "api", 1, 2, 0),
        objects::deployment("web", "front", 2, 3, 0),
        objects::configmap("default", "settings", 1, 0),
        objects::secret("web", "tls", 1, 0),
        objects::widget_crd(),
        objects::widget("web", "w1", 1, 0),
    ];
    for i in 0..3 {
        all.push(objects::pod("web", &format!("front-{i}"), i, 0));
    }
    for o in &all {
        let r = c.ctl().stdin(o.value.clone()).run(&["put", &o.key]);
        assert_eq!(
            r.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
    c.put("/not-kubernetes/settings", "x");
}

#[test]
fn snapshot_status_members_and_count_tables_and_json() {
    let c = Cluster::single();
    fixed_keyspace(&c);
    let mut checks: Vec<(String, Box<dyn FnOnce()>)> = Vec::new();
    for (name, args) in [
        ("status", vec!["status"]),
        ("members", vec!["members"]),
        ("count", vec!["count"]),
        ("count-by-namespace", vec!["count", "--by-namespace"]),
    ] {
        let table = run(&c, &args);
        let json = run(&c, &[&args[..], &["-o", "json"]].concat());
        for o in [&table, &json] {
            assert_eq!(code(o), 0, "{args:?}: {}", err(o));
        }
        let table = mask_table(&out(&table), LIVE_COLUMNS);
        let mut json: Value = serde_json::from_slice(&json.stdout).unwrap();
        mask_json(&mut json);
        let json = serde_json::to_string_pretty(&json).unwrap();
        checks.push((
            format!("{name} table"),
            Box::new(move || insta::assert_snapshot!(format!("{name}-table"), table)),
        ));
        checks.push((
            format!("{name} json"),
            Box::new(move || insta::assert_snapshot!(format!("{name}-json"), json)),
        ));
    }
    // `-o wide`: every column.
    for (name, args) in [
        ("status-wide", vec!["status", "-o", "wide"]),
        ("members-wide", vec!["members", "-o", "wide"]),
    ] {
        let table = run(&c, &args);
        assert_eq!(code(&table), 0, "{args:?}: {}", err(&table));
        let table = mask_table(&out(&table), LIVE_COLUMNS);
        checks.push((
            name.to_string(),
            Box::new(move || insta::assert_snapshot!(name, table)),
        ));
    }
    check_all(checks);
}
